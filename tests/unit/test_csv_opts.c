/* Unit tests for the import options of common/data/bt_csv (bt_csv_opts_t): delimiters, date
 * formats, epoch times, time zones, column maps by position and by name, --adjust, and the
 * messages of bad values. Epoch values from GNU date: `date -u -d 2020-01-02 +%s` = 1577923200,
 * `date -u -d '2020-01-02 09:30:00' +%s` = 1577957400. Adjusted prices: the factor
 * 1.883304 / 2.117284 applied in Python (IEEE doubles, the same arithmetic, written
 * independently): open 2.179012 -> 1.9382104694731555, high 2.191358 -> 1.9491921191639856,
 * close 2.117284 -> 1.883304. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_csv.h"
#include "bt_time.h"

#define D0 (INT64_C(1577923200) * BT_NS_PER_SEC)    /* 2020-01-02 00:00 UTC */
#define D0930 (INT64_C(1577957400) * BT_NS_PER_SEC) /* 2020-01-02 09:30 UTC */

typedef struct {
    bt_bars_t *bars;
    bt_csv_report_t rep;
    bt_errbuf_t eb;
    bt_err_t rc;
    bt_series_t s;
} s_res_t;

static s_res_t s_parse(const char *text, bt_csv_opts_t o)
{
    s_res_t r;
    memset(&r, 0, sizeof r);
    r.bars = bt_bars_new("T", 0);
    cr_assert_not_null(r.bars);
    bt_errbuf_t ceb;
    cr_assert_eq(bt_csv_opts_check(&o, &ceb), BT_OK, "%s", ceb.msg);
    r.rc = bt_csv_parse("t.csv", text, strlen(text), &o, r.bars, &r.rep, &r.eb);
    r.s = bt_bars_view(r.bars);
    return r;
}

static void s_free(s_res_t *r)
{
    bt_bars_destroy(&r->bars);
}

static void s_bits_eq(double a, double b)
{
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "%.17g != %.17g", a, b);
}

Test(csv_opts, delimiters)
{
    char d;
    cr_assert_eq(bt_csv_delimiter_parse("tab", &d), BT_OK);
    cr_assert_eq(d, '\t');
    cr_assert_eq(bt_csv_delimiter_parse(";", &d), BT_OK);
    cr_assert_eq(d, ';');
    cr_assert_eq(bt_csv_delimiter_parse("|", &d), BT_OK);
    cr_assert_eq(bt_csv_delimiter_parse("::", &d), BT_EINVAL);
    s_res_t r = s_parse("Date;Open;High;Low;Close;Volume\n2020-01-02;10;11;9;10.5;100\n",
                        (bt_csv_opts_t){.delimiter = ';'});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 1);
    cr_assert_eq(r.s.time[0], D0);
    s_bits_eq(r.s.close[0], 10.5);
    cr_assert_eq(r.s.volume[0], 100.0);
    s_free(&r);
    r = s_parse("Date\tOpen\tHigh\tLow\tClose\n2020-01-02\t10\t11\t9\t10.5\n",
                (bt_csv_opts_t){.delimiter = '\t'});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    s_bits_eq(r.s.high[0], 11.0);
    s_free(&r);
    /* a semicolon file read with commas: one field, no date column */
    r = s_parse("Date;Open;High;Low;Close\n2020-01-02;10;11;9;10.5\n", (bt_csv_opts_t){0});
    cr_assert_eq(r.rc, BT_EFORMAT);
    s_free(&r);
}

Test(csv_opts, us_dates_and_datetime_format)
{
    s_res_t r = s_parse("Date,Open,High,Low,Close\n01/02/2020,10,11,9,10.5\n1/3/2020,10,11,9,10\n",
                        (bt_csv_opts_t){.date_format = "%m/%d/%Y"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 2);
    cr_assert_eq(r.s.time[0], D0);
    cr_assert_eq(r.s.time[1], D0 + BT_NS_PER_DAY);
    s_free(&r);
    /* headerless, date and time in one field */
    r = s_parse("02.01.2020 09:30,10,11,9,10.5\n",
                (bt_csv_opts_t){.date_format = "%d.%m.%Y %H:%M"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_not(r.rep.has_header);
    cr_assert_eq(r.s.time[0], D0930);
    s_free(&r);
    /* a row in another layout names the flag */
    r = s_parse("Date,Open,High,Low,Close\n01/02/2020,10,11,9,10.5\n2020-01-03,10,11,9,10\n",
                (bt_csv_opts_t){.date_format = "%m/%d/%Y"});
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "t.csv:3") && strstr(r.eb.msg, "--date-format '%m/%d/%Y'"), "%s",
              r.eb.msg);
    s_free(&r);
    /* without the option a US date says what to pass */
    r = s_parse("Date,Open,High,Low,Close\n2020-01-02,10,11,9,10.5\n01/03/2020,10,11,9,10\n",
                (bt_csv_opts_t){0});
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "--date-format"), "%s", r.eb.msg);
    s_free(&r);
}

Test(csv_opts, epoch_seconds_and_milliseconds)
{
    s_res_t r = s_parse("timestamp,open,high,low,close,volume\n1577957400,10,11,9,10.5,7\n"
                        "1577957460,10.5,11,10,10.75,8\n",
                        (bt_csv_opts_t){.epoch = BT_EPOCH_S});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert(r.rep.has_header);
    cr_assert_eq(r.s.time[0], D0930);
    cr_assert_eq(r.s.time[1], D0930 + BT_NS_PER_MIN);
    s_free(&r);
    r = s_parse("1577957400000,10,11,9,10.5,7\n1577957400250,10,11,9,10.5,7\n",
                (bt_csv_opts_t){.epoch = BT_EPOCH_MS});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_not(r.rep.has_header);
    cr_assert_eq(r.s.time[1], D0930 + 250 * INT64_C(1000000));
    s_free(&r);
    r = s_parse("time,open,high,low,close\n1577957400,10,11,9,10.5\n2020-01-03,10,11,9,10.5\n",
                (bt_csv_opts_t){.epoch = BT_EPOCH_S});
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "epoch seconds (--epoch s)"), "%s", r.eb.msg);
    s_free(&r);
}

Test(csv_opts, time_zone_offset_and_named)
{
    s_res_t r = s_parse("Date,Time,Open,High,Low,Close\n2020-01-02,10:30:00,10,11,9,10.5\n",
                        (bt_csv_opts_t){.tz = "+01:00"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.time[0], D0930);
    s_free(&r);
    if (access("/usr/share/zoneinfo/America/New_York", R_OK) != 0)
        cr_skip_test("no tz database");
    /* New York is UTC-5 in January: 04:30 local = 09:30 UTC */
    r = s_parse("Date,Open,High,Low,Close\n2020-01-02 04:30,10,11,9,10.5\n",
                (bt_csv_opts_t){.tz = "America/New_York"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.time[0], D0930);
    s_free(&r);
    /* 2020-03-08 02:30 does not exist in New York (clocks went 02:00 -> 03:00) */
    r = s_parse("Date,Open,High,Low,Close\n2020-03-08 01:30,10,11,9,10.5\n"
                "2020-03-08 02:30,10,11,9,10.5\n",
                (bt_csv_opts_t){.tz = "America/New_York"});
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "t.csv:3") && strstr(r.eb.msg, "does not exist in --tz"), "%s",
              r.eb.msg);
    s_free(&r);
}

Test(csv_opts, columns_by_position_and_by_name)
{
    /* position: a vendor layout with the close first and an extra column */
    s_res_t r = s_parse("20200102,x,10.5,10,11,9,500\n",
                        (bt_csv_opts_t){.columns = "time=0,close=2,open=3,high=4,low=5,volume=6",
                                        .date_format = "%Y%m%d"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_not(r.rep.has_header);
    cr_assert_eq(r.s.time[0], D0);
    s_bits_eq(r.s.open[0], 10.0);
    s_bits_eq(r.s.close[0], 10.5);
    cr_assert_eq(r.s.volume[0], 500.0);
    cr_assert_str_eq(r.rep.columns, "date,(ignored),close,open,high,low,volume");
    s_free(&r);
    /* positions with a header line: the header is skipped */
    r = s_parse("when,o,h,l,c\n2020-01-02,10,11,9,10.5\n",
                (bt_csv_opts_t){.columns = "time=0,open=1,high=2,low=3,close=4"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert(r.rep.has_header);
    cr_assert_eq(r.s.n, 1);
    s_free(&r);
    /* by name, any case; the unmapped Adj Close is ignored */
    r = s_parse("Day,Last,First,Top,Bottom,Adj Close\n2020-01-02,10.5,10,11,9,10.4\n",
                (bt_csv_opts_t){.columns = "time=day,close=Last,open=first,high=TOP,low=bottom"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    s_bits_eq(r.s.close[0], 10.5);
    s_bits_eq(r.s.low[0], 9.0);
    cr_assert_null(r.s.adj_close);
    s_free(&r);
    /* a separate time-of-day column */
    r = s_parse("d,t,o,h,l,c\n2020-01-02,09:30,10,11,9,10.5\n",
                (bt_csv_opts_t){.columns = "time=d,clock=t,open=o,high=h,low=l,close=c"});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.time[0], D0930);
    s_free(&r);
}

Test(csv_opts, column_map_errors)
{
    bt_errbuf_t eb;
    bt_csv_opts_t o = {.columns = "time=0,open=1,high=2,low=3"};
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--columns") && strstr(eb.msg, "'close'"), "%s", eb.msg);
    o.columns = "time=0,open=1,high=2,low=3,close=4,bid=5";
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "unknown role 'bid'"), "%s", eb.msg);
    o.columns = "time=0,open=1,open=2,low=3,close=4";
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "twice"), "%s", eb.msg);
    o.columns = "time=0,open,high=2,low=3,close=4";
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "ROLE=COLUMN"), "%s", eb.msg);
    /* a name the header lacks, a position past the row, two roles on one column */
    bt_bars_t *b = bt_bars_new("T", 0);
    const char *csv = "Date,Open,High,Low,Close\n2020-01-02,10,11,9,10.5\n";
    o.columns = "time=Date,open=Open,high=High,low=Low,close=Last";
    cr_assert_eq(bt_csv_parse("t.csv", csv, strlen(csv), &o, b, NULL, &eb), BT_EFORMAT);
    cr_assert(strstr(eb.msg, "'last'") && strstr(eb.msg, "no such column"), "%s", eb.msg);
    o.columns = "time=0,open=1,high=2,low=3,close=9";
    cr_assert_eq(bt_csv_parse("t.csv", csv, strlen(csv), &o, b, NULL, &eb), BT_EFORMAT);
    cr_assert(strstr(eb.msg, "column 9") && strstr(eb.msg, "5 fields"), "%s", eb.msg);
    o.columns = "time=0,open=1,high=1,low=3,close=4";
    cr_assert_eq(bt_csv_parse("t.csv", csv, strlen(csv), &o, b, NULL, &eb), BT_EFORMAT);
    cr_assert(strstr(eb.msg, "column 1 to both"), "%s", eb.msg);
    bt_bars_destroy(&b);
}

Test(csv_opts, conflicting_options)
{
    bt_errbuf_t eb;
    bt_csv_opts_t o = {.date_format = "%m/%d/%Y", .epoch = BT_EPOCH_S};
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--date-format and --epoch"), "%s", eb.msg);
    o = (bt_csv_opts_t){.tz = "+01:00", .epoch = BT_EPOCH_MS};
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--tz does not apply"), "%s", eb.msg);
    o = (bt_csv_opts_t){.tz = "Nowhere/Atlantis"};
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--tz 'Nowhere/Atlantis'"), "%s", eb.msg);
    o = (bt_csv_opts_t){.date_format = "%Y-%q"};
    cr_assert_eq(bt_csv_opts_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--date-format"), "%s", eb.msg);
}

Test(csv_opts, adjust_scales_ohlc_by_adj_over_close)
{
    s_res_t r = s_parse("Date,Open,High,Low,Close,Adj Close,Volume\n"
                        "1995-01-03,2.179012,2.191358,2.117284,2.117284,1.883304,36301200\n",
                        (bt_csv_opts_t){.adjust = true});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert(r.rep.adjusted);
    s_bits_eq(r.s.open[0], 1.9382104694731555);
    s_bits_eq(r.s.high[0], 1.9491921191639856);
    s_bits_eq(r.s.low[0], 1.883304);
    s_bits_eq(r.s.close[0], 1.883304);
    s_bits_eq(r.s.adj_close[0], 1.883304);   /* kept as imported */
    cr_assert_eq(r.s.volume[0], 36301200.0); /* volume is not scaled */
    s_free(&r);
    /* no Adj Close: refused with what to do */
    bt_bars_t *b = bt_bars_new("T", 0);
    bt_errbuf_t eb;
    const char *csv = "Date,Open,High,Low,Close\n2020-01-02,10,11,9,10.5\n";
    bt_csv_opts_t o = {.adjust = true};
    cr_assert_eq(bt_csv_parse("t.csv", csv, strlen(csv), &o, b, NULL, &eb), BT_EFORMAT);
    cr_assert(strstr(eb.msg, "--adjust needs an Adj Close column"), "%s", eb.msg);
    bt_bars_destroy(&b);
}

Test(csv_opts, adjust_keeps_bars_consistent)
{
    /* A factor that rounds: low <= open, close <= high must still hold after scaling. */
    s_res_t r = s_parse("Date,Open,High,Low,Close,Adj Close\n"
                        "2020-01-02,3.3,3.3,1.1,3.3,2.9\n"
                        "2020-01-03,0.7,0.9,0.7,0.9,0.3\n",
                        (bt_csv_opts_t){.adjust = true});
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    for (size_t i = 0; i < r.s.n; i++) {
        cr_assert(r.s.low[i] <= r.s.open[i] && r.s.open[i] <= r.s.high[i]);
        cr_assert(r.s.low[i] <= r.s.close[i] && r.s.close[i] <= r.s.high[i]);
    }
    s_free(&r);
}
