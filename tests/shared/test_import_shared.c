/* Imports EVERY file of the real market data in BT_SHARED_DATA (read in place, never copied) and
 * checks rows, first/last timestamps (from the tables in its README.md), the file hash prefix
 * (README), and values read by eye from the files (quoted next to each assert). Then
 * import -> store -> export -> re-import must give bit-identical bars. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_cmd.h"
#include "bt_csv.h"
#include "bt_store.h"
#include "bt_time.h"

typedef struct {
    const char *file;
    size_t rows;
    const char *first, *last; /* README tables */
    const char *sha12;        /* README: first 12 hex digits of sha256 */
    bt_csv_format_t format;   /* what auto detection should find */
    const char *freq;
    double first_close, last_close; /* read from the first and last data lines */
    bool adj;
} s_case_t;

static const s_case_t s_cases[] = {
    /* orcl line 2: 1995-01-03,2.179012,2.191358,2.117284,2.117284,1.883304,36301200
     * last line:   2014-12-31,45.450001,45.560001,44.970001,44.970001,42.303135,13269200 */
    {"orcl-1995-2014.txt", 5036, "1995-01-03", "2014-12-31", "352b9e098596", BT_CSV_YAHOO, "1d",
     2.117284, 44.970001, true},
    /* nvda: 1999-01-22,1.750000,1.953125,1.552083,1.640625,1.518424,67867200 ...
     *       2014-12-31,20.400000,20.510000,19.990000,20.049999,19.425875,4157500 */
    {"nvda-1999-2014.txt", 4012, "1999-01-22", "2014-12-31", "d16ee01711b8", BT_CSV_YAHOO, "1d",
     1.640625, 20.049999, true},
    /* yhoo: 1996-04-12,1.052083,1.791667,1.020833,1.375000,1.375000,408720000 ...
     *       2014-12-31,51.540001,51.680000,50.459999,50.509998,50.509998,9305000 */
    {"yhoo-1996-2014.txt", 4713, "1996-04-12", "2014-12-31", "3d75e5763360", BT_CSV_YAHOO, "1d",
     1.375, 50.509998, true},
    /* GOOG: 2004-08-19,100,104.06,95.96,100.34,22351900 ... 2013-03-01,797.8,807.14,796.15,806.19
     */
    {"GOOG.csv", 2148, "2004-08-19", "2013-03-01", "60e961a56749", BT_CSV_OHLCV, "1d", 100.34,
     806.19, false},
    /* EURUSD: 2017-04-19 09:00:00,1.0716,1.0722,1.07083,1.07219,1413 ...
     *         2018-02-07 15:00:00,1.23427,1.23444,1.22904,1.22904,6143 */
    {"EURUSD.csv", 5000, "2017-04-19 09:00:00", "2018-02-07 15:00:00", "81e977905a00",
     BT_CSV_INTRADAY, "1h", 1.07219, 1.22904, false},
    /* BTCUSD: 2012-01-31,4.58,7.38,3.8,5.55,2012.25343589 ...
     *         2024-12-31,96515.0,108364.0,92092.0,93381.0,25342.80228337 */
    {"BTCUSD.csv", 156, "2012-01-31", "2024-12-31", "ff253d978910", BT_CSV_OHLCV, "1mo", 5.55,
     93381.0, false},
    /* 2006-day-001: 2006-01-02,3578.73,3605.95,3578.73,3604.33,0,0 ...
     *               2006-12-29,4130.12,4142.01,4119.94,4119.94,0,0 */
    {"2006-day-001.txt", 255, "2006-01-02", "2006-12-29", "18b458e6440c", BT_CSV_OHLCV, "1d",
     3604.33, 4119.94, false},
    /* 2006-min-005: 2006-01-02,09:05:00,3578.73,3587.88,3578.73,3582.99,0,0 ...
     *               2006-01-30,17:30:00,3679.29,3679.40,3676.31,3677.52,0,0 */
    {"2006-min-005.txt", 2142, "2006-01-02 09:05:00", "2006-01-30 17:30:00", "a0edb8f72a91",
     BT_CSV_INTRADAY, "5m", 3582.99, 3677.52, false},
    /* 1-minute, header without the time column, CRLF:
     * 2006-01-02,09:01:00,3602.00,3603.00,3597.00,3599.00,5699,0 ...
     * 2006-02-27,22:00:00,3840.00,3840.00,3838.00,3838.00,327,0 */
    {"2006-01-02-volume-min-001.txt", 30889, "2006-01-02 09:01:00", "2006-02-27 22:00:00",
     "5cf85c53765f", BT_CSV_INTRADAY, "1m", 3599.0, 3838.0, false},
};
#define S_NCASES (sizeof s_cases / sizeof s_cases[0])

static void s_need_data(void)
{
    if (access(BT_SHARED_DATA "/README.md", R_OK) != 0)
        cr_skip_test("shared market data not found at %s", BT_SHARED_DATA);
}

static bt_bars_t *s_import(const char *file, bt_csv_report_t *rep)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", BT_SHARED_DATA, file);
    bt_bars_t *b = bt_bars_new("X", 0);
    bt_csv_opts_t o = {.format = BT_CSV_AUTO};
    bt_errbuf_t eb;
    bt_err_t rc = bt_csv_read_file(path, &o, b, rep, &eb);
    cr_assert_eq(rc, BT_OK, "%s: %s", file, eb.msg);
    return b;
}

Test(shared_import, every_file_rows_range_hash_values)
{
    s_need_data();
    for (size_t k = 0; k < S_NCASES; k++) {
        const s_case_t *c = &s_cases[k];
        bt_csv_report_t rep;
        bt_bars_t *b = s_import(c->file, &rep);
        bt_series_t s = bt_bars_view(b);
        cr_assert_eq(s.n, c->rows, "%s: %zu rows", c->file, s.n);
        cr_assert_eq(rep.skipped, 0);
        char a[40], z[40];
        cr_assert_str_eq(bt_time_format(s.time[0], a, sizeof a), c->first, "%s", c->file);
        cr_assert_str_eq(bt_time_format(s.time[s.n - 1], z, sizeof z), c->last, "%s", c->file);
        cr_assert_eq(strncmp(rep.sha256, c->sha12, 12), 0, "%s: sha %s", c->file, rep.sha256);
        cr_assert_eq(rep.format, c->format, "%s: format %s", c->file,
                     bt_csv_format_name(rep.format));
        cr_assert_str_eq(bt_store_detect_frequency(&s), c->freq, "%s", c->file);
        cr_assert_eq(s.close[0], c->first_close, "%s: first close %.17g", c->file, s.close[0]);
        cr_assert_eq(s.close[s.n - 1], c->last_close, "%s: last close %.17g", c->file,
                     s.close[s.n - 1]);
        cr_assert_eq(s.adj_close != NULL, c->adj, "%s", c->file);
        for (size_t i = 0; i < s.n; i++) {
            cr_assert(s.low[i] <= s.open[i] && s.open[i] <= s.high[i]);
            cr_assert(s.low[i] <= s.close[i] && s.close[i] <= s.high[i]);
            if (i)
                cr_assert(s.time[i] > s.time[i - 1]);
        }
        bt_bars_destroy(&b);
    }
}

Test(shared_import, readme_facts)
{
    s_need_data();
    bt_csv_report_t rep;
    /* ORCL: Adj Close/Close rises from 0.8895 to 0.9407 (README) */
    bt_bars_t *b = s_import("orcl-1995-2014.txt", &rep);
    bt_series_t s = bt_bars_view(b);
    cr_assert_float_eq(s.adj_close[0] / s.close[0], 0.8895, 5e-5);
    cr_assert_float_eq(s.adj_close[s.n - 1] / s.close[s.n - 1], 0.9407, 5e-5);
    /* 2.179012 parsed exactly, not rounded */
    cr_assert_eq(s.open[0], strtod("2.179012", NULL));
    bt_bars_destroy(&b);
    /* YHOO: Adj Close == Close throughout; IPO-day volume 408,720,000 */
    b = s_import("yhoo-1996-2014.txt", &rep);
    s = bt_bars_view(b);
    for (size_t i = 0; i < s.n; i++)
        cr_assert_eq(s.adj_close[i], s.close[i], "row %zu", i);
    cr_assert_eq(s.volume[0], 408720000.0);
    bt_bars_destroy(&b);
    /* EURUSD: volume is a tick count from 1 to 32318 */
    b = s_import("EURUSD.csv", &rep);
    s = bt_bars_view(b);
    double vmin = INFINITY, vmax = 0;
    for (size_t i = 0; i < s.n; i++) {
        vmin = fmin(vmin, s.volume[i]);
        vmax = fmax(vmax, s.volume[i]);
    }
    cr_assert_eq(vmin, 1.0);
    cr_assert_eq(vmax, 32318.0);
    bt_bars_destroy(&b);
    /* BTCUSD: fractional volume, first row 2012.25343589 */
    b = s_import("BTCUSD.csv", &rep);
    s = bt_bars_view(b);
    cr_assert_eq(s.volume[0], strtod("2012.25343589", NULL));
    bt_bars_destroy(&b);
    /* 1-minute: header lacks the time column; volume 1..24868; 41 trading days */
    b = s_import("2006-01-02-volume-min-001.txt", &rep);
    s = bt_bars_view(b);
    cr_assert(rep.time_from_rows);
    vmin = INFINITY;
    vmax = 0;
    size_t days = 0;
    for (size_t i = 0; i < s.n; i++) {
        vmin = fmin(vmin, s.volume[i]);
        vmax = fmax(vmax, s.volume[i]);
        if (i == 0 || s.time[i] / BT_NS_PER_DAY != s.time[i - 1] / BT_NS_PER_DAY)
            days++;
    }
    cr_assert_eq(vmin, 1.0);
    cr_assert_eq(vmax, 24868.0);
    cr_assert_eq(days, 41);
    bt_bars_destroy(&b);
    /* 5-minute: 102 bars a day over 21 days */
    b = s_import("2006-min-005.txt", &rep);
    cr_assert_eq(bt_bars_count(b), 102 * 21);
    bt_bars_destroy(&b);
}

static void s_same(const bt_series_t *a, const bt_series_t *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s", what);
    cr_assert_eq(memcmp(a->time, b->time, a->n * 8), 0, "%s time", what);
    cr_assert_eq(memcmp(a->open, b->open, a->n * 8), 0, "%s open", what);
    cr_assert_eq(memcmp(a->high, b->high, a->n * 8), 0, "%s high", what);
    cr_assert_eq(memcmp(a->low, b->low, a->n * 8), 0, "%s low", what);
    cr_assert_eq(memcmp(a->close, b->close, a->n * 8), 0, "%s close", what);
    cr_assert_eq(memcmp(a->volume, b->volume, a->n * 8), 0, "%s volume", what);
    cr_assert_eq(a->adj_close == NULL, b->adj_close == NULL, "%s", what);
    if (a->adj_close)
        cr_assert_eq(memcmp(a->adj_close, b->adj_close, a->n * 8), 0, "%s adj_close", what);
}

Test(shared_import, store_export_reimport_bit_identical)
{
    s_need_data();
    char dir[] = "/tmp/bt_shared_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char store[128], csv[128];
    snprintf(store, sizeof store, "%s/s.h5", dir);
    snprintf(csv, sizeof csv, "%s/out.csv", dir);
    for (size_t k = 0; k < S_NCASES; k++) {
        const s_case_t *c = &s_cases[k];
        bt_csv_report_t rep;
        bt_bars_t *b = s_import(c->file, &rep);
        bt_series_t s = bt_bars_view(b);
        char sym[16];
        snprintf(sym, sizeof sym, "S%zu", k);
        memcpy(s.symbol, sym, sizeof sym);
        bt_store_meta_t m = {0};
        snprintf(m.source, sizeof m.source, "%s", c->file);
        bt_errbuf_t eb;
        cr_assert_eq(bt_store_write(store, &s, &m, false, k % 2 == 1, &eb), BT_OK, "%s", eb.msg);
        const char *one[] = {sym};
        bt_dataset_t *ds = bt_dataset_load(store, one, 1, &eb);
        cr_assert_not_null(ds, "%s", eb.msg);
        s_same(&s, &ds->series[0], c->file);
        bt_dataset_destroy(&ds);
        /* export through the command, then re-import the CSV */
        char *argv[] = {"export", store, sym, "--out", csv, NULL};
        cr_assert_eq(bt_cmd_data_export(5, argv), 0);
        bt_bars_t *b2 = bt_bars_new("Y", 0);
        bt_csv_opts_t o = {0};
        cr_assert_eq(bt_csv_read_file(csv, &o, b2, &rep, &eb), BT_OK, "%s", eb.msg);
        bt_series_t s2 = bt_bars_view(b2);
        s_same(&s, &s2, c->file);
        bt_bars_destroy(&b2);
        bt_bars_destroy(&b);
    }
    unlink(csv);
    unlink(store);
    rmdir(dir);
}
