/* bt_rest_fetch — bars from a REST provider into the store. See bt_rest_fetch.h. */
#include "bt_rest_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_csv.h"
#include "bt_fs.h"
#include "bt_http.h"
#include "bt_log.h"
#include "bt_prov_util.h"
#include "bt_store.h"
#include "bt_time.h"

#define S_BODY_CAP (64u << 20) /* bytes of one response */
#define S_MAX_BARS 50000000u   /* bars of one symbol */

void bt_fetch_opts_defaults(bt_fetch_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->interval = "1d";
    o->from = INT64_MIN;
    o->to = INT64_MAX;
    o->page_bars = 1000;
    o->retries = 5;
    o->backoff_ms = 500;
    o->backoff_max_ms = 30000;
    o->max_wait_ms = 120000;
    o->rate_limits = 20;
    o->timeout_ms = 30000;
}

static void s_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- one symbol's state ---- */

typedef struct s_sym {
    const char *name;
    bt_bars_t *bars;       /* existing store bars + verified new ones */
    size_t nstored;        /* bars that came from the store */
    int64_t next;          /* where the next page starts; INT64_MAX: complete */
    char partial[PATH_MAX];/* progress file */
    FILE *pf;              /* progress file, open for appending */
} s_sym_t;

typedef struct s_fetch {
    const bt_fetch_opts_t *o;
    bt_fetch_report_t *rep;
    int64_t iv_ns;
    bt_http_t *http;
    bt_http_resp_t resp;
    bt_buf_t url;
    char key_hdr[512];     /* "X-MBX-APIKEY: ..." (never logged) */
    char pdir[PATH_MAX];   /* STORE.partial */
    int64_t now;           /* wall clock at the start, ns */
} s_fetch_t;

static const char *s_tfmt(int64_t t, char *buf)
{
    return bt_time_format(t, buf, 40);
}

/* Validates bar b after the last accepted bar; *keep false for a repeated or
 * out-of-range bar that is dropped. The CSV importer's rules (bt_csv.h). */
static bt_err_t s_check_bar(s_fetch_t *F, s_sym_t *S, const bt_rawbar_t *b, bool *keep,
                            bt_errbuf_t *eb)
{
    const bt_fetch_opts_t *o = F->o;
    char tb[40];
    *keep = false;
    if (b->time < o->from || b->time > o->to)
        return BT_OK;
    if (b->time + F->iv_ns > F->now)
        return BT_OK; /* still forming: a later fetch takes it once it has closed */
    const char *why = NULL;
    double v[5] = {b->open, b->high, b->low, b->close, b->volume};
    for (int k = 0; k < 5; k++)
        if (!isfinite(v[k]))
            why = bt_csv_reason_text(BT_CSV_R_NONFINITE);
    if (!why && (b->open <= 0 || b->high <= 0 || b->low <= 0 || b->close <= 0))
        why = bt_csv_reason_text(BT_CSV_R_NONPOSITIVE);
    if (!why && (b->high > BT_CSV_MAX_PRICE || b->volume > BT_CSV_MAX_VOLUME))
        why = bt_csv_reason_text(BT_CSV_R_MAGNITUDE);
    if (!why && b->high < b->low)
        why = bt_csv_reason_text(BT_CSV_R_HIGHLOW);
    if (!why && (b->open < b->low || b->open > b->high || b->close < b->low || b->close > b->high))
        why = bt_csv_reason_text(BT_CSV_R_RANGE);
    if (!why && b->volume < 0)
        why = bt_csv_reason_text(BT_CSV_R_VOLUME);
    if (why)
        return bt_errf(eb, BT_EDATA,
                       "%s %s %s: %s (open %.10g high %.10g low %.10g close %.10g volume %.10g); "
                       "the provider sent a bad bar, nothing was stored",
                       o->prov->name, S->name, s_tfmt(b->time, tb), why, b->open, b->high, b->low,
                       b->close, b->volume);
    size_t n = bt_bars_count(S->bars);
    if (n > 0) {
        bt_series_t s = bt_bars_view(S->bars);
        int64_t pt = s.time[n - 1];
        if (b->time == pt) {
            size_t i = n - 1;
            if (s.open[i] == b->open && s.high[i] == b->high && s.low[i] == b->low &&
                s.close[i] == b->close && s.volume[i] == b->volume) {
                F->rep->duplicates++;
                return BT_OK;
            }
            return bt_errf(eb, BT_EDATA,
                           "%s %s %s: %s with different values (close %.10g, then %.10g); "
                           "nothing was stored",
                           o->prov->name, S->name, s_tfmt(b->time, tb),
                           bt_csv_reason_text(BT_CSV_R_DUPLICATE), s.close[i], b->close);
        }
        if (b->time < pt) {
            char tp[40];
            return bt_errf(eb, BT_EDATA, "%s %s %s: %s (%s); nothing was stored", o->prov->name,
                           S->name, s_tfmt(b->time, tb), bt_csv_reason_text(BT_CSV_R_ORDER),
                           s_tfmt(pt, tp));
        }
        int64_t slack = F->iv_ns >= BT_NS_PER_DAY ? 4 * BT_NS_PER_DAY : F->iv_ns;
        if (F->iv_ns >= 7 * BT_NS_PER_DAY)
            slack = 14 * BT_NS_PER_DAY;
        if (b->time - pt > slack) {
            F->rep->gaps++;
            char tp[40];
            bt_log(BT_LOG_INFO, "%s %s: gap from %s to %s (kept as it is)", o->prov->name, S->name,
                   s_tfmt(pt, tp), s_tfmt(b->time, tb));
        }
    }
    if (n >= S_MAX_BARS)
        return bt_errf(eb, BT_ELIMIT, "%s %s: more than %u bars; fetch a shorter range",
                       o->prov->name, S->name, S_MAX_BARS);
    *keep = true;
    return BT_OK;
}

static bt_err_t s_push(s_sym_t *S, const bt_rawbar_t *b, bt_errbuf_t *eb)
{
    if (bt_bars_push(S->bars, b->time, b->open, b->high, b->low, b->close, b->volume, NAN) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory for the bars of %s", S->name);
    return BT_OK;
}

/* ---- progress files ---- */

static void s_header(const s_fetch_t *F, const s_sym_t *S, char *buf, size_t cap)
{
    snprintf(buf, cap, "# bt fetch 1 provider=%s symbol=%s interval=%s from=%lld", F->o->prov->name,
             S->name, F->o->interval, (long long)F->o->from);
}

/* Reads an earlier run's progress: bars up to the last "# next" line. */
static bt_err_t s_resume(s_fetch_t *F, s_sym_t *S, bt_errbuf_t *eb)
{
    size_t len = 0;
    bt_errbuf_t e2;
    char *text = bt_live_read_file(S->partial, (size_t)1 << 32, &len, &e2);
    if (!text)
        return BT_OK; /* none */
    char want[256];
    s_header(F, S, want, sizeof want);
    size_t hl = strlen(want);
    if (len < hl + 1 || memcmp(text, want, hl) != 0 || text[hl] != '\n') {
        bt_log(BT_LOG_WARN, "%s: progress of another fetch (other provider, interval or --from); "
                            "starting this symbol afresh", S->partial);
        free(text);
        return BT_OK;
    }
    size_t base = bt_bars_count(S->bars), good = base;
    int64_t next = S->next;
    size_t good_off = hl + 1;
    char *p = text + hl + 1, *end = text + len;
    bt_err_t rc = BT_OK;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a torn last line */
        *nl = '\0';
        if (strncmp(p, "# next ", 7) == 0) {
            next = strtoll(p + 7, NULL, 10);
            good = bt_bars_count(S->bars);
            good_off = (size_t)(nl + 1 - text);
        } else {
            bt_rawbar_t b;
            long long t;
            if (sscanf(p, "%lld,%lf,%lf,%lf,%lf,%lf", &t, &b.open, &b.high, &b.low, &b.close,
                       &b.volume) != 6)
                break;
            b.time = t;
            if ((rc = s_push(S, &b, eb)) != BT_OK)
                break;
        }
        p = nl + 1;
    }
    free(text);
    if (rc != BT_OK)
        return rc;
    /* drop the bars of a page whose "# next" line never made it */
    if (bt_bars_count(S->bars) != good) {
        bt_series_t v = bt_bars_view(S->bars);
        bt_bars_t *nb = bt_bars_new(S->name, good);
        if (!nb)
            return bt_errf(eb, BT_ENOMEM, "out of memory");
        for (size_t i = 0; i < good; i++)
            bt_bars_push(nb, v.time[i], v.open[i], v.high[i], v.low[i], v.close[i], v.volume[i],
                         NAN);
        bt_bars_destroy(&S->bars);
        S->bars = nb;
    }
    if (truncate(S->partial, (off_t)good_off) != 0)
        return bt_errf(eb, BT_EIO, "cannot truncate %s: %s", S->partial, strerror(errno));
    F->rep->resumed += good - base;
    bool moved = next != S->next;
    S->next = next;
    if (moved) {
        char tb[40];
        bt_log(BT_LOG_INFO, "%s %s: continuing an earlier fetch: %zu bars kept, next page %s",
               F->o->prov->name, S->name, good - base,
               next == INT64_MAX ? "none (complete)" : s_tfmt(next, tb));
    }
    return BT_OK;
}

static bt_err_t s_progress_open(s_fetch_t *F, s_sym_t *S, bt_errbuf_t *eb)
{
    struct stat st;
    bool fresh = stat(S->partial, &st) != 0;
    if (!fresh) {
        /* s_resume left a valid header, or the file belongs to another fetch */
        size_t len = 0;
        bt_errbuf_t e2;
        char *t = bt_live_read_file(S->partial, (size_t)1 << 32, &len, &e2);
        char want[256];
        s_header(F, S, want, sizeof want);
        fresh = !t || strncmp(t, want, strlen(want)) != 0;
        free(t);
    }
    S->pf = fopen(S->partial, fresh ? "w" : "a");
    if (!S->pf)
        return bt_errf(eb, BT_EIO, "cannot write the progress file %s: %s", S->partial,
                       strerror(errno));
    if (fresh) {
        char h[256];
        s_header(F, S, h, sizeof h);
        fprintf(S->pf, "%s\n", h);
    }
    return BT_OK;
}

/* Appends one verified page (bars [i0, n) of S) and where the next starts; synced. */
static bt_err_t s_progress_page(s_sym_t *S, size_t i0, int64_t next, bt_errbuf_t *eb)
{
    bt_series_t v = bt_bars_view(S->bars);
    for (size_t i = i0; i < v.n; i++)
        fprintf(S->pf, "%lld,%.17g,%.17g,%.17g,%.17g,%.17g\n", (long long)v.time[i], v.open[i],
                v.high[i], v.low[i], v.close[i], v.volume[i]);
    fprintf(S->pf, "# next %lld\n", (long long)next);
    if (fflush(S->pf) != 0 || fsync(fileno(S->pf)) != 0 || ferror(S->pf))
        return bt_errf(eb, BT_EIO, "cannot write the progress file %s: %s", S->partial,
                       strerror(errno));
    return BT_OK;
}

/* ---- one page ---- */

static void s_cache_key(const s_fetch_t *F, const bt_page_req_t *q, char *key, size_t cap)
{
    snprintf(key, cap, "bt:fetch:%s:%s:%s:%lld:%lld:%zu", F->o->prov->name, q->symbol, q->interval,
             (long long)(q->from / 1000000), (long long)(q->to / 1000000), q->page_bars);
}

/* Gets and parses the page at q: cache, then HTTP with retries and rate limits. */
static bt_err_t s_get_page(s_fetch_t *F, const bt_page_req_t *q, bt_page_t *page, bt_errbuf_t *eb)
{
    const bt_fetch_opts_t *o = F->o;
    const char *pn = o->prov->name;
    char key[512];
    s_cache_key(F, q, key, sizeof key);
    if (o->cache) {
        bt_buf_reset(&F->resp.body);
        if (o->cache->get(o->cache->user, key, &F->resp.body)) {
            bt_errbuf_t e2;
            if (o->prov->parse(q, F->resp.body.data, F->resp.body.len, page, &e2) == BT_OK) {
                F->rep->cache_hits++;
                return BT_OK;
            }
            bt_page_fini(page);
            bt_log(BT_LOG_WARN, "cache entry %s does not parse (%s); fetching it again", key,
                   e2.msg);
        }
    }
    bt_err_t rc = o->prov->page_url(q, &F->url, eb);
    if (rc != BT_OK)
        return rc;
    const char *hdrs[2] = {F->key_hdr[0] ? F->key_hdr : NULL, NULL};
    int attempt = 0, limited = 0;
    int64_t backoff = o->backoff_ms;
    for (;;) {
        rc = bt_http_get(F->http, F->url.data, hdrs, &F->resp, eb);
        if (rc != BT_OK)
            return rc;
        F->rep->requests++;
        const bt_http_resp_t *r = &F->resp;
        char why[400] = "";
        if (r->used_weight > 5000) { /* Binance: 6000 per minute; slow down before a 429 */
            bt_log(BT_LOG_INFO, "%s: request weight %ld of 6000 used this minute; pausing 5 s",
                   pn, r->used_weight);
            s_sleep_ms(5000);
        }
        if (r->status >= 200 && r->status < 300) {
            bt_errbuf_t pe;
            rc = o->prov->parse(q, r->body.data, r->body.len, page, &pe);
            if (rc == BT_OK) {
                if (o->cache)
                    o->cache->put(o->cache->user, key, r->body.data, r->body.len);
                return BT_OK;
            }
            bt_page_fini(page);
            if (rc != BT_EPARSE) /* the provider's own error object: not transient */
                return bt_errf(eb, rc, "%s", pe.msg);
            bt_str_copy(why, sizeof why, pe.msg);
        } else if (r->status == 429 || r->status == 418) {
            int64_t wait = r->retry_after >= 0 ? (int64_t)(r->retry_after * 1000) : backoff;
            if (wait > o->max_wait_ms || ++limited > o->rate_limits)
                return bt_errf(eb, BT_EIO,
                               "%s %s: rate limited (HTTP %ld, Retry-After %.0f s, %d times for "
                               "this page); wait and run the same command again",
                               pn, q->symbol, r->status, r->retry_after, limited);
            F->rep->rate_limited++;
            bt_log(BT_LOG_WARN, "%s %s: rate limited (HTTP %ld); waiting %.1f s", pn, q->symbol,
                   r->status, (double)wait / 1000.0);
            s_sleep_ms(wait);
            continue;
        } else if (r->transport || bt_http_transient(r)) {
            if (r->transport)
                bt_str_copy(why, sizeof why, r->error);
            else
                snprintf(why, sizeof why, "HTTP %ld", r->status);
            if (r->transport && !bt_http_transient(r))
                return bt_errf(eb, BT_EIO, "%s %s: request failed: %s", pn, q->symbol, why);
        } else {
            char msg[256];
            o->prov->error_text(r->body.data ? r->body.data : "", r->body.len, msg, sizeof msg);
            return bt_errf(eb, BT_EIO, "%s %s: HTTP %ld%s%s (not retried; check the symbol, "
                                       "interval and dates)",
                           pn, q->symbol, r->status, msg[0] ? ": " : "", msg);
        }
        if (++attempt > o->retries)
            return bt_errf(eb, BT_EIO, "%s %s: gave up after %d attempts: %s", pn, q->symbol,
                           attempt, why);
        F->rep->retries++;
        bt_log(BT_LOG_WARN, "%s %s: %s; retry %d of %d in %.1f s", pn, q->symbol, why, attempt,
               o->retries, (double)backoff / 1000.0);
        s_sleep_ms(backoff);
        backoff = backoff * 2 > o->backoff_max_ms ? o->backoff_max_ms : backoff * 2;
    }
}

/* Fetches one symbol from S->next to the end. */
static bt_err_t s_fetch_symbol(s_fetch_t *F, s_sym_t *S, bt_errbuf_t *eb)
{
    const bt_fetch_opts_t *o = F->o;
    bt_err_t rc = s_progress_open(F, S, eb);
    if (rc != BT_OK)
        return rc;
    while (S->next != INT64_MAX && S->next <= o->to) {
        bt_page_req_t q = {o->base, S->name, o->interval, F->iv_ns, S->next, o->to, o->page_bars};
        bt_page_t page = {0};
        rc = s_get_page(F, &q, &page, eb);
        if (rc != BT_OK)
            return rc;
        F->rep->nulls += page.skipped_null;
        size_t before = bt_bars_count(S->bars);
        for (size_t i = 0; i < page.nbars && rc == BT_OK; i++) {
            bool keep = false;
            rc = s_check_bar(F, S, &page.bars[i], &keep, eb);
            if (rc == BT_OK && keep)
                rc = s_push(S, &page.bars[i], eb);
        }
        int64_t next = page.next;
        if (rc == BT_OK && next != INT64_MAX && next <= S->next)
            rc = bt_errf(eb, BT_EPROTO, "%s %s: the next page would not move forward; stopped",
                         o->prov->name, S->name);
        bt_page_fini(&page);
        if (rc != BT_OK)
            return rc;
        size_t n = bt_bars_count(S->bars);
        F->rep->bars += n - before;
        if ((rc = s_progress_page(S, before, next, eb)) != BT_OK)
            return rc;
        S->next = next;
    }
    S->next = INT64_MAX;
    return BT_OK;
}

/* ---- the store ---- */

static bt_err_t s_copy_file(const char *src, const char *dst, bt_errbuf_t *eb)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return bt_errf(eb, BT_EIO, "cannot read %s: %s", src, strerror(errno));
    FILE *out = fopen(dst, "wb");
    if (!out) {
        fclose(in);
        return bt_errf(eb, BT_EIO, "cannot write %s: %s", dst, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    bool ok = true;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = ok && fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    fclose(in);
    ok = (fclose(out) == 0) && ok;
    return ok ? BT_OK : bt_errf(eb, BT_EIO, "cannot copy %s to %s", src, dst);
}

static bt_err_t s_fsync_path(const char *path, bt_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return bt_errf(eb, BT_EIO, "cannot sync %s: %s", path, strerror(e));
    }
    close(fd);
    return BT_OK;
}

/* Writes every symbol into a copy of the store and renames it over the store. */
static bt_err_t s_commit(s_fetch_t *F, s_sym_t *syms, bt_errbuf_t *eb)
{
    const bt_fetch_opts_t *o = F->o;
    char dir[PATH_MAX], tmp[PATH_MAX];
    bt_str_copy(dir, sizeof dir, o->store);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : o->store;
    if (slash)
        *slash = '\0';
    else
        bt_str_copy(dir, sizeof dir, ".");
    int w = snprintf(tmp, sizeof tmp, "%s/.%s.fetch.%ld.tmp", dir, base, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof tmp)
        return bt_errf(eb, BT_ELIMIT, "store path too long: %s", o->store);
    bt_err_t rc = BT_OK;
    if (access(o->store, F_OK) == 0)
        rc = s_copy_file(o->store, tmp, eb);
    for (size_t i = 0; i < o->nsym && rc == BT_OK; i++) {
        s_sym_t *S = &syms[i];
        if (bt_bars_count(S->bars) == 0) {
            bt_log(BT_LOG_WARN, "%s %s: no bars in the range; the symbol is not stored",
                   o->prov->name, S->name);
            continue;
        }
        bt_series_t v = bt_bars_view(S->bars);
        bt_store_meta_t meta;
        memset(&meta, 0, sizeof meta);
        snprintf(meta.source, sizeof meta.source, "%s %s %s (REST)", o->prov->name, S->name,
                 o->interval);
        bt_str_copy(meta.frequency, sizeof meta.frequency, bt_store_detect_frequency(&v));
        rc = bt_store_write(tmp, &v, &meta, true, o->deflate, eb);
    }
    if (rc == BT_OK)
        rc = s_fsync_path(tmp, eb);
    if (rc == BT_OK && rename(tmp, o->store) != 0)
        rc = bt_errf(eb, BT_EIO, "cannot rename %s to %s: %s", tmp, o->store, strerror(errno));
    if (rc == BT_OK)
        rc = s_fsync_path(dir, eb);
    if (rc != BT_OK)
        unlink(tmp);
    return rc;
}

/* Loads SYMBOL's bars from the store when it holds it. */
static bt_err_t s_load_existing(s_fetch_t *F, s_sym_t *S, bt_errbuf_t *eb)
{
    const char *store = F->o->store;
    if (access(store, F_OK) != 0)
        return BT_OK;
    char **names = NULL;
    size_t n = 0;
    bt_err_t rc = bt_store_names(store, &names, &n, eb);
    if (rc != BT_OK)
        return rc;
    bool has = false;
    for (size_t i = 0; i < n; i++)
        has = has || strcmp(names[i], S->name) == 0;
    bt_store_names_free(names, n);
    if (!has)
        return BT_OK;
    const char *one[1] = {S->name};
    bt_dataset_t *ds = bt_dataset_load(store, one, 1, eb);
    if (!ds)
        return eb ? eb->code : BT_EIO;
    const bt_series_t *s = &ds->series[0];
    if (s->adj_close) {
        bt_dataset_destroy(&ds);
        return bt_errf(eb, BT_EINVAL,
                       "%s in %s has an adj_close column (a CSV import); fetch into another "
                       "store or symbol",
                       S->name, store);
    }
    for (size_t i = 0; i < s->n && rc == BT_OK; i++)
        if (bt_bars_push(S->bars, s->time[i], s->open[i], s->high[i], s->low[i], s->close[i],
                         s->volume[i], NAN) != BT_OK)
            rc = bt_errf(eb, BT_ENOMEM, "out of memory");
    S->nstored = s->n;
    if (s->n > 0 && s->time[s->n - 1] >= S->next) {
        S->next = s->time[s->n - 1] + 1;
        char tb[40];
        bt_log(BT_LOG_INFO, "%s: %s already holds %zu bars up to %s; fetching what follows",
               S->name, store, s->n, s_tfmt(s->time[s->n - 1], tb));
    }
    bt_dataset_destroy(&ds);
    return rc;
}

bt_err_t bt_rest_fetch(const bt_fetch_opts_t *o, bt_fetch_report_t *rep, bt_errbuf_t *eb)
{
    memset(rep, 0, sizeof *rep);
    s_fetch_t F;
    memset(&F, 0, sizeof F);
    F.o = o;
    F.rep = rep;
    F.iv_ns = bt_interval_ns(o->interval);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    F.now = (int64_t)ts.tv_sec * BT_NS_PER_SEC + ts.tv_nsec;
    if (!F.iv_ns || !o->prov->interval_name(o->interval))
        return bt_errf(eb, BT_EINVAL, "%s has no interval '%s'", o->prov->name, o->interval);
    if (o->page_bars == 0 || o->page_bars > o->prov->max_page_bars)
        return bt_errf(eb, BT_EINVAL, "--page-bars must be 1..%zu for %s", o->prov->max_page_bars,
                       o->prov->name);
    if (o->from > o->to)
        return bt_errf(eb, BT_EINVAL, "--from is after --to");
    if (o->api_key && o->prov->key_header) {
        if (strpbrk(o->api_key, "\r\n"))
            return bt_errf(eb, BT_EINVAL, "the %s API key holds a line break", o->prov->name);
        snprintf(F.key_hdr, sizeof F.key_hdr, "%s: %s", o->prov->key_header, o->api_key);
    }
    if (snprintf(F.pdir, sizeof F.pdir, "%s.partial", o->store) >= (int)sizeof F.pdir)
        return bt_errf(eb, BT_ELIMIT, "store path too long");
    bt_err_t rc = bt_fs_mkdir_p(F.pdir, eb);
    if (rc != BT_OK)
        return rc;
    F.http = bt_http_new(o->timeout_ms);
    s_sym_t *syms = calloc(o->nsym ? o->nsym : 1, sizeof *syms);
    if (!F.http || !syms) {
        bt_http_destroy(&F.http);
        free(syms);
        return bt_errf(eb, BT_ENOMEM, "out of memory");
    }
    bt_http_resp_init(&F.resp, S_BODY_CAP);
    bt_buf_init(&F.url, 8192);
    for (size_t i = 0; i < o->nsym && rc == BT_OK; i++) {
        s_sym_t *S = &syms[i];
        S->name = o->symbols[i];
        S->next = o->from;
        S->bars = bt_bars_new(S->name, 0);
        if (!S->bars) {
            rc = bt_errf(eb, BT_ENOMEM, "out of memory");
            break;
        }
        if (snprintf(S->partial, sizeof S->partial, "%s/%s_%s_%s.bars", F.pdir, o->prov->name,
                     S->name, o->interval) >= (int)sizeof S->partial)
            rc = bt_errf(eb, BT_ELIMIT, "store path too long");
        if (rc == BT_OK)
            rc = s_load_existing(&F, S, eb);
        if (rc == BT_OK)
            rc = s_resume(&F, S, eb);
        if (rc == BT_OK)
            rc = s_fetch_symbol(&F, S, eb);
        if (S->pf)
            fclose(S->pf);
        S->pf = NULL;
    }
    if (rc == BT_OK)
        rc = s_commit(&F, syms, eb);
    if (rc == BT_OK) {
        for (size_t i = 0; i < o->nsym; i++)
            unlink(syms[i].partial);
        rmdir(F.pdir); /* fails harmlessly while other fetches keep progress there */
    }
    for (size_t i = 0; i < o->nsym; i++)
        bt_bars_destroy(&syms[i].bars);
    free(syms);
    bt_buf_fini(&F.url);
    bt_http_resp_fini(&F.resp);
    bt_http_destroy(&F.http);
    return rc;
}
