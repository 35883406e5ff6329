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
typedef struct {
    const bt_html_run_in_t *in;
    size_t *at0, *at; /* per symbol: bar as of the first equity point, as of the last step asked */
    double *c0;       /* per symbol: close as of the first equity point */
    size_t used;      /* symbols with a positive first close */
} s_bench_t;

static void s_bench_free(s_bench_t *b)
{
    if (!b)
        return;
    free(b->at0), free(b->at), free(b->c0), free(b);
}

static s_bench_t *s_benchmark(const bt_html_run_in_t *in)
{
    if (!in->series || !in->nsym || !in->neq)
        return NULL;
    s_bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->in = in;
    b->at0 = calloc(in->nsym, sizeof *b->at0);
    b->at = calloc(in->nsym, sizeof *b->at);
    b->c0 = calloc(in->nsym, sizeof *b->c0);
    if (!b->at0 || !b->at || !b->c0) {
        s_bench_free(b);
        return NULL;
    }
    for (size_t s = 0; s < in->nsym; s++) {
        const bt_series_t *se = &in->series[s];
        if (!se->n)
            continue;
        b->at0[s] = b->at[s] = s_asof(se, 0, in->eq[0].time);
        b->c0[s] = se->close[b->at0[s]];
        b->used += b->c0[s] > 0;
    }
    return b;
}

static void s_bench_rewind(s_bench_t *b)
{
    if (b)
        memcpy(b->at, b->at0, b->in->nsym * sizeof *b->at);
}

static double s_bench_at(s_bench_t *b, size_t i)
{
    if (!b)
        return NAN;
    const bt_html_run_in_t *in = b->in;
    double sum = 0;
    for (size_t s = 0; s < in->nsym; s++) {
        const bt_series_t *se = &in->series[s];
        if (!se->n || !(b->c0[s] > 0))
            continue;
        b->at[s] = s_asof(se, b->at[s], in->eq[i].time);
        sum += se->close[b->at[s]] / b->c0[s];
    }
    return b->used ? in->eq[0].equity * sum / (double)b->used : NAN;
}

/* The equity curve thinned to S_DISPLAY_POINTS buckets: each bucket's last
 * time, equity and benchmark, and its deepest drawdown (so no trough is lost). */
static void s_equity(bt_json_t *j, const bt_html_run_in_t *in, s_bench_t *bench)
{
    size_t n = in->neq, nb = n < S_DISPLAY_POINTS ? n : S_DISPLAY_POINTS;
    const char *keys[] = {"t", "eq", "dd", "bench"};
    s_bench_rewind(bench);
    bt_json_raw(j, "\"equity\":{");
    for (int k = 0; k < 4; k++) {
        bt_json_sep(j, (size_t)k);
        bt_json_key(j, keys[k]);
        bt_json_raw(j, "[");
        for (size_t b = 0; b < nb; b++) {
            size_t lo = b * n / nb, hi = (b + 1) * n / nb;
            bt_json_sep(j, b);
            const bt_equity_rec_t *e = &in->eq[hi - 1];
            if (k == 0) {
                bt_json_i64(j, s_ms(e->time));
            } else if (k == 1) {
                bt_json_num7(j, e->equity);
            } else if (k == 2) {
                double dd = 0;
                for (size_t i = lo; i < hi; i++)
                    dd = fmax(dd, in->eq[i].drawdown);
                bt_json_num7(j, dd);
            } else {
                bt_json_num7(j, s_bench_at(bench, hi - 1));
            }
        }
        bt_json_raw(j, "]");
    }
    bt_json_raw(j, "}");
}

/* The last equity (and benchmark) of each UTC day, for the monthly and
 * yearly tables and the rolling statistics; every k-th day past S_MAX_DAYS. */
static void s_daily(bt_json_t *j, const bt_html_run_in_t *in, s_bench_t *bench)
{
    /* the last step of each day: found once, comparing with the next day's first ns */
    size_t ndays = 0, cap = 0, *last = NULL;
    int64_t next = 0;
    for (size_t i = 0; i < in->neq; i++) {
        if (i == 0 || in->eq[i].time >= next)
            next = (s_day(in->eq[i].time) + 1) * S_DAY_NS;
        if (i + 1 < in->neq && in->eq[i + 1].time < next)
            continue;
        if (ndays == cap) {
            size_t *p = realloc(last, (cap ? cap * 2 : 1024) * sizeof *p);
            if (!p) {
                j->err = BT_ENOMEM;
                break;
            }
            last = p;
            cap = cap ? cap * 2 : 1024;
        }
        last[ndays++] = i;
    }
    size_t step = ndays > S_MAX_DAYS ? (ndays + S_MAX_DAYS - 1) / S_MAX_DAYS : 1;
    bt_json_raw(j, "\"daily\":{\"step_days\":");
    bt_json_i64(j, (int64_t)step);
    bt_json_raw(j, ",\"start\":");
    bt_json_num(j, in->neq ? in->eq[0].equity : NAN);
    s_bench_rewind(bench);
    for (int k = 0; k < 3; k++) {
        bt_json_raw(j, k == 0 ? ",\"t\":[" : k == 1 ? ",\"eq\":[" : ",\"bench\":[");
        size_t out = 0;
        for (size_t d = 0; d < ndays; d++) {
            size_t i = last[d];
            if (d % step != 0 && i + 1 != in->neq)
                continue;
            bt_json_sep(j, out++);
            if (k == 0)
                bt_json_i64(j, s_ms(in->eq[i].time));
            else if (k == 1)
                bt_json_num(j, in->eq[i].equity);
            else
                bt_json_num(j, s_bench_at(bench, i));
        }
        bt_json_raw(j, "]");
    }
    bt_json_raw(j, "}");
    free(last);
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
    if (in->series && in->neq) {
        int64_t t0 = in->eq[0].time, t1 = in->eq[in->neq - 1].time;
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
    bt_json_i64(&j, (int64_t)in->neq);
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

struct bt_run_pos {
    size_t nsym;
    s_change_t **ch; /* per symbol: the changes in time order */
    size_t *n, *cap;
    double *last;    /* per symbol: the quantity after the last change */
    bool oom;        /* a change was lost (set by any thread; read after the run) */
};

bt_run_pos_t *bt_run_pos_new(size_t nsym)
{
    bt_run_pos_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nsym = nsym;
    size_t k = nsym ? nsym : 1;
    p->ch = calloc(k, sizeof *p->ch);
    p->n = calloc(k, sizeof *p->n);
    p->cap = calloc(k, sizeof *p->cap);
    p->last = calloc(k, sizeof *p->last);
    if (!p->ch || !p->n || !p->cap || !p->last)
        bt_run_pos_destroy(&p);
    return p;
}

void bt_run_pos_destroy(bt_run_pos_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_run_pos_t *p = *self_p;
    for (size_t s = 0; p->ch && s < p->nsym; s++)
        free(p->ch[s]);
    free(p->ch), free(p->n), free(p->cap), free(p->last), free(p);
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
        if (p->n[s] == p->cap[s]) {
            size_t nc = p->cap[s] ? p->cap[s] * 2 : 256;
            s_change_t *c = realloc(p->ch[s], nc * sizeof *c);
            if (!c) {
                p->oom = true;
                continue;
            }
            p->ch[s] = c;
            p->cap[s] = nc;
        }
        p->ch[s][p->n[s]++] = (s_change_t){info->time, q};
        p->last[s] = q;
    }
}

bt_err_t bt_run_pos_error(const bt_run_pos_t *self)
{
    return self && self->oom ? BT_ENOMEM : BT_OK;
}

#define S_FIXED_COLS 4 /* cash, positions_value, equity, drawdown */

typedef struct {
    const bt_equity_rec_t *eq;
    const bt_run_pos_t *pos;
    const bt_series_t *series;
    size_t col;      /* column the cursors below belong to */
    size_t ci, bi;   /* next change, bar as of the last row */
} s_h5fill_t;

static void s_h5fill(void *user, size_t col, size_t r0, size_t len, void *out)
{
    s_h5fill_t *u = user;
    const bt_equity_rec_t *e = u->eq + r0;
    if (col == BT_H5TABLE_INDEX) {
        int64_t *o = out;
        for (size_t i = 0; i < len; i++)
            o[i] = e[i].time;
        return;
    }
    double *o = out;
    if (col < S_FIXED_COLS) {
        static const size_t off[S_FIXED_COLS] = {
            offsetof(bt_equity_rec_t, cash), offsetof(bt_equity_rec_t, positions_value),
            offsetof(bt_equity_rec_t, equity), offsetof(bt_equity_rec_t, drawdown)};
        const char *b = (const char *)e + off[col];
        for (size_t i = 0; i < len; i++)
            memcpy(&o[i], b + i * sizeof *e, sizeof o[i]);
        return;
    }
    size_t nsym = u->pos ? u->pos->nsym : 0;
    size_t s = (col - S_FIXED_COLS) % (nsym ? nsym : 1);
    bool value = col - S_FIXED_COLS >= nsym;
    if (r0 == 0 || u->col != col) {
        u->col = col;
        u->ci = u->bi = 0;
    }
    const s_change_t *ch = u->pos->ch[s];
    size_t nch = u->pos->n[s];
    const bt_series_t *se = &u->series[s];
    for (size_t i = 0; i < len; i++) {
        int64_t t = e[i].time;
        while (u->ci < nch && ch[u->ci].time <= t)
            u->ci++;
        double q = u->ci ? ch[u->ci - 1].qty : 0.0;
        if (!value) {
            o[i] = q;
            continue;
        }
        while (u->bi < se->n && se->time[u->bi] <= t)
            u->bi++;
        o[i] = u->bi ? q * se->close[u->bi - 1] : 0.0; /* no bar yet: nothing held */
    }
}

bt_err_t bt_html_run_h5_write(const char *dir, const bt_equity_rec_t *eq, size_t n,
                              const bt_run_pos_t *pos, const bt_series_t *series, size_t nsym,
                              bt_errbuf_t *eb)
{
    char p[4096];
    bt_err_t e = bt_html_path(p, sizeof p, dir, BT_HTML_RUN_H5, eb);
    if (e != BT_OK)
        return e;
    if (pos && (!series || pos->nsym != nsym))
        pos = NULL;
    size_t np = pos ? pos->nsym : 0, ncols = S_FIXED_COLS + 2 * np;
    char **names = calloc(ncols, sizeof *names);
    if (!names)
        return bt_errf(eb, BT_ENOMEM, "out of memory writing %s", p);
    static const char *const fixed[S_FIXED_COLS] = {"cash", "positions_value", "equity",
                                                    "drawdown"};
    for (size_t c = 0; c < ncols && e == BT_OK; c++) {
        size_t len = c < S_FIXED_COLS ? strlen(fixed[c]) + 1 : 7 + BT_SYMBOL_MAX;
        names[c] = malloc(len);
        if (!names[c])
            e = bt_errf(eb, BT_ENOMEM, "out of memory writing %s", p);
        else if (c < S_FIXED_COLS)
            memcpy(names[c], fixed[c], len);
        else
            snprintf(names[c], len, "%s_%s", c - S_FIXED_COLS < np ? "qty" : "value",
                     series[(c - S_FIXED_COLS) % np].symbol);
    }
    s_h5fill_t u = {eq, pos, series, 0, 0, 0};
    bt_h5table_spec_t spec = {n, ncols, (const char *const *)names, s_h5fill, &u};
    if (e == BT_OK)
        e = bt_h5table_write(p, "equity", &spec, eb);
    for (size_t c = 0; c < ncols; c++)
        free(names[c]);
    free(names);
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
    bt_equity_rec_t *eq = NULL;
    bt_trade_rec_t *tr = NULL;
    size_t neq = 0, ntr = 0;
    if (bt_html_exists(dir, BT_HTML_RUN_H5)) {
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
    } else {
        e = s_read_equity(dir, &eq, &neq, eb);
    }
    if (e == BT_OK)
        e = s_read_trades(dir, ds, syms, nsyms, &tr, &ntr, eb);
    if (e == BT_OK) {
        bt_html_run_in_t in = {eq, neq, tr, ntr, ds ? ds->series : NULL, ds ? ds->nsym : 0,
                               note[0] ? note : NULL};
        e = bt_html_run_write(dir, &in, eb);
    }
    free(eq);
    free(tr);
    bt_dataset_destroy(&ds);
    return e;
}
