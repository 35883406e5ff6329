/* bt_rest_fetch — `bt data fetch`: bars from a REST provider into the store.
 *
 * Per symbol, page after page: build the URL (bt_provider), look in the
 * cache (Redis, optional), GET it (bt_http) with retries of transient
 * failures (no response, time-out, truncated body, malformed JSON, 5xx)
 * and back-off, wait out 429/418 rate limits (Retry-After), parse, and
 * validate every bar like a CSV import (bt_csv rules). Each verified page is
 * appended to a progress file STORE.partial/PROVIDER_SYMBOL_INTERVAL.bars;
 * only when every symbol is complete is the store replaced, atomically (a
 * copy written and renamed), so a failed fetch leaves the store as it was
 * and the same command run again continues where it stopped. A symbol
 * already in the store is extended from its last bar. docs/live.md. */
#ifndef BT_REST_FETCH_H
#define BT_REST_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_err.h"
#include "bt_provider.h"

/* Optional page cache (bt_redis provides one). get fills body and returns
 * true on a hit; put stores a verified page. */
typedef struct bt_fetch_cache {
    void *user;
    bool (*get)(void *user, const char *key, bt_buf_t *body);
    void (*put)(void *user, const char *key, const char *body, size_t len);
} bt_fetch_cache_t;

typedef struct bt_fetch_opts {
    const bt_provider_t *prov;
    const char *base;            /* base URL (flag, environment or the provider's) */
    const char *const *symbols;  /* nsym provider symbols; stored under the same names */
    size_t nsym;
    const char *interval;        /* 1m 5m 15m 30m 1h 4h 1d 1w */
    int64_t from, to;            /* inclusive, ns */
    const char *store;           /* the HDF5 bar store */
    size_t page_bars;            /* bars per request (<= the provider's limit) */
    int retries;                 /* retries of a transient failure per page */
    int64_t backoff_ms;          /* first back-off; doubled per retry */
    int64_t backoff_max_ms;      /* cap of one back-off */
    int64_t max_wait_ms;         /* longest Retry-After honoured; longer fails the fetch */
    int rate_limits;             /* 429/418 answers tolerated per page */
    long timeout_ms;             /* per request */
    const char *api_key;         /* sent in the provider's key header; never logged */
    bool deflate;                /* compress the stored symbols */
    const bt_fetch_cache_t *cache; /* NULL: no cache */
} bt_fetch_opts_t;

void bt_fetch_opts_defaults(bt_fetch_opts_t *o);

typedef struct bt_fetch_report {
    uint64_t requests;     /* HTTP requests made */
    uint64_t cache_hits;   /* pages served by the cache */
    uint64_t retries;      /* transient failures retried */
    uint64_t rate_limited; /* 429/418 answers waited out */
    size_t bars;           /* new bars over all symbols */
    size_t resumed;        /* bars taken from progress files of an earlier run */
    size_t duplicates;     /* identical repeated bars dropped */
    size_t nulls;          /* rows with null fields skipped */
    size_t gaps;           /* spacings longer than expected (reported, kept) */
} bt_fetch_report_t;

/* Runs the fetch. On failure the store is unchanged and eb says what failed
 * (provider, symbol, time, field) and that a re-run continues. */
bt_err_t bt_rest_fetch(const bt_fetch_opts_t *o, bt_fetch_report_t *rep, bt_errbuf_t *eb);

#endif
