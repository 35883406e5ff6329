/* bt_http — HTTP GET over libcurl's multi interface.
 *
 * One handle holds one curl multi handle. bt_http_get drives it to the end
 * of one request (blocking, for `bt data fetch`); bt_http_start + bt_http_
 * attach put requests on a czmq zloop (for `bt paper`): libcurl's sockets
 * and timer become zloop pollers and a timer, so one loop multiplexes HTTP,
 * Redis, timers and the control socket. Bodies are capped (bt_buf_t).
 * Headers given by the caller (API keys) are never logged. */
#ifndef BT_HTTP_H
#define BT_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_err.h"

typedef struct bt_http_resp {
    long status;       /* HTTP status; 0 when no response came (transport error) */
    bt_buf_t body;     /* the body, capped */
    double retry_after;/* seconds from Retry-After; -1 when absent */
    long used_weight;  /* X-MBX-USED-WEIGHT-1M (Binance); -1 when absent */
    int transport;     /* libcurl code, 0 on success */
    char error[256];   /* libcurl's text for a transport error; "" otherwise */
} bt_http_resp_t;

void bt_http_resp_init(bt_http_resp_t *r, size_t body_cap);
void bt_http_resp_fini(bt_http_resp_t *r);
/* Empties the response for the next request (keeps the body's memory). */
void bt_http_resp_reset(bt_http_resp_t *r);
/* True for failures worth a retry: no response (reset, time-out, truncated
 * body), 5xx, 408. 429 / 418 are rate limits, handled by the caller. */
bool bt_http_transient(const bt_http_resp_t *r);

typedef struct bt_http bt_http_t;

/* timeout_ms: whole-request time-out (connect included). NULL on failure. */
bt_http_t *bt_http_new(long timeout_ms);
void bt_http_destroy(bt_http_t **self_p);

/* GET url with extra header lines (NULL-terminated array, may be NULL).
 * BT_OK whenever the exchange ended (check resp->status and ->transport);
 * BT_ENOMEM / BT_EINTERNAL when curl could not be set up. */
bt_err_t bt_http_get(bt_http_t *h, const char *url, const char *const *headers,
                     bt_http_resp_t *resp, bt_errbuf_t *eb);

/* ---- Asynchronous, on a zloop ---- */

typedef void (bt_http_done_fn)(void *user, bt_http_resp_t *resp);

/* Puts the handle's sockets and timer on loop (a zloop_t *). Once only. */
bt_err_t bt_http_attach(bt_http_t *h, void *loop, bt_errbuf_t *eb);
/* Starts one GET; done(user, resp) runs on the loop when it ends. One
 * request at a time per handle; BT_EINVAL if one is in flight. */
bt_err_t bt_http_start(bt_http_t *h, const char *url, const char *const *headers,
                       bt_http_resp_t *resp, bt_http_done_fn *done, void *user, bt_errbuf_t *eb);
bool bt_http_busy(const bt_http_t *h);

#endif
