/* bt_loop — the step loop of one book. See bt_loop.h. Nothing here
 * allocates per bar (the recorder's arrays grow geometrically). */
#include "bt_loop.h"

#include "bt_exec.h"
#include "bt_feed.h"
#include "bt_filemap.h"
#include "bt_fs.h"
#include "bt_portfolio.h"
#include "bt_risk.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The step's equity record (single-book runs with a recorder). */
static void s_record_equity(bt_book_t *bk, int64_t t, double eq)
{
    bt_equity_rec_t *x = bt_recorder_next_equity(bk->rec);
    if (!x) {
        bk->err = BT_ENOMEM;
        return;
    }
    double cash = bk->pf.cash, dd = bk->pf.peak > 0 ? 1.0 - eq / bk->pf.peak : 0.0;
#if defined(__x86_64__)
    if (bk->rec->sink) { /* streamed to another thread: past this core's caches */
        bt_equity_rec_t r = {t, cash, eq - cash, eq, dd};
        long long w[5];
        memcpy(w, &r, sizeof w);
        long long *d = (long long *)x;
        _mm_stream_si64(d, w[0]);
        _mm_stream_si64(d + 1, w[1]);
        _mm_stream_si64(d + 2, w[2]);
        _mm_stream_si64(d + 3, w[3]);
        _mm_stream_si64(d + 4, w[4]);
        return;
    }
#endif
    x->time = t;
    x->cash = cash;
    x->positions_value = eq - cash;
    x->equity = eq;
    x->drawdown = dd;
}

/* First part of a step, up to the marked equity (returned); the feed has
 * loaded the bars of time t. */
static inline double s_step_a(bt_book_t *bk, int64_t t)
{
    bt_feed_state_t *f = &bk->feed;
    f->t = t;
    bk->ctx.time = t;
    bk->ctx.step = f->step;
    bk->ctx.calendar = bt_feed_calendar(bk, t);
    bk->exec.nfills = 0;
    if (bk->exec.nord)
        bt_exec_fill_phase(bk);
    if (bk->risk.has_exits && bk->pf.nheld)
        bt_risk_exits(bk);
    double eq = bt_portfolio_mark(bk);
    bk->pf.equity = eq;
    return eq;
}

/* The rest of the step after the kill switch check: strategy, orders, equity point. */
static inline void s_step_b(bt_book_t *bk, int64_t t, double eq)
{
    const bt_engine_cfg_t *c = bk->cfg;
    bt_feed_state_t *f = &bk->feed;
    bool go_live = bt_feed_go_live(bk, t);
    uint64_t nf = bk->exec.nfill_total;
    if (!bk->risk.killed) {
        bk->ctx.cash = bk->pf.cash;
        bk->ctx.equity = eq;
        bk->strat->on_bar(bk->state, &bk->ctx);
        if (f->warm) { /* warm-up: targets recorded, nothing traded or measured */
            f->step++;
            return;
        }
        bool rebal = (bk->ctx.calendar & bk->risk.rebal_flag) != 0;
        if (rebal)
            bt_risk_rebalance(bk);
        if (go_live) /* first tradable step: order the targets set during warm-up */
            bt_risk_go_live(bk, rebal);
    }
    if (c->fill_at == BT_FILL_SAME_CLOSE && bk->exec.nord)
        bt_exec_same_close(bk);
    if (f->last_step && c->close_at_end)
        bt_exec_close_at_end(bk);
    if (bk->exec.nfill_total != nf)
        eq = bk->pf.equity = bt_portfolio_mark(bk);
    if (eq > bk->pf.peak)
        bk->pf.peak = eq;
    if (bk->stream_steps)
        bt_macc_step(&bk->macc, t, eq, bk->pf.nheld != 0);
    if (bk->rec_equity)
        s_record_equity(bk, t, eq);
    if (bk->on_step && (bk->exec.nfills || !bk->on_step_fills)) {
        bt_step_info_t info = {bk->book_index, f->step, t, bk->nsym, bk->sym0, bk->pf.pos,
                               f->close, bk->pf.cash, eq, bk->exec.fills, bk->exec.nfills};
        bk->on_step(bk->on_step_user, &info);
    }
    f->step++;
}

/* One step of a book; the feed has loaded the bars of time t. */
static inline void s_step(bt_book_t *bk, int64_t t)
{
    double eq = s_step_a(bk, t);
    bt_risk_drawdown(bk, eq);
    s_step_b(bk, t, eq);
}

/* A sleeve's curves at bar i (multi-sleeve runs). */
static inline void s_curve(bt_book_t *bk, size_t i)
{
    if (bk->curve.eq) {
        bk->curve.eq[i] = bk->pf.equity;
        bk->curve.ex[i] = bk->pf.nheld != 0;
        if (bk->curve.cash)
            bk->curve.cash[i] = bk->pf.cash;
    }
}

/* Sum of the sleeves' equity (each at its last step). */
static double s_account_equity(const bt_account_t *a)
{
    double eq = 0.0;
    for (size_t k = 0; k < a->n; k++)
        eq += a->books[k].pf.equity;
    return eq;
}

void bt_loop_account_step(bt_account_t *a, int64_t t)
{
    bt_book_t *books = a->books;
    size_t n = a->n;
    double mdd = books[0].cfg->max_drawdown;
    for (size_t k = 0; k < n; k++)
        if (books[k].feed.has_bar[0])
            s_step_a(&books[k], t);
    if (mdd > 0 && !a->killed) { /* the kill switch on the account's equity */
        double eq = s_account_equity(a);
        if (eq > a->peak)
            a->peak = eq;
        if (eq < a->peak * (1.0 - mdd)) {
            a->killed = true;
            for (size_t k = 0; k < n; k++)
                if (!books[k].risk.killed)
                    bt_risk_kill(&books[k]);
        }
    }
    for (size_t k = 0; k < n; k++)
        if (books[k].feed.has_bar[0])
            s_step_b(&books[k], t, books[k].pf.equity);
    double eq = s_account_equity(a);
    if (eq > a->peak)
        a->peak = eq;
}

void bt_loop_account(bt_account_t *a, size_t *cur)
{
    bt_book_t *books = a->books;
    size_t n = a->n;
    for (size_t k = 0; k < n; k++)
        cur[k] = 0;
    for (;;) {
        int64_t t = INT64_MAX;
        for (size_t k = 0; k < n; k++)
            if (cur[k] < books[k].feed.ser[0].n && books[k].feed.ser[0].time[cur[k]] < t)
                t = books[k].feed.ser[0].time[cur[k]];
        if (t == INT64_MAX)
            break;
        for (size_t k = 0; k < n; k++) {
            bt_book_t *bk = &books[k];
            bool in = cur[k] < bk->feed.ser[0].n && bk->feed.ser[0].time[cur[k]] == t;
            if (in) {
                bt_feed_cols_t x = bt_feed_begin_one(bk);
                bt_feed_load_one(bk, &x, cur[k]);
            }
            bk->feed.has_bar[0] = in; /* who steps at t (bt_loop_account_step) */
        }
        bt_loop_account_step(a, t);
        for (size_t k = 0; k < n; k++) {
            bt_book_t *bk = &books[k];
            if (!bk->feed.has_bar[0])
                continue;
            bt_feed_done_one(bk, t);
            s_curve(bk, cur[k]);
            cur[k]++;
        }
    }
    for (size_t k = 0; k < n; k++)
        bt_loop_end(&books[k]);
}

void bt_loop_step(bt_book_t *bk, int64_t t)
{
    s_step(bk, t);
}

#define S_AHEAD 128 /* bars: 1 KiB ahead in each column */

void bt_loop_range(bt_book_t *bk, size_t i0, size_t i1)
{
    double *eq_out = bk->curve.eq, *cash_out = bk->curve.cash;
    uint8_t *ex_out = bk->curve.ex;
    bt_feed_cols_t x = bt_feed_begin_one(bk);
    /* one book on one series (bt run): the bars a few lines ahead in six streams of a mapped
     * store; sleeves (curves kept) run short blocks of in-memory bars as before */
    bool ahead = eq_out == NULL;
    for (size_t i = i0; i < i1; i++) {
        if (ahead && (i & 7) == 0 && i + S_AHEAD < i1) {
            __builtin_prefetch(&x.t[i + S_AHEAD]);
            __builtin_prefetch(&x.o[i + S_AHEAD]);
            __builtin_prefetch(&x.h[i + S_AHEAD]);
            __builtin_prefetch(&x.l[i + S_AHEAD]);
            __builtin_prefetch(&x.c[i + S_AHEAD]);
            __builtin_prefetch(&x.v[i + S_AHEAD]);
        }
        int64_t t = bt_feed_load_one(bk, &x, i);
        s_step(bk, t);
        bt_feed_done_one(bk, t);
        if (eq_out) {
            eq_out[i] = bk->pf.equity;
            ex_out[i] = bk->pf.nheld != 0;
            if (cash_out)
                cash_out[i] = bk->pf.cash;
        }
    }
}

void bt_loop_end(bt_book_t *bk)
{
    bt_portfolio_finish(bk);
}

void bt_loop_single(bt_book_t *bk)
{
    bt_loop_range(bk, 0, bk->feed.ser[0].n);
    bt_loop_end(bk);
}

#define S_WIN 8192 /* bars a read window holds: six columns of 64 KiB, in L2 */

void bt_loop_single_window(bt_book_t *bk)
{
    const bt_series_t *sr = &bk->feed.ser[0];
    size_t n = sr->n;
    const char *col[6] = {(const char *)sr->time, (const char *)sr->open,
                          (const char *)sr->high, (const char *)sr->low,
                          (const char *)sr->close, (const char *)sr->volume};
    int fd[6];
    int64_t off[6];
    bool file = n > S_WIN && !bk->curve.eq; /* (a sleeve's curves: bt_loop_range writes them) */
    for (int k = 0; k < 6 && file; k++)
        file = bt_filemap_find(col[k], n * 8, &fd[k], &off[k]);
    char *buf = file ? aligned_alloc(64, 6 * S_WIN * 8) : NULL;
    if (!buf) {
        bt_loop_single(bk);
        return;
    }
    bt_feed_cols_t x = bt_feed_begin_one(bk);
    for (size_t w0 = 0; w0 < n; w0 += S_WIN) {
        size_t m = n - w0 < S_WIN ? n - w0 : S_WIN;
        const char *at[6];
        for (int k = 0; k < 6; k++) {
            char *dst = buf + (size_t)k * S_WIN * 8;
            at[k] = bt_fs_pread_all(fd[k], dst, m * 8, (uint64_t)off[k] + w0 * 8) ? dst
                                                                              : col[k] + w0 * 8;
        }
        x.t = (const int64_t *)(const void *)at[0];
        x.o = (const double *)(const void *)at[1];
        x.h = (const double *)(const void *)at[2];
        x.l = (const double *)(const void *)at[3];
        x.c = (const double *)(const void *)at[4];
        x.v = (const double *)(const void *)at[5];
        for (size_t j = 0; j < m; j++) {
            int64_t t = bt_feed_load_one_at(bk, &x, j, w0 + j);
            s_step(bk, t);
            bt_feed_done_one(bk, t);
        }
    }
    free(buf);
    bt_loop_end(bk);
}

void bt_loop_merged(bt_book_t *bk)
{
    size_t remaining = bt_feed_remaining(bk);
    while (remaining) {
        int64_t t = bt_feed_merge(bk, &remaining);
        s_step(bk, t);
        bt_feed_advance(bk, t);
    }
    /* idx is one past each symbol's last bar now; nothing reads it after */
    bt_loop_end(bk);
}
