/* bt_strat_util — the out-of-line helpers of bt_strat_util.h. */
#include "bt_strat_util.h"

#include <stdint.h>
#include <string.h>

#define S_WIN 1024 /* bars whose "can act" flags are computed before any is read (read back at once, a wide store does not forward to the word loads) */

/* A bar can only move prev_diff when its diff and the previous bar's are
 * both > 0 or both < 0: then neither is NaN (both were ready, so prev_diff
 * is the previous diff), nothing crosses. The product of the two diffs > 0
 * says so (or is conservative: an underflow to 0 or a NaN makes the bar
 * step bar by bar, which is always right). Flags are bytes, so the loop
 * vectorises on every clone; eight of them are read as one word and a
 * window of quiet bars costs eight word tests. */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) size_t
bt_su_cross_decide(bt_su_cross_t *x, double down, const double *const *v, size_t i0, size_t i1,
                   uint32_t *at, double *tg)
{
    const double *f = v[0], *s = v[1];
    size_t k = 0;
    bt_su_cross_t c = *x; /* a local copy stays in registers (tg could alias *x) */
    c.down = down;
    size_t i = i0;
    if (i == 0 && i < i1) { /* bar 0 has no previous bar */
        double a = f[0], b = s[0];
        if (a == a && b == b)
            bt_su_cross_at(&c, a - b, 0, at, tg, &k);
        i = 1;
    }
    _Alignas(64) unsigned char act[S_WIN + 8];
    while (i < i1) {
        size_t w = i1 - i < S_WIN ? i1 - i : S_WIN;
        const double *fp = f + i, *sp = s + i;
        for (size_t h = 0; h < w; h++)
            act[h] = !((fp[h] - sp[h]) * (fp[h - 1] - sp[h - 1]) > 0.0);
        memset(act + w, 0, 8);
        for (size_t h0 = 0; h0 < w; h0 += 8) {
            uint64_t word;
            memcpy(&word, act + h0, sizeof word);
            for (; word; word &= word - 1) {
                size_t h = h0 + (size_t)__builtin_ctzll(word) / 8;
                size_t j = i + h;
                if (h > 0 && !act[h - 1]) { /* after a quiet bar: its diff */
                    c.prev_diff = f[j - 1] - s[j - 1];
                    c.have_prev = 1;
                }
                double a = f[j], b = s[j];
                if (a != a || b != b) /* NaN: not ready yet */
                    continue;
                bt_su_cross_at(&c, a - b, j, at, tg, &k);
            }
        }
        if (!act[w - 1]) {
            c.prev_diff = f[i + w - 1] - s[i + w - 1];
            c.have_prev = 1;
        }
        i += w;
    }
    *x = c;
    return k;
}
