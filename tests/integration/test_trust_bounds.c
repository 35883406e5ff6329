/* The coordinator's memory stays bounded whatever peers send: a flood of
 * HELLOs on one connection that never reads (each would be answered by a
 * WELCOME and a SWEEP carrying the config), then 20,000 connections that
 * say HELLO and disconnect. Its resident set (VmRSS from /proc) may grow by
 * at most 50 MB over the idle coordinator's -- a generous bound; before the
 * HELLO flood was throttled and the send queues bounded, ~72 KB of HELLOs
 * took it to 1.7 GB. Then a real worker still runs the sweep. */
#include <czmq.h>

#include "bt_wire.h"
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "trust-bounds");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(trust_bounds, .init = s_setup, .fini = s_teardown, .timeout = 300);

static long s_rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *text = bt_proc_slurp(path, NULL);
    cr_assert(text, "no %s", path);
    char *p = strstr(text, "VmRSS:");
    cr_assert(p);
    long kb = strtol(p + 6, NULL, 10);
    free(text);
    return kb;
}

Test(trust_bounds, hello_flood_and_connect_churn_keep_rss_bounded)
{
    zsys_set_max_sockets(0); /* the OS limit: closed sockets linger a moment */
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "flood", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    long base = s_rss_kb(coord);

    bt_wire_buf_t buf;
    bt_wire_buf_init(&buf);
    bt_msg_t m;
    bt_msg_init(&m);
    bt_errbuf_t eb;
    bt_msg_reset(&m, BT_MSG_HELLO);
    snprintf(m.hello.name, sizeof m.hello.name, "flood");
    m.hello.threads = 1;
    snprintf(m.hello.bt_version, sizeof m.hello.bt_version, "%s", BT_VERSION);
    cr_assert_eq(bt_wire_encode(&m, &buf, &eb), BT_OK);

    /* 1. 20,000 HELLOs (~600 KB) on one connection that never reads. */
    zsock_t *s = zsock_new_dealer(ep);
    cr_assert(s);
    zsock_set_linger(s, 0);
    for (int i = 0; i < 20000; i++) {
        zframe_t *fr = zframe_new(buf.data, buf.len);
        cr_assert_eq(zframe_send(&fr, s, 0), 0);
    }
    /* 2. 20,000 connect / HELLO / WELCOME / disconnect cycles, each a new peer. */
    int welcomed = 0;
    for (int i = 0; i < 20000; i++) {
        if (i % 256 == 255)
            bt_proc_nap(); /* let lingering sockets close (fds) */
        zsock_t *c = zsock_new(ZMQ_DEALER);
        cr_assert(c, "socket %d", i);
        zsock_set_linger(c, 0);
        zsock_set_rcvtimeo(c, 5000);
        cr_assert_eq(zsock_connect(c, "%s", ep), 0);
        zframe_t *fr = zframe_new(buf.data, buf.len);
        cr_assert_eq(zframe_send(&fr, c, 0), 0);
        zframe_t *reply = zframe_recv(c); /* its WELCOME: the HELLO was handled */
        if (reply)
            welcomed++;
        zframe_destroy(&reply);
        zsock_destroy(&c);
    }
    /* The coordinator has read what it was sent once it logs a line after
     * the last peer; wait for its log to go quiet about joins. */
    char log[400];
    snprintf(log, sizeof log, "%s/flood.log", f.dir);
    cr_assert(bt_proc_wait_text(log, "silent for", 60000, NULL, 0), "no peer ever timed out");
    long peak = s_rss_kb(coord);
    for (int i = 0; i < 20; i++) { /* sample while it settles (not a timing assertion) */
        bt_proc_nap();
        long now = s_rss_kb(coord);
        if (now > peak)
            peak = now;
    }
    cr_assert_gt(welcomed, 19000, "only %d of 20000 churn peers were welcomed", welcomed);
    cr_assert(peak - base < 50 * 1024, "VmRSS grew from %ld kB to %ld kB", base, peak);
    zsock_destroy(&s);

    sfx_start_worker(&f, ep, "w1", 0);
    cr_assert_eq(bt_proc_wait(coord, 120000), 0, "coordinator failed (see flood.log)");
    sfx_assert_same_report(&f, "ref", "flood");
    char sum[400];
    snprintf(sum, sizeof sum, "%s/flood/summary.txt", f.dir);
    char *text = bt_proc_slurp(sum, NULL);
    cr_assert(text);
    cr_log_info("VmRSS %ld kB idle, %ld kB after the flood; summary:\n%s", base, peak, text);
    free(text);
    bt_msg_fini(&m);
    bt_wire_buf_fini(&buf);
}
