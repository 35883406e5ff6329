/* Nothing waits for ever: a busy worker sent SIGTERM says BYE and its jobs
 * go back at once; a worker whose coordinator is gone exits; a coordinator
 * no worker can serve gives up with a partial report and a resume hint; a
 * peer that takes jobs and sits on them while heartbeating loses them after
 * --job-timeout. Bounds are generous (no timing assertions): each only
 * proves that something happened rather than nothing. */
#include <czmq.h>
#include <signal.h>

#include "bt_wire.h"
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "liveness");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(liveness, .init = s_setup, .fini = s_teardown, .timeout = 150);

/* Like sfx_start_coord with a long lease (10 s), so jobs that come back
 * early came back because of a BYE or a job timeout, not lease expiry. */
static pid_t s_coord(const char *out, char *ep, size_t cap, const char *extra1, const char *extra2)
{
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, out);
    snprintf(log, sizeof log, "%s.log", odir);
    char *argv[] = {f.bt,         "sweep",        f.cfg,
                    "--out",      odir,           "--workers",
                    "0",          "--bind",       "tcp://127.0.0.1:*",
                    "--lease-ms", "10000",        "--heartbeat-ms",
                    "100",        (char *)extra1, (char *)extra2,
                    NULL};
    pid_t pid = bt_proc_spawn(argv, log);
    cr_assert(pid > 0);
    cr_assert(bt_proc_wait_text(log, "listening on ", 30000, ep, cap), "no endpoint");
    return pid;
}

Test(liveness, sigterm_to_a_busy_worker_hands_its_jobs_back)
{
    char ep[256], log[400];
    pid_t coord = s_coord("term", ep, sizeof ep, NULL, NULL);
    snprintf(log, sizeof log, "%s/term.log", f.dir);
    pid_t slow = sfx_start_worker(&f, ep, "slow", 20000); /* one job takes 20 s */
    cr_assert(bt_proc_wait_text(log, "worker slow joined", 30000, NULL, 0));
    sfx_start_worker(&f, ep, "w2", 30);
    sfx_wait_progress(&f, "term", 1); /* both hold work by now */
    cr_assert_eq(kill(slow, SIGTERM), 0);
    /* Generous: a worker that waited for its 20 s job would fail this. */
    cr_assert_eq(bt_proc_wait(slow, 10000), 1, "the busy worker did not leave on SIGTERM");
    char n[64];
    cr_assert(
        bt_proc_wait_text(log, "worker slow worker stopped by a signal; ", 30000, n, sizeof n),
        "the coordinator did not hear the BYE (see term.log)");
    cr_assert(strstr(n, " job(s) go back to the queue") && n[0] != '0', "%s", n);
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see term.log)");
    sfx_assert_same_report(&f, "ref", "term");
    cr_assert(!sfx_log_has(&f, "term", "expired lease"), "jobs came back by expiry, not BYE");
}

Test(liveness, worker_exits_when_the_coordinator_is_gone)
{
    char ep[256];
    char *argv[] = {f.bt,         "sweep",  f.cfg,
                    "--out",      NULL,     "--workers",
                    "0",          "--bind", "tcp://127.0.0.1:*",
                    "--lease-ms", "1000",   "--heartbeat-ms",
                    "100",        NULL};
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, "gone");
    snprintf(log, sizeof log, "%s.log", odir);
    argv[4] = odir;
    pid_t coord = bt_proc_spawn(argv, log);
    cr_assert(bt_proc_wait_text(log, "listening on ", 30000, ep, sizeof ep));
    pid_t w = sfx_start_worker(&f, ep, "orphan", 200);
    sfx_wait_progress(&f, "gone", 1);
    /* bt status: running while it runs, GONE once it is killed. */
    char slog[400];
    snprintf(slog, sizeof slog, "%s/status-live.log", f.dir);
    char *st[] = {f.bt, "status", odir, NULL};
    char sjson[400];
    snprintf(sjson, sizeof sjson, "%s/status.json", odir);
    cr_assert(bt_proc_wait_text(sjson, "\"host\": \"orphan\"", 30000, NULL, 0));
    cr_assert_eq(bt_proc_run(st, slog, 30000), 0, "see status-live.log");
    cr_assert(sfx_log_has(&f, "status-live", "\"host\": \"orphan\""));
    cr_assert(sfx_log_has(&f, "status-live", "coordinator: running"));
    cr_assert_eq(kill(coord, SIGKILL), 0);
    bt_proc_wait(coord, 10000);
    snprintf(slog, sizeof slog, "%s/status-dead.log", f.dir);
    cr_assert_eq(bt_proc_run(st, slog, 30000), 1, "see status-dead.log");
    cr_assert(sfx_log_has(&f, "status-dead", "coordinator: GONE"));
    /* 3 leases = 3 s; --idle-exit is 60 s, so this is the coordinator-gone rule. */
    cr_assert_eq(bt_proc_wait(w, 40000), 1, "the worker stayed after its coordinator died");
    /* Gone: silent for 3 leases, or its port already serves another sweep. */
    cr_assert(sfx_log_has(&f, "orphan", "is gone: "));
    cr_assert(!sfx_log_has(&f, "orphan", "coordinator says bye"));
}

Test(liveness, coordinator_without_able_workers_gives_up)
{
    char odir[320], log[340];
    sfx_path(odir, sizeof odir, &f, "idle");
    snprintf(log, sizeof log, "%s.log", odir);
    char *argv[] = {f.bt, "sweep",          f.cfg, "--out", odir, "--workers",
                    "0",  "--idle-timeout", "2",   NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 1);
    cr_assert(sfx_log_has(&f, "idle", "no worker could run the sweep for 2 s"));
    cr_assert(sfx_log_has(&f, "idle", "continue with: bt sweep"));
    cr_assert(sfx_log_has(&f, "idle", "--idle-timeout 2 --resume"));
    char sum[400];
    snprintf(sum, sizeof sum, "%s/summary.txt", odir);
    cr_assert(access(sum, F_OK) == 0, "no partial report");
}

Test(liveness, a_peer_sitting_on_jobs_loses_them_after_the_job_timeout)
{
    char ep[256], log[400];
    pid_t coord = s_coord("sit", ep, sizeof ep, "--job-timeout", "2");
    snprintf(log, sizeof log, "%s/sit.log", f.dir);
    zsock_t *p = zsock_new_dealer(ep);
    cr_assert(p);
    zsock_set_linger(p, 0);
    zsock_set_rcvtimeo(p, 200);
    bt_wire_buf_t buf;
    bt_wire_buf_init(&buf);
    bt_msg_t m;
    bt_msg_init(&m);
    bt_errbuf_t eb;
    bt_msg_reset(&m, BT_MSG_HELLO);
    snprintf(m.hello.name, sizeof m.hello.name, "sitter");
    m.hello.threads = 1;
    snprintf(m.hello.bt_version, sizeof m.hello.bt_version, "%s", BT_VERSION);
    cr_assert_eq(bt_wire_encode(&m, &buf, &eb), BT_OK);
    zframe_t *fr = zframe_new(buf.data, buf.len);
    zframe_send(&fr, p, 0);
    bt_msg_reset(&m, BT_MSG_CREDIT);
    m.credit.credit = 8;
    cr_assert_eq(bt_wire_encode(&m, &buf, &eb), BT_OK);
    fr = zframe_new(buf.data, buf.len);
    zframe_send(&fr, p, 0);
    cr_assert(bt_proc_wait_text(log, "worker sitter joined", 30000, NULL, 0));
    sfx_start_worker(&f, ep, "w1", 30);
    /* Heartbeat (and read, and drop) until the coordinator ends. */
    int rc = -1;
    for (int i = 0; i < 600 && rc == -1; i++) {
        bt_msg_reset(&m, BT_MSG_HEARTBEAT);
        m.heartbeat.seq = (uint64_t)i;
        cr_assert_eq(bt_wire_encode(&m, &buf, &eb), BT_OK);
        fr = zframe_new(buf.data, buf.len);
        zframe_send(&fr, p, 0);
        zframe_t *in = zframe_recv(p); /* waits up to 200 ms */
        zframe_destroy(&in);
        rc = bt_proc_wait(coord, 0);
    }
    cr_assert_eq(rc, 0, "coordinator failed or hung (see sit.log)");
    sfx_assert_same_report(&f, "ref", "sit");
    cr_assert(sfx_log_has(&f, "sit", "worker sitter returned no result for"));
    bt_msg_fini(&m);
    bt_wire_buf_fini(&buf);
    zsock_destroy(&p);
}

/* The port of a coordinator that welcomed the worker is taken by another
 * coordinator (here a bare ROUTER that answers the worker's next HELLO with
 * a REFUSE, as one of another build does): the worker's own coordinator is
 * gone, and the worker says so and exits 1 like the silence rule. */
static void s_router_send(zsock_t *r, zframe_t *id, bt_msg_t *m)
{
    bt_wire_buf_t buf;
    bt_wire_buf_init(&buf);
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_encode(m, &buf, &eb), BT_OK, "%s", eb.msg);
    zframe_t *idc = zframe_dup(id);
    cr_assert_eq(zframe_send(&idc, r, ZFRAME_MORE), 0);
    zframe_t *body = zframe_new(buf.data, buf.len);
    cr_assert_eq(zframe_send(&body, r, 0), 0);
    bt_wire_buf_fini(&buf);
}

/* Receives until a HELLO arrives; returns the sender's identity frame. */
static zframe_t *s_router_hello(zsock_t *r, bt_msg_t *in)
{
    for (;;) {
        zframe_t *id = zframe_recv(r);
        cr_assert(id, "no HELLO from the worker");
        zframe_t *body = zframe_recv(r);
        cr_assert(body);
        bt_errbuf_t eb;
        bt_err_t rc = bt_wire_decode(zframe_data(body), zframe_size(body), in, &eb);
        zframe_destroy(&body);
        if (rc == BT_OK && in->type == BT_MSG_HELLO)
            return id;
        zframe_destroy(&id);
    }
}

Test(liveness, refused_after_a_welcome_means_the_coordinator_is_gone)
{
    zsock_t *r = zsock_new_router("tcp://127.0.0.1:*");
    cr_assert(r);
    zsock_set_rcvtimeo(r, 20000);
    zsock_set_linger(r, 0);
    char ep[256];
    snprintf(ep, sizeof ep, "%s", zsock_endpoint(r));
    pid_t w = sfx_start_worker(&f, ep, "replaced", 0);
    bt_msg_t in, out;
    bt_msg_init(&in);
    bt_msg_init(&out);
    zframe_t *id = s_router_hello(r, &in);
    bt_msg_reset(&out, BT_MSG_WELCOME);
    snprintf(out.welcome.sweep_id, sizeof out.welcome.sweep_id, "ours");
    out.welcome.heartbeat_ms = 100;
    out.welcome.lease_ms = 5000;
    s_router_send(r, id, &out);
    zframe_destroy(&id);
    zsock_destroy(&r); /* our coordinator dies; another takes its port */
    for (int i = 0; i < 100 && !(r = zsock_new_router(ep)); i++)
        zclock_sleep(50); /* the old socket closes in the background */
    cr_assert(r, "could not bind %s again", ep);
    zsock_set_rcvtimeo(r, 20000);
    zsock_set_linger(r, 0);
    id = s_router_hello(r, &in);
    bt_msg_reset(&out, BT_MSG_REFUSE);
    snprintf(out.refuse.reason, sizeof out.refuse.reason, "different build: a test's refusal");
    s_router_send(r, id, &out);
    zframe_destroy(&id);
    cr_assert_eq(bt_proc_wait(w, 20000), 1, "the worker did not exit 1 (see replaced.log)");
    cr_assert(sfx_log_has(&f, "replaced", "is gone: that endpoint now refuses this worker"));
    zsock_destroy(&r);
    bt_msg_fini(&in);
    bt_msg_fini(&out);
}
