/* Synthetic sanity check of the overfitting statistics, in process: a seeded
 * random walk with no edge must make a 100-trial sweep look overfit (high
 * PBO, deflated Sharpe that rejects the winner); a walk with a planted,
 * persistent drift must not (low PBO, significant deflated Sharpe).
 *
 * Data: a seeded log random walk, 1 % volatility per step. Each bar's volume
 * is 1 or 2 at random; on the planted-edge data the next step's return has a
 * drift of +mu after volume 2 and -mu after volume 1 (noise data: mu = 0).
 * Trials: a test strategy with one parameter k = 0..99 that is long or short
 * every step: with probability w = k / 99 it follows the volume signal,
 * otherwise a coin (hash of k and the step). Positions are +-1 with no net
 * bias, so on noise data every trial is luck; on the edge data a trial's
 * Sharpe grows with w in every block. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_engine.h"
#include "bt_overfit.h"

#define S_N 2000     /* bars */
#define S_K 100      /* trials */
#define S_BLOCKS 16

static uint64_t s_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double s_unif(uint64_t a, uint64_t b)
{
    return (double)(s_mix(a * 0x100000001b3ull ^ s_mix(b)) >> 11) / 9007199254740992.0;
}

static const bt_param_spec_t s_params[] = {
    {"k", BT_PARAM_INT, 0, 0, S_K - 1, "trial: follows the volume signal with probability k / 99"},
};

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)p;
    (void)nsym;
    return sizeof(double);
}

static bt_err_t s_init(void *st, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    (void)eb;
    *(double *)st = p[0];
    return BT_OK;
}

static void s_on_bar(void *st, bt_ctx_t *ctx)
{
    double k = *(double *)st;
    double dir = ctx->bar[0].volume == 2.0 ? 1.0 : -1.0;
    uint64_t key = (uint64_t)k + 7;
    if (s_unif(key, 2 * ctx->step) >= k / (S_K - 1))
        dir = s_unif(key, 2 * ctx->step + 1) < 0.5 ? 1.0 : -1.0;
    bt_signal(ctx, 0, dir);
}

static const bt_strategy_t s_strat = {
    .name = "expo_test",
    .summary = "test strategy",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = 1,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
};

typedef struct {
    double pbo, dsr, median_logit;
    uint64_t splits;
} s_outcome_t;

/* Seeded log random walk with per-step drift mu and volatility 1 %; bars are
 * one day apart, open = previous close. */
static s_outcome_t s_run(double mu, uint64_t seed)
{
    static int64_t t[S_N];
    static double o[S_N], h[S_N], l[S_N], c[S_N], v[S_N];
    double px = 100.0;
    for (size_t i = 0; i < S_N; i++) {
        double u1 = s_unif(seed, 2 * i) + 1e-300, u2 = s_unif(seed, 2 * i + 1);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        o[i] = px;
        double drift = i == 0 ? 0.0 : v[i - 1] == 2.0 ? mu : -mu;
        px *= exp(drift + 0.01 * z);
        c[i] = px;
        h[i] = fmax(o[i], c[i]);
        l[i] = fmin(o[i], c[i]);
        v[i] = s_unif(seed + 99, i) < 0.5 ? 2.0 : 1.0;
        t[i] = (int64_t)(1577836800 + 86400 * (int64_t)i) * 1000000000;
    }
    bt_series_t ser = {.symbol = "NOISE", .n = S_N, .time = t, .open = o, .high = h,
                       .low = l, .close = c, .volume = v};
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.fractional = true;
    cfg.allow_short = true;
    cfg.pbo_blocks = S_BLOCKS;
    bt_engine_t *eng = bt_engine_new();
    cr_assert_not_null(eng);
    static float stats[S_K * 2 * S_BLOCKS];
    double sr[S_K], count[S_BLOCKS], skew[S_K], kurt[S_K];
    size_t best = 0;
    for (size_t k = 0; k < S_K; k++) {
        double p = (double)k, blk[3 * S_BLOCKS];
        bt_run_spec_t spec = {.series = &ser, .nsym = 1, .strategy = &s_strat, .params = &p,
                              .cfg = &cfg, .threads = 1, .blocks_out = blk};
        bt_metrics_t m;
        bt_errbuf_t eb;
        cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
        double n = 0, s1 = 0, s2 = 0;
        for (size_t b = 0; b < S_BLOCKS; b++) {
            double cnt = blk[3 * b], mean = blk[3 * b + 1] / cnt;
            count[b] = cnt;
            stats[(k * S_BLOCKS + b) * 2] = (float)mean;
            stats[(k * S_BLOCKS + b) * 2 + 1] = (float)(blk[3 * b + 2] - blk[3 * b + 1] * mean);
            n += cnt;
            s1 += blk[3 * b + 1];
            s2 += blk[3 * b + 2];
        }
        cr_assert_eq(n, S_N, "blocks cover every step");
        sr[k] = bt_overfit_sharpe_sums(n, s1, s2);
        skew[k] = m.skewness;
        kurt[k] = m.kurtosis;
        if (sr[k] > sr[best])
            best = k;
    }
    bt_engine_destroy(&eng);
    bt_dsr_t d;
    bt_pbo_t pb;
    bt_errbuf_t eb;
    cr_assert_eq(bt_overfit_dsr(sr, S_K, best, S_N, skew[best], kurt[best], &d, &eb), BT_OK);
    cr_assert_eq(bt_overfit_pbo(stats, count, S_K, S_BLOCKS, &pb, &eb), BT_OK, "%s", eb.msg);
    return (s_outcome_t){pb.pbo, d.dsr, pb.median_logit, pb.splits};
}

/* Measured (gcc 12): noise seed 1 PBO 0.740 / DSR 0.586 (median logit
 * -0.958), seed 2 PBO 0.575 / DSR 0.483; drift seed 3 PBO 0.000 / DSR 0.999
 * (median logit 3.19). Whole test ~0.6 s. */
Test(overfit_sanity, noise_looks_overfit)
{
    for (uint64_t seed = 1; seed <= 2; seed++) {
        s_outcome_t r = s_run(0.0, seed);
        cr_log_info("noise seed %llu: PBO %.3f, DSR %.3f, median logit %.3f over %llu splits",
                    (unsigned long long)seed, r.pbo, r.dsr, r.median_logit,
                    (unsigned long long)r.splits);
        cr_assert_eq(r.splits, 12870);
        cr_assert_gt(r.pbo, 0.5, "noise: PBO %.3f should exceed 0.5", r.pbo);
        cr_assert_lt(r.dsr, 0.95, "noise: DSR %.3f should reject the winner", r.dsr);
    }
}

Test(overfit_sanity, planted_edge_is_not_overfit)
{
    /* drift 0.3 % per step with 1 % volatility: per-step Sharpe ~0.3 w for trial w */
    s_outcome_t r = s_run(0.003, 3);
    cr_log_info("drift: PBO %.3f, DSR %.3f, median logit %.3f", r.pbo, r.dsr, r.median_logit);
    cr_assert_lt(r.pbo, 0.1, "edge: PBO %.3f should be near 0", r.pbo);
    cr_assert_gt(r.dsr, 0.95, "edge: DSR %.3f should accept the winner", r.dsr);
}
