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
#include "bt_wire.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(bt_metrics_t) == BT_WIRE_NMETRICS * sizeof(double),
               "bt_metrics_t must be exactly the BT_METRICS doubles");

/* ---------------------------------------------------------------- names -- */

/* Wire spelling of each type ("t"), indexed by bt_msg_type_t. */
static const char *const s_type_wire[BT_MSG_TYPE_COUNT_] = {
    [BT_MSG_NONE] = NULL,       [BT_MSG_HELLO] = "hello",   [BT_MSG_WELCOME] = "welcome",
    [BT_MSG_REFUSE] = "refuse", [BT_MSG_SWEEP] = "sweep",   [BT_MSG_JOB] = "job",
    [BT_MSG_RESULT] = "result", [BT_MSG_CREDIT] = "credit", [BT_MSG_HEARTBEAT] = "hb",
    [BT_MSG_BYE] = "bye",       [BT_MSG_ACK] = "ack",
};

static const char *const s_type_name[BT_MSG_TYPE_COUNT_] = {
    [BT_MSG_NONE] = "NONE",     [BT_MSG_HELLO] = "HELLO",   [BT_MSG_WELCOME] = "WELCOME",
    [BT_MSG_REFUSE] = "REFUSE", [BT_MSG_SWEEP] = "SWEEP",   [BT_MSG_JOB] = "JOB",
    [BT_MSG_RESULT] = "RESULT", [BT_MSG_CREDIT] = "CREDIT", [BT_MSG_HEARTBEAT] = "HEARTBEAT",
    [BT_MSG_BYE] = "BYE",       [BT_MSG_ACK] = "ACK",
};

const char *bt_msg_type_name(bt_msg_type_t t)
{
    if ((int)t < 0 || t >= BT_MSG_TYPE_COUNT_)
        return "?";
    return s_type_name[t];
}

/* Keys of each message type, in the order the encoder writes them. The
 * index of a key is its bit in the seen/required masks. */
enum { K_HELLO_NAME, K_HELLO_THR, K_HELLO_VER };
static const char *const s_keys_hello[] = {"name", "thr", "ver"};
enum { K_WEL_SID, K_WEL_HB, K_WEL_LEASE };
static const char *const s_keys_welcome[] = {"sid", "hb", "lease"};
enum { K_REASON_WHY };
static const char *const s_keys_reason[] = {"why"};
enum { K_SWEEP_YAML, K_SWEEP_SHA, K_SWEEP_STORE, K_SWEEP_DHASH, K_SWEEP_SET, K_SWEEP_MCOLS };
static const char *const s_keys_sweep[] = {"yaml", "sha", "store", "dhash", "set", "mcols"};
enum { K_JOB_JOBS };
static const char *const s_keys_job[] = {"jobs"};
enum {
    K_RES_ID, K_RES_A, K_RES_ST, K_RES_ERR, K_RES_M, K_RES_US, K_RES_BARS, K_RES_BLK,
    K_RES_ET, K_RES_EE, K_RES_EX, K_RES_FV, K_RES_FC, K_RES_TP, K_RES_RJ
};
static const char *const s_keys_result[] = {"id", "a", "st", "err", "m", "us", "bars", "blk",
                                             "et", "ee", "ex", "fv", "fc", "tp", "rj"};
/* The equity segment's keys: all or none. */
#define S_SEG_KEYS                                                                                 \
    ((1u << K_RES_ET) | (1u << K_RES_EE) | (1u << K_RES_EX) | (1u << K_RES_FV) |                  \
     (1u << K_RES_FC) | (1u << K_RES_TP) | (1u << K_RES_RJ))
enum { K_CREDIT_N };
static const char *const s_keys_credit[] = {"n"};
enum { K_HB_SEQ };
static const char *const s_keys_hb[] = {"seq"};
enum { K_ACK_IDS };
static const char *const s_keys_ack[] = {"ids"};
/* Keys of one job inside JOB's "jobs" array. */
enum { K_J_ID, K_J_A, K_J_O };
static const char *const s_keys_onejob[] = {"id", "a", "o"};

#define S_NKEYS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))
#define S_ALL(n) ((uint32_t)((1u << (n)) - 1u))

/* ----------------------------------------------------------------- pool -- */

/* Decode storage of one array of strings. */
typedef struct {
    char *bytes;       /* the strings, each + NUL, one after another */
    size_t bytes_cap;  /* in bytes */
    const char **v;    /* pointers into bytes */
    size_t v_cap;      /* in elements */
    size_t *off;       /* offsets into bytes while decoding */
    size_t off_cap;    /* in elements */
} s_strs_t;

enum { S_F64_BLK, S_F64_EE, S_F64_FV, S_F64_FC, S_F64_TP, S_NF64 };

struct bt_msg_pool {
    char *bytes;              /* SWEEP yaml copy (+ NUL) */
    size_t bytes_cap;         /* in bytes */
    bt_wire_job_t *jobs;      /* JOB jobs */
    size_t jobs_cap;          /* in elements */
    bt_wire_override_t *over; /* JOB overrides of all jobs, job after job */
    size_t over_cap;          /* in elements */
    uint64_t *u64;            /* ACK ids */
    size_t u64_cap;           /* in elements */
    double *f64[S_NF64];      /* RESULT blk, ee, fv, fc, tp */
    size_t f64_cap[S_NF64];   /* in elements */
    size_t f64_n[S_NF64];     /* elements decoded into each */
    int64_t *i64;             /* RESULT et */
    size_t i64_cap;           /* in elements */
    uint8_t *u8;              /* RESULT ex */
    size_t u8_cap, u8_n;      /* in bytes; bytes decoded */
    s_strs_t strs[2];         /* SWEEP set, mcols */
};

/* Grows *p to hold at least n elements of size el (geometric, at most max
 * elements). n <= max is the caller's promise. Contents are kept. */
static bt_err_t s_reserve(void **p, size_t *cap, size_t n, size_t el, size_t max)
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

/* -------------------------------------------------------- value checks -- */

static bool s_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

static bool s_hex64(const char *s)
{
    size_t n = strlen(s);
    if (n != BT_WIRE_SHA256_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Text field rule: valid UTF-8, and non-empty unless allowed. */
static bt_err_t s_check_text(const char *mn, const char *field, const char *s, bool may_be_empty,
                             bt_errbuf_t *eb)
{
    size_t n = strlen(s);
    if (n == 0 && !may_be_empty)
        return bt_errf(eb, BT_EPROTO, "wire %s message: field '%s' is empty; it must not be", mn,
                       field);
    if (!s_utf8_valid((const unsigned char *)s, n))
        return bt_errf(eb, BT_EPROTO, "wire %s message: field '%s' is not valid UTF-8", mn, field);
    return BT_OK;
}

/* n doubles of field `what` are finite. */
static bt_err_t s_check_finite(const bt_msg_result_t *r, const char *what, const double *v,
                               uint32_t n, bt_errbuf_t *eb)
{
    for (uint32_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: %s[%u] is %g; it must be finite",
                           (unsigned long long)r->job_id, what, i, v[i]);
    return BT_OK;
}

/* The equity segment of a walk-forward test run. */
static bt_err_t s_check_seg(const bt_msg_result_t *r, bt_errbuf_t *eb)
{
    if (r->nseg > BT_WIRE_SEG_MAX || r->nfills > BT_WIRE_FILLS_MAX ||
        r->ntrades > BT_WIRE_TRADES_MAX)
        return bt_errf(eb, BT_ELIMIT,
                       "wire RESULT message: segment of %u points, %u fills, %u trades; the "
                       "limits are %u, %u, %u",
                       r->nseg, r->nfills, r->ntrades, BT_WIRE_SEG_MAX, BT_WIRE_FILLS_MAX,
                       BT_WIRE_TRADES_MAX);
    if ((r->nseg && (!r->seg_time || !r->seg_equity || !r->seg_exposed)) ||
        (r->nfills && (!r->fill_value || !r->fill_commission)) || (r->ntrades && !r->trade_pnl))
        return bt_errf(eb, BT_EINVAL, "wire RESULT message: a segment view is NULL");
    for (uint32_t i = 1; i < r->nseg; i++)
        if (r->seg_time[i] <= r->seg_time[i - 1])
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: et[%u] is not after et[%u]; "
                           "segment times must increase",
                           (unsigned long long)r->job_id, i, i - 1);
    for (uint32_t i = 0; i < r->nseg; i++)
        if (r->seg_exposed[i] > 1)
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: ex[%u] is %u; it must be 0 or 1",
                           (unsigned long long)r->job_id, i, r->seg_exposed[i]);
    bt_err_t e = s_check_finite(r, "ee", r->seg_equity, r->nseg, eb);
    if (e == BT_OK)
        e = s_check_finite(r, "fv", r->fill_value, r->nfills, eb);
    if (e == BT_OK)
        e = s_check_finite(r, "fc", r->fill_commission, r->nfills, eb);
    if (e == BT_OK)
        e = s_check_finite(r, "tp", r->trade_pnl, r->ntrades, eb);
    return e;
}

static bt_err_t s_check_result(const bt_msg_result_t *r, bt_errbuf_t *eb)
{
    bt_err_t e = s_check_text("RESULT", "err", r->error, true, eb);
    if (e != BT_OK)
        return e;
    if (r->status == BT_JOB_OK) {
        if (r->error[0])
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: status ok but field 'err' is set "
                           "(\"%.80s\")",
                           (unsigned long long)r->job_id, r->error);
        if (!r->has_metrics)
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: status ok but key 'm' (metrics) is "
                           "missing",
                           (unsigned long long)r->job_id);
    } else if (r->status == BT_JOB_FAILED) {
        if (!r->error[0])
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: status failed needs a non-empty "
                           "'err' saying why",
                           (unsigned long long)r->job_id);
    } else {
        return bt_errf(eb, BT_EPROTO, "wire RESULT message: status %d is neither ok nor failed",
                       (int)r->status);
    }
    if (r->has_metrics) {
        size_t i = 0;
#define S_CHECK_METRIC(name, desc)                                                                 \
    if (!isfinite(r->metrics.name))                                                                \
        return bt_errf(eb, BT_EPROTO,                                                              \
                       "wire RESULT message for job %llu: metric m[%zu] '%s' is %g; metrics "      \
                       "must be finite (a worker bug: report it)",                                 \
                       (unsigned long long)r->job_id, i, #name, r->metrics.name);                  \
    i++;
        BT_METRICS(S_CHECK_METRIC)
#undef S_CHECK_METRIC
    }
    if (r->nblk > BT_WIRE_BLK_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire RESULT message: %u block statistics, the limit is %u",
                       r->nblk, BT_WIRE_BLK_MAX);
    if (r->nblk && !r->blk)
        return bt_errf(eb, BT_EINVAL, "wire RESULT message: blk is NULL");
    for (uint32_t i = 0; i < r->nblk; i++)
        if (!isfinite(r->blk[i]))
            return bt_errf(eb, BT_EPROTO,
                           "wire RESULT message for job %llu: blk[%u] is %g; it must be finite",
                           (unsigned long long)r->job_id, i, r->blk[i]);
    return r->has_seg ? s_check_seg(r, eb) : BT_OK;
}

/* SWEEP "set": each "key=value" with a non-empty key, at most BT_WIRE_SET_MAX
 * bytes, valid UTF-8. The config loader judges the key and value. */
static bt_err_t s_check_sets(const bt_msg_sweep_t *sw, bt_errbuf_t *eb)
{
    if (sw->nsets > BT_WIRE_SETS_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire SWEEP message: %u --set overrides, the limit is %u",
                       sw->nsets, BT_WIRE_SETS_MAX);
    if (sw->nsets && !sw->sets)
        return bt_errf(eb, BT_EINVAL, "wire SWEEP message: sets is NULL");
    for (uint32_t i = 0; i < sw->nsets; i++) {
        const char *o = sw->sets[i];
        if (!o)
            return bt_errf(eb, BT_EINVAL, "wire SWEEP message: set[%u] is NULL", i);
        size_t n = strlen(o);
        if (n > BT_WIRE_SET_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire SWEEP message: set[%u] is %zu bytes, the limit "
                                          "is %u", i, n, BT_WIRE_SET_MAX);
        if (!s_utf8_valid((const unsigned char *)o, n))
            return bt_errf(eb, BT_EPROTO, "wire SWEEP message: set[%u] is not valid UTF-8", i);
        const char *eq = strchr(o, '=');
        if (!eq || eq == o)
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: set[%u] \"%.60s\" is not key=value", i, o);
    }
    if (sw->nmcols > BT_WIRE_MCOLS_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire SWEEP message: %u metric columns, the limit is %u",
                       sw->nmcols, BT_WIRE_MCOLS_MAX);
    if (sw->nmcols && !sw->mcols)
        return bt_errf(eb, BT_EINVAL, "wire SWEEP message: mcols is NULL");
    for (uint32_t i = 0; i < sw->nmcols; i++) {
        const char *c = sw->mcols[i];
        if (!c)
            return bt_errf(eb, BT_EINVAL, "wire SWEEP message: mcols[%u] is NULL", i);
        size_t n = strlen(c);
        if (n == 0 || n > BT_WIRE_MCOL_MAX || !s_utf8_valid((const unsigned char *)c, n))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: mcols[%u] is empty, longer than %u bytes or not "
                           "UTF-8",
                           i, BT_WIRE_MCOL_MAX);
    }
    return BT_OK;
}

static bt_err_t s_check_job(const bt_msg_job_t *jb, bt_errbuf_t *eb)
{
    if (jb->njobs > BT_WIRE_JOBS_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire JOB message: %u jobs, the limit is %u", jb->njobs,
                       BT_WIRE_JOBS_MAX);
    if (jb->njobs && !jb->jobs)
        return bt_errf(eb, BT_EINVAL, "wire JOB message: jobs is NULL");
    for (uint32_t i = 0; i < jb->njobs; i++) {
        const bt_wire_job_t *j = &jb->jobs[i];
        if (j->nover > BT_WIRE_OVERRIDES_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire JOB message: jobs[%u] has %u overrides, the limit is %u", i,
                           j->nover, BT_WIRE_OVERRIDES_MAX);
        if (j->nover && !j->over)
            return bt_errf(eb, BT_EINVAL, "wire JOB message: jobs[%u].over is NULL", i);
        for (uint32_t k = 0; k < j->nover; k++) {
            const bt_wire_override_t *o = &j->over[k];
            size_t n = strlen(o->key);
            if (n == 0 || !s_utf8_valid((const unsigned char *)o->key, n))
                return bt_errf(eb, BT_EPROTO,
                               "wire JOB message: jobs[%u].o[%u] (job %llu): the key is empty or "
                               "not UTF-8",
                               i, k, (unsigned long long)j->id);
            if (!isfinite(o->value))
                return bt_errf(eb, BT_EPROTO,
                               "wire JOB message: jobs[%u].o[%u] (job %llu) '%s' = %g; override "
                               "values must be finite",
                               i, k, (unsigned long long)j->id, o->key, o->value);
            for (uint32_t q = 0; q < k; q++)
                if (strcmp(j->over[q].key, o->key) == 0)
                    return bt_errf(eb, BT_EPROTO,
                                   "wire JOB message: jobs[%u] (job %llu) sets '%s' twice (o[%u] "
                                   "and o[%u])",
                                   i, (unsigned long long)j->id, o->key, q, k);
        }
    }
    return BT_OK;
}

bt_err_t bt_wire_check(const bt_msg_t *m, bt_errbuf_t *eb)
{
    assert(m);
    bt_err_t e = BT_OK;
    switch (m->type) {
    case BT_MSG_HELLO:
        if ((e = s_check_text("HELLO", "name", m->hello.name, false, eb)) != BT_OK ||
            (e = s_check_text("HELLO", "ver", m->hello.bt_version, false, eb)) != BT_OK)
            return e;
        if (m->hello.threads < 1 || m->hello.threads > BT_WIRE_THREADS_MAX)
            return bt_errf(eb, BT_EPROTO, "wire HELLO message: field 'thr' is %u; it must be 1..%u",
                           m->hello.threads, BT_WIRE_THREADS_MAX);
        return BT_OK;
    case BT_MSG_WELCOME:
        if ((e = s_check_text("WELCOME", "sid", m->welcome.sweep_id, false, eb)) != BT_OK)
            return e;
        if (m->welcome.heartbeat_ms < 1)
            return bt_errf(eb, BT_EPROTO, "wire WELCOME message: field 'hb' must be >= 1 ms");
        if (m->welcome.lease_ms < 1)
            return bt_errf(eb, BT_EPROTO, "wire WELCOME message: field 'lease' must be >= 1 ms");
        return BT_OK;
    case BT_MSG_REFUSE:
        return s_check_text("REFUSE", "why", m->refuse.reason, false, eb);
    case BT_MSG_BYE:
        return s_check_text("BYE", "why", m->bye.reason, true, eb);
    case BT_MSG_SWEEP:
        if (m->sweep.yaml_len && !m->sweep.yaml)
            return bt_errf(eb, BT_EINVAL, "wire SWEEP message: yaml is NULL");
        if (m->sweep.yaml_len < 1 || m->sweep.yaml_len > BT_WIRE_YAML_MAX)
            return bt_errf(eb, BT_ELIMIT,
                           "wire SWEEP message: the config YAML is %zu bytes; it must be 1..%u",
                           m->sweep.yaml_len, BT_WIRE_YAML_MAX);
        if (memchr(m->sweep.yaml, '\0', m->sweep.yaml_len))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: the config YAML contains a NUL byte");
        if (!s_hex64(m->sweep.config_sha256))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: field 'sha' must be 64 lowercase hex digits");
        if (!s_hex64(m->sweep.data_hash))
            return bt_errf(eb, BT_EPROTO,
                           "wire SWEEP message: field 'dhash' must be 64 lowercase hex digits");
        if ((e = s_check_text("SWEEP", "store", m->sweep.store_path, false, eb)) != BT_OK)
            return e;
        return s_check_sets(&m->sweep, eb);
    case BT_MSG_JOB:
        return s_check_job(&m->job, eb);
    case BT_MSG_RESULT:
        return s_check_result(&m->result, eb);
    case BT_MSG_CREDIT:
        if (m->credit.credit > BT_WIRE_CREDIT_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire CREDIT message: credit %u, the limit is %u",
                           m->credit.credit, BT_WIRE_CREDIT_MAX);
        return BT_OK;
    case BT_MSG_HEARTBEAT:
        return BT_OK;
    case BT_MSG_ACK:
        if (m->ack.nids > BT_WIRE_ACK_MAX)
            return bt_errf(eb, BT_ELIMIT, "wire ACK message: %u ids, the limit is %u", m->ack.nids,
                           BT_WIRE_ACK_MAX);
        return BT_OK;
    default:
        return bt_errf(eb, BT_EPROTO, "wire: message type %d is not a message type", (int)m->type);
    }
}

/* --------------------------------------------------------- the reader -- */

typedef struct {
    const uint8_t *base; /* first byte of the message */
    const uint8_t *p;    /* next byte to read */
    const uint8_t *end;  /* one past the last byte */
    const char *mn;      /* message type name for errors ("message" before it is known) */
    bt_errbuf_t *eb;     /* where errors go */
} s_rd_t;

typedef enum { S_NIL, S_BOOL, S_UINT, S_INT, S_FLOAT, S_STR, S_BIN, S_ARR, S_MAP, S_EXT } s_kind_t;

static const char *const s_kind_name[] = {"a nil",
                                          "a boolean",
                                          "an unsigned integer",
                                          "a negative integer",
                                          "a float",
                                          "a string",
                                          "a binary",
                                          "an array",
                                          "a map",
                                          "an extension"};

/* One decoded header: scalars carry their value; str/bin/ext carry their
 * payload length (payload not consumed); arrays and maps their count. */
typedef struct {
    s_kind_t kind;
    uint64_t u; /* S_UINT value, or length/count */
    int64_t i;  /* S_INT value (negative) */
    double d;   /* S_FLOAT value */
} s_tok_t;

__attribute__((format(printf, 4, 5))) static bt_err_t
s_fail(s_rd_t *r, bt_err_t code, const char *field, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return bt_errf(r->eb, code, "wire %s, field '%s' (byte %zu of %zu): %s", r->mn, field,
                   (size_t)(r->p - r->base), (size_t)(r->end - r->base), detail);
}

static size_t s_left(const s_rd_t *r)
{
    return (size_t)(r->end - r->p);
}

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads one header. Lengths and counts are checked against the bytes left
 * (an element takes at least one byte, a map entry two), so nothing later
 * is sized by a claim the message cannot back. */
static bt_err_t s_next(s_rd_t *r, const char *field, s_tok_t *t)
{
    if (s_left(r) < 1)
        return s_fail(r, BT_EPROTO, field, "the message ends where a value should start");
    const uint8_t *at = r->p;
    uint8_t b = *r->p++;
    size_t need = 0; /* bytes of the fixed part after b */
    memset(t, 0, sizeof *t);
    if (b <= 0x7f) {
        t->kind = S_UINT;
        t->u = b;
        return BT_OK;
    }
    if (b >= 0xe0) {
        t->kind = S_INT;
        t->i = (int8_t)b;
        return BT_OK;
    }
    if (b >= 0x80 && b <= 0x8f) {
        t->kind = S_MAP;
        t->u = b & 0x0f;
    } else if (b >= 0x90 && b <= 0x9f) {
        t->kind = S_ARR;
        t->u = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
        t->kind = S_STR;
        t->u = b & 0x1f;
    } else {
        switch (b) {
        case 0xc0:
            t->kind = S_NIL;
            return BT_OK;
        case 0xc2:
        case 0xc3:
            t->kind = S_BOOL;
            t->u = b == 0xc3;
            return BT_OK;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            need = (size_t)1 << (b - 0xc4);
            t->kind = S_BIN;
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            need = ((size_t)1 << (b - 0xc7)) + 1; /* length, then the ext type byte */
            t->kind = S_EXT;
            break;
        case 0xca:
            need = 4;
            t->kind = S_FLOAT;
            break;
        case 0xcb:
            need = 8;
            t->kind = S_FLOAT;
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            need = (size_t)1 << (b - 0xcc);
            t->kind = S_UINT;
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            need = (size_t)1 << (b - 0xd0);
            t->kind = S_INT;
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            need = 1;
            t->kind = S_EXT;
            t->u = (uint64_t)1 << (b - 0xd4);
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            need = (size_t)1 << (b - 0xd9);
            t->kind = S_STR;
            break;
        case 0xdc:
        case 0xdd:
            need = (size_t)2 << (b - 0xdc);
            t->kind = S_ARR;
            break;
        case 0xde:
        case 0xdf:
            need = (size_t)2 << (b - 0xde);
            t->kind = S_MAP;
            break;
        default: /* 0xc1 is never used */
            r->p = at;
            return s_fail(r, BT_EPROTO, field, "byte 0x%02x is not a MessagePack type", b);
        }
        if (s_left(r) < need) {
            r->p = at;
            return s_fail(r, BT_EPROTO, field, "the message ends inside %s header",
                          s_kind_name[t->kind]);
        }
        if (t->kind == S_EXT && b >= 0xd4) {
            r->p += 1; /* fixext: only the type byte; length is fixed */
        } else if (t->kind == S_EXT) {
            t->u = s_be(r->p, need - 1);
            r->p += need;
        } else if (t->kind == S_FLOAT) {
            uint64_t raw = s_be(r->p, need);
            if (need == 4) {
                uint32_t r32 = (uint32_t)raw;
                float f;
                memcpy(&f, &r32, 4);
                t->d = f;
            } else {
                memcpy(&t->d, &raw, 8);
            }
            r->p += need;
            return BT_OK;
        } else if (t->kind == S_UINT) {
            t->u = s_be(r->p, need);
            r->p += need;
            return BT_OK;
        } else if (t->kind == S_INT) {
            uint64_t raw = s_be(r->p, need);
            r->p += need;
            int64_t v;
            switch (need) {
            case 1:
                v = (int8_t)(uint8_t)raw;
                break;
            case 2:
                v = (int16_t)(uint16_t)raw;
                break;
            case 4:
                v = (int32_t)(uint32_t)raw;
                break;
            default:
                memcpy(&v, &raw, 8);
                break;
            }
            if (v >= 0) {
                t->kind = S_UINT;
                t->u = (uint64_t)v;
            } else {
                t->i = v;
            }
            return BT_OK;
        } else {
            t->u = s_be(r->p, need);
            r->p += need;
        }
    }
    /* Claimed sizes must fit in what is left. */
    uint64_t left = s_left(r);
    bool fits = true;
    switch (t->kind) {
    case S_STR:
    case S_BIN:
    case S_EXT:
    case S_ARR:
        fits = t->u <= left;
        break;
    case S_MAP:
        fits = t->u <= left / 2;
        break;
    default:
        break;
    }
    if (!fits) {
        r->p = at;
        return s_fail(r, BT_EPROTO, field,
                      "%s claims %llu %s but only %llu bytes are left (truncated or forged "
                      "header)",
                      s_kind_name[t->kind], (unsigned long long)t->u,
                      t->kind == S_ARR   ? "elements"
                      : t->kind == S_MAP ? "entries"
                                         : "bytes",
                      (unsigned long long)left);
    }
    return BT_OK;
}

/* Skips one value of any kind (an unknown key's value). */
static bt_err_t s_skip(s_rd_t *r, const char *field, unsigned depth)
{
    if (depth > BT_WIRE_DEPTH_MAX)
        return s_fail(r, BT_ELIMIT, field, "values are nested more than %u deep",
                      BT_WIRE_DEPTH_MAX);
    s_tok_t t;
    bt_err_t e = s_next(r, field, &t);
    if (e != BT_OK)
        return e;
    switch (t.kind) {
    case S_STR:
    case S_BIN:
    case S_EXT:
        r->p += t.u; /* checked to fit by s_next */
        return BT_OK;
    case S_ARR:
    case S_MAP: {
        uint64_t n = t.kind == S_MAP ? t.u * 2 : t.u;
        for (uint64_t i = 0; i < n; i++)
            if ((e = s_skip(r, field, depth + 1)) != BT_OK)
                return e;
        return BT_OK;
    }
    default:
        return BT_OK;
    }
}

static bt_err_t s_want(s_rd_t *r, const char *field, const s_tok_t *t, s_kind_t kind,
                       const uint8_t *at)
{
    if (t->kind == kind)
        return BT_OK;
    r->p = at;
    return s_fail(r, BT_EPROTO, field, "expected %s, found %s", s_kind_name[kind],
                  s_kind_name[t->kind]);
}

static bt_err_t s_uint(s_rd_t *r, const char *field, uint64_t max, uint64_t *out)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, field, &t);
    if (e == BT_OK && t.kind == S_INT) {
        r->p = at;
        return s_fail(r, BT_EPROTO, field, "%lld is negative; expected an unsigned integer",
                      (long long)t.i);
    }
    if (e != BT_OK || (e = s_want(r, field, &t, S_UINT, at)) != BT_OK)
        return e;
    if (t.u > max) {
        r->p = at;
        return s_fail(r, BT_EPROTO, field, "%llu is larger than the largest allowed, %llu",
                      (unsigned long long)t.u, (unsigned long long)max);
    }
    *out = t.u;
    return BT_OK;
}

static bt_err_t s_u32(s_rd_t *r, const char *field, uint32_t *out)
{
    uint64_t v = 0;
    bt_err_t e = s_uint(r, field, UINT32_MAX, &v);
    if (e == BT_OK)
        *out = (uint32_t)v;
    return e;
}

/* A number as a double: float64 (bit for bit), float32, or an integer. */
static bt_err_t s_double(s_rd_t *r, const char *field, double *out)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, field, &t);
    if (e != BT_OK)
        return e;
    switch (t.kind) {
    case S_FLOAT:
        *out = t.d;
        return BT_OK;
    case S_UINT:
        *out = (double)t.u;
        return BT_OK;
    case S_INT:
        *out = (double)t.i;
        return BT_OK;
    default:
        r->p = at;
        return s_fail(r, BT_EPROTO, field, "expected a number, found %s", s_kind_name[t.kind]);
    }
}

/* A string of at most max bytes, without NUL bytes, copied into dst
 * (dst has room for max + 1). */
static bt_err_t s_str(s_rd_t *r, const char *field, size_t max, char *dst)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, field, &t);
    if (e != BT_OK || (e = s_want(r, field, &t, S_STR, at)) != BT_OK)
        return e;
    if (t.u > max) {
        r->p = at;
        return s_fail(r, BT_ELIMIT, field, "the string is %llu bytes, the limit is %zu",
                      (unsigned long long)t.u, max);
    }
    if (memchr(r->p, '\0', (size_t)t.u)) {
        r->p = at;
        return s_fail(r, BT_EPROTO, field, "the string contains a NUL byte");
    }
    memcpy(dst, r->p, (size_t)t.u);
    dst[t.u] = '\0';
    r->p += t.u;
    return BT_OK;
}

/* An array header of at most max elements. */
static bt_err_t s_array(s_rd_t *r, const char *field, uint32_t max, uint32_t *n)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, field, &t);
    if (e != BT_OK || (e = s_want(r, field, &t, S_ARR, at)) != BT_OK)
        return e;
    if (t.u > max) {
        r->p = at;
        return s_fail(r, BT_ELIMIT, field, "the array has %llu elements, the limit is %u",
                      (unsigned long long)t.u, max);
    }
    *n = (uint32_t)t.u;
    return BT_OK;
}

static bt_err_t s_map(s_rd_t *r, const char *field, uint32_t *n)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, field, &t);
    if (e != BT_OK || (e = s_want(r, field, &t, S_MAP, at)) != BT_OK)
        return e;
    *n = (uint32_t)t.u; /* <= bytes left / 2 < BT_WIRE_MSG_MAX */
    return BT_OK;
}

/* Reads a map key and finds it in keys[]: *idx = its index, or -1 if the key
 * is not known (its value is then to be skipped). Keys must be strings. */
static bt_err_t s_key(s_rd_t *r, const char *where, const char *const *keys, uint32_t nkeys,
                      int *idx, char *name, size_t name_cap)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, where, &t);
    if (e != BT_OK)
        return e;
    if (t.kind != S_STR) {
        r->p = at;
        return s_fail(r, BT_EPROTO, where, "a map key is %s; keys must be strings",
                      s_kind_name[t.kind]);
    }
    size_t n = (size_t)t.u;
    size_t shown = n < name_cap - 1 ? n : name_cap - 1;
    for (size_t i = 0; i < shown; i++)
        name[i] = (r->p[i] >= 0x20 && r->p[i] < 0x7f) ? (char)r->p[i] : '?';
    name[shown] = '\0';
    *idx = -1;
    for (uint32_t k = 0; k < nkeys; k++)
        if (strlen(keys[k]) == n && memcmp(keys[k], r->p, n) == 0)
            *idx = (int)k;
    r->p += n;
    return BT_OK;
}

/* Marks key idx seen; a second sighting is an error. */
static bt_err_t s_seen(s_rd_t *r, uint32_t *seen, int idx, const char *name)
{
    uint32_t bit = 1u << idx;
    if (*seen & bit)
        return s_fail(r, BT_EPROTO, name, "the key appears twice in one map");
    *seen |= bit;
    return BT_OK;
}

static bt_err_t s_missing(s_rd_t *r, uint32_t seen, uint32_t required, const char *const *keys,
                          const char *where)
{
    uint32_t miss = required & ~seen;
    if (!miss)
        return BT_OK;
    int k = __builtin_ctz(miss);
    return bt_errf(r->eb, BT_EPROTO, "wire %s: %srequired key '%s' is missing", r->mn, where,
                   keys[k]);
}

static bt_err_t s_pool(bt_msg_t *m, bt_errbuf_t *eb)
{
    if (m->pool)
        return BT_OK;
    m->pool = calloc(1, sizeof *m->pool);
    if (!m->pool)
        return bt_errf(eb, BT_ENOMEM, "wire decode: out of memory");
    return BT_OK;
}

/* ------------------------------------------------- per-message fields -- */

typedef bt_err_t (*s_field_fn)(s_rd_t *r, bt_msg_t *m, int k);

static bt_err_t s_f_hello(s_rd_t *r, bt_msg_t *m, int k)
{
    switch (k) {
    case K_HELLO_NAME:
        return s_str(r, "name", BT_WIRE_NAME_MAX, m->hello.name);
    case K_HELLO_THR:
        return s_u32(r, "thr", &m->hello.threads);
    default:
        return s_str(r, "ver", BT_WIRE_BTVER_MAX, m->hello.bt_version);
    }
}

static bt_err_t s_f_welcome(s_rd_t *r, bt_msg_t *m, int k)
{
    switch (k) {
    case K_WEL_SID:
        return s_str(r, "sid", BT_WIRE_SWEEPID_MAX, m->welcome.sweep_id);
    case K_WEL_HB:
        return s_u32(r, "hb", &m->welcome.heartbeat_ms);
    default:
        return s_u32(r, "lease", &m->welcome.lease_ms);
    }
}

static bt_err_t s_f_reason(s_rd_t *r, bt_msg_t *m, int k)
{
    bt_msg_reason_t *rs = m->type == BT_MSG_REFUSE ? &m->refuse : &m->bye;
    return s_str(r, "why", BT_WIRE_REASON_MAX, rs->reason);
}

/* An array of at most maxn strings of at most maxlen bytes (SWEEP "set",
 * "mcols"), copied one after another into st; the pointers are made once all
 * are read (the byte buffer may move). */
static bt_err_t s_strs(s_rd_t *r, bt_msg_t *m, const char *field, uint32_t maxn, size_t maxlen,
                       int slot, const char *const **out, uint32_t *nout)
{
    uint32_t n = 0;
    bt_err_t e = s_array(r, field, maxn, &n);
    if (e != BT_OK || (e = s_pool(m, r->eb)) != BT_OK)
        return e;
    s_strs_t *st = &m->pool->strs[slot];
    if (n && (s_reserve((void **)&st->v, &st->v_cap, n, sizeof *st->v, maxn) != BT_OK ||
              s_reserve((void **)&st->off, &st->off_cap, n, sizeof *st->off, maxn) != BT_OK))
        return bt_errf(r->eb, BT_ENOMEM, "wire decode %s: out of memory", r->mn);
    size_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *at = r->p;
        s_tok_t t;
        if ((e = s_next(r, field, &t)) != BT_OK || (e = s_want(r, field, &t, S_STR, at)) != BT_OK)
            return e;
        if (t.u > maxlen) {
            r->p = at;
            return s_fail(r, BT_ELIMIT, field, "%s[%u] is %llu bytes, the limit is %zu", field, i,
                          (unsigned long long)t.u, maxlen);
        }
        if (memchr(r->p, '\0', (size_t)t.u)) {
            r->p = at;
            return s_fail(r, BT_EPROTO, field, "%s[%u] contains a NUL byte", field, i);
        }
        if (s_reserve((void **)&st->bytes, &st->bytes_cap, used + (size_t)t.u + 1, 1,
                      (size_t)maxn * (maxlen + 1)) != BT_OK)
            return bt_errf(r->eb, BT_ENOMEM, "wire decode %s: out of memory", r->mn);
        memcpy(st->bytes + used, r->p, (size_t)t.u);
        st->bytes[used + t.u] = '\0';
        st->off[i] = used;
        used += (size_t)t.u + 1;
        r->p += t.u;
    }
    for (uint32_t i = 0; i < n; i++)
        st->v[i] = st->bytes + st->off[i];
    *out = n ? st->v : NULL;
    *nout = n;
    return BT_OK;
}

static bt_err_t s_f_sweep(s_rd_t *r, bt_msg_t *m, int k)
{
    switch (k) {
    case K_SWEEP_YAML: {
        const uint8_t *at = r->p;
        s_tok_t t;
        bt_err_t e = s_next(r, "yaml", &t);
        if (e != BT_OK || (e = s_want(r, "yaml", &t, S_BIN, at)) != BT_OK)
            return e;
        if (t.u > BT_WIRE_YAML_MAX) {
            r->p = at;
            return s_fail(r, BT_ELIMIT, "yaml", "the config is %llu bytes, the limit is %u",
                          (unsigned long long)t.u, BT_WIRE_YAML_MAX);
        }
        if ((e = s_pool(m, r->eb)) != BT_OK)
            return e;
        struct bt_msg_pool *pl = m->pool;
        if (s_reserve((void **)&pl->bytes, &pl->bytes_cap, (size_t)t.u + 1, 1,
                      BT_WIRE_YAML_MAX + 1) != BT_OK)
            return bt_errf(r->eb, BT_ENOMEM, "wire decode SWEEP: out of memory");
        memcpy(pl->bytes, r->p, (size_t)t.u);
        pl->bytes[t.u] = '\0';
        r->p += t.u;
        m->sweep.yaml = pl->bytes;
        m->sweep.yaml_len = (size_t)t.u;
        return BT_OK;
    }
    case K_SWEEP_SHA:
        return s_str(r, "sha", BT_WIRE_SHA256_HEX, m->sweep.config_sha256);
    case K_SWEEP_STORE:
        return s_str(r, "store", BT_WIRE_PATH_MAX, m->sweep.store_path);
    case K_SWEEP_DHASH:
        return s_str(r, "dhash", BT_WIRE_SHA256_HEX, m->sweep.data_hash);
    case K_SWEEP_SET:
        return s_strs(r, m, "set", BT_WIRE_SETS_MAX, BT_WIRE_SET_MAX, 0, &m->sweep.sets,
                      &m->sweep.nsets);
    default:
        return s_strs(r, m, "mcols", BT_WIRE_MCOLS_MAX, BT_WIRE_MCOL_MAX, 1, &m->sweep.mcols,
                      &m->sweep.nmcols);
    }
}

/* One element of "jobs": a map {id, a, o}. Overrides are appended to the
 * pool at *nover_total (pointers are fixed up after the whole batch). */
static bt_err_t s_one_job(s_rd_t *r, bt_msg_t *m, uint32_t i, size_t *nover_total)
{
    struct bt_msg_pool *pl = m->pool;
    bt_wire_job_t *j = &pl->jobs[i];
    memset(j, 0, sizeof *j);
    char where[48], field[64], name[32];
    snprintf(where, sizeof where, "jobs[%u]", i);
    uint32_t n = 0, seen = 0;
    bt_err_t e = s_map(r, where, &n);
    if (e != BT_OK)
        return e;
    for (uint32_t q = 0; q < n; q++) {
        int k = -1;
        if ((e = s_key(r, where, s_keys_onejob, S_NKEYS(s_keys_onejob), &k, name, sizeof name)) !=
            BT_OK)
            return e;
        snprintf(field, sizeof field, "jobs[%u].%s", i, name);
        if (k < 0) {
            if ((e = s_skip(r, field, 1)) != BT_OK)
                return e;
            continue;
        }
        if ((e = s_seen(r, &seen, k, field)) != BT_OK)
            return e;
        if (k == K_J_ID) {
            e = s_uint(r, field, UINT64_MAX, &j->id);
        } else if (k == K_J_A) {
            e = s_u32(r, field, &j->attempt);
        } else {
            uint32_t no = 0;
            if ((e = s_array(r, field, BT_WIRE_OVERRIDES_MAX, &no)) != BT_OK)
                return e;
            if (s_reserve((void **)&pl->over, &pl->over_cap, *nover_total + no, sizeof *pl->over,
                          (size_t)BT_WIRE_JOBS_MAX * BT_WIRE_OVERRIDES_MAX) != BT_OK)
                return bt_errf(r->eb, BT_ENOMEM, "wire decode JOB: out of memory");
            for (uint32_t o = 0; o < no; o++) {
                bt_wire_override_t *ov = &pl->over[*nover_total + o];
                uint32_t two = 0;
                snprintf(field, sizeof field, "jobs[%u].o[%u]", i, o);
                if ((e = s_array(r, field, 2, &two)) != BT_OK)
                    return e;
                if (two != 2)
                    return s_fail(r, BT_EPROTO, field,
                                  "an override is a [key, value] pair; this one has %u elements",
                                  two);
                if ((e = s_str(r, field, BT_WIRE_KEY_MAX, ov->key)) != BT_OK ||
                    (e = s_double(r, field, &ov->value)) != BT_OK)
                    return e;
            }
            j->nover = no;
            *nover_total += no;
        }
        if (e != BT_OK)
            return e;
    }
    snprintf(where, sizeof where, "jobs[%u]: ", i);
    return s_missing(r, seen, S_ALL(3), s_keys_onejob, where);
}

static bt_err_t s_f_job(s_rd_t *r, bt_msg_t *m, int k)
{
    uint32_t n = 0;
    bt_err_t e = s_array(r, "jobs", BT_WIRE_JOBS_MAX, &n);
    if (e != BT_OK || (e = s_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n && s_reserve((void **)&pl->jobs, &pl->jobs_cap, n, sizeof *pl->jobs, BT_WIRE_JOBS_MAX) !=
                 BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode JOB: out of memory");
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if ((e = s_one_job(r, m, i, &total)) != BT_OK)
            return e;
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        pl->jobs[i].over = pl->jobs[i].nover ? &pl->over[off] : NULL;
        off += pl->jobs[i].nover;
    }
    m->job.jobs = n ? pl->jobs : NULL;
    m->job.njobs = n;
    return BT_OK;
}

/* An array of at most max numbers as doubles, into pool slot `slot`. */
static bt_err_t s_doubles(s_rd_t *r, bt_msg_t *m, const char *field, uint32_t max, int slot,
                          const double **out, uint32_t *nout)
{
    uint32_t n = 0;
    bt_err_t e = s_array(r, field, max, &n);
    if (e != BT_OK || (e = s_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n && s_reserve((void **)&pl->f64[slot], &pl->f64_cap[slot], n, sizeof(double), max) !=
                 BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode %s: out of memory", r->mn);
    for (uint32_t i = 0; i < n; i++)
        if ((e = s_double(r, field, &pl->f64[slot][i])) != BT_OK)
            return e;
    pl->f64_n[slot] = n;
    *out = n ? pl->f64[slot] : NULL;
    *nout = n;
    return BT_OK;
}

/* RESULT "et": segment times, integers of either sign. */
static bt_err_t s_times(s_rd_t *r, bt_msg_t *m)
{
    uint32_t n = 0;
    bt_err_t e = s_array(r, "et", BT_WIRE_SEG_MAX, &n);
    if (e != BT_OK || (e = s_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n && s_reserve((void **)&pl->i64, &pl->i64_cap, n, sizeof *pl->i64, BT_WIRE_SEG_MAX) !=
                 BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode RESULT: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *at = r->p;
        s_tok_t t;
        if ((e = s_next(r, "et", &t)) != BT_OK)
            return e;
        if (t.kind == S_INT) {
            pl->i64[i] = t.i;
        } else if (t.kind == S_UINT && t.u <= (uint64_t)INT64_MAX) {
            pl->i64[i] = (int64_t)t.u;
        } else {
            r->p = at;
            return s_fail(r, BT_EPROTO, "et", "et[%u] is not a 64-bit signed integer", i);
        }
    }
    m->result.seg_time = n ? pl->i64 : NULL;
    m->result.nseg = n;
    return BT_OK;
}

/* RESULT "ex": one byte per segment point. */
static bt_err_t s_exposed(s_rd_t *r, bt_msg_t *m)
{
    const uint8_t *at = r->p;
    s_tok_t t;
    bt_err_t e = s_next(r, "ex", &t);
    if (e != BT_OK || (e = s_want(r, "ex", &t, S_BIN, at)) != BT_OK ||
        (e = s_pool(m, r->eb)) != BT_OK)
        return e;
    if (t.u > BT_WIRE_SEG_MAX) {
        r->p = at;
        return s_fail(r, BT_ELIMIT, "ex", "%llu bytes, the limit is %u", (unsigned long long)t.u,
                      BT_WIRE_SEG_MAX);
    }
    struct bt_msg_pool *pl = m->pool;
    if (t.u && s_reserve((void **)&pl->u8, &pl->u8_cap, (size_t)t.u, 1, BT_WIRE_SEG_MAX) != BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode RESULT: out of memory");
    memcpy(pl->u8, r->p, (size_t)t.u);
    r->p += t.u;
    pl->u8_n = (size_t)t.u;
    m->result.seg_exposed = t.u ? pl->u8 : NULL;
    return BT_OK;
}

static bt_err_t s_f_result(s_rd_t *r, bt_msg_t *m, int k)
{
    bt_msg_result_t *res = &m->result;
    bt_err_t e;
    uint32_t e_unused = 0;
    switch (k) {
    case K_RES_ID:
        return s_uint(r, "id", UINT64_MAX, &res->job_id);
    case K_RES_A:
        return s_u32(r, "a", &res->attempt);
    case K_RES_ST: {
        char st[8];
        const uint8_t *at = r->p;
        if ((e = s_str(r, "st", sizeof st - 1, st)) != BT_OK) {
            if (e == BT_ELIMIT) {
                r->p = at;
                return s_fail(r, BT_EPROTO, "st", "status must be \"ok\" or \"failed\"");
            }
            return e;
        }
        if (strcmp(st, "ok") == 0) {
            res->status = BT_JOB_OK;
        } else if (strcmp(st, "failed") == 0) {
            res->status = BT_JOB_FAILED;
        } else {
            r->p = at;
            return s_fail(r, BT_EPROTO, "st", "status \"%s\" is neither \"ok\" nor \"failed\"", st);
        }
        return BT_OK;
    }
    case K_RES_ERR:
        return s_str(r, "err", BT_WIRE_ERROR_MAX, res->error);
    case K_RES_M: {
        const uint8_t *at = r->p;
        uint32_t n = 0;
        if ((e = s_array(r, "m", UINT32_MAX, &n)) != BT_OK)
            return e;
        if (n != BT_WIRE_NMETRICS) {
            r->p = at;
            return s_fail(r, BT_EPROTO, "m",
                          "%u metrics, this build has %u (BT_METRICS): coordinator and worker "
                          "are different builds; run the same bt version on both",
                          n, (unsigned)BT_WIRE_NMETRICS);
        }
        double v[BT_WIRE_NMETRICS];
        for (uint32_t i = 0; i < n; i++)
            if ((e = s_double(r, "m", &v[i])) != BT_OK)
                return e;
        size_t i = 0;
#define S_SET_METRIC(name, desc) res->metrics.name = v[i++];
        BT_METRICS(S_SET_METRIC)
#undef S_SET_METRIC
        res->has_metrics = true;
        return BT_OK;
    }
    case K_RES_US:
        return s_uint(r, "us", UINT64_MAX, &res->run_us);
    case K_RES_BARS:
        return s_uint(r, "bars", UINT64_MAX, &res->bars);
    case K_RES_BLK:
        return s_doubles(r, m, "blk", BT_WIRE_BLK_MAX, S_F64_BLK, &res->blk, &res->nblk);
    case K_RES_EE:
        res->has_seg = true;
        return s_doubles(r, m, "ee", BT_WIRE_SEG_MAX, S_F64_EE, &res->seg_equity, &e_unused);
    case K_RES_FV:
        res->has_seg = true;
        return s_doubles(r, m, "fv", BT_WIRE_FILLS_MAX, S_F64_FV, &res->fill_value, &res->nfills);
    case K_RES_FC:
        res->has_seg = true;
        return s_doubles(r, m, "fc", BT_WIRE_FILLS_MAX, S_F64_FC, &res->fill_commission,
                         &e_unused);
    case K_RES_TP:
        res->has_seg = true;
        return s_doubles(r, m, "tp", BT_WIRE_TRADES_MAX, S_F64_TP, &res->trade_pnl, &res->ntrades);
    case K_RES_RJ:
        res->has_seg = true;
        return s_uint(r, "rj", UINT64_MAX, &res->rejected);
    case K_RES_ET:
        res->has_seg = true;
        return s_times(r, m);
    default:
        res->has_seg = true;
        return s_exposed(r, m);
    }
}

static bt_err_t s_f_credit(s_rd_t *r, bt_msg_t *m, int k)
{
    return s_u32(r, "n", &m->credit.credit);
}

static bt_err_t s_f_hb(s_rd_t *r, bt_msg_t *m, int k)
{
    return s_uint(r, "seq", UINT64_MAX, &m->heartbeat.seq);
}

static bt_err_t s_f_ack(s_rd_t *r, bt_msg_t *m, int k)
{
    uint32_t n = 0;
    bt_err_t e = s_array(r, "ids", BT_WIRE_ACK_MAX, &n);
    if (e != BT_OK || (e = s_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n &&
        s_reserve((void **)&pl->u64, &pl->u64_cap, n, sizeof *pl->u64, BT_WIRE_ACK_MAX) != BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode ACK: out of memory");
    for (uint32_t i = 0; i < n; i++)
        if ((e = s_uint(r, "ids", UINT64_MAX, &pl->u64[i])) != BT_OK)
            return e;
    m->ack.ids = n ? pl->u64 : NULL;
    m->ack.nids = n;
    return BT_OK;
}

typedef struct {
    const char *const *keys; /* body keys */
    uint32_t nkeys;          /* their number */
    uint32_t required;       /* mask of required keys */
    s_field_fn field;        /* decodes the value of key index k */
} s_spec_t;

static const s_spec_t s_specs[BT_MSG_TYPE_COUNT_] = {
    [BT_MSG_HELLO] = {s_keys_hello, 3, S_ALL(3), s_f_hello},
    [BT_MSG_WELCOME] = {s_keys_welcome, 3, S_ALL(3), s_f_welcome},
    [BT_MSG_REFUSE] = {s_keys_reason, 1, S_ALL(1), s_f_reason},
    /* "set" and "mcols" are optional (absent = no --set overrides, no column check). */
    [BT_MSG_SWEEP] = {s_keys_sweep, 6, S_ALL(4), s_f_sweep},
    [BT_MSG_JOB] = {s_keys_job, 1, S_ALL(1), s_f_job},
    /* "m" is checked against the status by bt_wire_check; "blk" is optional. */
    /* The segment keys are optional, all or none (checked after the map). */
    [BT_MSG_RESULT] = {s_keys_result, 15, S_ALL(8) & ~(1u << K_RES_M) & ~(1u << K_RES_BLK),
                       s_f_result},
    [BT_MSG_CREDIT] = {s_keys_credit, 1, S_ALL(1), s_f_credit},
    [BT_MSG_HEARTBEAT] = {s_keys_hb, 1, S_ALL(1), s_f_hb},
    [BT_MSG_BYE] = {s_keys_reason, 1, S_ALL(1), s_f_reason},
    [BT_MSG_ACK] = {s_keys_ack, 1, S_ALL(1), s_f_ack},
};

/* ---------------------------------------------------------------- decode -- */

/* RESULT: the segment keys come all or none, with matching lengths. */
static bt_err_t s_seg_shape(s_rd_t *r, const bt_msg_t *m, uint32_t seen)
{
    if (!(seen & S_SEG_KEYS))
        return BT_OK;
    bt_err_t e = s_missing(r, seen, S_SEG_KEYS, s_keys_result, "segment: ");
    if (e != BT_OK)
        return e;
    const struct bt_msg_pool *pl = m->pool;
    const bt_msg_result_t *res = &m->result;
    if (pl->f64_n[S_F64_EE] != res->nseg || pl->u8_n != res->nseg ||
        pl->f64_n[S_F64_FC] != res->nfills)
        return bt_errf(r->eb, BT_EPROTO,
                       "wire RESULT: segment arrays of different lengths (et %u, ee %zu, ex "
                       "%zu; fv %u, fc %zu)",
                       res->nseg, pl->f64_n[S_F64_EE], pl->u8_n, res->nfills,
                       pl->f64_n[S_F64_FC]);
    return BT_OK;
}

static const char *const s_head_keys[] = {"t", "v"};

/* Pass 1: the whole message is one well-formed map (every value skipped,
 * nothing after it); finds "t" and "v". */
static bt_err_t s_head(s_rd_t *r, char *tname, size_t tcap, bool *has_t, uint64_t *v, bool *has_v)
{
    uint32_t n = 0, seen = 0;
    bt_err_t e = s_map(r, "(top level)", &n);
    if (e != BT_OK)
        return e;
    for (uint32_t i = 0; i < n; i++) {
        int k = -1;
        char name[32];
        if ((e = s_key(r, "(top level)", s_head_keys, 2, &k, name, sizeof name)) != BT_OK)
            return e;
        if (k < 0) {
            if ((e = s_skip(r, name, 1)) != BT_OK)
                return e;
            continue;
        }
        if ((e = s_seen(r, &seen, k, name)) != BT_OK)
            return e;
        if (k == 0) {
            const uint8_t *at = r->p;
            s_tok_t t;
            if ((e = s_next(r, "t", &t)) != BT_OK || (e = s_want(r, "t", &t, S_STR, at)) != BT_OK)
                return e;
            size_t len = t.u < tcap - 1 ? (size_t)t.u : tcap - 1;
            memcpy(tname, r->p, len);
            tname[len] = '\0';
            if (t.u >= tcap || memchr(tname, '\0', len))
                tname[0] = '?', tname[1] = '\0';
            r->p += t.u;
            *has_t = true;
        } else {
            if ((e = s_uint(r, "v", UINT64_MAX, v)) != BT_OK)
                return e;
            *has_v = true;
        }
    }
    if (r->p != r->end)
        return s_fail(r, BT_EPROTO, "(top level)",
                      "%zu bytes follow the message map; one message is exactly one map",
                      s_left(r));
    return BT_OK;
}

bt_err_t bt_wire_decode(const void *data, size_t len, bt_msg_t *m, bt_errbuf_t *eb)
{
    assert(m && (data || len == 0));
    bt_msg_reset(m, BT_MSG_NONE);
    m->version = 0;
    if (len > BT_WIRE_MSG_MAX)
        return bt_errf(eb, BT_ELIMIT, "wire message of %zu bytes refused: the limit is %u", len,
                       BT_WIRE_MSG_MAX);
    if (len == 0)
        return bt_errf(eb, BT_EPROTO, "wire message is empty");
    s_rd_t r = {
        .base = data, .p = data, .end = (const uint8_t *)data + len, .mn = "message", .eb = eb};
    char tname[16];
    bool has_t = false, has_v = false;
    uint64_t v = 0;
    bt_err_t e = s_head(&r, tname, sizeof tname, &has_t, &v, &has_v);
    if (e != BT_OK)
        return e;
    if (!has_v)
        return bt_errf(eb, BT_EPROTO,
                       "wire message: required key 'v' (protocol version) is "
                       "missing");
    if (v != BT_WIRE_VERSION) {
        m->version = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        return bt_errf(eb, BT_EVERSION,
                       "wire message speaks protocol v%llu, this program speaks v%u: run the "
                       "same bt version on coordinator and workers",
                       (unsigned long long)v, BT_WIRE_VERSION);
    }
    if (!has_t)
        return bt_errf(eb, BT_EPROTO, "wire message: required key 't' (type) is missing");
    bt_msg_type_t type = BT_MSG_NONE;
    for (int i = 1; i < BT_MSG_TYPE_COUNT_; i++)
        if (strcmp(tname, s_type_wire[i]) == 0)
            type = (bt_msg_type_t)i;
    if (type == BT_MSG_NONE)
        return bt_errf(eb, BT_EPROTO, "wire message: unknown type \"%s\"", tname);

    /* Pass 2: the fields. The structure is known to be sound. */
    m->type = type;
    m->version = BT_WIRE_VERSION;
    r.p = r.base;
    r.mn = s_type_name[type];
    const s_spec_t *sp = &s_specs[type];
    uint32_t n = 0, seen = 0;
    if ((e = s_map(&r, "(top level)", &n)) != BT_OK)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        int k = -1;
        char name[32];
        if ((e = s_key(&r, "(top level)", sp->keys, sp->nkeys, &k, name, sizeof name)) != BT_OK)
            goto fail;
        if (k < 0) { /* "t", "v" (checked in pass 1) or unknown: skip */
            if ((e = s_skip(&r, name, 1)) != BT_OK)
                goto fail;
            continue;
        }
        if ((e = s_seen(&r, &seen, k, name)) != BT_OK || (e = sp->field(&r, m, k)) != BT_OK)
            goto fail;
    }
    if ((e = s_missing(&r, seen, sp->required, sp->keys, "")) != BT_OK)
        goto fail;
    if (type == BT_MSG_RESULT && (e = s_seg_shape(&r, m, seen)) != BT_OK)
        goto fail;
    if ((e = bt_wire_check(m, eb)) != BT_OK)
        goto fail;
    return BT_OK;
fail:
    bt_msg_reset(m, BT_MSG_NONE);
    m->version = BT_WIRE_VERSION;
    return e;
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
