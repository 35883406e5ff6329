/* bt_runout — bt run's per-bar outputs, made while the run goes. See bt_runout.h. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "bt_runout.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bt_csvw.h"
#include "bt_fs.h"
#include "bt_time.h"

#define S_NBUF 4 /* one filled by the engine, the others waiting for or in the consumers */
#define S_FILES 1 /* a worker's roles: equity.csv and run.h5 */
#define S_STATS 2 /* the report's curve and the run statistics */
#define S_PIECE 2048 /* points the statistics take at a time: 80 KiB */
#define S_WARM_CHUNKS 4 /* warm runs of more bars than that many chunks */
#define S_HUGE ((size_t)2 << 20)

typedef struct {
    bt_equity_rec_t *buf;
    size_t n;   /* points in buf */
    size_t *nch; /* per symbol: position changes published with these points */
} s_slot_t;

struct bt_runout {
    bt_runout_cfg_t cfg;
    bt_recorder_t *rec;
    s_slot_t slot[S_NBUF];
    size_t nsym_pos;          /* symbols of cfg.pos (0: none) */
    /* consumers: the files worker's and the stats worker's (one worker does both when a second
     * thread cannot be had), alone until joined */
    bt_fs_atomic_t csv;
    bool csv_open;
    bt_csvw_t w;
    bt_run_h5_t *h5;
    bt_html_thin_t *thin;
    bt_run_acc_t *acc;
    bt_err_t err;             /* first failure of a consumer */
    bt_errbuf_t eb;
    /* the end, made by the writer once the last chunk is in (or inline) */
    bt_run_stats_t *st;       /* where the statistics go */
    bool ended;               /* curve and statistics done (the files may still be closing) */
    bool files_done, stats_done; /* (under mu) the workers' ends: every chunk written; the
                                  * curve and statistics made */
    bool thin_ok;             /* the curve had the count expected */
    bt_err_t st_err;          /* of bt_run_acc_finish */
    bt_err_t commit_err;      /* of putting equity.csv and run.h5 in place */
    bt_errbuf_t ceb;
    bool committed;
    bool abandon;             /* destroyed before the end: remove the files (under mu) */
    /* hand-over: the full slots in order (each taken by every worker, freed by the last one) and
     * a stack of free ones */
    bool threaded, stop;
    int nwork;                /* worker threads, 1 or 2 */
    struct s_worker {
        bt_runout_t *o;
        unsigned roles;       /* S_FILES | S_STATS */
        size_t taken;         /* chunks consumed */
        pthread_t th;
    } work[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pub[S_NBUF], npub; /* slot of chunk c at pub[c % S_NBUF]; chunks published */
    int pending[S_NBUF];      /* per slot: workers yet to consume it */
    size_t freel[S_NBUF], nfree;
    /* the warm thread (bt_runout_cfg_t.warm) */
    bool warming;
    atomic_bool warm_stop;
    pthread_t warm_th;
    volatile double warm_sink; /* what it read, so the reads stay */
    void *slab;               /* the slots' buffers, one allocation */
};

/* Reads one value a page of each bar column the run steps over, from its first bar on, ahead of
 * the engine. Where the first touch of a mapped page is dear (a VM's shadow page tables: over a
 * microsecond a page, 0.15-0.4 s for the 117,000 pages of 10 M bars) that cost moves off the
 * engine's thread; elsewhere it is a fast pass over memory the run reads anyway. */
static void *s_warm(void *arg)
{
    bt_runout_t *o = arg;
    const bt_engine_cfg_t *c = o->cfg.ecfg;
    const size_t step = 4096 / sizeof(double);
    size_t nsym = o->cfg.nsym, longest = 0;
    bt_series_t *v = malloc((nsym ? nsym : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t s = 0; s < nsym; s++) {
        v[s] = bt_series_slice_time(&o->cfg.series[s], c->start, c->end);
        longest = v[s].n > longest ? v[s].n : longest;
    }
    double acc = 0.0;
    /* bar i of every symbol before bar i + step of any: the engine walks them together */
    bool tc = o->cfg.warm_tc;
    for (size_t i = 0; i < longest && !atomic_load_explicit(&o->warm_stop, memory_order_relaxed);
         i += step)
        for (size_t s = 0; s < nsym; s++)
            if (i < v[s].n)
                acc += tc ? (double)v[s].time[i] + v[s].close[i]
                          : (double)v[s].time[i] + v[s].open[i] + v[s].high[i] + v[s].low[i] +
                                v[s].close[i] + v[s].volume[i];
    o->warm_sink = acc;
    free(v);
    return NULL;
}

static void s_warm_join(bt_runout_t *o)
{
    if (!o->warming)
        return;
    atomic_store(&o->warm_stop, true);
    pthread_join(o->warm_th, NULL);
    o->warming = false;
}

/* n bytes on transparent huge pages when large (one page fault per 2 MiB, not per 4 KiB). */
static void *s_big_alloc(size_t n)
{
    if (n < S_HUGE)
        return malloc(n ? n : 1);
    size_t size = (n + S_HUGE - 1) / S_HUGE * S_HUGE;
    void *p = aligned_alloc(S_HUGE, size);
#ifdef MADV_HUGEPAGE
    if (p)
        madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

/* Takes one chunk into the outputs of roles, in order. */
static void s_consume(bt_runout_t *o, const s_slot_t *sl, unsigned roles)
{
    if (roles & S_STATS) /* both in turn over pieces that stay in cache (the chunk came
                          * past it: the engine's streaming stores) */
        for (size_t a = 0; a < sl->n; a += S_PIECE) {
            size_t m = sl->n - a < S_PIECE ? sl->n - a : S_PIECE;
            bt_html_thin_add(o->thin, sl->buf + a, m);
            bt_run_acc_add(o->acc, sl->buf + a, m);
        }
    if (!(roles & S_FILES) || o->err != BT_OK)
        return;
    const bt_equity_rec_t *eq = sl->buf;
    size_t n = sl->n;
    if (o->csv_open) {
        char t1[40];
        for (size_t i = 0; i < n; i++) {
            const bt_equity_rec_t *e = &eq[i];
            bt_csvw_str(&o->w, bt_time_format(e->time, t1, sizeof t1));
            bt_csvw_g(&o->w, e->cash, 15);
            bt_csvw_g(&o->w, e->positions_value, 15);
            bt_csvw_g(&o->w, e->equity, 15);
            bt_csvw_g(&o->w, e->drawdown, 15);
            bt_csvw_end_row(&o->w);
        }
    }
    if (o->h5) {
        bt_err_t e = bt_run_h5_add(o->h5, eq, n, o->nsym_pos ? sl->nch : NULL, &o->eb);
        if (e != BT_OK) {
            o->err = e;
            return;
        }
    }
}

/* After the last chunk: the curve and the statistics (the engine is waiting for them), then
 * equity.csv and run.h5 closed and renamed into place (while the engine writes the rest). Made
 * even if a file failed (the files worker may still be writing): finish then reports the error. */
static void s_end_stats(bt_runout_t *o)
{
    o->thin_ok = bt_html_thin_finish(o->thin);
    o->st_err = bt_run_acc_finish(o->acc, o->st, o->rec, o->cfg.nsym);
}

static void s_end_files(bt_runout_t *o, bool keep)
{
    bt_errbuf_clear(&o->ceb);
    bt_err_t e = keep ? o->err : BT_EINTERNAL;
    if (o->csv_open) {
        o->csv_open = false;
        if (e == BT_OK)
            e = bt_fs_atomic_commit(&o->csv, &o->ceb);
        bt_fs_atomic_abort(&o->csv);
    }
    if (o->h5 && e == BT_OK)
        e = bt_run_h5_commit(&o->h5, &o->ceb);
    bt_run_h5_abort(&o->h5);
    o->commit_err = e;
    o->committed = true;
}

/* A worker thread: every chunk in order into its roles' outputs, then their ends. Two workers
 * split the work over two cores: the files (HDF5 and the kernel's copy into the page cache) and
 * the statistics. */
static void *s_worker(void *arg)
{
    struct s_worker *w = arg;
    bt_runout_t *o = w->o;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (w->taken == o->npub && !o->stop)
            pthread_cond_wait(&o->cv, &o->mu);
        if (w->taken == o->npub)
            break;
        size_t k = o->pub[w->taken % S_NBUF];
        pthread_mutex_unlock(&o->mu);
        s_consume(o, &o->slot[k], w->roles);
        pthread_mutex_lock(&o->mu);
        w->taken++;
        if (--o->pending[k] == 0)
            o->freel[o->nfree++] = k;
        pthread_cond_broadcast(&o->cv);
    }
    bool keep = !o->abandon;
    pthread_mutex_unlock(&o->mu);
    if (keep && (w->roles & S_STATS))
        s_end_stats(o);
    pthread_mutex_lock(&o->mu);
    if (w->roles & S_STATS)
        o->stats_done = true;
    if (w->roles & S_FILES)
        o->files_done = true;
    keep = !o->abandon;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    if (w->roles & S_FILES)
        s_end_files(o, keep);
    return NULL;
}

/* The recorder's sink: hands a full chunk over and returns an empty buffer. */
static bt_equity_rec_t *s_sink(void *user, bt_equity_rec_t *full, size_t n)
{
    bt_runout_t *o = user;
    size_t k = 0;
    while (k < S_NBUF && o->slot[k].buf != full)
        k++;
    if (k == S_NBUF)
        return NULL;
    s_slot_t *sl = &o->slot[k];
    sl->n = n;
    if (o->nsym_pos) /* the changes made so far: the writer reads no further */
        bt_run_pos_counts(o->cfg.pos, sl->nch);
    if (!o->threaded) {
        s_consume(o, sl, S_FILES | S_STATS);
        return full;
    }
    pthread_mutex_lock(&o->mu);
    o->pub[o->npub++ % S_NBUF] = k;
    o->pending[k] = o->nwork;
    pthread_cond_broadcast(&o->cv);
    while (o->nfree == 0)
        pthread_cond_wait(&o->cv, &o->mu);
    size_t f = o->freel[--o->nfree];
    pthread_mutex_unlock(&o->mu);
    return o->slot[f].buf;
}

/* Tells the writer the last chunk is in and waits for the curve and statistics (inline when
 * there is no thread). */
static void s_end(bt_runout_t *o)
{
    if (!o->threaded) {
        if (!o->ended) {
            s_end_stats(o);
            o->ended = true;
        }
        return;
    }
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_broadcast(&o->cv);
    while (!o->stats_done || !o->files_done)
        pthread_cond_wait(&o->cv, &o->mu);
    o->ended = true;
    pthread_mutex_unlock(&o->mu);
}

/* Ends the writer: files closed and in place (or, on failure or abandon, removed). */
static void s_stop(bt_runout_t *o, bool abandon)
{
    if (o->threaded) {
        pthread_mutex_lock(&o->mu);
        o->abandon = abandon;
        o->stop = true;
        pthread_cond_broadcast(&o->cv);
        pthread_mutex_unlock(&o->mu);
        for (int i = 0; i < o->nwork; i++)
            pthread_join(o->work[i].th, NULL);
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
        o->threaded = false;
    }
    if (!o->committed)
        s_end_files(o, !abandon);
}

bt_runout_t *bt_runout_new(const bt_runout_cfg_t *cfg, bt_recorder_t *rec, bt_errbuf_t *eb)
{
    bt_runout_t *o = calloc(1, sizeof *o);
    if (!o) {
        bt_errf(eb, BT_ENOMEM, "out of memory for the run's outputs");
        return NULL;
    }
    o->cfg = *cfg;
    o->rec = rec;
    size_t chunk = cfg->chunk ? cfg->chunk : BT_RUNOUT_CHUNK;
    if (cfg->expect < chunk) /* a short run: no more room than it needs */
        chunk = cfg->expect ? cfg->expect : 1;
    o->cfg.chunk = chunk;
    o->nsym_pos = bt_run_pos_nsym(cfg->pos);
    o->slab = chunk <= SIZE_MAX / S_NBUF / sizeof(bt_equity_rec_t)
                  ? s_big_alloc(S_NBUF * chunk * sizeof(bt_equity_rec_t))
                  : NULL;
    bool ok = o->slab != NULL;
    for (size_t k = 0; ok && k < S_NBUF; k++) {
        o->slot[k].buf = (bt_equity_rec_t *)o->slab + k * chunk;
        o->slot[k].nch = calloc(o->nsym_pos ? o->nsym_pos : 1, sizeof *o->slot[k].nch);
        ok = o->slot[k].nch != NULL;
    }
    o->thin = ok ? bt_html_thin_new(cfg->expect) : NULL;
    if (o->thin) /* the report's benchmark made here, with the points (the bars are hot) */
        bt_html_thin_set_bars(o->thin, cfg->series, cfg->nsym);
    /* Without run.h5 the statistics keep every return: their fallback would
     * otherwise read equity.csv, whose 15 digits are not the run's bits. */
    o->acc = o->thin ? bt_run_acc_new(cfg->series, cfg->nsym, cfg->ecfg,
                                      cfg->h5 ? cfg->expect : SIZE_MAX)
                     : NULL;
    if (!o->acc) {
        bt_errf(eb, BT_ENOMEM, "out of memory for the run's outputs");
        bt_runout_destroy(&o);
        return NULL;
    }
    if (cfg->csv) {
        char path[PATH_MAX];
        int w = snprintf(path, sizeof path, "%s/equity.csv", cfg->dir);
        bt_err_t e = w < 0 || (size_t)w >= sizeof path
                         ? bt_errf(eb, BT_ELIMIT, "output folder path too long: %s", cfg->dir)
                         : bt_fs_atomic_open(&o->csv, path, eb);
        if (e != BT_OK) {
            bt_runout_destroy(&o);
            return NULL;
        }
        o->csv_open = true;
        bt_csvw_init_file(&o->w, o->csv.f);
        bt_csvw_line(&o->w, "time,cash,positions_value,equity,drawdown");
    }
    if (cfg->h5 && !(o->h5 = bt_run_h5_open(cfg->dir, cfg->pos, cfg->series, cfg->nsym,
                                            cfg->expect, eb))) {
        bt_runout_destroy(&o);
        return NULL;
    }
    bt_errbuf_clear(&o->eb);
    if (cfg->writers > 0 && pthread_mutex_init(&o->mu, NULL) == 0) {
        if (pthread_cond_init(&o->cv, NULL) != 0) {
            pthread_mutex_destroy(&o->mu);
        } else {
            for (size_t k = 1; k < S_NBUF; k++)
                o->freel[o->nfree++] = k;
            /* roles settle under mu before a worker looks at them (no chunk before then) */
            o->work[0] = (struct s_worker){o, S_FILES | S_STATS, 0, 0};
            o->work[1] = (struct s_worker){o, S_STATS, 0, 0};
            pthread_mutex_lock(&o->mu);
            if (pthread_create(&o->work[0].th, NULL, s_worker, &o->work[0]) == 0) {
                o->nwork = 1;
                if (cfg->writers > 1 &&
                    pthread_create(&o->work[1].th, NULL, s_worker, &o->work[1]) == 0) {
                    o->nwork = 2;
                    o->work[0].roles = S_FILES;
                }
            }
            o->threaded = o->nwork > 0;
            pthread_mutex_unlock(&o->mu);
            if (!o->threaded) { /* no thread: the same work inline */
                pthread_cond_destroy(&o->cv);
                pthread_mutex_destroy(&o->mu);
            }
        }
    }
    size_t bars = 0;
    for (size_t s = 0; s < cfg->nsym; s++)
        bars += cfg->series[s].n;
    atomic_init(&o->warm_stop, false);
    if (cfg->warm && o->cfg.writers > 0 && bars / S_WARM_CHUNKS >= chunk)
        o->warming = pthread_create(&o->warm_th, NULL, s_warm, o) == 0;
    bt_recorder_stream_equity(rec, o->slot[0].buf, chunk, s_sink, o);
    return o;
}

/* Detaches the recorder from the buffers. */
static void s_detach(bt_runout_t *o)
{
    if (o->rec && o->rec->sink == s_sink) {
        o->rec->sink = NULL;
        o->rec->equity = NULL;
        o->rec->nequity = o->rec->equity_cap = 0;
    }
    o->rec = NULL;
}

bt_err_t bt_runout_finish(bt_runout_t *o, bt_run_stats_t *st, bt_errbuf_t *eb)
{
    bt_recorder_t *rec = o->rec;
    if (!rec || o->ended)
        return bt_errf(eb, BT_EINVAL, "bt_runout_finish: called twice");
    s_warm_join(o); /* the run is over: done, or stopped where it is */
    o->st = st;
    memset(st, 0, sizeof *st);
    if (bt_recorder_flush_equity(rec) != BT_OK && o->err == BT_OK) {
        o->err = BT_EINTERNAL;
        bt_errf(&o->eb, BT_EINTERNAL, "the run's outputs were not written (the record ended)");
    }
    s_end(o);
    if (o->err != BT_OK) {
        s_stop(o, true);
        return bt_errf(eb, o->err, "%s", o->eb.msg);
    }
    if (o->thin_ok && o->st_err == BT_OK)
        return BT_OK;
    /* not the count expected, or the tails were not enough (a NaN): every point, from the
     * files once they are in place */
    bt_err_t e = bt_runout_commit(o, eb);
    if (e != BT_OK)
        return e;
    if (!o->thin_ok) {
        bt_html_thin_destroy(&o->thin);
        if (!(o->thin = bt_html_thin_read(o->cfg.dir, eb)))
            return eb->code ? eb->code : BT_ENOMEM;
    }
    e = o->st_err;
    if (e == BT_ELIMIT) {
        bt_run_stats_fini(st);
        bt_equity_rec_t *eq = NULL;
        size_t n = 0;
        e = bt_html_run_read_equity(o->cfg.dir, &eq, &n, eb);
        if (e != BT_OK)
            return e;
        bt_recorder_t all = *rec;
        all.equity = eq;
        all.nequity = all.equity_cap = n;
        all.sink = NULL;
        e = bt_run_stats_compute(st, &all, o->cfg.series, o->cfg.nsym, o->cfg.ecfg);
        free(eq);
    }
    if (e != BT_OK)
        return bt_errf(eb, e, "out of memory for the run statistics");
    return BT_OK;
}

bt_err_t bt_runout_commit(bt_runout_t *o, bt_errbuf_t *eb)
{
    if (!o->ended)
        return bt_errf(eb, BT_EINVAL, "bt_runout_commit: before bt_runout_finish");
    s_stop(o, false);
    if (o->commit_err != BT_OK)
        return bt_errf(eb, o->commit_err, "%s", o->ceb.msg);
    return BT_OK;
}

const bt_html_thin_t *bt_runout_thin(const bt_runout_t *o)
{
    return o->thin;
}

void bt_runout_destroy(bt_runout_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_runout_t *o = *self_p;
    s_warm_join(o);
    s_stop(o, !o->ended); /* not finished: nothing is put in place */
    s_detach(o);
    bt_html_thin_destroy(&o->thin);
    bt_run_acc_destroy(&o->acc);
    for (size_t k = 0; k < S_NBUF; k++)
        free(o->slot[k].nch);
    free(o->slab);
    free(o);
    *self_p = NULL;
}
