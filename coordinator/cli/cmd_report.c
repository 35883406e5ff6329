/* bt report DIR — (re)builds DIR/report.html from an output folder of bt run
 * or bt sweep (docs/reports.md). */
#include <stdio.h>
#include <string.h>

#include "bt_cmd.h"
#include "bt_err.h"
#include "bt_html.h"
#include "bt_html_run.h"
#include "bt_html_sweep.h"

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: bt report DIR\n"
            "\n"
            "Writes DIR/report.html, one self-contained page with charts (Chart.js from\n"
            "Debian's libjs-chart.js, inlined), from the files already in DIR:\n"
            "  a bt run folder (metrics.json, equity.csv or run.h5, trades.csv): equity vs\n"
            "    buy-and-hold, underwater, prices with trades, monthly returns, rolling\n"
            "    Sharpe and volatility, trade returns, metrics and provenance;\n"
            "  a bt sweep folder (results.csv, ranking.csv, summary.txt): heatmaps of the\n"
            "    ranking metric per pair of axes, sensitivity per axis, Sharpe of all trials\n"
            "    vs zero skill, PBO, top rows, the top points' equity; walk-forward files\n"
            "    when present. bt run and bt sweep write it themselves; this rebuilds it.\n"
            "\n"
            "exit status: 0 written, 1 it could not be written, 2 bad usage (DIR is not an\n"
            "output folder)\n"
            "\n"
            "example:\n"
            "  bt report out/sweep && chromium out/sweep/report.html\n");
}

int bt_cmd_report(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_help(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bt report: unknown option '%s'; see 'bt report --help'\n", argv[i]);
            return 2;
        } else if (dir) {
            fprintf(stderr, "bt report: one folder only (got '%s' and '%s')\n", dir, argv[i]);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        s_help(stderr);
        return 2;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t e;
    if (bt_html_exists(dir, "results.csv")) {
        e = bt_html_sweep_write(dir, &eb);
    } else if (bt_html_exists(dir, "metrics.json")) {
        e = bt_html_run_rebuild(dir, &eb);
    } else {
        fprintf(stderr,
                "bt report: %s holds neither results.csv (a bt sweep folder) nor metrics.json "
                "(a bt run folder)\n",
                dir);
        return 2;
    }
    if (e != BT_OK) {
        fprintf(stderr, "bt report: %s\n", eb.msg[0] ? eb.msg : bt_strerror(e));
        return 1;
    }
    printf("report: %s/report.html\n", dir);
    return 0;
}
