/* bt_wire — MessagePack codec of the coordinator/worker messages.
 *
 * Encoding uses msgpack-c's packer writing into a bt_wire_buf_t.
 *
 * Decoding does NOT use msgpack-c's unpacker: msgpack_unpack reserves
 * (claimed element count x 24 bytes) as soon as it reads an array or map
 * header, before any element is present, so a 5-byte message (dd 01 00 00 00)
 * makes it ask for 384 MiB. Instead a small cursor reader below walks the
 * bytes in place: every length or count in a header is checked against the
 * bytes that remain (each element takes at least one byte) and against the
 * field's cap before anything is allocated, and every read is bounds-checked.
 * Nothing is allocated except the message's own capped storage (pool). */
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire_priv.h"

_Static_assert(sizeof(bt_metrics_t) == BT_WIRE_NMETRICS * sizeof(double),
               "bt_metrics_t must be exactly the BT_METRICS doubles");

const char *bt_msg_type_name(bt_msg_type_t t)
{
    if ((int)t < 0 || t >= BT_MSG_TYPE_COUNT_)
        return "?";
    return s_type_name[t];
}


/* Grows *p to hold at least n elements of size el (geometric, at most max
 * elements). n <= max is the caller's promise. Contents are kept. */
bt_err_t bt_wire_reserve(void **p, size_t *cap, size_t n, size_t el, size_t max)
{
    assert(n <= max);
    if (n <= *cap)
        return BT_OK;
    size_t want = *cap ? *cap * 2 : 16;
    if (want < n)
        want = n;
    if (want > max)
        want = max;
    void *q = realloc(*p, want * el);
    if (!q)
        return BT_ENOMEM;
    *p = q;
    *cap = want;
    return BT_OK;
}

void bt_msg_init(bt_msg_t *m)
{
    assert(m);
    memset(m, 0, sizeof *m);
}

void bt_msg_fini(bt_msg_t *m)
{
    if (!m)
        return;
    struct bt_msg_pool *pl = m->pool;
    if (pl) {
        free(pl->bytes);
        free(pl->jobs);
        free(pl->over);
        free(pl->u64);
        for (int i = 0; i < S_NF64; i++)
            free(pl->f64[i]);
        free(pl->i64);
        free(pl->u8);
        for (int i = 0; i < 2; i++) {
            free(pl->strs[i].bytes);
            free(pl->strs[i].v);
            free(pl->strs[i].off);
        }
        free(pl);
    }
    memset(m, 0, sizeof *m);
}

void bt_msg_reset(bt_msg_t *m, bt_msg_type_t t)
{
    assert(m);
    struct bt_msg_pool *pl = m->pool;
    memset(m, 0, sizeof *m);
    m->pool = pl;
    m->type = t;
    m->version = BT_WIRE_VERSION;
}

/* ------------------------------------------------------------- buffers -- */

void bt_wire_buf_init(bt_wire_buf_t *buf)
{
    assert(buf);
    memset(buf, 0, sizeof *buf);
}

void bt_wire_buf_fini(bt_wire_buf_t *buf)
{
    if (!buf)
        return;
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

typedef struct {
    bt_wire_buf_t *buf; /* destination */
    bt_err_t err;       /* first failure while writing */
} s_out_t;

static int s_out_write(void *data, const char *bytes, size_t len)
{
    s_out_t *o = data;
    if (o->err != BT_OK)
        return -1;
    bt_wire_buf_t *b = o->buf;
    if (len > BT_WIRE_MSG_MAX - b->len) {
        o->err = BT_ELIMIT;
        return -1;
    }
    if (b->len + len > b->cap) {
        size_t want = b->cap ? b->cap * 2 : 256;
        while (want < b->len + len)
            want *= 2;
        char *q = realloc(b->data, want);
        if (!q) {
            o->err = BT_ENOMEM;
            return -1;
        }
        b->data = q;
        b->cap = want;
    }
    memcpy(b->data + b->len, bytes, len);
    b->len += len;
    return 0;
}

/* -------------------------------------------------------------- encoder -- */

static void s_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void s_pack_key(msgpack_packer *pk, const char *k)
{
    s_pack_cstr(pk, k);
}

static void s_pack_doubles(msgpack_packer *pk, const char *key, const double *v, uint32_t n)
{
    s_pack_key(pk, key);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_double(pk, v[i]);
}

/* Whether s is NUL-terminated within cap bytes. */
static bool s_terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

#define S_TERM(eb, msgname, field, arr)                                                            \
    do {                                                                                           \
        if (!s_terminated((arr), sizeof(arr)))                                                     \
            return bt_errf(eb, BT_EINVAL,                                                          \
                           "wire encode %s: field '%s' is not NUL-terminated within its %zu "      \
                           "bytes",                                                                \
                           msgname, field, sizeof(arr));                                           \
    } while (0)

/* The caps the encoder needs to write m without reading out of bounds. */
static bt_err_t s_encode_caps(const bt_msg_t *m, bt_errbuf_t *eb)
{
    const char *mn = bt_msg_type_name(m->type);
    switch (m->type) {
    case BT_MSG_HELLO:
        S_TERM(eb, mn, "name", m->hello.name);
        S_TERM(eb, mn, "ver", m->hello.bt_version);
        break;
    case BT_MSG_WELCOME:
        S_TERM(eb, mn, "sid", m->welcome.sweep_id);
        break;
    case BT_MSG_REFUSE:
    case BT_MSG_BYE: {
        const bt_msg_reason_t *r = m->type == BT_MSG_REFUSE ? &m->refuse : &m->bye;
        S_TERM(eb, mn, "why", r->reason);
        break;
    }
    case BT_MSG_SWEEP:
        S_TERM(eb, mn, "sha", m->sweep.config_sha256);
        S_TERM(eb, mn, "store", m->sweep.store_path);
        S_TERM(eb, mn, "dhash", m->sweep.data_hash);
        if (m->sweep.yaml_len > BT_WIRE_YAML_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire encode SWEEP: the config YAML is %zu bytes, the limit is %u: "
                           "shorten the config",
                           m->sweep.yaml_len, BT_WIRE_YAML_MAX);
        if (m->sweep.yaml_len && !m->sweep.yaml)
            return bt_errf(eb, BT_EINVAL, "wire encode SWEEP: yaml is NULL with yaml_len %zu",
                           m->sweep.yaml_len);
        if (m->sweep.nsets > BT_WIRE_SETS_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire encode SWEEP: %u --set overrides, the limit is %u",
                           m->sweep.nsets, BT_WIRE_SETS_MAX);
        if (m->sweep.nsets && !m->sweep.sets)
            return bt_errf(eb, BT_EINVAL, "wire encode SWEEP: sets is NULL with nsets %u",
                           m->sweep.nsets);
        if (m->sweep.nmcols > BT_WIRE_MCOLS_MAX || (m->sweep.nmcols && !m->sweep.mcols))
            return bt_errf(eb, BT_ELIMIT, "wire encode SWEEP: %u metric columns (at most %u, "
                                          "mcols not NULL)", m->sweep.nmcols, BT_WIRE_MCOLS_MAX);
        for (uint32_t i = 0; i < m->sweep.nmcols; i++)
            if (!m->sweep.mcols[i] || strlen(m->sweep.mcols[i]) > BT_WIRE_MCOL_MAX)
                return bt_errf(eb, BT_ELIMIT, "wire encode SWEEP: mcols[%u] is NULL or longer "
                                              "than %u bytes", i, BT_WIRE_MCOL_MAX);
        for (uint32_t i = 0; i < m->sweep.nsets; i++) {
            if (!m->sweep.sets[i])
                return bt_errf(eb, BT_EINVAL, "wire encode SWEEP: set[%u] is NULL", i);
            if (strlen(m->sweep.sets[i]) > BT_WIRE_SET_MAX)
                return bt_errf(eb, BT_ELIMIT,
                               "wire encode SWEEP: --set %.40s... is %zu bytes, the limit is %u",
                               m->sweep.sets[i], strlen(m->sweep.sets[i]), BT_WIRE_SET_MAX);
        }
        break;
    case BT_MSG_JOB:
        if (m->job.njobs > BT_WIRE_JOBS_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire encode JOB: %u jobs in one batch, the limit is %u: split the "
                           "batch",
                           m->job.njobs, BT_WIRE_JOBS_MAX);
        if (m->job.njobs && !m->job.jobs)
            return bt_errf(eb, BT_EINVAL, "wire encode JOB: jobs is NULL with njobs %u",
                           m->job.njobs);
        for (uint32_t i = 0; i < m->job.njobs; i++) {
            const bt_wire_job_t *j = &m->job.jobs[i];
            if (j->nover > BT_WIRE_OVERRIDES_MAX)
                return bt_errf(eb, BT_ELIMIT,
                               "wire encode JOB: jobs[%u] (job %llu) has %u overrides, the limit "
                               "is %u",
                               i, (unsigned long long)j->id, j->nover, BT_WIRE_OVERRIDES_MAX);
            if (j->nover && !j->over)
                return bt_errf(eb, BT_EINVAL, "wire encode JOB: jobs[%u].over is NULL", i);
            for (uint32_t k = 0; k < j->nover; k++)
                if (!s_terminated(j->over[k].key, sizeof j->over[k].key))
                    return bt_errf(eb, BT_EINVAL,
                                   "wire encode JOB: jobs[%u].o[%u] key is not NUL-terminated "
                                   "within %zu bytes",
                                   i, k, sizeof j->over[k].key);
        }
        break;
    case BT_MSG_RESULT:
        S_TERM(eb, mn, "err", m->result.error);
        if (m->result.nblk > BT_WIRE_BLK_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire encode RESULT: %u block statistics, the limit is %u",
                           m->result.nblk, BT_WIRE_BLK_MAX);
        if (m->result.nblk && !m->result.blk)
            return bt_errf(eb, BT_EINVAL, "wire encode RESULT: blk is NULL with nblk %u",
                           m->result.nblk);
        if (m->result.has_seg &&
            (m->result.nseg > BT_WIRE_SEG_MAX || m->result.nfills > BT_WIRE_FILLS_MAX ||
             m->result.ntrades > BT_WIRE_TRADES_MAX))
            return bt_errf(eb, BT_ELIMIT,
                           "wire encode RESULT: equity segment of %u points, %u fills, %u trades "
                           "(limits %u, %u, %u)",
                           m->result.nseg, m->result.nfills, m->result.ntrades, BT_WIRE_SEG_MAX,
                           BT_WIRE_FILLS_MAX, BT_WIRE_TRADES_MAX);
        if (m->result.has_seg &&
            ((m->result.nseg && (!m->result.seg_time || !m->result.seg_equity ||
                                 !m->result.seg_exposed)) ||
             (m->result.nfills && (!m->result.fill_value || !m->result.fill_commission)) ||
             (m->result.ntrades && !m->result.trade_pnl)))
            return bt_errf(eb, BT_EINVAL, "wire encode RESULT: a segment view is NULL");
        if (m->result.status != BT_JOB_OK && m->result.status != BT_JOB_FAILED)
            return bt_errf(eb, BT_EINVAL, "wire encode RESULT: status %d is neither ok nor failed",
                           (int)m->result.status);
        break;
    case BT_MSG_ACK:
        if (m->ack.nids > BT_WIRE_ACK_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire encode ACK: %u ids, the limit is %u: acknowledge in several "
                           "messages",
                           m->ack.nids, BT_WIRE_ACK_MAX);
        if (m->ack.nids && !m->ack.ids)
            return bt_errf(eb, BT_EINVAL, "wire encode ACK: ids is NULL with nids %u", m->ack.nids);
        break;
    case BT_MSG_CREDIT:
    case BT_MSG_HEARTBEAT:
        break;
    default:
        return bt_errf(eb, BT_EINVAL, "wire encode: message type %d is not a message type",
                       (int)m->type);
    }
    return BT_OK;
}

static void s_pack_body(msgpack_packer *pk, const bt_msg_t *m)
{
    switch (m->type) {
    case BT_MSG_HELLO:
        s_pack_key(pk, s_keys_hello[K_HELLO_NAME]);
        s_pack_cstr(pk, m->hello.name);
        s_pack_key(pk, s_keys_hello[K_HELLO_THR]);
        msgpack_pack_uint32(pk, m->hello.threads);
        s_pack_key(pk, s_keys_hello[K_HELLO_VER]);
        s_pack_cstr(pk, m->hello.bt_version);
        break;
    case BT_MSG_WELCOME:
        s_pack_key(pk, s_keys_welcome[K_WEL_SID]);
        s_pack_cstr(pk, m->welcome.sweep_id);
        s_pack_key(pk, s_keys_welcome[K_WEL_HB]);
        msgpack_pack_uint32(pk, m->welcome.heartbeat_ms);
        s_pack_key(pk, s_keys_welcome[K_WEL_LEASE]);
        msgpack_pack_uint32(pk, m->welcome.lease_ms);
        break;
    case BT_MSG_REFUSE:
        s_pack_key(pk, s_keys_reason[K_REASON_WHY]);
        s_pack_cstr(pk, m->refuse.reason);
        break;
    case BT_MSG_BYE:
        s_pack_key(pk, s_keys_reason[K_REASON_WHY]);
        s_pack_cstr(pk, m->bye.reason);
        break;
    case BT_MSG_SWEEP:
        s_pack_key(pk, s_keys_sweep[K_SWEEP_YAML]);
        msgpack_pack_bin(pk, m->sweep.yaml_len);
        if (m->sweep.yaml_len)
            msgpack_pack_bin_body(pk, m->sweep.yaml, m->sweep.yaml_len);
        s_pack_key(pk, s_keys_sweep[K_SWEEP_SHA]);
        s_pack_cstr(pk, m->sweep.config_sha256);
        s_pack_key(pk, s_keys_sweep[K_SWEEP_STORE]);
        s_pack_cstr(pk, m->sweep.store_path);
        s_pack_key(pk, s_keys_sweep[K_SWEEP_DHASH]);
        s_pack_cstr(pk, m->sweep.data_hash);
        if (m->sweep.nsets) {
            s_pack_key(pk, s_keys_sweep[K_SWEEP_SET]);
            msgpack_pack_array(pk, m->sweep.nsets);
            for (uint32_t i = 0; i < m->sweep.nsets; i++)
                s_pack_cstr(pk, m->sweep.sets[i]);
        }
        if (m->sweep.nmcols) {
            s_pack_key(pk, s_keys_sweep[K_SWEEP_MCOLS]);
            msgpack_pack_array(pk, m->sweep.nmcols);
            for (uint32_t i = 0; i < m->sweep.nmcols; i++)
                s_pack_cstr(pk, m->sweep.mcols[i]);
        }
        break;
    case BT_MSG_JOB:
        s_pack_key(pk, s_keys_job[K_JOB_JOBS]);
        msgpack_pack_array(pk, m->job.njobs);
        for (uint32_t i = 0; i < m->job.njobs; i++) {
            const bt_wire_job_t *j = &m->job.jobs[i];
            msgpack_pack_map(pk, 3);
            s_pack_key(pk, s_keys_onejob[K_J_ID]);
            msgpack_pack_uint64(pk, j->id);
            s_pack_key(pk, s_keys_onejob[K_J_A]);
            msgpack_pack_uint32(pk, j->attempt);
            s_pack_key(pk, s_keys_onejob[K_J_O]);
            msgpack_pack_array(pk, j->nover);
            for (uint32_t k = 0; k < j->nover; k++) {
                msgpack_pack_array(pk, 2);
                s_pack_cstr(pk, j->over[k].key);
                msgpack_pack_double(pk, j->over[k].value);
            }
        }
        break;
    case BT_MSG_RESULT: {
        const bt_msg_result_t *r = &m->result;
        s_pack_key(pk, s_keys_result[K_RES_ID]);
        msgpack_pack_uint64(pk, r->job_id);
        s_pack_key(pk, s_keys_result[K_RES_A]);
        msgpack_pack_uint32(pk, r->attempt);
        s_pack_key(pk, s_keys_result[K_RES_ST]);
        s_pack_cstr(pk, r->status == BT_JOB_OK ? "ok" : "failed");
        s_pack_key(pk, s_keys_result[K_RES_ERR]);
        s_pack_cstr(pk, r->error);
        if (r->has_metrics) {
            s_pack_key(pk, s_keys_result[K_RES_M]);
            msgpack_pack_array(pk, BT_WIRE_NMETRICS);
#define S_PACK_METRIC(name, desc) msgpack_pack_double(pk, r->metrics.name);
            BT_METRICS(S_PACK_METRIC)
#undef S_PACK_METRIC
        }
        s_pack_key(pk, s_keys_result[K_RES_US]);
        msgpack_pack_uint64(pk, r->run_us);
        s_pack_key(pk, s_keys_result[K_RES_BARS]);
        msgpack_pack_uint64(pk, r->bars);
        if (r->nblk) {
            s_pack_key(pk, s_keys_result[K_RES_BLK]);
            msgpack_pack_array(pk, r->nblk);
            for (uint32_t i = 0; i < r->nblk; i++)
                msgpack_pack_double(pk, r->blk[i]);
        }
        if (r->has_seg) {
            s_pack_key(pk, s_keys_result[K_RES_ET]);
            msgpack_pack_array(pk, r->nseg);
            for (uint32_t i = 0; i < r->nseg; i++)
                msgpack_pack_int64(pk, r->seg_time[i]);
            s_pack_doubles(pk, s_keys_result[K_RES_EE], r->seg_equity, r->nseg);
            s_pack_key(pk, s_keys_result[K_RES_EX]);
            msgpack_pack_bin(pk, r->nseg);
            if (r->nseg)
                msgpack_pack_bin_body(pk, r->seg_exposed, r->nseg);
            s_pack_doubles(pk, s_keys_result[K_RES_FV], r->fill_value, r->nfills);
            s_pack_doubles(pk, s_keys_result[K_RES_FC], r->fill_commission, r->nfills);
            s_pack_doubles(pk, s_keys_result[K_RES_TP], r->trade_pnl, r->ntrades);
            s_pack_key(pk, s_keys_result[K_RES_RJ]);
            msgpack_pack_uint64(pk, r->rejected);
        }
        break;
    }
    case BT_MSG_CREDIT:
        s_pack_key(pk, s_keys_credit[K_CREDIT_N]);
        msgpack_pack_uint32(pk, m->credit.credit);
        break;
    case BT_MSG_HEARTBEAT:
        s_pack_key(pk, s_keys_hb[K_HB_SEQ]);
        msgpack_pack_uint64(pk, m->heartbeat.seq);
        break;
    case BT_MSG_ACK:
        s_pack_key(pk, s_keys_ack[K_ACK_IDS]);
        msgpack_pack_array(pk, m->ack.nids);
        for (uint32_t i = 0; i < m->ack.nids; i++)
            msgpack_pack_uint64(pk, m->ack.ids[i]);
        break;
    default:
        break;
    }
}

/* Number of body keys the encoder writes for m (besides "t" and "v"). */
static uint32_t s_body_keys(const bt_msg_t *m)
{
    switch (m->type) {
    case BT_MSG_HELLO:
    case BT_MSG_WELCOME:
        return 3;
    case BT_MSG_SWEEP:
        return 4 + (m->sweep.nsets ? 1u : 0u) + (m->sweep.nmcols ? 1u : 0u);
    case BT_MSG_RESULT:
        return 6 + (m->result.has_metrics ? 1u : 0u) + (m->result.nblk ? 1u : 0u) +
               (m->result.has_seg ? 7u : 0u);
    default:
        return 1;
    }
}

bt_err_t bt_wire_encode(const bt_msg_t *m, bt_wire_buf_t *buf, bt_errbuf_t *eb)
{
    assert(m && buf);
    bt_err_t e = s_encode_caps(m, eb);
    if (e != BT_OK)
        return e;
    buf->len = 0;
    s_out_t out = {.buf = buf, .err = BT_OK};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, s_out_write);
    msgpack_pack_map(&pk, 2 + s_body_keys(m));
    s_pack_key(&pk, "t");
    s_pack_cstr(&pk, s_type_wire[m->type]);
    s_pack_key(&pk, "v");
    msgpack_pack_uint32(&pk, BT_WIRE_VERSION);
    s_pack_body(&pk, m);
    if (out.err != BT_OK) {
        buf->len = 0;
        if (out.err == BT_ELIMIT)
            return bt_errf(eb, BT_ELIMIT, "wire encode %s: the message would exceed %u bytes",
                           bt_msg_type_name(m->type), BT_WIRE_MSG_MAX);
        return bt_errf(eb, out.err, "wire encode %s: out of memory", bt_msg_type_name(m->type));
    }
    return BT_OK;
}

/* ---------------------------------------------------------------- equal -- */

static bool s_deq(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool s_strs_equal(const char *const *a, uint32_t na, const char *const *b, uint32_t nb)
{
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static bool s_doubles_equal(const double *a, const double *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!s_deq(a[i], b[i]))
            return false;
    return true;
}

static bool s_seg_equal(const bt_msg_result_t *x, const bt_msg_result_t *y)
{
    if (x->has_seg != y->has_seg)
        return false;
    if (!x->has_seg)
        return true;
    if (x->nseg != y->nseg || x->nfills != y->nfills || x->ntrades != y->ntrades ||
        x->rejected != y->rejected)
        return false;
    for (uint32_t i = 0; i < x->nseg; i++)
        if (x->seg_time[i] != y->seg_time[i] || x->seg_exposed[i] != y->seg_exposed[i])
            return false;
    return s_doubles_equal(x->seg_equity, y->seg_equity, x->nseg) &&
           s_doubles_equal(x->fill_value, y->fill_value, x->nfills) &&
           s_doubles_equal(x->fill_commission, y->fill_commission, x->nfills) &&
           s_doubles_equal(x->trade_pnl, y->trade_pnl, x->ntrades);
}

bool bt_msg_equal(const bt_msg_t *a, const bt_msg_t *b)
{
    assert(a && b);
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case BT_MSG_HELLO:
        return strcmp(a->hello.name, b->hello.name) == 0 && a->hello.threads == b->hello.threads &&
               strcmp(a->hello.bt_version, b->hello.bt_version) == 0;
    case BT_MSG_WELCOME:
        return strcmp(a->welcome.sweep_id, b->welcome.sweep_id) == 0 &&
               a->welcome.heartbeat_ms == b->welcome.heartbeat_ms &&
               a->welcome.lease_ms == b->welcome.lease_ms;
    case BT_MSG_REFUSE:
        return strcmp(a->refuse.reason, b->refuse.reason) == 0;
    case BT_MSG_BYE:
        return strcmp(a->bye.reason, b->bye.reason) == 0;
    case BT_MSG_SWEEP:
        return a->sweep.yaml_len == b->sweep.yaml_len &&
               (a->sweep.yaml_len == 0 ||
                memcmp(a->sweep.yaml, b->sweep.yaml, a->sweep.yaml_len) == 0) &&
               strcmp(a->sweep.config_sha256, b->sweep.config_sha256) == 0 &&
               strcmp(a->sweep.store_path, b->sweep.store_path) == 0 &&
               strcmp(a->sweep.data_hash, b->sweep.data_hash) == 0 &&
               s_strs_equal(a->sweep.sets, a->sweep.nsets, b->sweep.sets, b->sweep.nsets) &&
               s_strs_equal(a->sweep.mcols, a->sweep.nmcols, b->sweep.mcols, b->sweep.nmcols);
    case BT_MSG_JOB:
        if (a->job.njobs != b->job.njobs)
            return false;
        for (uint32_t i = 0; i < a->job.njobs; i++) {
            const bt_wire_job_t *x = &a->job.jobs[i], *y = &b->job.jobs[i];
            if (x->id != y->id || x->attempt != y->attempt || x->nover != y->nover)
                return false;
            for (uint32_t k = 0; k < x->nover; k++)
                if (strcmp(x->over[k].key, y->over[k].key) != 0 ||
                    !s_deq(x->over[k].value, y->over[k].value))
                    return false;
        }
        return true;
    case BT_MSG_RESULT: {
        const bt_msg_result_t *x = &a->result, *y = &b->result;
        if (x->job_id != y->job_id || x->attempt != y->attempt || x->status != y->status ||
            strcmp(x->error, y->error) != 0 || x->has_metrics != y->has_metrics ||
            x->run_us != y->run_us || x->bars != y->bars || x->nblk != y->nblk)
            return false;
        if (x->has_metrics) {
#define S_EQ_METRIC(name, desc)                                                                    \
    if (!s_deq(x->metrics.name, y->metrics.name))                                                  \
        return false;
            BT_METRICS(S_EQ_METRIC)
#undef S_EQ_METRIC
        }
        return s_doubles_equal(x->blk, y->blk, x->nblk) && s_seg_equal(x, y);
    }
    case BT_MSG_CREDIT:
        return a->credit.credit == b->credit.credit;
    case BT_MSG_HEARTBEAT:
        return a->heartbeat.seq == b->heartbeat.seq;
    case BT_MSG_ACK:
        if (a->ack.nids != b->ack.nids)
            return false;
        for (uint32_t i = 0; i < a->ack.nids; i++)
            if (a->ack.ids[i] != b->ack.ids[i])
                return false;
        return true;
    default:
        return true;
    }
}
