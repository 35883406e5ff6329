#include "bt_server.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_buf.h"
#include "bt_log.h"
#include "bt_ship.h"
#include "bt_time.h"
#include "bt_wire.h"

#define S_POLL_MS 50          /* loop tick when nothing arrives */
#define S_BURST 4096          /* messages handled before a group commit */
#define S_PIPELINE 2          /* batches kept in flight per worker */
#define S_PEERS_MAX 65536     /* live peers at most */
#define S_ACKS_MAX (1u << 20) /* results of one peer waiting for a commit */

static volatile sig_atomic_t s_signal;

static void s_on_signal(int sig)
{
    s_signal = sig;
}

typedef struct {
    zframe_t *id; /* ROUTER routing id */
    char name[BT_WIRE_NAME_MAX + 1];
    uint32_t slot;      /* bt_sched worker slot */
    bool ready;         /* got SWEEP and announced credit */
    uint64_t credit;    /* jobs it can still take */
    int64_t last_heard; /* ms */
    bt_buf_t acks_buf;  /* results waiting for the next commit: uint64 job ids */
    uint64_t *acks;     /* view of acks_buf */
    size_t nacks;
    unsigned logged; /* bit per message kind already logged as bad */
    bool logged_malformed;
} s_peer_t;

struct bt_server {
    bt_server_opts_t opts;
    const bt_server_sweep_t *sweep; /* during a run */
    bt_sched_t *sched;              /* during a run */
    const bt_server_hooks_t *hooks; /* during a run */
    bt_server_stats_t stats;
    zsock_t *router;
    zpoller_t *poller;
    char endpoint[256];
    bt_buf_t peers_buf; /* live peers (s_peer_t), capped */
    s_peer_t *peers;    /* view of peers_buf */
    size_t npeers;
    bt_msg_t in, out;
    bt_wire_buf_t buf;
    bt_wire_job_t *jobs;      /* BT_SCHED_BATCH_MAX */
    bt_wire_override_t *over; /* BT_SCHED_BATCH_MAX * max_overrides */
    uint64_t *lease_ids;
    uint32_t *lease_attempts;
    bool dirty;              /* results handed over since the last commit */
    unsigned logged_unknown; /* kinds from unknown peers already logged */
    bool logged_unknown_malformed;
    int64_t t_start, last_hb, last_progress;
    uint64_t done_at_start; /* ok + failed when the run started */
    bool progress_shown;
};
typedef struct bt_server s_coord_t;

/* ---- peers ---- */

static s_peer_t *s_peer_find(s_coord_t *c, zframe_t *id)
{
    for (size_t i = 0; i < c->npeers; i++)
        if (zframe_eq(c->peers[i].id, id))
            return &c->peers[i];
    return NULL;
}

static s_peer_t *s_peer_add(s_coord_t *c, zframe_t *id)
{
    if (bt_buf_reserve(&c->peers_buf, sizeof(s_peer_t)) != BT_OK)
        return NULL; /* more peers than S_PEERS_MAX: this one is ignored */
    c->peers_buf.len += sizeof(s_peer_t);
    c->peers = (s_peer_t *)(void *)c->peers_buf.data;
    s_peer_t *p = &c->peers[c->npeers++];
    memset(p, 0, sizeof *p);
    bt_buf_init(&p->acks_buf, S_ACKS_MAX * sizeof(uint64_t));
    p->id = zframe_dup(id);
    return p;
}

static void s_peer_remove(s_coord_t *c, s_peer_t *p)
{
    zframe_destroy(&p->id);
    bt_buf_fini(&p->acks_buf);
    size_t i = (size_t)(p - c->peers);
    c->peers[i] = c->peers[--c->npeers];
    c->peers_buf.len -= sizeof(s_peer_t);
}

static void s_id_hex(zframe_t *id, char *out, size_t cap)
{
    const unsigned char *d = zframe_data(id);
    size_t n = zframe_size(id), k = 0;
    for (size_t i = 0; i < n && k + 3 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%02x", d[i]);
    out[k] = '\0';
}

/* ---- sending ---- */

static void s_send_to(s_coord_t *c, zframe_t *id)
{
    bt_errbuf_t eb;
    if (bt_wire_encode(&c->out, &c->buf, &eb) != BT_OK) {
        bt_log(BT_LOG_ERROR, "cannot encode %s: %s", bt_msg_type_name(c->out.type), eb.msg);
        return;
    }
    zframe_t *idf = zframe_dup(id);
    zframe_t *body = zframe_new(c->buf.data, c->buf.len);
    if (!idf || !body) {
        zframe_destroy(&idf);
        zframe_destroy(&body);
        return;
    }
    /* A peer that went away makes these fail (ROUTER_MANDATORY): nothing to do. */
    if (zframe_send(&idf, c->router, ZFRAME_MORE | ZFRAME_DONTWAIT) != 0) {
        zframe_destroy(&idf);
        zframe_destroy(&body);
        return;
    }
    if (zframe_send(&body, c->router, ZFRAME_DONTWAIT) != 0)
        zframe_destroy(&body);
}

static void s_send_reason(s_coord_t *c, zframe_t *id, bt_msg_type_t t, const char *reason)
{
    bt_msg_reset(&c->out, t);
    bt_msg_reason_t *r = t == BT_MSG_REFUSE ? &c->out.refuse : &c->out.bye;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    s_send_to(c, id);
}

/* ---- bad input: counted, logged once per peer and kind, dropped ---- */

static void s_bad(s_coord_t *c, s_peer_t *p, bt_msg_type_t kind, const char *what)
{
    c->stats.bad_messages++;
    unsigned bit = 1u << ((unsigned)kind & 31u);
    unsigned *logged = p ? &p->logged : &c->logged_unknown;
    if (*logged & bit)
        return;
    *logged |= bit;
    bt_log(BT_LOG_WARN, "dropped %s from %s: %s (further ones from it are only counted)",
           bt_msg_type_name(kind), p ? p->name : "an unknown peer", what);
}

static void s_malformed(s_coord_t *c, s_peer_t *p, const char *what)
{
    c->stats.bad_messages++;
    bool *logged = p ? &p->logged_malformed : &c->logged_unknown_malformed;
    if (*logged)
        return;
    *logged = true;
    bt_log(BT_LOG_WARN, "dropped a malformed message from %s: %s (further ones are only counted)",
           p ? p->name : "an unknown peer", what);
}

/* ---- handlers ---- */

static void s_worker_gone(s_coord_t *c, s_peer_t *p, const char *why)
{
    size_t n = bt_sched_worker_lost(c->sched, p->slot);
    bt_log(BT_LOG_INFO, "worker %s %s; %zu job(s) go back to the queue", p->name, why, n);
    s_peer_remove(c, p);
}

static void s_on_hello(s_coord_t *c, zframe_t *id, s_peer_t *p, int64_t now)
{
    const bt_msg_hello_t *h = &c->in.hello;
    if (p) {
        /* Same socket says HELLO again (its WELCOME was lost?): start over. */
        bt_sched_worker_lost(c->sched, p->slot);
        s_peer_remove(c, p);
    }
    p = s_peer_add(c, id);
    if (!p)
        return;
    snprintf(p->name, sizeof p->name, "%s", h->name);
    p->slot = bt_sched_worker_add(c->sched, now);
    if (p->slot == BT_SCHED_NO_WORKER) {
        bt_log(BT_LOG_ERROR, "worker %s ignored: no room for another worker", h->name);
        s_peer_remove(c, p);
        return;
    }
    p->last_heard = now;
    c->stats.workers_seen++;
    bt_msg_reset(&c->out, BT_MSG_WELCOME);
    snprintf(c->out.welcome.sweep_id, sizeof c->out.welcome.sweep_id, "%.16s",
             c->sweep->config_sha);
    c->out.welcome.heartbeat_ms = c->opts.heartbeat_ms;
    c->out.welcome.lease_ms = c->opts.lease_ms;
    s_send_to(c, id);
    bt_msg_reset(&c->out, BT_MSG_SWEEP);
    bt_msg_sweep_t *sw = &c->out.sweep;
    sw->yaml = c->sweep->yaml;
    sw->yaml_len = c->sweep->yaml_len;
    sw->sets = c->sweep->sets;
    sw->nsets = (uint32_t)c->sweep->nsets;
    sw->mcols = c->sweep->mcols;
    sw->nmcols = (uint32_t)c->sweep->nmcols;
    snprintf(sw->config_sha256, sizeof sw->config_sha256, "%s", c->sweep->config_sha);
    snprintf(sw->store_path, sizeof sw->store_path, "%s", c->sweep->store_path);
    snprintf(sw->data_hash, sizeof sw->data_hash, "%s", c->sweep->data_hash);
    if (c->sweep->ship)
        bt_ship_sweep_manifests(c->sweep->ship, &c->out);
    s_send_to(c, id);
    bt_log(BT_LOG_INFO, "worker %s joined (%u thread(s), bt %s)", p->name, h->threads,
           h->bt_version);
}

static void s_on_result(s_coord_t *c, s_peer_t *p, int64_t now)
{
    const bt_msg_result_t *r = &c->in.result;
    bool ok = r->status == BT_JOB_OK;
    bt_sched_outcome_t oc = bt_sched_complete(c->sched, p->slot, r->job_id, r->attempt, ok, now);
    if (oc == BT_SCHED_INVALID) {
        s_bad(c, p, BT_MSG_RESULT, "job id out of range");
        return;
    }
    if (oc == BT_SCHED_NEW || oc == BT_SCHED_FAILED) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        if (c->hooks->result(c->hooks->user, p->name, r, &eb) != BT_OK) {
            bt_log(BT_LOG_ERROR, "%s", eb.msg);
            return; /* not acked: the result was not kept */
        }
        c->dirty = true;
        if (!ok)
            bt_log(BT_LOG_WARN, "job %llu failed after %u attempt(s): %s",
                   (unsigned long long)r->job_id, r->attempt, r->error);
    } else if (oc == BT_SCHED_RETRY) {
        bt_log(BT_LOG_INFO, "job %llu attempt %u failed on %s, will retry: %s",
               (unsigned long long)r->job_id, r->attempt, p->name, r->error);
    }
    if (bt_buf_append(&p->acks_buf, &r->job_id, sizeof r->job_id) != BT_OK)
        return; /* over the cap: not acked, the worker keeps it (harmless) */
    p->acks = (uint64_t *)(void *)p->acks_buf.data;
    p->nacks++;
}

/* Receives and handles one message. */
static void s_on_message(s_coord_t *c, int64_t now)
{
    zmsg_t *msg = zmsg_recv(c->router);
    if (!msg)
        return;
    zframe_t *id = zmsg_pop(msg);
    s_peer_t *p = id ? s_peer_find(c, id) : NULL;
    if (!id || zmsg_size(msg) != 1) {
        s_malformed(c, p, "not exactly one frame");
        goto done;
    }
    zframe_t *body = zmsg_first(msg);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t rc = bt_wire_decode(zframe_data(body), zframe_size(body), &c->in, &eb);
    if (rc == BT_EVERSION) {
        c->stats.bad_messages++;
        char why[256];
        snprintf(why, sizeof why,
                 "protocol version mismatch: this coordinator speaks v%u, the worker v%u; "
                 "install the same bt version on both sides",
                 BT_WIRE_VERSION, c->in.version);
        char hex[80];
        s_id_hex(id, hex, sizeof hex);
        if (!p || !p->logged_malformed)
            bt_log(BT_LOG_WARN, "refused peer %s: %s", p ? p->name : hex, why);
        s_send_reason(c, id, BT_MSG_REFUSE, why);
        if (p) {
            s_worker_gone(c, p, "refused (protocol version)");
            p = NULL;
        }
        goto done;
    }
    if (rc != BT_OK) {
        s_malformed(c, p, eb.msg);
        goto done;
    }
    bt_msg_type_t t = c->in.type;
    if (t == BT_MSG_HELLO) {
        s_on_hello(c, id, p, now);
        goto done;
    }
    if (!p) {
        s_bad(c, NULL, t,
              "not preceded by HELLO (a worker of an earlier coordinator? it will reconnect)");
        goto done;
    }
    p->last_heard = now;
    bt_sched_heartbeat(c->sched, p->slot, now);
    switch (t) {
    case BT_MSG_RESULT:
        s_on_result(c, p, now);
        break;
    case BT_MSG_CREDIT:
        p->credit += c->in.credit.credit;
        if (p->credit > (uint64_t)BT_WIRE_CREDIT_MAX * 4)
            p->credit = (uint64_t)BT_WIRE_CREDIT_MAX * 4;
        p->ready = true;
        break;
    case BT_MSG_HEARTBEAT:
        break;
    case BT_MSG_FETCH: /* p is a welcomed worker; ship checks hash and range */
        if (c->sweep->ship && bt_ship_answer(c->sweep->ship, &c->in, &c->out, &eb) == BT_OK)
            s_send_to(c, p->id);
        else
            s_bad(c, p, t, c->sweep->ship ? eb.msg : "no files are served");
        break;
    case BT_MSG_BYE:
        s_worker_gone(c, p, c->in.bye.reason[0] ? c->in.bye.reason : "left");
        break;
    default:
        s_bad(c, p, t, "a worker does not send this");
        break;
    }
done:
    zframe_destroy(&id);
    zmsg_destroy(&msg);
}

/* Group commit: one journal sync for everything appended, then the ACKs. */
static bt_err_t s_commit(s_coord_t *c, bt_errbuf_t *eb)
{
    if (c->dirty) {
        bt_err_t rc = c->hooks->commit(c->hooks->user, eb);
        if (rc != BT_OK)
            return rc;
        c->dirty = false;
    }
    for (size_t i = 0; i < c->npeers; i++) {
        s_peer_t *p = &c->peers[i];
        size_t off = 0;
        while (off < p->nacks) {
            size_t n = p->nacks - off;
            if (n > BT_WIRE_ACK_MAX)
                n = BT_WIRE_ACK_MAX;
            bt_msg_reset(&c->out, BT_MSG_ACK);
            c->out.ack.ids = p->acks + off;
            c->out.ack.nids = (uint32_t)n;
            s_send_to(c, p->id);
            off += n;
        }
        p->nacks = 0;
        bt_buf_reset(&p->acks_buf);
    }
    return BT_OK;
}

static void s_dispatch(s_coord_t *c, int64_t now)
{
    size_t maxo = c->sweep->max_overrides;
    for (size_t i = 0; i < c->npeers; i++) {
        s_peer_t *p = &c->peers[i];
        while (p->ready && p->credit > 0) {
            size_t batch = bt_sched_batch_size(c->sched, p->slot);
            if (bt_sched_worker_outstanding(c->sched, p->slot) >= S_PIPELINE * batch)
                break;
            size_t max = batch;
            if (max > p->credit)
                max = (size_t)p->credit;
            if (max > BT_WIRE_JOBS_MAX)
                max = BT_WIRE_JOBS_MAX;
            size_t n = bt_sched_lease(c->sched, p->slot, max, now, c->lease_ids, c->lease_attempts);
            if (n == 0)
                return; /* nothing to hand out now, for anyone */
            for (size_t j = 0; j < n; j++) {
                bt_wire_job_t *job = &c->jobs[j];
                bt_wire_override_t *ov = c->over + j * maxo;
                job->id = c->lease_ids[j];
                job->attempt = c->lease_attempts[j];
                job->over = ov;
                job->nover = (uint32_t)c->hooks->job(c->hooks->user, job->id, ov, maxo);
            }
            bt_msg_reset(&c->out, BT_MSG_JOB);
            c->out.job.jobs = c->jobs;
            c->out.job.njobs = (uint32_t)n;
            s_send_to(c, p->id);
            p->credit -= n;
        }
    }
}

static void s_heartbeats(s_coord_t *c, int64_t now)
{
    bt_msg_reset(&c->out, BT_MSG_HEARTBEAT);
    c->out.heartbeat.seq = (uint64_t)now;
    for (size_t i = 0; i < c->npeers; i++)
        s_send_to(c, c->peers[i].id);
    size_t requeued = bt_sched_expire(c->sched, now);
    /* Forget workers silent past the lease (their leases just went back). */
    for (size_t i = 0; i < c->npeers;) {
        s_peer_t *p = &c->peers[i];
        if (now - p->last_heard >= (int64_t)c->opts.lease_ms) {
            bt_log(BT_LOG_WARN, "worker %s silent for %lld ms: dropped", p->name,
                   (long long)(now - p->last_heard));
            s_worker_gone(c, p, "timed out");
            continue;
        }
        i++;
    }
    if (requeued > 0)
        bt_log(BT_LOG_INFO, "%zu expired lease(s) requeued", requeued);
}

static void s_progress(s_coord_t *c, int64_t now, bool final)
{
    bool tty = c->opts.progress_tty;
    int64_t every = tty ? 200 : c->opts.progress_every_ms;
    if (!final && (every <= 0 || now - c->last_progress < every))
        return;
    if (final && !tty && !c->progress_shown)
        return;
    c->last_progress = now;
    bt_sched_counts_t k;
    bt_sched_counts(c->sched, &k);
    uint64_t done = k.ok + k.failed, total = bt_sched_njobs(c->sched);
    double secs = (double)(now - c->t_start) / 1000.0;
    double rate = secs > 0 ? (double)(done - c->done_at_start) / secs : 0.0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
    char extra[128] = "";
    if (c->hooks->progress)
        c->hooks->progress(c->hooks->user, extra, sizeof extra);
    char line[320];
    snprintf(line, sizeof line,
             "%llu/%llu jobs (%.1f%%), %.0f jobs/s, ETA %.0fs, %zu worker(s)%s%s",
             (unsigned long long)done, (unsigned long long)total,
             total ? 100.0 * (double)done / (double)total : 100.0, rate, eta, c->npeers, extra,
             k.failed ? ", some failed" : "");
    if (tty) {
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
        fflush(stderr);
    } else {
        bt_log(BT_LOG_INFO, "progress: %s", line);
    }
    c->progress_shown = true;
}

static void s_send_bye_all(s_coord_t *c, const char *reason)
{
    for (size_t i = 0; i < c->npeers; i++)
        s_send_reason(c, c->peers[i].id, BT_MSG_BYE, reason);
}

static bt_err_t s_loop(s_coord_t *c, bt_errbuf_t *eb)
{
    for (;;) {
        int64_t now = bt_monotonic_ms();
        if (s_signal) {
            c->stats.interrupted = true;
            c->stats.signal = (int)s_signal;
            return s_commit(c, eb);
        }
        if (bt_sched_finished(c->sched)) {
            bt_err_t rc = s_commit(c, eb);
            s_send_bye_all(c, "sweep finished");
            return rc;
        }
        void *which = zpoller_wait(c->poller, S_POLL_MS);
        if (which) {
            for (int i = 0; i < S_BURST; i++) {
                s_on_message(c, bt_monotonic_ms());
                if (!(zsock_events(c->router) & ZMQ_POLLIN))
                    break;
            }
        }
        now = bt_monotonic_ms();
        bt_err_t rc = s_commit(c, eb);
        if (rc != BT_OK)
            return rc;
        if (now - c->last_hb >= (int64_t)c->opts.heartbeat_ms) {
            c->last_hb = now;
            s_heartbeats(c, now);
            if (c->hooks->tick)
                c->hooks->tick(c->hooks->user);
        }
        s_dispatch(c, now);
        s_progress(c, now, false);
    }
}

bt_server_t *bt_server_new(const bt_server_opts_t *opts, bt_errbuf_t *eb)
{
    bt_server_t *c = calloc(1, sizeof *c);
    if (!c) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    c->opts = *opts;
    bt_buf_init(&c->peers_buf, S_PEERS_MAX * sizeof(s_peer_t));
    bt_msg_init(&c->in);
    bt_msg_init(&c->out);
    bt_wire_buf_init(&c->buf);
    zsys_handler_set(NULL);
    c->router = zsock_new(ZMQ_ROUTER);
    if (!c->router) {
        bt_errf(eb, BT_EIO, "cannot create the ZeroMQ socket");
        bt_server_destroy(&c);
        return NULL;
    }
    zsock_set_router_mandatory(c->router, 1);
    zsock_set_maxmsgsize(c->router, (int64_t)BT_WIRE_MSG_MAX);
    zsock_set_sndhwm(c->router, 0);
    zsock_set_rcvhwm(c->router, 0);
    zsock_set_linger(c->router, 500);
    const char *bind = opts->bind ? opts->bind : "tcp://127.0.0.1:*";
    if (zsock_bind(c->router, "%s", bind) < 0) {
        bt_errf(eb, BT_EIO,
                "cannot bind %s: %s (is the port in use? try tcp://*:0 or another port)", bind,
                zmq_strerror(zmq_errno()));
        bt_server_destroy(&c);
        return NULL;
    }
    const char *ep = zsock_endpoint(c->router);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep ? ep : bind);
    c->poller = zpoller_new(c->router, NULL);
    if (!c->poller) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        bt_server_destroy(&c);
        return NULL;
    }
    bt_log(BT_LOG_INFO, "listening on %s", c->endpoint);
    return c;
}

const char *bt_server_endpoint(const bt_server_t *s)
{
    return s->endpoint;
}

bt_err_t bt_server_run(bt_server_t *c, const bt_server_sweep_t *sweep, bt_sched_t *sched,
                       const bt_server_hooks_t *hooks, bt_errbuf_t *eb)
{
    c->sweep = sweep;
    c->sched = sched;
    c->hooks = hooks;
    s_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    size_t maxo = sweep->max_overrides ? sweep->max_overrides : 1;
    free(c->jobs);
    free(c->over);
    c->jobs = calloc(BT_SCHED_BATCH_MAX, sizeof *c->jobs);
    c->over = calloc((size_t)BT_SCHED_BATCH_MAX * maxo, sizeof *c->over);
    if (!c->lease_ids)
        c->lease_ids = calloc(BT_SCHED_BATCH_MAX, sizeof *c->lease_ids);
    if (!c->lease_attempts)
        c->lease_attempts = calloc(BT_SCHED_BATCH_MAX, sizeof *c->lease_attempts);
    if (!c->jobs || !c->over || !c->lease_ids || !c->lease_attempts)
        return bt_errf(eb, BT_ENOMEM, "out of memory");
    c->t_start = bt_monotonic_ms();
    c->last_hb = c->t_start;
    c->last_progress = c->t_start;
    bt_sched_counts_t k;
    bt_sched_counts(sched, &k);
    c->done_at_start = k.ok + k.failed;
    bt_err_t rc = s_loop(c, eb);
    s_progress(c, bt_monotonic_ms(), true);
    return rc;
}

const bt_server_stats_t *bt_server_stats(const bt_server_t *s)
{
    return &s->stats;
}

void bt_server_destroy(bt_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_server_t *c = *self_p;
    for (size_t i = 0; i < c->npeers; i++) {
        zframe_destroy(&c->peers[i].id);
        bt_buf_fini(&c->peers[i].acks_buf);
    }
    bt_buf_fini(&c->peers_buf);
    zpoller_destroy(&c->poller);
    zsock_destroy(&c->router);
    free(c->jobs);
    free(c->over);
    free(c->lease_ids);
    free(c->lease_attempts);
    bt_msg_fini(&c->in);
    bt_msg_fini(&c->out);
    bt_wire_buf_fini(&c->buf);
    free(c);
    *self_p = NULL;
}
