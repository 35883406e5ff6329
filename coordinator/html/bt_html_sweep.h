/* bt_html_sweep — report.html of a sweep or a walk-forward sweep (bt sweep,
 * bt report DIR), drawn from the folder's files: results.csv, ranking.csv,
 * summary.txt, and when present top_equity.csv (the top points re-run by the
 * coordinator), pbo_logits.csv, walkforward.csv and oos_equity.csv.
 * What the page shows: docs/reports.md. */
#ifndef BT_HTML_SWEEP_H
#define BT_HTML_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include "bt_err.h"
#include "bt_html.h"

#define BT_HTML_SWEEP_MAX_ROWS 200000 /* rows of results/ranking drawn (heatmaps, distributions) */

/* Writes DIR/report.html (atomically). BT_ENOTFOUND when DIR has no results.csv. */
bt_err_t bt_html_sweep_write(const char *dir, bt_errbuf_t *eb);

/* Where a caller that holds some tables in memory supplies them (bt sweep's
 * end: results.csv, ranking.csv and pbo_logits.csv from the report it just
 * wrote, not parsed back): table appends the JSON the page shows for the CSV
 * file name ({"cols":[..],"total_rows":N,"rows":[..]} of its first max_rows
 * rows; numbers and nan/inf as null exactly as read back from the file) or
 * returns BT_ENOTFOUND to have the file read. The page is the same bytes
 * either way (tests/integration/test_sweep_report.c). */
typedef struct bt_html_sweep_src {
    void *user;
    bt_err_t (*table)(void *user, const char *name, size_t max_rows, bt_json_t *j,
                      bt_errbuf_t *eb);
} bt_html_sweep_src_t;

/* bt_html_sweep_write with tables from src (NULL: all from files). */
bt_err_t bt_html_sweep_write_src(const char *dir, const bt_html_sweep_src_t *src,
                                 bt_errbuf_t *eb);

/* Prints the first n rows of a ranking table (its header and first rows,
 * as ranking.csv has them) to out, rounded (4 significant digits; full
 * precision stays in the CSV): the swept values, the ranking metric and a
 * few headline metrics, the winner first. */
void bt_html_sweep_print_top_table(const bt_table_t *t, const char *rank_by, size_t n, FILE *out);

#endif
