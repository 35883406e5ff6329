/* Integration tests of the end of a sweep (docs/sweep.md "End of the
 * sweep"): bt sweep builds report.html and prints its top rows from the
 * report in memory; `bt report DIR` rebuilds the page from the files. The
 * two pages must be the same bytes: for a plain sweep with a labelled axis,
 * for one with failed jobs and sweep.rank_min_trades (a "ranked" column, a
 * ranking shorter than the results) and for a walk-forward sweep. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLI_FIXTURE_PREFIX "/tmp/bt_test_sweep_report_XXXXXX"
#include "cli_fixture.h"

TestSuite(sweep_report, .init = s_setup, .fini = s_teardown, .timeout = 300);

static void s_make_store(void)
{
    int rc = s_sh("%s/bt data synth --out bars.h5 --symbols 2 --bars 900 --seed 11", BT_BIN_DIR);
    cr_assert_eq(rc, 0, "synth failed");
}

/* DIR/report.html as bt sweep wrote it equals bt report DIR's, byte for byte. */
static void s_same_page(const char *dir)
{
    char name[256];
    snprintf(name, sizeof name, "%s/report.html", dir);
    cr_assert(s_exists(name), "%s missing", name);
    char *mem = s_slurp(name);
    cr_assert_eq(s_sh("%s/bt report %s", BT_BIN_DIR, dir), 0);
    char *file = s_slurp(name);
    size_t n = strlen(mem), m = strlen(file), i = 0;
    while (i < n && i < m && mem[i] == file[i])
        i++;
    cr_assert(n == m && i == n,
              "%s: bt sweep's page and bt report's differ at byte %zu of %zu/%zu: ...%.60s... "
              "vs ...%.60s...",
              name, i, n, m, mem + (i > 20 ? i - 20 : 0), file + (i > 20 ? i - 20 : 0));
    free(mem);
    free(file);
}

/* The winner line bt sweep printed names ranking.csv's first job. */
static void s_winner_printed(const char *dir)
{
    char name[256];
    snprintf(name, sizeof name, "%s/ranking.csv", dir);
    char *rank = s_slurp(name), *out = s_slurp("out.txt");
    const char *row = strchr(rank, '\n');
    cr_assert_not_null(row);
    char job[32];
    size_t k = strcspn(row + 1, ",");
    const char *p = row + 1 + k + 1; /* after the rank: the job id */
    snprintf(job, sizeof job, "%.*s", (int)strcspn(p, ","), p);
    const char *w = strstr(out, "<- winner");
    cr_assert_not_null(w, "no winner line in: %s", out);
    const char *line = w;
    while (line > out && line[-1] != '\n')
        line--;
    char want[48];
    snprintf(want, sizeof want, " %s ", job);
    cr_assert(strstr(line, want) && strstr(line, want) < w, "winner line '%.*s' lacks job %s",
              (int)(w - line), line, job);
    free(rank);
    free(out);
}

Test(sweep_report, page_from_memory_equals_bt_report)
{
    s_make_store();
    s_write("s.yaml", "strategy: sma_cross\n"
                      "data: {store: bars.h5, symbols: [SYN000, SYN001]}\n"
                      "params: {fast: 5, slow: 20}\n"
                      "sweep:\n"
                      "  params.fast: [3, 5, 8, 13]\n"
                      "  params.slow: [20, 30, 50]\n"
                      "  data.symbols: [[SYN000], [SYN000, SYN001]]\n");
    int rc = s_sh("%s/bt sweep s.yaml --out sw --workers 2", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 0, "bt sweep failed: %s", err);
    free(err);
    s_winner_printed("sw");
    s_same_page("sw");
}

Test(sweep_report, failed_jobs_and_rank_min_trades)
{
    s_make_store();
    /* fast >= slow is refused by sma_cross: with --keep-invalid those points
     * run and fail (their error text in the page); few trades are not ranked */
    s_write("f.yaml", "strategy: sma_cross\n"
                      "data: {store: bars.h5, symbols: [SYN000]}\n"
                      "params: {fast: 5, slow: 20}\n"
                      "top: 4\n"
                      "sweep:\n"
                      "  rank_min_trades: 12\n"
                      "  params.fast: [3, 10, 25, 40]\n"
                      "  params.slow: [20, 30, 60]\n");
    int rc = s_sh("%s/bt sweep f.yaml --out fs --workers 1 --keep-invalid", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 3, "bt sweep should finish with failed jobs (3), got %d: %s", rc, err);
    free(err);
    char *res = s_slurp("fs/results.csv");
    cr_assert(strstr(res, ",failed,") && strstr(res, ",ranked\n"), "results.csv: %s", res);
    free(res);
    s_same_page("fs");
}

Test(sweep_report, walk_forward_page)
{
    s_make_store();
    s_write("w.yaml", "strategy: sma_cross\n"
                      "data: {store: bars.h5, symbols: [SYN000, SYN001]}\n"
                      "params: {fast: 5, slow: 20}\n"
                      "walk_forward: {train: 300b, test: 150b}\n"
                      "sweep:\n"
                      "  params.fast: [3, 8]\n"
                      "  params.slow: [20, 40]\n");
    int rc = s_sh("%s/bt sweep w.yaml --out wf --workers 2", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 0, "bt sweep failed: %s", err);
    free(err);
    s_same_page("wf");
}
