/* bt_batch — the grid fast path. See bt_batch.h and docs/engine.md "Grid fast
 * path". The step of an event bar below is bt_loop's s_step with the parts
 * an eligible run cannot reach left out (engine exits, kill switch, warm-up,
 * rebalance, same-close fills, recorder, step hook); keep the two in step. */
#include "bt_batch.h"

#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_book.h"
#include "bt_exec.h"
#include "bt_feed.h"
#include "bt_loop.h"
#include "bt_portfolio.h"
#include "bt_risk.h"

#define S_UNITS 64   /* books per pass: grid points x their symbols (sleeves) */
#define S_LANES 32   /* grid points per pass */
#define S_BLOCK 2048 /* bars per block: a lane's columns of a block stay in L1/L2 */

struct bt_batch {
    bt_book_t *books;                     /* S_UNITS books, reused */
    uint32_t at[S_BLOCK];                 /* one unit's signal bars in a block */
    double tg[S_BLOCK];                   /* and targets */
    unsigned char st[S_UNITS][BT_FAST_STATE_BYTES]; /* decide states */
    double eq[S_UNITS][S_BLOCK];          /* sleeves: equity per bar of the block */
    uint8_t ex[S_UNITS][S_BLOCK];         /* sleeves: exposed per bar of the block */
    bt_macc_t macc[S_LANES];              /* sleeves: each point's metrics */
};

bt_batch_t *bt_batch_new(void)
{
    bt_batch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->books = bt_aligned_alloc(S_UNITS * sizeof *self->books); /* zeroed */
    if (!self->books) {
        free(self);
        return NULL;
    }
    return self;
}

void bt_batch_destroy(bt_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_batch_t *self = *self_p;
    for (size_t i = 0; i < S_UNITS; i++)
        bt_book_fini(&self->books[i]);
    bt_aligned_free(self->books);
    free(self);
    *self_p = NULL;
}

bool bt_batch_eligible(const bt_run_spec_t *spec)
{
    const bt_engine_cfg_t *c = spec->cfg;
    const bt_strategy_t *st = spec->strategy;
    return spec->nsym >= 1 && spec->nsym <= S_UNITS && spec->series && st &&
           st->kind == BT_STRAT_SINGLE && st->fast && st->fast->declare && st->fast->decide &&
           !spec->rec && !spec->on_step && c && c->fill_at == BT_FILL_NEXT_OPEN &&
           c->stop_loss == 0 && c->take_profit == 0 && c->trailing_stop == 0 &&
           c->max_drawdown == 0 && c->rebalance == BT_REBAL_NONE && c->trade_start == INT64_MIN &&
           c->size_at == BT_SIZE_AT_CLOSE && c->risk_scope == BT_RISK_SLEEVE;
}

bool bt_batch_prepare(bt_indcache_t *cache, const bt_run_spec_t *spec, const double **cols,
                      bt_errbuf_t *eb)
{
    const bt_fast_t *f = spec->strategy->fast;
    bt_decl_t d[BT_DECL_MAX];
    memset(d, 0, sizeof d);
    size_t nd = f->declare(spec->params, d);
    if (nd > BT_DECL_MAX) {
        bt_errf(eb, BT_ESTRATEGY, "strategy %s declares %zu indicators (at most %d)",
                spec->strategy->name, nd, BT_DECL_MAX);
        return false;
    }
    bt_series_t sl[S_UNITS];
    for (size_t k = 0; k < spec->nsym; k++)
        sl[k] = bt_series_slice_time(&spec->series[k], spec->cfg->start, spec->cfg->end);
    if (spec->nsym > 1 && !bt_indcache_same_timeline(cache, sl, spec->nsym)) {
        bt_errf(eb, BT_EINVAL, "symbols on different timelines run per point");
        return false;
    }
    for (size_t k = 0; k < spec->nsym; k++) {
        const double **c = &cols[k * (BT_DECL_MAX + 1)];
        for (size_t j = 0; j < nd; j++) {
            c[j] = bt_indcache_get(cache, &sl[k], &d[j], eb);
            if (!c[j])
                return false;
        }
        c[nd] = sl[k].close;
        for (size_t j = nd + 1; j <= BT_DECL_MAX; j++)
            c[j] = NULL;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* One lane's account over a block                                     */

/* Quiet bars [i0, i1): no order open, no signal, not the last bar. The
 * step reduces to the marking (bt_portfolio_mark for one symbol: cash, or
 * cash + position x close) and the metrics point. Stretches that cannot
 * close a PBO block use bt_macc_step_core: a loop without a call, so the
 * compiler keeps the accumulator in registers. */
static void s_quiet(bt_book_t *bk, const bt_feed_cols_t *x, size_t i0, size_t i1)
{
    bt_macc_t *restrict m = &bk->macc;
    const int64_t *T = x->t;
    const double *C = x->c;
    double cash = bk->pf.cash, pos = bk->pf.pos[0];
    bool held = bk->pf.nheld != 0;
    size_t i = i0;
    while (i < i1) {
        uint64_t room = m->blk_end > m->steps ? m->blk_end - m->steps - 1 : 0;
        size_t seg = i1 - i < room ? i1 - i : (size_t)room;
        size_t s1 = i + seg;
        if (!held) {
            for (; i < s1; i++)
                bt_macc_step_core(m, T[i], cash, false);
        } else {
            for (; i < s1; i++) {
                double e = cash;
                e += pos * C[i];
                bt_macc_step_core(m, T[i], e, true);
            }
        }
        if (i < i1) { /* this step may close a block */
            double e = cash;
            if (held)
                e += pos * C[i];
            bt_macc_step(m, T[i], e, held);
            i++;
        }
    }
}

/* The same for a sleeve: its equity and exposure go to the block's curve
 * (bt_loop_range's eq_out/ex_out), summed over the sleeves later. */
static void s_quiet_curve(const bt_book_t *bk, const bt_feed_cols_t *x, size_t i0, size_t i1,
                          size_t b0, double *eq, uint8_t *ex)
{
    const double *C = x->c;
    double cash = bk->pf.cash, pos = bk->pf.pos[0];
    if (bk->pf.nheld == 0) {
        for (size_t i = i0; i < i1; i++) {
            eq[i - b0] = cash;
            ex[i - b0] = 0;
        }
        return;
    }
    for (size_t i = i0; i < i1; i++) {
        double e = cash;
        e += pos * C[i];
        eq[i - b0] = e;
        ex[i - b0] = 1;
    }
}

/* Event bar i: bt_loop's step for an eligible run, with the engine's own
 * functions. target: the strategy's signal at this bar, or NULL. */
static void s_event(bt_book_t *bk, const bt_feed_cols_t *x, size_t i, const double *target,
                    double *eq_out, uint8_t *ex_out)
{
    bt_feed_state_t *f = &bk->feed;
    f->step = i; /* no warm-up, one series: step i is bar i */
    f->prev_time[0] = i ? x->t[i - 1] : 0;
    int64_t t = bt_feed_load_one(bk, x, i);
    f->t = t;
    bk->ctx.time = t;
    bk->ctx.step = i;
    bk->exec.nfills = 0;
    if (bk->exec.nord)
        bt_exec_fill_phase(bk);
    double eq = bt_portfolio_mark(bk);
    bk->pf.equity = eq;
    bt_risk_drawdown(bk, eq);
    uint64_t nf = bk->exec.nfill_total;
    if (!bk->risk.killed) {
        bk->ctx.cash = bk->pf.cash;
        bk->ctx.equity = eq;
        if (target)
            bt_signal(&bk->ctx, 0, *target);
    }
    if (f->last_step && bk->cfg->close_at_end)
        bt_exec_close_at_end(bk);
    if (bk->exec.nfill_total != nf)
        eq = bk->pf.equity = bt_portfolio_mark(bk);
    if (eq > bk->pf.peak)
        bk->pf.peak = eq;
    if (eq_out) { /* a sleeve: bt_loop_range's curve */
        *eq_out = bk->pf.equity;
        *ex_out = bk->pf.nheld != 0;
    } else {
        bt_macc_step(&bk->macc, t, eq, bk->pf.nheld != 0);
    }
    bt_feed_done_one(bk, t);
}

/* Bars [i0, i1) of one book; at/tg: its nev signals in the block. eq/ex:
 * a sleeve's curve for the block (bar i at i - i0), or NULL for a one-book
 * run (the book's own metrics). */
static void s_account(bt_book_t *bk, const bt_feed_cols_t *x, size_t i0, size_t i1,
                      const uint32_t *at, const double *tg, size_t nev, double *eq, uint8_t *ex)
{
    size_t e = 0, last = x->n - 1;
    size_t i = i0;
    while (i < i1) {
        size_t next = e < nev ? at[e] : last;
        if (bk->exec.nord) /* an order from the last step fills (or fails) now */
            next = i;
        if (next > last)
            next = last;
        if (next > i) {
            size_t q1 = next < i1 ? next : i1;
            if (eq)
                s_quiet_curve(bk, x, i, q1, i0, eq, ex);
            else
                s_quiet(bk, x, i, q1);
            i = q1;
            continue;
        }
        bool sig = e < nev && at[e] == i;
        s_event(bk, x, i, sig ? &tg[e] : NULL, eq ? &eq[i - i0] : NULL, eq ? &ex[i - i0] : NULL);
        e += sig;
        i++;
    }
}

/* ------------------------------------------------------------------ */
/* Passes                                                              */

/* Jobs [0, n) share their series slices; book u0[l] .. u0[l] + nsym - 1
 * are job l's (one per symbol). Set up, run block by block, finish. */
static void s_pass(bt_batch_t *self, bt_batch_job_t *jobs, size_t n)
{
    bool live[S_LANES];
    size_t u0[S_LANES + 1];
    size_t nbars = 0;
    bt_feed_cols_t x[S_UNITS];
    u0[0] = 0;
    for (size_t l = 0; l < n; l++)
        u0[l + 1] = u0[l] + jobs[l].spec.nsym;
    for (size_t l = 0; l < n; l++) {
        bt_batch_job_t *j = &jobs[l];
        const bt_engine_cfg_t *c = j->spec.cfg;
        size_t ns = j->spec.nsym;
        live[l] = false;
        bt_errbuf_clear(&j->eb);
        j->rc = bt_engine_check(&j->spec, &j->eb);
        if (j->rc != BT_OK)
            continue;
        memset(&j->metrics, 0, sizeof j->metrics);
        /* a sleeve gets an equal share of the cash, as in bt_engine */
        double share = ns > 1 ? c->initial_cash / (double)ns : c->initial_cash;
        for (size_t k = 0; k < ns && j->rc == BT_OK; k++)
            j->rc = bt_book_setup(&self->books[u0[l] + k], &j->spec, 1, (uint32_t)k, k, share,
                                  false, &j->eb);
        if (j->rc != BT_OK)
            continue;
        bt_macc_t *m = &self->books[u0[l]].macc;
        if (ns > 1) {
            m = &self->macc[l];
            bt_macc_init(m, c->initial_cash);
        }
        const bt_series_t *s0 = &self->books[u0[l]].feed.ser[0];
        if (c->pbo_blocks)
            bt_macc_set_blocks(m, s0->n - bt_feed_first_at(s0, c->trade_start),
                               (uint32_t)c->pbo_blocks);
        for (size_t k = 0; k < ns; k++) {
            memset(self->st[u0[l] + k], 0, BT_FAST_STATE_BYTES);
            x[u0[l] + k] = bt_feed_begin_one(&self->books[u0[l] + k]);
        }
        nbars = s0->n;
        live[l] = true;
    }
    for (size_t i0 = 0; i0 < nbars; i0 += S_BLOCK) {
        size_t i1 = i0 + S_BLOCK < nbars ? i0 + S_BLOCK : nbars;
        for (size_t l = 0; l < n; l++) {
            if (!live[l])
                continue;
            const bt_run_spec_t *sp = &jobs[l].spec;
            size_t ns = sp->nsym;
            for (size_t k = 0; k < ns; k++) {
                size_t u = u0[l] + k;
                size_t nev = sp->strategy->fast->decide(self->st[u], sp->params,
                                                        &jobs[l].cols[k * (BT_DECL_MAX + 1)],
                                                        i0, i1, self->at, self->tg);
                s_account(&self->books[u], &x[u], i0, i1, self->at, self->tg, nev,
                          ns > 1 ? self->eq[u] : NULL, ns > 1 ? self->ex[u] : NULL);
            }
            if (ns == 1)
                continue;
            /* bt_engine's sleeve sum: sleeve order, then the metrics point */
            double *e0 = self->eq[u0[l]];
            uint8_t *x0 = self->ex[u0[l]];
            for (size_t k = 1; k < ns; k++) {
                const double *es = self->eq[u0[l] + k];
                const uint8_t *xs = self->ex[u0[l] + k];
                for (size_t i = 0; i < i1 - i0; i++) {
                    e0[i] += es[i];
                    x0[i] |= xs[i];
                }
            }
            const int64_t *T = x[u0[l]].t;
            for (size_t i = i0; i < i1; i++)
                bt_macc_step(&self->macc[l], T[i], e0[i - i0], x0[i - i0] != 0);
        }
    }
    for (size_t l = 0; l < n; l++) {
        if (!live[l])
            continue;
        bt_batch_job_t *j = &jobs[l];
        size_t ns = j->spec.nsym;
        bt_macc_t *m = ns > 1 ? &self->macc[l] : &self->books[u0[l]].macc;
        for (size_t k = 0; k < ns; k++) {
            bt_book_t *bk = &self->books[u0[l] + k];
            bt_loop_end(bk);
            if (bk->err != BT_OK && j->rc == BT_OK)
                j->rc = bt_errf(&j->eb, bk->err, "out of memory while recording the run");
            if (ns > 1)
                bt_macc_add_counts(m, &bk->macc);
        }
        if (j->rc != BT_OK)
            continue;
        bt_macc_finish(m, j->spec.cfg->risk_free_rate, bt_engine_benchmark(&j->spec),
                       &j->metrics);
        if (j->spec.blocks_out)
            bt_macc_blocks(m, j->spec.blocks_out, 3u * (size_t)j->spec.cfg->pbo_blocks);
    }
}

static bool s_same_slices(const bt_run_spec_t *a, const bt_run_spec_t *b)
{
    if (a->nsym != b->nsym)
        return false;
    for (size_t k = 0; k < a->nsym; k++) {
        bt_series_t sa = bt_series_slice_time(&a->series[k], a->cfg->start, a->cfg->end);
        bt_series_t sb = bt_series_slice_time(&b->series[k], b->cfg->start, b->cfg->end);
        if (sa.close != sb.close || sa.time != sb.time || sa.n != sb.n)
            return false;
    }
    return true;
}

void bt_batch_run(bt_batch_t *self, bt_batch_job_t *jobs, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = 1, units = jobs[i].spec.nsym;
        while (i + k < n && k < S_LANES && units + jobs[i + k].spec.nsym <= S_UNITS &&
               s_same_slices(&jobs[i].spec, &jobs[i + k].spec))
            units += jobs[i + k++].spec.nsym;
        s_pass(self, &jobs[i], k);
        i += k;
    }
}
