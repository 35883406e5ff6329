/* donchian_breakout — channel breakout (the Turtle rule, long only).
 *
 * Buy (+1) when the close is above the highest high of the previous `entry`
 * bars (the current bar excluded); exit (0) when the close is below the
 * lowest low of the previous `exit` bars. No entry before `entry` bars have
 * passed, no exit test before `exit` bars. */
#include "bt_ind.h"
#include "bt_indicators.h"
#include "bt_strat_util.h"
#include "bt_strategy.h"

enum { P_ENTRY, P_EXIT, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_ENTRY] = {"entry", BT_PARAM_INT, 20, 1, BT_SU_MAX_WINDOW,
                 "buy above the highest high of this many previous bars"},
    [P_EXIT] = {"exit", BT_PARAM_INT, 10, 1, BT_SU_MAX_WINDOW,
                "exit below the lowest low of this many previous bars"},
};

typedef struct {
    bt_rext_t hi; /* highest high of the last `entry` bars */
    bt_rext_t lo; /* lowest low of the last `exit` bars */
    double target;
} s_state_t;

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)nsym;
    return bt_ind_round8(sizeof(s_state_t)) + bt_rext_size(bt_su_window(p[P_ENTRY])) +
           bt_rext_size(bt_su_window(p[P_EXIT]));
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    (void)eb;
    s_state_t *st = state;
    unsigned char *cur = (unsigned char *)state + bt_ind_round8(sizeof(s_state_t));
    size_t ne = bt_su_window(p[P_ENTRY]), nx = bt_su_window(p[P_EXIT]);
    bt_rmax_init(&st->hi, ne, bt_ind_carve(&cur, bt_rext_size(ne)));
    bt_rmin_init(&st->lo, nx, bt_ind_carve(&cur, bt_rext_size(nx)));
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!bt_su_has_bar(ctx))
        return;
    const bt_bar_t *b = &ctx->bar[0];
    /* The channels still hold the previous bars only: test, then push. */
    if (st->hi.ready && b->close > st->hi.value)
        bt_su_target(ctx, &st->target, 1.0);
    else if (st->lo.ready && b->close < st->lo.value)
        bt_su_target(ctx, &st->target, 0.0);
    bt_rext_update(&st->hi, b->high);
    bt_rext_update(&st->lo, b->low);
}

/* Fast path: the channels as declared indicators (bt_fast_t); bar i tests
 * the channels of bar i - 1, as on_bar tests before it pushes. */
static size_t s_declare(const double *p, bt_decl_t *d)
{
    d[0] = (bt_decl_t){.kind = "highest", .p = {(double)bt_su_window(p[P_ENTRY])}, .np = 1,
                       .source = BT_SRC_HIGH};
    d[1] = (bt_decl_t){.kind = "lowest", .p = {(double)bt_su_window(p[P_EXIT])}, .np = 1,
                       .source = BT_SRC_LOW};
    return 2;
}

static size_t s_decide(void *st, const double *p, const double *const *v, size_t i0, size_t i1,
                       uint32_t *at, double *tg)
{
    (void)p;
    double *target = st;
    const double *hi = v[0], *lo = v[1], *close = v[2];
    size_t k = 0;
    for (size_t i = i0 ? i0 : 1; i < i1; i++) {
        double c = close[i], h = hi[i - 1], l = lo[i - 1];
        if (h == h && c > h) /* h == h: ready (not NaN) */
            bt_su_target_at(target, 1.0, i, at, tg, &k);
        else if (l == l && c < l)
            bt_su_target_at(target, 0.0, i, at, tg, &k);
    }
    return k;
}

static const bt_fast_t s_fast = {s_declare, s_decide};

const bt_strategy_t bt_strategy_donchian_breakout = {
    .name = "donchian_breakout",
    .summary =
        "buy above the previous `entry` bars' high, exit below the previous `exit` bars' low",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
    .fast = &s_fast,
};
