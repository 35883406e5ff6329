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

#define S_PENDING 0
#define S_OK 1
#define S_FAILED 2
#define S_STATUS_MASK 0x03
#define S_HAS_POINT 0x80   /* set_point was called */
#define S_TOP_SUMMARY 10      /* rows in summary.txt's table when top is 0 (all) */
#define S_TOP_SUMMARY_MAX 100 /* most rows in it (top says how many) */
#define S_ERRORS_SUMMARY 5 /* failures listed in summary.txt */

static const char *const s_metric_names[] = {
#define S_METRIC_NAME(name, desc) #name,
    BT_METRICS(S_METRIC_NAME)
#undef S_METRIC_NAME
};
#define S_NMETRICS (sizeof s_metric_names / sizeof s_metric_names[0])

typedef struct {
    char **labels;  /* nlabels strings, NULL for a numeric axis */
    size_t nlabels; /* 0 for a numeric axis */
} s_axis_t;

struct bt_report {
    uint64_t njobs;    /* rows */
    size_t naxes;      /* swept keys */
    char **axis_names; /* naxes copies */
    s_axis_t *axes;    /* naxes label tables */
    uint8_t *status;   /* per job: S_PENDING/S_OK/S_FAILED | S_HAS_POINT */
    uint8_t *nmet;     /* per job: metrics present (<= S_NMETRICS) */
    uint32_t *attempt; /* per job: attempt of the kept record */
    double *metrics;   /* njobs x S_NMETRICS */
    double *points;    /* njobs x naxes */
    char **errors;     /* per job: error text of a failed row, or NULL */
    /* PBO block statistics (docs/overfitting.md), allocated with the first
     * result that carries them: */
    uint32_t blk_s;    /* blocks S (0 = none seen yet) */
    float *blk;        /* njobs x S x (mean, M2) of each block's returns */
    uint64_t *blk_n;   /* per job: returns over all blocks; 0 = no block statistics */
    double min_trades; /* sweep.rank_min_trades: rows with fewer trades are not ranked; 0 = off */
    uint64_t gen;      /* bumped by every kept result: invalidates the overfit cache */
    struct s_ofcache *ofc; /* the whole sweep's DSR/PBO, computed once per gen */
};

/* summary.txt and pbo_logits.csv ask for the same PBO: compute it once. */
typedef struct s_ofcache {
    bool valid;            /* o and logits belong to gen */
    uint64_t gen;          /* bt_report.gen they were computed at */
    bt_report_overfit_t o; /* over [0, njobs) */
    double *logits;        /* o.pbo.splits ascending, or NULL */
} s_ofcache_t;

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
    bool ok = r->ofc && r->axis_names && r->axes && r->status && r->nmet && r->attempt &&
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
    free(r);
    *self_p = NULL;
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
    return true;
}

static const char *s_label(const bt_report_t *r, size_t axis, double v);

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

static bool s_has_metric(const bt_report_t *r, uint64_t id, size_t m)
{
    return (r->status[id] & S_STATUS_MASK) == S_OK && m < r->nmet[id];
}

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

/* Total order on doubles for tie-breaks: NaN after every number. */
static int s_cmp_double(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na == nb ? 0 : (na ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
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

static const char *s_label(const bt_report_t *r, size_t axis, double v)
{
    const s_axis_t *ax = &r->axes[axis];
    if (ax->nlabels == 0 || !(v >= 0.0) || v >= (double)ax->nlabels || v != floor(v))
        return NULL;
    return ax->labels[(size_t)v];
}

/* flag: the "ranked" column of results.csv when sweep.rank_min_trades is on. */
static void s_put_header(bt_csvw_t *w, const bt_report_t *r, bool rank, bool flag)
{
    if (rank)
        bt_csvw_str(w, "rank");
    bt_csvw_str(w, "job_id");
    for (size_t a = 0; a < r->naxes; a++) {
        bt_csvw_str(w, r->axis_names[a]);
        if (r->axes[a].nlabels) {
            char name[512];
            snprintf(name, sizeof name, "%s_index", r->axis_names[a]);
            bt_csvw_str(w, name);
        }
    }
    for (size_t m = 0; m < S_NMETRICS; m++)
        bt_csvw_str(w, s_metric_names[m]);
    bt_csvw_str(w, "status");
    bt_csvw_str(w, "error");
    if (flag)
        bt_csvw_str(w, "ranked");
    bt_csvw_end_row(w);
}

static void s_put_row(bt_csvw_t *w, const bt_report_t *r, uint64_t id, uint64_t rank, bool flag)
{
    if (rank)
        bt_csvw_u64(w, rank);
    bt_csvw_u64(w, id);
    bool has_point = (r->status[id] & S_HAS_POINT) != 0;
    for (size_t a = 0; a < r->naxes; a++) {
        double v = r->points[id * r->naxes + a];
        const char *lab = has_point ? s_label(r, a, v) : NULL;
        if (!has_point)
            bt_csvw_empty(w);
        else if (lab)
            bt_csvw_str(w, lab);
        else
            bt_csvw_double(w, v);
        if (r->axes[a].nlabels && has_point)
            bt_csvw_double(w, v);
        else if (r->axes[a].nlabels)
            bt_csvw_empty(w);
    }
    int st = r->status[id] & S_STATUS_MASK;
    for (size_t m = 0; m < S_NMETRICS; m++) {
        if (st == S_OK && m < r->nmet[id])
            bt_csvw_double(w, r->metrics[id * S_NMETRICS + m]);
        else
            bt_csvw_empty(w);
    }
    bt_csvw_str(w, st == S_OK ? "ok" : (st == S_FAILED ? "failed" : "pending"));
    if (st == S_FAILED && r->errors[id])
        bt_csvw_str(w, r->errors[id]);
    else
        bt_csvw_empty(w);
    if (flag)
        bt_csvw_i64(w, s_rankable(r, id) ? 1 : 0);
    bt_csvw_end_row(w);
}

/* ---- summary.txt ---- */

static const char *s_or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static size_t s_count_distinct(const bt_report_t *r, size_t axis, double *tmp)
{
    size_t n = 0;
    for (uint64_t i = 0; i < r->njobs; i++)
        if (r->status[i] & S_HAS_POINT)
            tmp[n++] = r->points[i * r->naxes + axis];
    for (size_t gap = n / 2; gap > 0; gap /= 2) /* shell sort */
        for (size_t i = gap; i < n; i++) {
            double v = tmp[i];
            size_t j = i;
            while (j >= gap && s_cmp_double(tmp[j - gap], v) > 0) {
                tmp[j] = tmp[j - gap];
                j -= gap;
            }
            tmp[j] = v;
        }
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || s_cmp_double(tmp[i - 1], tmp[i]) != 0)
            d++;
    return d;
}

#define S_TCOLS (2 + BT_REPORT_MAX_AXES + 6)

static void s_write_top_table(FILE *f, const bt_report_t *r, const uint64_t *ids, size_t n,
                              size_t rank_metric, size_t limit)
{
    /* columns: rank, job_id, axes, rank_by, then a few headline metrics */
    static const char *const headline[] = {"total_return", "cagr", "sharpe", "max_drawdown",
                                           "trades"};
    size_t mcols[6];
    size_t nm = 0;
    mcols[nm++] = rank_metric;
    for (size_t h = 0; h < sizeof headline / sizeof headline[0]; h++)
        for (size_t m = 0; m < S_NMETRICS; m++)
            if (strcmp(s_metric_names[m], headline[h]) == 0 && m != rank_metric)
                mcols[nm++] = m;
    size_t ncols = 2 + r->naxes + nm;
    size_t width[S_TCOLS] = {0};
    size_t rows = n < limit ? n : limit;
    char(*cell)[S_TCOLS][72] = malloc((rows + 1) * sizeof *cell); /* 5.5 KiB a row */
    if (!cell) {
        fprintf(f, "  (out of memory for the table)\n");
        return;
    }
    for (size_t row = 0; row <= rows; row++) {
        size_t c = 0;
        uint64_t id = row ? ids[row - 1] : 0;
        if (row == 0) {
            snprintf(cell[0][c++], 72, "rank");
            snprintf(cell[0][c++], 72, "job_id");
            for (size_t a = 0; a < r->naxes; a++)
                snprintf(cell[0][c++], 72, "%s", r->axis_names[a]);
            for (size_t k = 0; k < nm; k++)
                snprintf(cell[0][c++], 72, "%s", s_metric_names[mcols[k]]);
        } else {
            snprintf(cell[row][c++], 72, "%zu", row);
            snprintf(cell[row][c++], 72, "%llu", (unsigned long long)id);
            for (size_t a = 0; a < r->naxes; a++) {
                double v = r->points[id * r->naxes + a];
                const char *lab = s_label(r, a, v);
                if (lab)
                    snprintf(cell[row][c++], 72, "%s", lab);
                else
                    snprintf(cell[row][c++], 72, "%.6g", v);
            }
            for (size_t k = 0; k < nm; k++) {
                if (s_has_metric(r, id, mcols[k]))
                    snprintf(cell[row][c++], 72, "%.6g", r->metrics[id * S_NMETRICS + mcols[k]]);
                else
                    snprintf(cell[row][c++], 72, "-");
            }
        }
        for (size_t k = 0; k < ncols; k++) {
            size_t l = strlen(cell[row][k]);
            if (l > width[k])
                width[k] = l;
        }
    }
    for (size_t row = 0; row <= rows; row++) {
        for (size_t k = 0; k < ncols; k++)
            fprintf(f, "%s%*s", k ? "  " : "  ", (int)width[k], cell[row][k]);
        fputc('\n', f);
    }
    free(cell);
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

/* The deflated Sharpe ratio and PBO lines of summary.txt
 * (docs/overfitting.md): bt_report_overfit over every job, or a pointer to
 * the per-set figures when the caller splits the jobs into trial sets. */
static void s_write_overfit(FILE *f, const bt_report_t *r, uint64_t set_size)
{
    fprintf(f, "overfitting:   (how to read: docs/overfitting.md)\n");
    if (set_size > 0 && set_size < r->njobs) {
        fprintf(f,
                "  deflated Sharpe, PBO: computed per window -- each window's training sweep "
                "(%llu jobs) is its own trial set; pooling windows would mix different "
                "periods. See the walk-forward section below (written once every window's "
                "training jobs are done) and is_dsr, is_pbo in walkforward.csv\n",
                (unsigned long long)set_size);
        return;
    }
    bt_report_overfit_t o;
    bt_report_overfit(r, 0, r->njobs, &o);
    if (o.dsr_err == BT_ENOTFOUND) {
        fprintf(f, "  deflated Sharpe: n/a -- %s\n", o.dsr_msg);
        fprintf(f, "  PBO: n/a -- same reason\n");
        return;
    }
    if (o.dsr_err == BT_OK)
        fprintf(f,
                "  deflated Sharpe %.3f -- probability that the best trial (job %llu, Sharpe "
                "%.4g per step over %llu returns) beats %.4g, what the best of %llu zero-skill "
                "trials would show by luck; below 0.95 the winner is not significant\n",
                o.dsr.dsr, (unsigned long long)o.best_job, o.dsr.sr_best,
                (unsigned long long)o.nreturns, o.dsr.sr0, (unsigned long long)o.trials);
    else
        fprintf(f, "  deflated Sharpe: n/a -- %s\n", o.dsr_msg);
    if (o.pbo_err == BT_OK)
        fprintf(f,
                "  PBO %.3f over %llu%s CSCV splits of %u blocks -- the chance that the "
                "in-sample best trial is at or below the median out of sample; above 0.5 the "
                "selection is overfit (median logit %.3f; the in-sample best loses money out of "
                "sample in %.1f%% of splits)\n",
                o.pbo.pbo, (unsigned long long)o.pbo.splits, o.pbo.sampled ? " sampled" : "",
                o.pbo.blocks, o.pbo.median_logit, 100.0 * o.pbo.prob_oos_loss);
    else
        fprintf(f, "  PBO: n/a -- %s\n", o.pbo_msg);
    if (o.left_out)
        fprintf(f, "  (%llu trials left out: a different number of returns than job %llu)\n",
                (unsigned long long)o.left_out, (unsigned long long)o.ref_job);
}

static void s_write_summary(FILE *f, const bt_report_t *r, const bt_report_summary_t *s,
                            const char *rank_by, bool descending, const uint64_t *ranked,
                            size_t nranked, size_t rank_metric, size_t top)
{
    double *tmp = malloc((size_t)r->njobs * sizeof *tmp);
    uint64_t ok, failed, pending;
    bt_report_counts(r, &ok, &failed, &pending);
    fprintf(f, "Back Tester sweep summary\n\n");
    fprintf(f, "config:        %s (sha256 %s)\n", s_or_dash(s->config_path),
            s_or_dash(s->config_sha256));
    fprintf(f, "data:          %s (hash %s)\n", s_or_dash(s->data_store), s_or_dash(s->data_hash));
    fprintf(f, "bt version:    %s\n", s_or_dash(s->bt_version));
    fprintf(f, "strategy:      %s\n", s_or_dash(s->strategy));
    fprintf(f, "grid:          %llu points", (unsigned long long)r->njobs);
    for (size_t a = 0; a < r->naxes; a++)
        if (tmp)
            fprintf(f, "%s%s (%zu values)", a ? " x " : " = ", r->axis_names[a],
                    s_count_distinct(r, a, tmp));
    free(tmp);
    fprintf(f, "\nranked by:     %s (%s)\n", rank_by, descending ? "descending" : "ascending");
    if (r->min_trades > 0) {
        uint64_t nok = 0;
        for (uint64_t i = 0; i < r->njobs; i++)
            nok += (r->status[i] & S_STATUS_MASK) == S_OK;
        fprintf(f, "rank filter:   %llu of %llu ok points have fewer than %.0f trades and are not "
                   "ranked (sweep.rank_min_trades; ranked = 0 in results.csv)\n",
                (unsigned long long)(nok - nranked), (unsigned long long)nok, r->min_trades);
    }
    fprintf(f, "wall time:     %.3f s\n", s->wall_s);
    double bps = s->wall_s > 0 ? (double)s->jobs_run / s->wall_s : 0.0;
    double eps = s->wall_s > 0 ? (double)s->bars_run / s->wall_s : 0.0;
    fprintf(f,
            "throughput:    %.1f backtests/s, %.4g bar-events/s (%llu jobs, %llu bar events "
            "this session)\n",
            bps, eps, (unsigned long long)s->jobs_run, (unsigned long long)s->bars_run);
    fprintf(f, "resumed:       %llu jobs taken from the journal\n",
            (unsigned long long)s->jobs_resumed);
    fprintf(f, "workers seen:  %u\n", s->workers_seen);
    if (s->peak_rss_mb > 0)
        fprintf(f, "memory:        coordinator peak RSS %.1f MB up to the last result\n",
                s->peak_rss_mb);
    fprintf(f, "results:       %llu ok, %llu failed, %llu pending\n", (unsigned long long)ok,
            (unsigned long long)failed, (unsigned long long)pending);
    fprintf(f, "retries:       %llu failed attempts retried, %llu leases requeued\n",
            (unsigned long long)s->retries, (unsigned long long)s->requeued);
    if (failed) {
        fprintf(f, "failures (first %d by job id; all in failures.csv):\n", S_ERRORS_SUMMARY);
        int shown = 0;
        for (uint64_t i = 0; i < r->njobs && shown < S_ERRORS_SUMMARY; i++) {
            if ((r->status[i] & S_STATUS_MASK) != S_FAILED)
                continue;
            fprintf(f, "  job %llu: %s\n", (unsigned long long)i, r->errors[i] ? r->errors[i] : "");
            shown++;
        }
    }
    s_write_overfit(f, r, s->trial_set_size);
    size_t limit = !top ? S_TOP_SUMMARY : top < S_TOP_SUMMARY_MAX ? top : S_TOP_SUMMARY_MAX;
    fprintf(f, "\ntop %zu by %s:\n", limit, rank_by);
    if (nranked == 0)
        fprintf(f, "  (no successful runs)\n");
    else
        s_write_top_table(f, r, ranked, nranked, rank_metric, limit);
    if (s->tail)
        s->tail(f, s->tail_user);
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

bt_err_t bt_report_write(const bt_report_t *r, const char *dir, const char *rank_by,
                         bool descending, size_t top, const bt_report_summary_t *summary,
                         bt_errbuf_t *eb)
{
    size_t metric = S_NMETRICS;
    for (size_t m = 0; m < S_NMETRICS; m++)
        if (rank_by && strcmp(rank_by, s_metric_names[m]) == 0)
            metric = m;
    if (metric == S_NMETRICS) {
        char names[1024];
        size_t used = 0;
        names[0] = '\0';
        for (size_t m = 0; m < S_NMETRICS && used < sizeof names; m++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", m ? ", " : "",
                             s_metric_names[m]);
            if (w > 0)
                used += (size_t)w;
        }
        return bt_errf(eb, BT_ECONFIG, "rank_by: unknown metric '%s'; use one of: %s",
                       rank_by ? rank_by : "", names);
    }
    size_t n = (size_t)r->njobs;
    uint64_t *ids = malloc(n * sizeof *ids);
    uint64_t *tmp = malloc(n * sizeof *tmp);
    if (!ids || !tmp) {
        free(ids);
        free(tmp);
        return bt_errf(eb, BT_ENOMEM, "out of memory ranking %zu rows", n);
    }
    size_t nok = 0;
    for (uint64_t i = 0; i < r->njobs; i++)
        if (s_rankable(r, i))
            ids[nok++] = i;
    s_rank_ctx_t c = {r, metric, descending};
    s_sort(&c, ids, tmp, nok);

    bt_fs_atomic_t o = {0};
    char path[PATH_MAX];
    bt_err_t e = s_open(&o, dir, "results.csv", path, eb);
    bt_csvw_t w;
    if (e == BT_OK) {
        bt_csvw_init_file(&w, o.f);
        s_put_header(&w, r, false, r->min_trades > 0);
        for (uint64_t i = 0; i < r->njobs; i++)
            s_put_row(&w, r, i, 0, r->min_trades > 0);
        e = bt_fs_atomic_commit(&o, eb);
    }
    if (e == BT_OK)
        e = s_open(&o, dir, "ranking.csv", path, eb);
    if (e == BT_OK) {
        size_t lim = top && top < nok ? top : nok;
        bt_csvw_init_file(&w, o.f);
        s_put_header(&w, r, true, false);
        for (size_t k = 0; k < lim; k++)
            s_put_row(&w, r, ids[k], k + 1, false);
        e = bt_fs_atomic_commit(&o, eb);
    }
    if (e == BT_OK) /* failed rows only, same columns; header alone when none failed */
        e = s_open(&o, dir, "failures.csv", path, eb);
    if (e == BT_OK) {
        bt_csvw_init_file(&w, o.f);
        s_put_header(&w, r, false, false);
        for (uint64_t i = 0; i < r->njobs; i++)
            if ((r->status[i] & S_STATUS_MASK) == S_FAILED)
                s_put_row(&w, r, i, 0, false);
        e = bt_fs_atomic_commit(&o, eb);
    }
    if (e == BT_OK && summary)
        e = s_open(&o, dir, "summary.txt", path, eb);
    if (e == BT_OK && summary) {
        s_write_summary(o.f, r, summary, rank_by, descending, ids, nok, metric, top);
        e = bt_fs_atomic_commit(&o, eb);
    }
    bt_fs_atomic_abort(&o);
    free(ids);
    free(tmp);
    return e;
}
