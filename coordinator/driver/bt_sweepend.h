/* bt_sweepend — the pieces of the end of a sweep (after its last result)
 * that work from the report in memory instead of the files just written
 * (docs/sweep.md "End of the sweep"):
 *
 *   - the whole sweep's PBO/DSR on a second thread while the CSVs are
 *     written and the top points re-run (bt_sweepend_pbo_start / _join);
 *   - the ranking's header and first rows as a table (the top-5 print and
 *     the top points' re-runs), from the same text the file has;
 *   - report.html with results, ranking and the PBO logits from memory (the
 *     tables' JSON made while the CSVs are written): the same bytes `bt
 *     report DIR` writes from the files. */
#ifndef BT_SWEEPEND_H
#define BT_SWEEPEND_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_err.h"
#include "bt_html.h"
#include "bt_report.h"

typedef struct bt_sweepend_pbo bt_sweepend_pbo_t;

/* Starts bt_report_overfit_warm(r) on a thread. NULL when no thread could be
 * started (the summary then computes it itself). r must not change, and its
 * summary, logits and overfit figures must not be asked for, until join. */
bt_sweepend_pbo_t *bt_sweepend_pbo_start(const bt_report_t *r);
/* Waits for it; NULL is fine. */
void bt_sweepend_pbo_join(bt_sweepend_pbo_t **self_p);

/* The header and first rows (at most max_rows) of ranking.csv as written by
 * the last bt_report_write_tables, parsed as bt_table_read would the file. */
bt_err_t bt_sweepend_top_table(const bt_report_t *r, size_t max_rows, bt_table_t *t,
                               bt_errbuf_t *eb);

/* The top points' re-run for report.html (bt_sweepjob_top_equity_table(dir,
 * t, ranking_path)) on a thread, while the CSVs are written: it alone uses
 * HDF5 until join. t and the strings must live until join. NULL when no
 * thread could be started (run it in place then). */
typedef struct bt_sweepend_top bt_sweepend_top_t;
bt_sweepend_top_t *bt_sweepend_top_start(const char *dir, const bt_table_t *t,
                                         const char *ranking_path);
/* Waits for it and returns its result (eb: its message); NULL gives BT_OK. */
bt_err_t bt_sweepend_top_join(bt_sweepend_top_t **self_p, bt_errbuf_t *eb);

/* report.html's results and ranking tables built while bt_report_write_tables
 * writes the CSVs (each number formatted once for both), and the PBO logits
 * from the report's cache. */
typedef struct bt_sweepend_tee bt_sweepend_tee_t;
bt_sweepend_tee_t *bt_sweepend_tee_new(const bt_report_t *r);
void bt_sweepend_tee_destroy(bt_sweepend_tee_t **self_p);
/* pbo_logits.csv was just written from the report: the page takes the logits
 * from it too (else from the folder's file, if any). */
void bt_sweepend_tee_logits(bt_sweepend_tee_t *t);
/* For bt_report_write_tables (NULL for a NULL t). */
const bt_report_tee_t *bt_sweepend_tee(const bt_sweepend_tee_t *t);

/* DIR/report.html with t's tables (t NULL: all from the files). */
bt_err_t bt_sweepend_html(const bt_sweepend_tee_t *t, const char *dir, bt_errbuf_t *eb);

#endif
