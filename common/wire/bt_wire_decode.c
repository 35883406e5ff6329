/* bt_wire — decoding: the fields of each message, then bt_wire_decode. */
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire_priv.h"

/* ------------------------------------------------- per-message fields -- */

typedef bt_err_t (*s_field_fn)(bt_wire_rd_t *r, bt_msg_t *m, int k);

static bt_err_t s_f_hello(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    switch (k) {
    case K_HELLO_NAME:
        return bt_wire_rd_str(r, "name", BT_WIRE_NAME_MAX, m->hello.name);
    case K_HELLO_THR:
        return bt_wire_rd_u32(r, "thr", &m->hello.threads);
    default:
        return bt_wire_rd_str(r, "ver", BT_WIRE_BTVER_MAX, m->hello.bt_version);
    }
}

static bt_err_t s_f_welcome(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    switch (k) {
    case K_WEL_SID:
        return bt_wire_rd_str(r, "sid", BT_WIRE_SWEEPID_MAX, m->welcome.sweep_id);
    case K_WEL_HB:
        return bt_wire_rd_u32(r, "hb", &m->welcome.heartbeat_ms);
    default:
        return bt_wire_rd_u32(r, "lease", &m->welcome.lease_ms);
    }
}

static bt_err_t s_f_reason(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    bt_msg_reason_t *rs = m->type == BT_MSG_REFUSE ? &m->refuse : &m->bye;
    return bt_wire_rd_str(r, "why", BT_WIRE_REASON_MAX, rs->reason);
}

/* An array of at most maxn strings of at most maxlen bytes (SWEEP "set",
 * "mcols"), copied one after another into st; the pointers are made once all
 * are read (the byte buffer may move). */
static bt_err_t s_strs(bt_wire_rd_t *r, bt_msg_t *m, const char *field, uint32_t maxn, size_t maxlen,
                       int slot, const char *const **out, uint32_t *nout)
{
    uint32_t n = 0;
    bt_err_t e = bt_wire_rd_array(r, field, maxn, &n);
    if (e != BT_OK || (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    s_strs_t *st = &m->pool->strs[slot];
    if (n && (bt_wire_reserve((void **)&st->v, &st->v_cap, n, sizeof *st->v, maxn) != BT_OK ||
              bt_wire_reserve((void **)&st->off, &st->off_cap, n, sizeof *st->off, maxn) != BT_OK))
        return bt_errf(r->eb, BT_ENOMEM, "wire decode %s: out of memory", r->mn);
    size_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *at = r->p;
        bt_wire_tok_t t;
        if ((e = bt_wire_rd_next(r, field, &t)) != BT_OK || (e = bt_wire_rd_want(r, field, &t, S_STR, at)) != BT_OK)
            return e;
        if (t.u > maxlen) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_ELIMIT, field, "%s[%u] is %llu bytes, the limit is %zu", field, i,
                          (unsigned long long)t.u, maxlen);
        }
        if (memchr(r->p, '\0', (size_t)t.u)) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, field, "%s[%u] contains a NUL byte", field, i);
        }
        if (bt_wire_reserve((void **)&st->bytes, &st->bytes_cap, used + (size_t)t.u + 1, 1,
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

static bt_err_t s_f_sweep(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    switch (k) {
    case K_SWEEP_YAML: {
        const uint8_t *at = r->p;
        bt_wire_tok_t t;
        bt_err_t e = bt_wire_rd_next(r, "yaml", &t);
        if (e != BT_OK || (e = bt_wire_rd_want(r, "yaml", &t, S_BIN, at)) != BT_OK)
            return e;
        if (t.u > BT_WIRE_YAML_MAX) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_ELIMIT, "yaml", "the config is %llu bytes, the limit is %u",
                          (unsigned long long)t.u, BT_WIRE_YAML_MAX);
        }
        if ((e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
            return e;
        struct bt_msg_pool *pl = m->pool;
        if (bt_wire_reserve((void **)&pl->bytes, &pl->bytes_cap, (size_t)t.u + 1, 1,
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
        return bt_wire_rd_str(r, "sha", BT_WIRE_SHA256_HEX, m->sweep.config_sha256);
    case K_SWEEP_STORE:
        return bt_wire_rd_str(r, "store", BT_WIRE_PATH_MAX, m->sweep.store_path);
    case K_SWEEP_DHASH:
        return bt_wire_rd_str(r, "dhash", BT_WIRE_SHA256_HEX, m->sweep.data_hash);
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
static bt_err_t s_one_job(bt_wire_rd_t *r, bt_msg_t *m, uint32_t i, size_t *nover_total)
{
    struct bt_msg_pool *pl = m->pool;
    bt_wire_job_t *j = &pl->jobs[i];
    memset(j, 0, sizeof *j);
    char where[48], field[64], name[32];
    snprintf(where, sizeof where, "jobs[%u]", i);
    uint32_t n = 0, seen = 0;
    bt_err_t e = bt_wire_rd_map(r, where, &n);
    if (e != BT_OK)
        return e;
    for (uint32_t q = 0; q < n; q++) {
        int k = -1;
        if ((e = bt_wire_rd_key(r, where, s_keys_onejob, S_NKEYS(s_keys_onejob), &k, name, sizeof name)) !=
            BT_OK)
            return e;
        snprintf(field, sizeof field, "jobs[%u].%s", i, name);
        if (k < 0) {
            if ((e = bt_wire_rd_skip(r, field, 1)) != BT_OK)
                return e;
            continue;
        }
        if ((e = bt_wire_rd_seen(r, &seen, k, field)) != BT_OK)
            return e;
        if (k == K_J_ID) {
            e = bt_wire_rd_uint(r, field, UINT64_MAX, &j->id);
        } else if (k == K_J_A) {
            e = bt_wire_rd_u32(r, field, &j->attempt);
        } else {
            uint32_t no = 0;
            if ((e = bt_wire_rd_array(r, field, BT_WIRE_OVERRIDES_MAX, &no)) != BT_OK)
                return e;
            if (bt_wire_reserve((void **)&pl->over, &pl->over_cap, *nover_total + no, sizeof *pl->over,
                          (size_t)BT_WIRE_JOBS_MAX * BT_WIRE_OVERRIDES_MAX) != BT_OK)
                return bt_errf(r->eb, BT_ENOMEM, "wire decode JOB: out of memory");
            for (uint32_t o = 0; o < no; o++) {
                bt_wire_override_t *ov = &pl->over[*nover_total + o];
                uint32_t two = 0;
                snprintf(field, sizeof field, "jobs[%u].o[%u]", i, o);
                if ((e = bt_wire_rd_array(r, field, 2, &two)) != BT_OK)
                    return e;
                if (two != 2)
                    return bt_wire_rd_fail(r, BT_EPROTO, field,
                                  "an override is a [key, value] pair; this one has %u elements",
                                  two);
                if ((e = bt_wire_rd_str(r, field, BT_WIRE_KEY_MAX, ov->key)) != BT_OK ||
                    (e = bt_wire_rd_double(r, field, &ov->value)) != BT_OK)
                    return e;
            }
            j->nover = no;
            *nover_total += no;
        }
        if (e != BT_OK)
            return e;
    }
    snprintf(where, sizeof where, "jobs[%u]: ", i);
    return bt_wire_rd_missing(r, seen, S_ALL(3), s_keys_onejob, where);
}

static bt_err_t s_f_job(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    uint32_t n = 0;
    bt_err_t e = bt_wire_rd_array(r, "jobs", BT_WIRE_JOBS_MAX, &n);
    if (e != BT_OK || (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n && bt_wire_reserve((void **)&pl->jobs, &pl->jobs_cap, n, sizeof *pl->jobs, BT_WIRE_JOBS_MAX) !=
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
static bt_err_t s_doubles(bt_wire_rd_t *r, bt_msg_t *m, const char *field, uint32_t max, int slot,
                          const double **out, uint32_t *nout)
{
    uint32_t n = 0;
    bt_err_t e = bt_wire_rd_array(r, field, max, &n);
    if (e != BT_OK || (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n && bt_wire_reserve((void **)&pl->f64[slot], &pl->f64_cap[slot], n, sizeof(double), max) !=
                 BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode %s: out of memory", r->mn);
    for (uint32_t i = 0; i < n; i++)
        if ((e = bt_wire_rd_double(r, field, &pl->f64[slot][i])) != BT_OK)
            return e;
    pl->f64_n[slot] = n;
    *out = n ? pl->f64[slot] : NULL;
    *nout = n;
    return BT_OK;
}

/* RESULT "et": segment times, integers of either sign. */
static bt_err_t s_times(bt_wire_rd_t *r, bt_msg_t *m)
{
    uint32_t n = 0;
    bt_err_t e = bt_wire_rd_array(r, "et", BT_WIRE_SEG_MAX, &n);
    if (e != BT_OK || (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n && bt_wire_reserve((void **)&pl->i64, &pl->i64_cap, n, sizeof *pl->i64, BT_WIRE_SEG_MAX) !=
                 BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode RESULT: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *at = r->p;
        bt_wire_tok_t t;
        if ((e = bt_wire_rd_next(r, "et", &t)) != BT_OK)
            return e;
        if (t.kind == S_INT) {
            pl->i64[i] = t.i;
        } else if (t.kind == S_UINT && t.u <= (uint64_t)INT64_MAX) {
            pl->i64[i] = (int64_t)t.u;
        } else {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, "et", "et[%u] is not a 64-bit signed integer", i);
        }
    }
    m->result.seg_time = n ? pl->i64 : NULL;
    m->result.nseg = n;
    return BT_OK;
}

/* RESULT "ex": one byte per segment point. */
static bt_err_t s_exposed(bt_wire_rd_t *r, bt_msg_t *m)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, "ex", &t);
    if (e != BT_OK || (e = bt_wire_rd_want(r, "ex", &t, S_BIN, at)) != BT_OK ||
        (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    if (t.u > BT_WIRE_SEG_MAX) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_ELIMIT, "ex", "%llu bytes, the limit is %u", (unsigned long long)t.u,
                      BT_WIRE_SEG_MAX);
    }
    struct bt_msg_pool *pl = m->pool;
    if (t.u && bt_wire_reserve((void **)&pl->u8, &pl->u8_cap, (size_t)t.u, 1, BT_WIRE_SEG_MAX) != BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode RESULT: out of memory");
    memcpy(pl->u8, r->p, (size_t)t.u);
    r->p += t.u;
    pl->u8_n = (size_t)t.u;
    m->result.seg_exposed = t.u ? pl->u8 : NULL;
    return BT_OK;
}

static bt_err_t s_f_result(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    bt_msg_result_t *res = &m->result;
    bt_err_t e;
    uint32_t e_unused = 0;
    switch (k) {
    case K_RES_ID:
        return bt_wire_rd_uint(r, "id", UINT64_MAX, &res->job_id);
    case K_RES_A:
        return bt_wire_rd_u32(r, "a", &res->attempt);
    case K_RES_ST: {
        char st[8];
        const uint8_t *at = r->p;
        if ((e = bt_wire_rd_str(r, "st", sizeof st - 1, st)) != BT_OK) {
            if (e == BT_ELIMIT) {
                r->p = at;
                return bt_wire_rd_fail(r, BT_EPROTO, "st", "status must be \"ok\" or \"failed\"");
            }
            return e;
        }
        if (strcmp(st, "ok") == 0) {
            res->status = BT_JOB_OK;
        } else if (strcmp(st, "failed") == 0) {
            res->status = BT_JOB_FAILED;
        } else {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, "st", "status \"%s\" is neither \"ok\" nor \"failed\"", st);
        }
        return BT_OK;
    }
    case K_RES_ERR:
        return bt_wire_rd_str(r, "err", BT_WIRE_ERROR_MAX, res->error);
    case K_RES_M: {
        const uint8_t *at = r->p;
        uint32_t n = 0;
        if ((e = bt_wire_rd_array(r, "m", UINT32_MAX, &n)) != BT_OK)
            return e;
        if (n != BT_WIRE_NMETRICS) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, "m",
                          "%u metrics, this build has %u (BT_METRICS): coordinator and worker "
                          "are different builds; run the same bt version on both",
                          n, (unsigned)BT_WIRE_NMETRICS);
        }
        double v[BT_WIRE_NMETRICS];
        for (uint32_t i = 0; i < n; i++)
            if ((e = bt_wire_rd_double(r, "m", &v[i])) != BT_OK)
                return e;
        size_t i = 0;
#define S_SET_METRIC(name, desc) res->metrics.name = v[i++];
        BT_METRICS(S_SET_METRIC)
#undef S_SET_METRIC
        res->has_metrics = true;
        return BT_OK;
    }
    case K_RES_US:
        return bt_wire_rd_uint(r, "us", UINT64_MAX, &res->run_us);
    case K_RES_BARS:
        return bt_wire_rd_uint(r, "bars", UINT64_MAX, &res->bars);
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
        return bt_wire_rd_uint(r, "rj", UINT64_MAX, &res->rejected);
    case K_RES_ET:
        res->has_seg = true;
        return s_times(r, m);
    default:
        res->has_seg = true;
        return s_exposed(r, m);
    }
}

static bt_err_t s_f_credit(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    return bt_wire_rd_u32(r, "n", &m->credit.credit);
}

static bt_err_t s_f_hb(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    return bt_wire_rd_uint(r, "seq", UINT64_MAX, &m->heartbeat.seq);
}

static bt_err_t s_f_ack(bt_wire_rd_t *r, bt_msg_t *m, int k)
{
    uint32_t n = 0;
    bt_err_t e = bt_wire_rd_array(r, "ids", BT_WIRE_ACK_MAX, &n);
    if (e != BT_OK || (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    struct bt_msg_pool *pl = m->pool;
    if (n &&
        bt_wire_reserve((void **)&pl->u64, &pl->u64_cap, n, sizeof *pl->u64, BT_WIRE_ACK_MAX) != BT_OK)
        return bt_errf(r->eb, BT_ENOMEM, "wire decode ACK: out of memory");
    for (uint32_t i = 0; i < n; i++)
        if ((e = bt_wire_rd_uint(r, "ids", UINT64_MAX, &pl->u64[i])) != BT_OK)
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
static bt_err_t s_seg_shape(bt_wire_rd_t *r, const bt_msg_t *m, uint32_t seen)
{
    if (!(seen & S_SEG_KEYS))
        return BT_OK;
    bt_err_t e = bt_wire_rd_missing(r, seen, S_SEG_KEYS, s_keys_result, "segment: ");
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
static bt_err_t s_head(bt_wire_rd_t *r, char *tname, size_t tcap, bool *has_t, uint64_t *v, bool *has_v)
{
    uint32_t n = 0, seen = 0;
    bt_err_t e = bt_wire_rd_map(r, "(top level)", &n);
    if (e != BT_OK)
        return e;
    for (uint32_t i = 0; i < n; i++) {
        int k = -1;
        char name[32];
        if ((e = bt_wire_rd_key(r, "(top level)", s_head_keys, 2, &k, name, sizeof name)) != BT_OK)
            return e;
        if (k < 0) {
            if ((e = bt_wire_rd_skip(r, name, 1)) != BT_OK)
                return e;
            continue;
        }
        if ((e = bt_wire_rd_seen(r, &seen, k, name)) != BT_OK)
            return e;
        if (k == 0) {
            const uint8_t *at = r->p;
            bt_wire_tok_t t;
            if ((e = bt_wire_rd_next(r, "t", &t)) != BT_OK || (e = bt_wire_rd_want(r, "t", &t, S_STR, at)) != BT_OK)
                return e;
            size_t len = t.u < tcap - 1 ? (size_t)t.u : tcap - 1;
            memcpy(tname, r->p, len);
            tname[len] = '\0';
            if (t.u >= tcap || memchr(tname, '\0', len))
                tname[0] = '?', tname[1] = '\0';
            r->p += t.u;
            *has_t = true;
        } else {
            if ((e = bt_wire_rd_uint(r, "v", UINT64_MAX, v)) != BT_OK)
                return e;
            *has_v = true;
        }
    }
    if (r->p != r->end)
        return bt_wire_rd_fail(r, BT_EPROTO, "(top level)",
                      "%zu bytes follow the message map; one message is exactly one map",
                      bt_wire_rd_left(r));
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
    bt_wire_rd_t r = {
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
    if ((e = bt_wire_rd_map(&r, "(top level)", &n)) != BT_OK)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        int k = -1;
        char name[32];
        if ((e = bt_wire_rd_key(&r, "(top level)", sp->keys, sp->nkeys, &k, name, sizeof name)) != BT_OK)
            goto fail;
        if (k < 0) { /* "t", "v" (checked in pass 1) or unknown: skip */
            if ((e = bt_wire_rd_skip(&r, name, 1)) != BT_OK)
                goto fail;
            continue;
        }
        if ((e = bt_wire_rd_seen(&r, &seen, k, name)) != BT_OK || (e = sp->field(&r, m, k)) != BT_OK)
            goto fail;
    }
    if ((e = bt_wire_rd_missing(&r, seen, sp->required, sp->keys, "")) != BT_OK)
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

