/* bt run — one backtest from a config: summary table on stdout, and
 * trades.csv, orders.csv, equity.csv, metrics.json, provenance.txt in DIR. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bt_cmd.h"
#include "bt_config.h"
#include "bt_engine.h"
#include "bt_grid.h"
#include "bt_err.h"
#include "bt_fs.h"
#include "bt_metrics.h"
#include "bt_registry.h"
#include "bt_store.h"
#include "bt_time.h"

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: bt run CONFIG.yaml [--set key=value ...] [--out DIR] [--threads N]\n"
            "       bt run --list-settings\n"
            "\n"
            "Runs one backtest of the config's strategy and parameters (its sweep: section is\n"
            "ignored; use 'bt sweep' for that), prints every metric, and writes to DIR:\n"
            "  trades.csv      one row per round trip (open = 1 if still open at the end)\n"
            "  orders.csv      every order with its status and reason\n"
            "  equity.csv      cash, positions value, equity and drawdown per step\n"
            "  metrics.json    every metric by name, plus a provenance object\n"
            "  provenance.txt  config path and sha256, data store and hash, version, command\n"
            "\n"
            "options:\n"
            "  --set key=value   override a config key (repeatable), value as in YAML,\n"
            "                    e.g. --set params.fast=12 --set data.symbols=[SYN000]\n"
            "  --out DIR         output folder, created if missing            [out/run]\n"
            "  --threads N       OpenMP threads across symbols, 0 = default   [0]\n"
            "  --list-settings   print the reference of every config key (markdown)\n"
            "\n"
            "exit status: 0 done, 1 the run failed, 2 bad usage or bad config (nothing done)\n"
            "\n"
            "example:\n"
            "  bt run configs/sma_cross.yaml --set params.fast=5 --out out/run\n");
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

/* A CSV field, quoted when it holds a comma, quote or newline (RFC 4180). */
static void s_csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static FILE *s_open(const char *dir, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    return fopen(path, "w");
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

static bool s_write_outputs(const s_prov_t *p, const bt_recorder_t *rec, const bt_metrics_t *m,
                            char *why, size_t cap)
{
    char path[4200], t1[40], t2[40];
    const bt_dataset_t *ds = p->ds;
    FILE *f;

    if (!(f = s_open(p->out, "trades.csv", path, sizeof path)))
        goto io_fail;
    fprintf(f, "symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl,return_pct,"
               "commission,open\n");
    for (size_t i = 0; i < rec->ntrades; i++) {
        const bt_trade_rec_t *t = &rec->trades[i];
        double ret = t->entry_price != 0 ? (t->exit_price / t->entry_price - 1.0) * 100.0 : 0.0;
        if (t->qty < 0)
            ret = -ret;
        s_csv_str(f, t->sym < ds->nsym ? ds->series[t->sym].symbol : "?");
        fprintf(f, ",%s,%s,%s,%.15g,%.15g,%.15g,%.15g,%.6f,%.15g,%d\n",
                t->qty < 0 ? "short" : "long", s_tfmt(t->entry_time, t1),
                s_tfmt(t->exit_time, t2), t->qty, t->entry_price, t->exit_price, t->pnl, ret,
                t->commission, t->open ? 1 : 0);
    }
    if (fclose(f) != 0)
        goto io_fail;

    if (!(f = s_open(p->out, "orders.csv", path, sizeof path)))
        goto io_fail;
    fprintf(f, "id,created,done,symbol,type,qty,filled,limit,stop,avg_price,commission,status,"
               "reason\n");
    for (size_t i = 0; i < rec->norders; i++) {
        const bt_order_rec_t *o = &rec->orders[i];
        fprintf(f, "%" PRId64 ",%s,%s,", o->id, s_tfmt(o->created, t1), s_tfmt(o->done, t2));
        s_csv_str(f, o->sym < ds->nsym ? ds->series[o->sym].symbol : "?");
        fprintf(f, ",%s,%.15g,%.15g,%.15g,%.15g,%.15g,%.15g,%s,", s_order_type(o->type), o->qty,
                o->filled, o->limit, o->stop, o->avg_price, o->commission,
                s_order_status(o->status));
        char reason[sizeof o->reason + 1];
        snprintf(reason, sizeof reason, "%.*s", (int)sizeof o->reason, o->reason);
        s_csv_str(f, reason);
        fputc('\n', f);
    }
    if (fclose(f) != 0)
        goto io_fail;

    if (!(f = s_open(p->out, "equity.csv", path, sizeof path)))
        goto io_fail;
    fprintf(f, "time,cash,positions_value,equity,drawdown\n");
    for (size_t i = 0; i < rec->nequity; i++) {
        const bt_equity_rec_t *e = &rec->equity[i];
        fprintf(f, "%s,%.15g,%.15g,%.15g,%.15g\n", bt_time_format(e->time, t1, sizeof t1), e->cash,
                e->positions_value, e->equity, e->drawdown);
    }
    if (fclose(f) != 0)
        goto io_fail;

    if (!(f = s_open(p->out, "metrics.json", path, sizeof path)))
        goto io_fail;
    fprintf(f, "{\n");
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        fprintf(f, "  \"%s\": ", bt_metrics_name(i));
        s_json_num(f, bt_metrics_get(m, i));
        fprintf(f, ",\n");
    }
    s_write_provenance_json(f, p);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        goto io_fail;

    if (!(f = s_open(p->out, "provenance.txt", path, sizeof path)))
        goto io_fail;
    const bt_strategy_t *st = bt_config_strategy(p->cfg);
    fprintf(f, "config: %s\nconfig_sha256: %s\ndata_store: %s\ndata_hash: %s\nbt_version: %s\n"
               "strategy: %s\nparams:",
            bt_config_path(p->cfg), bt_config_hash(p->cfg), bt_config_store(p->cfg), ds->hash,
            BT_VERSION, st->name);
    for (size_t i = 0; i < st->nparams; i++)
        fprintf(f, " %s=%.10g", st->params[i].name, bt_config_params(p->cfg)[i]);
    fprintf(f, "\nsymbols:");
    for (size_t i = 0; i < ds->nsym; i++)
        fprintf(f, " %s", ds->series[i].symbol);
    fprintf(f, "\ncommand_line: %s\n", p->cmdline);
    if (fclose(f) != 0)
        goto io_fail;
    return true;
io_fail:
    snprintf(why, cap, "%s: %s", path, strerror(errno));
    return false;
}

static void s_print_summary(const bt_config_t *cfg, const bt_dataset_t *ds, const bt_metrics_t *m,
                            const bt_recorder_t *rec)
{
    const bt_strategy_t *st = bt_config_strategy(cfg);
    printf("strategy  %s", st->name);
    for (size_t i = 0; i < st->nparams; i++)
        printf("%s%s=%.10g", i ? " " : " (", st->params[i].name, bt_config_params(cfg)[i]);
    printf("%s\nsymbols   ", st->nparams ? ")" : "");
    for (size_t i = 0; i < ds->nsym; i++)
        printf("%s%s", i ? " " : "", ds->series[i].symbol);
    if (rec->nequity) {
        char t1[40], t2[40];
        printf("\nperiod    %s .. %s (%zu steps)",
               bt_time_format(rec->equity[0].time, t1, sizeof t1),
               bt_time_format(rec->equity[rec->nequity - 1].time, t2, sizeof t2), rec->nequity);
    }
    printf("\norders    %zu, round trips %zu\n\n", rec->norders, rec->ntrades);
    size_t w = 0;
    for (size_t i = 0; i < bt_metrics_count(); i++)
        if (strlen(bt_metrics_name(i)) > w)
            w = strlen(bt_metrics_name(i));
    for (size_t i = 0; i < bt_metrics_count(); i++)
        printf("%-*s  %16.6f\n", (int)w, bt_metrics_name(i), bt_metrics_get(m, i));
}

int bt_cmd_run(int argc, char **argv)
{
    const char *path = NULL, *out = "out/run";
    const char *sets[BT_CONFIG_MAX_OVERRIDES];
    size_t nsets = 0;
    int threads = 0;
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
                   strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "bt run: %s needs a value; see 'bt run --help'\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--out") == 0) {
                out = v;
            } else if (strcmp(a, "--threads") == 0) {
                char *end = NULL;
                errno = 0;
                long n = strtol(v, &end, 10);
                if (errno || end == v || *end || n < 0 || n > 1024) {
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
    if (!path) {
        s_help(stderr);
        return 2;
    }

    /* command line for provenance */
    char cmdline[4096] = "bt";
    size_t off = 2;
    for (int i = 0; i < argc && off < sizeof cmdline; i++)
        off += (size_t)snprintf(cmdline + off, sizeof cmdline - off, " %s", argv[i]);

    bt_errbuf_t eb;
    bt_config_t *cfg = bt_config_load_lib(path, sets, nsets, bt_strategy_table(),
                                          bt_strategy_count(), bt_strategy_load, &eb);
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
    char why[4400];

    size_t nsym = 0;
    const char *const *syms = bt_config_symbols(cfg, &nsym);
    ds = bt_dataset_load(bt_config_store(cfg), syms, nsym, &eb);
    if (!ds) {
        fprintf(stderr, "bt run: %s (data.store in %s)\n", eb.msg, path);
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
    bt_run_spec_t spec = {
        .series = ds->series,
        .nsym = ds->nsym,
        .strategy = bt_config_strategy(cfg),
        .params = bt_config_params(cfg),
        .cfg = bt_config_engine(cfg),
        .threads = threads,
        .rec = &rec,
    };
    bt_metrics_t m;
    bt_err_t err = bt_engine_run(eng, &spec, &m, &eb);
    if (err != BT_OK) {
        fprintf(stderr, "bt run: %s: %s\n", path, eb.msg[0] ? eb.msg : bt_strerror(err));
        /* a strategy refusing its parameters is a config error: nothing was done */
        rc = (err == BT_ESTRATEGY || err == BT_ECONFIG) ? 2 : 1;
        goto done;
    }
    s_prov_t prov = {cfg, ds, cmdline, out};
    if (!s_write_outputs(&prov, &rec, &m, why, sizeof why)) {
        fprintf(stderr, "bt run: cannot write results: %s\n", why);
        goto done;
    }
    s_print_summary(cfg, ds, &m, &rec);
    printf("\nresults in %s/ (trades.csv, orders.csv, equity.csv, metrics.json, provenance.txt)\n",
           out);
    rc = 0;
done:
    bt_recorder_fini(&rec);
    bt_engine_destroy(&eng);
    bt_dataset_destroy(&ds);
    bt_config_destroy(&cfg);
    return rc;
}
