/* bt_cache: the worker's content-addressed file cache. Known answers:
 * sha256("abc") = ba7816bf...15ad (FIPS 180-2, appendix B.1) and
 * sha256("") = e3b0c442...b855 (the well-known empty digest). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_cache.h"

#define S_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define S_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char s_dir[64];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_cache_XXXXXX");
    cr_assert(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cache, .init = s_setup, .fini = s_teardown);

Test(cache, put_then_lookup_verifies)
{
    bt_errbuf_t eb;
    bt_cache_t *c = bt_cache_new(s_dir, 0, &eb);
    cr_assert_not_null(c);
    char path[4200];
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_ENOTFOUND);
    cr_assert_eq(bt_cache_put(c, S_ABC, "abc", 3, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_OK, "%s", eb.msg);
    FILE *fp = fopen(path, "rb");
    cr_assert(fp);
    char got[8] = "";
    cr_assert_eq(fread(got, 1, sizeof got, fp), 3);
    fclose(fp);
    cr_assert_eq(memcmp(got, "abc", 3), 0);
    size_t n = 0;
    cr_assert_eq(bt_cache_bytes(c, &n), 3);
    cr_assert_eq(n, 1);
    bt_cache_destroy(&c);
    bt_cache_destroy(&c); /* safe twice */
    cr_assert_null(c);
}

Test(cache, wrong_bytes_are_not_cached)
{
    bt_errbuf_t eb;
    bt_cache_t *c = bt_cache_new(s_dir, 0, &eb);
    cr_assert_eq(bt_cache_put(c, S_ABC, "abd", 3, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, S_ABC), "names the expected hash: %s", eb.msg);
    cr_assert_eq(bt_cache_put(c, "not-a-hash", "abc", 3, &eb), BT_EINVAL);
    char path[4200];
    cr_assert_eq(bt_cache_lookup(c, "../../etc/passwd", path, sizeof path, &eb), BT_EINVAL);
    cr_assert_eq(bt_cache_bytes(c, NULL), 0);
    bt_cache_destroy(&c);
}

Test(cache, corrupted_file_is_dropped_on_use)
{
    bt_errbuf_t eb;
    bt_cache_t *c = bt_cache_new(s_dir, 0, &eb);
    cr_assert_eq(bt_cache_put(c, S_ABC, "abc", 3, &eb), BT_OK);
    char path[4200];
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_OK);
    FILE *fp = fopen(path, "r+b");
    cr_assert(fp);
    fputc('x', fp); /* "xbc" */
    fclose(fp);
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_ENOTFOUND);
    cr_assert_neq(access(path, F_OK), 0, "the corrupted copy is deleted");
    cr_assert_eq(bt_cache_put(c, S_ABC, "abc", 3, &eb), BT_OK); /* fetched again */
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_OK);
    bt_cache_destroy(&c);
}

/* Sets path's mtime to sec (file times are too coarse to order two quick writes). */
static void s_age(bt_cache_t *c, const char *sha, time_t sec)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/objects/%s", bt_cache_dir(c), sha);
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

Test(cache, least_recently_used_goes_first)
{
    bt_errbuf_t eb;
    /* sha256("a") and sha256("abd"), from sha256sum(1). */
    const char *a = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    const char *abd = "a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9";
    bt_cache_t *c = bt_cache_new(s_dir, 6, &eb); /* 6 bytes */
    char path[4200];
    cr_assert_eq(bt_cache_put(c, S_ABC, "abc", 3, &eb), BT_OK);
    cr_assert_eq(bt_cache_put(c, a, "a", 1, &eb), BT_OK);
    s_age(c, S_ABC, 1000); /* abc older than a ... */
    s_age(c, a, 2000);
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_OK); /* ... until used */
    /* 3 + 1 + 3 = 7 > 6: the least recently used (a) goes, then 6 fits. */
    cr_assert_eq(bt_cache_put(c, abd, "abd", 3, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_cache_lookup(c, a, path, sizeof path, &eb), BT_ENOTFOUND);
    cr_assert_eq(bt_cache_lookup(c, S_ABC, path, sizeof path, &eb), BT_OK);
    cr_assert_eq(bt_cache_lookup(c, abd, path, sizeof path, &eb), BT_OK);
    size_t n = 0;
    cr_assert_eq(bt_cache_bytes(c, &n), 6);
    cr_assert_eq(n, 2);
    bt_cache_destroy(&c);
}

Test(cache, only_regular_files_pass_the_guard)
{
    bt_errbuf_t eb;
    char fifo[96], file[96];
    snprintf(fifo, sizeof fifo, "%s/f.fifo", s_dir);
    snprintf(file, sizeof file, "%s/plain", s_dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_eq(bt_cache_check_regular(fifo, &eb), BT_EDATA); /* returns: never blocks */
    cr_assert(strstr(eb.msg, "FIFO"), "%s", eb.msg);
    cr_assert_eq(bt_cache_check_regular(s_dir, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, "folder"), "%s", eb.msg);
    cr_assert_eq(bt_cache_check_regular("/dev/null", &eb), BT_EDATA);
    cr_assert_eq(bt_cache_check_regular(file, &eb), BT_ENOTFOUND);
    FILE *fp = fopen(file, "w");
    cr_assert(fp);
    fclose(fp);
    cr_assert_eq(bt_cache_check_regular(file, &eb), BT_OK);
}
