/* bt_runner — runs a batch of sweep jobs on one worker: applies each job's
 * overrides to a copy of the sweep's base config, picks its symbols from the
 * cached dataset and runs the engine.
 *
 * Threads: with at least 2 jobs per thread (or fewer symbols than threads)
 * the jobs of the batch run in parallel, one engine per thread; otherwise
 * each job runs its symbols in parallel (engine threads). The engine's results do not depend on
 * its thread count and each job writes only its own slot, so both ways give
 * identical results. This is the worker's only OpenMP module. */
#ifndef BT_RUNNER_H
#define BT_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_config.h"
#include "bt_err.h"
#include "bt_metrics.h"
#include "bt_store.h"

/* Key of the symbol-set axis; its override value is the index of the set in
 * the sweep section's list of symbol lists. */
#define BT_RUNNER_SYMBOLS_KEY "data.symbols"

typedef struct bt_runner_job {
    uint64_t id;                /* job id (grid point) */
    uint32_t attempt;           /* 1-based attempt */
    const char *const *keys;    /* nover dotted keys */
    const double *values;       /* nover values in user units */
    size_t nover;
    /* out */
    bool ok;
    char error[1024];           /* "" when ok */
    bt_metrics_t metrics;
    uint64_t run_us;            /* wall time of the run */
    uint64_t bars;              /* bars processed (sum over symbols in range) */
    uint32_t nblk;              /* 3 * report.pbo_blocks when ok, else 0 */
    double blk[3 * BT_MACC_MAX_BLOCKS]; /* per block: count, sum, sum of squares of returns */
    /* A walk-forward test job (overrides wf.test, wf.cash): the test range's
     * equity segment, fills, closed trades and rejections, for the
     * coordinator's stitched curve. Arrays are malloc'd; bt_runner_job_fini. */
    bool has_seg;
    int64_t *seg_time;          /* nseg equity times */
    double *seg_equity;         /* nseg equity values */
    uint8_t *seg_exposed;       /* nseg: 1 when a position was open */
    size_t nseg;
    double *fill_value;         /* nfills |filled x avg price| of orders with a fill or fee */
    double *fill_commission;    /* nfills commissions */
    size_t nfills;
    double *trade_pnl;          /* ntrades closed-trade pnls */
    size_t ntrades;
    uint64_t rejected;          /* orders rejected from the test start on */
} bt_runner_job_t;

/* Frees a job's segment arrays (safe on a zeroed job, safe twice). */
void bt_runner_job_fini(bt_runner_job_t *job);

typedef struct bt_runner bt_runner_t;

/* base: the sweep's config (not owned; must outlive the runner). */
bt_runner_t *bt_runner_new(const bt_config_t *base, const bt_dataset_t *ds, int threads);
void bt_runner_destroy(bt_runner_t **self_p);

/* Runs n jobs; each gets ok/error/metrics filled. Never fails as a whole: a
 * job that cannot run (bad override, strategy init error) is reported failed. */
void bt_runner_run(bt_runner_t *self, bt_runner_job_t *jobs, size_t n);

/* The grid fast path (bt_batch, docs/engine.md "Grid fast path"): on by
 * default, off when the environment has BT_FAST=0 or after
 * bt_runner_set_fast(self, false). Results are the same either way. */
void bt_runner_set_fast(bt_runner_t *self, bool on);

/* Checks the base config against the dataset (symbols present). */
bt_err_t bt_runner_check(const bt_config_t *base, const bt_dataset_t *ds, bt_errbuf_t *eb);

#endif
