/* buy_and_hold — signal +1 on the first bar, never exit. The baseline. */
#include "bt_strat_util.h"
#include "bt_strategy.h"

typedef struct {
    double target; /* 1 once the entry was signalled */
} s_state_t;

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)p;
    (void)nsym;
    return sizeof(s_state_t);
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)state;
    (void)p;
    (void)nsym;
    (void)eb;
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (bt_su_has_bar(ctx))
        bt_su_target(ctx, &st->target, 1.0);
}

const bt_strategy_t bt_strategy_buy_and_hold = {
    .name = "buy_and_hold",
    .summary = "buy on the first bar and hold to the end (the baseline)",
    .kind = BT_STRAT_SINGLE,
    .params = NULL,
    .nparams = 0,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
};
