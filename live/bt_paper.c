/* bt_paper — paper trading on one zloop. See bt_paper.h. */
#include "bt_paper_int.h"

#include <czmq.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bt_config.h"
#include "bt_csvw.h"
#include "bt_fs.h"
#include "bt_grid.h"
#include "bt_http.h"
#include "bt_ind.h"
#include "bt_live.h"
#include "bt_log.h"
#include "bt_prov_util.h"
#include "bt_redis_async.h"
#include "bt_registry.h"
#include "bt_time.h"

#define S_QUEUE_MAX 1000000u /* bars waiting for the other symbols */
#define S_BODY_CAP (64u << 20)

void bt_paper_opts_defaults(bt_paper_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->out = "out/paper";
    o->interval = "1d";
    o->from = INT64_MIN;
    o->name = "default";
    o->stream_cap = 1000;
    o->indicators = "sma,ema,rsi";
    o->grace_ms = -1;
}

static int64_t s_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * BT_NS_PER_SEC + ts.tv_nsec;
}

static const char *s_t(int64_t t, char *buf)
{
    return bt_time_format(t, buf, 40);
}

static bool s_path(const s_paper_t *P, const char *name, char *out)
{
    int w = snprintf(out, PATH_MAX, "%s/%s", P->o->out, name);
    return w > 0 && w < PATH_MAX;
}

/* ---- outputs --------------------------------------------------------------- */

static const char *s_order_type(bt_order_type_t t)
{
    static const char *const n[] = {"market", "limit", "stop", "stop_limit"};
    return (unsigned)t < 4 ? n[t] : "?";
}

static const char *s_order_status(bt_order_status_t s)
{
    static const char *const n[] = {"open", "filled", "partial", "cancelled", "expired",
                                    "rejected"};
    return (unsigned)s < 6 ? n[s] : "?";
}

static const char *s_tz(int64_t t, char *buf)
{
    return t == 0 ? "" : bt_time_format(t, buf, 40);
}

/* orders.csv in bt run's columns (books one after another, ids offset as bt run does). */
static bt_err_t s_write_orders(s_paper_t *P)
{
    char path[PATH_MAX];
    if (!s_path(P, "orders.csv", path))
        return bt_errf(&P->eb, BT_ELIMIT, "output path too long");
    bt_fs_atomic_t a;
    bt_err_t e = bt_fs_atomic_open(&a, path, &P->eb);
    if (e != BT_OK)
        return e;
    bt_csvw_t w;
    bt_csvw_init_file(&w, a.f);
    bt_csvw_line(&w, "id,created,done,symbol,type,qty,filled,limit,stop,avg_price,commission,"
                     "status,reason");
    int64_t off = 0;
    char t1[40], t2[40];
    for (size_t b = 0; b < bt_live_nbooks(P->lv); b++) {
        const bt_recorder_t *rec = bt_live_recorder(P->lv, b);
        int64_t maxid = 0;
        for (size_t i = 0; i < rec->norders; i++) {
            const bt_order_rec_t *o = &rec->orders[i];
            if (o->id > maxid)
                maxid = o->id;
            uint32_t sym = o->sym; /* the engine records run-level indices */
            bt_csvw_i64(&w, o->id ? o->id + off : 0);
            bt_csvw_str(&w, s_tz(o->created, t1));
            bt_csvw_str(&w, s_tz(o->done, t2));
            bt_csvw_str(&w, sym < P->nsym ? P->syms[sym] : "?");
            bt_csvw_str(&w, s_order_type(o->type));
            const double num[] = {o->qty, o->filled, o->limit, o->stop, o->avg_price,
                                  o->commission};
            for (size_t k = 0; k < 6; k++)
                bt_csvw_g(&w, num[k], 15);
            bt_csvw_str(&w, s_order_status(o->status));
            bt_csvw_strn(&w, o->reason, sizeof o->reason);
            bt_csvw_end_row(&w);
        }
        off += maxid;
    }
    e = bt_fs_atomic_commit(&a, &P->eb);
    bt_fs_atomic_abort(&a);
    return e;
}

/* One events.csv row, and the same to Redis. */
static void s_event(s_paper_t *P, bt_csvw_t *w, const bt_paper_event_t *ev)
{
    char tb[40];
    bt_csvw_u64(w, ev->step);
    bt_csvw_str(w, s_t(ev->t, tb));
    bt_csvw_str(w, ev->event);
    bt_csvw_u64(w, ev->book);
    bt_csvw_i64(w, ev->order_id);
    bt_csvw_str(w, ev->symbol);
    bt_csvw_str(w, ev->type);
    bt_csvw_g(w, ev->qty, 15);
    bt_csvw_g(w, ev->price, 15);
    bt_csvw_g(w, ev->commission, 15);
    bt_csvw_str(w, ev->status);
    bt_csvw_end_row(w);
    bt_paper_publish_event(P, ev);
}

/* Orders placed and fills of the step just taken: events.csv rows. */
static void s_write_events(s_paper_t *P, size_t step, int64_t t)
{
    bt_csvw_t w;
    bt_csvw_init_file(&w, P->events);
    for (size_t b = 0; b < bt_live_nbooks(P->lv); b++) {
        const bt_recorder_t *rec = bt_live_recorder(P->lv, b);
        for (size_t i = P->nord_out[b]; i < rec->norders; i++) {
            const bt_order_rec_t *o = &rec->orders[i];
            bt_paper_event_t ev = {step, t, "order", b, o->id,
                                   o->sym < P->nsym ? P->syms[o->sym] : "?",
                                   s_order_type(o->type), o->qty, o->limit ? o->limit : o->stop,
                                   0, s_order_status(o->status)};
            s_event(P, &w, &ev);
        }
        P->nord_out[b] = rec->norders;
        size_t nf = 0;
        const bt_step_fill_t *f = bt_live_fills(P->lv, b, &nf);
        for (size_t i = 0; i < nf; i++) {
            bt_paper_event_t ev = {step, t, "fill", b, f[i].order_id,
                                   f[i].sym < P->nsym ? P->syms[f[i].sym] : "?", "", f[i].qty,
                                   f[i].price, f[i].commission, ""};
            s_event(P, &w, &ev);
        }
    }
}

/* The step's equity row (bt run's equity.csv columns); false during warm-up. */
static bool s_equity_row(s_paper_t *P, int64_t t, bt_equity_rec_t *x)
{
    if (t < bt_config_engine(P->cfg)->trade_start)
        return false;
    if (bt_live_nbooks(P->lv) == 1) {
        const bt_recorder_t *rec = bt_live_recorder(P->lv, 0);
        if (rec->nequity == 0 || rec->equity[rec->nequity - 1].time != t)
            return false;
        *x = rec->equity[rec->nequity - 1];
        return true;
    }
    double eq = bt_live_equity(P->lv), cash = bt_live_cash(P->lv);
    if (eq > P->peak)
        P->peak = eq;
    *x = (bt_equity_rec_t){t, cash, eq - cash, eq, P->peak > 0 ? 1.0 - eq / P->peak : 0.0};
    return true;
}

static void s_status(s_paper_t *P, int64_t t)
{
    char tb[40];
    int n = snprintf(P->status, sizeof P->status, "step %zu  bar %s  equity %.2f  cash %.2f",
                     bt_live_steps(P->lv), t == INT64_MIN ? "-" : s_t(t, tb),
                     bt_live_equity(P->lv), bt_live_cash(P->lv));
    for (size_t s = 0; s < P->nsym && n > 0 && (size_t)n < sizeof P->status; s++)
        n += snprintf(P->status + n, sizeof P->status - (size_t)n, "  %s %g", P->syms[s],
                      bt_live_position(P->lv, s));
    if (n > 0 && (size_t)n < sizeof P->status)
        snprintf(P->status + n, sizeof P->status - (size_t)n, "  feed %s  redis %s",
                 P->outage ? "DOWN" : "ok",
                 !P->ar ? "off" : bt_aredis_up(P->ar) ? "ok" : "DOWN");
    if (P->tty)
        fprintf(stderr, "\r%s\033[K", P->status);
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    if (s_path(P, "status.txt", path)) {
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (f) {
            fprintf(f, "%s\n", P->status);
            if (fclose(f) == 0)
                rename(tmp, path);
        }
    }
}

/* ---- steps ----------------------------------------------------------------- */

static bt_err_t s_journal(s_paper_t *P, int64_t t, const bt_bar_t *bars, const uint8_t *has)
{
    fprintf(P->journal, "%lld", (long long)t);
    for (size_t s = 0; s < P->nsym; s++) {
        if (has[s])
            fprintf(P->journal, ",1,%.17g,%.17g,%.17g,%.17g,%.17g", bars[s].open, bars[s].high,
                    bars[s].low, bars[s].close, bars[s].volume);
        else
            fprintf(P->journal, ",0,0,0,0,0,0");
    }
    fputc('\n', P->journal);
    if (fflush(P->journal) != 0 || fsync(fileno(P->journal)) != 0)
        return bt_errf(&P->eb, BT_EIO, "cannot write %s/journal.csv: %s", P->o->out,
                       strerror(errno));
    return BT_OK;
}

static bt_err_t s_apply(s_paper_t *P, int64_t t, const bt_bar_t *bars, const uint8_t *has)
{
    size_t step = bt_live_steps(P->lv);
    size_t before = 0;
    for (size_t b = 0; b < bt_live_nbooks(P->lv); b++)
        before += bt_live_recorder(P->lv, b)->norders;
    bt_err_t e = bt_live_step(P->lv, t, bars, has, &P->eb);
    if (e != BT_OK)
        return e;
    for (size_t s = 0; s < P->nsym; s++)
        for (size_t k = 0; has[s] && k < P->nind; k++)
            bt_ind_update(&P->ind[s * P->nind + k], &bars[s], 0);
    bt_equity_rec_t x;
    bool row = s_equity_row(P, t, &x);
    if (P->replaying) {
        for (size_t b = 0; b < bt_live_nbooks(P->lv); b++)
            P->nord_out[b] = bt_live_recorder(P->lv, b)->norders;
        return BT_OK;
    }
    s_write_events(P, step, t);
    if (row) {
        bt_csvw_t w;
        bt_csvw_init_file(&w, P->equity);
        char tb[40];
        bt_csvw_str(&w, bt_time_format(x.time, tb, sizeof tb));
        bt_csvw_g(&w, x.cash, 15);
        bt_csvw_g(&w, x.positions_value, 15);
        bt_csvw_g(&w, x.equity, 15);
        bt_csvw_g(&w, x.drawdown, 15);
        bt_csvw_end_row(&w);
    }
    if (fflush(P->events) != 0 || fflush(P->equity) != 0)
        return bt_errf(&P->eb, BT_EIO, "cannot write to %s: %s", P->o->out, strerror(errno));
    if ((e = s_journal(P, t, bars, has)) != BT_OK)
        return e;
    size_t after = 0;
    for (size_t b = 0; b < bt_live_nbooks(P->lv); b++)
        after += bt_live_recorder(P->lv, b)->norders;
    size_t nf = 0;
    for (size_t b = 0; b < bt_live_nbooks(P->lv); b++) {
        size_t k = 0;
        bt_live_fills(P->lv, b, &k);
        nf += k;
    }
    if ((after != before || nf > 0) && (e = s_write_orders(P)) != BT_OK)
        return e;
    s_status(P, t);
    bt_paper_publish(P, t, bars, has);
    return BT_OK;
}

/* Steps while every symbol has a bar waiting: the earliest time is the step,
 * the symbols with a bar at that time have one (the backtest's merged feed).
 * A symbol with no bar waiting holds the step back until grace_ms after the
 * step's first bar came, and until its feed has answered since then with
 * nothing more to send (a feed still paging through history is not late);
 * then (or with force) it steps without it. */
void bt_paper_drain(s_paper_t *P, bool force)
{
    bt_bar_t bars[64];
    uint8_t has[64];
    for (;;) {
        int64_t t = INT64_MAX;
        size_t missing = 0, miss_sym = 0;
        int64_t answered = INT64_MAX; /* the missing symbols' feeds all answered since */
        for (size_t s = 0; s < P->nsym; s++) {
            if (P->q[s].n == 0) {
                missing++;
                miss_sym = s;
                if (P->answered_ms[s] < answered)
                    answered = P->answered_ms[s];
                continue;
            }
            int64_t h = P->q[s].v[P->q[s].head].time;
            if (h < t)
                t = h;
        }
        if (t == INT64_MAX)
            return;
        if (missing) {
            int64_t first = INT64_MAX; /* arrival of the step's first bar */
            for (size_t s = 0; s < P->nsym; s++) {
                const s_queue_t *q = &P->q[s];
                if (q->n && q->v[q->head].time == t && q->at[q->head] < first)
                    first = q->at[q->head];
            }
            if (!force && (bt_monotonic_ms() - first < P->grace_ms || answered < first))
                return;
            if (P->waited_t != t) {
                char tb[40];
                /* a symbol that has not started yet (listed later) is no news */
                bt_log(P->seen[miss_sym] == INT64_MIN ? BT_LOG_DEBUG : BT_LOG_INFO, "%s: no bar for %s within %ld ms%s; stepping without it%s",
                       P->syms[miss_sym], s_t(t, tb), P->grace_ms,
                       missing > 1 ? " (nor for other symbols)" : "",
                       force ? " (the feed has ended)" : "");
                P->waited_t = t;
            }
        }
        for (size_t s = 0; s < P->nsym; s++) {
            s_queue_t *q = &P->q[s];
            has[s] = q->n && q->v[q->head].time == t;
            if (has[s]) {
                const bt_rawbar_t *r = &q->v[q->head];
                bars[s] = (bt_bar_t){t, r->open, r->high, r->low, r->close, r->volume};
                q->head++;
                q->n--;
                if (q->n == 0)
                    q->head = 0;
            }
        }
        P->idle = 0;
        bt_err_t e = s_apply(P, t, bars, has);
        if (e != BT_OK) {
            P->err = e;
            P->stop = true;
            return;
        }
        if (P->o->max_steps && (long)bt_live_steps(P->lv) >= P->o->max_steps)
            P->stop = true;
        if (zsys_interrupted) /* SIGINT / SIGTERM: stop between steps, not after the backlog */
            P->stop = true;
        if (P->stop)
            return;
    }
}

/* A bar from a feed: validated, late / repeated ones dropped, queued. */
void bt_paper_offer(s_paper_t *P, size_t s, const bt_rawbar_t *b)
{
    char tb[40], tp[40];
    const char *sym = P->syms[s];
    if (!(isfinite(b->open) && isfinite(b->high) && isfinite(b->low) && isfinite(b->close) &&
          isfinite(b->volume)) ||
        b->low <= 0 || b->high < b->low || b->open < b->low || b->open > b->high ||
        b->close < b->low || b->close > b->high || b->volume < 0) {
        bt_log(BT_LOG_WARN, "%s %s: invalid bar dropped (open %g high %g low %g close %g volume "
                            "%g)",
               sym, s_t(b->time, tb), b->open, b->high, b->low, b->close, b->volume);
        return;
    }
    if (P->seen[s] != INT64_MIN && b->time <= P->seen[s]) {
        bt_log(BT_LOG_DEBUG, "%s %s: %s bar dropped (last bar %s)", sym, s_t(b->time, tb),
               b->time == P->seen[s] ? "repeated" : "late or out-of-order", s_t(P->seen[s], tp));
        return;
    }
    if (bt_live_steps(P->lv) && b->time <= bt_live_last_time(P->lv)) {
        /* the step of its time was taken without it (grace over): too late */
        bt_log(BT_LOG_WARN, "%s %s: bar came after its step was taken without it (grace %ld "
                            "ms); dropped",
               sym, s_t(b->time, tb), P->grace_ms);
        P->seen[s] = b->time;
        return;
    }
    if (P->seen[s] != INT64_MIN && P->iv_ns > 0) {
        int64_t slack = P->iv_ns >= BT_NS_PER_DAY ? 4 * BT_NS_PER_DAY : P->iv_ns;
        if (b->time - P->seen[s] > slack)
            bt_log(BT_LOG_INFO, "%s: gap in the feed from %s to %s", sym, s_t(P->seen[s], tp),
                   s_t(b->time, tb));
    }
    s_queue_t *q = &P->q[s];
    if (q->head + q->n == q->cap) {
        if (q->head > 0) {
            memmove(q->v, q->v + q->head, q->n * sizeof *q->v);
            memmove(q->at, q->at + q->head, q->n * sizeof *q->at);
            q->head = 0;
        } else {
            size_t cap = q->cap ? 2 * q->cap : 256;
            bt_rawbar_t *nv = cap <= S_QUEUE_MAX ? realloc(q->v, cap * sizeof *nv) : NULL;
            if (nv)
                q->v = nv;
            int64_t *na = nv ? realloc(q->at, cap * sizeof *na) : NULL;
            if (na)
                q->at = na;
            if (!nv || !na) {
                bt_log(BT_LOG_ERROR, "%s: %zu bars wait for the other symbols; bar %s dropped",
                       sym, q->n, s_t(b->time, tb));
                return;
            }
            q->cap = cap;
        }
    }
    q->at[q->head + q->n] = bt_monotonic_ms();
    q->v[q->head + q->n++] = *b;
    P->seen[s] = b->time;
}

/* ---- REST polling ------------------------------------------------------------ */

static void s_http_done(void *user, bt_http_resp_t *r)
{
    s_slot_t *sl = user;
    s_paper_t *P = sl->P;
    const char *pn = P->o->prov->name, *sym = P->syms[sl->sym];
    if (r->status >= 200 && r->status < 300) {
        bt_page_req_t q = {P->o->base, sym, P->o->interval, P->iv_ns, sl->from, sl->to,
                           P->o->prov->max_page_bars};
        bt_page_t page = {0};
        bt_errbuf_t pe;
        if (P->o->prov->parse(&q, r->body.data, r->body.len, &page, &pe) == BT_OK) {
            if (P->outage)
                bt_log(BT_LOG_INFO, "%s: provider answers again", pn);
            P->outage = false;
            P->backoff_ms = 0;
            int64_t now = s_wall_ns();
            size_t fresh = 0;
            for (size_t i = 0; i < page.nbars; i++) {
                if (page.bars[i].time + P->iv_ns > now)
                    continue; /* still forming: taken when it has closed */
                int64_t before = P->seen[sl->sym];
                bt_paper_offer(P, sl->sym, &page.bars[i]);
                fresh += P->seen[sl->sym] != before;
            }
            if (page.next == INT64_MAX) /* nothing more to page through: caught up */
                P->answered_ms[sl->sym] = bt_monotonic_ms();
            bt_page_fini(&page);
            if (fresh == 0 && sl->sym == 0)
                P->idle++;
            bt_paper_drain(P, false);
            return;
        }
        bt_page_fini(&page);
        bt_log(BT_LOG_WARN, "%s", pe.msg);
    } else if (r->status == 429 || r->status == 418) {
        P->retry_at_ms = bt_monotonic_ms() + (r->retry_after >= 0 ? (int64_t)(r->retry_after * 1000)
                                                                   : 1000);
        bt_log(BT_LOG_WARN, "%s %s: rate limited (HTTP %ld); pausing the polls", pn, sym,
               r->status);
        return;
    } else {
        bt_log(BT_LOG_WARN, "%s %s: %s", pn, sym,
               r->transport ? r->error : r->status ? "HTTP error" : "no answer");
    }
    /* outage: back off (doubling, at most 60 s), keep the loop going; the
     * symbol had its chance (a step may go on without it after the grace) */
    P->answered_ms[sl->sym] = bt_monotonic_ms();
    P->backoff_ms = P->backoff_ms ? (P->backoff_ms * 2 > 60000 ? 60000 : P->backoff_ms * 2) : 250;
    P->retry_at_ms = bt_monotonic_ms() + P->backoff_ms;
    if (!P->outage)
        bt_log(BT_LOG_WARN, "%s: provider outage; retrying with back-off", pn);
    P->outage = true;
    P->idle = 0;
}

static void s_poll_rest(s_paper_t *P)
{
    if (bt_monotonic_ms() < P->retry_at_ms)
        return;
    for (size_t s = 0; s < P->nsym; s++) {
        s_slot_t *sl = &P->slots[s];
        if (bt_http_busy(sl->http))
            continue;
        int64_t from = P->seen[s] != INT64_MIN ? P->seen[s] + 1
                       : P->o->from != INT64_MIN ? P->o->from
                                                 : s_wall_ns() - 3 * P->iv_ns;
        bt_page_req_t q = {P->o->base, P->syms[s], P->o->interval, P->iv_ns, from,
                           s_wall_ns(), P->o->prov->max_page_bars};
        sl->from = q.from;
        sl->to = q.to;
        bt_errbuf_t e2;
        if (P->o->prov->page_url(&q, &sl->url, &e2) != BT_OK) {
            bt_log(BT_LOG_ERROR, "%s", e2.msg);
            continue;
        }
        char hdr[512] = "";
        if (P->o->api_key && P->o->prov->key_header)
            snprintf(hdr, sizeof hdr, "%s: %s", P->o->prov->key_header, P->o->api_key);
        const char *hdrs[2] = {hdr[0] ? hdr : NULL, NULL};
        if (bt_http_start(sl->http, sl->url.data, hdrs, &sl->resp, s_http_done, sl, &e2) != BT_OK)
            bt_log(BT_LOG_ERROR, "%s", e2.msg);
    }
}

/* ---- the loop -------------------------------------------------------------- */

static int s_on_tick(zloop_t *loop, int id, void *arg)
{
    s_paper_t *P = arg;
    if (P->stop)
        return -1;
    if (P->o->idle_exit && P->idle >= P->o->idle_exit) {
        bt_paper_drain(P, true); /* the feed has ended: bars held for a missing symbol go */
        bt_log(BT_LOG_INFO, "no new bar in %ld polls; stopping", P->idle);
        return -1;
    }
    bt_paper_drain(P, false); /* a grace may be over */
    if (P->stop)
        return -1;
    if (P->o->from_redis)
        bt_paper_poll_redis(P);
    else
        s_poll_rest(P);
    return P->stop ? -1 : 0;
}

static int s_on_control(zloop_t *loop, zsock_t *sock, void *arg)
{
    s_paper_t *P = arg;
    char *cmd = zstr_recv(sock);
    if (!cmd)
        return 0;
    int rc = 0;
    if (strcmp(cmd, "status") == 0) {
        zstr_send(sock, P->status[0] ? P->status : "waiting for the first bar");
    } else if (strcmp(cmd, "stop") == 0) {
        zstr_send(sock, "stopping");
        rc = -1;
    } else {
        zstr_send(sock, "unknown command; use status or stop");
    }
    zstr_free(&cmd);
    return rc;
}

/* ---- start and restart --------------------------------------------------------- */

/* Keeps the header and the rows a predicate accepts; the file is replaced. */
static bt_err_t s_trim(s_paper_t *P, const char *name, size_t keep_rows, bool by_step)
{
    char path[PATH_MAX];
    if (!s_path(P, name, path))
        return bt_errf(&P->eb, BT_ELIMIT, "output path too long");
    size_t len = 0;
    bt_errbuf_t e2;
    char *t = bt_live_read_file(path, (size_t)1 << 34, &len, &e2);
    if (!t)
        return BT_OK;
    size_t keep = 0, row = 0;
    char *p = t;
    char *nl = memchr(p, '\n', len);
    if (nl) {
        keep = (size_t)(nl + 1 - t);
        p = nl + 1;
    }
    while (p < t + len) {
        nl = memchr(p, '\n', (size_t)(t + len - p));
        if (!nl)
            break;
        bool ok = by_step ? strtoull(p, NULL, 10) < keep_rows : row < keep_rows;
        if (!ok)
            break;
        row++;
        keep = (size_t)(nl + 1 - t);
        p = nl + 1;
    }
    bt_err_t e = BT_OK;
    if (keep != len)
        e = bt_fs_write_atomic(path, t, keep, &P->eb);
    free(t);
    return e;
}

static bt_err_t s_open_append(s_paper_t *P, const char *name, const char *header, FILE **f)
{
    char path[PATH_MAX];
    if (!s_path(P, name, path))
        return bt_errf(&P->eb, BT_ELIMIT, "output path too long");
    bool fresh = access(path, F_OK) != 0;
    *f = fopen(path, "a");
    if (!*f)
        return bt_errf(&P->eb, BT_EIO, "cannot write %s: %s", path, strerror(errno));
    if (fresh && header)
        fprintf(*f, "%s\n", header);
    return BT_OK;
}

/* Replays OUT/journal.csv (the steps of an earlier run) into the engine. */
static bt_err_t s_restart(s_paper_t *P, const char *header)
{
    char path[PATH_MAX];
    s_path(P, "journal.csv", path);
    size_t len = 0;
    bt_errbuf_t e2;
    char *t = bt_live_read_file(path, (size_t)1 << 34, &len, &e2);
    if (!t)
        return BT_OK;
    size_t hl = strlen(header);
    if (len < hl + 1 || memcmp(t, header, hl) != 0 || t[hl] != '\n') {
        free(t);
        return bt_errf(&P->eb, BT_ECONFIG,
                       "%s belongs to another config, strategy or symbol list; use another "
                       "--out folder (or delete it to start afresh)",
                       path);
    }
    P->replaying = true;
    bt_bar_t bars[64];
    uint8_t has[64];
    char *p = t + hl + 1, *end = t + len;
    size_t good = hl + 1;
    bt_err_t e = BT_OK;
    while (p < end && e == BT_OK) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* torn last line: that step was not done */
        *nl = '\0';
        char *q = p;
        int64_t tt = strtoll(q, &q, 10);
        bool ok = true;
        for (size_t s = 0; s < P->nsym && ok; s++) {
            ok = *q == ',';
            has[s] = (uint8_t)strtol(q + 1, &q, 10);
            double *f[5] = {&bars[s].open, &bars[s].high, &bars[s].low, &bars[s].close,
                            &bars[s].volume};
            for (int k = 0; k < 5 && ok; k++) {
                ok = *q == ',';
                *f[k] = strtod(q + 1, &q);
            }
            bars[s].time = tt;
            if (has[s])
                P->seen[s] = tt;
        }
        if (!ok)
            break;
        e = s_apply(P, tt, bars, has);
        good = (size_t)(nl + 1 - t);
        p = nl + 1;
    }
    free(t);
    P->replaying = false;
    if (e != BT_OK)
        return e;
    if (good != len && truncate(path, (off_t)good) != 0)
        return bt_errf(&P->eb, BT_EIO, "cannot truncate %s: %s", path, strerror(errno));
    size_t k = bt_live_steps(P->lv);
    size_t rows = 0;
    for (size_t b = 0; b < bt_live_nbooks(P->lv); b++)
        rows = bt_live_recorder(P->lv, b)->nequity > rows ? bt_live_recorder(P->lv, b)->nequity
                                                          : rows;
    if (bt_live_nbooks(P->lv) > 1) /* summed rows: one per step after the warm-up */
        rows = k;
    if ((e = s_trim(P, "events.csv", k, true)) != BT_OK ||
        (e = s_trim(P, "equity.csv", rows, false)) != BT_OK)
        return e;
    if (k > 0) {
        char tb[40];
        bt_log(BT_LOG_INFO, "restart: %zu steps replayed from %s (last bar %s); equity %.2f", k,
               path, s_t(bt_live_last_time(P->lv), tb), bt_live_equity(P->lv));
    }
    return BT_OK;
}

static bt_err_t s_setup_ind(s_paper_t *P)
{
    char list[256];
    bt_str_copy(list, sizeof list, P->o->indicators ? P->o->indicators : "");
    for (char *p = list; *p && P->nind < BT_PAPER_MAX_IND;) {
        size_t n = strcspn(p, ",");
        char save = p[n];
        p[n] = '\0';
        const bt_ind_kind_t *k = bt_ind_find(p);
        if (!k || k->input == BT_IND_IN_PAIR)
            return bt_errf(&P->eb, BT_EINVAL, "--indicators: '%s' is not a one-symbol indicator",
                           p);
        P->kinds[P->nind++] = k;
        p += n + (save ? 1 : 0);
    }
    P->ind = calloc(P->nsym * (P->nind ? P->nind : 1), sizeof *P->ind);
    P->ind_state = calloc(P->nsym * (P->nind ? P->nind : 1), sizeof *P->ind_state);
    if (!P->ind || !P->ind_state)
        return bt_errf(&P->eb, BT_ENOMEM, "out of memory");
    for (size_t s = 0; s < P->nsym; s++) {
        for (size_t i = 0; i < P->nind; i++) {
            double p[BT_IND_MAX_PARAMS];
            bt_err_t e = bt_ind_params(P->kinds[i], NULL, 0, p, &P->eb);
            if (e != BT_OK)
                return e;
            size_t j = s * P->nind + i;
            P->ind_state[j] = calloc(1, bt_ind_state_size(P->kinds[i], p) + 8);
            if (!P->ind_state[j])
                return bt_errf(&P->eb, BT_ENOMEM, "out of memory");
            if ((e = bt_ind_open(&P->ind[j], P->kinds[i], p, BT_SRC_CLOSE, P->ind_state[j],
                                 &P->eb)) != BT_OK)
                return e;
        }
    }
    return BT_OK;
}

static void s_free(s_paper_t *P)
{
    bt_aredis_destroy(&P->ar);
    for (size_t s = 0; P->slots && s < P->nsym; s++) {
        bt_http_destroy(&P->slots[s].http);
        bt_http_resp_fini(&P->slots[s].resp);
        bt_buf_fini(&P->slots[s].url);
    }
    free(P->slots);
    for (size_t s = 0; P->q && s < P->nsym; s++) {
        free(P->q[s].v);
        free(P->q[s].at);
    }
    free(P->q);
    free(P->seen);
    free(P->answered_ms);
    free(P->xid);
    free(P->nord_out);
    for (size_t j = 0; P->ind_state && j < P->nsym * P->nind; j++)
        free(P->ind_state[j]);
    free(P->ind_state);
    free(P->ind);
    if (P->events)
        fclose(P->events);
    if (P->equity)
        fclose(P->equity);
    if (P->journal)
        fclose(P->journal);
    zsock_destroy(&P->ctl);
    zloop_destroy(&P->loop);
    bt_live_destroy(&P->lv);
    bt_config_destroy(&P->cfg);
}

bt_err_t bt_paper_run(const bt_paper_opts_t *o, bt_errbuf_t *eb)
{
    s_paper_t P;
    memset(&P, 0, sizeof P);
    P.o = o;
    P.tty = isatty(2);
    zsys_init(); /* czmq's SIGINT / SIGTERM handler: the loop ends, files are closed */
    bt_err_t e = BT_OK;
    P.cfg = bt_config_load_lib(o->config, o->sets, o->nsets, bt_strategy_table(),
                               bt_strategy_count(), bt_strategy_load, &P.eb);
    if (!P.cfg || bt_grid_check(P.cfg, &P.eb) != BT_OK) {
        e = BT_ECONFIG;
        goto done;
    }
    P.st = bt_config_strategy(P.cfg);
    P.syms = bt_config_symbols(P.cfg, &P.nsym);
    if (!P.syms || P.nsym == 0 || P.nsym > 64) {
        e = bt_errf(&P.eb, BT_ECONFIG, "%s: paper trading needs data.symbols (1..64 symbols)",
                    o->config);
        goto done;
    }
    P.iv_ns = bt_interval_ns(o->interval);
    if (!o->from_redis && (!P.iv_ns || !o->prov->interval_name(o->interval))) {
        e = bt_errf(&P.eb, BT_ECONFIG, "%s has no interval '%s'", o->prov->name, o->interval);
        goto done;
    }
    if (o->from_redis && !o->redis) {
        e = bt_errf(&P.eb, BT_ECONFIG, "--source redis needs --redis ADDR");
        goto done;
    }
    P.lv = bt_live_new(P.st, bt_config_params(P.cfg), bt_config_engine(P.cfg), P.nsym, &P.eb);
    P.seen = malloc(P.nsym * sizeof *P.seen);
    P.answered_ms = calloc(P.nsym, sizeof *P.answered_ms);
    P.q = calloc(P.nsym, sizeof *P.q);
    P.xid = calloc(P.nsym, sizeof *P.xid);
    P.nord_out = calloc(P.nsym, sizeof *P.nord_out);
    P.loop = zloop_new();
    if (!P.lv || !P.seen || !P.answered_ms || !P.q || !P.xid || !P.nord_out || !P.loop) {
        e = P.lv ? bt_errf(&P.eb, BT_ENOMEM, "out of memory") : P.eb.code;
        goto done;
    }
    P.peak = bt_config_engine(P.cfg)->initial_cash;
    for (size_t s = 0; s < P.nsym; s++) {
        P.seen[s] = INT64_MIN;
        bt_str_copy(P.xid[s], sizeof P.xid[s], "0");
    }
    if ((e = s_setup_ind(&P)) != BT_OK || (e = bt_fs_mkdir_p(o->out, &P.eb)) != BT_OK)
        goto done;
    char header[1024];
    int w = snprintf(header, sizeof header, "# bt paper 1 config_sha256=%s strategy=%s symbols=",
                     bt_config_hash(P.cfg), P.st->name);
    for (size_t s = 0; s < P.nsym && w > 0 && (size_t)w < sizeof header; s++)
        w += snprintf(header + w, sizeof header - (size_t)w, "%s%s", s ? "," : "", P.syms[s]);
    if ((e = s_restart(&P, header)) != BT_OK)
        goto done;
    if ((e = s_open_append(&P, "journal.csv", header, &P.journal)) != BT_OK ||
        (e = s_open_append(&P, "events.csv",
                           "step,time,event,book,order_id,symbol,type,qty,price,commission,status",
                           &P.events)) != BT_OK ||
        (e = s_open_append(&P, "equity.csv", "time,cash,positions_value,equity,drawdown",
                           &P.equity)) != BT_OK ||
        (e = s_write_orders(&P)) != BT_OK)
        goto done;
    s_status(&P, bt_live_last_time(P.lv));
    if (o->redis) {
        P.ar = bt_aredis_new(P.loop, o->redis, &P.eb);
        if (!P.ar) {
            e = BT_ECONFIG;
            goto done;
        }
    }
    if (!o->from_redis) {
        P.slots = calloc(P.nsym, sizeof *P.slots);
        if (!P.slots) {
            e = bt_errf(&P.eb, BT_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t s = 0; s < P.nsym; s++) {
            s_slot_t *sl = &P.slots[s];
            sl->P = &P;
            sl->sym = s;
            sl->http = bt_http_new(30000);
            bt_http_resp_init(&sl->resp, S_BODY_CAP);
            bt_buf_init(&sl->url, 8192);
            if (!sl->http || bt_http_attach(sl->http, P.loop, &P.eb) != BT_OK) {
                e = bt_errf(&P.eb, BT_ENOMEM, "cannot set up HTTP");
                goto done;
            }
        }
    }
    if (o->control) {
        P.ctl = zsock_new_rep(o->control);
        if (!P.ctl) {
            e = bt_errf(&P.eb, BT_ECONFIG, "cannot bind the control socket %s", o->control);
            goto done;
        }
        zloop_reader(P.loop, P.ctl, s_on_control, &P);
    }
    long period = o->poll_ms > 0 ? o->poll_ms : (long)(P.iv_ns / 1000000);
    if (period <= 0)
        period = 1000;
    P.grace_ms = o->grace_ms >= 0 ? o->grace_ms : 3 * period;
    P.waited_t = INT64_MIN;
    zloop_timer(P.loop, (size_t)period, 0, s_on_tick, &P);
    bt_log(BT_LOG_INFO, "paper: %s on %zu symbol(s), %s every %ld ms -> %s", P.st->name, P.nsym,
           o->from_redis ? "Redis streams bt:bars:SYMBOL" : o->prov->name, period, o->out);
    s_on_tick(P.loop, 0, &P);
    zloop_start(P.loop);
    if (P.tty)
        fputc('\n', stderr);
    if (P.err != BT_OK) {
        e = P.err;
        goto done;
    }
    bt_log(BT_LOG_INFO, "paper: stopped after %zu steps; %s", bt_live_steps(P.lv), P.status);
done:
    if (e != BT_OK)
        bt_errf(eb, e, "%s", P.eb.msg[0] ? P.eb.msg : bt_strerror(e));
    s_free(&P);
    return e;
}
