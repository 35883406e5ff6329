/* bt_proc — helpers for integration tests that start real programs: spawn
 * with output to files, wait with a deadline (polling, never a fixed sleep),
 * wait for a line to appear in a file, kill everything in teardown.
 *
 * Header-only (static inline) so each test program includes it directly. */
#ifndef BT_PROC_H
#define BT_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BT_PROC_MAX 64 /* children tracked for teardown */

static pid_t bt_proc_children[BT_PROC_MAX];
static size_t bt_proc_nchildren;

static inline int64_t bt_proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Short pause between two polls of a condition (not a fixed wait: callers
 * loop until their condition holds or their deadline passes). */
static inline void bt_proc_nap(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Starts argv[0] (a path) with stdout/stderr appended to out_path (NULL:
 * inherit). Returns the pid, or -1. The child is tracked for bt_proc_kill_all. */
static inline pid_t bt_proc_spawn(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_path) {
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    if (bt_proc_nchildren < BT_PROC_MAX)
        bt_proc_children[bt_proc_nchildren++] = pid;
    return pid;
}

static inline void s_bt_proc_forget(pid_t pid)
{
    for (size_t i = 0; i < bt_proc_nchildren; i++) {
        if (bt_proc_children[i] == pid) {
            bt_proc_children[i] = bt_proc_children[--bt_proc_nchildren];
            return;
        }
    }
}

/* Waits up to timeout_ms for pid to exit. Returns its exit code, 128+signal
 * if it was killed, or -1 on timeout (the child is still running). */
static inline int bt_proc_wait(pid_t pid, int64_t timeout_ms)
{
    int64_t deadline = bt_proc_now_ms() + timeout_ms;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            s_bt_proc_forget(pid);
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
            return -1;
        }
        if (r < 0 && errno != EINTR)
            return -1;
        if (bt_proc_now_ms() >= deadline)
            return -1;
        bt_proc_nap();
    }
}

/* Spawns and waits: the exit code, or -1 on timeout (then the child is killed). */
static inline int bt_proc_run(char *const argv[], const char *out_path, int64_t timeout_ms)
{
    pid_t pid = bt_proc_spawn(argv, out_path);
    if (pid < 0)
        return -1;
    int rc = bt_proc_wait(pid, timeout_ms);
    if (rc == -1) {
        kill(pid, SIGKILL);
        bt_proc_wait(pid, 5000);
    }
    return rc;
}

/* Teardown: SIGKILL every child still tracked (a SIGSTOPped one too) and reap it. */
static inline void bt_proc_kill_all(void)
{
    while (bt_proc_nchildren > 0) {
        pid_t pid = bt_proc_children[bt_proc_nchildren - 1];
        kill(pid, SIGKILL);
        kill(pid, SIGCONT);
        if (bt_proc_wait(pid, 5000) == -1)
            s_bt_proc_forget(pid);
    }
}

/* Reads a whole file into a NUL-terminated malloc'd buffer (NULL if absent). */
static inline char *bt_proc_slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        if (len_out)
            *len_out = len;
    }
    return buf;
}

/* Polls path until it contains needle, up to timeout_ms. If out is given,
 * copies the rest of the line after needle into it. */
static inline bool bt_proc_wait_text(const char *path, const char *needle, int64_t timeout_ms,
                                     char *out, size_t out_cap)
{
    int64_t deadline = bt_proc_now_ms() + timeout_ms;
    for (;;) {
        char *text = bt_proc_slurp(path, NULL);
        char *hit = text ? strstr(text, needle) : NULL;
        if (hit) {
            if (out && out_cap > 0) {
                const char *p = hit + strlen(needle);
                size_t n = strcspn(p, "\r\n");
                if (n >= out_cap)
                    n = out_cap - 1;
                memcpy(out, p, n);
                out[n] = '\0';
            }
            free(text);
            return true;
        }
        free(text);
        if (bt_proc_now_ms() >= deadline)
            return false;
        bt_proc_nap();
    }
}

/* Counts lines of a file (0 if absent). */
static inline size_t bt_proc_count_lines(const char *path)
{
    size_t len = 0, n = 0;
    char *text = bt_proc_slurp(path, &len);
    if (!text)
        return 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

/* Polls until path has at least min_size bytes, up to timeout_ms. */
static inline bool bt_proc_wait_size(const char *path, off_t min_size, int64_t timeout_ms)
{
    int64_t deadline = bt_proc_now_ms() + timeout_ms;
    for (;;) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size >= min_size)
            return true;
        if (bt_proc_now_ms() >= deadline)
            return false;
        bt_proc_nap();
    }
}

/* True when both files exist and have the same bytes. */
static inline bool bt_proc_same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *ta = bt_proc_slurp(a, &la), *tb = bt_proc_slurp(b, &lb);
    bool same = ta && tb && la == lb && memcmp(ta, tb, la) == 0;
    free(ta);
    free(tb);
    return same;
}

/* Makes a fresh temporary directory; writes its path into dir (cap >= 64). */
static inline bool bt_proc_tmpdir(char *dir, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(dir, cap, "%s/bt-%s-XXXXXX", base, tag);
    return mkdtemp(dir) != NULL;
}

#endif
