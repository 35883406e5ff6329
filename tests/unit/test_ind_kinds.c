/* Unit tests for the indicator kinds beyond the first eight: the table has
 * at least 30, small cases computed by hand, and long runs that stay
 * within 1e-9 of a from-scratch computation over the last window.
 * (Every kind against a numpy reference on real bars:
 * tests/shared/test_ind_ref.c.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt_ind.h"

#define DAY 86400000000000LL

/* Runs kind `name` with params over bars (y for pairs) and returns output j
 * at every bar in out. */
static void s_run(const char *name, const double *given, size_t np, const bt_bar_t *bars,
                  const double *y, size_t n, size_t j, double *out)
{
    const bt_ind_kind_t *k = bt_ind_find(name);
    cr_assert_not_null(k, "%s", name);
    double p[BT_IND_MAX_PARAMS], *all = malloc(k->nout * n * sizeof *all);
    bt_errbuf_t eb;
    cr_assert_eq(bt_ind_params(k, given, np, p, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_ind_array(k, p, BT_SRC_CLOSE, bars, y, n, all, &eb), BT_OK, "%s", eb.msg);
    memcpy(out, all + j * n, n * sizeof *out);
    free(all);
}

static bt_bar_t s_bar(int64_t t, double h, double l, double c, double v)
{
    return (bt_bar_t){t, c, h, l, c, v};
}

Test(ind_kinds, at_least_thirty)
{
    cr_assert_geq(bt_ind_count(), 30);
}

/* WMA(3) of 1, 2, 3, 4: (1 + 4 + 9) / 6 and (2 + 6 + 12) / 6. */
Test(ind_kinds, wma_by_hand)
{
    bt_bar_t b[4];
    for (int t = 0; t < 4; t++)
        b[t] = s_bar(t, t + 1, t + 1, t + 1, 1);
    double p[] = {3}, out[4];
    s_run("wma", p, 1, b, NULL, 4, 0, out);
    cr_assert(isnan(out[1]));
    cr_assert_float_eq(out[2], 14.0 / 6.0, 1e-15);
    cr_assert_float_eq(out[3], 20.0 / 6.0, 1e-15);
}

/* Bars (high, low, close): (10, 8, 9), (12, 11, 11.5), (11, 10, 10.5).
 * TR: -, max(12, 9) - min(11, 9) = 3, max(11, 11.5) - min(10, 11.5) = 1.5.
 * ATR(2) at bar 2 = (3 + 1.5) / 2. Momentum(1) of closes: -, 2.5, -1. */
Test(ind_kinds, true_range_atr_momentum_by_hand)
{
    bt_bar_t b[] = {s_bar(0, 10, 8, 9, 1), s_bar(1, 12, 11, 11.5, 1), s_bar(2, 11, 10, 10.5, 1)};
    double out[3], two[] = {2}, one[] = {1};
    s_run("true_range", NULL, 0, b, NULL, 3, 0, out);
    cr_assert(isnan(out[0]) && out[1] == 3.0 && out[2] == 1.5);
    s_run("atr", two, 1, b, NULL, 3, 0, out);
    cr_assert(isnan(out[1]) && out[2] == 2.25);
    s_run("momentum", one, 1, b, NULL, 3, 0, out);
    cr_assert(out[1] == 2.5 && out[2] == -1.0);
}

/* Donchian(2) over highs 5, 7, 6, 4 and lows 1, 2, 0, 3: the previous two
 * bars only. Bar 2: upper max(5, 7) = 7, lower min(1, 2) = 1; bar 3: upper
 * max(7, 6) = 7, lower min(2, 0) = 0. */
Test(ind_kinds, donchian_previous_bars_only)
{
    double hi[] = {5, 7, 6, 4}, lo[] = {1, 2, 0, 3};
    bt_bar_t b[4];
    for (int t = 0; t < 4; t++)
        b[t] = s_bar(t, hi[t], lo[t], lo[t], 1);
    double p[] = {2}, up[4], low[4];
    s_run("donchian", p, 1, b, NULL, 4, 0, up);
    s_run("donchian", p, 1, b, NULL, 4, 2, low);
    cr_assert(isnan(up[1]));
    cr_assert(up[2] == 7 && low[2] == 1 && up[3] == 7 && low[3] == 0);
}

/* VWAP resets at a new UTC day: day 1 typical prices 10 (volume 1) and 20
 * (volume 3) -> 10, (10 + 60) / 4 = 17.5; day 2, 30 -> 30. With the weekly
 * anchor (days 1 and 2 of the same week) the third is (70 + 30) / 5 = 20. */
Test(ind_kinds, vwap_resets_each_day)
{
    int64_t mon = 18631 * DAY; /* 2021-01-04, a Monday */
    bt_bar_t b[] = {s_bar(mon + 3600000000000LL, 10, 10, 10, 1),
                    s_bar(mon + 7200000000000LL, 20, 20, 20, 3),
                    s_bar(mon + DAY + 3600000000000LL, 30, 30, 30, 1)};
    double out[3], weekly[] = {1};
    s_run("vwap", NULL, 0, b, NULL, 3, 0, out);
    cr_assert(out[0] == 10 && out[1] == 17.5 && out[2] == 30);
    s_run("vwap", weekly, 1, b, NULL, 3, 0, out);
    cr_assert(out[2] == 20);
}

/* OBV of closes 10, 11, 11, 9 with volumes 100, 200, 300, 400: 0, +200,
 * unchanged, -400 -> 0, 200, 200, -200. */
Test(ind_kinds, obv_by_hand)
{
    double c[] = {10, 11, 11, 9}, v[] = {100, 200, 300, 400}, out[4];
    bt_bar_t b[4];
    for (int t = 0; t < 4; t++)
        b[t] = s_bar(t, c[t], c[t], c[t], v[t]);
    s_run("obv", NULL, 0, b, NULL, 4, 0, out);
    cr_assert(out[0] == 0 && out[1] == 200 && out[2] == 200 && out[3] == -200);
}

/* Aroon(2) over highs 1, 3, 2 and lows 0, 2, 1: window of 3 bars at bar 2;
 * highest high 1 bar ago -> up 100 (2 - 1) / 2 = 50; lowest low 2 bars ago
 * -> down 0; osc 50. */
Test(ind_kinds, aroon_by_hand)
{
    double hi[] = {1, 3, 2}, lo[] = {0, 2, 1}, p[] = {2}, up[3], down[3];
    bt_bar_t b[3];
    for (int t = 0; t < 3; t++)
        b[t] = s_bar(t, hi[t], lo[t], lo[t], 1);
    s_run("aroon", p, 1, b, NULL, 3, 0, up);
    s_run("aroon", p, 1, b, NULL, 3, 1, down);
    cr_assert(isnan(up[1]) && up[2] == 50 && down[2] == 0);
}

/* Beta of y = 3 + 2x over any window is 2, alpha 3, residual 0; the
 * correlation is 1, and -1 for y = -x. */
Test(ind_kinds, beta_and_correlation_exact_line)
{
    enum { N = 50 };
    bt_bar_t b[N];
    double y[N], ny[N], out[N];
    for (int t = 0; t < N; t++) {
        double x = 10.0 + (t * 7 % 13);
        b[t] = s_bar(t, x, x, x, 1);
        y[t] = 3.0 + 2.0 * x;
        ny[t] = -x;
    }
    double p[] = {10};
    s_run("beta", p, 1, b, y, N, 0, out);
    cr_assert(isnan(out[8]));
    for (int t = 9; t < N; t++)
        cr_assert_float_eq(out[t], 2.0, 1e-12, "beta at %d: %.17g", t, out[t]);
    s_run("beta", p, 1, b, y, N, 1, out);
    cr_assert_float_eq(out[N - 1], 3.0, 1e-10);
    s_run("correlation", p, 1, b, ny, N, 0, out);
    cr_assert_float_eq(out[N - 1], -1.0, 1e-12);
}

/* Two million bars of a random walk at a level of 1e4 (large level, small
 * moves: where running sums lose digits): the last values of the running
 * kinds equal a from-scratch computation over the last window to 1e-9. */
Test(ind_kinds, stable_over_two_million_bars)
{
    enum { N = 2000000, W = 50 };
    bt_bar_t *b = malloc(N * sizeof *b);
    double *y = malloc(N * sizeof *y), *out = malloc(N * sizeof *out);
    uint64_t r = 0x2545F4914F6CDD1Du;
    double px = 1e4, py = 5e3;
    for (size_t t = 0; t < N; t++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        double u = (double)(r % 1000000) / 1e6 - 0.5;
        px += u;
        py += 0.5 * u + 0.1 * ((double)((r >> 20) % 1000) / 1e3 - 0.5);
        b[t] = s_bar((int64_t)t, px + 0.5, px - 0.5, px, 1000);
        y[t] = py;
    }
    double sx = 0, sy = 0, wsum = 0;
    for (size_t i = 0; i < W; i++) {
        sx += b[N - W + i].close;
        sy += y[N - W + i];
        wsum += (double)(i + 1) * b[N - W + i].close;
    }
    double mx = sx / W, my = sy / W, cxx = 0, cyy = 0, cxy = 0;
    for (size_t i = 0; i < W; i++) {
        double dx = b[N - W + i].close - mx, dy = y[N - W + i] - my;
        cxx += dx * dx;
        cyy += dy * dy;
        cxy += dx * dy;
    }
    double p[] = {W};
    s_run("wma", p, 1, b, NULL, N, 0, out);
    cr_assert_float_eq(out[N - 1], wsum / (W * (W + 1) / 2.0), 1e-9 * px);
    s_run("beta", p, 1, b, y, N, 0, out);
    cr_assert_float_eq(out[N - 1], cxy / cxx, 1e-9 * fabs(cxy / cxx));
    s_run("correlation", p, 1, b, y, N, 0, out);
    cr_assert_float_eq(out[N - 1], cxy / sqrt(cxx * cyy), 1e-9);
    s_run("zscore", p, 1, b, NULL, N, 0, out);
    cr_assert_float_eq(out[N - 1], (b[N - 1].close - mx) / sqrt(cxx / W), 1e-9);
    free(b);
    free(y);
    free(out);
}
