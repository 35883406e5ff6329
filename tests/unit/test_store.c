/* Unit tests for common/data/bt_store: write/load round trip bit for bit (plain and deflate),
 * replace vs EEXIST, slicing without copying, alignment, hashes, corrupt and missing files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_sha256.h"
#include "bt_store.h"
#include "bt_time.h"

static char s_dir[64];
static char s_path[128];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_store_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/s.h5", s_dir);
}

static void s_teardown(void)
{
    unlink(s_path);
    char p[160];
    snprintf(p, sizeof p, "%s/bad.h5", s_dir);
    unlink(p);
    rmdir(s_dir);
}

/* n bars from 2020-01-02, step apart, with awkward doubles (0.1 steps, 1/3) so bit equality
 * matters. */
static bt_bars_t *s_make_step(const char *sym, size_t n, bool adj, int64_t step)
{
    bt_bars_t *b = bt_bars_new(sym, 0);
    int64_t t0 = INT64_C(1577923200) * BT_NS_PER_SEC;
    for (size_t i = 0; i < n; i++) {
        double c = 100.0 + 0.1 * (double)i + 1.0 / 3.0;
        bt_bars_push(b, t0 + (int64_t)i * step, c - 0.05, c + 0.5, c - 0.5, c, 1000.25 + (double)i,
                     adj ? c * 0.97 : NAN);
    }
    return b;
}

static bt_bars_t *s_make(const char *sym, size_t n, bool adj)
{
    return s_make_step(sym, n, adj, BT_NS_PER_DAY);
}

static bt_store_meta_t s_meta(const char *src)
{
    bt_store_meta_t m;
    memset(&m, 0, sizeof m);
    snprintf(m.source, sizeof m.source, "%s", src);
    snprintf(m.sha256, sizeof m.sha256, "%064d", 0);
    return m;
}

static void s_same(const bt_series_t *a, const bt_series_t *b)
{
    cr_assert_eq(a->n, b->n);
    cr_assert_eq(memcmp(a->time, b->time, a->n * 8), 0);
    cr_assert_eq(memcmp(a->open, b->open, a->n * 8), 0);
    cr_assert_eq(memcmp(a->high, b->high, a->n * 8), 0);
    cr_assert_eq(memcmp(a->low, b->low, a->n * 8), 0);
    cr_assert_eq(memcmp(a->close, b->close, a->n * 8), 0);
    cr_assert_eq(memcmp(a->volume, b->volume, a->n * 8), 0);
    cr_assert_eq(a->adj_close == NULL, b->adj_close == NULL);
    if (a->adj_close)
        cr_assert_eq(memcmp(a->adj_close, b->adj_close, a->n * 8), 0);
}

TestSuite(store, .init = s_setup, .fini = s_teardown);

static void s_roundtrip(bool deflate)
{
    /* 300000 one-minute rows: more than one 262144-row chunk */
    bt_bars_t *b = s_make_step("AAA", 300000, true, BT_NS_PER_MIN);
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m = s_meta("a.csv");
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, deflate, &eb), BT_OK, "%s", eb.msg);
    bt_dataset_t *ds = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(ds, "%s", eb.msg);
    cr_assert_eq(ds->nsym, 1);
    cr_assert_str_eq(ds->series[0].symbol, "AAA");
    s_same(&s, &ds->series[0]);
    cr_assert_str_eq(ds->meta[0].source, "a.csv");
    cr_assert_str_eq(ds->meta[0].frequency, "1m");
    const bt_series_t *l = &ds->series[0];
    const void *arrs[] = {l->time, l->open, l->high, l->low, l->close, l->volume, l->adj_close};
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq((uintptr_t)arrs[i] % 64, 0, "array %zu not 64-byte aligned", i);
    bt_store_attrs_t at;
    cr_assert_eq(bt_store_read_attrs(s_path, "AAA", &at, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(at.deflate, deflate);
    cr_assert_eq(at.rows, 300000);
    cr_assert(at.has_adj_close);
    cr_assert_str_eq(at.bt_version, BT_VERSION);
    /* content hash: sha256 of the raw LE arrays in order (x86-64 is little-endian) */
    bt_sha256_t h;
    bt_sha256_init(&h);
    const void *f[] = {s.time, s.open, s.high, s.low, s.close, s.volume};
    for (int i = 0; i < 6; i++)
        bt_sha256_update(&h, f[i], s.n * 8);
    char hex[65];
    bt_sha256_final(&h, hex);
    cr_assert_str_eq(at.content_sha256, hex);
    /* dataset hash: sha256("AAA:" content "\n") */
    char line[80];
    snprintf(line, sizeof line, "AAA:%s\n", hex);
    bt_sha256_init(&h);
    bt_sha256_update(&h, line, strlen(line));
    bt_sha256_final(&h, hex);
    cr_assert_str_eq(ds->hash, hex);
    bt_dataset_destroy(&ds);
    cr_assert_null(ds);
    bt_dataset_destroy(&ds);
    bt_bars_destroy(&b);
}

Test(store, roundtrip_bit_for_bit_uncompressed)
{
    s_roundtrip(false);
}
Test(store, roundtrip_bit_for_bit_deflate)
{
    s_roundtrip(true);
}

Test(store, replace_versus_eexist)
{
    bt_bars_t *a = s_make("SYM", 10, false), *b = s_make("SYM", 20, false);
    bt_series_t sa = bt_bars_view(a), sb = bt_bars_view(b);
    bt_store_meta_t m = s_meta("x");
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_write(s_path, &sa, &m, false, false, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_store_write(s_path, &sb, &m, false, false, &eb), BT_EEXIST);
    cr_assert(strstr(eb.msg, "--replace") != NULL, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "SYM") != NULL, "%s", eb.msg);
    const char *one[] = {"SYM"};
    bt_dataset_t *ds = bt_dataset_load(s_path, one, 1, &eb);
    cr_assert_eq(ds->series[0].n, 10, "the old data is untouched");
    bt_dataset_destroy(&ds);
    cr_assert_eq(bt_store_write(s_path, &sb, &m, true, false, &eb), BT_OK, "%s", eb.msg);
    ds = bt_dataset_load(s_path, one, 1, &eb);
    cr_assert_eq(ds->series[0].n, 20);
    cr_assert_null(ds->series[0].adj_close);
    s_same(&sb, &ds->series[0]);
    bt_dataset_destroy(&ds);
    bt_bars_destroy(&a);
    bt_bars_destroy(&b);
}

Test(store, names_sorted_and_selected_order_and_hash)
{
    const char *syms[] = {"ZED", "ABC", "MID"};
    bt_errbuf_t eb;
    bt_store_meta_t m = s_meta("x");
    for (int i = 0; i < 3; i++) {
        bt_bars_t *b = s_make(syms[i], (size_t)(5 + i), false);
        bt_series_t s = bt_bars_view(b);
        cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_OK, "%s", eb.msg);
        bt_bars_destroy(&b);
    }
    char **names;
    size_t n;
    cr_assert_eq(bt_store_names(s_path, &names, &n, &eb), BT_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "ABC");
    cr_assert_str_eq(names[1], "MID");
    cr_assert_str_eq(names[2], "ZED");
    bt_store_names_free(names, n);
    bt_dataset_t *all = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_eq(all->nsym, 3);
    cr_assert_str_eq(all->series[0].symbol, "ABC");
    cr_assert_str_eq(all->series[2].symbol, "ZED");
    const char *pick[] = {"ZED", "ABC"};
    bt_dataset_t *two = bt_dataset_load(s_path, pick, 2, &eb);
    cr_assert_str_eq(two->series[0].symbol, "ZED", "named symbols keep the caller's order");
    cr_assert_str_neq(two->hash, all->hash);
    bt_dataset_t *again = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_str_eq(again->hash, all->hash, "same data, same hash");
    /* find / pick: sorted (all) by binary search, unsorted (two: ZED, ABC)
     * by the linear fallback; views share the dataset's arrays */
    cr_assert_eq(bt_dataset_find(all, "MID"), 1);
    cr_assert_eq(bt_dataset_find(two, "ABC"), 1);
    cr_assert_eq(bt_dataset_find(two, "MID"), -1);
    const char *want[] = {"MID", "ZED"};
    bt_series_t *v;
    size_t nv;
    cr_assert_eq(bt_dataset_pick(all, want, 2, &v, &nv, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(nv, 2);
    cr_assert_str_eq(v[0].symbol, "MID");
    cr_assert_eq(v[1].close, all->series[2].close, "a view, not a copy");
    free(v);
    cr_assert_eq(bt_dataset_pick(all, NULL, 0, &v, &nv, &eb), BT_OK);
    cr_assert_eq(nv, 3);
    free(v);
    const char *missing[] = {"ABC", "NOPE"};
    cr_assert_eq(bt_dataset_pick(two, missing, 2, &v, &nv, &eb), BT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "NOPE is not in the data store"), "%s", eb.msg);
    bt_dataset_destroy(&all);
    bt_dataset_destroy(&two);
    bt_dataset_destroy(&again);
}

Test(store, slice_time_without_copy)
{
    bt_bars_t *b = s_make("S", 100, false);
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m = s_meta("x");
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_OK);
    bt_dataset_t *ds = bt_dataset_load(s_path, NULL, 0, &eb);
    const bt_series_t *l = &ds->series[0];
    /* bars 10..19 inclusive by time */
    bt_series_t v = bt_series_slice_time(l, l->time[10], l->time[19]);
    cr_assert_eq(v.n, 10);
    cr_assert_eq(v.time, l->time + 10, "a view into the loaded array, not a copy");
    cr_assert_eq(v.close, l->close + 10);
    cr_assert_eq(v.volume, l->volume + 10);
    /* a bound between bars: from the middle of day 10 to the middle of day 12 -> bars 11, 12 */
    v = bt_series_slice_time(l, l->time[10] + 1, l->time[12] + 1);
    cr_assert_eq(v.n, 2);
    cr_assert_eq(v.time, l->time + 11);
    v = bt_series_slice_time(l, INT64_MIN, INT64_MAX);
    cr_assert_eq(v.n, 100);
    bt_dataset_destroy(&ds);
    bt_bars_destroy(&b);
}

Test(store, missing_file_symbol_and_corrupt_file)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_dataset_t *ds = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_null(ds);
    cr_assert_eq(eb.code, BT_ENOTFOUND);
    cr_assert(strstr(eb.msg, s_path) != NULL, "%s", eb.msg);

    bt_bars_t *b = s_make("HAVE", 5, false);
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m = s_meta("x");
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_OK);
    const char *want[] = {"NOPE"};
    ds = bt_dataset_load(s_path, want, 1, &eb);
    cr_assert_null(ds);
    cr_assert_eq(eb.code, BT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "'NOPE'") && strstr(eb.msg, "HAVE") && strstr(eb.msg, s_path),
              "message names the symbol, the path and the symbols present: %s", eb.msg);

    /* garbage bytes in a .h5 file: a clear error, no crash */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.h5", s_dir);
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    ds = bt_dataset_load(bad, NULL, 0, &eb);
    cr_assert_null(ds);
    cr_assert_eq(eb.code, BT_EFORMAT);
    cr_assert(strstr(eb.msg, "not an HDF5 bar store") != NULL, "%s", eb.msg);
    /* writing into a non-HDF5 file refuses instead of clobbering it */
    cr_assert_eq(bt_store_write(bad, &s, &m, false, false, &eb), BT_EFORMAT);

    /* a real store cut short: still an error, no crash */
    FILE *in = fopen(s_path, "rb");
    fseek(in, 0, SEEK_END);
    long len = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *buf = malloc((size_t)len);
    cr_assert_eq(fread(buf, 1, (size_t)len, in), (size_t)len);
    fclose(in);
    f = fopen(bad, "wb");
    fwrite(buf, 1, (size_t)len / 2, f);
    fclose(f);
    free(buf);
    ds = bt_dataset_load(bad, NULL, 0, &eb);
    cr_assert_null(ds, "a truncated store must not load");
    cr_assert(strstr(eb.msg, bad) != NULL, "%s", eb.msg);
    bt_bars_destroy(&b);
}

Test(store, invalid_symbol_and_empty_series)
{
    bt_bars_t *b = s_make("A/B", 3, false);
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m = s_meta("x");
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "A/B") != NULL, "%s", eb.msg);
    bt_bars_destroy(&b);
    b = s_make("E", 0, false);
    s = bt_bars_view(b);
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_EDATA);
    bt_bars_destroy(&b);
}

Test(store, detect_frequency)
{
    int64_t t[8];
    bt_series_t s = {.time = t, .n = 8};
    int64_t steps[] = {BT_NS_PER_MIN, 5 * BT_NS_PER_MIN, BT_NS_PER_HOUR, BT_NS_PER_DAY,
                       7 * BT_NS_PER_DAY};
    const char *want[] = {"1m", "5m", "1h", "1d", "1w"};
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < 8; i++)
            t[i] = i * steps[k];
        t[7] += 3 * steps[k]; /* one gap does not move the median */
        cr_assert_str_eq(bt_store_detect_frequency(&s), want[k]);
    }
    /* daily with weekends: spacings 1,1,1,1,3,1,1 -> median 1 day */
    int64_t d[] = {0, 1, 2, 3, 4, 7, 8, 9};
    for (int i = 0; i < 8; i++)
        t[i] = d[i] * BT_NS_PER_DAY;
    cr_assert_str_eq(bt_store_detect_frequency(&s), "1d");
    /* month ends: 31, 29, 31, 30, 31, 30, 31 days */
    int64_t me[] = {0, 31, 60, 91, 121, 152, 182, 213};
    for (int i = 0; i < 8; i++)
        t[i] = me[i] * BT_NS_PER_DAY;
    cr_assert_str_eq(bt_store_detect_frequency(&s), "1mo");
    for (int i = 0; i < 8; i++)
        t[i] = i * 17 * BT_NS_PER_SEC + i * i;
    cr_assert_str_eq(bt_store_detect_frequency(&s), "irregular");
    cr_assert_eq(bt_store_frequency_ns("5m"), 5 * BT_NS_PER_MIN);
    cr_assert_eq(bt_store_frequency_ns("irregular"), 0);
}

#include <hdf5.h>

Test(store, data_hash_one_formula)
{
    const char *syms[] = {"BBB", "AAA"};
    bt_errbuf_t eb;
    bt_store_meta_t m = s_meta("x");
    char content[2][65];
    for (int i = 0; i < 2; i++) {
        bt_bars_t *b = s_make(syms[i], (size_t)(7 + i), false);
        bt_series_t s = bt_bars_view(b);
        cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_OK, "%s", eb.msg);
        bt_store_content_hash(&s, content[i]);
        bt_bars_destroy(&b);
    }
    /* the formula written out: "AAA:<content>\nBBB:<content>\n" for all (sorted) */
    char line[200], want_all[65], want_pick[65], got[65];
    bt_sha256_t h;
    bt_sha256_init(&h);
    snprintf(line, sizeof line, "AAA:%s\nBBB:%s\n", content[1], content[0]);
    bt_sha256_update(&h, line, strlen(line));
    bt_sha256_final(&h, want_all);
    bt_sha256_init(&h);
    snprintf(line, sizeof line, "BBB:%s\n", content[0]);
    bt_sha256_update(&h, line, strlen(line));
    bt_sha256_final(&h, want_pick);

    cr_assert_eq(bt_store_data_hash(s_path, NULL, 0, got, &eb), BT_OK, "%s", eb.msg);
    cr_assert_str_eq(got, want_all);
    bt_dataset_t *all = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_str_eq(all->hash, want_all, "the loader uses the same formula");
    bt_dataset_destroy(&all);
    const char *pick[] = {"BBB"};
    cr_assert_eq(bt_store_data_hash(s_path, pick, 1, got, &eb), BT_OK);
    cr_assert_str_eq(got, want_pick);

    /* a store written without content_sha256 (older or foreign): the bars are hashed, the same
     * answer as when the attribute is there */
    hid_t f = H5Fopen(s_path, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    cr_assert_geq(H5Adelete_by_name(f, "AAA", "content_sha256", H5P_DEFAULT), 0);
    H5Fclose(f);
    cr_assert_eq(bt_store_data_hash(s_path, NULL, 0, got, &eb), BT_OK, "%s", eb.msg);
    cr_assert_str_eq(got, want_all);
    all = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_str_eq(all->hash, want_all);
    bt_dataset_destroy(&all);

    const char *missing[] = {"AAA", "NOPE"};
    cr_assert_eq(bt_store_data_hash(s_path, missing, 2, got, &eb), BT_ENOTFOUND);
    cr_assert(strstr(eb.msg, "'NOPE' is not in the bar store"), "%s", eb.msg);
    char nofile[160];
    snprintf(nofile, sizeof nofile, "%s/none.h5", s_dir);
    cr_assert_neq(bt_store_data_hash(nofile, NULL, 0, got, &eb), BT_OK);
    cr_assert(strstr(eb.msg, nofile), "%s", eb.msg);
}

Test(store, check_range_names_both_ranges)
{
    /* two symbols: A has bars on 2020-01-02..04, B on 2020-01-10 (dates by hand from D0 =
     * 2020-01-02, 1577923200 s) */
    const int64_t d0 = INT64_C(1577923200) * BT_NS_PER_SEC, day = BT_NS_PER_DAY;
    const int64_t ta[] = {d0, d0 + day, d0 + 2 * day}, tb[] = {d0 + 8 * day};
    const double px[] = {1, 1, 1};
    bt_series_t s[2] = {{.symbol = "A", .n = 3, .time = ta, .open = px, .high = px, .low = px,
                         .close = px, .volume = px},
                        {.symbol = "B", .n = 1, .time = tb, .open = px, .high = px, .low = px,
                         .close = px, .volume = px}};
    bt_errbuf_t eb;
    cr_assert_eq(bt_dataset_check_range(s, 2, INT64_MIN, INT64_MAX, &eb), BT_OK);
    cr_assert_eq(bt_dataset_check_range(s, 2, d0 + day, d0 + day, &eb), BT_OK); /* one bar */
    cr_assert_eq(bt_dataset_check_range(s, 2, d0 + 8 * day, INT64_MAX, &eb), BT_OK); /* B only */
    /* 2020-01-05 .. 2020-01-09 (end stored as its last ns): between A's last and B's first */
    cr_assert_eq(bt_dataset_check_range(s, 2, d0 + 3 * day, d0 + 8 * day - 1, &eb), BT_EDATA);
    cr_assert_str_eq(eb.msg, "no bar between 2020-01-05 and 2020-01-09; the data (2 symbols) "
                             "runs from 2020-01-02 to 2020-01-10: move the dates into that range");
    /* open start, end before the data */
    cr_assert_eq(bt_dataset_check_range(s, 1, INT64_MIN, d0 - 1, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, "between the first bar and 2020-01-01; the data (1 symbol) runs "
                             "from 2020-01-02 to 2020-01-04"),
              "%s", eb.msg);
    /* start after end holds nothing */
    cr_assert_eq(bt_dataset_check_range(s, 2, d0 + day, d0, &eb), BT_EDATA);
    /* no bars at all */
    bt_series_t empty = {.symbol = "E"};
    cr_assert_eq(bt_dataset_check_range(&empty, 1, INT64_MIN, INT64_MAX, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, "holds no bars"), "%s", eb.msg);
}

/* bt_dataset_load_mapped (bt run's zero-copy read): the same bars, hash and metadata as the copy,
 * mapped from an uncompressed store (chunks back to back) and read when deflated; several
 * symbols, with and without adj_close, more than one chunk each. */
static void s_mapped_same(bool deflate)
{
    bt_errbuf_t eb;
    bt_bars_t *b[2] = {s_make_step("AAA", 300000, true, BT_NS_PER_MIN), s_make("BBB", 1000, false)};
    for (int k = 0; k < 2; k++) {
        bt_series_t s = bt_bars_view(b[k]);
        bt_store_meta_t m = s_meta("x.csv");
        cr_assert_eq(bt_store_write(s_path, &s, &m, false, deflate, &eb), BT_OK, "%s", eb.msg);
    }
    bt_dataset_t *c = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    bt_dataset_t *m = bt_dataset_load_mapped(s_path, NULL, 0, &eb);
    cr_assert_not_null(m, "%s", eb.msg);
    cr_assert_eq(m->nsym, 2);
    cr_assert_str_eq(m->hash, c->hash);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_str_eq(m->series[i].symbol, c->series[i].symbol);
        s_same(&c->series[i], &m->series[i]);
        cr_assert_eq((uintptr_t)m->series[i].close % 8, 0);
        cr_assert_str_eq(m->meta[i].frequency, c->meta[i].frequency);
    }
    bt_dataset_destroy(&m);
    cr_assert_null(m);
    bt_dataset_destroy(&c);
    bt_bars_destroy(&b[0]);
    bt_bars_destroy(&b[1]);
}

Test(store, mapped_load_equals_copy_uncompressed)
{
    s_mapped_same(false);
}

Test(store, mapped_load_equals_copy_deflate)
{
    s_mapped_same(true);
}

/* While a mapped load holds the store, a writer (bt data import) cannot open it: the bars a run
 * reads never change under it (HDF5 may reuse the space a --replace frees). Once the dataset is
 * destroyed the same write goes through. */
Test(store, mapped_load_holds_the_store_against_writers)
{
    bt_errbuf_t eb;
    bt_bars_t *b = s_make("AAA", 1000, false);
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m = s_meta("x.csv");
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_OK, "%s", eb.msg);
    bt_dataset_t *d = bt_dataset_load_mapped(s_path, NULL, 0, &eb);
    cr_assert_not_null(d, "%s", eb.msg);
    cr_assert_eq(bt_store_write(s_path, &s, &m, true, false, &eb), BT_EIO);
    cr_assert(strstr(eb.msg, "open in another program"), "%s", eb.msg);
    bt_dataset_destroy(&d);
    cr_assert_eq(bt_store_write(s_path, &s, &m, true, false, &eb), BT_OK, "%s", eb.msg);
    bt_bars_destroy(&b);
}
