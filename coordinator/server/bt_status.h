/* bt_status — DIR/status.json of a running sweep, written atomically about
 * once a second by the coordinator and read by `bt status DIR`: progress,
 * ETA and one row per live worker (docs/sweep.md "Watching a long run"). */
#ifndef BT_STATUS_H
#define BT_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

#define BT_STATUS_FILE "status.json"

typedef struct bt_status_worker {
    const char *name;     /* hostname:pid or --name */
    uint32_t threads;     /* from its HELLO */
    double rate;          /* jobs/s measured by the scheduler (0 until measured) */
    uint64_t done;        /* jobs it settled */
    size_t outstanding;   /* jobs it holds now */
    int64_t heard_ms_ago; /* since its last message */
} bt_status_worker_t;

typedef struct bt_status {
    const char *state;    /* "running", "finished" or "interrupted" */
    const char *endpoint; /* where workers connect */
    uint64_t total, ok, failed, leased, queued;
    double rate;      /* jobs/s since the start of this run */
    double eta_s;     /* -1: unknown */
    double elapsed_s; /* since the start of this run */
    const bt_status_worker_t *workers;
    size_t nworkers;
} bt_status_t;

/* Writes st as JSON to path atomically (temp file + rename), with the
 * writer's pid and the time (ms since 1970) so a reader can tell a live
 * coordinator from a dead one. */
bt_err_t bt_status_write(const char *path, const bt_status_t *st, bt_errbuf_t *eb);

#endif
