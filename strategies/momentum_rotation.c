/* momentum_rotation — monthly rotation into the strongest symbols
 * (PORTFOLIO: one book over all symbols).
 *
 * Every step, each symbol with a bar updates its trailing return over the
 * last `lookback` of its own bars (close_t / close_{t-lookback} - 1). On the
 * first step of each month (ctx->calendar & BT_CAL_NEW_MONTH; never the
 * very first step) the symbols that have a bar at this step and a ready
 * return are ranked by it, highest first (ties: lower symbol index first).
 * The top `top_n` get target weight 1/top_n, with `absolute` = 1 only those
 * whose return is > 0; every other symbol gets 0. With fewer candidates than
 * top_n the rest stays in cash.
 *
 * The signal is a weight: with `sizing: percent_equity` and `value_pct: 95`
 * (configs/momentum_rotation.yaml) each holding is 95 % of its weight of
 * equity, which leaves room for costs and gaps at the next open;
 * `target_weight` invests the weights in full. Only changes of target are signalled;
 * to bring the weights of symbols that stay selected back to 1/top_n each
 * month, run it with the engine's monthly rebalance (`rebalance: monthly`),
 * which re-applies the last targets that were not re-signalled. */
#include <stdint.h>

#include "bt_indicators.h"
#include "bt_strat_util.h"
#include "bt_strategy.h"

enum { P_LOOKBACK, P_TOP_N, P_ABSOLUTE, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_LOOKBACK] = {"lookback", BT_PARAM_INT, 126, 1, BT_SU_MAX_WINDOW,
                    "trailing-return window, in bars (126 = about 6 months of days)"},
    [P_TOP_N] = {"top_n", BT_PARAM_INT, 1, 1, 10000, "how many symbols to hold, 1/top_n each"},
    [P_ABSOLUTE] = {"absolute", BT_PARAM_INT, 0, 0, 1,
                    "1 = hold a symbol only if its trailing return is > 0 (else cash)"},
};

typedef struct {
    uint64_t sym; /* symbol index */
    double ret;   /* its trailing return */
} s_cand_t;

typedef struct {
    size_t nsym;    /* symbols in the book */
    size_t top_n;   /* how many to hold */
    int absolute;   /* require a positive return */
    bt_roc_t *roc;  /* nsym trailing returns */
    double *target; /* nsym last targets signalled */
    s_cand_t *cand; /* nsym ranking scratch */
} s_state_t;

static size_t s_state_size(const double *p, size_t nsym)
{
    size_t n = bt_su_window(p[P_LOOKBACK]);
    return bt_ind_round8(sizeof(s_state_t)) +
           nsym * (sizeof(bt_roc_t) + bt_roc_size(n) + sizeof(double) + sizeof(s_cand_t));
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    if (nsym == 0)
        return bt_errf(eb, BT_ESTRATEGY, "momentum_rotation: needs at least one symbol");
    s_state_t *st = state;
    unsigned char *cur = (unsigned char *)state + bt_ind_round8(sizeof(s_state_t));
    size_t n = bt_su_window(p[P_LOOKBACK]);
    st->nsym = nsym;
    st->top_n = bt_su_window(p[P_TOP_N]);
    st->absolute = p[P_ABSOLUTE] >= 0.5;
    st->roc = bt_ind_carve(&cur, nsym * sizeof(bt_roc_t)); /* sizeof is a multiple of 8 */
    st->target = bt_ind_carve(&cur, nsym * sizeof(double));
    st->cand = bt_ind_carve(&cur, nsym * sizeof(s_cand_t));
    for (size_t i = 0; i < nsym; i++)
        bt_roc_init(&st->roc[i], n, bt_ind_carve(&cur, bt_roc_size(n)));
    return BT_OK;
}

/* Whether a ranks before b: higher return first, then lower index. */
static inline int s_before(const s_cand_t *a, const s_cand_t *b)
{
    return a->ret > b->ret || (a->ret == b->ret && a->sym < b->sym);
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    for (size_t i = 0; i < st->nsym; i++)
        if (ctx->has_bar[i])
            bt_roc_update(&st->roc[i], ctx->bar[i].close);
    if (!(ctx->calendar & BT_CAL_NEW_MONTH))
        return;
    /* Candidates, insertion-sorted (once a month; allocation-free). */
    size_t k = 0;
    for (size_t i = 0; i < st->nsym; i++) {
        if (!ctx->has_bar[i] || !st->roc[i].ready)
            continue;
        s_cand_t c = {i, st->roc[i].value};
        size_t j = k++;
        while (j > 0 && s_before(&c, &st->cand[j - 1])) {
            st->cand[j] = st->cand[j - 1];
            j--;
        }
        st->cand[j] = c;
    }
    double w = 1.0 / (double)st->top_n;
    /* The first `chosen` candidates are held. */
    size_t chosen = 0;
    for (size_t j = 0; j < k && chosen < st->top_n; j++) {
        if (st->absolute && !(st->cand[j].ret > 0.0))
            break; /* sorted: none after this one is positive either */
        chosen++;
    }
    /* Exits first (in symbol order), then entries (in rank order). */
    for (size_t i = 0; i < st->nsym; i++) {
        int keep = 0;
        for (size_t j = 0; j < chosen; j++)
            keep |= st->cand[j].sym == i;
        if (!keep && st->target[i] != 0.0) {
            st->target[i] = 0.0;
            bt_signal(ctx, (uint32_t)i, 0.0);
        }
    }
    for (size_t j = 0; j < chosen; j++) {
        size_t i = st->cand[j].sym;
        if (st->target[i] != w) {
            st->target[i] = w;
            bt_signal(ctx, (uint32_t)i, w);
        }
    }
}

const bt_strategy_t bt_strategy_momentum_rotation = {
    .name = "momentum_rotation",
    .summary = "each month hold the top_n symbols by trailing return, 1/top_n each "
               "(weights of equity; see configs/momentum_rotation.yaml)",
    .kind = BT_STRAT_PORTFOLIO,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
};
