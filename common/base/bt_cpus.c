/* sched_getaffinity and the CPU_*_S macros are GNU extensions. */
#define _GNU_SOURCE
#include "bt_cpus.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

/* CPUs in this process's affinity mask, or 0 if the kernel will not say.
 * The mask is grown until it holds every CPU the kernel knows of, so
 * machines with more than CPU_SETSIZE (1024) CPUs count right too. */
static int s_affinity_count(void)
{
    for (int n = 1024; n <= 1 << 20; n *= 2) {
        cpu_set_t *set = CPU_ALLOC((size_t)n);
        if (!set)
            return 0;
        size_t size = CPU_ALLOC_SIZE((size_t)n);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            int count = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return count;
        }
        int err = errno;
        CPU_FREE(set);
        if (err != EINVAL) /* EINVAL: mask too small for this kernel, grow it */
            return 0;
    }
    return 0;
}

bt_err_t bt_cpus_allowed(int *ncpus, const char **source, bt_errbuf_t *eb)
{
    const char *slurm = getenv("SLURM_CPUS_PER_TASK");
    if (slurm && *slurm) {
        char *end = NULL;
        errno = 0;
        long v = strtol(slurm, &end, 10);
        /* digits only: no sign, no blanks, no trailing text */
        if (slurm[0] < '0' || slurm[0] > '9' || errno != 0 || *end != '\0' || v < 1 ||
            v > BT_CPUS_MAX)
            return bt_errf(eb, BT_ECONFIG,
                           "SLURM_CPUS_PER_TASK='%.64s' is not a whole number of CPUs from 1 to "
                           "%d; fix the job's --cpus-per-task or unset the variable",
                           slurm, BT_CPUS_MAX);
        *ncpus = (int)v;
        if (source)
            *source = "SLURM_CPUS_PER_TASK";
        return BT_OK;
    }
    int n = s_affinity_count();
    if (n > 0) {
        *ncpus = n;
        if (source)
            *source = "affinity";
        return BT_OK;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    *ncpus = online >= 1 && online <= BT_CPUS_MAX ? (int)online : 1;
    if (source)
        *source = "sysconf";
    return BT_OK;
}
