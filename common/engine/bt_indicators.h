/* bt_indicators — incremental, allocation-free technical indicators.
 *
 * Each indicator is a small struct that a strategy embeds in its state
 * block. Those with a window keep it in a buffer that also lives in the
 * state block: bt_<ind>_size(window) gives its bytes (always a multiple of 8,
 * so buffers can be carved one after another with bt_ind_carve), and
 * bt_<ind>_init takes a pointer to it. An update is O(1) (amortised where
 * noted) and never allocates, logs or does I/O, so it may run per bar.
 *
 * Every indicator has `ready`: true once enough values have arrived for the
 * textbook definition to apply. Values read before that are meaningless and
 * strategies must not act on them.
 *
 * Conventions (textbook; see strategies/README.md):
 * - SMA: exact mean of the last n values. Kept as a Neumaier-compensated
 *   running sum that is also recomputed from the window every 16 n updates, so
 *   it does not drift over millions of bars.
 * - EMA: alpha = 2 / (n + 1), seeded with the SMA of the first n values
 *   (ready at the n-th value, whose EMA is that SMA).
 * - RSI (Wilder): changes d = x_t - x_{t-1}; the first averages of gains
 *   max(d,0) and losses max(-d,0) are the simple means of the first n
 *   changes (ready at value n+1), then avg = (prev * (n - 1) + x) / n.
 *   RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when avg_loss = 0 and
 *   avg_gain > 0; 50 when both are 0 (a flat series).
 * - Rolling standard deviation: population (divide by n, as Bollinger
 *   uses), sliding Welford update recomputed two-pass every n updates.
 *   Bollinger bands = mean +/- k * std over the same window.
 * - Rolling max / min over the last n values: monotonic deque in a ring,
 *   O(1) amortised. Donchian channels query it BEFORE pushing the current
 *   bar to get "the previous n bars".
 * - ROC / trailing return over n bars: x_t / x_{t-n} - 1 (ready at value
 *   n+1); 0 when x_{t-n} is 0. */
#ifndef BT_INDICATORS_H
#define BT_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns *cursor and advances it by bytes (a helper to lay out window
 * buffers one after another in a state block). */
static inline void *bt_ind_carve(unsigned char **cursor, size_t bytes)
{
    void *p = *cursor;
    *cursor += bytes;
    return p;
}

/* Rounds a struct size up to a multiple of 8 (for laying out state blocks). */
static inline size_t bt_ind_round8(size_t bytes)
{
    return (bytes + 7u) & ~(size_t)7u;
}

/* ---- Simple moving average ---- */

typedef struct bt_sma {
    double *buf;      /* the last n values (ring) */
    size_t n;         /* window */
    size_t pos;       /* ring slot of the next write */
    size_t since;     /* updates since the last full recomputation */
    uint64_t count;   /* values seen */
    double sum, comp; /* Neumaier sum of the window and its compensation */
    double value;     /* mean of the window (valid when ready) */
    bool ready;       /* count >= n */
} bt_sma_t;

size_t bt_sma_size(size_t n);
void bt_sma_init(bt_sma_t *s, size_t n, double *buf);
double bt_sma_update(bt_sma_t *s, double x);
/* out[t] = the SMA of window w after x[0..t] (bt_sma_update's value, the same bits), NaN
 * until w values are in: what the "sma" kind gives through bt_ind_array, without its
 * per-bar calls (a grid's columns: bt_indcache). buf: w doubles of scratch. */
void bt_sma_array(const double *x, size_t n, size_t w, double *buf, double *out);
/* bt_sma_update(a, x) then bt_sma_update(b, x) in one call (two averages of one input, e.g.
 * sma_cross's; a and b distinct): the same bits. */
void bt_sma_update2(bt_sma_t *a, bt_sma_t *b, double x);

/* ---- Exponential moving average (no buffer) ---- */

typedef struct bt_ema {
    size_t n;       /* period */
    double alpha;   /* 2 / (n + 1) */
    uint64_t count; /* values seen */
    double sum;     /* sum of the first n values (seed) */
    double value;   /* current EMA (valid when ready) */
    bool ready;     /* count >= n */
} bt_ema_t;

void bt_ema_init(bt_ema_t *e, size_t n);
double bt_ema_update(bt_ema_t *e, double x);
/* out[t] = the EMA of period w after x[0..t] (bt_ema_update's value, the same bits), NaN until
 * w values are in: the "ema" kind's array form in one loop (bt_indcache). */
void bt_ema_array(const double *x, size_t n, size_t w, double *out);

/* bt_sma_array / bt_ema_array of four (eight) windows w[k] (each >= 1, any order, repeats
 * allowed) over the same input: out[k] gets window w[k]'s column, the same bits, 2-4x faster
 * a column (the update chains run side by side in vector registers). No scratch. */
void bt_sma_array4(const double *x, size_t n, const size_t w[4], double *const out[4]);
void bt_ema_array4(const double *x, size_t n, const size_t w[4], double *const out[4]);
void bt_ema_array8(const double *x, size_t n, const size_t w[8], double *const out[8]);

/* ---- Wilder's RSI (no buffer) ---- */

typedef struct bt_rsi {
    size_t n;                  /* period */
    uint64_t count;            /* values seen */
    double prev;               /* previous value */
    double avg_gain, avg_loss; /* sums during the seed, then Wilder averages */
    double value;              /* RSI in [0, 100] (valid when ready) */
    bool ready;                /* count >= n + 1 */
} bt_rsi_t;

void bt_rsi_init(bt_rsi_t *r, size_t n);
double bt_rsi_update(bt_rsi_t *r, double x);

/* ---- Rolling mean and population standard deviation ---- */

typedef struct bt_rstd {
    double *buf;    /* the last n values (ring) */
    size_t n;       /* window */
    size_t pos;     /* ring slot of the next write */
    size_t since;   /* updates since the last two-pass recomputation */
    uint64_t count; /* values seen */
    double mean;    /* mean of the values in the window */
    double m2;      /* sum of squared deviations from mean */
    double std;     /* population standard deviation (valid when ready) */
    bool ready;     /* count >= n */
} bt_rstd_t;

size_t bt_rstd_size(size_t n);
void bt_rstd_init(bt_rstd_t *s, size_t n, double *buf);
/* Returns the standard deviation; s->mean holds the window mean. */
double bt_rstd_update(bt_rstd_t *s, double x);

/* Bollinger bands: middle = rolling mean, upper/lower = middle +/- k * std. */
typedef struct bt_boll {
    bt_rstd_t sd;                /* window statistics */
    double k;                    /* band width in standard deviations */
    double upper, middle, lower; /* valid when sd.ready */
} bt_boll_t;

size_t bt_boll_size(size_t n);
void bt_boll_init(bt_boll_t *b, size_t n, double k, double *buf);
void bt_boll_update(bt_boll_t *b, double x);
static inline bool bt_boll_ready(const bt_boll_t *b)
{
    return b->sd.ready;
}

/* ---- Rolling max / min (Donchian), monotonic deque ---- */

typedef struct bt_rext {
    uint64_t *idx;  /* deque ring: sequence numbers */
    double *val;    /* deque ring: values */
    size_t n;       /* window */
    size_t head;    /* ring slot of the front (the extreme) */
    size_t len;     /* entries in the deque, <= n */
    uint64_t count; /* values seen (the next value's sequence number) */
    bool is_min;    /* rolling min instead of max */
    double value;   /* extreme of the last n values (valid when ready) */
    bool ready;     /* count >= n */
} bt_rext_t;

size_t bt_rext_size(size_t n);
void bt_rmax_init(bt_rext_t *r, size_t n, void *buf);
void bt_rmin_init(bt_rext_t *r, size_t n, void *buf);
double bt_rext_update(bt_rext_t *r, double x);

/* ---- Rate of change / trailing return over n bars ---- */

typedef struct bt_roc {
    double *buf;    /* the last n + 1 values (ring) */
    size_t n;       /* lookback */
    size_t pos;     /* ring slot of the next write */
    uint64_t count; /* values seen */
    double value;   /* x_t / x_{t-n} - 1 (valid when ready) */
    bool ready;     /* count >= n + 1 */
} bt_roc_t;

size_t bt_roc_size(size_t n);
void bt_roc_init(bt_roc_t *r, size_t n, double *buf);
double bt_roc_update(bt_roc_t *r, double x);

#endif
