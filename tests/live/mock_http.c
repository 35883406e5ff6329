/* mock_http — a local stand-in for the REST providers, for the live tests.
 *
 * Serves one bar series in two documented shapes on 127.0.0.1 (port chosen
 * by the OS, written to --port-file):
 *   GET /v8/finance/chart/SYM?period1=&period2=&interval=   Yahoo chart (column arrays)
 *   GET /api/v3/klines?symbol=&interval=&startTime=&endTime=&limit=   Binance klines (rows)
 *   GET /__stats    {"requests": N}  (not counted)
 * The series: --csv FILE (any shape bt imports), served for every symbol, or
 * --csv SYM=FILE (repeatable: one series per symbol), else --bars N synthetic
 * daily bars from 2020-01-01 (a seeded random walk). --live STEP_MS: an
 * accelerated clock: the bars of time T (the k-th time of all series merged)
 * are published STEP_MS * (k + 1) after the first request, so a poller sees a
 * live feed, symbols interleaved; --lag SYM=MS publishes SYM's bars MS later
 * (a late feed), --lag SYM=MS@I only its bars from index I on (it falls behind).
 * Faults, by request number K (from 1, /__stats not counted):
 *   --fault 429@K        429 with Retry-After: 1
 *   --fault 500@K        HTTP 500
 *   --fault truncate@K   Content-Length larger than the body, then close
 *   --fault malformed@K  200 with a JSON body cut in the middle
 *   --fault reset@K      close the connection without an answer
 *   --fault slow@K       answer K after 2 s (a client time-out)
 *   --fault weight@K     X-MBX-USED-WEIGHT-1M: 5500 on K (Binance's limit is near)
 *   --fault down@K       500 for K and every later request
 *   --fault down@K-L     500 for requests K..L
 *   --fault dupbar       one bar sent twice (identical)
 *   --fault conflict     one bar sent twice with a different close
 *   --fault gap          bars 20..29 missing
 *   --fault disorder     two bars swapped
 * Single-threaded, one connection at a time, Connection: close. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_buf.h"
#include "bt_csv.h"
#include "bt_time.h"

#define S_MAXF 16

typedef struct {
    char kind[16];
    long k, k2;
} s_fault_t;

#define S_MAXSER 8

static s_fault_t s_faults[S_MAXF];
static size_t s_nfaults;
static long s_nreq;
static bt_series_t s_sers[S_MAXSER]; /* one per --csv */
static char s_names[S_MAXSER][32];   /* its symbol ("" = any) */
static long s_lag[S_MAXSER];         /* --lag: publication delay, ms */
static size_t s_lag_from[S_MAXSER];  /* --lag ...@I: from bar I on */
static size_t s_nser;
static int64_t *s_union;             /* every bar time of every series, sorted, unique */
static size_t s_nunion;
static long s_step_ms;      /* live clock; 0 = every bar at once */
static int64_t s_t0_ms = -1; /* start of the live clock */

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool s_has(const char *kind, long k)
{
    for (size_t i = 0; i < s_nfaults; i++) {
        const s_fault_t *f = &s_faults[i];
        if (strcmp(f->kind, kind) != 0)
            continue;
        if (k < 0)
            return true;
        if (strcmp(kind, "down") == 0 ? (k >= f->k && (f->k2 == 0 || k <= f->k2)) : f->k == k)
            return true;
    }
    return false;
}

/* The series of a symbol: its own, else the unnamed one, else NULL. */
static const bt_series_t *s_series_of(const char *sym, size_t *k)
{
    for (size_t i = 0; i < s_nser; i++)
        if (strcmp(s_names[i], sym) == 0 || s_names[i][0] == '\0') {
            *k = i;
            return &s_sers[i];
        }
    return NULL;
}

/* Index of the first time >= t in v[0..n) */
static size_t s_lower(const int64_t *v, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Bars of sr published el ms after the clock started. */
static size_t s_published(const bt_series_t *sr, int64_t el)
{
    int64_t m = el / s_step_ms; /* merged times published */
    if (m <= 0)
        return 0;
    if ((size_t)m >= s_nunion)
        return sr->n;
    return s_lower(sr->time, sr->n, s_union[m]);
}

/* Bars of series k published now (live clock). */
static size_t s_visible(size_t k)
{
    const bt_series_t *sr = &s_sers[k];
    if (!s_step_ms)
        return sr->n;
    if (s_t0_ms < 0)
        return 0;
    size_t n0 = s_published(sr, s_now_ms() - s_t0_ms);
    if (n0 <= s_lag_from[k])
        return n0;
    size_t nl = s_published(sr, s_now_ms() - s_t0_ms - s_lag[k]);
    return nl > s_lag_from[k] ? nl : s_lag_from[k];
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void s_make_union(void)
{
    size_t n = 0;
    for (size_t i = 0; i < s_nser; i++)
        n += s_sers[i].n;
    s_union = malloc((n ? n : 1) * sizeof *s_union);
    n = 0;
    for (size_t i = 0; i < s_nser; i++)
        for (size_t j = 0; j < s_sers[i].n; j++)
            s_union[n++] = s_sers[i].time[j];
    qsort(s_union, n, sizeof *s_union, s_cmp_i64);
    size_t u = 0;
    for (size_t j = 0; j < n; j++)
        if (u == 0 || s_union[u - 1] != s_union[j])
            s_union[u++] = s_union[j];
    s_nunion = u;
}

static bool s_query(const char *q, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = q; p && *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t k = strcspn(p + n + 1, "&");
            if (k >= cap)
                k = cap - 1;
            memcpy(out, p + n + 1, k);
            out[k] = '\0';
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

static long long s_qll(const char *q, const char *name, long long dflt)
{
    char v[64];
    if (!s_query(q, name, v, sizeof v))
        return dflt;
    return strtoll(v, NULL, 10);
}

/* The i-th bar as served (faults applied to the index list). */
typedef struct {
    size_t idx[8];
    size_t n;
    double close_bump;
} s_emit_t;

static void s_bars_of(size_t i, s_emit_t *e)
{
    e->n = 0;
    e->close_bump = 0;
    if (s_has("gap", -1) && i >= 20 && i < 30)
        return;
    size_t j = i;
    if (s_has("disorder", -1) && (i == 40 || i == 41))
        j = i == 40 ? 41 : 40;
    e->idx[e->n++] = j;
    if ((s_has("dupbar", -1) || s_has("conflict", -1)) && i == 50) {
        e->idx[e->n++] = j;
        if (s_has("conflict", -1))
            e->close_bump = 0.0; /* set per emission below */
    }
}

static void s_fmt(bt_buf_t *b, double v)
{
    bt_buf_printf(b, "%.17g", v);
}

static void s_yahoo(bt_buf_t *b, const char *path, const char *q)
{
    long long p1 = s_qll(q, "period1", 0), p2 = s_qll(q, "period2", 0);
    const char *sym = path + strlen("/v8/finance/chart/");
    size_t sk = 0;
    const bt_series_t *sp = s_series_of(sym, &sk);
    bt_series_t ser = sp ? *sp : (bt_series_t){0};
    size_t vis = sp ? s_visible(sk) : 0;
    /* session open 14:30 UTC, exchange offset -5 h: bt stamps the date's midnight */
    bt_buf_t ts, col[5];
    bt_buf_init(&ts, (size_t)1 << 30);
    for (int k = 0; k < 5; k++)
        bt_buf_init(&col[k], (size_t)1 << 30);
    size_t cnt = 0;
    for (size_t i = 0; i < vis; i++) {
        s_emit_t e;
        s_bars_of(i, &e);
        for (size_t m = 0; m < e.n; m++) {
            size_t j = e.idx[m];
            long long sec = ser.time[j] / BT_NS_PER_SEC + 14 * 3600 + 1800;
            if (sec < p1 || sec >= p2)
                continue;
            const char *sep = cnt ? "," : "";
            bt_buf_printf(&ts, "%s%lld", sep, sec);
            double v[5] = {ser.open[j], ser.high[j], ser.low[j], ser.close[j],
                           ser.volume[j]};
            if (m == 1 && s_has("conflict", -1))
                v[3] = v[3] == v[1] ? v[2] : v[1];
            for (int k = 0; k < 5; k++) {
                bt_buf_puts(&col[k], sep);
                if (s_has("null", -1) && i == 60 && k == 3)
                    bt_buf_puts(&col[k], "null");
                else
                    s_fmt(&col[k], v[k]);
            }
            cnt++;
        }
    }
    bt_buf_printf(b,
                  "{\"chart\":{\"result\":[{\"meta\":{\"currency\":\"USD\",\"symbol\":\"%s\","
                  "\"gmtoffset\":-18000,\"timezone\":\"EST\"},\"timestamp\":[%s],"
                  "\"indicators\":{\"quote\":[{\"open\":[%s],\"high\":[%s],\"low\":[%s],"
                  "\"close\":[%s],\"volume\":[%s]}]}}],\"error\":null}}",
                  sym, ts.data ? ts.data : "", col[0].data ? col[0].data : "",
                  col[1].data ? col[1].data : "", col[2].data ? col[2].data : "",
                  col[3].data ? col[3].data : "", col[4].data ? col[4].data : "");
    if (cnt == 0) { /* Yahoo leaves out timestamp and quotes when there are none */
        bt_buf_reset(b);
        bt_buf_printf(b, "{\"chart\":{\"result\":[{\"meta\":{\"symbol\":\"%s\",\"gmtoffset\":"
                         "-18000},\"indicators\":{\"quote\":[{}]}}],\"error\":null}}",
                      sym);
    }
    bt_buf_fini(&ts);
    for (int k = 0; k < 5; k++)
        bt_buf_fini(&col[k]);
}

static void s_binance(bt_buf_t *b, const char *q, const char *sym)
{
    size_t sk = 0;
    const bt_series_t *sp = s_series_of(sym, &sk);
    bt_series_t ser = sp ? *sp : (bt_series_t){0};
    long long st = s_qll(q, "startTime", 0), en = s_qll(q, "endTime", INT64_MAX / 2);
    long long limit = s_qll(q, "limit", 500);
    if (limit > 1000)
        limit = 1000;
    size_t vis = sp ? s_visible(sk) : 0;
    bt_buf_putc(b, '[');
    long long cnt = 0;
    for (size_t i = 0; i < vis && cnt < limit; i++) {
        s_emit_t e;
        s_bars_of(i, &e);
        for (size_t m = 0; m < e.n && cnt < limit; m++) {
            size_t j = e.idx[m];
            long long ms = ser.time[j] / 1000000;
            if (ms < st || ms > en)
                continue;
            double v[5] = {ser.open[j], ser.high[j], ser.low[j], ser.close[j],
                           ser.volume[j]};
            if (m == 1 && s_has("conflict", -1))
                v[3] = v[3] == v[1] ? v[2] : v[1];
            bt_buf_printf(b, "%s[%lld", cnt ? "," : "", ms);
            for (int k = 0; k < 5; k++) {
                bt_buf_puts(b, ",\"");
                s_fmt(b, v[k]);
                bt_buf_putc(b, '"');
            }
            bt_buf_printf(b, ",%lld,\"0\",10,\"0\",\"0\",\"0\"]", ms + 86399999);
            cnt++;
        }
    }
    bt_buf_putc(b, ']');
}

static void s_send(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

static long s_weight; /* X-MBX-USED-WEIGHT-1M of the answer being sent */

static void s_reply(int fd, int status, const char *extra, const char *body, size_t len,
                    size_t claimed)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\nX-MBX-USED-WEIGHT-1M: %ld\r\n%s\r\n",
                     status, claimed, s_weight, extra ? extra : "");
    s_send(fd, head, (size_t)n);
    s_send(fd, body, len);
}

static void s_handle(int fd)
{
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1) {
        ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[got] = '\0';
    char path[4096] = "";
    if (sscanf(req, "GET %4095s", path) != 1) {
        s_reply(fd, 400, NULL, "{}", 2, 2);
        return;
    }
    if (strcmp(path, "/__stats") == 0) {
        char b[64];
        int n = snprintf(b, sizeof b, "{\"requests\":%ld}", s_nreq);
        s_reply(fd, 200, NULL, b, (size_t)n, (size_t)n);
        return;
    }
    long k = ++s_nreq;
    if (strcasestr(req, "\r\nX-MBX-APIKEY: "))
        fprintf(stderr, "mock: request %ld carries an X-MBX-APIKEY header\n", k);
    if (s_step_ms && s_t0_ms < 0)
        s_t0_ms = s_now_ms();
    fprintf(stderr, "mock: request %ld: %s\n", k, path);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    if (s_has("reset", k))
        return;
    s_weight = s_has("weight", k) ? 5500 : k;
    if (s_has("slow", k)) {
        struct timespec ts = {2, 0};
        nanosleep(&ts, NULL);
    }
    if (s_has("429", k)) {
        s_reply(fd, 429, "Retry-After: 1\r\n", "{\"code\":-1003,\"msg\":\"Too many requests\"}",
                41, 41);
        return;
    }
    if (s_has("500", k) || s_has("down", k)) {
        s_reply(fd, 500, NULL, "{\"code\":-1000,\"msg\":\"internal\"}", 31, 31);
        return;
    }
    bt_buf_t body;
    bt_buf_init(&body, (size_t)1 << 30);
    if (strncmp(path, "/v8/finance/chart/", 18) == 0) {
        s_yahoo(&body, path, q);
    } else if (strcmp(path, "/api/v3/klines") == 0) {
        char sym[64] = "";
        s_query(q ? q : "", "symbol", sym, sizeof sym);
        if (strcmp(sym, "NOPE") == 0) {
            bt_buf_puts(&body, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
            s_reply(fd, 400, NULL, body.data, body.len, body.len);
            bt_buf_fini(&body);
            return;
        }
        s_binance(&body, q ? q : "", sym);
    } else {
        s_reply(fd, 404, NULL, "{}", 2, 2);
        bt_buf_fini(&body);
        return;
    }
    if (s_has("truncate", k))
        s_reply(fd, 200, NULL, body.data, body.len / 2, body.len);
    else if (s_has("malformed", k))
        s_reply(fd, 200, NULL, body.data, body.len / 2, body.len / 2);
    else
        s_reply(fd, 200, NULL, body.data, body.len, body.len);
    bt_buf_fini(&body);
}

static bt_bars_t *s_synth(size_t n)
{
    bt_bars_t *b = bt_bars_new("SYN", n);
    uint64_t x = 42;
    double px = 100.0;
    int64_t t0 = bt_days_from_civil(2020, 1, 1) * BT_NS_PER_DAY;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        double r = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.04;
        double o = px, c = round(px * (1 + r) * 100) / 100;
        double h = fmax(o, c) + 0.5, l = fmin(o, c) - 0.5;
        bt_bars_push(b, t0 + (int64_t)i * BT_NS_PER_DAY, o, h, l, c, 1000 + (double)(i % 7) * 10,
                     NAN);
        px = c;
    }
    return b;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *csv[S_MAXSER] = {NULL};
    size_t nbars = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port-file") == 0)
            port_file = argv[i + 1];
        else if (strcmp(argv[i], "--csv") == 0 && s_nser < S_MAXSER) {
            const char *eq = strchr(argv[i + 1], '=');
            if (eq)
                snprintf(s_names[s_nser], sizeof s_names[0], "%.*s", (int)(eq - argv[i + 1]),
                         argv[i + 1]);
            csv[s_nser++] = eq ? eq + 1 : argv[i + 1];
        } else if (strcmp(argv[i], "--lag") == 0) {
            const char *eq = strchr(argv[i + 1], '=');
            for (size_t k = 0; eq && k < s_nser; k++)
                if (strncmp(s_names[k], argv[i + 1], (size_t)(eq - argv[i + 1])) == 0 &&
                    s_names[k][eq - argv[i + 1]] == '\0')
                {
                    char *at = NULL;
                    s_lag[k] = strtol(eq + 1, &at, 10);
                    s_lag_from[k] = at && *at == '@' ? strtoul(at + 1, NULL, 10) : 0;
                }
        }
        else if (strcmp(argv[i], "--bars") == 0)
            nbars = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--live") == 0)
            s_step_ms = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--fault") == 0 && s_nfaults < S_MAXF) {
            s_fault_t *f = &s_faults[s_nfaults++];
            const char *at = strchr(argv[i + 1], '@');
            size_t kl = at ? (size_t)(at - argv[i + 1]) : strlen(argv[i + 1]);
            snprintf(f->kind, sizeof f->kind, "%.*s", (int)kl, argv[i + 1]);
            if (at) {
                char *end = NULL;
                f->k = strtol(at + 1, &end, 10);
                if (end && *end == '-')
                    f->k2 = strtol(end + 1, NULL, 10);
            }
        }
    }
    if (s_nser == 0) {
        s_sers[0] = bt_bars_view(s_synth(nbars));
        s_nser = 1;
    }
    for (size_t k = 0; k < s_nser && csv[k]; k++) {
        bt_errbuf_t eb;
        bt_bars_t *bars = bt_bars_new("CSV", 0);
        bt_csv_opts_t o;
        memset(&o, 0, sizeof o);
        if (bt_csv_read_file(csv[k], &o, bars, NULL, &eb) != BT_OK) {
            fprintf(stderr, "mock: %s\n", eb.msg);
            return 2;
        }
        s_sers[k] = bt_bars_view(bars); /* bars live as long as the mock */
    }
    s_make_union();
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
        perror("mock: bind");
        return 2;
    }
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f)
            return 2;
        fprintf(f, "%d\n", ntohs(a.sin_port));
        fclose(f);
        rename(tmp, port_file);
    }
    fprintf(stderr, "mock: %zu series, %zu bar times on 127.0.0.1:%d\n", s_nser, s_nunion,
            ntohs(a.sin_port));
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        s_handle(fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
}
