/* bt_metrics_run: the run statistics on a five-step record worked by hand
 * (numbers next to each assertion; numpy's percentile, cov and std with
 * ddof = 1 give the same values: beta -0.0231481, alpha 18.5161458,
 * percentiles -0.16 / 0.22, SQN 0.160128). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "bt_metrics_run.h"
#include "bt_time.h"

#define EQ(a, b)                                                                                   \
    cr_assert_float_eq((a), (b), 1e-9 * fmax(1.0, fabs((double)(b))),                              \
                       "%s = %.12g, expected %.12g", #a, (double)(a), (double)(b))

static int64_t s_day(int m, int d)
{
    return bt_days_from_civil(2024, m, d) * BT_NS_PER_DAY;
}

/* Equity 110, 88, 88, 110, 121 on Jan 30, Jan 31, Feb 1, 2, 3 (initial 100):
 * r = 0.1, -0.2, 0, 0.25, 0.1. Benchmark closes 50, 55, 44, 44, 55:
 * rb = 0, 0.1, -0.2, 0, 0.25. Trades: long 10 @ 10 -> 11 (pnl 10, 2 days),
 * short 5 @ 20 -> 22 (pnl -11, 1 day), long 1 @ 100 -> 104 on symbol 1
 * (pnl 4, 4 days), and one open trade (ignored). */
static bt_run_stats_t s_stats(void)
{
    static bt_recorder_t rec;
    bt_recorder_init(&rec);
    static const double eq[5] = {110, 88, 88, 110, 121};
    static int64_t t[5];
    t[0] = s_day(1, 30);
    t[1] = s_day(1, 31);
    t[2] = s_day(2, 1);
    t[3] = s_day(2, 2);
    t[4] = s_day(2, 3);
    for (int i = 0; i < 5; i++)
        *bt_recorder_add_equity(&rec) = (bt_equity_rec_t){t[i], 0, eq[i], eq[i], 0};
    bt_trade_rec_t tr[4] = {
        {0, t[0], t[0] + 2 * BT_NS_PER_DAY, 10, 10, 11, 10, 0, false, BT_EXIT_SIGNAL},
        {0, t[1], t[1] + 1 * BT_NS_PER_DAY, -5, 20, 22, -11, 1, false, BT_EXIT_STOP_LOSS},
        {1, t[0], t[0] + 4 * BT_NS_PER_DAY, 1, 100, 104, 4, 0, false, BT_EXIT_SIGNAL},
        {1, t[3], 0, 1, 100, 90, -10, 0, true, BT_EXIT_OPEN}};
    for (int i = 0; i < 4; i++)
        *bt_recorder_add_trade(&rec) = tr[i];
    static double close[5] = {50, 55, 44, 44, 55}, zero[5];
    static bt_series_t ser[2];
    memset(ser, 0, sizeof ser);
    for (int k = 0; k < 2; k++) {
        ser[k].n = 5;
        ser[k].time = t;
        ser[k].open = ser[k].high = ser[k].low = close;
        ser[k].close = close;
        ser[k].volume = zero;
    }
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.initial_cash = 100;
    bt_run_stats_t st;
    cr_assert_eq(bt_run_stats_compute(&st, &rec, ser, 2, &c), BT_OK);
    bt_recorder_fini(&rec);
    return st;
}

Test(metrics_run, trades)
{
    bt_run_stats_t st = s_stats();
    EQ(st.best_trade, 10);
    EQ(st.worst_trade, -11);
    EQ(st.avg_trade, 1);               /* (10 - 11 + 4) / 3 */
    EQ(st.best_trade_return, 0.1);     /* 11 / 10 - 1 */
    EQ(st.worst_trade_return, -0.1);   /* short: -(22 / 20 - 1) */
    EQ(st.avg_trade_return, 0.04 / 3); /* (0.1 - 0.1 + 0.04) / 3 */
    EQ(st.avg_trade_days, 7.0 / 3);    /* (2 + 1 + 4) / 3 */
    EQ(st.max_trade_days, 4);
    /* sd of 10, -11, 4 about 1: sqrt((81 + 144 + 9) / 2) = sqrt(117) */
    EQ(st.sqn, sqrt(3.0) * 1.0 / sqrt(117.0));
    EQ(st.long_trades, 2);
    EQ(st.long_win_rate, 1);
    EQ(st.long_pnl, 14);
    EQ(st.short_trades, 1);
    EQ(st.short_win_rate, 0);
    EQ(st.short_pnl, -11);
    cr_assert_eq(st.nsym, 2);
    EQ(st.sym[0].trades, 2);
    EQ(st.sym[0].pnl, -1);
    EQ(st.sym[0].best, 10);
    EQ(st.sym[0].worst, -11);
    EQ(st.sym[0].commission, 1);
    EQ(st.sym[1].trades, 1);
    EQ(st.sym[1].wins, 1);
    bt_run_stats_fini(&st);
}

Test(metrics_run, returns_and_risk)
{
    bt_run_stats_t st = s_stats();
    EQ(st.omega, 0.45 / 0.2); /* (0.1 + 0.25 + 0.1) / 0.2 */
    EQ(st.var_95, -0.16);     /* sorted -0.2, 0, .1, .1, .25; position 0.2: -0.2 + 0.2 * 0.2 */
    EQ(st.cvar_95, -0.2);     /* mean of returns <= -0.16 */
    EQ(st.tail_ratio, 0.22 / 0.16); /* position 3.8: 0.1 + 0.8 * 0.15 = 0.22 */
    /* beta = cov / var: sum(r rb) - 5 mean(r) mean(rb) = 0.005 - 0.0075;
     * sum(rb^2) - 5 mean(rb)^2 = 0.1125 - 0.0045 */
    EQ(st.beta, -0.0025 / 0.108);
    /* (mean r - beta mean rb) * 365.25 steps per year (4 steps over 4 days) */
    EQ(st.alpha, (0.05 + 0.0025 / 0.108 * 0.03) * 365.25);
    bt_run_stats_fini(&st);
}

Test(metrics_run, drawdowns_and_periods)
{
    bt_run_stats_t st = s_stats();
    /* one episode: peak 110 on Jan 30, down 20 %, recovered Feb 2 (3 days) */
    EQ(st.avg_drawdown, 0.2);
    EQ(st.avg_drawdown_days, 3);
    EQ(st.ulcer_index, sqrt((0.04 + 0.04) / 5));
    EQ(st.peak_equity, 121);
    /* January ends at 88 (from 100), February at 121 (from 88); 2024: 121 / 100 */
    cr_assert_eq(st.nmonth, 2);
    cr_assert_eq(st.month[0].month, 1);
    EQ(st.month[0].ret, -0.12);
    cr_assert_eq(st.month[1].month, 2);
    EQ(st.month[1].ret, 121.0 / 88 - 1);
    cr_assert_eq(st.nyear, 1);
    cr_assert_eq(st.year[0].year, 2024);
    EQ(st.year[0].ret, 0.21);
    bt_run_stats_fini(&st);
}

Test(metrics_run, empty_record_is_zero)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    bt_run_stats_t st;
    cr_assert_eq(bt_run_stats_compute(&st, &rec, NULL, 0, &c), BT_OK);
    for (size_t i = 0; i < bt_run_stats_count(); i++)
        cr_assert_eq(bt_run_stats_get(&st, i), 0.0, "%s", bt_run_stats_name(i));
    cr_assert_eq(st.nmonth, 0);
    bt_run_stats_fini(&st);
    bt_run_stats_fini(&st); /* safe twice */
}

/* The one-pass statistics (quantiles by selection, calendar buckets by boundary) against the
 * definitions done the slow way here: every return sorted, numpy's linear percentile, the CVaR
 * summed in ascending order, each step's civil month. Bit for bit, on 30,000 hourly steps over
 * three and a half years with half the steps flat (many tied zero returns) and repeated values. */
static int s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double s_ref_pct(const double *x, size_t n, double p)
{
    double pos = (double)(n - 1) * p;
    size_t k = (size_t)floor(pos);
    return k + 1 >= n ? x[n - 1] : x[k] + (x[k + 1] - x[k]) * (pos - (double)k);
}

static void s_check_long(size_t n, uint64_t seed, double flat_share)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    double e = 1000, *r = malloc(n * sizeof *r);
    int64_t t0 = bt_days_from_civil(2021, 11, 30) * BT_NS_PER_DAY;
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(x >> 11) / 9007199254740992.0;
        if (u >= flat_share) /* steps of a few fixed sizes: ties among the non-zero returns too */
            e *= 1.0 + ((double)((x >> 3) % 7) - 3.0) * 0.001;
        *bt_recorder_add_equity(&rec) =
            (bt_equity_rec_t){t0 + (int64_t)i * BT_NS_PER_HOUR, 0, e, e, 0};
    }
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.initial_cash = 1000;
    bt_run_stats_t st;
    cr_assert_eq(bt_run_stats_compute(&st, &rec, NULL, 0, &c), BT_OK);
    double prev = 1000;
    for (size_t i = 0; i < n; i++) {
        r[i] = rec.equity[i].equity / prev - 1.0;
        prev = rec.equity[i].equity;
    }
    qsort(r, n, sizeof *r, s_cmp_d);
    double p5 = s_ref_pct(r, n, 0.05), p95 = s_ref_pct(r, n, 0.95), cs = 0, cn = 0;
    for (size_t i = 0; i < n && r[i] <= p5; i++)
        cs += r[i], cn += 1;
    cr_assert_eq(st.var_95, p5, "var_95 %.17g, sorted %.17g", st.var_95, p5);
    cr_assert_eq(st.cvar_95, cs / cn, "cvar_95 %.17g, sorted %.17g", st.cvar_95, cs / cn);
    if (p5 != 0.0)
        cr_assert_eq(st.tail_ratio, fmin(fabs(p95) / fabs(p5), BT_PROFIT_FACTOR_CAP));
    /* months: a new one wherever the civil month changes; returns against the month before */
    size_t nm = 0;
    double base = 1000;
    for (size_t i = 0; i < n; i++) {
        bt_civil_t a, b;
        bt_time_to_civil(rec.equity[i].time, &a);
        if (i + 1 < n)
            bt_time_to_civil(rec.equity[i + 1].time, &b);
        if (i + 1 < n && a.month == b.month && a.year == b.year)
            continue;
        cr_assert(nm < st.nmonth);
        cr_assert_eq(st.month[nm].year, a.year);
        cr_assert_eq(st.month[nm].month, a.month);
        cr_assert_eq(st.month[nm].ret, rec.equity[i].equity / base - 1.0);
        base = rec.equity[i].equity;
        nm++;
    }
    cr_assert_eq(st.nmonth, nm);
    bt_civil_t y0, y1;
    bt_time_to_civil(rec.equity[0].time, &y0);
    bt_time_to_civil(rec.equity[n - 1].time, &y1);
    cr_assert_eq(st.nyear, (size_t)(y1.year - y0.year + 1));
    bt_run_stats_fini(&st);
    bt_recorder_fini(&rec);
    free(r);
}

Test(metrics_run, one_pass_equals_sorting)
{
    s_check_long(30000, 1, 0.5);  /* VaR inside the non-zero returns */
    s_check_long(30000, 7, 0.97); /* VaR a tied zero: the ties summed after the rest */
    s_check_long(17, 3, 0.2);     /* small: the insertion-sort end of the selection */
}

/* Streamed (bt_run_acc: the points in chunks, only the tails of the returns kept) against the
 * whole record (every return kept, sorted by selection): the same bits in every statistic and
 * period, whatever the chunk size, for short runs, runs of a length no chunk divides, ties at
 * VaR, and a hint larger than the run. */
static void s_fill(bt_recorder_t *rec, size_t n, uint64_t seed, double flat_share)
{
    bt_recorder_init(rec);
    double e = 1000;
    int64_t t0 = bt_days_from_civil(2022, 12, 30) * BT_NS_PER_DAY;
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(x >> 11) / 9007199254740992.0;
        if (u >= flat_share)
            e *= 1.0 + ((double)((x >> 3) % 7) - 3.0) * 0.001;
        *bt_recorder_add_equity(rec) =
            (bt_equity_rec_t){t0 + (int64_t)i * 7 * BT_NS_PER_HOUR, 0, e, e, 0};
    }
    bt_trade_rec_t *t = bt_recorder_add_trade(rec);
    *t = (bt_trade_rec_t){0, t0, t0 + BT_NS_PER_DAY, 2, 10, 12, 4, 0, false, BT_EXIT_SIGNAL};
}

static void s_same_streamed(size_t n, uint64_t seed, double flat_share, size_t chunk, size_t hint)
{
    bt_recorder_t rec;
    s_fill(&rec, n, seed, flat_share);
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.initial_cash = 1000;
    bt_run_stats_t whole, part;
    cr_assert_eq(bt_run_stats_compute(&whole, &rec, NULL, 0, &c), BT_OK);
    bt_run_acc_t *a = bt_run_acc_new(NULL, 0, &c, hint);
    cr_assert_not_null(a);
    for (size_t i = 0; i < n; i += chunk)
        bt_run_acc_add(a, rec.equity + i, n - i < chunk ? n - i : chunk);
    cr_assert_eq(bt_run_acc_finish(a, &part, &rec, 0), BT_OK);
    bt_run_acc_destroy(&a);
    bt_run_acc_destroy(&a); /* safe twice */
    for (size_t i = 0; i < bt_run_stats_count(); i++) {
        double x = bt_run_stats_get(&whole, i), y = bt_run_stats_get(&part, i);
        cr_assert(memcmp(&x, &y, sizeof x) == 0, "n %zu chunk %zu: %s whole %.17g streamed %.17g",
                  n, chunk, bt_run_stats_name(i), x, y);
    }
    cr_assert_eq(whole.nmonth, part.nmonth);
    cr_assert_eq(whole.nyear, part.nyear);
    if (whole.nmonth)
        cr_assert(memcmp(whole.month, part.month, whole.nmonth * sizeof *whole.month) == 0);
    if (whole.nyear)
        cr_assert(memcmp(whole.year, part.year, whole.nyear * sizeof *whole.year) == 0);
    bt_run_stats_fini(&whole);
    bt_run_stats_fini(&part);
    bt_recorder_fini(&rec);
}

Test(metrics_run, streamed_equals_whole)
{
    static const size_t ns[] = {0, 1, 2, 3, 4, 19, 20, 21, 22, 100, 1001, 25013};
    static const size_t chunks[] = {1, 7, 4096, 100000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            s_same_streamed(ns[i], 5 + i, 0.5, chunks[k], ns[i]);
            s_same_streamed(ns[i], 9 + i, 0.97, chunks[k], ns[i]); /* VaR a tied zero */
        }
    s_same_streamed(25013, 2, 0.5, 1000, 26000); /* room for more points than came */
    s_same_streamed(25013, 3, 0.97, 333, 40000);
    s_same_streamed(25013, 4, 0.0, 64, 25013);   /* never flat */
}

/* The streamed tails keep candidates and cut them back to the extreme 5 % by selection (the
 * threshold moves at each cut; returns equal to it are counted as ties, which a lower threshold
 * resets). Returns that drift down and repeat (a sawtooth of 13 values whose base falls every
 * 3,000 steps, many exactly equal) move the lower threshold at almost every cut, and rises
 * repeat at the top: the same bits as sorting every return, for several chunk sizes. */
Test(metrics_run, streamed_tails_follow_a_moving_threshold)
{
    size_t n = 40000;
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    double e = 1000;
    int64_t t0 = bt_days_from_civil(2020, 1, 1) * BT_NS_PER_DAY;
    for (size_t i = 0; i < n; i++) {
        double r = ((double)(i % 13) - 6.0) * 0.001 - (double)(i / 3000) * 0.0005;
        if (i % 5 == 0)
            r = 0.0; /* flat steps: ties at zero */
        e *= 1.0 + r;
        *bt_recorder_add_equity(&rec) =
            (bt_equity_rec_t){t0 + (int64_t)i * BT_NS_PER_HOUR, 0, e, e, 0};
    }
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.initial_cash = 1000;
    bt_run_stats_t whole;
    cr_assert_eq(bt_run_stats_compute(&whole, &rec, NULL, 0, &c), BT_OK);
    static const size_t chunks[] = {1, 97, 4096, 40000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        bt_run_acc_t *a = bt_run_acc_new(NULL, 0, &c, n);
        for (size_t i = 0; i < n; i += chunks[k])
            bt_run_acc_add(a, rec.equity + i, n - i < chunks[k] ? n - i : chunks[k]);
        bt_run_stats_t part;
        cr_assert_eq(bt_run_acc_finish(a, &part, &rec, 0), BT_OK);
        bt_run_acc_destroy(&a);
        cr_assert(memcmp(&whole.var_95, &part.var_95, sizeof part.var_95) == 0 &&
                      memcmp(&whole.cvar_95, &part.cvar_95, sizeof part.cvar_95) == 0 &&
                      memcmp(&whole.tail_ratio, &part.tail_ratio, sizeof part.tail_ratio) == 0,
                  "chunk %zu: var %.17g/%.17g cvar %.17g/%.17g tail %.17g/%.17g", chunks[k],
                  whole.var_95, part.var_95, whole.cvar_95, part.cvar_95, whole.tail_ratio,
                  part.tail_ratio);
        bt_run_stats_fini(&part);
    }
    cr_assert_lt(whole.var_95, 0.0);
    bt_run_stats_fini(&whole);
    bt_recorder_fini(&rec);
}

Test(metrics_run, streamed_refuses_what_it_cannot_know)
{
    bt_recorder_t rec;
    s_fill(&rec, 50, 1, 0.5);
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.initial_cash = 1000;
    bt_run_stats_t st;
    bt_run_acc_t *a = bt_run_acc_new(NULL, 0, &c, 40); /* fewer than came: the tails are short */
    bt_run_acc_add(a, rec.equity, 50);
    cr_assert_eq(bt_run_acc_finish(a, &st, &rec, 0), BT_ELIMIT);
    bt_run_acc_destroy(&a);
    rec.equity[10].equity = NAN; /* no order to select in */
    a = bt_run_acc_new(NULL, 0, &c, 50);
    bt_run_acc_add(a, rec.equity, 50);
    cr_assert_eq(bt_run_acc_finish(a, &st, &rec, 0), BT_ELIMIT);
    bt_run_acc_destroy(&a);
    bt_recorder_fini(&rec);
}

/* The recorder's streaming: full chunks go to the sink in order, the rest on flush. */
static size_t s_got[64], s_ngot, s_calls;
static bt_equity_rec_t s_buf2[4];
static bt_equity_rec_t *s_sink(void *user, bt_equity_rec_t *full, size_t n)
{
    (void)user;
    for (size_t i = 0; i < n; i++)
        s_got[s_ngot++] = (size_t)full[i].time;
    s_calls++;
    (void)full;
    return s_buf2; /* hands back another buffer */
}

Test(metrics_run, recorder_streams_in_chunks)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_equity_rec_t buf[4];
    bt_recorder_stream_equity(&rec, buf, 4, s_sink, NULL);
    for (int64_t i = 0; i < 10; i++)
        bt_recorder_add_equity(&rec)->time = i;
    cr_assert_eq(s_calls, 2); /* 4 + 4 handed over, 2 held */
    cr_assert_eq(rec.nequity, 2);
    cr_assert_eq(bt_recorder_flush_equity(&rec), BT_OK);
    cr_assert_eq(rec.equity_passed, 10);
    cr_assert_eq(s_ngot, 10);
    for (size_t i = 0; i < 10; i++)
        cr_assert_eq(s_got[i], i);
    bt_recorder_fini(&rec); /* does not free the sink's buffers */
}
