/* bt_h5table — an array of fixed-size records as one HDF5 group holding a
 * 1-D dataset per column (int64 or float64), e.g. bt run's per-bar equity in
 * run.h5 (docs/reports.md: open it with h5py or pandas). Columns are read
 * and written straight from the records (an HDF5 strided selection), no copy.
 * Every column sits at a multiple of 8 bytes in a record whose size is a
 * multiple of 8. */
#ifndef BT_H5TABLE_H
#define BT_H5TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_err.h"

typedef struct bt_h5col {
    const char *name; /* dataset name in the group */
    size_t offset;    /* offsetof(record, field) */
    bool is_i64;      /* int64_t; else double */
    const char *unit; /* "units" attribute, or NULL */
} bt_h5col_t;

/* Writes path (replacing it: written to path.tmp and renamed) with one group
 * holding n records' columns. */
bt_err_t bt_h5table_write(const char *path, const char *group, const void *rows, size_t n,
                          size_t row_size, const bt_h5col_t *cols, size_t ncols,
                          bt_errbuf_t *eb);

/* Reads the group back: *rows (malloc'd, zeroed, caller frees) gets *n
 * records; columns missing from the file stay 0. Refuses (BT_ELIMIT) more
 * than max_rows records; BT_EFORMAT for a group or column of another shape. */
bt_err_t bt_h5table_read(const char *path, const char *group, void **rows, size_t *n,
                         size_t row_size, const bt_h5col_t *cols, size_t ncols, size_t max_rows,
                         bt_errbuf_t *eb);

#endif
