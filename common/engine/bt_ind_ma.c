/* bt_ind_ma — averages and oscillators of one series: WMA, DEMA, TEMA, KAMA,
 * MACD, PPO, TRIX, momentum, z-score. Definitions in docs/indicators.md.
 *
 * Each kind has one layout function that both sizes its state (st == NULL)
 * and lays it out (buffers right after the struct), so the two agree. */
#include <math.h>

#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

#define N_MAX 100000

static const char *const s_value[] = {"value"};

/* ---- WMA: weights 1..n, newest heaviest ---- */
typedef struct {
    double *buf;      /* the last n values (ring) */
    size_t n, pos;    /* window, next slot */
    size_t since;     /* updates since the last exact recomputation */
    uint64_t count;   /* values seen */
    double sum, wsum; /* sum and weighted sum of the window */
} wma_t;

static size_t wma_layout(wma_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(wma_t));
    double *buf = bt_ind_take(&cur, &total, n * sizeof(double));
    if (s)
        *s = (wma_t){.buf = buf, .n = n};
    return total;
}
static size_t wma_size(const double *p)
{
    return wma_layout(NULL, p);
}
static bt_err_t wma_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    wma_layout(st, p);
    return BT_OK;
}
static bool wma_update(void *st, const bt_ind_in_t *in, double *out)
{
    wma_t *s = st;
    double x = in->x, n = (double)s->n;
    if (s->count >= s->n) { /* every weight drops by one, the oldest leaves */
        s->wsum += n * x - s->sum;
        s->sum += x - s->buf[s->pos];
    }
    s->buf[s->pos] = x;
    if (++s->pos == s->n)
        s->pos = 0;
    s->count++;
    /* Exact sums when the window first fills and every n updates after, so
     * the running update's rounding never accumulates (amortised O(1)). */
    if (s->count == s->n || (s->count > s->n && ++s->since >= s->n)) {
        double sum = 0.0, wsum = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            size_t k = s->pos + i < s->n ? s->pos + i : s->pos + i - s->n; /* oldest first */
            sum += s->buf[k];
            wsum += (double)(i + 1) * s->buf[k];
        }
        s->sum = sum;
        s->wsum = wsum;
        s->since = 0;
    }
    bool ready = s->count >= s->n;
    out[0] = ready ? s->wsum / (n * (n + 1.0) / 2.0) : NAN;
    return ready;
}
static const bt_param_spec_t s_win10[] = {{"n", BT_PARAM_INT, 10, 1, N_MAX, "window in bars"}};
const bt_ind_kind_t bt_ind_kind_wma = {"wma",
                                       "weighted moving average, weights 1..n (newest n)",
                                       BT_IND_IN_SOURCE,
                                       1,
                                       s_win10,
                                       1,
                                       s_value,
                                       wma_size,
                                       wma_init,
                                       wma_update};

/* ---- DEMA / TEMA: EMAs of EMAs, each seeded with the SMA of its input ---- */
typedef struct {
    bt_ema_t e[3]; /* EMA, EMA of EMA, EMA of that */
} xema_t;

static size_t xema_size(const double *p)
{
    (void)p;
    return sizeof(xema_t);
}
static bt_err_t xema_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    xema_t *s = st;
    for (int i = 0; i < 3; i++)
        bt_ema_init(&s->e[i], (size_t)p[0]);
    return BT_OK;
}
/* Feeds the chain up to `depth` levels; returns how many are ready. */
static int xema_feed(xema_t *s, double x, int depth)
{
    int ready = 0;
    for (int i = 0; i < depth; i++) {
        x = bt_ema_update(&s->e[i], x);
        if (!s->e[i].ready)
            break;
        ready++;
    }
    return ready;
}
static bool dema_update(void *st, const bt_ind_in_t *in, double *out)
{
    xema_t *s = st;
    bool ready = xema_feed(s, in->x, 2) == 2;
    out[0] = ready ? 2.0 * s->e[0].value - s->e[1].value : NAN;
    return ready;
}
static bool tema_update(void *st, const bt_ind_in_t *in, double *out)
{
    xema_t *s = st;
    bool ready = xema_feed(s, in->x, 3) == 3;
    out[0] = ready ? 3.0 * s->e[0].value - 3.0 * s->e[1].value + s->e[2].value : NAN;
    return ready;
}
static const bt_param_spec_t s_win20[] = {{"n", BT_PARAM_INT, 20, 1, N_MAX, "period in bars"}};
const bt_ind_kind_t bt_ind_kind_dema = {"dema",           "double EMA: 2 EMA - EMA(EMA)",
                                        BT_IND_IN_SOURCE, 1,
                                        s_win20,          1,
                                        s_value,          xema_size,
                                        xema_init,        dema_update};
const bt_ind_kind_t bt_ind_kind_tema = {
    "tema",           "triple EMA: 3 EMA - 3 EMA(EMA) + EMA(EMA(EMA))",
    BT_IND_IN_SOURCE, 1,
    s_win20,          1,
    s_value,          xema_size,
    xema_init,        tema_update};

/* ---- TRIX: one-bar rate of change of the triple EMA, in percent ---- */
typedef struct {
    xema_t x;    /* the chain */
    double prev; /* previous triple EMA */
    bool have;   /* prev is set */
} trix_t;
static size_t trix_size(const double *p)
{
    (void)p;
    return sizeof(trix_t);
}
static bool trix_update(void *st, const bt_ind_in_t *in, double *out)
{
    trix_t *s = st;
    bool ready = false;
    out[0] = NAN;
    if (xema_feed(&s->x, in->x, 3) == 3) {
        double v = s->x.e[2].value;
        if (s->have) {
            out[0] = 100.0 * bt_ind_div(v - s->prev, s->prev, 0.0);
            ready = true;
        }
        s->prev = v;
        s->have = true;
    }
    return ready;
}
static const bt_param_spec_t s_win15[] = {{"n", BT_PARAM_INT, 15, 1, N_MAX, "period in bars"}};
const bt_ind_kind_t bt_ind_kind_trix = {
    "trix",           "100 x one-bar change of EMA(EMA(EMA)) / its previous value",
    BT_IND_IN_SOURCE, 1,
    s_win15,          1,
    s_value,          trix_size,
    xema_init,        trix_update};

/* ---- KAMA (Kaufman) ---- */
typedef struct {
    double *ring;   /* the last n + 1 values */
    bt_sma_t vol;   /* rolling sum of |change| over n changes */
    size_t n, pos;  /* period, next ring slot */
    uint64_t count; /* values seen */
    double prev;    /* previous value */
    double fa, sa;  /* fast and slow smoothing constants 2/(f+1), 2/(s+1) */
    double value;   /* KAMA */
} kama_t;

static size_t kama_layout(kama_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(kama_t));
    double *ring = bt_ind_take(&cur, &total, (n + 1) * sizeof(double));
    double *vbuf = bt_ind_take(&cur, &total, bt_sma_size(n));
    if (s) {
        *s = (kama_t){.ring = ring, .n = n, .fa = 2.0 / (p[1] + 1.0), .sa = 2.0 / (p[2] + 1.0)};
        bt_sma_init(&s->vol, n, vbuf);
    }
    return total;
}
static size_t kama_size(const double *p)
{
    return kama_layout(NULL, p);
}
static bt_err_t kama_init(void *st, const double *p, bt_errbuf_t *eb)
{
    if (!(p[1] < p[2]))
        return bt_errf(eb, BT_EINVAL, "indicator kama: fast (%g) must be less than slow (%g)", p[1],
                       p[2]);
    kama_layout(st, p);
    return BT_OK;
}
static bool kama_update(void *st, const bt_ind_in_t *in, double *out)
{
    kama_t *s = st;
    double x = in->x;
    if (s->count > 0)
        bt_sma_update(&s->vol, fabs(x - s->prev));
    s->prev = x;
    s->ring[s->pos] = x;
    if (++s->pos == s->n + 1)
        s->pos = 0;
    s->count++;
    out[0] = NAN;
    if (s->count == s->n) { /* seed: the value before the first KAMA */
        s->value = x;
    } else if (s->count > s->n) {
        double dir = fabs(x - s->ring[s->pos]); /* ring[pos] holds x_{t-n} */
        double er = bt_ind_div(dir, bt_ind_sma_sum(&s->vol), 0.0);
        double sc = er * (s->fa - s->sa) + s->sa;
        s->value += sc * sc * (x - s->value);
        out[0] = s->value;
    }
    return s->count > s->n;
}
static const bt_param_spec_t s_kama_params[] = {
    {"n", BT_PARAM_INT, 10, 1, N_MAX, "efficiency-ratio period"},
    {"fast", BT_PARAM_INT, 2, 1, N_MAX, "fast EMA period (constant 2/(fast+1))"},
    {"slow", BT_PARAM_INT, 30, 1, N_MAX, "slow EMA period (constant 2/(slow+1))"}};
const bt_ind_kind_t bt_ind_kind_kama = {
    "kama",           "Kaufman adaptive moving average (seeded with the value at bar n-1)",
    BT_IND_IN_SOURCE, 3,
    s_kama_params,    1,
    s_value,          kama_size,
    kama_init,        kama_update};

/* ---- MACD and PPO: fast EMA vs slow EMA, a signal EMA and the histogram ---- */
typedef struct {
    bt_ema_t fast, slow, sig; /* the three EMAs */
    bool pct;                 /* PPO: difference in percent of the slow EMA */
} macd_t;
static size_t macd_size(const double *p)
{
    (void)p;
    return sizeof(macd_t);
}
static bt_err_t macd_init_common(void *st, const double *p, bt_errbuf_t *eb, bool pct,
                                 const char *name)
{
    if (!(p[0] < p[1]))
        return bt_errf(eb, BT_EINVAL, "indicator %s: fast (%g) must be less than slow (%g)", name,
                       p[0], p[1]);
    macd_t *s = st;
    bt_ema_init(&s->fast, (size_t)p[0]);
    bt_ema_init(&s->slow, (size_t)p[1]);
    bt_ema_init(&s->sig, (size_t)p[2]);
    s->pct = pct;
    return BT_OK;
}
static bt_err_t macd_init(void *st, const double *p, bt_errbuf_t *eb)
{
    return macd_init_common(st, p, eb, false, "macd");
}
static bt_err_t ppo_init(void *st, const double *p, bt_errbuf_t *eb)
{
    return macd_init_common(st, p, eb, true, "ppo");
}
static bool macd_update(void *st, const bt_ind_in_t *in, double *out)
{
    macd_t *s = st;
    double f = bt_ema_update(&s->fast, in->x), sl = bt_ema_update(&s->slow, in->x);
    out[0] = out[1] = out[2] = NAN;
    if (!s->slow.ready) /* fast < slow: the slow one is ready last */
        return false;
    double line = s->pct ? 100.0 * bt_ind_div(f - sl, sl, 0.0) : f - sl;
    double sig = bt_ema_update(&s->sig, line);
    out[0] = line;
    if (s->sig.ready) {
        out[1] = sig;
        out[2] = line - sig;
    }
    return true;
}
static const bt_param_spec_t s_macd_params[] = {
    {"fast", BT_PARAM_INT, 12, 1, N_MAX, "fast EMA period"},
    {"slow", BT_PARAM_INT, 26, 1, N_MAX, "slow EMA period"},
    {"signal", BT_PARAM_INT, 9, 1, N_MAX, "signal EMA period (over the line)"}};
static const char *const s_macd_outs[] = {"macd", "signal", "hist"};
static const char *const s_ppo_outs[] = {"ppo", "signal", "hist"};
const bt_ind_kind_t bt_ind_kind_macd = {
    "macd",           "MACD: EMA(fast) - EMA(slow), its signal EMA and the histogram",
    BT_IND_IN_SOURCE, 3,
    s_macd_params,    3,
    s_macd_outs,      macd_size,
    macd_init,        macd_update};
const bt_ind_kind_t bt_ind_kind_ppo = {
    "ppo",
    "percentage price oscillator: 100 (EMA(fast) - EMA(slow)) / EMA(slow), signal, hist",
    BT_IND_IN_SOURCE,
    3,
    s_macd_params,
    3,
    s_ppo_outs,
    macd_size,
    ppo_init,
    macd_update};

/* ---- momentum: x_t - x_{t-n} ---- */
typedef struct {
    double *ring;   /* the last n + 1 values */
    size_t n, pos;  /* lookback, next slot */
    uint64_t count; /* values seen */
} mom_t;
static size_t mom_layout(mom_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(mom_t));
    double *ring = bt_ind_take(&cur, &total, (n + 1) * sizeof(double));
    if (s)
        *s = (mom_t){.ring = ring, .n = n};
    return total;
}
static size_t mom_size(const double *p)
{
    return mom_layout(NULL, p);
}
static bt_err_t mom_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    mom_layout(st, p);
    return BT_OK;
}
static bool mom_update(void *st, const bt_ind_in_t *in, double *out)
{
    mom_t *s = st;
    s->ring[s->pos] = in->x;
    if (++s->pos == s->n + 1)
        s->pos = 0;
    s->count++;
    bool ready = s->count > s->n;
    out[0] = ready ? in->x - s->ring[s->pos] : NAN;
    return ready;
}
const bt_ind_kind_t bt_ind_kind_momentum = {
    "momentum", "x_t - x_{t-n}", BT_IND_IN_SOURCE, 1,        s_win10,
    1,          s_value,         mom_size,         mom_init, mom_update};

/* ---- z-score: (x - rolling mean) / rolling population std ---- */
typedef struct {
    bt_rstd_t sd; /* window statistics; its buffer follows */
} zs_t;
static size_t zs_layout(zs_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(zs_t));
    double *buf = bt_ind_take(&cur, &total, bt_rstd_size(n));
    if (s)
        bt_rstd_init(&s->sd, n, buf);
    return total;
}
static size_t zs_size(const double *p)
{
    return zs_layout(NULL, p);
}
static bt_err_t zs_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    zs_layout(st, p);
    return BT_OK;
}
static bool zs_update(void *st, const bt_ind_in_t *in, double *out)
{
    zs_t *s = st;
    double sd = bt_rstd_update(&s->sd, in->x);
    out[0] = s->sd.ready ? bt_ind_div(in->x - s->sd.mean, sd, 0.0) : NAN;
    return s->sd.ready;
}
static const bt_param_spec_t s_zs_params[] = {{"n", BT_PARAM_INT, 20, 2, N_MAX, "window in bars"}};
const bt_ind_kind_t bt_ind_kind_zscore = {
    "zscore",         "(x - rolling mean) / rolling population std (0 when the std is 0)",
    BT_IND_IN_SOURCE, 1,
    s_zs_params,      1,
    s_value,          zs_size,
    zs_init,          zs_update};
