/* bt_sweep_args — the options of `bt sweep` and the command that continues
 * an interrupted sweep the same way ("continue with: ..."). */
#ifndef BT_SWEEP_ARGS_H
#define BT_SWEEP_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bt_driver.h"

typedef struct bt_sweep_args {
    const char *config_path;
    const char *resume_dir; /* --resume DIR (then run.out_dir is DIR too) */
    unsigned given;         /* BT_SWEEP_GIVEN_* bits: options given on the command line */
    bt_driver_opts_t run;   /* how the sweep runs (defaults filled in) */
} bt_sweep_args_t;

enum {
    BT_SWEEP_GIVEN_THREADS = 1u << 0,
    BT_SWEEP_GIVEN_LEASE = 1u << 1,
    BT_SWEEP_GIVEN_HEARTBEAT = 1u << 2,
    BT_SWEEP_GIVEN_ATTEMPTS = 1u << 3,
    BT_SWEEP_GIVEN_IDLE = 1u << 4,
    BT_SWEEP_GIVEN_JOB_TIMEOUT = 1u << 5,
};

/* Parses argv (argv[0] is "sweep"). Returns 0, 1 for --help (usage printed
 * by the caller, exit 0), or 2 for a usage error (message on stderr). */
int bt_sweep_args_parse(int argc, char **argv, bt_sweep_args_t *a);

/* Writes the command that resumes the sweep with every option that decides
 * how it runs (--set in order, --bind, --workers, --threads, --lease-ms,
 * --heartbeat-ms, --max-attempts, --allow-huge, --no-fast), each value quoted for a
 * POSIX shell, and a newline. prog is what starts bt ("bt"). */
void bt_sweep_args_hint(FILE *f, const char *prog, const bt_sweep_args_t *a);

/* Writes s quoted for a POSIX shell: as is when it holds only safe
 * characters, else in single quotes ('\'' for a quote). */
void bt_sweep_args_quote(FILE *f, const char *s);

#endif
