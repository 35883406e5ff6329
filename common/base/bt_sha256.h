/* bt_sha256 — SHA-256 (FIPS 180-4), streaming, for file and data hashes. */
#ifndef BT_SHA256_H
#define BT_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

typedef struct bt_sha256 {
    uint32_t state[8];     /* running hash */
    uint64_t nbytes;       /* total bytes fed so far */
    uint8_t buf[64];       /* pending partial block */
    size_t nbuf;           /* bytes used in buf */
} bt_sha256_t;

void bt_sha256_init(bt_sha256_t *h);
void bt_sha256_update(bt_sha256_t *h, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL. h must be re-initialised before reuse. */
void bt_sha256_final(bt_sha256_t *h, char hex[65]);
/* Hash of a whole file. BT_EIO with the path and the reason if it cannot be read. */
bt_err_t bt_sha256_file(const char *path, char hex[65], bt_errbuf_t *eb);

/* true when the CPU's SHA extensions (x86 SHA-NI) are used; chosen once at start-up. */
bool bt_sha256_hw(void);
/* Forces the portable C code (on) or restores the automatic choice (off). For tests and
 * benchmarks; call before hashing starts, not while other threads hash. */
void bt_sha256_set_portable(bool on);

#endif
