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

/* Writes DIR/report.html (atomically). BT_ENOTFOUND when DIR has no results.csv. */
bt_err_t bt_html_sweep_write(const char *dir, bt_errbuf_t *eb);

/* Prints the first n rows of DIR/ranking.csv to out, rounded (4 significant
 * digits; full precision stays in the CSV): the swept values, the ranking
 * metric and a few headline metrics, the winner first. */
bt_err_t bt_html_sweep_print_top(const char *dir, const char *rank_by, size_t n, FILE *out,
                                 bt_errbuf_t *eb);

#endif
