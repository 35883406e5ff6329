/* pairs_trading — statistical-arbitrage pair (PORTFOLIO: exactly two
 * symbols in one book; symbol 0 is x, symbol 1 is y).
 *
 * At each step where both symbols have a bar:
 *   1. the rolling OLS of y on x over `beta_window` bars (indicator `beta`)
 *      gives the hedge ratio beta, alpha and the spread
 *      s = y - alpha - beta x (prices, or log prices with `log_prices`);
 *   2. z = the z-score of s over the last `z_window` spreads (`zscore`);
 *   3. flat and z > entry_z: short the spread (y short, x long);
 *      flat and z < -entry_z: long the spread (y long, x short);
 *      entries need beta > 0 (a negative ratio is no hedge);
 *      long spread exits when z >= -exit_z, short spread when z <= exit_z;
 *      |z| > stop_z (if stop_z > 0) exits too, and no new entry is taken
 *      until |z| is back below entry_z.
 * The legs are dollar-neutral: target weights +gross/2 and -gross/2 of
 * equity (run with `sizing: target_weight` or `percent_equity` and
 * `allow_short: true`; configs/pairs_trading.yaml). Decisions use this
 * step's closes and fill at the next open, like every signal. */
#include <math.h>
#include <stdint.h>

#include "bt_ind.h"
#include "bt_indicators.h"
#include "bt_strategy.h"

enum { P_BETA_WINDOW, P_Z_WINDOW, P_ENTRY, P_EXIT, P_STOP, P_GROSS, P_LOG, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_BETA_WINDOW] = {"beta_window", BT_PARAM_INT, 60, 2, 100000,
                       "bars of the rolling OLS of y (symbol 1) on x (symbol 0)"},
    [P_Z_WINDOW] = {"z_window", BT_PARAM_INT, 20, 2, 100000, "bars of the spread's z-score"},
    [P_ENTRY] = {"entry_z", BT_PARAM_REAL, 2, 0, 100, "enter when |z| exceeds this"},
    [P_EXIT] = {"exit_z", BT_PARAM_REAL, 0.5, 0, 100,
                "exit when z is back within this of 0 (must be < entry_z)"},
    [P_STOP] = {"stop_z", BT_PARAM_REAL, 4, 0, 1000,
                "stop out when |z| exceeds this (0 = no stop; else > entry_z)"},
    [P_GROSS] = {"gross", BT_PARAM_REAL, 1, 0, 10,
                 "gross weight of both legs; each leg is gross/2 of equity"},
    [P_LOG] = {"log_prices", BT_PARAM_INT, 0, 0, 1, "1 = regress log prices"},
};

typedef struct {
    bt_ind_t beta;                 /* rolling OLS of y on x */
    bt_ind_t z;                    /* z-score of the spread */
    double entry, exit, stop, leg; /* thresholds; weight of one leg */
    int log_prices;                /* regress log prices */
    int pos;                       /* +1 long spread, -1 short spread, 0 flat */
    int blocked;                   /* stopped out: wait for |z| < entry */
    double target[2];              /* last targets signalled */
} s_state_t;

static void s_ind_params(const double *p, double *pb, double *pz)
{
    pb[0] = p[P_BETA_WINDOW] >= 2 && p[P_BETA_WINDOW] <= 100000 ? floor(p[P_BETA_WINDOW]) : 2;
    pz[0] = p[P_Z_WINDOW] >= 2 && p[P_Z_WINDOW] <= 100000 ? floor(p[P_Z_WINDOW]) : 2;
}

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)nsym;
    double pb[1], pz[1];
    s_ind_params(p, pb, pz);
    return bt_ind_round8(sizeof(s_state_t)) + bt_ind_state_size(bt_ind_find("beta"), pb) +
           bt_ind_state_size(bt_ind_find("zscore"), pz);
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    if (nsym != 2)
        return bt_errf(eb, BT_ESTRATEGY,
                       "pairs_trading: needs exactly 2 symbols (x then y), got %zu; list two "
                       "in data.symbols",
                       nsym);
    if (!(p[P_EXIT] < p[P_ENTRY]))
        return bt_errf(eb, BT_ESTRATEGY,
                       "pairs_trading: exit_z (%g) must be less than entry_z (%g)", p[P_EXIT],
                       p[P_ENTRY]);
    if (p[P_STOP] > 0 && !(p[P_STOP] > p[P_ENTRY]))
        return bt_errf(eb, BT_ESTRATEGY,
                       "pairs_trading: stop_z (%g) must be above entry_z (%g), or 0 for no stop",
                       p[P_STOP], p[P_ENTRY]);
    s_state_t *st = state;
    unsigned char *cur = (unsigned char *)state + bt_ind_round8(sizeof(s_state_t));
    const bt_ind_kind_t *kb = bt_ind_find("beta"), *kz = bt_ind_find("zscore");
    double pb[1], pz[1];
    s_ind_params(p, pb, pz);
    bt_err_t rc = bt_ind_open(&st->beta, kb, pb, BT_SRC_CLOSE, cur, eb);
    cur += bt_ind_state_size(kb, pb);
    if (rc == BT_OK)
        rc = bt_ind_open(&st->z, kz, pz, BT_SRC_CLOSE, cur, eb);
    st->entry = p[P_ENTRY];
    st->exit = p[P_EXIT];
    st->stop = p[P_STOP];
    st->leg = p[P_GROSS] / 2.0;
    st->log_prices = p[P_LOG] >= 0.5;
    return rc;
}

static void s_target(s_state_t *st, bt_ctx_t *ctx, uint32_t sym, double w)
{
    if (st->target[sym] != w) {
        st->target[sym] = w;
        bt_signal(ctx, sym, w);
    }
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (!ctx->has_bar[0] || !ctx->has_bar[1])
        return;
    double x = ctx->bar[0].close, y = ctx->bar[1].close;
    if (st->log_prices) {
        if (!(x > 0.0 && y > 0.0))
            return;
        x = log(x);
        y = log(y);
    }
    bt_bar_t bx = {.time = ctx->time, .close = x};
    if (!bt_ind_update(&st->beta, &bx, y))
        return;
    bt_bar_t bs = {.time = ctx->time, .close = st->beta.out[2]}; /* the spread */
    if (!bt_ind_update(&st->z, &bs, 0.0))
        return;
    double z = st->z.out[0], beta = st->beta.out[0];
    if (st->pos == 0) {
        if (st->blocked && fabs(z) < st->entry)
            st->blocked = 0;
        if (!st->blocked && beta > 0.0) {
            if (z > st->entry)
                st->pos = -1;
            else if (z < -st->entry)
                st->pos = 1;
        }
    } else if (st->stop > 0.0 && fabs(z) > st->stop) {
        st->pos = 0;
        st->blocked = 1;
    } else if ((st->pos > 0 && z >= -st->exit) || (st->pos < 0 && z <= st->exit)) {
        st->pos = 0;
    }
    /* Exits (a leg going to 0) and entries: x leg first, then y. */
    double w = st->pos == 0 ? 0.0 : st->pos * st->leg;
    s_target(st, ctx, 0, w == 0.0 ? 0.0 : -w);
    s_target(st, ctx, 1, w);
}

const bt_strategy_t bt_strategy_pairs_trading = {
    .name = "pairs_trading",
    .summary = "pair of 2 symbols: rolling OLS hedge ratio, z-score of the spread, "
               "dollar-neutral legs with entry/exit/stop thresholds",
    .kind = BT_STRAT_PORTFOLIO,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
};
