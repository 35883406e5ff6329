/* Runs `bt keygen` as a real process: files and modes, the no-overwrite
 * refusal, usage errors, --help; then the keys it wrote, laid out as the
 * guidance it prints says, carry a CURVE exchange on tcp://127.0.0.1. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bt_curve.h"
#include "integration/bt_proc.h"

#define BT BT_BIN_DIR "/bt"

static char s_dir[128];
static char s_log[192];

static void s_setup(void)
{
    cr_assert(bt_proc_tmpdir(s_dir, sizeof s_dir, "keygen"));
    snprintf(s_log, sizeof s_log, "%s/out.txt", s_dir);
}

static void s_teardown(void)
{
    bt_proc_kill_all();
    char cmd[192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(keygen, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* Runs bt with args (NULL-terminated), output to a fresh s_log; returns the exit code. */
static int s_bt(const char *a1, const char *a2, const char *a3, const char *a4)
{
    remove(s_log);
    char *argv[] = {BT, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    return bt_proc_run(argv, s_log, 60000);
}

static char *s_out(void)
{
    char *t = bt_proc_slurp(s_log, NULL);
    cr_assert_not_null(t);
    return t;
}

static void s_path(char *buf, size_t cap, const char *rel)
{
    int w = snprintf(buf, cap, "%s/%s", s_dir, rel);
    cr_assert(w > 0 && (size_t)w < cap);
}

Test(keygen, writes_a_pair_and_says_what_to_copy)
{
    char keys[192], pub[256], sec[256], allow[256];
    s_path(keys, sizeof keys, "keys");
    cr_assert_eq(s_bt("keygen", keys, "--name", "coordinator"), 0);
    s_path(pub, sizeof pub, "keys/coordinator.key");
    s_path(sec, sizeof sec, "keys/coordinator.key_secret");
    s_path(allow, sizeof allow, "keys/allow");
    struct stat st;
    cr_assert_eq(stat(sec, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    cr_assert_eq(stat(pub, &st), 0);
    cr_assert_eq(stat(allow, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    char *out = s_out();
    cr_assert(strstr(out, pub) && strstr(out, sec), "%s", out);
    cr_assert(strstr(out, "to every worker") && strstr(out, "allow/"), "%s", out);
    free(out);

    /* refuses to overwrite; the secret is unchanged */
    char *before = bt_proc_slurp(sec, NULL);
    cr_assert_eq(s_bt("keygen", keys, "--name", "coordinator"), 1);
    out = s_out();
    cr_assert(strstr(out, "never overwrites") && strstr(out, "coordinator.key"), "%s", out);
    free(out);
    char *after = bt_proc_slurp(sec, NULL);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);

    /* default name: a worker's pair, with worker guidance */
    cr_assert_eq(s_bt("keygen", keys, NULL, NULL), 0);
    out = s_out();
    cr_assert(strstr(out, "worker.key") && strstr(out, "coordinator's keys folder"), "%s", out);
    free(out);
}

Test(keygen, usage_errors_and_help)
{
    cr_assert_eq(s_bt("keygen", NULL, NULL, NULL), 2);
    char *out = s_out();
    cr_assert(strstr(out, "DIR is required"), "%s", out);
    free(out);
    cr_assert_eq(s_bt("keygen", s_dir, "--name", "../escape"), 2);
    out = s_out();
    cr_assert(strstr(out, "--name '../escape'"), "%s", out);
    free(out);
    cr_assert_eq(s_bt("keygen", s_dir, "--bogus", NULL), 2);
    cr_assert_eq(s_bt("keygen", s_dir, "--name", NULL), 2);
    cr_assert_eq(s_bt("keygen", "a", "b", NULL), 2);
    cr_assert_eq(s_bt("keygen", "--help", NULL, NULL), 0);
    out = s_out();
    cr_assert(strstr(out, "usage: bt keygen DIR") && strstr(out, "examples:"), "%s", out);
    free(out);
    cr_assert_eq(s_bt("--help", NULL, NULL, NULL), 0);
    out = s_out();
    cr_assert(strstr(out, "keygen"), "%s", out);
    free(out);
}

static void s_copy(const char *from, const char *to)
{
    size_t len = 0;
    char *t = bt_proc_slurp(from, &len);
    cr_assert_not_null(t, "%s", from);
    FILE *f = fopen(to, "wb");
    cr_assert_not_null(f, "%s", to);
    cr_assert_eq(fwrite(t, 1, len, f), len);
    fclose(f);
    free(t);
}

Test(keygen, cli_keys_carry_a_curve_exchange)
{
    /* coordinator's folder and a worker's folder, filled as the guidance says */
    char coord[192], worker[192], from[256], to[256];
    s_path(coord, sizeof coord, "coord");
    s_path(worker, sizeof worker, "node01");
    cr_assert_eq(s_bt("keygen", coord, "--name", "coordinator"), 0);
    cr_assert_eq(s_bt("keygen", worker, NULL, NULL), 0);
    s_path(from, sizeof from, "node01/worker.key");
    s_path(to, sizeof to, "coord/allow/node01.key");
    s_copy(from, to);
    s_path(from, sizeof from, "coord/coordinator.key");
    s_path(to, sizeof to, "node01/coordinator.key");
    s_copy(from, to);

    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    bt_curve_auth_t *auth = NULL;
    cr_assert_eq(bt_curve_server_setup(router, coord, &auth, &eb), BT_OK, "%s", eb.msg);
    cr_assert_neq(zsock_bind(router, "tcp://127.0.0.1:*"), -1);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    cr_assert_eq(bt_curve_client_setup(dealer, worker, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(zsock_connect(dealer, "%s", zsock_endpoint(router)), 0);
    cr_assert_eq(zstr_send(dealer, "ready"), 0);
    zpoller_t *p = zpoller_new(router, NULL);
    cr_assert_not_null(zpoller_wait(p, 10000), "no message through CURVE");
    zpoller_destroy(&p);
    zmsg_t *m = zmsg_recv(router);
    cr_assert_eq(zmsg_size(m), 2);
    char *body = zframe_strdup(zmsg_last(m));
    cr_assert_str_eq(body, "ready");
    free(body);
    zmsg_destroy(&m);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
    bt_curve_auth_destroy(&auth);
}
