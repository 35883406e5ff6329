/* bt_indicators — see bt_indicators.h for the definitions and conventions. */
#include "bt_indicators.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>

/* Neumaier's improved Kahan summation: adds x to (*sum, *comp). The true sum
 * is *sum + *comp. */
static inline void s_neumaier_add(double *sum, double *comp, double x)
{
    double t = *sum + x;
    if (fabs(*sum) >= fabs(x))
        *comp += (*sum - t) + x;
    else
        *comp += (x - t) + *sum;
    *sum = t;
}

/* ---- SMA ---- */

size_t bt_sma_size(size_t n)
{
    return n * sizeof(double);
}

void bt_sma_init(bt_sma_t *s, size_t n, double *buf)
{
    assert(s && n >= 1 && buf);
    *s = (bt_sma_t){.buf = buf, .n = n};
}

/* One Neumaier step on locals: the compensation term picked without a branch (the two
 * candidates are computed as the branchy form computes them, so the bits are the same). */
static inline void s_neumaier_sel(double *sum, double *comp, double x)
{
    double s = *sum, t = s + x;
    double a = (s - t) + x, b = (x - t) + s;
    *comp += fabs(s) >= fabs(x) ? a : b;
    *sum = t;
}

static inline double s_sma_update(bt_sma_t *s, double x)
{
    /* sum and comp stay in registers across both adds and are stored once: storing them as a
     * pair and reloading one half on the next bar stalled the store forwarding */
    double sum = s->sum, comp = s->comp;
    size_t n = s->n, pos = s->pos;
    if (s->count >= n)
        s_neumaier_sel(&sum, &comp, -s->buf[pos]);
    s->buf[pos] = x;
    s_neumaier_sel(&sum, &comp, x);
    s->pos = pos + 1 == n ? 0 : pos + 1;
    uint64_t count = ++s->count;
    /* The compensated sum keeps the error at a few ulps; a full
     * recomputation from the window every 16 n updates (the buffer is full
     * by then) bounds it for good at an amortised 1/16 add per update. */
    if (++s->since >= 16 * n) {
        sum = 0.0, comp = 0.0;
        for (size_t i = 0; i < n; i++)
            s_neumaier_add(&sum, &comp, s->buf[i]);
        s->since = 0;
    }
    s->sum = sum;
    s->comp = comp;
    double v;
    if (count >= n) {
        s->ready = true;
        v = (sum + comp) / (double)n;
    } else {
        v = (sum + comp) / (double)count;
    }
    s->value = v;
    return v;
}

double bt_sma_update(bt_sma_t *s, double x)
{
    return s_sma_update(s, x);
}

void bt_sma_array(const double *x, size_t n, size_t w, double *buf, double *out)
{
    bt_sma_t s; /* a local: its fields stay in registers */
    bt_sma_init(&s, w, buf);
    for (size_t t = 0; t < n; t++) {
        double v = s_sma_update(&s, x[t]);
        out[t] = s.ready ? v : NAN;
    }
}

void bt_sma_update2(bt_sma_t *a, bt_sma_t *b, double x)
{
    s_sma_update(a, x); /* one call: the two chains overlap */
    s_sma_update(b, x);
}

/* ---- EMA ---- */

void bt_ema_init(bt_ema_t *e, size_t n)
{
    assert(e && n >= 1);
    *e = (bt_ema_t){.n = n, .alpha = 2.0 / ((double)n + 1.0)};
}

static inline double s_ema_update(bt_ema_t *e, double x)
{
    e->count++;
    if (e->count < e->n) {
        e->sum += x;
        e->value = e->sum / (double)e->count;
    } else if (e->count == e->n) {
        e->sum += x;
        e->value = e->sum / (double)e->n; /* seed: SMA of the first n values */
        e->ready = true;
    } else {
        e->value += e->alpha * (x - e->value);
    }
    return e->value;
}

double bt_ema_update(bt_ema_t *e, double x)
{
    return s_ema_update(e, x);
}

void bt_ema_array(const double *x, size_t n, size_t w, double *out)
{
    bt_ema_t e; /* a local: its fields stay in registers */
    bt_ema_init(&e, w);
    for (size_t t = 0; t < n; t++) {
        double v = s_ema_update(&e, x[t]);
        out[t] = e.ready ? v : NAN;
    }
}

/* ---- Four SMA or EMA columns of one input at once (a grid's columns) ----
 *
 * The same operations per window as bt_sma_update / bt_ema_update, so the same bits, with four
 * windows side by side in vector registers: one window's update is a chain of dependent adds
 * (~4.5 ns a bar here), four chains run in the time of one. The SMA's ring is not needed: the
 * value leaving the window at update t is x[t - w], and the ring's slot i holds the latest
 * x[j] with j = i (mod w), which the periodic re-sum reads in slot order. The first max(w)
 * bars (warm-up, different per window) run one window at a time. */

typedef double s_v4d __attribute__((vector_size(32)));
typedef int64_t s_v4l __attribute__((vector_size(32)));

/* s_neumaier_sel on four lanes (vectors by pointer: inlined into the target clones below) */
static inline __attribute__((always_inline)) void s_vneumaier(s_v4d *sum, s_v4d *comp,
                                                              const s_v4d *xp)
{
    const s_v4l absm = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    s_v4d s = *sum, x = *xp, t = s + x;
    s_v4d a = (s - t) + x, b = (x - t) + s;
    s_v4l ge = (s_v4d)((s_v4l)s & absm) >= (s_v4d)((s_v4l)x & absm);
    *comp += (s_v4d)((ge & (s_v4l)a) | (~ge & (s_v4l)b));
    *sum = t;
}

typedef struct {
    size_t w;
    uint64_t count, since;
    double sum, comp;
} s_sma_lane_t;

/* The full recomputation after update t: the ring's slots 0..w-1 in order, slot i holding
 * x[t - back] (back = (t - i) mod w). */
static void s_sma_resum(const double *x, size_t t, size_t w, double *sum, double *comp)
{
    double s = 0.0, c = 0.0;
    size_t p = t % w; /* the slot update t wrote */
    for (size_t i = 0; i < w; i++)
        s_neumaier_add(&s, &c, x[t - (i <= p ? p - i : p + w - i)]);
    *sum = s;
    *comp = c;
}

/* s_sma_update's update t of one lane, without the ring. */
static inline double s_sma_lane_step(s_sma_lane_t *L, const double *x, size_t t)
{
    double sum = L->sum, comp = L->comp;
    size_t w = L->w;
    if (L->count >= w)
        s_neumaier_sel(&sum, &comp, -x[t - w]);
    s_neumaier_sel(&sum, &comp, x[t]);
    uint64_t count = ++L->count;
    if (++L->since >= 16 * w) {
        s_sma_resum(x, t, w, &sum, &comp);
        L->since = 0;
    }
    L->sum = sum;
    L->comp = comp;
    return count >= w ? (sum + comp) / (double)w : (sum + comp) / (double)count;
}

/* The bars before every lane of w[0..nl) is past its warm-up: the largest window, at most n. */
static size_t s_head(const size_t *w, int nl, size_t n)
{
    size_t wmax = 0;
    for (int k = 0; k < nl; k++) {
        assert(w[k] >= 1);
        wmax = w[k] > wmax ? w[k] : wmax;
    }
    return wmax < n ? wmax : n;
}

/* The warm-up one lane at a time, then the four lanes side by side in one vector. (Two
 * vectors of four were slower: the step is bound by its loads, stores and adds, not by the
 * chain.) */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void
bt_sma_array4(const double *x, size_t n, const size_t w[4], double *const out[4])
{
    s_sma_lane_t L[4];
    for (int k = 0; k < 4; k++)
        L[k] = (s_sma_lane_t){w[k], 0, 0, 0.0, 0.0};
    size_t head = s_head(w, 4, n);
    for (int k = 0; k < 4; k++)
        for (size_t t = 0; t < head; t++) {
            double v = s_sma_lane_step(&L[k], x, t);
            out[k][t] = t + 1 >= w[k] ? v : NAN;
        }
    /* every lane full from here: subtract, add, divide by w */
    s_v4d sum = {L[0].sum, L[1].sum, L[2].sum, L[3].sum};
    s_v4d comp = {L[0].comp, L[1].comp, L[2].comp, L[3].comp};
    const s_v4d wd = {(double)w[0], (double)w[1], (double)w[2], (double)w[3]};
    s_v4l since = {(int64_t)L[0].since, (int64_t)L[1].since, (int64_t)L[2].since,
                   (int64_t)L[3].since};
    const s_v4l lim = {(int64_t)(16 * w[0]), (int64_t)(16 * w[1]), (int64_t)(16 * w[2]),
                       (int64_t)(16 * w[3])};
    const s_v4l one = {1, 1, 1, 1};
    for (size_t t = head; t < n; t++) {
        double xt = x[t];
        s_v4d in_v = {xt, xt, xt, xt};
        s_v4d out_v = {-x[t - w[0]], -x[t - w[1]], -x[t - w[2]], -x[t - w[3]]};
        s_vneumaier(&sum, &comp, &out_v);
        s_vneumaier(&sum, &comp, &in_v);
        since += one;
        s_v4l due = since >= lim;
        if (due[0] | due[1] | due[2] | due[3]) /* every 16 w updates of a lane */
            for (int j = 0; j < 4; j++)
                if (due[j]) {
                    double s1, c1;
                    s_sma_resum(x, t, w[j], &s1, &c1);
                    sum[j] = s1;
                    comp[j] = c1;
                    since[j] = 0;
                }
        s_v4d val = (sum + comp) / wd;
        out[0][t] = val[0];
        out[1][t] = val[1];
        out[2][t] = val[2];
        out[3][t] = val[3];
    }
}

static inline __attribute__((always_inline)) void
s_ema_lanes(const double *x, size_t n, const size_t *w, double *const *out, int nv)
{
    bt_ema_t e[8];
    int nl = 4 * nv;
    for (int k = 0; k < nl; k++)
        bt_ema_init(&e[k], w[k]);
    size_t head = s_head(w, nl, n);
    for (int k = 0; k < nl; k++)
        for (size_t t = 0; t < head; t++) {
            double v = s_ema_update(&e[k], x[t]);
            out[k][t] = e[k].ready ? v : NAN;
        }
    /* every lane past its seed: value += alpha * (x - value) */
    s_v4d val[2], alpha[2];
    for (int v = 0; v < nv; v++)
        for (int j = 0; j < 4; j++) {
            val[v][j] = e[4 * v + j].value;
            alpha[v][j] = e[4 * v + j].alpha;
        }
    /* (eight lanes: two chains of dependent sub, mul, add in flight, 1.8x four's speed) */
    for (size_t t = head; t < n; t++) {
        double xt = x[t];
        s_v4d in_v = {xt, xt, xt, xt};
        for (int v = 0; v < nv; v++) {
            val[v] += alpha[v] * (in_v - val[v]);
            double *const *o = out + 4 * v;
            o[0][t] = val[v][0];
            o[1][t] = val[v][1];
            o[2][t] = val[v][2];
            o[3][t] = val[v][3];
        }
    }
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void
bt_ema_array4(const double *x, size_t n, const size_t w[4], double *const out[4])
{
    s_ema_lanes(x, n, w, out, 1);
}

__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) void
bt_ema_array8(const double *x, size_t n, const size_t w[8], double *const out[8])
{
    s_ema_lanes(x, n, w, out, 2);
}

/* ---- RSI ---- */

void bt_rsi_init(bt_rsi_t *r, size_t n)
{
    assert(r && n >= 1);
    *r = (bt_rsi_t){.n = n, .value = 50.0};
}

static inline double s_rsi_value(double avg_gain, double avg_loss)
{
    if (avg_loss == 0.0)
        return avg_gain == 0.0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss);
}

double bt_rsi_update(bt_rsi_t *r, double x)
{
    if (r->count == 0) {
        r->prev = x;
        r->count = 1;
        return r->value;
    }
    double d = x - r->prev;
    double gain = d > 0.0 ? d : 0.0;
    double loss = d < 0.0 ? -d : 0.0;
    r->prev = x;
    if (r->count <= r->n) { /* this is change number `count` of the seed */
        r->avg_gain += gain;
        r->avg_loss += loss;
        if (r->count == r->n) {
            r->avg_gain /= (double)r->n;
            r->avg_loss /= (double)r->n;
            r->ready = true;
            r->value = s_rsi_value(r->avg_gain, r->avg_loss);
        }
    } else {
        double nm1 = (double)(r->n - 1), n = (double)r->n;
        r->avg_gain = (r->avg_gain * nm1 + gain) / n;
        r->avg_loss = (r->avg_loss * nm1 + loss) / n;
        r->value = s_rsi_value(r->avg_gain, r->avg_loss);
    }
    r->count++;
    return r->value;
}

/* ---- Rolling standard deviation ---- */

size_t bt_rstd_size(size_t n)
{
    return n * sizeof(double);
}

void bt_rstd_init(bt_rstd_t *s, size_t n, double *buf)
{
    assert(s && n >= 1 && buf);
    *s = (bt_rstd_t){.buf = buf, .n = n};
}

double bt_rstd_update(bt_rstd_t *s, double x)
{
    if (s->count < s->n) { /* filling: Welford's add */
        double k = (double)(s->count + 1);
        double d = x - s->mean;
        s->mean += d / k;
        s->m2 += d * (x - s->mean);
    } else { /* full: replace the oldest value (sliding Welford) */
        double old = s->buf[s->pos];
        double mean = s->mean + (x - old) / (double)s->n;
        s->m2 += (x - old) * (x - mean + old - s->mean);
        s->mean = mean;
    }
    s->buf[s->pos] = x;
    if (++s->pos == s->n)
        s->pos = 0;
    s->count++;
    if (++s->since >= s->n) { /* exact two-pass recomputation every n updates */
        double sum = 0.0, comp = 0.0;
        for (size_t i = 0; i < s->n; i++)
            s_neumaier_add(&sum, &comp, s->buf[i]);
        double mean = (sum + comp) / (double)s->n, m2 = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            double d = s->buf[i] - mean;
            m2 += d * d;
        }
        s->mean = mean;
        s->m2 = m2;
        s->since = 0;
    }
    if (s->m2 < 0.0)
        s->m2 = 0.0;
    uint64_t k = s->count < s->n ? s->count : s->n;
    s->std = sqrt(s->m2 / (double)k);
    s->ready = s->count >= s->n;
    return s->std;
}

size_t bt_boll_size(size_t n)
{
    return bt_rstd_size(n);
}

void bt_boll_init(bt_boll_t *b, size_t n, double k, double *buf)
{
    assert(b);
    *b = (bt_boll_t){.k = k};
    bt_rstd_init(&b->sd, n, buf);
}

void bt_boll_update(bt_boll_t *b, double x)
{
    double sd = bt_rstd_update(&b->sd, x);
    b->middle = b->sd.mean;
    b->upper = b->middle + b->k * sd;
    b->lower = b->middle - b->k * sd;
}

/* ---- Rolling max / min ---- */

size_t bt_rext_size(size_t n)
{
    return n * (sizeof(uint64_t) + sizeof(double));
}

static void s_rext_init(bt_rext_t *r, size_t n, void *buf, bool is_min)
{
    assert(r && n >= 1 && buf);
    *r = (bt_rext_t){.idx = buf, .val = (double *)((uint64_t *)buf + n), .n = n, .is_min = is_min};
}

void bt_rmax_init(bt_rext_t *r, size_t n, void *buf)
{
    s_rext_init(r, n, buf, false);
}

void bt_rmin_init(bt_rext_t *r, size_t n, void *buf)
{
    s_rext_init(r, n, buf, true);
}

double bt_rext_update(bt_rext_t *r, double x)
{
    uint64_t i = r->count;
    /* Drop the front once it leaves the window [i - n + 1, i]. */
    while (r->len > 0 && r->idx[r->head] + r->n <= i) {
        if (++r->head == r->n)
            r->head = 0;
        r->len--;
    }
    /* Pop values from the back that x dominates: they can never be the
     * extreme again. Ties pop too (the newer value lives longer). */
    while (r->len > 0) {
        size_t back = r->head + r->len - 1;
        if (back >= r->n)
            back -= r->n;
        double v = r->val[back];
        if (r->is_min ? v >= x : v <= x)
            r->len--;
        else
            break;
    }
    size_t slot = r->head + r->len;
    if (slot >= r->n)
        slot -= r->n;
    r->idx[slot] = i;
    r->val[slot] = x;
    r->len++;
    r->count++;
    r->value = r->val[r->head];
    r->ready = r->count >= r->n;
    return r->value;
}

/* ---- Rate of change ---- */

size_t bt_roc_size(size_t n)
{
    return (n + 1) * sizeof(double);
}

void bt_roc_init(bt_roc_t *r, size_t n, double *buf)
{
    assert(r && n >= 1 && buf);
    *r = (bt_roc_t){.buf = buf, .n = n};
}

double bt_roc_update(bt_roc_t *r, double x)
{
    r->buf[r->pos] = x;
    if (++r->pos == r->n + 1)
        r->pos = 0;
    r->count++;
    if (r->count > r->n) {
        double old = r->buf[r->pos]; /* the oldest slot holds x_{t-n} */
        r->value = old != 0.0 ? x / old - 1.0 : 0.0;
        r->ready = true;
    }
    return r->value;
}
