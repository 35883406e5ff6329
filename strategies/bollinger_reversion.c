/* bollinger_reversion — mean reversion on Bollinger bands of the close.
 *
 * Bands over the last `period` closes including this one: middle = mean,
 * lower/upper = middle -/+ k * population standard deviation. Buy (+1)
 * when the close is below the lower band; exit (0) when it is above the
 * middle. No signal until `period` closes have arrived. */
#include "bt_indicators.h"
#include "bt_strat_util.h"
#include "bt_strategy.h"

enum { P_PERIOD, P_K, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_PERIOD] = {"period", BT_PARAM_INT, 20, 2, BT_SU_MAX_WINDOW, "band window, in bars"},
    [P_K] = {"k", BT_PARAM_REAL, 2, 0.1, 10, "band half-width, in standard deviations"},
};

typedef struct {
    bt_boll_t bands; /* Bollinger bands of the close */
    double target;   /* last target signalled */
} s_state_t;

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)nsym;
    return bt_ind_round8(sizeof(s_state_t)) + bt_boll_size(bt_su_window(p[P_PERIOD]));
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    if (!(p[P_K] > 0.0))
        return bt_errf(eb, BT_ESTRATEGY, "bollinger_reversion: k (%g) must be positive, e.g. 2",
                       p[P_K]);
    s_state_t *st = state;
    unsigned char *cur = (unsigned char *)state + bt_ind_round8(sizeof(s_state_t));
    size_t n = bt_su_window(p[P_PERIOD]);
    bt_boll_init(&st->bands, n, p[P_K], bt_ind_carve(&cur, bt_boll_size(n)));
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!bt_su_has_bar(ctx))
        return;
    double c = ctx->bar[0].close;
    bt_boll_update(&st->bands, c);
    if (!bt_boll_ready(&st->bands))
        return;
    if (c < st->bands.lower)
        bt_su_target(ctx, &st->target, 1.0);
    else if (c > st->bands.middle)
        bt_su_target(ctx, &st->target, 0.0);
}

/* Fast path: middle and lower band as declared indicators (bt_fast_t). */
static size_t s_declare(const double *p, bt_decl_t *d)
{
    double n = (double)bt_su_window(p[P_PERIOD]);
    d[0] = (bt_decl_t){.kind = "bollinger", .p = {n, p[P_K]}, .np = 2, .out = 0}; /* middle */
    d[1] = (bt_decl_t){.kind = "bollinger", .p = {n, p[P_K]}, .np = 2, .out = 2}; /* lower */
    return 2;
}

static size_t s_decide(void *st, const double *p, const double *const *v, size_t i0, size_t i1,
                       uint32_t *at, double *tg)
{
    (void)p;
    double *target = st;
    const double *mid = v[0], *low = v[1], *close = v[2];
    size_t k = 0;
    for (size_t i = i0; i < i1; i++) {
        double lo = low[i], c = close[i];
        if (lo != lo) /* NaN: not ready */
            continue;
        if (c < lo)
            bt_su_target_at(target, 1.0, i, at, tg, &k);
        else if (c > mid[i])
            bt_su_target_at(target, 0.0, i, at, tg, &k);
    }
    return k;
}

static const bt_fast_t s_fast = {s_declare, s_decide};

const bt_strategy_t bt_strategy_bollinger_reversion = {
    .name = "bollinger_reversion",
    .summary = "buy below the lower Bollinger band, exit above the middle band",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
    .fast = &s_fast,
};
