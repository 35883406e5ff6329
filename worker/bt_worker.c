#include "bt_worker.h"

#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bt_build.h"
#include "bt_cache.h"
#include "bt_config.h"
#include "bt_curve.h"
#include "bt_dscache.h"
#include "bt_fetch.h"
#include "bt_log.h"
#include "bt_metrics.h"
#include "bt_sig.h"
#include "bt_time.h"
#include "bt_pystrat.h"
#include "bt_registry.h"
#include "bt_runner.h"
#include "bt_wire.h"

#define S_BACKOFF_MIN_MS 100
#define S_HELLO_WAIT_MS 2000 /* least wait for a WELCOME (s_hello_wait) */
#define S_HELLO_HEARTBEAT_MS 1000 /* heartbeat interval until WELCOME says otherwise */
#define S_INITIAL_CREDIT (2u * BT_WIRE_JOBS_MAX)
#define S_MAX_OVERRIDES BT_WIRE_OVERRIDES_MAX

static volatile sig_atomic_t s_stop_signal;
/* --strategy-lib, set once before the loop: the config loader's callback
 * has no context argument. */
static const char *s_lib_path;

static void s_on_signal(int sig) { s_stop_signal = sig; }

typedef enum { S_DISCONNECTED = 0, S_HELLO_SENT, S_WELCOMED, S_READY } s_state_t;

/* The batch executor: one long-lived thread runs each batch while the main
 * thread, which owns the socket, keeps heartbeating. Without it a batch that
 * outlasts the lease looks like a dead worker and its jobs run again
 * elsewhere, forever. The thread lives as long as the worker so OpenMP's
 * thread pool stays warm between batches. */
typedef enum { S_EXEC_IDLE = 0, S_EXEC_RUN, S_EXEC_DONE, S_EXEC_QUIT } s_exec_state_t;

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* signalled on every state change */
    s_exec_state_t state;
    bt_runner_t *runner;      /* batch to run while state == RUN */
    bt_runner_job_t *jobs;
    size_t n;
    int64_t delay_ms;         /* test hook: extra time per job (--debug-job-ms) */
    bool started;             /* thread exists */
} s_exec_t;

/* --data loaded on a thread at start-up, while the worker connects and
 * waits for its SWEEP (HDF5 is not thread-safe: joined before any other
 * HDF5 call, s_preload_join). */
typedef struct {
    pthread_t thread;
    bt_dscache_t *cache;
    const char *path;
    bool started; /* thread exists, not joined yet */
} s_preload_t;

typedef struct {
    const bt_worker_opts_t *opts;
    char name[BT_WIRE_NAME_MAX + 1];  /* hostname:pid */
    char ident[96];                   /* ZeroMQ routing id, the same on every reconnect */
    bool welcomed_once;               /* a coordinator has welcomed us */
    char sweep_id[BT_WIRE_SWEEPID_MAX + 1]; /* the sweep of the first WELCOME */
    bool abandoned;                   /* left a batch running on a signal: do not join it */
    bool bye_sent;                    /* BYE already said */
    zsock_t *sock;                    /* DEALER, NULL while disconnected */
    zpoller_t *poller;                /* on sock */
    s_state_t state;
    int64_t backoff_ms;               /* next reconnect delay */
    int64_t next_connect;             /* when to (re)connect, ms */
    int64_t hello_at;                 /* when HELLO was sent */
    int64_t last_heard;               /* last message from the coordinator */
    int64_t last_sent_hb;             /* last HEARTBEAT we sent */
    int64_t idle_since;               /* last job (or start) */
    uint32_t heartbeat_ms, lease_ms;  /* from WELCOME */
    uint64_t hb_seq;                  /* our heartbeat counter */
    bt_msg_t in, out;                 /* decode / encode messages */
    zframe_t *in_frame;               /* the bytes `in` was decoded from (CHUNK views them) */
    bt_wire_buf_t buf;                /* encode buffer */
    bt_dscache_t *cache;              /* datasets across sweeps */
    bt_cache_t *files;                /* content-addressed files on disk */
    bt_fetch_t *fetch;                /* files the SWEEP ships, into `files` */
    bt_msg_t sweep_msg;               /* the SWEEP waiting for its files */
    bool fetching;                    /* sweep_msg waits for fetch */
    bt_config_t *config;              /* current sweep's base config */
    char config_sha[BT_WIRE_SHA256_HEX + 1]; /* its hash, to skip reloads */
    bt_runner_t *runner;              /* for the current sweep */
    bt_runner_job_t *jobs;            /* batch scratch, BT_WIRE_JOBS_MAX */
    const char **keys;                /* override key pointers, JOBS_MAX * OVERRIDES_MAX */
    double *values;                   /* override values, same shape */
    uint64_t jobs_done, results_acked;
    uint64_t bad_msgs;                /* malformed / unexpected messages dropped */
    unsigned logged_kinds;            /* bit per bt_msg_type_t already logged as unexpected */
    bool logged_malformed;
    s_exec_t exec;                    /* batch executor thread */
    s_preload_t preload;              /* --data, loading since start-up */
} s_worker_t;

static void *s_preload_main(void *arg)
{
    s_preload_t *p = arg;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    /* A failure is said when a SWEEP needs the store (s_dataset loads again). */
    if (bt_cache_check_regular(p->path, &eb) == BT_OK)
        bt_dscache_get(p->cache, p->path, "", &eb);
    return NULL;
}

static void s_preload_start(s_worker_t *w)
{
    s_preload_t *p = &w->preload;
    if (!w->opts->data_path || w->opts->trivial || !w->cache)
        return;
    p->cache = w->cache;
    p->path = w->opts->data_path;
    p->started = pthread_create(&p->thread, NULL, s_preload_main, p) == 0;
}

static void s_preload_join(s_worker_t *w)
{
    if (w->preload.started) {
        pthread_join(w->preload.thread, NULL);
        w->preload.started = false;
    }
}

/* Sends what w->buf holds (the encoding of w->out). */
/* Drops the runner and the Python strategy instances its engines' state
 * blocks held (freed with the engines; a long-lived worker would keep them
 * until a block at the same address is set up again). */
static void s_runner_drop(s_worker_t *w)
{
    bt_runner_destroy(&w->runner);
    bt_pystrat_release_all();
}

static int s_send_buf(s_worker_t *w)
{
    if (!w->sock)
        return -1;
    zframe_t *f = zframe_new(w->buf.data, w->buf.len);
    if (!f)
        return -1;
    return zframe_send(&f, w->sock, ZFRAME_DONTWAIT);
}

static int s_send(s_worker_t *w)
{
    bt_errbuf_t eb;
    if (bt_wire_encode(&w->out, &w->buf, &eb) != BT_OK) {
        bt_log(BT_LOG_ERROR, "cannot encode %s: %s", bt_msg_type_name(w->out.type), eb.msg);
        return -1;
    }
    return s_send_buf(w);
}

static void s_disconnect(s_worker_t *w)
{
    if (w->poller)
        zpoller_destroy(&w->poller);
    if (w->sock)
        zsock_destroy(&w->sock);
    w->state = S_DISCONNECTED;
}

static void s_connect(s_worker_t *w, int64_t now)
{
    s_disconnect(w);
    w->sock = zsock_new(ZMQ_DEALER);
    /* Before connecting: the coordinator knows a rejoining worker by it (its
     * leases, its count). */
    if (w->sock)
        zsock_set_identity(w->sock, w->ident);
    bt_errbuf_t eb;
    if (w->sock && w->opts->keys_dir &&
        bt_curve_client_setup(w->sock, w->opts->keys_dir, &eb) != BT_OK) {
        bt_log(BT_LOG_ERROR, "%s", eb.msg); /* checked at start: the folder changed */
        zsock_destroy(&w->sock);
        w->next_connect = now + w->backoff_ms;
        return;
    }
    if (!w->sock || zsock_connect(w->sock, "%s", w->opts->endpoint) != 0) {
        bt_log(BT_LOG_ERROR, "cannot connect to %s (check the endpoint, e.g. tcp://HOST:5555)",
               w->opts->endpoint);
        if (w->sock)
            zsock_destroy(&w->sock);
        w->next_connect = now + w->backoff_ms;
        return;
    }
    zsock_set_linger(w->sock, 1000);
    zsock_set_sndhwm(w->sock, 0);
    zsock_set_rcvhwm(w->sock, 0);
    w->poller = zpoller_new(w->sock, NULL);
    bt_msg_reset(&w->out, BT_MSG_HELLO);
    snprintf(w->out.hello.name, sizeof w->out.hello.name, "%s", w->name);
    w->out.hello.threads = (uint32_t)w->opts->threads;
    snprintf(w->out.hello.bt_version, sizeof w->out.hello.bt_version, "%s", BT_VERSION);
    w->out.hello.has_build = true;
    snprintf(w->out.hello.build_id, sizeof w->out.hello.build_id, "%s", bt_build_id());
    s_send(w);
    w->state = S_HELLO_SENT;
    w->hello_at = now;
    bt_log(BT_LOG_DEBUG, "HELLO sent to %s", w->opts->endpoint);
}

/* How long a HELLO waits for its WELCOME before the worker reconnects: the
 * backoff, but at least S_HELLO_WAIT_MS (capped by --backoff-max-ms). A
 * coordinator answers nothing while it plans the grid (about 0.2 s at
 * 200,000 points); a worker that gave up after 100 ms reconnected, its
 * second HELLO arrived right behind the first, was dropped as a flood, and
 * the worker joined over a second late. */
static int64_t s_hello_wait(const s_worker_t *w)
{
    int64_t floor = S_HELLO_WAIT_MS < w->opts->backoff_max_ms ? S_HELLO_WAIT_MS
                                                              : w->opts->backoff_max_ms;
    return w->backoff_ms > floor ? w->backoff_ms : floor;
}

static void s_retry_later(s_worker_t *w, int64_t now, const char *why)
{
    bt_log(BT_LOG_WARN, "%s; reconnecting to %s in %lld ms", why, w->opts->endpoint,
           (long long)w->backoff_ms);
    s_disconnect(w);
    w->next_connect = now + w->backoff_ms;
    w->backoff_ms *= 2;
    if (w->backoff_ms > w->opts->backoff_max_ms)
        w->backoff_ms = w->opts->backoff_max_ms;
}

static void s_send_bye(s_worker_t *w, const char *reason)
{
    w->bye_sent = true;
    bt_msg_reset(&w->out, BT_MSG_BYE);
    snprintf(w->out.bye.reason, sizeof w->out.bye.reason, "%s", reason);
    s_send(w);
}

static void s_send_credit(s_worker_t *w, uint32_t credit)
{
    bt_msg_reset(&w->out, BT_MSG_CREDIT);
    w->out.credit.credit = credit;
    s_send(w);
}

/* The config loader's strategy_library hook. The path in the coordinator's
 * YAML is never opened here: code comes only from this worker's command line. */
static const bt_strategy_t *s_load_lib(const char *named, bt_errbuf_t *eb)
{
    if (!s_lib_path) {
        bt_errf(eb, BT_ESTRATEGY,
                "the sweep needs strategy library %s, and this worker loads strategy code only "
                "from its own command line, never from a path the network names: start it with "
                "--strategy-lib PATH (a copy of that library on this host)",
                named);
        return NULL;
    }
    if (bt_cache_check_regular(s_lib_path, eb) != BT_OK)
        return NULL;
    size_t pl = strlen(BT_PYSTRAT_PREFIX);
    if (strncmp(named, BT_PYSTRAT_PREFIX, pl) == 0) {
        /* "python:CLASS:PATH": the class from the config, the file from here */
        const char *colon = strchr(named + pl, ':');
        char spec[4400];
        snprintf(spec, sizeof spec, "%.*s%s", colon ? (int)(colon + 1 - named) : 0, named,
                 s_lib_path);
        return bt_strategy_load(spec, eb);
    }
    return bt_strategy_load(s_lib_path, eb);
}

/* The dataset for sw: --data if given, verified against the coordinator's
 * data hash (of its whole store), else the copy fetched into the cache: the
 * store cut to what the sweep reads, verified by the file's sha256 from the
 * SWEEP (its data hash is the cut's, not the whole store's). A path in the
 * SWEEP is never opened. */
static const bt_dataset_t *s_dataset(s_worker_t *w, const bt_msg_sweep_t *sw, bt_errbuf_t *eb)
{
    s_preload_join(w);
    const char *path = w->opts->data_path;
    const char *hash = sw->data_hash;
    if (!path) {
        path = bt_fetch_path(w->fetch, BT_WIRE_FILE_DATA);
        hash = "";
    }
    if (!path) {
        bt_errf(eb, BT_ENOTFOUND,
                "this worker has no --data and the coordinator serves no store file (an older "
                "coordinator?): start it with --data PATH (a copy of the store on this host)");
        return NULL;
    }
    if (bt_cache_check_regular(path, eb) != BT_OK)
        return NULL;
    return bt_dscache_get(w->cache, path, hash, eb);
}

/* SWEEP: load the config and the dataset (cached); returns 0, or -1 fatal. */
static int s_on_sweep(s_worker_t *w, const bt_msg_sweep_t *sw)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (w->opts->trivial) {
        s_send_credit(w, S_INITIAL_CREDIT);
        w->state = S_READY;
        return 0;
    }
    if (!w->config || strcmp(w->config_sha, sw->config_sha256) != 0) {
        s_runner_drop(w);
        bt_config_destroy(&w->config);
        /* The coordinator's --set overrides, in order, as it applied them. */
        w->config = bt_config_load_string_lib(sw->yaml, "sweep config (from the coordinator)",
                                              sw->sets, sw->nsets, bt_strategy_table(),
                                              bt_strategy_count(), s_load_lib, &eb);
        if (!w->config) {
            bt_log(BT_LOG_ERROR, "the coordinator's config does not load here: %s", eb.msg);
            s_send_bye(w, eb.msg);
            return -1;
        }
        /* Same text and overrides give the same hash; anything else means the
         * two sides would not run the same config. */
        if (strcmp(bt_config_hash(w->config), sw->config_sha256) != 0) {
            char why[256];
            snprintf(why, sizeof why,
                     "config hash differs: coordinator %.12s, worker %.12s (the SWEEP message "
                     "lost its --set overrides? run the same bt version on both)",
                     sw->config_sha256, bt_config_hash(w->config));
            bt_log(BT_LOG_ERROR, "%s", why);
            bt_config_destroy(&w->config);
            s_send_bye(w, why);
            return -1;
        }
        snprintf(w->config_sha, sizeof w->config_sha, "%s", sw->config_sha256);
    }
    /* The coordinator reads RESULT "m" as its metric columns: the same names in
     * the same order as this build's, or the two would swap metrics. */
    bool same = sw->nmcols == 0 || sw->nmcols == bt_metrics_count();
    for (uint32_t i = 0; same && i < sw->nmcols; i++)
        same = strcmp(sw->mcols[i], bt_metrics_name(i)) == 0;
    if (!same) {
        char why[256];
        snprintf(why, sizeof why,
                 "metric columns differ: the coordinator has %u (first %s), this worker %zu "
                 "(first %s); run the same bt version on both",
                 sw->nmcols, sw->mcols[0], bt_metrics_count(), bt_metrics_name(0));
        bt_log(BT_LOG_ERROR, "%s", why);
        s_send_bye(w, why);
        return -1;
    }
    const bt_dataset_t *ds = s_dataset(w, sw, &eb);
    if (!ds || bt_runner_check(w->config, ds, &eb) != BT_OK) {
        bt_log(BT_LOG_ERROR, "%s", eb.msg);
        s_send_bye(w, eb.msg);
        return -1;
    }
    s_runner_drop(w);
    w->runner = bt_runner_new(w->config, ds, w->opts->threads);
    if (!w->runner) {
        s_send_bye(w, "worker out of memory");
        return -1;
    }
    if (w->opts->no_fast)
        bt_runner_set_fast(w->runner, false);
    w->state = S_READY;
    s_send_credit(w, S_INITIAL_CREDIT);
    bt_log(BT_LOG_INFO, "sweep %.12s: data %.12s ready, %d thread(s)", sw->config_sha256,
           sw->data_hash, w->opts->threads);
    return 0;
}

/* Sends FETCHes up to the window; once every file is cached, loads the
 * sweep. Returns 0, or -1 fatal. */
static int s_fetch_pump(s_worker_t *w)
{
    while (bt_fetch_next(w->fetch, &w->out))
        s_send(w);
    if (!bt_fetch_done(w->fetch))
        return 0;
    w->fetching = false;
    const char *lib = bt_fetch_path(w->fetch, BT_WIRE_FILE_LIB);
    if (lib)
        s_lib_path = lib; /* the verified cached copy, never a path from the message */
    bt_log(BT_LOG_INFO, "files for the sweep ready: %llu byte(s) fetched in total",
           (unsigned long long)bt_fetch_bytes(w->fetch));
    return s_on_sweep(w, &w->sweep_msg.sweep);
}

/* A SWEEP (in w->in): keep it, get the files it needs that this worker was
 * not given on its command line, then load it. Returns 0, or -1 fatal. */
static int s_sweep_begin(s_worker_t *w)
{
    bt_msg_t t = w->sweep_msg; /* swap: the SWEEP's views stay valid while in->decodes go on */
    w->sweep_msg = w->in;
    w->in = t;
    const bt_msg_sweep_t *sw = &w->sweep_msg.sweep;
    bt_fetch_reset(w->fetch);
    s_lib_path = w->opts->lib_path;
    w->fetching = false;
    if (w->opts->trivial)
        return s_on_sweep(w, sw);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t e = BT_OK;
    if (!w->opts->data_path && sw->data_file.has)
        e = bt_fetch_want(w->fetch, BT_WIRE_FILE_DATA, &sw->data_file, &eb);
    if (e == BT_OK && !w->opts->lib_path && sw->lib_file.has) {
        if (!w->opts->keys_dir && !w->opts->insecure) {
            char why[400];
            snprintf(why, sizeof why,
                     "the sweep ships strategy library %.12s, and this worker loads shipped code "
                     "only from an authenticated coordinator (--keys DIR) or with --insecure, "
                     "never from a path the network names; or start it with --strategy-lib PATH "
                     "(a copy of that library on this host)",
                     sw->lib_file.sha256);
            bt_log(BT_LOG_ERROR, "%s", why);
            s_send_bye(w, why);
            return -1;
        }
        e = bt_fetch_want(w->fetch, BT_WIRE_FILE_LIB, &sw->lib_file, &eb);
    }
    if (e != BT_OK) {
        bt_log(BT_LOG_ERROR, "cannot get the sweep's files: %s", eb.msg);
        s_send_bye(w, eb.msg);
        return -1;
    }
    w->fetching = true;
    return s_fetch_pump(w);
}

static void s_send_heartbeat(s_worker_t *w, int64_t now)
{
    bt_msg_reset(&w->out, BT_MSG_HEARTBEAT);
    w->out.heartbeat.seq = ++w->hb_seq;
    s_send(w);
    w->last_sent_hb = now;
}

static void *s_exec_main(void *arg)
{
    s_exec_t *x = arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (x->state != S_EXEC_RUN && x->state != S_EXEC_QUIT)
            pthread_cond_wait(&x->cv, &x->mu);
        if (x->state == S_EXEC_QUIT)
            break;
        pthread_mutex_unlock(&x->mu);
        double t0 = bt_monotonic_s();
        if (x->runner)
            bt_runner_run(x->runner, x->jobs, x->n);
        /* the batches' sizes and times: how the scheduler's sizing plays out */
        if (x->n)
            bt_log(BT_LOG_DEBUG, "batch of %zu job(s) from job %llu: %.1f ms", x->n,
                   (unsigned long long)x->jobs[0].id, (bt_monotonic_s() - t0) * 1e3);
        if (x->delay_ms > 0) {
            int64_t ms = x->delay_ms * (int64_t)x->n;
            struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && !s_stop_signal) {
            }
        }
        pthread_mutex_lock(&x->mu);
        x->state = S_EXEC_DONE;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

static bool s_exec_start(s_exec_t *x)
{
    if (pthread_mutex_init(&x->mu, NULL) != 0)
        return false;
    if (pthread_cond_init(&x->cv, NULL) != 0) {
        pthread_mutex_destroy(&x->mu);
        return false;
    }
    x->state = S_EXEC_IDLE;
    if (pthread_create(&x->thread, NULL, s_exec_main, x) != 0) {
        pthread_cond_destroy(&x->cv);
        pthread_mutex_destroy(&x->mu);
        return false;
    }
    x->started = true;
    return true;
}

static void s_exec_stop(s_exec_t *x)
{
    if (!x->started)
        return;
    pthread_mutex_lock(&x->mu);
    x->state = S_EXEC_QUIT;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->thread, NULL);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    x->started = false;
}

/* Runs n jobs on the executor thread, heartbeating every heartbeat_ms until
 * they are done. Messages from the coordinator wait in the socket meanwhile. */
static void s_run_batch(s_worker_t *w, size_t n)
{
    s_exec_t *x = &w->exec;
    pthread_mutex_lock(&x->mu);
    x->runner = w->opts->trivial ? NULL : w->runner;
    x->jobs = w->jobs;
    x->delay_ms = w->opts->job_delay_ms;
    x->n = n;
    x->state = S_EXEC_RUN;
    pthread_cond_broadcast(&x->cv);
    int64_t slice = w->heartbeat_ms < 100 ? w->heartbeat_ms : 100; /* signal latency */
    int64_t last_hb = bt_monotonic_ms();
    while (x->state != S_EXEC_DONE) {
        if (s_stop_signal) {
            /* Say BYE now, so the coordinator hands our jobs to others at once,
             * and leave the batch running: the process exits. */
            pthread_mutex_unlock(&x->mu);
            bt_log(BT_LOG_INFO, "signal %d while busy: leaving, %zu job(s) go back",
                   (int)s_stop_signal, n);
            if (w->sock)
                s_send_bye(w, "worker stopped by a signal");
            w->abandoned = true;
            return;
        }
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        int64_t ns = (int64_t)dl.tv_nsec + slice * 1000000;
        dl.tv_sec += (time_t)(ns / 1000000000);
        dl.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&x->cv, &x->mu, &dl);
        int64_t now = bt_monotonic_ms();
        if (x->state != S_EXEC_DONE && w->sock && now - last_hb >= (int64_t)w->heartbeat_ms) {
            last_hb = now;
            pthread_mutex_unlock(&x->mu);
            s_send_heartbeat(w, now);
            pthread_mutex_lock(&x->mu);
        }
    }
    x->state = S_EXEC_IDLE;
    pthread_mutex_unlock(&x->mu);
    /* What the coordinator sent while we were busy is still queued and is
     * read next; the busy time is not its silence. */
    w->last_heard = bt_monotonic_ms();
}

static void s_on_job(s_worker_t *w, const bt_msg_job_t *job)
{
    if (w->abandoned)
        return; /* leaving: BYE said, the coordinator requeues these */
    uint32_t n = job->njobs;
    for (uint32_t i = 0; i < n; i++) {
        const bt_wire_job_t *src = &job->jobs[i];
        bt_runner_job_t *dst = &w->jobs[i];
        memset(dst, 0, sizeof *dst);
        dst->id = src->id;
        dst->attempt = src->attempt;
        const char **keys = w->keys + (size_t)i * S_MAX_OVERRIDES;
        double *values = w->values + (size_t)i * S_MAX_OVERRIDES;
        for (uint32_t k = 0; k < src->nover; k++) {
            keys[k] = src->over[k].key;
            values[k] = src->over[k].value;
        }
        dst->keys = keys;
        dst->values = values;
        dst->nover = src->nover;
    }
    if (w->opts->trivial) {
        for (uint32_t i = 0; i < n; i++) {
            w->jobs[i].ok = true;
            w->jobs[i].bars = 1;
        }
    }
    if (!w->opts->trivial || w->opts->job_delay_ms > 0)
        s_run_batch(w, n);
    if (w->abandoned)
        return;
    for (uint32_t i = 0; i < n; i++) {
        const bt_runner_job_t *r = &w->jobs[i];
        bt_msg_reset(&w->out, BT_MSG_RESULT);
        bt_msg_result_t *res = &w->out.result;
        res->job_id = r->id;
        res->attempt = r->attempt;
        res->status = r->ok ? BT_JOB_OK : BT_JOB_FAILED;
        if (!r->ok)
            snprintf(res->error, sizeof res->error, "%s", r->error[0] ? r->error : "failed");
        res->has_metrics = r->ok;
        res->metrics = r->metrics;
        res->run_us = r->run_us;
        res->bars = r->bars;
        res->blk = r->ok && r->nblk ? r->blk : NULL; /* PBO block statistics */
        res->nblk = r->ok ? r->nblk : 0;
        if (r->ok && r->has_seg) { /* a walk-forward test run's equity segment */
            res->has_seg = true;
            res->seg_time = r->seg_time;
            res->seg_equity = r->seg_equity;
            res->seg_exposed = r->seg_exposed;
            res->nseg = (uint32_t)(r->nseg <= UINT32_MAX ? r->nseg : UINT32_MAX);
            res->fill_value = r->fill_value;
            res->fill_commission = r->fill_commission;
            res->nfills = (uint32_t)(r->nfills <= UINT32_MAX ? r->nfills : UINT32_MAX);
            res->trade_pnl = r->trade_pnl;
            res->ntrades = (uint32_t)(r->ntrades <= UINT32_MAX ? r->ntrades : UINT32_MAX);
            res->rejected = r->rejected;
        }
        bt_errbuf_t eb;
        bool sent = false;
        if (!r->ok || (bt_wire_check(&w->out, &eb) == BT_OK &&
                       bt_wire_encode(&w->out, &w->buf, &eb) == BT_OK)) {
            if (r->ok)
                s_send_buf(w);
            else
                s_send(w);
            sent = true;
        } else {
            /* e.g. a non-finite metric or a segment over the caps: report the job
             * failed rather than send bad bytes */
            uint64_t id = res->job_id, us = res->run_us, bars = res->bars;
            uint32_t attempt = res->attempt;
            bt_msg_reset(&w->out, BT_MSG_RESULT);
            res->job_id = id;
            res->attempt = attempt;
            res->run_us = us;
            res->bars = bars;
            res->status = BT_JOB_FAILED;
            bt_str_copy(res->error, sizeof res->error, eb.msg);
        }
        if (!sent)
            s_send(w);
        bt_runner_job_fini(&w->jobs[i]);
        if (!r->ok)
            bt_log(BT_LOG_DEBUG, "job %llu attempt %u failed: %s", (unsigned long long)r->id,
                   r->attempt, r->error);
    }
    w->jobs_done += n;
    s_send_credit(w, n);
}

static void s_unexpected(s_worker_t *w, bt_msg_type_t t)
{
    w->bad_msgs++;
    unsigned bit = 1u << (unsigned)t;
    if (!(w->logged_kinds & bit)) {
        w->logged_kinds |= bit;
        bt_log(BT_LOG_WARN, "unexpected %s from the coordinator dropped (logged once)",
               bt_msg_type_name(t));
    }
}

/* Handles one message; returns -1 to keep going, else the exit code. */
static int s_on_message(s_worker_t *w, int64_t now)
{
    zframe_t *f = zframe_recv(w->sock);
    if (!f)
        return -1;
    /* A DEALER may receive a multi-frame message from a misbehaving peer: use the first. */
    while (zsock_rcvmore(w->sock)) {
        zframe_t *extra = zframe_recv(w->sock);
        zframe_destroy(&extra);
    }
    bt_errbuf_t eb;
    bt_err_t rc = bt_wire_decode(zframe_data(f), zframe_size(f), &w->in, &eb);
    zframe_destroy(&w->in_frame); /* a CHUNK's bytes point into the frame: keep it */
    w->in_frame = f;
    if (rc != BT_OK) {
        w->bad_msgs++;
        if (rc == BT_EVERSION) {
            bt_log(BT_LOG_ERROR,
                   "the coordinator speaks protocol v%u, this worker v%u: use the same bt version "
                   "on both sides",
                   w->in.version, BT_WIRE_VERSION);
            return 1;
        }
        if (!w->logged_malformed) {
            w->logged_malformed = true;
            bt_log(BT_LOG_WARN, "malformed message from the coordinator dropped: %s", eb.msg);
        }
        return -1;
    }
    /* Only a worker sends HELLO, CREDIT or RESULT: the peer is a worker —
     * usually this very socket, connected to itself because its outgoing
     * TCP port equalled the coordinator's port while no one listened. Drop
     * the connection, which also frees the port for the coordinator. */
    if (w->in.type == BT_MSG_HELLO || w->in.type == BT_MSG_CREDIT || w->in.type == BT_MSG_RESULT) {
        s_retry_later(w, now, "the peer at the endpoint is a worker, not a coordinator "
                              "(connected to itself while the coordinator is down?)");
        return -1;
    }
    w->last_heard = now;
    switch (w->in.type) {
    case BT_MSG_WELCOME:
        /* Reconnected to the same endpoint and found another sweep: our
         * coordinator is gone (its port was reused); never serve a stranger. */
        if (w->welcomed_once && strcmp(w->sweep_id, w->in.welcome.sweep_id) != 0) {
            bt_log(BT_LOG_ERROR,
                   "the coordinator at %s is gone: that endpoint now runs sweep %s, not %s; "
                   "exiting",
                   w->opts->endpoint, w->in.welcome.sweep_id, w->sweep_id);
            return 1;
        }
        snprintf(w->sweep_id, sizeof w->sweep_id, "%s", w->in.welcome.sweep_id);
        w->heartbeat_ms = w->in.welcome.heartbeat_ms;
        w->lease_ms = w->in.welcome.lease_ms;
        w->backoff_ms = S_BACKOFF_MIN_MS;
        if (w->state == S_HELLO_SENT)
            w->state = S_WELCOMED;
        w->welcomed_once = true;
        bt_log(BT_LOG_INFO, "welcomed to sweep %s at %s (heartbeat %u ms, lease %u ms)",
               w->in.welcome.sweep_id, w->opts->endpoint, w->heartbeat_ms, w->lease_ms);
        return -1;
    case BT_MSG_REFUSE:
        /* A coordinator refuses only for what a worker cannot change (build,
         * protocol), so one that welcomed this worker never does: after a
         * welcome, the refusal comes from another coordinator on the port. */
        if (w->welcomed_once)
            bt_log(BT_LOG_ERROR,
                   "the coordinator at %s is gone: that endpoint now refuses this worker (%s); "
                   "exiting",
                   w->opts->endpoint, w->in.refuse.reason);
        else
            bt_log(BT_LOG_ERROR, "the coordinator refused this worker: %s", w->in.refuse.reason);
        return 1;
    case BT_MSG_SWEEP:
        if (w->state < S_WELCOMED) {
            s_unexpected(w, w->in.type);
            return -1;
        }
        w->idle_since = now;
        return s_sweep_begin(w) == 0 ? -1 : 1;
    case BT_MSG_CHUNK:
        if (!w->fetching) {
            s_unexpected(w, w->in.type);
            return -1;
        }
        w->idle_since = now;
        if (bt_fetch_on_chunk(w->fetch, &w->in.chunk, &eb) != BT_OK) {
            bt_log(BT_LOG_ERROR, "%s", eb.msg);
            s_send_bye(w, eb.msg);
            return 1;
        }
        return s_fetch_pump(w) == 0 ? -1 : 1;
    case BT_MSG_JOB:
        if (w->state != S_READY) {
            s_unexpected(w, w->in.type);
            return -1;
        }
        s_on_job(w, &w->in.job);
        w->idle_since = bt_monotonic_ms();
        return -1;
    case BT_MSG_ACK:
        w->results_acked += w->in.ack.nids;
        return -1;
    case BT_MSG_HEARTBEAT:
        return -1;
    case BT_MSG_BYE:
        bt_log(BT_LOG_INFO, "coordinator says bye (%s); %llu job(s) run, exiting",
               w->in.bye.reason[0] ? w->in.bye.reason : "sweep finished",
               (unsigned long long)w->jobs_done);
        return 0;
    default:
        s_unexpected(w, w->in.type);
        return -1;
    }
}

static int s_loop(s_worker_t *w)
{
    const bt_worker_opts_t *o = w->opts;
    int64_t now = bt_monotonic_ms();
    w->next_connect = now;
    w->idle_since = now;
    w->backoff_ms = S_BACKOFF_MIN_MS;
    w->heartbeat_ms = S_HELLO_HEARTBEAT_MS;
    for (;;) {
        now = bt_monotonic_ms();
        if (s_stop_signal) {
            bt_log(BT_LOG_INFO, "signal %d: leaving", (int)s_stop_signal);
            if (w->sock && w->state >= S_WELCOMED && !w->bye_sent)
                s_send_bye(w, "worker stopped by a signal");
            return 1;
        }
        if (w->abandoned)
            return 1;
        /* A coordinator that was there and has been silent for three leases
         * (reconnects included) is gone: a batch job must not idle on. */
        int64_t gone_ms = 3 * (int64_t)(w->lease_ms > w->heartbeat_ms ? w->lease_ms
                                                                        : w->heartbeat_ms);
        if (w->welcomed_once && now - w->last_heard >= gone_ms) {
            bt_log(BT_LOG_ERROR,
                   "the coordinator at %s is gone: nothing heard from it for %lld s; exiting",
                   o->endpoint, (long long)((now - w->last_heard) / 1000));
            return 1;
        }
        /* A CURVE handshake with a coordinator that lacks the pinned key never
         * completes: nothing says so, so the worker gives up after a while. */
        if (!w->welcomed_once && o->connect_timeout_ms > 0 &&
            now - w->idle_since >= o->connect_timeout_ms) {
            bt_log(BT_LOG_ERROR,
                   "no coordinator welcomed this worker at %s in %lld s%s: exiting", o->endpoint,
                   (long long)(o->connect_timeout_ms / 1000),
                   o->keys_dir ? " (with --keys: the coordinator there does not hold the key "
                                 "pinned in KEYS/coordinator.key, does not admit this worker's "
                                 "key, or is not running)"
                               : " (is it running? is it a bt coordinator? does it want --keys?)");
            return 1;
        }
        if (o->idle_exit_ms > 0 && now - w->idle_since >= o->idle_exit_ms) {
            if (w->welcomed_once)
                bt_log(BT_LOG_INFO, "no work for %lld s: exiting",
                       (long long)(o->idle_exit_ms / 1000));
            else
                bt_log(BT_LOG_ERROR,
                       "no coordinator welcomed this worker at %s in %lld s (none there, not a "
                       "bt coordinator, or it refuses this worker's key): exiting",
                       o->endpoint, (long long)(o->idle_exit_ms / 1000));
            if (w->sock && w->state >= S_WELCOMED)
                s_send_bye(w, "worker idle");
            return 0;
        }
        if (!w->sock && now >= w->next_connect)
            s_connect(w, now);
        /* Timers. */
        if (w->sock && w->state == S_HELLO_SENT && now - w->hello_at >= s_hello_wait(w)) {
            s_retry_later(w, now, "no answer to HELLO");
            continue;
        }
        if (w->sock && w->state >= S_WELCOMED && now - w->last_heard >= (int64_t)w->lease_ms) {
            s_retry_later(w, now, "coordinator silent");
            continue;
        }
        if (w->sock && w->state >= S_WELCOMED && now - w->last_sent_hb >= (int64_t)w->heartbeat_ms)
            s_send_heartbeat(w, now);
        int64_t wait = w->heartbeat_ms;
        if (wait > 100 && w->state == S_HELLO_SENT)
            wait = 100;
        if (!w->sock) {
            wait = w->next_connect - now;
            if (wait < 1)
                wait = 1;
            struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL); /* back-off; a signal cuts it short */
            continue;
        }
        void *which = zpoller_wait(w->poller, (int)wait);
        if (!which)
            continue; /* timeout or signal: the top of the loop looks at both */
        /* Drain what is queued before looking at timers again. */
        for (int burst = 0; burst < 1024; burst++) {
            int rc = s_on_message(w, bt_monotonic_ms());
            if (rc >= 0)
                return rc;
            if (w->abandoned)
                break;
            if (!w->sock || !(zsock_events(w->sock) & ZMQ_POLLIN))
                break;
        }
    }
}

int bt_worker_run(const bt_worker_opts_t *opts)
{
    s_worker_t w;
    memset(&w, 0, sizeof w);
    w.opts = opts;
    if (opts->name && opts->name[0]) {
        snprintf(w.name, sizeof w.name, "%s", opts->name);
    } else {
        char host[128] = "localhost";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(w.name, sizeof w.name, "%s:%ld", host, (long)getpid());
    }
    /* Unique per process (name, pid, start time), fixed for its life. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(w.ident, sizeof w.ident, "w:%.48s:%ld:%lx", w.name, (long)getpid(),
             (unsigned long)ts.tv_nsec ^ (unsigned long)ts.tv_sec);
    char ctx[96];
    bt_str_copy(ctx, sizeof ctx, w.name);
    bt_log_set_context(ctx);

    zsys_handler_set(NULL); /* our own handlers: stop cleanly, say BYE */
    bt_sig_on_stop(s_on_signal);

    bt_msg_init(&w.in);
    bt_msg_init(&w.out);
    bt_msg_init(&w.sweep_msg);
    bt_wire_buf_init(&w.buf);
    w.cache = bt_dscache_new(4);
    s_lib_path = opts->lib_path;
    bt_errbuf_t eb;
    w.files = bt_cache_new(opts->cache_dir, opts->cache_max, &eb);
    if (!w.files)
        bt_log(BT_LOG_ERROR, "%s", eb.msg);
    else
        w.fetch = bt_fetch_new(w.files);
    w.jobs = calloc(BT_WIRE_JOBS_MAX, sizeof *w.jobs);
    w.keys = calloc((size_t)BT_WIRE_JOBS_MAX * S_MAX_OVERRIDES, sizeof *w.keys);
    w.values = calloc((size_t)BT_WIRE_JOBS_MAX * S_MAX_OVERRIDES, sizeof *w.values);
    int rc = 1;
    s_preload_start(&w);
    if (opts->keys_dir) { /* bad keys are the operator's to fix: say so at once */
        zsock_t *probe = zsock_new(ZMQ_DEALER);
        bt_errbuf_t keb;
        bt_errbuf_clear(&keb);
        bt_err_t krc = probe ? bt_curve_client_setup(probe, opts->keys_dir, &keb) : BT_ENOMEM;
        zsock_destroy(&probe);
        if (krc != BT_OK) {
            bt_log(BT_LOG_ERROR, "--keys %s: %s", opts->keys_dir, keb.msg);
            goto out;
        }
    }
    if (w.cache && w.files && w.fetch && w.jobs && w.keys && w.values && s_exec_start(&w.exec))
        rc = s_loop(&w);
    else
        bt_log(BT_LOG_ERROR, "out of memory (or no thread for the batch executor)");
    if (w.abandoned) {
        /* The executor still runs the batch: flush the BYE (linger) and exit
         * without joining it. */
        s_disconnect(&w);
        /* zsock_destroy only queues the close; terminating the context is
         * what waits (up to the linger) for the BYE to leave. */
        zsys_shutdown();
        fflush(NULL);
        _exit(rc);
    }
out:
    s_preload_join(&w);
    s_exec_stop(&w.exec);
    zframe_destroy(&w.in_frame);
    s_disconnect(&w);
    s_runner_drop(&w);
    bt_config_destroy(&w.config);
    bt_dscache_destroy(&w.cache);
    bt_fetch_destroy(&w.fetch);
    bt_cache_destroy(&w.files);
    free(w.jobs);
    free(w.keys);
    free(w.values);
    bt_msg_fini(&w.in);
    bt_msg_fini(&w.out);
    bt_msg_fini(&w.sweep_msg);
    bt_wire_buf_fini(&w.buf);
    return rc;
}
