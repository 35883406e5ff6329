/* bt_ind_pair — two series: rolling Pearson correlation and rolling OLS
 * beta (hedge ratio) of y on x. Definitions in docs/indicators.md.
 *
 * Both keep the window's means and co-moments with a sliding Welford
 * update (remove the oldest pair, add the new one), recomputed two-pass
 * from the window every n updates so rounding never accumulates. */
#include <math.h>

#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

#define N_MAX 100000

typedef struct {
    double *bx, *by;      /* the last n pairs (rings) */
    size_t n, pos, since; /* window, next slot, updates since recomputation */
    uint64_t count;       /* pairs seen */
    double mx, my;        /* means over the window */
    double cxx, cyy, cxy; /* co-moments: sums of products of deviations */
} com_t;

static size_t com_layout(com_t *s, const double *p)
{
    unsigned char *cur = (unsigned char *)s;
    size_t total = 0, n = (size_t)p[0];
    bt_ind_take(&cur, &total, sizeof(com_t));
    double *bx = bt_ind_take(&cur, &total, n * sizeof(double));
    double *by = bt_ind_take(&cur, &total, n * sizeof(double));
    if (s)
        *s = (com_t){.bx = bx, .by = by, .n = n};
    return total;
}
static size_t com_size(const double *p)
{
    return com_layout(NULL, p);
}
static bt_err_t com_init(void *st, const double *p, bt_errbuf_t *eb)
{
    (void)eb;
    com_layout(st, p);
    return BT_OK;
}

/* Welford add of (x, y) to k - 1 pairs, giving k. */
static void com_add(com_t *s, double x, double y, double k)
{
    double dx = x - s->mx, dy = y - s->my;
    s->mx += dx / k;
    s->my += dy / k;
    s->cxx += dx * (x - s->mx);
    s->cyy += dy * (y - s->my);
    s->cxy += dx * (y - s->my);
}

/* Welford removal of (x, y) from k pairs (k >= 2), giving k - 1. */
static void com_remove(com_t *s, double x, double y, double k)
{
    double mx = s->mx - (x - s->mx) / (k - 1.0), my = s->my - (y - s->my) / (k - 1.0);
    s->cxx -= (x - mx) * (x - s->mx);
    s->cyy -= (y - my) * (y - s->my);
    s->cxy -= (x - mx) * (y - s->my);
    s->mx = mx;
    s->my = my;
}

/* Feeds one pair; true when the window is full. */
static bool com_update(com_t *s, double x, double y)
{
    double n = (double)s->n;
    if (s->count >= s->n) {
        com_remove(s, s->bx[s->pos], s->by[s->pos], n);
        com_add(s, x, y, n);
    } else {
        com_add(s, x, y, (double)(s->count + 1));
    }
    s->bx[s->pos] = x;
    s->by[s->pos] = y;
    if (++s->pos == s->n)
        s->pos = 0;
    s->count++;
    if (s->count >= s->n && ++s->since >= s->n) {
        double sx = 0.0, sy = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            sx += s->bx[i];
            sy += s->by[i];
        }
        double mx = sx / n, my = sy / n, cxx = 0.0, cyy = 0.0, cxy = 0.0;
        for (size_t i = 0; i < s->n; i++) {
            double dx = s->bx[i] - mx, dy = s->by[i] - my;
            cxx += dx * dx;
            cyy += dy * dy;
            cxy += dx * dy;
        }
        *s = (com_t){.bx = s->bx,
                     .by = s->by,
                     .n = s->n,
                     .pos = s->pos,
                     .count = s->count,
                     .mx = mx,
                     .my = my,
                     .cxx = cxx,
                     .cyy = cyy,
                     .cxy = cxy};
    }
    return s->count >= s->n;
}

static bool corr_update(void *st, const bt_ind_in_t *in, double *out)
{
    com_t *s = st;
    bool ready = com_update(s, in->x, in->y);
    double vxy = s->cxx > 0.0 && s->cyy > 0.0 ? sqrt(s->cxx) * sqrt(s->cyy) : 0.0;
    double r = bt_ind_div(s->cxy, vxy, 0.0);
    out[0] = ready ? fmax(-1.0, fmin(1.0, r)) : NAN;
    return ready;
}

static bool beta_update(void *st, const bt_ind_in_t *in, double *out)
{
    com_t *s = st;
    bool ready = com_update(s, in->x, in->y);
    double beta = s->cxx > 0.0 ? s->cxy / s->cxx : 0.0;
    out[0] = ready ? beta : NAN;
    out[1] = ready ? s->my - beta * s->mx : NAN;
    out[2] = ready ? in->y - out[1] - beta * in->x : NAN;
    return ready;
}

static const bt_param_spec_t s_win[] = {{"n", BT_PARAM_INT, 20, 2, N_MAX, "window in bars"}};
static const char *const s_corr_outs[] = {"value"};
static const char *const s_beta_outs[] = {"beta", "alpha", "resid"};
const bt_ind_kind_t bt_ind_kind_correlation = {
    "correlation",  "rolling Pearson correlation of x and y over n bars (0 if one is flat)",
    BT_IND_IN_PAIR, 1,
    s_win,          1,
    s_corr_outs,    com_size,
    com_init,       corr_update};
const bt_ind_kind_t bt_ind_kind_beta = {
    "beta",
    "rolling OLS of y on x over n bars: hedge ratio beta, alpha, residual y - a - b x",
    BT_IND_IN_PAIR,
    1,
    s_win,
    3,
    s_beta_outs,
    com_size,
    com_init,
    beta_update};
