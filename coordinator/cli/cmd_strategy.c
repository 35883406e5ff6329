/* bt strategy check | new — for people writing strategies outside the tree.
 *
 * check: runs one backtest of a user strategy (a .so, or a .py class) three
 * times in this process — twice at 1 thread, once at N — and fails loudly
 * when any metric differs: the symptom of globals or other shared state.
 * new: writes a compilable skeleton (NAME.c + Makefile) that builds against
 * the installed headers through `pkg-config backtester`. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_cmd.h"
#include "bt_config.h"
#include "bt_engine.h"
#include "bt_err.h"
#include "bt_fs.h"
#include "bt_metrics.h"
#include "bt_pystrat.h"
#include "bt_registry.h"
#include "bt_store.h"
#include "bt_synth.h"

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: bt strategy check LIB.so|FILE.py NAME [--data STORE] [--threads N]\n"
        "                         [--set key=value ...]\n"
        "       bt strategy new NAME [--dir DIR]\n"
        "\n"
        "check  runs one backtest of strategy NAME three times in this process: twice on\n"
        "       1 thread, once on N threads (default 4); prints each metric that differs\n"
        "       and exits 1 if any does (a strategy keeping state in globals does). For a\n"
        "       .py file NAME is the class. Without --data it uses a synthetic market of\n"
        "       8 symbols x 1500 daily bars (bt data synth) in a temporary folder.\n"
        "new    writes DIR/NAME/NAME.c and a Makefile that builds NAME.so with\n"
        "       `pkg-config --cflags backtester` (install with `cmake --install build`).\n"
        "\n"
        "examples:\n"
        "  bt strategy check ./build/strategies/my_strategy.so streak_reversal\n"
        "  bt strategy check python/examples/sma_cross.py SmaCross --data bars.h5\n"
        "  bt strategy new mean_revert --dir ~/strategies && make -C ~/strategies/mean_revert\n");
}

/* ---- check ---- */

static int s_compare(const bt_metrics_t *a, const bt_metrics_t *b, const char *what)
{
    int diffs = 0;
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        double x = bt_metrics_get(a, i), y = bt_metrics_get(b, i);
        if (memcmp(&x, &y, sizeof x) != 0) {
            if (diffs == 0)
                printf("DIFFERENT: %s\n", what);
            printf("  %-22s %.17g vs %.17g\n", bt_metrics_name(i), x, y);
            diffs++;
        }
    }
    if (diffs == 0)
        printf("same: %s\n", what);
    return diffs;
}

static bt_err_t s_run(const bt_config_t *cfg, const bt_dataset_t *ds, int threads, bt_metrics_t *m,
                      bt_errbuf_t *eb)
{
    bt_engine_t *eng = bt_engine_new();
    if (!eng)
        return bt_errf(eb, BT_ENOMEM, "out of memory");
    bt_run_spec_t spec = {
        .series = ds->series,
        .nsym = ds->nsym,
        .strategy = bt_config_strategy(cfg),
        .params = bt_config_params(cfg),
        .cfg = bt_config_engine(cfg),
        .threads = threads,
    };
    bt_err_t rc = bt_engine_run(eng, &spec, m, eb);
    if (rc == BT_OK)
        rc = bt_pystrat_take_error(spec.strategy, eb);
    bt_engine_destroy(&eng);
    return rc;
}

static int s_check(int argc, char **argv)
{
    const char *lib = NULL, *name = NULL, *data = NULL;
    const char *sets[64];
    size_t nsets = 0;
    long threads = 4;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--data") == 0 || strcmp(a, "--threads") == 0 || strcmp(a, "--set") == 0) &&
            i + 1 >= argc) {
            fprintf(stderr, "bt strategy check: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--data") == 0) {
            data = argv[++i];
        } else if (strcmp(a, "--threads") == 0) {
            char *end = NULL;
            threads = strtol(argv[++i], &end, 10);
            if (!end || *end || threads < 2 || threads > 1024) {
                fprintf(stderr, "bt strategy check: --threads %s: expected 2..1024\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--set") == 0) {
            if (nsets == 64) {
                fprintf(stderr, "bt strategy check: too many --set options\n");
                return 2;
            }
            sets[nsets++] = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "bt strategy check: unknown option '%s'\n", a);
            return 2;
        } else if (!lib) {
            lib = a;
        } else if (!name) {
            name = a;
        } else {
            fprintf(stderr, "bt strategy check: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!lib || !name) {
        s_usage(stderr);
        return 2;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    char tmpdir[] = "/tmp/bt-check-XXXXXX";
    char store[sizeof tmpdir + 16];
    bool made = false;
    if (!data) {
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "bt strategy check: cannot create a temporary folder\n");
            return 1;
        }
        made = true;
        snprintf(store, sizeof store, "%s/synth.h5", tmpdir);
        bt_synth_opts_t o;
        bt_synth_opts_defaults(&o);
        o.nsym = 8;
        o.nbars = 1500;
        if (bt_synth_write(store, &o, true, false, &eb) != BT_OK) {
            fprintf(stderr, "bt strategy check: %s\n", eb.msg);
            rmdir(tmpdir);
            return 1;
        }
        data = store;
    }
    size_t n = strlen(lib);
    bool py = n > 3 && strcmp(lib + n - 3, ".py") == 0;
    char yaml[9000];
    snprintf(yaml, sizeof yaml, "strategy: %s\n%s: \"%s\"\ndata: {store: \"%s\"}\n", name,
             py ? "strategy_python" : "strategy_library", lib, data);
    int rc = 2;
    bt_dataset_t *ds = NULL;
    bt_config_t *cfg =
        bt_config_load_string_lib(yaml, "bt strategy check", sets, nsets, bt_strategy_table(),
                                  bt_strategy_count(), bt_strategy_load, &eb);
    if (!cfg) {
        fprintf(stderr, "bt strategy check: %s\n", eb.msg);
        goto done;
    }
    size_t ns = 0;
    const char *const *syms = bt_config_symbols(cfg, &ns);
    if (!(ds = bt_dataset_load(data, syms, ns, &eb))) {
        fprintf(stderr, "bt strategy check: %s\n", eb.msg);
        goto done;
    }
    rc = 1;
    bt_metrics_t m[3];
    const int th[3] = {1, 1, (int)threads};
    for (int k = 0; k < 3; k++) {
        if (s_run(cfg, ds, th[k], &m[k], &eb) != BT_OK) {
            fprintf(stderr, "bt strategy check: run %d failed: %s\n", k + 1, eb.msg);
            goto done;
        }
    }
    printf("strategy %s (%s) on %zu symbol(s) of %s: final equity %.17g\n", name, lib, ds->nsym,
           made ? "a synthetic market" : data, m[0].final_equity);
    int d = s_compare(&m[0], &m[1], "run 1 vs run 2 (same process, 1 thread each)");
    char what[96];
    snprintf(what, sizeof what, "1 thread vs %ld threads", threads);
    d += s_compare(&m[0], &m[2], what);
    if (d) {
        printf("FAILED: the same backtest gave different results; the strategy keeps state "
               "outside its state block (globals, statics) or depends on thread timing. Keep "
               "everything in the state the engine passes to init/on_bar.\n");
        rc = 1;
    } else {
        printf("OK: identical results in one process and at 1 and %ld threads\n", threads);
        rc = 0;
    }
    if (bt_pystrat_is(bt_config_strategy(cfg)))
        printf("(a Python strategy always runs on one thread; its check covers repeat runs)\n");
done:
    bt_dataset_destroy(&ds);
    bt_config_destroy(&cfg);
    if (made) {
        unlink(store);
        rmdir(tmpdir);
    }
    return rc;
}

/* ---- new ---- */

static const char s_skel_c[] =
    "/* @N@ — a user strategy (bt strategy new). Build: make; use it with\n"
    " *   strategy: @N@\n"
    " *   strategy_library: ./@N@.so\n"
    " * Check it keeps no global state: bt strategy check ./@N@.so @N@\n"
    " * Everything the strategy remembers lives in s_state_t (zeroed by the\n"
    " * engine, one per symbol sleeve); nothing in on_bar allocates or logs. */\n"
    "#include <bt_ind.h>\n"
    "#include <bt_strategy.h>\n"
    "\n"
    "enum { P_WINDOW, P_COUNT };\n"
    "\n"
    "static const bt_param_spec_t s_params[P_COUNT] = {\n"
    "    [P_WINDOW] = {\"window\", BT_PARAM_INT, 20, 2, 1000, \"SMA window, in bars\"},\n"
    "};\n"
    "\n"
    "typedef struct {\n"
    "    bt_ind_t sma;  /* SMA of the close (state follows this struct) */\n"
    "    double target; /* last target signalled */\n"
    "} s_state_t;\n"
    "\n"
    "static size_t s_state_size(const double *p, size_t nsym)\n"
    "{\n"
    "    (void)nsym;\n"
    "    double ip[BT_IND_MAX_PARAMS] = {p[P_WINDOW]};\n"
    "    return sizeof(s_state_t) + bt_ind_state_size(bt_ind_find(\"sma\"), ip);\n"
    "}\n"
    "\n"
    "static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)\n"
    "{\n"
    "    (void)nsym;\n"
    "    s_state_t *st = state;\n"
    "    const bt_ind_kind_t *k = bt_ind_find(\"sma\");\n"
    "    double ip[BT_IND_MAX_PARAMS];\n"
    "    bt_err_t rc = bt_ind_params(k, &p[P_WINDOW], 1, ip, eb);\n"
    "    if (rc != BT_OK)\n"
    "        return rc;\n"
    "    return bt_ind_open(&st->sma, k, ip, BT_SRC_CLOSE, st + 1, eb);\n"
    "}\n"
    "\n"
    "static void s_on_bar(void *state, bt_ctx_t *ctx)\n"
    "{\n"
    "    s_state_t *st = state;\n"
    "    if (ctx->has_bar && !ctx->has_bar[0])\n"
    "        return;\n"
    "    if (!bt_ind_update(&st->sma, &ctx->bar[0], 0.0))\n"
    "        return;\n"
    "    double want = ctx->bar[0].close > st->sma.out[0] ? 1.0 : 0.0;\n"
    "    if (want != st->target) {\n"
    "        st->target = want;\n"
    "        bt_signal(ctx, 0, want);\n"
    "    }\n"
    "}\n"
    "\n"
    "static const bt_strategy_t s_strategy = {\n"
    "    .name = \"@N@\",\n"
    "    .summary = \"long above the SMA of the close, flat below (edit me)\",\n"
    "    .kind = BT_STRAT_SINGLE,\n"
    "    .params = s_params,\n"
    "    .nparams = P_COUNT,\n"
    "    .state_size = s_state_size,\n"
    "    .init = s_init,\n"
    "    .on_bar = s_on_bar,\n"
    "    .on_fill = NULL,\n"
    "};\n"
    "\n"
    "int bt_strategy_abi(void);\n"
    "const bt_strategy_t *bt_strategy_entry(void);\n"
    "int bt_strategy_abi(void) { return BT_STRATEGY_ABI; }\n"
    "const bt_strategy_t *bt_strategy_entry(void) { return &s_strategy; }\n";

static const char s_skel_mk[] =
    "# Builds @N@.so against the installed strategy API (pkg-config backtester).\n"
    "CFLAGS ?= -O2 -Wall -Wextra\n"
    "BT_CFLAGS := -std=c17 -fPIC $(shell pkg-config --cflags backtester)\n"
    "\n"
    "@N@.so: @N@.c\n"
    "\t$(CC) $(BT_CFLAGS) $(CFLAGS) -shared -o $@ $<\n"
    "\n"
    "check: @N@.so\n"
    "\tbt strategy check ./@N@.so @N@\n"
    "\n"
    "clean:\n"
    "\trm -f @N@.so\n"
    "\n"
    ".PHONY: check clean\n";

static bool s_snake(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Writes template tpl to path (which must not exist) with @N@ -> name. */
static int s_write(const char *path, const char *tpl, const char *name)
{
    FILE *f = fopen(path, "wx");
    if (!f) {
        fprintf(stderr, "bt strategy new: cannot create %s (it may exist already)\n", path);
        return -1;
    }
    for (const char *p = tpl; *p;) {
        const char *at = strstr(p, "@N@");
        size_t n = at ? (size_t)(at - p) : strlen(p);
        fwrite(p, 1, n, f);
        p += n;
        if (at) {
            fputs(name, f);
            p += 3;
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int s_new(int argc, char **argv)
{
    const char *name = NULL, *dir = ".";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "bt strategy new: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!name)
            name = argv[i];
        else {
            fprintf(stderr, "bt strategy new: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        s_usage(stderr);
        return 2;
    }
    if (!s_snake(name) || strlen(name) > 64) {
        fprintf(stderr,
                "bt strategy new: '%s' is not a strategy name: use snake_case "
                "(a-z, 0-9, _), at most 64 characters, e.g. mean_revert\n",
                name);
        return 2;
    }
    char folder[4200], path[4400];
    snprintf(folder, sizeof folder, "%s/%s", dir, name);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (bt_fs_mkdir_p(folder, &eb) != BT_OK) {
        fprintf(stderr, "bt strategy new: %s\n", eb.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s.c", folder, name);
    if (s_write(path, s_skel_c, name) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/Makefile", folder);
    if (s_write(path, s_skel_mk, name) != 0)
        return 1;
    printf("wrote %s/%s.c and %s/Makefile\nbuild: make -C %s (needs `pkg-config backtester`: "
           "cmake --install build)\n",
           folder, name, folder, folder);
    return 0;
}

int bt_cmd_strategy(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++) /* `bt strategy check --help` too */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
    if (strcmp(argv[1], "check") == 0)
        return s_check(argc - 2, argv + 2);
    if (strcmp(argv[1], "new") == 0)
        return s_new(argc - 2, argv + 2);
    fprintf(stderr, "bt strategy: unknown subcommand '%s' (check, new)\n", argv[1]);
    return 2;
}
