/* bt_sha256 — SHA-256 after FIPS 180-4, written from the specification. */
#include "bt_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint32_t s_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static inline uint32_t s_ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void s_block(uint32_t st[8], const uint8_t *p)
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
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6],
             h = st[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (s_ror(e, 6) ^ s_ror(e, 11) ^ s_ror(e, 25)) + ((e & f) ^ (~e & g)) +
                      s_k[i] + w[i];
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
        s_block(h->state, h->buf);
        h->nbuf = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        s_block(h->state, p);
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
