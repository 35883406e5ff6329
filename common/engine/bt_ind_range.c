/* bt_ind_range — indicators of the whole bar built on high/low ranges: true
 * range, ATR, ADX (+DI/-DI), Keltner, Donchian, Parabolic SAR, stochastic,
 * Williams %R, Aroon, Ichimoku. Definitions in docs/indicators.md.
 *
 * These read the bar's high, low and close; only Keltner's middle line
 * uses the source value. Layout functions size (st == NULL) and lay out the
 * state so the two agree. */
#include <math.h>

#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

#define N_MAX 100000

/* Rolling max of highs and min of lows over w bars; buffers carved from cur. */
typedef struct {
    bt_rext_t hi, lo; /* highest high, lowest low */
} hl_t;
static void hl_layout(hl_t *s, unsigned char **cur, size_t *total, size_t w)
{
    void *a = bt_ind_take(cur, total, bt_rext_size(w));
    void *b = bt_ind_take(cur, total, bt_rext_size(w));
    if (s) {
        bt_rmax_init(&s->hi, w, a);
        bt_rmin_init(&s->lo, w, b);
    }
}
static void hl_update(hl_t *s, const bt_bar_t *b)
{
    bt_rext_update(&s->hi, b->high);
    bt_rext_update(&s->lo, b->low);
}

/* ---- true range and ATR ---- */
typedef struct {
    double prev_close; /* close of the previous bar */
    uint64_t count;    /* bars seen */
} tr_t;
/* The true range of this bar (needs the previous close: NaN on the first). */
static double tr_step(tr_t *s, const bt_bar_t *b)
{
    double tr = NAN;
    if (s->count > 0)
        tr = fmax(b->high, s->prev_close) - fmin(b->low, s->prev_close);
    s->prev_close = b->close;
    s->count++;
    return tr;
}
static size_t tr_size(const double *p)
{
    (void)p;
    return sizeof(tr_t);
}
static bt_err_t noop_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)st, (void)p, (void)eb;
    return BT_OK;
}
static bool tr_update(void *st, const bt_ind_in_t *in, double *out)
{
    out[0] = tr_step(st, in->bar);
    return !isnan(out[0]);
}
static const char *const s_value[] = {"value"};
const bt_ind_kind_t bt_ind_kind_true_range = {
    "true_range",  "max(high, prev close) - min(low, prev close), from the second bar",
    BT_IND_IN_BAR, 0,
    NULL,          1,
    s_value,       tr_size,
    noop_init,     tr_update};

typedef struct {
    tr_t tr;           /* true range */
    bt_ind_wilder_t w; /* its Wilder average */
} atr_t;
static void atr_init_n(atr_t *s, size_t n)
{
    *s = (atr_t){0};
    bt_ind_wilder_init(&s->w, n);
}
/* Returns the ATR, NaN until ready. */
static double atr_step(atr_t *s, const bt_bar_t *b)
{
    double tr = tr_step(&s->tr, b);
    if (isnan(tr))
        return NAN;
    double v = bt_ind_wilder_update(&s->w, tr);
    return s->w.ready ? v : NAN;
}
static size_t atr_size(const double *p)
{
    (void)p;
    return sizeof(atr_t);
}
static bt_err_t atr_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    atr_init_n(st, (size_t)p[0]);
    return BT_OK;
}
static bool atr_update(void *st, const bt_ind_in_t *in, double *out)
{
    out[0] = atr_step(st, in->bar);
    return !isnan(out[0]);
}
static const bt_param_spec_t s_win14[] = {{"n", BT_PARAM_INT, 14, 1, N_MAX, "period in bars"}};
const bt_ind_kind_t bt_ind_kind_atr = {
    "atr",
    "average true range, Wilder: mean of the first n true ranges, then (a(n-1)+tr)/n",
    BT_IND_IN_BAR,
    1,
    s_win14,
    1,
    s_value,
    atr_size,
    atr_init,
    atr_update};

/* ---- ADX, +DI, -DI (Wilder) ---- */
typedef struct {
    tr_t tr;                       /* true range */
    bt_ind_wilder_t atr, pdm, mdm; /* smoothed TR, +DM, -DM */
    bt_ind_wilder_t adx;           /* smoothed DX */
    double ph, pl;                 /* previous high and low */
} adx_t;
static size_t adx_size(const double *p)
{
    (void)p;
    return sizeof(adx_t);
}
static bt_err_t adx_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    adx_t *s = st;
    size_t n = (size_t)p[0];
    bt_ind_wilder_init(&s->atr, n);
    bt_ind_wilder_init(&s->pdm, n);
    bt_ind_wilder_init(&s->mdm, n);
    bt_ind_wilder_init(&s->adx, n);
    return BT_OK;
}
static bool adx_update(void *st, const bt_ind_in_t *in, double *out)
{
    adx_t *s = st;
    const bt_bar_t *b = in->bar;
    bool first = s->tr.count == 0;
    double tr = tr_step(&s->tr, b);
    out[0] = out[1] = out[2] = NAN;
    if (!first) {
        double up = b->high - s->ph, down = s->pl - b->low;
        double atr = bt_ind_wilder_update(&s->atr, tr);
        double pdm = bt_ind_wilder_update(&s->pdm, up > down && up > 0.0 ? up : 0.0);
        double mdm = bt_ind_wilder_update(&s->mdm, down > up && down > 0.0 ? down : 0.0);
        if (s->atr.ready) {
            double pdi = 100.0 * bt_ind_div(pdm, atr, 0.0);
            double mdi = 100.0 * bt_ind_div(mdm, atr, 0.0);
            double dx = 100.0 * bt_ind_div(fabs(pdi - mdi), pdi + mdi, 0.0);
            double adx = bt_ind_wilder_update(&s->adx, dx);
            out[1] = pdi;
            out[2] = mdi;
            if (s->adx.ready)
                out[0] = adx;
        }
    }
    s->ph = b->high;
    s->pl = b->low;
    return s->adx.ready;
}
static const char *const s_adx_outs[] = {"adx", "plus_di", "minus_di"};
const bt_ind_kind_t bt_ind_kind_adx = {
    "adx",         "Wilder's ADX with +DI and -DI (all Wilder-smoothed over n)",
    BT_IND_IN_BAR, 1,
    s_win14,       3,
    s_adx_outs,    adx_size,
    adx_init,      adx_update};

/* ---- Keltner channel: EMA(n) of the source +/- k ATR(atr_n) ---- */
typedef struct {
    bt_ema_t mid; /* middle line */
    atr_t atr;    /* channel width */
    double k;     /* width in ATRs */
} kelt_t;
static size_t kelt_size(const double *p)
{
    (void)p;
    return sizeof(kelt_t);
}
static bt_err_t kelt_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    kelt_t *s = st;
    bt_ema_init(&s->mid, (size_t)p[0]);
    s->k = p[1];
    atr_init_n(&s->atr, (size_t)p[2]);
    return BT_OK;
}
static bool kelt_update(void *st, const bt_ind_in_t *in, double *out)
{
    kelt_t *s = st;
    double m = bt_ema_update(&s->mid, in->x);
    double a = atr_step(&s->atr, in->bar);
    bool ready = s->mid.ready && !isnan(a);
    out[0] = ready ? m : NAN;
    out[1] = ready ? m + s->k * a : NAN;
    out[2] = ready ? m - s->k * a : NAN;
    return ready;
}
static const bt_param_spec_t s_kelt_params[] = {
    {"n", BT_PARAM_INT, 20, 1, N_MAX, "EMA period of the middle line"},
    {"k", BT_PARAM_REAL, 2, 0, 100, "band width in ATRs"},
    {"atr_n", BT_PARAM_INT, 10, 1, N_MAX, "ATR period"}};
static const char *const s_band_outs[] = {"middle", "upper", "lower"};
const bt_ind_kind_t bt_ind_kind_keltner = {
    "keltner",     "Keltner channel: EMA(n) of the source +/- k ATR(atr_n)",
    BT_IND_IN_BAR, 3,
    s_kelt_params, 3,
    s_band_outs,   kelt_size,
    kelt_init,     kelt_update};

/* ---- Donchian channel of the PREVIOUS n bars (this bar excluded) ---- */
typedef struct {
    hl_t hl; /* over the previous n bars */
} don_t;
static size_t don_layout(don_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0;
    bt_ind_take(&cur, &total, sizeof(don_t));
    hl_layout(s ? &s->hl : NULL, &cur, &total, (size_t)p[0]);
    return total;
}
static size_t don_size(const double *p)
{
    return don_layout(NULL, p);
}
static bt_err_t don_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    don_layout(st, p);
    return BT_OK;
}
static bool don_update(void *st, const bt_ind_in_t *in, double *out)
{
    don_t *s = st;
    bool ready = s->hl.hi.ready; /* read before this bar is pushed */
    out[0] = ready ? s->hl.hi.value : NAN;
    out[2] = ready ? s->hl.lo.value : NAN;
    out[1] = ready ? (out[0] + out[2]) / 2.0 : NAN;
    hl_update(&s->hl, in->bar);
    return ready;
}
static const bt_param_spec_t s_win20[] = {{"n", BT_PARAM_INT, 20, 1, N_MAX, "window in bars"}};
static const char *const s_don_outs[] = {"upper", "middle", "lower"};
const bt_ind_kind_t bt_ind_kind_donchian = {
    "donchian",    "Donchian channel: highest high / lowest low of the previous n bars",
    BT_IND_IN_BAR, 1,
    s_win20,       3,
    s_don_outs,    don_size,
    don_init,      don_update};

/* ---- stochastic %K (smoothed) and %D ---- */
typedef struct {
    hl_t hl;       /* range over n bars, this one included */
    bt_sma_t k, d; /* %K = SMA(smooth) of the raw %K; %D = SMA(d) of %K */
} stoch_t;
static size_t stoch_layout(stoch_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, ks = (size_t)p[1], ds = (size_t)p[2];
    bt_ind_take(&cur, &total, sizeof(stoch_t));
    hl_layout(s ? &s->hl : NULL, &cur, &total, (size_t)p[0]);
    double *kb = bt_ind_take(&cur, &total, bt_sma_size(ks));
    double *db = bt_ind_take(&cur, &total, bt_sma_size(ds));
    if (s) {
        bt_sma_init(&s->k, ks, kb);
        bt_sma_init(&s->d, ds, db);
    }
    return total;
}
static size_t stoch_size(const double *p)
{
    return stoch_layout(NULL, p);
}
static bt_err_t stoch_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    stoch_layout(st, p);
    return BT_OK;
}
static bool stoch_update(void *st, const bt_ind_in_t *in, double *out)
{
    stoch_t *s = st;
    hl_update(&s->hl, in->bar);
    out[0] = out[1] = NAN;
    if (!s->hl.hi.ready)
        return false;
    double hh = s->hl.hi.value, ll = s->hl.lo.value;
    double raw = hh > ll ? 100.0 * (in->bar->close - ll) / (hh - ll) : 50.0;
    double k = bt_sma_update(&s->k, raw);
    if (!s->k.ready)
        return false;
    double d = bt_sma_update(&s->d, k);
    out[0] = k;
    out[1] = s->d.ready ? d : NAN;
    return true;
}
static const bt_param_spec_t s_stoch_params[] = {
    {"n", BT_PARAM_INT, 14, 1, N_MAX, "high/low window in bars"},
    {"smooth", BT_PARAM_INT, 3, 1, N_MAX, "SMA of the raw %K (1 = fast stochastic)"},
    {"d", BT_PARAM_INT, 3, 1, N_MAX, "SMA period of %D over %K"}};
static const char *const s_stoch_outs[] = {"k", "d"};
const bt_ind_kind_t bt_ind_kind_stochastic = {
    "stochastic",   "stochastic oscillator %K (smoothed) and %D, 0..100 (50 when flat)",
    BT_IND_IN_BAR,  3,
    s_stoch_params, 2,
    s_stoch_outs,   stoch_size,
    stoch_init,     stoch_update};

/* ---- Williams %R ---- */
static size_t hln_layout(hl_t *s, const double *p, size_t extra)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0;
    bt_ind_take(&cur, &total, sizeof(hl_t));
    hl_layout(s, &cur, &total, (size_t)p[0] + extra);
    return total;
}
static size_t willr_size(const double *p)
{
    return hln_layout(NULL, p, 0);
}
static bt_err_t willr_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    hln_layout(st, p, 0);
    return BT_OK;
}
static bool willr_update(void *st, const bt_ind_in_t *in, double *out)
{
    hl_t *s = st;
    hl_update(s, in->bar);
    bool ready = s->hi.ready;
    double hh = s->hi.value, ll = s->lo.value;
    out[0] = !ready ? NAN : hh > ll ? -100.0 * (hh - in->bar->close) / (hh - ll) : -50.0;
    return ready;
}
const bt_ind_kind_t bt_ind_kind_williams_r = {
    "williams_r",  "Williams %R: -100 (HH - close) / (HH - LL) over n bars, -100..0",
    BT_IND_IN_BAR, 1,
    s_win14,       1,
    s_value,       willr_size,
    willr_init,    willr_update};

/* ---- Aroon over n + 1 bars (this one included) ---- */
static size_t aroon_size(const double *p)
{
    return hln_layout(NULL, p, 1);
}
static bt_err_t aroon_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    hln_layout(st, p, 1);
    return BT_OK;
}
static bool aroon_update(void *st, const bt_ind_in_t *in, double *out)
{
    hl_t *s = st;
    hl_update(s, in->bar);
    bool ready = s->hi.ready;
    double n = (double)(s->hi.n - 1);
    /* The deque's front is the extreme; on ties the newest one. */
    double since_hi = (double)(s->hi.count - 1 - s->hi.idx[s->hi.head]);
    double since_lo = (double)(s->lo.count - 1 - s->lo.idx[s->lo.head]);
    out[0] = ready ? 100.0 * (n - since_hi) / n : NAN;
    out[1] = ready ? 100.0 * (n - since_lo) / n : NAN;
    out[2] = ready ? out[0] - out[1] : NAN;
    return ready;
}
static const bt_param_spec_t s_aroon_params[] = {
    {"n", BT_PARAM_INT, 25, 1, N_MAX, "lookback in bars (window n + 1)"}};
static const char *const s_aroon_outs[] = {"up", "down", "osc"};
const bt_ind_kind_t bt_ind_kind_aroon = {
    "aroon",        "Aroon up/down: 100 (n - bars since the highest high / lowest low) / n; osc",
    BT_IND_IN_BAR,  1,
    s_aroon_params, 3,
    s_aroon_outs,   aroon_size,
    aroon_init,     aroon_update};

/* ---- Ichimoku ---- */
typedef struct {
    hl_t ten, kij, sen; /* ranges over tenkan, kijun, senkou_b bars */
    double *ra, *rb;    /* rings of the last `shift` unshifted span A and B */
    size_t shift, pos;  /* displacement, next ring slot */
    uint64_t count;     /* bars seen */
} ichi_t;
static size_t ichi_layout(ichi_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, shift = (size_t)p[3];
    bt_ind_take(&cur, &total, sizeof(ichi_t));
    hl_layout(s ? &s->ten : NULL, &cur, &total, (size_t)p[0]);
    hl_layout(s ? &s->kij : NULL, &cur, &total, (size_t)p[1]);
    hl_layout(s ? &s->sen : NULL, &cur, &total, (size_t)p[2]);
    double *ra = bt_ind_take(&cur, &total, shift * sizeof(double));
    double *rb = bt_ind_take(&cur, &total, shift * sizeof(double));
    if (s) {
        s->ra = ra;
        s->rb = rb;
        s->shift = shift;
    }
    return total;
}
static size_t ichi_size(const double *p)
{
    return ichi_layout(NULL, p);
}
static bt_err_t ichi_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    ichi_layout(st, p);
    return BT_OK;
}
static double mid_of(const hl_t *h)
{
    return h->hi.ready ? (h->hi.value + h->lo.value) / 2.0 : NAN;
}
static bool ichi_update(void *st, const bt_ind_in_t *in, double *out)
{
    ichi_t *s = st;
    hl_update(&s->ten, in->bar);
    hl_update(&s->kij, in->bar);
    hl_update(&s->sen, in->bar);
    double ten = mid_of(&s->ten), kij = mid_of(&s->kij);
    double a = (ten + kij) / 2.0, b = mid_of(&s->sen); /* NaN until ready */
    out[0] = ten;
    out[1] = kij;
    /* The spans at t are the values computed at t - shift (no bar after t). */
    bool full = s->count >= s->shift;
    out[2] = full ? s->ra[s->pos] : NAN;
    out[3] = full ? s->rb[s->pos] : NAN;
    s->ra[s->pos] = a;
    s->rb[s->pos] = b;
    if (++s->pos == s->shift)
        s->pos = 0;
    s->count++;
    out[4] = in->bar->close; /* chikou: this close, to compare with shift bars ago */
    return !isnan(ten);
}
static const bt_param_spec_t s_ichi_params[] = {
    {"tenkan", BT_PARAM_INT, 9, 1, N_MAX, "conversion line window"},
    {"kijun", BT_PARAM_INT, 26, 1, N_MAX, "base line window"},
    {"senkou", BT_PARAM_INT, 52, 1, N_MAX, "leading span B window"},
    {"shift", BT_PARAM_INT, 26, 1, N_MAX, "displacement of the leading spans"}};
static const char *const s_ichi_outs[] = {"tenkan", "kijun", "senkou_a", "senkou_b", "chikou"};
const bt_ind_kind_t bt_ind_kind_ichimoku = {
    "ichimoku",    "Ichimoku: tenkan, kijun, spans A/B as computed shift bars ago, chikou = close",
    BT_IND_IN_BAR, 4,
    s_ichi_params, 5,
    s_ichi_outs,   ichi_size,
    ichi_init,     ichi_update};

/* ---- Parabolic SAR (Wilder) ---- */
typedef struct {
    uint64_t count;          /* bars seen */
    int trend;               /* +1 long, -1 short */
    double sar;              /* SAR in force for the next bar (the last output) */
    double ep;               /* extreme point of the trend */
    double af;               /* acceleration factor */
    double ph, pl;           /* previous bar's high and low */
    double af0, step, afmax; /* parameters */
} psar_t;
static size_t psar_size(const double *p)
{
    (void)p;
    return sizeof(psar_t);
}
static bt_err_t psar_init(void *st, const double *p, bt_errbuf_t *eb)
{
    if (!(p[0] <= p[2]))
        return bt_errf(eb, BT_EINVAL, "indicator psar: af (%g) must be at most af_max (%g)", p[0],
                       p[2]);
    psar_t *s = st;
    s->af0 = p[0];
    s->step = p[1];
    s->afmax = p[2];
    return BT_OK;
}
static bool psar_update(void *st, const bt_ind_in_t *in, double *out)
{
    psar_t *s = st;
    double h = in->bar->high, l = in->bar->low, cur;
    out[0] = out[1] = NAN;
    if (s->count == 0) {
        s->ph = h;
        s->pl = l;
        s->count++;
        return false;
    }
    if (s->count == 1) { /* the first two bars pick the trend, as Wilder's +DM/-DM */
        s->trend = h - s->ph >= s->pl - l ? 1 : -1;
        cur = s->trend > 0 ? s->pl : s->ph;
        s->ep = s->trend > 0 ? fmax(h, s->ph) : fmin(l, s->pl);
        s->af = s->af0;
    } else if (s->trend > 0 ? l <= s->sar : h >= s->sar) { /* stopped: reverse */
        s->trend = -s->trend;
        cur = s->ep;
        s->ep = s->trend > 0 ? h : l;
        s->af = s->af0;
    } else {
        cur = s->sar;
        if (s->trend > 0 ? h > s->ep : l < s->ep) {
            s->ep = s->trend > 0 ? h : l;
            s->af = fmin(s->af + s->step, s->afmax);
        }
    }
    double next = cur + s->af * (s->ep - cur);
    /* Never inside the range of this bar or the one before. */
    next = s->trend > 0 ? fmin(next, fmin(l, s->pl)) : fmax(next, fmax(h, s->ph));
    s->sar = next;
    s->ph = h;
    s->pl = l;
    s->count++;
    out[0] = next;
    out[1] = (double)s->trend;
    return true;
}
static const bt_param_spec_t s_psar_params[] = {
    {"af", BT_PARAM_REAL, 0.02, 0.0001, 1, "starting acceleration factor"},
    {"step", BT_PARAM_REAL, 0.02, 0, 1, "acceleration step at each new extreme"},
    {"af_max", BT_PARAM_REAL, 0.2, 0.0001, 1, "largest acceleration factor"}};
static const char *const s_psar_outs[] = {"sar", "trend"};
const bt_ind_kind_t bt_ind_kind_psar = {
    "psar",        "Wilder's parabolic SAR: the stop for the next bar, and the trend (+1/-1)",
    BT_IND_IN_BAR, 3,
    s_psar_params, 2,
    s_psar_outs,   psar_size,
    psar_init,     psar_update};
