/* `bt-worker --no-fast`: a worker started by hand takes the per-point path
 * (its exit line says "grid fast path: 0 of N job(s)") and its results are
 * byte-identical to a local sweep on the fast path; without the flag the same
 * hand-started worker takes the fast path. */
#include <stdlib.h>
#include <string.h>

#include "sweep_fixture.h"

/* Runs the fixture's sweep on a coordinator with --workers 0 and one
 * bt-worker started with extra (NULL or one flag); waits for both to end.
 * Returns the worker's log text (caller frees). */
static char *s_remote_sweep(const sfx_t *f, const char *out, const char *name, char *extra)
{
    char ep[256];
    pid_t coord = sfx_start_coord(f, out, "tcp://127.0.0.1:0", false, ep, sizeof ep);
    char log[340];
    snprintf(log, sizeof log, "%s/%s.log", f->dir, name);
    char *argv[] = {(char *)f->worker, "--connect", ep, "--threads", "1", "--name", (char *)name,
                    "--idle-exit", "2", "--backoff-max-ms", "500", extra, NULL};
    pid_t w = bt_proc_spawn(argv, log);
    cr_assert(w > 0);
    cr_assert_eq(bt_proc_wait(coord, 120000), 0, "the coordinator failed (see %s/%s.log)", f->dir,
                 out);
    int wrc = bt_proc_wait(w, 60000);
    cr_assert(wrc == 0, "bt-worker %s ended with %d (see %s)", name, wrc, log);
    char *text = bt_proc_slurp(log, NULL);
    cr_assert(text, "no log %s", log);
    return text;
}

Test(worker_nofast, flag_selects_the_per_point_path_with_the_same_results, .timeout = 300)
{
    sfx_t f;
    sfx_setup(&f, "worker-nofast");
    unsetenv("BT_FAST");
    cr_assert_eq(sfx_sweep_local(&f, "local", 1), 0, "local sweep failed (see %s/local.log)",
                 f.dir);

    char *slow = s_remote_sweep(&f, "slow", "w-slow", "--no-fast");
    char want[64];
    snprintf(want, sizeof want, "grid fast path: 0 of %d job(s)", SFX_NJOBS);
    cr_assert(strstr(slow, want), "bt-worker --no-fast did not take the per-point path:\n%s",
              slow);
    free(slow);
    sfx_assert_same_report(&f, "local", "slow");

    /* Control: the same hand-started worker without the flag is on the fast
     * path, so the check above can fail. */
    char *fast = s_remote_sweep(&f, "fast", "w-fast", NULL);
    cr_assert(strstr(fast, "grid fast path: ") && !strstr(fast, "grid fast path: 0 of"),
              "bt-worker without --no-fast did not take the fast path:\n%s", fast);
    free(fast);
    sfx_assert_same_report(&f, "local", "fast");
}

/* The flag is listed in --help and an unknown one is still refused. */
Test(worker_nofast, help_lists_the_flag)
{
    sfx_t f;
    sfx_setup(&f, "worker-nofast-help");
    char log[340];
    sfx_path(log, sizeof log, &f, "help.log");
    char *argv[] = {f.worker, "--help", NULL};
    cr_assert_eq(bt_proc_run(argv, log, 30000), 0);
    cr_assert(sfx_log_has(&f, "help", "--no-fast"), "bt-worker --help does not list --no-fast");
}
