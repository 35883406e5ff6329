/* bt_html_run — report.html of one backtest. See bt_html_run.h. */
#include "bt_html_run.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_build.h"
#include "bt_fs.h"
#include "bt_h5table.h"
#include "bt_html.h"
#include "bt_store.h"
#include "bt_time.h"

#define S_DISPLAY_POINTS 2000 /* equity / drawdown / benchmark points drawn */
#define S_PRICE_POINTS 1500   /* price points drawn per symbol */
#define S_MARKERS 3000        /* entry (and exit) markers drawn per symbol */
#define S_MAX_DAYS 40000      /* daily points for monthly tables and rolling statistics */
#define S_MAX_TRADES 100000   /* trade returns in the histogram */
#define S_DAY_NS 86400000000000LL

static int64_t s_ms(int64_t ns)
{
    return ns / 1000000;
}

static int64_t s_day(int64_t ns)
{
    return ns >= 0 ? ns / S_DAY_NS : -((-ns + S_DAY_NS - 1) / S_DAY_NS);
}

/* Index of the last bar at or before t (0 when t is before the first bar), searching forward
 * from `from` (galloping, then halving: the page asks for a few thousand points of a long run). */
static size_t s_asof(const bt_series_t *s, size_t from, int64_t t)
{
    size_t step = 1, lo = from; /* time[lo] <= t or lo == from */
    while (lo + step < s->n && s->time[lo + step] <= t) {
        lo += step;
        step *= 2;
    }
    size_t hi = lo + step < s->n ? lo + step : s->n; /* time[hi] > t or hi == n */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->time[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Equal-weight buy and hold of every symbol from the first equity point, scaled to the first
 * equity value. Evaluated only where the page shows it (bucket ends, day ends): s_bench_at for
 * increasing step indexes, s_bench_rewind before another pass. */
typedef struct bt_html_bench s_bench_t;

struct bt_html_bench {
    const bt_series_t *series;
    size_t nsym;
    double e0;        /* the first equity */
    size_t *at0, *at; /* per symbol: bar as of the first equity point, as of the last step asked */
    double *c0;       /* per symbol: close as of the first equity point */
    size_t used;      /* symbols with a positive first close */
};

static void s_bench_free(s_bench_t *b)
{
    if (!b)
        return;
    free(b->at0), free(b->at), free(b->c0), free(b);
}

/* The benchmark of a run on series whose first equity point is (t0, e0); NULL without bars. */
static s_bench_t *s_bench_new(const bt_series_t *series, size_t nsym, int64_t t0, double e0)
{
    if (!series || !nsym)
        return NULL;
    s_bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    *b = (s_bench_t){series, nsym, e0, NULL, NULL, NULL, 0};
    b->at0 = calloc(nsym, sizeof *b->at0);
    b->at = calloc(nsym, sizeof *b->at);
    b->c0 = calloc(nsym, sizeof *b->c0);
    if (!b->at0 || !b->at || !b->c0) {
        s_bench_free(b);
        return NULL;
    }
    for (size_t s = 0; s < nsym; s++) {
        const bt_series_t *se = &series[s];
        if (!se->n)
            continue;
        b->at0[s] = b->at[s] = s_asof(se, 0, t0);
        b->c0[s] = se->close[b->at0[s]];
        b->used += b->c0[s] > 0;
    }
    return b;
}

static s_bench_t *s_benchmark(const bt_html_run_in_t *in)
{
    const bt_html_thin_t *th = in->thin;
    return th->n ? s_bench_new(in->series, in->nsym, th->t0, th->e0) : NULL;
}

static void s_bench_rewind(s_bench_t *b)
{
    if (b)
        memcpy(b->at, b->at0, b->nsym * sizeof *b->at);
}

/* idx: the equity point's index. A symbol with a bar at every step has point idx's bar at
 * at0 + idx: one look there instead of a search (a long run's days are far apart in memory). */
static double s_bench_at(s_bench_t *b, int64_t t, size_t idx)
{
    if (!b)
        return NAN;
    double sum = 0;
    for (size_t s = 0; s < b->nsym; s++) {
        const bt_series_t *se = &b->series[s];
        if (!se->n || !(b->c0[s] > 0))
            continue;
        size_t guess = b->at0[s] + idx;
        if (guess >= b->at[s] && guess < se->n && se->time[guess] == t) /* times increase */
            b->at[s] = guess;
        else
            b->at[s] = s_asof(se, b->at[s], t);
        sum += se->close[b->at[s]] / b->c0[s];
    }
    return b->used ? b->e0 * sum / (double)b->used : NAN;
}

/* ---- the curve as drawn, gathered as the points come ---- */

bt_html_thin_t *bt_html_thin_new(size_t n)
{
    bt_html_thin_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->expect = n;
    t->nb = n < S_DISPLAY_POINTS ? n : S_DISPLAY_POINTS;
    t->bend = t->nb ? n / t->nb : 0;
    size_t k = t->nb ? t->nb : 1;
    t->bt = malloc(k * sizeof *t->bt);
    t->beq = malloc(k * sizeof *t->beq);
    t->bdd = malloc(k * sizeof *t->bdd);
    t->bi = malloc(k * sizeof *t->bi);
    t->e0 = NAN;
    if (!t->bt || !t->beq || !t->bdd || !t->bi)
        bt_html_thin_destroy(&t);
    return t;
}

void bt_html_thin_destroy(bt_html_thin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_html_thin_t *t = *self_p;
    free(t->bt), free(t->beq), free(t->bdd), free(t->bi), free(t->dt), free(t->deq), free(t->di);
    free(t->bbench), free(t->dbench);
    s_bench_free(t->bench);
    free(t);
    *self_p = NULL;
}

void bt_html_thin_set_bars(bt_html_thin_t *t, const bt_series_t *series, size_t nsym)
{
    if (t->n || !series || !nsym)
        return;
    t->bbench = malloc((t->nb ? t->nb : 1) * sizeof *t->bbench);
    if (t->bbench) {
        t->bars = series;
        t->nbars = nsym;
    }
}

/* The point waiting for its successor ends a UTC day (s_daily draws day ends). */
static void s_day_end(bt_html_thin_t *t, int64_t time, double equity, size_t idx)
{
    if (t->nday == t->dcap) {
        size_t nc = t->dcap ? t->dcap * 2 : 1024;
        int64_t *a = realloc(t->dt, nc * sizeof *a);
        if (a)
            t->dt = a;
        double *b = a ? realloc(t->deq, nc * sizeof *b) : NULL;
        if (b)
            t->deq = b;
        size_t *c = b ? realloc(t->di, nc * sizeof *c) : NULL;
        if (c)
            t->di = c;
        double *d = c && t->bench ? realloc(t->dbench, nc * sizeof *d) : NULL;
        if (!c || (t->bench && !d)) {
            t->bad = true;
            return;
        }
        t->dbench = t->bench ? d : NULL;
        t->dcap = nc;
    }
    if (t->bench)
        t->dbench[t->nday] = s_bench_at(t->bench, time, idx);
    t->dt[t->nday] = time;
    t->di[t->nday] = idx;
    t->deq[t->nday++] = equity;
}

/* fmax inlined: the larger, or x when y is NaN; of two zeros y, as x86-64's maxsd and glibc's
 * fmax there (C leaves that case open). */
static inline double s_fmax(double x, double y)
{
    return x > y || y != y ? x : y;
}

void bt_html_thin_add(bt_html_thin_t *t, const bt_equity_rec_t *eq, size_t n)
{
    if (n == 0)
        return;
    /* the point before eq[k]: t->prev for k = 0, else eq[k - 1] (not copied per point) */
    const bt_equity_rec_t *prev = &t->prev;
    for (size_t k = 0; k < n; k++) {
        const bt_equity_rec_t *x = &eq[k];
        size_t i = t->n++;
        if (i == 0) {
            t->t0 = x->time;
            t->e0 = x->equity;
            if (t->bars && !(t->bench = s_bench_new(t->bars, t->nbars, t->t0, t->e0)))
                t->bars = NULL; /* out of memory: the page looks the bars up */
        }
        t->t1 = x->time;
        /* the last point of each day: the next one is in a later day (before this point's
         * bucket: the benchmark is asked in time order) */
        if (i > 0 && x->time >= t->next_day)
            s_day_end(t, prev->time, prev->equity, i - 1);
        if (i == 0 || x->time >= t->next_day)
            t->next_day = (s_day(x->time) + 1) * S_DAY_NS;
        /* buckets of the expected count: each one's last point and deepest drawdown */
        if (i >= t->expect) {
            t->bad = true;
        } else {
            t->ddmax = s_fmax(t->ddmax, x->drawdown);
            if (i + 1 == t->bend) { /* (no division per point) */
                t->bt[t->b] = x->time;
                t->bi[t->b] = i;
                if (t->bench)
                    t->bbench[t->b] = s_bench_at(t->bench, x->time, i);
                t->beq[t->b] = x->equity;
                t->bdd[t->b++] = t->ddmax;
                t->ddmax = 0;
                t->bend = (t->b + 1) * t->expect / t->nb;
            }
        }
        prev = x;
    }
    t->prev = eq[n - 1];
}

bool bt_html_thin_finish(bt_html_thin_t *t)
{
    if (t->n && !t->done)
        s_day_end(t, t->prev.time, t->prev.equity, t->n - 1);
    t->done = true;
    return !t->bad && t->n == t->expect;
}

/* The curve kept the benchmark of these bars at its points. */
static bool s_kept(const bt_html_thin_t *th, const bt_html_run_in_t *in)
{
    return th->bench && th->bars == in->series && th->nbars == in->nsym;
}

/* The equity curve thinned to S_DISPLAY_POINTS buckets: each bucket's last
 * time, equity and benchmark, and its deepest drawdown (so no trough is lost). */
static void s_equity(bt_json_t *j, const bt_html_run_in_t *in, s_bench_t *bench)
{
    const bt_html_thin_t *th = in->thin;
    size_t nb = th->nb;
    const char *keys[] = {"t", "eq", "dd", "bench"};
    s_bench_rewind(bench);
    bt_json_raw(j, "\"equity\":{");
    for (int k = 0; k < 4; k++) {
        bt_json_sep(j, (size_t)k);
        bt_json_key(j, keys[k]);
        bt_json_raw(j, "[");
        for (size_t b = 0; b < nb; b++) {
            bt_json_sep(j, b);
            if (k == 0)
                bt_json_i64(j, s_ms(th->bt[b]));
            else if (k == 1)
                bt_json_num7(j, th->beq[b]);
            else if (k == 2)
                bt_json_num7(j, th->bdd[b]);
            else
                bt_json_num7(j, s_kept(th, in) ? th->bbench[b]
                                                : s_bench_at(bench, th->bt[b], th->bi[b]));
        }
        bt_json_raw(j, "]");
    }
    bt_json_raw(j, "}");
}

/* The last equity (and benchmark) of each UTC day, for the monthly and
 * yearly tables and the rolling statistics; every k-th day past S_MAX_DAYS. */
static void s_daily(bt_json_t *j, const bt_html_run_in_t *in, s_bench_t *bench)
{
    const bt_html_thin_t *th = in->thin;
    size_t ndays = th->nday;
    size_t step = ndays > S_MAX_DAYS ? (ndays + S_MAX_DAYS - 1) / S_MAX_DAYS : 1;
    bt_json_raw(j, "\"daily\":{\"step_days\":");
    bt_json_i64(j, (int64_t)step);
    bt_json_raw(j, ",\"start\":");
    bt_json_num(j, th->n ? th->e0 : NAN);
    s_bench_rewind(bench);
    for (int k = 0; k < 3; k++) {
        bt_json_raw(j, k == 0 ? ",\"t\":[" : k == 1 ? ",\"eq\":[" : ",\"bench\":[");
        size_t out = 0;
        for (size_t d = 0; d < ndays; d++) {
            if (d % step != 0 && d + 1 != ndays) /* the last day is the run's last point */
                continue;
            bt_json_sep(j, out++);
            if (k == 0)
                bt_json_i64(j, s_ms(th->dt[d]));
            else if (k == 1)
                bt_json_num(j, th->deq[d]);
            else
                bt_json_num(j, s_kept(th, in) ? th->dbench[d]
                                              : s_bench_at(bench, th->dt[d], th->di[d]));
        }
        bt_json_raw(j, "]");
    }
    bt_json_raw(j, "}");
}

static void s_markers(bt_json_t *j, const bt_html_run_in_t *in, size_t sym, bool entry,
                      int64_t t0, int64_t t1)
{
    size_t n = 0;
    for (size_t i = 0; i < in->ntr; i++)
        n += in->tr[i].sym == sym && (entry || !in->tr[i].open);
    size_t step = n > S_MARKERS ? (n + S_MARKERS - 1) / S_MARKERS : 1, k = 0, out = 0;
    bt_json_raw(j, "[");
    for (size_t i = 0; i < in->ntr; i++) {
        const bt_trade_rec_t *t = &in->tr[i];
        if (t->sym != sym || (!entry && t->open))
            continue;
        if (k++ % step)
            continue;
        int64_t when = entry ? t->entry_time : t->exit_time;
        if (when < t0 || when > t1)
            continue;
        bt_json_sep(j, out++);
        bt_json_raw(j, "[");
        bt_json_i64(j, s_ms(when));
        bt_json_raw(j, ",");
        bt_json_num7(j, entry ? t->entry_price : t->exit_price);
        bt_json_raw(j, t->qty < 0 ? ",-1]" : ",1]");
    }
    bt_json_raw(j, "]");
}

/* Each symbol's closes within the run, thinned to S_PRICE_POINTS (the last
 * close of each bucket), with its entries and exits. */
static void s_prices(bt_json_t *j, const bt_html_run_in_t *in)
{
    bt_json_raw(j, "\"prices\":[");
    if (in->series && in->thin->n) {
        int64_t t0 = in->thin->t0, t1 = in->thin->t1;
        for (size_t s = 0; s < in->nsym; s++) {
            const bt_series_t *se = &in->series[s];
            size_t lo = bt_series_lower_bound(se, t0), hi = bt_series_lower_bound(se, t1 + 1);
            size_t n = hi - lo, nb = n < S_PRICE_POINTS ? n : S_PRICE_POINTS;
            bt_json_sep(j, s);
            bt_json_raw(j, "{\"sym\":");
            bt_json_str(j, se->symbol);
            for (int k = 0; k < 2; k++) {
                bt_json_raw(j, k ? ",\"c\":[" : ",\"t\":[");
                for (size_t b = 0; b < nb; b++) {
                    size_t i = lo + (b + 1) * n / nb - 1;
                    bt_json_sep(j, b);
                    if (k)
                        bt_json_num7(j, se->close[i]);
                    else
                        bt_json_i64(j, s_ms(se->time[i]));
                }
                bt_json_raw(j, "]");
            }
            bt_json_raw(j, ",\"entries\":");
            s_markers(j, in, s, true, t0, t1);
            bt_json_raw(j, ",\"exits\":");
            s_markers(j, in, s, false, t0, t1);
            bt_json_raw(j, "}");
        }
    }
    bt_json_raw(j, "]");
}

static void s_trade_returns(bt_json_t *j, const bt_html_run_in_t *in)
{
    size_t n = 0;
    for (size_t i = 0; i < in->ntr; i++)
        n += !in->tr[i].open;
    size_t step = n > S_MAX_TRADES ? (n + S_MAX_TRADES - 1) / S_MAX_TRADES : 1, k = 0, out = 0;
    bt_json_raw(j, "\"trade_returns\":[");
    for (size_t i = 0; i < in->ntr; i++) {
        const bt_trade_rec_t *t = &in->tr[i];
        if (t->open || k++ % step)
            continue;
        /* as trades.csv's return_pct, as a fraction */
        double r = t->entry_price != 0 ? t->exit_price / t->entry_price - 1.0 : 0.0;
        bt_json_sep(j, out++);
        bt_json_num7(j, t->qty < 0 ? -r : r);
    }
    bt_json_raw(j, "]");
}

/* A file of DIR as a JSON string (or null when missing). */
static void s_file_str(bt_json_t *j, const char *dir, const char *name)
{
    char p[4096];
    size_t len = 0;
    char *s = bt_html_path(p, sizeof p, dir, name, NULL) == BT_OK
                  ? bt_fs_read_file(p, 1u << 20, &len, NULL)
                  : NULL;
    if (s)
        bt_json_str(j, s);
    else
        bt_json_raw(j, "null");
    free(s);
}

bt_err_t bt_html_run_write(const char *dir, const bt_html_run_in_t *in, bt_errbuf_t *eb)
{
    bt_json_t j;
    bt_json_init(&j);
    s_bench_t *bench = s_benchmark(in);
    bt_json_raw(&j, "{\"kind\":\"run\",\"build_id\":");
    bt_json_str(&j, bt_build_id());
    bt_json_raw(&j, ",\"metrics_json\":");
    s_file_str(&j, dir, "metrics.json");
    bt_json_raw(&j, ",\"provenance_txt\":");
    s_file_str(&j, dir, "provenance.txt");
    bt_json_raw(&j, ",\"note\":");
    if (in->note)
        bt_json_str(&j, in->note);
    else
        bt_json_raw(&j, "null");
    bt_json_raw(&j, ",\"n_equity\":");
    bt_json_i64(&j, (int64_t)in->thin->n);
    bt_json_raw(&j, ",\"n_trades\":");
    bt_json_i64(&j, (int64_t)in->ntr);
    bt_json_raw(&j, ",");
    s_equity(&j, in, bench);
    bt_json_raw(&j, ",");
    s_daily(&j, in, bench);
    bt_json_raw(&j, ",");
    s_prices(&j, in);
    bt_json_raw(&j, ",");
    s_trade_returns(&j, in);
    bt_json_raw(&j, "}");
    s_bench_free(bench);
    bt_err_t e = bt_html_write_page(dir, "run", "Back Tester run report", &j, eb);
    bt_json_fini(&j);
    return e;
}

/* ---- positions and run.h5 ---- */

typedef struct {
    int64_t time;
    double qty;
} s_change_t;

#define S_BLOCK 1024 /* changes per block: blocks never move, so a reader may follow the writer */

typedef struct s_block {
    struct s_block *next;
    s_change_t ch[S_BLOCK];
} s_block_t;

struct bt_run_pos {
    size_t nsym;
    s_block_t **head, **tail; /* per symbol: the changes in time order, in blocks */
    size_t *n;                /* per symbol: changes kept */
    double *last;             /* per symbol: the quantity after the last change */
    bool oom;                 /* a change was lost (set by any thread; read after the run) */
};

bt_run_pos_t *bt_run_pos_new(size_t nsym)
{
    bt_run_pos_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nsym = nsym;
    size_t k = nsym ? nsym : 1;
    p->head = calloc(k, sizeof *p->head);
    p->tail = calloc(k, sizeof *p->tail);
    p->n = calloc(k, sizeof *p->n);
    p->last = calloc(k, sizeof *p->last);
    if (!p->head || !p->tail || !p->n || !p->last)
        bt_run_pos_destroy(&p);
    return p;
}

void bt_run_pos_destroy(bt_run_pos_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_run_pos_t *p = *self_p;
    for (size_t s = 0; p->head && s < p->nsym; s++)
        for (s_block_t *b = p->head[s], *nx; b; b = nx) {
            nx = b->next;
            free(b);
        }
    free(p->head), free(p->tail), free(p->n), free(p->last), free(p);
    *self_p = NULL;
}

void bt_run_pos_step(void *user, const bt_step_info_t *info)
{
    bt_run_pos_t *p = user;
    for (size_t j = 0; j < info->nsym; j++) {
        size_t s = info->sym0 + j;
        double q = info->position[j];
        if (s >= p->nsym || q == p->last[s])
            continue;
        size_t k = p->n[s] % S_BLOCK;
        if (k == 0) {
            s_block_t *b = malloc(sizeof *b);
            if (!b) {
                p->oom = true;
                continue;
            }
            b->next = NULL;
            if (p->tail[s])
                p->tail[s]->next = b;
            else
                p->head[s] = b;
            p->tail[s] = b;
        }
        p->tail[s]->ch[k] = (s_change_t){info->time, q};
        p->n[s]++;
        p->last[s] = q;
    }
}

bt_err_t bt_run_pos_error(const bt_run_pos_t *self)
{
    return self && self->oom ? BT_ENOMEM : BT_OK;
}

size_t bt_run_pos_nsym(const bt_run_pos_t *self)
{
    return self ? self->nsym : 0;
}

void bt_run_pos_counts(const bt_run_pos_t *self, size_t *out)
{
    memcpy(out, self->n, self->nsym * sizeof *out);
}

#define S_FIXED_COLS 4 /* cash, positions_value, equity, drawdown */
#define S_H5_CHUNK ((size_t)1 << 16) /* rows per HDF5 chunk (512 KiB a column) */

/* One symbol's cursors: the next change and bar to look at, the quantity held. */
typedef struct {
    const s_block_t *blk; /* the block holding change ci (NULL before the first) */
    size_t base;          /* index of blk's first change */
    size_t ci, bi;        /* changes taken, bars at or before the last row */
    double q;
} s_cursor_t;

struct bt_run_h5 {
    bt_h5table_out_t *out;
    const bt_run_pos_t *pos; /* NULL: no position columns */
    const bt_series_t *series;
    size_t ncols, rows, fill; /* columns, rows a write, rows in the buffers now */
    int64_t *time;
    double **col;             /* ncols buffers of rows */
    s_cursor_t *cur;          /* per symbol */
};

bt_run_h5_t *bt_run_h5_open(const char *dir, const bt_run_pos_t *pos, const bt_series_t *series,
                            size_t nsym, size_t nhint, bt_errbuf_t *eb)
{
    char p[4096];
    if (bt_html_path(p, sizeof p, dir, BT_HTML_RUN_H5, eb) != BT_OK)
        return NULL;
    if (pos && (!series || pos->nsym != nsym))
        pos = NULL;
    size_t np = pos ? pos->nsym : 0, ncols = S_FIXED_COLS + 2 * np;
    bt_run_h5_t *w = calloc(1, sizeof *w);
    char **names = calloc(ncols, sizeof *names);
    bool ok = w && names;
    if (ok) {
        w->pos = pos;
        w->series = series;
        w->ncols = ncols;
        w->rows = nhint < S_H5_CHUNK ? (nhint ? nhint : 1) : S_H5_CHUNK;
        w->time = malloc(w->rows * sizeof *w->time);
        w->col = calloc(ncols, sizeof *w->col);
        w->cur = calloc(np ? np : 1, sizeof *w->cur);
        ok = w->time && w->col && w->cur;
    }
    static const char *const fixed[S_FIXED_COLS] = {"cash", "positions_value", "equity",
                                                    "drawdown"};
    for (size_t c = 0; ok && c < ncols; c++) {
        size_t len = c < S_FIXED_COLS ? strlen(fixed[c]) + 1 : 7 + BT_SYMBOL_MAX;
        names[c] = malloc(len);
        w->col[c] = malloc(w->rows * sizeof **w->col);
        ok = names[c] && w->col[c];
        if (ok && c < S_FIXED_COLS)
            memcpy(names[c], fixed[c], len);
        else if (ok)
            snprintf(names[c], len, "%s_%s", c - S_FIXED_COLS < np ? "qty" : "value",
                     series[(c - S_FIXED_COLS) % np].symbol);
    }
    if (!ok)
        bt_errf(eb, BT_ENOMEM, "out of memory writing %s", p);
    else if (!(w->out = bt_h5table_open(p, "equity", (const char *const *)names, ncols, w->rows,
                                        eb)))
        ok = false;
    for (size_t c = 0; names && c < ncols; c++)
        free(names[c]);
    free(names);
    if (!ok)
        bt_run_h5_abort(&w);
    return w;
}

void bt_run_h5_abort(bt_run_h5_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_run_h5_t *w = *self_p;
    bt_h5table_abort(&w->out);
    for (size_t c = 0; w->col && c < w->ncols; c++)
        free(w->col[c]);
    free(w->col), free(w->time), free(w->cur), free(w);
    *self_p = NULL;
}

/* Fills the position columns of buffer rows [r0, r1) for symbol s (changes up to lim[s]). */
static void s_h5pos(bt_run_h5_t *w, size_t s, size_t r0, size_t r1, size_t lim)
{
    s_cursor_t *u = &w->cur[s];
    const bt_series_t *se = &w->series[s];
    size_t np = w->pos->nsym;
    double *oq = w->col[S_FIXED_COLS + s], *ov = w->col[S_FIXED_COLS + np + s];
    for (size_t r = r0; r < r1; r++) {
        int64_t t = w->time[r];
        while (u->ci < lim) {
            if (!u->blk)
                u->blk = w->pos->head[s];
            while (u->ci >= u->base + S_BLOCK) {
                u->blk = u->blk->next;
                u->base += S_BLOCK;
            }
            const s_change_t *c = &u->blk->ch[u->ci - u->base];
            if (c->time > t)
                break;
            u->q = c->qty;
            u->ci++;
        }
        while (u->bi < se->n && se->time[u->bi] <= t)
            u->bi++;
        oq[r] = u->q;
        ov[r] = u->bi ? u->q * se->close[u->bi - 1] : 0.0; /* no bar yet: nothing held */
    }
}

static bt_err_t s_h5flush(bt_run_h5_t *w, bt_errbuf_t *eb)
{
    bt_err_t e = bt_h5table_append(w->out, w->time, (const double *const *)w->col, w->fill, eb);
    w->fill = 0;
    return e;
}

bt_err_t bt_run_h5_add(bt_run_h5_t *w, const bt_equity_rec_t *eq, size_t n, const size_t *nch,
                       bt_errbuf_t *eb)
{
    size_t np = w->pos ? w->pos->nsym : 0;
    for (size_t i = 0; i < n;) {
        size_t r0 = w->fill, take = w->rows - r0 < n - i ? w->rows - r0 : n - i;
        for (size_t k = 0; k < take; k++) {
            const bt_equity_rec_t *x = &eq[i + k];
            w->time[r0 + k] = x->time;
            w->col[0][r0 + k] = x->cash;
            w->col[1][r0 + k] = x->positions_value;
            w->col[2][r0 + k] = x->equity;
            w->col[3][r0 + k] = x->drawdown;
        }
        for (size_t s = 0; s < np; s++)
            s_h5pos(w, s, r0, r0 + take, nch ? nch[s] : w->pos->n[s]);
        w->fill += take;
        i += take;
        if (w->fill == w->rows) {
            bt_err_t e = s_h5flush(w, eb);
            if (e != BT_OK)
                return e;
        }
    }
    return BT_OK;
}

bt_err_t bt_run_h5_commit(bt_run_h5_t **self_p, bt_errbuf_t *eb)
{
    bt_run_h5_t *w = *self_p;
    bt_err_t e = w->fill ? s_h5flush(w, eb) : BT_OK;
    if (e == BT_OK)
        e = bt_h5table_commit(&w->out, eb);
    bt_run_h5_abort(self_p);
    return e;
}

/* ---- rebuilding from a folder ---- */

/* Value of "key: value" in provenance.txt text, into buf ("" if absent). */
static const char *s_prov(const char *text, const char *key, char *buf, size_t cap)
{
    size_t kl = strlen(key);
    buf[0] = '\0';
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > kl + 1 && strncmp(p, key, kl) == 0 && p[kl] == ':') {
            const char *v = p + kl + 1;
            while (*v == ' ')
                v++;
            size_t vl = ll - (size_t)(v - p);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    return buf;
}

static bt_err_t s_read_equity(const char *dir, bt_equity_rec_t **out, size_t *n, bt_errbuf_t *eb)
{
    char p[4096];
    bt_table_t t;
    bt_err_t e = bt_html_path(p, sizeof p, dir, "equity.csv", eb);
    if (e == BT_OK)
        e = bt_table_read(&t, p, (size_t)64 << 30, eb);
    if (e != BT_OK)
        return e;
    size_t rows = t.nrows ? t.nrows - 1 : 0;
    bt_equity_rec_t *eq = calloc(rows ? rows : 1, sizeof *eq);
    if (!eq) {
        bt_table_fini(&t);
        return bt_errf(eb, BT_ENOMEM, "out of memory for %s", p);
    }
    for (size_t r = 0; r < rows; r++) {
        const char *ts = bt_table_get(&t, r + 1, 0);
        double v[4] = {0, 0, 0, 0};
        bool ok = bt_time_parse(ts, strlen(ts), &eq[r].time);
        for (size_t c = 0; c < 4; c++)
            ok = ok && bt_table_num(&t, r + 1, c + 1, &v[c]);
        if (!ok) {
            bt_table_fini(&t);
            free(eq);
            return bt_errf(eb, BT_EFORMAT, "%s:%zu: expected time,cash,positions_value,equity,"
                                           "drawdown",
                           p, r + 2);
        }
        eq[r].cash = v[0], eq[r].positions_value = v[1], eq[r].equity = v[2];
        eq[r].drawdown = v[3];
    }
    bt_table_fini(&t);
    *out = eq;
    *n = rows;
    return BT_OK;
}

static bt_err_t s_read_trades(const char *dir, const bt_dataset_t *ds, char **syms, size_t nsyms,
                              bt_trade_rec_t **out, size_t *n, bt_errbuf_t *eb)
{
    char p[4096];
    bt_table_t t;
    bt_err_t e = bt_html_path(p, sizeof p, dir, "trades.csv", eb);
    if (e == BT_OK)
        e = bt_table_read(&t, p, (size_t)8 << 30, eb);
    if (e != BT_OK)
        return e;
    size_t rows = t.nrows ? t.nrows - 1 : 0;
    bt_trade_rec_t *tr = calloc(rows ? rows : 1, sizeof *tr);
    if (!tr) {
        bt_table_fini(&t);
        return bt_errf(eb, BT_ENOMEM, "out of memory for %s", p);
    }
    for (size_t r = 0; r < rows; r++) {
        const char *sym = bt_table_get(&t, r + 1, 0), *et = bt_table_get(&t, r + 1, 2),
                   *xt = bt_table_get(&t, r + 1, 3);
        tr[r].sym = UINT32_MAX;
        for (size_t s = 0; s < nsyms; s++)
            if (strcmp(syms[s], sym) == 0)
                tr[r].sym = (uint32_t)s;
        if (ds) { /* the dataset's order is the one prices are drawn in */
            long k = bt_dataset_find(ds, sym);
            tr[r].sym = k >= 0 ? (uint32_t)k : UINT32_MAX;
        }
        double q = 0, ep = 0, xp = 0, pnl = 0;
        bool ok = bt_time_parse(et, strlen(et), &tr[r].entry_time) &&
                  bt_table_num(&t, r + 1, 4, &q) && bt_table_num(&t, r + 1, 5, &ep) &&
                  bt_table_num(&t, r + 1, 6, &xp) && bt_table_num(&t, r + 1, 7, &pnl);
        if (*xt && !bt_time_parse(xt, strlen(xt), &tr[r].exit_time))
            ok = false;
        if (!ok) {
            bt_table_fini(&t);
            free(tr);
            return bt_errf(eb, BT_EFORMAT, "%s:%zu: not a trades.csv row", p, r + 2);
        }
        tr[r].qty = strcmp(bt_table_get(&t, r + 1, 1), "short") == 0 ? -fabs(q) : fabs(q);
        tr[r].entry_price = ep, tr[r].exit_price = xp, tr[r].pnl = pnl;
        tr[r].open = strcmp(bt_table_get(&t, r + 1, 10), "1") == 0;
    }
    bt_table_fini(&t);
    *out = tr;
    *n = rows;
    return BT_OK;
}

bt_err_t bt_html_run_read_equity(const char *dir, bt_equity_rec_t **out, size_t *n,
                                 bt_errbuf_t *eb)
{
    char p[4096];
    bt_equity_rec_t *eq = NULL;
    size_t neq = 0;
    bt_err_t e = BT_OK;
    *out = NULL;
    *n = 0;
    if (!bt_html_exists(dir, BT_HTML_RUN_H5))
        return s_read_equity(dir, out, n, eb);
    static const char *const cols[] = {"cash", "positions_value", "equity", "drawdown"};
    int64_t *t = NULL;
    double *v = NULL;
    e = bt_html_path(p, sizeof p, dir, BT_HTML_RUN_H5, eb);
    if (e == BT_OK)
        e = bt_h5table_read(p, "equity", cols, 4, (size_t)1 << 32, &t, &v, &neq, eb);
    if (e == BT_OK && !(eq = calloc(neq ? neq : 1, sizeof *eq)))
        e = bt_errf(eb, BT_ENOMEM, "out of memory reading %s", p);
    for (size_t i = 0; e == BT_OK && i < neq; i++)
        eq[i] = (bt_equity_rec_t){t[i], v[i], v[neq + i], v[2 * neq + i], v[3 * neq + i]};
    free(t);
    free(v);
    if (e == BT_OK) {
        *out = eq;
        *n = neq;
    }
    return e;
}

/* run.h5's curve a block of rows at a time into th (made for its row count): no copy of the
 * whole table in memory (10 M rows would be 800 MB of fresh pages, most of bt report's time). */
static bt_html_thin_t *s_thin_read_h5(const char *dir, bt_errbuf_t *eb)
{
    enum { S_ROWS = 1 << 16 }; /* rows a read */
    static const char *const cols[] = {"cash", "positions_value", "equity", "drawdown"};
    char p[4096];
    if (bt_html_path(p, sizeof p, dir, BT_HTML_RUN_H5, eb) != BT_OK)
        return NULL;
    size_t n = 0;
    bt_h5table_in_t *in = bt_h5table_in_open(p, "equity", cols, 4, (size_t)1 << 32, &n, eb);
    if (!in)
        return NULL;
    bt_html_thin_t *th = bt_html_thin_new(n);
    int64_t *t = malloc(S_ROWS * sizeof *t);
    double *v = malloc(4 * S_ROWS * sizeof *v);
    bt_equity_rec_t *eq = malloc(S_ROWS * sizeof *eq);
    bt_err_t e = th && t && v && eq ? BT_OK
                                    : bt_errf(eb, BT_ENOMEM, "out of memory for the report of %s",
                                              dir);
    double *const vc[4] = {v, v + S_ROWS, v + 2 * S_ROWS, v + 3 * S_ROWS};
    for (size_t r0 = 0; e == BT_OK && r0 < n; r0 += S_ROWS) {
        size_t len = n - r0 < S_ROWS ? n - r0 : S_ROWS;
        e = bt_h5table_in_read(in, r0, len, t, vc, eb);
        for (size_t i = 0; e == BT_OK && i < len; i++)
            eq[i] = (bt_equity_rec_t){t[i], vc[0][i], vc[1][i], vc[2][i], vc[3][i]};
        if (e == BT_OK)
            bt_html_thin_add(th, eq, len);
    }
    if (e == BT_OK && !bt_html_thin_finish(th))
        e = bt_errf(eb, BT_ENOMEM, "out of memory for the report of %s", dir);
    if (e != BT_OK)
        bt_html_thin_destroy(&th);
    bt_h5table_in_close(&in);
    free(t), free(v), free(eq);
    return th;
}

bt_html_thin_t *bt_html_thin_read(const char *dir, bt_errbuf_t *eb)
{
    if (bt_html_exists(dir, BT_HTML_RUN_H5))
        return s_thin_read_h5(dir, eb);
    bt_equity_rec_t *eq = NULL;
    size_t neq = 0;
    bt_err_t e = bt_html_run_read_equity(dir, &eq, &neq, eb);
    bt_html_thin_t *th = e == BT_OK ? bt_html_thin_new(neq) : NULL;
    if (th) {
        bt_html_thin_add(th, eq, neq);
        if (!bt_html_thin_finish(th)) {
            bt_html_thin_destroy(&th);
            bt_errf(eb, BT_ENOMEM, "out of memory for the report of %s", dir);
        }
    } else if (e == BT_OK) {
        bt_errf(eb, BT_ENOMEM, "out of memory for the report of %s", dir);
    }
    free(eq);
    return th;
}

bt_err_t bt_html_run_rebuild(const char *dir, bt_errbuf_t *eb)
{
    char p[4096], store[4096], hash[128], symline[8192];
    bt_err_t e = bt_html_path(p, sizeof p, dir, "provenance.txt", eb);
    size_t len = 0;
    char *prov = e == BT_OK ? bt_fs_read_file(p, 1u << 20, &len, eb) : NULL;
    if (!prov)
        return eb->code ? eb->code : BT_EIO;
    s_prov(prov, "data_store", store, sizeof store);
    s_prov(prov, "data_hash", hash, sizeof hash);
    s_prov(prov, "symbols", symline, sizeof symline);
    free(prov);
    char *syms[1024];
    size_t nsyms = 0;
    for (char *s = symline; *s && nsyms < 1024;) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        syms[nsyms++] = s;
        while (*s && *s != ' ')
            s++;
        if (*s)
            *s++ = '\0';
    }
    char note[8192] = "";
    bt_errbuf_t deb;
    bt_errbuf_clear(&deb);
    bt_dataset_t *ds = bt_dataset_load(store, (const char *const *)syms, nsyms, &deb);
    if (!ds)
        snprintf(note, sizeof note, "no price charts and no benchmark: %s", deb.msg);
    else if (strcmp(ds->hash, hash) != 0) {
        snprintf(note, sizeof note,
                 "no price charts and no benchmark: the data in %s changed since the run "
                 "(data hash %.12s..., the run used %.12s...)",
                 store, ds->hash, hash);
        bt_dataset_destroy(&ds);
    }
    bt_trade_rec_t *tr = NULL;
    size_t ntr = 0;
    bt_html_thin_t *th = bt_html_thin_read(dir, eb);
    e = th ? BT_OK : eb->code ? eb->code : BT_ENOMEM;
    if (e == BT_OK)
        e = s_read_trades(dir, ds, syms, nsyms, &tr, &ntr, eb);
    if (e == BT_OK) {
        bt_html_run_in_t in = {th, tr, ntr, ds ? ds->series : NULL, ds ? ds->nsym : 0,
                               note[0] ? note : NULL};
        e = bt_html_run_write(dir, &in, eb);
    }
    bt_html_thin_destroy(&th);
    free(tr);
    bt_dataset_destroy(&ds);
    return e;
}
