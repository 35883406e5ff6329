/* bt — the Back Tester command line: data commands, single runs, sweeps. */
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "bt_cmd.h"
#include "bt_memtune.h"

typedef struct {
    const char *group; /* "data" or NULL for a top-level command */
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} s_command_t;

static const s_command_t s_commands[] = {
    {"data", "import", bt_cmd_data_import, "import CSV files into an HDF5 bar store"},
    {"data", "info", bt_cmd_data_info, "list symbols, rows, time range, frequency, gaps"},
    {"data", "export", bt_cmd_data_export, "write one symbol back to CSV"},
    {"data", "resample", bt_cmd_data_resample, "coarser bars: minutes to hours, days, weeks"},
    {"data", "synth", bt_cmd_data_synth, "write a seeded synthetic market"},
    {"data", "fetch", bt_cmd_data_fetch, "download bars from a REST provider (yahoo, binance)"},
    {NULL, "run", bt_cmd_run, "run one backtest from a config"},
    {NULL, "paper", bt_cmd_paper, "paper-trade a config on live bars (REST or Redis)"},
    {NULL, "sweep", bt_cmd_sweep, "run a parameter sweep on local or remote workers"},
    {NULL, "strategies", bt_cmd_strategies, "list built-in strategies and their parameters"},
    {NULL, "indicators", bt_cmd_indicators, "list indicator kinds, their parameters and outputs"},
    {NULL, "strategy", bt_cmd_strategy, "check a user strategy for shared state; write a skeleton"},
    {NULL, "status", bt_cmd_status, "show a sweep's progress and whether it still runs"},
    {NULL, "keygen", bt_cmd_keygen, "write a CurveZMQ key pair for cluster traffic"},
    {NULL, "report", bt_cmd_report, "(re)build report.html of a run or sweep folder"},
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

static void s_usage(FILE *out)
{
    fprintf(out, "usage: bt COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < S_NCOMMANDS; i++) {
        char full[32];
        snprintf(full, sizeof full, "%s%s%s", s_commands[i].group ? s_commands[i].group : "",
                 s_commands[i].group ? " " : "", s_commands[i].name);
        fprintf(out, "  %-14s %s\n", full, s_commands[i].help);
    }
    fprintf(out, "\nexamples:\n"
                 "  bt data synth --out demo.h5 --symbols 4 --bars 2520\n"
                 "  bt data info demo.h5\n"
                 "  bt run configs/sma_cross.yaml --out out/run\n"
                 "  bt keygen keys --name coordinator\n"
                 "\n'bt COMMAND --help' explains each command. 'bt --version' prints the version.\n");
}

int main(int argc, char **argv)
{
    /* Every HDF5 file is closed explicitly; after a failed close (a full disk)
     * HDF5 1.10's own clean-up at exit touches the half-closed file and
     * crashes, turning a clear error into a segfault. */
    H5dont_atexit();
    /* bt sweep runs itself again with the malloc settings, before it prints or starts
     * anything; its local workers inherit them (docs/sweep.md "Memory") */
    if (argc >= 2 && strcmp(argv[1], "sweep") == 0)
        bt_memtune_exec(argv); /* returns only when not wanted or it fails */
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("bt %s\n", BT_VERSION);
        return 0;
    }
    int grouped = strcmp(argv[1], "data") == 0;
    if (grouped && argc < 3) {
        fprintf(stderr, "bt data: missing subcommand (import, info, export, resample, synth)\n");
        return 2;
    }
    const char *name = grouped ? argv[2] : argv[1];
    for (size_t i = 0; i < S_NCOMMANDS; i++) {
        if ((s_commands[i].group != NULL) == grouped && strcmp(s_commands[i].name, name) == 0)
            return s_commands[i].fn(argc - 1 - grouped, argv + 1 + grouped);
    }
    fprintf(stderr, "bt: unknown command '%s%s'; see 'bt --help'\n", grouped ? "data " : "", name);
    return 2;
}
