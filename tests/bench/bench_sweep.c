/* bench_sweep — throughput of `bt sweep` through one coordinator (not a test;
 * run by scripts/bench, or directly: build/bench/bench_sweep [--quick]
 * [--grid | --scale]).
 *
 * 1. Dispatch: trivial jobs (bt-worker --trivial answers without running a
 *    backtest) on a large grid: jobs/s through the coordinator, including
 *    journaling every result with group fdatasync and writing the report.
 * 2. End to end: a real sma_cross sweep on a synthetic store (4 symbols x
 *    2520 daily bars): backtests/s and bar-events/s with 1 and 2 local
 *    workers, and the 2/1 ratio.
 * 3. The grid fast path on the grid of issue 15 (7,838 sma_cross points on
 *    one symbol of 50,000 bars): bar-events/s with 1 and 2 workers and one
 *    worker of 2 threads, and the per-point path (BT_FAST=0, one run) for
 *    the ratio; then the same points on 200,000 bars (a few seconds) for
 *    the 2-core scaling, and those bars again under a grid with costs as
 *    axes (9,216 points on 20 columns). --grid runs part 3 alone.
 * 4. Scale: 100,000 and 1,000,000 points on a tiny dataset (memory per
 *    result, journal bytes per result, the PBO's cost and stability).
 * Each figure is the median of 3 runs (4: one run). Targets: >= 20,000 jobs/s dispatch,
 * >= 1.8x from 1 to 2 workers (needs 2 idle cores), >= 300 M bar-events/s
 * for the fast path with one worker. */
#define _XOPEN_SOURCE 700
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../integration/bt_proc.h"

static char s_bt[4096];
static char s_dir[256];

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void s_write_config(const char *path, const char *store, int fast_to, int slow_to,
                           int slow_step)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f,
            "strategy: sma_cross\ndata:\n  store: %s\ncapital: 100000\nrank_by: sharpe\n"
            "sweep:\n  params.fast: {from: 2, to: %d, step: 1}\n"
            "  params.slow: {from: %d, to: %d, step: %d}\n",
            store, fast_to, fast_to + 1, fast_to + slow_to, slow_step);
    fclose(f);
}

static const char *s_keys; /* --keys DIR for the sweeps (NULL: plain TCP) */
static double s_phase; /* last sweep's "wall time" from summary.txt: start to last result */
static double s_rss;   /* last sweep's coordinator peak RSS (MB) from summary.txt */

static int s_threads = 1; /* threads per local worker in s_sweep */

/* Runs one sweep; returns wall seconds (< 0 on failure). */
static double s_sweep(const char *cfg, const char *tag, int workers, bool trivial)
{
    char out[512], log[512], nw[16], nt[16];
    snprintf(out, sizeof out, "%s/%s", s_dir, tag);
    snprintf(log, sizeof log, "%s/%s.log", s_dir, tag);
    snprintf(nw, sizeof nw, "%d", workers);
    snprintf(nt, sizeof nt, "%d", s_threads);
    char *argv[16] = {s_bt,        "sweep", (char *)cfg, "--out", out, "--workers", nw,
                      "--threads", nt,      "--log-level", "warn"};
    int k = 11;
    if (s_keys) {
        argv[k++] = "--keys";
        argv[k++] = (char *)s_keys;
    }
    if (trivial)
        argv[k++] = "--trivial";
    argv[k] = NULL;
    int64_t t0 = bt_proc_now_ms();
    int rc = bt_proc_run(argv, log, 600000);
    double s = (double)(bt_proc_now_ms() - t0) / 1000.0;
    char sum[600];
    snprintf(sum, sizeof sum, "%s/summary.txt", out);
    size_t len = 0;
    char *text = bt_proc_slurp(sum, &len);
    const char *w = text ? strstr(text, "wall time:") : NULL;
    s_phase = w ? strtod(w + strlen("wall time:"), NULL) : 0.0;
    const char *m = text ? strstr(text, "coordinator peak RSS") : NULL;
    s_rss = m ? strtod(m + strlen("coordinator peak RSS"), NULL) : 0.0;
    free(text);
    char rm[1100];
    snprintf(rm, sizeof rm, "rm -rf '%s'", out);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", out);
    if (rc != 0) {
        fprintf(stderr, "sweep %s failed (exit %d), see %s\n", tag, rc, log);
        return -1.0;
    }
    return s;
}

static double s_median_phase; /* median of s_phase over the last s_median3 */

static double s_median3(const char *cfg, const char *tag, int workers, bool trivial)
{
    double t[3], p[3];
    for (int i = 0; i < 3; i++) {
        t[i] = s_sweep(cfg, tag, workers, trivial);
        if (t[i] < 0)
            exit(1);
        p[i] = s_phase;
    }
    qsort(t, 3, sizeof t[0], s_cmp);
    qsort(p, 3, sizeof p[0], s_cmp);
    s_median_phase = p[1];
    return t[1];
}

/* ---- 4. Scale (issue 15): a 1,000,000-point sweep on a tiny dataset ----
 *
 * sma_cross on one symbol of 400 bars, fast 2..51 x slow 52..251 x
 * commission_pct (10 values: 100,000 points; 100 values: 1,000,000; --quick:
 * a tenth of each), 2 local workers. Per run: the whole command and the
 * sweep phase, the coordinator's peak RSS at the last result (summary.txt)
 * and for the whole command (its largest process), journal bytes per
 * result, the PBO line. Then the PBO on the trials of the larger run (read
 * back from its journal): its cost with every C(16, 8) split and with the
 * default sample, and how the estimate varies with the number of sampled
 * splits (3 seeds each). */

#include <math.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "bt_journal.h"
#include "bt_overfit.h"
#include "bt_report.h"

typedef struct {
    float *stats;  /* trials x 16 x (mean, M2) */
    size_t n, cap; /* trials kept, room */
    uint64_t nret; /* returns of the first trial; others must match */
} s_trials_t;

static void s_take_trial(void *user, const bt_journal_rec_t *r)
{
    s_trials_t *t = user;
    bt_journal_rec_t f = *r;
    bt_report_blocks_f32(&f);
    if (!f.ok || f.nblk != 48 || !f.blk_f32)
        return;
    uint64_t n = 0;
    for (int b = 0; b < 16; b++)
        n += (uint64_t)f.blk[3 * b];
    if (!t->nret)
        t->nret = n;
    if (n != t->nret)
        return;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1 << 16;
        t->stats = realloc(t->stats, t->cap * 32 * sizeof *t->stats);
        if (!t->stats)
            exit(1);
    }
    for (int b = 0; b < 16; b++) {
        t->stats[t->n * 32 + 2 * b] = (float)f.blk[3 * b + 1];
        t->stats[t->n * 32 + 2 * b + 1] = (float)f.blk[3 * b + 2];
    }
    t->n++;
}

static double s_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double s_wall_s(void)
{
    return (double)bt_proc_now_ms() / 1000.0;
}

/* One scale sweep of npoints; keeps its folder (returned in out). */
static void s_scale_run(const char *store, int ncomm, char *out, size_t outsz)
{
    char cfg[512], log[512];
    snprintf(cfg, sizeof cfg, "%s/scale%d.yaml", s_dir, ncomm);
    snprintf(out, outsz, "%s/scale%d", s_dir, ncomm);
    snprintf(log, sizeof log, "%s/scale%d.log", s_dir, ncomm);
    FILE *f = fopen(cfg, "w");
    if (!f)
        exit(1);
    fprintf(f,
            "strategy: sma_cross\ndata:\n  store: %s\ncapital: 100000\nrank_by: sharpe\n"
            "sweep:\n  params.fast: {from: 2, to: 51, step: 1}\n"
            "  params.slow: {from: 52, to: 251, step: 1}\n"
            "  execution.commission_pct: {from: 0, to: %g, step: %g}\n",
            store, 0.5 - 0.5 / ncomm, 0.5 / ncomm);
    fclose(f);
    char *argv[] = {s_bt,        "sweep", cfg,           "--out", out,
                    "--workers", "2",     "--log-level", "warn",  NULL};
    double t0 = s_wall_s();
    int rc = bt_proc_run(argv, log, 3600000);
    double wall = s_wall_s() - t0;
    if (rc != 0) {
        fprintf(stderr, "scale sweep failed (exit %d), see %s\n", rc, log);
        exit(1);
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    char p[700];
    snprintf(p, sizeof p, "%s/summary.txt", out);
    char *text = bt_proc_slurp(p, NULL);
    const char *w = text ? strstr(text, "wall time:") : NULL;
    const char *m = text ? strstr(text, "coordinator peak RSS") : NULL;
    const char *pbo = text ? strstr(text, "  PBO ") : NULL;
    snprintf(p, sizeof p, "%s/journal.btj", out);
    struct stat st;
    double jb = stat(p, &st) == 0 ? (double)st.st_size : 0.0;
    uint64_t npts = 50ull * 200ull * (uint64_t)ncomm;
    double phase = w ? strtod(w + 10, NULL) : 0.0;
    printf("  %llu points: %.1f s whole command, %.1f s sweep phase, %.1f s after it (the end of "
           "the sweep: statistics, report, report.html); coordinator peak RSS %.0f MB "
           "at the last result, %.0f MB largest process of the command; journal %.0f bytes per "
           "result\n",
           (unsigned long long)npts, wall, phase, wall - phase,
           m ? strtod(m + strlen("coordinator peak RSS"), NULL) : 0.0,
           (double)ru.ru_maxrss / 1024.0, jb / (double)npts);
    if (pbo)
        printf("   %.*s\n", (int)strcspn(pbo + 2, "-"), pbo + 2);
    fflush(stdout);
    free(text);
}

static void s_scale(bool quick)
{
    char store[512], log[512], o1[600], o2[600];
    snprintf(store, sizeof store, "%s/tiny.h5", s_dir);
    snprintf(log, sizeof log, "%s/tiny.log", s_dir);
    char *synth[] = {s_bt, "data",   "synth", "--out",  store, "--symbols",
                     "1",  "--bars", "400",   "--seed", "3",   NULL};
    if (bt_proc_run(synth, log, 60000) != 0) {
        fprintf(stderr, "bt data synth failed, see %s\n", log);
        exit(1);
    }
    printf("scale: sma_cross, 1 symbol x 400 bars, 2 workers\n");
    s_scale_run(store, quick ? 1 : 10, o1, sizeof o1);
    s_scale_run(store, quick ? 10 : 100, o2, sizeof o2);
    /* The larger run's trials, back from its journal. */
    char head[BT_JOURNAL_MAX_HEADER + 1];
    bt_errbuf_t eb;
    s_trials_t tr = {0};
    bt_journal_t *j = NULL;
    if (bt_journal_read_header(o2, head, sizeof head, &eb) == BT_OK)
        j = bt_journal_open(o2, head, true, &eb);
    if (!j || bt_journal_replay(j, s_take_trial, &tr, &eb) != BT_OK) {
        fprintf(stderr, "reading %s/journal.btj: %s\n", o2, eb.msg);
        exit(1);
    }
    bt_journal_close(&j);
    double count[16];
    for (uint64_t b = 0; b < 16; b++)
        count[b] = (double)((tr.nret * (b + 1)) / 16 - (tr.nret * b) / 16);
    bt_pbo_t all, p;
    double c0 = s_cpu_s(), w0 = s_wall_s();
    if (bt_overfit_pbo_sample(tr.stats, count, tr.n, 16, 12870, BT_PBO_SEED, &all, NULL, &eb) !=
        BT_OK) {
        fprintf(stderr, "PBO: %s\n", eb.msg);
        exit(1);
    }
    double cpu_all = s_cpu_s() - c0, wall_all = s_wall_s() - w0;
    uint64_t def = bt_overfit_pbo_default_splits(tr.n, 16);
    c0 = s_cpu_s();
    w0 = s_wall_s();
    bt_overfit_pbo_sample(tr.stats, count, tr.n, 16, 0, BT_PBO_SEED, &p, NULL, &eb);
    printf("PBO over %zu trials of %llu returns (16 blocks): all 12870 splits %.4f in %.2f s wall "
           "(%.2f s CPU); the default, %llu%s splits: %.4f in %.2f s wall (%.2f s CPU); memory "
           "while it runs: %.0f MB (16 bytes per trial and block)\n",
           tr.n, (unsigned long long)tr.nret, all.pbo, wall_all, cpu_all, (unsigned long long)def,
           p.sampled ? " sampled" : "", p.pbo, s_wall_s() - w0, s_cpu_s() - c0,
           (double)tr.n * 16 * 16 / 1e6);
    fflush(stdout);
    /* How the estimate moves with the number of sampled splits. */
    static const uint64_t ks[] = {1000, 6000};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        double sum = 0, sq = 0, worst = 0;
        int nseed = quick ? 2 : 3;
        for (int s = 1; s <= nseed; s++) {
            bt_overfit_pbo_sample(tr.stats, count, tr.n, 16, ks[i], (uint64_t)s * 7919u, &p, NULL,
                                  &eb);
            sum += p.pbo;
            sq += p.pbo * p.pbo;
            worst = fmax(worst, fabs(p.pbo - all.pbo));
        }
        double mean = sum / nseed, sd = sqrt(fmax(0.0, sq / nseed - mean * mean));
        double pa = all.pbo,
               se = sqrt(pa * (1 - pa) / (double)ks[i] * (12870.0 - (double)ks[i]) / 12869.0);
        printf("  %5llu sampled splits, %d seeds: mean %.4f, sd %.4f, largest |error| %.4f "
               "(binomial s.e. with finite-population correction %.4f)\n",
               (unsigned long long)ks[i], nseed, mean, sd, worst, se);
        fflush(stdout);
    }
    free(tr.stats);
}

/* ---- 3. The grid fast path (docs/sweep.md "Grid fast path") on the grid of
 * issue 15: sma_cross fast 2..101 x slow 10..208 step 2, fast < slow =
 * 7,838 points on one symbol of 50,000 bars (~1 s), then of 200,000 bars
 * (~3.5 s with one worker: issue 15's "grid that lasts a few seconds" for
 * the scaling; no per-point run there). Whole `bt sweep` command, 1 and
 * 2 workers alternated in each of `rounds` rounds (the host's speed drifts:
 * the ratio of the two medians is of the same minutes); the per-point path
 * (BT_FAST=0) once for the ratio. */
/* Part 3: issue 15's grid (costs false) or the same strategy with costs as axes (costs true:
 * fast 5..60 step 5 x slow 70..210 step 20 x short 0/1 x 6 commissions x 8 slippages = 9,216
 * points on 20 columns, where each column serves ~460 points instead of ~51; docs/sweep.md
 * "Two workers on two cores (session 12)") over nbars hourly bars. */
static int s_grid(bool quick, int rounds, long nbars, bool slow_path, bool costs)
{
    char store1[512], cfg_g[512], log[512], nb[32];
    snprintf(store1, sizeof store1, "%s/one%ld.h5", s_dir, nbars);
    snprintf(cfg_g, sizeof cfg_g, "%s/grid%ld%s.yaml", s_dir, nbars, costs ? "c" : "");
    snprintf(log, sizeof log, "%s/synth1.log", s_dir);
    snprintf(nb, sizeof nb, "%ld", nbars);
    char *synth1[] = {s_bt, "data", "synth", "--out", store1, "--symbols", "1", "--bars", nb,
                      "--freq", "1h", "--seed", "7", NULL};
    if (access(store1, F_OK) != 0 && bt_proc_run(synth1, log, 120000) != 0) { /* (made once) */
        fprintf(stderr, "bt data synth failed, see %s\n", log);
        return 1;
    }
    int gf = quick ? 51 : 101;
    FILE *g = fopen(cfg_g, "w");
    if (!g) {
        perror(cfg_g);
        return 1;
    }
    fprintf(g,
            "strategy: sma_cross\ndata:\n  store: %s\ncapital: 100000\n"
            "execution:\n  commission_pct: 0.1\n  slippage_bps: 2\nrank_by: sharpe\n",
            store1);
    if (costs)
        fprintf(g, "sweep:\n  params.fast: {from: 5, to: 60, step: 5}\n"
                   "  params.slow: {from: 70, to: 210, step: 20}\n  params.short: [0, 1]\n"
                   "  execution.commission_pct: [0.02, 0.05, 0.1, 0.15, 0.2, 0.3]\n"
                   "  execution.slippage_bps: [0, 1, 2, 3, 5, 10, 20, 50]\n");
    else
        fprintf(g, "sweep:\n  params.fast: {from: 2, to: %d, step: 1}\n"
                   "  params.slow: {from: 10, to: 208, step: 2}\n"
                   "  constraints: [\"params.fast < params.slow\"]\n",
                gf);
    fclose(g);
    uint64_t njg = 0;
    for (int f = 2; !costs && f <= gf; f++)
        for (int sl = 10; sl <= 208; sl += 2)
            njg += f < sl;
    if (costs)
        njg = 12 * 8 * 2 * 6 * 8;
    double gbars = (double)njg * (double)nbars;
    /* and one worker of 2 threads: bt sweep's default layout on 2 cores (docs/sweep.md
     * "Local workers") */
    double t1[16], t2[16], p1[16], p2[16], tt[16];
    if (rounds > 16)
        rounds = 16;
    for (int r = 0; r < rounds; r++) {
        if ((t1[r] = s_sweep(cfg_g, "grid1", 1, false)) < 0)
            return 1;
        p1[r] = s_phase;
        if ((t2[r] = s_sweep(cfg_g, "grid2", 2, false)) < 0)
            return 1;
        p2[r] = s_phase;
        s_threads = 2;
        tt[r] = s_sweep(cfg_g, "grid1x2", 1, false);
        s_threads = 1;
        if (tt[r] < 0)
            return 1;
    }
    qsort(t1, (size_t)rounds, sizeof t1[0], s_cmp);
    qsort(t2, (size_t)rounds, sizeof t2[0], s_cmp);
    qsort(p1, (size_t)rounds, sizeof p1[0], s_cmp);
    qsort(p2, (size_t)rounds, sizeof p2[0], s_cmp);
    qsort(tt, (size_t)rounds, sizeof tt[0], s_cmp);
    double g1 = t1[rounds / 2], g2 = t2[rounds / 2], gp1 = p1[rounds / 2], gp2 = p2[rounds / 2];
    double gt = tt[rounds / 2];
    double gs = 0;
    if (slow_path) {
        setenv("BT_FAST", "0", 1);
        gs = s_sweep(cfg_g, "grid-slow", 1, false);
        unsetenv("BT_FAST");
        if (gs < 0)
            return 1;
    }
    printf("grid fast path: %llu points x %ld bars (sma_cross, one symbol%s), medians of %d "
           "alternated rounds\n",
           (unsigned long long)njg, nbars, costs ? ", costs as axes" : "", rounds);
    printf("  1 worker : %.2f s = %.3g bar-events/s whole command (%.3g in the sweep phase); "
           "runs %.2f..%.2f s\n",
           g1, gbars / g1, gp1 > 0 ? gbars / gp1 : 0.0, t1[0], t1[rounds - 1]);
    if (slow_path)
        printf("  per-point path (BT_FAST=0), 1 worker, one run: %.2f s = %.3g bar-events/s; "
               "fast path %.1fx\n",
               gs, gbars / gs, gs / g1);
    printf("  2 workers: %.2f s = %.3g bar-events/s; scaling 2/1 workers %.2fx whole command, "
           "%.2fx sweep phase; runs %.2f..%.2f s\n",
           g2, gbars / g2, g1 / g2, gp2 > 0 ? gp1 / gp2 : 0.0, t2[0], t2[rounds - 1]);
    printf("  1 worker x 2 threads (the default layout): %.2f s = %.3g bar-events/s; %.2fx one "
           "thread, whole command; runs %.2f..%.2f s\n",
           gt, gbars / gt, g1 / gt, tt[0], tt[rounds - 1]);
    return 0;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    snprintf(s_bt, sizeof s_bt, "%s/../bt", dirname(self));
    if (!bt_proc_tmpdir(s_dir, sizeof s_dir, "bench-sweep"))
        return 1;
    if (argc > 1 && strcmp(argv[argc - 1], "--grid") == 0) { /* part 3 alone, 5 rounds */
        int rc = s_grid(quick, 5, 50000, true, false);
        if (rc == 0)
            rc = s_grid(quick, 5, quick ? 100000 : 200000, false, false);
        if (rc == 0)
            rc = s_grid(quick, 5, quick ? 100000 : 200000, false, true);
        char rm0[400];
        snprintf(rm0, sizeof rm0, "rm -rf '%s'", s_dir);
        return system(rm0) == 0 ? rc : 1;
    }
    if (argc > 1 && strcmp(argv[argc - 1], "--scale") == 0) { /* part 4 alone */
        s_scale(quick);
        char rm0[400];
        snprintf(rm0, sizeof rm0, "rm -rf '%s'", s_dir);
        return system(rm0) == 0 ? 0 : 1;
    }
    char store[512], cfg_t[512], cfg_r[512], log[512];
    snprintf(store, sizeof store, "%s/bars.h5", s_dir);
    snprintf(cfg_t, sizeof cfg_t, "%s/trivial.yaml", s_dir);
    snprintf(cfg_r, sizeof cfg_r, "%s/real.yaml", s_dir);
    snprintf(log, sizeof log, "%s/synth.log", s_dir);
    char *synth[] = {s_bt, "data", "synth", "--out", store, "--symbols", "4", "--bars", "2520",
                     "--seed", "42", NULL};
    if (bt_proc_run(synth, log, 60000) != 0) {
        fprintf(stderr, "bt data synth failed, see %s\n", log);
        return 1;
    }
    /* Trivial grid: 399 fast x 500 slow = 199,500 jobs (quick: 99 x 200). */
    int tf = quick ? 100 : 400, ts = quick ? 200 : 500;
    s_write_config(cfg_t, store, tf, ts, 1);
    uint64_t njt = (uint64_t)(tf - 1) * (uint64_t)ts;
    double tt = s_median3(cfg_t, "trivial", 1, true);
    double rss_big = s_rss;
    printf("dispatch: %llu trivial jobs, 1 worker: %.2f s wall = %.0f jobs/s (whole command: "
           "grid, journal with group fdatasync, report)\n",
           (unsigned long long)njt, tt, (double)njt / tt);
    /* The same dispatch with CurveZMQ (--keys): a coordinator pair, a worker
     * pair for the local worker, admitted. */
    char keys[600], cmd[20000];
    snprintf(keys, sizeof keys, "%s/keys", s_dir);
    snprintf(cmd, sizeof cmd,
             "'%s' keygen '%s' --name coordinator >/dev/null && '%s' keygen '%s' >/dev/null && "
             "cp '%s/worker.key' '%s/allow/local.key'",
             s_bt, keys, s_bt, keys, keys, keys);
    if (system(cmd) != 0) {
        fprintf(stderr, "bt keygen failed\n");
        return 1;
    }
    s_keys = keys;
    double tc = s_median3(cfg_t, "trivial-curve", 1, true);
    s_keys = NULL;
    printf("dispatch with CurveZMQ (--keys): %.2f s wall = %.0f jobs/s (%.0f%% of plain)\n", tc,
           (double)njt / tc, 100.0 * tt / tc);
    /* Coordinator memory against results kept: the same trivial sweep with a
     * tenth of the jobs; the difference per job is what one result costs. */
    s_write_config(cfg_t, store, tf, ts / 10, 1);
    uint64_t njs = (uint64_t)(tf - 1) * (uint64_t)(ts / 10);
    s_sweep(cfg_t, "trivial-small", 1, true);
    double rss_small = s_rss;
    printf("coordinator peak RSS: %.1f MB for %llu jobs, %.1f MB for %llu jobs = %.0f bytes per "
           "result kept\n",
           rss_small, (unsigned long long)njs, rss_big, (unsigned long long)njt,
           (rss_big - rss_small) * 1048576.0 / (double)(njt - njs));

    /* Real grid: 49 fast x 200 slow = 9800 backtests of 4 x 2520 bars, a few
     * seconds of work, so start-up and the end-of-sweep statistics (fixed
     * per sweep, not per worker) do not hide the scaling. */
    int rf = quick ? 20 : 50, rs = quick ? 200 : 400;
    s_write_config(cfg_r, store, rf, rs, 2);
    uint64_t njr = (uint64_t)(rf - 1) * (uint64_t)(rs / 2);
    double bars = (double)njr * 4.0 * 2520.0;
    double t1 = s_median3(cfg_r, "real1", 1, false);
    double p1 = s_median_phase;
    double t2 = s_median3(cfg_r, "real2", 2, false);
    double p2 = s_median_phase;
    printf("end to end: %llu backtests (4 symbols x 2520 bars each)\n", (unsigned long long)njr);
    printf("  1 worker : %.2f s = %.0f backtests/s, %.3g bar-events/s\n", t1, (double)njr / t1,
           bars / t1);
    printf("  2 workers: %.2f s = %.0f backtests/s, %.3g bar-events/s\n", t2, (double)njr / t2,
           bars / t2);
    printf("  scaling 2/1 workers: %.2fx whole command; %.2fx sweep phase (%.2f s -> %.2f s, "
           "start to last result; the rest is the fixed end-of-sweep work: overfitting "
           "statistics and the report)\n",
           t1 / t2, p2 > 0 ? p1 / p2 : 0.0, p1, p2);

    if (s_grid(quick, 3, 50000, true, false) != 0 ||
        s_grid(quick, 3, quick ? 100000 : 200000, false, false) != 0 ||
        s_grid(quick, 3, quick ? 100000 : 200000, false, true) != 0)
        return 1;
    s_scale(quick);
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", s_dir);
    return system(rm) == 0 ? 0 : 1;
}
