/* Unit tests for coordinator/bt_sched. Time is faked: every call gets an
 * explicit "now" in ms, so there are no sleeps. Expected values follow from
 * the rules in bt_sched.h, worked out next to each assertion. */
#include <criterion/criterion.h>

#include "bt_sched.h"

#define MAXB 4096
static uint64_t s_ids[MAXB];
static uint32_t s_att[MAXB];

Test(sched, lease_and_complete_in_grid_order)
{
    bt_sched_t *s = bt_sched_new(10, 3, 1000);
    cr_assert_not_null(s);
    uint32_t w = bt_sched_worker_add(s, 0);
    cr_assert_eq(w, 0);
    /* unmeasured worker: batch = 1 + jobs it completed = 1 */
    cr_assert_eq(bt_sched_batch_size(s, w), 1);
    size_t n = bt_sched_lease(s, w, 100, 0, s_ids, s_att);
    cr_assert_eq(n, 1);
    cr_assert_eq(s_ids[0], 0);
    cr_assert_eq(s_att[0], 1);
    cr_assert_eq(bt_sched_complete(s, w, 0, 1, true, 1), BT_SCHED_NEW);
    /* slow start: 1 done -> batch 2 */
    n = bt_sched_lease(s, w, 100, 1, s_ids, s_att);
    cr_assert_eq(n, 2);
    cr_assert_eq(s_ids[0], 1);
    cr_assert_eq(s_ids[1], 2);
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.ok, 1);
    cr_assert_eq(c.leased, 2);
    cr_assert_eq(c.queued, 7); /* 10 - 1 - 2 */
    cr_assert_eq(bt_sched_worker_outstanding(s, w), 2);
    /* complete out of order */
    cr_assert_eq(bt_sched_complete(s, w, 2, 1, true, 2), BT_SCHED_NEW);
    cr_assert_eq(bt_sched_complete(s, w, 1, 1, true, 2), BT_SCHED_NEW);
    int64_t t = 3;
    while (!bt_sched_finished(s)) {
        n = bt_sched_lease(s, w, 3, t, s_ids, s_att); /* credit 3 caps the batch */
        cr_assert(n >= 1 && n <= 3);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(bt_sched_complete(s, w, s_ids[i], s_att[i], true, t), BT_SCHED_NEW);
        t++;
    }
    bt_sched_counts(s, &c);
    cr_assert_eq(c.ok, 10);
    cr_assert_eq(c.queued, 0);
    cr_assert_eq(c.leased, 0);
    cr_assert_eq(bt_sched_worker_done(s, w), 10);
    cr_assert_eq(bt_sched_lease(s, w, 3, t, s_ids, s_att), 0); /* nothing left */
    bt_sched_destroy(&s);
    cr_assert_null(s);
    bt_sched_destroy(&s); /* safe twice */
}

Test(sched, duplicate_result_kept_once)
{
    bt_sched_t *s = bt_sched_new(2, 3, 1000);
    uint32_t w = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, w, 1, 0, s_ids, s_att), 1);
    cr_assert_eq(bt_sched_complete(s, w, 0, 1, true, 1), BT_SCHED_NEW);
    cr_assert_eq(bt_sched_complete(s, w, 0, 1, true, 2), BT_SCHED_DUPLICATE);
    cr_assert_eq(bt_sched_complete(s, w, 0, 1, false, 2), BT_SCHED_DUPLICATE);
    cr_assert_eq(bt_sched_complete(s, w, 99, 1, true, 2), BT_SCHED_INVALID);
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.ok, 1);
    cr_assert_eq(c.duplicates, 2);
    bt_sched_destroy(&s);
}

/* A silent worker's leases go back to the queue after lease_ms and run
 * elsewhere, before fresh jobs; the first result wins, the second is a duplicate. */
Test(sched, expiry_requeues_silent_worker)
{
    bt_sched_t *s = bt_sched_new(5, 3, 1000);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t b = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1); /* job 0 to a */
    cr_assert_eq(s_ids[0], 0);
    cr_assert_eq(bt_sched_expire(s, 999), 0);  /* 999 - 0 < 1000: still valid */
    bt_sched_heartbeat(s, b, 1000);            /* b is alive */
    cr_assert_eq(bt_sched_expire(s, 1000), 1); /* a silent for 1000 ms */
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.requeued, 1);
    cr_assert_eq(c.leased, 0);
    cr_assert_eq(bt_sched_worker_outstanding(s, a), 0);
    /* b gets the requeued job first, as attempt 2 */
    cr_assert_eq(bt_sched_lease(s, b, 1, 1001, s_ids, s_att), 1);
    cr_assert_eq(s_ids[0], 0);
    cr_assert_eq(s_att[0], 2);
    /* a comes back with its (valid) result first: kept; b's is a duplicate */
    cr_assert_eq(bt_sched_complete(s, a, 0, 1, true, 1002), BT_SCHED_NEW);
    cr_assert_eq(bt_sched_worker_outstanding(s, b), 0); /* b's lease released */
    cr_assert_eq(bt_sched_complete(s, b, 0, 2, true, 1003), BT_SCHED_DUPLICATE);
    /* then fresh jobs in order */
    cr_assert_eq(bt_sched_lease(s, b, 1, 1004, s_ids, s_att), 1);
    cr_assert_eq(s_ids[0], 1);
    cr_assert_eq(s_att[0], 1);
    bt_sched_destroy(&s);
}

Test(sched, heartbeat_extends_leases)
{
    bt_sched_t *s = bt_sched_new(3, 3, 1000);
    uint32_t w = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, w, 1, 0, s_ids, s_att), 1);
    bt_sched_heartbeat(s, w, 900);
    cr_assert_eq(bt_sched_expire(s, 1500), 0); /* 1500 - 900 < 1000 */
    cr_assert_eq(bt_sched_expire(s, 1899), 0);
    cr_assert_eq(bt_sched_expire(s, 1900), 1);
    bt_sched_destroy(&s);
}

Test(sched, retries_then_failed)
{
    bt_sched_t *s = bt_sched_new(2, 3, 1000);
    uint32_t w = bt_sched_worker_add(s, 0);
    /* attempts 1 and 2 fail -> RETRY; attempt 3 fails -> FAILED (3 failures) */
    for (uint32_t att = 1; att <= 3; att++) {
        size_t n = bt_sched_lease(s, w, 1, att, s_ids, s_att);
        cr_assert_eq(n, 1);
        cr_assert_eq(s_ids[0], 0, "attempt %u", att); /* the retry comes before job 1 */
        cr_assert_eq(s_att[0], att);
        bt_sched_outcome_t o = bt_sched_complete(s, w, 0, att, false, att);
        cr_assert_eq(o, att < 3 ? BT_SCHED_RETRY : BT_SCHED_FAILED, "attempt %u", att);
    }
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.failed, 1);
    cr_assert_eq(c.retries, 2);
    cr_assert_not(bt_sched_finished(s));
    /* the sweep goes on */
    cr_assert_eq(bt_sched_lease(s, w, 1, 10, s_ids, s_att), 1);
    cr_assert_eq(s_ids[0], 1);
    cr_assert_eq(bt_sched_complete(s, w, 1, 1, true, 11), BT_SCHED_NEW);
    cr_assert(bt_sched_finished(s));
    bt_sched_destroy(&s);
}

Test(sched, max_attempts_one)
{
    bt_sched_t *s = bt_sched_new(1, 1, 1000);
    uint32_t w = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, w, 1, 0, s_ids, s_att), 1);
    cr_assert_eq(bt_sched_complete(s, w, 0, 1, false, 1), BT_SCHED_FAILED);
    cr_assert(bt_sched_finished(s));
    bt_sched_destroy(&s);
}

/* A failure of an old attempt, while a newer attempt runs, is not counted. */
Test(sched, stale_failure_ignored)
{
    bt_sched_t *s = bt_sched_new(1, 2, 100);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t b = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1);
    bt_sched_heartbeat(s, b, 100);
    cr_assert_eq(bt_sched_expire(s, 100), 1);
    cr_assert_eq(bt_sched_lease(s, b, 1, 101, s_ids, s_att), 1);
    cr_assert_eq(s_att[0], 2);
    cr_assert_eq(bt_sched_complete(s, a, 0, 1, false, 102), BT_SCHED_STALE);
    cr_assert_eq(bt_sched_worker_outstanding(s, b), 1); /* b's lease untouched */
    cr_assert_eq(bt_sched_complete(s, b, 0, 2, true, 103), BT_SCHED_NEW);
    bt_sched_destroy(&s);
}

/* The last lease expired, then its failure arrives: it counts (same attempt),
 * and the job, already queued, is not queued twice. */
Test(sched, failure_after_expiry_counts_once)
{
    bt_sched_t *s = bt_sched_new(1, 3, 100);
    uint32_t a = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1);
    cr_assert_eq(bt_sched_expire(s, 100), 1);
    cr_assert_eq(bt_sched_complete(s, a, 0, 1, false, 101), BT_SCHED_RETRY);
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.queued, 1);
    cr_assert_eq(bt_sched_lease(s, a, 5, 102, s_ids, s_att), 1); /* one entry, not two */
    cr_assert_eq(s_att[0], 2);
    bt_sched_destroy(&s);
}

Test(sched, worker_lost_requeues)
{
    bt_sched_t *s = bt_sched_new(100, 3, 1000);
    uint32_t a = bt_sched_worker_add(s, 0);
    int64_t t = 0;
    /* grow a's batch: complete 1, 2, 4 ... */
    for (int round = 0; round < 4; round++) {
        size_t n = bt_sched_lease(s, a, 64, t, s_ids, s_att);
        for (size_t i = 0; i < n; i++)
            bt_sched_complete(s, a, s_ids[i], s_att[i], true, t);
        t++;
    }
    size_t held = bt_sched_lease(s, a, 64, t, s_ids, s_att);
    cr_assert_gt(held, 1);
    uint64_t first = s_ids[0];
    cr_assert_eq(bt_sched_worker_lost(s, a), held);
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.leased, 0);
    cr_assert_eq(c.requeued, held);
    uint32_t b = bt_sched_worker_add(s, t);
    cr_assert_eq(b, 1);
    cr_assert_eq(bt_sched_lease(s, b, 64, t, s_ids, s_att), 1); /* new worker starts at 1 */
    cr_assert_eq(s_ids[0], first);
    cr_assert_eq(s_att[0], 2);
    bt_sched_destroy(&s);
}

/* Drives worker w for `rounds` batches; each job takes 1/per_ms ms (per_ms
 * jobs finish per ms) or ms_per_job ms each. Returns the time reached. */
static int64_t s_drive(bt_sched_t *s, uint32_t w, int rounds, int per_ms, int ms_per_job, int64_t t,
                       size_t credit)
{
    for (int r = 0; r < rounds; r++) {
        size_t n = bt_sched_lease(s, w, credit, t, s_ids, s_att);
        for (size_t i = 0; i < n; i++) {
            if (per_ms > 0) {
                if (i % (size_t)per_ms == 0)
                    t++;
            } else {
                t += ms_per_job;
            }
            cr_assert_eq(bt_sched_complete(s, w, s_ids[i], s_att[i], true, t), BT_SCHED_NEW);
        }
    }
    return t;
}

Test(sched, batch_grows_for_fast_and_stays_small_for_slow)
{
    bt_sched_t *s = bt_sched_new(10000000, 3, 100000);
    uint32_t fast = bt_sched_worker_add(s, 0);
    uint32_t slow = bt_sched_worker_add(s, 0);
    /* fast: 10 jobs per ms -> batch = 10 * 150 ms = 1500 */
    s_drive(s, fast, 30, 10, 0, 0, MAXB);
    size_t bf = bt_sched_batch_size(s, fast);
    cr_assert(bf >= 1400 && bf <= 1600, "fast batch %zu", bf);
    double rate = bt_sched_worker_rate(s, fast); /* jobs/s ~ 10000 */
    cr_assert(rate > 9000 && rate < 11000, "rate %f", rate);
    /* slow: 1000 ms per job -> 0.001 * 150 = 0.15 -> 1 */
    s_drive(s, slow, 5, 0, 1000, 0, MAXB);
    cr_assert_eq(bt_sched_batch_size(s, slow), 1);
    /* the credit caps a lease even for a fast worker */
    cr_assert_eq(bt_sched_lease(s, fast, 7, 100000, s_ids, s_att), 7);
    bt_sched_destroy(&s);
}

/* The rate goes up at once: a worker whose first batches ran at 1 ms a job
 * (batches of 150) and which then runs 10 jobs a ms has batches of 1,500
 * from its first whole fast window on. By hand: the first two fast batches
 * (150 jobs, 15 ms each) and the 20 ms left of the last slow window make
 * one 50 ms window of 300 + ~20 jobs (~6.4 a ms: batch ~960; here 1,122);
 * the next batch (> 50 ms) is a window of 10 a ms: 1,500. Averaging with
 * 1/2 on each sample instead stands at (1 + 7.5) / 2 -> 636, then 1,068
 * after that batch (measured with the old rule), below 1,400. */
Test(sched, rate_rises_at_once)
{
    bt_sched_t *s = bt_sched_new(10000000, 3, 1000000);
    uint32_t w = bt_sched_worker_add(s, 0);
    int64_t t = s_drive(s, w, 12, 0, 1, 0, MAXB);
    size_t b = bt_sched_batch_size(s, w);
    cr_assert(b >= 140 && b <= 160, "slow batch %zu", b);
    s_drive(s, w, 4, 10, 0, t, MAXB);
    b = bt_sched_batch_size(s, w);
    cr_assert(b >= 1400 && b <= 1600, "batch %zu after four fast batches", b);
    bt_sched_destroy(&s);
}

Test(sched, batch_shrinks_when_worker_slows_and_is_bounded)
{
    bt_sched_t *s = bt_sched_new(10000000, 3, 1000000);
    uint32_t w = bt_sched_worker_add(s, 0);
    /* 100 jobs per ms -> 15000, bounded to 4096 */
    int64_t t = s_drive(s, w, 30, 100, 0, 0, MAXB);
    cr_assert_eq(bt_sched_batch_size(s, w), BT_SCHED_BATCH_MAX);
    /* now 100 ms per job: each completion is a 100 ms sample at 0.01 jobs/ms,
     * the average halves toward it: after 20 samples rate ~ 0.01 -> batch 2 */
    size_t n = bt_sched_lease(s, w, 20, t, s_ids, s_att);
    cr_assert_eq(n, 20);
    for (size_t i = 0; i < n; i++) {
        t += 100;
        bt_sched_complete(s, w, s_ids[i], s_att[i], true, t);
    }
    size_t b = bt_sched_batch_size(s, w);
    cr_assert(b >= 1 && b <= 3, "batch %zu", b);
    bt_sched_set_target_ms(s, 1000); /* 0.01 * 1000 = 10 */
    b = bt_sched_batch_size(s, w);
    cr_assert(b >= 9 && b <= 11, "batch %zu", b);
    bt_sched_destroy(&s);
}

/* Two workers sharing the queue: the fast one ends up with more jobs. */
Test(sched, fast_worker_gets_more_work)
{
    bt_sched_t *s = bt_sched_new(1000000, 3, 100000);
    uint32_t fast = bt_sched_worker_add(s, 0);
    uint32_t slow = bt_sched_worker_add(s, 0);
    int64_t tf = 0, ts = 0;
    while (tf < 5000 || ts < 5000) {
        if (tf <= ts)
            tf = s_drive(s, fast, 1, 0, 1, tf, MAXB); /* 1 ms per job */
        else
            ts = s_drive(s, slow, 1, 0, 20, ts, MAXB); /* 20 ms per job */
    }
    uint64_t df = bt_sched_worker_done(s, fast), ds = bt_sched_worker_done(s, slow);
    cr_assert(df > 10 * ds, "fast %llu slow %llu", (unsigned long long)df, (unsigned long long)ds);
    bt_sched_destroy(&s);
}

Test(sched, resume_marks)
{
    bt_sched_t *s = bt_sched_new(10, 3, 1000);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert(bt_sched_mark_done(s, i, true));
    cr_assert(bt_sched_mark_done(s, 7, false));
    cr_assert(bt_sched_mark_done(s, 7, false)); /* twice: no double count */
    cr_assert_not(bt_sched_mark_done(s, 10, true));
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.ok, 5);
    cr_assert_eq(c.failed, 1);
    cr_assert_eq(c.queued, 4);
    uint32_t w = bt_sched_worker_add(s, 0);
    uint64_t got[8];
    size_t ngot = 0;
    int64_t t = 0;
    while (!bt_sched_finished(s)) {
        size_t n = bt_sched_lease(s, w, 8, t, s_ids, s_att);
        cr_assert_gt(n, 0);
        for (size_t i = 0; i < n; i++) {
            got[ngot++] = s_ids[i];
            bt_sched_complete(s, w, s_ids[i], s_att[i], true, t);
        }
        t++;
    }
    cr_assert_eq(ngot, 4); /* only the missing jobs: 5, 6, 8, 9 */
    cr_assert_eq(got[0], 5);
    cr_assert_eq(got[1], 6);
    cr_assert_eq(got[2], 8);
    cr_assert_eq(got[3], 9);
    /* an ok record beats a failed one for the same job (as in the report) */
    bt_sched_t *s2 = bt_sched_new(1, 3, 1000);
    bt_sched_mark_done(s2, 0, false);
    bt_sched_mark_done(s2, 0, true);
    bt_sched_counts(s2, &c);
    cr_assert_eq(c.ok, 1);
    cr_assert_eq(c.failed, 0);
    bt_sched_destroy(&s2);
    bt_sched_destroy(&s);
}

/* Leases to w and completes (one job per ms) until `upto` jobs are done. */
static int64_t s_finish_upto(bt_sched_t *s, uint32_t w, size_t done, size_t upto, int64_t t)
{
    while (done < upto) {
        size_t n = bt_sched_lease(s, w, upto - done, t, s_ids, s_att);
        cr_assert(n > 0);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(bt_sched_complete(s, w, s_ids[i], s_att[i], true, ++t), BT_SCHED_NEW);
        done += n;
    }
    return t;
}

/* Guided tail: near the end a worker takes at most half of an equal share
 * of what is queued (ceil(queued / (2 * live workers))), so the last jobs
 * spread over all workers. 2000 jobs, two workers, a measured at 1 job/ms. */
Test(sched, batch_guided_near_the_end)
{
    bt_sched_t *s = bt_sched_new(2000, 3, 100000);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t b = bt_sched_worker_add(s, 0);
    /* 1 job per ms: the rate alone would give batches of 150 */
    int64_t t = s_finish_upto(s, a, 0, 1000, 0);
    cr_assert_eq(bt_sched_batch_size(s, a), 150); /* 150 < cap ceil(1000 / 4) = 250 */
    t = s_finish_upto(s, a, 1000, 1600, t);
    cr_assert_eq(bt_sched_batch_size(s, a), 100); /* cap ceil(400 / 4) = 100 < 150 */
    t = s_finish_upto(s, a, 1600, 1990, t);
    cr_assert_eq(bt_sched_batch_size(s, a), 3); /* ceil(10 / 4) */
    cr_assert_eq(bt_sched_batch_size(s, b), 1); /* b never ran: slow start (1 + done) */
    bt_sched_worker_lost(s, b);
    /* one worker left: no one to share the tail with, so the rate alone
     * (150; a lease then takes the 10 still queued) */
    cr_assert_eq(bt_sched_batch_size(s, a), 150);
    cr_assert_eq(bt_sched_lease(s, a, 1000, t, s_ids, s_att), 10);
    bt_sched_destroy(&s);
}

/* Held jobs (walk-forward test runs) are skipped by leases until released,
 * then go out before fresh jobs; a result for a held job is dropped; a held
 * job can be settled without running. Jobs 0..5, 4 and 5 held. */
Test(sched, held_jobs_wait_for_release)
{
    bt_sched_t *s = bt_sched_new(6, 3, 1000);
    cr_assert(bt_sched_hold(s, 4));
    cr_assert(bt_sched_hold(s, 5));
    cr_assert_not(bt_sched_hold(s, 4), "already held");
    cr_assert_not(bt_sched_hold(s, 6), "out of range");
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.held, 2);
    cr_assert_eq(c.queued, 4); /* 6 - 2 held */
    uint32_t w = bt_sched_worker_add(s, 0);
    /* A forged result for a held job: nobody can have run it. */
    cr_assert_eq(bt_sched_complete(s, w, 4, 1, true, 0), BT_SCHED_STALE);
    int64_t t = 1;
    size_t got = 0;
    while (got < 4) {
        size_t n = bt_sched_lease(s, w, 100, t, s_ids, s_att);
        cr_assert(n >= 1);
        for (size_t i = 0; i < n; i++) {
            cr_assert_lt(s_ids[i], 4, "held job %llu was leased", (unsigned long long)s_ids[i]);
            bt_sched_complete(s, w, s_ids[i], s_att[i], true, t);
        }
        got += n;
        t++;
    }
    cr_assert_eq(bt_sched_lease(s, w, 100, t, s_ids, s_att), 0, "only held jobs are left");
    cr_assert_not(bt_sched_finished(s));
    cr_assert(bt_sched_release(s, 5));
    cr_assert_not(bt_sched_release(s, 5), "not held any more");
    cr_assert_eq(bt_sched_lease(s, w, 100, t, s_ids, s_att), 1);
    cr_assert_eq(s_ids[0], 5);
    cr_assert_eq(bt_sched_complete(s, w, 5, s_att[0], true, t), BT_SCHED_NEW);
    /* Job 4 is settled without a run (a window with nothing to test). */
    cr_assert(bt_sched_mark_done(s, 4, true));
    bt_sched_counts(s, &c);
    cr_assert_eq(c.held, 0);
    cr_assert_eq(c.ok, 6);
    cr_assert(bt_sched_finished(s));
    cr_assert_eq(bt_sched_njobs(s), 6);
    bt_sched_destroy(&s);
}

/* Only the holder of a job's current attempt settles it: another worker, a
 * job never leased, or a made-up attempt number is FOREIGN and changes nothing. */
Test(sched, results_only_from_the_lease_holder)
{
    bt_sched_t *s = bt_sched_new(4, 3, 1000);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t m = bt_sched_worker_add(s, 0); /* a forger: holds nothing */
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1); /* job 0, attempt 1, to a */
    cr_assert_eq(bt_sched_complete(s, m, 0, 1, true, 1), BT_SCHED_FOREIGN);
    cr_assert_eq(bt_sched_complete(s, m, 0, 1, false, 1), BT_SCHED_FOREIGN);
    cr_assert_eq(bt_sched_complete(s, m, 2, 0, true, 1), BT_SCHED_FOREIGN); /* never leased */
    cr_assert_eq(bt_sched_complete(s, a, 2, 1, true, 1), BT_SCHED_FOREIGN); /* not a's */
    cr_assert_eq(bt_sched_complete(s, a, 0, 7, true, 1), BT_SCHED_FOREIGN); /* no attempt 7 */
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.foreign, 5);
    cr_assert_eq(c.ok + c.failed, 0);
    cr_assert_eq(c.leased, 1);
    cr_assert_eq(bt_sched_worker_outstanding(s, a), 1); /* a's lease untouched */
    cr_assert_eq(bt_sched_complete(s, a, 0, 1, true, 2), BT_SCHED_NEW);
    bt_sched_destroy(&s);
}

/* A job that loses its lease max_attempts times (worker killed or silent) is
 * FAILED, handed to the caller once; a late answer then is a duplicate. */
Test(sched, lost_leases_count_as_attempts)
{
    bt_sched_t *s = bt_sched_new(1, 2, 100);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t b = bt_sched_worker_add(s, 0);
    uint64_t id = 99;
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1);
    cr_assert_eq(bt_sched_worker_lost(s, a), 1); /* 1st loss: requeued */
    cr_assert_not(bt_sched_take_lost_failed(s, &id));
    cr_assert_eq(bt_sched_lease(s, b, 1, 1, s_ids, s_att), 1);
    cr_assert_eq(s_att[0], 2);
    cr_assert_eq(bt_sched_expire(s, 101), 1); /* 2nd loss (b silent): FAILED */
    cr_assert(bt_sched_take_lost_failed(s, &id));
    cr_assert_eq(id, 0);
    cr_assert_not(bt_sched_take_lost_failed(s, &id));
    cr_assert_eq(bt_sched_job_attempt(s, 0), 2);
    cr_assert(bt_sched_finished(s));
    bt_sched_counts_t c;
    bt_sched_counts(s, &c);
    cr_assert_eq(c.failed, 1);
    cr_assert_eq(bt_sched_complete(s, b, 0, 2, true, 102), BT_SCHED_DUPLICATE);
    bt_sched_destroy(&s);
}

/* The previous holder's late result is kept once; the current holder's then
 * is a duplicate; a holder two leases back is FOREIGN. */
Test(sched, late_result_only_from_the_previous_holder)
{
    bt_sched_t *s = bt_sched_new(1, 5, 100);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t b = bt_sched_worker_add(s, 0);
    uint32_t c3 = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1); /* attempt 1: a */
    bt_sched_worker_lost(s, a);
    cr_assert_eq(bt_sched_lease(s, b, 1, 1, s_ids, s_att), 1); /* attempt 2: b */
    bt_sched_worker_lost(s, b);
    cr_assert_eq(bt_sched_lease(s, c3, 1, 2, s_ids, s_att), 1); /* attempt 3: c3 */
    cr_assert_eq(bt_sched_complete(s, a, 0, 1, true, 3), BT_SCHED_FOREIGN);
    cr_assert_eq(bt_sched_complete(s, b, 0, 2, true, 3), BT_SCHED_NEW);
    cr_assert_eq(bt_sched_worker_outstanding(s, c3), 0);
    cr_assert_eq(bt_sched_complete(s, c3, 0, 3, true, 4), BT_SCHED_DUPLICATE);
    bt_sched_destroy(&s);
}

/* Connect/disconnect churn: 100,000 workers that join and leave for good
 * take one slot between them, not 100,000 (memory bounded). */
Test(sched, released_slots_are_reused_under_churn)
{
    bt_sched_t *s = bt_sched_new(10, 3, 100);
    for (int i = 0; i < 100000; i++) {
        uint32_t w = bt_sched_worker_add(s, i);
        cr_assert_neq(w, BT_SCHED_NO_WORKER);
        bt_sched_worker_lost(s, w);
        bt_sched_worker_release(s, w);
    }
    cr_assert_eq(bt_sched_worker_slots(s), 1, "slots: %u", bt_sched_worker_slots(s));
    bt_sched_counts_t k;
    bt_sched_counts(s, &k);
    cr_assert_eq(k.workers, 100000, "every worker is still counted as added");
    bt_sched_destroy(&s);
}

/* A slot a job still names (holder of the current or previous attempt) is
 * not handed to a newcomer: its late result must not be credited to it. */
Test(sched, a_slot_named_by_a_job_is_not_reused)
{
    bt_sched_t *s = bt_sched_new(1, 5, 100);
    uint32_t a = bt_sched_worker_add(s, 0);
    cr_assert_eq(bt_sched_lease(s, a, 1, 0, s_ids, s_att), 1); /* attempt 1: a */
    bt_sched_worker_release(s, a);                              /* requeued, a gone */
    uint32_t b = bt_sched_worker_add(s, 1);
    cr_assert_neq(b, a, "job 0 names a as its previous holder");
    cr_assert_eq(bt_sched_lease(s, b, 1, 1, s_ids, s_att), 1); /* attempt 2: b, prev a */
    bt_sched_worker_release(s, b);                              /* attempt 3 will follow */
    uint32_t c3 = bt_sched_worker_add(s, 2);
    cr_assert(c3 != a && c3 != b);
    cr_assert_eq(bt_sched_lease(s, c3, 1, 2, s_ids, s_att), 1); /* attempt 3: prev b */
    /* a is no longer named by any attempt: the next newcomer gets its slot */
    uint32_t d = bt_sched_worker_add(s, 3);
    cr_assert_eq(d, a);
    cr_assert_eq(bt_sched_complete(s, d, 0, 1, true, 4), BT_SCHED_FOREIGN,
                 "attempt 1 was a's, not the newcomer's");
    bt_sched_destroy(&s);
}

/* A lost batch of several jobs counts an attempt for none of them; each
 * becomes a suspect, leased alone to a worker holding nothing else, and
 * that worker gets nothing more until it is settled. A suspect lost alone
 * counts: after 3 (max_attempts) it is FAILED; the others of its first
 * batch finish. */
Test(sched, lost_batch_jobs_become_suspects_run_alone)
{
    bt_sched_t *s = bt_sched_new(1000, 3, 100000);
    uint32_t a = bt_sched_worker_add(s, 0);
    uint32_t b = bt_sched_worker_add(s, 0);
    int64_t t = s_drive(s, a, 8, 0, 1, 0, 20); /* some done, batches of credit 20 */
    size_t n = bt_sched_lease(s, a, 5, t, s_ids, s_att);
    cr_assert_eq(n, 5);
    uint64_t batch0 = s_ids[0];
    cr_assert_eq(bt_sched_worker_lost(s, a), 5);
    uint64_t id;
    cr_assert_not(bt_sched_take_lost_failed(s, &id), "a lost batch fails nobody");
    /* b: one suspect at a time, nothing more while it holds it */
    cr_assert_eq(bt_sched_lease(s, b, 100, t, s_ids, s_att), 1);
    uint64_t first = s_ids[0];
    cr_assert_eq(first, batch0);
    cr_assert_eq(bt_sched_lease(s, b, 100, t, s_ids, s_att), 0, "holds a suspect");
    /* b crashes on it (alone: counted). Then a fresh worker per lease: each
     * lease is one suspect (FIFO order); `first` crashes its worker each
     * time, the other four finish; `first` is FAILED at its third lone loss. */
    cr_assert_eq(bt_sched_worker_lost(s, b), 1);
    cr_assert_not(bt_sched_take_lost_failed(s, &id));
    int lone_losses = 1, finished = 0;
    uint32_t c = b;
    while (!bt_sched_take_lost_failed(s, &id)) {
        c = bt_sched_worker_add(s, t);
        cr_assert_eq(bt_sched_lease(s, c, 100, t, s_ids, s_att), 1, "suspects go alone");
        if (s_ids[0] == first) {
            cr_assert_eq(bt_sched_worker_lost(s, c), 1);
            lone_losses++;
        } else {
            cr_assert_eq(bt_sched_complete(s, c, s_ids[0], s_att[0], true, ++t), BT_SCHED_NEW);
            finished++;
        }
        cr_assert_leq(lone_losses + finished, 20, "no end");
    }
    cr_assert_eq(id, first);
    cr_assert_eq(lone_losses, 3);
    cr_assert_eq(finished, 4, "the four batched with it finish");
    /* then fresh jobs, no longer one lease at a time: a new worker (slow
     * start: 1 job) may hold a second lease beside the first */
    c = bt_sched_worker_add(s, t);
    cr_assert_eq(bt_sched_lease(s, c, 100, t, s_ids, s_att), 1);
    cr_assert_geq(bt_sched_lease(s, c, 100, t, s_ids, s_att), 1);
    bt_sched_counts_t k;
    bt_sched_counts(s, &k);
    cr_assert_eq(k.failed, 1);
    bt_sched_destroy(&s);
}
