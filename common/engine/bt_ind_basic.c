/* bt_ind_basic — the first kinds: wrappers over the incremental indicators
 * of bt_indicators.h (SMA, EMA, RSI, rolling std, Bollinger, highest,
 * lowest, ROC). Each state is the indicator struct followed by its buffer. */
#include <math.h>

#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

#define WINDOW(help) {"n", BT_PARAM_INT, 14, 1, 100000, help}

static const bt_param_spec_t s_window[] = {WINDOW("window in bars")};
static const char *const s_value[] = {"value"};

/* Buffer right after the struct, at an 8-byte boundary. */
#define AFTER(st, type) ((void *)((unsigned char *)(st) + bt_ind_round8(sizeof(type))))

/* ---- SMA ---- */
static size_t sma_size(const double *p)
{
    return bt_ind_round8(sizeof(bt_sma_t)) + bt_sma_size((size_t)p[0]);
}
static bt_err_t sma_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_sma_init(st, (size_t)p[0], AFTER(st, bt_sma_t));
    return BT_OK;
}
static bool sma_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_sma_t *s = st;
    double v = bt_sma_update(s, in->x);
    out[0] = s->ready ? v : NAN;
    return s->ready;
}
const bt_ind_kind_t bt_ind_kind_sma = {
    "sma", "simple moving average", BT_IND_IN_SOURCE, 1, s_window, 1, s_value,
    sma_size, sma_init, sma_update};

/* ---- EMA ---- */
static size_t ema_size(const double *p)
{
    (void)p;
    return sizeof(bt_ema_t);
}
static bt_err_t ema_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_ema_init(st, (size_t)p[0]);
    return BT_OK;
}
static bool ema_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_ema_t *e = st;
    double v = bt_ema_update(e, in->x);
    out[0] = e->ready ? v : NAN;
    return e->ready;
}
const bt_ind_kind_t bt_ind_kind_ema = {
    "ema", "exponential moving average, alpha 2/(n+1), seeded with the SMA of the first n",
    BT_IND_IN_SOURCE, 1, s_window, 1, s_value, ema_size, ema_init, ema_update};

/* ---- RSI (Wilder) ---- */
static size_t rsi_size(const double *p)
{
    (void)p;
    return sizeof(bt_rsi_t);
}
static bt_err_t rsi_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_rsi_init(st, (size_t)p[0]);
    return BT_OK;
}
static bool rsi_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_rsi_t *r = st;
    double v = bt_rsi_update(r, in->x);
    out[0] = r->ready ? v : NAN;
    return r->ready;
}
const bt_ind_kind_t bt_ind_kind_rsi = {
    "rsi", "Wilder's relative strength index, 0..100", BT_IND_IN_SOURCE, 1, s_window, 1,
    s_value, rsi_size, rsi_init, rsi_update};

/* ---- rolling standard deviation (population) and mean ---- */
static const char *const s_std_outs[] = {"std", "mean"};
static size_t rstd_size(const double *p)
{
    return bt_ind_round8(sizeof(bt_rstd_t)) + bt_rstd_size((size_t)p[0]);
}
static bt_err_t rstd_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_rstd_init(st, (size_t)p[0], AFTER(st, bt_rstd_t));
    return BT_OK;
}
static bool rstd_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_rstd_t *s = st;
    double v = bt_rstd_update(s, in->x);
    out[0] = s->ready ? v : NAN;
    out[1] = s->ready ? s->mean : NAN;
    return s->ready;
}
const bt_ind_kind_t bt_ind_kind_stddev = {
    "stddev", "rolling population standard deviation (and mean)", BT_IND_IN_SOURCE, 1,
    s_window, 2, s_std_outs, rstd_size, rstd_init, rstd_update};

/* ---- Bollinger bands ---- */
static const bt_param_spec_t s_boll_params[] = {
    {"n", BT_PARAM_INT, 20, 1, 100000, "window in bars"},
    {"k", BT_PARAM_REAL, 2, 0, 100, "band width in standard deviations"}};
static const char *const s_boll_outs[] = {"middle", "upper", "lower"};
static size_t boll_size(const double *p)
{
    return bt_ind_round8(sizeof(bt_boll_t)) + bt_boll_size((size_t)p[0]);
}
static bt_err_t boll_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_boll_init(st, (size_t)p[0], p[1], AFTER(st, bt_boll_t));
    return BT_OK;
}
static bool boll_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_boll_t *b = st;
    bt_boll_update(b, in->x);
    bool ready = bt_boll_ready(b);
    out[0] = ready ? b->middle : NAN;
    out[1] = ready ? b->upper : NAN;
    out[2] = ready ? b->lower : NAN;
    return ready;
}
const bt_ind_kind_t bt_ind_kind_bollinger = {
    "bollinger", "Bollinger bands: mean +/- k population std", BT_IND_IN_SOURCE, 2,
    s_boll_params, 3, s_boll_outs, boll_size, boll_init, boll_update};

/* ---- highest / lowest of the last n values ---- */
static size_t rext_size(const double *p)
{
    return bt_ind_round8(sizeof(bt_rext_t)) + bt_rext_size((size_t)p[0]);
}
static bt_err_t highest_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_rmax_init(st, (size_t)p[0], AFTER(st, bt_rext_t));
    return BT_OK;
}
static bt_err_t lowest_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_rmin_init(st, (size_t)p[0], AFTER(st, bt_rext_t));
    return BT_OK;
}
static bool rext_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_rext_t *r = st;
    double v = bt_rext_update(r, in->x);
    out[0] = r->ready ? v : NAN;
    return r->ready;
}
const bt_ind_kind_t bt_ind_kind_highest = {
    "highest", "highest of the last n values (this bar included)", BT_IND_IN_SOURCE, 1,
    s_window, 1, s_value, rext_size, highest_init, rext_update};
const bt_ind_kind_t bt_ind_kind_lowest = {
    "lowest", "lowest of the last n values (this bar included)", BT_IND_IN_SOURCE, 1,
    s_window, 1, s_value, rext_size, lowest_init, rext_update};

/* ---- rate of change ---- */
static size_t roc_size(const double *p)
{
    return bt_ind_round8(sizeof(bt_roc_t)) + bt_roc_size((size_t)p[0]);
}
static bt_err_t roc_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    bt_roc_init(st, (size_t)p[0], AFTER(st, bt_roc_t));
    return BT_OK;
}
static bool roc_update(void *st, const bt_ind_in_t *in, double *out)
{
    bt_roc_t *r = st;
    double v = bt_roc_update(r, in->x);
    out[0] = r->ready ? v : NAN;
    return r->ready;
}
const bt_ind_kind_t bt_ind_kind_roc = {
    "roc", "rate of change x_t / x_{t-n} - 1 (a fraction)", BT_IND_IN_SOURCE, 1, s_window, 1,
    s_value, roc_size, roc_init, roc_update};
