/* bt_store — the HDF5 bar store (see bt_store.h and docs/data.md). */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "bt_store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_alloc.h"
#include "bt_filemap.h"
#include "bt_sha256.h"
#include "bt_store_map.h"
#include "bt_store_stamp.h"
#include "bt_time.h"

static bool s_regular(const char *path, bt_errbuf_t *eb);

#ifndef BT_VERSION
#define BT_VERSION "unknown"
#endif

#define S_NFIELDS 7                   /* time + 5 doubles + adj_close */
#define S_CHUNK_ROWS 262144           /* 2 MiB of float64 per chunk: larger than the chunk cache */
#define S_MAX_ROWS ((hsize_t)1 << 34) /* refuse absurd sizes from a corrupt file */
#define S_MAX_SYMBOLS 100000

static const char *const s_fields[S_NFIELDS] = {"time",  "open",   "high",     "low",
                                                "close", "volume", "adj_close"};

/* Silences HDF5's own error printing: we report errors ourselves. */
static void s_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* Symbol names become group names: printable, no '/', not "." or "..". */
static bool s_symbol_ok(const char *sym)
{
    size_t len = strlen(sym);
    if (len == 0 || len >= BT_SYMBOL_MAX || strcmp(sym, ".") == 0 || strcmp(sym, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)sym[i];
        if (c <= ' ' || c >= 127 || c == '/' || c == ',')
            return false;
    }
    return true;
}

/* ---- hashing ----------------------------------------------------------- */

static void s_hash_le(bt_sha256_t *h, const void *arr, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    bt_sha256_update(h, arr, n * 8);
#else
    const uint8_t *p = arr;
    for (size_t i = 0; i < n; i++) {
        uint8_t le[8];
        for (int j = 0; j < 8; j++)
            le[j] = p[8 * i + 7 - j];
        bt_sha256_update(h, le, 8);
    }
#endif
}

void bt_store_content_hash(const bt_series_t *s, char hex[65])
{
    bt_sha256_t h;
    bt_sha256_init(&h);
    s_hash_le(&h, s->time, s->n);
    s_hash_le(&h, s->open, s->n);
    s_hash_le(&h, s->high, s->n);
    s_hash_le(&h, s->low, s->n);
    s_hash_le(&h, s->close, s->n);
    s_hash_le(&h, s->volume, s->n);
    bt_sha256_final(&h, hex);
}

/* One symbol's line of the data hash: "SYMBOL:CONTENT_SHA256\n". */
static void s_data_hash_line(bt_sha256_t *h, const char *sym, const char content[65])
{
    bt_sha256_update(h, sym, strlen(sym));
    bt_sha256_update(h, ":", 1);
    bt_sha256_update(h, content, 64);
    bt_sha256_update(h, "\n", 1);
}

/* ---- frequency --------------------------------------------------------- */

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

const char *bt_store_detect_frequency(const bt_series_t *s)
{
    if (!s || s->n < 2)
        return "irregular";
    /* Median of the spacings; above 65536 spacings, of an evenly spread sample. */
    size_t nd = s->n - 1, m = nd < 65536 ? nd : 65536;
    int64_t *d = malloc(m * sizeof *d);
    if (!d)
        return "irregular";
    for (size_t k = 0; k < m; k++) {
        size_t i = m == nd ? k : (size_t)((double)k * (double)(nd - 1) / (double)(m - 1));
        d[k] = s->time[i + 1] - s->time[i];
    }
    qsort(d, m, sizeof *d, s_cmp_i64);
    int64_t med = d[(m - 1) / 2]; /* lower median: gaps only ever lengthen spacings */
    free(d);
    static const struct {
        int64_t ns;
        const char *label;
    } exact[] = {
        {BT_NS_PER_SEC, "1s"},       {5 * BT_NS_PER_SEC, "5s"},   {10 * BT_NS_PER_SEC, "10s"},
        {15 * BT_NS_PER_SEC, "15s"}, {30 * BT_NS_PER_SEC, "30s"}, {BT_NS_PER_MIN, "1m"},
        {2 * BT_NS_PER_MIN, "2m"},   {3 * BT_NS_PER_MIN, "3m"},   {5 * BT_NS_PER_MIN, "5m"},
        {10 * BT_NS_PER_MIN, "10m"}, {15 * BT_NS_PER_MIN, "15m"}, {30 * BT_NS_PER_MIN, "30m"},
        {BT_NS_PER_HOUR, "1h"},      {2 * BT_NS_PER_HOUR, "2h"},  {4 * BT_NS_PER_HOUR, "4h"},
        {BT_NS_PER_DAY, "1d"},       {7 * BT_NS_PER_DAY, "1w"},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (med == exact[i].ns)
            return exact[i].label;
    if (med >= 28 * BT_NS_PER_DAY && med <= 31 * BT_NS_PER_DAY)
        return "1mo";
    return "irregular";
}

int64_t bt_store_frequency_ns(const char *freq)
{
    static const struct {
        const char *label;
        int64_t ns;
    } t[] = {
        {"1s", BT_NS_PER_SEC},       {"5s", 5 * BT_NS_PER_SEC},   {"10s", 10 * BT_NS_PER_SEC},
        {"15s", 15 * BT_NS_PER_SEC}, {"30s", 30 * BT_NS_PER_SEC}, {"1m", BT_NS_PER_MIN},
        {"2m", 2 * BT_NS_PER_MIN},   {"3m", 3 * BT_NS_PER_MIN},   {"5m", 5 * BT_NS_PER_MIN},
        {"10m", 10 * BT_NS_PER_MIN}, {"15m", 15 * BT_NS_PER_MIN}, {"30m", 30 * BT_NS_PER_MIN},
        {"1h", BT_NS_PER_HOUR},      {"2h", 2 * BT_NS_PER_HOUR},  {"4h", 4 * BT_NS_PER_HOUR},
        {"1d", BT_NS_PER_DAY},       {"1w", 7 * BT_NS_PER_DAY},   {"1mo", 30 * BT_NS_PER_DAY},
    };
    for (size_t i = 0; freq && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(freq, t[i].label) == 0)
            return t[i].ns;
    return 0;
}

/* ---- attributes -------------------------------------------------------- */

static bool s_attr_put_str(hid_t obj, const char *name, const char *val)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, strlen(val) + 1);
    H5Tset_strpad(type, H5T_STR_NULLTERM);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = attr >= 0 && H5Awrite(attr, type, val) >= 0;
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    return ok;
}

static bool s_attr_put_i64(hid_t obj, const char *name, int64_t val)
{
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = attr >= 0 && H5Awrite(attr, H5T_NATIVE_INT64, &val) >= 0;
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return ok;
}

/* Reads a string attribute into out (cap bytes); "" and false when absent or not a string. */
static bool s_attr_get_str(hid_t obj, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return false;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return false;
    bool ok = false;
    hid_t ftype = H5Aget_type(attr);
    if (ftype >= 0 && H5Tget_class(ftype) == H5T_STRING && !H5Tis_variable_str(ftype)) {
        size_t sz = H5Tget_size(ftype);
        if (sz > 0 && sz < 65536) {
            char *tmp = calloc(1, sz + 1);
            hid_t mtype = H5Tcopy(H5T_C_S1);
            H5Tset_size(mtype, sz);
            if (tmp && H5Aread(attr, mtype, tmp) >= 0) {
                tmp[sz] = '\0';
                snprintf(out, cap, "%s", tmp);
                ok = true;
            }
            H5Tclose(mtype);
            free(tmp);
        }
    }
    if (ftype >= 0)
        H5Tclose(ftype);
    H5Aclose(attr);
    return ok;
}

static bool s_attr_get_i64(hid_t obj, const char *name, long long *out)
{
    if (H5Aexists(obj, name) <= 0)
        return false;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return false;
    int64_t v = 0;
    bool ok = H5Aread(attr, H5T_NATIVE_INT64, &v) >= 0;
    H5Aclose(attr);
    *out = (long long)v;
    return ok;
}

/* ---- write ------------------------------------------------------------- */

static bool s_write_field(hid_t grp, const char *name, hid_t ftype, hid_t mtype, const void *data,
                          hsize_t n, bool deflate)
{
    hsize_t chunk = n < S_CHUNK_ROWS ? n : S_CHUNK_ROWS;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_obj_track_times(dcpl, false); /* same bars, same bytes (shipped stores, bt_store_cut) */
    if (deflate) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 4);
    }
    hid_t ds = H5Dcreate2(grp, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    bool ok = ds >= 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (ds >= 0)
        ok = H5Dclose(ds) >= 0 && ok;
    H5Pclose(dcpl);
    H5Sclose(space);
    return ok;
}

/* Opens path for writing, creating it if absent. Reports a non-HDF5 file clearly. */
static hid_t s_open_rw(const char *path, bt_errbuf_t *eb)
{
    if (access(path, F_OK) != 0) {
        hid_t f = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0)
            bt_errf(eb, BT_EIO,
                    "%s: cannot create the bar store (check the folder exists and is "
                    "writable)",
                    path);
        return f;
    }
    if (!s_regular(path, eb))
        return -1;
    if (H5Fis_hdf5(path) <= 0) {
        bt_errf(eb, BT_EFORMAT,
                "%s: exists but is not an HDF5 bar store; choose another --out "
                "path or remove the file",
                path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        bt_errf(eb, BT_EIO,
                "%s: cannot open the bar store for writing (is it read-only, or "
                "open in another program?)",
                path);
    return f;
}

bt_err_t bt_store_write(const char *path, const bt_series_t *s, const bt_store_meta_t *meta,
                        bool replace, bool deflate, bt_errbuf_t *eb)
{
    assert(path && s && meta);
    s_quiet();
    if (!s_symbol_ok(s->symbol))
        return bt_errf(eb, BT_EINVAL,
                       "symbol '%s' is not a valid name: use 1 to %d printable characters "
                       "without '/', ',' or spaces",
                       s->symbol, BT_SYMBOL_MAX - 1);
    if (s->n == 0)
        return bt_errf(eb, BT_EDATA, "%s: symbol %s has no bars; nothing to write", path,
                       s->symbol);
    hid_t f = s_open_rw(path, eb);
    if (f < 0)
        return eb && eb->code != BT_OK ? eb->code : BT_EIO;
    bt_err_t rc = BT_OK;
    htri_t exists = H5Lexists(f, s->symbol, H5P_DEFAULT);
    if (exists > 0 && !replace) {
        rc = bt_errf(eb, BT_EEXIST,
                     "%s: symbol %s already exists in the store; pass --replace to overwrite it "
                     "or --symbol NAME to store it under another name",
                     path, s->symbol);
        goto done;
    }
    if (exists > 0 && H5Ldelete(f, s->symbol, H5P_DEFAULT) < 0) {
        rc = bt_errf(eb, BT_EIO, "%s: cannot remove the old %s to replace it", path, s->symbol);
        goto done;
    }
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, false);
    hid_t grp = H5Gcreate2(f, s->symbol, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (grp < 0) {
        rc = bt_errf(eb, BT_EIO, "%s: cannot create group /%s", path, s->symbol);
        goto done;
    }
    const void *data[S_NFIELDS] = {s->time,  s->open,   s->high,     s->low,
                                   s->close, s->volume, s->adj_close};
    bool ok = true;
    for (int i = 0; i < S_NFIELDS && ok; i++) {
        if (!data[i])
            continue;
        ok = s_write_field(grp, s_fields[i], i == 0 ? H5T_STD_I64LE : H5T_IEEE_F64LE,
                           i == 0 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, data[i], s->n, deflate);
    }
    char content[65];
    bt_store_content_hash(s, content);
    ok = ok && s_attr_put_str(grp, "source", meta->source) &&
         s_attr_put_str(grp, "source_sha256", meta->sha256) &&
         s_attr_put_str(grp, "frequency",
                        meta->frequency[0] ? meta->frequency : bt_store_detect_frequency(s)) &&
         s_attr_put_i64(grp, "rows", (int64_t)s->n) &&
         s_attr_put_str(grp, "content_sha256", content) &&
         s_attr_put_str(grp, "bt_version", BT_VERSION);
    H5Gclose(grp);
    if (!ok)
        rc = bt_errf(eb, BT_EIO, "%s: writing symbol %s failed (disk full?)", path, s->symbol);
done:
    if (H5Fclose(f) < 0 && rc == BT_OK)
        rc = bt_errf(eb, BT_EIO, "%s: closing the store failed (disk full?)", path);
    return rc;
}

/* ---- names ------------------------------------------------------------- */

typedef struct {
    char **names; /* grown array */
    size_t n, cap;
    bool oom;
} s_names_t;

static herr_t s_collect(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    s_names_t *acc = op;
    H5O_info_t oi;
    if (info->type != H5L_TYPE_HARD || H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_GROUP)
        return 0;
    if (acc->n == acc->cap) {
        if (acc->cap >= S_MAX_SYMBOLS)
            return 0;
        size_t cap = acc->cap ? acc->cap * 2 : 16;
        char **p = realloc(acc->names, cap * sizeof *p);
        if (!p) {
            acc->oom = true;
            return -1;
        }
        acc->names = p;
        acc->cap = cap;
    }
    size_t len = strlen(name);
    char *copy = malloc(len + 1);
    if (!copy) {
        acc->oom = true;
        return -1;
    }
    memcpy(copy, name, len + 1);
    acc->names[acc->n++] = copy;
    return 0;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A FIFO or device must never reach HDF5 (opening a FIFO blocks until a
 * writer comes): open without blocking and accept a regular file only. */
static bool s_regular(const char *path, bt_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0)
        close(fd);
    if (!ok)
        bt_errf(eb, BT_EFORMAT,
                "%s: not a regular file (a FIFO, device or folder?); give the path of a bar "
                "store file",
                path);
    return ok;
}

/* Opens a store for reading with a clear message for each way it can fail. */
static hid_t s_open_ro(const char *path, bt_errbuf_t *eb)
{
    s_quiet();
    if (access(path, R_OK) != 0) {
        bt_errf(eb, errno == ENOENT ? BT_ENOTFOUND : BT_EIO,
                "%s: cannot open the bar store: %s (create it with 'bt data import' or 'bt data "
                "synth')",
                path, strerror(errno));
        return -1;
    }
    if (!s_regular(path, eb))
        return -1;
    if (H5Fis_hdf5(path) <= 0) {
        bt_errf(eb, BT_EFORMAT,
                "%s: not an HDF5 bar store (corrupt or another kind of file); re-create it with "
                "'bt data import'",
                path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        bt_errf(eb, BT_EFORMAT, "%s: the HDF5 file cannot be opened (corrupt or truncated?)", path);
    return f;
}

static bt_err_t s_names(hid_t f, const char *path, char ***names, size_t *n, bt_errbuf_t *eb)
{
    s_names_t acc = {0};
    hsize_t idx = 0;
    herr_t rc = H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, &idx, s_collect, &acc);
    if (rc < 0 || acc.oom) {
        bt_store_names_free(acc.names, acc.n);
        return bt_errf(eb, acc.oom ? BT_ENOMEM : BT_EFORMAT,
                       "%s: cannot list the symbols (corrupt file?)", path);
    }
    if (acc.n > 1)
        qsort(acc.names, acc.n, sizeof *acc.names, s_cmp_str);
    *names = acc.names;
    *n = acc.n;
    return BT_OK;
}

bt_err_t bt_store_names(const char *path, char ***names, size_t *n, bt_errbuf_t *eb)
{
    assert(path && names && n);
    *names = NULL;
    *n = 0;
    hid_t f = s_open_ro(path, eb);
    if (f < 0)
        return eb ? eb->code : BT_EIO;
    bt_err_t rc = s_names(f, path, names, n, eb);
    H5Fclose(f);
    return rc;
}

void bt_store_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* "A, B, C" (up to cap bytes, "..." when cut) for error messages. */
static void s_join(char **names, size_t n, char *out, size_t cap)
{
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + pos, cap - pos, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - pos) {
            if (cap > 4)
                memcpy(out + cap - 4, "...", 4);
            return;
        }
        pos += (size_t)w;
    }
    if (n == 0)
        snprintf(out, cap, "(none)");
}

/* ---- load -------------------------------------------------------------- */

typedef struct {
    void **blocks; /* one per symbol: all of its arrays */
    size_t n;
    struct { void *p; size_t len; } *maps; /* mapped fields (bt_dataset_load_mapped) */
    size_t nmaps;
    int hold; /* bt_store_map_hold while fields are mapped, else -1 */
} s_priv_t;

/* Rounds up to the next multiple of BT_ALIGN. */
static size_t s_round(size_t x)
{
    return (x + BT_ALIGN - 1) / BT_ALIGN * BT_ALIGN;
}

/* A block for the arrays of one symbol (free with free()). Large blocks are 2 MiB aligned and
 * asked to use transparent huge pages: loading is then bound by memory bandwidth rather than by
 * one page fault per 4 KiB. */
static char *s_block_alloc(size_t size)
{
    const size_t huge = (size_t)2 << 20;
    if (size < 2 * huge)
        return aligned_alloc(BT_ALIGN, size);
    size = (size + huge - 1) / huge * huge;
    char *p = aligned_alloc(huge, size);
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

/* Length of a 1-D dataset of the expected class and 8-byte size; false otherwise. */
static bool s_field_dims(hid_t grp, const char *name, H5T_class_t cls, hsize_t *n)
{
    hid_t ds = H5Dopen2(grp, name, H5P_DEFAULT);
    if (ds < 0)
        return false;
    hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds);
    bool ok = sp >= 0 && ty >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
              H5Tget_class(ty) == cls && H5Tget_size(ty) == 8;
    if (ok)
        ok = H5Sget_simple_extent_dims(sp, n, NULL) == 1;
    if (ty >= 0)
        H5Tclose(ty);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(ds);
    return ok;
}

static bool s_read_field(hid_t grp, const char *name, hid_t mtype, void *dst)
{
    hid_t ds = H5Dopen2(grp, name, H5P_DEFAULT);
    if (ds < 0)
        return false;
    bool ok = H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) >= 0;
    H5Dclose(ds);
    return ok;
}

/* The first row whose time is not above the one before it, or 0. */
static size_t s_time_disorder(const int64_t *t, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (t[i] <= t[i - 1])
            return i;
    return 0;
}

static bt_err_t s_disorder_err(bt_errbuf_t *eb, const char *path, const char *sym, size_t row)
{
    return bt_errf(eb, BT_EDATA,
                   "%s: symbol %s: time is not strictly increasing at row %zu (corrupt store?); "
                   "re-import the source",
                   path, sym, row);
}

bt_err_t bt_store_check_time(const char *path, const char *symbol, bt_errbuf_t *eb)
{
    assert(path && symbol);
    hid_t f = s_open_ro(path, eb);
    if (f < 0)
        return eb ? eb->code : BT_EIO;
    bt_err_t rc = BT_OK;
    hid_t grp = s_symbol_ok(symbol) && H5Lexists(f, symbol, H5P_DEFAULT) > 0
                    ? H5Gopen2(f, symbol, H5P_DEFAULT)
                    : H5I_INVALID_HID;
    hsize_t n = 0;
    hid_t ds = grp >= 0 && s_field_dims(grp, "time", H5T_INTEGER, &n) && n <= S_MAX_ROWS
                   ? H5Dopen2(grp, "time", H5P_DEFAULT)
                   : H5I_INVALID_HID;
    hid_t fsp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
    enum { CHUNK = 1 << 16 }; /* rows read at a time: 512 KB, whatever the store's size */
    int64_t *buf = fsp >= 0 ? malloc(CHUNK * sizeof *buf) : NULL;
    if (!buf) {
        rc = bt_errf(eb, fsp >= 0 ? BT_ENOMEM : BT_EFORMAT,
                     "%s: symbol %s: no readable 1-D int64 /%s/time", path, symbol, symbol);
        goto out;
    }
    int64_t last = 0;
    for (hsize_t at = 0; at < n && rc == BT_OK; at += CHUNK) {
        hsize_t cnt = n - at < CHUNK ? n - at : CHUNK;
        hid_t msp = H5Screate_simple(1, &cnt, NULL);
        bool ok = msp >= 0 &&
                  H5Sselect_hyperslab(fsp, H5S_SELECT_SET, &at, NULL, &cnt, NULL) >= 0 &&
                  H5Dread(ds, H5T_NATIVE_INT64, msp, fsp, H5P_DEFAULT, buf) >= 0;
        if (msp >= 0)
            H5Sclose(msp);
        if (!ok) {
            rc = bt_errf(eb, BT_EFORMAT, "%s: symbol %s: reading /%s/time failed (corrupt file?)",
                         path, symbol, symbol);
            break;
        }
        size_t bad = 0;
        if (at && buf[0] <= last)
            rc = s_disorder_err(eb, path, symbol, (size_t)at);
        else if ((bad = s_time_disorder(buf, (size_t)cnt)) != 0)
            rc = s_disorder_err(eb, path, symbol, (size_t)at + bad);
        last = buf[cnt - 1];
    }
out:
    free(buf);
    if (fsp >= 0)
        H5Sclose(fsp);
    if (ds >= 0)
        H5Dclose(ds);
    if (grp >= 0)
        H5Gclose(grp);
    H5Fclose(f);
    return rc;
}

/* Loads one symbol's group into series/meta; the arrays live in *block.
 * stamp (may be NULL): symbols verified before in this unchanged file are
 * not hashed again; *hashed says whether this one was. */
static bt_err_t s_load_symbol(hid_t f, const char *path, const char *sym, bt_series_t *series,
                              bt_store_meta_t *meta, char content[65], void **block,
                              bt_stamp_t *stamp, bool *hashed, int map_fd, s_priv_t *mp,
                              bt_errbuf_t *eb)
{
    *hashed = false;
    hid_t grp = H5Gopen2(f, sym, H5P_DEFAULT);
    if (grp < 0)
        return bt_errf(eb, BT_EFORMAT, "%s: cannot open group /%s (corrupt file?)", path, sym);
    bt_err_t rc = BT_OK;
    hsize_t n = 0, m = 0;
    if (!s_field_dims(grp, "time", H5T_INTEGER, &n) || n > S_MAX_ROWS) {
        rc = bt_errf(eb, BT_EFORMAT,
                     "%s: symbol %s: dataset /%s/time is missing or not 1-D "
                     "int64 (not a bar store written by bt?)",
                     path, sym, sym);
        goto out;
    }
    htri_t has_adj = H5Lexists(grp, "adj_close", H5P_DEFAULT);
    int nf = has_adj > 0 ? S_NFIELDS : S_NFIELDS - 1;
    for (int i = 1; i < nf; i++) {
        if (!s_field_dims(grp, s_fields[i], H5T_FLOAT, &m) || m != n) {
            rc = bt_errf(eb, BT_EFORMAT,
                         "%s: symbol %s: dataset /%s/%s is missing, not float64 or not %llu rows "
                         "long (corrupt store?)",
                         path, sym, sym, s_fields[i], (unsigned long long)n);
            goto out;
        }
    }
    const void *mapped[S_NFIELDS] = {0};
    int nmapped = 0; /* mapped from the file, no copy: every field or none */
    for (; map_fd >= 0 && mp && nmapped < nf; nmapped++) {
        size_t k = mp->nmaps;
        int64_t off = 0;
        /* page tables made at once for the time and the close only: every reader of a run
         * reads those (statistics, benchmark, report), while bt run's engine reads its bars
         * from the file (bt_loop_single_window) and the mapping of 4 more columns took ~10 ms */
        bool populate = nmapped == 0 || strcmp(s_fields[nmapped], "close") == 0;
        if (!bt_store_map_field(grp, s_fields[nmapped], map_fd, (size_t)n, nmapped == 0,
                                populate, &mapped[nmapped], &mp->maps[k].p, &mp->maps[k].len,
                                &off))
            break;
        /* readers that step over the bars once may read them from the file (bt_filemap) */
        bt_filemap_add(mp->maps[k].p, mp->maps[k].len, mp->hold, off);
        mp->nmaps++;
    }
    if (nmapped > 0 && nmapped < nf)
        for (; nmapped > 0; nmapped--, mp->nmaps--) {
            bt_filemap_remove(mp->maps[mp->nmaps - 1].p);
            munmap(mp->maps[mp->nmaps - 1].p, mp->maps[mp->nmaps - 1].len);
        }
    size_t col = s_round((size_t)n * 8);
    if (n == 0)
        col = BT_ALIGN;
    /* One block, one 64-byte aligned column per field; not zeroed: each is read in full. */
    char *mem = nmapped ? NULL : s_block_alloc(col * (size_t)nf);
    if (!mem && !nmapped) {
        rc = bt_errf(eb, BT_ENOMEM, "%s: symbol %s: out of memory for %llu bars", path, sym,
                     (unsigned long long)n);
        goto out;
    }
    for (int i = 0; i < nf && !nmapped; i++) {
        if (!s_read_field(grp, s_fields[i], i == 0 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE,
                          mem + (size_t)i * col)) {
            free(mem);
            rc = bt_errf(eb, BT_EFORMAT, "%s: symbol %s: reading /%s/%s failed (corrupt file?)",
                         path, sym, sym, s_fields[i]);
            goto out;
        }
    }
    memset(series, 0, sizeof *series);
    snprintf(series->symbol, sizeof series->symbol, "%s", sym);
    series->n = (size_t)n;
    series->time = (const int64_t *)mem;
    series->open = (const double *)(mem + col);
    series->high = (const double *)(mem + 2 * col);
    series->low = (const double *)(mem + 3 * col);
    series->close = (const double *)(mem + 4 * col);
    series->volume = (const double *)(mem + 5 * col);
    series->adj_close = nf == S_NFIELDS ? (const double *)(mem + 6 * col) : NULL;
    if (nmapped) {
        series->time = mapped[0];
        series->open = mapped[1], series->high = mapped[2], series->low = mapped[3];
        series->close = mapped[4], series->volume = mapped[5];
        series->adj_close = nf == S_NFIELDS ? mapped[6] : NULL;
    }
    /* The data as read, not as labelled: bars edited in place under an
     * unchanged content_sha256 must not pass as the imported data. A stamp
     * says this unchanged file's bars were hashed equal to it AND their time
     * checked strictly increasing (bt_store_stamp.h): neither pass again
     * (on a 10 M-bar store the time pass alone is 55-90 ms of first touches
     * of mapped pages, ahead of the run). */
    char stored[65];
    bool has = s_attr_get_str(grp, "content_sha256", stored, sizeof stored) &&
               strlen(stored) == 64;
    bool vouched = has && bt_stamp_has(stamp, sym, stored);
    size_t bad = vouched ? 0 : s_time_disorder(series->time, series->n);
    if (bad) {
        free(mem);
        rc = s_disorder_err(eb, path, sym, bad);
        goto out;
    }
    *block = mem;
    s_attr_get_str(grp, "source", meta->source, sizeof meta->source);
    s_attr_get_str(grp, "source_sha256", meta->sha256, sizeof meta->sha256);
    s_attr_get_str(grp, "frequency", meta->frequency, sizeof meta->frequency);
    if (vouched) {
        memcpy(content, stored, 65); /* checked before, and the file is unchanged */
        goto out;
    }
    bt_store_content_hash(series, content);
    *hashed = true;
    if (has && strcmp(stored, content) == 0)
        bt_stamp_add(stamp, sym, content);
    if (has && strcmp(stored, content) != 0) {
        free(mem);
        *block = NULL;
        rc = bt_errf(eb, BT_EDATA,
                     "%s: symbol %s: the bars read do not match their stored content_sha256 "
                     "(%.12s... read, %.12s... stored): the store was changed after import; "
                     "re-import the source",
                     path, sym, content, stored);
    }
out:
    H5Gclose(grp);
    return rc;
}

/* The descriptor of the file HDF5 has open, or -1. */
static int s_fd(hid_t f)
{
    void *handle = NULL;
    return H5Fget_vfd_handle(f, H5P_DEFAULT, &handle) >= 0 && handle ? *(int *)handle : -1;
}

/* fstat of the file HDF5 has open (not of the path, which could name
 * another file by now). */
static bool s_fstat(hid_t f, struct stat *st)
{
    int fd = s_fd(f);
    return fd >= 0 && fstat(fd, st) == 0;
}

/* The symbols to load or hash: *symbols as given (each must exist), or every symbol of the store,
 * sorted, when *symbols is NULL. *names (free with bt_store_names_free) backs the "all" case. */
static bt_err_t s_select(hid_t f, const char *path, const char *const **symbols, size_t *nsym,
                         char ***names, size_t *nnames, bt_errbuf_t *eb)
{
    bt_err_t rc = s_names(f, path, names, nnames, eb);
    if (rc != BT_OK)
        return rc;
    if (!*symbols) {
        *nsym = *nnames;
        *symbols = (const char *const *)*names;
        if (*nsym == 0)
            return bt_errf(eb, BT_ENOTFOUND, "%s: the bar store holds no symbols", path);
    }
    for (size_t i = 0; i < *nsym; i++) {
        bool found = false;
        for (size_t j = 0; j < *nnames && !found; j++)
            found = strcmp((*symbols)[i], (*names)[j]) == 0;
        if (!found) {
            char list[600];
            s_join(*names, *nnames, list, sizeof list);
            return bt_errf(eb, BT_ENOTFOUND,
                           "%s: symbol '%s' is not in the bar store; it holds: %s", path,
                           (*symbols)[i], list);
        }
    }
    return BT_OK;
}

static bt_dataset_t *s_dataset_load(const char *path, const char *const *symbols, size_t nsym,
                                    bool map, bt_errbuf_t *eb);

bt_dataset_t *bt_dataset_load(const char *path, const char *const *symbols, size_t nsym,
                              bt_errbuf_t *eb)
{
    return s_dataset_load(path, symbols, nsym, false, eb);
}

bt_dataset_t *bt_dataset_load_mapped(const char *path, const char *const *symbols, size_t nsym,
                                     bt_errbuf_t *eb)
{
    return s_dataset_load(path, symbols, nsym, true, eb);
}

static bt_dataset_t *s_dataset_load(const char *path, const char *const *symbols, size_t nsym,
                                    bool map, bt_errbuf_t *eb)
{
    assert(path);
    hid_t f = s_open_ro(path, eb);
    if (f < 0)
        return NULL;
    char **names = NULL;
    size_t nnames = 0;
    bt_dataset_t *ds = NULL;
    bt_stamp_t *stamp = NULL;
    if (s_select(f, path, &symbols, &nsym, &names, &nnames, eb) != BT_OK)
        goto fail;
    ds = calloc(1, sizeof *ds);
    s_priv_t *priv = calloc(1, sizeof *priv);
    if (ds)
        ds->priv = priv;
    if (!ds || !priv ||
        (nsym && (!(ds->series = calloc(nsym, sizeof *ds->series)) ||
                  !(ds->meta = calloc(nsym, sizeof *ds->meta)) ||
                  !(priv->blocks = calloc(nsym, sizeof *priv->blocks)) ||
                  (map && !(priv->maps = calloc(nsym * S_NFIELDS, sizeof *priv->maps)))))) {
        if (!ds)
            free(priv);
        bt_errf(eb, BT_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    struct stat st0, st1;
    bool have_st = s_fstat(f, &st0);
    stamp = have_st ? bt_stamp_load(&st0) : NULL;
    bt_sha256_t h;
    bt_sha256_init(&h);
    priv->hold = map ? bt_store_map_hold(s_fd(f)) : -1;
    for (size_t i = 0; i < nsym; i++) {
        char content[65];
        bool hashed;
        if (s_load_symbol(f, path, symbols[i], &ds->series[i], &ds->meta[i], content,
                          &priv->blocks[i], stamp, &hashed, priv->hold >= 0 ? s_fd(f) : -1,
                          priv, eb) != BT_OK)
            goto fail;
        priv->n = i + 1;
        ds->hashed += hashed;
        s_data_hash_line(&h, symbols[i], content);
    }
    ds->nsym = nsym;
    bt_sha256_final(&h, ds->hash);
    if (have_st && s_fstat(f, &st1))
        bt_stamp_save(stamp, &st1);
    bt_stamp_destroy(&stamp);
    bt_store_names_free(names, nnames);
    H5Fclose(f);
    return ds;
fail:
    bt_stamp_destroy(&stamp);
    bt_dataset_destroy(&ds);
    bt_store_names_free(names, nnames);
    H5Fclose(f);
    return NULL;
}

bt_err_t bt_store_data_hash(const char *path, const char *const *symbols, size_t nsym,
                            char hex[65], bt_errbuf_t *eb)
{
    assert(path && hex);
    hid_t f = s_open_ro(path, eb);
    if (f < 0)
        return eb ? eb->code : BT_EIO;
    char **names = NULL;
    size_t nnames = 0;
    bt_err_t rc = s_select(f, path, &symbols, &nsym, &names, &nnames, eb);
    bt_sha256_t h;
    bt_sha256_init(&h);
    for (size_t i = 0; rc == BT_OK && i < nsym; i++) {
        char content[65] = "";
        hid_t grp = H5Gopen2(f, symbols[i], H5P_DEFAULT);
        if (grp < 0) {
            rc = bt_errf(eb, BT_EFORMAT, "%s: cannot open group /%s (corrupt file?)", path,
                         symbols[i]);
            break;
        }
        bool stored = s_attr_get_str(grp, "content_sha256", content, sizeof content) &&
                      strlen(content) == 64;
        H5Gclose(grp);
        if (!stored) { /* older or foreign file: hash the bars, as bt_dataset_load does */
            bt_series_t series;
            bt_store_meta_t meta;
            void *block = NULL;
            bool hashed;
            rc = s_load_symbol(f, path, symbols[i], &series, &meta, content, &block, NULL,
                               &hashed, -1, NULL, eb);
            free(block);
            if (rc != BT_OK)
                break;
        }
        s_data_hash_line(&h, symbols[i], content);
    }
    if (rc == BT_OK)
        bt_sha256_final(&h, hex);
    bt_store_names_free(names, nnames);
    H5Fclose(f);
    return rc;
}

void bt_dataset_destroy(bt_dataset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_dataset_t *self = *self_p;
    s_priv_t *priv = self->priv;
    if (priv) {
        for (size_t i = 0; i < priv->n; i++)
            free(priv->blocks[i]);
        for (size_t i = 0; i < priv->nmaps; i++) {
            bt_filemap_remove(priv->maps[i].p);
            munmap(priv->maps[i].p, priv->maps[i].len);
        }
        if (priv->hold > 0)
            close(priv->hold);
        free(priv->maps);
        free(priv->blocks);
        free(priv);
    }
    free(self->series);
    free(self->meta);
    free(self);
    *self_p = NULL;
}

bt_err_t bt_store_read_attrs(const char *path, const char *symbol, bt_store_attrs_t *out,
                             bt_errbuf_t *eb)
{
    assert(path && symbol && out);
    memset(out, 0, sizeof *out);
    hid_t f = s_open_ro(path, eb);
    if (f < 0)
        return eb ? eb->code : BT_EIO;
    bt_err_t rc = BT_OK;
    if (!s_symbol_ok(symbol) || H5Lexists(f, symbol, H5P_DEFAULT) <= 0) {
        char **names = NULL;
        size_t n = 0;
        char list[600] = "";
        if (s_names(f, path, &names, &n, NULL) == BT_OK)
            s_join(names, n, list, sizeof list);
        bt_store_names_free(names, n);
        rc = bt_errf(eb, BT_ENOTFOUND, "%s: symbol '%s' is not in the bar store; it holds: %s",
                     path, symbol, list);
        H5Fclose(f);
        return rc;
    }
    hid_t grp = H5Gopen2(f, symbol, H5P_DEFAULT);
    if (grp < 0) {
        H5Fclose(f);
        return bt_errf(eb, BT_EFORMAT, "%s: cannot open group /%s", path, symbol);
    }
    s_attr_get_str(grp, "source", out->meta.source, sizeof out->meta.source);
    s_attr_get_str(grp, "source_sha256", out->meta.sha256, sizeof out->meta.sha256);
    s_attr_get_str(grp, "frequency", out->meta.frequency, sizeof out->meta.frequency);
    s_attr_get_str(grp, "content_sha256", out->content_sha256, sizeof out->content_sha256);
    s_attr_get_str(grp, "bt_version", out->bt_version, sizeof out->bt_version);
    out->rows = -1;
    s_attr_get_i64(grp, "rows", &out->rows);
    out->has_adj_close = H5Lexists(grp, "adj_close", H5P_DEFAULT) > 0;
    hid_t ds = H5Dopen2(grp, "close", H5P_DEFAULT);
    if (ds >= 0) {
        hid_t dcpl = H5Dget_create_plist(ds);
        int nfilt = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
        for (int i = 0; i < nfilt; i++) {
            unsigned flags;
            size_t nelem = 0;
            unsigned cd[4];
            char nm[32];
            if (H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, cd, sizeof nm, nm, NULL) ==
                H5Z_FILTER_DEFLATE)
                out->deflate = true;
        }
        if (dcpl >= 0)
            H5Pclose(dcpl);
        H5Dclose(ds);
    }
    H5Gclose(grp);
    H5Fclose(f);
    return rc;
}
