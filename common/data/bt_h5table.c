/* bt_h5table — a table as a pandas "fixed" frame in HDF5. See bt_h5table.h. */
#include "bt_h5table.h"

#include <assert.h>
#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_fs.h"
#include "bt_runz.h"

#define S_NAME_MAX 256

static bool s_attr_str(hid_t obj, const char *name, const char *val)
{
    hid_t st = H5Tcopy(H5T_C_S1);
    /* UTF-8 and no NUL stored: PyTables then gives pandas the str it compares */
    H5Tset_size(st, strlen(val) ? strlen(val) : 1);
    H5Tset_strpad(st, H5T_STR_NULLPAD);
    H5Tset_cset(st, H5T_CSET_UTF8);
    hid_t as = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, st, as, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = a >= 0 && H5Awrite(a, st, val) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(as);
    H5Tclose(st);
    return ok;
}

static bool s_attr_i64(hid_t obj, const char *name, int64_t val)
{
    hid_t as = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, as, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &val) >= 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(as);
    return ok;
}

/* The column names as a 1-D fixed-length string dataset (pandas: kind "string"). */
static bool s_names(hid_t g, const char *dname, const char *const *names, size_t n)
{
    size_t w = 1;
    for (size_t i = 0; i < n; i++)
        w = strlen(names[i]) + 1 > w ? strlen(names[i]) + 1 : w;
    char *buf = calloc(n ? n : 1, w);
    if (!buf)
        return false;
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * w, names[i], strlen(names[i]));
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, w);
    hsize_t dim = n;
    hid_t fs = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(g, dname, st, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = d >= 0 && (n == 0 || H5Dwrite(d, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) &&
              s_attr_str(d, "kind", "string");
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(fs);
    H5Tclose(st);
    free(buf);
    return ok;
}

struct bt_h5table_out {
    char path[4096], tmp[4096];
    hid_t f, g, ax, v;  /* file, group, axis1, block0_values (-1 when no columns) */
    size_t ncols;
    uint64_t nrows;     /* rows written */
    size_t chunk;       /* rows a chunk */
    bool z;             /* chunks deflated (HDF5's deflate filter, written by bt_runz) */
    unsigned char *zbuf; /* a chunk's stream (bt_runz_bound of a chunk) */
    unsigned char *pad;  /* a last, partial chunk filled up to a whole one */
};

/* The group with the attributes pandas.io.pytables reads for a "frame" (FrameFixed) and the
 * column names. */
static hid_t s_group(hid_t f, const char *key, const char *const *names, size_t ncols)
{
    hid_t g = H5Gcreate2(f, key, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    bool ok = s_attr_str(g, "pandas_type", "frame") && s_attr_str(g, "pandas_version", "0.15.2") &&
              s_attr_str(g, "encoding", "UTF-8") && s_attr_str(g, "errors", "strict") &&
              s_attr_i64(g, "ndim", 2) && s_attr_i64(g, "nblocks", ncols ? 1 : 0) &&
              s_attr_str(g, "axis0_variety", "regular") &&
              s_attr_str(g, "axis1_variety", "regular") && s_names(g, "axis0", names, ncols);
    if (ok && ncols)
        ok = s_attr_str(g, "block0_items_variety", "regular") &&
             s_names(g, "block0_items", names, ncols);
    if (!ok) {
        H5Gclose(g);
        return -1;
    }
    return g;
}

/* A chunked dataset of rank 1 (rows) or 2 (ncols x rows) with no rows yet, growable in rows,
 * deflated when z. No chunk cache: whole chunks go straight to the file. */
static hid_t s_growable(hid_t g, const char *name, hid_t type, int rank, size_t ncols,
                        size_t chunk, bool z)
{
    hsize_t dims[2] = {ncols, 0}, maxd[2] = {ncols, H5S_UNLIMITED}, ch[2] = {1, chunk};
    if (rank == 1) {
        dims[0] = 0;
        maxd[0] = H5S_UNLIMITED;
        ch[0] = chunk;
    }
    hid_t sp = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), dapl = H5Pcreate(H5P_DATASET_ACCESS);
    hid_t d = -1;
    if (sp >= 0 && dcpl >= 0 && dapl >= 0 && H5Pset_chunk(dcpl, rank, ch) >= 0 &&
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
        H5Pset_chunk_cache(dapl, 0, 0, 1.0) >= 0 && (!z || H5Pset_deflate(dcpl, 1) >= 0))
        d = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, dcpl, dapl);
    if (dapl >= 0)
        H5Pclose(dapl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    return d;
}

bt_h5table_out_t *bt_h5table_open(const char *path, const char *key, const char *const *names,
                                  size_t ncols, size_t chunk_rows, bt_errbuf_t *eb)
{
    for (size_t c = 0; c < ncols; c++)
        if (strlen(names[c]) >= S_NAME_MAX) {
            bt_errf(eb, BT_ELIMIT, "%s: column name longer than %d bytes: %.40s...", path,
                    S_NAME_MAX - 1, names[c]);
            return NULL;
        }
    bt_h5table_out_t *t = calloc(1, sizeof *t);
    if (!t) {
        bt_errf(eb, BT_ENOMEM, "out of memory writing %s", path);
        return NULL;
    }
    t->f = t->g = t->ax = t->v = -1;
    t->ncols = ncols;
    int w1 = snprintf(t->path, sizeof t->path, "%s", path);
    int w2 = snprintf(t->tmp, sizeof t->tmp, "%s.tmp", path);
    if (w1 < 0 || w2 < 0 || (size_t)w2 >= sizeof t->tmp) {
        free(t);
        bt_errf(eb, BT_ELIMIT, "path too long: %s", path);
        return NULL;
    }
    if (chunk_rows == 0)
        chunk_rows = 1;
    t->chunk = chunk_rows;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* deflate where this HDF5 has it (Debian's does); the chunks come from bt_runz, whose bytes
     * go to the file as they are: only where the program's numbers are the file's
     * (little-endian) ones */
    t->z = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0 &&
           H5Tequal(H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE) > 0 &&
           H5Tequal(H5T_NATIVE_INT64, H5T_STD_I64LE) > 0;
    if (t->z) {
        t->zbuf = malloc(bt_runz_bound(chunk_rows * 8));
        t->pad = calloc(chunk_rows, 8);
        if (!t->zbuf || !t->pad) {
            free(t->zbuf);
            free(t->pad);
            free(t);
            bt_errf(eb, BT_ENOMEM, "out of memory writing %s", path);
            return NULL;
        }
    }
    t->f = H5Fcreate(t->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (t->f < 0) {
        bt_errf(eb, BT_EIO, "cannot create %s (is the folder writable?)", t->tmp);
        free(t->zbuf);
        free(t->pad);
        free(t);
        return NULL;
    }
    bt_fs_tmp_track(t->tmp);
    t->g = s_group(t->f, key, names, ncols);
    bool ok = t->g >= 0;
    if (ok)
        t->ax = s_growable(t->g, "axis1", H5T_STD_I64LE, 1, 0, chunk_rows, t->z);
    ok = ok && t->ax >= 0 && s_attr_str(t->ax, "kind", "datetime64") &&
         s_attr_str(t->ax, "index_class", "datetime") && s_attr_str(t->ax, "tz", "UTC") &&
         s_attr_str(t->ax, "units", "ns since 1970-01-01 UTC");
    if (ok && ncols) {
        t->v = s_growable(t->g, "block0_values", H5T_IEEE_F64LE, 2, ncols, chunk_rows, t->z);
        ok = t->v >= 0;
    }
    if (!ok) {
        bt_errf(eb, BT_EIO, "writing %s failed (is the disk full?)", path);
        bt_h5table_abort(&t);
    }
    return t;
}

/* Writes len values from buf at rows [r0, r0 + len) of row c (rank 2) or of a rank-1 d. */
static bool s_put(hid_t d, int rank, size_t c, uint64_t r0, size_t len, hid_t type,
                  const void *buf)
{
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {c, r0}, count[2] = {1, len}, mdim = len;
    if (rank == 1) {
        start[0] = r0;
        count[0] = len;
    }
    hid_t ms = H5Screate_simple(1, &mdim, NULL);
    bool ok = fs >= 0 && ms >= 0 &&
              H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
              H5Dwrite(d, type, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return ok;
}

/* Writes rows [r0, r0 + len) of buf (len <= a chunk, r0 on a chunk's start) as the chunk at r0
 * of row c (rank 2) or of a rank-1 d, deflated by bt_runz; a last, partial chunk is filled up
 * with zeros. A chunk that would not shrink is stored as it is, its filter skipped (mask 1). */
static bool s_put_chunk(bt_h5table_out_t *t, hid_t d, int rank, size_t c, uint64_t r0,
                        size_t len, const void *buf)
{
    size_t bytes = t->chunk * 8;
    if (len < t->chunk) {
        memcpy(t->pad, buf, len * 8);
        memset(t->pad + len * 8, 0, bytes - len * 8);
        buf = t->pad;
    }
    size_t zlen = bt_runz_encode(buf, bytes, t->zbuf);
    hsize_t off[2] = {c, r0};
    if (rank == 1)
        off[0] = r0;
    if (zlen < bytes)
        return H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, zlen, t->zbuf) >= 0;
    return H5Dwrite_chunk(d, H5P_DEFAULT, 1, off, bytes, buf) >= 0;
}

/* Rows [r0, r0 + len) of one column: whole chunks straight to the file when r0 starts one, else
 * through HDF5 (which reads, merges and deflates the chunk itself). */
static bool s_put_rows(bt_h5table_out_t *t, hid_t d, int rank, size_t c, uint64_t r0, size_t len,
                       hid_t type, const void *buf)
{
    if (!t->z || r0 % t->chunk != 0)
        return s_put(d, rank, c, r0, len, type, buf);
    bool ok = true;
    for (size_t i = 0; ok && i < len; i += t->chunk)
        ok = s_put_chunk(t, d, rank, c, r0 + i, len - i < t->chunk ? len - i : t->chunk,
                         (const unsigned char *)buf + i * 8);
    return ok;
}

bt_err_t bt_h5table_append(bt_h5table_out_t *t, const int64_t *time, const double *const *cols,
                           size_t len, bt_errbuf_t *eb)
{
    assert(t && t->f >= 0);
    if (len == 0)
        return BT_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* per thread: appends come from bt run's writer thread */
    hsize_t n = t->nrows + len, d2[2] = {t->ncols, n};
    bool ok = H5Dset_extent(t->ax, &n) >= 0 &&
              s_put_rows(t, t->ax, 1, 0, t->nrows, len, H5T_NATIVE_INT64, time);
    if (ok && t->ncols) {
        ok = H5Dset_extent(t->v, d2) >= 0;
        for (size_t c = 0; ok && c < t->ncols; c++)
            ok = s_put_rows(t, t->v, 2, c, t->nrows, len, H5T_NATIVE_DOUBLE, cols[c]);
    }
    if (!ok)
        return bt_errf(eb, BT_EIO, "writing %s failed (is the disk full?)", t->path);
    t->nrows = n;
    return BT_OK;
}

/* Closes every handle; true if all closed. */
static bool s_out_close(bt_h5table_out_t *t)
{
    bool ok = true;
    if (t->v >= 0)
        ok = H5Dclose(t->v) >= 0 && ok;
    if (t->ax >= 0)
        ok = H5Dclose(t->ax) >= 0 && ok;
    if (t->g >= 0)
        ok = H5Gclose(t->g) >= 0 && ok;
    if (t->f >= 0)
        ok = H5Fclose(t->f) >= 0 && ok;
    t->v = t->ax = t->g = t->f = -1;
    return ok;
}

bt_err_t bt_h5table_commit(bt_h5table_out_t **self_p, bt_errbuf_t *eb)
{
    bt_h5table_out_t *t = *self_p;
    *self_p = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    bool ok = s_out_close(t);
    bt_err_t e = BT_OK;
    if (!ok || rename(t->tmp, t->path) != 0) {
        remove(t->tmp);
        e = bt_errf(eb, BT_EIO, "writing %s failed (is the disk full?)", t->path);
    }
    bt_fs_tmp_untrack(t->tmp);
    free(t->zbuf);
    free(t->pad);
    free(t);
    return e;
}

void bt_h5table_abort(bt_h5table_out_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_h5table_out_t *t = *self_p;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    s_out_close(t);
    remove(t->tmp);
    bt_fs_tmp_untrack(t->tmp);
    free(t->zbuf);
    free(t->pad);
    free(t);
    *self_p = NULL;
}

/* Reads a 1-D string dataset of at most cap names into names[] (each S_NAME_MAX bytes). */
static bool s_read_names(hid_t g, const char *dname, char (*names)[S_NAME_MAX], size_t cap,
                         size_t *n)
{
    hid_t d = H5Dopen2(g, dname, H5P_DEFAULT);
    if (d < 0)
        return false;
    hid_t fs = H5Dget_space(d), ft = H5Dget_type(d);
    hsize_t dim = 0;
    bool ok = fs >= 0 && ft >= 0 && H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft) &&
              H5Sget_simple_extent_ndims(fs) == 1 &&
              H5Sget_simple_extent_dims(fs, &dim, NULL) == 1 && dim <= cap;
    if (ok && dim) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, S_NAME_MAX);
        ok = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) >= 0;
        H5Tclose(mt);
        for (size_t i = 0; ok && i < dim; i++)
            names[i][S_NAME_MAX - 1] = '\0';
    }
    *n = ok ? (size_t)dim : 0;
    if (ft >= 0)
        H5Tclose(ft);
    if (fs >= 0)
        H5Sclose(fs);
    H5Dclose(d);
    return ok;
}

struct bt_h5table_in {
    char path[4096];       /* for messages */
    hid_t f, g, ax, v, vs; /* file, group, axis1, block0_values and its space (-1: none) */
    size_t ncols;
    size_t *col;           /* per asked column: its row in block0_values, SIZE_MAX if absent */
    uint64_t nrows;
};

void bt_h5table_in_close(bt_h5table_in_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_h5table_in_t *t = *self_p;
    if (t->vs >= 0)
        H5Sclose(t->vs);
    if (t->v >= 0)
        H5Dclose(t->v);
    if (t->ax >= 0)
        H5Dclose(t->ax);
    if (t->g >= 0)
        H5Gclose(t->g);
    if (t->f >= 0)
        H5Fclose(t->f);
    free(t->col);
    free(t);
    *self_p = NULL;
}

bt_h5table_in_t *bt_h5table_in_open(const char *path, const char *key, const char *const *names,
                                    size_t ncols, size_t max_rows, size_t *nrows,
                                    bt_errbuf_t *eb)
{
    enum { S_MAX_COLS = 4096 };
    *nrows = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    bt_h5table_in_t *t = calloc(1, sizeof *t);
    char(*have)[S_NAME_MAX] = malloc(S_MAX_COLS * sizeof *have);
    if (!t || !have || !(t->col = malloc((ncols ? ncols : 1) * sizeof *t->col))) {
        free(have);
        if (t)
            free(t->col);
        free(t);
        bt_errf(eb, BT_ENOMEM, "out of memory reading %s", path);
        return NULL;
    }
    t->f = t->g = t->ax = t->v = t->vs = -1;
    t->ncols = ncols;
    snprintf(t->path, sizeof t->path, "%s", path);
    bt_err_t e = BT_OK;
    if ((t->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        e = bt_errf(eb, BT_EIO, "cannot open %s as HDF5", path);
    else if ((t->g = H5Gopen2(t->f, key, H5P_DEFAULT)) < 0)
        e = bt_errf(eb, BT_EFORMAT, "%s: no group /%s", path, key);
    hsize_t rows = 0, vdim[2] = {0, 0};
    size_t nhave = 0;
    if (e == BT_OK) {
        t->ax = H5Dopen2(t->g, "axis1", H5P_DEFAULT);
        hid_t fs = t->ax >= 0 ? H5Dget_space(t->ax) : -1;
        if (fs < 0 || H5Sget_simple_extent_ndims(fs) != 1 ||
            H5Sget_simple_extent_dims(fs, &rows, NULL) != 1)
            e = bt_errf(eb, BT_EFORMAT, "%s: /%s/axis1 (the time index) is missing or not 1-D",
                        path, key);
        else if (rows > max_rows)
            e = bt_errf(eb, BT_ELIMIT, "%s: /%s has %llu rows, more than the cap %zu", path, key,
                        (unsigned long long)rows, max_rows);
        if (fs >= 0)
            H5Sclose(fs);
    }
    if (e == BT_OK && !s_read_names(t->g, "block0_items", have, S_MAX_COLS, &nhave))
        e = bt_errf(eb, BT_EFORMAT, "%s: /%s/block0_items is missing or not a list of names",
                    path, key);
    if (e == BT_OK) {
        t->v = H5Dopen2(t->g, "block0_values", H5P_DEFAULT);
        t->vs = t->v >= 0 ? H5Dget_space(t->v) : -1;
        if (t->vs < 0 || H5Sget_simple_extent_ndims(t->vs) != 2 ||
            H5Sget_simple_extent_dims(t->vs, vdim, NULL) != 2 || vdim[0] != nhave ||
            vdim[1] != rows)
            e = bt_errf(eb, BT_EFORMAT, "%s: /%s/block0_values is not %zu columns x %llu rows",
                        path, key, nhave, (unsigned long long)rows);
    }
    for (size_t c = 0; e == BT_OK && c < ncols; c++) {
        size_t k = 0;
        while (k < nhave && strcmp(have[k], names[c]) != 0)
            k++;
        t->col[c] = k < nhave ? k : SIZE_MAX;
    }
    free(have);
    if (e != BT_OK) {
        bt_h5table_in_close(&t);
        return NULL;
    }
    t->nrows = rows;
    *nrows = (size_t)rows;
    return t;
}

bt_err_t bt_h5table_in_read(bt_h5table_in_t *t, size_t r0, size_t len, int64_t *time,
                            double *const *cols, bt_errbuf_t *eb)
{
    assert(r0 <= t->nrows && len <= t->nrows - r0);
    if (len == 0)
        return BT_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hsize_t mdim = len, start1 = r0, count1 = len;
    hid_t ms = H5Screate_simple(1, &mdim, NULL), fs = H5Dget_space(t->ax);
    bool ok = ms >= 0 && fs >= 0 &&
              H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start1, NULL, &count1, NULL) >= 0 &&
              H5Dread(t->ax, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, time) >= 0;
    const char *what = "the time index";
    for (size_t c = 0; ok && c < t->ncols; c++) {
        if (t->col[c] == SIZE_MAX) { /* not in the file: 0 */
            memset(cols[c], 0, len * sizeof *cols[c]);
            continue;
        }
        hsize_t start[2] = {t->col[c], r0}, count[2] = {1, len};
        ok = H5Sselect_hyperslab(t->vs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dread(t->v, H5T_NATIVE_DOUBLE, ms, t->vs, H5P_DEFAULT, cols[c]) >= 0;
        what = "a column";
    }
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    return ok ? BT_OK
              : bt_errf(eb, BT_EIO, "%s: cannot read %s of rows %zu..%zu (is the file damaged?)",
                        t->path, what, r0, r0 + len);
}

bt_err_t bt_h5table_read(const char *path, const char *key, const char *const *names,
                         size_t ncols, size_t max_rows, int64_t **time, double **cols, size_t *n,
                         bt_errbuf_t *eb)
{
    *time = NULL;
    *cols = NULL;
    *n = 0;
    size_t nr = 0;
    bt_h5table_in_t *t = bt_h5table_in_open(path, key, names, ncols, max_rows, &nr, eb);
    if (!t)
        return eb ? eb->code : BT_EIO;
    double **cp = malloc((ncols ? ncols : 1) * sizeof *cp);
    *time = malloc((nr ? nr : 1) * sizeof **time);
    *cols = malloc((nr ? nr : 1) * (ncols ? ncols : 1) * sizeof **cols);
    bt_err_t e = cp && *time && *cols ? BT_OK
                                      : bt_errf(eb, BT_ENOMEM, "out of memory reading %s", path);
    for (size_t c = 0; e == BT_OK && c < ncols; c++)
        cp[c] = *cols + c * nr;
    if (e == BT_OK)
        e = bt_h5table_in_read(t, 0, nr, *time, cp, eb);
    free(cp);
    bt_h5table_in_close(&t);
    if (e != BT_OK) {
        free(*time);
        free(*cols);
        *time = NULL;
        *cols = NULL;
        return e;
    }
    *n = nr;
    return BT_OK;
}
