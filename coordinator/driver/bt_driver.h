/* bt_driver — the one sweep driver of `bt sweep`, for plain and walk-forward
 * sweeps alike (docs/sweep.md, docs/walkforward.md, docs/architecture.md).
 *
 * Prepares everything before any work (plan, output folder, journal,
 * report, scheduler), replays the journal on --resume, starts the server and
 * the local workers, keeps each result (journal, report, walk-forward test
 * chain) as the server hands it over, and writes the report: results,
 * ranking and summary, plus the walk-forward files once every test run is in.
 * Journaled results come back on --resume; walk-forward test runs are not
 * journaled and run again (they are deterministic). */
#ifndef BT_DRIVER_H
#define BT_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_config.h"

/* How a sweep runs: the options of `bt sweep` that the driver uses. */
typedef struct bt_driver_opts {
    const char *out_dir; /* output folder */
    bool resume;         /* continue the sweep journaled in out_dir */
    const char *bind;    /* NULL: tcp://127.0.0.1:* */
    long workers;        /* local workers; -1: the default layout (s_local_layout) */
    long threads;        /* threads per local worker */
    bool threads_given;  /* --threads was given (else the default layout chooses) */
    bool single_thread;  /* the strategy runs on one thread a worker (Python) */
    long lease_ms;
    long heartbeat_ms;
    long max_attempts;
    long idle_timeout_s; /* give up when no worker is ready this long; 0: never */
    long job_timeout_s;  /* leases without a result this long are lost; 0: automatic */
    const char *keys_dir; /* --keys DIR: CurveZMQ (also passed to local workers) */
    bool insecure;        /* --insecure: non-loopback bind without keys */
    bool allow_huge;
    bool trivial; /* benchmark workers (no backtests): no walk-forward files */
    bool no_fast; /* --no-fast: local workers run every point on its own (BT_FAST=0) */
    bool keep_invalid; /* run grid points the strategy refuses (they fail) instead of refusing */
    const char *sets[BT_CONFIG_MAX_OVERRIDES]; /* --set overrides "key=value", in order */
    size_t nsets;
} bt_driver_opts_t;

#define BT_DRIVER_EXIT_FAILED_JOBS 3 /* finished, but some jobs failed */

/* Runs the sweep of cfg (loaded from config_path with opts->sets applied;
 * yaml is the file's text, as sent to workers; all borrowed). Returns the
 * exit status (0 done, every job ok; 1 failed or interrupted; 2 bad config
 * or the output folder in use by another coordinator: nothing was run; 3
 * finished with failed jobs, listed in failures.csv) and sets *interrupted when a signal ended it early (the caller prints
 * how to continue). */
int bt_driver_run(const char *config_path, const bt_config_t *cfg, const char *yaml,
                  size_t yaml_len, const bt_driver_opts_t *opts, bool *interrupted);

#endif
