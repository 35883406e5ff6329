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

/* n daily bars (minute bars past 10,000) of sym from 2020-01-02, close 100 + i. */
static void s_write(const char *path, const char *sym, size_t n)
{
    bt_bars_t *b = bt_bars_new(sym, 0);
    int64_t t0 = INT64_C(1577923200) * BT_NS_PER_SEC;
    int64_t step = n > 10000 ? 60 * BT_NS_PER_SEC : BT_NS_PER_DAY; /* long ones: minutes */
    for (size_t i = 0; i < n; i++) {
        double c = 100.0 + (double)i;
        bt_bars_push(b, t0 + (int64_t)i * step, c, c + 1, c - 1, c, 1000, NAN);
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

/* Dataset /sym/field of the test store opened read-write; *file gets the file. */
static hid_t s_open_rw(const char *sym, const char *field, hid_t *file)
{
    char dset[64];
    snprintf(dset, sizeof dset, "/%s/%s", sym, field);
    *file = H5Fopen(s_path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(*file, 0);
    hid_t d = H5Dopen2(*file, dset, H5P_DEFAULT);
    cr_assert_geq(d, 0);
    return d;
}

/* Multiplies close[3] of sym by 1.01 in place, attributes untouched. */
static void s_edit(const char *sym)
{
    hid_t file, d = s_open_rw(sym, "close", &file);
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

/* Sets time[row] of sym to time[row - 1] (a repeated bar time) and rewrites
 * content_sha256 to the hash of the bars as they now are: a crafted store
 * whose label matches its bars, so only the time check can catch it. */
static void s_repeat_time(const char *sym, size_t row)
{
    hid_t file, d = s_open_rw(sym, "time", &file);
    hid_t fs = H5Dget_space(d);
    hsize_t at = row - 1, one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    int64_t v = 0;
    cr_assert_geq(H5Dread(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &v), 0);
    at = row;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    cr_assert_geq(H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &v), 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    /* the hash of the bars as they are now: read them back without the checks */
    const char *f[] = {"time", "open", "high", "low", "close", "volume"};
    hsize_t n = 0;
    void *col[6];
    for (int i = 0; i < 6; i++) {
        char p[64];
        snprintf(p, sizeof p, "/%s/%s", sym, f[i]);
        d = H5Dopen2(file, p, H5P_DEFAULT);
        fs = H5Dget_space(d);
        H5Sget_simple_extent_dims(fs, &n, NULL);
        col[i] = malloc(n * 8);
        cr_assert_geq(H5Dread(d, i ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL,
                              H5P_DEFAULT, col[i]),
                      0);
        H5Sclose(fs);
        H5Dclose(d);
    }
    bt_series_t s = {.n = n, .time = col[0], .open = col[1], .high = col[2], .low = col[3],
                     .close = col[4], .volume = col[5]};
    char hex[65];
    bt_store_content_hash(&s, hex);
    for (int i = 0; i < 6; i++)
        free(col[i]);
    hid_t g = H5Gopen2(file, sym, H5P_DEFAULT);
    cr_assert_geq(H5Adelete(g, "content_sha256"), 0);
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, 64);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, "content_sha256", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(a, 0);
    cr_assert_geq(H5Awrite(a, ty, hex), 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(ty);
    H5Gclose(g);
    H5Fclose(file);
}

/* Writes a stamp of the given version for the file st describes: sym verified
 * with content hash hex (the format of bt_store_stamp.c). */
static void s_stamp_file(const char *path, int version, const struct stat *st, const char *sym,
                         const char *hex)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "bt-verified %d %llu %lld %lld.%09ld %lld.%09ld\n%s %s\n", version,
            (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
            st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, sym, hex);
    fclose(f);
}

/* A stamp vouches for the hash and the time order, so a load that trusts it
 * skips both passes; a file without a (valid) stamp gets both, and a crafted
 * store whose content_sha256 matches disordered bars is refused. */
Test(stamp, time_order_is_checked_unless_a_stamp_vouches_for_it)
{
    const size_t n = 3 * 65536 + 10; /* bt_store_check_time reads 65,536 rows at a time */
    s_write(s_path, "AAA", n);
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_check_time(s_path, "AAA", &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_store_check_time(s_path, "ZZZ", &eb), BT_EFORMAT);
    s_wait_settled(s_path);
    bt_dataset_t *a = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(a, "%s", eb.msg);
    cr_assert_eq(a->hashed, 1);
    bt_dataset_destroy(&a);
    /* a repeated time at a chunk's first row (65,536: compared with the
     * previous chunk's last), then inside a chunk */
    size_t rows[] = {65536, 2 * 65536 + 7};
    for (size_t k = 0; k < 2; k++) {
        cr_assert_eq(unlink(s_path), 0);
        s_write(s_path, "AAA", n);
        s_repeat_time("AAA", rows[k]);
        char want[64];
        snprintf(want, sizeof want, "not strictly increasing at row %zu", rows[k]);
        cr_assert_eq(bt_store_check_time(s_path, "AAA", &eb), BT_EDATA);
        cr_assert(strstr(eb.msg, want), "%s", eb.msg);
        a = bt_dataset_load(s_path, NULL, 0, &eb);
        cr_assert_null(a, "a crafted store with a matching content_sha256 must be refused");
        cr_assert_eq(eb.code, BT_EDATA);
        cr_assert(strstr(eb.msg, want), "%s", eb.msg);
    }
    /* a version-1 stamp (written before stamps vouched for the time order)
     * for this very file and hash is ignored: the time is checked */
    s_wait_settled(s_path);
    struct stat st;
    cr_assert_eq(stat(s_path, &st), 0);
    bt_store_attrs_t at;
    cr_assert_eq(bt_store_read_attrs(s_path, "AAA", &at, &eb), BT_OK, "%s", eb.msg);
    char sp[256];
    snprintf(sp, sizeof sp, "%s/verified", s_dir);
    mkdir(sp, 0700);
    snprintf(sp, sizeof sp, "%s/verified/%llx-%llx", s_dir, (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    s_stamp_file(sp, 1, &st, "AAA", at.content_sha256);
    a = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_null(a, "an old stamp must not vouch for the time order");
    cr_assert(strstr(eb.msg, "not strictly increasing"), "%s", eb.msg);
    /* the same line as version 2 is believed (what the stamp means now) */
    s_stamp_file(sp, 2, &st, "AAA", at.content_sha256);
    a = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(a, "a version-2 stamp vouches: %s", eb.msg);
    cr_assert_eq(a->hashed, 0);
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
