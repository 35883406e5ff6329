/* bt_batch — the grid fast path: many backtests of a strategy that declares
 * its indicators (bt_fast_t) on one series, run together bar-major.
 *
 * Each grid point is a lane with a real engine book (bt_book_t). The bars
 * are walked in blocks that stay in cache; per block, each lane's `decide`
 * scans the precomputed indicator columns for the bars where the strategy
 * would signal, and the lanes' accounts then run over the block, one lane
 * after the other: on a quiet bar (no order open, no signal, not the last
 * bar) the step reduces to the marking (bt_portfolio_mark's sum); on an
 * event bar the feed is loaded and the engine's own functions run that
 * lane's step (bt_exec fill phase, bt_signal -> bt_risk sizing and limits,
 * close_at_end). The metrics points of the block (bt_macc_step_core) then
 * run for eight one-symbol lanes at once in vector registers. Same
 * operations in the same order as bt_engine_run, so bit-identical metrics
 * and block statistics (tests/unit/test_batch.c, tests/integration).
 *
 * A SINGLE strategy on several symbols runs one book per symbol (sleeve)
 * writing its equity per bar of the block; the sleeves are summed in
 * sleeve order and fed to the point's metrics, as bt_engine does.
 *
 * Eligible runs (bt_batch_eligible; bt_batch_prepare also wants the
 * symbols on one timeline): a SINGLE strategy with `fast`; no recorder or step hook; fills at the next open; no engine exits
 * (stop_loss, take_profit, trailing_stop), kill switch, rebalancing or
 * warm-up. Anything else runs through bt_engine_run as before. */
#ifndef BT_BATCH_H
#define BT_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_engine.h"
#include "bt_err.h"
#include "bt_indcache.h"
#include "bt_metrics.h"

/* One grid point. */
typedef struct bt_batch_job {
    bt_run_spec_t spec;    /* an eligible spec; spec.blocks_out as for bt_engine_run */
    const double *const *cols; /* from bt_batch_prepare: nsym x (BT_DECL_MAX + 1) */
    /* out */
    bt_err_t rc;           /* BT_OK, or the error bt_engine_run would give (msg in eb) */
    bt_errbuf_t eb;
    bt_metrics_t metrics;
} bt_batch_job_t;

typedef struct bt_batch bt_batch_t; /* scratch of one thread: lane books, event buffers */

bt_batch_t *bt_batch_new(void);
void bt_batch_destroy(bt_batch_t **self_p);

/* Whether one-symbol lanes whose settings allow it (bt_fastev_ok) run
 * their event bars through bt_fastev_step (inline, the engine's
 * arithmetic) or the engine's functions; on by default. Same results
 * either way; off is for the tests and for debugging. */
void bt_batch_set_fastev(bt_batch_t *self, bool on);

/* True when spec can take the fast path (see above). */
bool bt_batch_eligible(const bt_run_spec_t *spec);

/* Finds (or computes) the declared columns of spec's strategy over each of
 * spec's series in the cache: cols gets nsym x (BT_DECL_MAX + 1) pointers,
 * per symbol the declared columns then the close. False with eb set when
 * one cannot be had, or the symbols' slices have different timelines; the
 * caller then runs that point through bt_engine_run. Single-threaded. */
bool bt_batch_prepare(bt_indcache_t *cache, const bt_run_spec_t *spec, const double **cols,
                      bt_errbuf_t *eb);

/* Runs n eligible jobs (cols set). Jobs on the same series slices run as
 * lanes of one pass. Each job gets rc, eb and metrics (and blocks_out)
 * exactly as bt_engine_run would give them. */
void bt_batch_run(bt_batch_t *self, bt_batch_job_t *jobs, size_t n);

#endif
