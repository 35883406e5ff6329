/* bt_html_sweep — report.html of a sweep or a walk-forward sweep (bt sweep,
 * bt report DIR), drawn from the folder's files: results.csv, ranking.csv,
 * summary.txt, and when present top_equity.csv (the top points re-run by the
 * coordinator), pbo_logits.csv, walkforward.csv and oos_equity.csv.
 * What the page shows: docs/reports.md. */
#ifndef BT_HTML_SWEEP_H
#define BT_HTML_SWEEP_H

#include "bt_err.h"

/* Writes DIR/report.html (atomically). BT_ENOTFOUND when DIR has no results.csv. */
bt_err_t bt_html_sweep_write(const char *dir, bt_errbuf_t *eb);

#endif
