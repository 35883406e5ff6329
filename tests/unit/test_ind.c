/* Unit tests for common/engine/bt_ind: the table is well formed, every kind's
 * array form equals its streaming form bit for bit on random bars, values
 * are NaN exactly until ready, parameters are checked, and the wrappers give
 * the hand-computed values of the underlying indicators. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

static uint64_t s_rng = 0x243F6A8885A308D3u;
static double s_uniform(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (double)((s_rng * 0x2545F4914F6CDD1Du) >> 11) * (1.0 / 9007199254740992.0);
}

/* A random walk of n consistent OHLCV bars, one a day. */
static bt_bar_t *s_bars(size_t n)
{
    bt_bar_t *b = calloc(n, sizeof *b);
    double px = 100.0;
    for (size_t t = 0; t < n; t++) {
        double o = px, c = px * (1.0 + (s_uniform() - 0.5) * 0.04);
        double hi = fmax(o, c) * (1.0 + s_uniform() * 0.01);
        double lo = fmin(o, c) * (1.0 - s_uniform() * 0.01);
        b[t] = (bt_bar_t){(int64_t)t * 86400000000000, o, hi, lo, c, 1000 + 1000 * s_uniform()};
        px = c;
    }
    return b;
}

Test(ind, table_well_formed)
{
    cr_assert_geq(bt_ind_count(), 8);
    for (size_t i = 0; i < bt_ind_count(); i++) {
        const bt_ind_kind_t *k = bt_ind_at(i);
        cr_assert(k->name && k->summary && k->update && k->init && k->state_size);
        cr_assert_leq(k->nparams, BT_IND_MAX_PARAMS, "%s", k->name);
        cr_assert(k->nout >= 1 && k->nout <= BT_IND_MAX_OUT, "%s", k->name);
        cr_assert_eq(bt_ind_find(k->name), k, "%s listed twice", k->name);
        for (size_t j = 0; j < k->nparams; j++)
            cr_assert(k->params[j].min <= k->params[j].def && k->params[j].def <= k->params[j].max,
                      "%s.%s default out of bounds", k->name, k->params[j].name);
    }
    cr_assert_null(bt_ind_find("no_such"));
}

/* Every kind at its default parameters: array form == streaming form, bit
 * for bit, and NaN exactly while not ready. */
Test(ind, array_equals_streaming)
{
    enum { N = 3000 };
    bt_bar_t *bars = s_bars(N);
    double *y = malloc(N * sizeof *y);
    for (size_t t = 0; t < N; t++)
        y[t] = bars[t].close * 0.5 + 10.0 * s_uniform();
    for (size_t i = 0; i < bt_ind_count(); i++) {
        const bt_ind_kind_t *k = bt_ind_at(i);
        double p[BT_IND_MAX_PARAMS];
        bt_errbuf_t eb;
        cr_assert_eq(bt_ind_params(k, NULL, 0, p, &eb), BT_OK, "%s: %s", k->name, eb.msg);
        double *arr = malloc(k->nout * N * sizeof *arr);
        cr_assert_eq(bt_ind_array(k, p, BT_SRC_CLOSE, bars, y, N, arr, &eb), BT_OK);
        void *st = calloc(1, bt_ind_state_size(k, p));
        bt_ind_t ind;
        cr_assert_eq(bt_ind_open(&ind, k, p, BT_SRC_CLOSE, st, &eb), BT_OK);
        bool was_ready = false;
        for (size_t t = 0; t < N; t++) {
            bool r = bt_ind_update(&ind, &bars[t], y[t]);
            cr_assert(!was_ready || r, "%s: ready went back to false at %zu", k->name, t);
            was_ready = r;
            cr_assert_eq(isnan(ind.out[0]), !r, "%s: main output NaN iff not ready (t=%zu)",
                         k->name, t);
            for (size_t j = 0; j < k->nout; j++)
                cr_assert(memcmp(&arr[j * N + t], &ind.out[j], sizeof(double)) == 0,
                          "%s.%s at %zu: array %.17g stream %.17g", k->name, k->outs[j], t,
                          arr[j * N + t], ind.out[j]);
        }
        cr_assert(was_ready, "%s never ready in %d bars", k->name, N);
        free(st);
        free(arr);
    }
    free(y);
    free(bars);
}

Test(ind, params_checked)
{
    const bt_ind_kind_t *k = bt_ind_find("bollinger");
    cr_assert_not_null(k);
    double p[BT_IND_MAX_PARAMS];
    bt_errbuf_t eb;
    double bad[] = {0, 2};
    cr_assert_eq(bt_ind_params(k, bad, 2, p, &eb), BT_ERANGE);
    cr_assert(strstr(eb.msg, "bollinger") && strstr(eb.msg, "n = 0"), "%s", eb.msg);
    double frac[] = {2.5};
    cr_assert_eq(bt_ind_params(k, frac, 1, p, &eb), BT_EINVAL);
    double ok[] = {5};
    cr_assert_eq(bt_ind_params(k, ok, 1, p, &eb), BT_OK);
    cr_assert_eq(p[0], 5);
    cr_assert_eq(p[1], 2, "k takes its default");
    cr_assert_eq(bt_ind_out_index(k, "lower"), 2);
    cr_assert_eq(bt_ind_out_index(k, "nope"), -1);
}

/* SMA(3) of closes 10, 11, 12, 13: NaN, NaN, 11, 12 (hand: 33/3, 36/3).
 * Source high = close + 1 gives 12, 13. Typical price (h+l+c)/3 with
 * h = c + 1, l = c - 1 is c. */
Test(ind, sma_hand_values_and_sources)
{
    bt_bar_t bars[4];
    for (int t = 0; t < 4; t++)
        bars[t] = (bt_bar_t){t, 10 + t, 11 + t, 9 + t, 10 + t, 100};
    const bt_ind_kind_t *k = bt_ind_find("sma");
    double p[1] = {3}, out[4];
    bt_errbuf_t eb;
    cr_assert_eq(bt_ind_array(k, p, BT_SRC_CLOSE, bars, NULL, 4, out, &eb), BT_OK);
    cr_assert(isnan(out[0]) && isnan(out[1]));
    cr_assert_eq(out[2], 11.0);
    cr_assert_eq(out[3], 12.0);
    cr_assert_eq(bt_ind_array(k, p, BT_SRC_HIGH, bars, NULL, 4, out, &eb), BT_OK);
    cr_assert_eq(out[3], 13.0);
    cr_assert_eq(bt_ind_array(k, p, BT_SRC_TYPICAL, bars, NULL, 4, out, &eb), BT_OK);
    cr_assert_eq(out[3], 12.0);
    bt_ind_source_t s;
    cr_assert(bt_ind_source_parse("typical", &s) && s == BT_SRC_TYPICAL);
    cr_assert_not(bt_ind_source_parse("vwap", &s));
}

/* bt_sma_array and bt_ema_array (the grid cache's SMA / EMA columns,
 * session 8) give the "sma" / "ema" kinds' array forms bit for bit: NaN until ready, every compensated step,
 * the full recomputation every 16 w updates (n > 16 w for the small
 * windows), on prices that jump by orders of magnitude (cancellation). */
Test(ind, sma_and_ema_arrays_equal_the_kinds)
{
    const size_t n = 3000;
    bt_bar_t *b = s_bars(n);
    for (size_t t = 500; t < 520; t++)
        b[t].close *= 1e9; /* a spike the window must carry out exactly as the kind does */
    double *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    double *got = malloc(n * sizeof *got), *ring = malloc(n * sizeof *ring);
    for (size_t t = 0; t < n; t++)
        x[t] = b[t].close;
    const size_t windows[] = {1, 2, 3, 7, 16, 64, 187, 2999, 3000};
    for (int ema = 0; ema < 2; ema++)
        for (size_t k = 0; k < sizeof windows / sizeof *windows; k++) {
            double p[BT_IND_MAX_PARAMS] = {(double)windows[k]};
            bt_errbuf_t eb;
            cr_assert_eq(bt_ind_array(ema ? &bt_ind_kind_ema : &bt_ind_kind_sma, p, BT_SRC_CLOSE,
                                      b, NULL, n, want, &eb),
                         BT_OK);
            if (ema)
                bt_ema_array(x, n, windows[k], got);
            else
                bt_sma_array(x, n, windows[k], ring, got);
            for (size_t t = 0; t < n; t++)
                cr_assert(memcmp(&got[t], &want[t], sizeof got[t]) == 0,
                          "%s window %zu, bar %zu: %.17g, the kind gives %.17g",
                          ema ? "ema" : "sma", windows[k], t, got[t], want[t]);
        }
    free(x);
    free(want);
    free(got);
    free(ring);
    free(b);
}

/* bt_sma_array4, bt_ema_array4 and bt_ema_array8 (the cache's columns four or eight at a time,
 * session 12) give bt_sma_array / bt_ema_array bit for bit, which the test above ties to the
 * kinds: windows mixed in size (warm-ups of different lengths run one lane at a time first),
 * repeated, longer than the series (all NaN), window 1, each lane's full recomputation at its
 * own 16 w; through the same price spike and a stretch of wildly mixed magnitudes. */
Test(ind, sma_and_ema_columns_together_equal_one_at_a_time)
{
    const size_t n = 3000;
    bt_bar_t *b = s_bars(n);
    for (size_t t = 500; t < 520; t++)
        b[t].close *= 1e9;
    double *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    double *ring = malloc(4000 * sizeof *ring), *got[8];
    for (int k = 0; k < 8; k++)
        got[k] = malloc(n * sizeof *got[k]);
    for (size_t t = 0; t < n; t++)
        x[t] = b[t].close;
    /* and a stretch of magnitudes from 1e-6 to 1e6 with both signs, where the order of a sum
     * shows in its last bits (a re-sum in another order than the ring's gives other bits) */
    uint64_t r = 12345;
    for (size_t t = 1000; t < 2500; t++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        double mag = pow(10.0, (double)(r >> 40) / (double)(1u << 24) * 12.0 - 6.0);
        x[t] = (r >> 20) & 1 ? mag : -mag;
    }
    const size_t sets[][8] = {{1, 2, 3, 7, 16, 64, 187, 2999},
                              {10, 30, 10, 30, 3000, 3500, 5, 6},
                              {200, 2, 150, 3, 100, 4, 50, 9},
                              {17, 17, 17, 17, 1, 1, 1, 1}};
    for (size_t si = 0; si < sizeof sets / sizeof *sets; si++)
        for (int kind = 0; kind < 3; kind++) { /* sma x4 (both halves), ema x4, ema x8 */
            int lanes = kind == 2 ? 8 : 4;
            for (int half = 0; half < (lanes == 4 ? 2 : 1); half++) {
                const size_t *w = &sets[si][4 * half];
                if (kind == 0)
                    bt_sma_array4(x, n, w, got);
                else if (kind == 1)
                    bt_ema_array4(x, n, w, got);
                else
                    bt_ema_array8(x, n, w, got);
                for (int k = 0; k < lanes; k++) {
                    if (kind == 0)
                        bt_sma_array(x, n, w[k], ring, want);
                    else
                        bt_ema_array(x, n, w[k], want);
                    for (size_t t = 0; t < n; t++)
                        cr_assert(memcmp(&got[k][t], &want[t], sizeof want[t]) == 0,
                                  "%s x%d window %zu (lane %d), bar %zu: %.17g, one at a time "
                                  "%.17g",
                                  kind ? "ema" : "sma", lanes, w[k], k, t, got[k][t], want[t]);
                }
            }
        }
    for (int k = 0; k < 8; k++)
        free(got[k]);
    free(x);
    free(want);
    free(ring);
    free(b);
}
