/* bt_worker — the bt-worker event loop: one DEALER socket to a coordinator,
 * HELLO / WELCOME / SWEEP / CREDIT / JOB / RESULT / ACK / HEARTBEAT / BYE as in
 * docs/protocol.md, reconnection with capped exponential back-off, and exit
 * on BYE, on REFUSE, on SIGINT/SIGTERM or after an idle time. */
#ifndef BT_WORKER_H
#define BT_WORKER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bt_worker_opts {
    const char *endpoint;    /* e.g. "tcp://10.0.0.5:5555" */
    int threads;             /* OpenMP threads for jobs (>= 1) */
    int64_t idle_exit_ms;    /* exit after this long without a job or coordinator; 0 = never */
    int64_t backoff_max_ms;  /* reconnect back-off cap */
    bool trivial;            /* hidden bench mode: answer jobs without running them */
    int64_t job_delay_ms;    /* hidden test aid: extra time per job (slows a sweep down) */
    const char *name;        /* worker name; NULL = hostname:pid */
    const char *keys_dir;    /* CurveZMQ keys folder (bt_curve layout); NULL: plain TCP */
    int64_t connect_timeout_ms; /* give up when never welcomed this long; 0 = never */
    const char *data_path;   /* --data: this host's copy of the store (verified by hash), or NULL */
    const char *lib_path;    /* --strategy-lib: the only strategy library it may load, or NULL */
    const char *cache_dir;   /* --cache; NULL = the XDG default (bt_cache) */
    uint64_t cache_max;      /* --cache-max bytes; 0 = default */
    bool insecure;           /* --insecure: load shipped code without --keys */
    bool no_fast;            /* --no-fast: every grid point on its own (the per-point path) */
} bt_worker_opts_t;

/* Runs until the sweep ends. Returns the process exit code: 0 after BYE or
 * idle exit, 1 after REFUSE / a fatal error / a signal. */
int bt_worker_run(const bt_worker_opts_t *opts);

#endif
