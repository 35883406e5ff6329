/* bt_fastev — the grid fast path's event step for the common config
 * (internal to the engine; bt_batch's one-symbol lanes).
 *
 * An event bar of a one-symbol book (an order to fill at the open, a
 * signal, or both) through the engine's modules costs ~20 calls and the
 * general cases' tests (order types, brackets, DAY orders, volume cap,
 * limits, margin, recorder, step hook). For a book whose settings reach
 * none of them (bt_fastev_ok) the step below does the same arithmetic in
 * the same order as bt_exec_fill_phase -> bt_exec_fill ->
 * bt_portfolio_apply and bt_signal -> bt_risk_signal -> s_signal_order ->
 * bt_risk_place, writing the same book fields, inline. Anything off the
 * common case (an order that is not a plain signal market order, a sell
 * past zero, a refused or shrunk signal, a price <= 0, a non-finite target)
 * goes to the engine's own function at that point, so the book is always
 * the engine's. tests/unit/test_batch.c runs lanes both ways and against
 * bt_engine_run and compares every metric bit for bit. */
#ifndef BT_FASTEV_H
#define BT_FASTEV_H

#include <stdbool.h>

#include "bt_book.h"
#include "bt_exec.h"
#include "bt_feed.h"
#include "bt_portfolio.h"
#include "bt_risk.h"

/* True when bk's events may take bt_fastev_step: one symbol; market
 * orders at the next open sized by percent of equity at the close; any
 * commission and slippage; long only,
 * no margin; no volume cap, position, leverage or position-count limit;
 * no engine exits, kill switch, rebalancing or warm-up; no recorder, step
 * hook or on_fill. close_at_end is fine: the last bar is the caller's. */
bool bt_fastev_ok(const bt_book_t *bk);

/* bt_book_is_zero without the fmax call (1.0 against fabs(ref) >= 0 or
 * NaN: the same value as fmax). */
static inline bool bt_fastev_is_zero(double q, double ref)
{
    double a = fabs(ref);
    double m = a > 1.0 ? a : 1.0;
    return fabs(q) <= 1e-9 * m;
}

/* bt_book_round_qty with the builtins, which the AVX2 / AVX-512 clones
 * inline (nearbyint and trunc are exact: same value as the libm calls). */
static inline double bt_fastev_round_qty(const bt_book_t *bk, double q)
{
    if (bk->cfg->fractional)
        return q;
    double r = __builtin_nearbyint(q);
    double a = fabs(q);
    if (fabs(q - r) <= 1e-9 * (a > 1.0 ? a : 1.0))
        return r;
    return __builtin_trunc(q);
}

/* bt_portfolio_apply for symbol 0 without a recorder (a reversal, which
 * opens a new round trip with the rest, goes to the engine's). */
static inline void bt_fastev_apply(bt_book_t *bk, double q, double price, double comm)
{
    bt_portfolio_state_t *pf = &bk->pf;
    double p = pf->pos[0];
    if (p != 0.0 && (p > 0) != (q > 0) && fabs(q) > fabs(p)) { /* a reversal: the engine's */
        bt_portfolio_apply(bk, 0, q, price, comm);
        return;
    }
    pf->cash -= q * price + comm;
    bt_portfolio_trade_t *tr = &pf->trade[0];
    if (p == 0.0) { /* s_trade_open without a recorder */
        pf->pos[0] = q;
        bt_portfolio_open(bk, 0, q, price, comm);
        return;
    }
    if ((p > 0) == (q > 0)) { /* adding */
        double np = p + q;
        pf->avg[0] = (pf->avg[0] * p + price * q) / np;
        tr->entry_qty += q;
        tr->entry_value += q * price;
        tr->commission += comm;
        pf->pos[0] = np;
        return;
    }
    double cq = fabs(q) <= fabs(p) ? q : -p;
    double frac = cq / q;
    tr->realized += (price - pf->avg[0]) * (-cq);
    tr->exit_qty += cq;
    tr->exit_value += cq * price;
    tr->commission += comm * frac;
    double np = p + q;
    if (bt_fastev_is_zero(np, p) || fabs(q) > fabs(p)) { /* closed (fabs(q) <= fabs(p) here) */
        bt_macc_trade(&bk->macc, tr->realized - tr->commission);
        pf->pos[0] = 0.0;
        pf->nheld--;
    } else {
        pf->pos[0] = np;
    }
}

/* bt_exec_fill_phase for a book whose one open order is a signal market
 * order of symbol 0 decided at an earlier step; false (nothing done) when
 * the orders are anything else, for the caller to run the engine's. */
static inline __attribute__((always_inline)) bool bt_fastev_fill_phase(bt_book_t *bk, double open)
{
    bt_exec_state_t *e = &bk->exec;
    bt_exec_order_t *o = &e->ord[0];
    if (e->nord != 1 || o->done || o->kind != BT_EXEC_KIND_SIGNAL || o->type != BT_ORD_MARKET ||
        o->tif != BT_TIF_GTC || o->resize || o->sl > 0 || o->tp > 0 || o->trail > 0 ||
        o->trail_k > 0 || o->created_step >= bk->feed.step)
        return false;
    bt_portfolio_state_t *pf = &bk->pf;
    double q = o->qty, p = pf->pos[0];
    if (q < 0 && p + q < 0) /* s_try's long-only cut: the engine's */
        return false;
    const bt_engine_cfg_t *c = bk->cfg;
    double value, comm; /* bt_exec_fill */
    double price = bt_exec_fill_price(c, open, q, o->comm_min_done, &value, &comm);
    if (q > 0 && p + q > 0 && q * price + comm > pf->cash) {
        bt_exec_finish(bk, o, BT_OS_REJECTED, "insufficient cash");
        e->nord = 0;
        return true;
    }
    e->fill_why = BT_EXIT_SIGNAL;
    bt_fastev_apply(bk, q, price, comm);
    e->nfill_total++;
    o->qty -= q;
    o->filled += q;
    o->fill_value += q * price;
    o->commission += comm;
    o->comm_min_done = 1;
    bk->risk.pend_all[0] -= q;
    bk->risk.pend_sig[0] -= q;
    bk->macc.traded_value += fabs(value);
    bk->macc.commission += comm;
    if (bt_fastev_is_zero(o->qty, o->filled)) {
        bk->risk.pend_all[0] -= o->qty;
        bk->risk.pend_sig[0] -= o->qty;
        o->qty = 0.0;
        o->done = 1;
        e->nord = 0; /* s_compact */
    }
    return true;
}

/* bt_signal(ctx, 0, target) through s_signal_order's percent-of-equity
 * sizing and bt_risk_place, for a book bt_fastev_ok accepts. */
static inline void bt_fastev_signal(bt_book_t *bk, double target)
{
    if (!isfinite(target)) {
        bt_signal(&bk->ctx, 0, target);
        return;
    }
    bt_risk_state_t *r = &bk->risk;
    if (target < 0)
        target = 0.0; /* long only */
    r->sig_step[0] = bk->feed.step;
    if (r->has_target[0] && r->target[0] == target)
        return;
    r->has_target[0] = 1;
    r->target[0] = target;
    const bt_engine_cfg_t *c = bk->cfg;
    double price = bk->feed.close[0];
    if (!(price > 0)) {
        bt_exec_refuse(bk, 0, BT_ORD_MARKET, 0.0, 0, 0, "no price yet");
        return;
    }
    double q = target * c->size_value * bk->pf.equity / price;
    q = bt_fastev_round_qty(bk, q);
    double d = q - bk->pf.pos[0] - r->pend_sig[0];
    if (bt_fastev_is_zero(d, q))
        return;
    bt_order_req_t req = {.sym = 0, .qty = d, .type = BT_ORD_MARKET, .tif = BT_TIF_GTC};
    double cur = bk->pf.pos[0] + r->pend_all[0];
    if ((d < 0 && cur + d < 0) || bk->exec.nord >= bk->dims.ocap) { /* shrunk or refused */
        bt_risk_place(bk, &req, BT_EXEC_KIND_SIGNAL);
        return;
    }
    bt_exec_state_t *e = &bk->exec; /* bt_exec_new; stores, not memset's rep stos */
    e->ord[e->nord++] = (bt_exec_order_t){.id = e->next_id++,
                                          .created = bk->feed.t,
                                          .created_step = bk->feed.step,
                                          .rec = SIZE_MAX,
                                          .qty = d,
                                          .sym = 0,
                                          .type = BT_ORD_MARKET,
                                          .tif = BT_TIF_GTC,
                                          .kind = BT_EXEC_KIND_SIGNAL};
    r->pend_all[0] += d;
    r->pend_sig[0] += d;
}

/* The start of event bar i of a one-series book with no warm-up (step i is
 * bar i): the feed loads the bar, the context gets its time, no fills yet.
 * Returns the bar's time. Shared with bt_batch's engine-function step. */
static inline __attribute__((always_inline)) int64_t bt_fastev_begin(bt_book_t *bk,
                                                                     const bt_feed_cols_t *x,
                                                                     size_t i)
{
    bt_feed_state_t *f = &bk->feed;
    f->step = i;
    f->prev_time[0] = i ? x->t[i - 1] : 0;
    int64_t t = bt_feed_load_one(bk, x, i);
    f->t = t;
    bk->ctx.time = t;
    bk->ctx.step = i;
    bk->exec.nfills = 0;
    return t;
}

/* Event bar i (not the last) of a book bt_fastev_ok accepts: s_event_core
 * of bt_batch.c. target: the strategy's signal at this bar, or NULL.
 * Returns the bar's time; bk->pf.equity is its equity. Inlined into the
 * caller (bt_batch's AVX2 / AVX-512 clones round with one instruction). */
static inline __attribute__((always_inline)) int64_t
bt_fastev_step(bt_book_t *bk, const bt_feed_cols_t *x, size_t i, const double *target)
{
    int64_t t = bt_fastev_begin(bk, x, i);
    if (bk->exec.nord && !bt_fastev_fill_phase(bk, x->o[i]))
        bt_exec_fill_phase(bk);
    double eq = bt_portfolio_mark(bk);
    bk->pf.equity = eq;
    uint64_t nf = bk->exec.nfill_total;
    bk->ctx.cash = bk->pf.cash;
    bk->ctx.equity = eq;
    if (target)
        bt_fastev_signal(bk, *target);
    if (bk->exec.nfill_total != nf)
        eq = bk->pf.equity = bt_portfolio_mark(bk);
    if (eq > bk->pf.peak)
        bk->pf.peak = eq;
    return t;
}

#endif
