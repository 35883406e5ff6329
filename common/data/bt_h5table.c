/* bt_h5table — records as an HDF5 group of columns. See bt_h5table.h. */
#include "bt_h5table.h"

#include <assert.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The records seen as one column of 8-byte slots: a strided selection. */
static hid_t s_memspace(size_t n, size_t row_size, size_t offset)
{
    hsize_t all = (hsize_t)(n ? n : 1) * (row_size / 8);
    hid_t m = H5Screate_simple(1, &all, NULL);
    hsize_t start = offset / 8, stride = row_size / 8, count = n, block = 1;
    if (m >= 0 && n)
        H5Sselect_hyperslab(m, H5S_SELECT_SET, &start, &stride, &count, &block);
    else if (m >= 0)
        H5Sselect_none(m);
    return m;
}

bt_err_t bt_h5table_write(const char *path, const char *group, const void *rows, size_t n,
                          size_t row_size, const bt_h5col_t *cols, size_t ncols,
                          bt_errbuf_t *eb)
{
    assert(row_size % 8 == 0);
    char tmp[4096];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (w < 0 || (size_t)w >= sizeof tmp)
        return bt_errf(eb, BT_ELIMIT, "path too long: %s", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return bt_errf(eb, BT_EIO, "cannot create %s (is the folder writable?)", tmp);
    hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = g >= 0;
    hsize_t dim = n;
    for (size_t c = 0; ok && c < ncols; c++) {
        assert(cols[c].offset % 8 == 0 && cols[c].offset + 8 <= row_size);
        hid_t type = cols[c].is_i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
        hid_t ftype = cols[c].is_i64 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
        hid_t fs = H5Screate_simple(1, &dim, NULL);
        hid_t ms = s_memspace(n, row_size, cols[c].offset);
        hid_t d = fs >= 0 ? H5Dcreate2(g, cols[c].name, ftype, fs, H5P_DEFAULT, H5P_DEFAULT,
                                       H5P_DEFAULT)
                          : -1;
        ok = d >= 0 && ms >= 0 &&
             (n == 0 || H5Dwrite(d, type, ms, fs, H5P_DEFAULT, rows) >= 0);
        if (ok && cols[c].unit) {
            hid_t st = H5Tcopy(H5T_C_S1);
            H5Tset_size(st, strlen(cols[c].unit) + 1);
            hid_t as = H5Screate(H5S_SCALAR);
            hid_t a = H5Acreate2(d, "units", st, as, H5P_DEFAULT, H5P_DEFAULT);
            ok = a >= 0 && H5Awrite(a, st, cols[c].unit) >= 0;
            if (a >= 0)
                H5Aclose(a);
            H5Sclose(as);
            H5Tclose(st);
        }
        if (d >= 0)
            H5Dclose(d);
        if (ms >= 0)
            H5Sclose(ms);
        if (fs >= 0)
            H5Sclose(fs);
    }
    if (g >= 0)
        H5Gclose(g);
    ok = H5Fclose(f) >= 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return bt_errf(eb, BT_EIO, "writing %s failed (is the disk full?)", path);
    }
    return BT_OK;
}

bt_err_t bt_h5table_read(const char *path, const char *group, void **rows, size_t *n,
                         size_t row_size, const bt_h5col_t *cols, size_t ncols, size_t max_rows,
                         bt_errbuf_t *eb)
{
    assert(row_size % 8 == 0);
    *rows = NULL;
    *n = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return bt_errf(eb, BT_EIO, "cannot open %s as HDF5", path);
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    bt_err_t e = g >= 0 ? BT_OK : bt_errf(eb, BT_EFORMAT, "%s: no group /%s", path, group);
    size_t rowsn = SIZE_MAX;
    char *buf = NULL;
    for (size_t c = 0; e == BT_OK && c < ncols; c++) {
        if (H5Lexists(g, cols[c].name, H5P_DEFAULT) <= 0)
            continue;
        hid_t d = H5Dopen2(g, cols[c].name, H5P_DEFAULT);
        hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t dim = 0;
        if (fs < 0 || H5Sget_simple_extent_ndims(fs) != 1 ||
            H5Sget_simple_extent_dims(fs, &dim, NULL) != 1)
            e = bt_errf(eb, BT_EFORMAT, "%s: /%s/%s is not a 1-D dataset", path, group,
                        cols[c].name);
        else if (dim > max_rows)
            e = bt_errf(eb, BT_ELIMIT, "%s: /%s has %llu rows, more than the cap %zu", path,
                        group, (unsigned long long)dim, max_rows);
        else if (rowsn != SIZE_MAX && dim != rowsn)
            e = bt_errf(eb, BT_EFORMAT, "%s: /%s/%s has %llu rows, the other columns %zu", path,
                        group, cols[c].name, (unsigned long long)dim, rowsn);
        if (e == BT_OK && !buf) {
            rowsn = (size_t)dim;
            buf = calloc(rowsn ? rowsn : 1, row_size);
            if (!buf)
                e = bt_errf(eb, BT_ENOMEM, "out of memory reading %s", path);
        }
        if (e == BT_OK && rowsn) {
            hid_t ms = s_memspace(rowsn, row_size, cols[c].offset);
            hid_t type = cols[c].is_i64 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
            if (ms < 0 || H5Dread(d, type, ms, fs, H5P_DEFAULT, buf) < 0)
                e = bt_errf(eb, BT_EIO, "%s: cannot read /%s/%s", path, group, cols[c].name);
            if (ms >= 0)
                H5Sclose(ms);
        }
        if (fs >= 0)
            H5Sclose(fs);
        if (d >= 0)
            H5Dclose(d);
    }
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
    if (e == BT_OK && !buf)
        e = bt_errf(eb, BT_EFORMAT, "%s: /%s holds none of the expected columns", path, group);
    if (e != BT_OK) {
        free(buf);
        return e;
    }
    *rows = buf;
    *n = rowsn;
    return BT_OK;
}
