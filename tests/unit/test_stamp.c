/* Unit tests for common/data/bt_stamp: date formats, epoch timestamps, time zones.
 * Known answers from GNU date: `date -u -d '2006-01-02 15:00:00' +%s` = 1136214000,
 * `date -u -d 2020-01-02 +%s` = 1577923200. Europe/Berlin in 2006 (EU rule: summer time from
 * 2006-03-26 01:00 UTC to 2006-10-29 01:00 UTC): CET = UTC+1, CEST = UTC+2; local 02:30 on
 * 03-26 does not exist; local 02:30 on 10-29 happens twice, at 00:30 and 01:30 UTC (GNU date
 * picks the second, 1162085400; we document and take the first, 1162081800). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_stamp.h"
#include "bt_time.h"

#define S(x) ((int64_t)(x)*BT_NS_PER_SEC)
#define T20200102 S(1577923200)
#define T20060102_15 S(1136214000)

static int64_t s_fmt(const char *fmt, const char *text)
{
    bt_errbuf_t eb;
    cr_assert_eq(bt_datefmt_check(fmt, &eb), BT_OK, "%s", eb.msg);
    int64_t t = 0;
    cr_assert(bt_datefmt_parse(fmt, text, strlen(text), &t), "'%s' with '%s'", text, fmt);
    return t;
}

static bool s_fmt_ok(const char *fmt, const char *text)
{
    int64_t t;
    return bt_datefmt_parse(fmt, text, strlen(text), &t);
}

Test(datefmt, us_european_and_named_months)
{
    cr_assert_eq(s_fmt("%m/%d/%Y", "01/02/2020"), T20200102);
    cr_assert_eq(s_fmt("%m/%d/%Y", "1/2/2020"), T20200102); /* 1 or 2 digits */
    cr_assert_eq(s_fmt("%d.%m.%Y", "02.01.2020"), T20200102);
    cr_assert_eq(s_fmt("%Y%m%d", "20200102"), T20200102);
    cr_assert_eq(s_fmt("%d-%b-%y", "02-JAN-20"), T20200102);
    cr_assert_eq(s_fmt("%d %b %Y", "2 jan 2020"), T20200102);
    cr_assert_eq(s_fmt("%m/%d/%Y %H:%M:%S", "01/02/2006 15:00:00"), T20060102_15);
    cr_assert_eq(s_fmt("%Y-%m-%dT%H:%M", "2006-01-02T15:00"), T20060102_15);
    cr_assert_eq(s_fmt("%Y-%m-%d %H:%M:%S.%f", "2006-01-02 15:00:00.25"), T20060102_15 + 250000000);
    cr_assert_eq(s_fmt("%Y-%m-%d %H:%M:%S.%f", "2006-01-02 15:00:00.000000001"), T20060102_15 + 1);
    cr_assert_eq(s_fmt("%y%%%m%%%d", "69%01%01"), -S(86400) * 365); /* 1969-01-01 */
}

Test(datefmt, mismatches_and_impossible_dates)
{
    cr_assert_not(s_fmt_ok("%m/%d/%Y", "2020-01-02"));
    cr_assert_not(s_fmt_ok("%m/%d/%Y", "13/02/2020"));  /* month 13 */
    cr_assert_not(s_fmt_ok("%m/%d/%Y", "02/30/2020"));  /* 30 February */
    cr_assert_not(s_fmt_ok("%m/%d/%Y", "01/02/2020 ")); /* trailing text */
    cr_assert_not(s_fmt_ok("%m/%d/%Y", "01/02/20"));    /* %Y needs 4 digits */
    cr_assert_not(s_fmt_ok("%m/%d/%Y", "01/02/2262"));  /* past int64 ns */
    cr_assert_not(s_fmt_ok("%Y-%m-%d %H:%M", "2020-01-02 24:00"));
    cr_assert_not(s_fmt_ok("%d %b %Y", "2 jam 2020"));
    cr_assert_not(s_fmt_ok("%m/%d/%Y", ""));
}

Test(datefmt, check_names_the_flag)
{
    bt_errbuf_t eb;
    cr_assert_eq(bt_datefmt_check("%m/%d/%Q", &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--date-format") && strstr(eb.msg, "%Q"), "%s", eb.msg);
    cr_assert_eq(bt_datefmt_check("%H:%M", &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "needs a year"), "%s", eb.msg);
    cr_assert_eq(bt_datefmt_check("", &eb), BT_EINVAL);
    cr_assert_eq(bt_datefmt_check("%Y-%m-%d%", &eb), BT_EINVAL); /* dangling % */
    cr_assert_eq(bt_datefmt_check("%Y-%m-%d", &eb), BT_OK);
}

Test(epoch, seconds_milliseconds_and_bounds)
{
    int64_t t;
    bt_epoch_t u;
    cr_assert_eq(bt_epoch_unit_parse("s", &u), BT_OK);
    cr_assert_eq(u, BT_EPOCH_S);
    cr_assert_eq(bt_epoch_unit_parse("ms", &u), BT_OK);
    cr_assert_eq(u, BT_EPOCH_MS);
    cr_assert_eq(bt_epoch_unit_parse("us", &u), BT_EINVAL);
    cr_assert(bt_epoch_parse(BT_EPOCH_S, "1136214000", 10, &t));
    cr_assert_eq(t, T20060102_15);
    cr_assert(bt_epoch_parse(BT_EPOCH_S, "1136214000.5", 12, &t));
    cr_assert_eq(t, T20060102_15 + 500000000);
    cr_assert(bt_epoch_parse(BT_EPOCH_MS, "1136214000123", 13, &t));
    cr_assert_eq(t, T20060102_15 + 123000000);
    cr_assert(bt_epoch_parse(BT_EPOCH_S, "-86400", 6, &t));
    cr_assert_eq(t, -S(86400));
    cr_assert_not(bt_epoch_parse(BT_EPOCH_MS, "1136214000.5", 12, &t)); /* ms are whole */
    cr_assert_not(bt_epoch_parse(BT_EPOCH_S, "2006-01-02", 10, &t));
    cr_assert_not(bt_epoch_parse(BT_EPOCH_S, "", 0, &t));
    cr_assert_not(bt_epoch_parse(BT_EPOCH_S, "99999999999", 11, &t)); /* year 5138 */
    cr_assert_not(bt_epoch_parse(BT_EPOCH_S, "1e9", 3, &t));
}

Test(tz, fixed_offsets)
{
    bt_errbuf_t eb;
    const char *specs[] = {"UTC", "+01:00", "-0530", "+14"};
    const int64_t offs[] = {0, 3600, -19800, 50400};
    for (int i = 0; i < 4; i++) {
        bt_tz_t *tz = bt_tz_new(specs[i], &eb);
        cr_assert_not_null(tz, "%s: %s", specs[i], eb.msg);
        int64_t u;
        cr_assert(bt_tz_to_utc(tz, T20200102, &u));
        cr_assert_eq(u, T20200102 - S(offs[i]), "%s", specs[i]);
        bt_tz_destroy(&tz);
        cr_assert_null(tz);
    }
    cr_assert_null(bt_tz_new("+15:00", &eb));
    cr_assert_null(bt_tz_new("Mars/Olympus", &eb));
    cr_assert(strstr(eb.msg, "--tz") && strstr(eb.msg, "Mars/Olympus"), "%s", eb.msg);
    cr_assert_null(bt_tz_new("../../etc/passwd", &eb));
}

Test(tz, berlin_winter_summer_gap_and_overlap)
{
    if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0)
        cr_skip_test("no tz database (apt-get install tzdata)");
    bt_errbuf_t eb;
    const char *before = getenv("TZ");
    char saved[64] = "";
    if (before)
        snprintf(saved, sizeof saved, "%s", before);
    bt_tz_t *tz = bt_tz_new("Europe/Berlin", &eb);
    cr_assert_not_null(tz, "%s", eb.msg);
    int64_t local, u;
    /* 2006-01-02 16:00 CET = 15:00 UTC */
    cr_assert(bt_time_parse("2006-01-02 16:00", 16, &local));
    cr_assert(bt_tz_to_utc(tz, local, &u));
    cr_assert_eq(u, T20060102_15);
    /* 2006-07-01 12:00 CEST = 10:00 UTC */
    int64_t want;
    cr_assert(bt_time_parse("2006-07-01 12:00", 16, &local));
    cr_assert(bt_time_parse("2006-07-01 10:00", 16, &want));
    cr_assert(bt_tz_to_utc(tz, local, &u));
    cr_assert_eq(u, want);
    /* the skipped hour */
    cr_assert(bt_time_parse("2006-03-26 02:30", 16, &local));
    cr_assert_not(bt_tz_to_utc(tz, local, &u));
    /* 03:00 on that day is CEST: 01:00 UTC */
    cr_assert(bt_time_parse("2006-03-26 03:00", 16, &local));
    cr_assert(bt_time_parse("2006-03-26 01:00", 16, &want));
    cr_assert(bt_tz_to_utc(tz, local, &u));
    cr_assert_eq(u, want);
    /* the repeated hour: the first instant */
    cr_assert(bt_time_parse("2006-10-29 02:30", 16, &local));
    cr_assert(bt_tz_to_utc(tz, local, &u));
    cr_assert_eq(u, S(1162081800));
    bt_tz_destroy(&tz);
    const char *after = getenv("TZ");
    if (before)
        cr_assert_str_eq(after, saved);
    else
        cr_assert_null(after);
}
