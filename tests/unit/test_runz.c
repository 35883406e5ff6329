/* Unit tests for bt_runz: every stream is read back by zlib's own inflater (an independent
 * decoder), and the size of an all-equal chunk is checked against a count done by hand from
 * RFC 1951's fixed codes. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bt_runz.h"

/* Encodes nw words, inflates them with zlib, and checks the bytes and the bound. */
static size_t s_roundtrip(const uint64_t *w, size_t nw)
{
    size_t n = nw * 8;
    unsigned char *z = malloc(bt_runz_bound(n));
    unsigned char *back = malloc(n ? n : 1);
    cr_assert(z && back);
    size_t len = bt_runz_encode(w, n, z);
    cr_assert_leq(len, bt_runz_bound(n));
    uLongf got = n;
    cr_assert_eq(uncompress(back, &got, z, len), Z_OK, "zlib cannot read %zu words", nw);
    cr_assert_eq(got, n);
    cr_assert(n == 0 || memcmp(back, w, n) == 0, "%zu words came back different", nw);
    free(z);
    free(back);
    return len;
}

static uint64_t s_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(runz, empty_and_tiny_inputs)
{
    uint64_t w[3] = {1, 1, 2};
    s_roundtrip(w, 0);
    s_roundtrip(w, 1);
    s_roundtrip(w, 2); /* one repeat: a match of 8 */
    s_roundtrip(w, 3);
}

/* Runs of every length from 1 to 300 words between stretches of 1 to 40 distinct words: matches
 * split at 258 bytes (and the 259/260 remainders), fixed-code literals below 64 bytes, stored
 * blocks above. */
Test(runz, runs_and_stretches_of_every_length)
{
    size_t cap = 200000, nw = 0;
    uint64_t *w = malloc(cap * sizeof *w), seed = 88172645463325252ull;
    cr_assert(w);
    for (size_t run = 1; run <= 300; run++) {
        size_t lit = 1 + run % 40;
        for (size_t i = 0; i < lit && nw < cap; i++)
            w[nw++] = s_rand(&seed);
        for (size_t i = 0; i < run && nw < cap; i++, nw++)
            w[nw] = w[nw - 1];
    }
    cr_assert_lt(nw, cap);
    size_t len = s_roundtrip(w, nw);
    cr_assert_lt(len, nw * 8 / 2, "runs make up most of it: %zu bytes of %zu", len, nw * 8);
    /* every prefix length near a block or match edge */
    for (size_t k = 1; k < 700; k += 7)
        s_roundtrip(w, k);
    free(w);
}

/* Random words: all stored blocks (65,535 bytes each), never more than the bound. */
Test(runz, noise_is_stored)
{
    size_t nw = 200000;
    uint64_t *w = malloc(nw * sizeof *w), seed = 7;
    cr_assert(w);
    for (size_t i = 0; i < nw; i++)
        w[i] = s_rand(&seed);
    size_t len = s_roundtrip(w, nw);
    /* 2 header + 25 stored blocks x 5 + a few bits + 4 checksum */
    cr_assert_geq(len, nw * 8);
    cr_assert_leq(len, nw * 8 + 2 + 25 * 5 + 8 + 4);
    /* bytes that are all equal but words that differ: still right (runs are of words) */
    memset(w, 0xAB, nw * sizeof *w);
    for (size_t i = 0; i < nw; i += 3)
        w[i] ^= 1;
    s_roundtrip(w, nw);
    free(w);
}

/* 65,536 words of 0.0: the first word as 8 literal zero bytes (8 bits each), then 524,280
 * bytes at distance 8 as 2,032 matches of 258 (code 285: 8 bits, distance code 5: 5 bits and
 * 1 extra) and one of 24 (code 270: 7 bits and 2 extra, then 6 for the distance). Bits:
 * 3 (block) + 64 + 2,032 x 14 + 15 + 7 (end) + 3 (last block) + 7 (its end) = 28,547 =
 * 3,569 bytes; with the 2-byte header and 4-byte checksum, 3,575. */
Test(runz, all_equal_chunk_has_the_hand_counted_size)
{
    size_t nw = 65536;
    uint64_t *w = calloc(nw, sizeof *w);
    cr_assert(w);
    cr_assert_eq(s_roundtrip(w, nw), 3575);
    free(w);
}
