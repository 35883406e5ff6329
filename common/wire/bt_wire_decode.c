/* bt_wire — decoding: the fields of each message, then bt_wire_decode. */
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire_priv.h"

/* ----------------------------------------------------------- storage -- */

/* Buffer `which` of field position k at nesting level lv, holding at most
 * cap bytes; room for `bytes` more at its end, or NULL when out of memory. */
static void *s_room(bt_msg_t *m, int lv, uint32_t k, int which, size_t bytes, size_t cap)
{
    bt_buf_t *b = &m->pool->buf[lv][k][which];
    b->cap = cap;
    if (bt_buf_reserve(b, bytes) != BT_OK)
        return NULL;
    return b->data + b->len;
}

static bt_err_t s_nomem(bt_wire_rd_t *r)
{
    return bt_errf(r->eb, BT_ENOMEM, "wire decode %s: out of memory", r->mn);
}

static void s_set_ptr(void *base, uint32_t off, const void *p)
{
    memcpy((char *)base + off, &p, sizeof p);
}

#define S_REF(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* "<a><sep><b>" or "<a>[<i>]" into out (field names for errors). These run
 * per nested key on the hot path, so they do not go through printf. */
static void s_join(char *out, size_t cap, const char *a, char sep, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na + 1 + nb + 1 > cap)
        nb = na + 2 < cap ? cap - na - 2 : 0, na = na + 2 < cap ? na : 0;
    memcpy(out, a, na);
    out[na] = sep;
    memcpy(out + na + 1, b, nb);
    out[na + 1 + nb] = '\0';
}

static void s_indexed(char *out, size_t cap, const char *a, uint32_t i)
{
    char num[16];
    size_t n = sizeof num - 1;
    num[n] = '\0';
    do
        num[--n] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    char tail[20];
    size_t t = sizeof num - 1 - n;
    memcpy(tail, num + n, t);
    tail[t] = ']';
    tail[t + 1] = '\0';
    s_join(out, cap, a, '[', tail);
}

/* ------------------------------------------------------------ values -- */

static bt_err_t s_dec_map(bt_wire_rd_t *r, bt_msg_t *m, const w_msg_t *d, void *base, int lv,
                          const char *where, size_t mult);

/* RESULT "st" and the like: a string naming one of f->names. */
static bt_err_t s_dec_enum(bt_wire_rd_t *r, const w_field_t *f, void *base, const char *field)
{
    char v[16], list[128];
    const uint8_t *at = r->p;
    bt_err_t e = bt_wire_rd_str(r, field, sizeof v - 1, v);
    if (e != BT_OK && e != BT_ELIMIT)
        return e;
    for (uint64_t i = 0; e == BT_OK && i <= f->max; i++)
        if (strcmp(v, f->names[i]) == 0) {
            *S_REF(base, f->off, int) = (int)i;
            return BT_OK;
        }
    size_t len = 0;
    list[0] = '\0';
    for (uint64_t i = 0; i <= f->max && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s\"%s\"", i ? " nor " : "neither ",
                                f->names[i]);
    r->p = at;
    if (e == BT_OK)
        return bt_wire_rd_fail(r, BT_EPROTO, field, "\"%s\" is %s", v, list);
    return bt_wire_rd_fail(r, BT_EPROTO, field, "the value is %s", list);
}

/* An array header and room for its n elements of el bytes. */
static bt_err_t s_dec_array(bt_wire_rd_t *r, bt_msg_t *m, const w_field_t *f, int lv, uint32_t k,
                            const char *field, size_t el, size_t mult, uint32_t *n, void **out)
{
    bt_err_t e = bt_wire_rd_array(r, field, (uint32_t)f->max, n);
    if (e != BT_OK)
        return e;
    *out = s_room(m, lv, k, 0, (size_t)*n * el, mult * f->max * el);
    return *out ? BT_OK : s_nomem(r);
}

/* An array of strings (level 0 only): bytes one after another in buffer 0,
 * pointers in buffer 1, made once all are read (buffer 0 may move). */
static bt_err_t s_dec_strs(bt_wire_rd_t *r, bt_msg_t *m, const w_field_t *f, void *base,
                           uint32_t k, const char *field, uint32_t *count)
{
    uint32_t n = 0;
    bt_err_t e = bt_wire_rd_array(r, field, (uint32_t)f->max, &n);
    if (e != BT_OK)
        return e;
    bt_buf_t *bytes = &m->pool->buf[0][k][0];
    bytes->cap = (size_t)f->max * (f->elmax + 1);
    const char **v = s_room(m, 0, k, 1, (size_t)n * sizeof *v, f->max * sizeof *v);
    if (!v)
        return s_nomem(r);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *at = r->p;
        bt_wire_tok_t t;
        if ((e = bt_wire_rd_next(r, field, &t)) != BT_OK ||
            (e = bt_wire_rd_want(r, field, &t, S_STR, at)) != BT_OK)
            return e;
        if (t.u > f->elmax) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_ELIMIT, field, "%s[%u] is %llu bytes, the limit is %u",
                                   field, i, (unsigned long long)t.u, f->elmax);
        }
        if (memchr(r->p, '\0', (size_t)t.u)) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, field, "%s[%u] contains a NUL byte", field, i);
        }
        if (bt_buf_append(bytes, r->p, (size_t)t.u) != BT_OK || bt_buf_putc(bytes, '\0') != BT_OK)
            return s_nomem(r);
        r->p += t.u;
    }
    const char *s = bytes->data;
    for (uint32_t i = 0; i < n; i++, s += strlen(s) + 1)
        v[i] = s;
    s_set_ptr(base, f->off, n ? v : NULL);
    *S_REF(base, f->noff, uint32_t) = n;
    *count = n;
    return BT_OK;
}

/* After a nested array of maps: each element's views point into the
 * level-1 buffers, element after element. */
static void s_fix_views(bt_msg_t *m, const w_field_t *f, char *els, uint32_t n)
{
    for (uint32_t j = 0; j < f->sub->nf; j++) {
        const w_field_t *g = &f->sub->f[j];
        size_t el = g->kind == W_U8S      ? 1
                    : g->kind == W_TUPLES ? g->elsize
                    : g->kind >= W_U64S && g->kind <= W_F64S ? 8
                                                              : 0;
        assert(g->kind != W_STRS && g->kind != W_BIN && g->kind != W_MAPS); /* not nested */
        if (!el)
            continue;
        char *p = m->pool->buf[1][j][0].data;
        size_t off = 0;
        for (uint32_t i = 0; i < n; i++) {
            void *e = els + (size_t)i * f->elsize;
            uint32_t c = *S_REF(e, g->noff, uint32_t);
            s_set_ptr(e, g->off, c ? p + off : NULL);
            off += c * el;
        }
    }
}

/* The value of field f (position k at level lv) into the struct at base.
 * field names it in errors; *count gets a view's length. */
static bt_err_t s_dec_value(bt_wire_rd_t *r, bt_msg_t *m, const w_field_t *f, void *base, int lv,
                            uint32_t k, const char *field, size_t mult, uint32_t *count)
{
    bt_err_t e = BT_OK;
    uint32_t n = 0;
    void *room = NULL;
    assert(f->kind < W_BIN || lv < 2); /* storage for two levels */
    if (f->kind >= W_BIN && (e = bt_wire_rd_pool(m, r->eb)) != BT_OK)
        return e;
    if (lv == 0 && f->kind >= W_BIN) {
        bt_buf_reset(&m->pool->buf[0][k][0]);
        bt_buf_reset(&m->pool->buf[0][k][1]);
    }
    switch (f->kind) {
    case W_U32:
        return bt_wire_rd_u32(r, field, S_REF(base, f->off, uint32_t));
    case W_U64:
        return bt_wire_rd_uint(r, field, UINT64_MAX, S_REF(base, f->off, uint64_t));
    case W_F64:
        return bt_wire_rd_double(r, field, S_REF(base, f->off, double));
    case W_STR:
        return bt_wire_rd_str(r, field, f->max, (char *)base + f->off);
    case W_ENUM:
        return s_dec_enum(r, f, base, field);
    case W_BIN:
    case W_U8S: {
        const uint8_t *at = r->p;
        bt_wire_tok_t t;
        if ((e = bt_wire_rd_next(r, field, &t)) != BT_OK ||
            (e = bt_wire_rd_want(r, field, &t, S_BIN, at)) != BT_OK)
            return e;
        if (t.u > f->max) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_ELIMIT, field, "%llu bytes, the limit is %llu",
                                   (unsigned long long)t.u, (unsigned long long)f->max);
        }
        if (f->inplace && lv == 0) { /* CHUNK bytes: a view into the input, not copied */
            s_set_ptr(base, f->off, r->p);
            *S_REF(base, f->noff, size_t) = (size_t)t.u;
            r->p += t.u;
            *count = (uint32_t)t.u;
            return BT_OK;
        }
        /* Copied with a NUL after it (the YAML is read as text). */
        if (!(room = s_room(m, lv, k, 0, (size_t)t.u, mult * f->max)))
            return s_nomem(r);
        memcpy(room, r->p, (size_t)t.u);
        r->p += t.u;
        n = (uint32_t)t.u;
        if (f->kind == W_BIN)
            *S_REF(base, f->noff, size_t) = n;
        break;
    }
    case W_U64S:
        if ((e = s_dec_array(r, m, f, lv, k, field, 8, mult, &n, &room)) != BT_OK)
            return e;
        for (uint32_t i = 0; i < n; i++)
            if ((e = bt_wire_rd_uint(r, field, UINT64_MAX, (uint64_t *)room + i)) != BT_OK)
                return e;
        break;
    case W_I64S:
        if ((e = s_dec_array(r, m, f, lv, k, field, 8, mult, &n, &room)) != BT_OK)
            return e;
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *at = r->p;
            bt_wire_tok_t t;
            if ((e = bt_wire_rd_next(r, field, &t)) != BT_OK)
                return e;
            if (t.kind == S_INT) {
                ((int64_t *)room)[i] = t.i;
            } else if (t.kind == S_UINT && t.u <= (uint64_t)INT64_MAX) {
                ((int64_t *)room)[i] = (int64_t)t.u;
            } else {
                r->p = at;
                return bt_wire_rd_fail(r, BT_EPROTO, field,
                                       "%s[%u] is not a 64-bit signed integer", field, i);
            }
        }
        break;
    case W_F64S:
        if ((e = s_dec_array(r, m, f, lv, k, field, 8, mult, &n, &room)) != BT_OK)
            return e;
        for (uint32_t i = 0; i < n; i++)
            if ((e = bt_wire_rd_double(r, field, (double *)room + i)) != BT_OK)
                return e;
        break;
    case W_STRS:
        assert(lv == 0); /* the table nests no string arrays */
        return s_dec_strs(r, m, f, base, k, field, count);
    case W_METRICS: {
        const uint8_t *at = r->p;
        if ((e = bt_wire_rd_array(r, field, UINT32_MAX, &n)) != BT_OK)
            return e;
        if (n != BT_WIRE_NMETRICS) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, field,
                                   "%u metrics, this build has %u (BT_METRICS): coordinator and "
                                   "worker are different builds; run the same bt version on both",
                                   n, (unsigned)BT_WIRE_NMETRICS);
        }
        double v[BT_WIRE_NMETRICS];
        for (uint32_t i = 0; i < n; i++)
            if ((e = bt_wire_rd_double(r, field, &v[i])) != BT_OK)
                return e;
        memcpy((char *)base + f->off, v, sizeof v);
        return BT_OK;
    }
    case W_MAPS: {
        assert(lv == 0); /* one level of nesting */
        if ((e = s_dec_array(r, m, f, lv, k, field, f->elsize, mult, &n, &room)) != BT_OK)
            return e;
        for (uint32_t j = 0; j < f->sub->nf; j++)
            bt_buf_reset(&m->pool->buf[1][j][0]);
        for (uint32_t i = 0; i < n; i++) {
            char *el = (char *)room + (size_t)i * f->elsize;
            char where[48];
            memset(el, 0, f->elsize);
            s_indexed(where, sizeof where, f->key, i);
            if ((e = s_dec_map(r, m, f->sub, el, lv + 1, where, mult * f->max)) != BT_OK)
                return e;
        }
        s_fix_views(m, f, room, n);
        break;
    }
    case W_TUPLES: {
        if ((e = s_dec_array(r, m, f, lv, k, field, f->elsize, mult, &n, &room)) != BT_OK)
            return e;
        const w_msg_t *sub = f->sub;
        for (uint32_t i = 0; i < n; i++) {
            char *el = (char *)room + (size_t)i * f->elsize;
            char efield[80];
            uint32_t two = 0;
            memset(el, 0, f->elsize);
            s_indexed(efield, sizeof efield, field, i);
            if ((e = bt_wire_rd_array(r, efield, sub->nf, &two)) != BT_OK)
                return e;
            if (two != sub->nf)
                return bt_wire_rd_fail(r, BT_EPROTO, efield,
                                       "an element of '%s' is an array of exactly %u (%s, ...); "
                                       "this one has %u elements",
                                       f->key, sub->nf, sub->f[0].key, two);
            for (uint32_t j = 0; j < sub->nf; j++)
                if ((e = s_dec_value(r, m, &sub->f[j], el, lv + 1, j, efield, mult, count)) !=
                    BT_OK)
                    return e;
        }
        break;
    }
    }
    /* A view: its elements are in room; nested ones are pointed by s_fix_views. */
    size_t el = f->kind == W_U8S || f->kind == W_BIN      ? 1
                : f->kind == W_TUPLES || f->kind == W_MAPS ? f->elsize
                                                           : 8;
    m->pool->buf[lv][k][0].len += (size_t)n * el;
    if (f->kind == W_BIN)
        m->pool->buf[lv][k][0].data[n] = '\0';
    if (lv == 0)
        s_set_ptr(base, f->off, n || f->kind == W_BIN ? room : NULL);
    if (f->kind != W_BIN)
        *S_REF(base, f->noff, uint32_t) = n;
    *count = n;
    return BT_OK;
}

/* Views whose length lives in the same count member. */
static bool s_counted(const w_field_t *f)
{
    return f->kind >= W_U8S && f->kind != W_METRICS;
}

/* One map: the fields of d into base. where names it in errors
 * ("(top level)", "jobs[3]"). */
static bt_err_t s_dec_map(bt_wire_rd_t *r, bt_msg_t *m, const w_msg_t *d, void *base, int lv,
                          const char *where, size_t mult)
{
    uint32_t n = 0, seen = 0, cnt[W_KEYS_MAX];
    bt_err_t e = bt_wire_rd_map(r, where, &n);
    if (e != BT_OK)
        return e;
    for (uint32_t q = 0; q < n; q++) {
        int k = -1;
        char name[32], field[80];
        if ((e = bt_wire_rd_key(r, where, &d->f[0].key, sizeof d->f[0], d->nf, &k, name,
                                sizeof name)) != BT_OK)
            return e;
        const char *fname = name;
        if (lv > 0) {
            s_join(field, sizeof field, where, '.', name);
            fname = field;
        }
        if (k < 0) { /* "t", "v" (checked in pass 1) or unknown: skip */
            if ((e = bt_wire_rd_skip(r, fname, 1)) != BT_OK)
                return e;
            continue;
        }
        const w_field_t *f = &d->f[k];
        if ((e = bt_wire_rd_seen(r, &seen, k, fname)) != BT_OK)
            return e;
        if (f->opt == W_OPT_FLAG)
            *S_REF(base, f->flag, bool) = true;
        if ((e = s_dec_value(r, m, f, base, lv, (uint32_t)k, fname, mult, &cnt[k])) != BT_OK)
            return e;
    }
    const char *pre = lv > 0 ? where : "", *sep = lv > 0 ? ": " : "";
    for (uint32_t k = 0; k < d->nf; k++) {
        const w_field_t *f = &d->f[k];
        if (seen & (1u << k))
            continue;
        if (f->opt == W_REQ)
            return bt_errf(r->eb, BT_EPROTO, "wire %s: %s%srequired key '%s' is missing", r->mn,
                           pre, sep, f->key);
        for (uint32_t j = 0; f->group && j < d->nf; j++) /* all or none */
            if ((seen & (1u << j)) && d->f[j].group && d->f[j].flag == f->flag)
                return bt_errf(r->eb, BT_EPROTO, "wire %s: %s%s%s: required key '%s' is missing",
                               r->mn, pre, sep, f->group, f->key);
    }
    for (uint32_t k = 0; k < d->nf; k++)
        for (uint32_t j = 0; j < k && s_counted(&d->f[k]) && (seen & (1u << k)); j++)
            if ((seen & (1u << j)) && s_counted(&d->f[j]) && d->f[j].noff == d->f[k].noff &&
                cnt[j] != cnt[k])
                return bt_errf(r->eb, BT_EPROTO,
                               "wire %s: %s%s'%s' has %u elements but '%s' has %u: arrays of "
                               "different lengths",
                               r->mn, pre, sep, d->f[k].key, cnt[k], d->f[j].key, cnt[j]);
    return BT_OK;
}

/* ---------------------------------------------------------------- decode -- */

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
        if ((e = bt_wire_rd_key(r, "(top level)", s_head_keys, sizeof s_head_keys[0], 2, &k, name,
                                sizeof name)) != BT_OK)
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
        if (strcmp(tname, bt_wire_msgs[i].wire) == 0)
            type = (bt_msg_type_t)i;
    if (type == BT_MSG_NONE)
        return bt_errf(eb, BT_EPROTO, "wire message: unknown type \"%s\"", tname);

    /* Pass 2: the fields. The structure is known to be sound. */
    m->type = type;
    m->version = BT_WIRE_VERSION;
    r.p = r.base;
    r.mn = bt_wire_msgs[type].name;
    if ((e = s_dec_map(&r, m, &bt_wire_msgs[type], m, 0, "(top level)", 1)) != BT_OK)
        goto fail;
    if ((e = bt_wire_check(m, eb)) != BT_OK)
        goto fail;
    return BT_OK;
fail:
    bt_msg_reset(m, BT_MSG_NONE);
    m->version = BT_WIRE_VERSION;
    return e;
}

