/* Workers and the coordinator killed at random moments (issue 10): 10 trials
 * with a fixed seed; in each, 1 to 3 events, each after a random amount of
 * journal progress: SIGKILL a worker (a new one takes its place) or SIGKILL
 * the coordinator (restarted with --resume on the same endpoint, where the
 * running workers find it again). Every trial's report must equal the
 * undisturbed sweep's byte for byte. The seed fixes the actions and their
 * progress thresholds; when they land still depends on the machine, which is
 * the point. Waits are on conditions (journal size, process exit), bounded. */
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>

#include "sweep_fixture.h"

#define S_TRIALS 10
#define S_SEED 20261130u

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "integrity-random");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(integrity_random, .init = s_setup, .fini = s_teardown, .timeout = 300);

static uint32_t s_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u; /* Numerical Recipes LCG */
    return *state >> 8;
}

static off_t s_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Waits until the journal has grown by extra bytes or the coordinator has
 * exited; returns its exit code, or -1 while it runs. */
static int s_wait_growth(pid_t coord, const char *journal, off_t extra)
{
    off_t want = s_size(journal) + extra;
    int64_t deadline = bt_proc_now_ms() + 60000;
    for (;;) {
        int rc = bt_proc_wait(coord, 0);
        if (rc != -1)
            return rc;
        if (s_size(journal) >= want)
            return -1;
        cr_assert(bt_proc_now_ms() < deadline, "no progress in %s for 60 s", journal);
        bt_proc_nap();
    }
}

/* --resume on the same endpoint. On loopback a worker reconnecting to the
 * dead coordinator's port can be given that very port as its own source port
 * (a TCP self-connect) and hold it for a moment: the bind then fails, and we
 * start again (bounded) until the port is free. */
static pid_t s_restart_coord(const char *out, const char *ep)
{
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, out);
    snprintf(log, sizeof log, "%s.log", odir);
    char *argv[] = {f.bt,  "sweep",  f.cfg,      "--resume",   odir,   "--workers",
                    "0",   "--bind", (char *)ep, "--lease-ms", "1000", "--heartbeat-ms",
                    "100", NULL};
    int64_t deadline = bt_proc_now_ms() + 60000;
    for (;;) {
        size_t before = 0;
        free(bt_proc_slurp(log, &before));
        pid_t pid = bt_proc_spawn(argv, log);
        cr_assert(pid > 0);
        for (;;) {
            char *text = bt_proc_slurp(log, NULL);
            bool up = text && strstr(text + before, "listening on ");
            free(text);
            if (up)
                return pid;
            int rc = bt_proc_wait(pid, 0);
            if (rc != -1) {
                cr_assert(sfx_log_has(&f, out, "cannot bind"), "coordinator exited %d (see %s)", rc,
                          log);
                break;
            }
            cr_assert(bt_proc_now_ms() < deadline, "coordinator did not start (see %s)", log);
            bt_proc_nap();
        }
        cr_assert(bt_proc_now_ms() < deadline, "%s stayed in use for 60 s (see %s)", ep, log);
        bt_proc_nap();
    }
}

Test(integrity_random, random_kills_give_the_same_report)
{
    uint32_t rs = S_SEED;
    int worker_kills = 0, coord_kills = 0;
    for (int t = 0; t < S_TRIALS; t++) {
        char out[32], jpath[400], ep[256], name[48];
        snprintf(out, sizeof out, "rand%d", t);
        snprintf(jpath, sizeof jpath, "%s/%s/journal.btj", f.dir, out);
        pid_t coord = sfx_start_coord(&f, out, "tcp://127.0.0.1:*", false, ep, sizeof ep);
        pid_t w[2];
        int nw = 0;
        for (int i = 0; i < 2; i++) {
            snprintf(name, sizeof name, "t%d-w%d", t, nw++);
            w[i] = sfx_start_worker(&f, ep, name, 10);
        }
        int events = 1 + (int)(s_rand(&rs) % 3);
        int rc = -1;
        for (int e = 0; e < events && rc == -1; e++) {
            off_t extra = 1 + (off_t)(s_rand(&rs) % 2000); /* about 0 to 9 records */
            bool kill_coord = s_rand(&rs) % 2 == 0;
            int victim = (int)(s_rand(&rs) % 2);
            rc = s_wait_growth(coord, jpath, extra);
            if (rc != -1)
                break; /* finished before this event */
            if (kill_coord) {
                cr_assert_eq(kill(coord, SIGKILL), 0);
                int crc = bt_proc_wait(coord, 30000);
                if (crc != 128 + SIGKILL) { /* it had just finished on its own */
                    rc = crc;
                    break;
                }
                coord = s_restart_coord(out, ep);
                coord_kills++;
            } else {
                cr_assert_eq(kill(w[victim], SIGKILL), 0);
                /* reaped whatever its end (it may have just left on BYE) */
                cr_assert_neq(bt_proc_wait(w[victim], 30000), -1);
                snprintf(name, sizeof name, "t%d-w%d", t, nw++);
                w[victim] = sfx_start_worker(&f, ep, name, 10);
                worker_kills++;
            }
        }
        if (rc == -1)
            rc = bt_proc_wait(coord, 90000);
        cr_assert_eq(rc, 0, "trial %d: coordinator exit %d (see %s/%s.log)", t, rc, f.dir, out);
        sfx_assert_same_report(&f, "ref", out);
        for (int i = 0; i < 2; i++) { /* they leave on BYE; make sure */
            kill(w[i], SIGTERM);
            bt_proc_wait(w[i], 10000);
        }
    }
    cr_log_info("%d worker kills, %d coordinator kills over %d trials", worker_kills, coord_kills,
                S_TRIALS);
    cr_assert_gt(worker_kills + coord_kills, 0, "no kill landed: nothing was tested");
}
