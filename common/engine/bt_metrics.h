/* bt_metrics — the performance metrics of one backtest.
 *
 * The list below is the single source of metric names: metrics.json, the
 * sweep's CSV columns and the wire codec all iterate BT_METRICS, so a name
 * is spelled once. Every metric is a double (counts are whole numbers).
 * Definitions are in docs/metrics.md. */
#ifndef BT_METRICS_H
#define BT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(field, description) */
#define BT_METRICS(X)                                                                  \
    X(final_equity, "equity at the last step, in account currency")                   \
    X(total_return, "final_equity / initial_cash - 1")                                \
    X(cagr, "compound annual growth rate over the calendar span")                     \
    X(volatility, "annualised standard deviation of per-step returns")                \
    X(sharpe, "annualised mean excess per-step return / its standard deviation")      \
    X(sortino, "annualised mean excess per-step return / downside deviation")         \
    X(max_drawdown, "largest peak-to-trough fall of equity, as a fraction of peak")   \
    X(max_drawdown_duration, "longest time from a peak to its recovery, in days")     \
    X(calmar, "cagr / max_drawdown")                                                  \
    X(trades, "closed round trips")                                                   \
    X(win_rate, "fraction of closed trades with pnl > 0")                             \
    X(avg_win, "mean pnl of winning trades")                                          \
    X(avg_loss, "mean pnl of losing trades (negative)")                               \
    X(profit_factor, "gross profit / gross loss of closed trades")                    \
    X(expectancy, "mean pnl per closed trade")                                        \
    X(exposure, "fraction of steps with any open position")                           \
    X(turnover, "traded value / mean equity, annualised")                             \
    X(commission, "total commission paid")                                            \
    X(rejected_orders, "orders rejected (cash, risk, volume)")                        \
    X(benchmark_return, "buy-and-hold return of the same symbols, equal weight")         \
    X(skewness, "skewness of per-step returns (0 for a symmetric distribution)")      \
    X(kurtosis, "kurtosis of per-step returns, Pearson (3 for a normal distribution)") \
    X(psr, "probabilistic Sharpe ratio: P(true per-step Sharpe > 0), docs/overfitting.md")

typedef struct bt_metrics {
#define BT_METRIC_FIELD(name, desc) double name;
    BT_METRICS(BT_METRIC_FIELD)
#undef BT_METRIC_FIELD
} bt_metrics_t;

/* Number of metrics, and access by index in list order (for codecs/CSV). */
size_t bt_metrics_count(void);
const char *bt_metrics_name(size_t i);
const char *bt_metrics_desc(size_t i);
double bt_metrics_get(const bt_metrics_t *m, size_t i);
void bt_metrics_set(bt_metrics_t *m, size_t i, double v);
/* Index of a metric by name, or -1. */
int bt_metrics_find(const char *name);
/* Whether larger is better for ranking (false for max_drawdown etc.). */
bool bt_metrics_higher_is_better(size_t i);

/* profit_factor when there are no losing trades but some profit (and the
 * ceiling of any profit factor): JSON and CSV never see inf or NaN. */
#define BT_PROFIT_FACTOR_CAP 1e9

/* Steps per year of a run: (steps - 1) / years spanned by t_first..t_last,
 * years = ns / (365.25 days). 0 when steps < 2 or the span is not positive. */
double bt_metrics_steps_per_year(uint64_t steps, int64_t t_first, int64_t t_last);
/* Per-step risk-free rate: (1 + rf)^(1 / steps_per_year) - 1; 0 when
 * steps_per_year <= 0 or rf <= -1. */
double bt_metrics_rf_step(double rf_annual, double steps_per_year);

/* Probabilistic Sharpe ratio (Bailey & Lopez de Prado 2012): the
 * probability that the true per-step Sharpe exceeds sr_star, given the
 * observed per-step (not annualised) Sharpe sr over n returns with skewness
 * skew and Pearson kurtosis kurt:
 *   Phi((sr - sr_star) sqrt(n - 1) / sqrt(1 - skew sr + (kurt - 1) / 4 sr^2)).
 * 0.5 when n < 2 or an input is not finite. */
double bt_metrics_psr(double sr, double n, double skew, double kurt, double sr_star);

/* Online accumulator: fed one equity point per step (and one pnl per closed
 * trade), it yields bt_metrics_t without storing the curve, so a sweep needs
 * no per-bar memory. bt_macc_step is inline because it runs on every step.
 *
 * Risk-free rate: bt_macc_finish derives the per-step rate from its annual
 * rf and the run's own steps per year, so callers need not do anything. A
 * caller that knows the steps per year before the first step may call
 * bt_macc_set_rf(a, bt_metrics_rf_step(rf, spy)) first; finish then uses
 * that rate and the downside deviation is exact (otherwise it is exact up to
 * returns between 0 and rf_step; docs/metrics.md). */
#define BT_MACC_MAX_BLOCKS 32 /* cap on PBO blocks (report.pbo_blocks) */

typedef struct bt_macc {
    double initial;          /* equity before the first step */
    double prev;             /* equity at the previous step */
    int64_t t_first, t_last; /* times of the first and last step */
    uint64_t steps;          /* steps seen */
    double s1, s2;           /* sums of r and r^2 over the steps (central moments in finish) */
    double down2;            /* sum of min(r - rf_step, 0)^2 */
    double rf_step;          /* per-step risk-free rate, set by bt_macc_set_rf */
    double peak;             /* running equity peak */
    int64_t peak_time;       /* time the peak was set */
    double max_dd;           /* largest drawdown fraction so far */
    int64_t max_dd_ns;       /* longest peak-to-recovery span so far */
    uint64_t exposed;        /* steps with an open position */
    double equity_sum;       /* for mean equity (turnover) */
    double traded_value;     /* sum of |qty * price| of fills */
    double commission;       /* commission paid */
    uint64_t ntrades, nwins; /* closed trades, and those with pnl > 0 */
    double gross_profit;     /* sum of pnl > 0 */
    double gross_loss;       /* sum of -pnl for pnl < 0 */
    uint64_t nlosses;        /* closed trades with pnl < 0 */
    uint64_t rejected;       /* rejected orders */
    double down1;            /* sum of (r - rf_step) over the steps counted in down2 */
    uint64_t ndown;          /* steps counted in down2 */
    double s3, s4;           /* sums of r^3 and r^4 */
    /* Block statistics for PBO (docs/overfitting.md): the returns of the
     * first blk_total steps split into blk_n contiguous blocks of nearly
     * equal count; block b holds steps [floor(b N / S), floor((b+1) N / S)). */
    uint32_t blk_n;          /* blocks S, 0 = off */
    uint32_t blk_cur;        /* block of the next step */
    uint64_t blk_total;      /* N: steps the caller announced */
    uint64_t blk_end;        /* steps count that closes block blk_cur; UINT64_MAX = none */
    double blk_mark[3];      /* steps, s1, s2 when the open block began */
    double blk[3 * BT_MACC_MAX_BLOCKS]; /* closed blocks: count, sum r, sum r^2 */
} bt_macc_t;

/* Zeroes a; the equity before the first step (and the first peak) is
 * initial_equity. */
void bt_macc_init(bt_macc_t *a, double initial_equity);
/* Optional: per-step risk-free rate, before the first step (see above). */
void bt_macc_set_rf(bt_macc_t *a, double rf_step);
/* One closed round trip with its pnl (after commission). Inline: the grid
 * fast path's event step (bt_fastev) closes trades with it too. */
static inline void bt_macc_trade(bt_macc_t *a, double pnl)
{
    a->ntrades++;
    if (pnl > 0.0) {
        a->nwins++;
        a->gross_profit += pnl;
    } else if (pnl < 0.0) {
        a->nlosses++;
        a->gross_loss -= pnl;
    }
}
/* One fill: traded_value = |qty * price| (the sign is ignored). */
void bt_macc_fill(bt_macc_t *a, double traded_value, double commission);
/* One rejected order. */
static inline void bt_macc_reject(bt_macc_t *a)
{
    a->rejected++;
}
/* Optional, before the first step: collect per-block return statistics over
 * nsteps steps split into nblocks (2..BT_MACC_MAX_BLOCKS) blocks. Steps past
 * nsteps go to the last block. nblocks = 0 turns it off. */
void bt_macc_set_blocks(bt_macc_t *a, uint64_t nsteps, uint32_t nblocks);
/* Copies the 3 * nblocks block statistics (count, sum, sum of squares per
 * block) into out; returns nblocks (0 if blocks are off). */
uint32_t bt_macc_blocks(const bt_macc_t *a, double *out, size_t out_len);
/* Adds src's fill, trade and rejection counts to dst (not its steps):
 * combining the books of a multi-sleeve run. */
void bt_macc_add_counts(bt_macc_t *dst, const bt_macc_t *src);
/* Annual risk-free rate rf; benchmark_return as computed by the caller. */
void bt_macc_finish(const bt_macc_t *a, double rf, double benchmark_return, bt_metrics_t *out);

/* Closes the blocks whose last step has been seen (called at boundaries only). */
void bt_macc_close_blocks(bt_macc_t *a);

/* Raw power sums keep the per-step work to independent multiply-adds (no
 * division, no dependency chain): per-step returns have |mean| far below
 * their spread, so the central moments computed from them in finish lose
 * nothing measurable (test_metrics checks them against two-pass values).
 * Block sums are differences of the running sums at block boundaries. */
/* bt_macc_step without closing PBO blocks: for a caller that runs a stretch
 * of steps known not to reach a->blk_end (the grid fast path, bt_batch, so
 * its loop has no call and keeps the sums in registers). Block closing only
 * reads steps, s1 and s2, so doing it after the rest changes nothing. */
static inline void bt_macc_step_core(bt_macc_t *a, int64_t t, double equity, bool exposed)
{
    if (a->steps == 0) {
        a->t_first = t;
        a->peak_time = t;
    }
    double r = a->prev != 0.0 ? equity / a->prev - 1.0 : 0.0;
    a->steps++;
    double r2 = r * r;
    a->s1 += r;
    a->s2 += r2;
    a->s3 += r2 * r;
    a->s4 += r2 * r2;
    double ex = r - a->rf_step;
    /* Branch-free (the sign of a return is a coin flip for the branch
     * predictor): d = ex below 0, else +0, which adds nothing to either
     * sum (+0 squared is +0; down1 is +0 or negative, never -0). */
    double d = ex < 0.0 ? ex : 0.0;
    a->down2 += d * d;
    a->down1 += d;
    a->ndown += ex < 0.0;
    if (equity >= a->peak) {
        /* Recovery: only when the previous step was below the peak, so a
         * curve that only rises has no drawdown duration. */
        if (a->prev < a->peak && t - a->peak_time > a->max_dd_ns)
            a->max_dd_ns = t - a->peak_time;
        a->peak = equity;
        a->peak_time = t;
    } else if (equity < a->peak * (1.0 - a->max_dd) && a->peak > 0.0) {
        a->max_dd = 1.0 - equity / a->peak; /* a new deepest drawdown: rare */
    }
    a->exposed += exposed;
    a->equity_sum += equity;
    a->prev = equity;
    a->t_last = t;
}

static inline void bt_macc_step(bt_macc_t *a, int64_t t, double equity, bool exposed)
{
    bt_macc_step_core(a, t, equity, exposed);
    if (a->steps >= a->blk_end)
        bt_macc_close_blocks(a);
}

#endif
