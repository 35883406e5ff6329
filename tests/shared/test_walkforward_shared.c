/* Walk-forward on real bars: ORCL 2005..2014 (../shared/data, imported with
 * `bt data import` into a temp store), sma_cross over 6 points, rolling
 * windows of 2y train + 1y test stepping 1y -> 8 windows, 48 training jobs.
 *
 * Expected window boundaries are computed here independently, from the
 * dates of the CSV file itself: window k trains on the bars with
 * 2005-01-03 + k years <= date < 2007-01-03 + k years and tests on the bars
 * with 2007-01-03 + k years <= date < 2008-01-03 + k years (2005-01-03 is the
 * first bar on or after data.start 2005-01-01). 2007-01-02 was a market
 * closure (President Ford), so window 0 trains up to 2006-12-29. */
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integration/sweep_fixture.h"

#define S_NWIN 8

static sfx_t f;
static char s_dates[6000][11]; /* the ORCL CSV's dates, in file order */
static size_t s_ndates;

static void s_read_dates(void)
{
    FILE *in = fopen(BT_SHARED_DATA "/orcl-1995-2014.txt", "r");
    cr_assert(in, "no %s", BT_SHARED_DATA "/orcl-1995-2014.txt");
    char line[256];
    cr_assert(fgets(line, sizeof line, in)); /* header */
    s_ndates = 0;
    while (fgets(line, sizeof line, in) && s_ndates < 6000) {
        memcpy(s_dates[s_ndates], line, 10);
        s_dates[s_ndates++][10] = '\0';
    }
    fclose(in);
}

/* First date >= d, or NULL. */
static const char *s_first_on_or_after(const char *d)
{
    for (size_t i = 0; i < s_ndates; i++)
        if (strcmp(s_dates[i], d) >= 0)
            return s_dates[i];
    return NULL;
}

/* Last date < d (and >= from), and the count of dates in [from, d). */
static const char *s_last_before(const char *from, const char *d, size_t *count)
{
    const char *last = NULL;
    *count = 0;
    for (size_t i = 0; i < s_ndates; i++)
        if (strcmp(s_dates[i], from) >= 0 && strcmp(s_dates[i], d) < 0) {
            last = s_dates[i];
            ++*count;
        }
    return last;
}

static void s_setup(void)
{
    memset(&f, 0, sizeof f);
    cr_assert(bt_proc_tmpdir(f.dir, sizeof f.dir, "wf-shared"));
    snprintf(f.bt, sizeof f.bt, "%s/bt", BT_BIN_DIR);
    snprintf(f.worker, sizeof f.worker, "%s/bt-worker", BT_BIN_DIR);
    sfx_path(f.store, sizeof f.store, &f, "bars.h5");
    sfx_path(f.cfg, sizeof f.cfg, &f, "wf.yaml");
    char log[320];
    sfx_path(log, sizeof log, &f, "import.log");
    char *argv[] = {f.bt, "data", "import", BT_SHARED_DATA "/orcl-1995-2014.txt", "--out",
                    f.store, NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 0, "bt data import failed (see %s)", log);
    FILE *c = fopen(f.cfg, "w");
    cr_assert(c);
    fprintf(c, "strategy: sma_cross\n"
               "data:\n"
               "  store: %s\n"
               "  start: 2005-01-01\n"
               "capital: 100000\n"
               "execution: {commission_pct: 0.1}\n"
               "rank_by: sharpe\n"
               "walk_forward: {train: 2y, test: 1y, step: 1y, mode: rolling}\n"
               "sweep:\n"
               "  params.fast: [5, 10, 20]\n"
               "  params.slow: [50, 100]\n",
            f.store);
    fclose(c);
    s_read_dates();
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference walk-forward failed (ref.log)");
}
static void s_teardown(void) { bt_proc_kill_all(); }

TestSuite(wf_shared, .init = s_setup, .fini = s_teardown, .timeout = 300);

/* Splits a CSV line into at most cap fields (in place). */
static size_t s_fields(char *line, char **out, size_t cap)
{
    size_t n = 0;
    char *p = line;
    while (n < cap) {
        out[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    char *nl = n ? strchr(out[n - 1], '\n') : NULL;
    if (nl)
        *nl = '\0';
    return n;
}

static void s_file(char *out, size_t cap, const char *run, const char *name)
{
    snprintf(out, cap, "%s/%s/%s", f.dir, run, name);
}

Test(wf_shared, windows_exactly_as_configured)
{
    char path[400];
    s_file(path, sizeof path, "ref", "walkforward.csv");
    FILE *in = fopen(path, "r");
    cr_assert(in);
    char line[8192], *fl[128];
    cr_assert(fgets(line, sizeof line, in));
    size_t nh = s_fields(line, fl, 128);
    cr_assert_str_eq(fl[0], "window");
    cr_assert_str_eq(fl[1], "train_start");
    cr_assert_str_eq(fl[8], "params.fast");
    cr_assert(nh > 20);
    size_t w = 0;
    while (fgets(line, sizeof line, in)) {
        cr_assert(w < S_NWIN, "more windows than %d", S_NWIN);
        s_fields(line, fl, 128);
        char a[16], b[16], d[16];
        snprintf(a, sizeof a, "%04zu-01-03", 2005 + w);
        snprintf(b, sizeof b, "%04zu-01-03", 2007 + w);
        snprintf(d, sizeof d, "%04zu-01-03", 2008 + w);
        size_t ntrain = 0, ntest = 0;
        const char *train_last = s_last_before(a, b, &ntrain);
        const char *test_last = s_last_before(b, d, &ntest);
        cr_assert_eq(strtoul(fl[0], NULL, 10), w);
        cr_assert_str_eq(fl[1], s_first_on_or_after(a), "window %zu train start", w);
        cr_assert_str_eq(fl[2], train_last, "window %zu train end", w);
        cr_assert_eq(strtoul(fl[3], NULL, 10), ntrain, "window %zu train bars", w);
        cr_assert_str_eq(fl[4], s_first_on_or_after(b), "window %zu test start", w);
        cr_assert_str_eq(fl[5], test_last, "window %zu test end", w);
        cr_assert_eq(strtoul(fl[6], NULL, 10), ntest, "window %zu test bars", w);
        /* no test range overlaps its training range */
        cr_assert(strcmp(fl[2], fl[4]) < 0, "window %zu: train end %s >= test start %s", w,
                  fl[2], fl[4]);
        if (w == 0) {
            cr_assert_str_eq(fl[2], "2006-12-29"); /* 2007-01-02 was closed */
            cr_assert_str_eq(fl[4], "2007-01-03");
        }
        if (w == S_NWIN - 1)
            cr_assert_str_eq(fl[5], "2014-12-31"); /* cut by the end of the data */
        w++;
    }
    fclose(in);
    cr_assert_eq(w, S_NWIN);
}

Test(wf_shared, stitched_curve_continuous)
{
    char path[400];
    s_file(path, sizeof path, "ref", "walkforward.csv");
    FILE *in = fopen(path, "r");
    cr_assert(in);
    char line[8192], *fl[128];
    cr_assert(fgets(line, sizeof line, in));
    size_t nf = s_fields(line, fl, 128);
    size_t c_start = 0, c_end = 0;
    for (size_t i = 0; i < nf; i++) {
        if (strcmp(fl[i], "start_equity") == 0)
            c_start = i;
        if (strcmp(fl[i], "end_equity") == 0)
            c_end = i;
    }
    cr_assert(c_start && c_end);
    double start[S_NWIN], end[S_NWIN];
    size_t bars[S_NWIN], total = 0, w = 0;
    while (w < S_NWIN && fgets(line, sizeof line, in)) {
        s_fields(line, fl, 128);
        start[w] = strtod(fl[c_start], NULL);
        end[w] = strtod(fl[c_end], NULL);
        bars[w] = strtoul(fl[6], NULL, 10);
        total += bars[w];
        w++;
    }
    fclose(in);
    cr_assert_eq(w, S_NWIN);
    cr_assert_eq(start[0], 100000.0); /* capital */
    for (size_t k = 1; k < S_NWIN; k++)
        cr_assert_eq(start[k], end[k - 1], "window %zu does not start where %zu ended", k, k - 1);

    /* oos_equity.csv: one row per test bar, times strictly increasing, and the
     * first point of each window equals its starting equity (next_open fills:
     * nothing trades on a window's first bar). */
    s_file(path, sizeof path, "ref", "oos_equity.csv");
    in = fopen(path, "r");
    cr_assert(in);
    cr_assert(fgets(line, sizeof line, in));
    cr_assert_str_eq(line, "window,time,equity,drawdown\n");
    char prev[40] = "";
    size_t rows = 0, prev_w = (size_t)-1;
    double last_eq = 0;
    while (fgets(line, sizeof line, in)) {
        s_fields(line, fl, 8);
        size_t ww = strtoul(fl[0], NULL, 10);
        double eq = strtod(fl[2], NULL);
        cr_assert(strcmp(fl[1], prev) > 0, "time %s after %s", fl[1], prev);
        snprintf(prev, sizeof prev, "%s", fl[1]);
        if (ww != prev_w) {
            cr_assert_eq(eq, start[ww], "window %zu first point", ww);
            if (ww > 0)
                cr_assert_eq(last_eq, end[ww - 1]);
            prev_w = ww;
        }
        last_eq = eq;
        rows++;
    }
    fclose(in);
    cr_assert_eq(rows, total);
    cr_assert_eq(last_eq, end[S_NWIN - 1]);
}

/* Column of name in the header fields, or -1. */
static int s_col(char **fl, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fl[i], name) == 0)
            return (int)i;
    return -1;
}

/* Per-window overfitting statistics: each window's 6 training jobs (ids
 * 6w .. 6w+5) are one trial set. walkforward.csv has is_dsr, is_pbo right
 * after is_cagr. Checks that do not need the statistics' own code:
 * - PBO over 16 blocks with 6 trials evaluates all C(16,8) = 12870 splits
 *   (6 x 12870 x 16 is far below the 4e8 work budget), so PBO x 12870 is a
 *   whole number in 0..12870;
 * - DSR = PSR(best; SR0) with SR0 >= 0 is at most PSR(best; 0), the best
 *   trial's psr column in results.csv (risk-free rate 0), so at most the
 *   highest psr of the window's jobs (+1e-3 for the float block statistics);
 * - summary.txt's per-window table prints the same numbers (%.3f) and their
 *   mean; the global lines say they are computed per window. */
Test(wf_shared, per_window_dsr_pbo)
{
    char path[400], line[8192], *fl[128];
    double max_psr[S_NWIN];
    for (size_t w = 0; w < S_NWIN; w++)
        max_psr[w] = -1.0;
    s_file(path, sizeof path, "ref", "results.csv");
    FILE *in = fopen(path, "r");
    cr_assert(in);
    cr_assert(fgets(line, sizeof line, in));
    size_t nf = s_fields(line, fl, 128);
    int c_win = s_col(fl, nf, "wf.window"), c_psr = s_col(fl, nf, "psr");
    cr_assert(c_win >= 0 && c_psr >= 0);
    size_t rows = 0;
    while (fgets(line, sizeof line, in)) {
        s_fields(line, fl, 128);
        size_t w = strtoul(fl[c_win], NULL, 10);
        cr_assert(w < S_NWIN);
        double psr = strtod(fl[c_psr], NULL);
        if (psr > max_psr[w])
            max_psr[w] = psr;
        rows++;
    }
    fclose(in);
    cr_assert_eq(rows, 6 * S_NWIN);

    s_file(path, sizeof path, "ref", "walkforward.csv");
    in = fopen(path, "r");
    cr_assert(in);
    cr_assert(fgets(line, sizeof line, in));
    nf = s_fields(line, fl, 128);
    int c_cagr = s_col(fl, nf, "is_cagr"), c_dsr = s_col(fl, nf, "is_dsr"),
        c_pbo = s_col(fl, nf, "is_pbo");
    cr_assert(c_cagr > 0 && c_dsr == c_cagr + 1 && c_pbo == c_cagr + 2, "%d %d %d", c_cagr,
              c_dsr, c_pbo);
    double dsr[S_NWIN], pbo[S_NWIN], dsum = 0, psum = 0;
    size_t w = 0;
    while (w < S_NWIN && fgets(line, sizeof line, in)) {
        s_fields(line, fl, 128);
        cr_assert(fl[c_dsr][0] && fl[c_pbo][0], "window %zu: empty is_dsr/is_pbo", w);
        dsr[w] = strtod(fl[c_dsr], NULL);
        pbo[w] = strtod(fl[c_pbo], NULL);
        cr_assert(dsr[w] >= 0.0 && dsr[w] <= max_psr[w] + 1e-3, "window %zu: dsr %g, psr %g", w,
                  dsr[w], max_psr[w]);
        double k = pbo[w] * 12870.0;
        cr_assert(pbo[w] >= 0.0 && pbo[w] <= 1.0 && fabs(k - round(k)) < 1e-6,
                  "window %zu: pbo %.17g is not a count of 12870 splits", w, pbo[w]);
        dsum += dsr[w];
        psum += pbo[w];
        w++;
    }
    fclose(in);
    cr_assert_eq(w, S_NWIN);

    s_file(path, sizeof path, "ref", "summary.txt");
    in = fopen(path, "r");
    cr_assert(in);
    size_t found = 0;
    bool global = false, in_table = false, mean_d = false, mean_p = false;
    while (fgets(line, sizeof line, in)) {
        if (strstr(line, "deflated Sharpe, PBO: computed per window"))
            global = true;
        cr_assert_null(strstr(line, "left out"), "%s", line);
        if (strstr(line, "overfitting per window")) {
            in_table = true;
            continue;
        }
        unsigned long ww, trials;
        char best[32], sr[32], d[32], p[32];
        if (in_table && sscanf(line, "%lu %lu %31s %31s %31s %31s", &ww, &trials, best, sr, d,
                               p) == 6) {
            char want[32];
            cr_assert_eq(ww, found);
            cr_assert_eq(trials, 6);
            snprintf(want, sizeof want, "%.3f", dsr[ww]);
            cr_assert_str_eq(d, want, "window %lu dsr", ww);
            snprintf(want, sizeof want, "%.3f", pbo[ww]);
            cr_assert_str_eq(p, want, "window %lu pbo", ww);
            found++;
        }
        char want[96];
        snprintf(want, sizeof want, "  mean deflated Sharpe over windows: %.3f (8 of 8 windows)",
                 dsum / S_NWIN);
        mean_d |= strncmp(line, want, strlen(want)) == 0;
        snprintf(want, sizeof want, "  mean PBO over windows: %.3f (8 of 8 windows)",
                 psum / S_NWIN);
        mean_p |= strncmp(line, want, strlen(want)) == 0;
    }
    fclose(in);
    cr_assert(global, "no 'computed per window' line");
    cr_assert_eq(found, S_NWIN);
    cr_assert(mean_d && mean_p, "mean lines missing or wrong");
}

static void s_assert_same(const char *a, const char *b)
{
    const char *files[] = {"walkforward.csv", "oos_equity.csv", "results.csv", "ranking.csv"};
    for (int i = 0; i < 4; i++) {
        char pa[400], pb[400];
        s_file(pa, sizeof pa, a, files[i]);
        s_file(pb, sizeof pb, b, files[i]);
        cr_assert(bt_proc_same_file(pa, pb), "%s and %s differ", pa, pb);
    }
}

Test(wf_shared, same_at_1_and_3_workers)
{
    cr_assert_eq(sfx_sweep_local(&f, "three", 3), 0, "3-worker run failed (three.log)");
    s_assert_same("ref", "three");
}

Test(wf_shared, resume_after_coordinator_killed)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "kill", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    pid_t w1 = sfx_start_worker(&f, ep, "w1", 60);
    sfx_wait_progress(&f, "kill", 1);
    cr_assert_eq(kill(coord, SIGKILL), 0);
    cr_assert_eq(bt_proc_wait(coord, 10000), 128 + SIGKILL);
    kill(w1, SIGKILL);
    bt_proc_wait(w1, 10000);
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, "kill");
    snprintf(log, sizeof log, "%s.resume.log", odir);
    char *argv[] = {f.bt, "sweep", f.cfg, "--resume", odir, "--workers", "2", NULL};
    cr_assert_eq(bt_proc_run(argv, log, 120000), 0, "resume failed (see %s)", log);
    cr_assert(sfx_log_has(&f, "kill.resume", "resume:"));
    s_assert_same("ref", "kill");
}
