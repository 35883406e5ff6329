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

/* The equity curve as the page draws it, gathered from the points as they come (a run's
 * points need not be in memory together): the last point and deepest drawdown of each of up to
 * 2,000 buckets of the expected count, and the last point of each UTC day. */
typedef struct bt_html_thin {
    size_t expect, n;          /* points expected (fixes the buckets), points seen */
    int64_t t0, t1;            /* first and last time */
    double e0;                 /* first equity */
    size_t nb, b;              /* buckets, buckets done */
    size_t bend;               /* points up to the open bucket's end: (b + 1) * expect / nb */
    int64_t *bt;               /* per bucket: its last point's time, equity, deepest drawdown */
    double *beq, *bdd;
    size_t *bi;                /* per bucket: its last point's index (a hint for the benchmark) */
    double *bbench;            /* per bucket: the benchmark there (bars given), else NULL */
    double ddmax;              /* deepest drawdown of the open bucket */
    size_t nday, dcap;         /* day ends kept, room */
    int64_t *dt;               /* per day end: time, equity and point index */
    double *deq;
    size_t *di;
    double *dbench;            /* per day end: the benchmark (bars given) */
    int64_t next_day;          /* first ns of the day after the last point's */
    bt_equity_rec_t prev;      /* the last point (a day end if the next one is in a later day) */
    const bt_series_t *bars;   /* bt_html_thin_set_bars: the run's bars, nbars symbols */
    size_t nbars;
    struct bt_html_bench *bench; /* the benchmark, from the first point on (bars given) */
    bool bad, done;            /* out of memory or more points than expected; finished */
} bt_html_thin_t;

/* n: the number of points that will be added. NULL when out of memory. */
bt_html_thin_t *bt_html_thin_new(size_t n);
/* Before the first point: the run's bars, for the benchmark at each point kept, computed as the
 * points come (report.html then looks up no bars of a long run; the same values). */
void bt_html_thin_set_bars(bt_html_thin_t *t, const bt_series_t *series, size_t nsym);
void bt_html_thin_destroy(bt_html_thin_t **self_p);
void bt_html_thin_add(bt_html_thin_t *t, const bt_equity_rec_t *eq, size_t n);
/* Ends the curve; false if the count was not the one expected or memory ran out (then build
 * another from the points: the buckets would differ). */
bool bt_html_thin_finish(bt_html_thin_t *t);
/* The curve of a bt run folder: from DIR/run.h5 when present, else DIR/equity.csv. NULL with eb
 * set on failure. */
bt_html_thin_t *bt_html_thin_read(const char *dir, bt_errbuf_t *eb);
/* The equity points of a bt run folder (run.h5, else equity.csv) into *eq (malloc'd). */
bt_err_t bt_html_run_read_equity(const char *dir, bt_equity_rec_t **eq, size_t *n,
                                 bt_errbuf_t *eb);

/* What the page is drawn from besides DIR/metrics.json and DIR/provenance.txt. */
typedef struct bt_html_run_in {
    const bt_html_thin_t *thin; /* the equity curve (finished) */
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
/* Symbols, and each one's changes kept so far into out[nsym] (a reader on another thread may
 * read that many once told through a lock: kept changes never move). */
size_t bt_run_pos_nsym(const bt_run_pos_t *self);
void bt_run_pos_counts(const bt_run_pos_t *self, size_t *out);

/* DIR/run.h5: the per-bar series of bt run in HDF5, one pandas "fixed" frame
 * /equity (bt_h5table): index time (ns since 1970-01-01 UTC), columns cash,
 * positions_value, equity, drawdown (the columns of equity.csv at full
 * precision), then qty_SYM and value_SYM per symbol (pos non-NULL: the
 * signed quantity held after the step and quantity x the symbol's last
 * close). pd.read_hdf(path, "equity") reads it (docs/reports.md). */
#define BT_HTML_RUN_H5 "run.h5"
/* Written as the run goes: rows added in order, chunked datasets (bt_h5table_open).
 * nhint: the rows expected (small runs get small chunks). nch: each symbol's change count
 * published with these rows (bt_run_pos_counts), or NULL to read the collector's own. */
typedef struct bt_run_h5 bt_run_h5_t;
bt_run_h5_t *bt_run_h5_open(const char *dir, const bt_run_pos_t *pos, const bt_series_t *series,
                            size_t nsym, size_t nhint, bt_errbuf_t *eb);
bt_err_t bt_run_h5_add(bt_run_h5_t *w, const bt_equity_rec_t *eq, size_t n, const size_t *nch,
                       bt_errbuf_t *eb);
/* Writes the rest, closes and renames into place; frees w. */
bt_err_t bt_run_h5_commit(bt_run_h5_t **self_p, bt_errbuf_t *eb);
void bt_run_h5_abort(bt_run_h5_t **self_p);

/* Rebuilds DIR/report.html from a bt run folder: equity from DIR/run.h5 when
 * present, else DIR/equity.csv; trades.csv; the bars from the store named in
 * provenance.txt when it is there and its data hash still matches (else the
 * page says why there are no price charts). */
bt_err_t bt_html_run_rebuild(const char *dir, bt_errbuf_t *eb);

#endif
