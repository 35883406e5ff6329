/* Integration tests of `bt run --from-sweep DIR --job N` and of the files
 * report.html is drawn from: every job of a small sweep (and of a
 * walk-forward sweep) re-run by bt run gives exactly the metrics of its
 * results.csv row; the sweep re-ran its top points (top_equity.csv); bt
 * report rebuilds report.html of a run folder and of a sweep folder. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLI_FIXTURE_PREFIX "/tmp/bt_test_from_sweep_XXXXXX"
#include "cli_fixture.h"

#include "bt_metrics.h"

TestSuite(from_sweep, .init = s_setup, .fini = s_teardown, .timeout = 300);

/* Field k (0-based) of a CSV line without quotes, into buf. */
static const char *s_field(const char *line, size_t k, char *buf, size_t cap)
{
    for (size_t i = 0; i < k && line; i++) {
        line = strpbrk(line, ",\n");
        if (line && *line == ',')
            line++;
        else
            line = NULL;
    }
    size_t n = line ? strcspn(line, ",\n") : 0;
    snprintf(buf, cap, "%.*s", (int)n, line ? line : "");
    return buf;
}

/* Column of name in a header line, or -1. */
static long s_col(const char *header, const char *name)
{
    char buf[256];
    for (size_t k = 0; k < 200; k++) {
        s_field(header, k, buf, sizeof buf);
        if (strcmp(buf, name) == 0)
            return (long)k;
        if (!buf[0] && !strchr(header, ','))
            break;
    }
    return -1;
}

/* The number after "name": in metrics.json text (NAN for null). */
static double s_json_metric(const char *json, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\"%s\": ", name);
    const char *p = strstr(json, key);
    cr_assert_not_null(p, "metrics.json has no %s", name);
    p += strlen(key);
    if (strncmp(p, "null", 4) == 0)
        return NAN;
    return strtod(p, NULL);
}

/* Every ok job of DIR/results.csv re-run with --from-sweep: same metrics, bit for bit. */
static void s_check_all_jobs(const char *sweep)
{
    char name[256];
    snprintf(name, sizeof name, "%s/results.csv", sweep);
    char *res = s_slurp(name);
    cr_assert(res[0], "%s missing", name);
    const char *header = res;
    long status = s_col(header, "status");
    cr_assert_geq(status, 0);
    size_t checked = 0;
    for (const char *line = strchr(res, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        char job[64], st[64], cell[128];
        s_field(line, 0, job, sizeof job);
        if (strcmp(s_field(line, (size_t)status, st, sizeof st), "ok") != 0)
            continue;
        int rc = s_sh("%s/bt run --from-sweep %s --job %s --out job%s", BT_BIN_DIR, sweep, job,
                      job);
        char *err = s_slurp("err.txt");
        cr_assert_eq(rc, 0, "bt run --from-sweep %s --job %s: %s", sweep, job, err);
        free(err);
        snprintf(name, sizeof name, "job%s/metrics.json", job);
        char *json = s_slurp(name);
        for (size_t m = 0; m < bt_metrics_count(); m++) {
            long c = s_col(header, bt_metrics_name(m));
            cr_assert_geq(c, 0, "results.csv has no %s column", bt_metrics_name(m));
            double want = strtod(s_field(line, (size_t)c, cell, sizeof cell), NULL);
            double got = s_json_metric(json, bt_metrics_name(m));
            cr_assert(got == want || (isnan(got) && isnan(want)),
                      "%s job %s: %s = %.17g from bt run, %.17g in results.csv", sweep, job,
                      bt_metrics_name(m), got, want);
        }
        free(json);
        snprintf(name, sizeof name, "job%s/report.html", job);
        cr_assert(s_exists(name), "%s missing", name);
        checked++;
    }
    cr_assert_gt(checked, 3, "too few ok jobs in %s", sweep);
    free(res);
}

static void s_make_store(void)
{
    int rc = s_sh("%s/bt data synth --out bars.h5 --symbols 2 --bars 900 --seed 11", BT_BIN_DIR);
    cr_assert_eq(rc, 0, "synth failed");
}

Test(from_sweep, every_job_equals_its_results_row)
{
    s_make_store();
    s_write("s.yaml", "strategy: sma_cross\n"
                      "data: {store: bars.h5, symbols: [SYN000, SYN001]}\n"
                      "capital: 50000\n"
                      "params: {fast: 5, slow: 20}\n"
                      "execution: {commission_pct: 0.1, slippage_bps: 2}\n"
                      "sweep:\n"
                      "  params.fast: [3, 5, 8]\n"
                      "  params.slow: [20, 30]\n"
                      "  data.symbols: [[SYN000], [SYN000, SYN001]]\n");
    int rc = s_sh("%s/bt sweep s.yaml --set execution.slippage_bps=3 --out sw --workers 1",
                  BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 0, "bt sweep failed: %s", err);
    free(err);
    cr_assert(s_exists("sw/report.html") && s_exists("sw/sweep.yaml"));
    s_check_all_jobs("sw");

    /* the top 3 of ranking.csv were re-run for the report, in rank order */
    char *rank = s_slurp("sw/ranking.csv"), *top = s_slurp("sw/top_equity.csv"), a[64], b[64];
    const char *r1 = strchr(rank, '\n') + 1, *t1 = strchr(top, '\n') + 1;
    cr_assert_str_eq(s_field(r1, 1, a, sizeof a), s_field(t1, 0, b, sizeof b),
                     "top_equity.csv should start with the winner");
    free(rank);
    free(top);

    /* a job id out of range, and --set with --from-sweep, are usage errors */
    cr_assert_eq(s_sh("%s/bt run --from-sweep sw --job 12 --out x", BT_BIN_DIR), 2);
    cr_assert_eq(s_sh("%s/bt run --from-sweep sw --job 1 --set params.fast=4", BT_BIN_DIR), 2);
    cr_assert_eq(s_sh("%s/bt run --from-sweep . --job 1 --out x", BT_BIN_DIR), 2);

    /* bt report rebuilds both kinds of page */
    char path[512];
    snprintf(path, sizeof path, "%s/sw/report.html", s_dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(s_sh("%s/bt report sw", BT_BIN_DIR), 0);
    cr_assert(s_exists("sw/report.html"));
    snprintf(path, sizeof path, "%s/job0/report.html", s_dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(s_sh("%s/bt report job0", BT_BIN_DIR), 0);
    cr_assert(s_exists("job0/report.html"));
    cr_assert_eq(s_sh("%s/bt report .", BT_BIN_DIR), 2);
}

Test(from_sweep, walk_forward_training_jobs)
{
    s_make_store();
    s_write("w.yaml", "strategy: sma_cross\n"
                      "data: {store: bars.h5, symbols: [SYN000, SYN001]}\n"
                      "params: {fast: 5, slow: 20}\n"
                      "walk_forward: {train: 300b, test: 150b}\n"
                      "sweep:\n"
                      "  params.fast: [3, 8]\n"
                      "  params.slow: [20, 40]\n");
    int rc = s_sh("%s/bt sweep w.yaml --out wf --workers 1", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 0, "bt sweep failed: %s", err);
    free(err);
    cr_assert(s_exists("wf/report.html") && s_exists("wf/walkforward.csv"));
    s_check_all_jobs("wf");
}
