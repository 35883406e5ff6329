/* bt_local restarts a local worker that died with the same command line,
 * even when the caller's buffers for the paths are gone (the driver starts
 * local workers from a stack frame that returns before the sweep: session 6
 * found restarts exec'ing freed memory and exiting 127). The "worker" here is
 * a shell script that records its pid and arguments, then sleeps. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bt_local.h"
#include "bt_proc.h"

TestSuite(local_restart, .fini = bt_proc_kill_all, .timeout = 60);

Test(local_restart, restart_uses_the_same_command_line)
{
    char dir[256], script[320], args[320];
    cr_assert(bt_proc_tmpdir(dir, sizeof dir, "local-restart"));
    snprintf(script, sizeof script, "%s/fake-worker", dir);
    snprintf(args, sizeof args, "%s/args.txt", dir);
    FILE *f = fopen(script, "w");
    cr_assert(f);
    fprintf(f, "#!/bin/sh\necho \"$$ $0 $*\" >> '%s'\nexec sleep 30\n", args);
    fclose(f);
    cr_assert_eq(chmod(script, 0755), 0);

    /* The caller's buffers, overwritten once bt_local_start returns. */
    char bin[320], ep[64], data[320];
    snprintf(bin, sizeof bin, "%s", script);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:5999");
    snprintf(data, sizeof data, "%s/bars.h5", dir);
    bt_local_opts_t o = {.worker_bin = bin, .endpoint = ep, .count = 1, .threads = 1,
                         .quiet = true, .data_path = data};
    bt_local_t *l = bt_local_start(&o);
    cr_assert(l);
    memset(bin, 'x', sizeof bin - 1), bin[sizeof bin - 1] = '\0';
    memset(ep, 'y', sizeof ep - 1), ep[sizeof ep - 1] = '\0';
    memset(data, 'z', sizeof data - 1), data[sizeof data - 1] = '\0';

    int64_t deadline = bt_proc_now_ms() + 20000;
    while (bt_proc_count_lines(args) < 1) {
        cr_assert(bt_proc_now_ms() < deadline, "the worker never started");
        bt_proc_nap();
    }
    char *text = bt_proc_slurp(args, NULL);
    cr_assert(text);
    long pid = strtol(text, NULL, 10);
    free(text);
    cr_assert(pid > 1);
    cr_assert_eq(kill((pid_t)pid, SIGKILL), 0);
    while (bt_proc_count_lines(args) < 2) { /* reaped, then restarted */
        cr_assert(bt_proc_now_ms() < deadline, "the worker was not restarted (see %s)", args);
        bt_local_reap(l);
        bt_proc_nap();
    }
    text = bt_proc_slurp(args, NULL);
    cr_assert(text);
    char *second = strchr(text, '\n');
    cr_assert(second);
    second++;
    char want[800];
    snprintf(want, sizeof want, "%s --connect tcp://127.0.0.1:5999 --threads 1", script);
    cr_assert(strstr(second, want), "restart ran: %s", second);
    snprintf(want, sizeof want, "--data %s/bars.h5", dir);
    cr_assert(strstr(second, want), "restart ran: %s", second);
    free(text);
    bt_local_stop(&l);
    cr_assert_null(l);
}
