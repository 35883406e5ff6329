/* bt_loop — the step loop of one book. See bt_loop.h. Nothing here
 * allocates per bar (the recorder's arrays grow geometrically). */
#include "bt_loop.h"

#include "bt_exec.h"
#include "bt_feed.h"
#include "bt_portfolio.h"
#include "bt_risk.h"

/* The step's equity record (single-book runs with a recorder). */
static void s_record_equity(bt_book_t *bk, int64_t t, double eq)
{
    bt_equity_rec_t *x = bt_recorder_add_equity(bk->rec);
    if (!x) {
        bk->err = BT_ENOMEM;
        return;
    }
    x->time = t;
    x->cash = bk->pf.cash;
    x->positions_value = eq - bk->pf.cash;
    x->equity = eq;
    x->drawdown = bk->pf.peak > 0 ? 1.0 - eq / bk->pf.peak : 0.0;
}

/* One step of a book; the feed has loaded the bars of time t. */
static inline void s_step(bt_book_t *bk, int64_t t)
{
    const bt_engine_cfg_t *c = bk->cfg;
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
    bt_risk_drawdown(bk, eq);
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
    if (bk->on_step) {
        bt_step_info_t info = {bk->book_index, f->step, t, bk->nsym, bk->sym0, bk->pf.pos,
                               f->close, bk->pf.cash, eq, bk->exec.fills, bk->exec.nfills};
        bk->on_step(bk->on_step_user, &info);
    }
    f->step++;
}

void bt_loop_step(bt_book_t *bk, int64_t t)
{
    s_step(bk, t);
}

void bt_loop_range(bt_book_t *bk, size_t i0, size_t i1)
{
    double *eq_out = bk->curve.eq, *cash_out = bk->curve.cash;
    uint8_t *ex_out = bk->curve.ex;
    bt_feed_cols_t x = bt_feed_begin_one(bk);
    for (size_t i = i0; i < i1; i++) {
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
