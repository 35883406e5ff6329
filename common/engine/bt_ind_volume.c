/* bt_ind_volume — volume and typical-price indicators: OBV, session VWAP,
 * MFI, CCI. Definitions in docs/indicators.md. All read the whole bar; the
 * typical price is (high + low + close) / 3. */
#include <math.h>

#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

#define N_MAX 100000
#define NS_PER_DAY 86400000000000LL

static const char *const s_value[] = {"value"};

static double typical(const bt_bar_t *b)
{
    return (b->high + b->low + b->close) / 3.0;
}

/* ---- OBV ---- */
typedef struct {
    double prev;      /* previous close */
    double sum, comp; /* compensated running total */
    uint64_t count;   /* bars seen */
} obv_t;
static size_t obv_size(const double *p)
{
    (void)p;
    return sizeof(obv_t);
}
static bt_err_t obv_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)st, (void)p, (void)eb;
    return BT_OK;
}
static bool obv_update(void *st, const bt_ind_in_t *in, double *out)
{
    obv_t *s = st;
    double c = in->bar->close;
    if (s->count > 0 && c != s->prev)
        bt_ind_kahan(&s->sum, &s->comp, c > s->prev ? in->bar->volume : -in->bar->volume);
    s->prev = c;
    s->count++;
    out[0] = s->sum + s->comp;
    return true;
}
const bt_ind_kind_t bt_ind_kind_obv = {
    "obv",         "on-balance volume: 0 at the first bar, +/- volume as the close rises/falls",
    BT_IND_IN_BAR, 0,
    NULL,          1,
    s_value,       obv_size,
    obv_init,      obv_update};

/* ---- VWAP anchored to the UTC day (or ISO week) ---- */
typedef struct {
    int64_t period; /* current session number */
    uint64_t count; /* bars seen */
    double pv, pvc; /* sum of typical price x volume (compensated) */
    double v, vc;   /* sum of volume (compensated) */
    double tp, tpc; /* sum of typical prices (volume-free fallback) */
    double nbars;   /* bars in this session */
    int weekly;     /* anchor: 0 day, 1 ISO week */
} vwap_t;
static size_t vwap_size(const double *p)
{
    (void)p;
    return sizeof(vwap_t);
}
static bt_err_t vwap_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    ((vwap_t *)st)->weekly = p[0] >= 0.5;
    return BT_OK;
}
static int64_t s_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}
static bool vwap_update(void *st, const bt_ind_in_t *in, double *out)
{
    vwap_t *s = st;
    int64_t day = s_floordiv(in->bar->time, NS_PER_DAY);
    int64_t period = s->weekly ? s_floordiv(day + 3, 7) : day; /* 1970-01-01 was a Thursday */
    if (s->count == 0 || period != s->period) {
        s->period = period;
        s->pv = s->pvc = s->v = s->vc = s->tp = s->tpc = s->nbars = 0.0;
    }
    double tp = typical(in->bar);
    bt_ind_kahan(&s->pv, &s->pvc, tp * in->bar->volume);
    bt_ind_kahan(&s->v, &s->vc, in->bar->volume);
    bt_ind_kahan(&s->tp, &s->tpc, tp);
    s->nbars += 1.0;
    s->count++;
    double v = s->v + s->vc;
    out[0] = v > 0.0 ? (s->pv + s->pvc) / v : (s->tp + s->tpc) / s->nbars;
    return true;
}
static const bt_param_spec_t s_vwap_params[] = {
    {"anchor", BT_PARAM_INT, 0, 0, 1, "session that resets it: 0 = UTC day, 1 = ISO week"}};
const bt_ind_kind_t bt_ind_kind_vwap = {
    "vwap",        "session VWAP of the typical price (resets each UTC day or week)",
    BT_IND_IN_BAR, 1,
    s_vwap_params, 1,
    s_value,       vwap_size,
    vwap_init,     vwap_update};

/* ---- MFI ---- */
typedef struct {
    bt_sma_t pos, neg; /* rolling sums of positive and negative money flow */
    double prev;       /* previous typical price */
    uint64_t count;    /* bars seen */
} mfi_t;
static size_t mfi_layout(mfi_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(mfi_t));
    double *a = bt_ind_take(&cur, &total, bt_sma_size(n));
    double *b = bt_ind_take(&cur, &total, bt_sma_size(n));
    if (s) {
        bt_sma_init(&s->pos, n, a);
        bt_sma_init(&s->neg, n, b);
    }
    return total;
}
static size_t mfi_size(const double *p)
{
    return mfi_layout(NULL, p);
}
static bt_err_t mfi_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    mfi_layout(st, p);
    return BT_OK;
}
static bool mfi_update(void *st, const bt_ind_in_t *in, double *out)
{
    mfi_t *s = st;
    double tp = typical(in->bar);
    out[0] = NAN;
    if (s->count > 0) {
        double flow = tp * in->bar->volume;
        bt_sma_update(&s->pos, tp > s->prev ? flow : 0.0);
        bt_sma_update(&s->neg, tp < s->prev ? flow : 0.0);
        if (s->pos.ready) {
            double p = bt_ind_sma_sum(&s->pos), n = bt_ind_sma_sum(&s->neg);
            out[0] = p + n > 0.0 ? 100.0 * p / (p + n) : 50.0;
        }
    }
    s->prev = tp;
    s->count++;
    return !isnan(out[0]);
}
static const bt_param_spec_t s_win14[] = {{"n", BT_PARAM_INT, 14, 1, N_MAX, "period in bars"}};
const bt_ind_kind_t bt_ind_kind_mfi = {
    "mfi",         "money flow index over n flows, 0..100 (50 when no flow)",
    BT_IND_IN_BAR, 1,
    s_win14,       1,
    s_value,       mfi_size,
    mfi_init,      mfi_update};

/* ---- CCI. The mean absolute deviation is about the current mean, so it
 * is recomputed over the window each bar: O(n), the one kind that is not
 * O(1) (n is about 20). ---- */
typedef struct {
    bt_sma_t tp; /* the window of typical prices and its mean */
    double c;    /* scale constant (0.015) */
} cci_t;
static size_t cci_layout(cci_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(cci_t));
    double *a = bt_ind_take(&cur, &total, bt_sma_size(n));
    if (s) {
        bt_sma_init(&s->tp, n, a);
        s->c = p[1];
    }
    return total;
}
static size_t cci_size(const double *p)
{
    return cci_layout(NULL, p);
}
static bt_err_t cci_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    cci_layout(st, p);
    return BT_OK;
}
static bool cci_update(void *st, const bt_ind_in_t *in, double *out)
{
    cci_t *s = st;
    double tp = typical(in->bar);
    double mean = bt_sma_update(&s->tp, tp);
    out[0] = NAN;
    if (!s->tp.ready)
        return false;
    double md = 0.0;
    for (size_t i = 0; i < s->tp.n; i++)
        md += fabs(s->tp.buf[i] - mean);
    md /= (double)s->tp.n;
    out[0] = bt_ind_div(tp - mean, s->c * md, 0.0);
    return true;
}
static const bt_param_spec_t s_cci_params[] = {
    {"n", BT_PARAM_INT, 20, 1, N_MAX, "window in bars"},
    {"c", BT_PARAM_REAL, 0.015, 1e-6, 1, "scale constant (Lambert's 0.015)"}};
const bt_ind_kind_t bt_ind_kind_cci = {
    "cci",         "commodity channel index: (tp - SMA(tp)) / (c x mean deviation)",
    BT_IND_IN_BAR, 2,
    s_cci_params,  1,
    s_value,       cci_size,
    cci_init,      cci_update};
