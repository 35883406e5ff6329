/* Results count only from the worker a job was leased to. Forging peers,
 * written here with czmq and the wire codec, say a proper HELLO and then
 * send "ok" results with absurd metrics and "failed" results for jobs they
 * do not hold (never leased, leased to a real worker, made-up attempts); one
 * takes a batch, answers for other jobs and leaves. The report must equal an
 * undisturbed run's, and the coordinator says what it dropped. A real
 * worker stopped past its lease and continued rejoins under its identity
 * and is counted once. */
#include <czmq.h>
#include <signal.h>

#include "bt_build.h"
#include "bt_metrics.h"
#include "bt_wire.h"
#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "trust");
    cr_assert_eq(sfx_sweep_local(&f, "ref", 1), 0, "reference sweep failed");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(trust, .init = s_setup, .fini = s_teardown, .timeout = 150);

typedef struct {
    zsock_t *sock;
    bt_msg_t m, in;
    bt_wire_buf_t buf;
    bt_metrics_t metrics;
} s_forger_t;

static void s_send(s_forger_t *p)
{
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_encode(&p->m, &p->buf, &eb), BT_OK, "%s", eb.msg);
    zframe_t *fr = zframe_new(p->buf.data, p->buf.len);
    cr_assert_eq(zframe_send(&fr, p->sock, 0), 0);
}

/* Receives until a message of type t arrives (others skipped). */
static void s_recv_type(s_forger_t *p, bt_msg_type_t t)
{
    for (;;) {
        zframe_t *fr = zframe_recv(p->sock);
        cr_assert(fr, "no %s from the coordinator", bt_msg_type_name(t));
        bt_errbuf_t eb;
        bt_err_t rc = bt_wire_decode(zframe_data(fr), zframe_size(fr), &p->in, &eb);
        zframe_destroy(&fr);
        cr_assert_eq(rc, BT_OK, "%s", eb.msg);
        if (p->in.type == t)
            return;
    }
}

static void s_forger_join(s_forger_t *p, const char *ep, const char *name)
{
    memset(p, 0, sizeof *p);
    bt_msg_init(&p->m);
    bt_msg_init(&p->in);
    bt_wire_buf_init(&p->buf);
#define S_BIG(name, desc) p->metrics.name = 1e6; /* would top any ranking */
    BT_METRICS(S_BIG)
#undef S_BIG
    p->sock = zsock_new_dealer(ep);
    cr_assert(p->sock);
    zsock_set_linger(p->sock, 0);
    zsock_set_rcvtimeo(p->sock, 20000);
    bt_msg_reset(&p->m, BT_MSG_HELLO);
    snprintf(p->m.hello.name, sizeof p->m.hello.name, "%s", name);
    p->m.hello.threads = 1;
    snprintf(p->m.hello.bt_version, sizeof p->m.hello.bt_version, "%s", BT_VERSION);
    s_send(p);
    s_recv_type(p, BT_MSG_WELCOME);
    s_recv_type(p, BT_MSG_SWEEP);
}

static void s_forge(s_forger_t *p, uint64_t id, uint32_t attempt, bool ok)
{
    bt_msg_reset(&p->m, BT_MSG_RESULT);
    bt_msg_result_t *r = &p->m.result;
    r->job_id = id;
    r->attempt = attempt;
    r->status = ok ? BT_JOB_OK : BT_JOB_FAILED;
    if (!ok)
        snprintf(r->error, sizeof r->error, "forged failure");
    r->has_metrics = ok;
    r->metrics = p->metrics;
    r->run_us = 1;
    r->bars = 1;
    s_send(p);
}

/* Forged ok and failed results, attempts 0..3, for every job not in skip. */
static void s_forge_all(s_forger_t *p, const uint64_t *skip, size_t nskip)
{
    for (uint64_t id = 0; id < SFX_NJOBS; id++) {
        bool held = false;
        for (size_t k = 0; k < nskip; k++)
            held = held || skip[k] == id;
        if (held)
            continue;
        for (uint32_t a = 0; a <= 3; a++) {
            s_forge(p, id, a, true);
            s_forge(p, id, a, false);
        }
    }
}

static void s_forger_fini(s_forger_t *p)
{
    zsock_destroy(&p->sock);
    bt_msg_fini(&p->m);
    bt_msg_fini(&p->in);
    bt_wire_buf_fini(&p->buf);
}

Test(trust, forged_results_do_not_change_the_report)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "forged", "tcp://127.0.0.1:*", false, ep, sizeof ep);

    /* 1. Before any worker: every job is unleased. */
    s_forger_t a;
    s_forger_join(&a, ep, "forger-a");
    s_forge_all(&a, NULL, 0);

    /* 2. A forger that takes a batch, answers for every other job, leaves. */
    s_forger_t b;
    s_forger_join(&b, ep, "forger-b");
    bt_msg_reset(&b.m, BT_MSG_CREDIT);
    b.m.credit.credit = 1; /* one job: it holds exactly what the JOB names */
    s_send(&b);
    s_recv_type(&b, BT_MSG_JOB);
    uint64_t held[BT_WIRE_JOBS_MAX] = {0};
    size_t nheld = b.in.job.njobs;
    cr_assert_eq(nheld, 1);
    for (size_t i = 0; i < nheld; i++)
        held[i] = b.in.job.jobs[i].id;
    s_forge_all(&b, held, nheld);
    bt_msg_reset(&b.m, BT_MSG_BYE);
    snprintf(b.m.bye.reason, sizeof b.m.bye.reason, "forger leaves");
    s_send(&b);

    /* 3. Real workers run the sweep; meanwhile a forges again, now against
     * jobs leased to them. */
    sfx_start_worker(&f, ep, "w1", 60);
    sfx_start_worker(&f, ep, "w2", 60);
    sfx_wait_progress(&f, "forged", 1);
    s_forge_all(&a, NULL, 0);

    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see forged.log)");
    sfx_assert_same_report(&f, "ref", "forged");
    cr_assert(sfx_log_has(&f, "forged",
                          "dropped RESULT from forger-a: a job (attempt) that was not leased"));
    cr_assert(sfx_log_has(&f, "forged",
                          "dropped RESULT from forger-b: a job (attempt) that was not leased"));
    char sum[400];
    snprintf(sum, sizeof sum, "%s/forged/summary.txt", f.dir);
    char *text = bt_proc_slurp(sum, NULL);
    cr_assert(text && strstr(text, "failed"), "no summary");
    cr_assert(!strstr(text, "1000000"), "a forged metric reached the summary");
    free(text);
    s_forger_fini(&a);
    s_forger_fini(&b);
}

Test(trust, stopped_worker_rejoins_and_is_counted_once)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "rejoin", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    pid_t w1 = sfx_start_worker(&f, ep, "w1", 60);
    sfx_start_worker(&f, ep, "w2", 60);
    sfx_wait_progress(&f, "rejoin", 1);
    cr_assert_eq(kill(w1, SIGSTOP), 0);
    char log[400];
    snprintf(log, sizeof log, "%s/rejoin.log", f.dir);
    cr_assert(bt_proc_wait_text(log, "worker w1 silent", 30000, NULL, 0), "w1 never timed out");
    cr_assert_eq(kill(w1, SIGCONT), 0);
    cr_assert(bt_proc_wait_text(log, "worker w1 rejoined", 30000, NULL, 0),
              "w1 did not rejoin under its identity (see rejoin.log)");
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see rejoin.log)");
    sfx_assert_same_report(&f, "ref", "rejoin");
    char sum[400];
    snprintf(sum, sizeof sum, "%s/rejoin/summary.txt", f.dir);
    char *text = bt_proc_slurp(sum, NULL);
    cr_assert(text && strstr(text, "workers seen:  2\n"), "summary:\n%s", text ? text : "");
    free(text);
}

/* A worker of another build (its HELLO's "bid") is refused, and both sides
 * name both build ids. */
Test(trust, other_build_is_refused_naming_both_ids)
{
    char ep[256];
    pid_t coord = sfx_start_coord(&f, "build", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    s_forger_t p;
    memset(&p, 0, sizeof p);
    bt_msg_init(&p.m);
    bt_msg_init(&p.in);
    bt_wire_buf_init(&p.buf);
    p.sock = zsock_new_dealer(ep);
    cr_assert(p.sock);
    zsock_set_linger(p.sock, 0);
    zsock_set_rcvtimeo(p.sock, 20000);
    bt_msg_reset(&p.m, BT_MSG_HELLO);
    snprintf(p.m.hello.name, sizeof p.m.hello.name, "oldbuild");
    p.m.hello.threads = 1;
    snprintf(p.m.hello.bt_version, sizeof p.m.hello.bt_version, "%s", BT_VERSION);
    p.m.hello.has_build = true;
    const char *other = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    snprintf(p.m.hello.build_id, sizeof p.m.hello.build_id, "%s", other);
    s_send(&p);
    s_recv_type(&p, BT_MSG_REFUSE);
    cr_assert(strstr(p.in.refuse.reason, other), "%s", p.in.refuse.reason);
    cr_assert(strstr(p.in.refuse.reason, bt_build_id()), "%s", p.in.refuse.reason);
    cr_assert(sfx_log_has(&f, "build", "worker oldbuild refused: different build"));
    sfx_start_worker(&f, ep, "w1", 0); /* same build: runs the sweep */
    cr_assert_eq(bt_proc_wait(coord, 90000), 0, "coordinator failed (see build.log)");
    sfx_assert_same_report(&f, "ref", "build");
    s_forger_fini(&p);
}
