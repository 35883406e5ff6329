/* bt_sweepjob — one job of a finished sweep, from its output folder: the
 * sweep's config as the coordinator read it (DIR/sweep.yaml and its --set
 * overrides, DIR/sweep_sets.txt, written by bt sweep) with the job's swept
 * values applied, for `bt run --from-sweep DIR --job N` and for the top
 * points the coordinator re-runs for report.html (DIR/top_equity.csv).
 *
 * Job ids are those of results.csv: the surviving grid points in grid order;
 * in a walk-forward sweep job w x points + p is point p trained on window w
 * (its data range is set to that training window). */
#ifndef BT_SWEEPJOB_H
#define BT_SWEEPJOB_H

#include <stddef.h>
#include <stdint.h>

#include "bt_config.h"
#include "bt_err.h"
#include "bt_html.h"

#define BT_SWEEPJOB_YAML "sweep.yaml"
#define BT_SWEEPJOB_SETS "sweep_sets.txt"
#define BT_SWEEPJOB_TOP_FILE "top_equity.csv"
#define BT_SWEEPJOB_TOP 3 /* points re-run for the sweep report */

/* Written by bt sweep into DIR (atomically): the config text and the --set
 * overrides, one per line. */
bt_err_t bt_sweepjob_save(const char *dir, const char *yaml, size_t yaml_len,
                          const char *const *sets, size_t nsets, bt_errbuf_t *eb);

typedef struct bt_sweepjob bt_sweepjob_t;

/* Loads DIR's sweep config and plans its grid (hashing the data as bt sweep
 * does). name: shown as the config's path (NULL: DIR/sweep.yaml). NULL on
 * failure: BT_ENOTFOUND when DIR was not written by a bt sweep that saves
 * its config. */
bt_sweepjob_t *bt_sweepjob_open(const char *dir, bt_errbuf_t *eb);
void bt_sweepjob_destroy(bt_sweepjob_t **self_p);
uint64_t bt_sweepjob_jobs(const bt_sweepjob_t *sj);
/* The sweep's config (hash and all as the sweep's). */
const bt_config_t *bt_sweepjob_base(const bt_sweepjob_t *sj);
/* A new config: the sweep's with job's values applied; label gets
 * "params.fast=10 params.slow=50" (and "window 3" for walk-forward). */
bt_config_t *bt_sweepjob_config(const bt_sweepjob_t *sj, uint64_t job, char *label, size_t cap,
                                bt_errbuf_t *eb);

/* Re-runs the first BT_SWEEPJOB_TOP rows of a ranking table t (its header
 * and first rows, as ranking.csv has them; name: what to call it in errors)
 * in this process, checks every metric against their ranking row (a
 * difference is an error: the report would show a curve of another run),
 * and writes their equity, thinned to 2,000 points each, to
 * DIR/top_equity.csv (job_id,time,equity). Walk-forward sweeps are skipped
 * (their report shows the stitched out-of-sample curve). */
bt_err_t bt_sweepjob_top_equity_table(const char *dir, const bt_table_t *t, const char *name,
                                      bt_errbuf_t *eb);

#endif
