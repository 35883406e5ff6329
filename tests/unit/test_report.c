/* Unit tests for coordinator/bt_report: exact CSV headers and rows, the same
 * bytes whatever order results arrive in, ranking ties broken by swept values,
 * top, failed and pending rows, directions, number format. Output goes to
 * mkdtemp folders under /tmp, removed at the end. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_metrics.h"
#include "bt_report.h"

static const char *const s_names[] = {
#define S_NAME(name, desc) #name,
    BT_METRICS(S_NAME)
#undef S_NAME
};
#define S_NM (sizeof s_names / sizeof s_names[0])

static size_t s_metric(const char *name)
{
    for (size_t i = 0; i < S_NM; i++)
        if (strcmp(s_names[i], name) == 0)
            return i;
    cr_assert_fail("no metric %s", name);
    return 0;
}

static char s_dirs[2][64];

static void s_setup(void)
{
    for (int i = 0; i < 2; i++) {
        snprintf(s_dirs[i], sizeof s_dirs[i], "/tmp/bt_test_report_XXXXXX");
        cr_assert_not_null(mkdtemp(s_dirs[i]));
    }
}

static void s_teardown(void)
{
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(s_dirs[i]);
        if (d) {
            struct dirent *e;
            char p[512];
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                snprintf(p, sizeof p, "%s/%s", s_dirs[i], e->d_name);
                unlink(p);
            }
            closedir(d);
        }
        rmdir(s_dirs[i]);
    }
}

TestSuite(report, .init = s_setup, .fini = s_teardown);

static char *s_slurp(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Line k (0 = header) of text, copied into buf. */
static const char *s_line(const char *text, int k, char *buf, size_t size)
{
    const char *p = text;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    cr_assert(p && *p, "no line %d", k);
    size_t n = strcspn(p, "\n");
    cr_assert_lt(n, size);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int s_count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Grid: strategy.fast in {5, 10, 15} x data.symbols in 4 labelled sets; job id
 * = fast_index * 4 + set_index. */
static const char *const s_axes[] = {"strategy.fast", "data.symbols"};
static const char *const s_sets[] = {"AAPL+MSFT", "SPY", "A,B", "X\"Y"};

static bt_report_t *s_new_grid(void)
{
    bt_report_t *r = bt_report_new(12, 2, s_axes);
    cr_assert_not_null(r);
    bt_errbuf_t eb;
    cr_assert_eq(bt_report_set_axis_labels(r, 1, 4, s_sets, &eb), BT_OK);
    for (uint64_t id = 0; id < 12; id++) {
        double v[2] = {5.0 * (double)(id / 4 + 1), (double)(id % 4)};
        bt_report_set_point(r, id, v);
    }
    return r;
}

static void s_rec(bt_journal_rec_t *rec, uint64_t id, uint32_t attempt, bool ok, double sharpe)
{
    memset(rec, 0, sizeof *rec);
    rec->job_id = id;
    rec->attempt = attempt;
    rec->ok = ok;
    rec->nmetrics = ok ? S_NM : 0;
    if (!ok)
        snprintf(rec->error, sizeof rec->error, "job %llu: strategy said \"no\", stop",
                 (unsigned long long)id);
    for (size_t m = 0; ok && m < S_NM; m++)
        rec->metrics[m] = (double)id / 10.0 + (double)m;
    rec->metrics[s_metric("sharpe")] = sharpe;
    rec->metrics[s_metric("max_drawdown")] = 0.01 * (double)((id * 7) % 12);
}

/* The result set used by several tests: sharpe ties between jobs 1, 5, 9
 * (value 2.0) and 2, 6 (value 1.5); job 3 failed; job 4 NaN sharpe; job 11
 * pending (no result). Plus duplicate records in `dups` mode. */
static size_t s_results(bt_journal_rec_t *out, bool dups)
{
    static const double sharpe[12] = {0.5, 2.0, 1.5, 0, NAN, 2.0, 1.5, -1.0, 0.25, 2.0, 3.0, 0};
    size_t n = 0;
    for (uint64_t id = 0; id < 11; id++)
        s_rec(&out[n++], id, 1, id != 3, sharpe[id]);
    if (dups) {
        s_rec(&out[n++], 1, 2, true, 99.0); /* higher attempt: loses to attempt 1 */
        s_rec(&out[n++], 3, 2, false, 0);   /* failed twice: attempt 1 kept */
        s_rec(&out[n++], 10, 3, false, 0);  /* failed after ok: ok kept */
    }
    return n;
}

static void s_write(bt_report_t *r, const char *dir, const char *rank_by, bool desc, size_t top)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_report_summary_t sum = {.config_path = "configs/x.yaml",
                               .config_sha256 = "c0ffee",
                               .data_store = "demo.h5",
                               .data_hash = "d00d",
                               .bt_version = "0.1.0",
                               .strategy = "sma_cross",
                               .rank_by = rank_by,
                               .wall_s = 2.0,
                               .jobs_run = 11,
                               .bars_run = 11000,
                               .workers_seen = 2};
    cr_assert_eq(bt_report_write(r, dir, rank_by, desc, top, &sum, &eb), BT_OK, "%s", eb.msg);
}

Test(report, csv_header_exact)
{
    bt_report_t *r = s_new_grid();
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *res = s_slurp(s_dirs[0], "results.csv");
    char *rank = s_slurp(s_dirs[0], "ranking.csv");
    char want[4096];
    size_t used = (size_t)snprintf(want, sizeof want,
                                   "job_id,strategy.fast,data.symbols,"
                                   "data.symbols_index");
    for (size_t m = 0; m < S_NM; m++)
        used += (size_t)snprintf(want + used, sizeof want - used, ",%s", s_names[m]);
    snprintf(want + used, sizeof want - used, ",status,error");
    char line[4096];
    cr_assert_str_eq(s_line(res, 0, line, sizeof line), want);
    /* the metric columns are the BT_METRICS list, starting like this */
    cr_assert(strncmp(want + strlen("job_id,strategy.fast,data.symbols,data.symbols_index,"),
                      "final_equity,total_return,cagr,", 31) == 0);
    char want_rank[4200];
    snprintf(want_rank, sizeof want_rank, "rank,%s", want);
    cr_assert_str_eq(s_line(rank, 0, line, sizeof line), want_rank);
    /* nothing finished: every row pending, ranking empty */
    cr_assert_eq(s_count_lines(res), 13);
    cr_assert_eq(s_count_lines(rank), 1);
    s_line(res, 1, line, sizeof line);
    /* job 0: fast 5, set 0 "AAPL+MSFT", 20 empty metrics, pending, empty error */
    char want_row[256];
    used = (size_t)snprintf(want_row, sizeof want_row, "0,5,AAPL+MSFT,0");
    for (size_t m = 0; m < S_NM; m++)
        want_row[used++] = ',';
    snprintf(want_row + used, sizeof want_row - used, ",pending,");
    cr_assert_str_eq(line, want_row);
    free(res);
    free(rank);
    bt_report_destroy(&r);
    cr_assert_null(r);
}

Test(report, same_bytes_whatever_the_arrival_order)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, true);
    bt_report_t *a = s_new_grid();
    bt_report_t *b = s_new_grid();
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(a, &recs[i]);
    for (size_t i = n; i-- > 0;) /* reverse: duplicates arrive first */
        bt_report_set_result(b, &recs[i]);
    s_write(a, s_dirs[0], "sharpe", true, 0);
    s_write(b, s_dirs[1], "sharpe", true, 0);
    const char *files[] = {"results.csv", "ranking.csv"};
    for (int f = 0; f < 2; f++) {
        char *x = s_slurp(s_dirs[0], files[f]);
        char *y = s_slurp(s_dirs[1], files[f]);
        cr_assert_str_eq(x, y, "%s differs", files[f]);
        free(x);
        free(y);
    }
    /* and the duplicates were resolved as documented */
    uint64_t best;
    double v;
    cr_assert(bt_report_best(b, s_metric("sharpe"), true, &best, &v));
    cr_assert_eq(best, 10); /* 3.0: the ok record beat the later failure */
    cr_assert_eq(v, 3.0);
    uint64_t ok, failed, pending;
    bt_report_counts(b, &ok, &failed, &pending);
    cr_assert_eq(ok, 10);     /* 0..10 except 3 */
    cr_assert_eq(failed, 1);  /* 3 */
    cr_assert_eq(pending, 1); /* 11 */
    bt_report_destroy(&a);
    bt_report_destroy(&b);
}

/* First field (rank) and second (job id) of each ranking line. */
static void s_rank_ids(const char *text, uint64_t *ids, int n)
{
    char line[4096];
    for (int k = 0; k < n; k++) {
        s_line(text, k + 1, line, sizeof line);
        unsigned long long rank = 0, id = 0;
        cr_assert_eq(sscanf(line, "%llu,%llu,", &rank, &id), 2);
        cr_assert_eq(rank, (unsigned long long)k + 1);
        ids[k] = id;
    }
}

Test(report, ranking_ties_broken_by_swept_values)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, false);
    bt_report_t *r = s_new_grid();
    for (size_t i = n; i-- > 0;)
        bt_report_set_result(r, &recs[i]);
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *rank = s_slurp(s_dirs[0], "ranking.csv");
    /* ok rows: 0..10 except 3 = 10 rows. Descending sharpe:
     *   10 (3.0); then 2.0 for jobs 1 (fast 5, set 1), 5 (fast 10, set 1),
     *   9 (fast 15, set 1): fast ascending -> 1, 5, 9;
     *   1.5: jobs 2 (fast 5) and 6 (fast 10) -> 2, 6; 0.5: 0; 0.25: 8; -1: 7;
     *   NaN last: 4. */
    cr_assert_eq(s_count_lines(rank), 11);
    uint64_t ids[10];
    s_rank_ids(rank, ids, 10);
    const uint64_t want[10] = {10, 1, 5, 9, 2, 6, 0, 8, 7, 4};
    for (int k = 0; k < 10; k++)
        cr_assert_eq(ids[k], want[k], "rank %d: job %llu, want %llu", k + 1,
                     (unsigned long long)ids[k], (unsigned long long)want[k]);
    free(rank);

    /* ties on the first axis fall to the second: fast equal, set index ascending.
     * Jobs 4..7 all fast 10; give 5, 6, 7 the same sharpe -> 5 (set 1), 6, 7. */
    bt_report_t *r2 = s_new_grid();
    bt_journal_rec_t rec;
    for (uint64_t id = 7; id >= 5; id--) {
        s_rec(&rec, id, 1, true, 1.0);
        bt_report_set_result(r2, &rec);
    }
    s_write(r2, s_dirs[1], "sharpe", false, 0);
    rank = s_slurp(s_dirs[1], "ranking.csv");
    s_rank_ids(rank, ids, 3);
    cr_assert_eq(ids[0], 5);
    cr_assert_eq(ids[1], 6);
    cr_assert_eq(ids[2], 7);
    free(rank);
    bt_report_destroy(&r);
    bt_report_destroy(&r2);
}

Test(report, top_and_ascending)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, false);
    bt_report_t *r = s_new_grid();
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(r, &recs[i]);
    /* max_drawdown = 0.01 * ((id * 7) % 12), ascending, ok ids 0,1,2,4..10:
     *   id:  0    1    2    4    5    6    7    8    9    10
     *   dd:  0   .07  .02  .04  .11  .06  .01  .08  .03  .10
     * top 3 ascending -> 0 (0), 7 (.01), 2 (.02) */
    s_write(r, s_dirs[0], "max_drawdown", false, 3);
    char *rank = s_slurp(s_dirs[0], "ranking.csv");
    cr_assert_eq(s_count_lines(rank), 4);
    uint64_t ids[3];
    s_rank_ids(rank, ids, 3);
    cr_assert_eq(ids[0], 0);
    cr_assert_eq(ids[1], 7);
    cr_assert_eq(ids[2], 2);
    free(rank);
    /* summary.txt's table honours top: 3 rows */
    char *sm = s_slurp(s_dirs[0], "summary.txt");
    const char *tt = strstr(sm, "top 3 by max_drawdown:\n");
    cr_assert_not_null(tt, "%s", sm);
    cr_assert_eq(s_count_lines(tt), 5, "header, column names and 3 rows: %s", tt);
    free(sm);
    /* descending, top 2 -> 5 (.11), 10 (.10) */
    s_write(r, s_dirs[0], "max_drawdown", true, 2);
    rank = s_slurp(s_dirs[0], "ranking.csv");
    cr_assert_eq(s_count_lines(rank), 3);
    s_rank_ids(rank, ids, 2);
    cr_assert_eq(ids[0], 5);
    cr_assert_eq(ids[1], 10);
    free(rank);
    /* top larger than the ok rows: all 10 */
    s_write(r, s_dirs[0], "max_drawdown", true, 500);
    rank = s_slurp(s_dirs[0], "ranking.csv");
    cr_assert_eq(s_count_lines(rank), 11);
    free(rank);
    bt_report_destroy(&r);
}

Test(report, failed_and_labelled_rows)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, false);
    bt_report_t *r = s_new_grid();
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(r, &recs[i]);
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *res = s_slurp(s_dirs[0], "results.csv");
    char line[4096], want[4096];
    /* job 3: fast 5, set 3 label X"Y quoted as "X""Y", no metrics, failed, error quoted */
    size_t used = (size_t)snprintf(want, sizeof want, "3,5,\"X\"\"Y\",3");
    for (size_t m = 0; m < S_NM; m++)
        want[used++] = ',';
    snprintf(want + used, sizeof want - used, ",failed,\"job 3: strategy said \"\"no\"\", stop\"");
    cr_assert_str_eq(s_line(res, 4, line, sizeof line), want);
    /* job 2: set 2 "A,B" quoted; metrics m = 0.2 + m, sharpe 1.5, max_drawdown 0.02,
     * printed shortest-exact: 0.2, 1.2, 2.2, 3.2, 1.5, 5.2, 0.02, 7.2, ... */
    s_line(res, 3, line, sizeof line);
    cr_assert(strncmp(line, "2,5,\"A,B\",2,0.2,1.2,2.2,3.2,1.5,5.2,0.02,7.2,", 44) == 0, "%s",
              line);
    cr_assert(strstr(line, ",ok,") != NULL);
    cr_assert_eq(line[strlen(line) - 1], ','); /* empty error */
    /* job 4: NaN sharpe printed "nan" */
    s_line(res, 5, line, sizeof line);
    cr_assert(strstr(line, ",nan,") != NULL, "%s", line);
    /* job 11 pending */
    s_line(res, 12, line, sizeof line);
    cr_assert(strstr(line, ",pending,") != NULL, "%s", line);
    free(res);
    /* summary names the run and lists the failure and the top table */
    char *sum = s_slurp(s_dirs[0], "summary.txt");
    cr_assert(strstr(sum, "configs/x.yaml (sha256 c0ffee)") != NULL);
    cr_assert(strstr(sum, "12 points = strategy.fast (3 values) x data.symbols (4 values)"));
    cr_assert(strstr(sum, "5.5 backtests/s") != NULL, "%s", sum); /* 11 jobs / 2 s */
    cr_assert(strstr(sum, "job 3: job 3: strategy said") != NULL);
    cr_assert(strstr(sum, "10 ok, 1 failed, 1 pending") != NULL);
    cr_assert(strstr(sum, "top 10 by sharpe") != NULL);
    free(sum);
    bt_report_destroy(&r);
}

/* failures.csv: results.csv's header and its failed rows only (job 3 here),
 * byte for byte; only the header when none failed. The first failure is
 * named with its values (the label of a labelled axis). */
Test(report, failures_csv_lists_the_failed_rows)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, false);
    bt_report_t *r = s_new_grid();
    cr_assert_str_eq(bt_report_first_failure(r), "");
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(r, &recs[i]);
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *res = s_slurp(s_dirs[0], "results.csv");
    char *fail = s_slurp(s_dirs[0], "failures.csv");
    char hdr[4096], row[4096], want[8200];
    s_line(res, 0, hdr, sizeof hdr);
    s_line(res, 4, row, sizeof row); /* job 3 */
    snprintf(want, sizeof want, "%s\n%s\n", hdr, row);
    cr_assert_str_eq(fail, want);
    cr_assert_str_eq(bt_report_first_failure(r), "job 3 (strategy.fast=5 data.symbols=X\"Y): job 3: "
                                                 "strategy said \"no\", stop");
    free(fail);
    bt_report_destroy(&r);
    /* no failure: header only */
    r = s_new_grid();
    for (size_t i = 0; i < n; i++)
        if (recs[i].ok)
            bt_report_set_result(r, &recs[i]);
    s_write(r, s_dirs[1], "sharpe", true, 0);
    fail = s_slurp(s_dirs[1], "failures.csv");
    snprintf(want, sizeof want, "%s\n", hdr);
    cr_assert_str_eq(fail, want);
    free(fail);
    free(res);
    bt_report_destroy(&r);
}

Test(report, unknown_rank_by)
{
    bt_report_t *r = s_new_grid();
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_report_write(r, s_dirs[0], "sharp", true, 0, NULL, &eb), BT_ECONFIG);
    cr_assert(strstr(eb.msg, "'sharp'") != NULL, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "sharpe") != NULL, "%s", eb.msg);
    bt_report_destroy(&r);
}

Test(report, write_into_missing_folder_fails_cleanly)
{
    bt_report_t *r = s_new_grid();
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_report_write(r, "/nonexistent/bt", "sharpe", true, 0, NULL, &eb), BT_EIO);
    cr_assert(strstr(eb.msg, "/nonexistent/bt") != NULL, "%s", eb.msg);
    bt_report_destroy(&r);
}

Test(report, number_format)
{
    char b[40];
    cr_assert_str_eq(bt_report_fmt_double(0.1, b, sizeof b), "0.1");
    cr_assert_str_eq(bt_report_fmt_double(100.0, b, sizeof b), "100");
    cr_assert_str_eq(bt_report_fmt_double(-2.5e-7, b, sizeof b), "-2.5e-07");
    /* 1/3 needs 17 digits to read back: 0.33333333333333331 */
    cr_assert_str_eq(bt_report_fmt_double(1.0 / 3.0, b, sizeof b), "0.33333333333333331");
    /* 0.1 + 0.2 = 0.30000000000000004 (the classic) */
    cr_assert_str_eq(bt_report_fmt_double(0.1 + 0.2, b, sizeof b), "0.30000000000000004");
    cr_assert_str_eq(bt_report_fmt_double(NAN, b, sizeof b), "nan");
    cr_assert_str_eq(bt_report_fmt_double(-NAN, b, sizeof b), "nan");
    cr_assert_str_eq(bt_report_fmt_double(INFINITY, b, sizeof b), "inf");
    cr_assert_str_eq(bt_report_fmt_double(-INFINITY, b, sizeof b), "-inf");
    /* every printed value reads back exactly */
    double x = 1.0;
    for (int i = 0; i < 200; i++) {
        x = x * 1.37 + 0.001 * i;
        cr_assert_eq(strtod(bt_report_fmt_double(x, b, sizeof b), NULL), x);
        cr_assert_eq(strtod(bt_report_fmt_double(1.0 / x, b, sizeof b), NULL), 1.0 / x);
    }
}

Test(report, out_of_range_ids_ignored)
{
    bt_report_t *r = s_new_grid();
    bt_journal_rec_t rec;
    s_rec(&rec, 12, 1, true, 1.0);
    cr_assert_not(bt_report_set_result(r, &rec));
    double v[2] = {1, 1};
    bt_report_set_point(r, 99, v); /* ignored */
    uint64_t ok;
    bt_report_counts(r, &ok, NULL, NULL);
    cr_assert_eq(ok, 0);
    cr_assert_not(bt_report_best(r, 0, true, NULL, NULL));
    bt_report_destroy(&r);
}

/* ---- bt_report_overfit over job-id ranges ----
 *
 * 2 PBO blocks, 4 returns each (N = 8). A block given as (count 4, sum 4a,
 * sum of squares 4a^2 + 3) has mean a and sample variance (4a^2 + 3 - 4a^2)/3
 * = 1, so its per-step Sharpe is a. Two blocks with means a0, a1: mean
 * m = (a0 + a1)/2, sample variance (4a0^2 + 4a1^2 + 6 - 8m^2)/7
 * = (2(a0 - a1)^2 + 6)/7. CSCV with S = 2 has C(2,1) = 2 splits: IS = one
 * block, OOS = the other. All values are exact in float (the report keeps
 * float mean and M2). */
static void s_blk_rec(bt_journal_rec_t *rec, uint64_t id, double a0, double a1, double n)
{
    s_rec(rec, id, 1, true, 0.0);
    rec->metrics[s_metric("skewness")] = 0.0;
    rec->metrics[s_metric("kurtosis")] = 3.0;
    rec->nblk = 6;
    double a[2] = {a0, a1};
    for (int b = 0; b < 2; b++) {
        rec->blk[3 * b] = n;
        rec->blk[3 * b + 1] = n * a[b];
        rec->blk[3 * b + 2] = n * a[b] * a[b] + (n - 1.0); /* sample variance 1 */
    }
}

/* Jobs 0..3 = trial set A, 4..7 = trial set B (as walk-forward windows of 4
 * points).
 * A: job 0 (0.5, 0.5), job 1 (0.25, 0.25), job 2 (0, 0); job 3 has blocks of
 *   6 returns (N = 12, left out), with a huge mean that would win if it
 *   counted. Each split's IS best is job 0 (IS Sharpe 0.5 > 0.25 > 0), also
 *   the OOS best: rank 3 of 3, omega 3/4, lambda ln 3 > 0 -> PBO 0, median
 *   logit ln 3 = 1.0986122886681098, no OOS loss.
 *   DSR: full Sharpes m sqrt(7/6) (variance 6/7) = 2c, c, 0 with
 *   c = 0.25 sqrt(7/6); V = sample variance = c^2 = 0.0729166..; best job 0,
 *   SR 0.5400617248673217; SR0 = sqrt(V)((1-g) Phi^-1(2/3) + g Phi^-1(1 -
 *   1/(3e))) = 0.23028353358287573; DSR = Phi((SR - SR0) sqrt(7) /
 *   sqrt(1 + SR^2/2)) = 0.7780623487836298 (skew 0, kurtosis 3; Python
 *   statistics.NormalDist).
 * B: job 4 (0.5, -0.5), job 5 (-0.5, 0.5), job 6 (0, 0); job 7 failed. IS =
 *   block 0: best job 4, whose OOS Sharpe -0.5 is the lowest: rank 1 of 3,
 *   omega 1/4, lambda ln(1/3) < 0; IS = block 1: job 5, the same -> PBO 1,
 *   median logit -ln 3, the IS best loses OOS in both splits.
 *   DSR: every full mean is 0 -> Sharpes all 0, V = 0, SR0 = 0, winner the
 *   lowest id (job 4), DSR = Phi(0) = 0.5. */
static bt_report_t *s_two_sets(void)
{
    bt_report_t *r = s_new_grid();
    bt_journal_rec_t rec;
    static const double a[7][2] = {{0.5, 0.5},  {0.25, 0.25}, {0, 0},  {5.0, 5.0},
                                   {0.5, -0.5}, {-0.5, 0.5},  {0, 0}};
    for (uint64_t id = 0; id < 7; id++) {
        s_blk_rec(&rec, id, a[id][0], a[id][1], id == 3 ? 6.0 : 4.0);
        cr_assert(bt_report_set_result(r, &rec));
    }
    s_rec(&rec, 7, 1, false, 0);
    cr_assert(bt_report_set_result(r, &rec));
    return r;
}

Test(report, overfit_per_range_known_answers)
{
    bt_report_t *r = s_two_sets();
    bt_report_overfit_t o;

    cr_assert_eq(bt_report_overfit(r, 0, 4, &o), BT_OK, "%s / %s", o.dsr_msg, o.pbo_msg);
    cr_assert_eq(o.trials, 3);
    cr_assert_eq(o.left_out, 1); /* job 3: 12 returns */
    cr_assert_eq(o.ref_job, 0);
    cr_assert_eq(o.nreturns, 8);
    cr_assert_eq(o.best_job, 0);
    cr_assert_float_eq(o.dsr.sr_best, 0.5400617248673217, 1e-12);
    cr_assert_float_eq(o.dsr.var_sr, 0.07291666666666669, 1e-12);
    cr_assert_float_eq(o.dsr.sr0, 0.23028353358287573, 1e-10);
    cr_assert_float_eq(o.dsr.dsr, 0.7780623487836298, 1e-10);
    cr_assert_eq(o.pbo.splits, 2);
    cr_assert_eq(o.pbo.blocks, 2);
    cr_assert_eq(o.pbo.pbo, 0.0);
    cr_assert_float_eq(o.pbo.median_logit, 1.0986122886681098, 1e-12);
    cr_assert_eq(o.pbo.prob_oos_loss, 0.0);

    cr_assert_eq(bt_report_overfit(r, 4, 8, &o), BT_OK, "%s / %s", o.dsr_msg, o.pbo_msg);
    cr_assert_eq(o.trials, 3); /* job 7 failed */
    cr_assert_eq(o.left_out, 0);
    cr_assert_eq(o.ref_job, 4);
    cr_assert_eq(o.best_job, 4);
    cr_assert_eq(o.dsr.sr0, 0.0);
    cr_assert_float_eq(o.dsr.dsr, 0.5, 1e-15);
    cr_assert_eq(o.pbo.pbo, 1.0);
    cr_assert_float_eq(o.pbo.median_logit, -1.0986122886681098, 1e-12);
    cr_assert_eq(o.pbo.prob_oos_loss, 1.0);

    /* The whole sweep pools both sets (what the summary's lines use): job 0
     * sets N = 8, so 6 trials, job 3 left out, winner job 0. */
    cr_assert_eq(bt_report_overfit(r, 0, 100, &o), BT_OK); /* end clamped to 12 rows */
    cr_assert_eq(o.trials, 6);
    cr_assert_eq(o.left_out, 1);
    cr_assert_eq(o.best_job, 0);

    /* A range with one trial: DSR is the plain PSR, PBO needs 2 trials. */
    cr_assert_eq(bt_report_overfit(r, 3, 5, &o), BT_EINVAL);
    cr_assert_eq(o.trials, 1); /* job 3 sets N = 12 here, job 4 is left out */
    cr_assert_eq(o.ref_job, 3);
    cr_assert_eq(o.left_out, 1);
    cr_assert_eq(o.dsr_err, BT_OK);
    cr_assert_eq(o.pbo_err, BT_EINVAL);
    cr_assert(strstr(o.pbo_msg, "at least 2 trials"), "%s", o.pbo_msg);

    /* Empty range. */
    cr_assert_eq(bt_report_overfit(r, 8, 12, &o), BT_EINVAL);
    cr_assert_eq(o.trials, 0);
    cr_assert_eq(o.dsr_err, BT_EINVAL);
    cr_assert_eq(o.pbo_err, BT_EINVAL);
    bt_report_destroy(&r);

    /* No block statistics at all (report.pbo_blocks 0). */
    r = s_new_grid();
    bt_journal_rec_t rec;
    s_rec(&rec, 0, 1, true, 1.0);
    bt_report_set_result(r, &rec);
    cr_assert_eq(bt_report_overfit(r, 0, 12, &o), BT_ENOTFOUND);
    cr_assert_eq(o.pbo_err, BT_ENOTFOUND);
    cr_assert(strstr(o.dsr_msg, "report.pbo_blocks"), "%s", o.dsr_msg);
    bt_report_destroy(&r);
}

/* summary.txt: one trial set -> the numbers and the left-out note; trial sets
 * of 4 jobs (walk-forward) -> no pooled numbers, a pointer to the per-window
 * figures instead. */
Test(report, overfit_summary_lines)
{
    bt_report_t *r = s_two_sets();
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *t = s_slurp(s_dirs[0], "summary.txt");
    cr_assert(strstr(t, "  deflated Sharpe 0."), "%s", t);
    cr_assert(strstr(t, "best of 6 zero-skill trials"), "%s", t);
    cr_assert(strstr(t, "  PBO 0."), "%s", t);
    cr_assert(strstr(t, "(1 trials left out: a different number of returns than job 0)"), "%s",
              t);
    free(t);

    bt_errbuf_t eb;
    bt_report_summary_t sum = {.rank_by = "sharpe", .trial_set_size = 4};
    cr_assert_eq(bt_report_write(r, s_dirs[1], "sharpe", true, 0, &sum, &eb), BT_OK, "%s",
                 eb.msg);
    t = s_slurp(s_dirs[1], "summary.txt");
    cr_assert(strstr(t, "deflated Sharpe, PBO: computed per window"), "%s", t);
    cr_assert(strstr(t, "(4 jobs) is its own trial set"), "%s", t);
    cr_assert_null(strstr(t, "left out"), "%s", t);
    cr_assert_null(strstr(t, "  PBO "), "%s", t);
    free(t);
    bt_report_destroy(&r);
}

Test(report, rank_min_trades_excludes_and_flags)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, false);
    for (size_t i = 0; i < n; i++) /* job id k made k closed trades */
        recs[i].metrics[s_metric("trades")] = (double)recs[i].job_id;
    bt_report_t *r = s_new_grid();
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(r, &recs[i]);
    bt_report_set_min_trades(r, 5);
    /* ok ids 0,1,2,4..10; with >= 5 trades: 5..10. By sharpe, descending:
     * 10 (3.0) first; job 1 (2.0, 1 trade) would tie for second but is out */
    uint64_t best = 99;
    double v = 0;
    cr_assert(bt_report_best(r, s_metric("sharpe"), true, &best, &v));
    cr_assert_eq(best, 10);
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *rank = s_slurp(s_dirs[0], "ranking.csv");
    cr_assert_eq(s_count_lines(rank), 7); /* header + 6 */
    uint64_t ids[6];
    s_rank_ids(rank, ids, 6);
    cr_assert_eq(ids[0], 10);
    for (int k = 0; k < 6; k++)
        cr_assert(ids[k] >= 5, "job %llu has fewer than 5 trades", (unsigned long long)ids[k]);
    free(rank);
    char *res = s_slurp(s_dirs[0], "results.csv");
    char line[4096];
    s_line(res, 0, line, sizeof line);
    cr_assert(strstr(line, ",status,error,ranked") != NULL, "%s", line);
    cr_assert_eq(s_count_lines(res), 13); /* header + all 12 rows stay in results.csv */
    s_line(res, 2, line, sizeof line);   /* job 1: 1 trade */
    cr_assert_eq(line[strlen(line) - 1], '0', "%s", line);
    s_line(res, 11, line, sizeof line);  /* job 10 */
    cr_assert_eq(line[strlen(line) - 1], '1', "%s", line);
    free(res);
    char *sum = s_slurp(s_dirs[0], "summary.txt");
    cr_assert(strstr(sum, "rank filter:   4 of 10 ok points have fewer than 5 trades") != NULL);
    free(sum);
    /* nothing reaches 11 trades: no best */
    bt_report_set_min_trades(r, 11);
    cr_assert(!bt_report_best(r, s_metric("sharpe"), true, &best, &v));
    bt_report_destroy(&r);
}

/* The cells handed to a tee and to bt_report_table_cells: rebuilt as CSV text
 * (numbers by their CSV text, or formatted here when none is given), they must
 * give the files' bytes; the summary needs the tables first. */
typedef struct {
    bt_buf_t buf;
    size_t col;
    uint64_t begun;
} s_cells_t;

static void s_c_begin(void *user, uint64_t rows)
{
    ((s_cells_t *)user)->begun = rows + 1;
}

static void s_c_num(void *user, double v, const char *text)
{
    s_cells_t *c = user;
    char t[40];
    if (c->col++)
        bt_buf_append(&c->buf, ",", 1);
    if (!text)
        text = bt_csvw_fmt_double(v, t, sizeof t);
    bt_buf_append(&c->buf, text, strlen(text));
}

static void s_c_text(void *user, const char *s)
{
    s_cells_t *c = user;
    bt_csvw_t w = {.buf = &c->buf, .nfield = c->col++};
    bt_csvw_str(&w, s);
}

static void s_c_end(void *user)
{
    s_cells_t *c = user;
    bt_buf_append(&c->buf, "\n", 1);
    c->col = 0;
}

/* A tee of results.csv and ranking.csv into tee[0] and tee[1] (through c). */
static bt_report_tee_t s_tee(s_cells_t tee[2], bt_report_cells_t c[2])
{
    for (int k = 0; k < 2; k++) {
        memset(&tee[k], 0, sizeof tee[k]);
        bt_buf_init(&tee[k].buf, 1u << 20);
        c[k] = (bt_report_cells_t){&tee[k], s_c_begin, s_c_num, s_c_text, s_c_end};
    }
    return (bt_report_tee_t){&c[0], &c[1], 1000};
}

Test(report, tables_from_memory_equal_the_files)
{
    bt_report_t *r = s_new_grid();
    bt_journal_rec_t recs[16];
    size_t n = s_results(recs, true);
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(r, &recs[i]);
    bt_report_set_min_trades(r, 0.5); /* a "ranked" column */
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_report_summary_t sum = {.rank_by = "sharpe"};
    cr_assert_eq(bt_report_write_summary(r, s_dirs[0], &sum, &eb), BT_EINVAL,
                 "summary.txt needs the ranking of bt_report_write_tables");
    s_cells_t tee[2];
    bt_report_cells_t cells[2];
    bt_report_tee_t t = s_tee(tee, cells);
    cr_assert_eq(bt_report_write_tables(r, s_dirs[0], "sharpe", true, 3, &t, &eb), BT_OK, "%s",
                 eb.msg);
    cr_assert_eq(bt_report_write_summary(r, s_dirs[0], &sum, &eb), BT_OK, "%s", eb.msg);
    static const char *const files[] = {"results.csv", "ranking.csv"};
    for (int k = 0; k < 2; k++) {
        char *want = s_slurp(s_dirs[0], files[k]);
        bt_buf_append(&tee[k].buf, "", 1);
        cr_assert_str_eq(tee[k].buf.data, want, "%s teed", files[k]);
        size_t lines = 0;
        for (const char *p = want; *p; p++)
            lines += *p == '\n';
        cr_assert_eq(tee[k].begun, lines, "%s: row count", files[k]);
        cr_assert_eq(bt_report_table_rows(r, (bt_report_table_t)k) + 1, lines);
        /* the same cells again, without a CSV writer (numbers: no text) */
        s_cells_t again = {0};
        bt_buf_init(&again.buf, 1u << 20);
        bt_report_cells_t c2 = {&again, NULL, s_c_num, s_c_text, s_c_end};
        bt_report_table_cells(r, (bt_report_table_t)k, SIZE_MAX, &c2);
        bt_buf_append(&again.buf, "", 1);
        cr_assert_str_eq(again.buf.data, want, "%s from cells", files[k]);
        /* and as CSV text, the first 2 rows */
        bt_buf_t b;
        bt_buf_init(&b, 1u << 20);
        bt_csvw_t w;
        bt_csvw_init_buf(&w, &b);
        cr_assert_eq(bt_report_table_csv(r, (bt_report_table_t)k, 2, &w), BT_OK);
        const char *cut = want;
        for (int l = 0; l < 3; l++)
            cut = strchr(cut, '\n') + 1;
        cr_assert_eq(b.len, (size_t)(cut - want));
        cr_assert_eq(memcmp(b.data, want, b.len), 0, "%s: first rows", files[k]);
        bt_buf_fini(&b);
        bt_buf_fini(&again.buf);
        bt_buf_fini(&tee[k].buf);
        free(want);
    }
    bt_report_destroy(&r);
}

/* The tables of r written into dir: the two files and report.html's cells
 * of each (cells[f]: text, caller frees). */
static void s_tables_and_cells(bt_report_t *r, const char *dir, char *files[2], char *cells[2])
{
    s_cells_t tee[2];
    bt_report_cells_t c[2];
    bt_report_tee_t t = s_tee(tee, c);
    bt_errbuf_t eb;
    cr_assert_eq(bt_report_write_tables(r, dir, "sharpe", true, 0, &t, &eb), BT_OK, "%s", eb.msg);
    static const char *const names[] = {"results.csv", "ranking.csv"};
    for (int f = 0; f < 2; f++) {
        files[f] = s_slurp(dir, names[f]);
        bt_buf_append(&tee[f].buf, "", 1);
        cells[f] = strdup(tee[f].buf.data);
        bt_buf_fini(&tee[f].buf);
    }
}

/* Metric texts made as results arrive (bt_report_prerender, session 8)
 * give the tables and their cells the same bytes as texts made at the end:
 * results replaced by later arrivals, failed rows, NaN and infinities, the
 * "ranked" column; and with a cap too small for every row (the rows past it
 * formatted at the end, mixed with the others). */
Test(report, prerendered_rows_give_the_same_bytes)
{
    bt_journal_rec_t recs[20];
    size_t n = s_results(recs, true);
    recs[0].metrics[2] = INFINITY;
    recs[2].metrics[5] = -INFINITY;
    recs[5].metrics[7] = NAN;
    recs[6].metrics[1] = 1.0 / 3.0; /* 17 digits */
    bt_report_t *plain = s_new_grid();
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(plain, &recs[i]);
    cr_assert_eq(bt_report_prerendered(plain), 0);
    bt_report_set_min_trades(plain, 0.5);
    char *want[2], *want_cells[2];
    s_tables_and_cells(plain, s_dirs[0], want, want_cells);
    for (int f = 0; f < 2; f++) {
        cr_assert(strstr(want[f], ",inf,") && strstr(want[f], ",-inf,") &&
                      strstr(want[f], ",nan,") && strstr(want[f], "0.33333333333333331"),
                  "the special values are in the table");
        cr_assert_str_eq(want_cells[f], want[f], "cells equal the file");
    }
    /* room for every row; room for one row's worst case (S_NM texts of 40
     * bytes) and a little: the first rows (their texts are short) fit */
    const size_t caps[] = {BT_REPORT_TEXTS_MAX, S_NM * 40 + 250};
    for (size_t k = 0; k < 2; k++) {
        bt_report_t *r = s_new_grid();
        cr_assert_eq(bt_report_prerender(r, caps[k]), BT_OK);
        for (size_t i = n; i-- > 0;) /* duplicates first: replaced later */
            bt_report_set_result(r, &recs[i]);
        uint64_t made = bt_report_prerendered(r);
        if (k == 0)
            cr_assert_eq(made, 10, "every ok row: 0..10 but the failed 3 (%llu)",
                         (unsigned long long)made);
        else
            cr_assert(made >= 1 && made < 10, "some rows past the cap (%llu made)",
                      (unsigned long long)made);
        bt_report_set_min_trades(r, 0.5);
        char *got[2], *got_cells[2];
        s_tables_and_cells(r, s_dirs[1], got, got_cells);
        for (int f = 0; f < 2; f++) {
            cr_assert_str_eq(got[f], want[f], "cap %zu: table %d differs", caps[k], f);
            cr_assert_str_eq(got_cells[f], want_cells[f], "cap %zu: cells %d differ", caps[k], f);
            free(got[f]);
            free(got_cells[f]);
        }
        bt_report_destroy(&r);
    }
    for (int f = 0; f < 2; f++) {
        free(want[f]);
        free(want_cells[f]);
    }
    bt_report_destroy(&plain);
}

/* bt_report_rank (session 6: the end of a sweep reads the ranking's first
 * rows before the files are written, for the top points' re-run): the rows
 * it gives are ranking.csv's first rows as bt_report_write_tables then
 * writes them, and an unknown rank_by is refused as there. */
Test(report, rank_before_the_tables_gives_the_files_rows)
{
    bt_report_t *r = s_new_grid();
    bt_journal_rec_t recs[16];
    size_t n = s_results(recs, true);
    for (size_t i = 0; i < n; i++)
        bt_report_set_result(r, &recs[i]);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_report_rank(r, "no_such_metric", true, 0, &eb), BT_ECONFIG);
    cr_assert_eq(bt_report_rank(r, "sharpe", true, 3, &eb), BT_OK, "%s", eb.msg);
    bt_buf_t b;
    bt_buf_init(&b, 1u << 20);
    bt_csvw_t w;
    bt_csvw_init_buf(&w, &b);
    cr_assert_eq(bt_report_table_csv(r, BT_REPORT_RANKING, SIZE_MAX, &w), BT_OK);
    cr_assert_eq(bt_report_write_tables(r, s_dirs[0], "sharpe", true, 3, NULL, &eb), BT_OK, "%s",
                 eb.msg);
    char *want = s_slurp(s_dirs[0], "ranking.csv");
    size_t lines = 0;
    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 4u, "a header and top 3 rows");
    bt_buf_append(&b, "", 1);
    cr_assert_str_eq(b.data, want);
    free(want);
    bt_buf_fini(&b);
    bt_report_destroy(&r);
}

/* summary.txt's top table names each point exactly: swept values with all
 * their digits (%.6g made 1234567 into 1.23457e+06 and 0.1234567891 into
 * 0.123457), whole-number metrics (trades) in full, other metrics to 6
 * figures. */
Test(report, summary_rows_name_points_exactly)
{
    static const char *const axes[] = {"params.window"};
    bt_report_t *r = bt_report_new(2, 1, axes);
    cr_assert_not_null(r);
    const double w[2] = {1234567.0, 0.1234567891};
    for (uint64_t id = 0; id < 2; id++)
        bt_report_set_point(r, id, &w[id]);
    bt_journal_rec_t rec;
    for (uint64_t id = 0; id < 2; id++) {
        s_rec(&rec, id, 1, true, id ? 1.23456789 : 2.0);
        rec.metrics[s_metric("trades")] = id ? 7654321.0 : 3.0;
        bt_report_set_result(r, &rec);
    }
    s_write(r, s_dirs[0], "sharpe", true, 0);
    char *sm = s_slurp(s_dirs[0], "summary.txt");
    const char *tt = strstr(sm, "params.window");
    cr_assert_not_null(tt, "%s", sm);
    /* rank 2 is job 1: window 0.1234567891, sharpe 1.23456789 -> 1.23457, trades 7654321 */
    const char *row = strstr(tt, "\n     2 ");
    cr_assert_not_null(row, "%s", sm);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(row + 1, "\n"), row + 1);
    cr_assert(strstr(line, " 0.1234567891 ") != NULL, "%s", line);
    cr_assert(strstr(line, " 1.23457 ") != NULL, "%s", line);
    cr_assert(strstr(line, " 7654321") != NULL, "%s", line);
    row = strstr(tt, "\n     1 ");
    cr_assert_not_null(row, "%s", sm);
    snprintf(line, sizeof line, "%.*s", (int)strcspn(row + 1, "\n"), row + 1);
    cr_assert(strstr(line, " 1234567 ") != NULL, "%s", line);
    free(sm);
    bt_report_destroy(&r);
}
