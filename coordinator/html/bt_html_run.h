/* bt_html_run — report.html of one backtest (bt run, bt report DIR).
 *
 * The page shows the equity curve beside a buy-and-hold benchmark (equal
 * weights over the run's symbols, bought at their first close in the run,
 * scaled to the first equity point), the underwater curve, the price of each
 * symbol with entry and exit markers, monthly and yearly returns, rolling
 * Sharpe and volatility, the distribution of trade returns, and the metrics
 * table (every key of metrics.json, in file order) with provenance.
 * Long series are thinned for display only: docs/reports.md. */
#ifndef BT_HTML_RUN_H
#define BT_HTML_RUN_H

#include <stddef.h>

#include "bt_err.h"
#include "bt_engine.h"
#include "bt_recorder.h"
#include "bt_series.h"

/* What the page is drawn from besides DIR/metrics.json and DIR/provenance.txt. */
typedef struct bt_html_run_in {
    const bt_equity_rec_t *eq; /* the equity curve, neq points */
    size_t neq;
    const bt_trade_rec_t *tr; /* round trips (sym indexes series) */
    size_t ntr;
    const bt_series_t *series; /* the run's bars, or NULL: no price charts, no benchmark */
    size_t nsym;
    const char *note; /* NULL, or why series is missing (shown on the page) */
} bt_html_run_in_t;

/* Writes DIR/report.html (atomically) from in and DIR/metrics.json,
 * DIR/provenance.txt. */
bt_err_t bt_html_run_write(const char *dir, const bt_html_run_in_t *in, bt_errbuf_t *eb);

/* Each symbol's position over a run, collected from the engine's per-step
 * hook: bt_run_pos_step is a bt_step_fn (spec.on_step, on_step_user = the
 * collector); it keeps only the changes (time, signed quantity), each symbol
 * written by the one sleeve or book that trades it. */
typedef struct bt_run_pos bt_run_pos_t;
bt_run_pos_t *bt_run_pos_new(size_t nsym);
void bt_run_pos_destroy(bt_run_pos_t **self_p);
void bt_run_pos_step(void *user, const bt_step_info_t *info);
/* BT_ENOMEM if a change could not be kept. */
bt_err_t bt_run_pos_error(const bt_run_pos_t *self);

/* DIR/run.h5: the per-bar series of bt run in HDF5, one pandas "fixed" frame
 * /equity (bt_h5table): index time (ns since 1970-01-01 UTC), columns cash,
 * positions_value, equity, drawdown (the columns of equity.csv at full
 * precision), then qty_SYM and value_SYM per symbol (pos non-NULL: the
 * signed quantity held after the step and quantity x the symbol's last
 * close). pd.read_hdf(path, "equity") reads it (docs/reports.md). */
#define BT_HTML_RUN_H5 "run.h5"
bt_err_t bt_html_run_h5_write(const char *dir, const bt_equity_rec_t *eq, size_t n,
                              const bt_run_pos_t *pos, const bt_series_t *series, size_t nsym,
                              bt_errbuf_t *eb);

/* Rebuilds DIR/report.html from a bt run folder: equity from DIR/run.h5 when
 * present, else DIR/equity.csv; trades.csv; the bars from the store named in
 * provenance.txt when it is there and its data hash still matches (else the
 * page says why there are no price charts). */
bt_err_t bt_html_run_rebuild(const char *dir, bt_errbuf_t *eb);

#endif
