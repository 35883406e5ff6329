/* cmd_strategies — `bt strategies`: the built-in strategies, their kind,
 * summary and parameter schema; one of them by name; or a user strategy
 * loaded from a shared library. */
#include <stdio.h>
#include <string.h>

#include "bt_cmd.h"
#include "bt_registry.h"

static void s_usage(FILE *out)
{
    fprintf(out, "usage: bt strategies [NAME] [--load PATH.so|FILE.py] [--names]\n"
                 "\n"
                 "Lists the built-in strategies with their kind, summary and parameters\n"
                 "(name, type, default, min, max, help). With NAME, shows that one.\n"
                 "\n"
                 "  NAME            show only this strategy\n"
                 "  --load PATH.so  show a user strategy built as a shared library\n"
                 "                  (see strategies/README.md)\n"
                 "  --load FILE.py  with NAME = its class: show a Python strategy\n"
                 "                  (see docs/python.md)\n"
                 "  --names         print the names only, one per line\n"
                 "  -h, --help      this help\n"
                 "\n"
                 "SINGLE strategies trade each symbol in its own sleeve; PORTFOLIO strategies\n"
                 "see all symbols in one book. Parameters are set in a config's `params:` and\n"
                 "can be sweep axes.\n"
                 "\n"
                 "examples:\n"
                 "  bt strategies\n"
                 "  bt strategies sma_cross\n"
                 "  bt strategies --load ./build/strategies/my_strategy.so\n");
}

static const char *s_kind(bt_strat_kind_t k)
{
    return k == BT_STRAT_PORTFOLIO ? "portfolio" : "single";
}

static int s_width(const char *s, int w)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static void s_show(FILE *out, const bt_strategy_t *s)
{
    fprintf(out, "%s (%s)\n  %s\n", s->name, s_kind(s->kind), s->summary);
    if (s->nparams == 0) {
        fprintf(out, "  parameters: none\n");
        return;
    }
    char num[3][BT_MAX_PARAMS][32];
    int wn = s_width("param", 0), wd = s_width("default", 0), wl = s_width("min", 0),
        wh = s_width("max", 0);
    for (size_t i = 0; i < s->nparams; i++) {
        const bt_param_spec_t *p = &s->params[i];
        snprintf(num[0][i], sizeof num[0][i], "%g", p->def);
        snprintf(num[1][i], sizeof num[1][i], "%g", p->min);
        snprintf(num[2][i], sizeof num[2][i], "%g", p->max);
        wn = s_width(p->name, wn);
        wd = s_width(num[0][i], wd);
        wl = s_width(num[1][i], wl);
        wh = s_width(num[2][i], wh);
    }
    fprintf(out, "  %-*s  %-4s  %*s  %*s  %*s  %s\n", wn, "param", "type", wd, "default", wl, "min",
            wh, "max", "help");
    for (size_t i = 0; i < s->nparams; i++) {
        const bt_param_spec_t *p = &s->params[i];
        fprintf(out, "  %-*s  %-4s  %*s  %*s  %*s  %s\n", wn, p->name,
                p->type == BT_PARAM_INT ? "int" : "real", wd, num[0][i], wl, num[1][i], wh,
                num[2][i], p->help);
    }
}

/* One strategy: its name, or its whole schema. Returns exit status 0. */
static int s_print_one(const bt_strategy_t *s, bool names_only)
{
    if (names_only)
        printf("%s\n", s->name);
    else
        s_show(stdout, s);
    return 0;
}

int bt_cmd_strategies(int argc, char **argv)
{
    const char *name = NULL, *load = NULL;
    int names_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--names") == 0) {
            names_only = 1;
        } else if (strcmp(argv[i], "--load") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "bt strategies: --load needs the path of a .so file\n");
                return 2;
            }
            load = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bt strategies: unknown option '%s'; see 'bt strategies --help'\n",
                    argv[i]);
            return 2;
        } else if (name == NULL) {
            name = argv[i];
        } else {
            fprintf(stderr, "bt strategies: give at most one strategy name ('%s' and '%s')\n", name,
                    argv[i]);
            return 2;
        }
    }
    if (load) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        /* a .py file: NAME is the class (loaded as "python:CLASS:PATH", bt_pystrat.h) */
        size_t ll = strlen(load);
        char spec[4200];
        if (ll > 3 && strcmp(load + ll - 3, ".py") == 0) {
            if (!name) {
                fprintf(stderr, "bt strategies: --load %s needs the class name: "
                                "bt strategies CLASS --load %s\n", load, load);
                return 2;
            }
            snprintf(spec, sizeof spec, "python:%s:%s", name, load);
            load = spec;
        }
        const bt_strategy_t *s = bt_strategy_load(load, &eb);
        if (s == NULL) {
            fprintf(stderr, "bt strategies: %s\n", eb.msg);
            return 1;
        }
        return s_print_one(s, names_only);
    }
    if (name) {
        const bt_strategy_t *s = bt_strategy_find(name);
        if (s == NULL) {
            fprintf(stderr, "bt strategies: no built-in strategy '%s'; the built-ins are:", name);
            for (size_t i = 0; i < bt_strategy_count(); i++)
                fprintf(stderr, "%s %s", i ? "," : "", bt_strategy_at(i)->name);
            fprintf(stderr, " (a user strategy is shown with --load PATH.so)\n");
            return 2;
        }
        return s_print_one(s, names_only);
    }
    for (size_t i = 0; i < bt_strategy_count(); i++) {
        const bt_strategy_t *s = bt_strategy_at(i);
        if (names_only) {
            printf("%s\n", s->name);
            continue;
        }
        if (i > 0)
            printf("\n");
        s_show(stdout, s);
    }
    if (!names_only)
        printf("\n'bt strategies NAME' shows one; 'bt strategies --help' explains more.\n");
    return 0;
}
