/* Unit tests for common/engine/bt_indicators: hand-computed values on short
 * sequences (the arithmetic is written next to each assertion), the SMA
 * drift test over 10 million updates, RSI edge cases, and the Donchian deque
 * against brute force on random data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt_indicators.h"

#define EPS 1e-12

static void s_near(double got, double want, const char *what)
{
    cr_assert(fabs(got - want) <= EPS * (1.0 + fabs(want)), "%s: got %.17g, want %.17g", what, got,
              want);
}

/* xorshift64*: a small deterministic generator for the random tests. */
static uint64_t s_rng = 0x9E3779B97F4A7C15u;
static double s_uniform(void) /* in [0, 1) */
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (double)((s_rng * 0x2545F4914F6CDD1Du) >> 11) * (1.0 / 9007199254740992.0);
}

Test(sma, hand_values)
{
    double buf[3];
    bt_sma_t s;
    bt_sma_init(&s, 3, buf);
    cr_assert_eq(bt_sma_size(3), 3 * sizeof(double));
    bt_sma_update(&s, 10);
    bt_sma_update(&s, 11);
    cr_assert_not(s.ready);
    s_near(bt_sma_update(&s, 12), 11.0, "(10+11+12)/3"); /* 33/3 = 11 */
    cr_assert(s.ready);
    s_near(bt_sma_update(&s, 13), 12.0, "(11+12+13)/3");       /* 36/3 = 12 */
    s_near(bt_sma_update(&s, 15), 40.0 / 3.0, "(12+13+15)/3"); /* 40/3 = 13.333.. */
    s_near(bt_sma_update(&s, -4), 8.0, "(13+15-4)/3");         /* 24/3 = 8 */
}

/* The reference: the SMA as first written (Neumaier adds with a branch, recomputed every 16 n
 * updates), kept here to check the branch-free update against, bit for bit. */
typedef struct {
    double buf[64], sum, comp;
    size_t n, pos, since, count;
} s_ref_sma_t;

static void s_ref_add(double *sum, double *comp, double x)
{
    double t = *sum + x;
    if (fabs(*sum) >= fabs(x))
        *comp += (*sum - t) + x;
    else
        *comp += (x - t) + *sum;
    *sum = t;
}

static double s_ref_update(s_ref_sma_t *s, double x)
{
    if (s->count >= s->n)
        s_ref_add(&s->sum, &s->comp, -s->buf[s->pos]);
    s->buf[s->pos] = x;
    s_ref_add(&s->sum, &s->comp, x);
    if (++s->pos == s->n)
        s->pos = 0;
    s->count++;
    if (++s->since >= 16 * s->n) {
        double sum = 0.0, comp = 0.0;
        for (size_t i = 0; i < s->n; i++)
            s_ref_add(&sum, &comp, s->buf[i]);
        s->sum = sum, s->comp = comp, s->since = 0;
    }
    return (s->sum + s->comp) / (double)(s->count >= s->n ? s->n : s->count);
}

/* Inputs of both signs and of magnitudes 1e-3 to 1e6 (each branch of the compensation), over
 * windows 1 to 64 and far past the recomputation; bt_sma_update2 on two windows against two
 * single updates. */
Test(sma, same_bits_as_the_branchy_update_and_in_pairs)
{
    static const size_t ns[] = {1, 2, 3, 10, 30, 64};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        size_t n = ns[k], m = ns[(k + 1) % 6];
        double b1[64], b2[64], b3[64];
        bt_sma_t a, p, q;
        bt_sma_init(&a, n, b1);
        bt_sma_init(&p, n, b2);
        bt_sma_init(&q, m, b3);
        s_ref_sma_t r = {.n = n}, rq = {.n = m};
        for (int i = 0; i < 5000; i++) {
            double u = s_uniform(), x = (u - 0.4) * pow(10.0, -3.0 + 9.0 * s_uniform());
            double v = bt_sma_update(&a, x), w = s_ref_update(&r, x), wq = s_ref_update(&rq, x);
            bt_sma_update2(&p, &q, x);
            cr_assert(memcmp(&v, &w, sizeof v) == 0, "n %zu step %d: %.17g vs %.17g", n, i, v, w);
            cr_assert(memcmp(&p.value, &w, sizeof w) == 0 && memcmp(&q.value, &wq, sizeof wq) == 0,
                      "pair n %zu/%zu step %d", n, m, i);
        }
    }
}

Test(sma, window_one_is_identity)
{
    double buf[1];
    bt_sma_t s;
    bt_sma_init(&s, 1, buf);
    s_near(bt_sma_update(&s, 3.5), 3.5, "n=1");
    cr_assert(s.ready);
    s_near(bt_sma_update(&s, -7.25), -7.25, "n=1");
}

/* Over 10 million updates of a random walk around 1e4 with small increments,
 * the SMA equals the freshly recomputed mean of the last `window` values
 * within 1e-12 relative at checkpoints, while a naive running sum (add the
 * new value, subtract the old one) drifts measurably. */
Test(sma, no_drift_over_ten_million_updates)
{
    enum { W = 64, N = 10000000, CHECK = 1000003 };
    static double buf[W], hist[W];
    bt_sma_t s;
    bt_sma_init(&s, W, buf);
    double x = 1e4, naive = 0.0, worst_sma = 0.0, worst_naive = 0.0;
    s_rng = 42;
    for (long i = 0; i < N; i++) {
        /* random walk pulled back towards 1e4, steps of about +-0.05 */
        x += 0.001 * (1e4 - x) + 0.1 * (s_uniform() - 0.5);
        if (i >= W)
            naive -= hist[i % W];
        hist[i % W] = x;
        naive += x;
        bt_sma_update(&s, x);
        if (i >= W && (i % CHECK == 0 || i == N - 1)) {
            long double ref = 0.0L; /* fresh mean in extended precision */
            for (int j = 0; j < W; j++)
                ref += hist[j];
            double want = (double)(ref / W);
            double e_sma = fabs(s.value - want) / want;
            double e_naive = fabs(naive / W - want) / want;
            cr_assert(e_sma <= 1e-12, "update %ld: SMA %.17g vs fresh %.17g (rel %.3g)", i, s.value,
                      want, e_sma);
            worst_sma = fmax(worst_sma, e_sma);
            worst_naive = fmax(worst_naive, e_naive);
        }
    }
    cr_log_info("worst relative error: SMA %.3g, naive running sum %.3g", worst_sma, worst_naive);
    /* The naive sum's error grows like a random walk of rounding errors; it
     * must be visibly larger than the SMA's (which stays at rounding level).
     * Measured: naive 8.55e-14 (about 385 ulp), SMA 0. */
    cr_assert(worst_naive > 1e-14, "naive drift %.3g was expected to be measurable", worst_naive);
    cr_assert(worst_naive > 100.0 * worst_sma, "naive %.3g vs SMA %.3g", worst_naive, worst_sma);
    /* and the SMA itself stays within 2 ulp of the fresh mean (a plain
     * running sum would not: see worst_naive) */
    cr_assert(worst_sma <= 4.5e-16, "SMA drifted: %.3g", worst_sma);
}

Test(ema, hand_values_seeded_with_sma)
{
    bt_ema_t e;
    bt_ema_init(&e, 3); /* alpha = 2 / 4 = 0.5 */
    s_near(e.alpha, 0.5, "alpha");
    bt_ema_update(&e, 10);
    bt_ema_update(&e, 11);
    cr_assert_not(e.ready);
    s_near(bt_ema_update(&e, 12), 11.0, "seed = SMA(10,11,12) = 11");
    cr_assert(e.ready);
    s_near(bt_ema_update(&e, 13), 12.0, "11 + 0.5*(13-11) = 12");
    s_near(bt_ema_update(&e, 15), 13.5, "12 + 0.5*(15-12) = 13.5");
    s_near(bt_ema_update(&e, 7.5), 10.5, "13.5 + 0.5*(7.5-13.5) = 10.5");
}

Test(ema, period_four)
{
    bt_ema_t e;
    bt_ema_init(&e, 4); /* alpha = 2/5 = 0.4 */
    bt_ema_update(&e, 1);
    bt_ema_update(&e, 2);
    bt_ema_update(&e, 3);
    s_near(bt_ema_update(&e, 6), 3.0, "seed (1+2+3+6)/4 = 3");
    s_near(bt_ema_update(&e, 8), 5.0, "3 + 0.4*(8-3) = 5");
    s_near(bt_ema_update(&e, 0), 3.0, "5 + 0.4*(0-5) = 3");
}

Test(rsi, hand_values_wilder)
{
    bt_rsi_t r;
    bt_rsi_init(&r, 3);
    /* values 44 45 43 46 47 45 -> changes +1 -2 +3 +1 -2 */
    bt_rsi_update(&r, 44);
    bt_rsi_update(&r, 45);
    bt_rsi_update(&r, 43);
    cr_assert_not(r.ready);
    /* seed: avg gain (1+0+3)/3 = 4/3, avg loss (0+2+0)/3 = 2/3, RS = 2,
     * RSI = 100 - 100/3 = 66.666.. */
    s_near(bt_rsi_update(&r, 46), 200.0 / 3.0, "seed RSI");
    cr_assert(r.ready);
    /* +1: gain (4/3*2 + 1)/3 = 11/9, loss (2/3*2 + 0)/3 = 4/9, RS = 11/4,
     * RSI = 100 - 100/3.75 = 73.333.. */
    s_near(bt_rsi_update(&r, 47), 100.0 - 100.0 / 3.75, "Wilder step 1");
    /* -2: gain (11/9*2)/3 = 22/27, loss (4/9*2 + 2)/3 = 26/27, RS = 11/13,
     * RSI = 100 - 100*13/24 = 45.8333.. */
    s_near(bt_rsi_update(&r, 45), 100.0 - 1300.0 / 24.0, "Wilder step 2");
}

Test(rsi, edge_cases)
{
    bt_rsi_t r;
    bt_rsi_init(&r, 2);
    double up[] = {1, 2, 3, 4, 5}; /* no losses: RSI = 100 */
    for (size_t i = 0; i < 5; i++)
        bt_rsi_update(&r, up[i]);
    cr_assert(r.ready);
    s_near(r.value, 100.0, "only gains");

    bt_rsi_init(&r, 2);
    for (int i = 0; i < 5; i++) /* flat: avg gain = avg loss = 0 -> 50 by convention */
        bt_rsi_update(&r, 7.0);
    s_near(r.value, 50.0, "flat");

    bt_rsi_init(&r, 2);
    for (int i = 0; i < 5; i++) /* only losses: RS = 0 -> RSI = 0 */
        bt_rsi_update(&r, 10.0 - i);
    s_near(r.value, 0.0, "only losses");

    bt_rsi_init(&r, 2);
    bt_rsi_update(&r, 5);
    bt_rsi_update(&r, 5);
    cr_assert_not(r.ready); /* 2 values = 1 change; needs n+1 = 3 values */
    bt_rsi_update(&r, 6);
    cr_assert(r.ready);
    s_near(r.value, 100.0, "gain 1/2, loss 0 -> 100");
    bt_rsi_update(&r, 5);
    /* gain (0.5*1 + 0)/2 = 0.25, loss (0*1 + 1)/2 = 0.5, RS 0.5 -> 100 - 100/1.5 = 33.33.. */
    s_near(r.value, 100.0 - 100.0 / 1.5, "after a loss");
}

Test(rstd, hand_values_population)
{
    double buf[3];
    bt_rstd_t s;
    bt_rstd_init(&s, 3, buf);
    double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};
    /* windows of 3 -> population variance (divide by 3):
     * [2,4,4] mean 10/3, dev^2 16/9+4/9+4/9 = 24/9 -> var 8/9
     * [4,4,4] 0; [4,4,5] mean 13/3, 1/9+1/9+4/9 -> var 2/9; [4,5,5] 2/9;
     * [5,5,7] mean 17/3, 4/9+4/9+16/9 -> 8/9; [5,7,9] mean 7, 4+0+4 -> 8/3 */
    double want[] = {NAN,           NAN,           sqrt(8.0 / 9), 0,
                     sqrt(2.0 / 9), sqrt(2.0 / 9), sqrt(8.0 / 9), sqrt(8.0 / 3)};
    for (size_t i = 0; i < 8; i++) {
        double sd = bt_rstd_update(&s, xs[i]);
        cr_assert_eq(s.ready, i >= 2);
        if (i >= 2)
            s_near(sd, want[i], "rolling std");
    }
    s_near(s.mean, 7.0, "mean of 5,7,9");

    double buf8[8];
    bt_rstd_init(&s, 8, buf8);
    for (size_t i = 0; i < 8; i++)
        bt_rstd_update(&s, xs[i]);
    /* the textbook example: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, /8 = 4 */
    s_near(s.std, 2.0, "population std of 2,4,4,4,5,5,7,9");
}

Test(rstd, matches_two_pass_on_random_walk)
{
    enum { W = 20, N = 200000 };
    double buf[W], hist[W];
    bt_rstd_t s;
    bt_rstd_init(&s, W, buf);
    double x = 1e4;
    s_rng = 7;
    for (int i = 0; i < N; i++) {
        x += s_uniform() - 0.5;
        hist[i % W] = x;
        bt_rstd_update(&s, x);
        if (i >= W && i % 997 == 0) {
            long double m = 0.0L, v = 0.0L;
            for (int j = 0; j < W; j++)
                m += hist[j];
            m /= W;
            for (int j = 0; j < W; j++)
                v += (hist[j] - m) * (hist[j] - m);
            double want = sqrt((double)(v / W));
            /* the std is about 1e4 times smaller than the values, so allow
             * rounding of the values (1e4 * 2^-52 ~ 2e-12) relative to it */
            cr_assert(fabs(s.std - want) <= 1e-8 * want, "step %d: %.17g vs %.17g", i, s.std, want);
        }
    }
}

Test(boll, bands)
{
    double buf[3];
    bt_boll_t b;
    bt_boll_init(&b, 3, 2.0, buf);
    bt_boll_update(&b, 5);
    bt_boll_update(&b, 7);
    cr_assert_not(bt_boll_ready(&b));
    bt_boll_update(&b, 9);
    cr_assert(bt_boll_ready(&b));
    /* mean 7, population std sqrt(8/3) = 1.63299.., k = 2 */
    s_near(b.middle, 7.0, "middle");
    s_near(b.upper, 7.0 + 2.0 * sqrt(8.0 / 3.0), "upper");
    s_near(b.lower, 7.0 - 2.0 * sqrt(8.0 / 3.0), "lower");
}

Test(rext, hand_values)
{
    unsigned char buf[3 * 16];
    bt_rext_t mx, mn;
    unsigned char buf2[3 * 16];
    cr_assert_eq(bt_rext_size(3), sizeof buf);
    bt_rmax_init(&mx, 3, buf);
    bt_rmin_init(&mn, 3, buf2);
    double xs[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    /* windows of 3: [3,1,4] [1,4,1] [4,1,5] [1,5,9] [5,9,2] [9,2,6] [2,6,5] [6,5,3] */
    double want_max[] = {4, 4, 5, 9, 9, 9, 6, 6};
    double want_min[] = {1, 1, 1, 1, 2, 2, 2, 3};
    for (size_t i = 0; i < 10; i++) {
        bt_rext_update(&mx, xs[i]);
        bt_rext_update(&mn, xs[i]);
        cr_assert_eq(mx.ready, i >= 2);
        if (i >= 2) {
            cr_assert_eq(mx.value, want_max[i - 2], "max at %zu", i);
            cr_assert_eq(mn.value, want_min[i - 2], "min at %zu", i);
        }
    }
}

/* The deque against a brute-force scan of the window, on random data with
 * many ties (values rounded to 0.5) and several window lengths. */
Test(rext, deque_matches_brute_force)
{
    enum { N = 20000 };
    static double xs[N];
    static unsigned char buf[2][100 * 16];
    size_t windows[] = {1, 2, 3, 7, 20, 100};
    s_rng = 12345;
    double x = 100.0;
    for (int i = 0; i < N; i++) {
        x += floor((s_uniform() - 0.5) * 6.0) * 0.5;
        xs[i] = x;
    }
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        size_t n = windows[w];
        bt_rext_t mx, mn;
        bt_rmax_init(&mx, n, buf[0]);
        bt_rmin_init(&mn, n, buf[1]);
        for (size_t i = 0; i < N; i++) {
            bt_rext_update(&mx, xs[i]);
            bt_rext_update(&mn, xs[i]);
            size_t lo = i + 1 >= n ? i + 1 - n : 0;
            double bmax = xs[lo], bmin = xs[lo];
            for (size_t j = lo; j <= i; j++) {
                bmax = fmax(bmax, xs[j]);
                bmin = fmin(bmin, xs[j]);
            }
            cr_assert_eq(mx.value, bmax, "n=%zu i=%zu", n, i);
            cr_assert_eq(mn.value, bmin, "n=%zu i=%zu", n, i);
            cr_assert(mx.len <= n);
        }
    }
}

Test(roc, hand_values)
{
    double buf[3];
    bt_roc_t r;
    cr_assert_eq(bt_roc_size(2), sizeof buf);
    bt_roc_init(&r, 2, buf);
    bt_roc_update(&r, 100);
    bt_roc_update(&r, 110);
    cr_assert_not(r.ready);
    s_near(bt_roc_update(&r, 121), 0.21, "121/100 - 1");
    cr_assert(r.ready);
    s_near(bt_roc_update(&r, 99), -0.1, "99/110 - 1");
    s_near(bt_roc_update(&r, 60.5), -0.5, "60.5/121 - 1");
    s_near(bt_roc_update(&r, 0), -1.0, "0/99 - 1");
    s_near(bt_roc_update(&r, 5), -1.0 + 5.0 / 60.5, "5/60.5 - 1");
    s_near(bt_roc_update(&r, 5), 0.0, "x_{t-n} = 0 gives 0");
}

Test(carve, layout)
{
    double block[16];
    unsigned char *cur = (unsigned char *)block;
    double *a = bt_ind_carve(&cur, bt_sma_size(3));
    void *b = bt_ind_carve(&cur, bt_rext_size(2));
    cr_assert_eq((unsigned char *)a, (unsigned char *)block);
    cr_assert_eq((unsigned char *)b, (unsigned char *)block + 24);
    cr_assert_eq(cur, (unsigned char *)block + 24 + 32);
    cr_assert_eq(bt_ind_round8(13), 16u);
    cr_assert_eq(bt_ind_round8(16), 16u);
}
