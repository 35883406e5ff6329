/* cmd_indicators — `bt indicators`: the indicator kinds of bt_ind (name,
 * input, summary, parameters with default and bounds, outputs). */
#include <stdio.h>
#include <string.h>

#include "bt_cmd.h"
#include "bt_ind.h"

static void s_usage(FILE *out)
{
    fprintf(out, "usage: bt indicators [NAME] [--names]\n"
                 "\n"
                 "Lists the indicator kinds with their input (one source series, the whole\n"
                 "bar, or a pair of series), summary, parameters (name, type, default, min,\n"
                 "max, help) and outputs (the first is the main one). With NAME, shows that\n"
                 "one. Definitions and seeding: docs/indicators.md.\n"
                 "\n"
                 "  NAME        show only this kind\n"
                 "  --names     print the names only, one per line\n"
                 "  -h, --help  this help\n"
                 "\n"
                 "examples:\n"
                 "  bt indicators\n"
                 "  bt indicators macd\n");
}

static const char *s_input(bt_ind_input_t in)
{
    return in == BT_IND_IN_BAR ? "bar" : in == BT_IND_IN_PAIR ? "pair" : "source";
}

static void s_show(const bt_ind_kind_t *k)
{
    printf("%s (%s)\n  %s\n", k->name, s_input(k->input), k->summary);
    for (size_t i = 0; i < k->nparams; i++) {
        const bt_param_spec_t *p = &k->params[i];
        printf("  param  %-8s %-4s default %-6g [%g, %g]  %s\n", p->name,
               p->type == BT_PARAM_INT ? "int" : "real", p->def, p->min, p->max, p->help);
    }
    if (k->nparams == 0)
        printf("  params none\n");
    printf("  outputs");
    for (size_t j = 0; j < k->nout; j++)
        printf(" %s", k->outs[j]);
    printf("\n");
}

int bt_cmd_indicators(int argc, char **argv)
{
    const char *name = NULL;
    int names_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--names") == 0) {
            names_only = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bt indicators: unknown option '%s'; see 'bt indicators --help'\n",
                    argv[i]);
            return 2;
        } else if (name == NULL) {
            name = argv[i];
        } else {
            fprintf(stderr, "bt indicators: give at most one name ('%s' and '%s')\n", name,
                    argv[i]);
            return 2;
        }
    }
    if (name) {
        const bt_ind_kind_t *k = bt_ind_find(name);
        if (k == NULL) {
            fprintf(stderr, "bt indicators: no indicator '%s'; the kinds are:", name);
            for (size_t i = 0; i < bt_ind_count(); i++)
                fprintf(stderr, "%s %s", i ? "," : "", bt_ind_at(i)->name);
            fprintf(stderr, "\n");
            return 2;
        }
        if (names_only)
            printf("%s\n", k->name);
        else
            s_show(k);
        return 0;
    }
    for (size_t i = 0; i < bt_ind_count(); i++) {
        if (names_only) {
            printf("%s\n", bt_ind_at(i)->name);
            continue;
        }
        if (i > 0)
            printf("\n");
        s_show(bt_ind_at(i));
    }
    return 0;
}
