/* Unit tests for common/data/bt_synth: determinism, OHLC consistency, the
 * calendar, cross-symbol correlation, volatility regimes, independence of
 * symbol k from the number of symbols. Everything is in memory (no files).
 * Calendar answers by hand from a printed calendar (`cal 2010`, `cal 2013`). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_bars.h"
#include "bt_synth.h"
#include "bt_time.h"

static bt_bars_t *s_gen(const bt_synth_opts_t *o, size_t k)
{
    bt_bars_t *b = bt_bars_new("SYN", o->nbars);
    cr_assert_not_null(b);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t rc = bt_synth_generate(o, k, b, &eb);
    cr_assert_eq(rc, BT_OK, "generate failed: %s", eb.msg);
    cr_assert_eq(bt_bars_count(b), o->nbars);
    return b;
}

static bool s_same(const bt_series_t *a, const bt_series_t *b)
{
    return a->n == b->n && memcmp(a->time, b->time, a->n * sizeof(int64_t)) == 0 &&
           memcmp(a->open, b->open, a->n * sizeof(double)) == 0 &&
           memcmp(a->high, b->high, a->n * sizeof(double)) == 0 &&
           memcmp(a->low, b->low, a->n * sizeof(double)) == 0 &&
           memcmp(a->close, b->close, a->n * sizeof(double)) == 0 &&
           memcmp(a->volume, b->volume, a->n * sizeof(double)) == 0;
}

static int64_t s_date(int y, int m, int d)
{
    return bt_days_from_civil(y, m, d) * BT_NS_PER_DAY;
}

Test(synth, defaults)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    cr_assert_eq(o.nsym, 4);
    cr_assert_eq(o.nbars, 2520);
    cr_assert_str_eq(o.freq, "1d");
    cr_assert_eq(o.seed, 42);
    cr_assert_eq(o.start, s_date(2010, 1, 4));
    char name[16];
    bt_synth_symbol(0, name, sizeof name);
    cr_assert_str_eq(name, "SYN000");
    bt_synth_symbol(17, name, sizeof name);
    cr_assert_str_eq(name, "SYN017");
}

Test(synth, same_seed_same_bars_other_seed_differs)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    o.nbars = 600;
    bt_bars_t *a = s_gen(&o, 0), *b = s_gen(&o, 0), *other_sym = s_gen(&o, 1);
    o.seed = 43;
    bt_bars_t *c = s_gen(&o, 0);
    bt_series_t sa = bt_bars_view(a), sb = bt_bars_view(b), sc = bt_bars_view(c),
                so = bt_bars_view(other_sym);
    cr_assert(s_same(&sa, &sb), "same seed must give identical arrays");
    cr_assert_not(s_same(&sa, &sc), "seed 43 must differ from seed 42");
    cr_assert_not(s_same(&sa, &so), "symbol 1 must differ from symbol 0");
    /* Same calendar, different prices. */
    cr_assert_eq(memcmp(sa.time, sc.time, sa.n * sizeof(int64_t)), 0);
    size_t ndiff = 0;
    for (size_t i = 0; i < sa.n; i++)
        ndiff += sa.close[i] != sc.close[i];
    cr_assert_eq(ndiff, sa.n);
    bt_bars_destroy(&a);
    bt_bars_destroy(&b);
    bt_bars_destroy(&c);
    bt_bars_destroy(&other_sym);
    cr_assert_null(a);
}

Test(synth, symbol_k_independent_of_nsym)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    o.nbars = 300;
    o.nsym = 2;
    bt_bars_t *a = s_gen(&o, 1);
    o.nsym = 50;
    bt_bars_t *b = s_gen(&o, 1);
    bt_series_t sa = bt_bars_view(a), sb = bt_bars_view(b);
    cr_assert(s_same(&sa, &sb));
    bt_bars_destroy(&a);
    bt_bars_destroy(&b);
}

/* Every bar: prices finite and > 0, low <= min(open, close), high >=
 * max(open, close), volume a positive whole number; times strictly rising. */
static void s_check_bars(const bt_series_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        double o = s->open[i], h = s->high[i], l = s->low[i], c = s->close[i], v = s->volume[i];
        cr_assert(isfinite(o) && isfinite(h) && isfinite(l) && isfinite(c), "bar %zu", i);
        cr_assert(l > 0.0, "bar %zu: low %g", i, l);
        cr_assert(h >= o && h >= c && l <= o && l <= c, "bar %zu: o %g h %g l %g c %g", i, o, h,
                  l, c);
        cr_assert(v >= 1.0 && v == floor(v), "bar %zu: volume %g", i, v);
        if (i > 0)
            cr_assert_gt(s->time[i], s->time[i - 1], "bar %zu", i);
    }
    cr_assert_null(s->adj_close);
}

static bool s_holiday(int m, int d)
{
    return (m == 1 && d == 1) || (m == 7 && d == 4) || (m == 12 && d == 25);
}

Test(synth, ohlc_and_daily_calendar)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    bt_bars_t *b = s_gen(&o, 2);
    bt_series_t s = bt_bars_view(b);
    s_check_bars(&s);
    /* 2010-01-04 is a Monday: the first bar. */
    cr_assert_eq(s.time[0], s_date(2010, 1, 4));
    size_t gaps = 0;
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_eq(s.time[i] % BT_NS_PER_DAY, 0, "daily bars at midnight UTC");
        cr_assert_lt(bt_time_weekday(s.time[i]), 5, "bar %zu on a weekend", i);
        bt_civil_t c;
        bt_time_to_civil(s.time[i], &c);
        cr_assert_not(s_holiday(c.month, c.day), "bar %zu on %d-%02d-%02d", i, c.year, c.month,
                      c.day);
        if (i > 0) {
            /* Consecutive trading days: no weekday other than a holiday is skipped. */
            for (int64_t t = s.time[i - 1] + BT_NS_PER_DAY; t < s.time[i]; t += BT_NS_PER_DAY) {
                bt_time_to_civil(t, &c);
                cr_assert(bt_time_weekday(t) >= 5 || s_holiday(c.month, c.day),
                          "trading day %d-%02d-%02d skipped", c.year, c.month, c.day);
            }
            if (fabs(s.open[i] / s.close[i - 1] - 1.0) > 0.03)
                gaps++;
        }
    }
    /* 2010-07-04 is a Sunday and 2010-07-05 a Monday: Monday trades (no shift). */
    cr_assert_eq(s.time[bt_series_lower_bound(&s, s_date(2010, 7, 3))], s_date(2010, 7, 5));
    /* 2012-12-25 is a Tuesday: 24th then 26th. */
    size_t i = bt_series_lower_bound(&s, s_date(2012, 12, 24));
    cr_assert_eq(s.time[i], s_date(2012, 12, 24));
    cr_assert_eq(s.time[i + 1], s_date(2012, 12, 26));
    /* Open near the previous close, with some overnight gaps (> 3 %) but few. */
    cr_assert_gt(gaps, 0);
    cr_assert_lt(gaps, s.n / 10);
    bt_bars_destroy(&b);
}

Test(synth, start_on_holiday_and_weekend)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    o.nbars = 5;
    o.start = s_date(2013, 1, 1); /* Tuesday, New Year's Day */
    bt_bars_t *b = s_gen(&o, 0);
    bt_series_t s = bt_bars_view(b);
    cr_assert_eq(s.time[0], s_date(2013, 1, 2));
    /* Wed 2, Thu 3, Fri 4, Mon 7, Tue 8 */
    cr_assert_eq(s.time[3], s_date(2013, 1, 7));
    cr_assert_eq(s.time[4], s_date(2013, 1, 8));
    bt_bars_destroy(&b);
    o.start = s_date(2010, 1, 2) + 5 * BT_NS_PER_HOUR; /* Saturday, 05:00: the date counts */
    b = s_gen(&o, 0);
    s = bt_bars_view(b);
    cr_assert_eq(s.time[0], s_date(2010, 1, 4));
    bt_bars_destroy(&b);
}

Test(synth, intraday_sessions)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    /* 1h: 7 bars 10:00..16:00. 15 bars = Mon 4 Jan (7), Tue 5 Jan (7), Wed 10:00. */
    o.freq = "1h";
    o.nbars = 15;
    bt_bars_t *b = s_gen(&o, 0);
    bt_series_t s = bt_bars_view(b);
    s_check_bars(&s);
    cr_assert_eq(s.time[0], s_date(2010, 1, 4) + 10 * BT_NS_PER_HOUR);
    cr_assert_eq(s.time[6], s_date(2010, 1, 4) + 16 * BT_NS_PER_HOUR);
    cr_assert_eq(s.time[7], s_date(2010, 1, 5) + 10 * BT_NS_PER_HOUR);
    cr_assert_eq(s.time[14], s_date(2010, 1, 6) + 10 * BT_NS_PER_HOUR);
    bt_bars_destroy(&b);

    /* 1m: 390 bars 09:30..15:59; 5 days = 1950 bars ends Fri 8 Jan 15:59. */
    o.freq = "1m";
    o.nbars = 1950;
    b = s_gen(&o, 3);
    s = bt_bars_view(b);
    s_check_bars(&s);
    cr_assert_eq(s.time[0], s_date(2010, 1, 4) + 9 * BT_NS_PER_HOUR + 30 * BT_NS_PER_MIN);
    cr_assert_eq(s.time[389], s_date(2010, 1, 4) + 15 * BT_NS_PER_HOUR + 59 * BT_NS_PER_MIN);
    cr_assert_eq(s.time[390], s_date(2010, 1, 5) + 9 * BT_NS_PER_HOUR + 30 * BT_NS_PER_MIN);
    cr_assert_eq(s.time[1949], s_date(2010, 1, 8) + 15 * BT_NS_PER_HOUR + 59 * BT_NS_PER_MIN);
    /* Inside a session the open is the previous close; the day's first bar may gap. */
    for (size_t i = 1; i < s.n; i++)
        if (i % 390 != 0)
            cr_assert_eq(s.open[i], s.close[i - 1], "bar %zu", i);
    bt_bars_destroy(&b);
}

static double s_logret(const bt_series_t *s, size_t i)
{
    return log(s->close[i] / s->close[i - 1]);
}

static double s_corr(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

/* Default betas are 0.7..1.3, market vol 13 % calm, own vol 10..25 %: the
 * expected correlation of two symbols is about 0.3..0.6 (docs/synth.md). */
Test(synth, symbols_correlated_through_market)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    bt_bars_t *b[4];
    bt_series_t s[4];
    for (size_t k = 0; k < 4; k++) {
        b[k] = s_gen(&o, k);
        s[k] = bt_bars_view(b[k]);
    }
    size_t n = o.nbars - 1;
    double *r[4];
    for (size_t k = 0; k < 4; k++) {
        r[k] = malloc(n * sizeof(double));
        cr_assert_not_null(r[k]);
        for (size_t i = 1; i <= n; i++)
            r[k][i - 1] = s_logret(&s[k], i);
    }
    for (size_t a = 0; a < 4; a++)
        for (size_t c = a + 1; c < 4; c++) {
            double rho = s_corr(r[a], r[c], n);
            cr_assert_gt(rho, 0.2, "corr(SYN%03zu, SYN%03zu) = %.3f", a, c, rho);
            cr_assert_lt(rho, 0.9, "corr(SYN%03zu, SYN%03zu) = %.3f", a, c, rho);
        }
    /* Volume is higher on big moves: |log return| and volume correlate. */
    double *v = malloc(n * sizeof(double)), *ar = malloc(n * sizeof(double));
    cr_assert(v && ar);
    for (size_t i = 0; i < n; i++) {
        v[i] = s[0].volume[i + 1];
        ar[i] = fabs(log(s[0].close[i + 1] / s[0].open[i + 1]));
    }
    double rv = s_corr(v, ar, n);
    cr_assert_gt(rv, 0.2, "corr(volume, |move|) = %.3f", rv);
    free(v);
    free(ar);
    for (size_t k = 0; k < 4; k++) {
        free(r[k]);
        bt_bars_destroy(&b[k]);
    }
}

static int s_cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Rolling 20-bar volatility of daily log returns. With i.i.d. returns the
 * 20-sample std has a relative spread of about 1/sqrt(38) = 16 %, so its
 * 5th..95th percentiles would be within about 0.74..1.26 of the median, a
 * ratio near 1.7. Regimes (stressed vol about 2.5x calm) push it past 2. */
Test(synth, volatility_regimes)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    for (uint64_t seed = 42; seed < 45; seed++) {
        o.seed = seed;
        bt_bars_t *b = s_gen(&o, 0);
        bt_series_t s = bt_bars_view(b);
        size_t nr = 0, w = 20;
        double *rv = malloc(s.n * sizeof(double));
        cr_assert_not_null(rv);
        for (size_t i = w; i < s.n; i++) {
            double sum = 0, sq = 0;
            for (size_t j = i - w + 1; j <= i; j++) {
                double x = s_logret(&s, j);
                sum += x;
                sq += x * x;
            }
            rv[nr++] = sqrt((sq - sum * sum / (double)w) / (double)(w - 1));
        }
        qsort(rv, nr, sizeof(double), s_cmp_dbl);
        double lo = rv[nr / 20], hi = rv[nr - 1 - nr / 20];
        cr_assert_gt(rv[nr - 1] / rv[0], 2.0, "seed %llu: max/min rolling vol %.2f",
                     (unsigned long long)seed, rv[nr - 1] / rv[0]);
        cr_assert_gt(hi / lo, 2.0, "seed %llu: p95/p5 rolling vol %.2f",
                     (unsigned long long)seed, hi / lo);
        free(rv);
        bt_bars_destroy(&b);
    }
}

Test(synth, rejects_bad_options)
{
    bt_synth_opts_t o;
    bt_errbuf_t eb;
    bt_synth_opts_defaults(&o);
    cr_assert_eq(bt_synth_check(&o, &eb), BT_OK);
    o.nbars = 0;
    cr_assert_eq(bt_synth_check(&o, &eb), BT_ERANGE);
    cr_assert(strstr(eb.msg, "--bars") != NULL, "%s", eb.msg);
    bt_synth_opts_defaults(&o);
    o.nsym = BT_SYNTH_MAX_SYMBOLS + 1;
    cr_assert_eq(bt_synth_check(&o, &eb), BT_ERANGE);
    cr_assert(strstr(eb.msg, "--symbols") != NULL, "%s", eb.msg);
    bt_synth_opts_defaults(&o);
    o.freq = "5m";
    cr_assert_eq(bt_synth_check(&o, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "--freq") != NULL, "%s", eb.msg);
    /* 100 M daily bars from 2010 would end near the year 390000. */
    bt_synth_opts_defaults(&o);
    o.nbars = 100000000;
    cr_assert_eq(bt_synth_check(&o, &eb), BT_ERANGE);
    cr_assert(strstr(eb.msg, "2261") != NULL, "%s", eb.msg);
    /* The generator refuses too, and appends nothing. */
    bt_bars_t *b = bt_bars_new("SYN000", 0);
    cr_assert_eq(bt_synth_generate(&o, 0, b, &eb), BT_ERANGE);
    cr_assert_eq(bt_bars_count(b), 0);
    bt_bars_destroy(&b);
}
