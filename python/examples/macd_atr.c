/* MACD + ATR trailing stop, in C (the same strategy in Python: macd_atr.py).
 * Build: cc -std=c17 -O2 -shared -fPIC $(pkg-config --cflags backtester) \
 *            -o macd_atr.so macd_atr.c */
#include <math.h>

#include <bt_ind.h>
#include <bt_strategy.h>

enum { P_FAST, P_SLOW, P_SIGNAL, P_ATR, P_K, P_COUNT };

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_FAST] = {"fast", BT_PARAM_INT, 12, 1, 1000, "fast EMA"},
    [P_SLOW] = {"slow", BT_PARAM_INT, 26, 2, 1000, "slow EMA"},
    [P_SIGNAL] = {"signal", BT_PARAM_INT, 9, 1, 1000, "signal EMA of the MACD line"},
    [P_ATR] = {"atr", BT_PARAM_INT, 14, 1, 1000, "ATR period (Wilder)"},
    [P_K] = {"k", BT_PARAM_REAL, 3.0, 0.1, 20.0, "trailing stop distance in ATRs"},
};

typedef struct {
    bt_ind_t macd, atr; /* their states follow at macd_off / atr_off */
    double k, prev, peak;
    size_t macd_sz;
} s_state_t;

static size_t s_ind_size(const char *kind, const double *given, size_t n)
{
    double p[BT_IND_MAX_PARAMS];
    const bt_ind_kind_t *k = bt_ind_find(kind);
    if (!k || bt_ind_params(k, given, n, p, NULL) != BT_OK)
        return 0;
    return (bt_ind_state_size(k, p) + 7) / 8 * 8;
}

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)nsym;
    return sizeof(s_state_t) + s_ind_size("macd", p, 3) + s_ind_size("atr", &p[P_ATR], 1);
}

static bt_err_t s_open(bt_ind_t *ind, const char *kind, const double *given, size_t n, void *mem,
                       bt_errbuf_t *eb)
{
    double p[BT_IND_MAX_PARAMS];
    const bt_ind_kind_t *k = bt_ind_find(kind);
    if (!k)
        return bt_errf(eb, BT_ESTRATEGY, "indicator %s is not in this build", kind);
    bt_err_t rc = bt_ind_params(k, given, n, p, eb);
    return rc ? rc : bt_ind_open(ind, k, p, BT_SRC_CLOSE, mem, eb);
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    s_state_t *st = state;
    unsigned char *mem = (unsigned char *)(st + 1);
    size_t msz = s_ind_size("macd", p, 3);
    bt_err_t rc = s_open(&st->macd, "macd", p, 3, mem, eb);
    if (rc == BT_OK)
        rc = s_open(&st->atr, "atr", &p[P_ATR], 1, mem + msz, eb);
    st->k = p[P_K];
    st->prev = NAN;
    return rc;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *st = state;
    if (ctx->has_bar && !ctx->has_bar[0])
        return;
    bt_ind_update(&st->macd, &ctx->bar[0], 0.0);
    bt_ind_update(&st->atr, &ctx->bar[0], 0.0);
    double hist = st->macd.out[2], prev = st->prev, c = ctx->bar[0].close;
    st->prev = hist;
    if (st->peak == 0.0) {
        if (prev <= 0.0 && 0.0 < hist) { /* NaN compares false */
            st->peak = c;
            bt_signal(ctx, 0, 1.0);
        }
    } else {
        st->peak = c > st->peak ? c : st->peak;
        if (c < st->peak - st->k * st->atr.out[0] || hist < 0.0) {
            st->peak = 0.0;
            bt_signal(ctx, 0, 0.0);
        }
    }
}

static const bt_strategy_t s_strategy = {
    .name = "macd_atr",
    .summary = "buy when MACD crosses above its signal; exit k ATRs below the highest close",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
};

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
