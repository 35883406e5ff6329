#define _XOPEN_SOURCE 700 /* realpath */
#define _DEFAULT_SOURCE   /* vfork */
#include "bt_local.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bt_log.h"
#include "bt_time.h"

#define S_MAX_RESPAWN_FACTOR 2 /* restarts allowed per worker */

typedef struct {
    pid_t pid;
    bool alive;
    bool down; /* died, and the restart budget was spent */
    bool died; /* died since the last bt_local_take_deaths (how says how) */
    char how[48];
} s_child_t;

struct bt_local {
    bt_local_opts_t opts; /* strings borrowed from the caller, but: */
    char lib[PATH_MAX];   /* opts.lib_path made absolute (workers' cwd may differ) */
    /* Own copies of what a restart needs later: the caller may pass its
     * stack buffers (the driver's early start does). */
    char *bin, *endpoint, *data;
    s_child_t *children;
    size_t n;
    int respawns;
};

bt_err_t bt_local_sibling_path(const char *prog, char *out, size_t cap, bt_errbuf_t *eb)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return bt_errf(eb, BT_EIO, "cannot read /proc/self/exe to find %s: %s", prog,
                       strerror(errno));
    self[n] = '\0';
    char *dir = dirname(self);
    int w = snprintf(out, cap, "%s/%s", dir, prog);
    if (w < 0 || (size_t)w >= cap)
        return bt_errf(eb, BT_ELIMIT, "path of %s too long", prog);
    if (access(out, X_OK) != 0)
        return bt_errf(eb, BT_ENOTFOUND,
                       "%s not found next to bt (%s): rebuild/reinstall, or run 'bt sweep ... "
                       "--workers 0 --bind tcp://*:5555' and start workers yourself",
                       prog, out);
    return BT_OK;
}

static pid_t s_spawn(const bt_local_t *l, int index)
{
    char threads[16], name[64];
    snprintf(threads, sizeof threads, "%d", l->opts.threads);
    snprintf(name, sizeof name, "local-%d", index);
    char *argv[24];
    int k = 0;
    argv[k++] = (char *)l->opts.worker_bin;
    argv[k++] = "--connect";
    argv[k++] = (char *)l->opts.endpoint;
    argv[k++] = "--threads";
    argv[k++] = threads;
    argv[k++] = "--idle-exit";
    argv[k++] = "60";
    argv[k++] = "--name";
    argv[k++] = name;
    if (l->opts.quiet) {
        argv[k++] = "--log-level";
        argv[k++] = "warn";
    } else if (bt_log_threshold >= BT_LOG_DEBUG) { /* a debug sweep's timeline shows the workers' */
        argv[k++] = "--log-level";
        argv[k++] = "debug";
    }
    if (l->opts.trivial)
        argv[k++] = "--trivial";
    if (l->opts.keys_dir) {
        argv[k++] = "--keys";
        argv[k++] = (char *)l->opts.keys_dir;
    }
    /* argv is not the network: a child on this host may open these paths. */
    if (l->opts.data_path) {
        argv[k++] = "--data";
        argv[k++] = (char *)l->opts.data_path;
    }
    if (l->opts.lib_path) {
        argv[k++] = "--strategy-lib";
        argv[k++] = (char *)l->opts.lib_path;
    }
    argv[k] = NULL;
    pid_t parent = getpid();
    /* vfork: the child borrows the parent's memory until execv, so the
     * coordinator's pages are not made copy-on-write (after a fork every
     * first write to a page faulted and flushed the TLB: ~10-20 ms of its
     * CPU at the start of a sweep). The child only makes system calls on
     * its own stack frame and never returns from here. */
    pid_t pid = vfork();
    if (pid == 0) {
        /* Child: only system calls until exec. Dies with the coordinator. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void s_free(bt_local_t *l)
{
    free(l->children);
    free(l->bin);
    free(l->endpoint);
    free(l->data);
    free(l);
}

bt_local_t *bt_local_start(const bt_local_opts_t *opts)
{
    bt_local_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->opts = *opts;
    l->bin = strdup(opts->worker_bin);
    l->endpoint = strdup(opts->endpoint ? opts->endpoint : "");
    l->data = opts->data_path ? strdup(opts->data_path) : NULL;
    if (!l->bin || !l->endpoint || (opts->data_path && !l->data)) {
        s_free(l);
        return NULL;
    }
    l->opts.worker_bin = l->bin;
    l->opts.endpoint = l->endpoint;
    l->opts.data_path = l->data;
    if (opts->lib_path) {
        if (realpath(opts->lib_path, l->lib))
            l->opts.lib_path = l->lib;
    }
    l->n = opts->count > 0 ? (size_t)opts->count : 0;
    l->children = calloc(l->n ? l->n : 1, sizeof *l->children);
    if (!l->children) {
        s_free(l);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        l->children[i].pid = s_spawn(l, (int)i);
        l->children[i].alive = l->children[i].pid > 0;
        if (l->children[i].pid < 0)
            bt_log(BT_LOG_ERROR, "cannot start local worker %s: %s", opts->worker_bin,
                   strerror(errno));
    }
    bt_log(BT_LOG_INFO, "started %zu local worker(s) (%d thread(s) each)", l->n, opts->threads);
    return l;
}

/* Starts worker i again if the budget allows (else it stays down). */
static void s_respawn(bt_local_t *l, size_t i)
{
    s_child_t *ch = &l->children[i];
    ch->down = true;
    if (l->respawns >= S_MAX_RESPAWN_FACTOR * (int)l->n)
        return;
    l->respawns++;
    ch->pid = s_spawn(l, (int)i);
    ch->alive = ch->pid > 0;
    ch->down = !ch->alive;
    if (ch->alive)
        bt_log(BT_LOG_INFO, "restarted local worker %d (pid %ld)", (int)i, (long)ch->pid);
}

void bt_local_reap(bt_local_t *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        s_child_t *ch = &l->children[i];
        int status = 0;
        if (!ch->alive || waitpid(ch->pid, &status, WNOHANG) != ch->pid)
            continue;
        ch->alive = false;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            continue;
        bt_log(BT_LOG_WARN, "local worker %d (pid %ld) %s %d", (int)i, (long)ch->pid,
               WIFSIGNALED(status) ? "killed by signal" : "exited with code",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        ch->died = true; /* (one a worker between two takes: the newest) */
        snprintf(ch->how, sizeof ch->how, "%s %d",
                 WIFSIGNALED(status) ? "killed by signal" : "exited with code",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        s_respawn(l, i);
    }
}

void bt_local_progress(bt_local_t *l)
{
    if (!l || l->respawns == 0)
        return;
    l->respawns = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->children[i].down)
            s_respawn(l, i);
}

size_t bt_local_take_deaths(bt_local_t *l, bt_local_death_t *out, size_t max)
{
    if (!l)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < l->n && n < max; i++) {
        s_child_t *ch = &l->children[i];
        if (!ch->died)
            continue;
        ch->died = false;
        snprintf(out[n].name, sizeof out[n].name, "local-%d", (int)i); /* as s_spawn names it */
        snprintf(out[n].how, sizeof out[n].how, "%s", ch->how);
        n++;
    }
    return n;
}

void bt_local_stop(bt_local_t **l_p)
{
    if (!l_p || !*l_p)
        return;
    bt_local_t *l = *l_p;
    for (size_t i = 0; i < l->n; i++)
        if (l->children[i].alive)
            kill(l->children[i].pid, SIGTERM);
    /* Bounded wait for them to leave; then force. */
    int64_t deadline = bt_monotonic_ms() + 3000;
    for (size_t i = 0; i < l->n; i++) {
        s_child_t *ch = &l->children[i];
        while (ch->alive) {
            int status;
            pid_t r = waitpid(ch->pid, &status, WNOHANG);
            if (r == ch->pid || (r < 0 && errno != EINTR)) {
                ch->alive = false;
                break;
            }
            if (bt_monotonic_ms() >= deadline) {
                kill(ch->pid, SIGKILL);
                waitpid(ch->pid, &status, 0);
                ch->alive = false;
                break;
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    s_free(l);
    *l_p = NULL;
}

void bt_local_kill(bt_local_t **l_p)
{
    if (!l_p || !*l_p)
        return;
    bt_local_t *l = *l_p;
    for (size_t i = 0; i < l->n; i++)
        if (l->children[i].alive) {
            kill(l->children[i].pid, SIGKILL);
            int status;
            while (waitpid(l->children[i].pid, &status, 0) < 0 && errno == EINTR) {
            }
            l->children[i].alive = false;
        }
    s_free(l);
    *l_p = NULL;
}
