#include "bt_wftest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_log.h"

/* One training job as far as selection cares. */
typedef struct {
    double rank;   /* rank_by metric of its first ok result */
    double cagr;   /* in-sample cagr */
    double trades; /* in-sample closed trades (sweep.rank_min_trades) */
    uint8_t state; /* 0 pending, 1 ok, 2 failed */
} s_job_t;

struct bt_wftest {
    const bt_config_t *cfg;
    const bt_plan_t *plan;
    bt_sched_t *sched;
    uint64_t njobs, npoints; /* training jobs, points per window */
    size_t nwin;
    s_job_t *jobs;        /* njobs */
    uint64_t *in;         /* per window: training jobs finished */
    bt_wf_outcome_t *out; /* per window */
    size_t next;          /* first window not settled */
    bool released;        /* window next's test job is out */
    double cash;          /* equity carried into window next */
    int rank_metric, cagr_metric, trades_metric;
    double min_trades; /* sweep.rank_min_trades: fewer in-sample trades are never chosen; 0 = off */
    bool desc;
    double *va, *vb; /* scratch: plan axes */
};

bt_wftest_t *bt_wftest_new(const bt_config_t *cfg, const bt_plan_t *plan, bt_sched_t *sched)
{
    bt_wftest_t *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    *t = (bt_wftest_t){
        .cfg = cfg,
        .plan = plan,
        .sched = sched,
        .njobs = bt_plan_jobs(plan),
        .npoints = bt_plan_points(plan),
        .nwin = bt_plan_windows(plan),
        .cash = bt_config_engine(cfg)->initial_cash,
        .rank_metric = bt_config_rank_by(cfg),
        .cagr_metric = bt_metrics_find("cagr"),
        .trades_metric = bt_metrics_find("trades"),
        .min_trades = bt_config_rank_min_trades(cfg),
        .desc = bt_config_rank_desc(cfg),
    };
    size_t naxes = bt_plan_naxes(plan);
    t->jobs = calloc(t->njobs, sizeof *t->jobs);
    t->in = calloc(t->nwin, sizeof *t->in);
    t->out = calloc(t->nwin, sizeof *t->out);
    t->va = calloc(2 * naxes, sizeof *t->va); /* va and vb */
    if (!t->jobs || !t->in || !t->out || !t->va) {
        bt_wftest_destroy(&t);
        return NULL;
    }
    t->vb = t->va + naxes;
    for (size_t w = 0; w < t->nwin; w++)
        bt_sched_hold(sched, t->njobs + w);
    return t;
}

void bt_wftest_destroy(bt_wftest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_wftest_t *t = *self_p;
    for (size_t w = 0; t->out && w < t->nwin; w++)
        bt_wf_seg_fini(&t->out[w].seg);
    void *owned[] = {t->jobs, t->in, t->out, t->va};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        free(owned[i]);
    free(t);
    *self_p = NULL;
}

void bt_wftest_train(bt_wftest_t *t, uint64_t job, const bt_metrics_t *m)
{
    if (job >= t->njobs)
        return;
    s_job_t *j = &t->jobs[job];
    if (j->state == 0)
        t->in[job / t->npoints]++;
    if (m && j->state != 1) { /* the first ok result counts, as in the journal */
        j->state = 1;
        j->rank = bt_metrics_get(m, (size_t)t->rank_metric);
        j->cagr = t->cagr_metric >= 0 ? bt_metrics_get(m, (size_t)t->cagr_metric) : NAN;
        j->trades = t->trades_metric >= 0 ? bt_metrics_get(m, (size_t)t->trades_metric) : NAN;
    } else if (!m && j->state == 0) {
        j->state = 2;
    }
}

/* Whether job a ranks before job b: better metric (NaN last), then swept
 * values ascending (wf.window aside: the same in one window), then job id. */
static bool s_better(bt_wftest_t *t, uint64_t a, uint64_t b)
{
    double x = t->jobs[a].rank, y = t->jobs[b].rank;
    bool xn = isnan(x), yn = isnan(y);
    if (xn != yn)
        return yn;
    if (!xn && x != y)
        return t->desc ? x > y : x < y;
    bt_plan_values(t->plan, a, t->va);
    bt_plan_values(t->plan, b, t->vb);
    for (size_t i = 1; i < bt_plan_naxes(t->plan); i++)
        if (t->va[i] != t->vb[i])
            return t->va[i] < t->vb[i];
    return a < b;
}

static void s_choose(bt_wftest_t *t, size_t w)
{
    bt_wf_outcome_t *o = &t->out[w];
    for (uint64_t p = 0; p < t->npoints; p++) {
        uint64_t j = (uint64_t)w * t->npoints + p;
        if (t->min_trades > 0 && !(t->jobs[j].trades >= t->min_trades))
            continue; /* as the sweep's ranking: too few trades to be trusted */
        if (t->jobs[j].state == 1 && (!o->chosen || s_better(t, j, o->job))) {
            o->chosen = true;
            o->job = j;
        }
    }
    if (o->chosen) {
        o->is_rank = t->jobs[o->job].rank;
        o->is_cagr = t->jobs[o->job].cagr;
    }
}

/* Window next is over: its ending equity carries into the following one. */
static void s_settle(bt_wftest_t *t)
{
    t->out[t->next].settled = true;
    t->cash = t->out[t->next].end_equity;
    t->next++;
    t->released = false;
}

void bt_wftest_advance(bt_wftest_t *t)
{
    while (t->next < t->nwin && !t->released && t->in[t->next] == t->npoints) {
        size_t w = t->next;
        bt_wf_outcome_t *o = &t->out[w];
        s_choose(t, w);
        o->start_equity = t->cash;
        o->end_equity = t->cash;
        const char *skip = !o->chosen && t->min_trades > 0
                               ? "no training point ok with sweep.rank_min_trades trades or more"
                           : !o->chosen       ? "every training job failed"
                           : !(t->cash > 0.0) ? "no equity left to carry into this window"
                                              : NULL;
        if (skip) {
            bt_log(BT_LOG_WARN,
                   "walk-forward window %zu: %s; the window is skipped (equity "
                   "carried unchanged)",
                   w, skip);
            bt_sched_mark_done(t->sched, t->njobs + w, true);
            s_settle(t);
            continue;
        }
        bt_sched_release(t->sched, t->njobs + w);
        t->released = true;
    }
}

bt_err_t bt_wftest_result(bt_wftest_t *t, const bt_msg_result_t *r, bt_errbuf_t *eb)
{
    if (r->job_id != t->njobs + t->next || !t->released)
        return bt_errf(eb, BT_EINVAL,
                       "walk-forward: a result for test job %llu, which is not "
                       "running",
                       (unsigned long long)r->job_id);
    bt_wf_outcome_t *o = &t->out[t->next];
    if (r->status == BT_JOB_OK && r->has_seg && r->nseg > 0) {
        /* One block: times, then the doubles, then the flags. */
        size_t nd = (size_t)r->nseg + 2 * (size_t)r->nfills + r->ntrades;
        char *blk = malloc(r->nseg * sizeof(int64_t) + nd * sizeof(double) + r->nseg);
        if (!blk)
            return bt_errf(eb, BT_ENOMEM, "out of memory for a walk-forward test segment");
        bt_wf_seg_t *s = &o->seg;
        s->time = (int64_t *)(void *)blk;
        s->equity = (double *)(void *)(blk + r->nseg * sizeof(int64_t));
        s->fill_value = s->equity + r->nseg;
        s->fill_commission = s->fill_value + r->nfills;
        s->trade_pnl = s->fill_commission + r->nfills;
        s->exposed = (uint8_t *)(s->trade_pnl + r->ntrades);
        memcpy(s->time, r->seg_time, r->nseg * sizeof *s->time);
        memcpy(s->equity, r->seg_equity, r->nseg * sizeof *s->equity);
        memcpy(s->exposed, r->seg_exposed, r->nseg);
        if (r->nfills) {
            memcpy(s->fill_value, r->fill_value, r->nfills * sizeof(double));
            memcpy(s->fill_commission, r->fill_commission, r->nfills * sizeof(double));
        }
        if (r->ntrades)
            memcpy(s->trade_pnl, r->trade_pnl, r->ntrades * sizeof(double));
        s->n = r->nseg;
        s->nfills = r->nfills;
        s->ntrades = r->ntrades;
        s->rejected = r->rejected;
        o->tested = true;
        o->oos = r->metrics;
        o->end_equity = s->equity[s->n - 1];
    } else {
        bt_log(BT_LOG_WARN, "walk-forward window %zu: test run failed: %s", t->next,
               r->status == BT_JOB_OK ? "no bars" : r->error);
    }
    s_settle(t);
    bt_wftest_advance(t);
    return BT_OK;
}

size_t bt_wftest_overrides(const bt_wftest_t *t, uint64_t id, bt_wire_override_t *over, size_t max)
{
    size_t w = (size_t)(id - t->njobs), naxes = bt_plan_naxes(t->plan), n = 0;
    if (id < t->njobs || w >= t->nwin || max < naxes + 1)
        return 0;
    const char *const *keys = bt_plan_axis_keys(t->plan);
    bt_plan_values(t->plan, t->out[w].job, t->va);
    bt_str_copy(over[n].key, sizeof over[n].key, BT_WF_TEST_KEY);
    over[n++].value = (double)w;
    for (size_t a = 1; a < naxes; a++) {
        bt_str_copy(over[n].key, sizeof over[n].key, keys[a]);
        over[n++].value = t->va[a];
    }
    bt_str_copy(over[n].key, sizeof over[n].key, BT_WF_CASH_KEY);
    over[n++].value = t->out[w].start_equity;
    return n;
}

const bt_wf_outcome_t *bt_wftest_outcomes(const bt_wftest_t *t)
{
    return t->out;
}

bool bt_wftest_done(const bt_wftest_t *t)
{
    return t->next == t->nwin;
}
