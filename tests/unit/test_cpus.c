/* Unit tests for common/base/bt_cpus: SLURM_CPUS_PER_TASK wins when valid
 * and is refused loudly when not; otherwise the affinity mask decides, seen
 * from forked children pinned with sched_setaffinity. The reference count
 * for an unpinned process is coreutils' `nproc`, an independent reading of
 * the same mask. Criterion runs each test in its own process, so setenv
 * here does not leak into other tests. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bt_cpus.h"

Test(cpus, slurm_variable_wins)
{
    cr_assert_eq(setenv("SLURM_CPUS_PER_TASK", "3", 1), 0);
    int n = 0;
    const char *src = NULL;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_cpus_allowed(&n, &src, &eb), BT_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(src, "SLURM_CPUS_PER_TASK");
    cr_assert_eq(setenv("SLURM_CPUS_PER_TASK", "65536", 1), 0); /* BT_CPUS_MAX itself */
    cr_assert_eq(bt_cpus_allowed(&n, NULL, &eb), BT_OK);
    cr_assert_eq(n, 65536);
}

/* Values inline (not pointers): Criterion runs each case in another process. */
typedef struct {
    char v[24];
} s_bad_t;

ParameterizedTestParameters(cpus, slurm_garbage_is_an_error)
{
    static s_bad_t bad[] = {{"abc"}, {"0"},     {"-2"},
                            {"4x"},  {"+4"},    {" 4"},
                            {"2.5"}, {"65537"}, {"99999999999999999999"}};
    return cr_make_param_array(s_bad_t, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(s_bad_t *bad, cpus, slurm_garbage_is_an_error)
{
    const char *value = bad->v;
    cr_assert_eq(setenv("SLURM_CPUS_PER_TASK", value, 1), 0);
    int n = -7;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_cpus_allowed(&n, NULL, &eb), BT_ECONFIG, "'%s' accepted", value);
    cr_assert_eq(n, -7, "output written on error");
    char want[128];
    snprintf(want, sizeof want, "SLURM_CPUS_PER_TASK='%s'", value);
    cr_assert(strstr(eb.msg, want) != NULL, "message: %s", eb.msg);
    cr_assert(strstr(eb.msg, "--cpus-per-task") != NULL, "message: %s", eb.msg);
}

/* `nproc` with the OpenMP variables it would otherwise obey removed. */
static int s_nproc(void)
{
    FILE *p = popen("env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc", "r");
    cr_assert_not_null(p);
    int n = 0;
    cr_assert_eq(fscanf(p, "%d", &n), 1);
    cr_assert_eq(pclose(p), 0);
    return n;
}

Test(cpus, unset_or_empty_uses_the_affinity_mask)
{
    int want = s_nproc();
    cr_assert_gt(want, 0);
    int n = 0;
    const char *src = NULL;
    cr_assert_eq(unsetenv("SLURM_CPUS_PER_TASK"), 0);
    cr_assert_eq(bt_cpus_allowed(&n, &src, NULL), BT_OK);
    cr_assert_eq(n, want);
    cr_assert_str_eq(src, "affinity");
    cr_assert_eq(setenv("SLURM_CPUS_PER_TASK", "", 1), 0); /* empty counts as unset */
    cr_assert_eq(bt_cpus_allowed(&n, &src, NULL), BT_OK);
    cr_assert_eq(n, want);
}

/* Forks a child pinned to the first k CPUs of our mask; the child exits 0
 * when bt_cpus_allowed says k from the affinity mask, else 100 + its count. */
static int s_pinned_child(int k)
{
    cpu_set_t mine, pin;
    cr_assert_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
    CPU_ZERO(&pin);
    int got = 0;
    for (int c = 0; c < CPU_SETSIZE && got < k; c++) {
        if (CPU_ISSET(c, &mine)) {
            CPU_SET(c, &pin);
            got++;
        }
    }
    cr_assert_eq(got, k);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        unsetenv("SLURM_CPUS_PER_TASK");
        if (sched_setaffinity(0, sizeof pin, &pin) != 0)
            _exit(99);
        int n = 0;
        const char *src = NULL;
        if (bt_cpus_allowed(&n, &src, NULL) != BT_OK)
            _exit(98);
        _exit(n == k && strcmp(src, "affinity") == 0 ? 0 : 100 + (n > 100 ? 100 : n));
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

Test(cpus, child_pinned_to_one_cpu_sees_one)
{
    cr_assert_eq(s_pinned_child(1), 0, "child saw %d CPUs", s_pinned_child(1) - 100);
}

Test(cpus, child_pinned_to_two_cpus_sees_two)
{
    if (s_nproc() < 2)
        cr_skip_test("needs 2 CPUs in this process's mask");
    cr_assert_eq(s_pinned_child(2), 0);
}

Test(cpus, slurm_variable_beats_the_mask)
{
    /* a pinned child with SLURM_CPUS_PER_TASK set still reports the variable */
    cr_assert_eq(setenv("SLURM_CPUS_PER_TASK", "5", 1), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        cpu_set_t mine;
        if (sched_getaffinity(0, sizeof mine, &mine) != 0)
            _exit(99);
        for (int c = 0; c < CPU_SETSIZE; c++) {
            if (CPU_ISSET(c, &mine)) {
                CPU_SET(c, &one);
                break;
            }
        }
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            _exit(99);
        int n = 0;
        _exit(bt_cpus_allowed(&n, NULL, NULL) == BT_OK && n == 5 ? 0 : 1);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
