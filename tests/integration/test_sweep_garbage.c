/* A hostile or broken peer (a DEALER made here with czmq) sends garbage,
 * truncated, multi-frame, oversized and out-of-place messages and a wrong
 * protocol version while real workers run a sweep: the coordinator drops
 * them, refuses the wrong version with a clear reason, and the sweep
 * completes with the same report as an undisturbed one. */
#include <czmq.h>

#include "bt_wire.h"
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "sweep-garbage");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void) { bt_proc_kill_all(); }

TestSuite(sweep_garbage, .init = s_setup, .fini = s_teardown, .timeout = 120);

static void s_send_bytes(zsock_t *s, const void *data, size_t len)
{
    zframe_t *fr = zframe_new(data, len);
    cr_assert_eq(zframe_send(&fr, s, 0), 0);
}

static void s_encode(bt_msg_t *m, bt_wire_buf_t *buf)
{
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_encode(m, buf, &eb), BT_OK, "%s", eb.msg);
}

Test(sweep_garbage, coordinator_survives_bad_peers)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "g", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    /* 100 ms per job: the sweep (55 jobs, ~2.8 s) must outlast the bad
     * peers below, or the v2 HELLO finds the coordinator already gone. */
    sfx_start_worker(&f, ep, "w1", 100);
    sfx_start_worker(&f, ep, "w2", 100);
    sfx_wait_progress(&f, "g", 1);

    bt_wire_buf_t buf;
    bt_wire_buf_init(&buf);
    bt_msg_t m;
    bt_msg_init(&m);

    /* 1. An anonymous peer: garbage, empty, truncated, multi-frame, a message
     * out of place (RESULT before HELLO), and one over the size cap. */
    zsock_t *evil = zsock_new_dealer(ep);
    cr_assert(evil);
    zsock_set_linger(evil, 0);
    unsigned char junk[200];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 37u + 11u);
    s_send_bytes(evil, junk, sizeof junk);
    s_send_bytes(evil, "", 0);
    bt_msg_reset(&m, BT_MSG_HELLO);
    snprintf(m.hello.name, sizeof m.hello.name, "evil");
    m.hello.threads = 1;
    snprintf(m.hello.bt_version, sizeof m.hello.bt_version, "0.0");
    s_encode(&m, &buf);
    for (size_t cut = 1; cut < buf.len; cut += 3)
        s_send_bytes(evil, buf.data, cut); /* truncated HELLOs */
    zmsg_t *multi = zmsg_new();
    zmsg_addmem(multi, buf.data, buf.len);
    zmsg_addmem(multi, buf.data, buf.len);
    cr_assert_eq(zmsg_send(&multi, evil), 0);
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.job_id = 3;
    m.result.attempt = 1;
    m.result.status = BT_JOB_OK;
    m.result.has_metrics = true;
    s_encode(&m, &buf);
    s_send_bytes(evil, buf.data, buf.len); /* RESULT with no HELLO: must not count */
    size_t big = (size_t)BT_WIRE_MSG_MAX + 16;
    char *huge = calloc(1, big);
    cr_assert(huge);
    huge[0] = (char)0x82;
    s_send_bytes(evil, huge, big); /* over the cap: the socket drops this peer */
    free(huge);

    /* 2. A worker speaking protocol v2: {"t": "HELLO", "v": 2} -> REFUSE. */
    zsock_t *future = zsock_new_dealer(ep);
    cr_assert(future);
    zsock_set_linger(future, 0);
    zsock_set_rcvtimeo(future, 10000);
    const unsigned char v2[] = {0x82, 0xa1, 't', 0xa5, 'H', 'E', 'L', 'L', 'O', 0xa1, 'v', 0x02};
    s_send_bytes(future, v2, sizeof v2);
    zframe_t *reply = zframe_recv(future);
    cr_assert(reply, "no answer to a v2 HELLO");
    bt_msg_t in;
    bt_msg_init(&in);
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_decode(zframe_data(reply), zframe_size(reply), &in, &eb), BT_OK, "%s",
                 eb.msg);
    cr_assert_eq(in.type, BT_MSG_REFUSE);
    cr_assert(strstr(in.refuse.reason, "v1") && strstr(in.refuse.reason, "v2"), "reason: %s",
              in.refuse.reason);
    zframe_destroy(&reply);

    /* 3. A peer that says a proper HELLO, takes jobs, then answers nonsense:
     * a RESULT for a job id out of range, a JOB (coordinators send those),
     * garbage. Its leases expire and go to the real workers. */
    zsock_t *liar = zsock_new_dealer(ep);
    cr_assert(liar);
    zsock_set_linger(liar, 0);
    zsock_set_rcvtimeo(liar, 10000);
    bt_msg_reset(&m, BT_MSG_HELLO);
    snprintf(m.hello.name, sizeof m.hello.name, "liar");
    m.hello.threads = 1;
    snprintf(m.hello.bt_version, sizeof m.hello.bt_version, "%s", BT_VERSION);
    s_encode(&m, &buf);
    s_send_bytes(liar, buf.data, buf.len);
    reply = zframe_recv(liar);
    cr_assert(reply, "no WELCOME");
    cr_assert_eq(bt_wire_decode(zframe_data(reply), zframe_size(reply), &in, &eb), BT_OK);
    cr_assert_eq(in.type, BT_MSG_WELCOME);
    zframe_destroy(&reply);
    bt_msg_reset(&m, BT_MSG_CREDIT);
    m.credit.credit = 4;
    s_encode(&m, &buf);
    s_send_bytes(liar, buf.data, buf.len);
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.job_id = UINT64_MAX;
    m.result.attempt = 1;
    m.result.status = BT_JOB_OK;
    m.result.has_metrics = true;
    s_encode(&m, &buf);
    s_send_bytes(liar, buf.data, buf.len);
    bt_wire_job_t job = {.id = 0, .attempt = 1, .nover = 0, .over = NULL};
    bt_msg_reset(&m, BT_MSG_JOB);
    m.job.jobs = &job;
    m.job.njobs = 1;
    s_encode(&m, &buf);
    s_send_bytes(liar, buf.data, buf.len);
    s_send_bytes(liar, junk, 17);

    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see g.log)");
    sfx_assert_same_report(&f, "ref", "g");
    cr_assert(sfx_log_has(&f, "g", "dropped a malformed message"));
    cr_assert(sfx_log_has(&f, "g", "protocol version mismatch"));
    cr_assert(sfx_log_has(&f, "g", "dropped RESULT from liar: job id out of range"));
    cr_assert(sfx_log_has(&f, "g", "dropped JOB from liar"));
    cr_assert(sfx_log_has(&f, "g", "malformed or unexpected message(s) were dropped"));

    bt_msg_fini(&in);
    bt_msg_fini(&m);
    bt_wire_buf_fini(&buf);
    zsock_destroy(&evil);
    zsock_destroy(&future);
    zsock_destroy(&liar);
}
