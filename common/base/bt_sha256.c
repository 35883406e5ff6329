/* bt_sha256 — SHA-256 after FIPS 180-4, written from the specification. */
#include "bt_sha256.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define S_HAVE_NI 1
#endif

static const uint32_t s_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t s_ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void s_block_portable(uint32_t st[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = s_ror(w[i - 15], 7) ^ s_ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = s_ror(w[i - 2], 17) ^ s_ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            h + (s_ror(e, 6) ^ s_ror(e, 11) ^ s_ror(e, 25)) + ((e & f) ^ (~e & g)) + s_k[i] + w[i];
        uint32_t t2 = (s_ror(a, 2) ^ s_ror(a, 13) ^ s_ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

static void s_blocks_portable(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    for (; nblocks; nblocks--, p += 64)
        s_block_portable(st, p);
}

#ifdef S_HAVE_NI
/* The same compression with the x86 SHA extensions (SHA-NI): four rounds per pair of
 * sha256rnds2; state kept as ABEF/CDGH as those instructions want it. */
__attribute__((target("sha,sse4.1"))) static void s_blocks_ni(uint32_t st[8], const uint8_t *p,
                                                              size_t nblocks)
{
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&st[0]);
    __m128i state1 = _mm_loadu_si128((const __m128i *)&st[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);               /* CDAB */
    state1 = _mm_shuffle_epi32(state1, 0x1B);         /* EFGH */
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8); /* ABEF */
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);      /* CDGH */
    for (; nblocks; nblocks--, p += 64) {
        __m128i abef = state0, cdgh = state1;
        __m128i m[16];
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), mask);
            else
                m[i] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(m[i - 4], m[i - 3]),
                                                          _mm_alignr_epi8(m[i - 1], m[i - 2], 4)),
                                            m[i - 1]);
            __m128i msg = _mm_add_epi32(m[i], _mm_loadu_si128((const __m128i *)&s_k[4 * i]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
            msg = _mm_shuffle_epi32(msg, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
    state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
    state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
    state1 = _mm_alignr_epi8(state1, tmp, 8);    /* ABEF */
    _mm_storeu_si128((__m128i *)&st[0], state0);
    _mm_storeu_si128((__m128i *)&st[4], state1);
}

static bool s_cpu_has_sha(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29))) /* SHA */
        return false;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    return (c & (1u << 19)) && (c & (1u << 9)); /* SSE4.1, SSSE3 */
}
#endif

typedef void (*s_blocks_fn)(uint32_t st[8], const uint8_t *p, size_t nblocks);
static s_blocks_fn s_blocks = s_blocks_portable; /* chosen once at load time */
static bool s_hw;                                /* s_blocks is the SHA-NI one */

__attribute__((constructor)) static void s_choose(void)
{
#ifdef S_HAVE_NI
    if (s_cpu_has_sha()) {
        s_blocks = s_blocks_ni;
        s_hw = true;
    }
#endif
}

bool bt_sha256_hw(void)
{
    return s_hw;
}

void bt_sha256_set_portable(bool on)
{
    s_blocks = s_blocks_portable;
    s_hw = false;
    if (!on)
        s_choose();
}

void bt_sha256_init(bt_sha256_t *h)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(h->state, iv, sizeof iv);
    h->nbytes = 0;
    h->nbuf = 0;
}

void bt_sha256_update(bt_sha256_t *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    h->nbytes += len;
    if (h->nbuf > 0) {
        size_t take = 64 - h->nbuf < len ? 64 - h->nbuf : len;
        memcpy(h->buf + h->nbuf, p, take);
        h->nbuf += take;
        p += take;
        len -= take;
        if (h->nbuf < 64)
            return;
        s_blocks(h->state, h->buf, 1);
        h->nbuf = 0;
    }
    if (len >= 64) {
        s_blocks(h->state, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
    }
    if (len > 0) {
        memcpy(h->buf, p, len);
        h->nbuf = len;
    }
}

void bt_sha256_final(bt_sha256_t *h, char hex[65])
{
    uint64_t bits = h->nbytes * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = h->nbuf < 56 ? 56 - h->nbuf : 120 - h->nbuf;
    uint8_t lenbe[8];
    for (int i = 0; i < 8; i++)
        lenbe[i] = (uint8_t)(bits >> (56 - 8 * i));
    bt_sha256_update(h, pad, padlen);
    bt_sha256_update(h, lenbe, 8);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) {
            uint8_t byte = (uint8_t)(h->state[i] >> (24 - 8 * j));
            hex[8 * i + 2 * j] = digits[byte >> 4];
            hex[8 * i + 2 * j + 1] = digits[byte & 15];
        }
    hex[64] = '\0';
}

bt_err_t bt_sha256_file(const char *path, char hex[65], bt_errbuf_t *eb)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return bt_errf(eb, BT_EIO, "%s: cannot open for hashing: %s", path, strerror(errno));
    bt_sha256_t h;
    bt_sha256_init(&h);
    uint8_t buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        bt_sha256_update(&h, buf, got);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return bt_errf(eb, BT_EIO, "%s: read error while hashing", path);
    bt_sha256_final(&h, hex);
    return BT_OK;
}
