/* Unit tests for common/engine/bt_metrics: the name table and the online
 * accumulator, on tiny equity curves whose answers are worked out by hand in
 * the comments (and checked with a pocket calculator / python's statistics
 * module as an independent tool). Definitions: docs/metrics.md. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "bt_metrics.h"
#include "bt_time.h"

#define DAY BT_NS_PER_DAY
/* 2010-01-04, a Monday (any origin works: only differences matter). */
#define T0 (INT64_C(14613) * DAY)

static void s_close(double got, double want, double rel, const char *what)
{
    double tol = rel * fmax(fabs(want), 1e-300);
    cr_assert(fabs(got - want) <= tol, "%s: got %.17g, want %.17g", what, got, want);
}

static void s_all_finite(const bt_metrics_t *m)
{
    for (size_t i = 0; i < bt_metrics_count(); i++)
        cr_assert(isfinite(bt_metrics_get(m, i)), "%s is %g", bt_metrics_name(i),
                  bt_metrics_get(m, i));
}

static void s_run(bt_macc_t *a, double initial, const double *eq, const int64_t *t, size_t n,
                  const bool *exposed)
{
    bt_macc_init(a, initial);
    for (size_t i = 0; i < n; i++)
        bt_macc_step(a, t[i], eq[i], exposed ? exposed[i] : false);
}

/* Equity 100, 110, 99, 120 on four consecutive days, initial cash 100.
 * Returns: r1 = 100/100 - 1 = 0, r2 = 0.1, r3 = 99/110 - 1 = -0.1,
 *          r4 = 120/99 - 1 = 0.21212121...
 * mean = 0.21212121 / 4 = 0.0530303030
 * squared deviations: 0.0028122130 + 0.0022061524 + 0.0234182736 + 0.0253099174
 *                     = 0.0537465565; sample var = / 3 = 0.0179155188;
 *                     sd = 0.1338488656
 * steps/year = (4 - 1) / (3 days / 365.25) = 365.25, sqrt = 19.1115672
 * volatility = 0.1338488656 * 19.1115672 = 2.5580545832
 * sharpe = 0.0530303030 / 0.1338488656 * 19.1115672 = 7.5718940123
 * sortino: downside only r3: down2 = 0.01, sqrt(0.01 / 4) = 0.05;
 *          0.0530303030 / 0.05 * 19.1115672 = 20.2697884811
 * max_drawdown = 1 - 99/110 = 0.1; duration: peak day 1 -> recovery day 3 = 2 days
 * cagr = 1.2^(365.25/3) - 1 = 4368342744.4 (a 3-day span annualises wildly)
 * calmar = cagr / 0.1 */
Test(metrics, daily_known_answer)
{
    const double eq[] = {100, 110, 99, 120};
    const int64_t t[] = {T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY};
    bt_macc_t a;
    s_run(&a, 100, eq, t, 4, NULL);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.05, &m);
    cr_assert_eq(m.final_equity, 120);
    s_close(m.total_return, 0.2, 1e-12, "total_return");
    s_close(m.volatility, 2.558054583211372, 1e-9, "volatility");
    s_close(m.sharpe, 7.571894012324795, 1e-9, "sharpe");
    s_close(m.sortino, 20.269788481108296, 1e-9, "sortino");
    s_close(m.max_drawdown, 0.1, 1e-12, "max_drawdown");
    s_close(m.max_drawdown_duration, 2.0, 1e-12, "max_drawdown_duration");
    s_close(m.cagr, 4368342744.399467, 1e-6, "cagr");
    s_close(m.calmar, 43683427443.99467, 1e-6, "calmar");
    cr_assert_eq(m.benchmark_return, 0.05);
    cr_assert_eq(m.trades, 0);
    cr_assert_eq(m.profit_factor, 0);
    s_all_finite(&m);
    s_close(bt_metrics_steps_per_year(a.steps, a.t_first, a.t_last), 365.25, 1e-12, "spy");
}

/* The same curve with its four points one third of a year apart
 * (121.75 days): years = 1, steps/year = 3, sqrt(3) = 1.7320508.
 * cagr = 120/100 - 1 = 0.2; calmar = 0.2 / 0.1 = 2
 * volatility = 0.1338488656 * 1.7320508 = 0.2318330358
 * sharpe = 0.0530303030 / 0.1338488656 * 1.7320508 = 0.6862305390
 * sortino = 0.0530303030 / 0.05 * 1.7320508 = 1.8370235838
 * drawdown duration: 2 * 121.75 = 243.5 days
 * exposure: exposed on steps 1 and 2 of 4 = 0.5
 * turnover: fills of value 1000 and -500 (sign ignored) = 1500, mean equity
 *           (100 + 110 + 99 + 120) / 4 = 107.25 -> 1500 / 107.25 / 1 = 13.986014
 * commission 1 + 2.5 = 3.5; two rejected orders. */
Test(metrics, yearly_span_cagr_exposure_turnover)
{
    const double eq[] = {100, 110, 99, 120};
    const int64_t third = (int64_t)(121.75 * 86400) * BT_NS_PER_SEC;
    const int64_t t[] = {T0, T0 + third, T0 + 2 * third, T0 + 3 * third};
    const bool ex[] = {true, true, false, false};
    bt_macc_t a;
    s_run(&a, 100, eq, t, 4, ex);
    bt_macc_fill(&a, 1000, 1.0);
    bt_macc_fill(&a, -500, 2.5);
    bt_macc_reject(&a);
    bt_macc_reject(&a);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.0, &m);
    s_close(m.cagr, 0.2, 1e-12, "cagr");
    s_close(m.calmar, 2.0, 1e-12, "calmar");
    s_close(m.volatility, 0.23183303576891107, 1e-9, "volatility");
    s_close(m.sharpe, 0.6862305389879353, 1e-9, "sharpe");
    s_close(m.sortino, 1.8370235837851732, 1e-9, "sortino");
    s_close(m.max_drawdown_duration, 243.5, 1e-12, "max_drawdown_duration");
    s_close(m.exposure, 0.5, 1e-12, "exposure");
    s_close(m.turnover, 13.986013986013987, 1e-12, "turnover");
    s_close(m.commission, 3.5, 1e-12, "commission");
    cr_assert_eq(m.rejected_orders, 2);
    s_all_finite(&m);
}

/* Risk-free rate 5 % a year on the daily curve (365.25 steps/year):
 * rf_step = 1.05^(1/365.25) - 1 = 0.000133589111606
 * sharpe = (0.0530303030 - 0.0001335891) / 0.1338488656 * 19.1115672 = 7.5528195863
 * Exact sortino (threshold rf_step, set before the first step): r1 = 0 and
 *   r3 = -0.1 are below it: down2 = 0.0001335891^2 + 0.1001335891^2;
 *   (mean - rf_step) / sqrt(down2 / 4) * 19.1115672 = 20.1917347232
 * Derived in finish (no set_rf): the downside sums were taken against 0, so
 *   r1 = 0 is missed: 0.1001335891 only -> 20.1917526923 (documented). */
Test(metrics, risk_free_rate)
{
    const double eq[] = {100, 110, 99, 120};
    const int64_t t[] = {T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY};
    double rfs = bt_metrics_rf_step(0.05, 365.25);
    s_close(rfs, 0.0001335891116063248, 1e-9, "rf_step");
    bt_metrics_t m1, m2;
    bt_macc_t a;
    bt_macc_init(&a, 100);
    bt_macc_set_rf(&a, rfs);
    for (int i = 0; i < 4; i++)
        bt_macc_step(&a, t[i], eq[i], false);
    bt_macc_finish(&a, 0.05, 0.0, &m1);
    s_close(m1.sharpe, 7.552819586261159, 1e-9, "sharpe (set_rf)");
    s_close(m1.sortino, 20.191734723167507, 1e-9, "sortino (set_rf)");
    s_run(&a, 100, eq, t, 4, NULL);
    bt_macc_finish(&a, 0.05, 0.0, &m2);
    s_close(m2.sharpe, 7.552819586261159, 1e-9, "sharpe (derived)");
    s_close(m2.sortino, 20.191752692254056, 1e-9, "sortino (derived)");
    /* Volatility does not depend on rf. */
    s_close(m1.volatility, 2.558054583211372, 1e-9, "volatility");
    cr_assert_eq(bt_metrics_rf_step(0.05, 0.0), 0.0);
    cr_assert_eq(bt_metrics_rf_step(0.0, 252.0), 0.0);
}

/* 100, 95, 101, 100, 99, 98, 97 on days 0..6, initial 100.
 * First drawdown: peak 100 (day 0), trough 95 (5 %), recovered day 2: 2 days.
 * Second: peak 101 (day 2), falls to 97 (1 - 97/101 = 3.96 %), never
 * recovered: day 2 -> day 6 = 4 days, longer than the first.
 * max_drawdown = 0.05 (the deepest), max_drawdown_duration = 4 (the longest). */
Test(metrics, drawdown_never_recovers)
{
    const double eq[] = {100, 95, 101, 100, 99, 98, 97};
    int64_t t[7];
    for (int i = 0; i < 7; i++)
        t[i] = T0 + i * DAY;
    bt_macc_t a;
    s_run(&a, 100, eq, t, 7, NULL);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.0, &m);
    s_close(m.max_drawdown, 0.05, 1e-12, "max_drawdown");
    s_close(m.max_drawdown_duration, 4.0, 1e-12, "max_drawdown_duration");
    s_close(m.total_return, -0.03, 1e-12, "total_return");
    /* cagr = 0.97^(365.25/6) - 1 = -0.843... < 0; calmar = cagr / 0.05 < 0 */
    s_close(m.cagr, pow(0.97, 365.25 / 6) - 1, 1e-12, "cagr");
    s_close(m.calmar, m.cagr / 0.05, 1e-12, "calmar");
    s_all_finite(&m);
}

/* A curve that only rises (over a weekend gap, Fri -> Mon) has no drawdown
 * and no drawdown duration (regression: the first header counted the gap
 * between new highs as a duration). A fall on the very first step counts
 * against the initial equity. */
Test(metrics, rising_curve_and_first_step_drawdown)
{
    const double up[] = {100, 101, 102};
    const int64_t t[] = {T0 + 4 * DAY, T0 + 7 * DAY, T0 + 8 * DAY};
    bt_macc_t a;
    s_run(&a, 100, up, t, 3, NULL);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.max_drawdown, 0);
    cr_assert_eq(m.max_drawdown_duration, 0);
    cr_assert_eq(m.calmar, 0);
    cr_assert_eq(m.sortino, 0, "no downside: 0 (r1 = 0 is not below 0)");

    /* initial 100, first equity 90: drawdown 10 %, to the end (1 day). */
    const double down[] = {90, 95};
    s_run(&a, 100, down, t + 1, 2, NULL);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    s_close(m.max_drawdown, 0.1, 1e-12, "max_drawdown");
    s_close(m.max_drawdown_duration, 1.0, 1e-12, "duration");
}

/* Flat equity 100 x 5: all returns 0 -> volatility, sharpe, sortino 0 (not
 * NaN); no drawdown; cagr 0. A constant 10 % per step (initial 100/1.1)
 * differs only by rounding (sd ~ 1e-17): treated as zero variance, so
 * sharpe is 0 rather than ~1e16. */
Test(metrics, zero_variance)
{
    const double flat[] = {100, 100, 100, 100, 100};
    int64_t t[5];
    for (int i = 0; i < 5; i++)
        t[i] = T0 + i * DAY;
    bt_macc_t a;
    s_run(&a, 100, flat, t, 5, NULL);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.02, 0.0, &m);
    cr_assert_eq(m.volatility, 0);
    cr_assert_eq(m.sharpe, 0);
    cr_assert_eq(m.sortino, 0);
    cr_assert_eq(m.cagr, 0);
    cr_assert_eq(m.max_drawdown, 0);
    cr_assert_eq(m.calmar, 0);
    s_all_finite(&m);

    const double grow[] = {100, 110, 121, 133.1, 146.41};
    s_run(&a, 100 / 1.1, grow, t, 5, NULL);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.volatility, 0);
    cr_assert_eq(m.sharpe, 0);
    cr_assert_eq(m.sortino, 0);
    s_close(m.total_return, 146.41 / (100 / 1.1) - 1, 1e-12, "total_return");
}

/* One step, and no step at all: nothing to annualise, so every annualised
 * metric is 0; total_return and final_equity are still defined. */
Test(metrics, one_step_and_none)
{
    bt_macc_t a;
    bt_macc_init(&a, 100);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.03, 0.0, &m);
    cr_assert_eq(m.final_equity, 100);
    cr_assert_eq(m.total_return, 0);
    s_all_finite(&m);

    bt_macc_step(&a, T0, 105, true);
    bt_macc_finish(&a, 0.03, 0.0, &m);
    cr_assert_eq(m.final_equity, 105);
    s_close(m.total_return, 0.05, 1e-12, "total_return");
    cr_assert_eq(m.cagr, 0);
    cr_assert_eq(m.volatility, 0);
    cr_assert_eq(m.sharpe, 0);
    cr_assert_eq(m.sortino, 0);
    cr_assert_eq(m.turnover, 0);
    cr_assert_eq(m.exposure, 1);
    s_all_finite(&m);

    /* Two steps at the same time: zero span, also 0. */
    bt_macc_step(&a, T0, 106, true);
    bt_macc_finish(&a, 0.03, 0.0, &m);
    cr_assert_eq(m.cagr, 0);
    cr_assert_eq(m.sharpe, 0);
}

/* Trades +10, +5: no losses -> profit_factor = BT_PROFIT_FACTOR_CAP (1e9),
 * win_rate 1, avg_win 7.5, avg_loss 0, expectancy 7.5.
 * Trades +30, -10, -20, 0: profit 30, loss 30 -> profit_factor 1;
 * win_rate 1/4; avg_win 30; avg_loss (-10 - 20) / 2 = -15;
 * expectancy (30 - 30) / 4 = 0. */
Test(metrics, trades_and_profit_factor)
{
    bt_macc_t a;
    bt_metrics_t m;
    bt_macc_init(&a, 100);
    bt_macc_trade(&a, 10);
    bt_macc_trade(&a, 5);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.trades, 2);
    cr_assert_eq(m.profit_factor, BT_PROFIT_FACTOR_CAP);
    cr_assert_eq(m.win_rate, 1);
    cr_assert_eq(m.avg_win, 7.5);
    cr_assert_eq(m.avg_loss, 0);
    cr_assert_eq(m.expectancy, 7.5);

    bt_macc_init(&a, 100);
    bt_macc_trade(&a, 30);
    bt_macc_trade(&a, -10);
    bt_macc_trade(&a, -20);
    bt_macc_trade(&a, 0);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.trades, 4);
    cr_assert_eq(m.profit_factor, 1);
    cr_assert_eq(m.win_rate, 0.25);
    cr_assert_eq(m.avg_win, 30);
    cr_assert_eq(m.avg_loss, -15);
    cr_assert_eq(m.expectancy, 0);

    /* Only losses: profit_factor 0; no trades at all: every trade metric 0. */
    bt_macc_init(&a, 100);
    bt_macc_trade(&a, -1);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.profit_factor, 0);
    cr_assert_eq(m.avg_loss, -1);
    bt_macc_init(&a, 100);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.trades, 0);
    cr_assert_eq(m.win_rate, 0);
    cr_assert_eq(m.expectancy, 0);
    cr_assert_eq(m.profit_factor, 0);
}

Test(metrics, names_round_trip)
{
    cr_assert_eq(bt_metrics_count(), 23); /* 20 + skewness, kurtosis, psr */
    bt_metrics_t m;
    memset(&m, 0, sizeof m);
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        const char *name = bt_metrics_name(i);
        cr_assert_eq(bt_metrics_find(name), (int)i, "%s", name);
        cr_assert_gt(strlen(bt_metrics_desc(i)), 0);
        bt_metrics_set(&m, i, (double)i + 0.5);
    }
    for (size_t i = 0; i < bt_metrics_count(); i++)
        cr_assert_eq(bt_metrics_get(&m, i), (double)i + 0.5);
    /* Index order is the list order, and set/get reach the named field. */
    cr_assert_str_eq(bt_metrics_name(0), "final_equity");
    cr_assert_eq(m.final_equity, 0.5);
    cr_assert_eq(m.sharpe, bt_metrics_find("sharpe") + 0.5);
    cr_assert_eq(m.benchmark_return, bt_metrics_find("benchmark_return") + 0.5);
    cr_assert_eq(bt_metrics_find("nope"), -1);
    cr_assert_eq(bt_metrics_find(""), -1);
    cr_assert_eq(bt_metrics_find(NULL), -1);
    cr_assert_eq(bt_metrics_find("Sharpe"), -1, "names are case-sensitive");
    cr_assert(bt_metrics_higher_is_better((size_t)bt_metrics_find("sharpe")));
    cr_assert(bt_metrics_higher_is_better((size_t)bt_metrics_find("cagr")));
    cr_assert(bt_metrics_higher_is_better((size_t)bt_metrics_find("avg_loss")));
    cr_assert_not(bt_metrics_higher_is_better((size_t)bt_metrics_find("max_drawdown")));
    cr_assert_not(bt_metrics_higher_is_better((size_t)bt_metrics_find("max_drawdown_duration")));
    cr_assert_not(bt_metrics_higher_is_better((size_t)bt_metrics_find("volatility")));
}

/* Degenerate curves never give NaN or inf: zero initial equity, equity that
 * goes to zero and negative, a huge gain over one minute (cagr overflows:
 * reported as DBL_MAX), and a NaN equity point (misuse) -> 0. */
Test(metrics, never_nan_or_inf)
{
    bt_macc_t a;
    bt_metrics_t m;
    const int64_t t[] = {T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY};

    const double zeros[] = {0, 0, 0, 0};
    s_run(&a, 0, zeros, t, 4, NULL);
    bt_macc_finish(&a, 0.05, 0.0, &m);
    s_all_finite(&m);

    const double bust[] = {100, 50, 0, -20};
    s_run(&a, 100, bust, t, 4, NULL);
    bt_macc_finish(&a, 0.05, 0.0, &m);
    s_all_finite(&m);
    cr_assert_eq(m.cagr, -1, "final <= 0 -> cagr -1");
    s_close(m.max_drawdown, 1.2, 1e-12, "max_drawdown: 1 - (-20)/100");

    const double jump[] = {100, 1e6};
    const int64_t tm[] = {T0, T0 + BT_NS_PER_MIN};
    s_run(&a, 100, jump, tm, 2, NULL);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    s_all_finite(&m);
    cr_assert_eq(m.cagr, DBL_MAX);

    const double bad[] = {100, NAN, 100, 101};
    s_run(&a, 100, bad, t, 4, NULL);
    bt_macc_finish(&a, 0.0, NAN, &m);
    s_all_finite(&m);
}

/* Higher moments and PSR of the daily_known_answer curve (returns 0, 0.1,
 * -0.1, 0.2121...). Reference values from python3 (statistics only):
 * population moments m_k = mean((r - mean)^k); skew = m3 / m2^1.5,
 * kurt = m4 / m2^2; SR = mean / sample sd;
 * PSR = NormalDist().cdf(SR sqrt(n-1) / sqrt(1 - skew SR + (kurt-1)/4 SR^2)):
 *   skew 0.06378086677079024, kurt 1.6641206045640833,
 *   SR 0.3961953864108266, PSR 0.7536304821920146 */
Test(metrics, moments_and_psr)
{
    const double eq[] = {100, 110, 99, 120};
    const int64_t t[] = {T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY};
    bt_macc_t a;
    s_run(&a, 100, eq, t, 4, NULL);
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.0, &m);
    s_close(m.skewness, 0.06378086677079024, 1e-9, "skewness");
    s_close(m.kurtosis, 1.6641206045640833, 1e-9, "kurtosis");
    s_close(m.psr, 0.7536304821920146, 1e-9, "psr");
    /* the same PSR from the public helper */
    s_close(bt_metrics_psr(0.3961953864108266, 4, 0.06378086677079024, 1.6641206045640833, 0.0),
            0.7536304821920146, 1e-12, "bt_metrics_psr");
}

/* Edge cases: no step, one step (no spread), constant growth (zero variance). */
Test(metrics, psr_edge_cases)
{
    bt_macc_t a;
    bt_metrics_t m;
    bt_macc_init(&a, 100);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.psr, 0.5);
    cr_assert_eq(m.skewness, 0);
    cr_assert_eq(m.kurtosis, 0);
    const double up[] = {101, 102.01, 103.0301, 104.060401};
    const int64_t t[] = {T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY};
    s_run(&a, 100, up, t, 1, NULL);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    cr_assert_eq(m.psr, 0.5, "one return: no evidence");
    s_run(&a, 100, up, t, 4, NULL);
    bt_macc_finish(&a, 0.0, 0.0, &m);
    s_all_finite(&m);
    cr_assert_eq(m.psr, 1.0, "constant positive return: certain");
    cr_assert_eq(bt_metrics_psr(0.1, 1, 0, 3, 0), 0.5);
    cr_assert_eq(bt_metrics_psr(NAN, 100, 0, 3, 0), 0.5);
}

/* Block statistics: 10 steps in 4 blocks hold steps [0,2) [2,5) [5,7) [7,10)
 * (floor(b * 10 / 4)); equity 100 * 1.01^i except one dip, so each block's
 * count, sum and sum of squares can be checked against the returns. */
Test(metrics, block_stats)
{
    double eq[10];
    int64_t t[10];
    double r[10];
    double prev = 100;
    for (int i = 0; i < 10; i++) {
        eq[i] = prev * (i == 6 ? 0.97 : 1.0 + 0.001 * (i + 1));
        r[i] = eq[i] / prev - 1.0;
        prev = eq[i];
        t[i] = T0 + i * DAY;
    }
    bt_macc_t a;
    bt_macc_init(&a, 100);
    bt_macc_set_blocks(&a, 10, 4);
    for (int i = 0; i < 10; i++)
        bt_macc_step(&a, t[i], eq[i], false);
    double out[12];
    cr_assert_eq(bt_macc_blocks(&a, out, 12), 4);
    const int lo[] = {0, 2, 5, 7, 10};
    for (int b = 0; b < 4; b++) {
        double s = 0, q = 0;
        for (int i = lo[b]; i < lo[b + 1]; i++) {
            s += r[i];
            q += r[i] * r[i];
        }
        cr_assert_eq(out[3 * b], lo[b + 1] - lo[b], "block %d count", b);
        s_close(out[3 * b + 1], s, 1e-12, "block sum");
        s_close(out[3 * b + 2], q, 1e-12, "block sum of squares");
    }
    cr_assert_eq(bt_macc_blocks(&a, out, 11), 0, "too small an output");
    /* Fewer steps than blocks: empty blocks stay 0, all steps are counted. */
    bt_macc_init(&a, 100);
    bt_macc_set_blocks(&a, 3, 4);
    for (int i = 0; i < 3; i++)
        bt_macc_step(&a, t[i], eq[i], false);
    cr_assert_eq(bt_macc_blocks(&a, out, 12), 4);
    cr_assert_eq(out[0] + out[3] + out[6] + out[9], 3);
    cr_assert_eq(out[0], 0, "block 0 is [0, 0)");
    /* Off by default. */
    bt_macc_init(&a, 100);
    cr_assert_eq(bt_macc_blocks(&a, out, 12), 0);
}

/* The accumulator keeps raw power sums of the returns; its central moments
 * must agree with a plain two-pass computation (done here, independently)
 * on a long curve whose returns have a mean well away from zero relative to
 * tiny noise: the hardest case for raw sums. 200,000 hourly steps, return
 * 0.002 + 0.0005 * u with u a fixed pseudo-random sequence in [-1, 1). */
Test(metrics, moments_match_two_pass)
{
    enum { N = 200000 };
    static double r[N];
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        r[i] = 0.002 + 0.0005 * u * u * u; /* skewed a little by the cube */
    }
    bt_macc_t a;
    bt_macc_init(&a, 100.0);
    double eq = 100.0;
    for (size_t i = 0; i < N; i++) {
        eq *= 1.0 + r[i];
        bt_macc_step(&a, (int64_t)i * BT_NS_PER_HOUR, eq, true);
    }
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.0, &m);
    /* two-pass on the returns the accumulator sees (eq_i / eq_{i-1} - 1) */
    double prev = 100.0, mean = 0.0;
    eq = 100.0;
    static double seen[N];
    for (size_t i = 0; i < N; i++) {
        eq *= 1.0 + r[i];
        seen[i] = eq / prev - 1.0;
        prev = eq;
        mean += seen[i];
    }
    mean /= N;
    double m2 = 0, m3 = 0, m4 = 0;
    for (size_t i = 0; i < N; i++) {
        double d = seen[i] - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    double skew = sqrt((double)N) * m3 / pow(m2, 1.5);
    double kurt = (double)N * m4 / (m2 * m2);
    double spy = bt_metrics_steps_per_year((double)N, 0, (int64_t)(N - 1) * BT_NS_PER_HOUR);
    double vol = sqrt(m2 / (N - 1)) * sqrt(spy);
    cr_assert_float_eq(m.volatility, vol, 1e-9 * vol, "vol %.17g vs %.17g", m.volatility, vol);
    cr_assert_float_eq(m.skewness, skew, 1e-6 * fabs(skew) + 1e-9, "skew %.17g vs %.17g",
                       m.skewness, skew);
    cr_assert_float_eq(m.kurtosis, kurt, 1e-6 * kurt, "kurt %.17g vs %.17g", m.kurtosis, kurt);
}
