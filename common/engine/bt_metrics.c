/* bt_metrics — metric table helpers and the online accumulator's finish.
 * Every definition is written out in docs/metrics.md; keep the two in step. */
#include "bt_metrics.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define S_NS_PER_YEAR (365.25 * 86400.0 * 1e9)
#define S_NS_PER_DAY (86400.0 * 1e9)

typedef struct {
    const char *name;      /* field name, as in BT_METRICS */
    const char *desc;      /* one-line description */
    size_t offset;         /* offsetof(bt_metrics_t, name) */
} s_metric_info_t;

static const s_metric_info_t s_metrics[] = {
#define S_METRIC_INFO(field, text) {#field, text, offsetof(bt_metrics_t, field)},
    BT_METRICS(S_METRIC_INFO)
#undef S_METRIC_INFO
};
#define S_NMETRICS (sizeof s_metrics / sizeof s_metrics[0])

/* Metrics where a smaller value ranks higher. */
static const char *const s_lower_is_better[] = {
    "volatility", "max_drawdown", "max_drawdown_duration", "turnover", "commission",
    "rejected_orders",
};

size_t bt_metrics_count(void)
{
    return S_NMETRICS;
}

const char *bt_metrics_name(size_t i)
{
    assert(i < S_NMETRICS);
    return s_metrics[i].name;
}

const char *bt_metrics_desc(size_t i)
{
    assert(i < S_NMETRICS);
    return s_metrics[i].desc;
}

double bt_metrics_get(const bt_metrics_t *m, size_t i)
{
    assert(m && i < S_NMETRICS);
    double v;
    memcpy(&v, (const char *)m + s_metrics[i].offset, sizeof v);
    return v;
}

void bt_metrics_set(bt_metrics_t *m, size_t i, double v)
{
    assert(m && i < S_NMETRICS);
    memcpy((char *)m + s_metrics[i].offset, &v, sizeof v);
}

int bt_metrics_find(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < S_NMETRICS; i++)
        if (strcmp(s_metrics[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool bt_metrics_higher_is_better(size_t i)
{
    assert(i < S_NMETRICS);
    for (size_t k = 0; k < sizeof s_lower_is_better / sizeof s_lower_is_better[0]; k++)
        if (strcmp(s_metrics[i].name, s_lower_is_better[k]) == 0)
            return false;
    return true;
}

double bt_metrics_steps_per_year(uint64_t steps, int64_t t_first, int64_t t_last)
{
    if (steps < 2 || t_last <= t_first)
        return 0.0;
    double years = ((double)t_last - (double)t_first) / S_NS_PER_YEAR;
    return (double)(steps - 1) / years;
}

double bt_metrics_rf_step(double rf_annual, double steps_per_year)
{
    if (!(steps_per_year > 0.0) || !(rf_annual > -1.0) || rf_annual == 0.0)
        return 0.0;
    /* expm1/log1p keep precision for small rates. */
    return expm1(log1p(rf_annual) / steps_per_year);
}

void bt_macc_init(bt_macc_t *a, double initial_equity)
{
    assert(a);
    memset(a, 0, sizeof *a);
    a->initial = initial_equity;
    a->prev = initial_equity;
    a->peak = initial_equity;
    a->blk_end = UINT64_MAX; /* no blocks unless bt_macc_set_blocks */
}

void bt_macc_set_rf(bt_macc_t *a, double rf_step)
{
    assert(a && a->steps == 0);
    a->rf_step = isfinite(rf_step) ? rf_step : 0.0;
}

void bt_macc_set_blocks(bt_macc_t *a, uint64_t nsteps, uint32_t nblocks)
{
    assert(a && a->steps == 0 && nblocks <= BT_MACC_MAX_BLOCKS && nblocks != 1);
    memset(a->blk, 0, sizeof a->blk);
    memset(a->blk_mark, 0, sizeof a->blk_mark);
    a->blk_n = nblocks;
    a->blk_cur = 0;
    a->blk_total = nsteps;
    a->blk_end = nblocks ? nsteps / nblocks : UINT64_MAX;
    if (nblocks && a->blk_end == 0)
        bt_macc_close_blocks(a); /* fewer steps than blocks: leading empty blocks */
}

void bt_macc_close_blocks(bt_macc_t *a)
{
    while (a->blk_cur < a->blk_n && (double)a->steps >= (double)a->blk_end) {
        double *b = &a->blk[3 * a->blk_cur];
        b[0] = (double)a->steps - a->blk_mark[0];
        b[1] = a->s1 - a->blk_mark[1];
        b[2] = a->s2 - a->blk_mark[2];
        a->blk_mark[0] = (double)a->steps;
        a->blk_mark[1] = a->s1;
        a->blk_mark[2] = a->s2;
        a->blk_cur++;
        a->blk_end = a->blk_cur < a->blk_n ? (a->blk_total * (a->blk_cur + 1)) / a->blk_n : 0;
    }
    if (a->blk_cur >= a->blk_n)
        a->blk_end = UINT64_MAX;
}

uint32_t bt_macc_blocks(const bt_macc_t *a, double *out, size_t out_len)
{
    assert(a);
    if (!a->blk_n || !out || out_len < 3u * a->blk_n)
        return 0;
    memcpy(out, a->blk, 3u * a->blk_n * sizeof *out);
    if (a->blk_cur < a->blk_n) { /* the run stopped inside a block: it holds the rest */
        double *b = &out[3 * a->blk_cur];
        b[0] = (double)a->steps - a->blk_mark[0];
        b[1] = a->s1 - a->blk_mark[1];
        b[2] = a->s2 - a->blk_mark[2];
    }
    return a->blk_n;
}

double bt_metrics_psr(double sr, double n, double skew, double kurt, double sr_star)
{
    if (!(n >= 2.0) || !isfinite(sr) || !isfinite(sr_star))
        return 0.5;
    double var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr;
    if (!(var > 1e-12))
        var = 1e-12; /* the formula's variance is never below 0 for real data; guard rounding */
    double z = (sr - sr_star) * sqrt(n - 1.0) / sqrt(var);
    return 0.5 * erfc(-z / sqrt(2.0));
}

void bt_macc_fill(bt_macc_t *a, double traded_value, double commission)
{
    assert(a);
    a->traded_value += fabs(traded_value);
    a->commission += commission;
}

/* JSON and CSV never see NaN or inf: NaN -> 0, +-inf -> +-DBL_MAX. Only
 * non-finite input (API misuse) can produce them. */
static double s_finite(double v)
{
    if (isnan(v))
        return 0.0;
    if (isinf(v))
        return v > 0 ? DBL_MAX : -DBL_MAX;
    return v;
}

void bt_macc_finish(const bt_macc_t *a, double rf, double benchmark_return, bt_metrics_t *out)
{
    assert(a && out);
    memset(out, 0, sizeof *out);
    const uint64_t n = a->steps;
    const double final = n ? a->prev : a->initial;
    const double spy = bt_metrics_steps_per_year(n, a->t_first, a->t_last);
    const double years = spy > 0.0 ? ((double)a->t_last - (double)a->t_first) / S_NS_PER_YEAR : 0.0;

    out->final_equity = final;
    out->total_return = a->initial > 0.0 ? final / a->initial - 1.0 : 0.0;
    if (years > 0.0 && a->initial > 0.0)
        out->cagr = final <= 0.0 ? -1.0 : pow(final / a->initial, 1.0 / years) - 1.0;

    /* Per-step risk-free rate: the caller's (set before the first step) or
     * derived here from the annual rate and this run's steps per year. The
     * downside sums were taken against a->rf_step; shift them by c to the
     * rate used: sum (e - c)^2 = down2 - 2 c down1 + c^2 ndown. */
    const double rf_step = a->rf_step != 0.0 ? a->rf_step : bt_metrics_rf_step(rf, spy);
    const double c = rf_step - a->rf_step;
    double down2 = a->down2 - 2.0 * c * a->down1 + c * c * (double)a->ndown;
    if (down2 < 0.0)
        down2 = 0.0;

    /* Central moments from the raw sums: mean, and the sums of squared,
     * cubed and fourth-power deviations from it. */
    const double nn = (double)n;
    const double mean_r = n ? a->s1 / nn : 0.0;
    double m2_r = a->s2 - mean_r * a->s1;
    /* Below 1e-9 of the raw sum, m2 is the rounding left by cancelling a
     * constant return against itself: zero variance (std < 3e-5 of rms r). */
    if (m2_r < 1e-9 * a->s2)
        m2_r = 0.0;
    const double m3_r = a->s3 - 3.0 * mean_r * a->s2 + 2.0 * nn * mean_r * mean_r * mean_r;
    const double m4_r = a->s4 - 4.0 * mean_r * a->s3 + 6.0 * mean_r * mean_r * a->s2 -
                        3.0 * nn * mean_r * mean_r * mean_r * mean_r;
    if (spy > 0.0) {
        double sd = sqrt(m2_r / (double)(n - 1));
        /* A spread below 1e-12 of the mean return is rounding noise of a
         * constant-return curve: treat it as zero variance. */
        if (!(sd > 1e-12 * fabs(mean_r)))
            sd = 0.0;
        double ann = sqrt(spy);
        out->volatility = sd * ann;
        double excess = mean_r - rf_step;
        if (sd > 0.0)
            out->sharpe = excess / sd * ann;
        /* Higher moments (population, as in Bailey & Lopez de Prado):
         * skew = m3 / m2^1.5 * sqrt(n), kurt = n m4 / m2^2. */
        if (sd > 0.0 && m2_r > 0.0) {
            out->skewness = sqrt(nn) * m3_r / pow(m2_r, 1.5);
            out->kurtosis = nn * m4_r / (m2_r * m2_r);
            out->psr = bt_metrics_psr(excess / sd, nn, out->skewness, out->kurtosis, 0.0);
        } else {
            out->kurtosis = 0.0;
            out->psr = excess > 0.0 ? 1.0 : excess < 0.0 ? 0.0 : 0.5;
        }
        double dd = sqrt(down2 / (double)n);
        if (dd > 1e-12 * fabs(mean_r) && dd > 0.0)
            out->sortino = excess / dd * ann;
    }

    if (spy <= 0.0)
        out->psr = 0.5; /* fewer than 2 returns: no evidence either way */
    out->max_drawdown = a->max_dd;
    int64_t dur = a->max_dd_ns;
    if (n && a->prev < a->peak && a->t_last - a->peak_time > dur)
        dur = a->t_last - a->peak_time; /* never recovered: peak to the end */
    out->max_drawdown_duration = (double)dur / S_NS_PER_DAY;
    if (a->max_dd > 0.0)
        out->calmar = out->cagr / a->max_dd;

    out->trades = (double)a->ntrades;
    if (a->ntrades) {
        out->win_rate = (double)a->nwins / (double)a->ntrades;
        out->expectancy = (a->gross_profit - a->gross_loss) / (double)a->ntrades;
    }
    if (a->nwins)
        out->avg_win = a->gross_profit / (double)a->nwins;
    if (a->nlosses)
        out->avg_loss = -a->gross_loss / (double)a->nlosses;
    if (a->gross_loss > 0.0) {
        out->profit_factor = a->gross_profit / a->gross_loss;
        if (out->profit_factor > BT_PROFIT_FACTOR_CAP)
            out->profit_factor = BT_PROFIT_FACTOR_CAP;
    } else if (a->gross_profit > 0.0) {
        out->profit_factor = BT_PROFIT_FACTOR_CAP;
    }

    if (n)
        out->exposure = (double)a->exposed / (double)n;
    double mean_equity = n ? a->equity_sum / (double)n : 0.0;
    if (years > 0.0 && mean_equity > 0.0)
        out->turnover = a->traded_value / mean_equity / years;
    out->commission = a->commission;
    out->rejected_orders = (double)a->rejected;
    out->benchmark_return = benchmark_return;

    for (size_t i = 0; i < S_NMETRICS; i++)
        bt_metrics_set(out, i, s_finite(bt_metrics_get(out, i)));
}

void bt_macc_add_counts(bt_macc_t *dst, const bt_macc_t *src)
{
    dst->traded_value += src->traded_value;
    dst->commission += src->commission;
    dst->ntrades += src->ntrades;
    dst->nwins += src->nwins;
    dst->nlosses += src->nlosses;
    dst->gross_profit += src->gross_profit;
    dst->gross_loss += src->gross_loss;
    dst->rejected += src->rejected;
}
