/* sweep_fixture — shared set-up of the bt sweep integration tests: a temp
 * folder with a small synthetic store (2 symbols x 500 bars) and a config
 * whose grid has 55 points; starting coordinators and workers as real
 * processes on tcp://127.0.0.1 with OS-chosen ports. */
#ifndef SWEEP_FIXTURE_H
#define SWEEP_FIXTURE_H

#include <criterion/criterion.h>

#include "bt_proc.h"

#define SFX_NJOBS 55 /* 11 fast values x 5 slow values */

typedef struct {
    char dir[256];   /* temp folder */
    char store[320]; /* dir/bars.h5 */
    char cfg[320];   /* dir/sweep.yaml */
    char bt[512];    /* BT_BIN_DIR/bt */
    char worker[512];
} sfx_t;

static inline void sfx_path(char *out, size_t cap, const sfx_t *f, const char *name)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static inline void sfx_setup(sfx_t *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    cr_assert(bt_proc_tmpdir(f->dir, sizeof f->dir, tag));
    char cache[320]; /* workers without --data fetch into their cache: keep it here, not in $HOME */
    snprintf(cache, sizeof cache, "%s/xdg-cache", f->dir);
    setenv("XDG_CACHE_HOME", cache, 1);
    snprintf(f->bt, sizeof f->bt, "%s/bt", BT_BIN_DIR);
    snprintf(f->worker, sizeof f->worker, "%s/bt-worker", BT_BIN_DIR);
    sfx_path(f->store, sizeof f->store, f, "bars.h5");
    sfx_path(f->cfg, sizeof f->cfg, f, "sweep.yaml");
    char log[320];
    sfx_path(log, sizeof log, f, "synth.log");
    char *argv[] = {f->bt, "data", "synth", "--out", f->store, "--symbols", "2", "--bars", "500",
                    "--seed", "7", NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 0, "bt data synth failed (see %s)", log);
    FILE *c = fopen(f->cfg, "w");
    cr_assert(c);
    fprintf(c, "strategy: sma_cross\n"
               "data:\n"
               "  store: %s\n"
               "capital: 100000\n"
               "rank_by: sharpe\n"
               "top: 20\n"
               "sweep:\n"
               "  params.fast: {from: 2, to: 12, step: 1}\n"
               "  params.slow: [20, 30, 40, 50, 60]\n",
            f->store);
    fclose(c);
}

/* bt sweep CONFIG --out DIR/out --workers N, to the end. Returns the exit code. */
static inline int sfx_sweep_local(const sfx_t *f, const char *out, int workers)
{
    char odir[320], log[340], nw[16];
    sfx_path(odir, sizeof odir, f, out);
    snprintf(log, sizeof log, "%s.log", odir);
    snprintf(nw, sizeof nw, "%d", workers);
    char *argv[] = {(char *)f->bt, "sweep", (char *)f->cfg, "--out", odir, "--workers", nw, NULL};
    return bt_proc_run(argv, log, 120000);
}

/* Starts a coordinator for remote workers only, with short leases; extra
 * arguments (NULL-terminated) are appended. Writes its endpoint. */
static inline pid_t sfx_start_coord(const sfx_t *f, const char *out, const char *bind,
                                    bool resume, char *endpoint, size_t cap)
{
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, f, out);
    snprintf(log, sizeof log, "%s.log", odir);
    char *argv[] = {(char *)f->bt, "sweep", (char *)f->cfg, resume ? "--resume" : "--out", odir,
                    "--workers", "0", "--bind", (char *)bind, "--lease-ms", "1000",
                    "--heartbeat-ms", "100", NULL};
    /* Only new text counts: a resumed coordinator appends to the same log. */
    size_t before = 0;
    char *old = bt_proc_slurp(log, &before);
    free(old);
    pid_t pid = bt_proc_spawn(argv, log);
    cr_assert(pid > 0);
    int64_t deadline = bt_proc_now_ms() + 30000;
    for (;;) {
        size_t len = 0;
        char *text = bt_proc_slurp(log, &len);
        char *hit = text && len > before ? strstr(text + before, "listening on ") : NULL;
        if (hit) {
            hit += strlen("listening on ");
            size_t n = strcspn(hit, "\r\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(endpoint, hit, n);
            endpoint[n] = '\0';
            free(text);
            return pid;
        }
        free(text);
        cr_assert(bt_proc_now_ms() < deadline, "coordinator did not start (see %s)", log);
        cr_assert(bt_proc_wait(pid, 0) == -1, "coordinator exited early (see %s)", log);
        bt_proc_nap();
    }
}

/* Starts bt-worker --connect endpoint, named name, each job slowed by delay_ms. */
static inline pid_t sfx_start_worker(const sfx_t *f, const char *endpoint, const char *name,
                                     int delay_ms)
{
    char log[340], delay[16];
    snprintf(log, sizeof log, "%s/%s.log", f->dir, name);
    snprintf(delay, sizeof delay, "%d", delay_ms);
    char *argv[] = {(char *)f->worker, "--connect", (char *)endpoint, "--threads", "1", "--name",
                    (char *)name, "--debug-job-ms", delay, "--idle-exit", "60",
                    "--backoff-max-ms", "500", NULL};
    pid_t pid = bt_proc_spawn(argv, log);
    cr_assert(pid > 0);
    return pid;
}

/* Waits until out's journal holds more than its header (some results are durable). */
static inline void sfx_wait_progress(const sfx_t *f, const char *out, off_t extra)
{
    char j[400];
    snprintf(j, sizeof j, "%s/%s/journal.btj", f->dir, out);
    cr_assert(bt_proc_wait_size(j, 1, 30000), "no journal in %s", j);
    struct stat st;
    cr_assert(stat(j, &st) == 0);
    cr_assert(bt_proc_wait_size(j, st.st_size + extra, 30000), "the sweep made no progress");
}

static inline void sfx_assert_same_report(const sfx_t *f, const char *a, const char *b)
{
    const char *files[] = {"results.csv", "ranking.csv"};
    for (int i = 0; i < 2; i++) {
        char pa[400], pb[400];
        snprintf(pa, sizeof pa, "%s/%s/%s", f->dir, a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s/%s", f->dir, b, files[i]);
        cr_assert(bt_proc_same_file(pa, pb), "%s and %s differ", pa, pb);
    }
}

static inline bool sfx_log_has(const sfx_t *f, const char *name, const char *needle)
{
    char log[400];
    snprintf(log, sizeof log, "%s/%s.log", f->dir, name);
    char *text = bt_proc_slurp(log, NULL);
    bool hit = text && strstr(text, needle);
    free(text);
    return hit;
}

#endif
