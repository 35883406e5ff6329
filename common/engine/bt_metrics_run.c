/* bt_metrics_run — statistics of one recorded run. See bt_metrics_run.h
 * and docs/metrics.md "Run statistics". Not on any hot path: run once per
 * bt run, over arrays it allocates itself. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "bt_metrics_run.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bt_time.h"

#define S_NS_PER_DAY (86400.0 * 1e9)

typedef struct {
    const char *name;
    size_t offset;
} s_stat_info_t;

static const s_stat_info_t s_stats[] = {
#define S_STAT_INFO(field, text) {#field, offsetof(bt_run_stats_t, field)},
    BT_RUN_STATS(S_STAT_INFO)
#undef S_STAT_INFO
};
#define S_NSTATS (sizeof s_stats / sizeof s_stats[0])

size_t bt_run_stats_count(void)
{
    return S_NSTATS;
}

const char *bt_run_stats_name(size_t i)
{
    assert(i < S_NSTATS);
    return s_stats[i].name;
}

double bt_run_stats_get(const bt_run_stats_t *st, size_t i)
{
    assert(st && i < S_NSTATS);
    double v;
    memcpy(&v, (const char *)st + s_stats[i].offset, sizeof v);
    return v;
}

static void s_set(bt_run_stats_t *st, size_t i, double v)
{
    memcpy((char *)st + s_stats[i].offset, &v, sizeof v);
}

void bt_run_stats_fini(bt_run_stats_t *st)
{
    if (!st)
        return;
    free(st->sym);
    free(st->month);
    free(st->year);
    st->sym = NULL;
    st->month = st->year = NULL;
    st->nsym = st->nmonth = st->nyear = 0;
}

double bt_run_stats_percentile(const double *x, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    double pos = (double)(n - 1) * p;
    size_t k = (size_t)floor(pos);
    if (k + 1 >= n)
        return x[n - 1];
    return x[k] + (x[k + 1] - x[k]) * (pos - (double)k);
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Trade statistics: best/worst/average, durations, SQN, long/short, per symbol. */
static void s_trades(bt_run_stats_t *st, const bt_recorder_t *rec)
{
    double n = 0, sum = 0, sum2 = 0, rsum = 0, dsum = 0, lw = 0, sw = 0;
    for (size_t i = 0; i < rec->ntrades; i++) {
        const bt_trade_rec_t *t = &rec->trades[i];
        if (t->open)
            continue;
        double ret = t->entry_price != 0 ? t->exit_price / t->entry_price - 1.0 : 0.0;
        if (t->qty < 0)
            ret = -ret;
        double days = (double)(t->exit_time - t->entry_time) / S_NS_PER_DAY;
        if (n == 0) {
            st->best_trade = st->worst_trade = t->pnl;
            st->best_trade_return = st->worst_trade_return = ret;
        }
        st->best_trade = fmax(st->best_trade, t->pnl);
        st->worst_trade = fmin(st->worst_trade, t->pnl);
        st->best_trade_return = fmax(st->best_trade_return, ret);
        st->worst_trade_return = fmin(st->worst_trade_return, ret);
        st->max_trade_days = fmax(st->max_trade_days, days);
        n += 1;
        sum += t->pnl;
        sum2 += t->pnl * t->pnl;
        rsum += ret;
        dsum += days;
        if (t->qty > 0) {
            st->long_trades += 1;
            st->long_pnl += t->pnl;
            lw += t->pnl > 0;
        } else {
            st->short_trades += 1;
            st->short_pnl += t->pnl;
            sw += t->pnl > 0;
        }
        if (t->sym < st->nsym) {
            bt_sym_stats_t *y = &st->sym[t->sym];
            if (y->trades == 0)
                y->best = y->worst = t->pnl;
            y->trades += 1;
            y->wins += t->pnl > 0;
            y->pnl += t->pnl;
            y->commission += t->commission;
            y->best = fmax(y->best, t->pnl);
            y->worst = fmin(y->worst, t->pnl);
            y->long_trades += t->qty > 0;
            y->short_trades += t->qty < 0;
        }
    }
    if (n == 0)
        return;
    st->avg_trade = sum / n;
    st->avg_trade_return = rsum / n;
    st->avg_trade_days = dsum / n;
    if (n >= 2) {
        double var = (sum2 - sum * sum / n) / (n - 1);
        if (var > 1e-18 * fmax(1.0, sum2 / n))
            st->sqn = sqrt(n) * (sum / n) / sqrt(var);
    }
    if (st->long_trades > 0)
        st->long_win_rate = lw / st->long_trades;
    if (st->short_trades > 0)
        st->short_win_rate = sw / st->short_trades;
}

/* An array of n doubles for the per-step returns; large ones are asked to use transparent huge
 * pages (one fault per 2 MiB rather than per 4 KiB). Free with free(). */
static double *s_big_doubles(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    size_t size = n * sizeof(double);
    if (size < 2 * huge)
        return malloc(size ? size : 1);
    size = (size + huge - 1) / huge * huge;
    double *p = aligned_alloc(huge, size);
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

/* Bit pattern of a double whose unsigned order is the numeric order (NaN excluded). */
static uint64_t s_key(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
}

static double s_unkey(uint64_t u)
{
    u = (u >> 63) ? u & ~((uint64_t)1 << 63) : ~u;
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Sorts x[0..n-1] ascending (no NaN): LSD radix sort on 11-bit digits, tmp of n. */
static void s_radix_sort(double *x, size_t n, uint64_t *tmp)
{
    uint64_t *a = (uint64_t *)x, *b = tmp;
    for (size_t i = 0; i < n; i++)
        a[i] = s_key(x[i]);
    for (int shift = 0; shift < 64; shift += 11) {
        size_t cnt[2048] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(a[i] >> shift) & 2047]++;
        size_t sum = 0;
        for (size_t d = 0; d < 2048; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[cnt[(a[i] >> shift) & 2047]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    /* 6 passes: the keys are back in x's memory */
    for (size_t i = 0; i < n; i++)
        x[i] = s_unkey(a[i]);
}

static void s_swap(double *x, size_t i, size_t j)
{
    double t = x[i];
    x[i] = x[j];
    x[j] = t;
}

/* Rearranges x[lo..hi) (no NaN) so that x[k] holds the value a full sort would put there, with
 * nothing greater before it and nothing smaller after it (quickselect, median of three). */
static void s_select(double *x, size_t lo, size_t hi, size_t k)
{
    while (hi - lo > 16) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo])
            s_swap(x, mid, lo);
        if (x[hi - 1] < x[lo])
            s_swap(x, hi - 1, lo);
        if (x[hi - 1] < x[mid])
            s_swap(x, hi - 1, mid);
        double piv = x[mid];
        size_t i = lo, j = hi - 1;
        for (;;) { /* Hoare: x[lo..j] <= piv <= x[j+1..hi) */
            while (x[i] < piv)
                i++;
            while (piv < x[j])
                j--;
            if (i >= j)
                break;
            s_swap(x, i, j);
            i++;
            j--;
        }
        if (k <= j)
            hi = j + 1;
        else
            lo = j + 1;
    }
    for (size_t i = lo + 1; i < hi; i++) /* insertion sort of the rest */
        for (size_t j = i; j > lo && x[j] < x[j - 1]; j--)
            s_swap(x, j, j - 1);
}

static double s_min(const double *x, size_t lo, size_t hi)
{
    double m = x[lo];
    for (size_t i = lo + 1; i < hi; i++)
        m = x[i] < m ? x[i] : m;
    return m;
}

/* bt_run_stats_percentile of the sorted x without sorting: x[k] and x[k+1] by selection in
 * x[lo..n) (everything before lo is no greater than what is after). Leaves x[k] in place. */
static double s_pct(double *x, size_t lo, size_t n, double p, size_t *kout)
{
    double pos = (double)(n - 1) * p;
    size_t k = (size_t)floor(pos);
    if (k + 1 >= n) {
        s_select(x, lo, n, n - 1);
        *kout = n - 1;
        return x[n - 1];
    }
    s_select(x, lo, n, k);
    *kout = k;
    double a = x[k], b = s_min(x, k + 1, n);
    return a + (b - a) * (pos - (double)k);
}

/* VaR, CVaR and the tail ratio of the per-step returns r[0..n-1] (reordered): the same values
 * as sorting r and reading bt_run_stats_percentile, the CVaR summed in ascending order. */
static bool s_tails(bt_run_stats_t *st, double *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(r[i])) { /* no order to select in: do as the full sort did */
            qsort(r, n, sizeof *r, s_cmp);
            double p5 = bt_run_stats_percentile(r, n, 0.05);
            double p95 = bt_run_stats_percentile(r, n, 0.95), cs = 0, cn = 0;
            for (size_t j = 0; j < n && r[j] <= p5; j++) {
                cs += r[j];
                cn += 1;
            }
            st->var_95 = p5;
            st->cvar_95 = cn > 0 ? cs / cn : 0.0;
            if (p5 != 0.0)
                st->tail_ratio = fmin(fabs(p95) / fabs(p5), BT_PROFIT_FACTOR_CAP);
            return true;
        }
    size_t k5 = 0;
    double p5 = s_pct(r, 0, n, 0.05, &k5);
    /* the steps at or below p5: r[0..k5] and any equal to p5 after it, summed in sorted order:
     * those below p5 sorted, then the ties (often many zero returns while flat) */
    size_t m = k5 + 1;
    for (size_t i = k5 + 1; i < n; i++)
        if (r[i] <= p5)
            s_swap(r, m++, i);
    size_t nlow = 0;
    for (size_t i = 0; i < m; i++)
        if (r[i] < p5)
            s_swap(r, nlow++, i);
    uint64_t *tmp = malloc((nlow ? nlow : 1) * sizeof *tmp);
    double *low = malloc((nlow ? nlow : 1) * sizeof *low);
    if (!tmp || !low) {
        free(tmp);
        free(low);
        return false;
    }
    memcpy(low, r, nlow * sizeof *low);
    s_radix_sort(low, nlow, tmp);
    double cs = 0;
    for (size_t i = 0; i < nlow; i++)
        cs += low[i];
    for (size_t i = nlow; i < m; i++)
        cs += r[i];
    free(tmp);
    free(low);
    st->var_95 = p5;
    st->cvar_95 = cs / (double)m;
    size_t k95 = (size_t)floor((double)(n - 1) * 0.95), k95_at = 0;
    double p95 = s_pct(r, k95 >= m ? m : 0, n, 0.95, &k95_at);
    if (p5 != 0.0)
        st->tail_ratio = fmin(fabs(p95) / fabs(p5), BT_PROFIT_FACTOR_CAP);
    return true;
}

/* First ns of the calendar month after the one of c, and of the year after. */
static int64_t s_next_month(const bt_civil_t *c)
{
    int y = c->month == 12 ? c->year + 1 : c->year, mo = c->month == 12 ? 1 : c->month + 1;
    return bt_days_from_civil(y, mo, 1) * BT_NS_PER_DAY;
}

static int64_t s_next_year(const bt_civil_t *c)
{
    return bt_days_from_civil(c->year + 1, 1, 1) * BT_NS_PER_DAY;
}

/* One symbol of the benchmark: its bars from the first traded time on. */
typedef struct {
    bt_series_t v;
    size_t j;
    double last;
} s_bench_t;

/* Everything over the equity points, one pass as they come: each point is taken in when the next
 * one (or the end) is known, since a calendar period ends where the next point is in another. */
struct bt_run_acc {
    const bt_engine_cfg_t *cfg;
    s_bench_t *bs;   /* the benchmark's symbols, nb used */
    size_t nb;
    double *r;       /* every per-step return (keep_all), rcap room */
    size_t rcap;
    bool keep_all;   /* else only the tails below, sized for nhint points */
    size_t nhint;
    /* The tails, each a buffer of 2 k candidates cut back to the k extreme ones (by selection)
     * when full; past the first cut only returns beyond the cut's threshold come in. After
     * s_tails_settle: the klo smallest returns in lo (x[k5], x[k5 + 1] among them), the khi
     * largest in hi (x[k95], x[k95 + 1]), in no order. */
    double *lo;      /* nlo held, klo kept */
    size_t nlo, klo, lo_ties; /* lo_ties: returns left out equal to lo_thr */
    double lo_thr;   /* the largest kept at the last cut */
    double *hi;
    size_t nhi, khi;
    double hi_thr;   /* the smallest kept at the last cut */
    bool lo_cut, hi_cut; /* cut once: the thresholds hold */
    bool tails_bad;  /* a NaN, or more points than nhint: the tails need every return */
    bt_period_ret_t *month, *year;
    size_t nmonth, mcap, nyear, ycap;
    size_t n;        /* points taken in */
    bool have_prev, oom;
    bt_equity_rec_t prev; /* the point waiting for its successor */
    int64_t t_first;
    /* drawdowns */
    double peak, ss, depth, ndd, dsum, dursum, peak_eq;
    double dd_e, dd_peak, dd_last; /* the last drawdown computed, and from what */
    int64_t peak_t;
    bool in_dd;
    /* returns */
    double rprev, bprev, up, down, sr, sb, sbb, srb;
    /* periods */
    bt_civil_t c;
    int64_t m_end, y_end;
    double mbase, ybase;
};

/* An array of n doubles grown to hold at least need (huge pages when large), or false. */
static bool s_room(double **r, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    double *p = s_big_doubles(ncap);
    if (!p)
        return false;
    if (*r)
        memcpy(p, *r, *cap * sizeof *p);
    free(*r);
    *r = p;
    *cap = ncap;
    return true;
}

static bool s_period_push(bt_period_ret_t **arr, size_t *n, size_t *cap, bt_period_ret_t v)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        bt_period_ret_t *p = realloc(*arr, ncap * sizeof *p);
        if (!p)
            return false;
        *arr = p;
        *cap = ncap;
    }
    (*arr)[(*n)++] = v;
    return true;
}

/* Rank of the p-quantile's lower neighbour among n sorted values (bt_run_stats_percentile). */
static size_t s_rank(size_t n, double p)
{
    return n ? (size_t)floor((double)(n - 1) * p) : 0;
}

/* Cuts lo back to its klo smallest (none NaN): the returns left out equal to the new largest kept
 * are ties; earlier ties count on only if that largest is still the same value. */
static void s_lo_cut(bt_run_acc_t *a)
{
    size_t k = a->klo, n = a->nlo;
    if (n <= k)
        return;
    s_select(a->lo, 0, n, k - 1); /* nothing greater before k - 1, nothing smaller after */
    double thr = a->lo[k - 1];
    size_t ties = 0;
    for (size_t i = k; i < n; i++)
        ties += a->lo[i] == thr;
    a->lo_ties = a->lo_cut && thr == a->lo_thr ? a->lo_ties + ties : ties;
    a->lo_thr = thr;
    a->lo_cut = true;
    a->nlo = k;
}

/* Cuts hi back to its khi largest, moved to the front. */
static void s_hi_cut(bt_run_acc_t *a)
{
    size_t k = a->khi, n = a->nhi;
    if (n <= k)
        return;
    s_select(a->hi, 0, n, n - k);
    memmove(a->hi, a->hi + (n - k), k * sizeof *a->hi);
    a->hi_thr = s_min(a->hi, 0, k);
    a->hi_cut = true;
    a->nhi = k;
}

/* Takes return x into the tails: the smallest and the largest ones an n-point run needs. The
 * same multisets and tie count as keeping them in heaps, without a heap's scattered sifting (most
 * of the streamed statistics' time): candidates are appended and cut back by selection. */
static void s_tail_add(bt_run_acc_t *a, double x)
{
    if (isnan(x)) {
        a->tails_bad = true;
        return;
    }
    if (a->klo) {
        if (!a->lo_cut || x < a->lo_thr) {
            a->lo[a->nlo++] = x;
            if (a->nlo == 2 * a->klo)
                s_lo_cut(a);
        } else if (x == a->lo_thr) {
            a->lo_ties++;
        }
    }
    if (a->khi && (!a->hi_cut || x > a->hi_thr)) {
        a->hi[a->nhi++] = x;
        if (a->nhi == 2 * a->khi)
            s_hi_cut(a);
    }
}

/* The tails as s_tails_kept reads them: each cut to its k. */
static void s_tails_settle(bt_run_acc_t *a)
{
    if (a->klo)
        s_lo_cut(a);
    if (a->khi)
        s_hi_cut(a);
}

bt_run_acc_t *bt_run_acc_new(const bt_series_t *series, size_t nsym, const bt_engine_cfg_t *cfg,
                             size_t nhint)
{
    assert(cfg);
    bt_run_acc_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = cfg;
    a->nhint = nhint;
    a->keep_all = nhint == SIZE_MAX;
    /* an n-point run needs x[k5], x[k5 + 1] from the bottom and x[k95], x[k95 + 1] from the
     * top; the counts grow with n, so room for nhint points serves any n <= nhint */
    a->klo = a->keep_all ? 0 : nhint < s_rank(nhint, 0.05) + 2 ? nhint : s_rank(nhint, 0.05) + 2;
    a->khi = a->keep_all ? 0 : nhint - s_rank(nhint, 0.95);
    a->bs = calloc(nsym ? nsym : 1, sizeof *a->bs);
    a->lo = s_big_doubles(a->klo ? 2 * a->klo : 1); /* huge pages for a long run's tails */
    a->hi = s_big_doubles(a->khi ? 2 * a->khi : 1);
    if (!a->bs || !a->lo || !a->hi || (a->keep_all && !s_room(&a->r, &a->rcap, 1024))) {
        bt_run_acc_destroy(&a);
        return NULL;
    }
    /* Equal-weight buy-and-hold of the symbols on the equity timeline: mean of close / first
     * close (a symbol not started yet counts as 1). */
    int64_t from = cfg->start > cfg->trade_start ? cfg->start : cfg->trade_start;
    for (size_t s = 0; s < nsym; s++) {
        bt_series_t v = bt_series_slice_time(&series[s], from, cfg->end);
        if (v.n == 0 || !(v.close[0] > 0))
            continue;
        a->bs[a->nb++] = (s_bench_t){v, 0, 1.0};
    }
    double initial = cfg->initial_cash;
    a->peak = a->rprev = a->mbase = a->ybase = initial;
    a->dd_e = NAN; /* nothing computed yet */
    a->bprev = 1.0;
    return a;
}

void bt_run_acc_destroy(bt_run_acc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_run_acc_t *a = *self_p;
    free(a->bs), free(a->r), free(a->lo), free(a->hi), free(a->month), free(a->year), free(a);
    *self_p = NULL;
}

/* fmax inlined (the library call was a tenth of the streamed statistics): the larger, or x when y
 * is NaN; of two zeros y, as x86-64's maxsd and glibc's fmax there (C leaves that case open). */
static inline double s_fmax(double x, double y)
{
    return x > y || y != y ? x : y;
}

/* Takes in point x (step a->n); next is the following point's time, or absent (last). */
static inline void s_take(bt_run_acc_t *a, const bt_equity_rec_t *x, bool has_next, int64_t next)
{
    size_t i = a->n++;
    double e = x->equity;
    int64_t t = x->time;
    if (i == 0) {
        a->peak_t = t;
        a->peak_eq = e;
        a->t_first = t;
        bt_time_to_civil(t, &a->c);
        a->m_end = s_next_month(&a->c);
        a->y_end = s_next_year(&a->c);
    }
    a->peak_eq = s_fmax(a->peak_eq, e);
    double peak = a->peak;
    /* flat stretches repeat the same equity: the same quotients without dividing again */
    double dd;
    if (e == a->dd_e && peak == a->dd_peak) {
        dd = a->dd_last;
    } else {
        dd = peak > 0 && e < peak ? 1.0 - e / peak : 0.0;
        a->dd_e = e;
        a->dd_peak = peak;
        a->dd_last = dd;
    }
    a->ss += dd * dd;
    if (e >= peak) {
        if (a->in_dd) { /* recovery closes the episode */
            a->ndd += 1;
            a->dsum += a->depth;
            a->dursum += (double)(t - a->peak_t) / S_NS_PER_DAY;
            a->in_dd = false;
        }
        a->peak = e;
        a->peak_t = t;
    } else {
        if (!a->in_dd) {
            a->in_dd = true;
            a->depth = 0;
        }
        a->depth = s_fmax(a->depth, dd);
    }

    double bsum = 0.0;
    for (size_t s = 0; s < a->nb; s++) {
        s_bench_t *y = &a->bs[s];
        while (y->j < y->v.n && y->v.time[y->j] <= t)
            y->last = y->v.close[y->j++] / y->v.close[0];
        bsum += y->last;
    }
    double b = a->nb > 1 ? bsum / (double)a->nb : a->nb ? bsum : 1.0; /* x / 1 is x */
    /* e / e is exactly 1 for a finite non-zero e */
    double prev = a->rprev;
    double ri = prev == 0.0 ? 0.0 : e == prev && isfinite(e) ? 0.0 : e / prev - 1.0;
    double rb = a->bprev != 0.0 ? b / a->bprev - 1.0 : 0.0;
    if (!a->keep_all)
        s_tail_add(a, ri);
    else if (i < a->rcap || s_room(&a->r, &a->rcap, i + 1))
        a->r[i] = ri;
    else
        a->oom = true;
    a->rprev = e;
    a->bprev = b;
    if (ri > 0)
        a->up += ri;
    else
        a->down -= ri;
    a->sr += ri;
    a->sb += rb;
    a->sbb += rb * rb;
    a->srb += ri * rb;

    bool last_m = true, last_y = true;
    if (has_next) {
        last_m = next >= a->m_end;
        last_y = next >= a->y_end;
    }
    if (last_m) {
        double base = a->mbase;
        a->oom |= !s_period_push(&a->month, &a->nmonth, &a->mcap,
                                 (bt_period_ret_t){a->c.year, a->c.month,
                                                   base > 0 ? e / base - 1.0 : 0.0});
        a->mbase = e;
    }
    if (last_y) {
        double base = a->ybase;
        a->oom |= !s_period_push(&a->year, &a->nyear, &a->ycap,
                                 (bt_period_ret_t){a->c.year, 0, base > 0 ? e / base - 1.0 : 0.0});
        a->ybase = e;
    }
    if (last_m && has_next) { /* the next step's month (and year) */
        bt_time_to_civil(next, &a->c);
        a->m_end = s_next_month(&a->c);
        a->y_end = s_next_year(&a->c);
    }
}

void bt_run_acc_add(bt_run_acc_t *a, const bt_equity_rec_t *eq, size_t n)
{
    if (n == 0)
        return;
    if (a->have_prev)
        s_take(a, &a->prev, true, eq[0].time);
    /* straight from the chunk: copying each point to a->prev and reading it back stalled */
    for (size_t i = 0; i + 1 < n; i++)
        s_take(a, &eq[i], true, eq[i + 1].time);
    a->prev = eq[n - 1];
    a->have_prev = true;
}

/* s_tails_kept without sorting the heaps (a tenth of a second of 10 M points, the engine waiting):
 * the two order statistics on each side by selection, and only the returns below p5 sorted, for
 * the CVaR's sum in ascending order. k5 + 1 < nlo and j95 + 1 < nhi (j95 = k95's index in hi).
 * The same values as sorting: selection finds the values a sort puts there, and the ties with p5
 * (equal, or zeros of either sign) add the same sum in any order. */
static bool s_tails_select(bt_run_stats_t *st, bt_run_acc_t *a, size_t n, size_t k5, size_t j95)
{
    double *lo = a->lo, *hi = a->hi;
    size_t nlo = a->nlo, k95 = j95 + (n - a->nhi);
    double pos5 = (double)(n - 1) * 0.05, pos95 = (double)(n - 1) * 0.95;
    s_select(lo, 0, nlo, k5);
    double l0 = lo[k5], l1 = s_min(lo, k5 + 1, nlo);
    double p5 = l0 + (l1 - l0) * (pos5 - (double)k5);
    s_select(hi, 0, a->nhi, j95);
    double h0 = hi[j95], h1 = s_min(hi, j95 + 1, a->nhi);
    double p95 = h0 + (h1 - h0) * (pos95 - (double)k95);
    double lomax = lo[0];
    for (size_t i = 1; i < nlo; i++)
        lomax = lo[i] > lomax ? lo[i] : lomax;
    if (nlo < n && p5 > lomax) { /* rounding put p5 past what was kept */
        a->tails_bad = true;
        return false;
    }
    size_t nlow = 0, m = 0;
    for (size_t i = 0; i < nlo; i++)
        if (lo[i] < p5)
            s_swap(lo, nlow++, i);
    uint64_t *tmp = malloc((nlow ? nlow : 1) * sizeof *tmp);
    if (!tmp)
        return false;
    s_radix_sort(lo, nlow, tmp);
    free(tmp);
    double cs = 0;
    for (m = 0; m < nlow; m++)
        cs += lo[m];
    for (size_t i = nlow; i < nlo; i++)
        if (lo[i] <= p5) {
            cs += lo[i];
            m++;
        }
    if (m == nlo && nlo && lomax == p5) /* ties left out of the heap */
        for (size_t i = 0; i < a->lo_ties; i++, m++)
            cs += lomax;
    st->var_95 = p5;
    st->cvar_95 = m ? cs / (double)m : 0.0;
    if (p5 != 0.0)
        st->tail_ratio = fmin(fabs(p95) / fabs(p5), BT_PROFIT_FACTOR_CAP);
    return true;
}

/* s_tails from the kept tails: x sorted ascending is lo (sorted) at the bottom and hi (sorted)
 * at the top; the returns equal to p5 beyond lo were counted (lo_ties). */
static bool s_tails_kept(bt_run_stats_t *st, bt_run_acc_t *a, size_t n)
{
    size_t k5 = s_rank(n, 0.05), k95 = s_rank(n, 0.95), off = n - a->nhi; /* hi[j] is x[off + j] */
    if (k5 + 1 < a->nlo && k95 + 1 < n && k95 >= off)
        return s_tails_select(st, a, n, k5, k95 - off);
    uint64_t *tmp = malloc((a->nlo > a->nhi ? a->nlo : a->nhi) * sizeof *tmp + 1);
    if (!tmp)
        return false;
    s_radix_sort(a->lo, a->nlo, tmp);
    s_radix_sort(a->hi, a->nhi, tmp);
    free(tmp);
    double pos5 = (double)(n - 1) * 0.05, pos95 = (double)(n - 1) * 0.95;
    double p5 = k5 + 1 >= n ? a->hi[a->nhi - 1]
                            : a->lo[k5] + (a->lo[k5 + 1] - a->lo[k5]) * (pos5 - (double)k5);
    double p95 = k95 + 1 >= n ? a->hi[a->nhi - 1]
                              : a->hi[k95 - off] + (a->hi[k95 + 1 - off] - a->hi[k95 - off]) *
                                                      (pos95 - (double)k95);
    /* the returns at or below p5, summed in sorted order: those below, then the ties */
    size_t nlow = 0, m = 0;
    double cs = 0;
    while (nlow < a->nlo && a->lo[nlow] < p5)
        cs += a->lo[nlow++];
    m = nlow;
    while (m < a->nlo && a->lo[m] <= p5)
        cs += a->lo[m++];
    if (a->nlo < n && p5 > a->lo[a->nlo - 1]) { /* rounding put p5 past what was kept */
        a->tails_bad = true;
        return false;
    }
    if (m == a->nlo && a->nlo && a->lo[a->nlo - 1] == p5) /* ties left out of the heap */
        for (size_t i = 0; i < a->lo_ties; i++, m++)
            cs += a->lo[a->nlo - 1];
    st->var_95 = p5;
    st->cvar_95 = m ? cs / (double)m : 0.0;
    if (p5 != 0.0)
        st->tail_ratio = fmin(fabs(p95) / fabs(p5), BT_PROFIT_FACTOR_CAP);
    return true;
}

/* The statistics of the points taken in (the last one is taken in here). */
static bool s_curve_finish(bt_run_stats_t *st, bt_run_acc_t *a)
{
    if (a->have_prev) {
        s_take(a, &a->prev, false, 0);
        a->have_prev = false;
    }
    size_t n = a->n;
    if (n == 0)
        return true;
    if (a->oom)
        return false;
    if (!a->keep_all && (a->tails_bad || n > a->nhint))
        return false;
    const bt_engine_cfg_t *cfg = a->cfg;
    st->month = a->month, st->nmonth = a->nmonth;
    st->year = a->year, st->nyear = a->nyear;
    a->month = a->year = NULL;
    a->nmonth = a->nyear = a->mcap = a->ycap = 0;
    st->peak_equity = a->peak_eq;
    double ndd = a->ndd, dsum = a->dsum, dursum = a->dursum;
    if (a->in_dd) { /* not recovered: to the last step */
        ndd += 1;
        dsum += a->depth;
        dursum += (double)(a->prev.time - a->peak_t) / S_NS_PER_DAY;
    }
    st->ulcer_index = sqrt(a->ss / (double)n);
    if (ndd > 0) {
        st->avg_drawdown = dsum / ndd;
        st->avg_drawdown_days = dursum / ndd;
    }
    double nn = (double)n, sr = a->sr, sb = a->sb, sbb = a->sbb, srb = a->srb;
    double varb = sbb - sb * sb / nn, cov = srb - sr * sb / nn;
    if (varb > 1e-18 * fmax(sbb, DBL_MIN)) {
        st->beta = cov / varb;
        double spy = bt_metrics_steps_per_year(n, a->t_first, a->prev.time);
        double rf = bt_metrics_rf_step(cfg->risk_free_rate, spy);
        st->alpha = ((sr / nn - rf) - st->beta * (sb / nn - rf)) * spy;
    }
    if (a->down > 0)
        st->omega = fmin(a->up / a->down, BT_PROFIT_FACTOR_CAP);
    else if (a->up > 0)
        st->omega = BT_PROFIT_FACTOR_CAP;
    if (a->keep_all)
        return s_tails(st, a->r, n);
    s_tails_settle(a);
    return s_tails_kept(st, a, n);
}

bt_err_t bt_run_acc_finish(bt_run_acc_t *a, bt_run_stats_t *st, const bt_recorder_t *rec,
                           size_t nsym)
{
    assert(a && st && rec);
    memset(st, 0, sizeof *st);
    st->sym = calloc(nsym ? nsym : 1, sizeof *st->sym);
    if (!st->sym)
        return BT_ENOMEM;
    st->nsym = nsym;
    s_trades(st, rec);
    if (!s_curve_finish(st, a)) {
        bt_run_stats_fini(st);
        return a->oom || (!a->tails_bad && a->n <= a->nhint) ? BT_ENOMEM : BT_ELIMIT;
    }
    for (size_t i = 0; i < S_NSTATS; i++) { /* never NaN or inf in JSON */
        double v = bt_run_stats_get(st, i);
        s_set(st, i, isfinite(v) ? v : 0.0);
    }
    return BT_OK;
}

bt_err_t bt_run_stats_compute(bt_run_stats_t *st, const bt_recorder_t *rec,
                              const bt_series_t *series, size_t nsym, const bt_engine_cfg_t *cfg)
{
    assert(st && rec && cfg);
    memset(st, 0, sizeof *st);
    bt_run_acc_t *a = bt_run_acc_new(series, nsym, cfg, SIZE_MAX); /* every return kept */
    if (!a)
        return BT_ENOMEM;
    bt_run_acc_add(a, rec->equity, rec->nequity);
    bt_err_t e = bt_run_acc_finish(a, st, rec, nsym);
    bt_run_acc_destroy(&a);
    return e;
}
