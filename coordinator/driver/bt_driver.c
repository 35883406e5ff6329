#define _XOPEN_SOURCE 700 /* realpath */
#include "bt_driver.h"

#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bt_csvw.h"
#include "bt_fs.h"
#include "bt_html_sweep.h"
#include "bt_jhead.h"
#include "bt_journal.h"
#include "bt_local.h"
#include "bt_lock.h"
#include "bt_log.h"
#include "bt_memtune.h"
#include "bt_metrics.h"
#include "bt_plan.h"
#include "bt_report.h"
#include "bt_sched.h"
#include "bt_server.h"
#include "bt_ship.h"
#include "bt_status.h"
#include "bt_sweepend.h"
#include "bt_sweepjob.h"
#include "bt_time.h"
#include "bt_wfreport.h"
#include "bt_wftest.h"

/* Everything one run holds. */
/* The command's inputs. */
typedef struct {
    const char *config_path;
    const bt_config_t *cfg;
    const char *yaml;
    size_t yaml_len;
    const bt_driver_opts_t *o;
} s_in_t;

typedef struct {
    const s_in_t *in;
    bt_plan_t *plan;
    uint64_t njobs; /* training jobs (the journal's and the report's rows) */
    size_t naxes;
    double *values;  /* scratch: naxes */
    bt_jhead_t head; /* journal header and metric columns */
    bool same_cols;  /* the journal's columns are this build's, in order */
    bt_journal_t *journal;
    bt_report_t *report;
    bt_sched_t *sched;
    bt_wftest_t *wf; /* walk-forward test chain, NULL for a plain sweep */
    bt_local_t *local;
    bt_server_t *srv;            /* bound before the plan (s_start_early), or NULL */
    char status_path[PATH_MAX];  /* its status.json (the server keeps the pointer) */
    bt_lock_t *lock;             /* the output folder's lock, held for the whole run */
    uint64_t replayed;           /* distinct finished jobs taken from the journal */
    uint64_t jobs_run, bars_run; /* results journaled this session */
    int rank_metric;
    bool rank_desc;
} s_run_t;

/* This process's CPU seconds so far (all its threads, not the workers). */
static double s_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double s_peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* A record's metrics in BT_METRICS order (journal records are in the journal's columns). */
static const bt_journal_rec_t *s_in_build_order(const s_run_t *d, const bt_journal_rec_t *r,
                                                bt_journal_rec_t *tmp, bt_metrics_t *m)
{
    if (r->nmetrics == 0 || (d->same_cols && !d->wf))
        return r; /* the common case costs nothing */
    bt_jhead_from_cols(&d->head, r->metrics, r->nmetrics, m);
    if (d->same_cols)
        return r;
    *tmp = *r;
    tmp->nmetrics = bt_metrics_count();
    for (size_t i = 0; i < tmp->nmetrics; i++)
        tmp->metrics[i] = bt_metrics_get(m, i);
    return tmp;
}

/* Keeps one training result (replayed or live). */
static void s_keep(s_run_t *d, const bt_journal_rec_t *r)
{
    bt_journal_rec_t tmp;
    bt_metrics_t m;
    const bt_journal_rec_t *rr = s_in_build_order(d, r, &tmp, &m);
    bt_report_set_result(d->report, rr);
    if (d->wf)
        bt_wftest_train(d->wf, r->job_id, r->ok && r->nmetrics ? &m : NULL);
}

static void s_on_replay(void *user, const bt_journal_rec_t *r)
{
    s_run_t *d = user;
    if (r->job_id >= d->njobs)
        return;
    if (bt_sched_mark_done(d->sched, r->job_id, r->ok != 0))
        d->replayed++;
    s_keep(d, r);
}

/* ---- server hooks ---- */

static size_t s_job(void *user, uint64_t id, bt_wire_override_t *over, size_t max)
{
    s_run_t *d = user;
    if (id >= d->njobs)
        return d->wf ? bt_wftest_overrides(d->wf, id, over, max) : 0;
    const char *const *keys = bt_plan_axis_keys(d->plan);
    bt_plan_values(d->plan, id, d->values);
    size_t n = d->naxes < max ? d->naxes : max;
    for (size_t a = 0; a < n; a++) {
        bt_str_copy(over[a].key, sizeof over[a].key, keys[a]);
        over[a].value = d->values[a];
    }
    return n;
}

static bt_err_t s_result(void *user, const char *worker, const bt_msg_result_t *r, bt_errbuf_t *eb)
{
    s_run_t *d = user;
    if (r->job_id >= d->njobs) {
        if (!d->wf)
            return bt_errf(eb, BT_EINVAL, "result for job %llu of %llu",
                           (unsigned long long)r->job_id, (unsigned long long)d->njobs);
        return bt_wftest_result(d->wf, r, eb);
    }
    bt_local_progress(d->local); /* (a final outcome: no crash loop at start) */
    bool ok = r->status == BT_JOB_OK;
    bt_journal_rec_t rec;
    rec.job_id = r->job_id;
    rec.attempt = r->attempt;
    rec.ok = ok ? 1 : 0;
    bt_str_copy(rec.error, sizeof rec.error, ok ? "" : r->error);
    rec.nmetrics = 0;
    if (ok && r->has_metrics && d->same_cols) {
        memcpy(rec.metrics, &r->metrics, sizeof r->metrics);
        rec.nmetrics = bt_metrics_count();
    } else if (ok && r->has_metrics) {
        rec.nmetrics = bt_jhead_to_cols(&d->head, &r->metrics, rec.metrics);
    }
    rec.nblk = ok && r->nblk <= BT_JOURNAL_MAX_BLK ? r->nblk : 0; /* PBO block statistics */
    rec.blk_f32 = 0;
    if (rec.nblk)
        memcpy(rec.blk, r->blk, rec.nblk * sizeof *rec.blk);
    if (rec.nblk && d->head.version >= 3)
        bt_report_blocks_f32(&rec); /* 4 bytes a number in the journal, the same PBO */
    bt_str_copy(rec.worker, sizeof rec.worker, worker);
    rec.run_us = r->run_us;
    rec.bars = r->bars;
    bt_err_t rc = bt_journal_append(d->journal, &rec, eb);
    if (rc != BT_OK)
        return rc;
    s_keep(d, &rec);
    d->jobs_run++;
    d->bars_run += r->bars;
    if (d->wf)
        bt_wftest_advance(d->wf);
    return BT_OK;
}

static bt_err_t s_commit(void *user, bt_errbuf_t *eb)
{
    s_run_t *d = user;
    return bt_journal_sync(d->journal, eb);
}

static bt_err_t s_flush(void *user, bt_errbuf_t *eb)
{
    s_run_t *d = user;
    return bt_journal_flush(d->journal, eb);
}

static void s_tick(void *user)
{
    s_run_t *d = user;
    bt_local_reap(d->local);
}

static size_t s_dead(void *user, char (*name)[64], char (*how)[64], size_t max)
{
    s_run_t *d = user;
    bt_local_death_t got[8];
    size_t n = bt_local_take_deaths(d->local, got, max < 8 ? max : 8);
    for (size_t k = 0; k < n; k++) {
        snprintf(name[k], 64, "%s", got[k].name);
        snprintf(how[k], 64, "%s", got[k].how);
    }
    return n;
}

static void s_progress(void *user, char *buf, size_t cap)
{
    s_run_t *d = user;
    uint64_t bid;
    double bv;
    if (d->rank_metric >= 0 &&
        bt_report_best(d->report, (size_t)d->rank_metric, d->rank_desc, &bid, &bv))
        snprintf(buf, cap, ", best %s %.4g (job %llu)", bt_metrics_name((size_t)d->rank_metric), bv,
                 (unsigned long long)bid);
}

/* ---- steps ---- */

/* Output folder, journal (new or resumed, replayed), report, scheduler,
 * walk-forward chain. Returns an exit status, 0 to go on. */
static int s_prepare(s_run_t *d, bt_errbuf_t *eb)
{
    const s_in_t *in = d->in;
    const bt_driver_opts_t *a = in->o;
    if (bt_fs_mkdir_p(a->out_dir, eb) != BT_OK)
        return 1;
    d->lock = bt_lock_take(a->out_dir, eb);
    if (!d->lock)
        return eb->code == BT_EEXIST ? 2 : 1;
    /* the config as read, for bt run --from-sweep and the report's re-runs */
    if (bt_sweepjob_save(a->out_dir, in->yaml, in->yaml_len, a->sets, a->nsets, eb) != BT_OK)
        return 1;
    char id[BT_JOURNAL_MAX_HEADER];
    if (bt_plan_journal_id(d->plan, id, sizeof id, eb) != BT_OK)
        return 2;
    bt_err_t rc =
        a->resume ? bt_jhead_load(&d->head, a->out_dir, id, eb) : bt_jhead_make(&d->head, id, eb);
    if (rc != BT_OK && !(a->resume && (rc == BT_ENOTFOUND || rc == BT_EFORMAT)))
        return 2;
    if (rc != BT_OK) /* the file itself is missing or broken: bt_journal_open says how */
        bt_jhead_make(&d->head, id, eb);
    d->same_cols = d->head.ncols == bt_metrics_count();
    for (size_t i = 0; d->same_cols && i < d->head.ncols; i++)
        d->same_cols = d->head.col_of_metric[i] == (int)i;
    d->journal = bt_journal_open(a->out_dir, d->head.text, a->resume, eb);
    if (!d->journal)
        return 2;
    /* a journal keeps its own format: version 3 (new sweeps) in groups */
    bt_journal_set_grouped(d->journal, d->head.version >= 3);
    size_t nwin = a->trivial ? 0 : bt_plan_windows(d->plan);
    d->sched = bt_sched_new(d->njobs + nwin, (uint32_t)a->max_attempts, a->lease_ms);
    d->report = bt_report_new(d->njobs, d->naxes, bt_plan_axis_keys(d->plan));
    d->values = calloc(d->naxes, sizeof *d->values);
    d->wf = nwin && d->sched ? bt_wftest_new(in->cfg, d->plan, d->sched) : NULL;
    if (!d->sched || !d->report || !d->values || (nwin && !d->wf)) {
        bt_errf(eb, BT_ENOMEM, "out of memory for %llu jobs", (unsigned long long)d->njobs);
        return 1;
    }
    bt_report_set_min_trades(d->report, bt_config_rank_min_trades(in->cfg));
    /* the tables' numbers made as results arrive; without (no memory) at the end */
    if (!a->trivial)
        (void)bt_report_prerender(d->report, BT_REPORT_TEXTS_MAX);
    for (size_t ax = 0; ax < d->naxes; ax++) {
        if (!bt_plan_axis_is_symbols(d->plan, ax))
            continue;
        size_t n = bt_plan_axis_len(d->plan, ax);
        char **labels = calloc(n ? n : 1, sizeof *labels);
        for (size_t j = 0; labels && j < n; j++) {
            char buf[4096];
            labels[j] = strdup(bt_plan_label(d->plan, ax, j, buf, sizeof buf));
        }
        rc = labels ? bt_report_set_axis_labels(d->report, ax, n, (const char *const *)labels, eb)
                    : bt_errf(eb, BT_ENOMEM, "out of memory");
        for (size_t j = 0; labels && j < n; j++)
            free(labels[j]);
        free(labels);
        if (rc != BT_OK)
            return 1;
    }
    for (uint64_t j = 0; j < d->njobs; j++) {
        bt_plan_values(d->plan, j, d->values);
        bt_report_set_point(d->report, j, d->values);
    }
    if (a->resume) {
        if (bt_journal_replay(d->journal, s_on_replay, d, eb) != BT_OK)
            return 1;
        bt_log(BT_LOG_INFO, "resume: %llu of %llu jobs already done in %s%s%s",
               (unsigned long long)d->replayed, (unsigned long long)d->njobs, a->out_dir,
               bt_journal_truncated_bytes(d->journal) ? " (a torn last record was cut off)" : "",
               d->head.version == 1 ? " (a version-1 journal)" : "");
        uint64_t sk = bt_journal_skipped_regions(d->journal);
        if (sk)
            fprintf(stderr,
                    "bt sweep: the journal had %llu damaged record(s) (%llu bytes) between good "
                    "ones; skipped them, their jobs run again\n",
                    (unsigned long long)sk,
                    (unsigned long long)bt_journal_skipped_bytes(d->journal));
    }
    if (d->wf)
        bt_wftest_advance(d->wf);
    return 0;
}

/* Server and local workers until the sweep ends. */
/* The files served to workers by hash: the store cut to what the sweep reads
 * (built once into OUT/ship) and any strategy library. */
static bt_ship_t *s_ship_new(const bt_plan_t *plan, const char *out_dir, const char *lib,
                             bt_errbuf_t *eb)
{
    bt_ship_t *ship = bt_ship_new();
    if (!ship) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ship", out_dir);
    if (!bt_ship_add_plan(ship, plan, dir, eb) ||
        (lib && lib[0] && !bt_ship_add(ship, BT_SHIP_LIB, lib, eb)))
        bt_ship_destroy(&ship);
    return ship;
}

static void s_server_opts(s_run_t *d, bt_server_opts_t *so)
{
    const bt_driver_opts_t *a = d->in->o;
    snprintf(d->status_path, sizeof d->status_path, "%s/%s", a->out_dir, BT_STATUS_FILE);
    *so = (bt_server_opts_t){
        .status_path = d->status_path,
        .bind = a->bind,
        .heartbeat_ms = (uint32_t)a->heartbeat_ms,
        .lease_ms = (uint32_t)a->lease_ms,
        .progress_tty = isatty(2) != 0,
        .progress_every_ms = 5000,
        .idle_timeout_ms = (int64_t)a->idle_timeout_s * 1000,
        .job_timeout_ms = (int64_t)a->job_timeout_s * 1000,
        .keys_dir = a->keys_dir,
        .insecure = a->insecure,
    };
}

/* The local workers and the threads of each: as given. By default one worker with a thread
 * per core: one dataset and one indicator-column cache for all of them, which ran as fast as or
 * faster than a worker per core on every grid measured (docs/sweep.md "Local workers"); but a
 * worker per core for a strategy that runs on one thread a worker (Python), and with --threads N
 * alone as many N-thread workers as fill the cores. */
static long s_local_layout(const bt_driver_opts_t *a, long *threads)
{
    long cores = omp_get_num_procs();
    *threads = a->threads;
    if (a->workers >= 0)
        return a->workers;
    if (a->single_thread)
        return cores;
    if (a->threads_given)
        return cores / a->threads > 1 ? cores / a->threads : 1;
    *threads = cores > 1 ? cores : 1;
    return 1;
}

static long s_local_count(const bt_driver_opts_t *a)
{
    long threads = 1;
    return s_local_layout(a, &threads);
}

static bt_local_t *s_local_start(s_run_t *d, const char *worker_bin, long workers,
                                 const char *store)
{
    const bt_driver_opts_t *a = d->in->o;
    long threads = 1;
    s_local_layout(a, &threads);
    bt_local_opts_t lo = {.worker_bin = worker_bin,
                          .endpoint = bt_server_endpoint(d->srv),
                          .count = (int)workers,
                          .threads = (int)threads,
                          .trivial = a->trivial,
                          .keys_dir = a->keys_dir,
                          .quiet = bt_log_threshold < BT_LOG_INFO,
                          .data_path = store,
                          .lib_path = bt_config_library(d->in->cfg)};
    return bt_local_start(&lo);
}

/* With local workers on an OS-chosen port: bind and start them before the
 * plan, so their start-up (~50 ms of dynamic linking, then loading --data)
 * overlaps the plan's data hash and the journal's set-up. (A fixed --bind
 * keeps the old order: the folder's lock is then checked before the bind.)
 * Any failure here leaves it to s_serve, which says why. */
static void s_start_early(s_run_t *d)
{
    const bt_driver_opts_t *a = d->in->o;
    long workers = s_local_count(a);
    char worker_bin[PATH_MAX], store[PATH_MAX];
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (a->bind || workers <= 0 || !realpath(bt_config_store(d->in->cfg), store) ||
        bt_local_sibling_path("bt-worker", worker_bin, sizeof worker_bin, &eb) != BT_OK)
        return;
    bt_server_opts_t so;
    s_server_opts(d, &so);
    d->srv = bt_server_new(&so, &eb);
    if (d->srv)
        d->local = s_local_start(d, worker_bin, workers, store);
}

/* Local workers that never got a sweep (it stopped before serving): gone
 * without a word, and the early socket closed. */
static void s_drop_early(s_run_t *d)
{
    if (d->srv)
        bt_local_kill(&d->local);
    bt_server_destroy(&d->srv);
}

static bt_err_t s_serve(s_run_t *d, bt_server_stats_t *st, bt_errbuf_t *eb)
{
    const s_in_t *in = d->in;
    const bt_driver_opts_t *a = in->o;
    const bt_config_t *cfg = in->cfg;
    char worker_bin[PATH_MAX] = "";
    long workers = s_local_count(a);
    if (!d->srv && workers > 0 &&
        bt_local_sibling_path("bt-worker", worker_bin, sizeof worker_bin, eb) != BT_OK)
        return eb->code;
    size_t nwin = bt_plan_windows(d->plan);
    if (nwin)
        bt_log(BT_LOG_INFO, "walk-forward %s: %zu windows x %llu points = %llu jobs, strategy %s",
               in->config_path, nwin, (unsigned long long)bt_plan_points(d->plan),
               (unsigned long long)d->njobs, bt_config_strategy(cfg)->name);
    else
        bt_log(BT_LOG_INFO, "sweep %s: %llu jobs over %zu axis/axes, strategy %s, data %s",
               in->config_path, (unsigned long long)d->njobs, d->naxes,
               bt_config_strategy(cfg)->name, bt_plan_store(d->plan));
    if (!d->srv) {
        bt_server_opts_t so;
        s_server_opts(d, &so);
        d->srv = bt_server_new(&so, eb);
        if (!d->srv)
            return eb->code;
        if (workers > 0)
            d->local = s_local_start(d, worker_bin, workers, bt_plan_store(d->plan));
    }
    bt_server_t *srv = d->srv;
    d->srv = NULL; /* destroyed here */
    /* The files served after the local workers are started (they have --data
     * and need none; their start-up, ~50 ms of dynamic linking, overlaps the
     * hashing), before "waiting for workers": a remote worker is answered at once. */
    double t_ship = bt_monotonic_s();
    bt_ship_t *ship = s_ship_new(d->plan, a->out_dir, bt_config_library(cfg), eb);
    if (!ship) {
        bt_local_stop(&d->local);
        bt_server_destroy(&srv);
        return eb->code;
    }
    bt_log(BT_LOG_DEBUG, "start: ship %.3f s", bt_monotonic_s() - t_ship);
    if (workers <= 0)
        bt_log(BT_LOG_INFO, "waiting for workers: bt-worker --connect %s", bt_server_endpoint(srv));
    const char *mcols[BT_WIRE_MCOLS_MAX];
    for (size_t i = 0; i < bt_metrics_count() && i < BT_WIRE_MCOLS_MAX; i++)
        mcols[i] = bt_metrics_name(i);
    bt_server_sweep_t sw = {
        .yaml = in->yaml,
        .yaml_len = in->yaml_len,
        .config_sha = bt_config_hash(cfg),
        .store_path = bt_plan_store(d->plan),
        .data_hash = bt_plan_data_hash(d->plan),
        .sets = a->sets,
        .nsets = a->nsets,
        .mcols = mcols,
        .nmcols = bt_metrics_count(),
        .max_overrides = d->naxes + 1,
        .ship = ship,
    };
    bt_server_hooks_t hooks = {.user = d,
                               .job = s_job,
                               .result = s_result,
                               .commit = s_commit,
                               .tick = s_tick,
                               .dead = s_dead,
                               .progress = s_progress,
                               .flush = s_flush};
    double cpu_run = s_cpu_s();
    bt_err_t rc = bt_server_run(srv, &sw, d->sched, &hooks, eb);
    double t_run = bt_monotonic_s();
    bt_log(BT_LOG_DEBUG, "sweep phase: coordinator CPU %.3f s before it, %.3f s in it (%.1f us a result)",
           cpu_run, s_cpu_s() - cpu_run,
           d->jobs_run ? (s_cpu_s() - cpu_run) * 1e6 / (double)d->jobs_run : 0.0);
    *st = *bt_server_stats(srv);
    bt_ship_destroy(&sw.ship);
    /* A finished sweep's workers were told BYE and leave by themselves: they
     * are reaped after the report, not waited for before it (~0.1-0.2 s). */
    if (!bt_sched_finished(d->sched))
        bt_local_stop(&d->local);
    bt_server_destroy(&srv);
    bt_log(BT_LOG_DEBUG, "after the last result: server closed in %.3f s", bt_monotonic_s() - t_run);
    return rc;
}

/* DIR/pbo_logits.csv (split,logit) when the PBO could be computed. */
static bt_err_t s_write_logits(const bt_report_t *r, const char *dir, bt_errbuf_t *eb)
{
    double *lg = NULL;
    size_t n = 0;
    if (bt_report_pbo_logits(r, &lg, &n) != BT_OK || !lg)
        return BT_OK; /* summary.txt says why there is no PBO */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/pbo_logits.csv", dir);
    bt_fs_atomic_t f;
    bt_err_t e = bt_fs_atomic_open(&f, path, eb);
    if (e == BT_OK) {
        bt_csvw_t w;
        bt_csvw_init_file(&w, f.f);
        bt_csvw_line(&w, "split,logit");
        for (size_t i = 0; i < n; i++) {
            bt_csvw_u64(&w, i);
            bt_csvw_double(&w, lg[i]);
            bt_csvw_end_row(&w);
        }
        e = bt_fs_atomic_commit(&f, eb);
        bt_fs_atomic_abort(&f);
    }
    free(lg);
    return e;
}

int bt_driver_run(const char *config_path, const bt_config_t *cfg, const char *yaml,
                  size_t yaml_len, const bt_driver_opts_t *a, bool *interrupted)
{
    s_in_t in = {config_path, cfg, yaml, yaml_len, a};
    double t0 = bt_monotonic_s();
    *interrupted = false;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    s_run_t d;
    memset(&d, 0, sizeof d);
    d.in = &in;
    d.rank_metric = bt_config_rank_by(in.cfg);
    d.rank_desc = bt_config_rank_desc(in.cfg);
    int exit_code = 1;
    bt_wfreport_t *wfr = NULL;
    bt_sweepend_pbo_t *pbo = NULL; /* the PBO's thread at the end */
    bt_sweepend_top_t *topth = NULL; /* the top points' re-run at the end */
    bt_table_t toptab = {0};       /* ranking.csv's first rows, from memory */
    bt_sweepend_tee_t *tee = NULL; /* report.html's tables, made with the CSVs */
    s_start_early(&d);
    d.plan = bt_plan_new(in.cfg, a->allow_huge, &eb);
    if (!d.plan) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        s_drop_early(&d);
        return eb.code == BT_ENOMEM ? 1 : 2;
    }
    if (!a->keep_invalid && !a->trivial && bt_plan_check_points(d.plan, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        s_drop_early(&d);
        bt_plan_destroy(&d.plan);
        return eb.code == BT_ENOMEM ? 1 : 2;
    }
    d.njobs = bt_plan_jobs(d.plan);
    d.naxes = bt_plan_naxes(d.plan);
    double t_plan = bt_monotonic_s();
    exit_code = s_prepare(&d, &eb);
    bt_log(BT_LOG_DEBUG, "start: plan %.3f s, prepare %.3f s; malloc (this and local workers): %s",
           t_plan - t0, bt_monotonic_s() - t_plan, bt_memtune_describe());
    if (exit_code != 0) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        goto out;
    }
    exit_code = 1;
    bt_server_stats_t st;
    memset(&st, 0, sizeof st);
    bt_err_t rc = BT_OK;
    if (!bt_sched_finished(d.sched))
        rc = s_serve(&d, &st, &eb);
    s_drop_early(&d); /* a finished sweep resumed: nothing was served */
    if (rc != BT_OK)
        fprintf(stderr, "bt sweep: %s\n", eb.msg);

    /* Report (partial when interrupted or failed); the walk-forward files
     * once every test run is in. */
    bool done = rc == BT_OK && bt_sched_finished(d.sched);
    double t_end = bt_monotonic_s(), cpu_end = s_cpu_s(); /* after the last result */
    if (done && d.wf && bt_wftest_done(d.wf)) {
        wfr = bt_wfreport_new(in.cfg, d.plan, d.report, bt_wftest_outcomes(d.wf));
        if (!wfr || bt_wfreport_write(wfr, a->out_dir, &eb) != BT_OK) {
            fprintf(stderr, "bt sweep: walk-forward: %s\n", wfr ? eb.msg : "out of memory");
            goto out;
        }
    }
    bt_sched_counts_t k;
    bt_sched_counts(d.sched, &k);
    const char *rank_name = bt_metrics_name((size_t)d.rank_metric);
    bt_report_summary_t sum = {
        .config_path = in.config_path,
        .config_sha256 = bt_config_hash(in.cfg),
        .data_store = bt_plan_store(d.plan),
        .data_hash = bt_plan_data_hash(d.plan),
        .bt_version = BT_VERSION,
        .strategy = bt_config_strategy(in.cfg)->name,
        .rank_by = rank_name,
        .wall_s = bt_monotonic_s() - t0,
        .jobs_run = d.jobs_run,
        .bars_run = d.bars_run,
        .jobs_resumed = d.replayed,
        .workers_seen = st.workers_seen,
        .retries = k.retries,
        .requeued = k.requeued,
        .peak_rss_mb = s_peak_rss_mb(),
        .trial_set_size = a->trivial ? 0 : bt_plan_trial_set_size(d.plan),
        .tail = wfr ? bt_wfreport_summary : NULL,
        .tail_user = wfr,
    };
    int top = bt_config_top(in.cfg);
    /* The end of the sweep (docs/sweep.md "End of the sweep"): the PBO on a
     * second thread while the tables are written and the top points re-run;
     * report.html and the top rows from the report in memory. */
    pbo = !d.wf ? bt_sweepend_pbo_start(d.report) : NULL;
    bt_err_t top_err = BT_OK;
    bt_errbuf_t top_eb;
    bt_errbuf_clear(&top_eb);
    bool full = rc == BT_OK && done && !a->trivial;
    tee = full ? bt_sweepend_tee_new(d.report) : NULL;
    uint64_t ok, failed, pending;
    bt_report_counts(d.report, &ok, &failed, &pending);
    /* The ranking first: the top points re-run on a third thread while the
     * tables are written (their set-up, loading the config and the data
     * twice, is most of it). */
    char rp[PATH_MAX];
    snprintf(rp, sizeof rp, "%s/ranking.csv", a->out_dir);
    size_t ntop = top > 0 ? (size_t)top : 0;
    if (full && ok && bt_report_rank(d.report, rank_name, d.rank_desc, ntop, &top_eb) == BT_OK)
        top_err = bt_sweepend_top_table(d.report, 16, &toptab, &top_eb);
    bool rerun = full && ok && !wfr && top_err == BT_OK;
    topth = rerun ? bt_sweepend_top_start(a->out_dir, &toptab, rp) : NULL;
    bt_err_t wr = bt_report_write_tables(d.report, a->out_dir, rank_name, d.rank_desc, ntop,
                                         bt_sweepend_tee(tee), &eb);
    full = full && wr == BT_OK;
    double t_rep = bt_monotonic_s();
    if (topth)
        top_err = bt_sweepend_top_join(&topth, &top_eb);
    else if (rerun)
        top_err = bt_sweepjob_top_equity_table(a->out_dir, &toptab, rp, &top_eb);
    double t_top = bt_monotonic_s();
    bt_sweepend_pbo_join(&pbo);
    if (wr == BT_OK)
        wr = bt_report_write_summary(d.report, a->out_dir, &sum, &eb);
    if (wr != BT_OK) {
        fprintf(stderr, "bt sweep: writing the report: %s\n", eb.msg);
        goto out;
    }
    if (rc != BT_OK)
        goto out;
    if (!done) {
        *interrupted = true;
        fprintf(stderr,
                "bt sweep: interrupted (%s) with %llu of %llu jobs done; results so far "
                "are in %s (partial report%s)\n",
                st.why, (unsigned long long)(ok + failed), (unsigned long long)d.njobs,
                a->out_dir, d.wf ? ", no walk-forward files yet" : "");
        goto out;
    }
    if (wfr)
        bt_wfreport_line(wfr, stdout);
    /* report.html: the PBO's split logits, the top points re-run above (their
     * equity curves), then the page */
    if (!a->trivial && !wfr && s_write_logits(d.report, a->out_dir, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: writing pbo_logits.csv: %s\n", eb.msg);
        goto out;
    }
    if (!a->trivial && !wfr)
        bt_sweepend_tee_logits(tee);
    if (top_err != BT_OK) {
        fprintf(stderr, "bt sweep: re-running the top points for report.html: %s\n", top_eb.msg);
        goto out;
    }
    double t_html = bt_monotonic_s();
    if (!a->trivial && bt_sweepend_html(tee, a->out_dir, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: writing report.html: %s\n", eb.msg);
        goto out;
    }
    if (!a->trivial && ok)
        bt_html_sweep_print_top_table(&toptab, rank_name, 5, stdout);
    double wall = bt_monotonic_s() - t0;
    bt_log(BT_LOG_DEBUG,
           "end of sweep: %.3f s (tables %.3f, top points %.3f, PBO wait + summary + logits "
           "%.3f, report.html %.3f); coordinator CPU %.3f s up to the last result, %.3f s after",
           bt_monotonic_s() - t_end, t_rep - t_end, t_top - t_rep, t_html - t_top,
           bt_monotonic_s() - t_html, cpu_end, s_cpu_s() - cpu_end);
    printf("sweep done: %llu jobs (%llu ok, %llu failed, %llu from the journal) in %.2f s, "
           "%.0f backtests/s, %.3g bar-events/s\n",
           (unsigned long long)d.njobs, (unsigned long long)ok, (unsigned long long)failed,
           (unsigned long long)d.replayed, wall, wall > 0 ? (double)d.jobs_run / wall : 0.0,
           wall > 0 ? (double)d.bars_run / wall : 0.0);
    printf("report: ");
    if (wfr)
        printf("%s/walkforward.csv, %s/oos_equity.csv, ", a->out_dir, a->out_dir);
    printf("%s/results.csv, %s/ranking.csv, %s/summary.txt%s%s%s\n", a->out_dir, a->out_dir,
           a->out_dir, a->trivial ? "" : ", ", a->trivial ? "" : a->out_dir,
           a->trivial ? "" : "/report.html");
    if (st.bad_messages)
        printf("note: %llu malformed or unexpected message(s) were dropped (see the log)\n",
               (unsigned long long)st.bad_messages);
    exit_code = 0;
    if (failed) { /* failed work is never "ok": a distinct exit code, and why */
        fprintf(stderr,
                "bt sweep: finished with %llu failed job(s) of %llu (each failed %ld time(s)); "
                "first: %s; all in %s/failures.csv and summary.txt\n",
                (unsigned long long)failed, (unsigned long long)d.njobs, a->max_attempts,
                bt_report_first_failure(d.report), a->out_dir);
        exit_code = BT_DRIVER_EXIT_FAILED_JOBS;
    }
out:
    s_drop_early(&d);
    bt_sweepend_top_join(&topth, NULL);
    bt_local_stop(&d.local);
    bt_sweepend_pbo_join(&pbo);
    bt_table_fini(&toptab);
    bt_sweepend_tee_destroy(&tee);
    bt_wfreport_destroy(&wfr);
    bt_wftest_destroy(&d.wf);
    bt_journal_close(&d.journal);
    bt_lock_release(&d.lock);
    bt_report_destroy(&d.report);
    bt_sched_destroy(&d.sched);
    bt_plan_destroy(&d.plan);
    free(d.values);
    return exit_code;
}
