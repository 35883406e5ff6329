/* bt_portfolio — a book's account. See bt_portfolio.h and docs/engine.md
 * "Portfolio accounting and trades". */
#include "bt_portfolio.h"

static void s_trade_open(bt_book_t *bk, uint32_t s, double q, double price, double comm)
{
    bt_portfolio_open(bk, s, q, price, comm);
    bt_portfolio_trade_t *tr = &bk->pf.trade[s];
    if (bk->rec) {
        bt_trade_rec_t *x = bt_recorder_add_trade(bk->rec);
        if (!x) {
            bk->err = BT_ENOMEM;
            return;
        }
        x->sym = bk->sym0 + s;
        x->entry_time = bk->feed.t;
        x->open = true;
        tr->rec = bk->rec->ntrades - 1;
    }
}

/* Writes the trade's record; closed = true when the round trip ended. */
static void s_trade_rec(bt_book_t *bk, uint32_t s, bool closed, double pnl)
{
    bt_portfolio_trade_t *tr = &bk->pf.trade[s];
    if (!bk->rec || tr->rec == SIZE_MAX)
        return;
    bt_trade_rec_t *x = &bk->rec->trades[tr->rec];
    x->qty = tr->entry_qty;
    x->entry_price = tr->entry_qty != 0 ? tr->entry_value / tr->entry_qty : 0.0;
    x->commission = tr->commission;
    x->pnl = pnl;
    x->open = !closed;
    if (closed) {
        x->exit_reason = bk->exec.fill_why ? bk->exec.fill_why : BT_EXIT_SIGNAL;
        x->exit_time = bk->feed.t;
        x->exit_price = tr->exit_qty != 0 ? tr->exit_value / tr->exit_qty : 0.0;
    } else {
        x->exit_time = 0;
        x->exit_price = bk->feed.close[s];
    }
}

void bt_portfolio_apply(bt_book_t *bk, uint32_t s, double q, double price, double comm)
{
    bt_portfolio_state_t *pf = &bk->pf;
    pf->cash -= q * price + comm;
    double p = pf->pos[s];
    if (p == 0.0) {
        pf->pos[s] = q;
        s_trade_open(bk, s, q, price, comm);
        return;
    }
    bt_portfolio_trade_t *tr = &pf->trade[s];
    if ((p > 0) == (q > 0)) { /* adding */
        double np = p + q;
        pf->avg[s] = (pf->avg[s] * p + price * q) / np;
        tr->entry_qty += q;
        tr->entry_value += q * price;
        tr->commission += comm;
        pf->pos[s] = np;
        return;
    }
    /* reducing, closing or reversing */
    double cq = fabs(q) <= fabs(p) ? q : -p; /* closing part, sign of q */
    double frac = cq / q;
    tr->realized += (price - pf->avg[s]) * (-cq);
    tr->exit_qty += cq;
    tr->exit_value += cq * price;
    tr->commission += comm * frac;
    double np = p + q;
    if (bt_book_is_zero(np, p) || fabs(q) > fabs(p)) {
        double pnl = tr->realized - tr->commission;
        bt_macc_trade(&bk->macc, pnl);
        s_trade_rec(bk, s, true, pnl);
        pf->pos[s] = 0.0;
        pf->nheld--;
        if (!bt_book_is_zero(np, p) && fabs(q) > fabs(p)) {
            pf->pos[s] = np;
            s_trade_open(bk, s, np, price, comm * (1.0 - frac));
        }
    } else {
        pf->pos[s] = np;
    }
}

void bt_portfolio_finish(bt_book_t *bk)
{
    if (!bk->rec)
        return;
    const bt_portfolio_state_t *p = &bk->pf;
    for (uint32_t s = 0; s < bk->nsym; s++) {
        if (p->pos[s] == 0.0)
            continue;
        const bt_portfolio_trade_t *tr = &p->trade[s];
        double unreal = (bk->feed.close[s] - p->avg[s]) * p->pos[s];
        s_trade_rec(bk, s, false, tr->realized + unreal - tr->commission);
    }
}
