#include "bt_runner.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_dscache.h"
#include "bt_engine.h"
#include "bt_batch.h"
#include "bt_indcache.h"
#include "bt_log.h"

#define S_CACHE_BYTES ((size_t)512 << 20) /* declared indicator columns kept per sweep */
#define S_FAST_CHUNK 8 /* fast-path work items are whole groups of bt_batch's vector lanes */
#define S_FAST_CHUNK_MAX 512               /* and at most (bt_batch's one-symbol pass) */
#include "bt_pystrat.h"

struct bt_runner {
    const bt_config_t *base;  /* sweep config, not owned */
    const bt_dataset_t *ds;   /* cached dataset, not owned */
    int threads;              /* threads this worker may use */
    bt_engine_t **engines;    /* one per thread */
    bool fast;                /* grid fast path on (bt_batch; BT_FAST=0 turns it off) */
    bt_batch_t **grids;        /* one per thread, made on first use */
    bt_indcache_t *cache;     /* declared indicator columns of this sweep */
    uint64_t nfast;           /* jobs run by the fast path so far */
    /* The fast path's per-batch scratch, kept across batches: a batch of
     * thousands of jobs would otherwise map and fault in megabytes each time. */
    bt_batch_job_t *fj;       /* fcap jobs */
    bt_engine_cfg_t *fec;     /* fcap engine settings */
    size_t *fidx;             /* fcap job indices */
    size_t fcap;
    const double **fcols;     /* fcols_cap column pointers */
    size_t fcols_cap;
    uint64_t njobs;           /* jobs run so far */
    uint64_t run_us;          /* wall time in bt_runner_run, all jobs */
    /* Walk-forward windows of the base config (computed on first use). */
    bool wf_ready;            /* windows computed (or failed: wf_err) */
    bt_wf_window_t *wf;       /* nwf windows */
    size_t nwf;
    int64_t *wf_times;        /* the union timeline they index */
    char wf_err[1024];        /* why there are none, "" if fine */
};

/* A job made ready to run: its own config and its series views. */
typedef struct {
    bt_config_t *cfg;         /* base + overrides */
    bt_series_t *series;      /* nsym views into the dataset */
    size_t nsym;
    bool test;                /* a walk-forward test job (wf.test) */
    int64_t trade_start;      /* its test range's first bar */
    bool has_cash;            /* wf.cash given */
    double cash;              /* the account's starting cash */
} s_prep_t;

static uint64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bt_runner_t *bt_runner_new(const bt_config_t *base, const bt_dataset_t *ds, int threads)
{
    bt_runner_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->ds = ds;
    self->threads = threads > 0 ? threads : 1;
    self->engines = calloc((size_t)self->threads, sizeof *self->engines);
    if (!self->engines) {
        free(self);
        return NULL;
    }
    for (int i = 0; i < self->threads; i++) {
        self->engines[i] = bt_engine_new();
        if (!self->engines[i]) {
            bt_runner_destroy(&self);
            return NULL;
        }
    }
    const char *env = getenv("BT_FAST");
    self->fast = !(env && strcmp(env, "0") == 0);
    return self;
}

void bt_runner_destroy(bt_runner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_runner_t *self = *self_p;
    if (self->njobs)
        bt_log(BT_LOG_INFO,
               "grid fast path: %llu of %llu job(s), %zu indicator column(s) computed, %.2f us "
               "per job in the runner (set-up, run, results)",
               (unsigned long long)self->nfast, (unsigned long long)self->njobs,
               self->cache ? bt_indcache_computed(self->cache) : (size_t)0,
               (double)self->run_us / (double)self->njobs);
    for (int i = 0; i < self->threads; i++) {
        bt_engine_destroy(&self->engines[i]);
        if (self->grids)
            bt_batch_destroy(&self->grids[i]);
    }
    free(self->engines);
    free(self->grids);
    free(self->fj);
    free(self->fec);
    free(self->fidx);
    free(self->fcols);
    bt_indcache_destroy(&self->cache);
    free(self->wf);
    free(self->wf_times);
    free(self);
    *self_p = NULL;
}

/* Series of the config's symbols (all of the dataset when "all"). */
static bt_err_t s_pick_series(const bt_config_t *cfg, const bt_dataset_t *ds, bt_series_t **out,
                              size_t *nout, bt_errbuf_t *eb)
{
    size_t n = 0;
    const char *const *names = bt_config_symbols(cfg, &n);
    return bt_dataset_pick(ds, names, n, out, nout, eb);
}

static bt_err_t s_apply_symbols(bt_config_t *cfg, const bt_config_t *base, double value,
                                bt_errbuf_t *eb)
{
    const bt_sweep_spec_t *sw = bt_config_sweep(base);
    for (size_t a = 0; sw && a < sw->naxes; a++) {
        const bt_axis_spec_t *ax = &sw->axes[a];
        if (ax->kind != BT_AXIS_SYMBOLS || strcmp(ax->key, BT_RUNNER_SYMBOLS_KEY) != 0)
            continue;
        if (!(value >= 0.0) || value >= (double)ax->nsets || value != (double)(size_t)value)
            return bt_errf(eb, BT_ERANGE, "symbol set index %g out of range (0..%zu)", value,
                           ax->nsets ? ax->nsets - 1 : 0);
        size_t k = (size_t)value;
        return bt_config_set_symbols(cfg, (const char *const *)ax->symsets[k], ax->symset_len[k],
                                     eb);
    }
    return bt_errf(eb, BT_ECONFIG, "job sets %s but the sweep has no symbol-set axis",
                   BT_RUNNER_SYMBOLS_KEY);
}

/* Computes the walk-forward windows of the base config over the dataset,
 * exactly as the coordinator does (bt_wf.h): union timeline of the base
 * config's symbols within data.start..data.end. */
static void s_wf_init(bt_runner_t *self)
{
    self->wf_ready = true;
    const bt_wf_spec_t *spec = bt_config_walk_forward(self->base);
    if (!spec)
        return;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_series_t *s = NULL;
    size_t n = 0, nt = 0;
    const bt_engine_cfg_t *ec = bt_config_engine(self->base);
    bt_err_t rc = s_pick_series(self->base, self->ds, &s, &n, &eb);
    if (rc == BT_OK)
        rc = bt_wf_timeline(s, n, ec->start, ec->end, &self->wf_times, &nt, &eb);
    if (rc == BT_OK)
        rc = bt_wf_windows(spec, self->wf_times, nt, &self->wf, &self->nwf, &eb);
    if (rc != BT_OK)
        snprintf(self->wf_err, sizeof self->wf_err, "%s", eb.msg[0] ? eb.msg : bt_strerror(rc));
    free(s);
}

/* Restricts cfg to the training range of walk-forward window `value`; for a
 * test job (test) to the training start .. test end, trading from the test
 * start: the training range warms the strategy up (docs/walkforward.md). */
static bt_err_t s_apply_window(s_prep_t *p, const bt_runner_t *self, double value, bool test,
                               bt_errbuf_t *eb)
{
    bt_config_t *cfg = p->cfg;
    if (self->wf_err[0])
        return bt_errf(eb, BT_EDATA, "%s", self->wf_err);
    if (!self->wf)
        return bt_errf(eb, BT_ECONFIG, "job sets %s but the config has no walk_forward: section",
                       BT_WF_WINDOW_KEY);
    if (!(value >= 0.0) || value >= (double)self->nwf || value != (double)(size_t)value)
        return bt_errf(eb, BT_ERANGE, "walk-forward window %g out of range (0..%zu)", value,
                       self->nwf - 1);
    const bt_wf_window_t *w = &self->wf[(size_t)value];
    bt_config_set_range(cfg, w->train_first, test ? w->test_last : w->train_last);
    p->test = test;
    p->trade_start = w->test_first;
    return BT_OK;
}

static bt_err_t s_prepare(const bt_runner_t *self, const bt_runner_job_t *job, s_prep_t *p,
                          bt_errbuf_t *eb)
{
    memset(p, 0, sizeof *p);
    p->cfg = bt_config_dup(self->base);
    if (!p->cfg)
        return bt_errf(eb, BT_ENOMEM, "out of memory copying the config");
    for (size_t i = 0; i < job->nover; i++) {
        const char *k = job->keys[i];
        double v = job->values[i];
        bt_err_t rc = BT_OK;
        if (strcmp(k, BT_RUNNER_SYMBOLS_KEY) == 0)
            rc = s_apply_symbols(p->cfg, self->base, v, eb);
        else if (strcmp(k, BT_WF_WINDOW_KEY) == 0 || strcmp(k, BT_WF_TEST_KEY) == 0)
            rc = s_apply_window(p, self, v, strcmp(k, BT_WF_TEST_KEY) == 0, eb);
        else if (strcmp(k, BT_WF_CASH_KEY) == 0 && v > 0.0)
            p->has_cash = true, p->cash = v;
        else if (strcmp(k, BT_WF_CASH_KEY) == 0)
            rc = bt_errf(eb, BT_ERANGE, "%s = %g: the starting cash must be positive",
                         BT_WF_CASH_KEY, v);
        else
            rc = bt_config_set(p->cfg, k, v, eb);
        if (rc != BT_OK)
            return rc;
    }
    return s_pick_series(p->cfg, self->ds, &p->series, &p->nsym, eb);
}

static void s_prep_fini(s_prep_t *p)
{
    bt_config_destroy(&p->cfg);
    free(p->series);
    p->series = NULL;
}

static uint64_t s_bars_in_range(const s_prep_t *p)
{
    const bt_engine_cfg_t *ec = bt_config_engine(p->cfg);
    uint64_t bars = 0;
    for (size_t i = 0; i < p->nsym; i++)
        bars += bt_series_slice_time(&p->series[i], ec->start, ec->end).n;
    return bars;
}

/* Copies what the coordinator stitches from a test run's recorder. */
static bt_err_t s_take_segment(const bt_recorder_t *rec, int64_t trade_start,
                               bt_runner_job_t *job, bt_errbuf_t *eb)
{
    size_t n = rec->nequity, nf = 0, nt = 0;
    for (size_t i = 0; i < rec->norders; i++)
        nf += rec->orders[i].filled != 0.0 || rec->orders[i].commission != 0.0;
    for (size_t i = 0; i < rec->ntrades; i++)
        nt += !rec->trades[i].open;
    job->seg_time = malloc((n ? n : 1) * sizeof *job->seg_time);
    job->seg_equity = malloc((n ? n : 1) * sizeof *job->seg_equity);
    job->seg_exposed = malloc(n ? n : 1);
    job->fill_value = malloc((nf ? nf : 1) * sizeof *job->fill_value);
    job->fill_commission = malloc((nf ? nf : 1) * sizeof *job->fill_commission);
    job->trade_pnl = malloc((nt ? nt : 1) * sizeof *job->trade_pnl);
    job->has_seg = true;
    if (!job->seg_time || !job->seg_equity || !job->seg_exposed || !job->fill_value ||
        !job->fill_commission || !job->trade_pnl)
        return bt_errf(eb, BT_ENOMEM, "out of memory for the test run's equity segment");
    for (size_t i = 0; i < n; i++) {
        job->seg_time[i] = rec->equity[i].time;
        job->seg_equity[i] = rec->equity[i].equity;
        job->seg_exposed[i] = rec->equity[i].positions_value != 0.0;
    }
    job->nseg = n;
    for (size_t i = 0; i < rec->norders; i++) {
        const bt_order_rec_t *o = &rec->orders[i];
        if (o->filled != 0.0 || o->commission != 0.0) {
            job->fill_value[job->nfills] = fabs(o->filled * o->avg_price);
            job->fill_commission[job->nfills++] = o->commission;
        }
        /* warm-up refusals are not counted (as in the engine) */
        job->rejected += o->status == BT_OS_REJECTED && o->created >= trade_start;
    }
    for (size_t i = 0; i < rec->ntrades; i++)
        if (!rec->trades[i].open)
            job->trade_pnl[job->ntrades++] = rec->trades[i].pnl;
    return BT_OK;
}

void bt_runner_job_fini(bt_runner_job_t *job)
{
    free(job->seg_time);
    free(job->seg_equity);
    free(job->seg_exposed);
    free(job->fill_value);
    free(job->fill_commission);
    free(job->trade_pnl);
    job->seg_time = NULL;
    job->seg_equity = NULL;
    job->seg_exposed = NULL;
    job->fill_value = job->fill_commission = job->trade_pnl = NULL;
    job->nseg = job->nfills = job->ntrades = 0;
    job->rejected = 0;
    job->has_seg = false;
}

static void s_run_one(bt_engine_t *eng, const s_prep_t *p, int threads, bt_runner_job_t *job)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_engine_cfg_t ec = *bt_config_engine(p->cfg);
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    if (p->test)
        ec.trade_start = p->trade_start;
    if (p->has_cash)
        ec.initial_cash = p->cash;
    bt_run_spec_t spec = {
        .series = p->series,
        .nsym = p->nsym,
        .strategy = bt_config_strategy(p->cfg),
        .params = bt_config_params(p->cfg),
        .cfg = &ec,
        .threads = threads,
        .rec = p->test ? &rec : NULL,
        .blocks_out = p->test ? NULL : job->blk, /* PBO block statistics (docs/overfitting.md) */
    };
    job->nblk = 0;
    uint64_t t0 = s_now_us();
    bt_err_t rc = bt_engine_run(eng, &spec, &job->metrics, &eb);
    job->run_us = s_now_us() - t0;
    if (rc == BT_OK)
        rc = bt_pystrat_take_error(spec.strategy, &eb); /* a Python exception fails the job */
    if (rc == BT_OK && p->test)
        rc = s_take_segment(&rec, p->trade_start, job, &eb);
    bt_recorder_fini(&rec);
    if (rc == BT_OK && p->test) {
        job->ok = true;
        job->bars = s_bars_in_range(p);
    } else if (rc == BT_OK) {
        job->ok = true;
        job->bars = s_bars_in_range(p);
        job->nblk = 3u * (uint32_t)spec.cfg->pbo_blocks;
    } else {
        job->ok = false;
        bt_runner_job_fini(job);
        memset(&job->metrics, 0, sizeof job->metrics);
        snprintf(job->error, sizeof job->error, "%s", eb.msg[0] ? eb.msg : bt_strerror(rc));
    }
}

void bt_runner_set_fast(bt_runner_t *self, bool on)
{
    self->fast = on;
}

static bool s_fast_init(bt_runner_t *self)
{
    if (!self->cache)
        self->cache = bt_indcache_new(S_CACHE_BYTES);
    if (!self->grids)
        self->grids = calloc((size_t)self->threads, sizeof *self->grids);
    if (!self->cache || !self->grids)
        return false;
    for (int i = 0; i < self->threads; i++)
        if (!self->grids[i] && !(self->grids[i] = bt_batch_new()))
            return false;
    return true;
}

/* Grows the fast path's scratch to n jobs and ncols column pointers. */
static bool s_fast_scratch(bt_runner_t *self, size_t n, size_t ncols)
{
    if (n > self->fcap) {
        free(self->fj);
        free(self->fec);
        free(self->fidx);
        self->fj = malloc(n * sizeof *self->fj);
        self->fec = malloc(n * sizeof *self->fec);
        self->fidx = malloc(n * sizeof *self->fidx);
        self->fcap = self->fj && self->fec && self->fidx ? n : 0;
        if (!self->fcap)
            return false;
    }
    if (ncols > self->fcols_cap) {
        free(self->fcols);
        self->fcols = malloc(ncols * sizeof *self->fcols);
        self->fcols_cap = self->fcols ? ncols : 0;
        if (!self->fcols)
            return false;
    }
    return true;
}

/* The jobs that can take the grid fast path run here (bt_batch, docs/engine.md
 * "Grid fast path"); their ready[] is cleared. The rest, and all jobs when
 * anything here runs out of memory, go through s_run_one. */
static void s_run_fast(bt_runner_t *self, bt_runner_job_t *jobs, const s_prep_t *prep,
                       bool *ready, size_t n)
{
    if (!self->fast || !s_fast_init(self))
        return;
    bt_indcache_trim(self->cache);
    size_t per = 0; /* column pointers per job: its symbols x (BT_DECL_MAX + 1) */
    for (size_t i = 0; i < n; i++)
        if (ready[i] && prep[i].nsym * (BT_DECL_MAX + 1) > per)
            per = prep[i].nsym * (BT_DECL_MAX + 1);
    if (!s_fast_scratch(self, n, n * (per ? per : 1)))
        return;
    bt_batch_job_t *gj = self->fj;
    bt_engine_cfg_t *ec = self->fec;
    const double **cols = self->fcols;
    size_t *idx = self->fidx;
    size_t m = 0;
    /* the batch's new columns are computed together below, on every thread */
    bt_indcache_defer(self->cache, true);
    size_t ncol0 = bt_indcache_computed(self->cache);
    for (size_t i = 0; per && gj && ec && cols && idx && i < n; i++) {
        const s_prep_t *p = &prep[i];
        if (!ready[i] || p->test)
            continue;
        ec[m] = *bt_config_engine(p->cfg);
        if (p->has_cash)
            ec[m].initial_cash = p->cash;
        bt_run_spec_t spec = {
            .series = p->series,
            .nsym = p->nsym,
            .strategy = bt_config_strategy(p->cfg),
            .params = bt_config_params(p->cfg),
            .cfg = &ec[m],
            .threads = 1,
            .blocks_out = jobs[i].blk,
        };
        if (!bt_batch_eligible(&spec))
            continue;
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        if (!bt_batch_prepare(self->cache, &spec, &cols[m * per], &eb))
            continue; /* e.g. symbols on several timelines: the per-point path runs it */
        gj[m].spec = spec;
        gj[m].cols = &cols[m * per];
        idx[m++] = i;
    }
    bt_indcache_defer(self->cache, false);
    uint64_t tf = s_now_us();
    bt_indcache_fill(self->cache, self->threads); /* (also columns of jobs set aside above) */
    tf = s_now_us() - tf;
    if (m == 0)
        return;
    bt_batch_t **grids = self->grids;
    /* Large work items let bt_batch run many points block by block: lanes
     * that share a column read its block from cache, so a job costs less
     * the more lanes a pass has (issue 15's grid at 200,000 bars: ~600 us
     * a job at 50 lanes, ~360 at 180). So one item per thread, as few as
     * the pass size allows, of equal size, a multiple of the threads (a
     * small batch, while the coordinator's batches grow, still runs on
     * every thread). */
    size_t th = (size_t)(self->threads > 0 ? self->threads : 1);
    size_t nitems = (m + S_FAST_CHUNK_MAX - 1) / S_FAST_CHUNK_MAX;
    nitems = (nitems + th - 1) / th * th; /* every thread the same share */
    size_t chunk = (m + nitems - 1) / (nitems ? nitems : 1);
    chunk = (chunk + S_FAST_CHUNK - 1) / S_FAST_CHUNK * S_FAST_CHUNK; /* whole lane groups */
    chunk = chunk > S_FAST_CHUNK_MAX ? S_FAST_CHUNK_MAX : chunk;
    long nchunks = (long)((m + chunk - 1) / chunk);
    uint64_t t0 = s_now_us();
#pragma omp parallel for default(none) shared(grids, gj, m, nchunks, chunk) \
    num_threads(self->threads) schedule(dynamic, 1)
    for (long c = 0; c < nchunks; c++) {
        size_t a = (size_t)c * chunk;
        size_t b = a + chunk < m ? a + chunk : m;
        bt_batch_run(grids[omp_get_thread_num()], &gj[a], b - a);
    }
    uint64_t trun = s_now_us() - t0;
    uint64_t us = m ? trun / m : 0; /* a lane has no wall time of its own */
    bt_log(BT_LOG_DEBUG,
           "fast path batch: %zu job(s) in %ld item(s) of <= %zu; %zu new column(s) in %.1f ms, "
           "run %.1f ms",
           m, nchunks, chunk, bt_indcache_computed(self->cache) - ncol0, (double)tf / 1e3,
           (double)trun / 1e3);
    for (size_t k = 0; k < m; k++) {
        size_t i = idx[k];
        bt_runner_job_t *job = &jobs[i];
        ready[i] = false;
        job->run_us = us;
        job->nblk = 0;
        if (gj[k].rc == BT_OK) {
            job->ok = true;
            job->metrics = gj[k].metrics;
            job->bars = s_bars_in_range(&prep[i]);
            job->nblk = 3u * (uint32_t)ec[k].pbo_blocks;
        } else {
            job->ok = false;
            memset(&job->metrics, 0, sizeof job->metrics);
            snprintf(job->error, sizeof job->error, "%s",
                     gj[k].eb.msg[0] ? gj[k].eb.msg : bt_strerror(gj[k].rc));
        }
    }
    self->nfast += m;
}

void bt_runner_run(bt_runner_t *self, bt_runner_job_t *jobs, size_t n)
{
    if (n == 0)
        return;
    uint64_t t_run = s_now_us();
    s_prep_t *prep = calloc(n, sizeof *prep);
    bool *ready = calloc(n, sizeof *ready);
    if (!prep || !ready) {
        for (size_t i = 0; i < n; i++) {
            jobs[i].ok = false;
            snprintf(jobs[i].error, sizeof jobs[i].error, "worker out of memory");
        }
        free(prep);
        free(ready);
        return;
    }
    if (!self->wf_ready)
        s_wf_init(self);
    /* Preparation (config copies) is sequential: only engine runs go parallel. */
    size_t max_sym = 0;
    for (size_t i = 0; i < n; i++) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        jobs[i].ok = false;
        jobs[i].error[0] = '\0';
        jobs[i].run_us = 0;
        jobs[i].bars = 0;
        memset(&jobs[i].metrics, 0, sizeof jobs[i].metrics);
        if (s_prepare(self, &jobs[i], &prep[i], &eb) != BT_OK) {
            snprintf(jobs[i].error, sizeof jobs[i].error, "%s",
                     eb.msg[0] ? eb.msg : bt_strerror(eb.code));
            continue;
        }
        /* A range with no bar would run and report all-zero metrics as "ok":
         * checked here too, whatever the coordinator checked (it may be
         * older, or the job's own overrides may move the range). */
        const bt_engine_cfg_t *ec = bt_config_engine(prep[i].cfg);
        if (bt_dataset_check_range(prep[i].series, prep[i].nsym, ec->start, ec->end, &eb) !=
            BT_OK) {
            snprintf(jobs[i].error, sizeof jobs[i].error, "data.start / data.end: %.900s", eb.msg);
            continue;
        }
        ready[i] = true;
        if (prep[i].nsym > max_sym)
            max_sym = prep[i].nsym;
    }
    self->njobs += n;
    s_run_fast(self, jobs, prep, ready, n);
    int threads = self->threads;
    /* Python strategies run on one thread: one interpreter, jobs in order */
    if (bt_pystrat_is(bt_config_strategy(self->base))) {
        double lim = 0;
        bt_errbuf_t leb;
        if (bt_config_get(self->base, "strategy_python_timeout", &lim, &leb) == BT_OK)
            bt_pystrat_set_call_limit(lim);
        threads = 1;
    }
    bt_engine_t **engines = self->engines;
    /* One job per thread (each engine single-threaded) when the batch has
     * enough jobs to keep every thread busy, or too few symbols to split a
     * job: no fork/join per job and no sleeve merge, which for short jobs
     * (~1 ms) costs more than it gains. Symbols in parallel inside a job only
     * for a small batch of jobs with many symbols. */
    bool by_job = (size_t)threads <= n / 2 || max_sym < (size_t)threads;
    if (threads > 1 && n > 1 && by_job) {
        long nl = (long)n;
#pragma omp parallel for default(none) shared(engines, prep, ready, jobs, nl) \
    num_threads(threads) schedule(dynamic, 1)
        for (long i = 0; i < nl; i++) {
            if (ready[i])
                s_run_one(engines[omp_get_thread_num()], &prep[i], 1, &jobs[i]);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            if (ready[i])
                s_run_one(engines[0], &prep[i], threads, &jobs[i]);
    }
    for (size_t i = 0; i < n; i++)
        s_prep_fini(&prep[i]);
    free(prep);
    free(ready);
    self->run_us += s_now_us() - t_run;
}

bt_err_t bt_runner_check(const bt_config_t *base, const bt_dataset_t *ds, bt_errbuf_t *eb)
{
    bt_series_t *s = NULL;
    size_t n = 0;
    bt_err_t rc = s_pick_series(base, ds, &s, &n, eb);
    free(s);
    return rc;
}
