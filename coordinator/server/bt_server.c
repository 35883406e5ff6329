#include "bt_server.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_buf.h"
#include "bt_build.h"
#include "bt_curve.h"
#include "bt_netmon.h"
#include "bt_log.h"
#include "bt_ship.h"
#include "bt_sig.h"
#include "bt_status.h"
#include "bt_time.h"
#include "bt_wire.h"

#define S_POLL_MS 50          /* loop tick when nothing arrives */
#define S_BURST 4096          /* messages handled before a group commit */
/* A result waits up to this long for its commit (fdatasync, then ACK); the
 * turns between write their results out (the flush hook) without a sync. A
 * worker does not wait for ACKs; an unsynced result only re-runs after a crash. */
#define S_COMMIT_MS 100
#define S_PIPELINE 2          /* batches kept in flight per worker */
#define S_PEERS_MAX 65536     /* live peers at most */
#define S_ACKS_MAX (1u << 20) /* results of one peer waiting for a commit */
#define S_RETIRED_MAX 1024    /* departed workers remembered, to keep their identity */
#define S_JOB_US_N 255        /* recent job times kept for the median */
#define S_JOB_TIMEOUT_MIN_MS 60000
#define S_HWM 1000 /* messages queued per peer, each way, before ZeroMQ pushes back */

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
    int64_t hello_at; /* ms of its last accepted HELLO (a HELLO flood is dropped) */
    uint32_t threads; /* from its HELLO */
} s_peer_t;

typedef struct {
    zframe_t *id;  /* routing id of a departed worker (NULL: free) */
    uint32_t slot; /* its bt_sched slot, given back if it rejoins */
} s_retired_t;

struct bt_server {
    bt_server_opts_t opts;
    const bt_server_sweep_t *sweep; /* during a run */
    bt_sched_t *sched;              /* during a run */
    const bt_server_hooks_t *hooks; /* during a run */
    bt_server_stats_t stats;
    zsock_t *router;
    bt_curve_auth_t *auth; /* allow-list of worker keys (with keys_dir) */
    bt_netmon_t *netmon;   /* names peers refused by the allow-list (with keys_dir) */
    zpoller_t *poller;
    char endpoint[256];
    s_retired_t retired[S_RETIRED_MAX]; /* ring of departed workers */
    size_t retired_next;                /* next ring slot to overwrite */
    int64_t idle_since;                 /* no ready worker since (ms); 0: one is ready */
    uint64_t job_us[S_JOB_US_N];        /* ring of recent job run times (us) */
    size_t njob_us;                     /* entries written (ring index = n % N) */
    bt_buf_t peers_buf;                 /* live peers (s_peer_t), capped */
    s_peer_t *peers;                    /* view of peers_buf */
    size_t npeers;
    bt_msg_t in, out;
    bt_wire_buf_t buf;
    bt_wire_job_t *jobs;      /* BT_SCHED_BATCH_MAX */
    bt_wire_override_t *over; /* BT_SCHED_BATCH_MAX * max_overrides */
    uint64_t *lease_ids;
    uint32_t *lease_attempts;
    bool dirty;              /* results handed over since the last commit */
    int64_t dirty_since;     /* ms of the first of them */
    unsigned logged_unknown; /* kinds from unknown peers already logged */
    bool logged_unknown_malformed;
    int64_t t_start, last_hb, last_progress;
    uint64_t done_at_start; /* ok + failed when the run started */
    bool progress_shown;
    char progress_line[320]; /* last live progress line, redrawn after a log line */
    bool progress_live;      /* that line is on the terminal now */
    int64_t last_status;     /* ms of the last status.json */
    bt_buf_t status_buf;     /* bt_status_worker_t rows */
    bool status_logged;      /* a status.json write error was logged */
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
    p->slot = BT_SCHED_NO_WORKER;
    bt_buf_init(&p->acks_buf, S_ACKS_MAX * sizeof(uint64_t));
    p->id = zframe_dup(id);
    return p;
}

/* A departed worker's routing id and slot: if it rejoins (a partition
 * healed, a reconnect) it keeps its identity and is counted once. */
static void s_retire(s_coord_t *c, zframe_t **id_p, uint32_t slot)
{
    s_retired_t *r = &c->retired[c->retired_next];
    c->retired_next = (c->retired_next + 1) % S_RETIRED_MAX;
    if (r->id && c->sched) /* forgotten now: it can no longer rejoin, its slot may go */
        bt_sched_worker_release(c->sched, r->slot);
    zframe_destroy(&r->id);
    r->id = *id_p;
    r->slot = slot;
    *id_p = NULL;
}

static uint32_t s_unretire(s_coord_t *c, zframe_t *id)
{
    for (size_t i = 0; i < S_RETIRED_MAX; i++) {
        s_retired_t *r = &c->retired[i];
        if (r->id && zframe_eq(r->id, id)) {
            zframe_destroy(&r->id);
            return r->slot;
        }
    }
    return BT_SCHED_NO_WORKER;
}

static void s_peer_remove(s_coord_t *c, s_peer_t *p)
{
    if (p->slot != BT_SCHED_NO_WORKER)
        s_retire(c, &p->id, p->slot);
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

/* The answer to a FETCH, sent from the ship's buffer without a copy. */
static bt_err_t s_send_chunk(s_coord_t *c, s_peer_t *p, bt_errbuf_t *eb)
{
    bt_ship_frame_t fr;
    bt_err_t e = bt_ship_answer_frame(c->sweep->ship, &c->in, &fr, eb);
    if (e != BT_OK)
        return e;
    zmq_msg_t body;
    if (zmq_msg_init_data(&body, fr.data, fr.len, fr.release, fr.hint) != 0) {
        fr.release(fr.data, fr.hint);
        return BT_OK;
    }
    zframe_t *idf = zframe_dup(p->id);
    if (!idf || zframe_send(&idf, c->router, ZFRAME_MORE | ZFRAME_DONTWAIT) != 0) {
        zframe_destroy(&idf);
        zmq_msg_close(&body);
        return BT_OK;
    }
    if (zmq_msg_send(&body, zsock_resolve(c->router), ZMQ_DONTWAIT) < 0)
        zmq_msg_close(&body);
    return BT_OK;
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

/* Records as failed the jobs whose lease was lost for the last allowed time. */
static void s_settle_lost(s_coord_t *c, const char *worker, const char *why)
{
    uint64_t id;
    while (bt_sched_take_lost_failed(c->sched, &id)) {
        bt_msg_reset(&c->out, BT_MSG_RESULT);
        bt_msg_result_t *r = &c->out.result;
        r->job_id = id;
        r->attempt = bt_sched_job_attempt(c->sched, id);
        r->status = BT_JOB_FAILED;
        snprintf(r->error, sizeof r->error,
                 "lost on attempt %u (worker %s: %s), the last it may take: the job may crash or "
                 "hang workers",
                 r->attempt, worker, why);
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        if (c->hooks->result(c->hooks->user, worker, r, &eb) != BT_OK) {
            bt_log(BT_LOG_ERROR, "%s", eb.msg);
            continue;
        }
        c->dirty = true;
        bt_log(BT_LOG_WARN, "job %llu failed: %s", (unsigned long long)id, r->error);
    }
}

static void s_worker_gone(s_coord_t *c, s_peer_t *p, const char *why)
{
    size_t n = bt_sched_worker_lost(c->sched, p->slot);
    bt_log(BT_LOG_INFO, "worker %s %s; %zu job(s) go back to the queue", p->name, why, n);
    s_settle_lost(c, p->name, why);
    s_peer_remove(c, p);
}

static void s_on_hello(s_coord_t *c, zframe_t *id, s_peer_t *p, int64_t now)
{
    const bt_msg_hello_t *h = &c->in.hello;
    /* Results are only comparable from the same sources, compiler and flags. */
    if (h->has_build && strcmp(h->build_id, bt_build_id()) != 0) {
        char why[320];
        snprintf(why, sizeof why,
                 "different build: this coordinator is build %.64s, the worker build %.64s; "
                 "run the same bt build on both sides",
                 bt_build_id(), h->build_id);
        bt_log(BT_LOG_ERROR, "worker %s refused: %s", h->name, why);
        s_send_reason(c, id, BT_MSG_REFUSE, why);
        if (p)
            s_worker_gone(c, p, "refused (build)");
        return;
    }
    if (!h->has_build)
        bt_log(BT_LOG_WARN, "worker %s reports no build id (an older bt-worker?)", h->name);
    uint32_t slot = BT_SCHED_NO_WORKER;
    if (p) {
        /* Same worker says HELLO again (it reconnected, or its WELCOME was
         * lost): start over under the same identity. More than one HELLO per
         * heartbeat interval is a flood: each would cost a SWEEP. */
        if (now - p->hello_at < (int64_t)c->opts.heartbeat_ms) {
            s_bad(c, p, BT_MSG_HELLO, "HELLO repeated too fast");
            return;
        }
        bt_sched_worker_lost(c->sched, p->slot);
        s_settle_lost(c, p->name, "reconnected");
        slot = p->slot;
        p->slot = BT_SCHED_NO_WORKER; /* not retired: it stays */
        s_peer_remove(c, p);
    } else {
        slot = s_unretire(c, id);
    }
    p = s_peer_add(c, id);
    if (!p) {
        if (slot != BT_SCHED_NO_WORKER)
            bt_sched_worker_release(c->sched, slot);
        return;
    }
    snprintf(p->name, sizeof p->name, "%s", h->name);
    p->hello_at = now;
    p->threads = h->threads;
    bool rejoined = slot != BT_SCHED_NO_WORKER;
    if (rejoined) {
        bt_sched_heartbeat(c->sched, slot, now);
        p->slot = slot;
    } else {
        p->slot = bt_sched_worker_add(c->sched, now);
    }
    if (p->slot == BT_SCHED_NO_WORKER) {
        bt_log(BT_LOG_ERROR, "worker %s ignored: no room for another worker", h->name);
        s_peer_remove(c, p);
        return;
    }
    p->last_heard = now;
    if (!rejoined)
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
    bt_log(BT_LOG_INFO, "worker %s %s (%u thread(s), bt %s)", p->name,
           rejoined ? "rejoined" : "joined", h->threads, h->bt_version);
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
    if (oc == BT_SCHED_FOREIGN) {
        s_bad(c, p, BT_MSG_RESULT, "a job (attempt) that was not leased to this worker");
        return;
    }
    if (oc == BT_SCHED_NEW && r->run_us > 0)
        c->job_us[c->njob_us++ % S_JOB_US_N] = r->run_us;
    if (oc == BT_SCHED_NEW || oc == BT_SCHED_FAILED) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        if (c->hooks->result(c->hooks->user, p->name, r, &eb) != BT_OK) {
            bt_log(BT_LOG_ERROR, "%s", eb.msg);
            return; /* not acked: the result was not kept */
        }
        if (!c->dirty)
            c->dirty_since = now;
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

/* Receives and handles one message; false when none was waiting (the
 * router's receive timeout is 0: no ZMQ_EVENTS query per message). */
static bool s_on_message(s_coord_t *c, int64_t now)
{
    zmsg_t *msg = zmsg_recv(c->router);
    if (!msg)
        return false;
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
        if (c->sweep->ship && s_send_chunk(c, p, &eb) == BT_OK)
            break;
        s_bad(c, p, t, c->sweep->ship ? eb.msg : "no files are served");
        break;
    case BT_MSG_BYE:
        /* A worker leaving before it took work could not run this sweep
         * (data, config, build): that is the operator's business. */
        if (!p->ready)
            bt_log(BT_LOG_ERROR, "worker %s cannot run this sweep: %s", p->name,
                   c->in.bye.reason[0] ? c->in.bye.reason : "(no reason given)");
        s_worker_gone(c, p, c->in.bye.reason[0] ? c->in.bye.reason : "left");
        break;
    default:
        s_bad(c, p, t, "a worker does not send this");
        break;
    }
done:
    zframe_destroy(&id);
    zmsg_destroy(&msg);
    return true;
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

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* --job-timeout, or max(60 s, 50 x the median of recent job times). */
static int64_t s_job_timeout_ms(const s_coord_t *c)
{
    if (c->opts.job_timeout_ms > 0)
        return c->opts.job_timeout_ms;
    size_t n = c->njob_us < S_JOB_US_N ? c->njob_us : S_JOB_US_N;
    if (n == 0)
        return S_JOB_TIMEOUT_MIN_MS;
    uint64_t v[S_JOB_US_N];
    memcpy(v, c->job_us, n * sizeof v[0]);
    qsort(v, n, sizeof v[0], s_cmp_u64);
    int64_t t = (int64_t)(v[n / 2] / 1000) * 50;
    return t > S_JOB_TIMEOUT_MIN_MS ? t : S_JOB_TIMEOUT_MIN_MS;
}

static void s_heartbeats(s_coord_t *c, int64_t now)
{
    bt_msg_reset(&c->out, BT_MSG_HEARTBEAT);
    c->out.heartbeat.seq = (uint64_t)now;
    for (size_t i = 0; i < c->npeers; i++)
        s_send_to(c, c->peers[i].id);
    size_t requeued = bt_sched_expire(c->sched, now);
    s_settle_lost(c, "a silent worker", "lease expired");
    /* Forget workers silent past the lease (their leases just went back),
     * and workers that heartbeat but return nothing for the job timeout (a
     * hung backtest, or a peer that takes jobs and sits on them). */
    int64_t job_timeout = s_job_timeout_ms(c);
    for (size_t i = 0; i < c->npeers;) {
        s_peer_t *p = &c->peers[i];
        int64_t stalled = bt_sched_worker_stalled_ms(c->sched, p->slot, now);
        if (stalled >= job_timeout) {
            char why[160];
            snprintf(why, sizeof why, "returned no result for %lld s (job timeout %lld s)",
                     (long long)(stalled / 1000), (long long)(job_timeout / 1000));
            bt_log(BT_LOG_WARN, "worker %s %s: dropped", p->name, why);
            s_send_reason(c, p->id, BT_MSG_BYE, why);
            s_worker_gone(c, p, "timed out on a job");
            continue;
        }
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

/* Workers whose process died (hooks->dead): their leases go back now. A
 * name matches one peer (the hook runs right after the reap that restarts
 * a dead worker, so its successor, of the same name, has not joined yet). */
static void s_dead(s_coord_t *c)
{
    char name[8][64], how[8][64];
    size_t n;
    do {
        n = c->hooks->dead(c->hooks->user, name, how, 8);
        n = n < 8 ? n : 8;
        for (size_t k = 0; k < n; k++) {
            name[k][63] = how[k][63] = '\0';
            for (size_t i = 0; i < c->npeers; i++) {
                s_peer_t *p = &c->peers[i];
                if (strcmp(p->name, name[k]) != 0)
                    continue;
                char why[96];
                snprintf(why, sizeof why, "died (%.63s)", how[k]);
                s_worker_gone(c, p, why);
                break;
            }
        }
    } while (n == 8);
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
        snprintf(c->progress_line, sizeof c->progress_line, "%s", line);
        c->progress_live = !final;
    } else {
        bt_log(BT_LOG_INFO, "progress: %s", line);
    }
    c->progress_shown = true;
}

/* Log lines on a terminal: clear the live progress line first, redraw it after. */
static void s_log_before(void *user)
{
    s_coord_t *c = user;
    if (c->progress_live)
        fputs("\r\033[K", stderr);
}

static void s_log_after(void *user)
{
    s_coord_t *c = user;
    if (c->progress_live) {
        fputs(c->progress_line, stderr);
        fflush(stderr);
    }
}

static void s_status(s_coord_t *c, int64_t now, const char *state)
{
    if (!c->opts.status_path)
        return;
    c->last_status = now;
    bt_sched_counts_t k;
    bt_sched_counts(c->sched, &k);
    uint64_t done = k.ok + k.failed, total = bt_sched_njobs(c->sched);
    double secs = (double)(now - c->t_start) / 1000.0;
    double rate = secs > 0 ? (double)(done - c->done_at_start) / secs : 0.0;
    bt_buf_reset(&c->status_buf);
    if (bt_buf_reserve(&c->status_buf, c->npeers * sizeof(bt_status_worker_t)) != BT_OK)
        return;
    bt_status_worker_t *rows = (bt_status_worker_t *)(void *)c->status_buf.data;
    for (size_t i = 0; i < c->npeers; i++) {
        const s_peer_t *p = &c->peers[i];
        rows[i] = (bt_status_worker_t){
            .name = p->name,
            .threads = p->threads,
            .rate = bt_sched_worker_rate(c->sched, p->slot),
            .done = bt_sched_worker_done(c->sched, p->slot),
            .outstanding = bt_sched_worker_outstanding(c->sched, p->slot),
            .heard_ms_ago = now - p->last_heard,
        };
    }
    bt_status_t st = {
        .state = state,
        .endpoint = c->endpoint,
        .total = total,
        .ok = k.ok,
        .failed = k.failed,
        .leased = k.leased,
        .queued = k.queued,
        .rate = rate,
        .eta_s = rate > 0 ? (double)(total - done) / rate : -1.0,
        .elapsed_s = secs,
        .workers = rows,
        .nworkers = c->npeers,
    };
    bt_errbuf_t eb;
    if (bt_status_write(c->opts.status_path, &st, &eb) != BT_OK && !c->status_logged) {
        c->status_logged = true;
        bt_log(BT_LOG_WARN, "cannot write %s: %s (further failures not logged)",
               c->opts.status_path, eb.msg);
    }
}

static void s_send_bye_all(s_coord_t *c, const char *reason)
{
    for (size_t i = 0; i < c->npeers; i++)
        s_send_reason(c, c->peers[i].id, BT_MSG_BYE, reason);
}

/* True when no connected worker has been able to run the sweep for the idle
 * timeout: the run ends (report of what is in, resume hint) instead of
 * waiting for ever. */
static bool s_idle_timeout(s_coord_t *c, int64_t now)
{
    bool any_ready = false;
    for (size_t i = 0; i < c->npeers && !any_ready; i++)
        any_ready = c->peers[i].ready;
    if (any_ready || c->opts.idle_timeout_ms <= 0) {
        c->idle_since = now;
        return false;
    }
    if (now - c->idle_since < c->opts.idle_timeout_ms)
        return false;
    snprintf(c->stats.why, sizeof c->stats.why,
             "no worker could run the sweep for %lld s (%zu connected, none ready; see the "
             "errors above, or start workers: bt-worker --connect %s)",
             (long long)(c->opts.idle_timeout_ms / 1000), c->npeers, c->endpoint);
    bt_log(BT_LOG_ERROR, "%s", c->stats.why);
    c->stats.interrupted = true;
    return true;
}

static bt_err_t s_loop(s_coord_t *c, bt_errbuf_t *eb)
{
    for (;;) {
        int64_t now = bt_monotonic_ms();
        if (s_signal) {
            c->stats.interrupted = true;
            c->stats.signal = (int)s_signal;
            snprintf(c->stats.why, sizeof c->stats.why, "signal %d", (int)s_signal);
            return s_commit(c, eb);
        }
        if (bt_sched_finished(c->sched)) {
            bt_err_t rc = s_commit(c, eb);
            s_send_bye_all(c, "sweep finished");
            return rc;
        }
        if (s_idle_timeout(c, now))
            return s_commit(c, eb);
        int wait = S_POLL_MS;
        if (c->dirty) {
            int64_t left = c->dirty_since + S_COMMIT_MS - now;
            wait = left <= 0 ? 0 : left < wait ? (int)left : wait;
        }
        void *which = zpoller_wait(c->poller, wait);
        if (c->netmon && which == bt_netmon_actor(c->netmon)) {
            bt_netmon_drain(c->netmon, c->opts.keys_dir);
        } else if (which) {
            for (int i = 0; i < S_BURST; i++)
                if (!s_on_message(c, bt_monotonic_ms()))
                    break;
        }
        now = bt_monotonic_ms();
        bt_err_t rc = BT_OK;
        if (!c->dirty || !c->hooks->flush || now - c->dirty_since >= S_COMMIT_MS)
            rc = s_commit(c, eb);
        else
            rc = c->hooks->flush(c->hooks->user, eb);
        if (rc != BT_OK)
            return rc;
        if (now - c->last_hb >= (int64_t)c->opts.heartbeat_ms) {
            c->last_hb = now;
            s_heartbeats(c, now);
            if (c->hooks->tick)
                c->hooks->tick(c->hooks->user);
            if (c->hooks->dead)
                s_dead(c);
        }
        s_dispatch(c, now);
        s_progress(c, now, false);
        if (now - c->last_status >= 1000)
            s_status(c, now, "running");
    }
}

/* A bind to port 0 lets the OS choose: put the chosen port (libzmq's last
 * endpoint) in place of the 0, keeping the host part as the user wrote it
 * (a bind to any address on port 0 keeps its "*"), so logs and hints name a port that works. */
static void s_port_chosen(char *ep, size_t cap, zsock_t *router)
{
    size_t n = strlen(ep);
    if (n < 2 || strcmp(ep + n - 2, ":0") != 0)
        return;
    char *last = zsock_last_endpoint(router);
    const char *port = last ? strrchr(last, ':') : NULL;
    if (port && port[1] && strcmp(port, ":0") != 0 && n - 2 + strlen(port) < cap)
        snprintf(ep + n - 2, cap - (n - 2), "%s", port);
    zstr_free(&last);
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
    bt_buf_init(&c->status_buf, S_PEERS_MAX * sizeof(bt_status_worker_t));
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
    /* Bounded queues: a peer that does not read loses messages (sends fail
     * at once, DONTWAIT); one that floods is pushed back by TCP. */
    zsock_set_sndhwm(c->router, S_HWM);
    zsock_set_rcvhwm(c->router, S_HWM);
    zsock_set_router_handover(c->router, 1); /* a rejoining worker takes over its identity */
    zsock_set_linger(c->router, 500);
    zsock_set_rcvtimeo(c->router, 0); /* s_on_message: a receive never blocks */
    const char *bind = opts->bind ? opts->bind : "tcp://127.0.0.1:*";
    if (opts->keys_dir) {
        if (bt_curve_server_setup(c->router, opts->keys_dir, &c->auth, eb) != BT_OK) {
            bt_server_destroy(&c);
            return NULL;
        }
    } else if (!opts->insecure && !bt_curve_is_loopback(bind)) {
        bt_errf(eb, BT_EINVAL,
                "refusing to bind %s without keys: any machine that reaches it could take jobs "
                "and send results; give --keys DIR (see 'bt keygen --help') or, on a trusted "
                "network, --insecure",
                bind);
        bt_server_destroy(&c);
        return NULL;
    }
    /* A fixed loopback port in the ephemeral range can be briefly held by a
     * worker still reconnecting to it (TCP self-connect of its outgoing
     * socket while no one listens): retry EADDRINUSE for a few seconds so
     * a resume on the same endpoint does not fail on that race. */
    int rc = zsock_bind(c->router, "%s", bind);
    for (int tries = 0; rc < 0 && zmq_errno() == EADDRINUSE && tries < 50; tries++) {
        if (tries == 0)
            bt_log(BT_LOG_WARN, "%s is in use; retrying for up to 5 s", bind);
        zclock_sleep(100);
        rc = zsock_bind(c->router, "%s", bind);
    }
    if (rc < 0) {
        bt_errf(eb, BT_EIO,
                "cannot bind %s: %s (is the port in use? try tcp://*:0 or another port)", bind,
                zmq_strerror(zmq_errno()));
        bt_server_destroy(&c);
        return NULL;
    }
    const char *ep = zsock_endpoint(c->router);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep ? ep : bind);
    s_port_chosen(c->endpoint, sizeof c->endpoint, c->router);
    if (c->auth && !(c->netmon = bt_netmon_new(c->router)))
        bt_log(BT_LOG_WARN, "cannot watch the socket: refused workers will not be named");
    c->poller = zpoller_new(c->router, NULL);
    if (c->poller && c->netmon)
        zpoller_add(c->poller, bt_netmon_actor(c->netmon));
    if (!c->poller) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        bt_server_destroy(&c);
        return NULL;
    }
    bt_log(BT_LOG_INFO, "listening on %s", c->endpoint);
    if (c->auth)
        bt_log(BT_LOG_INFO, "CurveZMQ on: %zu worker key(s) allowed in %s/%s",
               bt_curve_auth_nkeys(c->auth), opts->keys_dir, BT_CURVE_ALLOW_DIR);
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
    bt_sig_on_stop(s_on_signal);
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
    c->idle_since = c->t_start;
    c->last_hb = c->t_start;
    c->last_progress = c->t_start;
    bt_sched_counts_t k;
    bt_sched_counts(sched, &k);
    c->done_at_start = k.ok + k.failed;
    if (c->opts.progress_tty)
        bt_log_set_line_hook(s_log_before, s_log_after, c);
    bt_err_t rc = s_loop(c, eb);
    s_progress(c, bt_monotonic_ms(), true);
    bt_log_set_line_hook(NULL, NULL, NULL);
    s_status(c, bt_monotonic_ms(),
             rc == BT_OK && bt_sched_finished(sched) ? "finished" : "interrupted");
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
    for (size_t i = 0; i < S_RETIRED_MAX; i++)
        zframe_destroy(&c->retired[i].id);
    bt_buf_fini(&c->peers_buf);
    bt_buf_fini(&c->status_buf);
    zpoller_destroy(&c->poller);
    bt_netmon_destroy(&c->netmon); /* before the socket it watches */
    zsock_destroy(&c->router);
    bt_curve_auth_destroy(&c->auth); /* after the socket it checks */
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
