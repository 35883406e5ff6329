/* bt_metrics_run — statistics of one recorded run. See bt_metrics_run.h
 * and docs/metrics.md "Run statistics". Not on any hot path: run once per
 * bt run, over arrays it allocates itself. */
#include "bt_metrics_run.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_time.h"

#define S_NS_PER_DAY (86400.0 * 1e9)

typedef struct {
    const char *name;
    size_t offset;
} s_stat_info_t;

static const s_stat_info_t s_stats[] = {
#define S_STAT_INFO(field, text) {#field, offsetof(bt_run_stats_t, field)},
    BT_RUN_STATS(S_STAT_INFO)
#undef S_STAT_INFO
};
#define S_NSTATS (sizeof s_stats / sizeof s_stats[0])

size_t bt_run_stats_count(void)
{
    return S_NSTATS;
}

const char *bt_run_stats_name(size_t i)
{
    assert(i < S_NSTATS);
    return s_stats[i].name;
}

double bt_run_stats_get(const bt_run_stats_t *st, size_t i)
{
    assert(st && i < S_NSTATS);
    double v;
    memcpy(&v, (const char *)st + s_stats[i].offset, sizeof v);
    return v;
}

static void s_set(bt_run_stats_t *st, size_t i, double v)
{
    memcpy((char *)st + s_stats[i].offset, &v, sizeof v);
}

void bt_run_stats_fini(bt_run_stats_t *st)
{
    if (!st)
        return;
    free(st->sym);
    free(st->month);
    free(st->year);
    st->sym = NULL;
    st->month = st->year = NULL;
    st->nsym = st->nmonth = st->nyear = 0;
}

double bt_run_stats_percentile(const double *x, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    double pos = (double)(n - 1) * p;
    size_t k = (size_t)floor(pos);
    if (k + 1 >= n)
        return x[n - 1];
    return x[k] + (x[k + 1] - x[k]) * (pos - (double)k);
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Trade statistics: best/worst/average, durations, SQN, long/short, per symbol. */
static void s_trades(bt_run_stats_t *st, const bt_recorder_t *rec)
{
    double n = 0, sum = 0, sum2 = 0, rsum = 0, dsum = 0, lw = 0, sw = 0;
    for (size_t i = 0; i < rec->ntrades; i++) {
        const bt_trade_rec_t *t = &rec->trades[i];
        if (t->open)
            continue;
        double ret = t->entry_price != 0 ? t->exit_price / t->entry_price - 1.0 : 0.0;
        if (t->qty < 0)
            ret = -ret;
        double days = (double)(t->exit_time - t->entry_time) / S_NS_PER_DAY;
        if (n == 0) {
            st->best_trade = st->worst_trade = t->pnl;
            st->best_trade_return = st->worst_trade_return = ret;
        }
        st->best_trade = fmax(st->best_trade, t->pnl);
        st->worst_trade = fmin(st->worst_trade, t->pnl);
        st->best_trade_return = fmax(st->best_trade_return, ret);
        st->worst_trade_return = fmin(st->worst_trade_return, ret);
        st->max_trade_days = fmax(st->max_trade_days, days);
        n += 1;
        sum += t->pnl;
        sum2 += t->pnl * t->pnl;
        rsum += ret;
        dsum += days;
        if (t->qty > 0) {
            st->long_trades += 1;
            st->long_pnl += t->pnl;
            lw += t->pnl > 0;
        } else {
            st->short_trades += 1;
            st->short_pnl += t->pnl;
            sw += t->pnl > 0;
        }
        if (t->sym < st->nsym) {
            bt_sym_stats_t *y = &st->sym[t->sym];
            if (y->trades == 0)
                y->best = y->worst = t->pnl;
            y->trades += 1;
            y->wins += t->pnl > 0;
            y->pnl += t->pnl;
            y->commission += t->commission;
            y->best = fmax(y->best, t->pnl);
            y->worst = fmin(y->worst, t->pnl);
            y->long_trades += t->qty > 0;
            y->short_trades += t->qty < 0;
        }
    }
    if (n == 0)
        return;
    st->avg_trade = sum / n;
    st->avg_trade_return = rsum / n;
    st->avg_trade_days = dsum / n;
    if (n >= 2) {
        double var = (sum2 - sum * sum / n) / (n - 1);
        if (var > 1e-18 * fmax(1.0, sum2 / n))
            st->sqn = sqrt(n) * (sum / n) / sqrt(var);
    }
    if (st->long_trades > 0)
        st->long_win_rate = lw / st->long_trades;
    if (st->short_trades > 0)
        st->short_win_rate = sw / st->short_trades;
}

/* Drawdown episodes, ulcer index, peak equity. */
static void s_drawdowns(bt_run_stats_t *st, const bt_recorder_t *rec, double initial)
{
    size_t n = rec->nequity;
    if (n == 0)
        return;
    double peak = initial, ss = 0, depth = 0, ndd = 0, dsum = 0, dursum = 0;
    int64_t peak_t = rec->equity[0].time;
    bool in_dd = false;
    st->peak_equity = rec->equity[0].equity;
    for (size_t i = 0; i < n; i++) {
        double e = rec->equity[i].equity;
        int64_t t = rec->equity[i].time;
        st->peak_equity = fmax(st->peak_equity, e);
        double dd = peak > 0 && e < peak ? 1.0 - e / peak : 0.0;
        ss += dd * dd;
        if (e >= peak) {
            if (in_dd) { /* recovery closes the episode */
                ndd += 1;
                dsum += depth;
                dursum += (double)(t - peak_t) / S_NS_PER_DAY;
                in_dd = false;
            }
            peak = e;
            peak_t = t;
        } else {
            if (!in_dd) {
                in_dd = true;
                depth = 0;
            }
            depth = fmax(depth, dd);
        }
    }
    if (in_dd) { /* not recovered: to the last step */
        ndd += 1;
        dsum += depth;
        dursum += (double)(rec->equity[n - 1].time - peak_t) / S_NS_PER_DAY;
    }
    st->ulcer_index = sqrt(ss / (double)n);
    if (ndd > 0) {
        st->avg_drawdown = dsum / ndd;
        st->avg_drawdown_days = dursum / ndd;
    }
}

/* Equal-weight buy-and-hold of the symbols on the equity timeline: mean of
 * close / first close (a symbol not started yet counts as 1). */
static void s_benchmark(double *b, const bt_recorder_t *rec, const bt_series_t *series, size_t nsym,
                        const bt_engine_cfg_t *cfg)
{
    int64_t from = cfg->start > cfg->trade_start ? cfg->start : cfg->trade_start;
    for (size_t i = 0; i < rec->nequity; i++)
        b[i] = 0.0;
    size_t k = 0;
    for (size_t s = 0; s < nsym; s++) {
        bt_series_t v = bt_series_slice_time(&series[s], from, cfg->end);
        if (v.n == 0 || !(v.close[0] > 0))
            continue;
        k++;
        size_t j = 0;
        double last = 1.0;
        for (size_t i = 0; i < rec->nequity; i++) {
            while (j < v.n && v.time[j] <= rec->equity[i].time)
                last = v.close[j++] / v.close[0];
            b[i] += last;
        }
    }
    for (size_t i = 0; i < rec->nequity; i++)
        b[i] = k ? b[i] / (double)k : 1.0;
}

/* Per-step return statistics: omega, tail ratio, VaR, CVaR, alpha, beta. */
static bool s_returns(bt_run_stats_t *st, const bt_recorder_t *rec, const bt_series_t *series,
                      size_t nsym, const bt_engine_cfg_t *cfg)
{
    size_t n = rec->nequity;
    if (n == 0)
        return true;
    double *r = malloc(n * sizeof *r), *b = malloc(n * sizeof *b);
    if (!r || !b) {
        free(r);
        free(b);
        return false;
    }
    s_benchmark(b, rec, series, nsym, cfg);
    double prev = cfg->initial_cash, bprev = 1.0, up = 0, down = 0;
    double sr = 0, sb = 0, sbb = 0, srb = 0;
    for (size_t i = 0; i < n; i++) {
        double e = rec->equity[i].equity;
        r[i] = prev != 0.0 ? e / prev - 1.0 : 0.0;
        double rb = bprev != 0.0 ? b[i] / bprev - 1.0 : 0.0;
        prev = e;
        bprev = b[i];
        if (r[i] > 0)
            up += r[i];
        else
            down -= r[i];
        sr += r[i];
        sb += rb;
        sbb += rb * rb;
        srb += r[i] * rb;
    }
    double nn = (double)n;
    double varb = sbb - sb * sb / nn, cov = srb - sr * sb / nn;
    if (varb > 1e-18 * fmax(sbb, DBL_MIN)) {
        st->beta = cov / varb;
        double spy = bt_metrics_steps_per_year(n, rec->equity[0].time, rec->equity[n - 1].time);
        double rf = bt_metrics_rf_step(cfg->risk_free_rate, spy);
        st->alpha = ((sr / nn - rf) - st->beta * (sb / nn - rf)) * spy;
    }
    if (down > 0)
        st->omega = fmin(up / down, BT_PROFIT_FACTOR_CAP);
    else if (up > 0)
        st->omega = BT_PROFIT_FACTOR_CAP;
    qsort(r, n, sizeof *r, s_cmp);
    double p5 = bt_run_stats_percentile(r, n, 0.05), p95 = bt_run_stats_percentile(r, n, 0.95);
    st->var_95 = p5;
    double cs = 0, cn = 0;
    for (size_t i = 0; i < n && r[i] <= p5; i++) {
        cs += r[i];
        cn += 1;
    }
    st->cvar_95 = cn > 0 ? cs / cn : 0.0;
    if (p5 != 0.0)
        st->tail_ratio = fmin(fabs(p95) / fabs(p5), BT_PROFIT_FACTOR_CAP);
    free(r);
    free(b);
    return true;
}

/* Monthly and yearly returns: end equity of each calendar period against
 * the end equity of the period before (the initial cash for the first). */
static bool s_periods(bt_run_stats_t *st, const bt_recorder_t *rec, double initial)
{
    size_t n = rec->nequity;
    if (n == 0)
        return true;
    bt_civil_t c0, c1;
    bt_time_to_civil(rec->equity[0].time, &c0);
    bt_time_to_civil(rec->equity[n - 1].time, &c1);
    size_t nm = (size_t)((c1.year - c0.year) * 12 + (c1.month - c0.month) + 1);
    size_t ny = (size_t)(c1.year - c0.year + 1);
    st->month = calloc(nm, sizeof *st->month);
    st->year = calloc(ny, sizeof *st->year);
    if (!st->month || !st->year)
        return false;
    double mbase = initial, ybase = initial;
    for (size_t i = 0; i < n; i++) {
        bt_civil_t c;
        bt_time_to_civil(rec->equity[i].time, &c);
        bool last_m = true, last_y = true;
        if (i + 1 < n) {
            bt_civil_t d;
            bt_time_to_civil(rec->equity[i + 1].time, &d);
            last_m = d.year != c.year || d.month != c.month;
            last_y = d.year != c.year;
        }
        double e = rec->equity[i].equity;
        if (last_m && st->nmonth < nm) {
            st->month[st->nmonth++] =
                (bt_period_ret_t){c.year, c.month, mbase > 0 ? e / mbase - 1.0 : 0.0};
            mbase = e;
        }
        if (last_y && st->nyear < ny) {
            st->year[st->nyear++] = (bt_period_ret_t){c.year, 0, ybase > 0 ? e / ybase - 1.0 : 0.0};
            ybase = e;
        }
    }
    return true;
}

bt_err_t bt_run_stats_compute(bt_run_stats_t *st, const bt_recorder_t *rec,
                              const bt_series_t *series, size_t nsym, const bt_engine_cfg_t *cfg)
{
    assert(st && rec && cfg);
    memset(st, 0, sizeof *st);
    st->sym = calloc(nsym ? nsym : 1, sizeof *st->sym);
    if (!st->sym)
        return BT_ENOMEM;
    st->nsym = nsym;
    s_trades(st, rec);
    s_drawdowns(st, rec, cfg->initial_cash);
    if (!s_returns(st, rec, series, nsym, cfg) || !s_periods(st, rec, cfg->initial_cash)) {
        bt_run_stats_fini(st);
        return BT_ENOMEM;
    }
    for (size_t i = 0; i < S_NSTATS; i++) { /* never NaN or inf in JSON */
        double v = bt_run_stats_get(st, i);
        s_set(st, i, isfinite(v) ? v : 0.0);
    }
    return BT_OK;
}
