#include "bt_wfreport.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_csvw.h"
#include "bt_fs.h"
#include "bt_time.h"
#include "bt_wf.h"

struct bt_wfreport {
    const bt_config_t *cfg;
    const bt_plan_t *plan;
    const bt_wf_outcome_t *win;
    size_t nwin;
    double *vals;     /* scratch: plan axes */
    double capital;   /* initial cash */
    bt_metrics_t oos; /* stitched */
    double is_cagr_mean, wfe;
    size_t nchosen;
    bt_report_overfit_t *ov; /* nwin: DSR and PBO of each window's training sweep */
};

void bt_wf_seg_fini(bt_wf_seg_t *s)
{
    free(s->time); /* one block holds every array */
    memset(s, 0, sizeof *s);
}

/* The stitched curve's metrics: the test runs' equity points, fills, trades
 * and rejections fed to one accumulator in window order. */
static void s_stitch(bt_wfreport_t *w)
{
    const bt_engine_cfg_t *ec = bt_config_engine(w->cfg);
    bt_macc_t acc;
    bt_macc_init(&acc, w->capital);
    bool first = true;
    for (size_t k = 0; k < w->nwin; k++) {
        const bt_wf_outcome_t *o = &w->win[k];
        if (!o->tested)
            continue;
        const bt_wf_seg_t *s = &o->seg;
        for (size_t i = 0; i < s->nfills; i++)
            bt_macc_fill(&acc, s->fill_value[i], s->fill_commission[i]);
        for (uint64_t i = 0; i < s->rejected; i++)
            bt_macc_reject(&acc);
        for (size_t i = 0; i < s->ntrades; i++)
            bt_macc_trade(&acc, s->trade_pnl[i]);
        if (first && s->n > 1) {
            double spy = bt_metrics_steps_per_year(s->n, s->time[0], s->time[s->n - 1]);
            bt_macc_set_rf(&acc, bt_metrics_rf_step(ec->risk_free_rate, spy));
            first = false;
        }
        for (size_t i = 0; i < s->n; i++)
            bt_macc_step(&acc, s->time[i], s->equity[i], s->exposed[i] != 0);
    }
    memset(&w->oos, 0, sizeof w->oos);
    if (acc.steps > 0)
        bt_macc_finish(&acc, ec->risk_free_rate, NAN, &w->oos);
}

bt_wfreport_t *bt_wfreport_new(const bt_config_t *cfg, const bt_plan_t *plan,
                               const bt_report_t *report, const bt_wf_outcome_t *win)
{
    bt_wfreport_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->cfg = cfg;
    w->plan = plan;
    w->win = win;
    w->nwin = bt_plan_windows(plan);
    w->vals = calloc(bt_plan_naxes(plan), sizeof *w->vals);
    w->ov = calloc(w->nwin ? w->nwin : 1, sizeof *w->ov);
    if (!w->vals || !w->ov) {
        bt_wfreport_destroy(&w);
        return NULL;
    }
    uint64_t np = bt_plan_points(plan);
    double is_sum = 0.0;
    for (size_t k = 0; k < w->nwin; k++) {
        /* Each window's training sweep (job ids k np .. k np + np - 1) is its
         * own trial set; its failures are reported per window in summary.txt. */
        bt_report_overfit(report, (uint64_t)k * np, (uint64_t)(k + 1) * np, &w->ov[k]);
        if (win[k].chosen) {
            w->nchosen++;
            is_sum += win[k].is_cagr;
        }
    }
    w->capital = bt_config_engine(cfg)->initial_cash;
    s_stitch(w);
    w->is_cagr_mean = w->nchosen ? is_sum / (double)w->nchosen : NAN;
    w->wfe = w->is_cagr_mean != 0.0 ? w->oos.cagr / w->is_cagr_mean : NAN;
    return w;
}

void bt_wfreport_destroy(bt_wfreport_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_wfreport_t *w = *self_p;
    free(w->vals);
    free(w->ov);
    free(w);
    *self_p = NULL;
}

/* summary.txt is for people: 6 significant digits (every digit is in
 * walkforward.csv and oos_equity.csv). */
static void s_num(FILE *f, double v)
{
    fprintf(f, "%.6g", v);
}

static void s_write_windows(bt_csvw_t *c, const bt_wfreport_t *o)
{
    const bt_plan_t *p = o->plan;
    size_t naxes = bt_plan_naxes(p), nm = bt_metrics_count();
    const char *const *keys = bt_plan_axis_keys(p);
    const char *head[] = {"window",     "train_start", "train_end", "train_bars",
                          "test_start", "test_end",    "test_bars", "job_id"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        bt_csvw_str(c, head[i]);
    for (size_t a = 1; a < naxes; a++)
        bt_csvw_str(c, keys[a]);
    char name[96];
    snprintf(name, sizeof name, "is_%s", bt_metrics_name((size_t)bt_config_rank_by(o->cfg)));
    const char *mid[] = {name, "is_cagr", "is_dsr", "is_pbo", "start_equity", "end_equity"};
    for (size_t i = 0; i < sizeof mid / sizeof mid[0]; i++)
        bt_csvw_str(c, mid[i]);
    for (size_t m = 0; m < nm; m++) {
        snprintf(name, sizeof name, "oos_%s", bt_metrics_name(m));
        bt_csvw_str(c, name);
    }
    bt_csvw_end_row(c);
    for (size_t w = 0; w < o->nwin; w++) {
        const bt_wf_window_t *x = bt_plan_window(p, w);
        const bt_wf_outcome_t *r = &o->win[w];
        char t[40];
        bt_csvw_u64(c, w);
        bt_csvw_str(c, bt_time_format(x->train_first, t, sizeof t));
        bt_csvw_str(c, bt_time_format(x->train_last, t, sizeof t));
        bt_csvw_u64(c, x->train_i1 - x->train_i0);
        bt_csvw_str(c, bt_time_format(x->test_first, t, sizeof t));
        bt_csvw_str(c, bt_time_format(x->test_last, t, sizeof t));
        bt_csvw_u64(c, x->test_i1 - x->test_i0);
        if (!r->chosen) {
            for (size_t a = 0; a < naxes + 6 + nm; a++)
                bt_csvw_empty(c);
            bt_csvw_end_row(c);
            continue;
        }
        bt_csvw_u64(c, r->job);
        bt_plan_values(p, r->job, o->vals);
        for (size_t a = 1; a < naxes; a++) {
            char label[1024];
            if (bt_plan_axis_is_symbols(p, a))
                bt_csvw_str(c, bt_plan_label(p, a, (size_t)o->vals[a], label, sizeof label));
            else
                bt_csvw_double(c, o->vals[a]);
        }
        bt_csvw_double(c, r->is_rank);
        bt_csvw_double(c, r->is_cagr);
        /* is_dsr, is_pbo: empty when n/a (the reason is in summary.txt) */
        if (o->ov[w].dsr_err == BT_OK)
            bt_csvw_double(c, o->ov[w].dsr.dsr);
        else
            bt_csvw_empty(c);
        if (o->ov[w].pbo_err == BT_OK)
            bt_csvw_double(c, o->ov[w].pbo.pbo);
        else
            bt_csvw_empty(c);
        bt_csvw_double(c, r->start_equity);
        for (size_t m = 0; m <= nm; m++) {
            if (!r->tested)
                bt_csvw_empty(c);
            else
                bt_csvw_double(c, m == 0 ? r->end_equity : bt_metrics_get(&r->oos, m - 1));
        }
        bt_csvw_end_row(c);
    }
}

static void s_write_equity(bt_csvw_t *c, const bt_wfreport_t *o)
{
    bt_csvw_line(c, "window,time,equity,drawdown");
    double peak = o->capital;
    for (size_t w = 0; w < o->nwin; w++) {
        if (!o->win[w].tested)
            continue;
        const bt_wf_seg_t *s = &o->win[w].seg;
        for (size_t i = 0; i < s->n; i++) {
            double e = s->equity[i];
            if (e > peak)
                peak = e;
            char t[40];
            bt_csvw_u64(c, w);
            bt_csvw_str(c, bt_time_format(s->time[i], t, sizeof t));
            bt_csvw_double(c, e);
            bt_csvw_double(c, peak > 0 ? 1.0 - e / peak : 0.0);
            bt_csvw_end_row(c);
        }
    }
}

/* Writes DIR/name atomically through fn. */
static bt_err_t s_write(const bt_wfreport_t *w, const char *dir, const char *name,
                        void (*fn)(bt_csvw_t *c, const bt_wfreport_t *w), bt_errbuf_t *eb)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return bt_errf(eb, BT_EINVAL, "output folder path too long: %s", dir);
    bt_fs_atomic_t o = {0};
    bt_err_t e = bt_fs_atomic_open(&o, path, eb);
    if (e == BT_OK) {
        bt_csvw_t c;
        bt_csvw_init_file(&c, o.f);
        fn(&c, w);
        e = bt_fs_atomic_commit(&o, eb);
    }
    bt_fs_atomic_abort(&o);
    return e;
}

bt_err_t bt_wfreport_write(const bt_wfreport_t *w, const char *dir, bt_errbuf_t *eb)
{
    bt_err_t e = s_write(w, dir, "walkforward.csv", s_write_windows, eb);
    return e == BT_OK ? s_write(w, dir, "oos_equity.csv", s_write_equity, eb) : e;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-window deflated Sharpe and PBO (each window's training sweep is its
 * own trial set) and their means over the windows that have them. */
static void s_write_overfit(FILE *f, const bt_wfreport_t *o)
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

/* Parameter stability of swept key `a` over the windows with a choice. */
static void s_write_stability(FILE *f, const bt_wfreport_t *o, size_t a, double *v, double *sorted)
{
    size_t n = 0;
    for (size_t w = 0; w < o->nwin; w++) {
        if (!o->win[w].chosen)
            continue;
        bt_plan_values(o->plan, o->win[w].job, o->vals);
        v[n++] = o->vals[a];
    }
    if (n == 0)
        return;
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
    fprintf(f, "    %s: %zu distinct, most frequent ", bt_plan_axis_keys(o->plan)[a], distinct);
    s_num(f, mode);
    fprintf(f, " (%zu of %zu, ", best_run, n);
    s_num(f, (double)best_run / (double)n);
    fprintf(f, "), mean |change| between consecutive windows ");
    s_num(f, n > 1 ? change / (double)(n - 1) : 0.0);
    fprintf(f, "%s\n", bt_plan_axis_is_symbols(o->plan, a) ? " (symbol set index)" : "");
}

void bt_wfreport_summary(FILE *f, void *user)
{
    const bt_wfreport_t *o = user;
    const bt_wf_spec_t *spec = bt_config_walk_forward(o->cfg);
    char tr[24], te[24], st[24];
    fprintf(f, "\nwalk-forward\n");
    fprintf(f, "  windows:            %zu (%s), train %s, test %s, step %s\n", o->nwin,
            spec->anchored ? "anchored" : "rolling", bt_wf_format_len(&spec->train, tr, sizeof tr),
            bt_wf_format_len(&spec->test, te, sizeof te),
            bt_wf_format_len(&spec->step, st, sizeof st));
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
    double *v = malloc((o->nwin ? o->nwin : 1) * sizeof *v);
    double *sorted = malloc((o->nwin ? o->nwin : 1) * sizeof *sorted);
    for (size_t a = 1; v && sorted && a < bt_plan_naxes(o->plan); a++)
        s_write_stability(f, o, a, v, sorted);
    free(v);
    free(sorted);
    s_write_overfit(f, o);
}

void bt_wfreport_line(const bt_wfreport_t *w, FILE *f)
{
    fprintf(f,
            "walk-forward: %zu windows, out-of-sample cagr %.4g, sharpe %.4g, max drawdown %.4g; "
            "efficiency %.4g\n",
            w->nwin, w->oos.cagr, w->oos.sharpe, w->oos.max_drawdown, w->wfe);
}
