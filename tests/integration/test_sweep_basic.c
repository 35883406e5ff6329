/* bt sweep end to end on one machine: local workers spawned by the
 * coordinator, identical reports whatever their number, usage errors,
 * resume of a finished sweep, remote-style workers joining a bound coordinator. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_memtune.h"
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void) { sfx_setup(&f, "sweep-basic"); }
static void s_teardown(void) { bt_proc_kill_all(); }

TestSuite(sweep_basic, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test(sweep_basic, one_vs_three_local_workers_identical)
{
    cr_assert_eq(sfx_sweep_local(&f, "w1", 1), 0, "1-worker sweep failed");
    cr_assert_eq(sfx_sweep_local(&f, "w3", 3), 0, "3-worker sweep failed");
    sfx_assert_same_report(&f, "w1", "w3");
    char p[400];
    snprintf(p, sizeof p, "%s/w1/results.csv", f.dir);
    /* header + one row per grid point: 11 fast x 5 slow = 55 */
    cr_assert_eq(bt_proc_count_lines(p), 1 + SFX_NJOBS);
    snprintf(p, sizeof p, "%s/w1/summary.txt", f.dir);
    cr_assert(bt_proc_wait_size(p, 1, 0), "no summary.txt");
    /* Overfitting lines (docs/overfitting.md): 55 trials x C(16, 8) splits,
     * all evaluated. */
    char *sum = bt_proc_slurp(p, NULL);
    cr_assert_not_null(sum);
    cr_assert(strstr(sum, "  deflated Sharpe 0.") || strstr(sum, "  deflated Sharpe 1.000"), "%s",
              sum);
    cr_assert(strstr(sum, "zero-skill trials would show by luck"), "%s", sum);
    cr_assert(strstr(sum, " over 12870 CSCV splits of 16 blocks"), "%s", sum);
    cr_assert(strstr(sum, "best of 55 zero-skill"), "%s", sum);
    cr_assert_null(strstr(sum, "nan"), "%s", sum);
    free(sum);
    snprintf(p, sizeof p, "%s/w1/results.csv", f.dir);
    char *csv = bt_proc_slurp(p, NULL);
    cr_assert(csv && strstr(csv, ",skewness,kurtosis,psr"), "results.csv has the psr column");
    free(csv);
    cr_assert(sfx_log_has(&f, "w3", "started 3 local worker(s)"), "three workers expected");
}

Test(sweep_basic, remote_workers_join_a_bound_coordinator)
{
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0);
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "remote", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    cr_assert(strncmp(ep, "tcp://127.0.0.1:", 16) == 0, "endpoint %s", ep);
    sfx_start_worker(&f, ep, "ra", 0);
    sfx_start_worker(&f, ep, "rb", 0);
    cr_assert_eq(bt_proc_wait(coord, 60000), 0, "coordinator failed");
    sfx_assert_same_report(&f, "ref", "remote");
}

Test(sweep_basic, usage_errors_and_existing_journal)
{
    char *noarg[] = {f.bt, "sweep", NULL};
    char log[400];
    snprintf(log, sizeof log, "%s/usage.log", f.dir);
    cr_assert_eq(bt_proc_run(noarg, log, 10000), 2);
    char *badopt[] = {f.bt, "sweep", f.cfg, "--workers", "many", NULL};
    cr_assert_eq(bt_proc_run(badopt, log, 10000), 2);
    cr_assert(bt_proc_wait_text(log, "--workers wants a whole number", 0, NULL, 0));
    char *help[] = {f.bt, "sweep", "--help", NULL};
    cr_assert_eq(bt_proc_run(help, log, 10000), 0);
    cr_assert(bt_proc_wait_text(log, "example", 0, NULL, 0));

    cr_assert_eq(sfx_sweep_local(&f, "once", 1), 0);
    /* Same --out again: refused (exit 2), pointing at --resume. */
    cr_assert_eq(sfx_sweep_local(&f, "once", 1), 2);
    cr_assert(sfx_log_has(&f, "once", "--resume"));
    /* Resuming a finished sweep runs nothing and rewrites the same report. */
    char odir[320], copy[400];
    snprintf(odir, sizeof odir, "%s/once", f.dir);
    snprintf(copy, sizeof copy, "%s/once/results.csv", f.dir);
    char *before = bt_proc_slurp(copy, NULL);
    cr_assert(before);
    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", odir, "--workers", "1", NULL};
    cr_assert_eq(bt_proc_run(resume, log, 60000), 0);
    char *after = bt_proc_slurp(copy, NULL);
    cr_assert(after && strcmp(before, after) == 0, "resumed report differs");
    free(before);
    free(after);
    cr_assert(bt_proc_wait_text(log, "55 from the journal", 0, NULL, 0));
}

Test(sweep_basic, failing_jobs_are_retried_then_recorded_failed)
{
    /* fast >= slow makes sma_cross's init fail: points (30,20) and (30,30)
     * fail on every attempt; (10,20) and (10,30) run. */
    FILE *c = fopen(f.cfg, "w");
    cr_assert(c);
    fprintf(c, "strategy: sma_cross\ndata:\n  store: %s\ncapital: 100000\nrank_by: sharpe\n"
               "sweep:\n  params.fast: [10, 30]\n  params.slow: [20, 30]\n",
            f.store);
    fclose(c);
    char odir[320], log[340];
    snprintf(odir, sizeof odir, "%s/fail", f.dir);
    snprintf(log, sizeof log, "%s/fail.log", f.dir);
    /* --keep-invalid: run the points the strategy refuses instead of refusing
     * the sweep up front; finished with failed jobs is exit 3 (issue 10) */
    char *argv[] = {f.bt,   "sweep",          f.cfg, "--out", odir, "--workers", "2", "--max-attempts",
                    "2",    "--keep-invalid", NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 3, "a sweep with failed jobs completes, exit 3");
    char p[400];
    snprintf(p, sizeof p, "%s/results.csv", odir);
    char *text = bt_proc_slurp(p, NULL);
    cr_assert(text);
    size_t nfailed = 0;
    for (const char *s = text; (s = strstr(s, ",failed,")) != NULL; s++)
        nfailed++;
    cr_assert_eq(nfailed, 2, "results.csv:\n%s", text);
    cr_assert(strstr(text, "fast"), "the error names the parameter:\n%s", text);
    free(text);
    snprintf(p, sizeof p, "%s/ranking.csv", odir);
    cr_assert_eq(bt_proc_count_lines(p), 1 + 2, "only ok rows are ranked");
    cr_assert(bt_proc_wait_text(log, "failed after 2 attempt(s)", 0, NULL, 0));
    cr_assert(bt_proc_wait_text(log, "will retry", 0, NULL, 0));
}

/* A symbol-set axis is labelled in the report by its sets joined with '+',
 * in a plain sweep and in a walk-forward run (both use
 * bt_sweep_symbol_labels). Store: SYN000, SYN001 x 500 daily bars. */
Test(sweep_basic, symbol_set_axis_labels_plain_and_walk_forward)
{
    const char *wf[] = {"", "walk_forward:\n  train: 200b\n  test: 100b\n"};
    const char *out[] = {"sets", "sets-wf"};
    for (int k = 0; k < 2; k++) {
        FILE *c = fopen(f.cfg, "w");
        cr_assert(c);
        fprintf(c, "strategy: sma_cross\ndata:\n  store: %s\ncapital: 100000\nrank_by: sharpe\n"
                   "%ssweep:\n  params.fast: [5]\n  params.slow: [20]\n"
                   "  data.symbols: [[SYN000], [SYN000, SYN001]]\n",
                f.store, wf[k]);
        fclose(c);
        cr_assert_eq(sfx_sweep_local(&f, out[k], 1), 0, "sweep %s failed (see %s.log)", out[k],
                     out[k]);
        char p[400];
        snprintf(p, sizeof p, "%s/%s/results.csv", f.dir, out[k]);
        char *text = bt_proc_slurp(p, NULL);
        cr_assert(text, "no %s", p);
        cr_assert(strstr(text, "data.symbols"), "header:\n%s", text);
        cr_assert(strstr(text, ",SYN000+SYN001,"), "set label missing:\n%s", text);
        cr_assert(strstr(text, ",SYN000,"), "single-symbol set label missing:\n%s", text);
        free(text);
    }
}

/* Column index of name in a CSV header line, or -1. */
static int s_col(const char *header, const char *name)
{
    int i = 0;
    size_t n = strlen(name);
    for (const char *p = header; p && *p && *p != '\n'; i++) {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\n' || p[n] == '\0'))
            return i;
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    return -1;
}

/* Field k of line (a CSV line without quotes) as a double; NaN if empty. */
static double s_field(const char *line, int k)
{
    for (int i = 0; i < k && line; i++) {
        line = strchr(line, ',');
        line = line ? line + 1 : NULL;
    }
    return line && *line != ',' && *line != '\n' && *line != '\0' ? strtod(line, NULL) : NAN;
}

typedef struct {
    int window, trades;
    double sharpe;
} s_row_t;

/* Reads results.csv of out: per job its window, trades and sharpe. */
static int s_read_results(const char *out, s_row_t *rows, int cap)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s/results.csv", f.dir, out);
    char *text = bt_proc_slurp(p, NULL);
    cr_assert(text, "no %s", p);
    int cj = s_col(text, "job_id"), cw = s_col(text, "wf.window"), ct = s_col(text, "trades"),
        cs = s_col(text, "sharpe");
    cr_assert(cj >= 0 && cw >= 0 && ct >= 0 && cs >= 0, "header: %.200s", text);
    int n = 0;
    for (char *l = strchr(text, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        int j = (int)s_field(l + 1, cj);
        cr_assert(j >= 0 && j < cap);
        rows[j] = (s_row_t){(int)s_field(l + 1, cw), (int)s_field(l + 1, ct), s_field(l + 1, cs)};
        n++;
    }
    free(text);
    return n;
}

/* Reads walkforward.csv of out: chosen[w] = job chosen in window w, or -1. */
static void s_read_chosen(const char *out, int *chosen, int nwin)
{
    for (int w = 0; w < nwin; w++)
        chosen[w] = -1;
    char p[400];
    snprintf(p, sizeof p, "%s/%s/walkforward.csv", f.dir, out);
    char *text = bt_proc_slurp(p, NULL);
    cr_assert(text, "no %s", p);
    int cw = s_col(text, "window"), cj = s_col(text, "job_id");
    cr_assert(cw >= 0 && cj >= 0);
    for (char *l = strchr(text, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        int w = (int)s_field(l + 1, cw);
        cr_assert(w >= 0 && w < nwin);
        double j = s_field(l + 1, cj); /* empty: the window was skipped */
        chosen[w] = isnan(j) ? -1 : (int)j;
    }
    free(text);
}

/* sweep.rank_min_trades applies to each walk-forward window's choice: the
 * chosen training point has at least that many in-sample trades and is the
 * best sharpe among those that do (ties aside), and a window where none has
 * is skipped. The threshold is one more than the trades of the unfiltered
 * choice in window 0, so the filter must change that window. */
Test(sweep_basic, walk_forward_honours_rank_min_trades)
{
    enum { CAP = 64, NWIN = 8 };
    int min_trades = 0;
    const char *out[] = {"wf-all", "wf-min"};
    s_row_t rows[CAP];
    int chosen[NWIN];
    for (int k = 0; k < 2; k++) {
        FILE *c = fopen(f.cfg, "w");
        cr_assert(c);
        fprintf(c, "strategy: sma_cross\ndata:\n  store: %s\n  symbols: [SYN000]\n"
                   "capital: 100000\nrank_by: sharpe\n"
                   "walk_forward:\n  train: 150b\n  test: 100b\n"
                   "sweep:\n  rank_min_trades: %d\n  params.fast: [2, 5, 10]\n"
                   "  params.slow: [12, 30, 60]\n",
                f.store, min_trades);
        fclose(c);
        cr_assert_eq(sfx_sweep_local(&f, out[k], 1), 0, "sweep %s failed", out[k]);
        int n = s_read_results(out[k], rows, CAP);
        cr_assert(n >= 18, "%d rows", n);
        s_read_chosen(out[k], chosen, NWIN);
        cr_assert(chosen[0] >= 0, "window 0 has a choice without the filter");
        if (k == 0) {
            min_trades = rows[chosen[0]].trades + 1;
            continue;
        }
        cr_assert_geq(rows[chosen[0]].trades, min_trades);
        for (int w = 0; w < NWIN; w++) {
            int best = -1;
            for (int j = 0; j < n; j++)
                if (rows[j].window == w && rows[j].trades >= min_trades &&
                    (best < 0 || rows[j].sharpe > rows[best].sharpe))
                    best = j;
            cr_assert_eq(chosen[w], best, "window %d: chose job %d, want %d (min trades %d)", w,
                         chosen[w], best, min_trades);
        }
    }
}

/* Session 6: local workers on an OS-chosen port are started before the plan
 * (their start-up overlaps it). A sweep that then stops before serving
 * (here: a folder that already holds a journal; a finished sweep resumed)
 * kills them without a word: no worker log lines, no "leaving" on SIGTERM. */
Test(sweep_basic, early_local_workers_of_a_stopped_sweep_leave_silently)
{
    cr_assert_eq(sfx_sweep_local(&f, "early", 1), 0);
    char odir[320], log[400];
    snprintf(odir, sizeof odir, "%s/early", f.dir);
    snprintf(log, sizeof log, "%s/early-again.log", f.dir);
    char *again[] = {f.bt, "sweep", f.cfg, "--out", odir, "--workers", "2", NULL};
    cr_assert_eq(bt_proc_run(again, log, 60000), 2);
    cr_assert(sfx_log_has(&f, "early-again", "--resume"));
    cr_assert(sfx_log_has(&f, "early-again", "started 2 local worker(s)"), "before the plan");
    cr_assert(!sfx_log_has(&f, "early-again", "leaving"));
    cr_assert(!sfx_log_has(&f, "early-again", "local-0"));
    snprintf(log, sizeof log, "%s/early-resume.log", f.dir);
    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", odir, "--workers", "2", NULL};
    cr_assert_eq(bt_proc_run(resume, log, 60000), 0);
    cr_assert(sfx_log_has(&f, "early-resume", "55 from the journal"));
    cr_assert(!sfx_log_has(&f, "early-resume", "leaving"));
    cr_assert(!sfx_log_has(&f, "early-resume", "local-0"));
}

/* Without --workers a C strategy's sweep runs one local worker with a thread per core
 * (bt_driver.c s_local_layout; one dataset and one column cache), --threads N alone as many
 * N-thread workers as fill the cores; the results are those of any other layout. */
Test(sweep_basic, default_layout_is_one_worker_with_a_thread_per_core)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) == 0)
        cores = CPU_COUNT(&cs); /* what omp_get_num_procs counts */
    cr_assert_eq(sfx_sweep_local(&f, "lay-ref", 2), 0);
    const char *extra[][2] = {{NULL, NULL}, {"--threads", "1"}};
    const char *name[] = {"lay-default", "lay-threads1"};
    char want[2][96];
    snprintf(want[0], sizeof want[0], "started 1 local worker(s) (%ld thread(s) each)", cores);
    snprintf(want[1], sizeof want[1], "started %ld local worker(s) (1 thread(s) each)", cores);
    for (int i = 0; i < 2; i++) {
        char odir[320], log[340];
        sfx_path(odir, sizeof odir, &f, name[i]);
        snprintf(log, sizeof log, "%s.log", odir);
        char *argv[] = {f.bt, "sweep", f.cfg, "--out", odir, (char *)extra[i][0],
                        (char *)extra[i][1], NULL};
        cr_assert_eq(bt_proc_run(argv, log, 120000), 0, "%s failed (see %s)", name[i], log);
        cr_assert(sfx_log_has(&f, name[i], want[i]), "no '%s' in %s", want[i], log);
        sfx_assert_same_report(&f, "lay-ref", name[i]);
    }
}

/* bt sweep runs itself again with our malloc settings (bt_memtune,
 * docs/sweep.md "Memory"), which its local workers inherit, unless
 * BT_MALLOC_TUNE=0 or GLIBC_TUNABLES already names glibc.malloc.hugetlb; a
 * user's other tunables are kept after ours. Nothing but that exec puts them
 * in its environment, so the debug line shows it happened, and only the run
 * that goes on logs (the "listening" line once). The results do not depend
 * on them (perturb=165 also fills freed memory with a pattern, so a read of
 * freed memory would show). */
Test(sweep_basic, malloc_settings_for_local_workers_change_no_result)
{
    const char *cases[][4] = {
        /* out, BT_MALLOC_TUNE, GLIBC_TUNABLES, expected text */
        {"m-ours", NULL, NULL, "local workers): glibc.malloc.hugetlb=1:glibc.malloc.top_pad="},
        {"m-off", "0", NULL, "local workers): glibc's defaults"},
        {"m-user", NULL, "glibc.malloc.perturb=165",
         "trim_threshold=268435456:glibc.malloc.perturb=165\n"},
        {"m-theirs", NULL, "glibc.malloc.hugetlb=0", "local workers): glibc.malloc.hugetlb=0\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char odir[320], log[340];
        sfx_path(odir, sizeof odir, &f, cases[i][0]);
        snprintf(log, sizeof log, "%s.log", odir);
        unsetenv("BT_MALLOC_TUNE");
        unsetenv("GLIBC_TUNABLES");
        if (cases[i][1])
            setenv("BT_MALLOC_TUNE", cases[i][1], 1);
        if (cases[i][2])
            setenv("GLIBC_TUNABLES", cases[i][2], 1);
        char *argv[] = {f.bt,        "sweep", f.cfg,         "--out", odir,
                        "--workers", "2",     "--log-level", "debug", NULL};
        int rc = bt_proc_run(argv, log, 120000);
        unsetenv("BT_MALLOC_TUNE");
        unsetenv("GLIBC_TUNABLES");
        cr_assert_eq(rc, 0, "%s: bt sweep failed (see %s)", cases[i][0], log);
        cr_assert(sfx_log_has(&f, cases[i][0], cases[i][3]), "%s: no '%s' in %s", cases[i][0],
                  cases[i][3], log);
        char *text = bt_proc_slurp(log, NULL);
        cr_assert(text);
        const char *l1 = strstr(text, "info: listening on ");
        cr_assert(l1 && !strstr(l1 + 1, "info: listening on "), "%s: 'listening' not once in %s",
                  cases[i][0], log);
        free(text);
        if (i > 0)
            sfx_assert_same_report(&f, cases[0][0], cases[i][0]);
    }
}

/* A worker started by hand (ssh, Slurm) runs itself once more with the
 * settings; not with BT_MALLOC_TUNE=0, nor when the user's GLIBC_TUNABLES
 * leaves no room for ours (it runs as it is, their value untouched); only
 * the run that goes on logs. */
Test(sweep_basic, a_worker_started_by_hand_sets_its_malloc_settings)
{
    char big[4200] = ""; /* a valid GLIBC_TUNABLES too long to add ours to */
    while (strlen(big) + 24 < sizeof big - 100)
        strcat(big, "glibc.malloc.perturb=0:");
    strcat(big, "glibc.malloc.perturb=0");
    for (int off = 0; off < 3; off++) {
        char ep[256], name[16], log[340];
        snprintf(name, sizeof name, "hand%d", off);
        pid_t coord = sfx_start_coord(&f, name, "tcp://127.0.0.1:*", false, ep, sizeof ep);
        snprintf(log, sizeof log, "%s/%s-w.log", f.dir, name);
        unsetenv("GLIBC_TUNABLES");
        if (off == 1)
            setenv("BT_MALLOC_TUNE", "0", 1);
        if (off == 2)
            setenv("GLIBC_TUNABLES", big, 1);
        char *argv[] = {f.worker, "--connect",   ep,   "--log-level",
                        "debug",  "--idle-exit", "60", NULL};
        pid_t w = bt_proc_spawn(argv, log);
        unsetenv("BT_MALLOC_TUNE");
        unsetenv("GLIBC_TUNABLES");
        cr_assert(w > 0);
        cr_assert_eq(bt_proc_wait(coord, 60000), 0, "coordinator failed");
        cr_assert_eq(bt_proc_wait(w, 30000), 0, "worker failed (see %s)", log);
        char *text = bt_proc_slurp(log, NULL);
        cr_assert(text);
        const char *want = off ? "malloc: glibc's defaults" : "malloc: " BT_MEMTUNE_SETTINGS "\n";
        cr_assert(strstr(text, want), "no '%s' in %s", want, log);
        /* the second run logs, the first does not: the threads line once */
        const char *t1 = strstr(text, " thread(s), from ");
        cr_assert(t1 && !strstr(t1 + 1, " thread(s), from "), "threads line not once in %s", log);
        free(text);
    }
}
