/* bt_runz — runs of equal words as a zlib stream. See bt_runz.h. */
#include "bt_runz.h"

#include <assert.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define S_SHORT 64 /* literal stretches shorter than this get fixed codes, not a stored block */

/* An LSB-first bit writer (deflate's order). */
typedef struct {
    uint8_t *p;
    uint64_t acc; /* bits not yet written, the first at bit 0 */
    unsigned nb;  /* how many (< 32 between calls) */
} s_bits_t;

static inline void s_put(s_bits_t *w, uint32_t v, unsigned n)
{
    w->acc |= (uint64_t)v << w->nb;
    w->nb += n;
    if (w->nb >= 32) {
        for (int i = 0; i < 4; i++)
            w->p[i] = (uint8_t)(w->acc >> (8 * i));
        w->p += 4;
        w->acc >>= 32;
        w->nb -= 32;
    }
}

/* Pads to a byte boundary with zero bits and writes what is pending. */
static void s_align(s_bits_t *w)
{
    while (w->nb > 0) {
        *w->p++ = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nb = w->nb > 8 ? w->nb - 8 : 0;
    }
    w->acc = 0;
}

/* The fixed Huffman codes (RFC 1951 3.2.6), bit-reversed for the LSB-first writer; a length's
 * code carries its extra bits above it. */
static uint32_t s_lit_code[256], s_len_code[259];
static uint8_t s_lit_bits[256], s_len_bits[259];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static uint32_t s_rev(uint32_t c, unsigned n)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < n; i++, c >>= 1)
        r = (r << 1) | (c & 1);
    return r;
}

static void s_tables(void)
{
    static const uint16_t base[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const uint8_t extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    for (unsigned v = 0; v < 256; v++) {
        s_lit_code[v] = v < 144 ? s_rev(0x30 + v, 8) : s_rev(0x190 + v - 144, 9);
        s_lit_bits[v] = v < 144 ? 8 : 9;
    }
    for (unsigned len = 3; len <= 258; len++) {
        unsigned i = 28;
        while (base[i] > len)
            i--;
        unsigned sym = 257 + i, n = sym < 280 ? 7 : 8;
        uint32_t c = sym < 280 ? s_rev(sym - 256, 7) : s_rev(0xC0 + sym - 280, 8);
        s_len_code[len] = c | (uint32_t)(len - base[i]) << n;
        s_len_bits[len] = (uint8_t)(n + extra[i]);
    }
}

/* Distance 8: code 5 (distances 7-8; 00101 bit-reversed is 10100) and its extra bit 1. */
#define S_DIST8 (0x14u | 1u << 5)

/* A match of len bytes (3..258) at distance 8. */
static inline void s_match8(s_bits_t *w, unsigned len)
{
    s_put(w, s_len_code[len], s_len_bits[len]);
    s_put(w, S_DIST8, 6);
}

/* len bytes (a multiple of 8, >= 8) that repeat the 8 before them. */
static void s_repeat(s_bits_t *w, size_t len)
{
    while (len >= 258 + 3) {
        s_match8(w, 258);
        len -= 258;
    }
    if (len > 258) { /* 259 or 260: no piece may be under 3 */
        s_match8(w, (unsigned)len - 3);
        len = 3;
    }
    s_match8(w, (unsigned)len);
}

/* n literal bytes, inside a fixed-code block (and in one again afterwards). */
static void s_literals(s_bits_t *w, const uint8_t *s, size_t n)
{
    if (n < S_SHORT) {
        for (size_t i = 0; i < n; i++)
            s_put(w, s_lit_code[s[i]], s_lit_bits[s[i]]);
        return;
    }
    s_put(w, 0, 7); /* end of the fixed block */
    while (n) {
        size_t k = n > 65535 ? 65535 : n;
        s_put(w, 0, 3); /* a stored block, not the last */
        s_align(w);
        uint8_t h[4] = {(uint8_t)k, (uint8_t)(k >> 8), (uint8_t)~k, (uint8_t)(~k >> 8)};
        memcpy(w->p, h, 4);
        memcpy(w->p + 4, s, k);
        w->p += 4 + k;
        s += k;
        n -= k;
    }
    s_put(w, 2, 3); /* a fixed block, not the last */
}

size_t bt_runz_bound(size_t n)
{
    /* at most 9 bits a byte (a fixed-code literal; a stored stretch of >= 64 bytes costs less,
     * a match less still), plus the header, the last block and the checksum */
    return n + n / 8 + 64;
}

size_t bt_runz_encode(const void *src, size_t n, void *dst)
{
    assert(n % 8 == 0);
    pthread_once(&s_once, s_tables);
    const uint8_t *b = src;
    s_bits_t w = {dst, 0, 0};
    *w.p++ = 0x78; /* deflate, 32 KiB window */
    *w.p++ = 0x01; /* no dictionary, fastest; (0x78 * 256 + 0x01) % 31 == 0 */
    s_put(&w, 2, 3);
    size_t nw = n / 8, lit = 0; /* bytes before lit are written */
    for (size_t k = 1; k < nw;) {
        uint64_t prev, x;
        memcpy(&prev, b + 8 * (k - 1), 8);
        memcpy(&x, b + 8 * k, 8);
        if (x != prev) {
            k++;
            continue;
        }
        size_t e = k + 1; /* words [k, e) repeat word k - 1 */
        while (e < nw && memcmp(b + 8 * e, &prev, 8) == 0)
            e++;
        s_literals(&w, b + lit, 8 * k - lit);
        s_repeat(&w, 8 * (e - k));
        lit = 8 * e;
        k = e + 1;
    }
    s_literals(&w, b + lit, n - lit);
    s_put(&w, 0, 7); /* end of block */
    s_put(&w, 3, 3); /* the last block: fixed codes, empty */
    s_put(&w, 0, 7);
    s_align(&w);
    uint32_t a = libdeflate_adler32(1, src, n);
    uint8_t t[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    memcpy(w.p, t, 4);
    w.p += 4;
    size_t len = (size_t)(w.p - (uint8_t *)dst);
    assert(len <= bt_runz_bound(n));
    return len;
}
