/* sma_cross — moving-average crossover on simple moving averages.
 *
 * Cross up (the fast SMA moves from at-or-below the slow SMA to above it):
 * signal +1. Cross down (from at-or-above to below): signal 0, or -1 when
 * `short` = 1. A cross needs both averages ready on the previous bar and on
 * this one, so nothing happens during the first `slow` bars. Only changes of
 * target are signalled. */
#include "bt_indicators.h"
#include "bt_strat_util.h"
#include "bt_strategy.h"

enum { P_FAST, P_SLOW, P_SHORT, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_FAST] = {"fast", BT_PARAM_INT, 10, 1, BT_SU_MAX_WINDOW, "fast SMA window, in bars"},
    [P_SLOW] = {"slow", BT_PARAM_INT, 30, 2, BT_SU_MAX_WINDOW, "slow SMA window, in bars (> fast)"},
    [P_SHORT] = {"short", BT_PARAM_INT, 0, 0, 1, "1 = go short (-1) on a cross down, 0 = go flat"},
};

typedef struct {
    bt_sma_t fast, slow; /* the two averages of the close */
    bt_su_cross_t cross; /* crossover detection and last target */
} s_state_t;

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)nsym;
    return bt_ind_round8(sizeof(s_state_t)) + bt_sma_size(bt_su_window(p[P_FAST])) +
           bt_sma_size(bt_su_window(p[P_SLOW]));
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    if (!(p[P_FAST] < p[P_SLOW]))
        return bt_errf(eb, BT_ESTRATEGY,
                       "sma_cross: fast (%g) must be less than slow (%g); swap them or change one",
                       p[P_FAST], p[P_SLOW]);
    s_state_t *st = state;
    unsigned char *cur = (unsigned char *)state + bt_ind_round8(sizeof(s_state_t));
    size_t nf = bt_su_window(p[P_FAST]), ns = bt_su_window(p[P_SLOW]);
    bt_sma_init(&st->fast, nf, bt_ind_carve(&cur, bt_sma_size(nf)));
    bt_sma_init(&st->slow, ns, bt_ind_carve(&cur, bt_sma_size(ns)));
    st->cross.down = p[P_SHORT] >= 0.5 ? -1.0 : 0.0;
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!bt_su_has_bar(ctx))
        return;
    double c = ctx->bar[0].close;
    bt_sma_update2(&st->fast, &st->slow, c);
    if (!st->slow.ready || !st->fast.ready)
        return;
    bt_su_cross_step(ctx, &st->cross, st->fast.value - st->slow.value);
}

/* Fast path: the two averages as declared indicators (bt_fast_t). */
static size_t s_declare(const double *p, bt_decl_t *d)
{
    d[0] = (bt_decl_t){.kind = "sma", .p = {(double)bt_su_window(p[P_FAST])}, .np = 1};
    d[1] = (bt_decl_t){.kind = "sma", .p = {(double)bt_su_window(p[P_SLOW])}, .np = 1};
    return 2;
}

static size_t s_decide(void *st, const double *p, const double *const *v, size_t i0, size_t i1,
                       uint32_t *at, double *tg)
{
    return bt_su_cross_decide(st, p[P_SHORT] >= 0.5 ? -1.0 : 0.0, v, i0, i1, at, tg);
}

static const bt_fast_t s_fast = {s_declare, s_decide};

const bt_strategy_t bt_strategy_sma_cross = {
    .name = "sma_cross",
    .summary = "long when the fast SMA crosses above the slow SMA, flat (or short) below",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
    .fast = &s_fast,
};
