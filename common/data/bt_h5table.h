/* bt_h5table — a table of float64 columns on an int64 time index as one
 * HDF5 group in the layout of pandas' "fixed" frame format, e.g. bt run's
 * per-bar series in run.h5. `pandas.read_hdf(path, key)` (with PyTables)
 * returns it as a DataFrame on a UTC DatetimeIndex, and h5py reads it as
 * plain datasets (docs/reports.md):
 *   /KEY/axis0          column names (fixed-length strings)
 *   /KEY/axis1          the index: int64 ns since 1970-01-01 UTC
 *   /KEY/block0_items   the column names again (pandas' block of float64)
 *   /KEY/block0_values  float64 [ncols][nrows]: one contiguous row per column
 * plus the group and dataset attributes pandas reads (pandas_type "frame",
 * kind, index_class, tz, ...). */
#ifndef BT_H5TABLE_H
#define BT_H5TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

/* Writes the table as rows come (e.g. while a run goes): axis1 and block0_values are chunked
 * (chunk_rows rows a chunk) and grow with each append; pandas and h5py read them as above.
 * Written to path.tmp; commit renames it to path, abort removes it. One thread at a time. */
typedef struct bt_h5table_out bt_h5table_out_t;
bt_h5table_out_t *bt_h5table_open(const char *path, const char *key, const char *const *names,
                                  size_t ncols, size_t chunk_rows, bt_errbuf_t *eb);
/* Appends len rows: time[len] and cols[c][len] for each of the ncols columns. */
bt_err_t bt_h5table_append(bt_h5table_out_t *t, const int64_t *time, const double *const *cols,
                           size_t len, bt_errbuf_t *eb);
/* Closes the file and renames it into place; frees t and NULLs it. */
bt_err_t bt_h5table_commit(bt_h5table_out_t **self_p, bt_errbuf_t *eb);
/* Closes and removes the temp file; frees t; safe on NULL. */
void bt_h5table_abort(bt_h5table_out_t **self_p);

/* Reads the group key back: *time (n values, malloc'd) and *cols (malloc'd,
 * column c of names at (*cols)[c * n]); a column missing from the file stays
 * 0. Refuses (BT_ELIMIT) more than max_rows rows; BT_EFORMAT for a group of
 * another shape. The caller frees both. */
bt_err_t bt_h5table_read(const char *path, const char *key, const char *const *names,
                         size_t ncols, size_t max_rows, int64_t **time, double **cols, size_t *n,
                         bt_errbuf_t *eb);

/* The same group read a block of rows at a time (a large table without holding it whole):
 * open gives the row count (refusing more than max_rows, BT_EFORMAT for another shape); read
 * fills time[len] and cols[c][len] with rows [r0, r0 + len) (a column missing from the file
 * reads as 0). bt_h5table_read is open, one read of every row, close. */
typedef struct bt_h5table_in bt_h5table_in_t;
bt_h5table_in_t *bt_h5table_in_open(const char *path, const char *key, const char *const *names,
                                    size_t ncols, size_t max_rows, size_t *nrows,
                                    bt_errbuf_t *eb);
bt_err_t bt_h5table_in_read(bt_h5table_in_t *t, size_t r0, size_t len, int64_t *time,
                            double *const *cols, bt_errbuf_t *eb);
void bt_h5table_in_close(bt_h5table_in_t **self_p);

#endif
