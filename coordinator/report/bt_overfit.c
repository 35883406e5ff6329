/* bt_overfit — deflated Sharpe ratio and PBO by CSCV (docs/overfitting.md). */
#include "bt_overfit.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bt_metrics.h"

#define S_EULER_GAMMA 0.5772156649015329
#define S_E 2.718281828459045
#define S_SQRT_2PI 2.5066282746310002

double bt_overfit_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

double bt_overfit_norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double lo = 0.02425;
    if (!(p >= 1e-300)) /* also NaN */
        p = 1e-300;
    if (p > 1.0 - DBL_EPSILON / 2.0)
        p = 1.0 - DBL_EPSILON / 2.0;
    double x;
    if (p < lo) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p <= 1.0 - lo) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    } else {
        double q = sqrt(-2.0 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    /* One Halley step on Phi(x) - p. In the upper tail, work with the upper
     * tail probability so 1 - p does not lose digits. */
    double e = p > 0.5 ? (1.0 - p) - 0.5 * erfc(x / sqrt(2.0)) : bt_overfit_norm_cdf(x) - p;
    double u = e * S_SQRT_2PI * exp(x * x / 2.0);
    if (isfinite(u))
        x = x - u / (1.0 + x * u / 2.0);
    return x;
}

double bt_overfit_expected_max_sharpe(uint64_t ntrials, double var_sr)
{
    if (ntrials < 2 || !(var_sr > 0.0) || !isfinite(var_sr))
        return 0.0;
    double n = (double)ntrials;
    return sqrt(var_sr) * ((1.0 - S_EULER_GAMMA) * bt_overfit_norm_ppf(1.0 - 1.0 / n) +
                           S_EULER_GAMMA * bt_overfit_norm_ppf(1.0 - 1.0 / (n * S_E)));
}

bt_err_t bt_overfit_dsr(const double *sr, size_t ntrials, size_t best, double n, double skew,
                        double kurt, bt_dsr_t *out, bt_errbuf_t *eb)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if (ntrials == 0 || !sr)
        return bt_errf(eb, BT_EINVAL, "needs at least 1 trial with a result");
    assert(best < ntrials);
    if (!(n >= 2.0))
        return bt_errf(eb, BT_EINVAL, "the best trial has %.0f return(s); needs at least 2",
                       n > 0 ? n : 0.0);
    /* Sample variance of the trials' Sharpe ratios (Welford). */
    double mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < ntrials; i++) {
        double d = sr[i] - mean;
        mean += d / (double)(i + 1);
        m2 += d * (sr[i] - mean);
    }
    out->var_sr = ntrials > 1 ? m2 / (double)(ntrials - 1) : 0.0;
    out->ntrials = ntrials;
    out->n = n;
    out->sr_best = sr[best];
    out->sr0 = bt_overfit_expected_max_sharpe(ntrials, out->var_sr);
    out->dsr = bt_metrics_psr(out->sr_best, n, skew, kurt, out->sr0);
    return BT_OK;
}

double bt_overfit_sharpe_sums(double count, double sum, double sumsq)
{
    if (!(count >= 2.0))
        return 0.0;
    double mean = sum / count;
    double var = (sumsq - sum * mean) / (count - 1.0);
    if (!(var > 0.0))
        return 0.0;
    double sd = sqrt(var);
    /* Same rule as bt_metrics: a spread below 1e-12 of the mean is rounding
     * noise of a constant-return curve. */
    if (!(sd > 1e-12 * fabs(mean)))
        return 0.0;
    return mean / sd;
}

/* splitmix64: a small, fixed, portable generator for the split sample. */
static uint64_t s_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Next k-subset of {0..S-1} as a bitmask in increasing order (Gosper's hack). */
static uint32_t s_next_subset(uint32_t v)
{
    uint32_t t = v | (v - 1u);
    return (t + 1u) | (((~t & -~t) - 1u) >> (__builtin_ctz(v) + 1));
}

static uint64_t s_binom(unsigned n, unsigned k)
{
    uint64_t r = 1;
    for (unsigned i = 1; i <= k; i++)
        r = r * (n - k + i) / i;
    return r;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One split: IS blocks = mask. sums holds each trial's per-block (sum r,
 * sum r^2) as doubles, computed once for all splits. Each half is summed in
 * ascending block order. Returns lambda; *oos_loss = IS-best's OOS mean < 0. */
static double s_split(const double *sums, const double *count, size_t T, uint32_t S,
                      uint32_t mask, double *oos_sr, bool *oos_loss)
{
    uint32_t in[32], out[32], nin = 0, nout = 0;
    double n_is = 0, n_os = 0;
    for (uint32_t b = 0; b < S; b++) {
        if (mask >> b & 1u) {
            in[nin++] = b;
            n_is += count[b];
        } else {
            out[nout++] = b;
            n_os += count[b];
        }
    }
    double best_is = -DBL_MAX;
    size_t best = 0;
    double best_oos_sum = 0.0;
    for (size_t t = 0; t < T; t++) {
        const double *st = sums + 2u * (size_t)S * t;
        double s1_is = 0, s2_is = 0, s1_os = 0, s2_os = 0;
        for (uint32_t i = 0; i < nin; i++) {
            s1_is += st[2 * in[i]];
            s2_is += st[2 * in[i] + 1];
        }
        for (uint32_t i = 0; i < nout; i++) {
            s1_os += st[2 * out[i]];
            s2_os += st[2 * out[i] + 1];
        }
        double is = bt_overfit_sharpe_sums(n_is, s1_is, s2_is);
        oos_sr[t] = bt_overfit_sharpe_sums(n_os, s1_os, s2_os);
        if (is > best_is) {
            best_is = is;
            best = t;
            best_oos_sum = s1_os;
        }
    }
    double v = oos_sr[best], less = 0, eq = 0;
    for (size_t t = 0; t < T; t++) {
        if (oos_sr[t] < v)
            less += 1.0;
        else if (oos_sr[t] == v && t != best)
            eq += 1.0;
    }
    double rank = 1.0 + less + 0.5 * eq; /* 1..T */
    double w = rank / ((double)T + 1.0);
    *oos_loss = best_oos_sum < 0.0;
    return log(w / (1.0 - w));
}

bt_err_t bt_overfit_pbo(const float *stats, const double *count, size_t ntrials,
                        uint32_t nblocks, bt_pbo_t *out, bt_errbuf_t *eb)
{
    return bt_overfit_pbo_logits(stats, count, ntrials, nblocks, out, NULL, eb);
}

bt_err_t bt_overfit_pbo_logits(const float *stats, const double *count, size_t ntrials,
                               uint32_t nblocks, bt_pbo_t *out, double **logits,
                               bt_errbuf_t *eb)
{
    if (logits)
        *logits = NULL;
    assert(out);
    memset(out, 0, sizeof *out);
    out->blocks = nblocks;
    out->trials = ntrials;
    if (nblocks < 2 || nblocks > 32 || nblocks % 2)
        return bt_errf(eb, BT_EINVAL, "blocks must be an even number from 2 to 32 (got %u)",
                       nblocks);
    if (ntrials < 2)
        return bt_errf(eb, BT_EINVAL, "needs at least 2 trials (got %zu)", ntrials);
    assert(stats && count);
    double total = 0;
    for (uint32_t b = 0; b < nblocks; b++) {
        total += count[b];
        if (!(count[b] >= 2.0))
            return bt_errf(eb, BT_EINVAL,
                           "too few returns: %.0f over %u blocks leaves a block with fewer than "
                           "2; use a longer period or fewer report.pbo_blocks",
                           total < 0 ? 0.0 : total, nblocks);
    }
    uint64_t all = s_binom(nblocks, nblocks / 2);
    double work = (double)ntrials * (double)all * nblocks;
    uint64_t nsplit = all;
    if (work > BT_PBO_WORK_BUDGET) {
        double k = BT_PBO_WORK_BUDGET / ((double)ntrials * nblocks);
        nsplit = k < BT_PBO_MIN_SPLITS ? BT_PBO_MIN_SPLITS : (uint64_t)k;
        if (nsplit > all)
            nsplit = all;
    }
    double *oos = malloc(ntrials * sizeof *oos);
    double *lam = malloc(nsplit * sizeof *lam);
    /* Per trial and block: sum r = n mean, sum r^2 = M2 + n mean^2, once
     * (16 bytes per trial-block while PBO runs) instead of once per split. */
    double *sums = malloc(ntrials * 2u * nblocks * sizeof *sums);
    if (!oos || !lam || !sums) {
        free(oos);
        free(lam);
        free(sums);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%zu trials)", ntrials);
    }
    for (size_t t = 0; t < ntrials; t++) {
        const float *st = stats + 2u * (size_t)nblocks * t;
        double *d = sums + 2u * (size_t)nblocks * t;
        for (uint32_t b = 0; b < nblocks; b++) {
            double n = count[b], m = st[2 * b], q = st[2 * b + 1];
            double s1 = n * m;
            d[2 * b] = s1;
            d[2 * b + 1] = q + s1 * m;
        }
    }
    uint64_t below = 0, loss = 0;
    uint32_t half = nblocks / 2;
    uint32_t mask = (1u << half) - 1u;
    uint64_t rng = BT_PBO_SEED;
    /* The splits are drawn first (one sequence), then evaluated in parallel:
     * split k writes only lam[k] and lossk[k], so the result is the same at
     * any thread count (the end-of-sweep statistics scale with the cores
     * the finished workers left idle; docs/overfitting.md). */
    uint32_t *masks = malloc(nsplit * sizeof *masks);
    uint8_t *lossk = malloc(nsplit ? nsplit : 1);
    if (!masks || !lossk) {
        free(masks);
        free(lossk);
        free(oos);
        free(lam);
        free(sums);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%llu splits)",
                       (unsigned long long)nsplit);
    }
    for (uint64_t k = 0; k < nsplit; k++) {
        uint32_t m;
        if (nsplit == all) {
            m = mask;
            if (k + 1 < nsplit)
                mask = s_next_subset(mask);
        } else {
            /* Sample a half-subset: partial Fisher-Yates over the blocks. */
            uint32_t idx[32];
            for (uint32_t i = 0; i < nblocks; i++)
                idx[i] = i;
            m = 0;
            for (uint32_t i = 0; i < half; i++) {
                uint32_t j = i + (uint32_t)(s_next(&rng) % (nblocks - i));
                uint32_t tmp = idx[i];
                idx[i] = idx[j];
                idx[j] = tmp;
                m |= 1u << idx[i];
            }
        }
        masks[k] = m;
    }
    long nk = (long)nsplit;
    bool nomem = false;
#pragma omp parallel default(none) shared(nk, masks, lam, lossk, sums, count, ntrials, nblocks, \
                                              oos, nomem)
    {
        /* thread 0 uses oos; the others their own scratch */
        double *scratch = omp_get_thread_num() == 0 ? oos : malloc(ntrials * sizeof *scratch);
        if (!scratch) {
#pragma omp atomic write
            nomem = true;
        }
#pragma omp for schedule(dynamic, 16)
        for (long k = 0; k < nk; k++) {
            if (!scratch)
                continue;
            bool l = false;
            lam[k] = s_split(sums, count, ntrials, nblocks, masks[k], scratch, &l);
            lossk[k] = l;
        }
        if (scratch != oos)
            free(scratch);
    }
    for (uint64_t k = 0; !nomem && k < nsplit; k++) {
        below += lam[k] <= 0.0;
        loss += lossk[k];
    }
    free(masks);
    free(lossk);
    if (nomem) {
        free(oos);
        free(lam);
        free(sums);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%zu trials)", ntrials);
    }
    qsort(lam, nsplit, sizeof *lam, s_cmp_double);
    out->median_logit =
        nsplit % 2 ? lam[nsplit / 2] : 0.5 * (lam[nsplit / 2 - 1] + lam[nsplit / 2]);
    out->pbo = (double)below / (double)nsplit;
    out->prob_oos_loss = (double)loss / (double)nsplit;
    out->splits = nsplit;
    out->splits_all = all;
    out->sampled = nsplit < all;
    free(oos);
    if (logits)
        *logits = lam; /* the caller's now */
    else
        free(lam);
    free(sums);
    return BT_OK;
}
