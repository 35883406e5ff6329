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

/* A fast-path decide over two declared averages v[0] (fast) and v[1] (slow):
 * on_bar of the cross strategies, which does nothing until both are ready.
 * Only the bars that can act step (bt_strat_util.c); the rest only move
 * prev_diff. Not inline: it picks AVX2 / AVX-512 at load time. */
size_t bt_su_cross_decide(bt_su_cross_t *x, double down, const double *const *v, size_t i0,
                          size_t i1, uint32_t *at, double *tg);

/* True when symbol 0 has a bar at this step. */
static inline int bt_su_has_bar(const bt_ctx_t *ctx)
{
    return ctx->has_bar == NULL || ctx->has_bar[0];
}

#endif
