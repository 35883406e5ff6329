/* bt_report_summary — DIR/summary.txt of a sweep (docs/sweep.md "Report"),
 * from the report's rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_csvw.h"
#include "bt_report_impl.h"

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
                else /* as swept, all digits: the row must name its point exactly */
                    bt_csvw_fmt_double(v, cell[row][c++], 72);
            }
            for (size_t k = 0; k < nm; k++) {
                double v = r->metrics[id * S_NMETRICS + mcols[k]];
                if (s_has_metric(r, id, mcols[k])) /* 6 figures; whole numbers (trades) in full */
                    snprintf(cell[row][c++], 72,
                             fabs(v) < 1e12 && v == (double)(long long)v ? "%.0f" : "%.6g", v);
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

void bt_report_put_summary(FILE *f, const bt_report_t *r, const bt_report_summary_t *s,
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
