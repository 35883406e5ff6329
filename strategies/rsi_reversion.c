/* rsi_reversion — mean reversion on Wilder's RSI of the close.
 *
 * Buy (+1) when RSI < lower; exit (0) when RSI > upper; in between keep
 * what is held. No signal until the RSI is ready (period + 1 bars). */
#include "bt_indicators.h"
#include "bt_strat_util.h"
#include "bt_strategy.h"

enum { P_PERIOD, P_LOWER, P_UPPER, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_PERIOD] = {"period", BT_PARAM_INT, 14, 2, BT_SU_MAX_WINDOW, "RSI period, in bars (Wilder)"},
    [P_LOWER] = {"lower", BT_PARAM_REAL, 30, 0, 100, "buy when RSI falls below this level"},
    [P_UPPER] = {"upper", BT_PARAM_REAL, 70, 0, 100, "exit when RSI rises above this level"},
};

typedef struct {
    bt_rsi_t rsi;        /* Wilder RSI of the close */
    double lower, upper; /* thresholds */
    double target;       /* last target signalled */
} s_state_t;

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)p;
    (void)nsym;
    return sizeof(s_state_t);
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    if (!(p[P_LOWER] < p[P_UPPER]))
        return bt_errf(eb, BT_ESTRATEGY,
                       "rsi_reversion: lower (%g) must be less than upper (%g); for example "
                       "lower 30, upper 70",
                       p[P_LOWER], p[P_UPPER]);
    s_state_t *st = state;
    bt_rsi_init(&st->rsi, bt_su_window(p[P_PERIOD]));
    st->lower = p[P_LOWER];
    st->upper = p[P_UPPER];
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!bt_su_has_bar(ctx))
        return;
    double r = bt_rsi_update(&st->rsi, ctx->bar[0].close);
    if (!st->rsi.ready)
        return;
    if (r < st->lower)
        bt_su_target(ctx, &st->target, 1.0);
    else if (r > st->upper)
        bt_su_target(ctx, &st->target, 0.0);
}

/* Fast path: the RSI as a declared indicator (bt_fast_t). */
static size_t s_declare(const double *p, bt_decl_t *d)
{
    d[0] = (bt_decl_t){.kind = "rsi", .p = {(double)bt_su_window(p[P_PERIOD])}, .np = 1};
    return 1;
}

static size_t s_decide(void *st, const double *p, const double *const *v, size_t i0, size_t i1,
                       uint32_t *at, double *tg)
{
    double *target = st;
    const double *rsi = v[0];
    size_t k = 0;
    for (size_t i = i0; i < i1; i++) {
        double r = rsi[i];
        if (r != r) /* NaN: not ready */
            continue;
        if (r < p[P_LOWER])
            bt_su_target_at(target, 1.0, i, at, tg, &k);
        else if (r > p[P_UPPER])
            bt_su_target_at(target, 0.0, i, at, tg, &k);
    }
    return k;
}

static const bt_fast_t s_fast = {s_declare, s_decide};

const bt_strategy_t bt_strategy_rsi_reversion = {
    .name = "rsi_reversion",
    .summary = "buy when Wilder's RSI is below `lower`, exit when it is above `upper`",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
    .fast = &s_fast,
};
