/* bt_ship (coordinator: files served by hash) and the worker's chunked
 * receive into bt_cache, end to end without a socket: a 2.5 MiB file goes
 * over in 3 chunks, a corrupted chunk is refused and asked for again, the
 * result is byte-identical and found by its sha256 (which sha256sum(1) of
 * the same bytes also gives: checked against bt_sha256_file, itself tested
 * on FIPS vectors in test_sha256.c). Requests a worker could forge are
 * refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bt_cache.h"
#include "bt_sha256.h"
#include "bt_ship.h"
#include "bt_wire.h"

static char s_dir[64], s_file[96];
static size_t s_size = 2 * BT_SHIP_CHUNK + BT_SHIP_CHUNK / 2;

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_ship_XXXXXX");
    cr_assert(mkdtemp(s_dir));
    snprintf(s_file, sizeof s_file, "%s/store.h5", s_dir);
    FILE *fp = fopen(s_file, "wb");
    cr_assert(fp);
    uint32_t x = 12345;
    for (size_t i = 0; i < s_size; i++) {
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 24), fp);
    }
    fclose(fp);
    char v[128]; /* whole-file stamps go here, not to the user's cache */
    snprintf(v, sizeof v, "%s/verified", s_dir);
    setenv("BT_VERIFY_CACHE", v, 1);
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(ship, .init = s_setup, .fini = s_teardown);

Test(ship, manifest_matches_the_file)
{
    bt_errbuf_t eb;
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m, "%s", eb.msg);
    char whole[65];
    cr_assert_eq(bt_sha256_file(s_file, whole, &eb), BT_OK);
    cr_assert_str_eq(m->sha256, whole);
    cr_assert_eq(m->size, s_size);
    cr_assert_eq(m->nchunks, 3);
    cr_assert_eq(bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb), m, "same content, same entry");
    bt_ship_destroy(&sh);
    bt_ship_destroy(&sh);
    cr_assert_null(sh);
}

Test(ship, forged_requests_are_refused)
{
    bt_errbuf_t eb;
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    char *buf = malloc(BT_SHIP_CHUNK);
    size_t got = 99;
    const char *other = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    cr_assert_eq(bt_ship_read(sh, other, 0, 16, buf, &got, &eb), BT_ENOTFOUND);
    cr_assert_eq(got, 0);
    cr_assert_eq(bt_ship_read(sh, m->sha256, 1, 16, buf, &got, &eb), BT_ERANGE);
    cr_assert_eq(bt_ship_read(sh, m->sha256, 0, 0, buf, &got, &eb), BT_ERANGE);
    cr_assert_eq(bt_ship_read(sh, m->sha256, 0, BT_SHIP_CHUNK + 1, buf, &got, &eb), BT_ERANGE);
    cr_assert_eq(bt_ship_read(sh, m->sha256, 3ull * BT_SHIP_CHUNK, 16, buf, &got, &eb), BT_ERANGE);
    /* the last chunk is short */
    cr_assert_eq(bt_ship_read(sh, m->sha256, 2ull * BT_SHIP_CHUNK, BT_SHIP_CHUNK, buf, &got, &eb),
                 BT_OK);
    cr_assert_eq(got, BT_SHIP_CHUNK / 2);
    cr_assert_eq(bt_ship_bytes_served(sh), BT_SHIP_CHUNK / 2);
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/p.fifo", s_dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    cr_assert_null(bt_ship_add(sh, BT_SHIP_DATA, fifo, &eb), "a FIFO is never served");
    cr_assert_eq(eb.code, BT_EDATA);
    free(buf);
    bt_ship_destroy(&sh);
}

Test(ship, chunked_transfer_into_the_cache)
{
    bt_errbuf_t eb;
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    char cdir[96];
    snprintf(cdir, sizeof cdir, "%s/cache", s_dir);
    bt_cache_t *c = bt_cache_new(cdir, 0, &eb);
    cr_assert_not_null(c);
    bt_cache_recv_t *r =
        bt_cache_recv_new(c, m->sha256, m->size, m->chunk, m->chunk_sha, m->nchunks, &eb);
    cr_assert_not_null(r, "%s", eb.msg);
    char *buf = malloc(BT_SHIP_CHUNK);
    uint64_t off;
    uint32_t len;
    int corrupted = 0, rounds = 0;
    while (!bt_cache_recv_complete(r)) {
        cr_assert_lt(rounds++, 10);
        /* a window of two chunks in flight */
        uint64_t offs[2];
        uint32_t lens[2];
        int k = 0;
        while (k < 2 && bt_cache_recv_next(r, &off, &len)) {
            offs[k] = off;
            lens[k++] = len;
        }
        cr_assert_eq(bt_cache_recv_inflight(r), (uint32_t)k);
        for (int i = 0; i < k; i++) {
            size_t got = 0;
            cr_assert_eq(bt_ship_read(sh, m->sha256, offs[i], lens[i], buf, &got, &eb), BT_OK);
            if (offs[i] == BT_SHIP_CHUNK && corrupted == 0) {
                corrupted = 1;
                buf[7] ^= 1; /* a flipped bit on the way */
                cr_assert_eq(bt_cache_recv_chunk(r, offs[i], buf, got, &eb), BT_EDATA);
                cr_assert(strstr(eb.msg, m->chunk_sha[1]), "%s", eb.msg);
                continue;
            }
            cr_assert_eq(bt_cache_recv_chunk(r, offs[i], buf, got, &eb), BT_OK, "%s", eb.msg);
        }
    }
    cr_assert_eq(corrupted, 1);
    cr_assert_eq(bt_cache_recv_chunk(r, 5, buf, 1, &eb), BT_ERANGE);
    char path[4200];
    cr_assert_eq(bt_cache_recv_commit(r, path, sizeof path, &eb), BT_OK, "%s", eb.msg);
    bt_cache_recv_destroy(&r);
    cr_assert_eq(bt_cache_lookup(c, m->sha256, path, sizeof path, &eb), BT_OK, "%s", eb.msg);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", s_file, path);
    cr_assert_eq(system(cmd), 0, "the cached copy equals the original");
    size_t n = 0;
    cr_assert_eq(bt_cache_bytes(c, &n), s_size, "no temp file left, one object");
    cr_assert_eq(n, 1);
    free(buf);
    bt_cache_destroy(&c);
    bt_ship_destroy(&sh);
}

Test(ship, bad_manifests_are_refused)
{
    bt_errbuf_t eb;
    char cdir[96];
    snprintf(cdir, sizeof cdir, "%s/cache", s_dir);
    bt_cache_t *c = bt_cache_new(cdir, 0, &eb);
    const char h[1][65] = {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    const char *sha = h[0];
    cr_assert_null(bt_cache_recv_new(c, sha, 10, 4, h, 1, &eb), "10 bytes in 4-byte chunks is 3");
    cr_assert_eq(eb.code, BT_EPROTO);
    cr_assert_null(bt_cache_recv_new(c, sha, 10, BT_CACHE_CHUNK_MAX + 1, h, 1, &eb));
    cr_assert_null(bt_cache_recv_new(c, "../x", 3, 4, h, 1, &eb));
    cr_assert_null(bt_cache_recv_new(c, sha, BT_CACHE_FILE_MAX + 1, BT_CACHE_CHUNK_MAX, h, 1, &eb));
    bt_cache_recv_t *r = bt_cache_recv_new(c, sha, 3, 4, h, 1, &eb);
    cr_assert_not_null(r, "%s", eb.msg);
    cr_assert_eq(bt_cache_recv_commit(r, (char[64]){0}, 64, &eb), BT_EINVAL, "nothing received");
    bt_cache_recv_destroy(&r);
    bt_cache_recv_destroy(&r);
    bt_cache_destroy(&c);
}

/* The server's hooks: SWEEP manifests in wire form (raw chunk hashes equal
 * the hex ones) and a FETCH answered with a CHUNK of the file's bytes. */
Test(ship, sweep_manifest_and_fetch_answer)
{
    bt_errbuf_t eb;
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m, "%s", eb.msg);
    bt_msg_t sw, in, out;
    bt_msg_init(&sw);
    bt_msg_init(&in);
    bt_msg_init(&out);
    bt_msg_reset(&sw, BT_MSG_SWEEP);
    bt_ship_sweep_manifests(sh, &sw);
    const bt_wire_manifest_t *w = &sw.sweep.data_file;
    cr_assert(w->has);
    cr_assert_not(sw.sweep.lib_file.has);
    cr_assert_str_eq(w->sha256, m->sha256);
    cr_assert_eq(w->size, s_size);
    cr_assert_eq(w->chunk, BT_SHIP_CHUNK);
    cr_assert_eq(w->chunk_sha_len, 3 * 32);
    for (uint32_t i = 0; i < 3; i++) {
        char hex[65];
        for (int k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", w->chunk_sha[i * 32 + (uint32_t)k]);
        cr_assert_str_eq(hex, m->chunk_sha[i]);
    }
    bt_msg_reset(&in, BT_MSG_FETCH);
    memcpy(in.fetch.sha256, m->sha256, 65);
    in.fetch.offset = 2ull * BT_SHIP_CHUNK;
    in.fetch.len = BT_SHIP_CHUNK;
    cr_assert_eq(bt_ship_answer(sh, &in, &out, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(out.type, BT_MSG_CHUNK);
    cr_assert_eq(out.chunk.len, BT_SHIP_CHUNK / 2);
    cr_assert_eq(out.chunk.offset, 2ull * BT_SHIP_CHUNK);
    char *want = malloc(BT_SHIP_CHUNK / 2);
    FILE *fp = fopen(s_file, "rb");
    cr_assert(fp && fseek(fp, 2L * BT_SHIP_CHUNK, SEEK_SET) == 0);
    cr_assert_eq(fread(want, 1, BT_SHIP_CHUNK / 2, fp), BT_SHIP_CHUNK / 2);
    fclose(fp);
    cr_assert_eq(memcmp(out.chunk.bytes, want, BT_SHIP_CHUNK / 2), 0);
    in.fetch.offset = 5; /* not a chunk boundary */
    cr_assert_eq(bt_ship_answer(sh, &in, &out, &eb), BT_ERANGE);
    free(want);
    bt_msg_fini(&sw);
    bt_msg_fini(&in);
    bt_msg_fini(&out);
    bt_ship_destroy(&sh);
}

/* A FETCH for chunk `i` of m. */
static void s_fetch(bt_msg_t *q, const bt_ship_manifest_t *m, uint32_t i)
{
    bt_msg_reset(q, BT_MSG_FETCH);
    q->fetch.kind = BT_WIRE_FILE_DATA;
    memcpy(q->fetch.sha256, m->sha256, sizeof q->fetch.sha256);
    q->fetch.offset = (uint64_t)i * BT_SHIP_CHUNK;
    q->fetch.len = BT_SHIP_CHUNK;
}

/* The zero-copy answer is byte for byte what encoding bt_ship_answer's
 * message gives, and decodes to the file's bytes, in place. */
Test(ship, answer_frame_is_the_encoded_chunk)
{
    bt_errbuf_t eb;
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    FILE *fp = fopen(s_file, "rb");
    cr_assert(fp);
    char *file = malloc(s_size);
    cr_assert_eq(fread(file, 1, s_size, fp), s_size);
    fclose(fp);
    bt_msg_t q, a, d;
    bt_msg_init(&q);
    bt_msg_init(&a);
    bt_msg_init(&d);
    bt_wire_buf_t enc;
    bt_wire_buf_init(&enc);
    for (uint32_t i = 0; i < 3; i++) { /* the last chunk is short */
        s_fetch(&q, m, i);
        bt_ship_frame_t fr;
        cr_assert_eq(bt_ship_answer_frame(sh, &q, &fr, &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(bt_ship_answer(sh, &q, &a, &eb), BT_OK);
        cr_assert_eq(bt_wire_encode(&a, &enc, &eb), BT_OK);
        cr_assert_eq(fr.len, enc.len);
        cr_assert_eq(memcmp(fr.data, enc.data, enc.len), 0, "chunk %u", i);
        cr_assert_eq(bt_wire_decode(fr.data, fr.len, &d, &eb), BT_OK, "%s", eb.msg);
        size_t want = i < 2 ? BT_SHIP_CHUNK : BT_SHIP_CHUNK / 2;
        cr_assert_eq(d.chunk.len, want);
        cr_assert_eq(memcmp(d.chunk.bytes, file + (size_t)i * BT_SHIP_CHUNK, want), 0);
        cr_assert(d.chunk.bytes > (const char *)fr.data &&
                      d.chunk.bytes < (const char *)fr.data + fr.len,
                  "decoded in place, not copied");
        fr.release(fr.data, fr.hint);
    }
    /* forged: nothing to send, nothing to release */
    s_fetch(&q, m, 0);
    q.fetch.offset = 7;
    bt_ship_frame_t fr = {0};
    cr_assert_eq(bt_ship_answer_frame(sh, &q, &fr, &eb), BT_ERANGE);
    cr_assert_null(fr.data);
    /* the head encoder refuses a message that does not end with bytes */
    bt_msg_reset(&a, BT_MSG_HEARTBEAT);
    cr_assert_eq(bt_wire_encode_head(&a, &enc, &eb), BT_EINVAL);
    bt_wire_buf_fini(&enc);
    bt_msg_fini(&q);
    bt_msg_fini(&a);
    bt_msg_fini(&d);
    free(file);
    bt_ship_destroy(&sh);
}

/* Buffers still queued in ZeroMQ when the sweep ends are freed when sent;
 * more requests in flight than the pool holds get buffers of their own
 * (ASan in scripts/test checks nothing leaks or is used after free). */
Test(ship, frames_outlive_the_ship)
{
    bt_errbuf_t eb;
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    enum { N = 40 };
    bt_ship_frame_t fr[N];
    bt_msg_t q;
    bt_msg_init(&q);
    for (int i = 0; i < N; i++) {
        s_fetch(&q, m, (uint32_t)i % 3);
        cr_assert_eq(bt_ship_answer_frame(sh, &q, &fr[i], &eb), BT_OK);
        for (int k = 0; k < i; k++)
            cr_assert_neq(fr[i].data, fr[k].data, "a buffer in flight is not reused");
    }
    fr[0].release(fr[0].data, fr[0].hint); /* back to the pool: reused next */
    s_fetch(&q, m, 1);
    bt_ship_frame_t again;
    cr_assert_eq(bt_ship_answer_frame(sh, &q, &again, &eb), BT_OK);
    cr_assert_eq(again.data, fr[0].data);
    bt_ship_destroy(&sh);
    for (int i = 1; i < N; i++)
        fr[i].release(fr[i].data, fr[i].hint);
    again.release(again.data, again.hint);
    bt_msg_fini(&q);
}

/* Waits until path's last change is older than the stamps' ctime margin. */
static void s_wait_settled(const char *path)
{
    for (int i = 0; i < 300; i++) {
        struct stat st;
        struct timespec now;
        cr_assert_eq(stat(path, &st), 0);
        clock_gettime(CLOCK_REALTIME, &now);
        double age = (double)(now.tv_sec - st.st_ctim.tv_sec) +
                     (double)(now.tv_nsec - st.st_ctim.tv_nsec) / 1e9;
        if (age > (st.st_ctim.tv_nsec == 0 ? 2.2 : 0.3))
            return;
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
}

/* A served file is hashed once while unchanged (its stamp is read, shown by
 * a stamp edited to another hash) and hashed again once it changes. */
Test(ship, unchanged_file_is_not_hashed_again)
{
    bt_errbuf_t eb;
    s_wait_settled(s_file);
    bt_ship_t *sh = bt_ship_new();
    const bt_ship_manifest_t *m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    char real[65];
    memcpy(real, m->sha256, sizeof real);
    bt_ship_destroy(&sh);
    struct stat st;
    cr_assert_eq(stat(s_file, &st), 0);
    char stamp[256];
    snprintf(stamp, sizeof stamp, "%s/verified/%llx-%llx.sha", s_dir,
             (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    cr_assert_eq(access(stamp, F_OK), 0, "the hash is stamped");
    /* a stamp saying another hash is believed: the file was not read */
    const char *fake = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char cmd[600];
    snprintf(cmd, sizeof cmd, "sed -i '2s/.*/%s/' '%s'", fake, stamp);
    cr_assert_eq(system(cmd), 0);
    sh = bt_ship_new();
    m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    cr_assert_str_eq(m->sha256, fake);
    bt_ship_destroy(&sh);
    /* a changed file (new ctime, mtime and size) is hashed again */
    FILE *fp = fopen(s_file, "ab");
    cr_assert(fp);
    fputc('!', fp);
    fclose(fp);
    sh = bt_ship_new();
    m = bt_ship_add(sh, BT_SHIP_DATA, s_file, &eb);
    cr_assert_not_null(m);
    char whole[65];
    cr_assert_eq(bt_sha256_file(s_file, whole, &eb), BT_OK);
    cr_assert_str_eq(m->sha256, whole);
    cr_assert_str_neq(m->sha256, real);
    cr_assert_eq(m->size, s_size + 1);
    bt_ship_destroy(&sh);
}
