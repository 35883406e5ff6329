/* What a worker may open, with real processes (brief E, issue 9):
 * - --data PATH: a copy of the store at any path runs the sweep, and the
 *   report equals a local run's; a store with other bars is refused naming
 *   both data hashes;
 * - a FIFO given as the store is refused at once (it never blocks);
 * - a strategy library named in the coordinator's YAML is never opened by a
 *   remote worker: only --strategy-lib PATH on its own command line is, and
 *   that worker runs the sweep from another working directory. */
#include <stdlib.h>
#include <sys/stat.h>

#include "sweep_fixture.h"

#define S_SO BT_BIN_DIR "/strategies/my_strategy.so"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "ship");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(ship, .init = s_setup, .fini = s_teardown, .timeout = 180);

/* Starts bt-worker --connect ep --name name plus the extra arguments. */
static pid_t s_worker(const char *ep, const char *name, char *const extra[], size_t nextra)
{
    char log[340];
    snprintf(log, sizeof log, "%s/%s.log", f.dir, name);
    char *argv[32] = {f.worker,     "--connect",   (char *)ep, "--threads",        "1",  "--name",
                      (char *)name, "--idle-exit", "60",       "--backoff-max-ms", "500"};
    size_t k = 11;
    for (size_t i = 0; i < nextra && k < 31; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    pid_t pid = bt_proc_spawn(argv, log);
    cr_assert(pid > 0);
    return pid;
}

/* The "data hash: HEX" line of bt data info STORE. */
static void s_data_hash(const char *store, const char *tag, char hex[65])
{
    char log[340];
    snprintf(log, sizeof log, "%s/info-%s.log", f.dir, tag);
    char *argv[] = {f.bt, "data", "info", (char *)store, NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 0, "bt data info failed (see %s)", log);
    char *text = bt_proc_slurp(log, NULL);
    char *p = text ? strstr(text, "data hash: ") : NULL;
    cr_assert_not_null(p, "no data hash in %s", log);
    memcpy(hex, p + 11, 64);
    hex[64] = '\0';
    free(text);
}

Test(ship, data_flag_at_another_path_gives_the_same_report)
{
    cr_assert_eq(sfx_sweep_local(&f, "local", 1), 0, "local sweep failed");
    char copy[340], cmd[800];
    sfx_path(copy, sizeof copy, &f, "elsewhere-copy.h5");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", f.store, copy);
    cr_assert_eq(system(cmd), 0);
    char ep[128];
    pid_t coord = sfx_start_coord(&f, "remote", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    char *extra[] = {"--data", copy};
    s_worker(ep, "w-data", extra, 2);
    cr_assert_eq(bt_proc_wait(coord, 120000), 0, "remote sweep failed (see remote.log)");
    sfx_assert_same_report(&f, "local", "remote");
}

Test(ship, data_flag_with_other_bars_names_both_hashes)
{
    char other[340], log[340];
    sfx_path(other, sizeof other, &f, "other.h5");
    sfx_path(log, sizeof log, &f, "synth-other.log");
    char *synth[] = {f.bt, "data",   "synth", "--out",  other, "--symbols",
                     "2",  "--bars", "500",   "--seed", "8",   NULL};
    cr_assert_eq(bt_proc_run(synth, log, 60000), 0);
    char want[65], got[65];
    s_data_hash(f.store, "mine", want);
    s_data_hash(other, "other", got);
    cr_assert_str_neq(want, got);
    char ep[128];
    sfx_start_coord(&f, "wrong", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    char *extra[] = {"--data", other};
    pid_t w = s_worker(ep, "w-wrong", extra, 2);
    cr_assert_eq(bt_proc_wait(w, 60000), 1, "a worker with other bars must exit 1");
    cr_assert(sfx_log_has(&f, "w-wrong", want), "the worker's log names the coordinator's hash");
    cr_assert(sfx_log_has(&f, "w-wrong", got), "the worker's log names its own hash");
    cr_assert(sfx_log_has(&f, "w-wrong", "--data"), "the worker says what to do");
}

/* Session 6: a worker loads --data on a thread from its start-up; a store
 * that is not there still lets it connect, and the SWEEP that needs it gets
 * the error naming the path (exit 1), as before. */
Test(ship, missing_data_flag_store_is_said_when_the_sweep_needs_it)
{
    char nope[340];
    sfx_path(nope, sizeof nope, &f, "no-such-store.h5");
    char ep[128];
    sfx_start_coord(&f, "missing", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    char *extra[] = {"--data", nope};
    pid_t w = s_worker(ep, "w-missing", extra, 2);
    cr_assert_eq(bt_proc_wait(w, 60000), 1, "a worker without its store must exit 1");
    cr_assert(sfx_log_has(&f, "w-missing", "welcomed"), "it connected first");
    cr_assert(sfx_log_has(&f, "w-missing", "no-such-store.h5"), "the error names the path");
    cr_assert(sfx_log_has(&f, "missing", "cannot run this sweep"), "and the coordinator says so");
}

Test(ship, fifo_store_is_refused_not_opened)
{
    char fifo[340];
    sfx_path(fifo, sizeof fifo, &f, "store.fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char ep[128];
    sfx_start_coord(&f, "fifo", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    char *extra[] = {"--data", fifo};
    pid_t w = s_worker(ep, "w-fifo", extra, 2);
    /* Opening a FIFO for reading blocks until a writer comes: none will. */
    cr_assert_eq(bt_proc_wait(w, 60000), 1, "the worker must give up on a FIFO, not block");
    cr_assert(sfx_log_has(&f, "w-fifo", "is not a regular file (it is a FIFO)"));
}

/* A config naming strategy_library, at dir/lib.yaml. */
static void s_lib_config(char *cfg, size_t cap, const char *so)
{
    sfx_path(cfg, cap, &f, "lib.yaml");
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: streak_reversal\nstrategy_library: %s\ndata:\n  store: %s\n"
            "params: {down: 3, hold: 4}\nsweep:\n  params.down: [2, 3, 4]\n",
            so, f.store);
    fclose(c);
    snprintf(f.cfg, sizeof f.cfg, "%s", cfg);
}

Test(ship, library_path_from_the_coordinator_is_never_opened)
{
    char cfg[320];
    s_lib_config(cfg, sizeof cfg, S_SO);
    char ep[128];
    sfx_start_coord(&f, "lib-refused", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    char *extra[] = {"--data", f.store};
    pid_t w = s_worker(ep, "w-nolib", extra, 2);
    cr_assert_eq(bt_proc_wait(w, 60000), 1, "without --strategy-lib the worker must refuse");
    cr_assert(sfx_log_has(&f, "w-nolib", "never from a path the network names"));
    cr_assert(sfx_log_has(&f, "w-nolib", "--strategy-lib PATH"));
}

Test(ship, library_from_the_command_line_runs_in_another_cwd)
{
    char cfg[320], copy[340], cmd[900];
    sfx_path(copy, sizeof copy, &f, "mine.so");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", S_SO, copy);
    cr_assert_eq(system(cmd), 0);
    /* The coordinator's library is S_SO; the worker's is a copy elsewhere. */
    s_lib_config(cfg, sizeof cfg, S_SO);
    char ep[128];
    pid_t coord = sfx_start_coord(&f, "lib-ok", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    char wd[320];
    sfx_path(wd, sizeof wd, &f, "cwd");
    cr_assert_eq(mkdir(wd, 0700), 0);
    char here[4096];
    cr_assert(getcwd(here, sizeof here));
    cr_assert_eq(chdir(wd), 0); /* the child inherits it */
    char *extra[] = {"--data", f.store, "--strategy-lib", copy};
    s_worker(ep, "w-lib", extra, 4);
    cr_assert_eq(chdir(here), 0);
    cr_assert_eq(bt_proc_wait(coord, 120000), 0, "sweep with --strategy-lib failed");
    char p[400];
    snprintf(p, sizeof p, "%s/lib-ok/results.csv", f.dir);
    cr_assert_eq(bt_proc_count_lines(p), 1 + 3, "one row per params.down value");
}

Test(ship, fifo_store_in_the_config_is_refused_by_bt)
{
    char fifo[340], cfg[340];
    sfx_path(fifo, sizeof fifo, &f, "cfg.fifo");
    sfx_path(cfg, sizeof cfg, &f, "fifo.yaml");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    fprintf(c, "strategy: sma_cross\ndata:\n  store: %s\nsweep:\n  params.fast: [2, 3]\n", fifo);
    fclose(c);
    const char *cmds[] = {"run", "sweep"};
    for (int i = 0; i < 2; i++) {
        char out[340], log[360];
        snprintf(out, sizeof out, "%s/fifo-%s", f.dir, cmds[i]);
        snprintf(log, sizeof log, "%s.log", out);
        char *argv[] = {f.bt, (char *)cmds[i], cfg, "--out", out, "--workers", "1", NULL};
        if (i == 0)
            argv[4 + 1] = NULL; /* bt run has no --workers */
        cr_assert_eq(bt_proc_run(argv, log, 60000), 2, "bt %s must refuse a FIFO (see %s)",
                     cmds[i], log);
        char *text = bt_proc_slurp(log, NULL);
        cr_assert(text && strstr(text, "not a regular file"), "bt %s: %s", cmds[i], text);
        free(text);
    }
}
