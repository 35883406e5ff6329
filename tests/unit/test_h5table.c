/* Unit tests for bt_h5table: a table written in appends of every kind (whole chunks, a partial
 * last one, appends that start inside a chunk) reads back bit for bit, through this module and
 * through HDF5's own reader, and its chunks are deflated where they repeat. */
#include <criterion/criterion.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_h5table.h"

static char s_dir[64];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_h5table_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

enum { S_ROWS = 1000, S_CHUNK = 100 };

/* Column 0 piecewise constant (compresses), 1 different every row (does not), 2 with NaN and
 * -0.0 (bits, not values, must come back). */
static double s_val(size_t c, size_t r)
{
    if (c == 0)
        return (double)(r / 150) * 1.5;
    if (c == 1)
        return sin((double)r) * 1e6 + (double)r / 7.0;
    return r % 5 == 0 ? NAN : r % 5 == 1 ? -0.0 : (double)r;
}

TestSuite(h5table, .init = s_setup, .fini = s_teardown);

Test(h5table, appends_of_any_shape_read_back_bit_for_bit)
{
    char path[128];
    snprintf(path, sizeof path, "%s/t.h5", s_dir);
    const char *names[3] = {"steps", "noise", "odd"};
    bt_errbuf_t eb;
    bt_h5table_out_t *t = bt_h5table_open(path, "equity", names, 3, S_CHUNK, &eb);
    cr_assert_not_null(t, "%s", eb.msg);
    int64_t *time = malloc(S_ROWS * sizeof *time);
    double *col[3];
    for (size_t c = 0; c < 3; c++) {
        col[c] = malloc(S_ROWS * sizeof *col[c]);
        for (size_t r = 0; r < S_ROWS; r++)
            col[c][r] = s_val(c, r);
    }
    for (size_t r = 0; r < S_ROWS; r++)
        time[r] = (int64_t)r * 60000000000;
    /* 250 (two whole chunks and half of one), 30 from inside a chunk (HDF5 merges it), 20 (ends
     * on a chunk's edge), 700 (whole chunks from an edge) */
    size_t cuts[] = {0, 250, 280, 300, S_ROWS};
    for (size_t k = 0; k + 1 < sizeof cuts / sizeof *cuts; k++) {
        size_t a = cuts[k], len = cuts[k + 1] - a;
        const double *part[3] = {col[0] + a, col[1] + a, col[2] + a};
        cr_assert_eq(bt_h5table_append(t, time + a, part, len, &eb), BT_OK, "%s", eb.msg);
    }
    cr_assert_eq(bt_h5table_commit(&t, &eb), BT_OK, "%s", eb.msg);

    int64_t *bt = NULL;
    double *bv = NULL;
    size_t n = 0;
    cr_assert_eq(bt_h5table_read(path, "equity", names, 3, S_ROWS, &bt, &bv, &n, &eb), BT_OK,
                 "%s", eb.msg);
    cr_assert_eq(n, S_ROWS);
    cr_assert_eq(memcmp(bt, time, S_ROWS * sizeof *time), 0);
    for (size_t c = 0; c < 3; c++)
        cr_assert_eq(memcmp(bv + c * S_ROWS, col[c], S_ROWS * sizeof(double)), 0, "column %zu",
                     c);

    /* HDF5's own view: the deflate filter declared, the repeating column's chunks stored in far
     * fewer bytes than the noisy one's */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/equity/block0_values", H5P_DEFAULT);
    cr_assert(f >= 0 && d >= 0);
    hid_t dcpl = H5Dget_create_plist(d);
    cr_assert_eq(H5Pget_nfilters(dcpl), 1);
    unsigned flags = 0, conf = 0;
    size_t nelem = 1;
    unsigned cd[1];
    cr_assert_eq(H5Pget_filter2(dcpl, 0, &flags, &nelem, cd, 0, NULL, &conf), H5Z_FILTER_DEFLATE);
    hsize_t bytes[2] = {0, 0};
    for (hsize_t c = 0; c < 2; c++)
        for (hsize_t r = 0; r < S_ROWS; r += S_CHUNK) {
            hsize_t off[2] = {c, r}, size = 0;
            unsigned mask = 9;
            haddr_t addr;
            cr_assert(H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0);
            bytes[c] += size;
        }
    cr_assert_lt(bytes[0] * 4, bytes[1], "steps %llu bytes, noise %llu",
                 (unsigned long long)bytes[0], (unsigned long long)bytes[1]);
    cr_assert_leq(bytes[1], (hsize_t)S_ROWS * 8 + 64); /* noise: stored, never grown */
    double *all = malloc(3 * S_ROWS * sizeof *all);
    cr_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) >= 0);
    for (size_t c = 0; c < 3; c++)
        cr_assert_eq(memcmp(all + c * S_ROWS, col[c], S_ROWS * sizeof(double)), 0);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(f);

    /* a block at a time (bt report's way): blocks of 37 rows, across chunk edges, and a column
     * the file lacks reads as 0 */
    const char *some[3] = {"odd", "absent", "steps"};
    size_t nr = 0;
    bt_h5table_in_t *in = bt_h5table_in_open(path, "equity", some, 3, S_ROWS, &nr, &eb);
    cr_assert_not_null(in, "%s", eb.msg);
    cr_assert_eq(nr, S_ROWS);
    for (size_t r0 = 0; r0 < S_ROWS; r0 += 37) {
        size_t len = S_ROWS - r0 < 37 ? S_ROWS - r0 : 37;
        int64_t tb[37];
        double b0[37], b1[37], b2[37];
        double *const bc[3] = {b0, b1, b2};
        cr_assert_eq(bt_h5table_in_read(in, r0, len, tb, bc, &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(memcmp(tb, time + r0, len * sizeof *tb), 0);
        cr_assert_eq(memcmp(b0, col[2] + r0, len * sizeof *b0), 0, "rows from %zu", r0);
        cr_assert_eq(memcmp(b2, col[0] + r0, len * sizeof *b2), 0, "rows from %zu", r0);
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(b1[i], 0.0);
    }
    bt_h5table_in_close(&in);
    cr_assert_null(in);
    cr_assert_null(bt_h5table_in_open(path, "nope", some, 3, S_ROWS, &nr, &eb));
    cr_assert_eq(eb.code, BT_EFORMAT);
    cr_assert_null(bt_h5table_in_open(path, "equity", some, 3, S_ROWS - 1, &nr, &eb));
    cr_assert_eq(eb.code, BT_ELIMIT);

    /* a damaged deflated chunk (the repeating column's first) is an error naming the file and
     * the rows, never wrong numbers */
    hsize_t zoff[2] = {0, 0}, zsize = 0;
    haddr_t zaddr = 0;
    unsigned zmask = 9;
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    d = H5Dopen2(f, "/equity/block0_values", H5P_DEFAULT);
    cr_assert(H5Dget_chunk_info_by_coord(d, zoff, &zmask, &zaddr, &zsize) >= 0);
    cr_assert_eq(zmask, 0, "the chunk is deflated");
    H5Dclose(d);
    H5Fclose(f);
    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    unsigned char junk[6] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02};
    cr_assert_eq(fseek(fp, (long)(zaddr + zsize / 2), SEEK_SET), 0);
    cr_assert_eq(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    fclose(fp);
    in = bt_h5table_in_open(path, "equity", some, 3, S_ROWS, &nr, &eb);
    cr_assert_not_null(in, "%s", eb.msg);
    int64_t tb[S_CHUNK];
    double b0[S_CHUNK], b1[S_CHUNK], b2[S_CHUNK];
    double *const bc[3] = {b0, b1, b2};
    cr_assert_eq(bt_h5table_in_read(in, 0, S_CHUNK, tb, bc, &eb), BT_EIO);
    cr_assert(strstr(eb.msg, path) && strstr(eb.msg, "rows 0..100"), "%s", eb.msg);
    bt_h5table_in_close(&in);
    free(all);
    free(bt);
    free(bv);
    free(time);
    for (size_t c = 0; c < 3; c++)
        free(col[c]);
}
