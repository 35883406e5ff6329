/* bt_http — HTTP GET over libcurl's multi interface. See bt_http.h. */
#include "bt_http.h"

#include <curl/curl.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_FDS 16 /* sockets libcurl may watch at once (one request per handle) */

struct bt_http {
    CURLM *multi;             /* the multi handle */
    CURL *easy;               /* reused for every request */
    long timeout_ms;          /* whole-request time-out */
    uint64_t nreq;            /* requests started */
    struct curl_slist *hdrs;  /* header lines of the current request */
    bt_http_resp_t *resp;     /* where the current request writes */
    bool busy;                /* a request is in flight */
    zloop_t *loop;            /* attached loop, or NULL */
    int timer_id;             /* zloop timer for libcurl's time-out; -1 none */
    curl_socket_t fds[S_MAX_FDS]; /* sockets with a poller on loop */
    size_t nfds;
    bt_http_done_fn *done;    /* async completion */
    void *done_user;
};

static int s_global_ok;

void bt_http_resp_init(bt_http_resp_t *r, size_t body_cap)
{
    memset(r, 0, sizeof *r);
    bt_buf_init(&r->body, body_cap);
    r->retry_after = -1;
    r->used_weight = -1;
}

void bt_http_resp_fini(bt_http_resp_t *r)
{
    bt_buf_fini(&r->body);
}

void bt_http_resp_reset(bt_http_resp_t *r)
{
    bt_buf_reset(&r->body);
    r->status = 0;
    r->retry_after = -1;
    r->used_weight = -1;
    r->transport = 0;
    r->error[0] = '\0';
}

bool bt_http_transient(const bt_http_resp_t *r)
{
    if (r->transport != 0)
        return r->transport != CURLE_URL_MALFORMAT && r->transport != CURLE_UNSUPPORTED_PROTOCOL &&
               r->transport != CURLE_FILESIZE_EXCEEDED && r->transport != CURLE_WRITE_ERROR;
    return r->status >= 500 || r->status == 408;
}

static size_t s_on_body(char *p, size_t size, size_t n, void *user)
{
    bt_http_t *h = user;
    size_t len = size * n;
    if (bt_buf_append(&h->resp->body, p, len) != BT_OK)
        return 0; /* over the cap: curl stops with CURLE_WRITE_ERROR */
    return len;
}

static size_t s_on_header(char *p, size_t size, size_t n, void *user)
{
    bt_http_t *h = user;
    size_t len = size * n;
    char line[256];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = '\0';
    if (strncasecmp(line, "Retry-After:", 12) == 0) {
        char *end = NULL;
        double v = strtod(line + 12, &end);
        if (end != line + 12 && v >= 0)
            h->resp->retry_after = v;
    } else if (strncasecmp(line, "X-MBX-USED-WEIGHT-1M:", 21) == 0) {
        h->resp->used_weight = strtol(line + 21, NULL, 10);
    }
    return len;
}

bt_http_t *bt_http_new(long timeout_ms)
{
    if (!s_global_ok) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        s_global_ok = 1;
    }
    bt_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->multi = curl_multi_init();
    h->easy = curl_easy_init();
    h->timeout_ms = timeout_ms;
    h->timer_id = -1;
    if (!h->multi || !h->easy) {
        bt_http_destroy(&h);
        return NULL;
    }
    return h;
}

static void s_unwatch_all(bt_http_t *h)
{
    for (size_t i = 0; i < h->nfds; i++) {
        zmq_pollitem_t it = {NULL, h->fds[i], 0, 0};
        zloop_poller_end(h->loop, &it);
    }
    h->nfds = 0;
    if (h->timer_id >= 0)
        zloop_timer_end(h->loop, h->timer_id);
    h->timer_id = -1;
}

void bt_http_destroy(bt_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_http_t *h = *self_p;
    if (h->busy)
        curl_multi_remove_handle(h->multi, h->easy);
    if (h->loop)
        s_unwatch_all(h);
    curl_slist_free_all(h->hdrs);
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    free(h);
    *self_p = NULL;
}

bool bt_http_busy(const bt_http_t *h)
{
    return h->busy;
}

static bt_err_t s_prepare(bt_http_t *h, const char *url, const char *const *headers,
                          bt_http_resp_t *resp, bt_errbuf_t *eb)
{
    if (h->busy)
        return bt_errf(eb, BT_EINVAL, "an HTTP request is already in flight on this handle");
    bt_http_resp_reset(resp);
    h->resp = resp;
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(h->hdrs, headers[i]);
        if (!n)
            return bt_errf(eb, BT_ENOMEM, "out of memory for HTTP headers");
        h->hdrs = n;
    }
    CURL *e = h->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms < 10000 ? h->timeout_ms : 10000);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "bt/" BT_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, resp->error);
    resp->error[0] = '\0';
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        return bt_errf(eb, BT_EINTERNAL, "libcurl refused the request for %s", url);
    h->busy = true;
    h->nreq++;
    return BT_OK;
}

/* Collects a finished transfer; true when the request ended. */
static bool s_collect(bt_http_t *h)
{
    int left = 0;
    CURLMsg *m;
    bool ended = false;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        bt_http_resp_t *r = h->resp;
        r->transport = (int)m->data.result;
        if (r->transport == CURLE_OK) {
            curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
            r->error[0] = '\0';
        } else {
            r->status = 0;
            if (!r->error[0])
                bt_str_copy(r->error, sizeof r->error, curl_easy_strerror(m->data.result));
        }
        curl_multi_remove_handle(h->multi, h->easy);
        h->busy = false;
        ended = true;
    }
    return ended;
}

bt_err_t bt_http_get(bt_http_t *h, const char *url, const char *const *headers,
                     bt_http_resp_t *resp, bt_errbuf_t *eb)
{
    bt_err_t e = s_prepare(h, url, headers, resp, eb);
    if (e != BT_OK)
        return e;
    for (;;) {
        int running = 0;
        curl_multi_perform(h->multi, &running);
        if (s_collect(h))
            return BT_OK;
        curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
    }
}

/* ---- zloop integration -------------------------------------------------- */

static void s_finish_async(bt_http_t *h)
{
    if (!s_collect(h))
        return;
    if (h->done)
        h->done(h->done_user, h->resp);
}

static int s_on_fd(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    bt_http_t *h = arg;
    int ev = 0;
    if (item->revents & ZMQ_POLLIN)
        ev |= CURL_CSELECT_IN;
    if (item->revents & ZMQ_POLLOUT)
        ev |= CURL_CSELECT_OUT;
    if (item->revents & ZMQ_POLLERR)
        ev |= CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action(h->multi, item->fd, ev, &running);
    s_finish_async(h);
    return 0;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    bt_http_t *h = arg;
    h->timer_id = -1;
    int running = 0;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_finish_async(h);
    return 0;
}

static int s_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    bt_http_t *h = userp;
    zmq_pollitem_t it = {NULL, s, 0, 0};
    for (size_t i = 0; i < h->nfds; i++) {
        if (h->fds[i] == s) {
            zloop_poller_end(h->loop, &it);
            h->fds[i] = h->fds[--h->nfds];
            break;
        }
    }
    if (what == CURL_POLL_REMOVE)
        return 0;
    if (h->nfds == S_MAX_FDS)
        return -1;
    it.events = (short)(((what & CURL_POLL_IN) ? ZMQ_POLLIN : 0) |
                        ((what & CURL_POLL_OUT) ? ZMQ_POLLOUT : 0));
    if (zloop_poller(h->loop, &it, s_on_fd, h) != 0)
        return -1;
    zloop_poller_set_tolerant(h->loop, &it);
    h->fds[h->nfds++] = s;
    return 0;
}

static int s_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    bt_http_t *h = userp;
    if (h->timer_id >= 0)
        zloop_timer_end(h->loop, h->timer_id);
    h->timer_id = -1;
    if (timeout_ms < 0)
        return 0;
    h->timer_id = zloop_timer(h->loop, timeout_ms > 0 ? (size_t)timeout_ms : 1, 1, s_on_timer, h);
    return h->timer_id >= 0 ? 0 : -1;
}

bt_err_t bt_http_attach(bt_http_t *h, void *loop, bt_errbuf_t *eb)
{
    if (h->loop)
        return bt_errf(eb, BT_EINVAL, "bt_http_attach: already attached");
    h->loop = loop;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, s_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, s_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return BT_OK;
}

bt_err_t bt_http_start(bt_http_t *h, const char *url, const char *const *headers,
                       bt_http_resp_t *resp, bt_http_done_fn *done, void *user, bt_errbuf_t *eb)
{
    if (!h->loop)
        return bt_errf(eb, BT_EINVAL, "bt_http_start: attach the handle to a loop first");
    h->done = done;
    h->done_user = user;
    return s_prepare(h, url, headers, resp, eb);
}
