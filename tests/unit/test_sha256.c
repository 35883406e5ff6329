/* Unit tests for common/base/bt_sha256. Known answers are the FIPS 180-2 example vectors,
 * checked with coreutils: printf abc | sha256sum, etc. (written next to each case). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_sha256.h"

static void s_hash(const void *data, size_t len, char hex[65])
{
    bt_sha256_t h;
    bt_sha256_init(&h);
    bt_sha256_update(&h, data, len);
    bt_sha256_final(&h, hex);
}

Test(sha256, fips_vectors)
{
    char hex[65];
    /* printf '' | sha256sum */
    s_hash("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* printf abc | sha256sum */
    s_hash("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* 448-bit message: two blocks after padding */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    s_hash(m, strlen(m), hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, million_a_streamed_in_odd_pieces)
{
    /* head -c 1000000 /dev/zero | tr '\0' a | sha256sum */
    static char buf[1000000];
    memset(buf, 'a', sizeof buf);
    bt_sha256_t h;
    bt_sha256_init(&h);
    size_t pos = 0, step = 1;
    while (pos < sizeof buf) {
        size_t n = step < sizeof buf - pos ? step : sizeof buf - pos;
        bt_sha256_update(&h, buf + pos, n);
        pos += n;
        step = step * 7 % 191 + 1; /* 1..191 bytes: crosses block edges every way */
    }
    char hex[65];
    bt_sha256_final(&h, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    char one[65];
    s_hash(buf, sizeof buf, one);
    cr_assert_str_eq(one, hex);
}

Test(sha256, padding_edges_55_56_64)
{
    /* lengths 55, 56 and 64 take the three padding branches; compare against one-byte-at-a-time
     * feeding (a different code path through update). */
    char msg[130];
    memset(msg, 'x', sizeof msg);
    size_t lens[] = {55, 56, 63, 64, 65, 119, 120, 128};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char a[65], b[65];
        s_hash(msg, lens[k], a);
        bt_sha256_t h;
        bt_sha256_init(&h);
        for (size_t i = 0; i < lens[k]; i++)
            bt_sha256_update(&h, msg + i, 1);
        bt_sha256_final(&h, b);
        cr_assert_str_eq(a, b, "length %zu", lens[k]);
    }
}

Test(sha256, file_and_missing_file)
{
    char path[] = "/tmp/bt_sha_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);
    char hex[65];
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_sha256_file(path, hex, &eb), BT_OK);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    unlink(path);
    cr_assert_eq(bt_sha256_file(path, hex, &eb), BT_EIO);
    cr_assert(strstr(eb.msg, path) != NULL, "message names the path: %s", eb.msg);
}

Test(sha256, portable_and_hardware_paths_agree)
{
    /* Where the CPU has SHA-NI both block functions run here; else both calls take the portable
     * code and the test still checks the FIPS answer. */
    cr_log_info("SHA-NI in use: %s", bt_sha256_hw() ? "yes" : "no");
    static unsigned char data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    for (size_t len = 0; len <= sizeof data; len += len < 300 ? 1 : 97) {
        char a[65], b[65];
        bt_sha256_set_portable(true);
        s_hash(data, len, a);
        bt_sha256_set_portable(false);
        s_hash(data, len, b);
        cr_assert_str_eq(a, b, "length %zu", len);
    }
    bt_sha256_set_portable(true);
    char hex[65];
    s_hash("abc", 3, hex); /* printf abc | sha256sum */
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bt_sha256_set_portable(false);
}
