/* Resampling and adjusted prices on the real files of BT_SHARED_DATA (read in place).
 *
 * 1. 2006-min-005.txt (5-minute bars labelled by their end, sessions 09:05-17:30, 21 days of
 *    January 2006) resampled to days must equal 2006-day-001.txt on 20 of the 21 days, open, high,
 *    low and close bit for bit; on 2006-01-27 only the high differs: 3685.95 in the 5-minute
 *    file, 3685.48 in the daily file (../shared/data/README.md). Done through the real `bt`
 *    (import with --symbol, resample, then both stores loaded) and through the library.
 * 2. orcl-1995-2014.txt imported with --adjust: the factor Adj Close / Close of the first and
 *    last rows is 0.8895 and 0.9407 (README), and the adjusted close is the Adj Close column. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "bt_bars.h"
#include "bt_csv.h"
#include "bt_resample.h"
#include "bt_store.h"
#include "bt_time.h"
#include "integration/bt_proc.h"

static void s_need_data(void)
{
    if (access(BT_SHARED_DATA "/README.md", R_OK) != 0)
        cr_skip_test("shared market data not found at %s", BT_SHARED_DATA);
}

/* Compares resampled days r with the daily file's bars d: every day of r must be in d; returns
 * the number of days whose open/high/low/close differ, and checks the one expected difference. */
static void s_compare(const bt_series_t *r, const bt_series_t *d)
{
    cr_assert_eq(r->n, 21, "%zu resampled days, the README says 21 trading days", r->n);
    size_t differ = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t j = bt_series_lower_bound(d, r->time[i]);
        char a[40];
        bt_time_format(r->time[i], a, sizeof a);
        cr_assert(j < d->n && d->time[j] == r->time[i], "%s is not a day of 2006-day-001", a);
        bool same = r->open[i] == d->open[j] && r->high[i] == d->high[j] &&
                    r->low[i] == d->low[j] && r->close[i] == d->close[j];
        if (same)
            continue;
        differ++;
        cr_assert_str_eq(a, "2006-01-27");
        cr_assert_eq(r->high[i], 3685.95);
        cr_assert_eq(d->high[j], 3685.48);
        cr_assert(r->open[i] == d->open[j] && r->low[i] == d->low[j] && r->close[i] == d->close[j]);
    }
    cr_assert_eq(differ, 1, "%zu days differ; the README names exactly one", differ);
}

Test(shared_resample, five_minutes_to_days_via_the_cli)
{
    s_need_data();
    char dir[128], store[200], out[200], log[200];
    cr_assert(bt_proc_tmpdir(dir, sizeof dir, "resample"));
    snprintf(store, sizeof store, "%s/idx.h5", dir);
    snprintf(out, sizeof out, "%s/daily.h5", dir);
    snprintf(log, sizeof log, "%s/log.txt", dir);
    char *imp5[] = {
        BT_BIN_DIR "/bt", "data", "import", BT_SHARED_DATA "/2006-min-005.txt", "--symbol", "IDX5M",
        "--out",          store,  NULL};
    char *impd[] = {
        BT_BIN_DIR "/bt", "data", "import", BT_SHARED_DATA "/2006-day-001.txt", "--symbol", "IDXD",
        "--out",          store,  NULL};
    char *res[] = {BT_BIN_DIR "/bt",
                   "data",
                   "resample",
                   store,
                   "IDX5M",
                   "--to",
                   "1d",
                   "--label",
                   "end",
                   "--session",
                   "09:05-17:30",
                   "--out",
                   out,
                   "--symbol",
                   "IDX",
                   NULL};
    cr_assert_eq(bt_proc_run(imp5, log, 60000), 0, "see %s", log);
    cr_assert_eq(bt_proc_run(impd, log, 60000), 0, "see %s", log);
    cr_assert_eq(bt_proc_run(res, log, 60000), 0, "see %s", log);
    bt_errbuf_t eb;
    const char *d1[] = {"IDXD"}, *r1[] = {"IDX"};
    bt_dataset_t *dd = bt_dataset_load(store, d1, 1, &eb);
    cr_assert_not_null(dd, "%s", eb.msg);
    bt_dataset_t *rd = bt_dataset_load(out, r1, 1, &eb);
    cr_assert_not_null(rd, "%s", eb.msg);
    s_compare(&rd->series[0], &dd->series[0]);
    bt_store_attrs_t at;
    cr_assert_eq(bt_store_read_attrs(out, "IDX", &at, &eb), BT_OK, "%s", eb.msg);
    cr_assert_str_eq(at.meta.frequency, "1d");
    bt_dataset_destroy(&rd);
    bt_dataset_destroy(&dd);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static bt_bars_t *s_read(const char *file, const bt_csv_opts_t *o)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", BT_SHARED_DATA, file);
    bt_bars_t *b = bt_bars_new("X", 0);
    bt_errbuf_t eb;
    cr_assert_eq(bt_csv_read_file(path, o, b, NULL, &eb), BT_OK, "%s", eb.msg);
    return b;
}

Test(shared_resample, five_minutes_to_days_library_any_label)
{
    s_need_data();
    bt_csv_opts_t plain = {0};
    bt_bars_t *five = s_read("2006-min-005.txt", &plain), *day = s_read("2006-day-001.txt", &plain);
    bt_series_t f = bt_bars_view(five), d = bt_bars_view(day);
    /* No bar sits at midnight, so the label and the (whole-day) session change nothing. */
    for (int label = 0; label < 2; label++) {
        bt_bars_t *out = bt_bars_new("R", 0);
        bt_errbuf_t eb;
        bt_resample_opts_t o = {.period = BT_NS_PER_DAY, .label = (bt_label_t)label};
        cr_assert_eq(bt_resample(&f, &o, out, &eb), BT_OK, "%s", eb.msg);
        bt_series_t r = bt_bars_view(out);
        s_compare(&r, &d);
        bt_bars_destroy(&out);
    }
    bt_bars_destroy(&five);
    bt_bars_destroy(&day);
}

Test(shared_resample, orcl_adjusted_prices)
{
    s_need_data();
    bt_csv_opts_t raw_o = {0}, adj_o = {.adjust = true};
    bt_bars_t *raw = s_read("orcl-1995-2014.txt", &raw_o),
              *adj = s_read("orcl-1995-2014.txt", &adj_o);
    bt_series_t r = bt_bars_view(raw), a = bt_bars_view(adj);
    cr_assert_eq(a.n, 5036);
    /* README: Adj Close / Close rises from 0.8895 to 0.9407 */
    cr_assert_float_eq(a.close[0] / r.close[0], 0.8895, 5e-5);
    cr_assert_float_eq(a.close[a.n - 1] / r.close[r.n - 1], 0.9407, 5e-5);
    size_t exact = 0;
    for (size_t i = 0; i < a.n; i++) {
        double f = r.adj_close[i] / r.close[i];
        cr_assert_eq(a.open[i], r.open[i] * f, "row %zu", i);
        cr_assert_eq(a.high[i], r.high[i] * f, "row %zu", i);
        cr_assert_eq(a.low[i], r.low[i] * f, "row %zu", i);
        /* close * (adj / close) is adj to within one rounding */
        cr_assert(fabs(a.close[i] - r.adj_close[i]) <= 2.3e-16 * r.adj_close[i], "row %zu", i);
        exact += a.close[i] == r.adj_close[i];
        cr_assert(a.low[i] <= a.open[i] && a.open[i] <= a.high[i], "row %zu", i);
        cr_assert(a.low[i] <= a.close[i] && a.close[i] <= a.high[i], "row %zu", i);
        cr_assert_eq(a.volume[i], r.volume[i]);
    }
    cr_assert_gt(exact, a.n / 2, "%zu of %zu adjusted closes equal Adj Close", exact, a.n);
    bt_bars_destroy(&raw);
    bt_bars_destroy(&adj);
}
