/* Unit tests for common/base: errors, time. Known answers by hand or from
 * `date -u -d ... +%s` (GNU coreutils), written next to each case. */
#include <criterion/criterion.h>
#include <string.h>

#include "bt_err.h"
#include "bt_time.h"

Test(err, strerror_and_errf)
{
    cr_assert_str_eq(bt_strerror(BT_OK), "success");
    cr_assert_str_eq(bt_strerror(BT_EPARSE), "parse error");
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t e = bt_errf(&eb, BT_EDATA, "%s:%d: field %s", "a.csv", 7, "close");
    cr_assert_eq(e, BT_EDATA);
    cr_assert_str_eq(eb.msg, "a.csv:7: field close");
}

Test(time, known_epochs)
{
    int64_t t;
    /* date -u -d 2001-09-11 +%s -> 1000166400 */
    cr_assert(bt_time_parse("2001-09-11", 10, &t));
    cr_assert_eq(t, INT64_C(1000166400) * BT_NS_PER_SEC);
    /* date -u -d '2017-04-19 09:00:00' +%s -> 1492592400 */
    cr_assert(bt_time_parse("2017-04-19 09:00:00", 19, &t));
    cr_assert_eq(t, INT64_C(1492592400) * BT_NS_PER_SEC);
    /* date -u -d 1960-01-01 +%s -> -315619200 = -3653 days (1960, 64, 68 leap) */
    cr_assert(bt_time_parse("1960-01-01", 10, &t));
    cr_assert_eq(t, -INT64_C(3653) * BT_NS_PER_DAY);
    /* 2006-01-02 09:05 -> 1136192700 */
    cr_assert(bt_time_parse("2006-01-02T09:05", 16, &t));
    cr_assert_eq(t, INT64_C(1136192700) * BT_NS_PER_SEC);
}

Test(time, rejects_bad_dates)
{
    int64_t t;
    cr_assert_not(bt_time_parse("2001-02-29", 10, &t)); /* 2001 is not a leap year */
    cr_assert(bt_time_parse("2000-02-29", 10, &t));     /* 2000 is */
    cr_assert_not(bt_time_parse("2001-13-01", 10, &t));
    cr_assert_not(bt_time_parse("2001-1-01x", 10, &t));
    cr_assert_not(bt_time_parse("2001-01-01 25:00", 16, &t));
    cr_assert_not(bt_time_parse("2001-01-01 10:00:0", 18, &t));
}

Test(time, format_and_weekday)
{
    char buf[40];
    int64_t t;
    cr_assert(bt_time_parse("2012-10-29", 10, &t));
    cr_assert_str_eq(bt_time_format(t, buf, sizeof buf), "2012-10-29");
    cr_assert_eq(bt_time_weekday(t), 0); /* Hurricane Sandy closure began on a Monday */
    cr_assert(bt_time_parse("2018-02-07 15:00:00", 19, &t));
    cr_assert_str_eq(bt_time_format(t, buf, sizeof buf), "2018-02-07 15:00:00");
    cr_assert_eq(bt_time_weekday(t), 2); /* Wednesday */
    cr_assert_eq(bt_time_weekday(-1), 2); /* 1969-12-31 was a Wednesday */
}

Test(base, str_copy_truncates_and_terminates)
{
    char buf[4];
    bt_str_copy(buf, sizeof buf, "abcdef");
    cr_assert_str_eq(buf, "abc"); /* 3 bytes + NUL */
    bt_str_copy(buf, sizeof buf, "x");
    cr_assert_str_eq(buf, "x");
    int64_t a = bt_monotonic_ms(), b = bt_monotonic_ms();
    cr_assert_geq(b, a); /* monotonic: never goes back */
}

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bt_fs.h"

Test(base, fs_mkdir_p_and_read_file)
{
    char dir[] = "/tmp/bt-fs-XXXXXX";
    cr_assert(mkdtemp(dir));
    char nested[256], file[256];
    snprintf(nested, sizeof nested, "%s/a/b/c", dir);
    bt_errbuf_t eb;
    cr_assert_eq(bt_fs_mkdir_p(nested, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_fs_mkdir_p(nested, &eb), BT_OK); /* exists: fine */
    snprintf(file, sizeof file, "%s/a/f.txt", dir);
    FILE *f = fopen(file, "w");
    cr_assert(f);
    fputs("hello", f);
    fclose(f);
    /* a file where a folder is wanted */
    cr_assert_neq(bt_fs_mkdir_p(file, &eb), BT_OK);
    cr_assert(strstr(eb.msg, "not a folder"), "%s", eb.msg);
    size_t len = 0;
    char *text = bt_fs_read_file(file, 5, &len, &eb);
    cr_assert(text, "%s", eb.msg);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(text, "hello");
    free(text);
    cr_assert_null(bt_fs_read_file(file, 4, &len, &eb)); /* 5 bytes > cap 4 */
    cr_assert_eq(eb.code, BT_ELIMIT);
    cr_assert_null(bt_fs_read_file("/nonexistent/x", 4, &len, &eb));
    cr_assert_eq(eb.code, BT_EIO);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
