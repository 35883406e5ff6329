/* bt status DIR — prints DIR/status.json of a sweep (written by its
 * coordinator about once a second) and says whether that coordinator is
 * still alive: its pid runs and the file is fresh. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_cmd.h"
#include "bt_fs.h"

#define S_STATUS_MAX (64u << 20)
#define S_STALE_MS 10000 /* ten missed updates */

static void s_usage(FILE *out)
{
    fprintf(out, "usage: bt status DIR\n\n"
                 "Shows the progress of the sweep writing to DIR (its DIR/status.json: jobs\n"
                 "done, failed, rate, ETA, and per worker host, threads, rate, jobs done and\n"
                 "last heard), and whether its coordinator is running, gone or stale.\n"
                 "Exit status: 0 running or finished, 1 gone or stale, 2 no status file.\n\n"
                 "example:\n"
                 "  bt status out/sma\n");
}

/* The integer after "key": in text, or -1. */
static long long s_int(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    errno = 0;
    long long v = strtoll(p + strlen(pat), NULL, 10);
    return errno ? -1 : v;
}

int bt_cmd_status(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        s_usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/status.json", argv[1]);
    bt_errbuf_t eb;
    size_t len = 0;
    char *text = bt_fs_read_file(path, S_STATUS_MAX, &len, &eb);
    if (!text) {
        fprintf(stderr, "bt status: %s (is %s the --out folder of a bt sweep?)\n", eb.msg, argv[1]);
        return 2;
    }
    fputs(text, stdout);
    long long pid = s_int(text, "pid"), updated = s_int(text, "updated_ms");
    bool finished = strstr(text, "\"state\": \"finished\"") != NULL;
    bool interrupted = strstr(text, "\"state\": \"interrupted\"") != NULL;
    free(text);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    long long age = updated >= 0 ? now - updated : -1;
    if (finished) {
        printf("coordinator: finished (%lld s ago)\n", age / 1000);
        return 0;
    }
    if (interrupted) {
        printf("coordinator: stopped early (%lld s ago); continue with --resume %s\n", age / 1000,
               argv[1]);
        return 1;
    }
    bool alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    if (!alive) {
        printf("coordinator: GONE (pid %lld is not running; last update %lld s ago); continue "
               "with --resume %s\n",
               pid, age / 1000, argv[1]);
        return 1;
    }
    if (age < 0 || age > S_STALE_MS) {
        printf("coordinator: STALE (pid %lld runs but wrote nothing for %lld s: stopped? on "
               "another machine?)\n",
               pid, age / 1000);
        return 1;
    }
    printf("coordinator: running (pid %lld, updated %lld ms ago)\n", pid, age);
    return 0;
}
