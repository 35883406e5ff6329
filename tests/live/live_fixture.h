/* live_fixture — helpers of the live tests: the mock REST server, running
 * `bt`, its request counter, a private redis-server. Header-only. */
#ifndef LIVE_FIXTURE_H
#define LIVE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdarg.h>

#include "bt_http.h"
#include "bt_sha256.h"
#include "integration/bt_proc.h"

#define LIVE_MOCK BT_BIN_DIR "/tests/bt_mock_http"
#define LIVE_BT BT_BIN_DIR "/bt"

typedef struct {
    char dir[256];   /* temp dir of the test */
    char log[320];   /* output of every program started */
    pid_t mock;      /* the mock server, or 0 */
    int port;        /* its port */
    char base[64];   /* http://127.0.0.1:PORT */
} live_t;

static inline void live_init(live_t *L, const char *tag)
{
    memset(L, 0, sizeof *L);
    cr_assert(bt_proc_tmpdir(L->dir, sizeof L->dir, tag));
    snprintf(L->log, sizeof L->log, "%s/log.txt", L->dir);
}

/* Starts the mock with the given extra arguments (NULL-terminated). */
static inline void live_mock(live_t *L, ...)
{
    char pf[320];
    snprintf(pf, sizeof pf, "%s/port.%d", L->dir, (int)bt_proc_now_ms() % 100000);
    char *argv[40] = {LIVE_MOCK, "--port-file", pf};
    int n = 3;
    va_list ap;
    va_start(ap, L);
    for (char *a; (a = va_arg(ap, char *)) != NULL && n < 38;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    L->mock = bt_proc_spawn(argv, L->log);
    cr_assert(L->mock > 0, "cannot start %s", LIVE_MOCK);
    cr_assert(bt_proc_wait_size(pf, 2, 10000), "mock did not write its port");
    char *t = bt_proc_slurp(pf, NULL);
    L->port = (int)strtol(t, NULL, 10);
    free(t);
    snprintf(L->base, sizeof L->base, "http://127.0.0.1:%d", L->port);
}

static inline void live_mock_stop(live_t *L)
{
    if (L->mock > 0) {
        kill(L->mock, SIGKILL);
        bt_proc_wait(L->mock, 5000);
    }
    L->mock = 0;
}

/* Requests the mock has counted. */
static inline long live_requests(live_t *L)
{
    bt_http_t *h = bt_http_new(5000);
    bt_http_resp_t r;
    bt_http_resp_init(&r, 4096);
    char url[128];
    snprintf(url, sizeof url, "%s/__stats", L->base);
    bt_errbuf_t eb;
    cr_assert(bt_http_get(h, url, NULL, &r, &eb) == BT_OK);
    cr_assert(r.status == 200, "stats: %ld %s", r.status, r.error);
    const char *p = strstr(r.body.data, "\"requests\":");
    long n = p ? strtol(p + 11, NULL, 10) : -1;
    bt_http_resp_fini(&r);
    bt_http_destroy(&h);
    return n;
}

/* Runs bt with the arguments (NULL-terminated); output into out (a file in
 * the test dir); returns the exit code. */
static inline int live_bt(live_t *L, const char *out, ...)
{
    char *argv[64] = {LIVE_BT};
    int n = 1;
    va_list ap;
    va_start(ap, out);
    for (char *a; (a = va_arg(ap, char *)) != NULL && n < 62;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char path[400];
    snprintf(path, sizeof path, "%s/%s", L->dir, out);
    unlink(path);
    return bt_proc_run(argv, path, 120000);
}

static inline char *live_out(live_t *L, const char *out)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", L->dir, out);
    char *t = bt_proc_slurp(path, NULL);
    return t ? t : strdup("");
}

static inline void live_path(live_t *L, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", L->dir, name);
}

static inline void live_sha(const char *path, char hex[65])
{
    bt_errbuf_t eb;
    cr_assert(bt_sha256_file(path, hex, &eb) == BT_OK, "%s", eb.msg);
}

static inline void live_fini(live_t *L)
{
    live_mock_stop(L);
    bt_proc_kill_all();
    if (L->dir[0] && !getenv("BT_KEEP_TMP")) {
        char *argv[] = {"/bin/rm", "-rf", L->dir, NULL};
        bt_proc_run(argv, NULL, 30000);
    }
}

/* ---- a private redis-server (unix socket in the test dir) ---- */

/* Starts redis-server on DIR/redis.sock; false (and the test should exit 77)
 * when redis-server is not installed. */
static inline bool live_redis(live_t *L, pid_t *pid, char *addr, size_t cap)
{
    const char *exe = "/usr/bin/redis-server";
    if (access(exe, X_OK) != 0)
        return false;
    char sock[320], dirarg[320];
    snprintf(sock, sizeof sock, "%s/redis.sock", L->dir);
    snprintf(dirarg, sizeof dirarg, "%s", L->dir);
    char *argv[] = {(char *)exe, "--port", "0", "--unixsocket", sock, "--dir", dirarg,
                    "--save", "", "--appendonly", "no", NULL};
    *pid = bt_proc_spawn(argv, L->log);
    if (*pid <= 0)
        return false;
    cr_assert(bt_proc_wait_size(sock, 0, 10000) || access(sock, F_OK) == 0,
              "redis-server did not create %s", sock);
    for (int i = 0; i < 500 && access(sock, F_OK) != 0; i++)
        bt_proc_nap();
    snprintf(addr, cap, "unix:%s", sock);
    return access(sock, F_OK) == 0;
}

#endif
