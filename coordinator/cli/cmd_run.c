/* bt run — one backtest from a config: summary table on stdout, and
 * trades.csv, orders.csv, equity.csv, metrics.json, provenance.txt in DIR. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "bt_cmd.h"
#include "bt_parse.h"
#include "bt_config.h"
#include "bt_csvw.h"
#include "bt_engine.h"
#include "bt_grid.h"
#include "bt_html_run.h"
#include "bt_runout.h"
#include "bt_sig.h"
#include "bt_sweepjob.h"
#include "bt_build.h"
#include "bt_err.h"
#include "bt_fs.h"
#include "bt_metrics.h"
#include "bt_pystrat.h"
#include "bt_registry.h"
#include "bt_runstats.h"
#include "bt_store.h"
#include "bt_time.h"

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: bt run CONFIG.yaml [--set key=value ...] [--out DIR] [--threads N]\n"
            "       bt run --from-sweep SWEEP_DIR --job N [--out DIR] [--threads N]\n"
            "       bt run --list-settings\n"
            "\n"
            "Runs one backtest of the config's strategy and parameters (its sweep: section is\n"
            "ignored; use 'bt sweep' for that), prints every metric, and writes to DIR:\n"
            "  trades.csv      one row per round trip (open = 1 if still open at the end)\n"
            "  orders.csv      every order with its status and reason\n"
            "  equity.csv      cash, positions value, equity and drawdown per step\n"
            "  metrics.json    every metric by name, a stats object, a provenance object\n"
            "  returns.csv     monthly and yearly returns\n"
            "  symbols.csv     closed trades per symbol\n"
            "  provenance.txt  config path and sha256, data store and hash, version, command\n"
            "  report.html     charts and tables of all of it, one self-contained page\n"
            "\n"
            "options:\n"
            "  --set key=value   override a config key (repeatable), value as in YAML,\n"
            "                    e.g. --set params.fast=12 --set data.symbols=[SYN000]\n"
            "  --out DIR         output folder, created if missing            [out/run]\n"
            "  --threads N       OpenMP threads across symbols, 0 = default   [0]\n"
            "  --series WHERE    per-bar series (equity): csv (equity.csv), h5 (run.h5, HDF5,\n"
            "                    also each symbol's position; pandas.read_hdf reads it:\n"
            "                    docs/reports.md), both, or auto: csv up to 1,000,000 rows,\n"
            "                    else h5                                        [auto]\n"
            "  --chunk N         per-bar points written a chunk at a time (the outputs are\n"
            "                    the same for any N; for tests)                 [65536]\n"
            "  --writers N       threads writing the per-bar outputs, 0..2 (the outputs are\n"
            "                    the same for any N; for tests)                 [2]\n"
            "  --from-sweep DIR  run job N (--job N, its job_id in results.csv) of the sweep in\n"
            "                    DIR with its config as the sweep read it: the same metrics\n"
            "                    as its results.csv row, and every output above\n"
            "  --list-settings   print the reference of every config key (markdown)\n"
            "\n"
            "exit status: 0 done, 1 the run failed, 2 bad usage or bad config (nothing done)\n"
            "\n"
            "example:\n"
            "  bt run configs/sma_cross.yaml --set params.fast=5 --out out/run\n"
            "  bt run --from-sweep out/sweep --job 15 --out out/job15\n");
}

static void s_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void s_json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f); /* JSON has no inf/nan */
}

static const char *s_order_type(bt_order_type_t t)
{
    static const char *const n[] = {"market", "limit", "stop", "stop_limit"};
    return (unsigned)t < 4 ? n[t] : "?";
}

static const char *s_order_status(bt_order_status_t s)
{
    static const char *const n[] = {"open",    "filled",  "partial",
                                    "cancelled", "expired", "rejected"};
    return (unsigned)s < 6 ? n[s] : "?";
}

static const char *s_tfmt(int64_t t, char *buf)
{
    if (t == 0)
        return "";
    return bt_time_format(t, buf, 40);
}

typedef struct {
    const bt_config_t *cfg;
    const bt_dataset_t *ds;
    const char *cmdline;
    const char *out;
    const bt_run_stats_t *stats; /* run statistics (bt_metrics_run), NULL if none */
} s_prov_t;

static void s_write_provenance_json(FILE *f, const s_prov_t *p)
{
    const bt_strategy_t *st = bt_config_strategy(p->cfg);
    const double *params = bt_config_params(p->cfg);
    fprintf(f, "  \"provenance\": {\n    \"config\": ");
    s_json_str(f, bt_config_path(p->cfg));
    fprintf(f, ",\n    \"config_sha256\": \"%s\",\n    \"data_store\": ", bt_config_hash(p->cfg));
    s_json_str(f, bt_config_store(p->cfg));
    fprintf(f, ",\n    \"data_hash\": \"%s\",\n    \"bt_version\": \"%s\",\n    \"strategy\": ",
            p->ds->hash, BT_VERSION);
    s_json_str(f, st->name);
    fprintf(f, ",\n    \"params\": {");
    for (size_t i = 0; i < st->nparams; i++) {
        fprintf(f, "%s", i ? ", " : "");
        s_json_str(f, st->params[i].name);
        fputs(": ", f);
        s_json_num(f, params[i]);
    }
    fprintf(f, "},\n    \"symbols\": [");
    for (size_t i = 0; i < p->ds->nsym; i++) {
        fprintf(f, "%s", i ? ", " : "");
        s_json_str(f, p->ds->series[i].symbol);
    }
    fprintf(f, "],\n    \"command_line\": ");
    s_json_str(f, p->cmdline);
    fprintf(f, "\n  }\n");
}

/* Each output is written to a temp file and renamed into place (bt_fs_atomic): a crash or a full
 * disk never leaves half a file that looks whole. */
static bt_err_t s_open(bt_fs_atomic_t *a, const char *dir, const char *name, bt_errbuf_t *eb)
{
    char path[PATH_MAX];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path)
        return bt_errf(eb, BT_ELIMIT, "output folder path too long: %s", dir);
    return bt_fs_atomic_open(a, path, eb);
}

static void s_write_trades(bt_csvw_t *w, const bt_dataset_t *ds, const bt_recorder_t *rec)
{
    char t1[40], t2[40];
    bt_csvw_line(w, "symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl,return_pct,"
                    "commission,open,exit_reason");
    for (size_t i = 0; i < rec->ntrades; i++) {
        const bt_trade_rec_t *t = &rec->trades[i];
        double ret = t->entry_price != 0 ? (t->exit_price / t->entry_price - 1.0) * 100.0 : 0.0;
        if (t->qty < 0)
            ret = -ret;
        bt_csvw_str(w, t->sym < ds->nsym ? ds->series[t->sym].symbol : "?");
        bt_csvw_str(w, t->qty < 0 ? "short" : "long");
        bt_csvw_str(w, s_tfmt(t->entry_time, t1));
        bt_csvw_str(w, s_tfmt(t->exit_time, t2));
        bt_csvw_g(w, t->qty, 15);
        bt_csvw_g(w, t->entry_price, 15);
        bt_csvw_g(w, t->exit_price, 15);
        bt_csvw_g(w, t->pnl, 15);
        bt_csvw_fixed(w, ret, 6);
        bt_csvw_g(w, t->commission, 15);
        bt_csvw_i64(w, t->open ? 1 : 0);
        bt_csvw_str(w, bt_exit_reason_name(t->exit_reason));
        bt_csvw_end_row(w);
    }
}

static void s_write_orders(bt_csvw_t *w, const bt_dataset_t *ds, const bt_recorder_t *rec)
{
    char t1[40], t2[40];
    bt_csvw_line(w, "id,created,done,symbol,type,qty,filled,limit,stop,avg_price,commission,status,"
                    "reason");
    for (size_t i = 0; i < rec->norders; i++) {
        const bt_order_rec_t *o = &rec->orders[i];
        bt_csvw_i64(w, o->id);
        bt_csvw_str(w, s_tfmt(o->created, t1));
        bt_csvw_str(w, s_tfmt(o->done, t2));
        bt_csvw_str(w, o->sym < ds->nsym ? ds->series[o->sym].symbol : "?");
        bt_csvw_str(w, s_order_type(o->type));
        const double num[] = {o->qty,  o->filled,    o->limit,     o->stop,
                              o->avg_price, o->commission};
        for (size_t k = 0; k < sizeof num / sizeof num[0]; k++)
            bt_csvw_g(w, num[k], 15);
        bt_csvw_str(w, s_order_status(o->status));
        bt_csvw_strn(w, o->reason, sizeof o->reason); /* not always NUL-terminated */
        bt_csvw_end_row(w);
    }
}

static void s_write_metrics_json(FILE *f, const s_prov_t *p, const bt_metrics_t *m)
{
    fprintf(f, "{\n");
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        fprintf(f, "  \"%s\": ", bt_metrics_name(i));
        s_json_num(f, bt_metrics_get(m, i));
        fprintf(f, ",\n");
    }
    if (p->stats)
        bt_runstats_json(f, p->stats);
    s_write_provenance_json(f, p);
    fprintf(f, "}\n");
}

static void s_write_provenance_txt(FILE *f, const s_prov_t *p)
{
    const bt_strategy_t *st = bt_config_strategy(p->cfg);
    fprintf(f, "config: %s\nconfig_sha256: %s\ndata_store: %s\ndata_hash: %s\nbt_version: %s\n"
               "strategy: %s\nparams:",
            bt_config_path(p->cfg), bt_config_hash(p->cfg), bt_config_store(p->cfg), p->ds->hash,
            BT_VERSION, st->name);
    for (size_t i = 0; i < st->nparams; i++)
        fprintf(f, " %s=%.10g", st->params[i].name, bt_config_params(p->cfg)[i]);
    fprintf(f, "\nsymbols:");
    for (size_t i = 0; i < p->ds->nsym; i++)
        fprintf(f, " %s", p->ds->series[i].symbol);
    fprintf(f, "\ncommand_line: %s\nbuild_id: %s\n", p->cmdline, bt_build_id());
}

/* One output file of the run: the trades, the orders, the metrics or the provenance (k = 0..3). */
static bt_err_t s_write_one(const s_prov_t *p, const bt_recorder_t *rec, const bt_metrics_t *m,
                            int k, bt_errbuf_t *eb)
{
    static const char *const names[] = {"trades.csv", "orders.csv", "metrics.json",
                                        "provenance.txt"};
    bt_fs_atomic_t a;
    bt_err_t e = s_open(&a, p->out, names[k], eb);
    if (e != BT_OK)
        return e;
    bt_csvw_t w;
    bt_csvw_init_file(&w, a.f);
    if (k == 0)
        s_write_trades(&w, p->ds, rec);
    else if (k == 1)
        s_write_orders(&w, p->ds, rec);
    else if (k == 2)
        s_write_metrics_json(a.f, p, m);
    else
        s_write_provenance_txt(a.f, p);
    /* a write error is sticky in the FILE*: commit reports it and removes the temp file */
    e = bt_fs_atomic_commit(&a, eb);
    bt_fs_atomic_abort(&a);
    return e;
}

/* trades.csv and orders.csv on a thread of their own, written while the main thread waits
 * for the statistics and makes the other outputs (a long run's CSVs took ~20 ms at its end) */
typedef struct {
    const char *out;
    const bt_dataset_t *ds;
    const bt_recorder_t *rec;
    pthread_t th;
    bool started;
    bt_err_t rc;
    bt_errbuf_t eb;
} s_csvs_t;

static void *s_csvs_main(void *arg)
{
    s_csvs_t *c = arg;
    s_prov_t p = {.ds = c->ds, .out = c->out};
    c->rc = s_write_one(&p, c->rec, NULL, 0, &c->eb);
    if (c->rc == BT_OK)
        c->rc = s_write_one(&p, c->rec, NULL, 1, &c->eb);
    return NULL;
}

static void s_csvs_start(s_csvs_t *c)
{
    bt_errbuf_clear(&c->eb);
    c->rc = BT_OK;
    c->started = pthread_create(&c->th, NULL, s_csvs_main, c) == 0;
    if (!c->started) /* no thread: here and now */
        s_csvs_main(c);
}

static bt_err_t s_csvs_join(s_csvs_t *c, bt_errbuf_t *eb)
{
    if (c->started)
        pthread_join(c->th, NULL);
    c->started = false;
    if (c->rc != BT_OK)
        bt_errf(eb, c->rc, "%s", c->eb.msg);
    return c->rc;
}

/* metrics.json, provenance.txt and the run statistics' files; trades.csv and orders.csv come
 * from s_csvs, equity.csv and run.h5 from bt_runout (both while the run went) */
static bt_err_t s_write_outputs(const s_prov_t *p, const bt_recorder_t *rec, const bt_metrics_t *m,
                                bt_errbuf_t *eb)
{
    for (int k = 2; k < 4; k++) {
        bt_err_t e = s_write_one(p, rec, m, k, eb);
        if (e != BT_OK)
            return e;
    }
    return p->stats ? bt_runstats_write(p->out, p->ds->series, p->stats, eb) : BT_OK;
}

static void s_print_summary(const bt_config_t *cfg, const bt_dataset_t *ds, const bt_metrics_t *m,
                            const bt_recorder_t *rec, const bt_html_thin_t *th)
{
    const bt_strategy_t *st = bt_config_strategy(cfg);
    printf("strategy  %s", st->name);
    for (size_t i = 0; i < st->nparams; i++)
        printf("%s%s=%.10g", i ? " " : " (", st->params[i].name, bt_config_params(cfg)[i]);
    printf("%s\nsymbols   ", st->nparams ? ")" : "");
    for (size_t i = 0; i < ds->nsym; i++)
        printf("%s%s", i ? " " : "", ds->series[i].symbol);
    if (th->n) {
        char t1[40], t2[40];
        printf("\nperiod    %s .. %s (%zu steps)", bt_time_format(th->t0, t1, sizeof t1),
               bt_time_format(th->t1, t2, sizeof t2), th->n);
    }
    printf("\norders    %zu, round trips %zu\n\n", rec->norders, rec->ntrades);
    size_t w = 0;
    for (size_t i = 0; i < bt_metrics_count(); i++)
        if (strlen(bt_metrics_name(i)) > w)
            w = strlen(bt_metrics_name(i));
    for (size_t i = 0; i < bt_metrics_count(); i++)
        printf("%-*s  %16.6f\n", (int)w, bt_metrics_name(i), bt_metrics_get(m, i));
}

/* Ctrl-C or a SIGTERM mid-run: remove the temporary files being written
 * (finished outputs stay; no half-written one was ever renamed into place)
 * and exit 128 + the signal, as a shell would report it. */
static void s_on_signal(int sig)
{
    bt_fs_tmp_remove_all();
    static const char msg[] = "bt run: interrupted; temporary files removed, the output "
                              "folder holds only the files finished before\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(128 + sig);
}

int bt_cmd_run(int argc, char **argv)
{
    bt_sig_on_stop(s_on_signal);
    const char *path = NULL, *out = "out/run", *from = NULL, *job_s = NULL, *series = "auto";
    const char *sets[BT_CONFIG_MAX_OVERRIDES];
    size_t nsets = 0;
    int threads = 0;
    long chunk = 0, writers = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_help(stdout);
            return 0;
        } else if (strcmp(a, "--list-settings") == 0) {
            printf("# Config keys\n");
            bt_config_write_reference(stdout);
            return 0;
        } else if (strcmp(a, "--set") == 0 || strcmp(a, "--out") == 0 ||
                   strcmp(a, "--threads") == 0 || strcmp(a, "--from-sweep") == 0 ||
                   strcmp(a, "--job") == 0 || strcmp(a, "--series") == 0 ||
                   strcmp(a, "--chunk") == 0 || strcmp(a, "--writers") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "bt run: %s needs a value; see 'bt run --help'\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--out") == 0) {
                out = v;
            } else if (strcmp(a, "--from-sweep") == 0) {
                from = v;
            } else if (strcmp(a, "--job") == 0) {
                job_s = v;
            } else if (strcmp(a, "--series") == 0) {
                if (strcmp(v, "auto") && strcmp(v, "csv") && strcmp(v, "h5") && strcmp(v, "both")) {
                    fprintf(stderr, "bt run: --series %s: expected auto, csv, h5 or both\n", v);
                    return 2;
                }
                series = v;
            } else if (strcmp(a, "--writers") == 0) {
                if (!bt_parse_long(v, 0, 2, &writers)) {
                    fprintf(stderr, "bt run: --writers %s: expected 0, 1 or 2\n", v);
                    return 2;
                }
            } else if (strcmp(a, "--chunk") == 0) {
                if (!bt_parse_long(v, 1, 1L << 24, &chunk)) {
                    fprintf(stderr, "bt run: --chunk %s: expected a whole number 1..16777216\n",
                            v);
                    return 2;
                }
            } else if (strcmp(a, "--threads") == 0) {
                long n = 0;
                if (!bt_parse_long(v, 0, 1024, &n)) {
                    fprintf(stderr, "bt run: --threads %s: expected a whole number 0..1024\n", v);
                    return 2;
                }
                threads = (int)n;
            } else {
                if (nsets == BT_CONFIG_MAX_OVERRIDES) {
                    fprintf(stderr, "bt run: more than %d --set options\n",
                            BT_CONFIG_MAX_OVERRIDES);
                    return 2;
                }
                sets[nsets++] = v;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "bt run: unknown option '%s'; see 'bt run --help'\n", a);
            return 2;
        } else if (path) {
            fprintf(stderr, "bt run: one config only (got '%s' and '%s')\n", path, a);
            return 2;
        } else {
            path = a;
        }
    }
    if (from && (path || nsets || !job_s)) {
        fprintf(stderr, "bt run: --from-sweep DIR takes --job N and no CONFIG or --set (the "
                        "sweep's config is used as it was)\n");
        return 2;
    }
    if (!path && !from) {
        s_help(stderr);
        return 2;
    }
    uint64_t job = 0;
    if (job_s) {
        char *end = NULL;
        errno = 0;
        unsigned long long j = strtoull(job_s, &end, 10);
        if (errno || end == job_s || *end || job_s[0] == '-' || !from) {
            fprintf(stderr, "bt run: --job %s: expected a job_id of results.csv, with "
                            "--from-sweep DIR\n", job_s);
            return 2;
        }
        job = j;
    }

    /* command line for provenance */
    char cmdline[4096] = "bt";
    size_t off = 2;
    for (int i = 0; i < argc && off < sizeof cmdline; i++)
        off += (size_t)snprintf(cmdline + off, sizeof cmdline - off, " %s", argv[i]);

    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_config_t *cfg = NULL;
    if (from) {
        bt_sweepjob_t *sj = bt_sweepjob_open(from, &eb);
        char label[1024];
        cfg = sj ? bt_sweepjob_config(sj, job, label, sizeof label, &eb) : NULL;
        if (cfg)
            printf("sweep     %s, job %llu: %s\n", from, (unsigned long long)job, label);
        bt_sweepjob_destroy(&sj);
        path = from;
    } else {
        cfg = bt_config_load_lib(path, sets, nsets, bt_strategy_table(), bt_strategy_count(),
                                 bt_strategy_load, &eb);
    }
    if (!cfg || bt_grid_check(cfg, &eb) != BT_OK) {
        fprintf(stderr, "bt run: %s\n", eb.msg);
        bt_config_destroy(&cfg);
        return 2;
    }
    int rc = 1;
    bt_dataset_t *ds = NULL;
    bt_engine_t *eng = NULL;
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_run_stats_t stats;
    memset(&stats, 0, sizeof stats);
    bt_run_pos_t *pos = NULL;
    bt_runout_t *ro = NULL;
    s_csvs_t csvs = {.out = out, .rec = &rec}; /* .ds once loaded */

    size_t nsym = 0;
    const char *const *syms = bt_config_symbols(cfg, &nsym);
    ds = bt_dataset_load_mapped(bt_config_store(cfg), syms, nsym, &eb); /* no copy */
    if (!ds) {
        fprintf(stderr, "bt run: %s (data.store in %s)\n", eb.msg, path);
        rc = 2;
        goto done;
    }
    const bt_engine_cfg_t *ecfg = bt_config_engine(cfg);
    if (bt_dataset_check_range(ds->series, ds->nsym, ecfg->start, ecfg->end, &eb) != BT_OK) {
        fprintf(stderr, "bt run: %s: data.start / data.end: %s\n", path, eb.msg);
        rc = 2;
        goto done;
    }
    if (bt_fs_mkdir_p(out, &eb) != BT_OK) {
        fprintf(stderr, "bt run: cannot create output folder: %s\n", eb.msg);
        rc = 2;
        goto done;
    }
    eng = bt_engine_new();
    if (!eng) {
        fprintf(stderr, "bt run: out of memory\n");
        goto done;
    }
    /* per-symbol positions, for run.h5 (not for --series csv) */
    if (strcmp(series, "csv") != 0 && !(pos = bt_run_pos_new(ds->nsym))) {
        fprintf(stderr, "bt run: out of memory\n");
        goto done;
    }
    bt_run_spec_t spec = {
        .series = ds->series,
        .nsym = ds->nsym,
        .strategy = bt_config_strategy(cfg),
        .params = bt_config_params(cfg),
        .cfg = ecfg,
        .threads = bt_pystrat_is(spec.strategy) ? 1 : threads, /* Python: one thread */
        .rec = &rec,
        .on_step = pos ? bt_run_pos_step : NULL,
        .on_step_user = pos,
        .on_step_fills = true, /* bt_run_pos_step keeps only changes: they come with fills */
        /* one pass over one symbol: its bars copied from the file a window at a time cost less
         * than the first touch of every mapped page (bt_filemap.h) */
        .read_window = ds->nsym == 1,
    };
    /* the per-bar outputs are made while the run goes, a chunk at a time */
    size_t expect = bt_engine_record_steps(&spec);
    if (expect == SIZE_MAX) {
        fprintf(stderr, "bt run: out of memory\n");
        goto done;
    }
    bool big = expect > 1000000;
    bool want_csv = strcmp(series, "csv") == 0 || strcmp(series, "both") == 0 ||
                    (strcmp(series, "auto") == 0 && !big);
    bool want_h5 = strcmp(series, "h5") == 0 || strcmp(series, "both") == 0 ||
                   (strcmp(series, "auto") == 0 && big);
    bt_runout_cfg_t ocfg = {out,    ds->series, ds->nsym, ecfg,   want_h5 ? pos : NULL,
                            expect, (size_t)chunk, want_csv, want_h5, (int)writers, true,
                            spec.read_window};
    ro = bt_runout_new(&ocfg, &rec, &eb);
    if (!ro) {
        fprintf(stderr, "bt run: %s\n", eb.msg);
        goto done;
    }
    bt_metrics_t m;
    double pylimit = 0;
    if (bt_config_get(cfg, "strategy_python_timeout", &pylimit, &eb) == BT_OK)
        bt_pystrat_set_call_limit(pylimit);
    bt_err_t err = bt_engine_run(eng, &spec, &m, &eb);
    if (err == BT_OK && bt_pystrat_take_error(spec.strategy, &eb) != BT_OK) {
        fprintf(stderr, "bt run: %s: %s\n", path, eb.msg);
        rc = 1;
        goto done;
    }
    if (err != BT_OK) {
        fprintf(stderr, "bt run: %s: %s\n", path, eb.msg[0] ? eb.msg : bt_strerror(err));
        /* a strategy refusing its parameters is a config error: nothing was done */
        rc = (err == BT_ESTRATEGY || err == BT_ECONFIG) ? 2 : 1;
        goto done;
    }
    if (bt_run_pos_error(pos) != BT_OK) {
        fprintf(stderr, "bt run: out of memory for the positions\n");
        goto done;
    }
    csvs.ds = ds;
    s_csvs_start(&csvs);
    if (bt_runout_finish(ro, &stats, &eb) != BT_OK) {
        fprintf(stderr, "bt run: cannot write results: %s\n", eb.msg);
        goto done;
    }
    s_prov_t prov = {cfg, ds, cmdline, out, &stats};
    if (s_write_outputs(&prov, &rec, &m, &eb) != BT_OK) {
        fprintf(stderr, "bt run: cannot write results: %s\n", eb.msg);
        goto done;
    }
    const bt_html_thin_t *thin = bt_runout_thin(ro);
    bt_html_run_in_t hin = {thin, rec.trades, rec.ntrades, ds->series, ds->nsym, NULL};
    if (bt_html_run_write(out, &hin, &eb) != BT_OK) {
        fprintf(stderr, "bt run: cannot write report.html: %s\n", eb.msg);
        goto done;
    }
    if (s_csvs_join(&csvs, &eb) != BT_OK) { /* trades.csv and orders.csv in place */
        fprintf(stderr, "bt run: cannot write results: %s\n", eb.msg);
        goto done;
    }
    if (bt_runout_commit(ro, &eb) != BT_OK) { /* equity.csv and run.h5 in place */
        fprintf(stderr, "bt run: cannot write results: %s\n", eb.msg);
        goto done;
    }
    s_print_summary(cfg, ds, &m, &rec, thin);
    printf("\n");
    bt_runstats_print(stdout, &stats, 0);
    printf("\nresults in %s/ (trades.csv, orders.csv, %s%s%smetrics.json, returns.csv, "
           "symbols.csv, provenance.txt, report.html)\n",
           out, want_csv ? "equity.csv, " : "", want_h5 ? BT_HTML_RUN_H5 : "", want_h5 ? ", " : "");
    rc = 0;
done:
    if (csvs.started) /* an error after they started: they end before rec goes */
        s_csvs_join(&csvs, &eb);
    bt_runout_destroy(&ro);
    bt_run_stats_fini(&stats);
    bt_run_pos_destroy(&pos);
    bt_recorder_fini(&rec);
    bt_engine_destroy(&eng);
    bt_dataset_destroy(&ds);
    bt_config_destroy(&cfg);
    return rc;
}
