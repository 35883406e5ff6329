/* bt_store — the HDF5 bar store. Only common/data knows HDF5.
 *
 * Layout: one group per symbol, "/SYMBOL", holding one 1-D chunked dataset per
 * field: time (int64 ns since epoch UTC), open, high, low, close, volume and,
 * when the source had it, adj_close (float64). Group attributes: source,
 * source_sha256, frequency, rows, content_sha256, bt_version. See docs/data.md. */
#ifndef BT_STORE_H
#define BT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_series.h"

typedef struct bt_store_meta {
    char source[256];    /* source file name (or "synth seed=42 ...") */
    char sha256[65];     /* sha256 of the source file, hex; "" if none */
    char frequency[16];  /* "1d", "1h", "5m", "1m", "1w", "1mo", or "irregular" */
} bt_store_meta_t;

/* Writes one symbol (group named s->symbol). Exists + !replace -> BT_EEXIST with a message telling
 * the user to pass --replace. deflate: chunked + shuffle + deflate; else chunked, uncompressed. */
bt_err_t bt_store_write(const char *path, const bt_series_t *s, const bt_store_meta_t *meta,
                        bool replace, bool deflate, bt_errbuf_t *eb);
/* Detects the bar frequency from the median spacing of s->time. */
const char *bt_store_detect_frequency(const bt_series_t *s);
/* Nominal spacing of a frequency label in ns ("1mo" counts 30 days); 0 for "irregular"/unknown. */
int64_t bt_store_frequency_ns(const char *freq);

typedef struct bt_dataset {
    size_t nsym;
    bt_series_t *series;   /* nsym views, sorted by symbol name when loading "all" */
    bt_store_meta_t *meta; /* nsym */
    char hash[65];         /* data hash of the loaded symbols, see bt_store_data_hash */
    void *priv;            /* owned arrays */
    size_t hashed;         /* symbols whose bars this load hashed (others: verification stamp) */
} bt_dataset_t;

/* Loads the named symbols (symbols == NULL: all of them, sorted). Each field is one read straight
 * into a 64-byte aligned array; read-only afterwards. Missing file / symbol / corrupt file: NULL with
 * a clear message in eb naming the path and the symbol (and listing the symbols that exist).
 * ds->hash is the data hash of the loaded symbols in load order (bt_store_data_hash). Each
 * symbol's bars are hashed and compared with its stored content_sha256 (BT_EDATA if they differ),
 * unless a verification stamp says this very file, unchanged since (device, inode, size, mtime,
 * ctime), was hashed equal before (bt_store_stamp.h; BT_VERIFY_CACHE=off: always hash). */
bt_dataset_t *bt_dataset_load(const char *path, const char *const *symbols, size_t nsym,
                              bt_errbuf_t *eb);
/* As bt_dataset_load, but each field the file holds uncompressed in one run of bytes (as bt
 * writes stores) is mapped read-only from the file (the page cache) instead of copied: no fresh
 * memory to fault in and zero for a large run. Such arrays are 8-byte (not 64-byte) aligned, and
 * the store must not be rewritten in place while the dataset is in use (bt run uses it; sweeps
 * and workers copy). */
bt_dataset_t *bt_dataset_load_mapped(const char *path, const char *const *symbols, size_t nsym,
                                     bt_errbuf_t *eb);
void bt_dataset_destroy(bt_dataset_t **self_p);
/* Index of symbol in ds, or -1. Binary search when ds is sorted (as loaded
 * with "all"), with a linear scan as the fallback, so any ds works. */
long bt_dataset_find(const bt_dataset_t *ds, const char *symbol);
/* Views of the named symbols of ds in the given order (names NULL or n 0:
 * every symbol of ds); *out is malloc'ed, the caller frees it. A missing
 * name is BT_ENOTFOUND: "data.symbols: X is not in the data store ...". */
bt_err_t bt_dataset_pick(const bt_dataset_t *ds, const char *const *names, size_t n,
                         bt_series_t **out, size_t *nout, bt_errbuf_t *eb);

/* The data hash of a selection of symbols — the one formula every program uses to say "the same
 * data": sha256 over one line "SYMBOL:CONTENT_SHA256\n" per symbol, in the given order, where
 * CONTENT_SHA256 is the symbol's content hash (bt_store_content_hash) as 64 lowercase hex digits.
 * symbols NULL (nsym ignored): every symbol of the store sorted by name, as bt_dataset_load loads
 * them. Reads the stored content_sha256 attributes, no bars, except for a symbol stored without
 * one (an older or foreign file), whose bars are hashed. Equals ds->hash of bt_dataset_load(path,
 * symbols, nsym). A missing store or symbol is an error naming it; hex gets 64 digits + NUL. */
bt_err_t bt_store_data_hash(const char *path, const char *const *symbols, size_t nsym,
                            char hex[65], bt_errbuf_t *eb);

/* Checks that the inclusive time range [start, end] (INT64_MIN / INT64_MAX: open end) holds at
 * least one bar of the n series; a run over an empty range would report all-zero metrics as if it
 * had traded. BT_EDATA otherwise, with a message naming the requested range and the range the
 * data covers (first to last bar over all series), e.g. "no bar between 2030-01-01 and 2030-12-31;
 * the data (2 symbols) runs from 2010-01-04 to 2019-12-31". Shared by `bt run` and the worker. */
bt_err_t bt_dataset_check_range(const bt_series_t *series, size_t n, int64_t start, int64_t end,
                                bt_errbuf_t *eb);

/* Writes to dst a new store holding only the named symbols (NULL: all of them) cut to the bars in
 * the inclusive range [start, end] (INT64_MIN / INT64_MAX: open end), uncompressed, each with its
 * source attributes and the content_sha256 of the bars kept. A symbol with no bar in the range
 * keeps its first bar, so "all symbols" still names the same set (the engine slices to the range
 * itself, so that bar is never traded). The same source and arguments give the same bytes (no
 * timestamps are stored), so a cut can be cached and shipped by its sha256. The file is written
 * beside dst and renamed into place: dst never holds half a store. */
bt_err_t bt_store_cut(const char *src, const char *dst, const char *const *symbols, size_t nsym,
                      int64_t start, int64_t end, bt_errbuf_t *eb);

/* Symbol names in the store, sorted; caller frees with bt_store_names_free. */
bt_err_t bt_store_names(const char *path, char ***names, size_t *n, bt_errbuf_t *eb);
void bt_store_names_free(char **names, size_t n);

/* content_sha256 of a series: sha256 over the raw little-endian bytes of time, open, high, low,
 * close, volume (each whole array, in that order). hex gets 64 digits + NUL. */
void bt_store_content_hash(const bt_series_t *s, char hex[65]);

/* BT_OK when symbol's time column is strictly increasing (read in chunks of
 * 65,536 rows); BT_EDATA naming the first row that is not, BT_EFORMAT for a
 * missing symbol or an unreadable column. What a load checks
 * unless a stamp vouches for the file; a worker checks a fetched store so
 * before stamping it (worker/bt_fetch.c). */
bt_err_t bt_store_check_time(const char *path, const char *symbol, bt_errbuf_t *eb);

/* Attributes of one stored symbol, as written (for `bt data info`). */
typedef struct bt_store_attrs {
    bt_store_meta_t meta;     /* source, source_sha256, frequency */
    char content_sha256[65];  /* as stored */
    char bt_version[32];      /* version of bt that wrote it */
    long long rows;           /* the rows attribute */
    bool has_adj_close;       /* an adj_close dataset exists */
    bool deflate;             /* the datasets are deflate-compressed */
} bt_store_attrs_t;
bt_err_t bt_store_read_attrs(const char *path, const char *symbol, bt_store_attrs_t *out,
                             bt_errbuf_t *eb);

#endif
