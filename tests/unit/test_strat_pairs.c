/* pairs_trading on a small synthetic pair, checked by hand.
 *
 * x_t = 100 + t, y_t = 2 x_t + e_t with e_t = +0.3 on even t, -0.3 on odd t,
 * and a spike e_15 = 3 (and, for the stop, e_16 = 8). beta_window 6,
 * z_window 5, entry 1.5, exit 0.5. Over a 6-bar window of alternating
 * noise the OLS residual is +/-0.1714 and the z-score of the last 5
 * residuals is +/-0.8165 (= 2/sqrt(6): 3 of one sign, 2 of the other), so
 * nothing trades before the spike. Independently (numpy: np.polyfit-style
 * OLS per window, then (s - mean) / population std), z is:
 *   spike only:   t15 1.929, t16 -1.483, t17 -0.923, t20 1.571, t21 -0.133
 *   with e_16=8:  t15 1.929, t16 1.7065, t17 -1.791, t18 -0.7015
 * so, spike only: short the spread at 15 (x +0.5, y -0.5 of equity), exit at
 * 16 (z <= 0.5), short again at 20 (1.571 > 1.5), exit at 21.
 * With e_16 = 8 and no stop, the short entered at 15 holds at 16 (1.7065 >
 * 0.5) and exits at 17; with stop_z 1.7 it is stopped at 16 and, blocked
 * until |z| < 1.5, does not go long at 17 (-1.791 < -1.5). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bt_engine.h"
#include "bt_registry.h"
#include "bt_time.h"

#define N 30

static int64_t s_time[N];
static double s_px[2][N], s_hi[2][N], s_lo[2][N], s_vol[N];
static bt_series_t s_ser[2];
static int64_t s_t0;

typedef struct {
    size_t bar;
    uint32_t sym;
    double qty;
} s_ord_t;
static s_ord_t s_ords[32];
static size_t s_nords;

static void s_make(double e16)
{
    s_t0 = bt_days_from_civil(2021, 1, 4) * BT_NS_PER_DAY;
    for (size_t t = 0; t < N; t++) {
        double x = 100.0 + (double)t, e = t % 2 == 0 ? 0.3 : -0.3;
        if (t == 15)
            e = 3.0;
        if (t == 16 && e16 != 0.0)
            e = e16;
        s_time[t] = s_t0 + (int64_t)t * BT_NS_PER_DAY;
        s_px[0][t] = x;
        s_px[1][t] = 2.0 * x + e;
        s_vol[t] = 1e6;
        for (int k = 0; k < 2; k++) {
            s_hi[k][t] = s_px[k][t] + 0.1;
            s_lo[k][t] = s_px[k][t] - 0.1;
        }
    }
    for (int k = 0; k < 2; k++) {
        s_ser[k] = (bt_series_t){.n = N,
                                 .time = s_time,
                                 .open = s_px[k],
                                 .high = s_hi[k],
                                 .low = s_lo[k],
                                 .close = s_px[k],
                                 .volume = s_vol};
        snprintf(s_ser[k].symbol, sizeof s_ser[k].symbol, "P%d", k);
    }
}

static void s_run(double stop)
{
    const bt_strategy_t *st = bt_strategy_find("pairs_trading");
    cr_assert_not_null(st);
    double p[] = {6, 5, 1.5, 0.5, stop, 1.0, 0};
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.sizing = BT_SIZE_TARGET_WEIGHT;
    cfg.fractional = true;
    cfg.allow_short = true;
    cfg.initial_cash = 10000.0;
    bt_engine_t *eng = bt_engine_new();
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_run_spec_t spec = {.series = s_ser,
                          .nsym = 2,
                          .strategy = st,
                          .params = p,
                          .cfg = &cfg,
                          .threads = 1,
                          .rec = &rec};
    bt_metrics_t m;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
    s_nords = 0;
    for (size_t i = 0; i < rec.norders && s_nords < 32; i++) {
        const bt_order_rec_t *o = &rec.orders[i];
        cr_assert_neq(o->status, BT_OS_REJECTED, "order %zu rejected: %s", i, o->reason);
        s_ords[s_nords++] =
            (s_ord_t){(size_t)((o->created - s_t0) / BT_NS_PER_DAY), o->sym, o->qty};
    }
    bt_recorder_fini(&rec);
    bt_engine_destroy(&eng);
}

/* The order of symbol sym at bar `bar`, or NULL. */
static const s_ord_t *s_at(size_t bar, uint32_t sym)
{
    for (size_t i = 0; i < s_nords; i++)
        if (s_ords[i].bar == bar && s_ords[i].sym == sym)
            return &s_ords[i];
    return NULL;
}

static void s_expect_bars(const size_t *bars, size_t nb)
{
    cr_assert_eq(s_nords, 2 * nb, "%zu orders, want %zu (two legs at each of %zu bars)", s_nords,
                 2 * nb, nb);
    for (size_t i = 0; i < nb; i++)
        cr_assert(s_at(bars[i], 0) && s_at(bars[i], 1), "no pair of orders at bar %zu", bars[i]);
}

Test(pairs_trading, spike_short_spread_then_exit)
{
    s_make(0.0);
    s_run(0.0);
    size_t bars[] = {15, 16, 20, 21};
    s_expect_bars(bars, 4);
    /* Bar 15, flat, equity 10000: x leg +0.5 -> 5000 / 115, y leg -5000 / 233. */
    cr_assert_float_eq(s_at(15, 0)->qty, 5000.0 / 115.0, 1e-9);
    cr_assert_float_eq(s_at(15, 1)->qty, -5000.0 / 233.0, 1e-9);
    /* Exits close each leg exactly. */
    cr_assert_float_eq(s_at(16, 0)->qty, -s_at(15, 0)->qty, 1e-9);
    cr_assert_float_eq(s_at(16, 1)->qty, -s_at(15, 1)->qty, 1e-9);
    cr_assert(s_at(20, 0)->qty > 0 && s_at(20, 1)->qty < 0, "short spread again at 20");
    cr_assert_float_eq(s_at(21, 1)->qty, -s_at(20, 1)->qty, 1e-9);
}

Test(pairs_trading, holds_without_stop)
{
    s_make(8.0);
    s_run(0.0);
    size_t bars[] = {15, 17};
    s_expect_bars(bars, 2);
}

Test(pairs_trading, stop_then_blocked_until_back_inside_entry)
{
    s_make(8.0);
    s_run(1.7);
    size_t bars[] = {15, 16};
    s_expect_bars(bars, 2);
    cr_assert(s_at(16, 0)->qty < 0 && s_at(16, 1)->qty > 0, "the stop closes the short spread");
}

Test(pairs_trading, needs_two_symbols_and_ordered_thresholds)
{
    s_make(0.0);
    const bt_strategy_t *st = bt_strategy_find("pairs_trading");
    double p[] = {6, 5, 1.5, 0.5, 0, 1.0, 0};
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.allow_short = true;
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {
        .series = s_ser, .nsym = 1, .strategy = st, .params = p, .cfg = &cfg, .threads = 1};
    bt_metrics_t m;
    bt_errbuf_t eb;
    cr_assert_neq(bt_engine_run(eng, &spec, &m, &eb), BT_OK);
    cr_assert(strstr(eb.msg, "exactly 2 symbols"), "%s", eb.msg);
    spec.nsym = 2;
    p[3] = 2.0; /* exit above entry */
    cr_assert_neq(bt_engine_run(eng, &spec, &m, &eb), BT_OK);
    cr_assert(strstr(eb.msg, "exit_z"), "%s", eb.msg);
    bt_engine_destroy(&eng);
}
