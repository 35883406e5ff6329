/* bt_jhead — the text of a sweep journal's header and its metric columns.
 *
 * The header is "bt sweep journal 4" (version 2 with the records in
 * compressed groups, bt_journal_set_grouped; version 3 had an older group
 * coding, bt_jgroup.c), the sweep's identity lines (from
 * bt_plan) and "metrics NAME,NAME,...": the journal's metric columns, by
 * name, in the order every record of that journal stores them. On --resume
 * the columns are mapped to this build's metrics by name, and records keep
 * being written in the journal's own order, so adding or reordering a metric
 * never shifts an old journal's columns. A version-1 header (written before
 * the metrics line existed) has the 23 columns that version 1 wrote.
 *
 * A journal that lacks a metric this build computes cannot fill that column
 * for its finished jobs: it is refused, naming the metric. */
#ifndef BT_JHEAD_H
#define BT_JHEAD_H

#include <stddef.h>

#include "bt_err.h"
#include "bt_journal.h"
#include "bt_metrics.h"

typedef struct bt_jhead {
    char text[BT_JOURNAL_MAX_HEADER + 1];      /* the header, as written or found */
    unsigned version;                          /* 1 to 4 (3, 4: records in compressed groups) */
    size_t ncols;                              /* the journal's metric columns */
    int metric_of_col[BT_JOURNAL_MAX_METRICS]; /* column -> BT_METRICS index, -1 if unknown here */
    int col_of_metric[BT_JOURNAL_MAX_METRICS]; /* BT_METRICS index -> column */
} bt_jhead_t;

/* A new sweep's header: identity lines + this build's metric columns. */
bt_err_t bt_jhead_make(bt_jhead_t *h, const char *identity, bt_errbuf_t *eb);

/* The header of the journal in dir, checked against identity (BT_ECONFIG:
 * "written for a different sweep"), its columns mapped by name (BT_ECONFIG
 * naming a metric the journal lacks; BT_EVERSION: a version this bt does not
 * read). Errors of
 * the file itself (missing, not a journal, torn) come from bt_journal_open. */
bt_err_t bt_jhead_load(bt_jhead_t *h, const char *dir, const char *identity, bt_errbuf_t *eb);

/* This build's metrics (BT_METRICS order) into the journal's columns;
 * columns this build does not know are written as NaN. Returns ncols. */
size_t bt_jhead_to_cols(const bt_jhead_t *h, const bt_metrics_t *m, double *cols);
/* A record's n column values into this build's metrics (NaN past n). */
void bt_jhead_from_cols(const bt_jhead_t *h, const double *cols, size_t n, bt_metrics_t *m);

#endif
