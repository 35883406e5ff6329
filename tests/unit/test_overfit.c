/* bt_overfit: normal quantiles, expected max Sharpe, PSR/DSR, PBO by CSCV.
 * Reference values come from python3 with the standard library only
 * (statistics.NormalDist for Phi and Phi^-1, itertools.combinations for an
 * independent CSCV); the script's formulas are written next to each test. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <string.h>

#include "bt_metrics.h"
#include "bt_overfit.h"

static void s_close(double got, double want, double tol, const char *what)
{
    cr_assert(fabs(got - want) <= tol, "%s: got %.17g, want %.17g", what, got, want);
}

typedef struct {
    double p, x;
} s_ppf_case_t;

/* NormalDist().inv_cdf(p) */
ParameterizedTestParameters(overfit, ppf)
{
    static s_ppf_case_t cases[] = {
        {1e-10, -6.361340902404056},    {0.001, -3.090232306167813},
        {0.02, -2.0537489106318225},    {0.025, -1.9599639845400538},
        {0.3, -0.5244005127080407},     {0.5, 0.0},
        {0.9, 1.2815515655446008},      {0.975, 1.9599639845400536},
        {0.98, 2.053748910631822},      {0.999999, 4.753424308817089},
    };
    return cr_make_param_array(s_ppf_case_t, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(s_ppf_case_t *c, overfit, ppf)
{
    double x = bt_overfit_norm_ppf(c->p);
    cr_assert(fabs(x - c->x) <= 1e-12 * fmax(1.0, fabs(c->x)), "ppf(%g) = %.17g, want %.17g",
              c->p, x, c->x);
    s_close(bt_overfit_norm_cdf(x), c->p, 1e-12 * fmax(c->p, 1e-300) + 1e-300, "cdf(ppf(p))");
}

Test(overfit, ppf_extremes_are_finite)
{
    cr_assert(isfinite(bt_overfit_norm_ppf(0.0)));
    cr_assert(isfinite(bt_overfit_norm_ppf(1.0)));
    cr_assert(isfinite(bt_overfit_norm_ppf(NAN)));
    cr_assert_lt(bt_overfit_norm_ppf(0.0), -30);
    cr_assert_gt(bt_overfit_norm_ppf(1.0), 8);
}

/* emax(n, v) = sqrt(v) ((1 - g) inv_cdf(1 - 1/n) + g inv_cdf(1 - 1/(n e))),
 * g = 0.5772156649015329:
 *   emax(100, 0.01) = 0.2530602893201685; emax(1000, 0.25) = 1.6275607568263615 */
Test(overfit, expected_max_sharpe)
{
    s_close(bt_overfit_expected_max_sharpe(100, 0.01), 0.2530602893201685, 1e-12, "N=100");
    s_close(bt_overfit_expected_max_sharpe(1000, 0.25), 1.6275607568263615, 1e-12, "N=1000");
    cr_assert_eq(bt_overfit_expected_max_sharpe(1, 0.25), 0.0, "one trial: no selection");
    cr_assert_eq(bt_overfit_expected_max_sharpe(100, 0.0), 0.0, "zero variance");
    cr_assert_eq(bt_overfit_expected_max_sharpe(100, NAN), 0.0);
}

/* psr(sr, n, skew, kurt, s0) = cdf((sr - s0) sqrt(n-1) / sqrt(1 - skew sr + (kurt-1)/4 sr^2)):
 *   psr(0.1, 250, -0.5, 5, 0) = 0.937320574390259 */
Test(overfit, psr_known_answer)
{
    s_close(bt_metrics_psr(0.1, 250, -0.5, 5, 0), 0.937320574390259, 1e-12, "psr");
}

/* DSR of 4 trials with Sharpe 0.05, 0.1, -0.02, 0.08; best = 0.1 over 500
 * normal returns: var = statistics.variance = 0.0027583333333333336,
 * sr0 = emax(4, var) = 0.05525731977957031, dsr = psr(0.1, 500, 0, 3, sr0)
 * = 0.840614446514979 */
Test(overfit, dsr_known_answer)
{
    const double sr[] = {0.05, 0.1, -0.02, 0.08};
    bt_dsr_t d;
    bt_errbuf_t eb;
    cr_assert_eq(bt_overfit_dsr(sr, 4, 1, 500, 0, 3, &d, &eb), BT_OK);
    s_close(d.var_sr, 0.0027583333333333336, 1e-15, "var");
    s_close(d.sr0, 0.05525731977957031, 1e-12, "sr0");
    s_close(d.dsr, 0.840614446514979, 1e-12, "dsr");
    cr_assert_eq(d.ntrials, 4);
    cr_assert_eq(d.sr_best, 0.1);
}

Test(overfit, dsr_edge_cases)
{
    const double one[] = {0.1};
    bt_dsr_t d;
    bt_errbuf_t eb;
    /* One trial: no selection, sr0 = 0, the DSR is the plain PSR. */
    cr_assert_eq(bt_overfit_dsr(one, 1, 0, 250, -0.5, 5, &d, &eb), BT_OK);
    cr_assert_eq(d.sr0, 0.0);
    s_close(d.dsr, 0.937320574390259, 1e-12, "one trial = psr");
    /* Too few returns, no trials: errors with a message. */
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_overfit_dsr(one, 1, 0, 1, 0, 3, &d, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "at least 2"), "%s", eb.msg);
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_overfit_dsr(one, 0, 0, 100, 0, 3, &d, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "at least 1 trial"), "%s", eb.msg);
    /* Zero variance across trials: sr0 = 0, finite. */
    const double same[] = {0.0, 0.0, 0.0};
    cr_assert_eq(bt_overfit_dsr(same, 3, 0, 100, 0, 3, &d, &eb), BT_OK);
    cr_assert_eq(d.sr0, 0.0);
    cr_assert_eq(d.dsr, 0.5);
}

Test(overfit, sharpe_sums)
{
    /* returns 0.01, 0.03: mean 0.02, sample sd sqrt(0.0002) = 0.0141421356;
     * SR = 1.4142135623730951 */
    s_close(bt_overfit_sharpe_sums(2, 0.04, 0.0001 + 0.0009), 1.4142135623730951, 1e-9, "SR");
    cr_assert_eq(bt_overfit_sharpe_sums(1, 0.01, 0.0001), 0.0);
    cr_assert_eq(bt_overfit_sharpe_sums(3, 0.03, 0.0003), 0.0, "constant returns");
}

/* Two trials, two blocks: each is good where the other is bad, so the IS
 * winner is always the OOS loser: PBO = 1 (both splits), omega = 1/3,
 * lambda = ln(0.5) = -0.6931471805599453; the IS best loses money OOS in
 * both. Make trial 0 good in both halves instead: PBO = 0, lambda = ln 2. */
Test(overfit, pbo_two_by_two)
{
    const double count[] = {50, 50};
    const float flip[] = {0.01f, 0.05f, -0.01f, 0.05f, /* trial 0: good, bad */
                          -0.01f, 0.05f, 0.01f, 0.05f}; /* trial 1: bad, good */
    bt_pbo_t p;
    bt_errbuf_t eb;
    cr_assert_eq(bt_overfit_pbo(flip, count, 2, 2, &p, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.splits, 2);
    cr_assert_eq(p.splits_all, 2);
    cr_assert_eq(p.pbo, 1.0);
    s_close(p.median_logit, -0.6931471805599453, 1e-12, "median lambda");
    cr_assert_eq(p.prob_oos_loss, 1.0);
    const float good[] = {0.01f, 0.05f, 0.01f, 0.05f, -0.01f, 0.05f, -0.01f, 0.05f};
    cr_assert_eq(bt_overfit_pbo(good, count, 2, 2, &p, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.pbo, 0.0);
    s_close(p.median_logit, 0.6931471805599453, 1e-12, "median lambda");
    cr_assert_eq(p.prob_oos_loss, 0.0);
}

/* 5 trials x 4 blocks of 50 returns, (mean, M2) per block as below (float32).
 * An independent python CSCV (itertools.combinations over the 6 half-splits,
 * Sharpe from summed count / sum / sum of squares, IS best = max with ties to
 * the lowest index, rank = 1 + less + ties/2, omega = rank / (T + 1)) gives
 * PBO 0.6666666666666666, median lambda -1.6094379124341005 (= ln(1/5)),
 * P(IS best loses OOS) 0.6666666666666666, 6 splits. */
Test(overfit, pbo_matches_independent_cscv)
{
    const float st[] = {
        0.001f,  0.02f, -0.002f, 0.03f, 0.0005f, 0.025f, 0.003f,  0.02f,
        0.002f,  0.01f, 0.001f,  0.012f, -0.001f, 0.02f, 0.0f,    0.015f,
        -0.001f, 0.03f, 0.004f,  0.02f, 0.002f,  0.01f,  -0.002f, 0.02f,
        0.0015f, 0.02f, 0.0015f, 0.02f, 0.0015f, 0.02f,  0.0015f, 0.02f,
        0.0f,    0.01f, 0.0f,    0.01f, 0.003f,  0.05f,  -0.003f, 0.04f,
    };
    const double count[] = {50, 50, 50, 50};
    bt_pbo_t p;
    bt_errbuf_t eb;
    cr_assert_eq(bt_overfit_pbo(st, count, 5, 4, &p, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.splits, 6);
    cr_assert_eq(p.sampled, 0);
    s_close(p.pbo, 0.6666666666666666, 1e-15, "pbo");
    s_close(p.median_logit, -1.6094379124341005, 1e-12, "median lambda");
    s_close(p.prob_oos_loss, 0.6666666666666666, 1e-15, "oos loss");
}

Test(overfit, pbo_edge_cases)
{
    const float st[] = {0.01f, 0.05f, -0.01f, 0.05f, -0.01f, 0.05f, 0.01f, 0.05f};
    const double count[] = {50, 50};
    bt_pbo_t p;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_overfit_pbo(st, count, 1, 2, &p, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "at least 2 trials"), "%s", eb.msg);
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_overfit_pbo(st, count, 2, 3, &p, &eb), BT_EINVAL, "odd blocks");
    cr_assert(strstr(eb.msg, "even"), "%s", eb.msg);
    const double tiny[] = {1, 1};
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_overfit_pbo(st, tiny, 2, 2, &p, &eb), BT_EINVAL, "short series");
    cr_assert(strstr(eb.msg, "too few returns"), "%s", eb.msg);
    /* Zero variance everywhere: every Sharpe is 0, all tie: omega = 1/2,
     * lambda = 0, which counts as overfit (PBO = 1) -- defined, finite. */
    const float flat[8] = {0};
    cr_assert_eq(bt_overfit_pbo(flat, count, 2, 2, &p, &eb), BT_OK);
    cr_assert_eq(p.pbo, 1.0);
    cr_assert_eq(p.median_logit, 0.0);
    cr_assert_eq(p.prob_oos_loss, 0.0);
}

/* Above the work budget the splits are a deterministic sample of complement
 * pairs: same answer twice, the number asked for, flagged as sampled; the
 * default policy (BT_PBO_FULL_WORK) by its arithmetic: 1,942 trials x 12870
 * x 16 = 3.9989e8 <= 4e8 evaluates all, 1,943 x 12870 x 16 = 4.0010e8
 * samples 6000; 10 trials of 4 blocks: all 6. */
Test(overfit, pbo_sampling_is_deterministic)
{
    const size_t T = 2000;
    const uint32_t S = 16;
    float *st = malloc(T * 2 * S * sizeof *st);
    cr_assert_not_null(st);
    uint64_t x = 42;
    for (size_t i = 0; i < T * S; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        st[2 * i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.002f;
        st[2 * i + 1] = 0.01f;
    }
    double count[16];
    for (uint32_t b = 0; b < S; b++)
        count[b] = 100;
    bt_pbo_t a, b, c;
    bt_errbuf_t eb;
    cr_assert_eq(bt_overfit_pbo_sample(st, count, T, S, 1000, BT_PBO_SEED, &a, NULL, &eb), BT_OK);
    cr_assert_eq(bt_overfit_pbo_sample(st, count, T, S, 1000, BT_PBO_SEED, &b, NULL, &eb), BT_OK);
    cr_assert_eq(bt_overfit_pbo_sample(st, count, T, S, 999, 7, &c, NULL, &eb), BT_OK);
    cr_assert_eq(a.sampled, 1);
    cr_assert_eq(a.splits_all, 12870);
    cr_assert_eq(a.splits, 1000);
    cr_assert_eq(c.splits, 1000); /* whole complement pairs */
    cr_assert_eq(a.pbo, b.pbo);
    cr_assert_eq(a.median_logit, b.median_logit);
    /* pure noise: the in-sample best is no better than a coin flip OOS */
    cr_assert(a.pbo > 0.3 && a.pbo < 0.8, "pbo %g", a.pbo);
    cr_assert(c.pbo > 0.3 && c.pbo < 0.8, "pbo %g", c.pbo);
    cr_assert_eq(bt_overfit_pbo_default_splits(T, S), BT_PBO_SAMPLE_SPLITS);
    cr_assert_eq(bt_overfit_pbo_default_splits(1942, S), 12870);
    cr_assert_eq(bt_overfit_pbo_default_splits(1943, S), BT_PBO_SAMPLE_SPLITS);
    cr_assert_eq(bt_overfit_pbo_default_splits(1000000, S), BT_PBO_SAMPLE_SPLITS);
    cr_assert_eq(bt_overfit_pbo_default_splits(10, 4), 6);
    cr_assert_eq(bt_overfit_pbo_default_splits(10, 3), 0);
    free(st);
}

static int s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The reference CSCV, one split at a time exactly as the definition reads
 * (docs/overfitting.md): IS and OOS sums in ascending block order, Sharpe by
 * bt_overfit_sharpe_sums, IS-best the first highest, rank with ties half. */
static double s_ref_lambda(const float *st, const double *count, size_t T, uint32_t S,
                           uint32_t mask)
{
    double *oos = malloc(T * sizeof *oos);
    cr_assert_not_null(oos);
    double n_is = 0, n_os = 0;
    for (uint32_t b = 0; b < S; b++)
        *(mask >> b & 1u ? &n_is : &n_os) += count[b];
    double best_is = -1e308;
    size_t best = 0;
    for (size_t t = 0; t < T; t++) {
        double a = 0, q = 0, ao = 0, qo = 0;
        for (uint32_t b = 0; b < S; b++) {
            double m = st[2 * (t * S + b)], m2 = st[2 * (t * S + b) + 1];
            double s1 = count[b] * m, s2 = m2 + s1 * m;
            if (mask >> b & 1u) {
                a += s1;
                q += s2;
            } else {
                ao += s1;
                qo += s2;
            }
        }
        double is = bt_overfit_sharpe_sums(n_is, a, q);
        oos[t] = bt_overfit_sharpe_sums(n_os, ao, qo);
        if (is > best_is) {
            best_is = is;
            best = t;
        }
    }
    double less = 0, eq = 0;
    for (size_t t = 0; t < T; t++) {
        if (oos[t] < oos[best])
            less += 1;
        else if (oos[t] == oos[best] && t != best)
            eq += 1;
    }
    free(oos);
    double w = (1.0 + less + 0.5 * eq) / ((double)T + 1.0);
    return log(w / (1.0 - w));
}

/* The fast evaluation (block-major sums, vectorised, complement pairs) gives
 * every split's logit bit for bit as the reference: 103 trials (not a
 * multiple of the vector width) with ties (copies of trials, flat trials). */
Test(overfit, pbo_logits_equal_the_reference_bit_for_bit)
{
    const size_t T = 103;
    const uint32_t S = 8;
    float *st = malloc(T * 2 * S * sizeof *st);
    cr_assert_not_null(st);
    uint64_t x = 7;
    for (size_t i = 0; i < T * S; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        st[2 * i] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.45) * 0.01f;
        st[2 * i + 1] = (float)(0.001 + (double)(x >> 40) / 16777216.0 * 0.01);
    }
    memcpy(&st[2 * S * 10], &st[2 * S * 50], 2 * S * sizeof *st); /* ties */
    memcpy(&st[2 * S * 97], &st[2 * S * 3], 2 * S * sizeof *st);
    for (uint32_t b = 0; b < S; b++) { /* a flat trial: Sharpe 0 everywhere */
        st[2 * (20 * S + b)] = 0.0f;
        st[2 * (20 * S + b) + 1] = 0.0f;
    }
    double count[8] = {12, 13, 12, 13, 12, 13, 12, 13};
    bt_pbo_t p;
    bt_errbuf_t eb;
    double *lg = NULL;
    cr_assert_eq(bt_overfit_pbo_logits(st, count, T, S, &p, &lg, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.splits, 70);
    double want[70];
    size_t k = 0, below = 0;
    for (uint32_t m = 0; m < 256; m++) {
        if (__builtin_popcount(m) != 4)
            continue;
        want[k] = s_ref_lambda(st, count, T, S, m);
        below += want[k] <= 0.0;
        k++;
    }
    cr_assert_eq(k, 70);
    for (size_t i = 1; i < k; i++) /* ascending, as the logits come back */
        for (size_t j = i; j > 0 && want[j - 1] > want[j]; j--) {
            double t = want[j];
            want[j] = want[j - 1];
            want[j - 1] = t;
        }
    cr_assert_eq(memcmp(lg, want, sizeof want), 0, "logits differ from the reference");
    cr_assert_eq(p.pbo, (double)below / 70.0);
    free(lg);
    free(st);
}

/* The same on 1500 trials (three tiles of 512) of 10 blocks, built to hit
 * every branch of the fast evaluation: exact copies (ties), trials one float
 * ulp apart in one block (Sharpes a few ulp apart), flat trials, constant
 * non-zero returns (M2 = 0: Sharpe 0 by the 1e-12 rule), near-constant
 * returns (cancellation in sum r^2 - n mean^2), losers and winners. */
Test(overfit, pbo_logits_equal_the_reference_on_hard_cases)
{
    const size_t T = 1500;
    const uint32_t S = 10;
    float *st = malloc(T * 2 * S * sizeof *st);
    cr_assert_not_null(st);
    uint64_t x = 99;
    for (size_t t = 0; t < T; t++) {
        for (uint32_t b = 0; b < S; b++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(x >> 11) / 9007199254740992.0;
            float *e = &st[2 * (t * S + b)];
            switch (t % 7) {
            case 0: /* copy of the previous trial */
                if (t) {
                    e[0] = st[2 * ((t - 1) * S + b)];
                    e[1] = st[2 * ((t - 1) * S + b) + 1];
                    break;
                }
                /* fall through */
            default:
                e[0] = (float)((u - 0.5) * 0.004);
                e[1] = (float)(0.0005 + u * 0.002);
                break;
            case 3: /* one ulp away from the previous trial in block 0 */
                e[0] = st[2 * ((t - 1) * S + b)];
                e[1] = st[2 * ((t - 1) * S + b) + 1];
                if (b == 0)
                    e[0] = nextafterf(e[0], 1.0f);
                break;
            case 5: /* flat, or constant, or nearly constant */
                e[0] = t % 3 == 0 ? 0.0f : (float)(0.001 * (1 + t % 4));
                e[1] = t % 3 == 2 ? (float)(1e-14 * u) : 0.0f;
                break;
            }
        }
    }
    double count[10] = {30, 31, 30, 31, 30, 31, 30, 31, 30, 31};
    bt_pbo_t p;
    bt_errbuf_t eb;
    double *lg = NULL;
    cr_assert_eq(bt_overfit_pbo_logits(st, count, T, S, &p, &lg, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.splits, 252);
    double *want = malloc(252 * sizeof *want);
    cr_assert_not_null(want);
    size_t k = 0;
    for (uint32_t m = 0; m < 1024; m++)
        if (__builtin_popcount(m) == 5)
            want[k++] = s_ref_lambda(st, count, T, S, m);
    cr_assert_eq(k, 252);
    qsort(want, k, sizeof *want, s_cmp_d);
    for (size_t i = 0; i < k; i++)
        cr_assert_eq(memcmp(&lg[i], &want[i], sizeof *want), 0, "logit %zu: %.17g, want %.17g", i,
                     lg[i], want[i]);
    free(want);
    free(lg);
    free(st);
}

/* Trials built to hit every decision of the passes, ties above all: per
 * group of 8, a strong trial (many are some split's IS-best), a copy of it
 * with one block raised (a higher bound, so visited first, yet for the
 * half-sets without that block an exact tie the lower index must win), a
 * copy one float ulp away in block 0, an exact copy, a flat trial (all
 * returns 0), a constant one (M2 = 0), a near-constant one (cancellation)
 * and a noise trial; blocks of unequal sizes. */
static float *s_tie_trials(size_t T, uint32_t S, uint64_t seed)
{
    float *st = malloc(T * 2 * S * sizeof *st);
    cr_assert_not_null(st);
    uint64_t x = seed;
    for (size_t t = 0; t < T; t++) {
        for (uint32_t b = 0; b < S; b++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(x >> 11) / 9007199254740992.0;
            float *e = &st[2 * (t * S + b)];
            const float *p1 = t >= 1 ? &st[2 * ((t - 1) * S + b)] : e;
            switch (t % 8) {
            case 0: /* strong (per-step Sharpe up to about 0.05) */
                e[0] = (float)((u - 0.4) * 0.001);
                e[1] = (float)(0.003 + u * 0.002);
                break;
            case 1: /* the strong one with block (t / 8) % S raised */
                e[0] = p1[0] + (b == (t / 8) % S ? 0.0005f : 0.0f);
                e[1] = p1[1];
                break;
            case 2: /* one ulp from the strong one in block 0 */
                e[0] = st[2 * ((t - 2) * S + b)];
                e[1] = st[2 * ((t - 2) * S + b) + 1];
                if (b == 0)
                    e[0] = nextafterf(e[0], 1.0f);
                break;
            case 3: /* an exact copy of the strong one */
                e[0] = st[2 * ((t - 3) * S + b)];
                e[1] = st[2 * ((t - 3) * S + b) + 1];
                break;
            case 4: /* flat */
                e[0] = e[1] = 0.0f;
                break;
            case 5: /* constant: Sharpe 0 by the 1e-12 rule */
                e[0] = (float)(0.001 * (1 + t % 3));
                e[1] = 0.0f;
                break;
            case 6: /* near-constant, losing (else a huge Sharpe wins every split) */
                e[0] = (float)(-0.001 * (1 + t % 3));
                e[1] = (float)(1e-14 * u);
                break;
            default: /* noise */
                e[0] = (float)((u - 0.5) * 0.001);
                e[1] = (float)(0.003 + u * 0.002);
                break;
            }
        }
    }
    return st;
}

/* Noise trials with a common factor per block and neighbours alike, as a
 * parameter grid's. */
static float *s_noise_trials(size_t T, uint32_t S, uint64_t seed)
{
    float *st = malloc(T * 2 * S * sizeof *st);
    cr_assert_not_null(st);
    uint64_t x = seed;
    double e[32] = {0};
    for (size_t t = 0; t < T; t++)
        for (uint32_t b = 0; b < S; b++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(x >> 11) / 9007199254740992.0;
            e[b] = 0.9 * e[b] + (u - 0.5);
            st[2 * (t * S + b)] = (float)((e[b] + 0.3 * sin(b + 1.0)) * 0.001);
            st[2 * (t * S + b) + 1] = (float)(0.01 * (1.0 + 0.2 * u));
        }
    return st;
}

/* Every code path (plain C, AVX2, AVX-512; bt_overfit_pbo_force) gives the
 * same figures bit for bit: PBO, median logit, OOS-loss fraction and every
 * logit; on tie-heavy trials also equal to the one-split-at-a-time
 * reference. A path the CPU lacks is reported and falls back to one below. */
Test(overfit, pbo_code_paths_agree_bit_for_bit)
{
    static const bt_overfit_isa_t isa[] = {BT_OVERFIT_ISA_SCALAR, BT_OVERFIT_ISA_AVX2,
                                           BT_OVERFIT_ISA_AVX512};
    static const char *name[] = {"?", "scalar", "AVX2", "AVX-512"};
    struct {
        size_t T;
        uint32_t S;
        uint64_t nsplits; /* 0: the default (all for these sizes) */
        int ties;
    } cases[] = {
        {1203, 10, 0, 1}, /* 252 splits, with the reference */
        {517, 12, 0, 1},  /* 924 splits, with the reference */
        {2501, 8, 0, 0},  /* 70 splits */
        {6000, 16, 400, 0},
        {3001, 16, 400, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t T = cases[k].T;
        uint32_t S = cases[k].S;
        float *st = cases[k].ties ? s_tie_trials(T, S, 11 + k) : s_noise_trials(T, S, 11 + k);
        double count[32];
        for (uint32_t b = 0; b < S; b++)
            count[b] = 30 + b % 3;
        double *want = NULL;
        bt_pbo_t ref = {0};
        for (size_t i = 0; i < 3; i++) {
            bt_overfit_isa_t got = bt_overfit_pbo_force(isa[i]);
            if (got != isa[i])
                cr_log_warn("this CPU lacks %s: tested as %s", name[isa[i]], name[got]);
            bt_pbo_t p;
            bt_errbuf_t eb;
            double *lg = NULL;
            bt_err_t rc = bt_overfit_pbo_sample(st, count, T, S, cases[k].nsplits, BT_PBO_SEED,
                                                &p, &lg, &eb);
            bt_overfit_pbo_force(BT_OVERFIT_ISA_AUTO);
            cr_assert_eq(rc, BT_OK, "%s", eb.msg);
            if (!want) {
                ref = p;
                want = lg;
                if (cases[k].ties && cases[k].nsplits == 0) { /* the reference */
                    cr_assert_eq(p.sampled, 0);
                    double *r = malloc(p.splits * sizeof *r);
                    cr_assert_not_null(r);
                    size_t n = 0;
                    for (uint32_t m = 0; m < (1u << S); m++)
                        if ((uint32_t)__builtin_popcount(m) == S / 2)
                            r[n++] = s_ref_lambda(st, count, T, S, m);
                    cr_assert_eq(n, p.splits);
                    qsort(r, n, sizeof *r, s_cmp_d);
                    for (size_t j = 0; j < n; j++)
                        cr_assert_eq(memcmp(&lg[j], &r[j], sizeof *r), 0,
                                     "case %zu, %s: logit %zu %.17g, reference %.17g", k,
                                     name[isa[i]], j, lg[j], r[j]);
                    free(r);
                }
                continue;
            }
            cr_assert_eq(p.splits, ref.splits);
            cr_assert_eq(memcmp(&p.pbo, &ref.pbo, sizeof p.pbo), 0, "case %zu, %s: PBO %.17g, %.17g",
                         k, name[isa[i]], p.pbo, ref.pbo);
            cr_assert_eq(memcmp(&p.median_logit, &ref.median_logit, sizeof p.median_logit), 0,
                         "case %zu, %s: median logit", k, name[isa[i]]);
            cr_assert_eq(p.prob_oos_loss, ref.prob_oos_loss, "case %zu, %s: OOS loss", k,
                         name[isa[i]]);
            for (size_t j = 0; j < p.splits; j++)
                cr_assert_eq(memcmp(&lg[j], &want[j], sizeof *lg), 0,
                             "case %zu, %s: logit %zu %.17g, scalar %.17g", k, name[isa[i]], j,
                             lg[j], want[j]);
            free(lg);
        }
        free(want);
        free(st);
    }
}
