/* bt_risk — risk management of a book (internal to the engine).
 *
 * Sits between the strategy's intent and an order: sizing of signals
 * (cfg.sizing), the limits every strategy order passes (shorting,
 * max_positions, max_position, max_leverage: shrink or refuse), periodic
 * rebalancing to the last targets, the engine exits (stop_loss,
 * take_profit, trailing_stop) and the drawdown kill switch. Rules:
 * docs/engine.md "Sizing" and "Risk layer". */
#ifndef BT_RISK_H
#define BT_RISK_H

#include "bt_book.h"

/* Places a strategy order (kind BT_EXEC_KIND_USER or _SIGNAL) through the
 * limits; its id, or 0 if refused (recorded and counted). */
int64_t bt_risk_place(bt_book_t *bk, const bt_order_req_t *req, uint8_t kind);
/* Whether dq more of symbol s (an order growing by dq) passes the limits
 * as it is, neither shrunk nor refused; false after the kill switch. */
bool bt_risk_allows(bt_book_t *bk, uint32_t s, double dq);
/* A valid signal: symbol sym at target exposure (unchanged targets place
 * nothing; during warm-up only the target is kept). */
void bt_risk_signal(bt_book_t *bk, uint32_t sym, double target);
/* Re-sizes the last target of every symbol not signalled at this step. */
void bt_risk_rebalance(bt_book_t *bk);
/* First tradable step after warm-up: orders the targets set during warm-up
 * (those the rebalance at this step, if any, has not ordered already). */
void bt_risk_go_live(bt_book_t *bk, bool rebalanced);
/* Engine exits for positions opened before this step; moves water marks. */
void bt_risk_exits(bt_book_t *bk);
/* Kill switch: cancels every order, closes every position with market
 * orders; the strategy is not called again. */
void bt_risk_kill(bt_book_t *bk);

/* The kill switch check on the step's marked equity (cfg.max_drawdown). */
static inline void bt_risk_drawdown(bt_book_t *bk, double eq)
{
    double mdd = bk->risk.mdd;
    if (mdd > 0 && !bk->risk.killed) {
        if (eq > bk->pf.peak)
            bk->pf.peak = eq;
        if (eq < bk->pf.peak * (1.0 - mdd))
            bt_risk_kill(bk);
    }
}

#endif
