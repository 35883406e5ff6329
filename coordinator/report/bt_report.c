/* bt_report — see bt_report.h and docs/sweep.md "Report".
 *
 * Storage per job: status byte, attempt, metrics row (nm doubles), swept
 * values (naxes doubles) and an error pointer (set for failed rows only).
 * Metric names come from the BT_METRICS X-macro, the single list of names. */
#include "bt_report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_metrics.h"
#include "bt_overfit.h"
#include "bt_csvw.h"
#include "bt_fs.h"

#include "bt_report_impl.h"

bt_report_t *bt_report_new(uint64_t njobs, size_t naxes, const char *const *axis_names)
{
    if (njobs == 0 || naxes > BT_REPORT_MAX_AXES ||
        njobs > SIZE_MAX / (sizeof(double) * (S_NMETRICS + BT_REPORT_MAX_AXES)))
        return NULL;
    bt_report_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->njobs = njobs;
    r->naxes = naxes;
    size_t n = (size_t)njobs;
    r->axis_names = calloc(naxes ? naxes : 1, sizeof *r->axis_names);
    r->axes = calloc(naxes ? naxes : 1, sizeof *r->axes);
    r->status = calloc(n, 1);
    r->nmet = calloc(n, 1);
    r->attempt = calloc(n, sizeof *r->attempt);
    r->metrics = calloc(n * S_NMETRICS, sizeof *r->metrics);
    r->points = calloc(naxes ? n * naxes : 1, sizeof *r->points);
    r->errors = calloc(n, sizeof *r->errors);
    r->ofc = calloc(1, sizeof *r->ofc);
    r->rank = calloc(1, sizeof *r->rank);
    bool ok = r->ofc && r->rank && r->axis_names && r->axes && r->status && r->nmet && r->attempt &&
              r->metrics && r->points && r->errors;
    for (size_t a = 0; ok && a < naxes; a++) {
        r->axis_names[a] = strdup(axis_names[a]);
        ok = r->axis_names[a] != NULL;
    }
    if (!ok)
        bt_report_destroy(&r);
    return r;
}

void bt_report_destroy(bt_report_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_report_t *r = *self_p;
    for (size_t a = 0; a < r->naxes; a++) {
        if (r->axis_names)
            free(r->axis_names[a]);
        if (r->axes) {
            for (size_t i = 0; i < r->axes[a].nlabels; i++)
                free(r->axes[a].labels[i]);
            free(r->axes[a].labels);
        }
    }
    if (r->errors)
        for (uint64_t i = 0; i < r->njobs; i++)
            free(r->errors[i]);
    free(r->axis_names);
    free(r->axes);
    free(r->status);
    free(r->nmet);
    free(r->attempt);
    free(r->metrics);
    free(r->points);
    free(r->errors);
    free(r->blk);
    free(r->blk_n);
    if (r->ofc)
        free(r->ofc->logits);
    free(r->ofc);
    if (r->rank)
        free(r->rank->ids);
    free(r->rank);
    if (r->txt) {
        free(r->txt->buf);
        free(r->txt->at);
    }
    free(r->txt);
    free(r);
    *self_p = NULL;
}

bt_err_t bt_report_prerender(bt_report_t *r, size_t max_bytes)
{
    if (r->txt)
        return BT_OK;
    /* the most the rows can take: S_NMETRICS texts of < 40 bytes each */
    size_t cap = max_bytes < BT_REPORT_TEXTS_MAX ? max_bytes : BT_REPORT_TEXTS_MAX;
    if (r->njobs < cap / (S_NMETRICS * 40))
        cap = (size_t)r->njobs * S_NMETRICS * 40;
    s_texts_t *t = calloc(1, sizeof *t);
    uint32_t *at = t ? malloc((size_t)r->njobs * sizeof *at) : NULL;
    char *buf = at ? malloc(cap ? cap : 1) : NULL;
    if (!buf) {
        free(at);
        free(t);
        return BT_ENOMEM;
    }
    for (uint64_t i = 0; i < r->njobs; i++)
        at[i] = S_TEXTS_NONE;
    *t = (s_texts_t){.buf = buf, .cap = cap, .at = at};
    r->txt = t;
    return BT_OK;
}

uint64_t bt_report_prerendered(const bt_report_t *r)
{
    uint64_t n = 0;
    for (uint64_t i = 0; r->txt && i < r->njobs; i++)
        n += r->txt->at[i] != S_TEXTS_NONE;
    return n;
}

/* Row id's metric texts into r->txt (see s_texts_t); none when they do not fit. */
static void s_prerender_row(bt_report_t *r, uint64_t id)
{
    s_texts_t *t = r->txt;
    size_t nm = r->nmet[id];
    t->at[id] = S_TEXTS_NONE;
    if (t->len + nm * 40 > t->cap) /* bt_csvw_fmt_double: < 40 bytes each */
        return;
    size_t at = t->len;
    const double *row = &r->metrics[id * S_NMETRICS];
    for (size_t m = 0; m < nm; m++) {
        char *p = t->buf + t->len;
        bt_csvw_fmt_double(row[m], p, 40);
        t->len += strlen(p) + 1;
    }
    t->at[id] = (uint32_t)at;
}

/* Row id's prerendered texts (nmet of them), or NULL. */
static const char *s_texts_of(const bt_report_t *r, uint64_t id)
{
    return r->txt && r->txt->at[id] != S_TEXTS_NONE ? r->txt->buf + r->txt->at[id] : NULL;
}

bt_err_t bt_report_set_axis_labels(bt_report_t *r, size_t axis, size_t nlabels,
                                   const char *const *labels, bt_errbuf_t *eb)
{
    if (axis >= r->naxes)
        return bt_errf(eb, BT_EINVAL, "report: axis %zu out of range (%zu axes)", axis, r->naxes);
    s_axis_t *ax = &r->axes[axis];
    char **copy = calloc(nlabels ? nlabels : 1, sizeof *copy);
    if (!copy)
        return bt_errf(eb, BT_ENOMEM, "out of memory storing labels of axis %s",
                       r->axis_names[axis]);
    for (size_t i = 0; i < nlabels; i++) {
        copy[i] = strdup(labels[i]);
        if (!copy[i]) {
            for (size_t k = 0; k < i; k++)
                free(copy[k]);
            free(copy);
            return bt_errf(eb, BT_ENOMEM, "out of memory storing labels of axis %s",
                           r->axis_names[axis]);
        }
    }
    for (size_t i = 0; i < ax->nlabels; i++)
        free(ax->labels[i]);
    free(ax->labels);
    ax->labels = copy;
    ax->nlabels = nlabels;
    return BT_OK;
}

void bt_report_set_point(bt_report_t *r, uint64_t job_id, const double *axis_values)
{
    if (job_id >= r->njobs)
        return;
    if (r->naxes)
        memcpy(&r->points[job_id * r->naxes], axis_values, r->naxes * sizeof(double));
    r->status[job_id] |= S_HAS_POINT;
}

/* One block's (count, sum, sum of squares) as the report keeps it: float
 * mean and M2 (floored at 0). false when they are not valid numbers. */
static bool s_block_f32(double n, double sum, double sq, float *mean, float *m2)
{
    if (!(n >= 0) || !isfinite(sum) || !isfinite(sq))
        return false;
    double mu = n > 0 ? sum / n : 0.0;
    double q = n > 0 ? sq - sum * mu : 0.0;
    *mean = (float)mu;
    *m2 = (float)(q > 0 ? q : 0.0);
    return true;
}

/* Keeps job id's block statistics from rec (NULL: none) as float (mean, M2)
 * per block; a record whose block count differs from the first one seen is
 * kept without them. */
static void s_set_blocks(bt_report_t *r, uint64_t id, const bt_journal_rec_t *rec)
{
    if (r->blk_n)
        r->blk_n[id] = 0;
    if (!rec || rec->nblk == 0 || rec->nblk % 3 || rec->nblk > BT_JOURNAL_MAX_BLK)
        return;
    uint32_t s = rec->nblk / 3;
    if (s < 2 || s % 2)
        return;
    if (!r->blk_s) {
        if ((size_t)r->njobs > SIZE_MAX / (2u * s * sizeof(float)))
            return;
        r->blk = calloc((size_t)r->njobs * 2u * s, sizeof *r->blk);
        r->blk_n = calloc((size_t)r->njobs, sizeof *r->blk_n);
        if (!r->blk || !r->blk_n) { /* out of memory: no PBO, said in summary.txt */
            free(r->blk);
            free(r->blk_n);
            r->blk = NULL;
            r->blk_n = NULL;
            return;
        }
        r->blk_s = s;
    }
    if (s != r->blk_s)
        return;
    float *dst = &r->blk[id * 2u * s];
    double total = 0;
    for (uint32_t b = 0; b < s; b++) {
        double n = rec->blk[3 * b];
        float mean, m2;
        if (rec->blk_f32) {
            if (!(n >= 0))
                return;
            mean = (float)rec->blk[3 * b + 1];
            m2 = (float)rec->blk[3 * b + 2];
        } else if (!s_block_f32(n, rec->blk[3 * b + 1], rec->blk[3 * b + 2], &mean, &m2)) {
            return;
        }
        dst[2 * b] = mean;
        dst[2 * b + 1] = m2;
        total += n;
    }
    r->blk_n[id] = (uint64_t)total;
}

void bt_report_blocks_f32(bt_journal_rec_t *rec)
{
    if (rec->blk_f32 || rec->nblk == 0)
        return;
    if (rec->nblk % 3 || rec->nblk > BT_JOURNAL_MAX_BLK) {
        rec->nblk = 0;
        return;
    }
    for (uint32_t b = 0; b < rec->nblk / 3; b++) {
        float mean, m2;
        if (!s_block_f32(rec->blk[3 * b], rec->blk[3 * b + 1], rec->blk[3 * b + 2], &mean, &m2)) {
            rec->nblk = 0; /* as the report would: no block statistics */
            return;
        }
        rec->blk[3 * b + 1] = mean;
        rec->blk[3 * b + 2] = m2;
    }
    rec->blk_f32 = 1;
}

bool bt_report_set_result(bt_report_t *r, const bt_journal_rec_t *rec)
{
    if (rec->job_id >= r->njobs)
        return false;
    uint64_t id = rec->job_id;
    int cur = r->status[id] & S_STATUS_MASK;
    int neu = rec->ok ? S_OK : S_FAILED;
    bool take;
    if (cur == S_PENDING)
        take = true;
    else if (cur != neu)
        take = neu == S_OK; /* ok beats failed */
    else
        take = rec->attempt < r->attempt[id];
    if (!take)
        return true;
    free(r->errors[id]);
    r->errors[id] = NULL;
    if (neu == S_FAILED) {
        size_t el = strnlen(rec->error, sizeof rec->error - 1);
        r->errors[id] = strndup(rec->error, el);
        /* out of memory: the row still says failed, with an empty error */
    }
    size_t nm = rec->nmetrics < S_NMETRICS ? rec->nmetrics : S_NMETRICS;
    if (neu == S_FAILED)
        nm = 0;
    double *row = &r->metrics[id * S_NMETRICS];
    for (size_t i = 0; i < S_NMETRICS; i++)
        row[i] = i < nm ? rec->metrics[i] : 0.0;
    r->nmet[id] = (uint8_t)nm;
    s_set_blocks(r, id, neu == S_OK ? rec : NULL);
    r->attempt[id] = rec->attempt;
    r->gen++;
    r->status[id] = (uint8_t)((r->status[id] & S_HAS_POINT) | neu);
    if (r->txt && neu == S_OK)
        s_prerender_row(r, id);
    else if (r->txt)
        r->txt->at[id] = S_TEXTS_NONE;
    return true;
}

const char *bt_report_first_failure(const bt_report_t *r)
{
    static char buf[512];
    buf[0] = '\0';
    for (uint64_t i = 0; i < r->njobs; i++) {
        if ((r->status[i] & S_STATUS_MASK) != S_FAILED)
            continue;
        size_t used = 0;
        int w = snprintf(buf, sizeof buf, "job %llu (", (unsigned long long)i);
        used = w > 0 ? (size_t)w : 0;
        for (size_t a = 0; a < r->naxes && used < sizeof buf; a++) {
            char num[64];
            double v = r->points[i * r->naxes + a];
            const char *lab = s_label(r, a, v);
            w = snprintf(buf + used, sizeof buf - used, "%s%s=%s", a ? " " : "", r->axis_names[a],
                         lab ? lab : bt_csvw_fmt_double(v, num, sizeof num));
            used += w > 0 ? (size_t)w : 0;
        }
        if (used < sizeof buf)
            snprintf(buf + used, sizeof buf - used, "): %s", r->errors[i] ? r->errors[i] : "");
        break;
    }
    return buf;
}

void bt_report_counts(const bt_report_t *r, uint64_t *ok, uint64_t *failed, uint64_t *pending)
{
    uint64_t c[3] = {0, 0, 0};
    for (uint64_t i = 0; i < r->njobs; i++)
        c[r->status[i] & S_STATUS_MASK]++;
    if (ok)
        *ok = c[S_OK];
    if (failed)
        *failed = c[S_FAILED];
    if (pending)
        *pending = c[S_PENDING];
}

/* ---- ordering ---- */

typedef struct {
    const bt_report_t *r; /* rows */
    size_t metric;        /* rank_by index */
    bool descending;      /* direction of the metric */
} s_rank_ctx_t;


/* An ok row that takes part in the ranking (sweep.rank_min_trades). */
static bool s_rankable(const bt_report_t *r, uint64_t id)
{
    if ((r->status[id] & S_STATUS_MASK) != S_OK)
        return false;
    if (r->min_trades <= 0)
        return true;
    size_t m = (size_t)bt_metrics_find("trades");
    return s_has_metric(r, id, m) && r->metrics[id * S_NMETRICS + m] >= r->min_trades;
}

void bt_report_set_min_trades(bt_report_t *r, double min_trades)
{
    r->min_trades = min_trades > 0 ? min_trades : 0.0;
}


/* < 0 when row a ranks before row b. Missing or NaN metric values rank last in
 * either direction; then swept values ascending in axis order; then job id. */
static int s_rank_cmp(const s_rank_ctx_t *c, uint64_t a, uint64_t b)
{
    const bt_report_t *r = c->r;
    double va = s_has_metric(r, a, c->metric) ? r->metrics[a * S_NMETRICS + c->metric] : NAN;
    double vb = s_has_metric(r, b, c->metric) ? r->metrics[b * S_NMETRICS + c->metric] : NAN;
    bool na = isnan(va), nb = isnan(vb);
    if (na != nb)
        return na ? 1 : -1;
    if (!na) {
        if (va != vb)
            return (va < vb) == c->descending ? 1 : -1;
    }
    for (size_t k = 0; k < r->naxes; k++) {
        int d = s_cmp_double(r->points[a * r->naxes + k], r->points[b * r->naxes + k]);
        if (d != 0)
            return d;
    }
    return a < b ? -1 : (a > b ? 1 : 0);
}

/* Stable merge sort of ids (tmp has room for n). */
static void s_sort(const s_rank_ctx_t *c, uint64_t *ids, uint64_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    s_sort(c, ids, tmp, h);
    s_sort(c, ids + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = s_rank_cmp(c, ids[j], ids[i]) < 0 ? ids[j++] : ids[i++];
    while (i < h)
        tmp[k++] = ids[i++];
    while (j < n)
        tmp[k++] = ids[j++];
    memcpy(ids, tmp, n * sizeof *ids);
}

bool bt_report_best(const bt_report_t *r, size_t metric, bool descending, uint64_t *job_id,
                    double *value)
{
    if (metric >= S_NMETRICS)
        return false;
    s_rank_ctx_t c = {r, metric, descending};
    bool found = false;
    uint64_t best = 0;
    for (uint64_t i = 0; i < r->njobs; i++) {
        if (!s_rankable(r, i))
            continue;
        if (!found || s_rank_cmp(&c, i, best) < 0) {
            best = i;
            found = true;
        }
    }
    if (found) {
        if (job_id)
            *job_id = best;
        if (value)
            *value = s_has_metric(r, best, metric) ? r->metrics[best * S_NMETRICS + metric] : NAN;
    }
    return found;
}

/* ---- formatting ---- */

const char *bt_report_fmt_double(double v, char *buf, size_t size)
{
    return bt_csvw_fmt_double(v, buf, size);
}


uint64_t bt_report_table_rows(const bt_report_t *r, bt_report_table_t which);

/* Where a table's cells go: a CSV writer, the caller's cells (report.html),
 * or both (tee: the rows before tee_max also to c, each number formatted once). */
typedef struct {
    bt_csvw_t *w;               /* CSV, or NULL */
    const bt_report_cells_t *c; /* cells, or NULL */
    size_t tee_max;             /* with both: rows (the header counts as 0) given to c too */
    size_t row;                 /* rows so far (0: the header) */
} s_out_t;

static bool s_o_cells(const s_out_t *o)
{
    return o->c && (!o->w || o->row < o->tee_max + 1);
}

static void s_o_u64(const s_out_t *o, uint64_t v)
{
    char t[24], *p = t + sizeof t;
    *--p = '\0';
    uint64_t x = v;
    do
        *--p = (char)('0' + x % 10);
    while (x /= 10);
    if (o->w)
        bt_csvw_num_text(o->w, p);
    if (s_o_cells(o)) /* below 10^15 "%.15g" of the double is these digits */
        o->c->num(o->c->user, (double)v, v < 1000000000000000ull ? p : NULL);
}

static void s_o_double(const s_out_t *o, double v)
{
    char t[40];
    const char *text = NULL;
    if (o->w) {
        text = bt_csvw_fmt_double(v, t, sizeof t);
        bt_csvw_num_text(o->w, text);
    }
    if (s_o_cells(o))
        o->c->num(o->c->user, v, isfinite(v) ? text : NULL);
}

/* s_o_double with v's text already made (bt_csvw_fmt_double's). */
static void s_o_double_text(const s_out_t *o, double v, const char *text)
{
    if (o->w)
        bt_csvw_num_text(o->w, text);
    if (s_o_cells(o))
        o->c->num(o->c->user, v, isfinite(v) ? text : NULL);
}

static void s_o_str(const s_out_t *o, const char *s)
{
    if (o->w)
        bt_csvw_str(o->w, s);
    if (s_o_cells(o))
        o->c->text(o->c->user, s);
}

static void s_o_empty(const s_out_t *o)
{
    if (o->w)
        bt_csvw_empty(o->w);
    if (s_o_cells(o))
        o->c->text(o->c->user, "");
}

static void s_o_end(s_out_t *o)
{
    if (o->w)
        bt_csvw_end_row(o->w);
    if (s_o_cells(o))
        o->c->end_row(o->c->user);
    o->row++;
}

/* flag: the "ranked" column of results.csv when sweep.rank_min_trades is on. */
static void s_put_header(s_out_t *o, const bt_report_t *r, bool rank, bool flag)
{
    if (rank)
        s_o_str(o, "rank");
    s_o_str(o, "job_id");
    for (size_t a = 0; a < r->naxes; a++) {
        s_o_str(o, r->axis_names[a]);
        if (r->axes[a].nlabels) {
            char name[512];
            snprintf(name, sizeof name, "%s_index", r->axis_names[a]);
            s_o_str(o, name);
        }
    }
    for (size_t m = 0; m < S_NMETRICS; m++)
        s_o_str(o, s_metric_names[m]);
    s_o_str(o, "status");
    s_o_str(o, "error");
    if (flag)
        s_o_str(o, "ranked");
    s_o_end(o);
}

static void s_put_row(s_out_t *o, const bt_report_t *r, uint64_t id, uint64_t rank, bool flag)
{
    if (rank)
        s_o_u64(o, rank);
    s_o_u64(o, id);
    bool has_point = (r->status[id] & S_HAS_POINT) != 0;
    for (size_t a = 0; a < r->naxes; a++) {
        double v = r->points[id * r->naxes + a];
        const char *lab = has_point ? s_label(r, a, v) : NULL;
        if (!has_point)
            s_o_empty(o);
        else if (lab)
            s_o_str(o, lab);
        else
            s_o_double(o, v);
        if (r->axes[a].nlabels && has_point)
            s_o_double(o, v);
        else if (r->axes[a].nlabels)
            s_o_empty(o);
    }
    int st = r->status[id] & S_STATUS_MASK;
    const char *tx = st == S_OK ? s_texts_of(r, id) : NULL;
    for (size_t m = 0; m < S_NMETRICS; m++) {
        if (st == S_OK && m < r->nmet[id] && tx) {
            s_o_double_text(o, r->metrics[id * S_NMETRICS + m], tx);
            tx += strlen(tx) + 1;
        } else if (st == S_OK && m < r->nmet[id]) {
            s_o_double(o, r->metrics[id * S_NMETRICS + m]);
        } else {
            s_o_empty(o);
        }
    }
    s_o_str(o, st == S_OK ? "ok" : (st == S_FAILED ? "failed" : "pending"));
    if (st == S_FAILED && r->errors[id])
        s_o_str(o, r->errors[id]);
    else
        s_o_empty(o);
    if (flag)
        s_o_u64(o, s_rankable(r, id) ? 1 : 0);
    s_o_end(o);
}

static bt_err_t s_overfit(const bt_report_t *r, uint64_t first, uint64_t end,
                          bt_report_overfit_t *out, double **logits);

/* The whole sweep's figures from the cache (computed at most once per set
 * of results); *logits gets a copy when asked. */
static bt_err_t s_overfit_all(const bt_report_t *r, bt_report_overfit_t *out, double **logits)
{
    s_ofcache_t *c = r->ofc; /* the cache is not part of the report's value */
    if (logits)
        *logits = NULL;
    if (!c->valid || c->gen != r->gen) {
        free(c->logits);
        c->logits = NULL;
        s_overfit(r, 0, r->njobs, &c->o, &c->logits);
        c->valid = true;
        c->gen = r->gen;
    }
    *out = c->o;
    if (logits && c->logits && c->o.pbo_err == BT_OK) {
        size_t n = (size_t)c->o.pbo.splits;
        *logits = malloc((n ? n : 1) * sizeof **logits);
        if (*logits)
            memcpy(*logits, c->logits, n * sizeof **logits);
    }
    return out->dsr_err != BT_OK ? out->dsr_err : out->pbo_err;
}

bt_err_t bt_report_overfit(const bt_report_t *r, uint64_t first, uint64_t end,
                           bt_report_overfit_t *out)
{
    if (first == 0 && end >= r->njobs)
        return s_overfit_all(r, out, NULL);
    return s_overfit(r, first, end, out, NULL);
}

bt_err_t bt_report_pbo_logits(const bt_report_t *r, double **logits, size_t *n)
{
    bt_report_overfit_t o;
    s_overfit_all(r, &o, logits);
    *n = o.pbo_err == BT_OK && *logits ? (size_t)o.pbo.splits : 0;
    return o.pbo_err;
}

static bt_err_t s_overfit(const bt_report_t *r, uint64_t first, uint64_t end,
                          bt_report_overfit_t *out, double **logits)
{
    if (logits)
        *logits = NULL;
    memset(out, 0, sizeof *out);
    if (!r->blk_s) {
        out->dsr_err = out->pbo_err = BT_ENOTFOUND;
        snprintf(out->dsr_msg, sizeof out->dsr_msg,
                 "no per-block return statistics (report.pbo_blocks is 0, or no successful "
                 "runs)");
        bt_str_copy(out->pbo_msg, sizeof out->pbo_msg, out->dsr_msg);
        return BT_ENOTFOUND;
    }
    if (end > r->njobs)
        end = r->njobs;
    uint32_t S = r->blk_s;
    uint64_t nref = 0;
    size_t T = 0;
    for (uint64_t i = first; i < end; i++) {
        if ((r->status[i] & S_STATUS_MASK) != S_OK || !r->blk_n[i])
            continue;
        if (!nref) {
            nref = r->blk_n[i];
            out->ref_job = i;
        }
        if (r->blk_n[i] == nref)
            T++;
        else
            out->left_out++;
    }
    out->trials = T;
    out->nreturns = nref;
    double *sr = malloc((T ? T : 1) * sizeof *sr);
    uint64_t *ids = malloc((T ? T : 1) * sizeof *ids);
    /* Every row of the range a trial (the usual whole sweep): the report's
     * own block statistics are the trials' in order, no copy (136 MB at 1M). */
    bool whole = T == end - first && T > 0;
    float *stats = whole ? NULL : malloc((T ? T : 1) * 2u * S * sizeof *stats);
    double count[32];
    if (!sr || !ids || (!whole && !stats)) {
        free(sr);
        free(ids);
        free(stats);
        out->dsr_err = out->pbo_err = BT_ENOMEM;
        snprintf(out->dsr_msg, sizeof out->dsr_msg, "out of memory for %zu trials", T);
        bt_str_copy(out->pbo_msg, sizeof out->pbo_msg, out->dsr_msg);
        return BT_ENOMEM;
    }
    for (uint32_t b = 0; b < S; b++)
        count[b] = (double)((nref * (b + 1)) / S - (nref * b) / S);
    size_t k = 0, best = 0;
    for (uint64_t i = first; i < end && k < T; i++) {
        if ((r->status[i] & S_STATUS_MASK) != S_OK || r->blk_n[i] != nref)
            continue;
        const float *src = &r->blk[i * 2u * S];
        if (!whole)
            memcpy(&stats[k * 2u * S], src, 2u * S * sizeof *stats);
        double n = 0, s1 = 0, s2 = 0;
        for (uint32_t b = 0; b < S; b++) {
            double m = src[2 * b];
            n += count[b];
            s1 += count[b] * m;
            s2 += src[2 * b + 1] + count[b] * m * m;
        }
        sr[k] = bt_overfit_sharpe_sums(n, s1, s2);
        ids[k] = i;
        if (sr[k] > sr[best])
            best = k;
        k++;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    int isk = bt_metrics_find("skewness"), iku = bt_metrics_find("kurtosis");
    double skew = 0, kurt = 3;
    if (T) {
        out->best_job = ids[best];
        if (isk >= 0 && iku >= 0 && r->nmet[ids[best]] > (size_t)iku) {
            skew = r->metrics[ids[best] * S_NMETRICS + (size_t)isk];
            kurt = r->metrics[ids[best] * S_NMETRICS + (size_t)iku];
        }
    }
    out->dsr_err = bt_overfit_dsr(sr, T, best, (double)nref, skew, kurt, &out->dsr, &eb);
    if (out->dsr_err != BT_OK)
        bt_str_copy(out->dsr_msg, sizeof out->dsr_msg, eb.msg);
    bt_errbuf_clear(&eb);
    out->pbo_err = bt_overfit_pbo_logits(whole ? &r->blk[first * 2u * S] : stats, count, T, S,
                                         &out->pbo, logits, &eb);
    if (out->pbo_err != BT_OK)
        bt_str_copy(out->pbo_msg, sizeof out->pbo_msg, eb.msg);
    free(sr);
    free(ids);
    free(stats);
    return out->dsr_err != BT_OK ? out->dsr_err : out->pbo_err;
}

/* Opens DIR/NAME for an atomic write (a large buffer: reports run to MBs). */
static bt_err_t s_open(bt_fs_atomic_t *o, const char *dir, const char *name, char *path,
                       bt_errbuf_t *eb)
{
    int n = snprintf(path, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX)
        return bt_errf(eb, BT_EINVAL, "output folder path too long: %s", dir);
    bt_err_t e = bt_fs_atomic_open(o, path, eb);
    if (e == BT_OK)
        setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return e;
}

/* rank_by's index, or S_NMETRICS with eb set. */
static size_t s_metric_of(const char *rank_by, bt_errbuf_t *eb)
{
    for (size_t m = 0; m < S_NMETRICS; m++)
        if (rank_by && strcmp(rank_by, s_metric_names[m]) == 0)
            return m;
    char names[1024];
    size_t used = 0;
    names[0] = '\0';
    for (size_t m = 0; m < S_NMETRICS && used < sizeof names; m++) {
        int w = snprintf(names + used, sizeof names - used, "%s%s", m ? ", " : "",
                         s_metric_names[m]);
        if (w > 0)
            used += (size_t)w;
    }
    bt_errf(eb, BT_ECONFIG, "rank_by: unknown metric '%s'; use one of: %s",
            rank_by ? rank_by : "", names);
    return S_NMETRICS;
}

/* Ranks the rankable rows into the cache (kept while the rows do not change). */
static bt_err_t s_rank(const bt_report_t *r, size_t metric, bool descending, size_t top,
                       bt_errbuf_t *eb)
{
    s_rank_t *k = r->rank; /* the cache is not part of the report's value */
    if (k->valid && k->gen == r->gen && k->metric == metric && k->desc == descending) {
        k->top = top;
        return BT_OK;
    }
    size_t n = (size_t)r->njobs;
    free(k->ids);
    k->valid = false;
    k->ids = malloc(n * sizeof *k->ids);
    uint64_t *tmp = malloc(n * sizeof *tmp);
    if (!k->ids || !tmp) {
        free(k->ids);
        k->ids = NULL;
        free(tmp);
        return bt_errf(eb, BT_ENOMEM, "out of memory ranking %zu rows", n);
    }
    size_t nok = 0;
    for (uint64_t i = 0; i < r->njobs; i++)
        if (s_rankable(r, i))
            k->ids[nok++] = i;
    s_rank_ctx_t c = {r, metric, descending};
    s_sort(&c, k->ids, tmp, nok);
    free(tmp);
    *k = (s_rank_t){true, r->gen, metric, descending, top, k->ids, nok};
    return BT_OK;
}

/* Rows of ranking.csv. */
static size_t s_rank_rows(const bt_report_t *r)
{
    const s_rank_t *k = r->rank;
    return k->top && k->top < k->nok ? k->top : k->nok;
}

/* Header and rows [0, max_rows) of one table. */
static void s_put_table(s_out_t *o, const bt_report_t *r, bt_report_table_t which,
                        size_t max_rows)
{
    bool flag = which == BT_REPORT_RESULTS && r->min_trades > 0;
    if (s_o_cells(o) && o->c->begin)
        o->c->begin(o->c->user, bt_report_table_rows(r, which));
    s_put_header(o, r, which == BT_REPORT_RANKING, flag);
    if (which == BT_REPORT_RANKING) {
        size_t lim = s_rank_rows(r);
        for (size_t k = 0; k < lim && k < max_rows; k++)
            s_put_row(o, r, r->rank->ids[k], k + 1, false);
        return;
    }
    size_t done = 0;
    for (uint64_t i = 0; i < r->njobs && done < max_rows; i++) {
        if (which == BT_REPORT_FAILURES && (r->status[i] & S_STATUS_MASK) != S_FAILED)
            continue;
        s_put_row(o, r, i, 0, flag);
        done++;
    }
}

void bt_report_table_cells(const bt_report_t *r, bt_report_table_t which, size_t max_rows,
                           const bt_report_cells_t *cells)
{
    s_out_t o = {NULL, cells, 0, 0};
    s_put_table(&o, r, which, max_rows);
}

uint64_t bt_report_table_rows(const bt_report_t *r, bt_report_table_t which)
{
    if (which == BT_REPORT_RANKING)
        return r->rank->valid ? s_rank_rows(r) : 0;
    uint64_t failed = 0;
    if (which == BT_REPORT_FAILURES)
        bt_report_counts(r, NULL, &failed, NULL);
    return which == BT_REPORT_FAILURES ? failed : r->njobs;
}

bt_err_t bt_report_table_csv(const bt_report_t *r, bt_report_table_t which, size_t max_rows,
                             bt_csvw_t *w)
{
    s_out_t o = {w, NULL, 0, 0};
    s_put_table(&o, r, which, max_rows);
    return bt_csvw_error(w);
}

bt_err_t bt_report_rank(const bt_report_t *r, const char *rank_by, bool descending, size_t top,
                        bt_errbuf_t *eb)
{
    size_t metric = s_metric_of(rank_by, eb);
    return metric == S_NMETRICS ? BT_ECONFIG : s_rank(r, metric, descending, top, eb);
}

bt_err_t bt_report_write_tables(const bt_report_t *r, const char *dir, const char *rank_by,
                                bool descending, size_t top, const bt_report_tee_t *tee,
                                bt_errbuf_t *eb)
{
    size_t metric = s_metric_of(rank_by, eb);
    if (metric == S_NMETRICS)
        return BT_ECONFIG;
    bt_err_t e = s_rank(r, metric, descending, top, eb);
    static const char *const names[] = {"results.csv", "ranking.csv", "failures.csv"};
    for (int t = 0; e == BT_OK && t < 3; t++) {
        bt_fs_atomic_t o = {0};
        char path[PATH_MAX];
        e = s_open(&o, dir, names[t], path, eb);
        if (e != BT_OK)
            break;
        bt_csvw_t w;
        bt_csvw_init_file(&w, o.f);
        const bt_report_cells_t *c = !tee                       ? NULL
                                     : t == BT_REPORT_RESULTS ? tee->results
                                     : t == BT_REPORT_RANKING ? tee->ranking
                                                              : NULL;
        s_out_t out = {&w, c, tee ? tee->max_rows : 0, 0};
        s_put_table(&out, r, (bt_report_table_t)t, SIZE_MAX);
        e = bt_fs_atomic_commit(&o, eb);
        bt_fs_atomic_abort(&o);
    }
    return e;
}

bt_err_t bt_report_write_summary(const bt_report_t *r, const char *dir,
                                 const bt_report_summary_t *summary, bt_errbuf_t *eb)
{
    const s_rank_t *k = r->rank;
    if (!k->valid || k->gen != r->gen)
        return bt_errf(eb, BT_EINVAL, "report: summary.txt before the tables were written");
    bt_fs_atomic_t o = {0};
    char path[PATH_MAX];
    bt_err_t e = s_open(&o, dir, "summary.txt", path, eb);
    if (e == BT_OK) {
        bt_report_put_summary(o.f, r, summary, s_metric_names[k->metric], k->desc, k->ids, k->nok,
                        k->metric, k->top);
        e = bt_fs_atomic_commit(&o, eb);
    }
    bt_fs_atomic_abort(&o);
    return e;
}

bt_err_t bt_report_write(const bt_report_t *r, const char *dir, const char *rank_by,
                         bool descending, size_t top, const bt_report_summary_t *summary,
                         bt_errbuf_t *eb)
{
    bt_err_t e = bt_report_write_tables(r, dir, rank_by, descending, top, NULL, eb);
    if (e == BT_OK && summary)
        e = bt_report_write_summary(r, dir, summary, eb);
    return e;
}

void bt_report_overfit_warm(const bt_report_t *r)
{
    bt_report_overfit_t o;
    s_overfit_all(r, &o, NULL);
}
