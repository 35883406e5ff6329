/* bt_pbo — the probability of backtest overfitting by CSCV (bt_overfit.h,
 * docs/overfitting.md "PBO"); the deflated Sharpe ratio and the shared
 * Sharpe of sums are in bt_overfit.c. */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bt_overfit.h"

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
 * Every figure is bit-identical to the definition evaluated one split at a
 * time (docs/overfitting.md), but far cheaper:
 * - each trial's per-block (sum r, sum r^2) is laid out block-major (s1[b T
 *   + t]) and read one cache-sized tile of trials at a time;
 * - split m (IS = m) and its complement use the same two half-sets of
 *   blocks, h(m) and h(~m), swapped: splits go in complement pairs;
 * - a trial's exact Sharpe (IS: who is best; OOS: its rank) needs three
 *   divisions and a square root. A cheap key, sign(mean) mean^2 / var from
 *   multiplications by 1/n and one division, orders trials the same way
 *   except within a relative 1e-9 of each other (error bound in
 *   s_key); only trials whose key lies within S_TOL of the decision
 *   (the tile's best, or the IS-best's OOS value) get the exact Sharpe, so
 *   the decisions are those of the exact values, ties included;
 * - trials are stored in descending order of a bound on any half-set's
 *   Sharpe (s_bound): pass 1 stops where the bound falls below the best,
 *   pass 2 counts the tail below v unread; ties go by the caller's index;
 * - the AVX-512 pass 2 takes both halves of a pair, the second's sums as
 *   the trial's totals less the first's (s_rank_pair_avx512).
 * The scalar, AVX2 and AVX-512 paths give the same figures bit for bit
 * (test_overfit pbo_code_paths_agree_bit_for_bit). */

#define S_TILE 512 /* trials per tile: 16 blocks x 2 x 512 x 8 B = 128 KB of sums */
#define S_BATCH 128 /* complement pairs per task: each tile read once for all of them */
#define S_TOL 1e-7 /* relative band around a decision settled by exact Sharpes */

typedef struct {
    const double *s1;    /* S x T: per block, every trial's sum of returns */
    const double *s2;    /* S x T: sum of squared returns */
    const double *count; /* S block sizes */
    size_t T;            /* trials */
    uint32_t S;          /* blocks */
    const double *ub;    /* T: bound on any half-set's Sharpe, descending */
    const double *all1;  /* T: sum of s1 over every block, ascending */
    const double *all2;  /* T: the same of s2 */
    const double *abs1;  /* T: sum of |s1| over every block */
    const size_t *id;    /* T: the trial's index in the caller's order */
    bt_overfit_isa_t isa; /* code path of the passes */
} s_cscv_t;

typedef struct {                   /* a half-set of blocks */
    uint32_t blk[32];              /* its blocks, ascending */
    uint32_t nb;                   /* how many */
    uint32_t mask;                 /* as a bit mask */
    double n;                      /* returns in it */
    double inv_n;                  /* 1 / n */
    double inv_n1;                 /* 1 / (n - 1) */
    const double *r1[32], *r2[32]; /* rows of s1 and s2 of its blocks */
    size_t off[32];                /* their offsets: blk[i] x T */
} s_half_t;

static void s_half_init(s_half_t *h, const s_cscv_t *c, uint32_t mask)
{
    h->nb = 0;
    h->mask = mask;
    h->n = 0;
    for (uint32_t b = 0; b < c->S; b++)
        if (mask >> b & 1u) {
            h->r1[h->nb] = c->s1 + (size_t)b * c->T;
            h->r2[h->nb] = c->s2 + (size_t)b * c->T;
            h->off[h->nb] = (size_t)b * c->T;
            h->blk[h->nb++] = b;
            h->n += c->count[b];
        }
    h->inv_n = 1.0 / h->n;
    h->inv_n1 = 1.0 / (h->n - 1.0);
}

/* The exact per-step Sharpe of trial t over the half-set, summed in
 * ascending block order: the definition. */
static double s_exact(const s_cscv_t *c, const s_half_t *h, size_t t)
{
    double a = 0, q = 0;
    for (uint32_t i = 0; i < h->nb; i++) {
        a += c->s1[(size_t)h->blk[i] * c->T + t];
        q += c->s2[(size_t)h->blk[i] * c->T + t];
    }
    return bt_overfit_sharpe_sums(h->n, a, q);
}

/* The key of trial t (see above), NaN where only the exact Sharpe decides.
 *
 * Error bound: with d = q - a mean > 1e-6 q (else NaN), mean = a (1/n) is
 * within 4 ulp of the exact a / n, so d, var and key = mean |mean| / var
 * are within about 1e-9 (relative) of the exact computation's values, and
 * key within about 1e-9 of s(SR) = SR |SR| for the exact rounded SR. NaN
 * also where the exact rule may give SR = 0 (var <= 0, or sd <= 1e-12 |mean|,
 * guarded with a factor 4), so a key's sign is the exact SR's sign. *flat:
 * the trial's returns are all 0 over the half-set, so its exact SR is 0 (a
 * warm-up period makes that common). */
static double s_key(const s_half_t *h, size_t t, bool *flat)
{
    double a = 0, q = 0;
    for (uint32_t i = 0; i < h->nb; i++) {
        a += h->r1[i][t];
        q += h->r2[i][t];
    }
    *flat = q == 0.0; /* every return 0: the exact Sharpe is 0 */
    double mean = a * h->inv_n;
    double d = q - a * mean;
    double var = d * h->inv_n1;
    if (d > 1e-6 * q && var > 4e-24 * (mean * mean))
        return mean * fabs(mean) / var;
    return NAN;
}

/* s(x) = x |x| less the band: a key below it is surely below x's Sharpe. */
static double s_floor_key(double sr)
{
    if (sr == -DBL_MAX)
        return -INFINITY; /* nothing yet: every trial is a candidate */
    double sk = sr * fabs(sr);
    return sk - 4.0 * S_TOL * fabs(sk);
}

/* Does Sharpe sr of trial (position) t beat the best so far, *bv of *bi?
 * Higher, or equal and first in the caller's order. */
static inline bool s_better(const s_cscv_t *c, double sr, size_t t, double bv, size_t bi)
{
    return sr > bv || (sr == bv && c->id[t] < c->id[bi]);
}

/* Pass 1 over trials [t0, t1): the best trial (highest exact Sharpe, ties:
 * first in the caller's order), *bv / *bi, updated in place. Only trials
 * whose key is not surely below the best so far get the exact Sharpe.
 * Returns true when the bounds say no trial from t0 on can reach *bv (the
 * half-set is done). */
static bool s_best_scalar(const s_cscv_t *c, const s_half_t *h, size_t t0, size_t t1, double *bv,
                          size_t *bi)
{
    double thr = s_floor_key(*bv);
    for (size_t t = t0; t < t1; t++) {
        if (c->ub[t] < *bv)
            return true;
        bool flat;
        double k = s_key(h, t, &flat);
        if (flat ? *bv > 0.0 : k < thr)
            continue;
        double sr = flat ? 0.0 : s_exact(c, h, t);
        if (s_better(c, sr, t, *bv, *bi)) {
            *bv = sr;
            *bi = t;
            thr = s_floor_key(sr);
        }
    }
    return false;
}

/* Pass 2 over trials [t0, t1): trials whose exact Sharpe is below v (*less)
 * and equal to it (*eq). */
static void s_rank_scalar(const s_cscv_t *c, const s_half_t *h, size_t t0, size_t t1, double v,
                          size_t *less, size_t *eq)
{
    double sv = v * fabs(v), band = S_TOL * fabs(sv), lo = sv - band, hi = sv + band;
    for (size_t t = t0; t < t1; t++) {
        bool flat;
        double k = s_key(h, t, &flat);
        if (k < lo) {
            (*less)++;
        } else if (!(k > hi)) {
            double sr = flat ? 0.0 : s_exact(c, h, t);
            *less += sr < v;
            *eq += sr == v;
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define S_HAVE_AVX2 1
#include <immintrin.h>
/* s_key for 4 trials from t as the numerator of key = num / var (no FMA:
 * the same roundings); NaN where s_key is NaN. (Two or four vectors at once
 * measured slower: register spills.) */
__attribute__((target("avx2"), always_inline)) static inline __m256d
s_key4(const s_half_t *h, size_t t, __m256d *var, int *flat)
{
    __m256d a = _mm256_setzero_pd(), q = _mm256_setzero_pd();
    for (uint32_t i = 0; i < h->nb; i++) {
        a = _mm256_add_pd(a, _mm256_loadu_pd(h->r1[i] + t));
        q = _mm256_add_pd(q, _mm256_loadu_pd(h->r2[i] + t));
    }
    *flat = _mm256_movemask_pd(_mm256_cmp_pd(q, _mm256_setzero_pd(), _CMP_EQ_OQ));
    __m256d mean = _mm256_mul_pd(a, _mm256_set1_pd(h->inv_n));
    __m256d d = _mm256_sub_pd(q, _mm256_mul_pd(a, mean));
    *var = _mm256_mul_pd(d, _mm256_set1_pd(h->inv_n1));
    __m256d ok = _mm256_and_pd(
        _mm256_cmp_pd(d, _mm256_mul_pd(_mm256_set1_pd(1e-6), q), _CMP_GT_OQ),
        _mm256_cmp_pd(*var, _mm256_mul_pd(_mm256_set1_pd(4e-24), _mm256_mul_pd(mean, mean)),
                      _CMP_GT_OQ));
    /* key = num / var (var > 0 where ok): comparisons of key with x are made
     * as num against x var, no division; the rounding differs from the
     * division's by an ulp, far inside S_TOL */
    __m256d num = _mm256_mul_pd(mean, _mm256_andnot_pd(_mm256_set1_pd(-0.0), mean));
    return _mm256_blendv_pd(_mm256_set1_pd(NAN), num, ok);
}

__attribute__((target("avx2"))) static bool
s_best_avx2(const s_cscv_t *c, const s_half_t *h, size_t t0, size_t t1, double *bv, size_t *bi)
{
    double thr = s_floor_key(*bv);
    size_t t = t0;
    for (; t + 4 <= t1; t += 4) {
        if (c->ub[t] < *bv)
            return true;
        int flat;
        __m256d var, num = s_key4(h, t, &var, &flat);
        /* lanes not surely below the best (NaN included); flat lanes (SR
         * exactly 0) only while the best is below 0 */
        __m256d lim = _mm256_mul_pd(_mm256_set1_pd(thr), var);
        int m = 15 & ~_mm256_movemask_pd(_mm256_cmp_pd(num, lim, _CMP_LT_OQ));
        if (*bv > 0.0)
            m &= ~flat;
        for (; m; m &= m - 1) {
            int l = __builtin_ctz((unsigned)m);
            double sr = flat >> l & 1 ? 0.0 : s_exact(c, h, t + (size_t)l);
            if (s_better(c, sr, t + (size_t)l, *bv, *bi)) {
                *bv = sr;
                *bi = t + (size_t)l;
                thr = s_floor_key(sr);
            }
        }
    }
    return t < t1 && s_best_scalar(c, h, t, t1, bv, bi);
}

__attribute__((target("avx2"))) static void s_rank_avx2(const s_cscv_t *c, const s_half_t *h,
                                                        size_t t0, size_t t1, double v,
                                                        size_t *less, size_t *eq)
{
    double sv = v * fabs(v), band = S_TOL * fabs(sv);
    const __m256d lo = _mm256_set1_pd(sv - band), hi = _mm256_set1_pd(sv + band);
    size_t t = t0, lt = 0;
    size_t nflat = 0;
    for (; t + 4 <= t1; t += 4) {
        int flat;
        __m256d var, num = s_key4(h, t, &var, &flat);
        int below = _mm256_movemask_pd(_mm256_cmp_pd(num, _mm256_mul_pd(lo, var), _CMP_LT_OQ));
        int above = _mm256_movemask_pd(_mm256_cmp_pd(num, _mm256_mul_pd(hi, var), _CMP_GT_OQ));
        lt += (size_t)__builtin_popcount((unsigned)below);
        nflat += (size_t)__builtin_popcount((unsigned)flat);
        /* in the band, or NaN: the exact Sharpe */
        for (int m = 15 & ~(below | above | flat); m; m &= m - 1) {
            double sr = s_exact(c, h, t + (size_t)__builtin_ctz((unsigned)m));
            lt += sr < v;
            *eq += sr == v;
        }
    }
    /* flat trials: exact SR 0 */
    if (0.0 < v)
        lt += nflat;
    else if (0.0 == v)
        *eq += nflat;
    *less += lt;
    if (t < t1)
        s_rank_scalar(c, h, t, t1, v, less, eq);
}
/* s_key for 8 trials from t, as s_key4; *ok: lanes with a key (where
 * s_key is not NaN). s_key8_of: the same from the half-set's sums a, q. */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline __m512d
s_key8_of(const s_half_t *h, __m512d a, __m512d q, __m512d *var, __mmask8 *flat, __mmask8 *ok)
{
    *flat = _mm512_cmp_pd_mask(q, _mm512_setzero_pd(), _CMP_EQ_OQ);
    __m512d mean = _mm512_mul_pd(a, _mm512_set1_pd(h->inv_n));
    __m512d d = _mm512_sub_pd(q, _mm512_mul_pd(a, mean));
    *var = _mm512_mul_pd(d, _mm512_set1_pd(h->inv_n1));
    *ok = _mm512_cmp_pd_mask(d, _mm512_mul_pd(_mm512_set1_pd(1e-6), q), _CMP_GT_OQ) &
          _mm512_cmp_pd_mask(*var, _mm512_mul_pd(_mm512_set1_pd(4e-24), _mm512_mul_pd(mean, mean)),
                             _CMP_GT_OQ);
    return _mm512_mul_pd(mean, _mm512_abs_pd(mean));
}

/* The half-set's sums of 8 trials from t, in ascending block order; nb is
 * h->nb, a constant where the caller is specialised (8 blocks: S = 16). */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline void
s_sums8(const s_cscv_t *c, const s_half_t *h, uint32_t nb, size_t t, __m512d *a, __m512d *q)
{
    const double *s1 = c->s1 + t, *s2 = c->s2 + t;
    *a = _mm512_setzero_pd();
    *q = _mm512_setzero_pd();
    for (uint32_t i = 0; i < nb; i++) {
        *a = _mm512_add_pd(*a, _mm512_loadu_pd(s1 + h->off[i]));
        *q = _mm512_add_pd(*q, _mm512_loadu_pd(s2 + h->off[i]));
    }
}

/* Pass 1 on the 8 trials from t over half-set h: their sums into *a, *q
 * (for the complement, s_best_pair_avx512_nb), and every lane not surely
 * below the best so far (*bv of *bi, *thr its s_floor_key) by its exact
 * Sharpe, the best updated in place. */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline void
s_best8(const s_cscv_t *c, const s_half_t *h, uint32_t nb, size_t t, double *thr, double *bv,
        size_t *bi, __m512d *a, __m512d *q)
{
    __mmask8 flat, ok;
    __m512d var;
    s_sums8(c, h, nb, t, a, q);
    __m512d num = s_key8_of(h, *a, *q, &var, &flat, &ok);
    __m512d lim = _mm512_mul_pd(_mm512_set1_pd(*thr), var);
    unsigned m = 0xffu & ~(unsigned)(ok & _mm512_cmp_pd_mask(num, lim, _CMP_LT_OQ));
    if (*bv > 0.0)
        m &= ~(unsigned)flat;
    for (; m; m &= m - 1) {
        int l = __builtin_ctz(m);
        double sr = flat >> l & 1 ? 0.0 : s_exact(c, h, t + (size_t)l);
        if (s_better(c, sr, t + (size_t)l, *bv, *bi)) {
            *bv = sr;
            *bi = t + (size_t)l;
            *thr = s_floor_key(sr);
        }
    }
}

__attribute__((target("avx512f,avx512dq"), always_inline)) static inline bool
s_best_avx512_nb(const s_cscv_t *c, const s_half_t *h, uint32_t nb, size_t t0, size_t t1,
                 double *bv, size_t *bi)
{
    double thr = s_floor_key(*bv);
    size_t t = t0;
    for (; t + 8 <= t1; t += 8) {
        if (c->ub[t] < *bv)
            return true;
        __m512d a, q;
        s_best8(c, h, nb, t, &thr, bv, bi, &a, &q);
    }
    return t < t1 && s_best_scalar(c, h, t, t1, bv, bi);
}

__attribute__((target("avx512f,avx512dq"))) static bool
s_best_avx512(const s_cscv_t *c, const s_half_t *h, size_t t0, size_t t1, double *bv, size_t *bi)
{
    if (h->nb == 8)
        return s_best_avx512_nb(c, h, 8, t0, t1, bv, bi);
    return s_best_avx512_nb(c, h, h->nb, t0, t1, bv, bi);
}

/* The key numerator of 8 trials from t over g, the complement of the half
 * whose sums are a, q: from the trials' totals less those (a' = all1 - a,
 * q' = all2 - q), as s_key8_of. *ok: lanes where that key is within about
 * 1e-8 of s(SR) for g's exact SR (|a'| > 1e-3 abs1, q' - a' mean' > 1e-3
 * all2; see s_rank_pair_avx512_nb); elsewhere only the exact Sharpe may
 * decide. */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline __m512d
s_comp_key8(const s_cscv_t *c, const s_half_t *g, size_t t, __m512d a, __m512d q, __m512d *var,
            __mmask8 *ok)
{
    const __m512d milli = _mm512_set1_pd(1e-3), tiny = _mm512_set1_pd(4e-24);
    __m512d all2 = _mm512_loadu_pd(c->all2 + t);
    __m512d a1 = _mm512_sub_pd(_mm512_loadu_pd(c->all1 + t), a);
    __m512d q1 = _mm512_sub_pd(all2, q);
    __m512d mean = _mm512_mul_pd(a1, _mm512_set1_pd(g->inv_n));
    __m512d d = _mm512_sub_pd(q1, _mm512_mul_pd(a1, mean));
    *var = _mm512_mul_pd(d, _mm512_set1_pd(g->inv_n1));
    *ok = _mm512_cmp_pd_mask(d, _mm512_mul_pd(milli, all2), _CMP_GT_OQ) &
          _mm512_cmp_pd_mask(_mm512_abs_pd(a1), _mm512_mul_pd(milli, _mm512_loadu_pd(c->abs1 + t)),
                             _CMP_GT_OQ) &
          _mm512_cmp_pd_mask(*var, _mm512_mul_pd(tiny, _mm512_mul_pd(mean, mean)), _CMP_GT_OQ);
    return _mm512_mul_pd(mean, _mm512_abs_pd(mean));
}

/* Pass 1 over [t0, t1) for both halves of a pair (session 8): h as
 * s_best_avx512, g (h's complement) from the trial's totals less h's sums,
 * 18 loads for the two instead of 32. g's key is trusted only where
 * s_rank_pair_avx512's error bound holds (|a'| > 1e-3 abs1, q' - a' mean' >
 * 1e-3 all2: within about 1e-8 of s(SR)), far inside s_floor_key's 4 S_TOL
 * margin, so a lane it skips is surely below g's best; every other lane of
 * g (flat ones included) gets the exact Sharpe. The best of each half is
 * the one s_better picks whatever the order, so the result is that of the
 * single passes. From the first 8 trials whose bound is below either best
 * on, each half goes on alone (s_best_avx512_nb). Returns bit 0 when h is
 * done, bit 1 when g is; bv, bi: h's at [0], g's at [1]. */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline unsigned
s_best_pair_avx512_nb(const s_cscv_t *c, const s_half_t *h, const s_half_t *g, uint32_t nb,
                      size_t t0, size_t t1, double *bv, size_t *bi)
{
    double thr = s_floor_key(bv[0]), thr1 = s_floor_key(bv[1]);
    size_t t = t0;
    for (; t + 8 <= t1; t += 8) {
        if (c->ub[t] < bv[0] || c->ub[t] < bv[1])
            break;
        __m512d a, q;
        s_best8(c, h, nb, t, &thr, &bv[0], &bi[0], &a, &q);
        __m512d var1;
        __mmask8 ok1;
        __m512d num1 = s_comp_key8(c, g, t, a, q, &var1, &ok1);
        __m512d lim1 = _mm512_mul_pd(_mm512_set1_pd(thr1), var1);
        unsigned m1 = 0xffu & ~(unsigned)(ok1 & _mm512_cmp_pd_mask(num1, lim1, _CMP_LT_OQ));
        for (; m1; m1 &= m1 - 1) {
            int l = __builtin_ctz(m1);
            double sr = s_exact(c, g, t + (size_t)l);
            if (s_better(c, sr, t + (size_t)l, bv[1], bi[1])) {
                bv[1] = sr;
                bi[1] = t + (size_t)l;
                thr1 = s_floor_key(sr);
            }
        }
    }
    unsigned done = 0;
    if (t < t1 && s_best_avx512_nb(c, h, nb, t, t1, &bv[0], &bi[0]))
        done |= 1u;
    if (t < t1 && s_best_avx512_nb(c, g, nb, t, t1, &bv[1], &bi[1]))
        done |= 2u;
    return done;
}

__attribute__((target("avx512f,avx512dq"))) static unsigned
s_best_pair_avx512(const s_cscv_t *c, const s_half_t *h, const s_half_t *g, size_t t0, size_t t1,
                   double *bv, size_t *bi)
{
    if (h->nb == 8 && g->nb == 8)
        return s_best_pair_avx512_nb(c, h, g, 8, t0, t1, bv, bi);
    if (h->nb == g->nb)
        return s_best_pair_avx512_nb(c, h, g, h->nb, t0, t1, bv, bi);
    unsigned done = s_best_avx512(c, h, t0, t1, &bv[0], &bi[0]) ? 1u : 0u;
    return done | (s_best_avx512(c, g, t0, t1, &bv[1], &bi[1]) ? 2u : 0u);
}

/* Pass 2 over [t0, t1) for both halves of a pair: h (its sums added up,
 * as s_key8) and g, its complement, whose sums are the trial's totals less
 * h's: a' = all1 - a, q' = all2 - q, 18 loads instead of 32 for the two.
 * a' and q' differ from g's own sums (summed in block order, as the exact
 * Sharpe does) by at most 33 ulp of abs1 and all2, so g's key is used only
 * where |a'| > 1e-3 abs1 and q' - a' mean' > 1e-3 all2: there it is within
 * about 1e-8 (relative) of s(SR) for g's exact SR, inside the S_TOL band;
 * elsewhere (also for trials flat over g) g gets the exact Sharpe. v[0],
 * less[0], eq[0]: h's; [1]: g's. */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline void
s_rank_pair_avx512_nb(const s_cscv_t *c, const s_half_t *h, const s_half_t *g, uint32_t nb,
                      size_t t0, size_t t1, const double *v, size_t *less, size_t *eq)
{
    double sv = v[0] * fabs(v[0]), band = S_TOL * fabs(sv);
    double sw = v[1] * fabs(v[1]), bandw = S_TOL * fabs(sw);
    const __m512d lo = _mm512_set1_pd(sv - band), hi = _mm512_set1_pd(sv + band);
    const __m512d lo1 = _mm512_set1_pd(sw - bandw), hi1 = _mm512_set1_pd(sw + bandw);
    size_t t = t0, lt = 0, lt1 = 0, nflat = 0;
    for (; t + 8 <= t1; t += 8) {
        __mmask8 flat, ok;
        __m512d a, q, var;
        s_sums8(c, h, nb, t, &a, &q);
        __m512d num = s_key8_of(h, a, q, &var, &flat, &ok);
        __mmask8 below = ok & _mm512_cmp_pd_mask(num, _mm512_mul_pd(lo, var), _CMP_LT_OQ);
        __mmask8 above = ok & _mm512_cmp_pd_mask(num, _mm512_mul_pd(hi, var), _CMP_GT_OQ);
        lt += (size_t)__builtin_popcount(below);
        nflat += (size_t)__builtin_popcount(flat);
        for (unsigned m = 0xffu & ~(unsigned)(below | above | flat); m; m &= m - 1) {
            double sr = s_exact(c, h, t + (size_t)__builtin_ctz(m));
            lt += sr < v[0];
            eq[0] += sr == v[0];
        }
        /* the complement, from the totals */
        __m512d var1;
        __mmask8 ok1;
        __m512d num1 = s_comp_key8(c, g, t, a, q, &var1, &ok1);
        __mmask8 below1 = ok1 & _mm512_cmp_pd_mask(num1, _mm512_mul_pd(lo1, var1), _CMP_LT_OQ);
        __mmask8 above1 = ok1 & _mm512_cmp_pd_mask(num1, _mm512_mul_pd(hi1, var1), _CMP_GT_OQ);
        lt1 += (size_t)__builtin_popcount(below1);
        for (unsigned m = 0xffu & ~(unsigned)(below1 | above1); m; m &= m - 1) {
            double sr = s_exact(c, g, t + (size_t)__builtin_ctz(m));
            lt1 += sr < v[1];
            eq[1] += sr == v[1];
        }
    }
    if (0.0 < v[0])
        lt += nflat;
    else if (0.0 == v[0])
        eq[0] += nflat;
    less[0] += lt;
    less[1] += lt1;
    if (t < t1) {
        s_rank_scalar(c, h, t, t1, v[0], &less[0], &eq[0]);
        s_rank_scalar(c, g, t, t1, v[1], &less[1], &eq[1]);
    }
}

__attribute__((target("avx512f,avx512dq"))) static void
s_rank_pair_avx512(const s_cscv_t *c, const s_half_t *h, const s_half_t *g, size_t t0, size_t t1,
                   const double *v, size_t *less, size_t *eq)
{
    if (h->nb == 8)
        s_rank_pair_avx512_nb(c, h, g, 8, t0, t1, v, less, eq);
    else
        s_rank_pair_avx512_nb(c, h, g, h->nb, t0, t1, v, less, eq);
}
#endif

/* The path bt_overfit_pbo_force chose (AUTO: not yet resolved). */
static bt_overfit_isa_t s_isa_forced = BT_OVERFIT_ISA_AUTO;

static bt_overfit_isa_t s_isa_best(void)
{
#ifdef S_HAVE_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return BT_OVERFIT_ISA_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return BT_OVERFIT_ISA_AVX2;
#endif
    return BT_OVERFIT_ISA_SCALAR;
}

bt_overfit_isa_t bt_overfit_pbo_force(bt_overfit_isa_t isa)
{
    bt_overfit_isa_t best = s_isa_best();
    s_isa_forced = isa == BT_OVERFIT_ISA_AUTO || isa > best ? best : isa;
    return s_isa_forced;
}

static bt_overfit_isa_t s_isa(void)
{
    return s_isa_forced == BT_OVERFIT_ISA_AUTO ? bt_overfit_pbo_force(BT_OVERFIT_ISA_AUTO)
                                               : s_isa_forced;
}

static bool s_best(const s_cscv_t *c, const s_half_t *h, size_t t0, size_t t1, double *bv,
                   size_t *bi)
{
#ifdef S_HAVE_AVX2
    if (c->isa == BT_OVERFIT_ISA_AVX512)
        return s_best_avx512(c, h, t0, t1, bv, bi);
    if (c->isa == BT_OVERFIT_ISA_AVX2)
        return s_best_avx2(c, h, t0, t1, bv, bi);
#endif
    return s_best_scalar(c, h, t0, t1, bv, bi);
}

static void s_rank(const s_cscv_t *c, const s_half_t *h, size_t t0, size_t t1, double v,
                   size_t *less, size_t *eq)
{
#ifdef S_HAVE_AVX2
    if (c->isa >= BT_OVERFIT_ISA_AVX2) { /* AVX-512 takes pairs: s_rank_pair_avx512 */
        s_rank_avx2(c, h, t0, t1, v, less, eq);
        return;
    }
#endif
    s_rank_scalar(c, h, t0, t1, v, less, eq);
}

/* ---- bounds: which trials can matter ----
 *
 * For a trial with block sums a_b (sum r) and q_b (sum r^2), any half-set
 * of S/2 blocks has sum r <= the S/2 largest a_b (Amax), sum r^2 >= the S/2
 * smallest q_b (Qmin), and n_min <= n <= n_max (the S/2 smallest / largest
 * block sizes). The exact Sharpe (bt_overfit_sharpe_sums, as computed in
 * floating point) is 0 or mean / sd; mean / sd grows with sum r and falls
 * with sum r^2, so it is at most
 *   U = (A / n_min) sqrt((n_max - 1) / (Q - A^2 / n_min)),
 * A = Amax + 1e-14 sum |a_b| (covers the rounding of the computed sums,
 * under 16 ulp each), Q = Qmin (1 - 1e-14). Where
 * Q - A^2 / n_min > 1e-6 Q, the computed variance's relative error is below
 * 1e-9 (as in s_key), so U (1 + 1e-7) bounds the computed Sharpe; else, or
 * on anything not finite, the bound is +inf (no bound). A <= 0: every
 * half-set's computed sum is <= 0, so its Sharpe is <= 0. */
typedef struct {
    double ub; /* the trial's bound */
    size_t id; /* the trial */
} s_order_t;

static void s_sort_desc(double *x, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && x[j - 1] < x[j]; j--) {
            double t = x[j];
            x[j] = x[j - 1];
            x[j - 1] = t;
        }
}

static double s_bound(double *a, double *q, uint32_t S, double nmin, double nmax)
{
    double sabs = 0, amax = 0, qmin = 0;
    for (uint32_t b = 0; b < S; b++)
        sabs += fabs(a[b]);
    s_sort_desc(a, S);
    s_sort_desc(q, S);
    for (uint32_t i = 0; i < S / 2; i++) {
        amax += a[i];
        qmin += q[S - 1 - i];
    }
    if (!isfinite(sabs) || !isfinite(amax) || !isfinite(qmin))
        return INFINITY;
    double A = amax + 1e-14 * sabs;
    if (A <= 0.0)
        return 0.0;
    double Q = qmin * (1.0 - 1e-14);
    double d = Q - A * A / nmin;
    if (!(d > 1e-6 * Q))
        return INFINITY;
    double u = A / nmin * sqrt((nmax - 1.0) / d) * (1.0 + 1e-7);
    return isfinite(u) ? u : INFINITY;
}

/* Descending bound; equal bounds in the caller's order. */
static int s_cmp_order(const void *x, const void *y)
{
    const s_order_t *a = x, *b = y;
    if (a->ub != b->ub)
        return a->ub < b->ub ? 1 : -1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Evaluates the splits of pairs[0 .. np) (IS = m, then IS = ~m of each):
 * lambda and "IS-best loses OOS" into lam / loss at 2k and 2k + 1. Two
 * passes over the trials, tile by tile: the IS-best of every half-set, then
 * each split's OOS rank of its IS-best. */
typedef struct {                    /* a task's state (on the heap: ~250 KB) */
    s_half_t hs[2 * S_BATCH];       /* its half-sets: pair k is 2k, 2k + 1 */
    double bv[2 * S_BATCH];         /* best IS Sharpe so far */
    double v[2 * S_BATCH];          /* the other half's IS-best's Sharpe here */
    size_t bi[2 * S_BATCH];         /* position of the best */
    size_t less[2 * S_BATCH];       /* trials below v */
    size_t eq[2 * S_BATCH];         /* trials equal to v */
    size_t cut[2 * S_BATCH];        /* trials from here on are surely below v */
    bool done[2 * S_BATCH];         /* pass 1 finished */
} s_work_t;

static void s_pairs(const s_cscv_t *c, s_work_t *wk, const uint32_t *pairs, size_t np,
                    uint32_t full, double *lam, uint8_t *loss)
{
    s_half_t *hs = wk->hs;
    double *bv = wk->bv, *v = wk->v;
    size_t *bi = wk->bi, *less = wk->less, *eq = wk->eq, *cut = wk->cut;
    bool *done = wk->done;
    size_t nh = 2 * np, T = c->T;
    for (size_t k = 0; k < np; k++) {
        s_half_init(&hs[2 * k], c, pairs[k]);
        s_half_init(&hs[2 * k + 1], c, ~pairs[k] & full);
    }
    for (size_t x = 0; x < nh; x++) {
        bv[x] = -DBL_MAX;
        bi[x] = 0;
        less[x] = eq[x] = 0;
        done[x] = false;
    }
    /* pass 1: each half-set's best trial (highest exact Sharpe, first), in
     * the order of the trials' bounds, until the bound is below the best */
    for (size_t t0 = 0, left = nh; t0 < T && left; t0 += S_TILE) {
        size_t t1 = t0 + S_TILE < T ? t0 + S_TILE : T;
#ifdef S_HAVE_AVX2
        if (c->isa == BT_OVERFIT_ISA_AVX512) { /* both halves of a pair at once */
            for (size_t x = 0; x < nh; x += 2) {
                unsigned d = 0;
                if (!done[x] && !done[x + 1])
                    d = s_best_pair_avx512(c, &hs[x], &hs[x + 1], t0, t1, &bv[x], &bi[x]);
                else if (!done[x] || !done[x + 1]) {
                    size_t y = done[x] ? x + 1 : x;
                    d = s_best(c, &hs[y], t0, t1, &bv[y], &bi[y]) ? 1u << (y - x) : 0u;
                }
                for (size_t k = 0; k < 2; k++)
                    if (d >> k & 1u) {
                        done[x + k] = true;
                        left--;
                    }
            }
            continue;
        }
#endif
        for (size_t x = 0; x < nh; x++)
            if (!done[x] && s_best(c, &hs[x], t0, t1, &bv[x], &bi[x])) {
                done[x] = true;
                left--;
            }
    }
    /* the OOS half of half-set x is x ^ 1; v: the IS-best's OOS Sharpe.
     * Trials from cut on have bounds below v: surely below it. */
    for (size_t x = 0; x < nh; x++)
        v[x ^ 1] = s_exact(c, &hs[x ^ 1], bi[x]);
    size_t tmax = 0;
    for (size_t x = 0; x < nh; x++) {
        size_t lo = 0, hi = T; /* first position with ub < v */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (c->ub[mid] < v[x])
                hi = mid;
            else
                lo = mid + 1;
        }
        cut[x] = lo;
        less[x] = T - lo;
        tmax = lo > tmax ? lo : tmax;
    }
    /* pass 2: in each OOS half-set, trials below / equal to v */
#ifdef S_HAVE_AVX2
    if (c->isa == BT_OVERFIT_ISA_AVX512) { /* both halves of a pair at once */
        for (size_t x = 0; x < nh; x += 2) {
            cut[x] = cut[x + 1] = cut[x] > cut[x + 1] ? cut[x] : cut[x + 1];
            less[x] = less[x + 1] = T - cut[x];
        }
        for (size_t t0 = 0; t0 < tmax; t0 += S_TILE) {
            size_t t1 = t0 + S_TILE < T ? t0 + S_TILE : T;
            for (size_t x = 0; x < nh; x += 2)
                if (t0 < cut[x])
                    s_rank_pair_avx512(c, &hs[x], &hs[x + 1], t0, t1 < cut[x] ? t1 : cut[x],
                                       &v[x], &less[x], &eq[x]);
        }
        tmax = 0;
    }
#endif
    for (size_t t0 = 0; t0 < tmax; t0 += S_TILE) {
        size_t t1 = t0 + S_TILE < T ? t0 + S_TILE : T;
        for (size_t x = 0; x < nh; x++)
            if (t0 < cut[x])
                s_rank(c, &hs[x], t0, t1 < cut[x] ? t1 : cut[x], v[x], &less[x], &eq[x]);
    }
    for (size_t x = 0; x < nh; x++) {
        size_t o = x ^ 1; /* split with IS = x: OOS half o */
        double a = 0;
        for (uint32_t i = 0; i < hs[o].nb; i++)
            a += c->s1[(size_t)hs[o].blk[i] * T + bi[x]];
        loss[x] = a < 0.0;
        double rank = 1.0 + (double)less[o] + 0.5 * (double)(eq[o] - 1); /* 1..T */
        double w = rank / ((double)T + 1.0);
        lam[x] = log(w / (1.0 - w));
    }
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
    if (all <= BT_PBO_MAX_ALL && (double)ntrials * (double)all * nblocks <= BT_PBO_FULL_WORK)
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
    return bt_overfit_pbo_sample(stats, count, ntrials, nblocks, 0, BT_PBO_SEED, out, logits, eb);
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
        nsplits = BT_PBO_MAX_ALL;        /* S > 24: too many to list */
    uint64_t npairs = (nsplits + 1) / 2; /* whole complement pairs */
    uint64_t nsplit = 2 * npairs;
    size_t T = ntrials, S = nblocks;
    uint32_t full = nblocks == 32 ? 0xffffffffu : (1u << nblocks) - 1u;
    double *s1 = malloc(T * S * sizeof *s1);
    double *s2 = malloc(T * S * sizeof *s2);
    double *lam = malloc(nsplit * sizeof *lam);
    uint8_t *lossk = malloc(nsplit);
    uint32_t *pairs = s_pick_pairs(nblocks, all, npairs, seed);
    s_order_t *ord = malloc(T * sizeof *ord);
    double *ub = malloc(T * sizeof *ub);
    size_t *id = malloc(T * sizeof *id);
    double *tot = malloc(3 * T * sizeof *tot); /* all1, all2, abs1 */
    if (!s1 || !s2 || !lam || !lossk || !pairs || !ord || !ub || !id || !tot) {
        free(s1);
        free(s2);
        free(lam);
        free(lossk);
        free(pairs);
        free(ord);
        free(ub);
        free(id);
        free(tot);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%zu trials)", ntrials);
    }
    /* Trials in descending order of their bound (s_bound), which pass 1
     * visits first and stops by, and pass 2 uses to count the tail. */
    double cnt[32], nmin = 0, nmax = 0;
    memcpy(cnt, count, S * sizeof *cnt);
    s_sort_desc(cnt, (uint32_t)S);
    for (size_t i = 0; i < S / 2; i++) {
        nmax += cnt[i];
        nmin += cnt[S - 1 - i];
    }
    for (size_t t = 0; t < T; t++) {
        const float *st = stats + 2u * S * t;
        double a1[32], a2[32];
        for (size_t b = 0; b < S; b++) {
            double n = count[b], m = st[2 * b], q = st[2 * b + 1];
            a1[b] = n * m;
            a2[b] = q + a1[b] * m;
        }
        ord[t].ub = s_bound(a1, a2, (uint32_t)S, nmin, nmax);
        ord[t].id = t;
    }
    qsort(ord, T, sizeof *ord, s_cmp_order);
    /* Per trial and block: sum r = n mean, sum r^2 = M2 + n mean^2, once
     * (16 bytes per trial-block while PBO runs) instead of once per split;
     * position p holds trial ord[p].id. */
    for (size_t p0 = 0; p0 < T; p0 += 64) { /* 64 positions at a time: rows written in runs */
        size_t np = T - p0 < 64 ? T - p0 : 64;
        double x1[64] = {0}, x2[64] = {0}, xa[64] = {0};
        for (size_t i = 0; i < np; i++) {
            ub[p0 + i] = ord[p0 + i].ub;
            id[p0 + i] = ord[p0 + i].id;
        }
        for (size_t b = 0; b < S; b++) {
            double n = count[b];
            double *r1 = s1 + b * T + p0, *r2 = s2 + b * T + p0;
            for (size_t i = 0; i < np; i++) {
                const float *st = stats + 2u * (S * id[p0 + i] + b);
                double m = st[0], q = st[1];
                double a = n * m;
                r1[i] = a;
                r2[i] = q + a * m;
                x1[i] += a;
                x2[i] += r2[i];
                xa[i] += fabs(a);
            }
        }
        memcpy(tot + p0, x1, np * sizeof *x1);
        memcpy(tot + T + p0, x2, np * sizeof *x2);
        memcpy(tot + 2 * T + p0, xa, np * sizeof *xa);
    }
    free(ord);
    s_cscv_t c = {s1, s2, count, T, nblocks, ub, tot, tot + T, tot + 2 * T, id, s_isa()};
    s_work_t *work = malloc((size_t)omp_get_max_threads() * sizeof *work); /* one per thread */
    if (!work) {
        free(s1);
        free(s2);
        free(lam);
        free(lossk);
        free(pairs);
        free(ub);
        free(id);
        free(tot);
        return bt_errf(eb, BT_ENOMEM, "out of memory for PBO (%zu trials)", ntrials);
    }
    long ntask = (long)((npairs + S_BATCH - 1) / S_BATCH);
    /* Task k writes only its own pairs' slots, so the result is the same at
     * any thread count (the end-of-sweep statistics use the cores the
     * finished workers left idle; docs/overfitting.md). */
#pragma omp parallel for default(none) shared(ntask, npairs, pairs, lam, lossk, c, full, work)    \
    schedule(dynamic, 1)
    for (long k = 0; k < ntask; k++) {
        size_t p0 = (size_t)k * S_BATCH;
        size_t np = npairs - p0 < S_BATCH ? (size_t)(npairs - p0) : S_BATCH;
        s_pairs(&c, &work[omp_get_thread_num()], pairs + p0, np, full, lam + 2 * p0, lossk + 2 * p0);
    }
    free(work);
    free(pairs);
    free(s1);
    free(s2);
    free(ub);
    free(id);
    free(tot);
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
