/* bt_portfolio — a book's account (internal to the engine): cash, signed
 * positions, average cost, the round trip in progress per symbol and the
 * marking of equity. Trades go to the metrics and, with a recorder, to the
 * trade record. */
#ifndef BT_PORTFOLIO_H
#define BT_PORTFOLIO_H

#include "bt_book.h"

/* Applies a fill of q (signed) of symbol s at price with commission comm:
 * cash, position, average cost, round trip (opened, grown, closed or
 * reversed; a closed one goes to the metrics). */
void bt_portfolio_apply(bt_book_t *bk, uint32_t s, double q, double price, double comm);

/* The account side of opening a round trip of q in symbol s (flat before;
 * the caller sets the position): the trade's entry, average cost, high
 * water and holding count. Shared by bt_portfolio_apply and the grid fast
 * path's event step (bt_fastev), which records no trades. */
static inline void bt_portfolio_open(bt_book_t *bk, uint32_t s, double q, double price,
                                     double comm)
{
    bt_portfolio_state_t *p = &bk->pf;
    bt_portfolio_trade_t *tr = &p->trade[s];
    tr->entry_time = bk->feed.t;
    tr->entry_qty = q;
    tr->entry_value = q * price;
    tr->exit_qty = tr->exit_value = tr->realized = 0.0;
    tr->commission = comm;
    tr->rec = SIZE_MAX;
    p->avg[s] = price;
    p->hw[s] = price;
    p->open_step[s] = bk->feed.step;
    p->nheld++;
}

/* Equity = cash + sum of position * last close (cash when flat). */
static inline double bt_portfolio_mark(const bt_book_t *bk)
{
    const bt_portfolio_state_t *p = &bk->pf;
    if (p->nheld == 0)
        return p->cash;
    double e = p->cash;
    for (size_t s = 0; s < bk->nsym; s++)
        e += p->pos[s] * bk->feed.close[s];
    return e;
}

/* End of the run: open round trips are written to the recorder as open
 * trades valued at the last close. */
void bt_portfolio_finish(bt_book_t *bk);

#endif
