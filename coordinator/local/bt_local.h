/* bt_local — the local bt-worker children of `bt sweep`: started next to
 * `bt` with PR_SET_PDEATHSIG (they die with the coordinator), restarted when
 * one dies unexpectedly (at most twice per worker between two jobs
 * finished: bt_local_progress), stopped at the end
 * (SIGTERM, then SIGKILL after 3 s). Knows processes only: no socket, no
 * sweep state. */
#ifndef BT_LOCAL_H
#define BT_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_err.h"

typedef struct bt_local_opts {
    const char *worker_bin; /* path of bt-worker */
    const char *endpoint;   /* what the workers --connect to */
    int count;              /* workers to start (> 0) */
    int threads;            /* --threads of each */
    bool trivial;           /* hidden --trivial (benchmarks) */
    bool quiet;             /* --log-level warn */
    const char *keys_dir;   /* --keys of each (NULL: none) */
    const char *data_path;  /* --data: the store, so local workers copy nothing; or NULL */
    const char *lib_path;   /* --strategy-lib: the config's strategy_library, or NULL */
} bt_local_opts_t;

typedef struct bt_local bt_local_t;

/* Starts the workers (a fork failure is logged; the others still start).
 * Keeps its own copies of worker_bin, endpoint and data_path (a restart
 * needs them after the caller's buffers are gone). NULL only when out of
 * memory. */
bt_local_t *bt_local_start(const bt_local_opts_t *opts);
/* Reaps exited workers and restarts those that died unexpectedly (bounded). */
void bt_local_reap(bt_local_t *l);
/* The sweep moved on (a job finished, ok or failed for good): the
 * restart budget starts over, and a worker left down when it ran out is
 * started again. Workers that die before any job ends (a bad install, a
 * crash at start) still stop after the budget; a job that crashes its
 * worker on each attempt is failed by the scheduler after its attempts. */
void bt_local_progress(bt_local_t *l);
/* A worker reap found dead (a signal, or a non-zero exit): its name as it
 * announced itself ("local-N") and how it died. */
typedef struct bt_local_death {
    char name[32];
    char how[48]; /* "killed by signal 11", "exited with code 3" */
} bt_local_death_t;
/* The workers found dead since the last call (at most max; call again for
 * the rest), each once, by worker index; a worker that died twice between
 * two calls is reported once, with how it died last. */
size_t bt_local_take_deaths(bt_local_t *l, bt_local_death_t *out, size_t max);
/* Stops and reaps every worker, frees, sets *l_p = NULL. Accepts NULL. */
void bt_local_stop(bt_local_t **l_p);
/* Workers that never had a sweep: SIGKILL (no "leaving" log), reaped. */
void bt_local_kill(bt_local_t **l_p);

/* Path of a program next to the running one (from /proc/self/exe). */
bt_err_t bt_local_sibling_path(const char *prog, char *out, size_t cap, bt_errbuf_t *eb);

#endif
