/* bt_server — the coordinator's network side of `bt sweep`: one ROUTER
 * socket, the protocol of docs/protocol.md, leases and heartbeats (through
 * bt_sched), group commit (commit hook, then ACK), signals and the progress
 * line. It moves messages only: what a job carries and what a result means
 * are the caller's hooks; it builds no journal record, clamps no metric and
 * starts no process.
 *
 * A result counts only from the worker its job was leased to (bt_sched). No
 * per-peer state exists before a valid HELLO; silent peers are dropped after
 * the lease; every queue is bounded (docs/sweep.md "Trust and bounds").
 *
 * Single-threaded: a zpoller on the ROUTER with a short timeout drives the
 * timers (heartbeats, lease expiry, progress, the tick hook); SIGINT/SIGTERM
 * set a flag the loop checks, so it ends cleanly (last commit done). */
#ifndef BT_SERVER_H
#define BT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_sched.h"
#include "bt_wire.h"

typedef struct bt_server_opts {
    const char *bind;          /* endpoint to bind; NULL: tcp://127.0.0.1:* (OS-chosen port) */
    uint32_t heartbeat_ms;     /* heartbeat interval, both ways */
    uint32_t lease_ms;         /* a worker silent this long loses its leases */
    bool progress_tty;         /* live progress line (stderr is a terminal) */
    int64_t progress_every_ms; /* plain progress log period when not a terminal */
    int64_t idle_timeout_ms;   /* give up when no worker is ready this long; 0: never */
    const char *keys_dir;      /* CurveZMQ keys folder (bt_curve layout); NULL: plain TCP */
    bool insecure;             /* allow a non-loopback bind without keys */
    const char *status_path;   /* status.json written about once a second; NULL: none */
    int64_t job_timeout_ms;    /* a worker with leases and no result this long is dropped;
                                  0: max(60 s, 50 x the median job time) */
} bt_server_opts_t;

/* What every worker receives in SWEEP (all borrowed for the run). */
typedef struct bt_server_sweep {
    const char *yaml; /* the config file's text */
    size_t yaml_len;
    const char *config_sha;   /* 64 hex */
    const char *store_path;   /* absolute path of the bar store */
    const char *data_hash;    /* 64 hex */
    const char *const *sets;  /* --set overrides "key=value" */
    size_t nsets;             /* 0..BT_WIRE_SETS_MAX */
    const char *const *mcols; /* metric columns of RESULT "m", by name */
    size_t nmcols;
    size_t max_overrides; /* most overrides the job hook writes for one job */
    struct bt_ship *ship; /* files served by hash (FETCH); NULL: none */
} bt_server_sweep_t;

/* The caller's side of the loop. */
typedef struct bt_server_hooks {
    void *user;
    /* Overrides of job id, about to be leased: writes at most max, returns the count. */
    size_t (*job)(void *user, uint64_t id, bt_wire_override_t *over, size_t max);
    /* A final outcome (bt_sched said NEW or FAILED) from worker `worker`.
     * An error means the result could not be kept: it is not acknowledged. */
    bt_err_t (*result)(void *user, const char *worker, const bt_msg_result_t *r, bt_errbuf_t *eb);
    /* Called after results were handed over (at the end of a loop turn, at
     * most S_COMMIT_MS after the first of them), before their ACKs go out:
     * make them durable. An error ends the run. */
    bt_err_t (*commit)(void *user, bt_errbuf_t *eb);
    /* Every heartbeat interval (e.g. reap local workers). May be NULL. */
    void (*tick)(void *user);
    /* After each tick, until it returns fewer than max: the names of workers
     * whose process is known to have died (local workers the tick reaped),
     * with how; their leases are lost at once (bt_sched_worker_lost, as for
     * a silent worker) instead of after lease_ms. May be NULL. */
    size_t (*dead)(void *user, char (*name)[64], char (*how)[64], size_t max);
    /* Extra text for the progress line (", best ..."). May be NULL. */
    void (*progress)(void *user, char *buf, size_t cap);
    /* Called on loop turns whose results wait for a later commit (commits
     * are at most every 100 ms): write them out, not yet durable. An error
     * ends the run. May be NULL (then every turn commits). */
    bt_err_t (*flush)(void *user, bt_errbuf_t *eb);
} bt_server_hooks_t;

typedef struct bt_server_stats {
    uint32_t workers_seen; /* workers welcomed */
    uint64_t bad_messages; /* malformed / unexpected messages dropped */
    bool interrupted;      /* the run ended early: SIGINT/SIGTERM or the idle timeout */
    int signal;            /* which signal (0: see why) */
    char why[512];         /* why it ended early, a sentence */
} bt_server_stats_t;

typedef struct bt_server bt_server_t;

/* Creates the socket and binds it (logs "listening on EP"). NULL with a
 * message on failure (BT_EIO: bind failed, BT_ENOMEM; BT_EINVAL: a bind
 * other machines can reach without keys or insecure; a keys error). */
bt_server_t *bt_server_new(const bt_server_opts_t *opts, bt_errbuf_t *eb);
/* The endpoint actually bound (the OS-chosen port resolved). */
const char *bt_server_endpoint(const bt_server_t *s);

/* Serves until every job of sched is finished (BT_OK; workers are sent BYE),
 * a signal arrives (BT_OK, stats.interrupted) or a commit fails (its error).
 * sched is the caller's; jobs it holds back wait until the caller releases
 * them (from a hook). */
bt_err_t bt_server_run(bt_server_t *s, const bt_server_sweep_t *sweep, bt_sched_t *sched,
                       const bt_server_hooks_t *hooks, bt_errbuf_t *eb);

const bt_server_stats_t *bt_server_stats(const bt_server_t *s);
void bt_server_destroy(bt_server_t **self_p);

#endif
