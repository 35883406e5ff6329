/* Unit tests for common/data/bt_csv: every CSV shape from small strings, every validation error
 * (with file, line and field in the message), skip_bad counts, exact number parsing.
 * Epoch values come from GNU date: `date -u -d 2020-01-02 +%s` = 1577923200,
 * `date -u -d '2020-01-02 09:30:00' +%s` = 1577957400. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_csv.h"
#include "bt_sha256.h"
#include "bt_time.h"

#define D0 (INT64_C(1577923200) * BT_NS_PER_SEC) /* 2020-01-02 00:00 UTC */

typedef struct {
    bt_bars_t *bars;
    bt_csv_report_t rep;
    bt_errbuf_t eb;
    bt_err_t rc;
    bt_series_t s;
} s_res_t;

static s_res_t s_parse(const char *text, bt_csv_format_t fmt, bool skip_bad)
{
    s_res_t r;
    memset(&r, 0, sizeof r);
    r.bars = bt_bars_new("T", 0);
    cr_assert_not_null(r.bars);
    bt_csv_opts_t o = {.format = fmt, .skip_bad = skip_bad};
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

Test(csv, yahoo_shape)
{
    s_res_t r = s_parse("Date,Open,High,Low,Close,Adj Close,Volume\n"
                        "2020-01-02,2.179012,2.191358,2.117284,2.117284,1.883304,36301200\n"
                        "2020-01-03,2.123457,2.148148,2.092592,2.135803,1.899776,46051600\n",
                        BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.rep.format, BT_CSV_YAHOO);
    cr_assert(r.rep.has_header && r.rep.has_adj_close);
    cr_assert_eq(r.s.n, 2);
    cr_assert_eq(r.s.time[0], D0);
    cr_assert_eq(r.s.time[1], D0 + BT_NS_PER_DAY);
    s_bits_eq(r.s.open[0], strtod("2.179012", NULL));
    s_bits_eq(r.s.close[1], strtod("2.135803", NULL));
    cr_assert_not_null(r.s.adj_close);
    s_bits_eq(r.s.adj_close[0], strtod("1.883304", NULL));
    cr_assert_eq(r.s.volume[1], 46051600.0);
    s_free(&r);
    /* forced yahoo works too */
    r = s_parse("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,1,2,2,5\n", BT_CSV_YAHOO,
                false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    s_free(&r);
}

Test(csv, pandas_unnamed_first_column_daily_and_hourly)
{
    s_res_t r =
        s_parse(",Open,High,Low,Close,Volume\n2020-01-02,100,104.06,95.96,100.34,22351900\n",
                BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.rep.format, BT_CSV_OHLCV);
    cr_assert_null(r.s.adj_close);
    cr_assert_eq(r.s.close[0], 100.34);
    cr_assert_eq(r.s.open[0], 100.0);
    s_free(&r);
    r = s_parse(",Open,High,Low,Close,Volume\n"
                "2020-01-02 09:30:00,1.0716,1.0722,1.07083,1.07219,1413\n"
                "2020-01-02 10:30:00,1.07214,1.07296,1.07214,1.0726,1241\n",
                BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.rep.format, BT_CSV_INTRADAY);
    cr_assert_eq(r.s.time[0], INT64_C(1577957400) * BT_NS_PER_SEC);
    cr_assert_eq(r.s.time[1] - r.s.time[0], BT_NS_PER_HOUR);
    s_bits_eq(r.s.low[0], strtod("1.07083", NULL));
    s_free(&r);
}

Test(csv, headerless_generic_shapes)
{
    /* date,open,high,low,close,volume */
    s_res_t r =
        s_parse("2020-01-02,1,2,0.5,1.5,100\n2020-01-03,1.5,2.5,1,2,200\n", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert(!r.rep.has_header);
    cr_assert_eq(r.s.n, 2);
    cr_assert_eq(r.s.volume[1], 200.0);
    s_free(&r);
    /* date,open,high,low,close (no volume: stored as 0) */
    r = s_parse("2020-01-02,1,2,0.5,1.5\n", BT_CSV_OHLCV, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.volume[0], 0.0);
    s_free(&r);
    /* date,time,open,high,low,close,volume,openinterest */
    r = s_parse("2020-01-02,09:30:00,1,2,0.5,1.5,7,0\n2020-01-02,09:31:00,1,2,0.5,1.5,8,0\n",
                BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.rep.format, BT_CSV_INTRADAY);
    cr_assert_eq(r.s.time[0], INT64_C(1577957400) * BT_NS_PER_SEC);
    cr_assert_eq(r.s.time[1] - r.s.time[0], BT_NS_PER_MIN);
    cr_assert_eq(r.s.volume[1], 8.0);
    s_free(&r);
}

Test(csv, intraday_date_time_columns_and_crlf)
{
    s_res_t r = s_parse("Date,Time,Open,High,Low,Close,Volume,OpenInterest\r\n"
                        "2020-01-02,09:30:00,3578.73,3587.88,3578.73,3582.99,0,0\r\n"
                        "2020-01-02,09:35:00,3583.01,3588.40,3583.01,3588.03,0,0\r\n",
                        BT_CSV_INTRADAY, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 2);
    cr_assert_eq(r.s.time[1] - r.s.time[0], 5 * BT_NS_PER_MIN);
    s_bits_eq(r.s.close[1], 3588.03);
    s_free(&r);
}

Test(csv, header_missing_time_column_quirk)
{
    /* 7 names, 8 fields: the time column is missing from the header (CRLF, like the 1-minute
     * sample). The second field looks like HH:MM:SS, so it is taken as time. */
    s_res_t r = s_parse("Date,Open,High,Low,Close,Volume,OpenInterest\r\n"
                        "2020-01-02,09:30:00,3602.00,3603.00,3597.00,3599.00,5699,0\r\n"
                        "2020-01-02,09:31:00,3600.00,3601.00,3598.00,3599.00,894,0\r\n",
                        BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert(r.rep.time_from_rows);
    cr_assert_eq(r.s.n, 2);
    cr_assert_eq(r.s.time[0], INT64_C(1577957400) * BT_NS_PER_SEC);
    cr_assert_eq(r.s.open[0], 3602.0);
    cr_assert_eq(r.s.volume[0], 5699.0);
    cr_assert_eq(r.s.volume[1], 894.0);
    s_free(&r);
}

Test(csv, fractional_volume_blank_lines_no_final_newline_bom)
{
    s_res_t r = s_parse("\xEF\xBB\xBF"
                        ",Open,High,Low,Close,Volume\n\n"
                        "2020-01-31,4.58,7.38,3.8,5.55,2012.25343589\n"
                        "   \n"
                        "2020-02-29,5.55,6.5,3.8,4.99,4761.6090813",
                        BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 2);
    s_bits_eq(r.s.volume[0], strtod("2012.25343589", NULL));
    s_bits_eq(r.s.volume[1], strtod("4761.6090813", NULL));
    s_free(&r);
}

Test(csv, parse_double_matches_strtod_bit_for_bit)
{
    const char *cases[] = {"0",
                           "100",
                           "104.06",
                           "2.179012",
                           "45.450001",
                           "1.07083",
                           "0.1",
                           "-0.5",
                           "+3.25",
                           "1e3",
                           "1.5E-3",
                           "108364.0",
                           "0.000001",
                           "9007199254740993",
                           "123456789012345678901234.5",
                           "0.30000000000000004",
                           ".5",
                           "5."};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        cr_assert(bt_csv_parse_double(cases[i], strlen(cases[i]), &v), "%s", cases[i]);
        s_bits_eq(v, strtod(cases[i], NULL));
    }
    /* random decimals with up to 6 places and up to 10 integer digits */
    srand(42);
    for (int i = 0; i < 200000; i++) {
        char buf[64];
        long long ip = (long long)rand() * rand() % 10000000000LL;
        int dec = rand() % 7, frac = rand() % 1000000;
        int n = dec ? snprintf(buf, sizeof buf, "%lld.%0*d", ip, dec, frac % (int)pow(10, dec))
                    : snprintf(buf, sizeof buf, "%lld", ip);
        double v;
        cr_assert(bt_csv_parse_double(buf, (size_t)n, &v), "%s", buf);
        double w = strtod(buf, NULL);
        cr_assert_eq(memcmp(&v, &w, 8), 0, "%s: %.17g vs strtod %.17g", buf, v, w);
    }
    const char *bad[] = {"",    "-",   ".",  "abc",  "1.2.3", "1,5",
                         "nan", "inf", "1e", "0x10", " 1",    "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        cr_assert(!bt_csv_parse_double(bad[i], strlen(bad[i]), &v), "'%s' accepted", bad[i]);
    }
}

/* One bad row at line 3 gives the expected code, and a message with file:line and field. */
static void s_bad(const char *row, bt_err_t code, const char *field, const char *what)
{
    char text[512];
    snprintf(text, sizeof text, "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n%s\n",
             row);
    s_res_t r = s_parse(text, BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, code, "row '%s': rc %d (%s)", row, r.rc, r.eb.msg);
    cr_assert(strstr(r.eb.msg, "t.csv:3:") != NULL, "no file:line in '%s'", r.eb.msg);
    if (field)
        cr_assert(strstr(r.eb.msg, field) != NULL, "no field %s in '%s'", field, r.eb.msg);
    cr_assert(strstr(r.eb.msg, what) != NULL, "no '%s' in '%s'", what, r.eb.msg);
    cr_assert(strstr(r.eb.msg, "--skip-bad") != NULL, "no hint in '%s'", r.eb.msg);
    s_free(&r);
}

Test(csv, each_bad_row_names_file_line_field)
{
    s_bad("2020-01-03,1,2,0.5,abc,100", BT_EPARSE, "'close' (column 5)", "cannot parse 'abc'");
    s_bad("2020-01-03,1,2,0.5,,100", BT_EPARSE, "'close'", "as a number");
    s_bad("2020-13-03,1,2,0.5,1.5,100", BT_EPARSE, "'date' (column 1)", "2020-13-03");
    s_bad("2020-01-03,1,2,0.5,1.5", BT_EPARSE, NULL, "5 fields, expected 6");
    s_bad("2020-01-03,1,2,0.5,1.5,100,7", BT_EPARSE, NULL, "7 fields, expected 6");
    s_bad("2020-01-02,1,2,0.5,1.5,100", BT_EDATA, "'date'", "repeats");
    s_bad("2020-01-01,1,2,0.5,1.5,100", BT_EDATA, "'date'", "earlier than");
    s_bad("2020-01-03,1,2,0.5,nan,100", BT_EDATA, "'close'", "not a finite number");
    s_bad("2020-01-03,1,inf,0.5,1.5,100", BT_EDATA, "'high'", "not a finite number");
    s_bad("2020-01-03,1,2,0.5,1e999,100", BT_EDATA, "'close'", "out of the double range");
    s_bad("2020-01-03,-1,2,0.5,1.5,100", BT_EDATA, "'open'", "negative price");
    s_bad("2020-01-03,1,0.4,0.5,0.45,100", BT_EDATA, "'high'", "below low");
    s_bad("2020-01-03,3,2,0.5,1.5,100", BT_EDATA, "'open'", "outside [low");
    s_bad("2020-01-03,1,2,0.5,0.4,100", BT_EDATA, "'close'", "outside [low");
    s_bad("2020-01-03,1,2,0.5,1.5,-1", BT_EDATA, "'volume'", "negative volume");
    s_bad("2020-01-03 25:00:00,1,2,0.5,1.5,1", BT_EPARSE, "'date'", "cannot parse");
}

Test(csv, bad_time_column)
{
    s_res_t r = s_parse("Date,Time,Open,High,Low,Close\n2020-01-02,09:30:00,1,2,1,2\n"
                        "2020-01-02,9h31,1,2,1,2\n",
                        BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "t.csv:3: field 'time' (column 2)") != NULL, "%s", r.eb.msg);
    s_free(&r);
}

Test(csv, skip_bad_counts_reasons_and_lines)
{
    const char *text = "Date,Open,High,Low,Close,Volume\n" /* line 1 */
                       "2020-01-02,1,2,0.5,1.5,100\n"      /* 2 ok */
                       "2020-01-03,1,2,0.5,x,100\n"        /* 3 number */
                       "2020-01-03,1,0.1,0.5,1.5,100\n"    /* 4 high<low */
                       "2020-01-03,1,2,0.5,1.5,100\n"      /* 5 ok */
                       "2020-01-03,1,2,0.5,1.5,100\n"      /* 6 duplicate */
                       "2020-01-04,1,2,0.5,1.5\n"          /* 7 fields */
                       "2020-01-02,1,2,0.5,1.5,100\n"      /* 8 order */
                       "2020-01-05,1,2,0.5,y,100\n"        /* 9 number */
                       "2020-01-06,1,2,0.5,1.5,100\n";     /* 10 ok */
    s_res_t r = s_parse(text, BT_CSV_AUTO, true);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.rep.rows, 3);
    cr_assert_eq(r.s.n, 3);
    cr_assert_eq(r.rep.skipped, 6);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_NUMBER], 2);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_NUMBER][0], 3);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_NUMBER][1], 9);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_HIGHLOW], 1);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_HIGHLOW][0], 4);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_DUPLICATE], 1);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_DUPLICATE][0], 6);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_FIELDS], 1);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_ORDER], 1);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_ORDER][0], 8);
    cr_assert(strstr(r.rep.first_msg[BT_CSV_R_NUMBER], "t.csv:3:") != NULL);
    cr_assert_eq(r.s.time[2], D0 + 4 * BT_NS_PER_DAY);
    s_free(&r);
    /* every row bad: an error even with skip_bad */
    r = s_parse("Date,Open,High,Low,Close\n2020-01-02,1,2,1,x\n", BT_CSV_AUTO, true);
    cr_assert_eq(r.rc, BT_EDATA);
    cr_assert(strstr(r.eb.msg, "no valid bars") != NULL, "%s", r.eb.msg);
    s_free(&r);
}

Test(csv, format_mismatch_and_empty_inputs)
{
    s_res_t r = s_parse(",Open,High,Low,Close,Volume\n2020-01-02,1,2,1,2,3\n", BT_CSV_YAHOO, false);
    cr_assert_eq(r.rc, BT_EFORMAT);
    cr_assert(strstr(r.eb.msg, "not the Yahoo format") != NULL, "%s", r.eb.msg);
    s_free(&r);
    r = s_parse("Date,Open,High,Low,Close\n2020-01-02,1,2,1,2\n", BT_CSV_INTRADAY, false);
    cr_assert_eq(r.rc, BT_EFORMAT);
    cr_assert(strstr(r.eb.msg, "intraday") != NULL, "%s", r.eb.msg);
    s_free(&r);
    r = s_parse("", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EFORMAT);
    cr_assert(strstr(r.eb.msg, "t.csv: the file is empty") != NULL, "%s", r.eb.msg);
    s_free(&r);
    r = s_parse("Date,Open,High,Low,Close\n", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EDATA);
    s_free(&r);
    r = s_parse("Date,Open,High,Low\n2020-01-02,1,2,1\n", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EFORMAT);
    cr_assert(strstr(r.eb.msg, "no 'close' column") != NULL, "%s", r.eb.msg);
    s_free(&r);
    r = s_parse("2020-01-02,1,2\n", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EFORMAT);
    s_free(&r);
    bt_csv_format_t f;
    cr_assert_eq(bt_csv_format_parse("intraday", &f), BT_OK);
    cr_assert_eq(f, BT_CSV_INTRADAY);
    cr_assert_eq(bt_csv_format_parse("excel", &f), BT_EINVAL);
}

Test(csv, read_file_hashes_and_parses)
{
    char path[] = "/tmp/bt_csv_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *text = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    bt_bars_t *b = bt_bars_new("X", 0);
    bt_csv_opts_t o = {0};
    bt_csv_report_t rep;
    bt_errbuf_t eb;
    cr_assert_eq(bt_csv_read_file(path, &o, b, &rep, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_bars_count(b), 1);
    char hex[65];
    bt_sha256_file(path, hex, NULL);
    cr_assert_str_eq(rep.sha256, hex);
    unlink(path);
    bt_bars_clear(b);
    cr_assert_eq(bt_csv_read_file(path, &o, b, &rep, &eb), BT_ENOTFOUND);
    cr_assert(strstr(eb.msg, path) != NULL, "%s", eb.msg);
    bt_bars_destroy(&b);
    cr_assert_null(b);
    bt_bars_destroy(&b); /* safe twice */
}

Test(bars, grow_align_view)
{
    bt_bars_t *b = bt_bars_new("ABC", 1);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(bt_bars_push(b, i, i, i + 1, i - 1 < 0 ? 0 : i - 1, i, 10, NAN), BT_OK);
    bt_series_t s = bt_bars_view(b);
    cr_assert_eq(s.n, 1000);
    cr_assert_str_eq(s.symbol, "ABC");
    cr_assert_null(s.adj_close, "all NAN adj_close gives no adj_close array");
    cr_assert_eq((uintptr_t)s.time % 64, 0);
    cr_assert_eq((uintptr_t)s.close % 64, 0);
    cr_assert_eq(s.time[999], 999);
    cr_assert_eq(s.high[500], 501.0);
    bt_bars_push(b, 1000, 1, 1, 1, 1, 1, 1.0);
    s = bt_bars_view(b);
    cr_assert_not_null(s.adj_close);
    bt_bars_destroy(&b);
}

Test(csv, mutated_inputs_never_crash)
{
    /* 3000 random byte mutations of a valid file: each either imports or fails with a message
     * naming t.csv; never a crash (run under ASan by scripts/test). */
    const char *base = "Date,Time,Open,High,Low,Close,Volume\r\n"
                       "2020-01-02,09:30:00,1.5,2.25,1,2,100\r\n"
                       "2020-01-02,09:31:00,2,2.5,1.75,2.25,200.5\r\n"
                       "2020-01-02,09:32:00,2.25,3,2,2.75,0\r\n";
    const char alphabet[] = "0123456789,.-:\r\n eE+naif\"\xEF";
    size_t len = strlen(base);
    char buf[256];
    srand(7);
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, base, len + 1);
        int nmut = 1 + rand() % 4;
        for (int k = 0; k < nmut; k++)
            buf[rand() % (int)len] = alphabet[rand() % (int)(sizeof alphabet - 1)];
        size_t cut = (it % 5 == 0) ? (size_t)(rand() % (int)len) : len;
        bt_bars_t *b = bt_bars_new("M", 0);
        bt_csv_opts_t o = {.skip_bad = it % 2 == 0};
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        bt_err_t rc = bt_csv_parse("t.csv", buf, cut, &o, b, NULL, &eb);
        if (rc != BT_OK)
            cr_assert(strstr(eb.msg, "t.csv") != NULL, "mutation %d: '%s'", it, eb.msg);
        else
            cr_assert(bt_bars_count(b) > 0);
        bt_bars_destroy(&b);
    }
}

Test(csv, dates_beyond_int64_nanoseconds_are_refused)
{
    /* int64 ns since 1970 reach 2262-04-11; a later date must be an error, not an overflow */
    s_res_t r = s_parse("Date,Open,High,Low,Close\n2300-01-02,1,2,1,2\n", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "t.csv:2: field 'date'") != NULL, "%s", r.eb.msg);
    s_free(&r);
    r = s_parse("Date,Open,High,Low,Close\n2259-12-31,1,2,1,2\n", BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    s_free(&r);
}

/* Input integrity (issue 10): rows main accepted that are not quotes. Each case is one bad row
 * at line 3; before this change every one of them imported. */
Test(csv, implausible_prices_are_rejected)
{
    s_bad("2020-01-03,0,2,0.5,1.5,100", BT_EDATA, "'open' (column 2)", "zero price 0");
    s_bad("2020-01-03,1,2,0,1.5,100", BT_EDATA, "'low' (column 4)", "zero price");
    s_bad("2020-01-03,0,0,0,0,100", BT_EDATA, "t.csv:3: field 'open'", "all zero");
    s_bad("2020-01-03,0,0,0,0,0", BT_EDATA, "'open'", "all zero");
    /* 1e308 is a finite double: it passed every old check (high 1e308 >= everything) */
    s_bad("2020-01-03,1,1e308,0.5,1.5,100", BT_EDATA, "'high' (column 3)", "above 1e+12");
    s_bad("2020-01-03,1,2,0.5,1.5,1e16", BT_EDATA, "'volume' (column 6)", "above 1e+15");
    /* low > min(open, close), high < max(open, close), low > high */
    s_bad("2020-01-03,1,2,1.2,1.5,100", BT_EDATA, "'open'", "outside [low");
    s_bad("2020-01-03,1.6,1.55,0.5,1.5,100", BT_EDATA, "'open'",
          "open 1.6000000000000001 is outside");
    s_bad("2020-01-03,1,1.4,0.5,1.5,100", BT_EDATA, "'close'", "outside [low");
    s_bad("2020-01-03,1,1,2,1,100", BT_EDATA, "'high'", "below low");
    /* at the caps is fine: 1e12 price and 1e15 volume */
    s_res_t r = s_parse("Date,Open,High,Low,Close,Volume\n2020-01-02,1e12,1e12,1e12,1e12,1e15\n"
                        "2020-01-03,1,2,0.5,1.5,0\n",
                        BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 2);
    s_free(&r);
}

Test(csv, skip_bad_counts_implausible_rows_per_reason)
{
    const char *text = "Date,Open,High,Low,Close,Volume\n" /* line 1 */
                       "2020-01-02,1,2,0.5,1.5,100\n"      /* 2 ok */
                       "2020-01-03,0,0,0,0,0\n"            /* 3 all zero */
                       "2020-01-04,0,2,0.5,1.5,100\n"      /* 4 zero price */
                       "2020-01-05,1,1e308,0.5,1.5,100\n"  /* 5 magnitude */
                       "2020-01-06,0,0,0,0,100\n"          /* 6 all zero */
                       "2020-01-07,1,2,0.5,1.5,100\n";     /* 7 ok */
    s_res_t r = s_parse(text, BT_CSV_AUTO, true);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 2);
    cr_assert_eq(r.rep.skipped, 4);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_ZERO_ROW], 2);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_ZERO_ROW][0], 3);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_ZERO_ROW][1], 6);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_NONPOSITIVE], 1);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_NONPOSITIVE][0], 4);
    cr_assert_eq(r.rep.by_reason[BT_CSV_R_MAGNITUDE], 1);
    cr_assert_eq(r.rep.first_lines[BT_CSV_R_MAGNITUDE][0], 5);
    cr_assert(strstr(r.rep.first_msg[BT_CSV_R_MAGNITUDE], "t.csv:5: field 'high'"),
              "%s", r.rep.first_msg[BT_CSV_R_MAGNITUDE]);
    s_free(&r);
}

Test(csv, cr_only_line_endings)
{
    /* before: one 1-line file of 16 fields ("1201 fields" on a real one) */
    s_res_t r = s_parse("Date,Open,High,Low,Close,Volume\r2020-01-02,1,2,0.5,1.5,100\r"
                        "2020-01-03,1,2,0.5,1.25,200\r\r2020-01-06,1,2,0.5,1.75,300",
                        BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_OK, "%s", r.eb.msg);
    cr_assert_eq(r.s.n, 3);
    cr_assert_eq(r.s.time[2], D0 + 4 * BT_NS_PER_DAY);
    cr_assert_eq(r.s.close[1], 1.25);
    cr_assert_eq(r.s.volume[2], 300.0);
    s_free(&r);
    /* line numbers count CR lines: the bad row is line 4 (line 3 is blank) */
    r = s_parse("Date,Open,High,Low,Close\r2020-01-02,1,2,0.5,1.5\r\r2020-01-03,1,2,0.5,x\r",
                BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "t.csv:4: field 'close'"), "%s", r.eb.msg);
    s_free(&r);
    /* CR first, then CR LF pairs: each pair is one line end, no blank line counted */
    r = s_parse("Date,Open,High,Low,Close\r2020-01-02,1,2,0.5,1.5\r\n2020-01-03,1,2,0.5,y\r\n",
                BT_CSV_AUTO, false);
    cr_assert_eq(r.rc, BT_EPARSE);
    cr_assert(strstr(r.eb.msg, "t.csv:3:"), "%s", r.eb.msg);
    s_free(&r);
}
