/* bt_report_impl.h — private to coordinator/report/bt_report*.c: the report's
 * storage, shared by bt_report.c (rows, ranking, tables) and
 * bt_report_summary.c (summary.txt). Not for other modules. */
#ifndef BT_REPORT_IMPL_H
#define BT_REPORT_IMPL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bt_metrics.h"
#include "bt_report.h"

#define S_PENDING 0
#define S_OK 1
#define S_FAILED 2
#define S_STATUS_MASK 0x03
#define S_HAS_POINT 0x80   /* set_point was called */
#define S_TOP_SUMMARY 10      /* rows in summary.txt's table when top is 0 (all) */
#define S_TOP_SUMMARY_MAX 100 /* most rows in it (top says how many) */
#define S_ERRORS_SUMMARY 5 /* failures listed in summary.txt */

static const char *const s_metric_names[] __attribute__((unused)) = {
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
    struct s_rank *rank;   /* the ranking bt_report_write_tables last wrote */
    struct s_texts *txt;   /* metric texts made as results arrive (bt_report_prerender), or NULL */
};

/* The CSV text of each kept ok row's metrics, made when its result arrives
 * (while the workers run, on a core that is mostly idle) so writing the
 * tables at the end of the sweep copies text instead of formatting doubles:
 * per row, nmet NUL-terminated texts of bt_csvw_fmt_double, back to back. */
#define S_TEXTS_NONE UINT32_MAX
typedef struct s_texts {
    char *buf;    /* the texts */
    size_t len;   /* bytes used */
    size_t cap;   /* bytes reserved (<= BT_REPORT_TEXTS_MAX); rows past it: none */
    uint32_t *at; /* per job: offset of its texts in buf, or S_TEXTS_NONE */
} s_texts_t;

/* The ranking of the last bt_report_write_tables, for the summary and for
 * report.html's tables from memory. */
typedef struct s_rank {
    bool valid;    /* ids belong to gen */
    uint64_t gen;  /* bt_report.gen they were ranked at */
    size_t metric; /* rank_by index */
    bool desc;     /* its direction */
    size_t top;    /* ranking.csv's row limit (0 = all) */
    uint64_t *ids; /* the rankable rows, best first */
    size_t nok;    /* how many */
} s_rank_t;

/* summary.txt and pbo_logits.csv ask for the same PBO: compute it once. */
typedef struct s_ofcache {
    bool valid;            /* o and logits belong to gen */
    uint64_t gen;          /* bt_report.gen they were computed at */
    bt_report_overfit_t o; /* over [0, njobs) */
    double *logits;        /* o.pbo.splits ascending, or NULL */
} s_ofcache_t;


static inline bool s_has_metric(const bt_report_t *r, uint64_t id, size_t m)
{
    return (r->status[id] & S_STATUS_MASK) == S_OK && m < r->nmet[id];
}

/* Total order on doubles for tie-breaks: NaN after every number. */
static inline int s_cmp_double(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na == nb ? 0 : (na ? 1 : -1);
    return a < b ? -1 : (a > b ? 1 : 0);
}

/* The label value v of axis prints as, or NULL (a number). */
static inline const char *s_label(const bt_report_t *r, size_t axis, double v)
{
    const s_axis_t *ax = &r->axes[axis];
    if (ax->nlabels == 0 || !(v >= 0.0) || v >= (double)ax->nlabels || v != floor(v))
        return NULL;
    return ax->labels[(size_t)v];
}

/* summary.txt (bt_report_summary.c): ranked = the ranking's ids, best first. */
void bt_report_put_summary(FILE *f, const bt_report_t *r, const bt_report_summary_t *s,
                           const char *rank_by, bool descending, const uint64_t *ranked,
                           size_t nranked, size_t rank_metric, size_t top);

#endif
