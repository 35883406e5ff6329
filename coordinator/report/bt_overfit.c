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

/* ---- PBO by CSCV ----
 *
 * Each trial's per-block (sum r, sum r^2) is laid out block-major (s1[b T +
 * t]) so one pass over the trials of a half-set of blocks vectorises. A
 * half-set's Sharpe h(m)[t] sums the blocks of m in ascending order, exactly
 * as one trial at a time would, so every figure is bit-identical to the
 * scalar definition. Split m (IS = m) and its complement (IS = ~m) use the
 * same two half-sets, h(m) and h(~m), swapped: evaluating the splits in
 * complement pairs halves the work. */

typedef struct {
    const double *s1;     /* S x T: per block, every trial's sum of returns */
    const double *s2;     /* S x T: sum of squared returns */
    const double *count;  /* S block sizes */
    size_t T;             /* trials */
    uint32_t S;           /* blocks */
} s_cscv_t;

/* The Sharpe of every trial over the blocks in mask into h; returns the
 * first index of the highest one (the IS-best when mask is in-sample). */
static size_t s_half_scalar(const s_cscv_t *c, const uint32_t *blk, uint32_t nb, double n,
                            double *h, size_t t0)
{
    size_t best = t0;
    double bv = -DBL_MAX;
    for (size_t t = t0; t < c->T; t++) {
        double a = 0, q = 0;
        for (uint32_t i = 0; i < nb; i++) {
            a += c->s1[(size_t)blk[i] * c->T + t];
            q += c->s2[(size_t)blk[i] * c->T + t];
        }
        h[t] = bt_overfit_sharpe_sums(n, a, q);
        if (h[t] > bv) {
            bv = h[t];
            best = t;
        }
    }
    return best;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define S_HAVE_AVX2 1
#include <immintrin.h>
/* The same arithmetic four trials at a time (IEEE add, mul, div and sqrt
 * are exact-rounded per lane; no FMA, so no contraction): h is bit-identical
 * to s_half_scalar. */
__attribute__((target("avx2"))) static size_t s_half_avx2(const s_cscv_t *c, const uint32_t *blk,
                                                          uint32_t nb, double n, double *h)
{
    size_t T = c->T, t = 0;
    const __m256d vn = _mm256_set1_pd(n), vn1 = _mm256_set1_pd(n - 1.0);
    const __m256d eps = _mm256_set1_pd(1e-12), zero = _mm256_setzero_pd();
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d bv = _mm256_set1_pd(-DBL_MAX), bi = _mm256_setzero_pd();
    __m256d idx = _mm256_setr_pd(0, 1, 2, 3);
    const __m256d four = _mm256_set1_pd(4.0);
    for (; t + 4 <= T; t += 4) {
        __m256d a = zero, q = zero;
        for (uint32_t i = 0; i < nb; i++) {
            a = _mm256_add_pd(a, _mm256_loadu_pd(c->s1 + (size_t)blk[i] * T + t));
            q = _mm256_add_pd(q, _mm256_loadu_pd(c->s2 + (size_t)blk[i] * T + t));
        }
        __m256d mean = _mm256_div_pd(a, vn);
        __m256d var = _mm256_div_pd(_mm256_sub_pd(q, _mm256_mul_pd(a, mean)), vn1);
        __m256d sd = _mm256_sqrt_pd(var);
        __m256d r = _mm256_div_pd(mean, sd);
        __m256d ok = _mm256_and_pd(
            _mm256_cmp_pd(var, zero, _CMP_GT_OQ),
            _mm256_cmp_pd(sd, _mm256_mul_pd(eps, _mm256_andnot_pd(sign, mean)), _CMP_GT_OQ));
        r = _mm256_and_pd(r, ok);
        _mm256_storeu_pd(h + t, r);
        __m256d gt = _mm256_cmp_pd(r, bv, _CMP_GT_OQ);
        bv = _mm256_blendv_pd(bv, r, gt);
        bi = _mm256_blendv_pd(bi, idx, gt);
        idx = _mm256_add_pd(idx, four);
    }
    double v[4], ix[4];
    _mm256_storeu_pd(v, bv);
    _mm256_storeu_pd(ix, bi);
    size_t best = 0;
    double best_v = -DBL_MAX;
    bool any = false;
    for (int l = 0; l < 4; l++) { /* highest, ties: lowest index, as the scalar scan */
        if (t == 0 || !(v[l] > -DBL_MAX))
            continue;
        if (!any || v[l] > best_v || (v[l] == best_v && (size_t)ix[l] < best)) {
            best_v = v[l];
            best = (size_t)ix[l];
            any = true;
        }
    }
    if (t < T) {
        size_t tb = s_half_scalar(c, blk, nb, n, h, t);
        if (!any || h[tb] > best_v) {
            best = tb;
            any = true;
        }
    }
    return any ? best : 0;
}
#endif

static int s_avx2(void)
{
#ifdef S_HAVE_AVX2
    static int have = -1;
    if (have < 0)
        have = __builtin_cpu_supports("avx2") ? 1 : 0;
    return have;
#else
    return 0;
#endif
}

static size_t s_half(const s_cscv_t *c, uint32_t mask, double *h)
{
    uint32_t blk[32], nb = 0;
    double n = 0;
    for (uint32_t b = 0; b < c->S; b++)
        if (mask >> b & 1u) {
            blk[nb++] = b;
            n += c->count[b];
        }
#ifdef S_HAVE_AVX2
    if (s_avx2())
        return s_half_avx2(c, blk, nb, n, h);
#endif
    return s_half_scalar(c, blk, nb, n, h, 0);
}

/* lambda of the split whose OOS half-set Sharpes are oos and whose IS-best
 * is best: its OOS rank among all trials (ties count half). *loss: the
 * IS-best's OOS mean return is negative (its OOS sum, ascending blocks). */
static double s_lambda(const s_cscv_t *c, const double *oos, size_t best, uint32_t oos_mask,
                       bool *loss)
{
    double v = oos[best];
    size_t less = 0, eq = 0;
    for (size_t t = 0; t < c->T; t++) {
        less += oos[t] < v;
        eq += oos[t] == v;
    }
    eq -= 1; /* the IS-best itself */
    double a = 0;
    for (uint32_t b = 0; b < c->S; b++)
        if (oos_mask >> b & 1u)
            a += c->s1[(size_t)b * c->T + best];
    *loss = a < 0.0;
    double rank = 1.0 + (double)less + 0.5 * (double)eq; /* 1..T */
    double w = rank / ((double)c->T + 1.0);
    return log(w / (1.0 - w));
}

/* The pairs' canonical masks (bit S-1 clear; the complement is the other
 * split): all of them, or npairs drawn from them with a fixed seed. */
static uint32_t *s_pick_pairs(uint32_t S, uint64_t all, uint64_t npairs, uint64_t seed)
{
    uint32_t half = S / 2, full = S == 32 ? 0xffffffffu : (1u << S) - 1u;
    uint64_t ncanon = all / 2;
    uint32_t *m = malloc((size_t)(npairs ? npairs : 1) * sizeof *m);
    if (!m)
        return NULL;
    uint64_t rng = seed;
    if (npairs == ncanon) { /* every pair, in Gosper order */
        uint32_t v = (1u << half) - 1u;
        for (uint64_t k = 0; k < ncanon; k++) {
            m[k] = v;
            if (k + 1 < ncanon)
                v = s_next_subset(v);
        }
        return m;
    }
    if (ncanon <= BT_PBO_MAX_ALL / 2) {
        uint32_t *canon = malloc((size_t)ncanon * sizeof *canon);
        if (!canon) {
            free(m);
            return NULL;
        }
        uint32_t v = (1u << half) - 1u;
        for (uint64_t k = 0; k < ncanon; k++) {
            canon[k] = v;
            if (k + 1 < ncanon)
                v = s_next_subset(v);
        }
        for (uint64_t k = 0; k < npairs; k++) { /* partial Fisher-Yates: no replacement */
            uint64_t j = k + s_next(&rng) % (ncanon - k);
            uint32_t tmp = canon[k];
            canon[k] = canon[j];
            canon[j] = tmp;
            m[k] = canon[k];
        }
        free(canon);
        return m;
    }
    for (uint64_t k = 0; k < npairs; k++) { /* too many to list: with replacement */
        uint32_t idx[32], v = 0;
        for (uint32_t i = 0; i < S; i++)
            idx[i] = i;
        for (uint32_t i = 0; i < half; i++) {
            uint32_t j = i + (uint32_t)(s_next(&rng) % (S - i));
            uint32_t tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
            v |= 1u << idx[i];
        }
        m[k] = v >> (S - 1) & 1u ? ~v & full : v;
    }
    return m;
}

uint64_t bt_overfit_pbo_default_splits(size_t ntrials, uint32_t nblocks)
{
    if (nblocks < 2 || nblocks > 32 || nblocks % 2)
        return 0;
    uint64_t all = s_binom(nblocks, nblocks / 2);
    if (all <= BT_PBO_MAX_ALL && (double)ntrials * (double)all <= BT_PBO_FULL_WORK)
        return all;
    return all < BT_PBO_SAMPLE_SPLITS ? all : BT_PBO_SAMPLE_SPLITS;
}

bt_err_t bt_overfit_pbo(const float *stats, const double *count, size_t ntrials,
                        uint32_t nblocks, bt_pbo_t *out, bt_errbuf_t *eb)
{
    return bt_overfit_pbo_sample(stats, count, ntrials, nblocks, 0, BT_PBO_SEED, out, NULL, eb);
}

bt_err_t bt_overfit_pbo_logits(const float *stats, const double *count, size_t ntrials,
                               uint32_t nblocks, bt_pbo_t *out, double **logits,
                               bt_errbuf_t *eb)
{
    return bt_overfit_pbo_sample(stats, count, ntrials, nblocks, 0, BT_PBO_SEED, out, logits,
                                 eb);
}

bt_err_t bt_overfit_pbo_sample(const float *stats, const double *count, size_t ntrials,
                               uint32_t nblocks, uint64_t nsplits, uint64_t seed, bt_pbo_t *out,
                               double **logits, bt_errbuf_t *eb)
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
    if (nsplits == 0)
        nsplits = bt_overfit_pbo_default_splits(ntrials, nblocks);
    if (nsplits > all)
        nsplits = all;
    if (nsplits == all && all > BT_PBO_MAX_ALL)
        nsplits = BT_PBO_MAX_ALL; /* S > 24: too many to list */
    uint64_t npairs = (nsplits + 1) / 2; /* whole complement pairs */
    uint64_t nsplit = 2 * npairs;
    size_t T = ntrials, S = nblocks;
    uint32_t full = nblocks == 32 ? 0xffffffffu : (1u << nblocks) - 1u;
    /* Per trial and block: sum r = n mean, sum r^2 = M2 + n mean^2, once
     * (16 bytes per trial-block while PBO runs) instead of once per split. */
    double *s1 = malloc(T * S * sizeof *s1);
    double *s2 = malloc(T * S * sizeof *s2);
    double *lam = malloc(nsplit * sizeof *lam);
    uint8_t *lossk = malloc(nsplit);
    uint32_t *pairs = s_pick_pairs(nblocks, all, npairs, seed);
    if (!s1 || !s2 || !lam || !lossk || !pairs) {
        free(s1);
        free(s2);
        free(lam);
        free(lossk);
        free(pairs);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%zu trials)", ntrials);
    }
    for (size_t t = 0; t < T; t++) {
        const float *st = stats + 2u * S * t;
        for (size_t b = 0; b < S; b++) {
            double n = count[b], m = st[2 * b], q = st[2 * b + 1];
            double a = n * m;
            s1[b * T + t] = a;
            s2[b * T + t] = q + a * m;
        }
    }
    s_cscv_t c = {s1, s2, count, T, nblocks};
    long nk = (long)npairs;
    bool nomem = false;
    /* Pair k writes only its own two slots, so the result is the same at
     * any thread count (the end-of-sweep statistics use the cores the
     * finished workers left idle; docs/overfitting.md). */
#pragma omp parallel default(none) shared(nk, pairs, lam, lossk, c, T, full, nomem)
    {
        double *ha = malloc(2 * T * sizeof *ha);
        if (!ha) {
#pragma omp atomic write
            nomem = true;
        }
        double *hb = ha ? ha + T : NULL;
#pragma omp for schedule(dynamic, 4)
        for (long k = 0; k < nk; k++) {
            if (!ha)
                continue;
            uint32_t m = pairs[k], mc = ~m & full;
            size_t ba = s_half(&c, m, ha), bb = s_half(&c, mc, hb);
            bool la = false, lb = false;
            lam[2 * k] = s_lambda(&c, hb, ba, mc, &la);     /* IS = m */
            lam[2 * k + 1] = s_lambda(&c, ha, bb, m, &lb); /* IS = ~m */
            lossk[2 * k] = la;
            lossk[2 * k + 1] = lb;
        }
        free(ha);
    }
    free(pairs);
    free(s1);
    free(s2);
    if (nomem) {
        free(lam);
        free(lossk);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%zu trials)", ntrials);
    }
    uint64_t below = 0, loss = 0;
    for (uint64_t k = 0; k < nsplit; k++) {
        below += lam[k] <= 0.0;
        loss += lossk[k];
    }
    free(lossk);
    qsort(lam, nsplit, sizeof *lam, s_cmp_double);
    out->median_logit =
        nsplit % 2 ? lam[nsplit / 2] : 0.5 * (lam[nsplit / 2 - 1] + lam[nsplit / 2]);
    out->pbo = (double)below / (double)nsplit;
    out->prob_oos_loss = (double)loss / (double)nsplit;
    out->splits = nsplit;
    out->splits_all = all;
    out->sampled = nsplit < all;
    if (logits)
        *logits = lam; /* the caller's now */
    else
        free(lam);
    return BT_OK;
}
