/* bt-worker — runs backtest jobs handed out by a `bt sweep` coordinator. */
#include <errno.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_cpus.h"
#include "bt_parse.h"
#include "bt_log.h"
#include "bt_memtune.h"
#include "bt_worker.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: bt-worker --connect ENDPOINT [--threads N] [--idle-exit SEC]\n"
            "                 [--backoff-max-ms MS] [--name NAME] [--log-level LEVEL]\n"
            "                 [--data STORE.h5] [--strategy-lib LIB.so] [--cache DIR]\n"
            "                 [--cache-max BYTES] [--keys DIR] [--connect-timeout SEC]\n"
            "                 [--insecure] [--no-fast]\n\n"
            "Connects to a coordinator started with 'bt sweep CONFIG --bind ENDPOINT' and\n"
            "runs the backtest jobs it hands out until the sweep ends (the coordinator says\n"
            "BYE). If the coordinator goes away the worker reconnects with back-off, so it\n"
            "may be started before the coordinator and survives a coordinator restart.\n\n"
            "options:\n"
            "  --connect EP        coordinator endpoint, e.g. tcp://10.0.0.5:5555 (required)\n"
            "  --threads N         threads for backtests (default: the CPUs this process may\n"
            "                      use: SLURM_CPUS_PER_TASK, else its affinity mask)\n"
            "  --idle-exit SEC     exit after SEC seconds without work (default 300; 0 = never)\n"
            "  --backoff-max-ms MS cap of the reconnect back-off (default 4000)\n"
            "  --name NAME         name in the coordinator's logs (default hostname:pid)\n"
            "  --log-level L       error, warn, info (default) or debug\n"
            "  --data PATH         this host's copy of the bar store; used only when its data\n"
            "                      hash equals the coordinator's (any path; 'bt sweep' passes\n"
            "                      it to the workers it starts itself)\n"
            "  --strategy-lib PATH the strategy library to load when the sweep names one; a\n"
            "                      path sent by the coordinator is never opened\n"
            "  --cache DIR         file cache (default $XDG_CACHE_HOME/backtester or\n"
            "                      ~/.cache/backtester)\n"
            "  --cache-max BYTES   cache size limit, least recently used files go first\n"
            "                      (suffix K, M or G; default 10G)\n"
            "  --keys DIR          CurveZMQ: DIR/worker.key + .key_secret, and the pinned\n"
            "                      DIR/coordinator.key (see 'bt keygen --help')\n"
            "  --connect-timeout SEC  exit when no coordinator has welcomed this worker\n"
            "                      after SEC (default 120; 0 = never)\n"
            "  (a coordinator that was there and is silent for 3 leases is gone: exit 1)\n"
            "  --insecure          load a strategy library the coordinator ships even though\n"
            "                      the coordinator is not authenticated (trusted networks)\n"
            "  --no-fast           run every grid point as its own backtest (the per-point\n"
            "                      path; same results; BT_FAST=0 does the same)\n"
            "\nenvironment: the worker runs itself once more with glibc malloc settings\n"
            "in GLIBC_TUNABLES (huge pages, a heap kept across batches); BT_MALLOC_TUNE=0\n"
            "keeps glibc's defaults (e.g. under valgrind, which would not follow the exec)\n\n"
            "example:\n"
            "  bt-worker --connect tcp://10.0.0.5:5555 --threads 2\n");
}

static int s_parse_long(const char *opt, const char *s, long min, long max, long *out)
{
    long v = 0;
    if (!bt_parse_long(s, min, max, &v)) {
        fprintf(stderr, "bt-worker: %s wants a whole number in %ld..%ld, got '%s'\n", opt, min, max,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static int s_parse_size(const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (end && (*end == 'K' || *end == 'k'))
        shift = 10;
    else if (end && (*end == 'M' || *end == 'm'))
        shift = 20;
    else if (end && (*end == 'G' || *end == 'g'))
        shift = 30;
    if (shift)
        end++;
    if (errno != 0 || end == s || s[0] == '-' || *end != '\0' || v == 0 ||
        v > (UINT64_MAX >> 30)) {
        fprintf(stderr, "bt-worker: %s wants a size such as 500M or 20G, got '%s'\n", opt, s);
        return -1;
    }
    *out = (uint64_t)v << shift;
    return 0;
}

int main(int argc, char **argv)
{
    bt_worker_opts_t o = {
        .endpoint = NULL,
        .threads = 0, /* from bt_cpus_allowed unless --threads */
        .idle_exit_ms = 300 * 1000,
        .backoff_max_ms = 4000,
        .trivial = false,
        .name = NULL,
        .connect_timeout_ms = 120 * 1000,
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("bt-worker %s\n", BT_VERSION);
            return 0;
        } else if (strcmp(a, "--insecure") == 0) {
            o.insecure = true;
            continue;
        } else if (strcmp(a, "--no-fast") == 0) {
            o.no_fast = true;
            continue;
        } else if (strcmp(a, "--trivial") == 0) {
            o.trivial = true; /* hidden: dispatch benchmark */
            continue;
        }
        if (!v) {
            fprintf(stderr, "bt-worker: %s needs a value; see 'bt-worker --help'\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--connect") == 0) {
            o.endpoint = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (s_parse_long(a, v, 1, 4096, &n) != 0)
                return 2;
            o.threads = (int)n;
        } else if (strcmp(a, "--idle-exit") == 0) {
            if (s_parse_long(a, v, 0, 86400L * 365, &n) != 0)
                return 2;
            o.idle_exit_ms = (int64_t)n * 1000;
        } else if (strcmp(a, "--backoff-max-ms") == 0) {
            if (s_parse_long(a, v, 100, 600000, &n) != 0)
                return 2;
            o.backoff_max_ms = n;
        } else if (strcmp(a, "--debug-job-ms") == 0) {
            if (s_parse_long(a, v, 0, 60000, &n) != 0) /* hidden: slows jobs for tests */
                return 2;
            o.job_delay_ms = n;
        } else if (strcmp(a, "--keys") == 0) {
            o.keys_dir = v;
        } else if (strcmp(a, "--connect-timeout") == 0) {
            if (s_parse_long(a, v, 0, 86400L * 365, &n) != 0)
                return 2;
            o.connect_timeout_ms = (int64_t)n * 1000;
        } else if (strcmp(a, "--data") == 0) {
            o.data_path = v;
        } else if (strcmp(a, "--strategy-lib") == 0) {
            o.lib_path = v;
        } else if (strcmp(a, "--cache") == 0) {
            o.cache_dir = v;
        } else if (strcmp(a, "--cache-max") == 0) {
            if (s_parse_size(a, v, &o.cache_max) != 0)
                return 2;
        } else if (strcmp(a, "--name") == 0) {
            o.name = v;
        } else if (strcmp(a, "--log-level") == 0) {
            int lv = bt_log_level_parse(v);
            if (lv < 0) {
                fprintf(stderr, "bt-worker: --log-level wants error, warn, info or debug\n");
                return 2;
            }
            bt_log_set_level((bt_log_level_t)lv);
        } else {
            fprintf(stderr, "bt-worker: unknown option '%s'; see 'bt-worker --help'\n", a);
            return 2;
        }
    }
    if (!o.endpoint) {
        s_usage(stderr);
        fprintf(stderr, "\nbt-worker: --connect ENDPOINT is required\n");
        return 2;
    }
    /* options checked, nothing logged yet: run again with the malloc settings */
    bt_memtune_exec(argv); /* returns only when not wanted or it fails */
    if (o.threads < 1) {
        int n = 1;
        const char *src = NULL;
        bt_errbuf_t eb;
        if (bt_cpus_allowed(&n, &src, &eb) != BT_OK) {
            fprintf(stderr, "bt-worker: %s (or give --threads N)\n", eb.msg);
            return 2;
        }
        o.threads = n;
        bt_log(BT_LOG_INFO, "%d thread(s), from %s", n, src);
    }
    bt_log(BT_LOG_DEBUG, "malloc: %s", bt_memtune_describe());
    return bt_worker_run(&o);
}
