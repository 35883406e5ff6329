/* bt_wire — the byte reader the decoder walks a message with: every length
 * or count is checked against the bytes left before anything is sized by it. */
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire_priv.h"

const char *const bt_wire_kind_name[] = {"a nil",
                                          "a boolean",
                                          "an unsigned integer",
                                          "a negative integer",
                                          "a float",
                                          "a string",
                                          "a binary",
                                          "an array",
                                          "a map",
                                          "an extension"};

bt_err_t bt_wire_rd_fail(bt_wire_rd_t *r, bt_err_t code, const char *field, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return bt_errf(r->eb, code, "wire %s, field '%s' (byte %zu of %zu): %s", r->mn, field,
                   (size_t)(r->p - r->base), (size_t)(r->end - r->base), detail);
}

size_t bt_wire_rd_left(const bt_wire_rd_t *r)
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
bt_err_t bt_wire_rd_next(bt_wire_rd_t *r, const char *field, bt_wire_tok_t *t)
{
    if (bt_wire_rd_left(r) < 1)
        return bt_wire_rd_fail(r, BT_EPROTO, field, "the message ends where a value should start");
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
            return bt_wire_rd_fail(r, BT_EPROTO, field, "byte 0x%02x is not a MessagePack type", b);
        }
        if (bt_wire_rd_left(r) < need) {
            r->p = at;
            return bt_wire_rd_fail(r, BT_EPROTO, field, "the message ends inside %s header",
                          bt_wire_kind_name[t->kind]);
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
    uint64_t left = bt_wire_rd_left(r);
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
        return bt_wire_rd_fail(r, BT_EPROTO, field,
                      "%s claims %llu %s but only %llu bytes are left (truncated or forged "
                      "header)",
                      bt_wire_kind_name[t->kind], (unsigned long long)t->u,
                      t->kind == S_ARR   ? "elements"
                      : t->kind == S_MAP ? "entries"
                                         : "bytes",
                      (unsigned long long)left);
    }
    return BT_OK;
}

/* Skips one value of any kind (an unknown key's value). */
bt_err_t bt_wire_rd_skip(bt_wire_rd_t *r, const char *field, unsigned depth)
{
    if (depth > BT_WIRE_DEPTH_MAX)
        return bt_wire_rd_fail(r, BT_ELIMIT, field, "values are nested more than %u deep",
                      BT_WIRE_DEPTH_MAX);
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, field, &t);
    if (e != BT_OK)
        return e;
    switch (t.kind) {
    case S_STR:
    case S_BIN:
    case S_EXT:
        r->p += t.u; /* checked to fit by bt_wire_rd_next */
        return BT_OK;
    case S_ARR:
    case S_MAP: {
        uint64_t n = t.kind == S_MAP ? t.u * 2 : t.u;
        for (uint64_t i = 0; i < n; i++)
            if ((e = bt_wire_rd_skip(r, field, depth + 1)) != BT_OK)
                return e;
        return BT_OK;
    }
    default:
        return BT_OK;
    }
}

bt_err_t bt_wire_rd_want(bt_wire_rd_t *r, const char *field, const bt_wire_tok_t *t, bt_wire_kind_t kind,
                       const uint8_t *at)
{
    if (t->kind == kind)
        return BT_OK;
    r->p = at;
    return bt_wire_rd_fail(r, BT_EPROTO, field, "expected %s, found %s", bt_wire_kind_name[kind],
                  bt_wire_kind_name[t->kind]);
}

bt_err_t bt_wire_rd_uint(bt_wire_rd_t *r, const char *field, uint64_t max, uint64_t *out)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, field, &t);
    if (e == BT_OK && t.kind == S_INT) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_EPROTO, field, "%lld is negative; expected an unsigned integer",
                      (long long)t.i);
    }
    if (e != BT_OK || (e = bt_wire_rd_want(r, field, &t, S_UINT, at)) != BT_OK)
        return e;
    if (t.u > max) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_EPROTO, field, "%llu is larger than the largest allowed, %llu",
                      (unsigned long long)t.u, (unsigned long long)max);
    }
    *out = t.u;
    return BT_OK;
}

bt_err_t bt_wire_rd_u32(bt_wire_rd_t *r, const char *field, uint32_t *out)
{
    uint64_t v = 0;
    bt_err_t e = bt_wire_rd_uint(r, field, UINT32_MAX, &v);
    if (e == BT_OK)
        *out = (uint32_t)v;
    return e;
}

/* A number as a double: float64 (bit for bit), float32, or an integer. */
bt_err_t bt_wire_rd_double(bt_wire_rd_t *r, const char *field, double *out)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, field, &t);
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
        return bt_wire_rd_fail(r, BT_EPROTO, field, "expected a number, found %s", bt_wire_kind_name[t.kind]);
    }
}

/* A string of at most max bytes, without NUL bytes, copied into dst
 * (dst has room for max + 1). */
bt_err_t bt_wire_rd_str(bt_wire_rd_t *r, const char *field, size_t max, char *dst)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, field, &t);
    if (e != BT_OK || (e = bt_wire_rd_want(r, field, &t, S_STR, at)) != BT_OK)
        return e;
    if (t.u > max) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_ELIMIT, field, "the string is %llu bytes, the limit is %zu",
                      (unsigned long long)t.u, max);
    }
    if (memchr(r->p, '\0', (size_t)t.u)) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_EPROTO, field, "the string contains a NUL byte");
    }
    memcpy(dst, r->p, (size_t)t.u);
    dst[t.u] = '\0';
    r->p += t.u;
    return BT_OK;
}

/* An array header of at most max elements. */
bt_err_t bt_wire_rd_array(bt_wire_rd_t *r, const char *field, uint32_t max, uint32_t *n)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, field, &t);
    if (e != BT_OK || (e = bt_wire_rd_want(r, field, &t, S_ARR, at)) != BT_OK)
        return e;
    if (t.u > max) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_ELIMIT, field, "the array has %llu elements, the limit is %u",
                      (unsigned long long)t.u, max);
    }
    *n = (uint32_t)t.u;
    return BT_OK;
}

bt_err_t bt_wire_rd_map(bt_wire_rd_t *r, const char *field, uint32_t *n)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, field, &t);
    if (e != BT_OK || (e = bt_wire_rd_want(r, field, &t, S_MAP, at)) != BT_OK)
        return e;
    *n = (uint32_t)t.u; /* <= bytes left / 2 < BT_WIRE_MSG_MAX */
    return BT_OK;
}

/* Reads a map key and finds it among nkeys keys (key i at
 * *(const char **)((const char *)keys + i * stride)): *idx = its index, or
 * -1 if the key is not known (its value is then to be skipped). Keys must
 * be strings. name gets a printable copy for errors. */
bt_err_t bt_wire_rd_key(bt_wire_rd_t *r, const char *where, const void *keys, size_t stride,
                        uint32_t nkeys, int *idx, char *name, size_t name_cap)
{
    const uint8_t *at = r->p;
    bt_wire_tok_t t;
    bt_err_t e = bt_wire_rd_next(r, where, &t);
    if (e != BT_OK)
        return e;
    if (t.kind != S_STR) {
        r->p = at;
        return bt_wire_rd_fail(r, BT_EPROTO, where, "a map key is %s; keys must be strings",
                      bt_wire_kind_name[t.kind]);
    }
    size_t n = (size_t)t.u;
    size_t shown = n < name_cap - 1 ? n : name_cap - 1;
    for (size_t i = 0; i < shown; i++)
        name[i] = (r->p[i] >= 0x20 && r->p[i] < 0x7f) ? (char)r->p[i] : '?';
    name[shown] = '\0';
    *idx = -1;
    for (uint32_t k = 0; k < nkeys; k++) {
        const char *key = *(const char *const *)(const void *)((const char *)keys + k * stride);
        if (strlen(key) == n && memcmp(key, r->p, n) == 0) {
            *idx = (int)k;
            break;
        }
    }
    r->p += n;
    return BT_OK;
}

/* Marks key idx seen; a second sighting is an error. */
bt_err_t bt_wire_rd_seen(bt_wire_rd_t *r, uint32_t *seen, int idx, const char *name)
{
    uint32_t bit = 1u << idx;
    if (*seen & bit)
        return bt_wire_rd_fail(r, BT_EPROTO, name, "the key appears twice in one map");
    *seen |= bit;
    return BT_OK;
}

bt_err_t bt_wire_rd_pool(bt_msg_t *m, bt_errbuf_t *eb)
{
    if (m->pool)
        return BT_OK;
    m->pool = calloc(1, sizeof *m->pool);
    if (!m->pool)
        return bt_errf(eb, BT_ENOMEM, "wire decode: out of memory");
    return BT_OK;
}

