/* bt_loop — the step loop of one book (internal to the engine).
 *
 * Each step calls the components in this order (docs/engine.md "The step"):
 *   bt_feed       MARKET: the step's bars, calendar flags, end of warm-up
 *   bt_exec       FILL: resting orders against the new bars
 *   bt_risk       engine exits
 *   bt_portfolio  mark to market; bt_risk kill switch
 *   strategy      on_bar -> bt_signal / bt_order -> bt_risk -> bt_exec
 *   bt_risk       rebalance, warm-up targets
 *   bt_exec       same-close fills, close_at_end
 *   bt_metrics    equity point (and bt_recorder, the step hook)
 * Single-threaded: bt_engine runs several books in parallel. */
#ifndef BT_LOOP_H
#define BT_LOOP_H

#include "bt_book.h"

/* Bars [i0, i1) of a one-series book, continuing from bar i0 - 1 (the hot
 * loop); a sleeve also writes its curves. */
void bt_loop_range(bt_book_t *bk, size_t i0, size_t i1);
/* The book's end: open round trips into the recorder. */
void bt_loop_end(bt_book_t *bk);
/* A one-series book over its whole series, then its end. */
void bt_loop_single(bt_book_t *bk);
/* The same steps, the bars read from the store file a window at a time
 * (bt_filemap) instead of through its mapping: for one pass over a long
 * series (bt run), whose mapped pages would each cost a first touch. The
 * same bytes, so the same results; bt_loop_single when the series is not a
 * registered mapping, and the mapping for a window the file cannot give. */
void bt_loop_single_window(bt_book_t *bk);
/* A book over several series merged by time, then its end. */
void bt_loop_merged(bt_book_t *bk);
/* risk.scope: account — the sleeves of a's books in lockstep on one
 * timeline: every sleeve with a bar at t fills and marks, then the kill
 * switch looks at the account's equity, then each runs its strategy (in
 * sleeve order, so the exposure limits see the sleeves before it). cur:
 * a->n scratch cursors. Then each sleeve's end. */
void bt_loop_account(bt_account_t *a, size_t *cur);
/* One lockstep step at t of the sleeves whose has_bar[0] is set (their bar
 * loaded by the caller): bt_loop_account and bt_live share it. */
void bt_loop_account_step(bt_account_t *a, int64_t t);
/* One step at time t whose bars the caller loaded into bk->feed (bar,
 * has_bar, close); bt_live steps live runs with it. */
void bt_loop_step(bt_book_t *bk, int64_t t);

#endif
