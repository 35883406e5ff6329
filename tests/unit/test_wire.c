/* Unit tests for common/wire: the MessagePack codec.
 *
 * Independent checks come from msgpack-c's own unpacker/packer (a different
 * implementation from our decoder): every encoding must unpack with
 * msgpack_unpack, and malformed inputs are built by re-packing valid
 * messages with msgpack-c. Known bytes are worked out by hand from the
 * MessagePack spec (https://github.com/msgpack/msgpack/blob/master/spec.md)
 * next to each assertion. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bt_metrics.h"
#include "bt_wire.h"
#include "bt_wire_priv.h" /* the message table, for its soundness test */

/* ------------------------------------------------------ sample messages -- */

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static const char s_yaml[] = "strategy: sma_cross\nparams: {fast: 10, slow: 50}\n";

static bt_wire_override_t s_over1[] = {{"fast", 10.0}, {"slow", -0.0}};
static bt_wire_override_t s_over2[] = {{"risk.max_leverage", 4.9406564584124654e-324}};
static bt_wire_job_t s_jobs[] = {
    {.id = 0, .attempt = 0, .nover = 0, .over = NULL},
    {.id = 17, .attempt = 2, .nover = 2, .over = s_over1},
    {.id = UINT64_MAX, .attempt = UINT32_MAX, .nover = 1, .over = s_over2},
};
static const double s_blk[] = {0.01, -0.0, DBL_MAX};
static const uint64_t s_ids[] = {0, 5, UINT64_MAX};
/* RESULT's optional equity segment of a walk-forward test run: times of
 * either sign, equity, exposure flags, fills, closed-trade pnls. */
static const int64_t s_seg_t[] = {-5, 1262563200000000000LL, INT64_MAX};
static const double s_seg_e[] = {100000.0, -0.0, 4.9406564584124654e-324};
static const uint8_t s_seg_x[] = {0, 1, 1};
static const double s_fill_v[] = {1234.5, 0.0};
static const double s_fill_c[] = {1.25, 0.5};
static const double s_pnl[] = {-17.25};
/* SWEEP's optional metric columns. */
static const char *const s_mcols[] = {"final_equity", "sharpe"};
/* SWEEP's optional --set overrides (a YAML flow list, a UTF-8 value). */
static const char *const s_sets[] = {"execution.commission_pct=0.5", "data.symbols=[A, B]",
                                     "report.note=caf\xc3\xa9"};

/* A 3-chunk file (2.5 chunks of 4 bytes) and a 1-chunk one: raw sha256 bytes per chunk. */
static uint8_t s_chunk_sha[3 * 32];
static const char s_chunk_bytes[] = "bar store bytes\0with a NUL";

enum { NSAMPLES = 17 };

/* Sample i of every message type (two RESULTs: ok and failed; two SWEEPs:
 * without and with --set overrides). */
static void s_sample(int i, bt_msg_t *m)
{
    bt_msg_init(m);
    switch (i) {
    case 0:
        bt_msg_reset(m, BT_MSG_HELLO);
        snprintf(m->hello.name, sizeof m->hello.name, "host-1:4242");
        m->hello.threads = 8;
        snprintf(m->hello.bt_version, sizeof m->hello.bt_version, "0.1.0");
        break;
    case 1:
        bt_msg_reset(m, BT_MSG_WELCOME);
        snprintf(m->welcome.sweep_id, sizeof m->welcome.sweep_id, "sw-20240101-abc");
        m->welcome.heartbeat_ms = 1000;
        m->welcome.lease_ms = 30000;
        break;
    case 2:
        bt_msg_reset(m, BT_MSG_REFUSE);
        snprintf(m->refuse.reason, sizeof m->refuse.reason,
                 "coordinator speaks v1, worker v2: upgrade the worker");
        break;
    case 3:
        bt_msg_reset(m, BT_MSG_SWEEP);
        m->sweep.yaml = s_yaml;
        m->sweep.yaml_len = strlen(s_yaml);
        snprintf(m->sweep.config_sha256, sizeof m->sweep.config_sha256, "%s", HEX_A);
        snprintf(m->sweep.store_path, sizeof m->sweep.store_path, "/data/bars store.h5");
        snprintf(m->sweep.data_hash, sizeof m->sweep.data_hash, "%s", HEX_B);
        break;
    case 4:
        bt_msg_reset(m, BT_MSG_JOB);
        m->job.jobs = s_jobs;
        m->job.njobs = 3;
        break;
    case 5:
        bt_msg_reset(m, BT_MSG_RESULT);
        m->result.job_id = 17;
        m->result.attempt = 2;
        m->result.status = BT_JOB_OK;
        m->result.has_metrics = true;
        for (size_t k = 0; k < BT_WIRE_NMETRICS; k++)
            bt_metrics_set(&m->result.metrics, k, (double)k * 1.5 - 3.0);
        m->result.metrics.total_return = -0.0;
        m->result.metrics.sharpe = DBL_TRUE_MIN; /* subnormal */
        m->result.metrics.final_equity = -DBL_MAX;
        m->result.run_us = 123456;
        m->result.bars = 5000;
        m->result.blk = s_blk;
        m->result.nblk = 3;
        break;
    case 6:
        bt_msg_reset(m, BT_MSG_RESULT);
        m->result.job_id = 18;
        m->result.status = BT_JOB_FAILED;
        snprintf(m->result.error, sizeof m->result.error, "strategy 'sma_cross': fast >= slow");
        break;
    case 7:
        bt_msg_reset(m, BT_MSG_CREDIT);
        m->credit.credit = 64;
        break;
    case 8:
        bt_msg_reset(m, BT_MSG_HEARTBEAT);
        m->heartbeat.seq = UINT64_MAX;
        break;
    case 9:
        bt_msg_reset(m, BT_MSG_BYE);
        snprintf(m->bye.reason, sizeof m->bye.reason, "shutting down");
        break;
    case 10:
        bt_msg_reset(m, BT_MSG_ACK);
        m->ack.ids = s_ids;
        m->ack.nids = 3;
        break;
    case 11:
        s_sample(3, m);
        m->sweep.sets = s_sets;
        m->sweep.nsets = 3;
        break;
    case 12:
        s_sample(5, m);
        m->result.blk = NULL;
        m->result.nblk = 0;
        m->result.has_seg = true;
        m->result.seg_time = s_seg_t;
        m->result.seg_equity = s_seg_e;
        m->result.seg_exposed = s_seg_x;
        m->result.nseg = 3;
        m->result.fill_value = s_fill_v;
        m->result.fill_commission = s_fill_c;
        m->result.nfills = 2;
        m->result.trade_pnl = s_pnl;
        m->result.ntrades = 1;
        m->result.rejected = 2;
        break;
    case 14:
        bt_msg_reset(m, BT_MSG_FETCH);
        m->fetch.kind = BT_WIRE_FILE_LIB;
        snprintf(m->fetch.sha256, sizeof m->fetch.sha256, "%s", HEX_A);
        m->fetch.offset = 3ull << 20;
        m->fetch.len = BT_WIRE_CHUNK_MAX;
        break;
    case 15:
        bt_msg_reset(m, BT_MSG_CHUNK);
        snprintf(m->chunk.sha256, sizeof m->chunk.sha256, "%s", HEX_B);
        m->chunk.offset = 1ull << 20;
        m->chunk.bytes = s_chunk_bytes;
        m->chunk.len = sizeof s_chunk_bytes; /* with the NUL inside and at the end */
        break;
    case 16: /* SWEEP with the store and library manifests */
        s_sample(13, m);
        for (size_t k = 0; k < sizeof s_chunk_sha; k++)
            s_chunk_sha[k] = (uint8_t)(k * 7u + 1u);
        m->sweep.data_file.has = true;
        snprintf(m->sweep.data_file.sha256, sizeof m->sweep.data_file.sha256, "%s", HEX_B);
        m->sweep.data_file.size = 10;
        m->sweep.data_file.chunk = 4;
        m->sweep.data_file.chunk_sha = s_chunk_sha;
        m->sweep.data_file.chunk_sha_len = 3 * 32;
        m->sweep.lib_file.has = true;
        snprintf(m->sweep.lib_file.sha256, sizeof m->sweep.lib_file.sha256, "%s", HEX_A);
        m->sweep.lib_file.size = BT_WIRE_CHUNK_MAX;
        m->sweep.lib_file.chunk = BT_WIRE_CHUNK_MAX;
        m->sweep.lib_file.chunk_sha = s_chunk_sha + 32;
        m->sweep.lib_file.chunk_sha_len = 32;
        break;
    default:
        s_sample(11, m);
        m->sweep.mcols = s_mcols;
        m->sweep.nmcols = 2;
        break;
    }
}

/* Whether needle occurs in hay (memmem is not in POSIX). */
static bool s_contains(const char *hay, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

/* Encodes m into a malloc'd copy (*len bytes). */
static char *s_encode(const bt_msg_t *m, size_t *len)
{
    bt_wire_buf_t b;
    bt_wire_buf_init(&b);
    bt_errbuf_t eb;
    bt_err_t e = bt_wire_encode(m, &b, &eb);
    cr_assert_eq(e, BT_OK, "encode %s: %s", bt_msg_type_name(m->type), eb.msg);
    char *out = malloc(b.len);
    memcpy(out, b.data, b.len);
    *len = b.len;
    bt_wire_buf_fini(&b);
    return out;
}

/* msgpack-c (an independent implementation) must read it as exactly one map. */
static void s_msgpack_c_accepts(const char *data, size_t len)
{
    msgpack_zone z;
    msgpack_zone_init(&z, 2048);
    msgpack_object o;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(data, len, &off, &z, &o);
    cr_assert_eq(r, MSGPACK_UNPACK_SUCCESS, "msgpack-c rejects our encoding (%d)", (int)r);
    cr_assert_eq(o.type, MSGPACK_OBJECT_MAP);
    msgpack_zone_destroy(&z);
}

/* Encode, check with msgpack-c, decode, compare, re-encode: same bytes. */
static void s_roundtrip(const bt_msg_t *in)
{
    size_t len, len2;
    char *bytes = s_encode(in, &len);
    s_msgpack_c_accepts(bytes, len);
    bt_msg_t out;
    bt_msg_init(&out);
    bt_errbuf_t eb;
    bt_err_t e = bt_wire_decode(bytes, len, &out, &eb);
    cr_assert_eq(e, BT_OK, "decode %s: %s", bt_msg_type_name(in->type), eb.msg);
    cr_assert_eq(out.version, BT_WIRE_VERSION);
    cr_assert(bt_msg_equal(in, &out), "%s differs after a round trip", bt_msg_type_name(in->type));
    char *again = s_encode(&out, &len2);
    cr_assert_eq(len2, len);
    cr_assert_eq(memcmp(bytes, again, len), 0);
    free(again);
    free(bytes);
    bt_msg_fini(&out);
}

static bt_err_t s_decode(const void *data, size_t len, bt_errbuf_t *eb)
{
    bt_msg_t m;
    bt_msg_init(&m);
    bt_err_t e = bt_wire_decode(data, len, &m, eb);
    if (e != BT_OK)
        cr_assert_eq(m.type, BT_MSG_NONE, "a failed decode leaves type NONE");
    bt_msg_fini(&m);
    return e;
}

/* ------------------------------------------------------------ round trip -- */

Test(wire, metrics_count_matches_engine)
{
    cr_assert_eq((size_t)BT_WIRE_NMETRICS, bt_metrics_count());
}

Test(wire, roundtrip_every_type)
{
    for (int i = 0; i < NSAMPLES; i++) {
        bt_msg_t m;
        s_sample(i, &m);
        s_roundtrip(&m);
        bt_msg_fini(&m);
    }
}

Test(wire, heartbeat_known_bytes)
{
    bt_msg_t m;
    bt_msg_init(&m);
    bt_msg_reset(&m, BT_MSG_HEARTBEAT);
    m.heartbeat.seq = 1;
    size_t len;
    char *b = s_encode(&m, &len);
    /* fixmap 3 = 0x83; "t" = a1 74; "hb" = a2 68 62; "v" = a1 76; 1 = 01;
     * "seq" = a3 73 65 71; 1 = 01. */
    static const unsigned char want[] = {0x83, 0xa1, 0x74, 0xa2, 0x68, 0x62, 0xa1,
                                         0x76, 0x01, 0xa3, 0x73, 0x65, 0x71, 0x01};
    cr_assert_eq(len, sizeof want);
    cr_assert_eq(memcmp(b, want, len), 0);
    /* Our decoder reads the hand-written bytes too. */
    bt_msg_t d;
    bt_msg_init(&d);
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_decode(want, sizeof want, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(d.type, BT_MSG_HEARTBEAT);
    cr_assert_eq(d.heartbeat.seq, 1);
    free(b);
}

Test(wire, doubles_are_float64_bit_exact)
{
    bt_msg_t m;
    s_sample(4, &m); /* JOB with "slow" = -0.0 and a subnormal */
    size_t len;
    char *b = s_encode(&m, &len);
    /* -0.0 as float64: cb 80 00 00 00 00 00 00 00; 4.94e-324 (smallest
     * subnormal, bit pattern 1): cb 00 00 00 00 00 00 00 01. */
    static const char negzero[] = "\xcb\x80\x00\x00\x00\x00\x00\x00\x00";
    static const char subn[] = "\xcb\x00\x00\x00\x00\x00\x00\x00\x01";
    cr_assert(s_contains(b, len, negzero, 9));
    cr_assert(s_contains(b, len, subn, 9));
    bt_msg_t d;
    bt_msg_init(&d);
    bt_errbuf_t eb;
    cr_assert_eq(bt_wire_decode(b, len, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert(signbit(d.job.jobs[1].over[1].value)); /* still negative zero */
    cr_assert_eq(d.job.jobs[1].over[1].value, 0.0);
    cr_assert_eq(d.job.jobs[2].over[0].value, 4.9406564584124654e-324);
    cr_assert(fpclassify(d.job.jobs[2].over[0].value) == FP_SUBNORMAL);
    bt_msg_fini(&d);
    free(b);
}

Test(wire, edge_values_and_empty_arrays)
{
    bt_msg_t m;
    bt_msg_init(&m);
    bt_msg_reset(&m, BT_MSG_JOB); /* empty batch */
    s_roundtrip(&m);
    bt_wire_job_t j = {.id = UINT64_MAX, .attempt = 0, .nover = 0, .over = NULL};
    m.job.jobs = &j;
    m.job.njobs = 1;
    s_roundtrip(&m);
    j.id = 0;
    j.attempt = UINT32_MAX;
    s_roundtrip(&m);

    bt_msg_reset(&m, BT_MSG_ACK); /* no ids */
    s_roundtrip(&m);
    bt_msg_reset(&m, BT_MSG_BYE); /* empty reason is allowed for BYE */
    s_roundtrip(&m);
    bt_msg_reset(&m, BT_MSG_CREDIT); /* zero credit */
    s_roundtrip(&m);
    m.credit.credit = BT_WIRE_CREDIT_MAX;
    s_roundtrip(&m);
    bt_msg_reset(&m, BT_MSG_HEARTBEAT);
    s_roundtrip(&m);

    bt_msg_reset(&m, BT_MSG_RESULT); /* failed, with metrics, every extreme */
    m.result.status = BT_JOB_FAILED;
    m.result.job_id = UINT64_MAX;
    m.result.attempt = UINT32_MAX;
    m.result.run_us = UINT64_MAX;
    m.result.bars = UINT64_MAX;
    snprintf(m.result.error, sizeof m.result.error, "x");
    m.result.has_metrics = true;
    for (size_t k = 0; k < BT_WIRE_NMETRICS; k++)
        bt_metrics_set(&m.result.metrics, k, k % 2 ? -DBL_TRUE_MIN : DBL_MIN / 3.0);
    s_roundtrip(&m);
    bt_msg_fini(&m);
}

Test(wire, max_caps_roundtrip)
{
    bt_msg_t m;
    bt_msg_init(&m);

    bt_msg_reset(&m, BT_MSG_HELLO);
    memset(m.hello.name, 'n', BT_WIRE_NAME_MAX);
    memset(m.hello.bt_version, 'v', BT_WIRE_BTVER_MAX);
    m.hello.threads = BT_WIRE_THREADS_MAX;
    s_roundtrip(&m);

    bt_msg_reset(&m, BT_MSG_WELCOME);
    memset(m.welcome.sweep_id, 's', BT_WIRE_SWEEPID_MAX);
    m.welcome.heartbeat_ms = UINT32_MAX;
    m.welcome.lease_ms = UINT32_MAX;
    s_roundtrip(&m);

    bt_msg_reset(&m, BT_MSG_REFUSE);
    memset(m.refuse.reason, 'r', BT_WIRE_REASON_MAX);
    s_roundtrip(&m);

    char *yaml = malloc(BT_WIRE_YAML_MAX);
    memset(yaml, '#', BT_WIRE_YAML_MAX);
    bt_msg_reset(&m, BT_MSG_SWEEP);
    m.sweep.yaml = yaml;
    m.sweep.yaml_len = BT_WIRE_YAML_MAX;
    memcpy(m.sweep.config_sha256, HEX_A, 64);
    memcpy(m.sweep.data_hash, HEX_B, 64);
    memset(m.sweep.store_path, 'p', BT_WIRE_PATH_MAX);
    s_roundtrip(&m);

    /* 4096 jobs x 64 overrides with 64-byte keys (distinct per job). */
    bt_wire_override_t *ov = calloc(BT_WIRE_OVERRIDES_MAX, sizeof *ov);
    for (uint32_t k = 0; k < BT_WIRE_OVERRIDES_MAX; k++) {
        memset(ov[k].key, 'k', BT_WIRE_KEY_MAX);
        ov[k].key[0] = (char)('0' + k / 10);
        ov[k].key[1] = (char)('0' + k % 10);
        ov[k].value = (double)k - 31.5;
    }
    bt_wire_job_t *jobs = calloc(BT_WIRE_JOBS_MAX, sizeof *jobs);
    for (uint32_t i = 0; i < BT_WIRE_JOBS_MAX; i++)
        jobs[i] = (bt_wire_job_t){.id = UINT64_MAX - i, .attempt = i, .nover = 64, .over = ov};
    bt_msg_reset(&m, BT_MSG_JOB);
    m.job.jobs = jobs;
    m.job.njobs = BT_WIRE_JOBS_MAX;
    s_roundtrip(&m);

    double *blk = malloc(BT_WIRE_BLK_MAX * sizeof *blk);
    for (uint32_t i = 0; i < BT_WIRE_BLK_MAX; i++)
        blk[i] = (double)i / 7.0;
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.status = BT_JOB_OK;
    m.result.has_metrics = true;
    m.result.blk = blk;
    m.result.nblk = BT_WIRE_BLK_MAX;
    s_roundtrip(&m);
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.status = BT_JOB_FAILED;
    memset(m.result.error, 'e', BT_WIRE_ERROR_MAX);
    s_roundtrip(&m);

    uint64_t *ids = malloc(BT_WIRE_ACK_MAX * sizeof *ids);
    for (uint32_t i = 0; i < BT_WIRE_ACK_MAX; i++)
        ids[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    bt_msg_reset(&m, BT_MSG_ACK);
    m.ack.ids = ids;
    m.ack.nids = BT_WIRE_ACK_MAX;
    s_roundtrip(&m);

    free(ids);
    free(blk);
    free(jobs);
    free(ov);
    free(yaml);
    bt_msg_fini(&m);
}

Test(wire, decode_storage_is_reused)
{
    bt_msg_t samples[NSAMPLES];
    char *bytes[NSAMPLES];
    size_t lens[NSAMPLES];
    for (int i = 0; i < NSAMPLES; i++) {
        s_sample(i, &samples[i]);
        bytes[i] = s_encode(&samples[i], &lens[i]);
    }
    bt_msg_t d;
    bt_msg_init(&d);
    bt_errbuf_t eb;
    /* Decode every sample into the same message, in two orders, with a
     * failed decode in between: each result equals its sample. */
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < NSAMPLES; k++) {
            int i = round ? NSAMPLES - 1 - k : k;
            cr_assert_eq(bt_wire_decode(bytes[i], lens[i], &d, &eb), BT_OK, "%s", eb.msg);
            cr_assert(bt_msg_equal(&samples[i], &d), "sample %d", i);
            cr_assert_neq(bt_wire_decode(bytes[i], lens[i] - 1, &d, &eb), BT_OK);
            cr_assert_eq(d.type, BT_MSG_NONE);
        }
    }
    bt_msg_fini(&d);
    bt_msg_fini(&d); /* safe twice */
    for (int i = 0; i < NSAMPLES; i++)
        free(bytes[i]);
}

/* ------------------------------------------------------------- rejection -- */

Test(wire, truncated_at_every_offset)
{
    bt_errbuf_t eb;
    for (int i = 0; i < NSAMPLES; i++) {
        bt_msg_t m;
        s_sample(i, &m);
        size_t len;
        char *b = s_encode(&m, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* A copy of exactly cut bytes, so ASan sees any over-read. */
            char *p = malloc(cut ? cut : 1);
            memcpy(p, b, cut);
            bt_err_t e = s_decode(p, cut, &eb);
            cr_assert_eq(e, BT_EPROTO, "sample %d cut at %zu/%zu: %d (%s)", i, cut, len, e, eb.msg);
            free(p);
        }
        free(b);
    }
}

Test(wire, trailing_bytes_and_non_map)
{
    bt_msg_t m;
    s_sample(7, &m);
    size_t len;
    char *b = s_encode(&m, &len);
    char *p = malloc(len + 1);
    memcpy(p, b, len);
    p[len] = 0x00;
    bt_errbuf_t eb;
    cr_assert_eq(s_decode(p, len + 1, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "follow the message map") != NULL, "%s", eb.msg);
    /* Top level is an array / an integer / nil / the never-used byte 0xc1. */
    cr_assert_eq(s_decode("\x91\x01", 2, &eb), BT_EPROTO);
    cr_assert_eq(s_decode("\x01", 1, &eb), BT_EPROTO);
    cr_assert_eq(s_decode("\xc0", 1, &eb), BT_EPROTO);
    cr_assert_eq(s_decode("\xc1", 1, &eb), BT_EPROTO);
    cr_assert_eq(s_decode("\x80", 1, &eb), BT_EPROTO); /* empty map: no "v" */
    free(p);
    free(b);
}

/* Re-packs a valid message with msgpack-c, changing top-level key `key`. */
enum { MUT_REPLACE, MUT_DROP, MUT_DUP, MUT_ADD };
typedef void (*s_packval_fn)(msgpack_packer *pk);

static void s_mutate(const char *in, size_t len, const char *key, int mut, s_packval_fn val,
                     msgpack_sbuffer *out)
{
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(in, len, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    msgpack_sbuffer_init(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    uint32_t n = o.via.map.size;
    uint32_t outn = n + (mut == MUT_DUP || mut == MUT_ADD) - (mut == MUT_DROP);
    msgpack_pack_map(&pk, outn);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o.via.map.ptr[i];
        bool hit = kv->key.via.str.size == strlen(key) &&
                   memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0;
        if (hit && mut == MUT_DROP)
            continue;
        msgpack_pack_object(&pk, kv->key);
        if (hit && mut == MUT_REPLACE)
            val(&pk);
        else
            msgpack_pack_object(&pk, kv->val);
        if (hit && mut == MUT_DUP) {
            msgpack_pack_object(&pk, kv->key);
            msgpack_pack_object(&pk, kv->val);
        }
    }
    if (mut == MUT_ADD) {
        msgpack_pack_str(&pk, strlen(key));
        msgpack_pack_str_body(&pk, key, strlen(key));
        val(&pk);
    }
    msgpack_zone_destroy(&z);
}

static void s_v_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void s_v_true(msgpack_packer *pk)
{
    msgpack_pack_true(pk);
}
static void s_v_neg(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, -1);
}
static void s_v_uint(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, 7);
}
static void s_v_float(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.5);
}
static void s_v_str(msgpack_packer *pk)
{
    msgpack_pack_str(pk, 1);
    msgpack_pack_str_body(pk, "x", 1);
}
static void s_v_bin(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 1);
    msgpack_pack_bin_body(pk, "x", 1);
}
static void s_v_arr(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void s_v_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
/* A nested unknown value: {"a": [1, {"b": nil}, "s", bin, 2.5, ext]} */
static void s_v_nested(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    s_v_str(pk);
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint8(pk, 1);
    msgpack_pack_map(pk, 1);
    s_v_str(pk);
    msgpack_pack_nil(pk);
    s_v_str(pk);
    s_v_bin(pk);
    msgpack_pack_double(pk, 2.5);
    msgpack_pack_ext(pk, 3, 5);
    msgpack_pack_ext_body(pk, "abc", 3);
}

static const struct {
    s_packval_fn fn;
    msgpack_object_type type;
} s_wrong[] = {
    {s_v_nil, MSGPACK_OBJECT_NIL},
    {s_v_true, MSGPACK_OBJECT_BOOLEAN},
    {s_v_neg, MSGPACK_OBJECT_NEGATIVE_INTEGER},
    {s_v_uint, MSGPACK_OBJECT_POSITIVE_INTEGER},
    {s_v_float, MSGPACK_OBJECT_FLOAT64},
    {s_v_str, MSGPACK_OBJECT_STR},
    {s_v_bin, MSGPACK_OBJECT_BIN},
    {s_v_arr, MSGPACK_OBJECT_ARRAY},
    {s_v_map, MSGPACK_OBJECT_MAP},
};

/* Top-level keys of a valid encoding, with their value types. */
static uint32_t s_keys(const char *b, size_t len, char keys[][16], msgpack_object_type *types)
{
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(b, len, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    uint32_t n = o.via.map.size;
    for (uint32_t i = 0; i < n; i++) {
        size_t kl = o.via.map.ptr[i].key.via.str.size;
        memcpy(keys[i], o.via.map.ptr[i].key.via.str.ptr, kl);
        keys[i][kl] = '\0';
        types[i] = o.via.map.ptr[i].val.type;
    }
    msgpack_zone_destroy(&z);
    return n;
}

Test(wire, wrong_type_for_each_field)
{
    bt_errbuf_t eb;
    int checked = 0;
    for (int i = 0; i < NSAMPLES; i++) {
        bt_msg_t m;
        s_sample(i, &m);
        size_t len;
        char *b = s_encode(&m, &len);
        char keys[16][16];
        msgpack_object_type types[16];
        uint32_t n = s_keys(b, len, keys, types);
        for (uint32_t k = 0; k < n; k++) {
            for (size_t w = 0; w < sizeof s_wrong / sizeof s_wrong[0]; w++) {
                msgpack_object_type t = s_wrong[w].type;
                bool number = t == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                              t == MSGPACK_OBJECT_NEGATIVE_INTEGER || t == MSGPACK_OBJECT_FLOAT64;
                if (t == types[k] || (types[k] == MSGPACK_OBJECT_FLOAT64 && number))
                    continue; /* same type: not a wrong-type case */
                msgpack_sbuffer sb;
                s_mutate(b, len, keys[k], MUT_REPLACE, s_wrong[w].fn, &sb);
                bt_err_t e = s_decode(sb.data, sb.size, &eb);
                cr_assert_eq(e, BT_EPROTO, "sample %d key '%s' as type %d: %d (%s)", i, keys[k],
                             (int)t, e, eb.msg);
                msgpack_sbuffer_destroy(&sb);
                checked++;
            }
        }
        free(b);
    }
    cr_assert_gt(checked, 300);
}

Test(wire, missing_and_duplicate_keys)
{
    bt_errbuf_t eb;
    for (int i = 0; i < NSAMPLES; i++) {
        bt_msg_t m;
        s_sample(i, &m);
        size_t len;
        char *b = s_encode(&m, &len);
        char keys[16][16];
        msgpack_object_type types[16];
        uint32_t n = s_keys(b, len, keys, types);
        for (uint32_t k = 0; k < n; k++) {
            msgpack_sbuffer sb;
            s_mutate(b, len, keys[k], MUT_DROP, NULL, &sb);
            bt_err_t e = s_decode(sb.data, sb.size, &eb);
            if (strcmp(keys[k], "blk") == 0 || strcmp(keys[k], "set") == 0 ||
                strcmp(keys[k], "mcols") == 0)
                cr_assert_eq(e, BT_OK, "%s is optional: %s", keys[k], eb.msg);
            else
                cr_assert_eq(e, BT_EPROTO, "sample %d without '%s': %d", i, keys[k], e);
            if (e != BT_OK)
                cr_assert(strstr(eb.msg, "missing") != NULL, "%s", eb.msg);
            msgpack_sbuffer_destroy(&sb);

            s_mutate(b, len, keys[k], MUT_DUP, NULL, &sb);
            e = s_decode(sb.data, sb.size, &eb);
            cr_assert_eq(e, BT_EPROTO, "sample %d with '%s' twice: %d", i, keys[k], e);
            cr_assert(strstr(eb.msg, "twice") != NULL, "%s", eb.msg);
            msgpack_sbuffer_destroy(&sb);
        }
        free(b);
    }
}

Test(wire, unknown_keys_are_ignored)
{
    bt_errbuf_t eb;
    for (int i = 0; i < NSAMPLES; i++) {
        bt_msg_t m;
        s_sample(i, &m);
        size_t len;
        char *b = s_encode(&m, &len);
        msgpack_sbuffer sb;
        s_mutate(b, len, "zz_future", MUT_ADD, s_v_nested, &sb);
        bt_msg_t d;
        bt_msg_init(&d);
        cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_OK, "%s", eb.msg);
        cr_assert(bt_msg_equal(&m, &d));
        bt_msg_fini(&d);
        msgpack_sbuffer_destroy(&sb);
        free(b);
    }
    /* An unknown key inside a job map is ignored too. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "job", 3);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "jobs", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "prio", 4);
    s_v_nested(&pk);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint8(&pk, 9);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "o", 1);
    msgpack_pack_array(&pk, 0);
    bt_msg_t d;
    bt_msg_init(&d);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(d.job.njobs, 1);
    cr_assert_eq(d.job.jobs[0].id, 9);
    bt_msg_fini(&d);
    msgpack_sbuffer_destroy(&sb);
}

Test(wire, deep_nesting_in_unknown_value)
{
    /* {"t":"hb","v":1,"seq":1,"x":[[[[...]]]]} nested 40 deep: refused, no
     * stack exhaustion. 33 deep would already pass the cap of 32. */
    unsigned char buf[64];
    size_t n = 0;
    const unsigned char head[] = {0x84, 0xa1, 't', 0xa2, 'h', 'b',  0xa1, 'v',
                                  0x01, 0xa3, 's', 'e',  'q', 0x01, 0xa1, 'x'};
    memcpy(buf, head, sizeof head);
    n = sizeof head;
    for (int i = 0; i < 40; i++)
        buf[n++] = 0x91;
    buf[n++] = 0xc0;
    bt_errbuf_t eb;
    cr_assert_eq(s_decode(buf, n, &eb), BT_ELIMIT, "%s", eb.msg);
    /* 10 deep is fine. */
    n = sizeof head;
    for (int i = 0; i < 10; i++)
        buf[n++] = 0x91;
    buf[n++] = 0xc0;
    cr_assert_eq(s_decode(buf, n, &eb), BT_OK, "%s", eb.msg);
}

/* Builds a HEARTBEAT-shaped prefix {"t":"<t>","v":1,<key>: then appends raw. */
static size_t s_raw(unsigned char *out, const char *type, const char *key, const unsigned char *raw,
                    size_t rawlen)
{
    size_t n = 0;
    out[n++] = 0x83;
    out[n++] = 0xa1;
    out[n++] = 't';
    out[n++] = (unsigned char)(0xa0 | strlen(type));
    memcpy(out + n, type, strlen(type));
    n += strlen(type);
    out[n++] = 0xa1;
    out[n++] = 'v';
    out[n++] = 0x01;
    out[n++] = (unsigned char)(0xa0 | strlen(key));
    memcpy(out + n, key, strlen(key));
    n += strlen(key);
    memcpy(out + n, raw, rawlen);
    return n + rawlen;
}

Test(wire, forged_sizes_are_refused_without_allocating)
{
    unsigned char buf[64];
    bt_errbuf_t eb;
    /* array32 claiming 0xffffffff ids, none present */
    const unsigned char arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(s_decode(buf, s_raw(buf, "ack", "ids", arr, 5), &eb), BT_EPROTO, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "claims") != NULL, "%s", eb.msg);
    /* array16 claiming 4096 jobs (within the cap) but 3 bytes present */
    const unsigned char jobs[] = {0xdc, 0x10, 0x00, 0x80, 0x80, 0x80};
    cr_assert_eq(s_decode(buf, s_raw(buf, "job", "jobs", jobs, 6), &eb), BT_EPROTO);
    /* array16 claiming 5000 jobs with the bytes present: over the cap */
    size_t big = 16 + 3 + 5000;
    unsigned char *p = calloc(big, 1);
    const unsigned char j5000[] = {0xdc, 0x13, 0x88};
    size_t n = s_raw(p, "job", "jobs", j5000, 3);
    memset(p + n, 0x80, 5000); /* 5000 empty maps */
    cr_assert_eq(s_decode(p, n + 5000, &eb), BT_ELIMIT, "%s", eb.msg);
    free(p);
    /* bin32 claiming a 1 MiB YAML, nothing present */
    const unsigned char bin[] = {0xc6, 0x00, 0x10, 0x00, 0x00};
    cr_assert_eq(s_decode(buf, s_raw(buf, "sweep", "yaml", bin, 5), &eb), BT_EPROTO);
    /* str32 claiming 4 GiB */
    const unsigned char str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    cr_assert_eq(s_decode(buf, s_raw(buf, "bye", "why", str, 6), &eb), BT_EPROTO);
    /* map32 claiming 2^31 entries at top level */
    cr_assert_eq(s_decode("\xdf\x80\x00\x00\x00\x01", 6, &eb), BT_EPROTO);
    /* ext32 claiming 4 GiB inside an unknown key */
    const unsigned char ext[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    cr_assert_eq(s_decode(buf, s_raw(buf, "hb", "zz", ext, 6), &eb), BT_EPROTO);
    /* ext32 header cut before its type byte */
    const unsigned char ext2[] = {0xc9, 0x00, 0x00, 0x00, 0x00};
    cr_assert_eq(s_decode(buf, s_raw(buf, "hb", "zz", ext2, 5), &eb), BT_EPROTO);
}

#if !defined(__SANITIZE_ADDRESS__)
static size_t s_vmsize(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert(f);
    unsigned long pages = 0;
    cr_assert_eq(fscanf(f, "%lu", &pages), 1);
    fclose(f);
    return pages * 4096;
}

/* With the address space capped at (now + 16 MiB), msgpack-c's unpacker
 * cannot even start on a 5-byte header claiming 16M elements (it reserves
 * 16M x 24 bytes), while our decoder rejects it and still decodes real
 * messages. (Criterion runs each test in its own process.) Skipped under
 * ASan, whose shadow memory does not mix with RLIMIT_AS. */
Test(wire, claims_do_not_allocate_under_tight_memory)
{
    struct rlimit rl = {.rlim_cur = s_vmsize() + (16u << 20), .rlim_max = RLIM_INFINITY};
    rl.rlim_max = rl.rlim_cur;
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
    const char forged[] = "\xdd\x01\x00\x00\x00";
    msgpack_zone z;
    msgpack_zone_init(&z, 2048);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(forged, 5, &off, &z, &o), MSGPACK_UNPACK_NOMEM_ERROR,
                 "the limit is tight enough to catch an allocation of the claimed size");
    msgpack_zone_destroy(&z);
    unsigned char buf[64];
    bt_errbuf_t eb;
    const unsigned char arr[] = {0xdd, 0x01, 0x00, 0x00, 0x00};
    cr_assert_eq(s_decode(buf, s_raw(buf, "ack", "ids", arr, 5), &eb), BT_EPROTO, "%s", eb.msg);
    cr_assert_eq(s_decode(forged, 5, &eb), BT_EPROTO);
    bt_msg_t m;
    s_sample(4, &m);
    s_roundtrip(&m);
}
#endif

Test(wire, version_mismatch)
{
    bt_errbuf_t eb;
    bt_msg_t m;
    s_sample(0, &m);
    size_t len;
    char *b = s_encode(&m, &len);
    msgpack_sbuffer sb;
    s_mutate(b, len, "v", MUT_REPLACE, s_v_uint, &sb); /* v = 7 */
    bt_msg_t d;
    bt_msg_init(&d);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_EVERSION);
    cr_assert_eq(d.version, 7);
    cr_assert_eq(d.type, BT_MSG_NONE);
    cr_assert(strstr(eb.msg, "v7") && strstr(eb.msg, "v1"), "%s", eb.msg);
    msgpack_sbuffer_destroy(&sb);
    /* Version is checked before the type: an unknown type of v2 is EVERSION. */
    const unsigned char v2[] = {0x82, 0xa1, 't', 0xa3, 'n', 'e', 'w', 0xa1, 'v', 0x02};
    cr_assert_eq(bt_wire_decode(v2, sizeof v2, &d, &eb), BT_EVERSION);
    cr_assert_eq(d.version, 2);
    /* v0 and a huge v */
    const unsigned char v0[] = {0x82, 0xa1, 't', 0xa2, 'h', 'b', 0xa1, 'v', 0x00};
    cr_assert_eq(bt_wire_decode(v0, sizeof v0, &d, &eb), BT_EVERSION);
    const unsigned char vbig[] = {0x82, 0xa1, 't',  0xa2, 'h',  'b',  0xa1, 'v', 0xcf,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(bt_wire_decode(vbig, sizeof vbig, &d, &eb), BT_EVERSION);
    /* unknown type at v1 */
    const unsigned char unk[] = {0x82, 0xa1, 't', 0xa3, 'n', 'e', 'w', 0xa1, 'v', 0x01};
    cr_assert_eq(bt_wire_decode(unk, sizeof unk, &d, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "unknown type \"new\"") != NULL, "%s", eb.msg);
    bt_msg_fini(&d);
    free(b);
}

Test(wire, too_large_message_refused_before_parsing)
{
    size_t n = (size_t)BT_WIRE_MSG_MAX + 1;
    char *p = calloc(n, 1); /* zero pages: not touched by the decoder */
    bt_errbuf_t eb;
    cr_assert_eq(s_decode(p, n, &eb), BT_ELIMIT);
    cr_assert(strstr(eb.msg, "refused") != NULL, "%s", eb.msg);
    free(p);
}

/* Encodes m (which must pass the encoder's caps) and returns the decode code. */
static bt_err_t s_enc_dec(const bt_msg_t *m, bt_errbuf_t *eb)
{
    size_t len;
    char *b = s_encode(m, &len);
    bt_err_t e = s_decode(b, len, eb);
    free(b);
    return e;
}

Test(wire, value_rules)
{
    bt_errbuf_t eb;
    bt_msg_t m;

    s_sample(5, &m); /* NaN metric in an ok result: encoded as is, rejected */
    m.result.metrics.sharpe = NAN;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "sharpe") && strstr(eb.msg, "job 17"), "%s", eb.msg);
    cr_assert_eq(bt_wire_check(&m, &eb), BT_EPROTO);
    m.result.metrics.sharpe = -INFINITY;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(5, &m);
    double blk[] = {1.0, NAN};
    m.result.blk = blk;
    m.result.nblk = 2;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(5, &m); /* ok with an error text */
    snprintf(m.result.error, sizeof m.result.error, "oops");
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(5, &m); /* ok without metrics */
    m.result.has_metrics = false;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(6, &m); /* failed without a reason */
    m.result.error[0] = '\0';
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);

    s_sample(0, &m);
    m.hello.threads = 0;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    m.hello.threads = BT_WIRE_THREADS_MAX + 1;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(0, &m);
    m.hello.name[0] = '\0';
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(0, &m);
    m.hello.name[3] = (char)0xc3; /* a lone UTF-8 lead byte followed by ASCII */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "UTF-8") != NULL, "%s", eb.msg);
    snprintf(m.hello.name, sizeof m.hello.name, "h\xc3\xa9te:1"); /* é is fine */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    snprintf(m.hello.name, sizeof m.hello.name, "\xed\xa0\x80"); /* UTF-16 surrogate */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    snprintf(m.hello.name, sizeof m.hello.name, "\xc0\xaf"); /* overlong '/' */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);

    s_sample(1, &m);
    m.welcome.heartbeat_ms = 0;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(1, &m);
    m.welcome.lease_ms = 0;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(2, &m); /* REFUSE needs a reason */
    m.refuse.reason[0] = '\0';
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);

    s_sample(3, &m);
    m.sweep.config_sha256[5] = 'A'; /* upper case */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(3, &m);
    m.sweep.data_hash[63] = '\0'; /* 63 digits */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(3, &m);
    m.sweep.yaml_len = 0;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_ELIMIT);
    s_sample(3, &m);
    m.sweep.yaml = "a: 1\0b: 2";
    m.sweep.yaml_len = 9;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(3, &m);
    m.sweep.store_path[0] = '\0';
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);

    bt_wire_override_t ov[2] = {{"fast", 1.0}, {"fast", 2.0}};
    bt_wire_job_t j = {.id = 3, .nover = 2, .over = ov};
    bt_msg_reset(&m, BT_MSG_JOB);
    m.job.jobs = &j;
    m.job.njobs = 1;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO); /* the same key twice */
    cr_assert(strstr(eb.msg, "'fast' twice") != NULL, "%s", eb.msg);
    snprintf(ov[1].key, sizeof ov[1].key, "slow");
    ov[1].value = INFINITY;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    ov[1].value = 2.0;
    ov[1].key[0] = '\0';
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO); /* empty key */
    snprintf(ov[1].key, sizeof ov[1].key, "slow");
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
}

/* A RESULT hand-packed with msgpack-c with `nm` metrics given by pack_m. */
static void s_pack_result(msgpack_sbuffer *sb, uint32_t nm, int bad_at)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int8(&pk, 1); /* packed as a positive fixint */
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "result", 6);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint64(&pk, 5);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_str_with_body(&pk, "st", 2);
    msgpack_pack_str_with_body(&pk, "ok", 2);
    msgpack_pack_str_with_body(&pk, "err", 3);
    msgpack_pack_str_with_body(&pk, "", 0);
    msgpack_pack_str_with_body(&pk, "m", 1);
    msgpack_pack_array(&pk, nm);
    for (uint32_t i = 0; i < nm; i++) {
        if ((int)i == bad_at)
            msgpack_pack_str_with_body(&pk, "1", 1);
        else if (i % 3 == 0)
            msgpack_pack_float(&pk, 0.5f); /* float32 is read as a double */
        else if (i % 3 == 1)
            msgpack_pack_int64(&pk, -2); /* integers too */
        else
            msgpack_pack_double(&pk, 0.25);
    }
    msgpack_pack_str_with_body(&pk, "us", 2);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str_with_body(&pk, "bars", 4);
    msgpack_pack_uint64(&pk, 2);
}

Test(wire, metrics_count_type_and_numeric_forms)
{
    bt_errbuf_t eb;
    msgpack_sbuffer sb;
    bt_msg_t d;
    bt_msg_init(&d);
    s_pack_result(&sb, BT_WIRE_NMETRICS, -1);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(d.result.metrics.final_equity, 0.5);  /* index 0: float32 0.5 */
    cr_assert_eq(d.result.metrics.total_return, -2.0); /* index 1: int -2 */
    cr_assert_eq(d.result.metrics.cagr, 0.25);
    msgpack_sbuffer_destroy(&sb);
    s_pack_result(&sb, BT_WIRE_NMETRICS - 1, -1);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "different builds") != NULL, "%s", eb.msg);
    msgpack_sbuffer_destroy(&sb);
    s_pack_result(&sb, BT_WIRE_NMETRICS + 1, -1);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_EPROTO);
    msgpack_sbuffer_destroy(&sb);
    s_pack_result(&sb, BT_WIRE_NMETRICS, 7);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_EPROTO);
    msgpack_sbuffer_destroy(&sb);
    bt_msg_fini(&d);
}

/* JOB with one job whose overrides array is built by fn. */
static void s_pack_job(msgpack_sbuffer *sb, void (*fn)(msgpack_packer *))
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "job", 3);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "jobs", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_uint8(&pk, 0);
    msgpack_pack_str_with_body(&pk, "o", 1);
    fn(&pk);
}

static void s_o_keyint(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, 1);
    msgpack_pack_double(pk, 1.0);
}
static void s_o_single(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_str_with_body(pk, "k", 1);
}
static void s_o_triple(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_double(pk, 1.0);
    msgpack_pack_nil(pk);
}
static void s_o_valstr(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_str_with_body(pk, "1.0", 3);
}
static void s_o_map(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_double(pk, 1.0);
}
static void s_o_key65(msgpack_packer *pk)
{
    char k[65];
    memset(k, 'k', sizeof k);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, k, sizeof k);
    msgpack_pack_double(pk, 1.0);
}
static void s_o_keynul(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, "a\0b", 3);
    msgpack_pack_double(pk, 1.0);
}
static void s_o_65(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 65);
    for (int i = 0; i < 65; i++) {
        char k[8];
        int n = snprintf(k, sizeof k, "p%d", i);
        msgpack_pack_array(pk, 2);
        msgpack_pack_str_with_body(pk, k, (size_t)n);
        msgpack_pack_double(pk, i);
    }
}
static void s_o_intval(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_int16(pk, -300);
}

Test(wire, nested_job_fields)
{
    bt_errbuf_t eb;
    msgpack_sbuffer sb;
    static const struct {
        void (*fn)(msgpack_packer *);
        bt_err_t want;
    } cases[] = {
        {s_o_keyint, BT_EPROTO}, {s_o_single, BT_EPROTO}, {s_o_triple, BT_ELIMIT},
        {s_o_valstr, BT_EPROTO}, {s_o_map, BT_EPROTO},    {s_o_key65, BT_ELIMIT},
        {s_o_keynul, BT_EPROTO}, {s_o_65, BT_ELIMIT},     {s_o_intval, BT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_pack_job(&sb, cases[i].fn);
        bt_err_t e = s_decode(sb.data, sb.size, &eb);
        cr_assert_eq(e, cases[i].want, "case %zu: %d (%s)", i, e, eb.msg);
        if (e != BT_OK)
            cr_assert(strstr(eb.msg, "jobs[0]") != NULL, "error names the job: %s", eb.msg);
        msgpack_sbuffer_destroy(&sb);
    }
    /* The integer value -300 arrives as -300.0. */
    s_pack_job(&sb, s_o_intval);
    bt_msg_t d;
    bt_msg_init(&d);
    cr_assert_eq(bt_wire_decode(sb.data, sb.size, &d, &eb), BT_OK);
    cr_assert_eq(d.job.jobs[0].over[0].value, -300.0);
    bt_msg_fini(&d);
    msgpack_sbuffer_destroy(&sb);
}

Test(wire, strings_over_cap_by_one)
{
    bt_errbuf_t eb;
    bt_msg_t m;
    s_sample(0, &m);
    size_t len;
    char *b = s_encode(&m, &len);
    static char big[BT_WIRE_PATH_MAX + 2];
    memset(big, 'x', sizeof big);
    static const struct {
        int sample;
        const char *key;
        size_t n;
    } cases[] = {
        {0, "name", BT_WIRE_NAME_MAX + 1},   {0, "ver", BT_WIRE_BTVER_MAX + 1},
        {1, "sid", BT_WIRE_SWEEPID_MAX + 1}, {2, "why", BT_WIRE_REASON_MAX + 1},
        {9, "why", BT_WIRE_REASON_MAX + 1},  {3, "store", BT_WIRE_PATH_MAX + 1},
        {3, "sha", BT_WIRE_SHA256_HEX + 1},  {6, "err", BT_WIRE_ERROR_MAX + 1},
    };
    free(b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_sample(cases[i].sample, &m);
        b = s_encode(&m, &len);
        msgpack_zone z;
        msgpack_zone_init(&z, 4096);
        msgpack_object o;
        size_t off = 0;
        cr_assert_eq(msgpack_unpack(b, len, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, o.via.map.size);
        for (uint32_t k = 0; k < o.via.map.size; k++) {
            msgpack_object key = o.via.map.ptr[k].key;
            msgpack_pack_object(&pk, key);
            if (key.via.str.size == strlen(cases[i].key) &&
                memcmp(key.via.str.ptr, cases[i].key, key.via.str.size) == 0)
                msgpack_pack_str_with_body(&pk, big, cases[i].n);
            else
                msgpack_pack_object(&pk, o.via.map.ptr[k].val);
        }
        bt_err_t e = s_decode(sb.data, sb.size, &eb);
        cr_assert_eq(e, BT_ELIMIT, "'%s' of %zu bytes: %d (%s)", cases[i].key, cases[i].n, e,
                     eb.msg);
        cr_assert(strstr(eb.msg, cases[i].key) != NULL, "error names the field: %s", eb.msg);
        msgpack_sbuffer_destroy(&sb);
        msgpack_zone_destroy(&z);
        free(b);
    }
}

Test(wire, encoder_checks_caps)
{
    bt_wire_buf_t b;
    bt_wire_buf_init(&b);
    bt_errbuf_t eb;
    bt_msg_t m;
    bt_msg_init(&m);
    bt_msg_reset(&m, BT_MSG_JOB);
    bt_wire_job_t j = {0};
    m.job.jobs = &j;
    m.job.njobs = BT_WIRE_JOBS_MAX + 1;
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_ELIMIT);
    m.job.njobs = 1;
    j.nover = BT_WIRE_OVERRIDES_MAX + 1;
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_ELIMIT);
    j.nover = 1; /* over is NULL */
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_EINVAL);
    bt_msg_reset(&m, BT_MSG_HELLO);
    memset(m.hello.name, 'x', sizeof m.hello.name); /* no NUL */
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_EINVAL);
    bt_msg_reset(&m, BT_MSG_SWEEP);
    m.sweep.yaml_len = BT_WIRE_YAML_MAX + 1;
    m.sweep.yaml = "";
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_ELIMIT);
    bt_msg_reset(&m, BT_MSG_ACK);
    m.ack.nids = BT_WIRE_ACK_MAX + 1;
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_ELIMIT);
    bt_msg_reset(&m, BT_MSG_NONE);
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_EINVAL);
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.nblk = BT_WIRE_BLK_MAX + 1;
    m.result.blk = (const double *)&m;
    cr_assert_eq(bt_wire_encode(&m, &b, &eb), BT_ELIMIT);
    cr_assert_eq(b.len, 0);
    bt_wire_buf_fini(&b);
    bt_wire_buf_fini(&b); /* safe twice */
}

/* Packs the bytes of *s_raw_value as they are (an already packed value). */
static const msgpack_sbuffer *s_raw_value;
static void s_v_raw(msgpack_packer *pk)
{
    pk->callback(pk->data, s_raw_value->data, s_raw_value->size);
}

/* SWEEP "set": optional; absent when there are none (so a SWEEP without
 * overrides encodes exactly as before the key existed), an array of
 * "key=value" strings otherwise, read back in order. */
Test(wire, sweep_sets)
{
    bt_errbuf_t eb;
    bt_msg_t plain, with;
    s_sample(3, &plain);
    s_sample(11, &with);
    size_t lp, lw;
    char *bp = s_encode(&plain, &lp);
    char *bw = s_encode(&with, &lw);
    /* Without sets: map of 6 (t, v, yaml, sha, store, dhash) = fixmap 0x86. */
    cr_assert_eq((unsigned char)bp[0], 0x86);
    cr_assert(!s_contains(bp, lp, "\xa3set", 4));
    /* With sets: map of 7 (0x87), then key "set" (fixstr 3 = 0xa3) and a
     * fixarray of 3 (0x93) whose first element is fixstr 28 (0xbc). */
    cr_assert_eq((unsigned char)bw[0], 0x87);
    cr_assert(s_contains(bw, lw, "\xa3set\x93\xbc" "execution.commission_pct=0.5", 33));
    /* The encodings differ only by the appended key: same prefix after byte 0. */
    cr_assert_eq(memcmp(bp + 1, bw + 1, lp - 1), 0);

    /* msgpack-c reads "set" as an array of the three strings in order. */
    msgpack_zone z;
    msgpack_zone_init(&z, 2048);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(bw, lw, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *arr = NULL;
    for (uint32_t i = 0; i < o.via.map.size; i++)
        if (o.via.map.ptr[i].key.via.str.size == 3 &&
            memcmp(o.via.map.ptr[i].key.via.str.ptr, "set", 3) == 0)
            arr = &o.via.map.ptr[i].val;
    cr_assert_not_null(arr);
    cr_assert_eq(arr->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(arr->via.array.size, 3);
    for (uint32_t i = 0; i < 3; i++) {
        const msgpack_object *e = &arr->via.array.ptr[i];
        cr_assert_eq(e->type, MSGPACK_OBJECT_STR);
        cr_assert_eq(e->via.str.size, strlen(s_sets[i]));
        cr_assert_eq(memcmp(e->via.str.ptr, s_sets[i], e->via.str.size), 0);
    }
    msgpack_zone_destroy(&z);

    /* Decoded views are NUL-terminated copies, in order; a second decode
     * into the same message (fewer sets, then none) replaces them. */
    bt_msg_t d;
    bt_msg_init(&d);
    cr_assert_eq(bt_wire_decode(bw, lw, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(d.sweep.nsets, 3);
    cr_assert_str_eq(d.sweep.sets[0], "execution.commission_pct=0.5");
    cr_assert_str_eq(d.sweep.sets[1], "data.symbols=[A, B]");
    cr_assert_str_eq(d.sweep.sets[2], "report.note=caf\xc3\xa9");
    const char *one[] = {"params.fast=7"};
    with.sweep.sets = one;
    with.sweep.nsets = 1;
    size_t l1;
    char *b1 = s_encode(&with, &l1);
    cr_assert_eq(bt_wire_decode(b1, l1, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(d.sweep.nsets, 1);
    cr_assert_str_eq(d.sweep.sets[0], "params.fast=7");
    cr_assert_eq(bt_wire_decode(bp, lp, &d, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(d.sweep.nsets, 0);
    cr_assert_null(d.sweep.sets);
    free(b1);

    /* Value rules: each is key=value with a non-empty key, valid UTF-8. */
    const char *bad[][1] = {{""}, {"=5"}, {"no_equals"}, {"k=\xff"}};
    for (size_t i = 0; i < 4; i++) {
        with.sweep.sets = bad[i];
        with.sweep.nsets = 1;
        cr_assert_eq(s_enc_dec(&with, &eb), BT_EPROTO, "set '%s'", bad[i][0]);
        cr_assert(strstr(eb.msg, "set[0]") != NULL, "%s", eb.msg);
    }

    /* Caps: BT_WIRE_SETS_MAX strings of BT_WIRE_SET_MAX bytes round-trip;
     * one more string, or one more byte, is refused by the encoder. */
    char *big = malloc(BT_WIRE_SET_MAX + 2);
    memset(big, 'v', BT_WIRE_SET_MAX + 1);
    memcpy(big, "k=", 2);
    big[BT_WIRE_SET_MAX] = '\0';
    const char **many = calloc(BT_WIRE_SETS_MAX + 1, sizeof *many);
    for (uint32_t i = 0; i <= BT_WIRE_SETS_MAX; i++)
        many[i] = big;
    with.sweep.sets = many;
    with.sweep.nsets = BT_WIRE_SETS_MAX;
    s_roundtrip(&with);
    bt_wire_buf_t wb;
    bt_wire_buf_init(&wb);
    with.sweep.nsets = BT_WIRE_SETS_MAX + 1;
    cr_assert_eq(bt_wire_encode(&with, &wb, &eb), BT_ELIMIT);
    with.sweep.nsets = 1;
    big[BT_WIRE_SET_MAX] = 'v';
    big[BT_WIRE_SET_MAX + 1] = '\0';
    cr_assert_eq(bt_wire_encode(&with, &wb, &eb), BT_ELIMIT);
    with.sweep.sets = NULL;
    cr_assert_eq(bt_wire_encode(&with, &wb, &eb), BT_EINVAL);

    /* The decoder enforces the same caps on bytes from the wire: a string of
     * BT_WIRE_SET_MAX + 1 bytes, and BT_WIRE_SETS_MAX + 1 strings. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, big, BT_WIRE_SET_MAX + 1);
    msgpack_sbuffer out;
    s_raw_value = &sb;
    s_mutate(bp, lp, "set", MUT_ADD, s_v_raw, &out);
    cr_assert_eq(s_decode(out.data, out.size, &eb), BT_ELIMIT, "%s", eb.msg);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, BT_WIRE_SETS_MAX + 1);
    for (uint32_t i = 0; i <= BT_WIRE_SETS_MAX; i++)
        msgpack_pack_str_with_body(&pk, "k=1", 3);
    s_mutate(bp, lp, "set", MUT_ADD, s_v_raw, &out);
    cr_assert_eq(s_decode(out.data, out.size, &eb), BT_ELIMIT, "%s", eb.msg);
    msgpack_sbuffer_destroy(&out);
    /* An element that is not a string, and a string with a NUL byte. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "k=1", 3);
    msgpack_pack_uint8(&pk, 7);
    s_mutate(bp, lp, "set", MUT_ADD, s_v_raw, &out);
    cr_assert_eq(s_decode(out.data, out.size, &eb), BT_EPROTO, "%s", eb.msg);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k=1\0x", 5);
    s_mutate(bp, lp, "set", MUT_ADD, s_v_raw, &out);
    cr_assert_eq(s_decode(out.data, out.size, &eb), BT_EPROTO, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "NUL") != NULL, "%s", eb.msg);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&sb);

    bt_wire_buf_fini(&wb);
    free(many);
    free(big);
    bt_msg_fini(&d);
    free(bp);
    free(bw);
}

/* xorshift64*: deterministic garbage */
static uint64_t s_rng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

Test(wire, garbage_and_bit_flips)
{
    bt_errbuf_t eb;
    uint64_t seed = 42;
    unsigned char buf[300];
    bt_msg_t d;
    bt_msg_init(&d);
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = (size_t)(s_rng(&seed) % sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)s_rng(&seed);
        if (n && it % 2)
            buf[0] = (unsigned char)(0x80 | (buf[0] & 0x0f)); /* start like a map */
        if (bt_wire_decode(buf, n, &d, &eb) == BT_OK)
            accepted++;
        else
            cr_assert_eq(d.type, BT_MSG_NONE);
    }
    cr_assert_eq(accepted, 0, "random bytes are not messages");
    /* Flip every bit of every sample: never a crash; anything accepted
     * round-trips. */
    for (int i = 0; i < NSAMPLES; i++) {
        bt_msg_t m;
        s_sample(i, &m);
        size_t len;
        char *b = s_encode(&m, &len);
        for (size_t pos = 0; pos < len; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                b[pos] ^= (char)(1 << bit);
                if (bt_wire_decode(b, len, &d, &eb) == BT_OK)
                    s_roundtrip(&d);
                b[pos] ^= (char)(1 << bit);
            }
        }
        free(b);
    }
    bt_msg_fini(&d);
}

/* An array of s_raw_ndoubles doubles from s_raw_doubles. */
static const double *s_raw_doubles;
static uint32_t s_raw_ndoubles;
static void s_v_doubles(msgpack_packer *pk)
{
    msgpack_pack_array(pk, s_raw_ndoubles);
    for (uint32_t i = 0; i < s_raw_ndoubles; i++)
        msgpack_pack_double(pk, s_raw_doubles[i]);
}

/* The walk-forward segment of a RESULT: all keys or none, arrays of one
 * length, times increasing, flags 0 or 1, finite values. */
Test(wire, result_segment_rules)
{
    bt_errbuf_t eb;
    bt_msg_t m;
    s_sample(12, &m);
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    int64_t back[] = {3, 2, 4}; /* 2 after 3 */
    m.result.seg_time = back;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "et[1]") != NULL, "%s", eb.msg);
    s_sample(12, &m);
    uint8_t flag[] = {0, 2, 1};
    m.result.seg_exposed = flag;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    s_sample(12, &m);
    double eq[] = {1.0, NAN, 2.0};
    m.result.seg_equity = eq;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "ee[1]") != NULL, "%s", eb.msg);
    s_sample(12, &m);
    double pnl[] = {INFINITY};
    m.result.trade_pnl = pnl;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    /* ee one element short of et: the lengths must agree. */
    s_sample(12, &m);
    size_t len;
    char *b = s_encode(&m, &len);
    msgpack_sbuffer sb;
    static const double two[] = {1.0, 2.0};
    s_raw_doubles = two;
    s_raw_ndoubles = 2;
    s_mutate(b, len, "ee", MUT_REPLACE, s_v_doubles, &sb);
    cr_assert_eq(s_decode(sb.data, sb.size, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "lengths") != NULL, "%s", eb.msg);
    msgpack_sbuffer_destroy(&sb);
    free(b);
    /* Over the cap: refused before anything is read. */
    s_sample(12, &m);
    m.result.nseg = BT_WIRE_SEG_MAX + 1;
    bt_wire_buf_t wb;
    bt_wire_buf_init(&wb);
    cr_assert_eq(bt_wire_encode(&m, &wb, &eb), BT_ELIMIT);
    bt_wire_buf_fini(&wb);
}

/* The message table (bt_wire_msgs.c) is sound: every map fits the key
 * masks, keys are distinct and never "t" or "v", nested kinds name their
 * element, enums their names, flagged fields their flag. */
static void s_table_sound(const w_msg_t *d, int depth)
{
    cr_assert_leq(d->nf, W_KEYS_MAX);
    for (uint32_t k = 0; k < d->nf; k++) {
        const w_field_t *f = &d->f[k];
        cr_assert(f->key && f->key[0]);
        cr_assert(strcmp(f->key, "t") != 0 && strcmp(f->key, "v") != 0, "%s", f->key);
        for (uint32_t j = 0; j < k; j++)
            cr_assert(strcmp(d->f[j].key, f->key) != 0, "key '%s' twice", f->key);
        if (f->kind == W_MAPS || f->kind == W_TUPLES) {
            cr_assert(f->sub && f->elsize > 0, "%s", f->key);
            s_table_sound(f->sub, depth + 1);
        }
        /* Decode storage: level 0 anything; in a map element arrays of
         * numbers and tuples; in a tuple scalars. */
        if (depth == 1)
            cr_assert(f->kind != W_BIN && f->kind != W_STRS && f->kind != W_MAPS, "%s", f->key);
        if (depth == 2)
            cr_assert_lt(f->kind, W_BIN, "%s: tuples hold scalars", f->key);
        if (f->kind == W_ENUM)
            for (uint64_t i = 0; i <= f->max; i++)
                cr_assert(f->names[i] && strlen(f->names[i]) < 16, "%s", f->key);
        if (f->opt == W_OPT_FLAG)
            cr_assert_neq(f->flag, 0, "%s", f->key);
    }
}

Test(wire, message_table_is_sound)
{
    for (int t = BT_MSG_HELLO; t < BT_MSG_TYPE_COUNT_; t++) {
        const w_msg_t *d = &bt_wire_msgs[t];
        cr_assert(d->wire && d->name && d->f, "type %d", t);
        cr_assert_str_eq(bt_msg_type_name((bt_msg_type_t)t), d->name);
        for (int u = BT_MSG_HELLO; u < t; u++)
            cr_assert(strcmp(bt_wire_msgs[u].wire, d->wire) != 0, "%s twice", d->wire);
        s_table_sound(d, 0);
    }
}

/* The encoder's refusal (it checks caps and enums), else the decoder's verdict. */
static bt_err_t s_enc_or_dec(const bt_msg_t *m, bt_errbuf_t *eb)
{
    bt_wire_buf_t wb;
    bt_wire_buf_init(&wb);
    bt_err_t e = bt_wire_encode(m, &wb, eb);
    if (e == BT_OK)
        e = s_decode(wb.data, wb.len, eb);
    bt_wire_buf_fini(&wb);
    return e;
}

/* FETCH / CHUNK / SWEEP manifests: caps and rules (docs/protocol.md). */
Test(wire, ship_messages)
{
    bt_errbuf_t eb;
    bt_msg_t m;
    s_sample(14, &m);
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    m.fetch.len = 0;
    cr_assert_neq(s_enc_or_dec(&m, &eb), BT_OK);
    cr_assert(strstr(eb.msg, "len") != NULL, "%s", eb.msg);
    m.fetch.len = BT_WIRE_CHUNK_MAX + 1;
    cr_assert_neq(s_enc_or_dec(&m, &eb), BT_OK);
    s_sample(14, &m);
    m.fetch.sha256[5] = 'G';
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "hex") != NULL, "%s", eb.msg);
    s_sample(14, &m);
    m.fetch.kind = (bt_wire_file_kind_t)2;
    cr_assert_neq(s_enc_or_dec(&m, &eb), BT_OK);

    /* A CHUNK over 1 MiB is refused; an empty one (a 0-byte file) is fine. */
    s_sample(15, &m);
    m.chunk.len = 0;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    static char big[BT_WIRE_CHUNK_MAX + 1];
    m.chunk.bytes = big;
    m.chunk.len = BT_WIRE_CHUNK_MAX;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    m.chunk.len = BT_WIRE_CHUNK_MAX + 1;
    bt_wire_buf_t wb;
    bt_wire_buf_init(&wb);
    cr_assert_eq(bt_wire_encode(&m, &wb, &eb), BT_ELIMIT);

    /* Manifests: 10 bytes in chunks of 4 need exactly 3 hashes. */
    s_sample(16, &m);
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    m.sweep.data_file.size = 12;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_OK, "%s", eb.msg);
    m.sweep.data_file.size = 13; /* 4 chunks */
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "data chunk hashes") != NULL, "%s", eb.msg);
    s_sample(16, &m);
    m.sweep.lib_file.chunk_sha_len = 31;
    cr_assert_eq(s_enc_dec(&m, &eb), BT_EPROTO);
    cr_assert(strstr(eb.msg, "lib") != NULL, "%s", eb.msg);
    s_sample(16, &m);
    m.sweep.data_file.chunk = 0;
    cr_assert_neq(s_enc_or_dec(&m, &eb), BT_OK);
    s_sample(16, &m);
    m.sweep.data_file.chunk = BT_WIRE_CHUNK_MAX + 1;
    cr_assert_neq(s_enc_or_dec(&m, &eb), BT_OK);
    /* 1 TiB in 1-byte chunks: over the chunk count cap, refused by count. */
    s_sample(16, &m);
    m.sweep.data_file.size = 1ull << 40;
    m.sweep.data_file.chunk = 1;
    cr_assert_eq(s_enc_or_dec(&m, &eb), BT_ELIMIT);
    /* Without manifests the SWEEP encodes as before the keys existed. */
    s_sample(13, &m);
    size_t l0, l1;
    char *b0 = s_encode(&m, &l0);
    s_sample(16, &m);
    m.sweep.data_file.has = false;
    m.sweep.lib_file.has = false;
    char *b1 = s_encode(&m, &l1);
    cr_assert_eq(l0, l1);
    cr_assert_eq(memcmp(b0, b1, l0), 0);
    free(b0);
    free(b1);
    bt_wire_buf_fini(&wb);
}
