/* bt_store: verification stamps (the sha256 pass is skipped for a store
 * file proven unchanged since it was hashed) and bt_store_cut (the store a
 * coordinator ships: deterministic bytes, only the symbols and range asked). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_store.h"
#include "bt_time.h"

static char s_dir[64];
static char s_path[128];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_stamp_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/s.h5", s_dir);
    char v[128];
    snprintf(v, sizeof v, "%s/verified", s_dir);
    setenv("BT_VERIFY_CACHE", v, 1);
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
}

TestSuite(stamp, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* n daily bars of sym from 2020-01-02 (day 0), close 100 + i. */
static void s_write(const char *path, const char *sym, size_t n)
{
    bt_bars_t *b = bt_bars_new(sym, 0);
    int64_t t0 = INT64_C(1577923200) * BT_NS_PER_SEC;
    for (size_t i = 0; i < n; i++) {
        double c = 100.0 + (double)i;
        bt_bars_push(b, t0 + (int64_t)i * BT_NS_PER_DAY, c, c + 1, c - 1, c, 1000, NAN);
    }
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m;
    memset(&m, 0, sizeof m);
    snprintf(m.source, sizeof m.source, "test");
    snprintf(m.frequency, sizeof m.frequency, "1d");
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_write(path, &s, &m, false, false, &eb), BT_OK, "%s", eb.msg);
    bt_bars_destroy(&b);
}

/* Stamps are written only once the file's last change is older than a clock
 * tick (100 ms on a file system with sub-second times): wait for that. */
static void s_wait_settled(const char *path)
{
    for (int i = 0; i < 300; i++) {
        struct stat st;
        struct timespec now;
        cr_assert_eq(stat(path, &st), 0);
        clock_gettime(CLOCK_REALTIME, &now);
        double age = (double)(now.tv_sec - st.st_ctim.tv_sec) +
                     (double)(now.tv_nsec - st.st_ctim.tv_nsec) / 1e9;
        if (age > (st.st_ctim.tv_nsec == 0 ? 2.2 : 0.3))
            return;
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
}

/* Multiplies close[3] of sym by 1.01 in place, attributes untouched. */
static void s_edit(const char *sym)
{
    char dset[64];
    snprintf(dset, sizeof dset, "/%s/close", sym);
    hid_t file = H5Fopen(s_path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(file, 0);
    hid_t d = H5Dopen2(file, dset, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t at = 3, one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    double v = 0;
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v), 0);
    v *= 1.01;
    cr_assert_geq(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v), 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(file);
}

Test(stamp, unchanged_store_is_hashed_once_and_an_edit_is_still_caught)
{
    s_write(s_path, "AAA", 50);
    s_write(s_path, "BBB", 60);
    s_wait_settled(s_path);
    bt_errbuf_t eb;
    bt_dataset_t *a = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(a, "%s", eb.msg);
    cr_assert_eq(a->hashed, 2, "the first load hashes both symbols");
    bt_dataset_t *b = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(b, "%s", eb.msg);
    cr_assert_eq(b->hashed, 0, "an unchanged file is not hashed again");
    cr_assert_str_eq(a->hash, b->hash);
    bt_dataset_destroy(&b);
    /* an explicit opt-out always hashes */
    setenv("BT_VERIFY_CACHE", "off", 1);
    b = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(b, "%s", eb.msg);
    cr_assert_eq(b->hashed, 2);
    bt_dataset_destroy(&b);
    char v[128];
    snprintf(v, sizeof v, "%s/verified", s_dir);
    setenv("BT_VERIFY_CACHE", v, 1);
    /* edited in place, attributes unchanged, mtime put back: ctime still moves */
    struct stat st;
    cr_assert_eq(stat(s_path, &st), 0);
    s_edit("AAA");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    cr_assert_eq(utimensat(AT_FDCWD, s_path, times, 0), 0);
    b = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_null(b, "an edit after the stamp must be caught");
    cr_assert_eq(eb.code, BT_EDATA);
    cr_assert(strstr(eb.msg, "content_sha256"), "%s", eb.msg);
    bt_dataset_destroy(&a);
}

Test(stamp, a_stamp_covers_only_the_symbols_it_hashed)
{
    s_write(s_path, "AAA", 50);
    s_write(s_path, "BBB", 60);
    s_wait_settled(s_path);
    bt_errbuf_t eb;
    const char *one[] = {"BBB"};
    bt_dataset_t *a = bt_dataset_load(s_path, one, 1, &eb);
    cr_assert_not_null(a, "%s", eb.msg);
    cr_assert_eq(a->hashed, 1);
    bt_dataset_destroy(&a);
    a = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(a, "%s", eb.msg);
    cr_assert_eq(a->hashed, 1, "AAA is hashed, BBB was stamped (hashed %zu)", a->hashed);
    bt_dataset_destroy(&a);
}

/* The bytes of a file (caller frees). */
static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc(*len);
    cr_assert_eq(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

Test(stamp, cut_keeps_the_symbols_and_range_asked_and_is_deterministic)
{
    s_write(s_path, "AAA", 100);
    s_write(s_path, "BBB", 100);
    s_write(s_path, "CCC", 100);
    char c1[160], c2[160];
    snprintf(c1, sizeof c1, "%s/cut1.h5", s_dir);
    snprintf(c2, sizeof c2, "%s/cut2.h5", s_dir);
    int64_t t0 = INT64_C(1577923200) * BT_NS_PER_SEC;
    int64_t from = t0 + 10 * BT_NS_PER_DAY, to = t0 + 19 * BT_NS_PER_DAY; /* days 10..19 */
    const char *syms[] = {"CCC", "AAA"};
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_cut(s_path, c1, syms, 2, from, to, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_store_cut(s_path, c2, syms, 2, from, to, &eb), BT_OK, "%s", eb.msg);
    size_t n1, n2;
    char *b1 = s_slurp(c1, &n1), *b2 = s_slurp(c2, &n2);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(b1, b2, n1), 0, "the same cut twice gives the same bytes");
    free(b1);
    free(b2);
    bt_dataset_t *ds = bt_dataset_load(c1, NULL, 0, &eb);
    cr_assert_not_null(ds, "%s", eb.msg);
    cr_assert_eq(ds->nsym, 2);
    cr_assert_str_eq(ds->series[0].symbol, "AAA");
    cr_assert_str_eq(ds->series[1].symbol, "CCC");
    cr_assert_eq(ds->series[0].n, 10, "days 10..19 inclusive");
    cr_assert_eq(ds->series[0].time[0], from);
    cr_assert_eq(ds->series[0].close[0], 110.0);
    cr_assert_eq(ds->series[0].close[9], 119.0);
    bt_dataset_destroy(&ds);
    /* a range with no bar keeps each symbol, with its first bar */
    cr_assert_eq(bt_store_cut(s_path, c2, NULL, 0, t0 + 500 * BT_NS_PER_DAY, INT64_MAX, &eb),
                 BT_OK, "%s", eb.msg);
    ds = bt_dataset_load(c2, NULL, 0, &eb);
    cr_assert_not_null(ds, "%s", eb.msg);
    cr_assert_eq(ds->nsym, 3);
    cr_assert_eq(ds->series[2].n, 1);
    cr_assert_eq(ds->series[2].time[0], t0);
    bt_dataset_destroy(&ds);
}
