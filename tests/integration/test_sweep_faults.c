/* Faults during a sweep, with real processes: a worker SIGKILLed, a worker
 * SIGSTOPped (silent, its leases expire), the coordinator SIGKILLed and then
 * resumed. Each time the report must equal an undisturbed sweep's, byte for
 * byte. Workers are slowed (--debug-job-ms) so the faults land mid-sweep. */
#include <stdint.h>

#include "bt_journal.h"
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "sweep-faults");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void) { bt_proc_kill_all(); }

TestSuite(sweep_faults, .init = s_setup, .fini = s_teardown, .timeout = 150);

Test(sweep_faults, worker_sigkill_mid_sweep)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "kill", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    /* w1 alone until it has journaled results: it then holds leases (the
     * coordinator leases on every credit while jobs are queued), so the sweep
     * can only end after its lease expires, however loaded the machine is */
    pid_t w1 = sfx_start_worker(&f, ep, "w1", 40);
    sfx_wait_progress(&f, "kill", 1);
    cr_assert_eq(kill(w1, SIGKILL), 0);
    cr_assert_eq(bt_proc_wait(w1, 10000), 128 + SIGKILL);
    sfx_start_worker(&f, ep, "w2", 40);
    sfx_start_worker(&f, ep, "w3", 40);
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see kill.log)");
    sfx_assert_same_report(&f, "ref", "kill");
    /* w1 went silent and was dropped via the lease timeout */
    cr_assert(sfx_log_has(&f, "kill", "worker w1 silent"));
}

Test(sweep_faults, worker_sigstop_leases_expire)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "stop", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    /* w1 alone until it has journaled results (see worker_sigkill_mid_sweep) */
    pid_t w1 = sfx_start_worker(&f, ep, "w1", 40);
    sfx_wait_progress(&f, "stop", 1);
    cr_assert_eq(kill(w1, SIGSTOP), 0);
    sfx_start_worker(&f, ep, "w2", 40);
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see stop.log)");
    sfx_assert_same_report(&f, "ref", "stop");
    cr_assert(sfx_log_has(&f, "stop", "worker w1 silent"));
    kill(w1, SIGKILL); /* teardown would too; reap it now */
    kill(w1, SIGCONT);
    bt_proc_wait(w1, 10000);
}

/* Reads the header text of a journal (format in coordinator/bt_journal.c:
 * "BTJRNL1\n", u32 LE length, text). */
static char *s_journal_header(const char *path)
{
    size_t len = 0;
    char *raw = bt_proc_slurp(path, &len);
    cr_assert(raw && len >= 12 && memcmp(raw, "BTJRNL1\n", 8) == 0);
    const unsigned char *u = (const unsigned char *)raw + 8;
    uint32_t n = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    cr_assert(12 + (size_t)n <= len);
    char *h = malloc(n + 1);
    memcpy(h, raw + 12, n);
    h[n] = '\0';
    free(raw);
    return h;
}

typedef struct {
    uint32_t seen[SFX_NJOBS];
    uint64_t records, bad;
} s_count_t;

static void s_count(void *user, const bt_journal_rec_t *r)
{
    s_count_t *c = user;
    c->records++;
    if (r->job_id < SFX_NJOBS)
        c->seen[r->job_id]++;
    else
        c->bad++;
}

Test(sweep_faults, coordinator_sigkill_then_resume)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "crash", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    /* One worker, stopped once results are journaled: the sweep cannot end
     * before the kill, however slowly this test process is scheduled. */
    pid_t w1 = sfx_start_worker(&f, ep, "w1", 30);
    sfx_wait_progress(&f, "crash", 200);
    cr_assert_eq(kill(w1, SIGSTOP), 0);
    cr_assert_eq(kill(coord, SIGKILL), 0);
    cr_assert_eq(bt_proc_wait(coord, 10000), 128 + SIGKILL);
    cr_assert_eq(kill(w1, SIGCONT), 0);
    sfx_start_worker(&f, ep, "w2", 30);
    char results[400];
    snprintf(results, sizeof results, "%s/crash/results.csv", f.dir);
    cr_assert(access(results, F_OK) != 0, "the sweep finished before the kill; nothing tested");

    /* Restart on the same endpoint: the same workers reconnect (new socket, back-off). */
    char ep2[256];
    coord = sfx_start_coord(&f, "crash", ep, true, ep2, sizeof ep2);
    cr_assert_str_eq(ep2, ep);
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "resumed coordinator failed (see crash.log)");
    sfx_assert_same_report(&f, "ref", "crash");
    cr_assert(sfx_log_has(&f, "crash", "resume: "));

    /* The journal holds each job exactly once: no finished job ran twice. */
    char dir[400], jpath[420];
    snprintf(dir, sizeof dir, "%s/crash", f.dir);
    snprintf(jpath, sizeof jpath, "%s/journal.btj", dir);
    char *header = s_journal_header(jpath);
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(dir, header, true, &eb);
    cr_assert(j, "%s", eb.msg);
    s_count_t c;
    memset(&c, 0, sizeof c);
    cr_assert_eq(bt_journal_replay(j, s_count, &c, &eb), BT_OK, "%s", eb.msg);
    bt_journal_close(&j);
    free(header);
    cr_assert_eq(c.bad, 0);
    cr_assert_eq(c.records, SFX_NJOBS, "%llu records for %d jobs", (unsigned long long)c.records,
                 SFX_NJOBS);
    for (int i = 0; i < SFX_NJOBS; i++)
        cr_assert_eq(c.seen[i], 1, "job %d journaled %u times", i, c.seen[i]);
}

Test(sweep_faults, sigint_writes_partial_report_and_resumes)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "int", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    pid_t w1 = sfx_start_worker(&f, ep, "w1", 30);
    sfx_wait_progress(&f, "int", 1);
    cr_assert_eq(kill(w1, SIGSTOP), 0); /* the sweep cannot finish before the SIGINT */
    cr_assert_eq(kill(coord, SIGINT), 0);
    cr_assert_eq(bt_proc_wait(coord, 30000), 1, "interrupted sweep exits 1");
    cr_assert_eq(kill(w1, SIGCONT), 0);
    cr_assert(sfx_log_has(&f, "int", "--resume"), "tells the user how to resume");
    char p[400];
    snprintf(p, sizeof p, "%s/int/results.csv", f.dir);
    cr_assert_eq(bt_proc_count_lines(p), 1 + SFX_NJOBS, "partial report has every grid row");
    char ep2[256];
    coord = sfx_start_coord(&f, "int", ep, true, ep2, sizeof ep2);
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "resumed coordinator failed (see int.log)");
    sfx_assert_same_report(&f, "ref", "int");
}

/* A batch that takes longer than the lease: the worker's executor thread runs
 * it while the main thread keeps heartbeating, so the coordinator must not
 * take the worker for dead nor run the job again. Lease 1000 ms (see
 * sfx_start_coord), each job 1500 ms. Before the executor thread existed this
 * sweep requeued its jobs after every lease and never finished. */
Test(sweep_faults, batch_longer_than_lease_is_not_requeued)
{
    sfx_t g = f; /* same store; a 2-point grid of its own */
    sfx_path(g.cfg, sizeof g.cfg, &f, "long.yaml");
    FILE *c = fopen(g.cfg, "w");
    cr_assert(c);
    fprintf(c, "strategy: sma_cross\ndata:\n  store: %s\ncapital: 100000\nrank_by: sharpe\n"
               "sweep:\n  params.fast: [5, 6]\n  params.slow: [20]\n",
            f.store);
    fclose(c);
    char ep[256];
    pid_t coord = sfx_start_coord(&g, "long", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    pid_t w = sfx_start_worker(&g, ep, "slow", 1500);
    cr_assert_eq(bt_proc_wait(coord, 60000), 0, "coordinator failed (see long.log)");
    cr_assert_not(sfx_log_has(&g, "long", "silent"), "the busy worker was taken for dead");
    char summary[400];
    snprintf(summary, sizeof summary, "%s/long/summary.txt", f.dir);
    size_t len = 0;
    char *text = bt_proc_slurp(summary, &len);
    cr_assert(text, "no %s", summary);
    cr_assert(strstr(text, "2 ok, 0 failed"), "summary: %s", text);
    cr_assert(strstr(text, "0 leases requeued"), "summary: %s", text);
    free(text);
    kill(w, SIGTERM);
    bt_proc_wait(w, 10000);
}
