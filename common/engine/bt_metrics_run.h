/* bt_metrics_run — statistics of one recorded run (bt run only).
 *
 * Computed after the run from the full record (trades and equity points)
 * and the bar series (the benchmark), so a sweep's per-job cost does not
 * change: these are not in results.csv, the journal or the wire, only in
 * bt run's metrics.json ("stats"), its summary, returns.csv and
 * symbols.csv. Definitions: docs/metrics.md "Run statistics". */
#ifndef BT_METRICS_RUN_H
#define BT_METRICS_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "bt_engine.h"

/* X(field, description): the scalar statistics, in output order. */
#define BT_RUN_STATS(X)                                                                  \
    X(best_trade, "largest pnl of a closed trade, after commission")                    \
    X(worst_trade, "smallest pnl of a closed trade")                                    \
    X(avg_trade, "mean pnl of closed trades")                                           \
    X(best_trade_return, "largest price return of a closed trade (fraction)")           \
    X(worst_trade_return, "smallest price return of a closed trade")                    \
    X(avg_trade_return, "mean price return of closed trades")                           \
    X(avg_trade_days, "mean duration of closed trades, in days")                        \
    X(max_trade_days, "longest closed trade, in days")                                  \
    X(sqn, "system quality number: sqrt(trades) * mean pnl / sd of pnl")               \
    X(omega, "sum of per-step gains / sum of per-step losses (threshold 0)")           \
    X(ulcer_index, "root mean square of the drawdown fraction over the steps")         \
    X(tail_ratio, "|95th percentile| / |5th percentile| of per-step returns")          \
    X(var_95, "historical value at risk: 5th percentile of per-step returns")          \
    X(cvar_95, "mean of the per-step returns at or below var_95")                      \
    X(alpha, "annualised excess return not explained by beta to the benchmark")        \
    X(beta, "cov(returns, benchmark returns) / var(benchmark returns)")                \
    X(avg_drawdown, "mean depth of the drawdown episodes (fraction of peak)")          \
    X(avg_drawdown_days, "mean duration of the drawdown episodes, peak to recovery")   \
    X(peak_equity, "highest equity of the run")                                         \
    X(long_trades, "closed long trades")                                                \
    X(long_win_rate, "fraction of closed long trades with pnl > 0")                    \
    X(long_pnl, "sum of pnl of closed long trades")                                     \
    X(short_trades, "closed short trades")                                              \
    X(short_win_rate, "fraction of closed short trades with pnl > 0")                  \
    X(short_pnl, "sum of pnl of closed short trades")

/* Closed trades of one symbol (symbols.csv). */
typedef struct bt_sym_stats {
    double trades, wins, pnl, commission, best, worst, long_trades, short_trades;
} bt_sym_stats_t;

/* The return of one calendar month (month 1..12) or year (month 0). */
typedef struct bt_period_ret {
    int year, month;
    double ret; /* end equity / end equity of the period before - 1 */
} bt_period_ret_t;

typedef struct bt_run_stats {
#define BT_RUN_STAT_FIELD(name, desc) double name;
    BT_RUN_STATS(BT_RUN_STAT_FIELD)
#undef BT_RUN_STAT_FIELD
    bt_sym_stats_t *sym;       /* nsym entries, by run series index */
    size_t nsym;
    bt_period_ret_t *month;    /* calendar months in time order */
    size_t nmonth;
    bt_period_ret_t *year;     /* calendar years in time order */
    size_t nyear;
} bt_run_stats_t;

/* Number, names and values of the scalar statistics, by index. */
size_t bt_run_stats_count(void);
const char *bt_run_stats_name(size_t i);
double bt_run_stats_get(const bt_run_stats_t *st, size_t i);

/* Computes the statistics of a run recorded in rec on series[0..nsym-1]
 * with config cfg. BT_ENOMEM if the tables cannot be allocated. */
bt_err_t bt_run_stats_compute(bt_run_stats_t *st, const bt_recorder_t *rec,
                              const bt_series_t *series, size_t nsym, const bt_engine_cfg_t *cfg);
/* The same, streamed: the equity points are given in chunks as the run makes them
 * (bt_recorder_stream_equity), and the trades at the end. nhint: at most that many points will
 * come; only the tails of the per-step returns that VaR, CVaR and the tail ratio need are kept
 * (about 10 % of nhint), or every return when nhint is SIZE_MAX. Same bits as
 * bt_run_stats_compute; BT_ELIMIT from finish when more than nhint points came or a return was
 * NaN (then compute from the whole series). */
typedef struct bt_run_acc bt_run_acc_t;
bt_run_acc_t *bt_run_acc_new(const bt_series_t *series, size_t nsym, const bt_engine_cfg_t *cfg,
                             size_t nhint);
void bt_run_acc_destroy(bt_run_acc_t **self_p);
void bt_run_acc_add(bt_run_acc_t *a, const bt_equity_rec_t *eq, size_t n);
/* Fills st from the points given and rec's trades; once. BT_ENOMEM. */
bt_err_t bt_run_acc_finish(bt_run_acc_t *a, bt_run_stats_t *st, const bt_recorder_t *rec,
                           size_t nsym);
/* Frees the tables; safe on a zeroed or finished st. */
void bt_run_stats_fini(bt_run_stats_t *st);

/* Linear-interpolated percentile p (0..1) of sorted x[0..n-1] (numpy's
 * default): x[k] + (x[k+1] - x[k]) * frac with position (n - 1) * p. */
double bt_run_stats_percentile(const double *sorted, size_t n, double p);

#endif
