/* bt_cpus — how many CPUs this process may use, as a batch system or the
 * kernel's affinity mask says, so a worker sizes its thread pool to its
 * allocation and not to the whole machine. */
#ifndef BT_CPUS_H
#define BT_CPUS_H

#include "bt_err.h"

#define BT_CPUS_MAX 65536 /* largest count accepted from the environment */

/* Sets *ncpus (>= 1) to the CPUs this process may use:
 *   1. SLURM_CPUS_PER_TASK when set and non-empty: a whole number in
 *      1..BT_CPUS_MAX, anything else is an error (BT_ECONFIG) naming the
 *      variable and its value;
 *   2. else the number of CPUs in the process's affinity mask
 *      (sched_getaffinity: taskset, cgroup cpusets, Slurm's task/affinity);
 *   3. else sysconf(_SC_NPROCESSORS_ONLN), and 1 if even that fails.
 * *source (may be NULL) gets a short word saying which one answered:
 * "SLURM_CPUS_PER_TASK", "affinity" or "sysconf". */
bt_err_t bt_cpus_allowed(int *ncpus, const char **source, bt_errbuf_t *eb);

#endif
