/* bt paper's loop: the control socket (status, stop), SIGTERM, the status
 * file, a journal of another config refused, a Redis that is down at start.
 * Synthetic bars from the mock (300 daily bars, one published every 20 ms). */
#include <czmq.h>

#include "live_fixture.h"

static live_t L;
static char s_cfg[400];

static void s_config(const char *fast)
{
    live_path(&L, "cfg.yaml", s_cfg, sizeof s_cfg);
    FILE *f = fopen(s_cfg, "w");
    fprintf(f, "strategy: sma_cross\nparams:\n  fast: %s\n  slow: 20\ndata:\n  store: none.h5\n"
               "  symbols: [SYN]\ncapital: 10000\nreport:\n  close_at_end: false\n",
            fast);
    fclose(f);
}

static void setup(void)
{
    live_init(&L, "paperctl");
    s_config("5");
}

static void teardown(void)
{
    live_fini(&L);
}

TestSuite(paperctl, .init = setup, .fini = teardown, .timeout = 120);

static pid_t s_paper(const char *ctl, const char *redis)
{
    char out[400];
    live_path(&L, "paper", out, sizeof out);
    char *argv[24] = {LIVE_BT, "paper", s_cfg, "--out", out, "--base-url", L.base, "--from",
                      "2020-01-01", "--poll-ms", "10"};
    int n = 11;
    if (ctl) {
        argv[n++] = "--control";
        argv[n++] = (char *)ctl;
    }
    if (redis) {
        argv[n++] = "--redis";
        argv[n++] = (char *)redis;
    }
    argv[n] = NULL;
    pid_t pid = bt_proc_spawn(argv, L.log);
    cr_assert(pid > 0);
    return pid;
}

Test(paperctl, control_socket_status_and_stop)
{
    live_mock(&L, "--live", "20", NULL);
    char ep[400], status[400];
    snprintf(ep, sizeof ep, "ipc://%s/control", L.dir);
    live_path(&L, "paper/status.txt", status, sizeof status);
    pid_t pid = s_paper(ep, NULL);
    cr_assert(bt_proc_wait_text(status, "step ", 30000, NULL, 0), "no progress");
    zsock_t *req = zsock_new_req(ep);
    cr_assert(req);
    zsock_set_rcvtimeo(req, 10000);
    zstr_send(req, "status");
    char *ans = zstr_recv(req);
    cr_assert(ans && strstr(ans, "equity") && strstr(ans, "feed ok"), "status: %s", ans);
    zstr_free(&ans);
    /* the same from the command line */
    cr_assert_eq(live_bt(&L, "ask", "paper", "--control", ep, "--ask", "status", NULL), 0);
    char *o = live_out(&L, "ask");
    cr_assert(strstr(o, "equity") && strstr(o, "feed ok"), "bt paper --ask status: %s", o);
    free(o);
    zstr_send(req, "stop");
    ans = zstr_recv(req);
    cr_assert(ans && strcmp(ans, "stopping") == 0);
    zstr_free(&ans);
    zsock_destroy(&req);
    cr_assert_eq(bt_proc_wait(pid, 20000), 0, "bt paper did not stop cleanly");
}

Test(paperctl, sigterm_stops_cleanly_and_restart_continues)
{
    live_mock(&L, "--live", "20", NULL);
    char status[400], journal[400];
    live_path(&L, "paper/status.txt", status, sizeof status);
    live_path(&L, "paper/journal.csv", journal, sizeof journal);
    pid_t pid = s_paper(NULL, NULL);
    int64_t until = bt_proc_now_ms() + 30000;
    while (bt_proc_count_lines(journal) < 21 && bt_proc_now_ms() < until)
        bt_proc_nap();
    kill(pid, SIGTERM);
    cr_assert_eq(bt_proc_wait(pid, 20000), 0);
    size_t n = bt_proc_count_lines(journal);
    cr_assert_geq(n, 21);
    pid = s_paper(NULL, NULL);
    char want[64];
    snprintf(want, sizeof want, "restart: %zu steps replayed", n - 1);
    cr_assert(bt_proc_wait_text(L.log, want, 30000, NULL, 0), "no replay of %zu steps", n - 1);
    int64_t deadline = bt_proc_now_ms() + 30000;
    while (bt_proc_count_lines(journal) < n + 20 && bt_proc_now_ms() < deadline)
        bt_proc_nap();
    cr_assert_geq(bt_proc_count_lines(journal), n + 20, "no progress after restart");
    kill(pid, SIGTERM);
    cr_assert_eq(bt_proc_wait(pid, 20000), 0);

    /* another config (other parameters) is refused on this journal: exit 2, nothing done */
    s_config("7");
    size_t before = bt_proc_count_lines(journal);
    pid = s_paper(NULL, NULL);
    cr_assert_eq(bt_proc_wait(pid, 20000), 2);
    cr_assert(bt_proc_wait_text(L.log, "belongs to another config", 1000, NULL, 0));
    cr_assert_eq(bt_proc_count_lines(journal), before);
}

Test(paperctl, redis_down_at_start_is_retried_not_fatal)
{
    live_mock(&L, "--live", "20", NULL);
    char status[400], bad[400];
    live_path(&L, "paper/status.txt", status, sizeof status);
    snprintf(bad, sizeof bad, "unix:%s/none.sock", L.dir);
    pid_t pid = s_paper(NULL, bad);
    cr_assert(bt_proc_wait_text(status, "redis DOWN", 30000, NULL, 0), "status lacks redis DOWN");
    cr_assert(bt_proc_wait_text(status, "step ", 30000, NULL, 0), "no progress without Redis");
    cr_assert(bt_proc_wait_text(L.log, "none.sock: cannot connect", 5000, NULL, 0));
    kill(pid, SIGTERM);
    cr_assert_eq(bt_proc_wait(pid, 20000), 0);
}
