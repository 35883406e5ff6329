/* bt_live — a run stepped bar by bar as bars arrive (bt paper).
 *
 * The same books, step loop, execution, risk and portfolio as bt_engine_run
 * (bt_loop_step), so the same bars give the same orders, fills and equity:
 * a SINGLE strategy on n symbols is n sleeves with initial_cash / n each
 * (under risk.scope: account with a limit, stepped in lockstep:
 * bt_loop_account_step), a PORTFOLIO strategy one book over all symbols.
 * The bars so far are kept as the books' series (ATR trails and sizing at
 * the fill look back). What a live run cannot know is left out: the end of
 * the data (close_at_end is off) and the step count (no PBO blocks); DAY
 * orders need no look-ahead (they expire at a later day's first bar).
 * Deterministic: replaying the same bars into a new bt_live gives the
 * identical state (restart = replay of the journal). */
#ifndef BT_LIVE_H
#define BT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_engine.h"

typedef struct bt_live bt_live_t;

/* nsym symbols; cfg is copied (start/end opened, close_at_end and
 * pbo_blocks off). Every book records orders, round trips and equity. */
bt_live_t *bt_live_new(const bt_strategy_t *st, const double *params, const bt_engine_cfg_t *cfg,
                       size_t nsym, bt_errbuf_t *eb);
void bt_live_destroy(bt_live_t **self_p);

/* One step at time t: bars[s] is symbol s's bar where has[s]. t must be
 * later than the previous step (BT_EINVAL otherwise: the caller drops late
 * bars before). */
bt_err_t bt_live_step(bt_live_t *lv, int64_t t, const bt_bar_t *bars, const uint8_t *has,
                      bt_errbuf_t *eb);

size_t bt_live_steps(const bt_live_t *lv);
int64_t bt_live_last_time(const bt_live_t *lv); /* INT64_MIN before the first step */
/* Books: 1 for PORTFOLIO, nsym sleeves for SINGLE. */
size_t bt_live_nbooks(const bt_live_t *lv);
const bt_recorder_t *bt_live_recorder(const bt_live_t *lv, size_t b);
/* The fills of the last step of book b (order ids are book-local). */
const bt_step_fill_t *bt_live_fills(const bt_live_t *lv, size_t b, size_t *n);
/* Account now, summed over books. */
double bt_live_cash(const bt_live_t *lv);
double bt_live_equity(const bt_live_t *lv);
double bt_live_position(const bt_live_t *lv, size_t sym);

#endif
