/* Unit tests for common/base: errors, time. Known answers by hand or from
 * `date -u -d ... +%s` (GNU coreutils), written next to each case. */
#include <criterion/criterion.h>
#include <string.h>

#include "bt_parse.h"
#include "bt_err.h"
#include "bt_memtune.h"
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

#include <dirent.h>

/* Files in dir whose name starts with '.' (temp files), not counting . and .. */
static int s_hidden_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

Test(base, fs_write_atomic_replaces_whole_file)
{
    char dir[] = "/tmp/bt-atomic-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    bt_errbuf_t eb;
    cr_assert_eq(bt_fs_write_atomic(path, "old\n", 4, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_fs_write_atomic(path, "new text\n", 9, &eb), BT_OK, "%s", eb.msg);
    size_t len = 0;
    char *text = bt_fs_read_file(path, 100, &len, &eb);
    cr_assert(text);
    cr_assert_str_eq(text, "new text\n");
    free(text);
    cr_assert_eq(s_hidden_files(dir), 0); /* no temp file left behind */
    cr_assert_eq(bt_fs_write_atomic(path, "", 0, &eb), BT_OK); /* empty file is fine */
    text = bt_fs_read_file(path, 100, &len, &eb);
    cr_assert_eq(len, 0);
    free(text);
    /* the folder does not exist: an error naming the path, nothing created */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/out.csv", dir);
    cr_assert_eq(bt_fs_write_atomic(bad, "x", 1, &eb), BT_EIO);
    cr_assert(strstr(eb.msg, bad), "%s", eb.msg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(base, fs_atomic_stream_commit_and_abort)
{
    char dir[] = "/tmp/bt-atomic-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/rows.csv", dir);
    bt_errbuf_t eb;
    cr_assert_eq(bt_fs_write_atomic(path, "keep\n", 5, &eb), BT_OK);
    bt_fs_atomic_t a;
    /* aborted: the old file stays whole and the temp file is gone */
    cr_assert_eq(bt_fs_atomic_open(&a, path, &eb), BT_OK, "%s", eb.msg);
    fputs("half a row", a.f);
    cr_assert_eq(s_hidden_files(dir), 1); /* the temp file sits next to the target */
    bt_fs_atomic_abort(&a);
    bt_fs_atomic_abort(&a); /* safe twice */
    cr_assert_eq(s_hidden_files(dir), 0);
    size_t len = 0;
    char *text = bt_fs_read_file(path, 100, &len, &eb);
    cr_assert_str_eq(text, "keep\n");
    free(text);
    /* committed: the rows replace the file */
    cr_assert_eq(bt_fs_atomic_open(&a, path, &eb), BT_OK);
    for (int i = 0; i < 3; i++)
        fprintf(a.f, "%d\n", i);
    cr_assert_eq(bt_fs_atomic_commit(&a, &eb), BT_OK, "%s", eb.msg);
    bt_fs_atomic_abort(&a); /* after commit: a no-op, the file stays */
    text = bt_fs_read_file(path, 100, &len, &eb);
    cr_assert_str_eq(text, "0\n1\n2\n");
    free(text);
    cr_assert_eq(s_hidden_files(dir), 0);
    /* a path naming a folder is refused */
    char folder[300];
    snprintf(folder, sizeof folder, "%s/", dir);
    cr_assert_eq(bt_fs_atomic_open(&a, folder, &eb), BT_EINVAL);
    bt_fs_atomic_abort(&a); /* safe after a failed open */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* bt_parse_long: whole numbers in range only; *out untouched on refusal. */
Test(parse, long_strict)
{
    long v = 7;
    cr_assert(bt_parse_long("42", 0, 100, &v) && v == 42);
    cr_assert(bt_parse_long("-3", -5, 5, &v) && v == -3);
    v = 7;
    cr_assert_not(bt_parse_long("101", 0, 100, &v));
    cr_assert_not(bt_parse_long("4x", 0, 100, &v));
    cr_assert_not(bt_parse_long("", 0, 100, &v));
    cr_assert_not(bt_parse_long("99999999999999999999", 0, 100, &v));
    cr_assert_not(bt_parse_long(NULL, 0, 100, &v));
    cr_assert_eq(v, 7);
}

/* bt_memtune: our settings first, the user's after them (the later value of a
 * tunable wins in glibc, so theirs do); a value that does not fit is refused. */
Test(base, memtune_compose_keeps_the_users_tunables_last)
{
    char out[512];
    cr_assert_eq(bt_memtune_compose(NULL, out, sizeof out), 0);
    cr_assert_str_eq(out, BT_MEMTUNE_SETTINGS);
    cr_assert_eq(bt_memtune_compose("", out, sizeof out), 0);
    cr_assert_str_eq(out, BT_MEMTUNE_SETTINGS);
    cr_assert_eq(bt_memtune_compose("glibc.malloc.perturb=7", out, sizeof out), 0);
    cr_assert_str_eq(out, BT_MEMTUNE_SETTINGS ":glibc.malloc.perturb=7");
    cr_assert_eq(bt_memtune_compose(NULL, out, sizeof BT_MEMTUNE_SETTINGS), 0);
    cr_assert_eq(bt_memtune_compose(NULL, out, sizeof BT_MEMTUNE_SETTINGS - 1), -1);
    cr_assert_eq(bt_memtune_compose("x=1", out, sizeof BT_MEMTUNE_SETTINGS + 3), -1);
    setenv("GLIBC_TUNABLES", "glibc.malloc.perturb=7", 1);
    cr_assert_str_eq(bt_memtune_describe(), "glibc's defaults");
    cr_assert_eq(bt_memtune_compose(NULL, out, sizeof out), 0);
    setenv("GLIBC_TUNABLES", out, 1);
    cr_assert_str_eq(bt_memtune_describe(), BT_MEMTUNE_SETTINGS);
    unsetenv("GLIBC_TUNABLES");
}
