/* A worker whose peer at the endpoint is another worker (as when its own
 * outgoing TCP port equals the coordinator's port while no coordinator
 * listens: a self-connect) drops the connection and reconnects, instead of
 * hearing its own heartbeats as a live coordinator and holding the port.
 * The "peer" here is a ROUTER that answers the worker's HELLO with a HELLO. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "bt_proc.h"
#include "bt_wire.h"

/* A ROUTER on a free loopback port standing where the coordinator would;
 * ep (64 bytes) gets its endpoint, log (320) the worker's log path in a
 * fresh folder named after tag. */
static zsock_t *s_fake(const char *tag, char *ep, char *log)
{
    char dir[256];
    cr_assert(bt_proc_tmpdir(dir, sizeof dir, tag));
    zsock_t *fake = zsock_new(ZMQ_ROUTER);
    cr_assert_not_null(fake);
    int port = zsock_bind(fake, "tcp://127.0.0.1:*");
    cr_assert(port > 0);
    snprintf(ep, 64, "tcp://127.0.0.1:%d", port);
    snprintf(log, 320, "%s/worker.log", dir);
    return fake;
}

Test(worker_peer, a_worker_at_the_endpoint_is_dropped_and_the_worker_reconnects, .timeout = 120)
{
    char ep[64], log[320];
    zsock_t *fake = s_fake("worker-peer", ep, log);
    char *argv[] = {BT_BIN_DIR "/bt-worker", "--connect", ep, "--threads", "1", "--name", "w",
                    "--backoff-max-ms", "200", "--connect-timeout", "60", NULL};
    pid_t w = bt_proc_spawn(argv, log);
    cr_assert(w > 0);

    /* First HELLO: answer it with a HELLO of our own, as a worker would. */
    zpoller_t *poller = zpoller_new(fake, NULL);
    cr_assert_not_null(zpoller_wait(poller, 30000), "no HELLO from the worker");
    zmsg_t *in = zmsg_recv(fake);
    cr_assert_not_null(in);
    zframe_t *id = zmsg_pop(in);
    zframe_t *body = zmsg_pop(in);
    bt_msg_t m;
    bt_msg_init(&m);
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_decode(zframe_data(body), zframe_size(body), &m, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(m.type, BT_MSG_HELLO);
    bt_wire_buf_t buf;
    bt_wire_buf_init(&buf);
    cr_assert_eq(bt_wire_encode(&m, &buf, &eb), BT_OK, "%s", eb.msg); /* its own HELLO back */
    zmsg_t *out = zmsg_new();
    zmsg_append(out, &id);
    zmsg_addmem(out, buf.data, buf.len);
    cr_assert_eq(zmsg_send(&out, fake), 0);
    zframe_destroy(&body);
    zmsg_destroy(&in);

    cr_assert(bt_proc_wait_text(log, "is a worker, not a coordinator", 30000, NULL, 0),
              "the worker did not notice its peer is a worker (see %s)", log);
    /* It reconnects: a second HELLO arrives on a new connection. */
    bool again = false;
    int64_t deadline = bt_proc_now_ms() + 30000;
    while (!again && bt_proc_now_ms() < deadline) {
        if (!zpoller_wait(poller, 1000))
            continue;
        zmsg_t *next = zmsg_recv(fake);
        if (next && zmsg_size(next) == 2) {
            zmsg_first(next);
            zframe_t *b = zmsg_next(next);
            again = bt_wire_decode(zframe_data(b), zframe_size(b), &m, &eb) == BT_OK &&
                    m.type == BT_MSG_HELLO;
        }
        zmsg_destroy(&next);
    }
    cr_assert(again, "no second HELLO after dropping the worker peer (see %s)", log);
    cr_assert_eq(kill(w, SIGTERM), 0);
    cr_assert(bt_proc_wait(w, 10000) >= 0, "worker did not exit on SIGTERM");
    bt_wire_buf_fini(&buf);
    bt_msg_fini(&m);
    zpoller_destroy(&poller);
    zsock_destroy(&fake);
}

/* Waits up to ms for a HELLO from the worker named name on fake; true when
 * one came (others, e.g. from a worker a failed run left behind, are
 * ignored). */
static bool s_hello_within(zsock_t *fake, zpoller_t *poller, const char *name, int64_t ms)
{
    int64_t deadline = bt_proc_now_ms() + ms;
    while (bt_proc_now_ms() < deadline) {
        if (!zpoller_wait(poller, (int)(deadline - bt_proc_now_ms() + 1)))
            continue;
        zmsg_t *in = zmsg_recv(fake);
        bool hello = false;
        if (in && zmsg_size(in) == 2) {
            zmsg_first(in);
            zframe_t *b = zmsg_next(in);
            bt_msg_t m;
            bt_msg_init(&m);
            bt_errbuf_t eb;
            hello = bt_wire_decode(zframe_data(b), zframe_size(b), &m, &eb) == BT_OK &&
                    m.type == BT_MSG_HELLO && strcmp(m.hello.name, name) == 0;
            bt_msg_fini(&m);
        }
        zmsg_destroy(&in);
        if (hello)
            return true;
    }
    return false;
}

/* A coordinator answers nothing while it plans a large grid (about 0.2 s at
 * 200,000 points, more beyond). A worker must not give its HELLO up after
 * 100 ms: it reconnected, its second HELLO arrived right behind the first
 * and was dropped as a flood, and it joined over a second late (session 8).
 * Here the "coordinator" keeps silent: no second HELLO for 1.5 s (the worker
 * waits at least 2 s with the default back-off), then one does come. */
static void s_kill_all(void)
{
    bt_proc_kill_all(); /* no worker outlives a failed assertion */
}

Test(worker_peer, a_slow_coordinator_gets_time_to_answer_hello, .timeout = 120, .fini = s_kill_all)
{
    char ep[64], log[320];
    zsock_t *fake = s_fake("worker-slow", ep, log);
    char *argv[] = {BT_BIN_DIR "/bt-worker", "--connect", ep, "--threads", "1", "--name",
                    "slow-hello", "--connect-timeout", "60", NULL};
    pid_t w = bt_proc_spawn(argv, log);
    cr_assert(w > 0);
    zpoller_t *poller = zpoller_new(fake, NULL);
    cr_assert(s_hello_within(fake, poller, "slow-hello", 30000), "no HELLO from the worker (see %s)",
              log);
    cr_assert_not(s_hello_within(fake, poller, "slow-hello", 1500),
                  "the worker gave its HELLO up within 1.5 s (see %s)", log);
    cr_assert(s_hello_within(fake, poller, "slow-hello", 10000),
              "no HELLO again after the wait: the worker must still retry (see %s)", log);
    cr_assert_eq(kill(w, SIGTERM), 0);
    cr_assert(bt_proc_wait(w, 10000) >= 0, "worker did not exit on SIGTERM");
    zpoller_destroy(&poller);
    zsock_destroy(&fake);
}
