/* bt_ind_kinds — the kind descriptors the table lists (one per indicator;
 * each family file defines some), and small helpers the family files share.
 * Private to the indicator modules. */
#ifndef BT_IND_KINDS_H
#define BT_IND_KINDS_H

#include <math.h>

#include "bt_ind.h"
#include "bt_indicators.h"

/* bt_ind_basic.c */
extern const bt_ind_kind_t bt_ind_kind_sma, bt_ind_kind_ema, bt_ind_kind_rsi, bt_ind_kind_stddev,
    bt_ind_kind_bollinger, bt_ind_kind_highest, bt_ind_kind_lowest, bt_ind_kind_roc;

/* bt_ind_ma.c: averages and oscillators of one series */
extern const bt_ind_kind_t bt_ind_kind_wma, bt_ind_kind_dema, bt_ind_kind_tema, bt_ind_kind_kama,
    bt_ind_kind_macd, bt_ind_kind_ppo, bt_ind_kind_trix, bt_ind_kind_momentum, bt_ind_kind_zscore;

/* bt_ind_range.c: indicators of the whole bar (high/low ranges) */
extern const bt_ind_kind_t bt_ind_kind_true_range, bt_ind_kind_atr, bt_ind_kind_adx,
    bt_ind_kind_keltner, bt_ind_kind_donchian, bt_ind_kind_psar, bt_ind_kind_stochastic,
    bt_ind_kind_williams_r, bt_ind_kind_aroon, bt_ind_kind_ichimoku;

/* bt_ind_volume.c: volume and typical-price indicators */
extern const bt_ind_kind_t bt_ind_kind_obv, bt_ind_kind_vwap, bt_ind_kind_mfi, bt_ind_kind_cci;

/* bt_ind_pair.c: two series */
extern const bt_ind_kind_t bt_ind_kind_correlation, bt_ind_kind_beta;

/* Carves `bytes` (rounded up to 8) from *cur; with a NULL *cur only counts,
 * so one layout function serves both state_size and init. */
static inline void *bt_ind_take(unsigned char **cur, size_t *total, size_t bytes)
{
    bytes = bt_ind_round8(bytes);
    *total += bytes;
    if (!*cur)
        return NULL;
    void *p = *cur;
    *cur += bytes;
    return p;
}

/* Wilder's smoothing: the mean of the first n values, then
 * v = (v * (n - 1) + x) / n (the RSI and ATR convention). */
typedef struct bt_ind_wilder {
    size_t n;       /* period */
    uint64_t count; /* values seen */
    double value;   /* seed sum while filling, then the average */
    bool ready;     /* count >= n */
} bt_ind_wilder_t;

static inline void bt_ind_wilder_init(bt_ind_wilder_t *w, size_t n)
{
    *w = (bt_ind_wilder_t){.n = n};
}

static inline double bt_ind_wilder_update(bt_ind_wilder_t *w, double x)
{
    w->count++;
    if (w->count < w->n) {
        w->value += x;
    } else if (w->count == w->n) {
        w->value = (w->value + x) / (double)w->n;
        w->ready = true;
    } else {
        w->value = (w->value * (double)(w->n - 1) + x) / (double)w->n;
    }
    return w->value;
}

/* The rolling sum kept by a bt_sma_t (its compensated sum). */
static inline double bt_ind_sma_sum(const bt_sma_t *s)
{
    return s->sum + s->comp;
}

/* Neumaier-compensated add of x to (*sum, *comp); the total is sum + comp. */
static inline void bt_ind_kahan(double *sum, double *comp, double x)
{
    double t = *sum + x;
    if (fabs(*sum) >= fabs(x))
        *comp += (*sum - t) + x;
    else
        *comp += (x - t) + *sum;
    *sum = t;
}

/* a / b, or `dflt` when b is 0. */
static inline double bt_ind_div(double a, double b, double dflt)
{
    return b != 0.0 ? a / b : dflt;
}

#endif
