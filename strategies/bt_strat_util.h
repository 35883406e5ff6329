/* bt_strat_util — small helpers shared by the built-in strategies (not part
 * of the strategy API; a user's strategy does not need them). */
#ifndef BT_STRAT_UTIL_H
#define BT_STRAT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "bt_indicators.h"

#include "bt_strategy.h"

/* Largest window any built-in accepts (also the schemas' max), so that
 * state_size stays small even for a parameter block that was not checked. */
#define BT_SU_MAX_WINDOW 100000

/* A window parameter as a count in [1, BT_SU_MAX_WINDOW] (rounded). */
static inline size_t bt_su_window(double v)
{
    if (!(v >= 1.0)) /* also catches NaN */
        return 1;
    if (v > (double)BT_SU_MAX_WINDOW)
        return BT_SU_MAX_WINDOW;
    return (size_t)(v + 0.5);
}

/* Signals symbol 0 only when the wanted target differs from the last one
 * sent (*last starts at 0 = flat in the zeroed state), so a strategy emits
 * transitions, not the same target on every bar. */
static inline void bt_su_target(bt_ctx_t *ctx, double *last, double target)
{
    if (*last != target) {
        *last = target;
        bt_signal(ctx, 0, target);
    }
}

/* bt_su_target for a fast-path decide (bt_fast_t): records bar i in at[]
 * instead of signalling; *k counts the records. */
static inline void bt_su_target_at(double *last, double target, size_t i, uint32_t *at,
                                   double *tg, size_t *k)
{
    if (*last != target) {
        *last = target;
        at[*k] = (uint32_t)i;
        tg[(*k)++] = target;
    }
}

/* Crossover state shared by the moving-average cross strategies. */
typedef struct {
    double prev_diff; /* fast - slow on the previous bar */
    int have_prev;    /* prev_diff is set (both averages were ready) */
    double down;      /* target after a cross down: 0 (flat) or -1 (short) */
    double target;    /* last target signalled */
} bt_su_cross_t;

/* Feeds fast - slow of this bar: a cross up (from <= 0 to > 0) targets +1,
 * a cross down (from >= 0 to < 0) targets `down`. */
static inline void bt_su_cross_step(bt_ctx_t *ctx, bt_su_cross_t *x, double diff)
{
    if (x->have_prev) {
        if (x->prev_diff <= 0.0 && diff > 0.0)
            bt_su_target(ctx, &x->target, 1.0);
        else if (x->prev_diff >= 0.0 && diff < 0.0)
            bt_su_target(ctx, &x->target, x->down);
    }
    x->prev_diff = diff;
    x->have_prev = 1;
}

/* bt_su_cross_step for a fast-path decide: bar i's decision into at[]/tg[]. */
static inline void bt_su_cross_at(bt_su_cross_t *x, double diff, size_t i, uint32_t *at,
                                  double *tg, size_t *k)
{
    if (x->have_prev) {
        if (x->prev_diff <= 0.0 && diff > 0.0)
            bt_su_target_at(&x->target, 1.0, i, at, tg, k);
        else if (x->prev_diff >= 0.0 && diff < 0.0)
            bt_su_target_at(&x->target, x->down, i, at, tg, k);
    }
    x->prev_diff = diff;
    x->have_prev = 1;
}

#define BT_SU_SKIP 8 /* bars bt_su_cross_decide checks at once */

typedef double bt_su_v2d __attribute__((vector_size(16)));
typedef long long bt_su_v2l __attribute__((vector_size(16)));

#if defined(__clang__)
#define BT_SU_PAIR(x, y) __builtin_shufflevector(x, y, 1, 2)
#else
#define BT_SU_PAIR(x, y) __builtin_shuffle(x, y, (bt_su_v2l){1, 2})
#endif

/* Bit h set: bar i + h (i >= 1, h < 8) may do something in
 * bt_su_cross_at. A bar is quiet when its diff and bar i + h - 1's are both
 * > 0 or both < 0: then no value is NaN (a NaN compares false), nothing
 * crosses, and the step only sets prev_diff. Everything else is set (a
 * zero diff too, which the bar-by-bar step then handles). Two bars an SSE2
 * vector, no branch; each diff is computed once. */
static inline unsigned bt_su_cross_mask8(const double *f, const double *s, size_t i)
{
    bt_su_v2d d[BT_SU_SKIP / 2 + 1];
    d[0] = (bt_su_v2d){0.0, f[i - 1] - s[i - 1]};
    for (size_t h = 0; h < BT_SU_SKIP / 2; h++) {
        bt_su_v2d a, b;
        memcpy(&a, f + i + 2 * h, sizeof a);
        memcpy(&b, s + i + 2 * h, sizeof b);
        d[h + 1] = a - b;
    }
    unsigned m = 0;
    for (size_t h = 0; h < BT_SU_SKIP / 2; h++) {
        bt_su_v2d q = BT_SU_PAIR(d[h], d[h + 1]), x = d[h + 1];
        bt_su_v2l quiet = ((q > 0.0) & (x > 0.0)) | ((q < 0.0) & (x < 0.0));
#ifdef __SSE2__
        unsigned qm = (unsigned)__builtin_ia32_movmskpd((bt_su_v2d)quiet);
#else
        unsigned qm = (unsigned)((quiet[0] & 1) | (quiet[1] & 2));
#endif
        m |= (~qm & 3u) << (2 * h);
    }
    return m;
}

/* A fast-path decide over two declared averages v[0] (fast) and v[1] (slow):
 * on_bar of the cross strategies, which does nothing until both are ready. */
static inline size_t bt_su_cross_decide(bt_su_cross_t *x, double down, const double *const *v,
                                        size_t i0, size_t i1, uint32_t *at, double *tg)
{
    const double *f = v[0], *s = v[1];
    size_t k = 0;
    bt_su_cross_t c = *x; /* a local copy stays in registers (tg could alias *x) */
    c.down = down;
    size_t i = i0;
    while (i < i1) {
        /* Bars of a stretch of 8 that are ready and cross nothing (most)
         * only move prev_diff to their diff, so only the others step: a
         * bar after a quiet one first takes that one's diff (the same
         * subtraction the step would have made). */
        if (i > 0 && i1 - i >= BT_SU_SKIP) {
            unsigned m = bt_su_cross_mask8(f, s, i);
            for (unsigned r = m; r; r &= r - 1) {
                unsigned h = (unsigned)__builtin_ctz(r);
                size_t j = i + h;
                if (h > 0 && !(m >> (h - 1) & 1u)) {
                    c.prev_diff = f[j - 1] - s[j - 1];
                    c.have_prev = 1;
                }
                double a = f[j], b = s[j];
                if (a != a || b != b) /* NaN: not ready yet */
                    continue;
                bt_su_cross_at(&c, a - b, j, at, tg, &k);
            }
            if (!(m >> (BT_SU_SKIP - 1) & 1u)) {
                c.prev_diff = f[i + BT_SU_SKIP - 1] - s[i + BT_SU_SKIP - 1];
                c.have_prev = 1;
            }
            i += BT_SU_SKIP;
            continue;
        }
        size_t e = i1 - i > BT_SU_SKIP ? i + BT_SU_SKIP : i1;
        for (; i < e; i++) {
            double a = f[i], b = s[i];
            if (a != a || b != b) /* NaN: not ready yet */
                continue;
            bt_su_cross_at(&c, a - b, i, at, tg, &k);
        }
    }
    *x = c;
    return k;
}

/* True when symbol 0 has a bar at this step. */
static inline int bt_su_has_bar(const bt_ctx_t *ctx)
{
    return ctx->has_bar == NULL || ctx->has_bar[0];
}

#endif
