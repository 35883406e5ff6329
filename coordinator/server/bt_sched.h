/* bt_sched — job states, leases, retries and batch sizing for a sweep.
 *
 * Pure bookkeeping: no sockets, no clock. Every time is milliseconds from a
 * monotonic clock passed in by the caller, so tests can fake time.
 *
 * A job is QUEUED, LEASED (to one worker, with an attempt number), DONE (ok)
 * or FAILED (final); or HELD: not handed out until the caller releases it
 * (a job that depends on others' results, e.g. a walk-forward test run). Each lease gets a new attempt number (1, 2, ...).
 * A worker's leases stay valid while it is heard from (any call naming the
 * worker counts as "heard"); bt_sched_expire() requeues the leases of workers
 * silent for lease_ms. A job whose attempt fails inside a worker, or whose
 * lease is lost (silent or lost worker), is requeued until that happened
 * max_attempts times, then it is FAILED. A lost lease counts only for a job
 * that was the worker's only one; the jobs of a lost batch of several are
 * suspects instead: each goes out alone, to a worker holding nothing, which
 * gets nothing more until it is settled (so a job that crashes workers is
 * found without failing the jobs batched with it).
 *
 * Only the worker holding the current attempt of a job, or the previous
 * holder answering its expired lease late, can settle it; any other result
 * is BT_SCHED_FOREIGN.
 *
 * Batch sizing: each worker's throughput (jobs/ms while it had work) is
 * measured from its completions; its batch size is rate * target_ms, bounded
 * [1, 4096], and never more than the credit it announced.
 *
 * Memory: 28 bytes per job plus the outstanding leases; nothing per message.
 * Not thread-safe: owned by the coordinator loop. See docs/sweep.md. */
#ifndef BT_SCHED_H
#define BT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_SCHED_BATCH_MAX 4096        /* upper bound of a batch */
#define BT_SCHED_TARGET_MS_DEFAULT 150 /* default time one batch should take */

typedef struct bt_sched bt_sched_t;

/* njobs > 0, max_attempts >= 1 (failures before FAILED), lease_ms > 0.
 * NULL when out of memory. */
bt_sched_t *bt_sched_new(uint64_t njobs, uint32_t max_attempts, int64_t lease_ms);
void bt_sched_destroy(bt_sched_t **self_p);

/* Time one batch should take on a worker (default BT_SCHED_TARGET_MS_DEFAULT). */
void bt_sched_set_target_ms(bt_sched_t *s, int64_t target_ms);

/* Resume: the journal says job_id finished (ok or final failure). Call before
 * leasing (or on a HELD job, to settle it without running it). Ids out of
 * range are ignored and return false. */
bool bt_sched_mark_done(bt_sched_t *s, uint64_t job_id, bool ok);

/* Holds a QUEUED job back: leases skip it until bt_sched_release. false if
 * the job is not QUEUED (or out of range). */
bool bt_sched_hold(bt_sched_t *s, uint64_t job_id);
/* Makes a HELD job leasable again, ahead of fresh jobs. false if not HELD. */
bool bt_sched_release(bt_sched_t *s, uint64_t job_id);

/* Jobs in the sweep (as given to bt_sched_new). */
uint64_t bt_sched_njobs(const bt_sched_t *s);

/* A new worker: returns its slot (a released one no job names any more, else
 * the next: 0, 1, 2, ...), or BT_SCHED_NO_WORKER when out of memory. */
#define BT_SCHED_NO_WORKER UINT32_MAX
uint32_t bt_sched_worker_add(bt_sched_t *s, int64_t now_ms);
/* The worker is gone (disconnect, kill): requeues its leases; returns how many.
 * A late result from it is still accepted by bt_sched_complete. */
size_t bt_sched_worker_lost(bt_sched_t *s, uint32_t worker);
/* The worker is gone for good (it can no longer rejoin under this slot):
 * requeues any leases; the slot is reused by a later bt_sched_worker_add once
 * no job names it as holder of its current or previous attempt, so a late
 * result can never be credited to a newcomer. Memory stays bounded by the
 * workers alive plus those a job still names, whatever the churn. */
void bt_sched_worker_release(bt_sched_t *s, uint32_t worker);
/* Worker slots allocated so far (for tests of that bound). */
uint32_t bt_sched_worker_slots(const bt_sched_t *s);
/* Heard from the worker: extends all its leases to now + lease_ms. */
void bt_sched_heartbeat(bt_sched_t *s, uint32_t worker, int64_t now_ms);

/* Leases up to min(max, bt_sched_batch_size(worker)) jobs to worker: requeued
 * jobs first, then fresh ones in grid order. Fills ids[] and attempts[]
 * (both of room >= max). Returns the count (0: nothing to hand out now). */
size_t bt_sched_lease(bt_sched_t *s, uint32_t worker, size_t max, int64_t now_ms, uint64_t *ids,
                      uint32_t *attempts);

typedef enum {
    BT_SCHED_NEW,       /* first result for the job, ok: journal it, then ack */
    BT_SCHED_FAILED,    /* failure and no attempts left: journal it (final), then ack */
    BT_SCHED_RETRY,     /* failure, job requeued: do not journal; ack */
    BT_SCHED_DUPLICATE, /* job already finished: drop; ack */
    BT_SCHED_STALE,     /* failure of an old attempt while a newer one runs: drop; ack */
    BT_SCHED_INVALID,   /* job id out of range (bad message): drop and count */
    BT_SCHED_FOREIGN    /* the worker holds no lease of (job, attempt): drop and count */
} bt_sched_outcome_t;

/* A result arrived from worker for (job_id, attempt). */
bt_sched_outcome_t bt_sched_complete(bt_sched_t *s, uint32_t worker, uint64_t job_id,
                                     uint32_t attempt, bool ok, int64_t now_ms);

/* Requeues the leases of every worker not heard from for lease_ms or more
 * (now_ms - last_heard >= lease_ms); returns the number of jobs requeued. */
size_t bt_sched_expire(bt_sched_t *s, int64_t now_ms);

/* Jobs that became FAILED because their lease was lost for the last allowed
 * time (bt_sched_worker_lost, bt_sched_expire): pops one into *job_id;
 * false when there is none. The caller records each as failed. */
bool bt_sched_take_lost_failed(bt_sched_t *s, uint64_t *job_id);
/* Attempt number of the job's latest lease (0: never leased). */
uint32_t bt_sched_job_attempt(const bt_sched_t *s, uint64_t job_id);

/* Current batch size for the worker, in [1, BT_SCHED_BATCH_MAX]. */
size_t bt_sched_batch_size(const bt_sched_t *s, uint32_t worker);
/* The worker's measured rate in jobs per second (0 until measured). */
double bt_sched_worker_rate(const bt_sched_t *s, uint32_t worker);
/* How long the worker has held leases without a result (0 when it holds
 * none): a hung job, or a peer that takes jobs and never answers. */
int64_t bt_sched_worker_stalled_ms(const bt_sched_t *s, uint32_t worker, int64_t now_ms);
/* Jobs currently leased to the worker. */
size_t bt_sched_worker_outstanding(const bt_sched_t *s, uint32_t worker);
/* Jobs the worker completed first (outcome NEW or FAILED). */
uint64_t bt_sched_worker_done(const bt_sched_t *s, uint32_t worker);

/* All jobs are DONE or FAILED. */
bool bt_sched_finished(const bt_sched_t *s);

typedef struct bt_sched_counts {
    uint64_t ok;         /* DONE */
    uint64_t failed;     /* FAILED (final) */
    uint64_t leased;     /* LEASED now */
    uint64_t queued;     /* QUEUED now (fresh or requeued) */
    uint64_t held;       /* HELD now */
    uint64_t retries;    /* failures that were requeued */
    uint64_t requeued;   /* leases lost (expired or worker lost) */
    uint64_t duplicates; /* DUPLICATE + STALE results */
    uint64_t foreign;    /* FOREIGN results */
    uint32_t workers;    /* workers ever added */
} bt_sched_counts_t;
void bt_sched_counts(const bt_sched_t *s, bt_sched_counts_t *out);

#endif
