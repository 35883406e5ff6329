/* bt_sched — see bt_sched.h and docs/sweep.md "Scheduling and leases".
 *
 * Per job: 16 bytes + 8 for its FIFO slot (state, failures, attempt, owning worker, position in
 * that worker's lease list, so completing a job is O(1)). Jobs never leased are handed out by a
 * cursor in grid order; requeued jobs wait in a FIFO that is served first. FIFO entries whose job
 * finished meanwhile are skipped. */
#include "bt_sched.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_buf.h"

#define S_WINDOW_MS 50 /* busy time a rate sample covers at least */
#define S_NO_OWNER UINT32_MAX
#define S_WORKERS_MAX (1u << 20) /* worker slots (reused once released and unreferenced) */

enum { S_QUEUED = 0, S_LEASED, S_DONE, S_FAILED, S_HELD };

/* A job that was in a batch whose worker was lost: it goes out alone from
 * then on, so a job that crashes its worker is found without the jobs
 * batched with it paying for it. */
#define S_SUSPECT 1u

typedef struct {
    uint8_t state;    /* S_QUEUED .. S_HELD */
    uint8_t fails;    /* failed or lost attempts so far */
    uint16_t flags;   /* S_SUSPECT */
    uint32_t attempt; /* attempt number of the latest lease (0 = never leased) */
    uint32_t owner;   /* worker given attempt `attempt` (kept after the lease ends) */
    uint32_t prev;    /* worker given attempt `attempt - 1` (S_NO_OWNER: none) */
    uint32_t pos;     /* index in the owner's lease list when LEASED */
} s_job_t;

typedef struct {
    uint64_t *leases;    /* job ids leased to this worker */
    size_t n, cap;       /* leases held / allocated */
    int64_t last_heard;  /* last time anything was heard from the worker */
    int64_t busy_mark;   /* time of the last event (busy accounting) */
    int64_t win_busy;    /* ms with work outstanding in the current rate window */
    uint64_t win_done;   /* jobs completed in the current rate window */
    double rate;         /* jobs per ms, 0 until measured */
    uint64_t done;       /* jobs this worker completed (owner at the time) */
    uint64_t first;      /* results from it that were NEW or FAILED */
    bool lost;           /* reported lost and not heard from since */
    bool suspect;        /* holds a suspect job (alone): no other lease until it is settled */
    bool released;       /* bt_sched_worker_release: gone for good, slot reusable */
    uint32_t refs;       /* jobs naming it as owner or prev (a late result may come) */
    int64_t progress_at; /* last result from it, or when it got work while idle */
} s_worker_t;

struct bt_sched {
    uint64_t njobs;        /* jobs in the grid */
    s_job_t *jobs;         /* njobs entries */
    uint32_t max_attempts; /* failures before FAILED */
    int64_t lease_ms;      /* silence after which leases are requeued */
    int64_t target_ms;     /* time one batch should take */
    uint64_t next_fresh;   /* cursor: jobs >= it were never leased */
    uint64_t *fifo;        /* ring of requeued job ids, njobs slots */
    size_t fhead, fcount, fcap;
    bt_buf_t workers_buf; /* s_worker_t slots, capped (workers join from outside) */
    s_worker_t *workers;  /* view of workers_buf: nworkers slots */
    uint32_t nworkers;
    uint32_t *free_slots;  /* released slots no job refers to, reused first */
    size_t nfree, free_cap;
    bt_sched_counts_t c;   /* counters (queued computed on demand) */
    uint64_t *lost_failed; /* jobs FAILED by lost leases, not yet taken (njobs slots) */
    size_t nlost_failed;
};

bt_sched_t *bt_sched_new(uint64_t njobs, uint32_t max_attempts, int64_t lease_ms)
{
    assert(njobs > 0 && max_attempts >= 1 && lease_ms > 0);
    if (njobs > SIZE_MAX / sizeof(s_job_t))
        return NULL;
    bt_sched_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->jobs = calloc((size_t)njobs, sizeof *s->jobs);
    s->fifo = malloc((size_t)njobs * sizeof *s->fifo);
    s->lost_failed = malloc((size_t)njobs * sizeof *s->lost_failed);
    if (!s->jobs || !s->fifo || !s->lost_failed) {
        free(s->jobs);
        free(s->fifo);
        free(s->lost_failed);
        free(s);
        return NULL;
    }
    s->njobs = njobs;
    s->fcap = (size_t)njobs;
    bt_buf_init(&s->workers_buf, S_WORKERS_MAX * sizeof(s_worker_t));
    s->max_attempts = max_attempts > 255 ? 255 : max_attempts;
    s->lease_ms = lease_ms;
    s->target_ms = BT_SCHED_TARGET_MS_DEFAULT;
    return s;
}

void bt_sched_destroy(bt_sched_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_sched_t *s = *self_p;
    for (uint32_t i = 0; i < s->nworkers; i++)
        free(s->workers[i].leases);
    bt_buf_fini(&s->workers_buf);
    free(s->free_slots);
    free(s->lost_failed);
    free(s->fifo);
    free(s->jobs);
    free(s);
    *self_p = NULL;
}

void bt_sched_set_target_ms(bt_sched_t *s, int64_t target_ms)
{
    s->target_ms = target_ms > 0 ? target_ms : 1;
}

/* ---- FIFO of requeued jobs ---- */

/* Each job has at most one FIFO entry (pushed when it leaves LEASED for QUEUED,
 * popped before it is leased again), so njobs slots always suffice. */
static void s_fifo_push(bt_sched_t *s, uint64_t id)
{
    assert(s->fcount < s->fcap);
    s->fifo[(s->fhead + s->fcount) % s->fcap] = id;
    s->fcount++;
}

static bool s_fifo_pop(bt_sched_t *s, uint64_t *id)
{
    if (s->fcount == 0)
        return false;
    *id = s->fifo[s->fhead];
    s->fhead = (s->fhead + 1) % s->fcap;
    s->fcount--;
    return true;
}

/* ---- leases ---- */

static void s_unlease(bt_sched_t *s, uint64_t id)
{
    s_job_t *j = &s->jobs[id];
    assert(j->state == S_LEASED && j->owner < s->nworkers);
    s_worker_t *w = &s->workers[j->owner];
    assert(j->pos < w->n && w->leases[j->pos] == id);
    uint64_t moved = w->leases[--w->n];
    w->leases[j->pos] = moved;
    s->jobs[moved].pos = j->pos;
    s->c.leased--;
}

/* Requeues every lease of worker w, in lease order; returns how many. A lost
 * lease of a job that was alone (or a suspect) counts as a failed attempt:
 * a job that kills or hangs its workers ends FAILED after max_attempts
 * instead of going round for ever. A lost batch of several counts for none
 * of them (which one crashed or hung the worker is not known) but makes
 * them all suspects, leased alone from then on (so each job is lost
 * uncounted at most once). */
static size_t s_requeue_worker(bt_sched_t *s, s_worker_t *w)
{
    size_t n = w->n;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = w->leases[i];
        s_job_t *j = &s->jobs[id];
        if ((n == 1 || (j->flags & S_SUSPECT)) && j->fails < UINT8_MAX)
            j->fails++;
        j->flags |= S_SUSPECT;
        if (j->fails >= s->max_attempts) {
            j->state = S_FAILED;
            s->c.failed++;
            s->lost_failed[s->nlost_failed++] = id;
            continue;
        }
        j->state = S_QUEUED;
        s_fifo_push(s, id);
    }
    w->n = 0;
    s->c.leased -= n;
    s->c.requeued += n;
    w->win_busy = 0;
    w->win_done = 0;
    return n;
}

/* Busy-time accounting: time between events counts while work was outstanding. */
static void s_touch(s_worker_t *w, int64_t now_ms)
{
    if (w->n > 0 && now_ms > w->busy_mark)
        w->win_busy += now_ms - w->busy_mark;
    if (now_ms > w->busy_mark)
        w->busy_mark = now_ms;
    if (now_ms > w->last_heard)
        w->last_heard = now_ms;
    w->lost = false;
}

static void s_sample(s_worker_t *w)
{
    if (w->win_busy < S_WINDOW_MS || w->win_done == 0)
        return;
    double sample = (double)w->win_done / (double)w->win_busy;
    /* Up at once, down by halves: a worker's first samples come from small
     * batches, which cost more per job (set-up, the grid fast path's lanes)
     * and so under-state its rate; averaging them in kept its batches small
     * (and slow) for a second or more. A slowing worker still steps down. */
    w->rate = w->rate > 0.0 && sample < w->rate ? 0.5 * w->rate + 0.5 * sample : sample;
    w->win_busy = 0;
    w->win_done = 0;
}

bool bt_sched_mark_done(bt_sched_t *s, uint64_t job_id, bool ok)
{
    if (job_id >= s->njobs)
        return false;
    s_job_t *j = &s->jobs[job_id];
    if (j->state == S_DONE)
        return true;
    if (j->state == S_FAILED) {
        if (ok) { /* an ok record beats a failed one, as in bt_report */
            j->state = S_DONE;
            s->c.failed--;
            s->c.ok++;
        }
        return true;
    }
    if (j->state == S_LEASED)
        s_unlease(s, job_id);
    if (j->state == S_HELD)
        s->c.held--;
    j->state = ok ? S_DONE : S_FAILED;
    if (ok)
        s->c.ok++;
    else
        s->c.failed++;
    return true;
}

/* A released slot that no job names any more goes to the free list. */
static void s_maybe_free(bt_sched_t *s, uint32_t slot)
{
    s_worker_t *w = &s->workers[slot];
    if (!w->released || w->refs > 0)
        return;
    if (s->nfree == s->free_cap) {
        size_t cap = s->free_cap ? s->free_cap * 2 : 16;
        uint32_t *p = realloc(s->free_slots, cap * sizeof *p);
        if (!p)
            return; /* the slot is simply not reused */
        s->free_slots = p;
        s->free_cap = cap;
    }
    w->released = false; /* on the list now: pushed once */
    w->lost = true;
    s->free_slots[s->nfree++] = slot;
}

static void s_ref(bt_sched_t *s, uint32_t slot)
{
    s->workers[slot].refs++;
}

static void s_unref(bt_sched_t *s, uint32_t slot)
{
    if (slot == S_NO_OWNER || slot >= s->nworkers || s->workers[slot].refs == 0)
        return;
    s->workers[slot].refs--;
    s_maybe_free(s, slot);
}

uint32_t bt_sched_worker_add(bt_sched_t *s, int64_t now_ms)
{
    if (s->nfree > 0) {
        uint32_t slot = s->free_slots[--s->nfree];
        s_worker_t *w = &s->workers[slot];
        uint64_t *leases = w->leases; /* keep the allocation */
        size_t cap = w->cap;
        memset(w, 0, sizeof *w);
        w->leases = leases;
        w->cap = cap;
        w->last_heard = now_ms;
        w->busy_mark = now_ms;
        s->c.workers++;
        return slot;
    }
    if (bt_buf_reserve(&s->workers_buf, sizeof(s_worker_t)) != BT_OK)
        return BT_SCHED_NO_WORKER;
    s->workers_buf.len += sizeof(s_worker_t);
    s->workers = (s_worker_t *)(void *)s->workers_buf.data;
    s_worker_t *w = &s->workers[s->nworkers];
    memset(w, 0, sizeof *w);
    w->last_heard = now_ms;
    w->busy_mark = now_ms;
    s->c.workers++;
    return s->nworkers++;
}

size_t bt_sched_worker_lost(bt_sched_t *s, uint32_t worker)
{
    assert(worker < s->nworkers);
    s_worker_t *w = &s->workers[worker];
    w->lost = true;
    return s_requeue_worker(s, w);
}

void bt_sched_worker_release(bt_sched_t *s, uint32_t worker)
{
    if (worker >= s->nworkers)
        return;
    s_worker_t *w = &s->workers[worker];
    if (w->n > 0)
        s_requeue_worker(s, w);
    w->lost = true;
    w->released = true;
    s_maybe_free(s, worker);
}

uint32_t bt_sched_worker_slots(const bt_sched_t *s)
{
    return s->nworkers;
}

void bt_sched_heartbeat(bt_sched_t *s, uint32_t worker, int64_t now_ms)
{
    assert(worker < s->nworkers);
    s_touch(&s->workers[worker], now_ms);
}

size_t bt_sched_batch_size(const bt_sched_t *s, uint32_t worker)
{
    assert(worker < s->nworkers);
    const s_worker_t *w = &s->workers[worker];
    double b;
    if (w->rate > 0.0)
        b = llround(w->rate * (double)s->target_ms);
    else
        b = 1.0 + (double)w->done; /* slow start: roughly doubles per round trip */
    /* Guided tail: never take more than half of an equal share of what is
     * still queued, so near the end the last jobs spread over all workers
     * instead of one worker finishing a big batch while the others idle. */
    uint32_t active = 0;
    for (uint32_t i = 0; i < s->nworkers; i++)
        active += !s->workers[i].lost;
    uint64_t queued = s->njobs - s->c.ok - s->c.failed - s->c.leased - s->c.held;
    double share = ceil((double)queued / (2.0 * (active ? active : 1)));
    if (active > 1 && b > share) /* (a lone worker has no one to share with) */
        b = share;
    if (b < 1.0)
        b = 1.0;
    if (b > BT_SCHED_BATCH_MAX)
        b = BT_SCHED_BATCH_MAX;
    return (size_t)b;
}

static bool s_reserve_leases(s_worker_t *w, size_t extra)
{
    if (w->n + extra <= w->cap)
        return true;
    size_t ncap = w->cap ? w->cap : 64;
    while (ncap < w->n + extra)
        ncap *= 2;
    uint64_t *nl = realloc(w->leases, ncap * sizeof *nl);
    if (!nl)
        return false;
    w->leases = nl;
    w->cap = ncap;
    return true;
}

size_t bt_sched_lease(bt_sched_t *s, uint32_t worker, size_t max, int64_t now_ms, uint64_t *ids,
                      uint32_t *attempts)
{
    assert(worker < s->nworkers);
    s_worker_t *w = &s->workers[worker];
    s_touch(w, now_ms);
    if (w->n == 0)
        w->suspect = false;
    if (w->suspect) /* its suspect must end alone: a crash then names it */
        return 0;
    size_t want = bt_sched_batch_size(s, worker);
    if (want > max)
        want = max;
    if (!s_reserve_leases(w, want))
        return 0;
    if (w->n == 0)
        w->progress_at = now_ms;
    size_t n = 0;
    while (n < want) {
        uint64_t id;
        if (s->fcount > 0) { /* a suspect goes alone, to a worker holding nothing */
            const s_job_t *h = &s->jobs[s->fifo[s->fhead]];
            if (h->state == S_QUEUED && (h->flags & S_SUSPECT) && (n > 0 || w->n > 0))
                break;
        }
        if (!s_fifo_pop(s, &id)) {
            while (s->next_fresh < s->njobs && s->jobs[s->next_fresh].state != S_QUEUED)
                s->next_fresh++;
            if (s->next_fresh >= s->njobs)
                break;
            id = s->next_fresh++;
        } else if (s->jobs[id].state != S_QUEUED) {
            continue; /* finished while it waited in the FIFO */
        }
        s_job_t *j = &s->jobs[id];
        j->state = S_LEASED;
        if (j->attempt >= 2)
            s_unref(s, j->prev); /* no longer anyone's previous attempt */
        j->attempt++;
        j->prev = j->attempt > 1 ? j->owner : S_NO_OWNER;
        j->owner = worker;
        s_ref(s, worker);
        j->pos = (uint32_t)w->n;
        w->leases[w->n++] = id;
        ids[n] = id;
        attempts[n] = j->attempt;
        n++;
        if (j->flags & S_SUSPECT) {
            w->suspect = true;
            break;
        }
    }
    s->c.leased += n;
    return n;
}

bt_sched_outcome_t bt_sched_complete(bt_sched_t *s, uint32_t worker, uint64_t job_id,
                                     uint32_t attempt, bool ok, int64_t now_ms)
{
    assert(worker < s->nworkers);
    s_worker_t *w = &s->workers[worker];
    s_touch(w, now_ms);
    if (job_id >= s->njobs)
        return BT_SCHED_INVALID;
    s_job_t *j = &s->jobs[job_id];
    if (j->state == S_DONE || j->state == S_FAILED) {
        s->c.duplicates++;
        return BT_SCHED_DUPLICATE;
    }
    if (j->state == S_HELD) { /* never handed out: nobody can have run it */
        s->c.duplicates++;
        return BT_SCHED_STALE;
    }
    /* Only the holder of the current attempt, or the previous holder with a
     * late answer to its expired lease, may settle a job: anything else is a
     * peer answering for work it was never given. */
    bool current = j->attempt > 0 && attempt == j->attempt && j->owner == worker;
    bool previous = attempt > 0 && attempt + 1 == j->attempt && j->prev == worker;
    if (!current && !previous) {
        s->c.foreign++;
        return BT_SCHED_FOREIGN;
    }
    bool mine = j->state == S_LEASED && j->owner == worker;
    if (!ok && (attempt != j->attempt || (j->state == S_LEASED && !mine))) {
        s->c.duplicates++;
        return BT_SCHED_STALE;
    }
    w->progress_at = now_ms;
    if (mine) {
        w->win_done++;
        w->done++;
    }
    if (j->state == S_LEASED)
        s_unlease(s, job_id);
    s_sample(w);
    if (ok) {
        j->state = S_DONE;
        s->c.ok++;
        w->first++;
        return BT_SCHED_NEW;
    }
    if (j->state == S_LEASED && j->fails < UINT8_MAX)
        j->fails++; /* else its lease was lost and already counted */
    if (j->fails >= s->max_attempts) {
        j->state = S_FAILED;
        s->c.failed++;
        w->first++;
        return BT_SCHED_FAILED;
    }
    s->c.retries++;
    if (j->state == S_LEASED) {
        j->state = S_QUEUED;
        s_fifo_push(s, job_id);
    }
    /* else it is already QUEUED (its lease expired) and waits in the FIFO */
    return BT_SCHED_RETRY;
}

bool bt_sched_take_lost_failed(bt_sched_t *s, uint64_t *job_id)
{
    if (s->nlost_failed == 0)
        return false;
    *job_id = s->lost_failed[--s->nlost_failed];
    return true;
}

uint32_t bt_sched_job_attempt(const bt_sched_t *s, uint64_t job_id)
{
    return job_id < s->njobs ? s->jobs[job_id].attempt : 0;
}

size_t bt_sched_expire(bt_sched_t *s, int64_t now_ms)
{
    size_t n = 0;
    for (uint32_t i = 0; i < s->nworkers; i++) {
        s_worker_t *w = &s->workers[i];
        if (w->n > 0 && now_ms - w->last_heard >= s->lease_ms)
            n += s_requeue_worker(s, w);
    }
    return n;
}

int64_t bt_sched_worker_stalled_ms(const bt_sched_t *s, uint32_t worker, int64_t now_ms)
{
    assert(worker < s->nworkers);
    const s_worker_t *w = &s->workers[worker];
    return w->n > 0 && now_ms > w->progress_at ? now_ms - w->progress_at : 0;
}

double bt_sched_worker_rate(const bt_sched_t *s, uint32_t worker)
{
    assert(worker < s->nworkers);
    return s->workers[worker].rate * 1000.0;
}

size_t bt_sched_worker_outstanding(const bt_sched_t *s, uint32_t worker)
{
    assert(worker < s->nworkers);
    return s->workers[worker].n;
}

uint64_t bt_sched_worker_done(const bt_sched_t *s, uint32_t worker)
{
    assert(worker < s->nworkers);
    return s->workers[worker].first;
}

bool bt_sched_finished(const bt_sched_t *s)
{
    return s->c.ok + s->c.failed == s->njobs;
}

void bt_sched_counts(const bt_sched_t *s, bt_sched_counts_t *out)
{
    *out = s->c;
    out->queued = s->njobs - s->c.ok - s->c.failed - s->c.leased - s->c.held;
}

uint64_t bt_sched_njobs(const bt_sched_t *s)
{
    return s->njobs;
}

bool bt_sched_hold(bt_sched_t *s, uint64_t job_id)
{
    if (job_id >= s->njobs || s->jobs[job_id].state != S_QUEUED)
        return false;
    s->jobs[job_id].state = S_HELD;
    s->c.held++;
    return true;
}

bool bt_sched_release(bt_sched_t *s, uint64_t job_id)
{
    if (job_id >= s->njobs || s->jobs[job_id].state != S_HELD)
        return false;
    s->jobs[job_id].state = S_QUEUED;
    s->c.held--;
    s_fifo_push(s, job_id); /* served before fresh jobs */
    return true;
}
