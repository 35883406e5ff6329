/* bt sweep — a parameter sweep on local or remote workers.
 *
 * Prepares everything before any work (config, grid, data identity, output
 * folder, journal, report), then hands the job to the network loop
 * (bt_sweep.c) and writes the report. See docs/sweep.md. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_cmd.h"
#include "bt_config.h"
#include "bt_fs.h"
#include "bt_time.h"
#include "bt_grid.h"
#include "bt_journal.h"
#include "bt_log.h"
#include "bt_metrics.h"
#include "bt_registry.h"
#include "bt_report.h"
#include "bt_sched.h"
#include "bt_sha256.h"
#include "bt_store.h"
#include "bt_sweep.h"
#include "bt_wfsweep.h"
#include "bt_wire.h"

#define S_YAML_MAX (1u << 20) /* the SWEEP message's cap on config text */

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: bt sweep CONFIG.yaml [--set key=value ...] [--out DIR] [--workers N]\n"
            "                [--threads N]\n"
            "                [--bind ENDPOINT] [--resume DIR] [--lease-ms MS]\n"
            "                [--heartbeat-ms MS] [--max-attempts N] [--allow-huge]\n"
            "                [--log-level LEVEL]\n\n"
            "Runs every point of the config's sweep: grid as one backtest job, on local\n"
            "bt-worker processes (one per core by default) and/or remote ones, and writes\n"
            "DIR/results.csv, DIR/ranking.csv and DIR/summary.txt. Results are journaled\n"
            "in DIR as they arrive; an interrupted sweep continues with --resume DIR.\n\n"
            "options:\n"
            "  --set key=value    override a config key (repeatable), value as in YAML, as in\n"
            "                     'bt run'; every worker applies the same overrides, and they\n"
            "                     are part of the config hash (a --resume must repeat them)\n"
            "  --out DIR          output folder (default out/sweep); must not hold a journal\n"
            "  --resume DIR       continue the sweep journaled in DIR (same config and data)\n"
            "  --workers N        local workers to start (default: one per core; 0 = none)\n"
            "  --threads N        threads per local worker (default 1)\n"
            "  --bind EP          endpoint for workers (default tcp://127.0.0.1:*, a free port)\n"
            "  --lease-ms MS      a silent worker loses its jobs after MS (default 10000)\n"
            "  --heartbeat-ms MS  heartbeat interval (default 1000)\n"
            "  --max-attempts N   attempts of a failing job before it is recorded failed (3)\n"
            "  --allow-huge       allow a grid above sweep.max_grid\n"
            "  --log-level L      error, warn, info (default) or debug\n\n"
            "examples:\n"
            "  bt sweep configs/sma_cross.yaml --out out/sma\n"
            "  bt sweep configs/sma_cross.yaml --set execution.commission_pct=0.5 --out out/c05\n"
            "  bt sweep configs/sma_cross.yaml --out out/sma --bind tcp://*:5555 --workers 0\n"
            "      (then on each other machine: bt-worker --connect tcp://THIS_HOST:5555)\n"
            "  bt sweep configs/sma_cross.yaml --resume out/sma\n");
}

typedef struct {
    const char *config_path;
    const char *out_dir;
    const char *resume_dir;
    const char *bind;
    long workers;      /* -1: one per core */
    long threads;
    long lease_ms;
    long heartbeat_ms;
    long max_attempts;
    bool allow_huge;
    bool trivial;      /* hidden: benchmark workers that do not run backtests */
    const char *sets[BT_CONFIG_MAX_OVERRIDES]; /* --set key=value, in order */
    size_t nsets;
} s_args_t;

static int s_parse_long(const char *opt, const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bt sweep: %s wants a whole number in %ld..%ld, got '%s'\n", opt, min,
                max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns 0, 1 for --help (exit 0), or 2 for a usage error. */
static int s_parse_args(int argc, char **argv, s_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->workers = -1;
    a->threads = 1;
    a->lease_ms = 10000;
    a->heartbeat_ms = 1000;
    a->max_attempts = 3;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            s_usage(stdout);
            return 1;
        }
        if (strcmp(o, "--allow-huge") == 0) {
            a->allow_huge = true;
            continue;
        }
        if (strcmp(o, "--trivial") == 0) {
            a->trivial = true;
            continue;
        }
        if (o[0] != '-') {
            if (a->config_path) {
                fprintf(stderr, "bt sweep: one CONFIG only (got '%s' and '%s')\n",
                        a->config_path, o);
                return 2;
            }
            a->config_path = o;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bt sweep: %s needs a value; see 'bt sweep --help'\n", o);
            return 2;
        }
        i++;
        int rc = 0;
        if (strcmp(o, "--set") == 0) {
            if (a->nsets == BT_CONFIG_MAX_OVERRIDES) {
                fprintf(stderr, "bt sweep: more than %d --set options\n",
                        BT_CONFIG_MAX_OVERRIDES);
                return 2;
            }
            if (strlen(v) > BT_WIRE_SET_MAX) {
                fprintf(stderr, "bt sweep: --set %.40s...: %zu bytes, the limit is %u\n", v,
                        strlen(v), BT_WIRE_SET_MAX);
                return 2;
            }
            a->sets[a->nsets++] = v;
        } else if (strcmp(o, "--out") == 0)
            a->out_dir = v;
        else if (strcmp(o, "--resume") == 0)
            a->resume_dir = v;
        else if (strcmp(o, "--bind") == 0)
            a->bind = v;
        else if (strcmp(o, "--workers") == 0)
            rc = s_parse_long(o, v, 0, 1024, &a->workers);
        else if (strcmp(o, "--threads") == 0)
            rc = s_parse_long(o, v, 1, 4096, &a->threads);
        else if (strcmp(o, "--lease-ms") == 0)
            rc = s_parse_long(o, v, 50, 3600L * 1000, &a->lease_ms);
        else if (strcmp(o, "--heartbeat-ms") == 0)
            rc = s_parse_long(o, v, 10, 600L * 1000, &a->heartbeat_ms);
        else if (strcmp(o, "--max-attempts") == 0)
            rc = s_parse_long(o, v, 1, 100, &a->max_attempts);
        else if (strcmp(o, "--log-level") == 0) {
            int lv = bt_log_level_parse(v);
            if (lv < 0) {
                fprintf(stderr, "bt sweep: --log-level wants error, warn, info or debug\n");
                return 2;
            }
            bt_log_set_level((bt_log_level_t)lv);
        } else {
            fprintf(stderr, "bt sweep: unknown option '%s'; see 'bt sweep --help'\n", o);
            return 2;
        }
        if (rc != 0)
            return 2;
    }
    if (!a->config_path) {
        s_usage(stderr);
        fprintf(stderr, "\nbt sweep: CONFIG.yaml is required\n");
        return 2;
    }
    if (a->resume_dir && a->out_dir && strcmp(a->resume_dir, a->out_dir) != 0) {
        fprintf(stderr, "bt sweep: --resume DIR already names the output folder; drop --out\n");
        return 2;
    }
    if (a->resume_dir)
        a->out_dir = a->resume_dir;
    if (!a->out_dir)
        a->out_dir = "out/sweep";
    if (a->heartbeat_ms * 2 > a->lease_ms) {
        fprintf(stderr, "bt sweep: --lease-ms (%ld) must be at least twice --heartbeat-ms (%ld)\n",
                a->lease_ms, a->heartbeat_ms);
        return 2;
    }
    return 0;
}

/* Data hash of the whole store as a worker loads it (every symbol, sorted),
 * from the stored content hashes: no bar is read. Also checks the config's
 * symbols exist. */
static bt_err_t s_data_hash(const char *store, const bt_config_t *c, char hex[65],
                            uint64_t *nsym_out, bt_errbuf_t *eb)
{
    char **names = NULL;
    size_t n = 0;
    bt_err_t rc = bt_store_names(store, &names, &n, eb);
    if (rc != BT_OK)
        return rc;
    bt_sha256_t h;
    bt_sha256_init(&h);
    for (size_t i = 0; i < n && rc == BT_OK; i++) {
        bt_store_attrs_t at;
        rc = bt_store_read_attrs(store, names[i], &at, eb);
        if (rc != BT_OK)
            break;
        bt_sha256_update(&h, names[i], strlen(names[i]));
        bt_sha256_update(&h, ":", 1);
        bt_sha256_update(&h, at.content_sha256, strlen(at.content_sha256));
        bt_sha256_update(&h, "\n", 1);
    }
    bt_sha256_final(&h, hex);
    size_t ns = 0;
    const char *const *syms = bt_config_symbols(c, &ns);
    for (size_t i = 0; rc == BT_OK && syms && i < ns; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(names[k], syms[i]) == 0;
        if (!found)
            rc = bt_errf(eb, BT_ENOTFOUND, "%s: data.symbols: %s is not in %s (%zu symbols there; "
                                           "see 'bt data info %s')",
                         bt_config_path(c), syms[i], store, n, store);
    }
    *nsym_out = n;
    bt_store_names_free(names, n);
    return rc;
}

typedef struct {
    const bt_grid_t *grid;
    const uint64_t *raw;  /* job id -> raw grid index */
    size_t *idx;          /* scratch: naxes value indices */
} s_points_t;

static void s_point(void *user, uint64_t job_id, double *values)
{
    s_points_t *p = user;
    bt_grid_point(p->grid, p->raw[job_id], p->idx);
    size_t naxes = bt_grid_naxes(p->grid);
    for (size_t a = 0; a < naxes; a++)
        values[a] = bt_grid_axis_is_symbols(p->grid, a)
                        ? (double)p->idx[a]
                        : bt_grid_axis_value(p->grid, a, p->idx[a]);
}

typedef struct {
    bt_sched_t *sched;
    bt_report_t *report;
    uint64_t njobs;
    uint64_t replayed;    /* distinct finished jobs from the journal */
} s_replay_t;

static void s_on_replay(void *user, const bt_journal_rec_t *r)
{
    s_replay_t *rp = user;
    if (r->job_id >= rp->njobs)
        return;
    if (bt_sched_mark_done(rp->sched, r->job_id, r->ok != 0))
        rp->replayed++;
    bt_report_set_result(rp->report, r);
}


int bt_cmd_sweep(int argc, char **argv)
{
    s_args_t a;
    int prc = s_parse_args(argc, argv, &a);
    if (prc == 1)
        return 0;
    if (prc != 0)
        return 2;
    double t0 = bt_monotonic_s();
    int exit_code = 1;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    char *yaml = NULL;
    bt_config_t *cfg = NULL;
    bt_grid_t *grid = NULL;
    uint64_t *raw = NULL;
    size_t *idx = NULL;
    bt_sched_t *sched = NULL;
    bt_journal_t *journal = NULL;
    bt_report_t *report = NULL;
    const char **axis_keys = NULL;
    double *values = NULL;

    /* 1. Config and grid: a bad config is a usage error (exit 2), before any work. */
    size_t yaml_len = 0;
    yaml = bt_fs_read_file(a.config_path, S_YAML_MAX, &yaml_len, &eb);
    if (!yaml) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }
    cfg = bt_config_load_lib(a.config_path, a.sets, a.nsets, bt_strategy_table(),
                             bt_strategy_count(), bt_strategy_load, &eb);
    if (!cfg) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }
    if (bt_config_walk_forward(cfg)) {
        /* walk_forward: section: one job graph over every window (bt_wfsweep.h). */
        bt_wfsweep_args_t wa = {.config_path = a.config_path,
                                .cfg = cfg,
                                .yaml = yaml,
                                .yaml_len = yaml_len,
                                .out_dir = a.out_dir,
                                .resume_dir = a.resume_dir,
                                .bind = a.bind,
                                .workers = a.workers,
                                .threads = a.threads,
                                .lease_ms = a.lease_ms,
                                .heartbeat_ms = a.heartbeat_ms,
                                .max_attempts = a.max_attempts,
                                .allow_huge = a.allow_huge,
                                .trivial = a.trivial,
                                .sets = a.sets,
                                .nsets = a.nsets};
        exit_code = bt_wfsweep_run(&wa);
        goto out;
    }
    grid = bt_grid_new(cfg, a.allow_huge, &eb);
    if (!grid) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }
    uint64_t njobs = bt_grid_count(grid);
    size_t naxes = bt_grid_naxes(grid);
    if (njobs == 0) {
        fprintf(stderr, "bt sweep: %s: the constraints leave no grid point to run\n",
                a.config_path);
        exit_code = 2;
        goto out;
    }
    if (naxes > BT_REPORT_MAX_AXES) {
        fprintf(stderr, "bt sweep: %s: %zu swept keys, at most %d\n", a.config_path, naxes,
                BT_REPORT_MAX_AXES);
        exit_code = 2;
        goto out;
    }
    raw = malloc(njobs * sizeof *raw);
    idx = calloc(naxes ? naxes : 1, sizeof *idx);
    axis_keys = calloc(naxes ? naxes : 1, sizeof *axis_keys);
    values = calloc(naxes ? naxes : 1, sizeof *values);
    if (!raw || !idx || !axis_keys || !values) {
        fprintf(stderr, "bt sweep: out of memory for %llu jobs\n", (unsigned long long)njobs);
        goto out;
    }
    {
        uint64_t r = 0, k = 0;
        while (k < njobs && bt_grid_next(grid, &r))
            raw[k++] = r++;
        njobs = k;
    }
    for (size_t i = 0; i < naxes; i++)
        axis_keys[i] = bt_grid_axis_key(grid, i);

    /* 2. Data identity. */
    char store[PATH_MAX];
    if (!realpath(bt_config_store(cfg), store)) {
        fprintf(stderr, "bt sweep: %s: data.store %s: %s (make it with 'bt data import' or "
                        "'bt data synth')\n",
                a.config_path, bt_config_store(cfg), strerror(errno));
        exit_code = 2;
        goto out;
    }
    char data_hash[65];
    uint64_t store_nsym = 0;
    if (s_data_hash(store, cfg, data_hash, &store_nsym, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }

    /* 3. Output folder, journal, report. */
    if (bt_fs_mkdir_p(a.out_dir, &eb) != BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        goto out;
    }
    char header[BT_JOURNAL_MAX_HEADER];
    int hl = snprintf(header, sizeof header,
                      "bt sweep journal 1\nconfig_sha256 %s\ndata_hash %s\njobs %llu\n",
                      bt_config_hash(cfg), data_hash, (unsigned long long)njobs);
    for (size_t i = 0; i < naxes && hl > 0 && (size_t)hl < sizeof header; i++)
        hl += snprintf(header + hl, sizeof header - (size_t)hl, "axis %s %zu\n", axis_keys[i],
                       bt_grid_axis_len(grid, i));
    journal = bt_journal_open(a.out_dir, header, a.resume_dir != NULL, &eb);
    if (!journal) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        exit_code = 2;
        goto out;
    }
    sched = bt_sched_new(njobs, (uint32_t)a.max_attempts, a.lease_ms);
    report = bt_report_new(njobs, naxes, axis_keys);
    if (!sched || !report) {
        fprintf(stderr, "bt sweep: out of memory for %llu jobs\n", (unsigned long long)njobs);
        goto out;
    }
    for (size_t i = 0; i < naxes; i++) {
        if (bt_grid_axis_is_symbols(grid, i) && bt_sweep_symbol_labels(report, i, grid, i, &eb) != BT_OK) {
            fprintf(stderr, "bt sweep: %s\n", eb.msg);
            goto out;
        }
    }
    s_points_t pts = {grid, raw, idx};
    for (uint64_t j = 0; j < njobs; j++) {
        s_point(&pts, j, values);
        bt_report_set_point(report, j, values);
    }
    s_replay_t rp = {sched, report, njobs, 0};
    if (a.resume_dir) {
        if (bt_journal_replay(journal, s_on_replay, &rp, &eb) != BT_OK) {
            fprintf(stderr, "bt sweep: %s\n", eb.msg);
            goto out;
        }
        bt_log(BT_LOG_INFO, "resume: %llu of %llu jobs already done in %s%s",
               (unsigned long long)rp.replayed, (unsigned long long)njobs, a.resume_dir,
               bt_journal_truncated_bytes(journal) ? " (a torn last record was cut off)" : "");
    }

    /* 4. Run. */
    char worker_bin[PATH_MAX] = "";
    long workers = a.workers >= 0 ? a.workers : omp_get_num_procs();
    if (workers > 0 && bt_sweep_sibling_path("bt-worker", worker_bin, sizeof worker_bin, &eb) !=
                           BT_OK) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        goto out;
    }
    bt_log(BT_LOG_INFO, "sweep %s: %llu jobs over %zu axis/axes, strategy %s, data %s",
           a.config_path, (unsigned long long)njobs, naxes,
           bt_config_strategy(cfg)->name, store);
    bt_sweep_opts_t so = {
        .bind = a.bind,
        .workers = (int)workers,
        .worker_threads = (int)a.threads,
        .heartbeat_ms = (uint32_t)a.heartbeat_ms,
        .lease_ms = (uint32_t)a.lease_ms,
        .worker_bin = worker_bin,
        .trivial = a.trivial,
        .progress_tty = isatty(2) != 0,
        .progress_every_ms = 5000,
    };
    bt_sweep_ctx_t sc = {
        .yaml = yaml,
        .yaml_len = yaml_len,
        .config_sha = bt_config_hash(cfg),
        .store_path = store,
        .data_hash = data_hash,
        .sets = a.sets,
        .nsets = a.nsets,
        .njobs = njobs,
        .naxes = naxes,
        .axis_keys = axis_keys,
        .point = s_point,
        .point_user = &pts,
        .sched = sched,
        .journal = journal,
        .report = report,
        .rank_metric = bt_config_rank_by(cfg),
        .rank_desc = bt_config_rank_desc(cfg),
    };
    bt_err_t rc = BT_OK;
    if (!bt_sched_finished(sched))
        rc = bt_sweep_serve(&sc, &so, &eb);
    if (rc != BT_OK)
        fprintf(stderr, "bt sweep: %s\n", eb.msg);

    /* 5. Report (partial when interrupted or failed). */
    bt_sched_counts_t k;
    bt_sched_counts(sched, &k);
    const char *rank_name = bt_metrics_name((size_t)bt_config_rank_by(cfg));
    bt_report_summary_t sum = {
        .config_path = a.config_path,
        .config_sha256 = bt_config_hash(cfg),
        .data_store = store,
        .data_hash = data_hash,
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
    };
    int top = bt_config_top(cfg);
    bt_errbuf_t reb;
    bt_errbuf_clear(&reb);
    if (bt_report_write(report, a.out_dir, rank_name, bt_config_rank_desc(cfg),
                        top > 0 ? (size_t)top : 0, &sum, &reb) != BT_OK) {
        fprintf(stderr, "bt sweep: writing the report: %s\n", reb.msg);
        goto out;
    }
    if (rc != BT_OK)
        goto out;
    if (sc.interrupted || !bt_sched_finished(sched)) {
        fprintf(stderr,
                "bt sweep: interrupted (signal %d) with %llu of %llu jobs done; results so far "
                "are in %s (partial report)\n"
                "continue with: bt sweep %s",
                sc.signal, (unsigned long long)(k.ok + k.failed), (unsigned long long)njobs,
                a.out_dir, a.config_path);
        for (size_t i = 0; i < a.nsets; i++)
            fprintf(stderr, " --set '%s'", a.sets[i]);
        fprintf(stderr, " --resume %s\n", a.out_dir);
        goto out;
    }
    double wall = bt_monotonic_s() - t0;
    printf("sweep done: %llu jobs (%llu ok, %llu failed, %llu from the journal) in %.2f s, "
           "%.0f backtests/s, %.3g bar-events/s\n",
           (unsigned long long)njobs, (unsigned long long)k.ok, (unsigned long long)k.failed,
           (unsigned long long)rp.replayed, wall, wall > 0 ? (double)sc.jobs_run / wall : 0.0,
           wall > 0 ? (double)sc.bars_run / wall : 0.0);
    printf("report: %s/results.csv, %s/ranking.csv, %s/summary.txt\n", a.out_dir, a.out_dir,
           a.out_dir);
    if (sc.bad_messages)
        printf("note: %llu malformed or unexpected message(s) were dropped (see the log)\n",
               (unsigned long long)sc.bad_messages);
    exit_code = 0;
out:
    bt_journal_close(&journal);
    bt_report_destroy(&report);
    bt_sched_destroy(&sched);
    bt_grid_destroy(&grid);
    bt_config_destroy(&cfg);
    free(yaml);
    free(raw);
    free(idx);
    free(axis_keys);
    free(values);
    return exit_code;
}
