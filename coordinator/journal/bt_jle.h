/* bt_jle — little-endian integers, varints and zigzag for the journal's
 * codecs (bt_journal.c, bt_jgroup.c). Internal to coordinator/journal. */
#ifndef BT_JLE_H
#define BT_JLE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline void bt_jle_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void bt_jle_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void bt_jle_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t bt_jle_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t bt_jle_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t bt_jle_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* IEEE bits of a double and back (NaN payloads and infinities kept). */
static inline uint64_t bt_jle_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static inline double bt_jle_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static inline uint8_t *bt_jle_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline bool bt_jle_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Zigzag: small differences of either sign become small unsigned numbers. */
static inline uint64_t bt_jle_zig(uint64_t d)
{
    return (d << 1) ^ (0 - (d >> 63));
}

static inline uint64_t bt_jle_unzig(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

#endif
