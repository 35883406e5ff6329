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

/* Whether bars i .. i + 7 (i >= 1) may do anything in bt_su_cross_at: a
 * value not ready (NaN) there or at bar i - 1, or a cross. Two bars an
 * SSE2 vector, no branch. */
static inline int bt_su_cross_any8(const double *f, const double *s, size_t i)
{
    bt_su_v2l hit = {0, 0};
    for (size_t h = 0; h < BT_SU_SKIP; h += 2) {
        bt_su_v2d a, b, pa, pb;
        memcpy(&a, f + i + h, sizeof a);
        memcpy(&b, s + i + h, sizeof b);
        memcpy(&pa, f + i + h - 1, sizeof pa);
        memcpy(&pb, s + i + h - 1, sizeof pb);
        bt_su_v2d d = a - b, q = pa - pb;
        hit |= (a != a) | (b != b) | (q != q);
        hit |= ((q <= 0.0) & (d > 0.0)) | ((q >= 0.0) & (d < 0.0));
    }
    return (hit[0] | hit[1]) != 0;
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
        /* Most stretches of 8 bars are ready and cross nothing: then the
         * steps below only move prev_diff to the last diff (the diff of bar
         * i - 1, when ready, is prev_diff: the same subtraction). */
        if (c.have_prev && i > 0 && i1 - i >= BT_SU_SKIP && !bt_su_cross_any8(f, s, i)) {
            c.prev_diff = f[i + BT_SU_SKIP - 1] - s[i + BT_SU_SKIP - 1];
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
