/* bt_engine — the public entry of the engine: checks a run, sets up its
 * books and runs them. See docs/engine.md "Modules".
 *
 * A SINGLE strategy on several symbols runs one book (sleeve) per symbol in
 * parallel and combines their equity curves in sleeve order, so results are
 * identical at any thread count; anything else is one book. This is the
 * only module that uses OpenMP: the books themselves (bt_loop and the
 * component modules) are single-threaded and share nothing. */
#include "bt_engine.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_book.h"
#include "bt_feed.h"
#include "bt_loop.h"

struct bt_engine {
    bt_book_t *books;    /* reusable books */
    size_t books_cap;
    size_t *tl_cur;      /* union timeline cursors */
    double *tl_eq, *tl_cash;
    uint8_t *tl_ex;
    size_t tl_cap;
};

/* ------------------------------------------------------------------ */
/* Config                                                              */

void bt_engine_cfg_defaults(bt_engine_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->initial_cash = 100000.0;
    cfg->fill_at = BT_FILL_NEXT_OPEN;
    cfg->margin_requirement = 0.5;
    cfg->sizing = BT_SIZE_PCT_EQUITY;
    cfg->size_value = 0.95; /* room for a gap between the sizing close and the fill open */
    cfg->start = INT64_MIN;
    cfg->end = INT64_MAX;
    cfg->pbo_blocks = 16;
    cfg->trade_start = INT64_MIN;
}

static bt_err_t s_check_cfg(const bt_engine_cfg_t *c, bt_errbuf_t *eb)
{
#define S_REQ(cond, field, what)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return bt_errf(eb, BT_ECONFIG, "engine setting %s must be %s", field, what);          \
    } while (0)
    S_REQ(isfinite(c->initial_cash) && c->initial_cash > 0, "initial_cash", "a positive number");
    S_REQ(c->fill_at == BT_FILL_NEXT_OPEN || c->fill_at == BT_FILL_SAME_CLOSE, "fill_at",
          "next_open or same_close");
    S_REQ(isfinite(c->slippage_bps) && c->slippage_bps >= 0 && c->slippage_bps < 10000,
          "slippage_bps", "in [0, 10000)");
    S_REQ(isfinite(c->commission_rate) && c->commission_rate >= 0 && c->commission_rate < 1,
          "commission_rate", "in [0, 1)");
    S_REQ(isfinite(c->commission_per_share) && c->commission_per_share >= 0,
          "commission_per_share", ">= 0");
    S_REQ(isfinite(c->commission_min) && c->commission_min >= 0, "commission_min", ">= 0");
    S_REQ(isfinite(c->volume_cap) && c->volume_cap >= 0 && c->volume_cap <= 1, "volume_cap",
          "in [0, 1] (0 = off)");
    S_REQ(isfinite(c->margin_requirement) && c->margin_requirement >= 0, "margin_requirement",
          ">= 0");
    S_REQ((unsigned)c->sizing <= BT_SIZE_TARGET_WEIGHT, "sizing",
          "pct_equity, pct_cash, fixed or target_weight");
    S_REQ(isfinite(c->size_value) && c->size_value >= 0, "size_value", ">= 0");
    S_REQ((unsigned)c->size_at <= BT_SIZE_AT_FILL, "size_at", "close or fill");
    S_REQ((unsigned)c->risk_scope <= BT_RISK_ACCOUNT, "risk_scope", "sleeve or account");
    S_REQ(isfinite(c->max_position) && c->max_position >= 0, "max_position", ">= 0 (0 = off)");
    S_REQ(isfinite(c->max_leverage) && c->max_leverage >= 0, "max_leverage", ">= 0 (0 = off)");
    S_REQ(c->max_positions >= 0, "max_positions", ">= 0 (0 = off)");
    S_REQ(isfinite(c->stop_loss) && c->stop_loss >= 0 && c->stop_loss < 1, "stop_loss",
          "in [0, 1)");
    S_REQ(isfinite(c->take_profit) && c->take_profit >= 0, "take_profit", ">= 0");
    S_REQ(isfinite(c->trailing_stop) && c->trailing_stop >= 0 && c->trailing_stop < 1,
          "trailing_stop", "in [0, 1)");
    S_REQ(isfinite(c->max_drawdown) && c->max_drawdown >= 0 && c->max_drawdown < 1,
          "max_drawdown", "in [0, 1)");
    S_REQ((unsigned)c->rebalance <= BT_REBAL_MONTHLY, "rebalance",
          "none, daily, weekly or monthly");
    S_REQ(isfinite(c->risk_free_rate) && c->risk_free_rate > -1, "risk_free_rate", "> -1");
    S_REQ(c->start <= c->end, "start", "at or before end");
    S_REQ(c->pbo_blocks == 0 || (c->pbo_blocks >= 2 && c->pbo_blocks <= BT_MACC_MAX_BLOCKS &&
                                 c->pbo_blocks % 2 == 0),
          "pbo_blocks", "0 (off) or an even number in [2, 32]");
#undef S_REQ
    return BT_OK;
}

/* ------------------------------------------------------------------ */
/* Engine                                                              */

bt_engine_t *bt_engine_new(void)
{
    return calloc(1, sizeof(bt_engine_t));
}

void bt_engine_destroy(bt_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_engine_t *e = *self_p;
    for (size_t i = 0; i < e->books_cap; i++)
        bt_book_fini(&e->books[i]);
    bt_aligned_free(e->books);
    free(e->tl_cur);
    free(e->tl_eq);
    free(e->tl_cash);
    free(e->tl_ex);
    free(e);
    *self_p = NULL;
}

static bool s_engine_books(bt_engine_t *e, size_t n)
{
    if (n <= e->books_cap)
        return true;
    bt_book_t *b = bt_aligned_alloc(n * sizeof *b); /* zeroed, 64-byte aligned */
    if (!b)
        return false;
    if (e->books_cap)
        memcpy(b, e->books, e->books_cap * sizeof *b);
    bt_aligned_free(e->books);
    e->books = b;
    e->books_cap = n;
    return true;
}

static bool s_engine_tl(bt_engine_t *e, size_t n)
{
    if (n <= e->tl_cap)
        return true;
    free(e->tl_cur);
    free(e->tl_eq);
    free(e->tl_cash);
    free(e->tl_ex);
    e->tl_cur = calloc(n, sizeof *e->tl_cur);
    e->tl_eq = calloc(n, sizeof *e->tl_eq);
    e->tl_cash = calloc(n, sizeof *e->tl_cash);
    e->tl_ex = calloc(n, sizeof *e->tl_ex);
    if (!e->tl_cur || !e->tl_eq || !e->tl_cash || !e->tl_ex) {
        e->tl_cap = 0;
        return false;
    }
    e->tl_cap = n;
    return true;
}

static const bt_series_t *s_get_book_ser(const void *base, size_t i)
{
    return &((const bt_book_t *)base)->feed.ser[i];
}

static const bt_series_t *s_get_sleeve_ser(const void *base, size_t i)
{
    return &((const bt_book_t *)base)[i].feed.ser[0];
}

static double s_benchmark(const bt_run_spec_t *spec)
{
    double sum = 0.0;
    size_t k = 0;
    int64_t from = spec->cfg->start > spec->cfg->trade_start ? spec->cfg->start
                                                              : spec->cfg->trade_start;
    for (size_t s = 0; s < spec->nsym; s++) {
        if (from > spec->cfg->end)
            continue;
        bt_series_t v = bt_series_slice_time(&spec->series[s], from, spec->cfg->end);
        if (v.n == 0 || !(v.close[0] > 0))
            continue;
        sum += v.close[v.n - 1] / v.close[0] - 1.0;
        k++;
    }
    return k ? sum / (double)k : 0.0;
}

#define S_SUM_CHUNK 4096  /* bars per work item of the curve sum */
#define S_PIPE_BLOCK 32768 /* bars per block of the pipelined sleeve run */

/* Called by every thread of a parallel region: over bars [b0, b1), sleeve
 * 0's curves become the sums over all ns sleeves (equity and cash summed in
 * sleeve order, exposure or-ed). All sleeves have sleeve 0's timeline. */
static void s_sum_range(bt_book_t *books, size_t ns, size_t b0, size_t b1)
{
    long nchunks = (long)((b1 - b0 + S_SUM_CHUNK - 1) / S_SUM_CHUNK);
#pragma omp for schedule(static)
    for (long k = 0; k < nchunks; k++) {
        size_t i0 = b0 + (size_t)k * S_SUM_CHUNK;
        size_t i1 = i0 + S_SUM_CHUNK < b1 ? i0 + S_SUM_CHUNK : b1;
        double *e0 = books[0].curve.eq, *c0 = books[0].curve.cash;
        uint8_t *x0 = books[0].curve.ex;
        for (size_t s = 1; s < ns; s++) {
            const double *es = books[s].curve.eq, *cs = books[s].curve.cash;
            const uint8_t *xs = books[s].curve.ex;
            for (size_t i = i0; i < i1; i++) {
                e0[i] += es[i];
                x0[i] |= xs[i];
            }
            if (c0)
                for (size_t i = i0; i < i1; i++)
                    c0[i] += cs[i];
        }
    }
}

/* Feeds bars [i0, i1) of the summed curve (sleeve 0's) to the metrics. */
static void s_macc_range(bt_macc_t *m, const bt_book_t *b0, size_t i0, size_t i1)
{
    const int64_t *T = b0->feed.ser[0].time;
    const double *E = b0->curve.eq;
    const uint8_t *X = b0->curve.ex;
    int64_t from = b0->cfg->trade_start;
    for (size_t i = i0; i < i1; i++)
        if (T[i] >= from) /* warm-up bars are not measured */
            bt_macc_step(m, T[i], E[i], X[i] != 0);
}

/* SINGLE strategy on several symbols: one sleeve per symbol in parallel,
 * then the sleeves' equity is summed on the union timeline in sleeve order. */
static bt_err_t s_run_sleeves(bt_engine_t *e, const bt_run_spec_t *spec, bt_metrics_t *out,
                              bt_errbuf_t *eb)
{
    size_t ns = spec->nsym;
    const bt_engine_cfg_t *c = spec->cfg;
    double share = c->initial_cash / (double)ns;
    if (!s_engine_books(e, ns) || !s_engine_tl(e, ns))
        return bt_errf(eb, BT_ENOMEM, "out of memory for %zu sleeves", ns);
    for (size_t s = 0; s < ns; s++) {
        bt_err_t rc = bt_book_setup(&e->books[s], spec, 1, (uint32_t)s, s, share, true, eb);
        if (rc != BT_OK)
            return rc;
    }
    /* risk.scope: account with a limit to apply: the sleeves share limits
     * and run in lockstep on one thread (the result is the same at any
     * thread count, as always). */
    bt_account_t acct = {e->books, ns, c->initial_cash, false};
    bool account = c->risk_scope == BT_RISK_ACCOUNT &&
                   (c->max_drawdown > 0 || c->max_leverage > 0 || c->max_positions > 0 ||
                    c->max_position > 0);
    bt_account_t *ap = account ? &acct : NULL;
    for (size_t s = 0; s < ns; s++)
        e->books[s].risk.acct = ap;
    int nt = spec->threads > 0 ? spec->threads : omp_get_max_threads();
    if ((size_t)nt > ns)
        nt = (int)ns;
    bt_book_t *books = e->books;
    long nsl = (long)ns;
    bool all_same = true, piped = false, want_pipe = spec->rec == NULL && !account;
    size_t *tl_cur = e->tl_cur;
    bt_macc_t m;
    bt_macc_init(&m, c->initial_cash);
    /* When every sleeve has sleeve 0's timeline (the usual case) and no
     * recorder is attached, the sleeves run in blocks of bars: all sleeves
     * run block k (dynamic), their curves are summed into sleeve 0's in
     * parallel (per bar in sleeve order), and one thread feeds block k to the
     * metrics while the others already run block k + 1. Sums and metrics
     * are the same at any thread count. Otherwise the sleeves run whole and
     * the curves are combined below. */
#pragma omp parallel default(none) shared(books, nsl, all_same, piped, want_pipe, m, c, tl_cur, ap) \
    num_threads(nt)
    {
#pragma omp for schedule(static)
        for (long i = 0; i < nsl; i++)
            books[i].curve.same_tl = bt_feed_same_timeline(&books[i].feed.ser[0], &books[0].feed.ser[0]);
#pragma omp single
        {
            for (long i = 0; i < nsl; i++)
                all_same = all_same && books[i].curve.same_tl;
            if (c->pbo_blocks) /* one timeline: its length is the step count, no scan */
                bt_macc_set_blocks(&m,
                                   all_same ? (uint64_t)(books[0].feed.ser[0].n -
                                                         bt_feed_first_at(&books[0].feed.ser[0],
                                                                    c->trade_start))
                                            : bt_feed_union_steps(s_get_sleeve_ser, books,
                                                            (size_t)nsl, tl_cur, c->trade_start),
                                   (uint32_t)c->pbo_blocks);
            piped = all_same && want_pipe;
        }
        if (piped) {
            size_t n = books[0].feed.ser[0].n;
            size_t nblk = (n + S_PIPE_BLOCK - 1) / S_PIPE_BLOCK;
            for (size_t k = 0; k <= nblk; k++) {
                if (k > 0) {
#pragma omp single nowait
                    s_macc_range(&m, &books[0], (k - 1) * S_PIPE_BLOCK,
                                 k * S_PIPE_BLOCK < n ? k * S_PIPE_BLOCK : n);
                }
                if (k < nblk) {
                    size_t i0 = k * S_PIPE_BLOCK;
                    size_t i1 = i0 + S_PIPE_BLOCK < n ? i0 + S_PIPE_BLOCK : n;
#pragma omp for schedule(dynamic, 1)
                    for (long i = 0; i < nsl; i++) {
                        bt_loop_range(&books[i], i0, i1);
                        if (i1 == n)
                            bt_loop_end(&books[i]);
                    }
                    s_sum_range(books, (size_t)nsl, i0, i1);
                }
            }
        } else if (ap) {
#pragma omp single
            bt_loop_account(ap, tl_cur);
            if (all_same)
                s_sum_range(books, (size_t)nsl, 0, books[0].feed.ser[0].n);
        } else {
#pragma omp for schedule(dynamic, 1)
            for (long i = 0; i < nsl; i++)
                bt_loop_single(&books[i]);
            if (all_same)
                s_sum_range(books, (size_t)nsl, 0, books[0].feed.ser[0].n);
        }
    }

    size_t *cur = e->tl_cur;
    double *leq = e->tl_eq, *lcash = e->tl_cash;
    uint8_t *lex = e->tl_ex;
    for (size_t s = 0; s < ns; s++) {
        cur[s] = 0;
        leq[s] = lcash[s] = share;
        lex[s] = 0;
    }
    if (piped) {
        /* the metrics were fed block by block above */
    } else if (all_same) {
        const bt_book_t *b0 = &books[0];
        const int64_t *T = b0->feed.ser[0].time;
        const double *E = b0->curve.eq, *C = b0->curve.cash;
        const uint8_t *X = b0->curve.ex;
        size_t n = b0->feed.ser[0].n;
        double peak = c->initial_cash;
        for (size_t i = bt_feed_first_at(&b0->feed.ser[0], c->trade_start); i < n; i++) {
            double eq = E[i];
            bt_macc_step(&m, T[i], eq, X[i] != 0);
            if (!spec->rec)
                continue;
            if (eq > peak)
                peak = eq;
            double cash = C[i];
            bt_equity_rec_t *x = bt_recorder_add_equity(spec->rec);
            if (!x)
                return bt_errf(eb, BT_ENOMEM, "out of memory for the equity record");
            *x = (bt_equity_rec_t){T[i], cash, eq - cash, eq, peak > 0 ? 1.0 - eq / peak : 0.0};
        }
    } else {
        double peak = c->initial_cash;
        for (;;) {
            int64_t t = INT64_MAX;
            bool any = false;
            for (size_t s = 0; s < ns; s++) {
                const bt_book_t *bk = &books[s];
                if (cur[s] < bk->feed.ser[0].n && bk->feed.ser[0].time[cur[s]] <= t) {
                    t = bk->feed.ser[0].time[cur[s]];
                    any = true;
                }
            }
            if (!any)
                break;
            double eq = 0.0, cash = 0.0;
            bool ex = false;
            for (size_t s = 0; s < ns; s++) {
                const bt_book_t *bk = &books[s];
                if (cur[s] < bk->feed.ser[0].n && bk->feed.ser[0].time[cur[s]] == t) {
                    leq[s] = bk->curve.eq[cur[s]];
                    lex[s] = bk->curve.ex[cur[s]];
                    if (bk->curve.cash)
                        lcash[s] = bk->curve.cash[cur[s]];
                    cur[s]++;
                }
                eq += leq[s];
                cash += lcash[s];
                ex |= lex[s] != 0;
            }
            if (t < c->trade_start)
                continue; /* warm-up: not measured, not recorded */
            bt_macc_step(&m, t, eq, ex);
            if (eq > peak)
                peak = eq;
            if (spec->rec) {
                bt_equity_rec_t *x = bt_recorder_add_equity(spec->rec);
                if (!x)
                    return bt_errf(eb, BT_ENOMEM, "out of memory for the equity record");
                *x = (bt_equity_rec_t){t, cash, eq - cash, eq, peak > 0 ? 1.0 - eq / peak : 0.0};
            }
        }
    }
    int64_t id_off = 0;
    for (size_t s = 0; s < ns; s++) {
        bt_book_t *bk = &books[s];
        if (bk->err != BT_OK)
            return bt_errf(eb, bk->err, "out of memory while recording the run");
        bt_macc_add_counts(&m, &bk->macc);
        if (spec->rec) {
            if (bt_recorder_append(spec->rec, &bk->local, id_off) != BT_OK)
                return bt_errf(eb, BT_ENOMEM, "out of memory while recording the run");
            id_off += bk->exec.next_id - 1;
        }
    }
    bt_macc_finish(&m, c->risk_free_rate, s_benchmark(spec), out);
    if (spec->blocks_out)
        bt_macc_blocks(&m, spec->blocks_out, 3u * (size_t)c->pbo_blocks);
    return BT_OK;
}

double bt_engine_benchmark(const bt_run_spec_t *spec)
{
    return s_benchmark(spec);
}

static const bt_series_t *s_get_ser(const void *base, size_t i)
{
    return &((const bt_series_t *)base)[i];
}

size_t bt_engine_record_steps(const bt_run_spec_t *spec)
{
    const bt_engine_cfg_t *c = spec->cfg;
    size_t n = spec->nsym;
    bt_series_t *v = malloc((n ? n : 1) * sizeof *v);
    size_t *cur = malloc((n ? n : 1) * sizeof *cur);
    size_t steps = SIZE_MAX;
    if (v && cur) {
        for (size_t s = 0; s < n; s++) /* as bt_feed_open slices them */
            v[s] = bt_series_slice_time(&spec->series[s], c->start, c->end);
        steps = n == 1 ? v[0].n - bt_feed_first_at(&v[0], c->trade_start)
                       : (size_t)bt_feed_union_steps(s_get_ser, v, n, cur, c->trade_start);
    }
    free(v);
    free(cur);
    return steps;
}

bt_err_t bt_engine_check(const bt_run_spec_t *spec, bt_errbuf_t *eb)
{
    if (!spec || !spec->cfg || !spec->strategy)
        return bt_errf(eb, BT_EINVAL, "bt_engine_run: engine, spec, cfg, strategy and out are required");
    if (spec->nsym == 0 || !spec->series)
        return bt_errf(eb, BT_EINVAL, "bt_engine_run: no symbols to run on");
    if (spec->nsym > UINT32_MAX)
        return bt_errf(eb, BT_ELIMIT, "bt_engine_run: too many symbols (%zu)", spec->nsym);
    const bt_strategy_t *st = spec->strategy;
    if (!st->init || !st->on_bar)
        return bt_errf(eb, BT_EINVAL, "strategy %s has no init or on_bar", st->name);
    if (st->nparams > 0 && !spec->params)
        return bt_errf(eb, BT_EINVAL, "strategy %s: no parameter values given", st->name);
    for (size_t i = 0; i < st->nparams; i++) {
        const bt_param_spec_t *ps = &st->params[i];
        double v = spec->params[i];
        if (!isfinite(v) || v < ps->min || v > ps->max)
            return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter %s = %g is outside [%g, %g]",
                           st->name, ps->name, v, ps->min, ps->max);
        if (ps->type == BT_PARAM_INT && v != trunc(v))
            return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter %s = %g must be a whole number",
                           st->name, ps->name, v);
    }
    return s_check_cfg(spec->cfg, eb);
}

bt_err_t bt_engine_run(bt_engine_t *eng, const bt_run_spec_t *spec, bt_metrics_t *out,
                       bt_errbuf_t *eb)
{
    if (!eng || !spec || !out || !spec->cfg || !spec->strategy)
        return bt_errf(eb, BT_EINVAL, "bt_engine_run: engine, spec, cfg, strategy and out are required");
    bt_err_t rc = bt_engine_check(spec, eb);
    if (rc != BT_OK)
        return rc;
    const bt_strategy_t *st = spec->strategy;
    memset(out, 0, sizeof *out);
    if (st->kind == BT_STRAT_SINGLE && spec->nsym > 1)
        return s_run_sleeves(eng, spec, out, eb);

    if (!s_engine_books(eng, 1))
        return bt_errf(eb, BT_ENOMEM, "out of memory for the engine");
    bt_book_t *bk = &eng->books[0];
    rc = bt_book_setup(bk, spec, spec->nsym, 0, 0, spec->cfg->initial_cash, false, eb);
    if (rc != BT_OK)
        return rc;
    if (spec->cfg->pbo_blocks) {
        if (spec->nsym > 1 && !s_engine_tl(eng, spec->nsym))
            return bt_errf(eb, BT_ENOMEM, "out of memory for %zu symbols", spec->nsym);
        int64_t from = spec->cfg->trade_start;
        uint64_t nsteps = spec->nsym == 1
                              ? bk->feed.ser[0].n - bt_feed_first_at(&bk->feed.ser[0], from)
                              : bt_feed_union_steps(s_get_book_ser, bk, spec->nsym, eng->tl_cur, from);
        bt_macc_set_blocks(&bk->macc, nsteps, (uint32_t)spec->cfg->pbo_blocks);
    }
    if (spec->nsym == 1 && spec->read_window)
        bt_loop_single_window(bk);
    else if (spec->nsym == 1)
        bt_loop_single(bk);
    else
        bt_loop_merged(bk);
    if (bk->err != BT_OK)
        return bt_errf(eb, bk->err, "out of memory while recording the run");
    bt_macc_finish(&bk->macc, spec->cfg->risk_free_rate, s_benchmark(spec), out);
    if (spec->blocks_out)
        bt_macc_blocks(&bk->macc, spec->blocks_out, 3u * (size_t)spec->cfg->pbo_blocks);
    return BT_OK;
}
