/* bt_wfsweep — `bt sweep` on a config with a walk_forward: section
 * (docs/walkforward.md).
 *
 * One job graph: the training sweeps of all windows are one grid with a
 * leading axis wf.window (W values), job id = window * points + point, so the
 * cluster works through every window at once. The worker applies
 * wf.window = w by restricting data.start/end to window w's training range
 * (bt_wf.h computes the same windows on both sides). When every training job
 * is done, the coordinator picks each window's best point (rank_by, same
 * tie-break as ranking.csv), runs it on the window's test range with the
 * equity carried over from the previous window, stitches the out-of-sample
 * curve and writes DIR/walkforward.csv, DIR/oos_equity.csv and a walk-forward
 * section in DIR/summary.txt, next to the usual results/ranking. Journal and
 * --resume work as for a plain sweep; test runs are recomputed on resume
 * (deterministic, so the files come out byte-identical). */
#ifndef BT_WFSWEEP_H
#define BT_WFSWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_config.h"

typedef struct bt_wfsweep_args {
    const char *config_path;
    const bt_config_t *cfg;  /* the loaded config (borrowed; --set applied) */
    const char *yaml;        /* its file text, as sent to workers (borrowed) */
    size_t yaml_len;
    const char *out_dir;     /* output folder (resume_dir when resuming) */
    const char *resume_dir;  /* NULL: a new run */
    const char *bind;        /* NULL: tcp://127.0.0.1:* */
    long workers;            /* -1: one per core */
    long threads;
    long lease_ms;
    long heartbeat_ms;
    long max_attempts;
    bool allow_huge;
    bool trivial;            /* benchmark workers (no backtests): no walk-forward files */
    const char *const *sets; /* --set overrides "key=value", applied to the config everywhere */
    size_t nsets;
} bt_wfsweep_args_t;

/* Runs the whole walk-forward; returns the process exit status (0 done, 1
 * failed or interrupted, 2 bad config / usage). */
int bt_wfsweep_run(const bt_wfsweep_args_t *a);

#endif
