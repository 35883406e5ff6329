/* ml_xgboost: no look-ahead and determinism.
 *
 * No look-ahead: the orders decided before bar 299 are the same whether the
 * series stops at bar 299 or goes on to bar 499: nothing the strategy does
 * at a bar may depend on a later one (features, labels, retraining).
 * Determinism: two symbols (two sleeves) give the same orders with the
 * engine on 1 thread and on 2, and twice in a row; subsample 0.8 makes the
 * seed matter, and a different seed gives different orders (so the seed is
 * really passed through). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_engine.h"
#include "bt_registry.h"
#include "bt_time.h"

#define N 500
#define MAXORD 512

static int64_t s_time[N];
static double s_o[2][N], s_h[2][N], s_l[2][N], s_c[2][N], s_v[N];
static bt_series_t s_ser[2];
static int64_t s_t0;

typedef struct {
    size_t bar;
    uint32_t sym;
    double qty;
} s_ord_t;

/* A random walk with some momentum (so the model has something to fit). */
static void s_make(void)
{
    uint64_t r = 0x9E3779B97F4A7C15u;
    s_t0 = bt_days_from_civil(2020, 1, 6) * BT_NS_PER_DAY;
    for (int k = 0; k < 2; k++) {
        double px = 100.0, prev = 0.0;
        for (size_t t = 0; t < N; t++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            double ret = 0.3 * prev + ((double)(r % 100000) / 100000.0 - 0.5) * 0.03;
            prev = ret;
            s_o[k][t] = px;
            px *= 1.0 + ret;
            s_c[k][t] = px;
            s_h[k][t] = fmax(s_o[k][t], px) * 1.004;
            s_l[k][t] = fmin(s_o[k][t], px) * 0.996;
            s_time[t] = s_t0 + (int64_t)t * BT_NS_PER_DAY;
            s_v[t] = 1e6;
        }
    }
}

static size_t s_run(size_t nbars, size_t nsym, int threads, double seed, s_ord_t *out)
{
    for (size_t k = 0; k < nsym; k++) {
        s_ser[k] = (bt_series_t){.n = nbars,
                                 .time = s_time,
                                 .open = s_o[k],
                                 .high = s_h[k],
                                 .low = s_l[k],
                                 .close = s_c[k],
                                 .volume = s_v};
        snprintf(s_ser[k].symbol, sizeof s_ser[k].symbol, "M%zu", k);
    }
    const bt_strategy_t *st = bt_strategy_find("ml_xgboost");
    cr_assert_not_null(st);
    /* train_window, retrain_every, horizon, threshold, exit, rounds, depth,
     * eta, subsample, seed, short */
    double p[] = {100, 10, 1, 0.52, 0.48, 20, 3, 0.3, 0.8, seed, 1};
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.sizing = BT_SIZE_FIXED;
    cfg.size_value = 1.0;
    cfg.allow_short = true;
    bt_engine_t *eng = bt_engine_new();
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_run_spec_t spec = {.series = s_ser,
                          .nsym = nsym,
                          .strategy = st,
                          .params = p,
                          .cfg = &cfg,
                          .threads = threads,
                          .rec = &rec};
    bt_metrics_t m;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
    size_t n = 0;
    for (size_t i = 0; i < rec.norders && n < MAXORD; i++)
        out[n++] = (s_ord_t){(size_t)((rec.orders[i].created - s_t0) / BT_NS_PER_DAY),
                             rec.orders[i].sym, rec.orders[i].qty};
    bt_recorder_fini(&rec);
    bt_engine_destroy(&eng);
    return n;
}

static s_ord_t s_a[MAXORD], s_b[MAXORD];

static void s_same(const s_ord_t *a, size_t na, const s_ord_t *b, size_t nb, const char *what)
{
    cr_assert_eq(na, nb, "%s: %zu vs %zu orders", what, na, nb);
    for (size_t i = 0; i < na; i++)
        cr_assert(a[i].bar == b[i].bar && a[i].sym == b[i].sym && a[i].qty == b[i].qty,
                  "%s: order %zu differs: (bar %zu sym %u qty %g) vs (bar %zu sym %u qty %g)", what,
                  i, a[i].bar, a[i].sym, a[i].qty, b[i].bar, b[i].sym, b[i].qty);
}

Test(ml_xgboost, no_look_ahead)
{
    s_make();
    size_t nf = s_run(N, 1, 1, 7, s_a);
    size_t nt = s_run(300, 1, 1, 7, s_b);
    size_t ka = 0, kb = 0; /* orders decided before bar 299 */
    while (ka < nf && s_a[ka].bar < 299)
        ka++;
    while (kb < nt && s_b[kb].bar < 299)
        kb++;
    cr_assert_geq(ka, 4, "the model should trade before bar 299 (got %zu orders)", ka);
    s_same(s_a, ka, s_b, kb, "full vs truncated series");
    cr_assert_gt(nf, ka, "and it keeps trading after bar 299");
}

Test(ml_xgboost, deterministic_at_any_thread_count)
{
    s_make();
    size_t n1 = s_run(N, 2, 1, 7, s_a);
    size_t n2 = s_run(N, 2, 2, 7, s_b);
    cr_assert_geq(n1, 8);
    s_same(s_a, n1, s_b, n2, "1 thread vs 2 threads");
    n2 = s_run(N, 2, 2, 7, s_b);
    s_same(s_a, n1, s_b, n2, "two runs on 2 threads");
    n2 = s_run(N, 2, 1, 8, s_b);
    bool differ = n1 != n2;
    for (size_t i = 0; !differ && i < n1; i++)
        differ = s_a[i].bar != s_b[i].bar || s_a[i].qty != s_b[i].qty;
    cr_assert(differ, "seed 8 gave exactly the orders of seed 7: is the seed used?");
}

Test(ml_xgboost, exit_threshold_at_most_threshold)
{
    s_make();
    const bt_strategy_t *st = bt_strategy_find("ml_xgboost");
    double p[] = {100, 10, 1, 0.52, 0.6, 20, 3, 0.3, 0.8, 7, 1};
    s_ser[0] = (bt_series_t){.n = N,
                             .time = s_time,
                             .open = s_o[0],
                             .high = s_h[0],
                             .low = s_l[0],
                             .close = s_c[0],
                             .volume = s_v};
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {
        .series = s_ser, .nsym = 1, .strategy = st, .params = p, .cfg = &cfg, .threads = 1};
    bt_metrics_t m;
    bt_errbuf_t eb;
    cr_assert_neq(bt_engine_run(eng, &spec, &m, &eb), BT_OK);
    cr_assert(strstr(eb.msg, "exit_threshold"), "%s", eb.msg);
    bt_engine_destroy(&eng);
}

/* The XGBoost library is opened when the strategy is set up (not linked):
 * one that cannot be loaded is a clear error naming it, never a silently
 * flat run. (Criterion runs each test in its own process, so the binding
 * starts afresh here.) */
static void s_init_fails_with(const char *lib, const char *want)
{
    setenv("BT_XGBOOST_LIB", lib, 1);
    const bt_strategy_t *st = bt_strategy_find("ml_xgboost");
    cr_assert_not_null(st);
    double p[] = {100, 10, 1, 0.52, 0.48, 20, 3, 0.3, 0.8, 1, 1};
    void *state = calloc(1, st->state_size(p, 1));
    cr_assert_not_null(state);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(st->init(state, p, 1, &eb), BT_ESTRATEGY);
    cr_assert(strstr(eb.msg, "cannot load the XGBoost library") && strstr(eb.msg, want), "%s",
              eb.msg);
    free(state);
}

Test(ml_xgboost, a_missing_library_is_a_clear_error)
{
    s_init_fails_with("/nonexistent/libxgboost.so.0", "/nonexistent/libxgboost.so.0");
}

/* A library that loads but is not XGBoost (libm here) names the first
 * function it lacks. */
Test(ml_xgboost, a_library_without_the_c_api_is_a_clear_error)
{
    s_init_fails_with("libm.so.6", "libm.so.6 has no XGDMatrixCreateFromMat");
}
