/* bt_provider — one REST bar API behind one interface: build the URL of a
 * page, parse a page, say where the next page starts. Adding a provider is
 * one file with one bt_provider_t and a line in the table (bt_provider.c).
 * Providers only translate; the fetcher (bt_rest_fetch) does paging,
 * retries, rate limits, validation and the store. */
#ifndef BT_PROVIDER_H
#define BT_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_err.h"

/* One bar as a provider sent it, before validation. */
typedef struct bt_rawbar {
    int64_t time; /* ns since epoch UTC (bar open; daily bars at midnight) */
    double open, high, low, close, volume;
} bt_rawbar_t;

#define BT_PROVIDER_MAX_PAGE_BARS 100000 /* bars one page may hold; more is refused */

/* What one page request asks for. */
typedef struct bt_page_req {
    const char *base;     /* base URL, no trailing '/' */
    const char *symbol;   /* provider's symbol, e.g. "AAPL", "BTCUSDT" */
    const char *interval; /* bt's interval name: 1m 5m 15m 30m 1h 4h 1d 1w */
    int64_t interval_ns;  /* its length */
    int64_t from, to;     /* this page covers [from, to], inclusive, ns */
    size_t page_bars;     /* most bars per page (the provider's limit) */
} bt_page_req_t;

/* Result of parsing one page. */
typedef struct bt_page {
    bt_rawbar_t *bars; /* nbars, malloc'ed, in the order sent */
    size_t nbars, cap;
    size_t skipped_null; /* rows with a null field (Yahoo sends nulls for missing quotes) */
    int64_t next;      /* start of the next page, INT64_MAX when this was the last */
} bt_page_t;

void bt_page_fini(bt_page_t *p);

typedef struct bt_provider {
    const char *name;       /* "yahoo", "binance" */
    const char *about;      /* one line for --help */
    const char *base_url;   /* default base URL */
    const char *base_env;   /* environment variable that overrides it */
    const char *key_env;    /* environment variable of the API key; NULL: no key */
    const char *key_header; /* header that carries the key, e.g. "X-MBX-APIKEY" */
    size_t max_page_bars;   /* the provider's own limit per request */
    /* The provider's name of an interval, or NULL if it has none. */
    const char *(*interval_name)(const char *interval);
    /* Appends the URL of page q to url. */
    bt_err_t (*page_url)(const bt_page_req_t *q, bt_buf_t *url, bt_errbuf_t *eb);
    /* Parses a 2xx body. Errors name the provider, symbol and what was wrong
     * (BT_EPARSE for bad JSON, BT_EDATA for a provider error object). */
    bt_err_t (*parse)(const bt_page_req_t *q, const char *body, size_t len, bt_page_t *out,
                      bt_errbuf_t *eb);
    /* Text of an error body (4xx) for messages, into msg; may leave "". */
    void (*error_text)(const char *body, size_t len, char *msg, size_t cap);
} bt_provider_t;

const bt_provider_t *bt_provider_find(const char *name);
const bt_provider_t *bt_provider_at(size_t i); /* NULL past the end */

/* Interval name -> length in ns; 0 if unknown. Names: 1m 5m 15m 30m 1h 4h 1d 1w. */
int64_t bt_interval_ns(const char *interval);

/* Appends a bar to a page (grows geometrically, capped). */
bt_err_t bt_page_push(bt_page_t *p, const bt_rawbar_t *b, bt_errbuf_t *eb);

extern const bt_provider_t bt_provider_yahoo;
extern const bt_provider_t bt_provider_binance;

#endif
