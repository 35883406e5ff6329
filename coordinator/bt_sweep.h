/* bt_sweep — the coordinator's network loop for `bt sweep`: one ROUTER
 * socket, local bt-worker children, the protocol of docs/protocol.md, group
 * commit of results (journal sync, then ACK), leases and heartbeats, signals
 * and the progress line. Bookkeeping lives in bt_sched / bt_journal /
 * bt_report (owned by the caller); this module only moves messages.
 *
 * Single-threaded: a zpoller on the ROUTER with a short timeout drives the
 * timers (heartbeats, lease expiry, progress); SIGINT/SIGTERM set a flag the
 * loop checks, so the loop ends cleanly (journal synced) on a signal. */
#ifndef BT_SWEEP_H
#define BT_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_grid.h"
#include "bt_journal.h"
#include "bt_report.h"
#include "bt_sched.h"

typedef struct bt_sweep_opts {
    const char *bind;          /* endpoint to bind; NULL: tcp://127.0.0.1:* (OS-chosen port) */
    int workers;               /* local bt-worker children to start (0: remote only) */
    int worker_threads;        /* --threads of each local worker */
    uint32_t heartbeat_ms;     /* heartbeat interval, both ways */
    uint32_t lease_ms;         /* a worker silent this long loses its leases */
    const char *worker_bin;    /* path of bt-worker for local workers */
    bool trivial;              /* pass the hidden --trivial to local workers (benchmarks) */
    bool progress_tty;         /* live progress line (stderr is a terminal) */
    int64_t progress_every_ms; /* plain progress log period when not a terminal */
} bt_sweep_opts_t;

/* Values of the swept keys for one job (naxes doubles). */
typedef void (*bt_sweep_point_fn)(void *user, uint64_t job_id, double *values);

typedef struct bt_sweep_ctx {
    /* What every worker receives in SWEEP. */
    const char *yaml;          /* the config file's text */
    size_t yaml_len;
    const char *config_sha;    /* 64 hex */
    const char *store_path;    /* absolute path of the bar store */
    const char *data_hash;     /* 64 hex: hash of the whole store as loaded by workers */
    const char *const *sets;   /* --set overrides "key=value" (workers apply them on load) */
    size_t nsets;              /* 0..BT_WIRE_SETS_MAX */
    /* The grid. */
    uint64_t njobs;
    size_t naxes;
    const char *const *axis_keys; /* dotted keys sent as overrides */
    bt_sweep_point_fn point;
    void *point_user;
    /* Bookkeeping, owned by the caller. */
    bt_sched_t *sched;
    bt_journal_t *journal;
    bt_report_t *report;
    int rank_metric;           /* for the progress line's "best" */
    bool rank_desc;
    /* Out. */
    uint64_t jobs_run;         /* results journaled this session */
    uint64_t bars_run;         /* their bar events */
    uint32_t workers_seen;     /* workers welcomed this session */
    uint64_t bad_messages;     /* malformed / unexpected messages dropped */
    bool interrupted;          /* ended by SIGINT/SIGTERM */
    int signal;                /* which signal */
} bt_sweep_ctx_t;

/* Runs the sweep until every job is done (BT_OK), a signal arrives (BT_OK with
 * ctx->interrupted set), or a fatal error (bind failure, journal write
 * failure: an error with a message in eb). Local workers are stopped before
 * it returns. */
bt_err_t bt_sweep_serve(bt_sweep_ctx_t *ctx, const bt_sweep_opts_t *opts, bt_errbuf_t *eb);

/* Path of a program next to the running one (from /proc/self/exe). */
bt_err_t bt_sweep_sibling_path(const char *prog, char *out, size_t cap, bt_errbuf_t *eb);

/* Labels the report's column report_axis, a symbol-set axis (grid axis a):
 * value j prints as the j-th set joined with '+', e.g. "SYN000+SYN001". */
bt_err_t bt_sweep_symbol_labels(bt_report_t *rep, size_t report_axis, const bt_grid_t *g,
                                size_t a, bt_errbuf_t *eb);

/* Peak resident memory of this process so far, in MB (0 if unknown). */
double bt_sweep_peak_rss_mb(void);

#endif
