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
    return bt_wire_msgs[t].name;
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
        for (size_t i = 0; i < sizeof pl->buf / sizeof pl->buf[0][0][0]; i++)
            bt_buf_fini(&pl->buf[0][0][0] + i);
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
    const w_field_t *skip; /* a W_BIN whose body is left out (bt_wire_encode_head) */
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

#define S_AT(base, off, type) (*(type const *)((const char *)(base) + (off)))

_Static_assert(sizeof(bt_job_status_t) == sizeof(int), "W_ENUM fields are stored as int");
_Static_assert(sizeof(bt_wire_file_kind_t) == sizeof(int), "W_ENUM fields are stored as int");

static void s_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* What the encoder needs to write the struct at base without reading out
 * of bounds: strings terminated, counts within caps, views non-NULL. */
static bt_err_t s_caps(const char *mn, const w_msg_t *d, const void *base, bt_errbuf_t *eb)
{
    for (uint32_t k = 0; k < d->nf; k++) {
        const w_field_t *f = &d->f[k];
        if (!bt_wire_present(f, base))
            continue;
        switch (f->kind) {
        case W_STR:
            if (strnlen((const char *)base + f->off, f->max + 1) > f->max)
                return bt_errf(eb, BT_EINVAL,
                               "wire encode %s: field '%s' is not NUL-terminated within its %llu "
                               "bytes",
                               mn, f->key, (unsigned long long)f->max + 1);
            break;
        case W_ENUM: {
            int v = S_AT(base, f->off, int);
            if (v < 0 || (uint64_t)v > f->max)
                return bt_errf(eb, BT_EINVAL, "wire encode %s: field '%s' is %d, not one of 0..%llu",
                               mn, f->key, v, (unsigned long long)f->max);
            break;
        }
        case W_BIN: {
            size_t n = S_AT(base, f->noff, size_t);
            if (n > f->max)
                return bt_errf(eb, BT_ELIMIT,
                               "wire encode %s: field '%s' is %zu bytes, the limit is %llu", mn,
                               f->key, n, (unsigned long long)f->max);
            if (n && !S_AT(base, f->off, const void *))
                return bt_errf(eb, BT_EINVAL, "wire encode %s: field '%s' is NULL with %zu bytes",
                               mn, f->key, n);
            break;
        }
        case W_U8S:
        case W_U64S:
        case W_I64S:
        case W_F64S:
        case W_STRS:
        case W_MAPS:
        case W_TUPLES: {
            uint32_t n = S_AT(base, f->noff, uint32_t);
            const char *p = S_AT(base, f->off, const char *);
            if (n > f->max)
                return bt_errf(eb, BT_ELIMIT,
                               "wire encode %s: field '%s' has %u elements, the limit is %llu: "
                               "split it",
                               mn, f->key, n, (unsigned long long)f->max);
            if (n && !p)
                return bt_errf(eb, BT_EINVAL, "wire encode %s: field '%s' is NULL with %u elements",
                               mn, f->key, n);
            for (uint32_t i = 0; f->kind == W_STRS && i < n; i++) {
                const char *s = ((const char *const *)(const void *)p)[i];
                if (!s || strnlen(s, (size_t)f->elmax + 1) > f->elmax)
                    return bt_errf(eb, s ? BT_ELIMIT : BT_EINVAL,
                                   "wire encode %s: %s[%u] is NULL or longer than %u bytes", mn,
                                   f->key, i, f->elmax);
            }
            for (uint32_t i = 0; (f->kind == W_MAPS || f->kind == W_TUPLES) && i < n; i++) {
                bt_err_t e = s_caps(mn, f->sub, p + (size_t)i * f->elsize, eb);
                if (e != BT_OK)
                    return e;
            }
            break;
        }
        default:
            break;
        }
    }
    return BT_OK;
}

static void s_pack_fields(msgpack_packer *pk, const w_msg_t *d, const void *base, bool keys);

static void s_pack_value(msgpack_packer *pk, const w_field_t *f, const void *base)
{
    bool view = f->kind >= W_U8S && f->kind != W_METRICS;
    const void *p = view || f->kind == W_BIN ? S_AT(base, f->off, const void *) : NULL;
    uint32_t n = view ? S_AT(base, f->noff, uint32_t) : 0;
    switch (f->kind) {
    case W_U32:
        msgpack_pack_uint32(pk, S_AT(base, f->off, uint32_t));
        break;
    case W_U64:
        msgpack_pack_uint64(pk, S_AT(base, f->off, uint64_t));
        break;
    case W_F64:
        msgpack_pack_double(pk, S_AT(base, f->off, double));
        break;
    case W_STR:
        s_pack_cstr(pk, (const char *)base + f->off);
        break;
    case W_ENUM:
        s_pack_cstr(pk, f->names[S_AT(base, f->off, int)]);
        break;
    case W_BIN: {
        size_t len = S_AT(base, f->noff, size_t);
        msgpack_pack_bin(pk, len);
        if (len && ((const s_out_t *)pk->data)->skip != f)
            msgpack_pack_bin_body(pk, p, len);
        break;
    }
    case W_U8S:
        msgpack_pack_bin(pk, n);
        if (n)
            msgpack_pack_bin_body(pk, p, n);
        break;
    case W_U64S:
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            msgpack_pack_uint64(pk, ((const uint64_t *)p)[i]);
        break;
    case W_I64S:
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            msgpack_pack_int64(pk, ((const int64_t *)p)[i]);
        break;
    case W_F64S:
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            msgpack_pack_double(pk, ((const double *)p)[i]);
        break;
    case W_STRS:
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            s_pack_cstr(pk, ((const char *const *)p)[i]);
        break;
    case W_METRICS: {
        double v[BT_WIRE_NMETRICS];
        memcpy(v, (const char *)base + f->off, sizeof v);
        msgpack_pack_array(pk, BT_WIRE_NMETRICS);
        for (size_t i = 0; i < BT_WIRE_NMETRICS; i++)
            msgpack_pack_double(pk, v[i]);
        break;
    }
    case W_MAPS:
    case W_TUPLES:
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            s_pack_fields(pk, f->sub, (const char *)p + (size_t)i * f->elsize,
                          f->kind == W_MAPS);
        break;
    }
}

/* A map of the present fields (keys) or an array of all of them (a tuple). */
static void s_pack_fields(msgpack_packer *pk, const w_msg_t *d, const void *base, bool keys)
{
    if (!keys) {
        msgpack_pack_array(pk, d->nf);
        for (uint32_t k = 0; k < d->nf; k++)
            s_pack_value(pk, &d->f[k], base);
        return;
    }
    uint32_t n = 0;
    for (uint32_t k = 0; k < d->nf; k++)
        n += bt_wire_present(&d->f[k], base);
    msgpack_pack_map(pk, n);
    for (uint32_t k = 0; k < d->nf; k++) {
        if (!bt_wire_present(&d->f[k], base))
            continue;
        s_pack_cstr(pk, d->f[k].key);
        s_pack_value(pk, &d->f[k], base);
    }
}

static bt_err_t s_encode(const bt_msg_t *m, bt_wire_buf_t *buf, bool head, bt_errbuf_t *eb);

bt_err_t bt_wire_encode(const bt_msg_t *m, bt_wire_buf_t *buf, bt_errbuf_t *eb)
{
    return s_encode(m, buf, false, eb);
}

bt_err_t bt_wire_encode_head(const bt_msg_t *m, bt_wire_buf_t *buf, bt_errbuf_t *eb)
{
    return s_encode(m, buf, true, eb);
}

static bt_err_t s_encode(const bt_msg_t *m, bt_wire_buf_t *buf, bool head, bt_errbuf_t *eb)
{
    assert(m && buf);
    if ((int)m->type <= BT_MSG_NONE || m->type >= BT_MSG_TYPE_COUNT_)
        return bt_errf(eb, BT_EINVAL, "wire encode: message type %d is not a message type",
                       (int)m->type);
    const w_msg_t *d = &bt_wire_msgs[m->type];
    bt_err_t e = s_caps(d->name, d, m, eb);
    if (e != BT_OK)
        return e;
    const w_field_t *last = d->nf ? &d->f[d->nf - 1] : NULL;
    if (head && (!last || last->kind != W_BIN))
        return bt_errf(eb, BT_EINVAL, "wire encode: %s does not end with bytes", d->name);
    buf->len = 0;
    s_out_t out = {.buf = buf, .err = BT_OK, .skip = head ? last : NULL};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, s_out_write);
    uint32_t n = 0;
    for (uint32_t k = 0; k < d->nf; k++)
        n += bt_wire_present(&d->f[k], m);
    msgpack_pack_map(&pk, 2 + n);
    s_pack_cstr(&pk, "t");
    s_pack_cstr(&pk, d->wire);
    s_pack_cstr(&pk, "v");
    msgpack_pack_uint32(&pk, BT_WIRE_VERSION);
    for (uint32_t k = 0; k < d->nf; k++) {
        if (!bt_wire_present(&d->f[k], m))
            continue;
        s_pack_cstr(&pk, d->f[k].key);
        s_pack_value(&pk, &d->f[k], m);
    }
    if (out.err != BT_OK) {
        buf->len = 0;
        if (out.err == BT_ELIMIT)
            return bt_errf(eb, BT_ELIMIT, "wire encode %s: the message would exceed %u bytes",
                           d->name, BT_WIRE_MSG_MAX);
        return bt_errf(eb, out.err, "wire encode %s: out of memory", d->name);
    }
    return BT_OK;
}

/* ---------------------------------------------------------------- equal -- */

static bool s_fields_equal(const w_msg_t *d, const void *a, const void *b);

/* Element bytes of a flat view kind. */
static size_t s_elsize(w_kind_t k)
{
    switch (k) {
    case W_U8S:
        return 1;
    default:
        return 8; /* u64, i64, f64: compared bit for bit */
    }
}

static bool s_field_equal(const w_field_t *f, const void *a, const void *b)
{
    switch (f->kind) {
    case W_U32:
        return S_AT(a, f->off, uint32_t) == S_AT(b, f->off, uint32_t);
    case W_U64:
    case W_F64: /* doubles bit for bit */
        return memcmp((const char *)a + f->off, (const char *)b + f->off, 8) == 0;
    case W_STR:
        return strcmp((const char *)a + f->off, (const char *)b + f->off) == 0;
    case W_ENUM:
        return S_AT(a, f->off, int) == S_AT(b, f->off, int);
    case W_METRICS:
        return memcmp((const char *)a + f->off, (const char *)b + f->off, sizeof(bt_metrics_t)) ==
               0;
    default:
        break;
    }
    const char *pa = S_AT(a, f->off, const char *), *pb = S_AT(b, f->off, const char *);
    if (f->kind == W_BIN) {
        size_t n = S_AT(a, f->noff, size_t);
        return n == S_AT(b, f->noff, size_t) && (n == 0 || memcmp(pa, pb, n) == 0);
    }
    uint32_t n = S_AT(a, f->noff, uint32_t);
    if (n != S_AT(b, f->noff, uint32_t))
        return false;
    if (n == 0)
        return true;
    switch (f->kind) {
    case W_STRS:
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(((const char *const *)(const void *)pa)[i],
                       ((const char *const *)(const void *)pb)[i]) != 0)
                return false;
        return true;
    case W_MAPS:
    case W_TUPLES:
        for (uint32_t i = 0; i < n; i++)
            if (!s_fields_equal(f->sub, pa + (size_t)i * f->elsize, pb + (size_t)i * f->elsize))
                return false;
        return true;
    default:
        return memcmp(pa, pb, (size_t)n * s_elsize(f->kind)) == 0;
    }
}

static bool s_fields_equal(const w_msg_t *d, const void *a, const void *b)
{
    for (uint32_t k = 0; k < d->nf; k++) {
        const w_field_t *f = &d->f[k];
        if (f->opt == W_OPT_FLAG && S_AT(a, f->flag, bool) != S_AT(b, f->flag, bool))
            return false;
        if (bt_wire_present(f, a) && !s_field_equal(f, a, b))
            return false;
    }
    return true;
}

bool bt_msg_equal(const bt_msg_t *a, const bt_msg_t *b)
{
    assert(a && b);
    if (a->type != b->type)
        return false;
    if ((int)a->type <= BT_MSG_NONE || a->type >= BT_MSG_TYPE_COUNT_)
        return true;
    return s_fields_equal(&bt_wire_msgs[a->type], a, b);
}
