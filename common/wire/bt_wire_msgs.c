/* bt_wire — THE table: every message and its fields, described once.
 *
 * Encoder (bt_wire.c), decoder (bt_wire_decode.c), checker (bt_wire_check.c)
 * and bt_msg_equal walk these descriptions. Adding a field is one line here
 * (+ the member in bt_wire.h); adding a message type is one table here, one
 * row in bt_wire_msgs[] and the enum value + union member in bt_wire.h. Keys
 * are written in the order listed: keep existing fields where they are so
 * every existing message encodes byte for byte as before. docs/protocol.md
 * "Adding a field" walks through it. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bt_wire_priv.h"

/* ------------------------------------------------------------- rules -- */

/* Rules that do not fit a kind's bounds. Each names the field it judges. */

static bt_err_t s_hex64(const w_where_t *w, const w_field_t *f, const void *base, bt_errbuf_t *eb)
{
    const char *s = (const char *)base + f->off;
    size_t n = strnlen(s, BT_WIRE_SHA256_HEX + 1);
    bool ok = n == BT_WIRE_SHA256_HEX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
    return ok ? BT_OK
              : bt_wire_fail(w, eb, BT_EPROTO, "field '%s' must be 64 lowercase hex digits",
                             f->key);
}

static bt_err_t s_no_nul(const w_where_t *w, const w_field_t *f, const void *base, bt_errbuf_t *eb)
{
    const char *p = *(const char *const *)((const char *)base + f->off);
    size_t n = *(const size_t *)((const char *)base + f->noff);
    if (n && memchr(p, '\0', n))
        return bt_wire_fail(w, eb, BT_EPROTO, "field '%s' (the config YAML) contains a NUL byte",
                            f->key);
    return BT_OK;
}

/* SWEEP "set": "key=value" with a non-empty key; the config loader judges
 * the key and the value. */
static bt_err_t s_key_value(const w_where_t *w, const w_field_t *f, const void *base,
                            bt_errbuf_t *eb)
{
    const char *const *v = *(const char *const *const *)((const char *)base + f->off);
    uint32_t n = *(const uint32_t *)((const char *)base + f->noff);
    for (uint32_t i = 0; i < n; i++) {
        const char *eq = strchr(v[i], '=');
        if (!eq || eq == v[i])
            return bt_wire_fail(w, eb, BT_EPROTO, "%s[%u] \"%.60s\" is not key=value", f->key, i,
                                v[i]);
    }
    return BT_OK;
}

/* RESULT "et": times strictly increase. */
static bt_err_t s_increasing(const w_where_t *w, const w_field_t *f, const void *base,
                             bt_errbuf_t *eb)
{
    const int64_t *t = *(const int64_t *const *)((const char *)base + f->off);
    uint32_t n = *(const uint32_t *)((const char *)base + f->noff);
    for (uint32_t i = 1; i < n; i++)
        if (t[i] <= t[i - 1])
            return bt_wire_fail(w, eb, BT_EPROTO,
                                "%s[%u] is not after %s[%u]; segment times must increase", f->key,
                                i, f->key, i - 1);
    return BT_OK;
}

/* RESULT "ex": each byte a flag. */
static bt_err_t s_flags01(const w_where_t *w, const w_field_t *f, const void *base,
                          bt_errbuf_t *eb)
{
    const uint8_t *x = *(const uint8_t *const *)((const char *)base + f->off);
    uint32_t n = *(const uint32_t *)((const char *)base + f->noff);
    for (uint32_t i = 0; i < n; i++)
        if (x[i] > 1)
            return bt_wire_fail(w, eb, BT_EPROTO, "%s[%u] is %u; it must be 0 or 1", f->key, i,
                                x[i]);
    return BT_OK;
}

/* JOB overrides: keys distinct within a job. */
static bt_err_t s_distinct_keys(const w_where_t *w, const w_field_t *f, const void *base,
                                bt_errbuf_t *eb)
{
    const bt_wire_override_t *o = *(const bt_wire_override_t *const *)((const char *)base + f->off);
    uint32_t n = *(const uint32_t *)((const char *)base + f->noff);
    for (uint32_t k = 1; k < n; k++)
        for (uint32_t q = 0; q < k; q++)
            if (strcmp(o[q].key, o[k].key) == 0)
                return bt_wire_fail(w, eb, BT_EPROTO, "sets '%s' twice (%s[%u] and %s[%u])",
                                    o[k].key, f->key, q, f->key, k);
    return BT_OK;
}

/* RESULT: status, error text and metrics agree. */
static bt_err_t s_result_rule(const w_where_t *w, const w_field_t *f, const void *base,
                              bt_errbuf_t *eb)
{
    (void)f;
    const bt_msg_result_t *r = &((const bt_msg_t *)base)->result;
    if (r->status == BT_JOB_OK && r->error[0])
        return bt_wire_fail(w, eb, BT_EPROTO, "status ok but field 'err' is set (\"%.80s\")",
                            r->error);
    if (r->status == BT_JOB_OK && !r->has_metrics)
        return bt_wire_fail(w, eb, BT_EPROTO, "status ok but key 'm' (metrics) is missing");
    if (r->status == BT_JOB_FAILED && !r->error[0])
        return bt_wire_fail(w, eb, BT_EPROTO, "status failed needs a non-empty 'err' saying why");
    return BT_OK;
}

/* SWEEP manifests: one 32-byte hash per chunk of the file. */
static bt_err_t s_manifest(const w_where_t *w, const bt_wire_manifest_t *mf, const char *what,
                           bt_errbuf_t *eb)
{
    if (!mf->has)
        return BT_OK;
    uint64_t n = mf->size / mf->chunk + (mf->size % mf->chunk != 0);
    if (n > BT_WIRE_NCHUNKS_MAX)
        return bt_wire_fail(w, eb, BT_ELIMIT, "%s file of %llu bytes has %llu chunks; at most %u",
                            what, (unsigned long long)mf->size, (unsigned long long)n,
                            BT_WIRE_NCHUNKS_MAX);
    if (mf->chunk_sha_len != n * 32u)
        return bt_wire_fail(w, eb, BT_EPROTO,
                            "%s chunk hashes are %zu bytes; %llu chunks need %llu", what,
                            mf->chunk_sha_len, (unsigned long long)n,
                            (unsigned long long)(n * 32u));
    return BT_OK;
}

static bt_err_t s_sweep_rule(const w_where_t *w, const w_field_t *f, const void *base,
                             bt_errbuf_t *eb)
{
    (void)f;
    const bt_msg_sweep_t *s = &((const bt_msg_t *)base)->sweep;
    bt_err_t e = s_manifest(w, &s->data_file, "data", eb);
    return e != BT_OK ? e : s_manifest(w, &s->lib_file, "lib", eb);
}

/* ------------------------------------------------------------ fields -- */

#define M(member) offsetof(bt_msg_t, member)
#define CAP(f) (sizeof(((bt_msg_t *)0)->f) - 1) /* inline string: bytes without the NUL */

/* key, C member, least bytes (0 = may be empty) */
#define STR(k, mem, lo) {.key = k, .kind = W_STR, .off = M(mem), .min = lo, .max = CAP(mem)}
/* key, C member, range */
#define U32(k, mem, lo, hi) {.key = k, .kind = W_U32, .off = M(mem), .min = lo, .max = hi}
#define U64(k, mem) {.key = k, .kind = W_U64, .off = M(mem), .max = UINT64_MAX}
/* key, view kind, pointer member, count member, most elements */
#define VIEW(k, kd, mem, cnt, hi) {.key = k, .kind = kd, .off = M(mem), .noff = M(cnt), .max = hi}

static const w_field_t s_hello[] = {
    STR("name", hello.name, 1),
    U32("thr", hello.threads, 1, BT_WIRE_THREADS_MAX),
    STR("ver", hello.bt_version, 1),
    /* Optional (absent: an older worker), so older HELLOs encode as before. */
    {.key = "bid", .kind = W_STR, .opt = W_OPT_FLAG, .flag = M(hello.has_build),
     .off = M(hello.build_id), .max = BT_WIRE_SHA256_HEX, .rule = s_hex64},
};

static const w_field_t s_welcome[] = {
    STR("sid", welcome.sweep_id, 1),
    U32("hb", welcome.heartbeat_ms, 1, UINT32_MAX),
    U32("lease", welcome.lease_ms, 1, UINT32_MAX),
};

static const w_field_t s_refuse[] = {STR("why", refuse.reason, 1)};
static const w_field_t s_bye[] = {STR("why", bye.reason, 0)};

/* A SWEEP manifest: keys <p>sha, <p>sz, <p>ck, <p>ch, all or none. */
#define MANIFEST(p, mem, grp)                                                                      \
    {.key = p "sha", .kind = W_STR, .opt = W_OPT_FLAG, .off = M(mem.sha256),                      \
     .max = BT_WIRE_SHA256_HEX, .flag = M(mem.has), .group = grp, .rule = s_hex64},              \
        {.key = p "sz", .kind = W_U64, .opt = W_OPT_FLAG, .off = M(mem.size), .max = UINT64_MAX,  \
         .flag = M(mem.has), .group = grp},                                                        \
        {.key = p "ck", .kind = W_U32, .opt = W_OPT_FLAG, .off = M(mem.chunk), .min = 1,          \
         .max = BT_WIRE_CHUNK_MAX, .flag = M(mem.has), .group = grp},                              \
        {.key = p "ch", .kind = W_BIN, .opt = W_OPT_FLAG, .off = M(mem.chunk_sha),                \
         .noff = M(mem.chunk_sha_len), .max = 32u * BT_WIRE_NCHUNKS_MAX, .flag = M(mem.has),     \
         .group = grp}

static const w_field_t s_sweep[] = {
    {.key = "yaml", .kind = W_BIN, .off = M(sweep.yaml), .noff = M(sweep.yaml_len), .min = 1,
     .max = BT_WIRE_YAML_MAX, .rule = s_no_nul},
    {.key = "sha", .kind = W_STR, .off = M(sweep.config_sha256), .max = BT_WIRE_SHA256_HEX,
     .rule = s_hex64},
    STR("store", sweep.store_path, 1),
    {.key = "dhash", .kind = W_STR, .off = M(sweep.data_hash), .max = BT_WIRE_SHA256_HEX,
     .rule = s_hex64},
    /* Optional (absent = none), so a SWEEP without them encodes as before they existed. */
    {.key = "set", .kind = W_STRS, .opt = W_OPT_NZ, .off = M(sweep.sets), .noff = M(sweep.nsets),
     .max = BT_WIRE_SETS_MAX, .elmax = BT_WIRE_SET_MAX, .rule = s_key_value},
    {.key = "mcols", .kind = W_STRS, .opt = W_OPT_NZ, .off = M(sweep.mcols),
     .noff = M(sweep.nmcols), .min = 1, .max = BT_WIRE_MCOLS_MAX, .elmax = BT_WIRE_MCOL_MAX},
    MANIFEST("d", sweep.data_file, "data file"),
    MANIFEST("l", sweep.lib_file, "lib file"),
};

/* One override: [key, value]. */
static const w_field_t s_override[] = {
    {.key = "key", .kind = W_STR, .off = offsetof(bt_wire_override_t, key), .min = 1,
     .max = BT_WIRE_KEY_MAX},
    {.key = "value", .kind = W_F64, .off = offsetof(bt_wire_override_t, value)},
};
static const w_msg_t s_override_msg = {.f = s_override, .nf = 2};

/* One job of a JOB batch: a map. */
static const w_field_t s_onejob[] = {
    {.key = "id", .kind = W_U64, .off = offsetof(bt_wire_job_t, id), .max = UINT64_MAX},
    {.key = "a", .kind = W_U32, .off = offsetof(bt_wire_job_t, attempt), .max = UINT32_MAX},
    {.key = "o", .kind = W_TUPLES, .off = offsetof(bt_wire_job_t, over),
     .noff = offsetof(bt_wire_job_t, nover), .max = BT_WIRE_OVERRIDES_MAX,
     .elsize = sizeof(bt_wire_override_t), .sub = &s_override_msg, .rule = s_distinct_keys},
};
static const w_msg_t s_onejob_msg = {.f = s_onejob,
                                     .nf = 3,
                                     .has_subject = true,
                                     .subject_off = offsetof(bt_wire_job_t, id),
                                     .subject_name = "job"};

static const w_field_t s_job[] = {
    {.key = "jobs", .kind = W_MAPS, .off = M(job.jobs), .noff = M(job.njobs),
     .max = BT_WIRE_JOBS_MAX, .elsize = sizeof(bt_wire_job_t), .sub = &s_onejob_msg},
};

static const char *const s_status[] = {[BT_JOB_OK] = "ok", [BT_JOB_FAILED] = "failed"};

/* A RESULT equity segment key: optional, all or none (flag has_seg). Keys
 * sharing a count member ("et", "ee", "ex"; "fv", "fc") must be as long. */
#define SEG(k, kd, mem, cnt, hi, r)                                                                \
    {.key = k, .kind = kd, .opt = W_OPT_FLAG, .off = M(mem), .noff = M(cnt), .max = hi,           \
     .flag = M(result.has_seg), .group = "segment", .rule = r}

static const w_field_t s_result[] = {
    U64("id", result.job_id),
    U32("a", result.attempt, 0, UINT32_MAX),
    {.key = "st", .kind = W_ENUM, .off = M(result.status), .max = BT_JOB_FAILED,
     .names = s_status},
    STR("err", result.error, 0),
    {.key = "m", .kind = W_METRICS, .opt = W_OPT_FLAG, .off = M(result.metrics),
     .flag = M(result.has_metrics)},
    U64("us", result.run_us),
    U64("bars", result.bars),
    {.key = "blk", .kind = W_F64S, .opt = W_OPT_NZ, .off = M(result.blk), .noff = M(result.nblk),
     .max = BT_WIRE_BLK_MAX},
    SEG("et", W_I64S, result.seg_time, result.nseg, BT_WIRE_SEG_MAX, s_increasing),
    SEG("ee", W_F64S, result.seg_equity, result.nseg, BT_WIRE_SEG_MAX, NULL),
    SEG("ex", W_U8S, result.seg_exposed, result.nseg, BT_WIRE_SEG_MAX, s_flags01),
    SEG("fv", W_F64S, result.fill_value, result.nfills, BT_WIRE_FILLS_MAX, NULL),
    SEG("fc", W_F64S, result.fill_commission, result.nfills, BT_WIRE_FILLS_MAX, NULL),
    SEG("tp", W_F64S, result.trade_pnl, result.ntrades, BT_WIRE_TRADES_MAX, NULL),
    {.key = "rj", .kind = W_U64, .opt = W_OPT_FLAG, .off = M(result.rejected), .max = UINT64_MAX,
     .flag = M(result.has_seg), .group = "segment"},
};

static const w_field_t s_credit[] = {
    {.key = "n", .kind = W_U32, .off = M(credit.credit), .max = BT_WIRE_CREDIT_MAX, .cap = true},
};

static const w_field_t s_hb[] = {U64("seq", heartbeat.seq)};

static const char *const s_file_kind[] = {[BT_WIRE_FILE_DATA] = "data",
                                          [BT_WIRE_FILE_LIB] = "lib"};

static const w_field_t s_fetch[] = {
    {.key = "k", .kind = W_ENUM, .off = M(fetch.kind), .max = BT_WIRE_FILE_LIB,
     .names = s_file_kind},
    {.key = "h", .kind = W_STR, .off = M(fetch.sha256), .max = BT_WIRE_SHA256_HEX,
     .rule = s_hex64},
    U64("off", fetch.offset),
    U32("len", fetch.len, 1, BT_WIRE_CHUNK_MAX),
};

static const w_field_t s_chunk[] = {
    {.key = "h", .kind = W_STR, .off = M(chunk.sha256), .max = BT_WIRE_SHA256_HEX,
     .rule = s_hex64},
    U64("off", chunk.offset),
    {.key = "b", .kind = W_BIN, .off = M(chunk.bytes), .noff = M(chunk.len),
     .max = BT_WIRE_CHUNK_MAX, .inplace = true},
};

static const w_field_t s_ack[] = {VIEW("ids", W_U64S, ack.ids, ack.nids, BT_WIRE_ACK_MAX)};

/* ---------------------------------------------------------- messages -- */

#define MSG(w, n, fields) .wire = w, .name = n, .f = fields, .nf = sizeof fields / sizeof fields[0]

const w_msg_t bt_wire_msgs[BT_MSG_TYPE_COUNT_] = {
    [BT_MSG_NONE] = {.name = "NONE"},
    [BT_MSG_HELLO] = {MSG("hello", "HELLO", s_hello)},
    [BT_MSG_WELCOME] = {MSG("welcome", "WELCOME", s_welcome)},
    [BT_MSG_REFUSE] = {MSG("refuse", "REFUSE", s_refuse)},
    [BT_MSG_SWEEP] = {MSG("sweep", "SWEEP", s_sweep), .rule = s_sweep_rule},
    [BT_MSG_JOB] = {MSG("job", "JOB", s_job)},
    [BT_MSG_RESULT] = {MSG("result", "RESULT", s_result), .has_subject = true,
                       .subject_off = M(result.job_id), .subject_name = "job",
                       .rule = s_result_rule},
    [BT_MSG_CREDIT] = {MSG("credit", "CREDIT", s_credit)},
    [BT_MSG_HEARTBEAT] = {MSG("hb", "HEARTBEAT", s_hb)},
    [BT_MSG_BYE] = {MSG("bye", "BYE", s_bye)},
    [BT_MSG_ACK] = {MSG("ack", "ACK", s_ack)},
    [BT_MSG_FETCH] = {MSG("fetch", "FETCH", s_fetch)},
    [BT_MSG_CHUNK] = {MSG("chunk", "CHUNK", s_chunk)},
};
