/* bt_runstats — bt run's outputs of the run statistics (bt_metrics_run):
 * the "stats" object of metrics.json, the summary lines, returns.csv
 * (monthly and yearly returns) and symbols.csv (per-symbol breakdown).
 * Columns and definitions: docs/metrics.md "Run statistics". */
#ifndef BT_RUNSTATS_H
#define BT_RUNSTATS_H

#include <stdio.h>

#include "bt_err.h"
#include "bt_metrics_run.h"

/* Writes `  "stats": {...},` (two-space indent, trailing comma and newline). */
void bt_runstats_json(FILE *f, const bt_run_stats_t *st);
/* Prints one line per statistic, names padded to width w (0 = own width). */
void bt_runstats_print(FILE *f, const bt_run_stats_t *st, int w);
/* Writes dir/returns.csv and dir/symbols.csv (series names the symbols). */
bt_err_t bt_runstats_write(const char *dir, const bt_series_t *series, const bt_run_stats_t *st,
                           bt_errbuf_t *eb);

#endif
