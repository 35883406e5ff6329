/* my_strategy.c — a user strategy built as a shared library and loaded by
 * path (the worked example of strategies/README.md).
 *
 * streak_reversal: after `down` closes in a row each lower than the one
 * before, buy (+1); exit (0) `hold` bars after the entry signal.
 *
 * Build it against the strategy API headers only:
 *   gcc -std=c17 -O2 -shared -fPIC -I common/engine -I common/base \
 *       -o my_strategy.so strategies/examples/my_strategy.c
 * It exports bt_strategy_abi() and bt_strategy_entry(); everything else is
 * static. The program that loads it provides bt_signal. */
#include "bt_strategy.h"

enum { P_DOWN, P_HOLD, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_DOWN] = {"down", BT_PARAM_INT, 3, 1, 50, "lower closes in a row that trigger a buy"},
    [P_HOLD] = {"hold", BT_PARAM_INT, 5, 1, 1000, "bars to hold after the entry signal"},
};

typedef struct {
    double prev;   /* previous close */
    int have_prev; /* prev is set */
    int streak;    /* lower closes in a row so far */
    int held;      /* bars since the entry signal */
    int down;      /* parameter `down` */
    int hold;      /* parameter `hold` */
    int in;        /* 1 after the entry signal, 0 after the exit signal */
} s_state_t;

static size_t s_state_size(const double *params, size_t nsym)
{
    (void)params;
    (void)nsym;
    return sizeof(s_state_t); /* no window buffers */
}

static bt_err_t s_init(void *state, const double *params, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    (void)eb;              /* the bounds in s_params are all this strategy needs */
    s_state_t *st = state; /* zeroed by the engine */
    st->down = (int)params[P_DOWN];
    st->hold = (int)params[P_HOLD];
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!ctx->has_bar[0])
        return;
    double c = ctx->bar[0].close;
    if (st->have_prev)
        st->streak = c < st->prev ? st->streak + 1 : 0;
    st->prev = c;
    st->have_prev = 1;
    if (!st->in && st->streak >= st->down) {
        st->in = 1;
        st->held = 0;
        bt_signal(ctx, 0, 1.0);
    } else if (st->in && ++st->held >= st->hold) {
        st->in = 0;
        bt_signal(ctx, 0, 0.0);
    }
}

static const bt_strategy_t s_strategy = {
    .name = "streak_reversal",
    .summary = "buy after `down` lower closes in a row, exit `hold` bars later",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
};

/* The two exported symbols the loader looks for. */
int bt_strategy_abi(void);
const bt_strategy_t *bt_strategy_entry(void);

int bt_strategy_abi(void)
{
    return BT_STRATEGY_ABI;
}

const bt_strategy_t *bt_strategy_entry(void)
{
    return &s_strategy;
}
