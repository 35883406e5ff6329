/* bt_runout — bt run's per-bar outputs, made while the run goes.
 *
 * The recorder hands over its equity points a chunk at a time
 * (bt_recorder_stream_equity); each chunk goes, in order, to equity.csv,
 * run.h5 (with each symbol's position), the report's thinned curve
 * (bt_html_thin) and the run statistics (bt_run_acc), on one writer thread
 * so the engine does not wait on HDF5 or the disk, then the buffer is
 * reused. The results do not depend on the chunk size or the thread: every
 * consumer takes the points in the same order (docs/reports.md). No record
 * of the whole run is kept in memory. */
#ifndef BT_RUNOUT_H
#define BT_RUNOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_engine.h"
#include "bt_err.h"
#include "bt_html_run.h"
#include "bt_metrics_run.h"

typedef struct bt_runout_cfg {
    const char *dir;              /* output folder */
    const bt_series_t *series;    /* the run's bars */
    size_t nsym;
    const bt_engine_cfg_t *ecfg;  /* for the run statistics */
    const bt_run_pos_t *pos;      /* positions for run.h5, or NULL */
    size_t expect;                /* points the run records (bt_engine_record_steps) */
    size_t chunk;                 /* points a chunk; 0: BT_RUNOUT_CHUNK */
    bool csv, h5;                 /* write equity.csv, run.h5 */
    int writers;                  /* threads that consume the chunks: 2 (the files on one, the
                                   * statistics and curve on the other), 1 (both on one) or 0
                                   * (in the engine's calls); fewer when a thread cannot be had */
    bool warm;                    /* read the bars' pages ahead of the engine on a thread of
                                   * their own (runs of more than 4 chunks of bars) */
    bool warm_tc;                 /* only the time and close pages, what the statistics and the
                                   * report read: the engine reads its bars from the file
                                   * (bt_run_spec_t.read_window) */
} bt_runout_cfg_t;

#define BT_RUNOUT_CHUNK 65536

typedef struct bt_runout bt_runout_t;

/* Opens the outputs and streams rec's equity points into them (rec must
 * outlive the runout). NULL on failure, with eb set. */
bt_runout_t *bt_runout_new(const bt_runout_cfg_t *cfg, bt_recorder_t *rec, bt_errbuf_t *eb);
/* After the run: takes the last points and fills st (trades from rec) and
 * the curve. equity.csv and run.h5 are still being closed and renamed into
 * place by the writer: bt_runout_commit waits for that. */
bt_err_t bt_runout_finish(bt_runout_t *o, bt_run_stats_t *st, bt_errbuf_t *eb);
/* Waits until equity.csv and run.h5 are in place; their write error if any. */
bt_err_t bt_runout_commit(bt_runout_t *o, bt_errbuf_t *eb);
/* The finished curve for report.html (after bt_runout_finish). */
const bt_html_thin_t *bt_runout_thin(const bt_runout_t *o);
/* Ends the thread, removes the files unless committed, detaches rec; safe on NULL. */
void bt_runout_destroy(bt_runout_t **self_p);

#endif
