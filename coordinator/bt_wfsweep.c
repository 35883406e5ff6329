#define _XOPEN_SOURCE 700 /* realpath */
#include "bt_wfsweep.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_config.h"
#include "bt_fs.h"
#include "bt_engine.h"
#include "bt_grid.h"
#include "bt_journal.h"
#include "bt_log.h"
#include "bt_metrics.h"
#include "bt_report.h"
#include "bt_sched.h"
#include "bt_store.h"
#include "bt_sweep.h"
#include "bt_time.h"
#include "bt_wf.h"


/* One training job as the journal left it (what window selection needs). */
typedef struct {
    bool ok;        /* an ok record exists */
    double rank;    /* rank_by metric */
    double cagr;    /* in-sample annualised return */
} s_job_t;

/* Outcome of one window. */
typedef struct {
    bool chosen;            /* some training job was ok */
    uint64_t job;           /* chosen job id */
    bool tested;            /* the test run succeeded */
    double start_equity, end_equity;
    bt_metrics_t oos;       /* metrics of the test run */
    char error[1024];       /* why the test run failed, "" */
} s_win_t;

typedef struct {
    const bt_grid_t *grid;
    const uint64_t *raw;    /* point -> raw grid index */
    size_t *idx;            /* scratch: naxes indices */
    uint64_t npoints;
} s_points_t;

typedef struct {
    bt_sched_t *sched;
    bt_report_t *report;
    s_job_t *jobs;
    uint64_t njobs;
    uint64_t replayed;
    int rank_metric, cagr_metric;
} s_replay_t;

/* Views of cfg's symbols (every symbol of ds when "all"). */
static bt_err_t s_pick(const bt_config_t *cfg, const bt_dataset_t *ds, bt_series_t **out,
                       size_t *nout, bt_errbuf_t *eb)
{
    size_t n = 0;
    const char *const *names = bt_config_symbols(cfg, &n);
    bt_err_t rc = bt_dataset_pick(ds, names, n, out, nout, eb);
    if (rc == BT_ENOTFOUND) {
        char msg[sizeof eb->msg];
        bt_str_copy(msg, sizeof msg, eb->msg);
        bt_errf(eb, rc, "%s: %s", bt_config_path(cfg), msg);
    }
    return rc;
}

static void s_point(void *user, uint64_t job_id, double *values)
{
    s_points_t *p = user;
    uint64_t w = job_id / p->npoints, pt = job_id % p->npoints;
    values[0] = (double)w;
    bt_grid_point(p->grid, p->raw[pt], p->idx);
    size_t naxes = bt_grid_naxes(p->grid);
    for (size_t a = 0; a < naxes; a++)
        values[a + 1] = bt_grid_axis_is_symbols(p->grid, a)
                            ? (double)p->idx[a]
                            : bt_grid_axis_value(p->grid, a, p->idx[a]);
}

static void s_on_replay(void *user, const bt_journal_rec_t *r)
{
    s_replay_t *rp = user;
    if (r->job_id >= rp->njobs)
        return;
    if (rp->sched && bt_sched_mark_done(rp->sched, r->job_id, r->ok != 0))
        rp->replayed++;
    if (rp->report)
        bt_report_set_result(rp->report, r);
    s_job_t *j = &rp->jobs[r->job_id];
    if (r->ok && !j->ok && (size_t)rp->rank_metric < r->nmetrics) {
        j->ok = true;
        j->rank = r->metrics[rp->rank_metric];
        j->cagr = (size_t)rp->cagr_metric < r->nmetrics ? r->metrics[rp->cagr_metric] : NAN;
    }
}

/* Whether job a ranks before job b: better metric (NaN last), then swept
 * values ascending, then job id -- the ranking.csv order. */
static bool s_better(const s_job_t *jobs, s_points_t *pts, double *va, double *vb, size_t nv,
                     bool desc, uint64_t a, uint64_t b)
{
    double x = jobs[a].rank, y = jobs[b].rank;
    bool xn = isnan(x), yn = isnan(y);
    if (xn != yn)
        return yn;
    if (!xn && x != y)
        return desc ? x > y : x < y;
    s_point(pts, a, va);
    s_point(pts, b, vb);
    for (size_t i = 1; i < nv; i++)
        if (va[i] != vb[i])
            return va[i] < vb[i];
    return a < b;
}

/* Writes path.tmp via fn, fsyncs and renames it to path. */
static bt_err_t s_write_atomic(const char *dir, const char *name,
                               void (*fn)(FILE *f, void *user), void *user, bt_errbuf_t *eb)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return bt_errf(eb, BT_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fn(f, user);
    bool bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    bad = fclose(f) != 0 || bad;
    if (bad || rename(tmp, path) != 0)
        return bt_errf(eb, BT_EIO, "cannot write %s: %s", path, strerror(errno));
    return BT_OK;
}

/* Everything the report writers need. */
typedef struct {
    const bt_config_t *cfg;
    const bt_grid_t *grid;
    s_points_t *pts;
    const bt_wf_spec_t *spec;
    const bt_wf_window_t *win;
    size_t nwin;
    s_win_t *res;
    const s_job_t *jobs;
    const bt_recorder_t *rec;  /* nwin recorders of the test runs */
    double *vals;              /* scratch: 1 + naxes */
    double capital;
    bt_metrics_t oos;          /* stitched */
    double is_cagr_mean, wfe;
    size_t nchosen;
    const bt_report_overfit_t *ov; /* nwin: DSR and PBO of each window's training sweep */
} s_wf_out_t;

static void s_num(FILE *f, double v)
{
    char b[40];
    fputs(bt_report_fmt_double(v, b, sizeof b), f);
}

static void s_write_windows(FILE *f, void *user)
{
    s_wf_out_t *o = user;
    size_t naxes = bt_grid_naxes(o->grid), nm = bt_metrics_count();
    const char *rank = bt_metrics_name((size_t)bt_config_rank_by(o->cfg));
    fputs("window,train_start,train_end,train_bars,test_start,test_end,test_bars,job_id", f);
    for (size_t a = 0; a < naxes; a++)
        fprintf(f, ",%s", bt_grid_axis_key(o->grid, a));
    fprintf(f, ",is_%s,is_cagr,is_dsr,is_pbo,start_equity,end_equity", rank);
    for (size_t m = 0; m < nm; m++)
        fprintf(f, ",oos_%s", bt_metrics_name(m));
    fputc('\n', f);
    for (size_t w = 0; w < o->nwin; w++) {
        const bt_wf_window_t *x = &o->win[w];
        const s_win_t *r = &o->res[w];
        char t[4][40];
        fprintf(f, "%zu,%s,%s,%zu,%s,%s,%zu,", w,
                bt_time_format(x->train_first, t[0], sizeof t[0]),
                bt_time_format(x->train_last, t[1], sizeof t[1]), x->train_i1 - x->train_i0,
                bt_time_format(x->test_first, t[2], sizeof t[2]),
                bt_time_format(x->test_last, t[3], sizeof t[3]), x->test_i1 - x->test_i0);
        if (!r->chosen) {
            for (size_t a = 0; a < naxes + 6 + nm; a++)
                fputc(',', f);
            fputc('\n', f);
            continue;
        }
        fprintf(f, "%llu", (unsigned long long)r->job);
        s_point(o->pts, r->job, o->vals);
        for (size_t a = 0; a < naxes; a++) {
            fputc(',', f);
            if (bt_grid_axis_is_symbols(o->grid, a)) {
                size_t ns = 0;
                const char *const *s =
                    bt_grid_axis_symbols(o->grid, a, (size_t)o->vals[a + 1], &ns);
                for (size_t k = 0; k < ns; k++)
                    fprintf(f, "%s%s", k ? "+" : "", s[k]);
            } else {
                s_num(f, o->vals[a + 1]);
            }
        }
        fputc(',', f);
        s_num(f, o->jobs[r->job].rank);
        fputc(',', f);
        s_num(f, o->jobs[r->job].cagr);
        fputc(',', f); /* is_dsr, is_pbo: empty when n/a (the reason is in summary.txt) */
        if (o->ov[w].dsr_err == BT_OK)
            s_num(f, o->ov[w].dsr.dsr);
        fputc(',', f);
        if (o->ov[w].pbo_err == BT_OK)
            s_num(f, o->ov[w].pbo.pbo);
        fputc(',', f);
        s_num(f, r->start_equity);
        fputc(',', f);
        if (r->tested)
            s_num(f, r->end_equity);
        for (size_t m = 0; m < nm; m++) {
            fputc(',', f);
            if (r->tested)
                s_num(f, bt_metrics_get(&r->oos, m));
        }
        fputc('\n', f);
    }
}

static void s_write_equity(FILE *f, void *user)
{
    s_wf_out_t *o = user;
    fputs("window,time,equity,drawdown\n", f);
    double peak = o->capital;
    for (size_t w = 0; w < o->nwin; w++) {
        if (!o->res[w].tested)
            continue;
        const bt_recorder_t *rc = &o->rec[w];
        for (size_t i = 0; i < rc->nequity; i++) {
            const bt_equity_rec_t *e = &rc->equity[i];
            if (e->equity > peak)
                peak = e->equity;
            char t[40];
            fprintf(f, "%zu,%s,", w, bt_time_format(e->time, t, sizeof t));
            s_num(f, e->equity);
            fputc(',', f);
            s_num(f, peak > 0 ? 1.0 - e->equity / peak : 0.0);
            fputc('\n', f);
        }
    }
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-window deflated Sharpe and PBO (each window's training sweep is its
 * own trial set) and their means over the windows that have them. */
static void s_write_overfit(FILE *f, const s_wf_out_t *o)
{
    fprintf(f, "  overfitting per window (each window's training sweep is its own trial set; "
               "how to read: docs/overfitting.md):\n");
    fprintf(f, "    %6s  %6s  %8s  %8s  %6s  %6s\n", "window", "trials", "dsr_best", "sr_step",
            "is_dsr", "is_pbo");
    double dsum = 0.0, psum = 0.0;
    size_t nd = 0, npb = 0;
    for (size_t w = 0; w < o->nwin; w++) {
        const bt_report_overfit_t *v = &o->ov[w];
        char d[16] = "n/a", p[16] = "n/a", best[24] = "-", sr[24] = "-";
        if (v->dsr_err == BT_OK) {
            snprintf(d, sizeof d, "%.3f", v->dsr.dsr);
            snprintf(best, sizeof best, "%llu", (unsigned long long)v->best_job);
            snprintf(sr, sizeof sr, "%.4g", v->dsr.sr_best);
            dsum += v->dsr.dsr;
            nd++;
        }
        if (v->pbo_err == BT_OK) {
            snprintf(p, sizeof p, "%.3f", v->pbo.pbo);
            psum += v->pbo.pbo;
            npb++;
        }
        fprintf(f, "    %6zu  %6llu  %8s  %8s  %6s  %6s", w, (unsigned long long)v->trials, best,
                sr, d, p);
        if (v->dsr_err != BT_OK)
            fprintf(f, "  (deflated Sharpe n/a: %s)", v->dsr_msg);
        if (v->pbo_err != BT_OK && !(v->dsr_err == BT_ENOTFOUND && v->pbo_err == BT_ENOTFOUND))
            fprintf(f, "  (PBO n/a: %s)", v->pbo_msg);
        if (v->left_out)
            fprintf(f, "  (%llu trials left out: a different number of returns than job %llu)",
                    (unsigned long long)v->left_out, (unsigned long long)v->ref_job);
        fputc('\n', f);
    }
    fprintf(f, "    (dsr_best: the job with the highest per-step Sharpe sr_step, the winner "
               "the DSR is about; the chosen point is the rank_by best, the same job when "
               "ranking by sharpe)\n");
    fprintf(f, "  mean deflated Sharpe over windows: ");
    if (nd)
        fprintf(f,
                "%.3f (%zu of %zu windows); below 0.95 the typical winner is not "
                "significant\n",
                dsum / (double)nd, nd, o->nwin);
    else
        fprintf(f, "n/a (no window has one)\n");
    fprintf(f, "  mean PBO over windows: ");
    if (npb)
        fprintf(f, "%.3f (%zu of %zu windows); above 0.5 the per-window selection is overfit\n",
                psum / (double)npb, npb, o->nwin);
    else
        fprintf(f, "n/a (no window has one)\n");
}

static void s_write_summary(FILE *f, void *user)
{
    s_wf_out_t *o = user;
    char tr[24], te[24], st[24];
    fprintf(f, "\nwalk-forward\n");
    fprintf(f, "  windows:            %zu (%s), train %s, test %s, step %s\n", o->nwin,
            o->spec->anchored ? "anchored" : "rolling",
            bt_wf_format_len(&o->spec->train, tr, sizeof tr),
            bt_wf_format_len(&o->spec->test, te, sizeof te),
            bt_wf_format_len(&o->spec->step, st, sizeof st));
    fprintf(f, "  windows with a choice: %zu\n", o->nchosen);
    fprintf(f, "  out-of-sample (stitched, capital carried over):\n");
    for (size_t m = 0; m < bt_metrics_count(); m++) {
        fprintf(f, "    %-22s ", bt_metrics_name(m));
        s_num(f, bt_metrics_get(&o->oos, m));
        fputc('\n', f);
    }
    fprintf(f, "  in-sample cagr (mean of the chosen points): ");
    s_num(f, o->is_cagr_mean);
    fprintf(f, "\n  walk-forward efficiency (oos cagr / in-sample cagr): ");
    s_num(f, o->wfe);
    fprintf(f, "\n  parameter stability (per swept key over the windows with a choice):\n");
    size_t naxes = bt_grid_naxes(o->grid);
    double *v = malloc((o->nwin ? o->nwin : 1) * sizeof *v);
    double *sorted = malloc((o->nwin ? o->nwin : 1) * sizeof *sorted);
    for (size_t a = 0; v && sorted && a < naxes; a++) {
        size_t n = 0;
        for (size_t w = 0; w < o->nwin; w++) {
            if (!o->res[w].chosen)
                continue;
            s_point(o->pts, o->res[w].job, o->vals);
            v[n++] = o->vals[a + 1];
        }
        if (n == 0)
            continue;
        memcpy(sorted, v, n * sizeof *v);
        qsort(sorted, n, sizeof *sorted, s_cmp_double);
        size_t distinct = 0, best_run = 0, run = 0;
        double mode = sorted[0];
        for (size_t i = 0; i < n; i++) {
            run = (i > 0 && sorted[i] == sorted[i - 1]) ? run + 1 : 1;
            if (run == 1)
                distinct++;
            if (run > best_run) { /* ties keep the smaller value */
                best_run = run;
                mode = sorted[i];
            }
        }
        double change = 0.0;
        for (size_t i = 1; i < n; i++)
            change += fabs(v[i] - v[i - 1]);
        fprintf(f, "    %s: %zu distinct, most frequent ", bt_grid_axis_key(o->grid, a), distinct);
        s_num(f, mode);
        fprintf(f, " (%zu of %zu, ", best_run, n);
        s_num(f, (double)best_run / (double)n);
        fprintf(f, "), mean |change| between consecutive windows ");
        s_num(f, n > 1 ? change / (double)(n - 1) : 0.0);
        fprintf(f, "%s\n", bt_grid_axis_is_symbols(o->grid, a) ? " (symbol set index)" : "");
    }
    free(v);
    free(sorted);
    s_write_overfit(f, o);
}

/* Runs window w's test with its chosen point; fills res and rec. */
static void s_test_window(const bt_config_t *cfg, const bt_grid_t *grid, const uint64_t *raw,
                          uint64_t npoints, const bt_dataset_t *ds, const bt_wf_window_t *x,
                          double cash, bt_engine_t *eng, s_win_t *res, bt_recorder_t *rec)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    res->start_equity = cash;
    bt_config_t *c = bt_config_dup(cfg);
    bt_series_t *ser = NULL;
    size_t nsym = 0;
    bt_err_t rc = c ? BT_OK : bt_errf(&eb, BT_ENOMEM, "out of memory");
    if (rc == BT_OK)
        rc = bt_grid_apply(grid, raw[res->job % npoints], c, &eb);
    if (rc == BT_OK) {
        /* the training range warms the strategy up (docs/walkforward.md):
         * fed from the training start, trading from the test start */
        bt_config_set_range(c, x->train_first, x->test_last);
        rc = s_pick(c, ds, &ser, &nsym, &eb);
    }
    if (rc == BT_OK && !(cash > 0.0))
        rc = bt_errf(&eb, BT_EDATA, "no equity left to carry into this window");
    if (rc == BT_OK) {
        bt_engine_cfg_t ec = *bt_config_engine(c);
        ec.initial_cash = cash;
        ec.trade_start = x->test_first;
        bt_run_spec_t spec = {
            .series = ser,
            .nsym = nsym,
            .strategy = bt_config_strategy(c),
            .params = bt_config_params(c),
            .cfg = &ec,
            .threads = 1,
            .rec = rec,
        };
        rc = bt_engine_run(eng, &spec, &res->oos, &eb);
    }
    if (rc == BT_OK && rec->nequity > 0) {
        res->tested = true;
        res->end_equity = rec->equity[rec->nequity - 1].equity;
    } else {
        res->tested = false;
        res->end_equity = cash;
        snprintf(res->error, sizeof res->error, "%s",
                 rc != BT_OK ? (eb.msg[0] ? eb.msg : bt_strerror(rc)) : "no bars");
    }
    free(ser);
    bt_config_destroy(&c);
}

/* Selection, test runs, stitching, files. */
static bt_err_t s_finish_wf(const bt_wfsweep_args_t *a, const bt_config_t *cfg,
                            const bt_grid_t *grid, s_points_t *pts, const bt_dataset_t *ds,
                            const bt_wf_window_t *win, size_t nwin, const s_job_t *jobs,
                            const bt_report_t *report, bt_errbuf_t *eb)
{
    size_t naxes = bt_grid_naxes(grid);
    uint64_t np = pts->npoints;
    s_win_t *res = calloc(nwin, sizeof *res);
    bt_recorder_t *rec = calloc(nwin, sizeof *rec);
    bt_report_overfit_t *ov = calloc(nwin, sizeof *ov);
    double *va = calloc(naxes + 1, sizeof *va), *vb = calloc(naxes + 1, sizeof *vb);
    bt_engine_t *eng = bt_engine_new();
    bt_err_t rc = BT_OK;
    if (!res || !rec || !ov || !va || !vb || !eng) {
        rc = bt_errf(eb, BT_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t w = 0; w < nwin; w++) {
        bt_recorder_init(&rec[w]);
        /* Each window's training sweep (job ids w np .. w np + np - 1) is its
         * own trial set; its failures are reported per window in summary.txt. */
        bt_report_overfit(report, (uint64_t)w * np, (uint64_t)(w + 1) * np, &ov[w]);
    }
    bool desc = bt_config_rank_desc(cfg);
    double capital = bt_config_engine(cfg)->initial_cash, cash = capital;
    double is_sum = 0.0;
    size_t nchosen = 0;
    for (size_t w = 0; w < nwin; w++) {
        s_win_t *r = &res[w];
        for (uint64_t p = 0; p < np; p++) {
            uint64_t j = (uint64_t)w * np + p;
            if (!jobs[j].ok)
                continue;
            if (!r->chosen || s_better(jobs, pts, va, vb, naxes + 1, desc, j, r->job)) {
                r->chosen = true;
                r->job = j;
            }
        }
        r->start_equity = cash;
        if (!r->chosen) {
            bt_log(BT_LOG_WARN, "walk-forward window %zu: every training job failed; the window "
                                "is skipped (equity carried unchanged)", w);
            continue;
        }
        nchosen++;
        is_sum += jobs[r->job].cagr;
        s_test_window(cfg, grid, pts->raw, np, ds, &win[w], cash, eng, r, &rec[w]);
        if (!r->tested)
            bt_log(BT_LOG_WARN, "walk-forward window %zu: test run failed: %s", w, r->error);
        cash = r->end_equity;
    }
    /* Stitched out-of-sample metrics from the concatenated curve. */
    bt_macc_t acc;
    bt_macc_init(&acc, capital);
    const bt_engine_cfg_t *ec = bt_config_engine(cfg);
    bool first = true;
    for (size_t w = 0; w < nwin; w++) {
        if (!res[w].tested)
            continue;
        const bt_recorder_t *rc_ = &rec[w];
        for (size_t i = 0; i < rc_->norders; i++) {
            const bt_order_rec_t *o = &rc_->orders[i];
            if (o->filled != 0.0 || o->commission != 0.0)
                bt_macc_fill(&acc, fabs(o->filled * o->avg_price), o->commission);
            if (o->status == BT_OS_REJECTED && o->created >= win[w].test_first)
                bt_macc_reject(&acc); /* warm-up refusals are not counted (as in the engine) */
        }
        for (size_t i = 0; i < rc_->ntrades; i++)
            if (!rc_->trades[i].open)
                bt_macc_trade(&acc, rc_->trades[i].pnl);
        if (first && rc_->nequity > 1) {
            double spy = bt_metrics_steps_per_year(rc_->nequity, rc_->equity[0].time,
                                                   rc_->equity[rc_->nequity - 1].time);
            bt_macc_set_rf(&acc, bt_metrics_rf_step(ec->risk_free_rate, spy));
            first = false;
        }
        for (size_t i = 0; i < rc_->nequity; i++) {
            const bt_equity_rec_t *e = &rc_->equity[i];
            bt_macc_step(&acc, e->time, e->equity, e->positions_value != 0.0);
        }
    }
    s_wf_out_t o = {
        .cfg = cfg, .grid = grid, .pts = pts, .spec = bt_config_walk_forward(cfg),
        .win = win, .nwin = nwin, .res = res, .jobs = jobs, .rec = rec, .vals = va,
        .capital = capital, .nchosen = nchosen, .ov = ov,
    };
    memset(&o.oos, 0, sizeof o.oos);
    if (acc.steps > 0)
        bt_macc_finish(&acc, ec->risk_free_rate, NAN, &o.oos);
    o.is_cagr_mean = nchosen ? is_sum / (double)nchosen : NAN;
    o.wfe = o.is_cagr_mean != 0.0 ? o.oos.cagr / o.is_cagr_mean : NAN;
    rc = s_write_atomic(a->out_dir, "walkforward.csv", s_write_windows, &o, eb);
    if (rc == BT_OK)
        rc = s_write_atomic(a->out_dir, "oos_equity.csv", s_write_equity, &o, eb);
    if (rc == BT_OK) {
        /* Appended to the summary bt_report_write just wrote. */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/summary.txt", a->out_dir);
        FILE *f = fopen(path, "a");
        if (!f) {
            rc = bt_errf(eb, BT_EIO, "cannot append to %s: %s", path, strerror(errno));
        } else {
            s_write_summary(f, &o);
            if (fflush(f) != 0 || fsync(fileno(f)) != 0)
                rc = bt_errf(eb, BT_EIO, "cannot write %s: %s", path, strerror(errno));
            fclose(f);
        }
    }
    if (rc == BT_OK) {
        char b1[40], b2[40], b3[40], b4[40];
        printf("walk-forward: %zu windows, out-of-sample cagr %s, sharpe %s, max drawdown %s; "
               "efficiency %s\n",
               nwin, bt_report_fmt_double(o.oos.cagr, b1, sizeof b1),
               bt_report_fmt_double(o.oos.sharpe, b2, sizeof b2),
               bt_report_fmt_double(o.oos.max_drawdown, b3, sizeof b3),
               bt_report_fmt_double(o.wfe, b4, sizeof b4));
    }
out:
    if (rec)
        for (size_t w = 0; w < nwin; w++)
            bt_recorder_fini(&rec[w]);
    free(rec);
    free(ov);
    free(res);
    free(va);
    free(vb);
    bt_engine_destroy(&eng);
    return rc;
}

int bt_wfsweep_run(const bt_wfsweep_args_t *a)
{
    double t0 = bt_monotonic_s();
    int exit_code = 1;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    const bt_config_t *cfg = a->cfg;
    const char *yaml = a->yaml;
    size_t yaml_len = a->yaml_len;
    bt_grid_t *grid = NULL;
    bt_dataset_t *ds = NULL;
    bt_series_t *base = NULL;
    int64_t *times = NULL;
    bt_wf_window_t *win = NULL;
    uint64_t *raw = NULL;
    size_t *idx = NULL;
    const char **keys = NULL;
    double *values = NULL;
    s_job_t *jobs = NULL;
    bt_sched_t *sched = NULL;
    bt_journal_t *journal = NULL;
    bt_report_t *report = NULL;
    size_t nwin = 0, nbase = 0, ntimes = 0;

    /* 1. Grid, data, windows (the config is loaded by the caller): all
     * checked before any work. */
    grid = bt_grid_new(cfg, a->allow_huge, &eb);
    if (!grid) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }
    const bt_wf_spec_t *spec = bt_config_walk_forward(cfg);
    uint64_t np = bt_grid_count(grid);
    size_t naxes = bt_grid_naxes(grid);
    if (np == 0 || naxes + 1 > BT_REPORT_MAX_AXES) {
        fprintf(stderr, "bt sweep: %s: %s\n", a->config_path,
                np == 0 ? "the constraints leave no grid point to run" : "too many swept keys");
        exit_code = 2;
        goto out;
    }
    char store[PATH_MAX];
    if (!realpath(bt_config_store(cfg), store)) {
        fprintf(stderr, "bt sweep: %s: data.store %s: %s (make it with 'bt data import' or "
                        "'bt data synth')\n",
                a->config_path, bt_config_store(cfg), strerror(errno));
        exit_code = 2;
        goto out;
    }
    /* Loaded whole, sorted, as workers load it: its hash is the data hash. */
    ds = bt_dataset_load(store, NULL, 0, &eb);
    const bt_engine_cfg_t *ec = bt_config_engine(cfg);
    bt_err_t rc = ds ? s_pick(cfg, ds, &base, &nbase, &eb) : eb.code;
    if (rc == BT_OK)
        rc = bt_wf_timeline(base, nbase, ec->start, ec->end, &times, &ntimes, &eb);
    if (rc == BT_OK)
        rc = bt_wf_windows(spec, times, ntimes, &win, &nwin, &eb);
    if (rc != BT_OK) {
        fprintf(stderr, "bt sweep: %s: %s\n", a->config_path, eb.msg);
        exit_code = 2;
        goto out;
    }
    uint64_t njobs;
    if (__builtin_mul_overflow(np, (uint64_t)nwin, &njobs) ||
        (!a->allow_huge && njobs > bt_config_max_grid(cfg))) {
        fprintf(stderr, "bt sweep: %s: %zu windows x %llu points is more than sweep.max_grid "
                        "(%llu); pass --allow-huge or use fewer windows\n",
                a->config_path, nwin, (unsigned long long)np,
                (unsigned long long)bt_config_max_grid(cfg));
        exit_code = 2;
        goto out;
    }
    raw = malloc(np * sizeof *raw);
    idx = calloc(naxes + 1, sizeof *idx);
    keys = calloc(naxes + 1, sizeof *keys);
    values = calloc(naxes + 1, sizeof *values);
    jobs = calloc(njobs, sizeof *jobs);
    if (!raw || !idx || !keys || !values || !jobs) {
        fprintf(stderr, "bt sweep: out of memory for %llu jobs\n", (unsigned long long)njobs);
        goto out;
    }
    {
        uint64_t r = 0, k = 0;
        while (k < np && bt_grid_next(grid, &r))
            raw[k++] = r++;
    }
    keys[0] = BT_WF_WINDOW_KEY;
    for (size_t i = 0; i < naxes; i++)
        keys[i + 1] = bt_grid_axis_key(grid, i);

    /* 2. Output folder, journal (header names the windows), report. */
    if (bt_fs_mkdir_p(a->out_dir, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        goto out;
    }
    char header[BT_JOURNAL_MAX_HEADER], l1[24], l2[24], l3[24];
    int hl = snprintf(header, sizeof header,
                      "bt sweep journal 1\nconfig_sha256 %s\ndata_hash %s\njobs %llu\n"
                      "walk_forward train %s test %s step %s %s windows %zu\n",
                      bt_config_hash(cfg), ds->hash, (unsigned long long)njobs,
                      bt_wf_format_len(&spec->train, l1, sizeof l1),
                      bt_wf_format_len(&spec->test, l2, sizeof l2),
                      bt_wf_format_len(&spec->step, l3, sizeof l3),
                      spec->anchored ? "anchored" : "rolling", nwin);
    hl += snprintf(header + hl, sizeof header - (size_t)hl, "axis %s %zu\n", keys[0], nwin);
    for (size_t i = 0; i < naxes && hl > 0 && (size_t)hl < sizeof header; i++)
        hl += snprintf(header + hl, sizeof header - (size_t)hl, "axis %s %zu\n", keys[i + 1],
                       bt_grid_axis_len(grid, i));
    journal = bt_journal_open(a->out_dir, header, a->resume_dir != NULL, &eb);
    if (!journal) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }
    sched = bt_sched_new(njobs, (uint32_t)a->max_attempts, (uint32_t)a->lease_ms);
    report = bt_report_new(njobs, naxes + 1, keys);
    if (!sched || !report) {
        fprintf(stderr, "bt sweep: out of memory for %llu jobs\n", (unsigned long long)njobs);
        goto out;
    }
    for (size_t i = 0; i < naxes; i++) {
        if (bt_grid_axis_is_symbols(grid, i) &&
            bt_sweep_symbol_labels(report, i + 1, grid, i, &eb) != BT_OK) {
            fprintf(stderr, "bt sweep: %s\n", eb.msg);
            goto out;
        }
    }
    s_points_t pts = {grid, raw, idx, np};
    for (uint64_t j = 0; j < njobs; j++) {
        s_point(&pts, j, values);
        bt_report_set_point(report, j, values);
    }
    int rank_metric = bt_config_rank_by(cfg), cagr_metric = bt_metrics_find("cagr");
    s_replay_t rp = {sched, report, jobs, njobs, 0, rank_metric, cagr_metric};
    if (a->resume_dir) {
        if (bt_journal_replay(journal, s_on_replay, &rp, &eb) != BT_OK) {
            fprintf(stderr, "bt sweep: %s\n", eb.msg);
            goto out;
        }
        bt_log(BT_LOG_INFO, "resume: %llu of %llu jobs already done in %s",
               (unsigned long long)rp.replayed, (unsigned long long)njobs, a->resume_dir);
    }

    /* 3. Run every window's training jobs as one graph. */
    char worker_bin[PATH_MAX] = "";
    long workers = a->workers >= 0 ? a->workers : omp_get_num_procs();
    if (workers > 0 &&
        bt_sweep_sibling_path("bt-worker", worker_bin, sizeof worker_bin, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        goto out;
    }
    bt_log(BT_LOG_INFO, "walk-forward %s: %zu windows x %llu points = %llu jobs, strategy %s",
           a->config_path, nwin, (unsigned long long)np, (unsigned long long)njobs,
           bt_config_strategy(cfg)->name);
    bt_sweep_opts_t so = {
        .bind = a->bind,
        .workers = (int)workers,
        .worker_threads = (int)a->threads,
        .heartbeat_ms = (uint32_t)a->heartbeat_ms,
        .lease_ms = (uint32_t)a->lease_ms,
        .worker_bin = worker_bin,
        .trivial = a->trivial,
        .progress_tty = isatty(2) != 0,
        .progress_every_ms = 5000,
    };
    bt_sweep_ctx_t sc = {
        .yaml = yaml,
        .yaml_len = yaml_len,
        .config_sha = bt_config_hash(cfg),
        .store_path = store,
        .data_hash = ds->hash,
        .sets = a->sets,
        .nsets = a->nsets,
        .njobs = njobs,
        .naxes = naxes + 1,
        .axis_keys = keys,
        .point = s_point,
        .point_user = &pts,
        .sched = sched,
        .journal = journal,
        .report = report,
        .rank_metric = rank_metric,
        .rank_desc = bt_config_rank_desc(cfg),
    };
    rc = BT_OK;
    if (!bt_sched_finished(sched))
        rc = bt_sweep_serve(&sc, &so, &eb);
    if (rc != BT_OK)
        fprintf(stderr, "bt sweep: %s\n", eb.msg);

    /* 4. Report: results/ranking/summary as for a sweep (wf.window is a column). */
    bt_sched_counts_t k;
    bt_sched_counts(sched, &k);
    const char *rank_name = bt_metrics_name((size_t)rank_metric);
    bt_report_summary_t sum = {
        .config_path = a->config_path,
        .config_sha256 = bt_config_hash(cfg),
        .data_store = store,
        .data_hash = ds->hash,
        .bt_version = BT_VERSION,
        .strategy = bt_config_strategy(cfg)->name,
        .rank_by = rank_name,
        .wall_s = bt_monotonic_s() - t0,
        .jobs_run = sc.jobs_run,
        .bars_run = sc.bars_run,
        .jobs_resumed = rp.replayed,
        .workers_seen = sc.workers_seen,
        .retries = k.retries,
        .requeued = k.requeued,
        .peak_rss_mb = bt_sweep_peak_rss_mb(),
        /* each window's training sweep is its own trial set (per-window
         * DSR / PBO in the walk-forward section) */
        .trial_set_size = a->trivial ? 0 : np,
    };
    int top = bt_config_top(cfg);
    bt_errbuf_t reb;
    bt_errbuf_clear(&reb);
    if (bt_report_write(report, a->out_dir, rank_name, bt_config_rank_desc(cfg),
                        top > 0 ? (size_t)top : 0, &sum, &reb) != BT_OK) {
        fprintf(stderr, "bt sweep: writing the report: %s\n", reb.msg);
        goto out;
    }
    if (rc != BT_OK)
        goto out;
    if (sc.interrupted || !bt_sched_finished(sched)) {
        fprintf(stderr,
                "bt sweep: interrupted (signal %d) with %llu of %llu jobs done; results so far "
                "are in %s (partial report, no walk-forward files yet)\n"
                "continue with: bt sweep %s --resume %s\n",
                sc.signal, (unsigned long long)(k.ok + k.failed), (unsigned long long)njobs,
                a->out_dir, a->config_path, a->out_dir);
        goto out;
    }

    /* 5. Every training result, from the journal (the source of truth). */
    bt_journal_close(&journal);
    journal = bt_journal_open(a->out_dir, header, true, &eb);
    memset(jobs, 0, njobs * sizeof *jobs);
    s_replay_t all = {NULL, NULL, jobs, njobs, 0, rank_metric, cagr_metric};
    if (!journal || bt_journal_replay(journal, s_on_replay, &all, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        goto out;
    }
    if (!a->trivial &&
        s_finish_wf(a, cfg, grid, &pts, ds, win, nwin, jobs, report, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: walk-forward: %s\n", eb.msg);
        goto out;
    }
    double wall = bt_monotonic_s() - t0;
    printf("sweep done: %llu jobs (%llu ok, %llu failed, %llu from the journal) in %.2f s\n",
           (unsigned long long)njobs, (unsigned long long)k.ok, (unsigned long long)k.failed,
           (unsigned long long)rp.replayed, wall);
    printf("report: %s/walkforward.csv, %s/oos_equity.csv, %s/results.csv, %s/ranking.csv, "
           "%s/summary.txt\n",
           a->out_dir, a->out_dir, a->out_dir, a->out_dir, a->out_dir);
    exit_code = 0;
out:
    bt_journal_close(&journal);
    bt_report_destroy(&report);
    bt_sched_destroy(&sched);
    bt_grid_destroy(&grid);
    bt_dataset_destroy(&ds);
    free(base);
    free(times);
    free(win);
    free(raw);
    free(idx);
    free(keys);
    free(values);
    free(jobs);
    return exit_code;
}
