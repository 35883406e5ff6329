/* Fuzz target for the wire decoder (common/wire/bt_wire.c).
 *
 * LLVMFuzzerTestOneInput decodes the input; when the decoder accepts it, the
 * message is re-encoded and decoded again and must be equal (doubles bit for
 * bit), the two encodings must be byte-identical, and msgpack-c's own
 * unpacker (an independent implementation) must agree the input is exactly
 * one well-formed MessagePack object. Any violation aborts.
 *
 * Built two ways (tests/fuzz/CMakeLists.txt):
 *  - always, with BT_FUZZ_REPLAY defined: a plain program that replays every
 *    file of the directories or files given (ctest runs it on
 *    tests/fuzz/corpus/wire). Files named ok-* must decode, bad-* must be
 *    rejected; other names (found by the fuzzer) must only not crash.
 *    `fuzz_wire_replay --write-corpus DIR` writes the generated seed corpus.
 *  - with -DBT_FUZZ=ON and clang: a libFuzzer binary, `fuzz_wire`. */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_wire: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Kept across calls so that decode-storage reuse is exercised too. */
    static bt_msg_t m1, m2;
    static bt_wire_buf_t b1, b2;
    bt_errbuf_t eb;
    if (bt_wire_decode(data, size, &m1, &eb) != BT_OK) {
        if (m1.type != BT_MSG_NONE)
            s_die("a failed decode left a message type", NULL);
        if (eb.msg[0] == '\0')
            s_die("a failed decode gave no message", NULL);
        return 0;
    }
    msgpack_zone z;
    msgpack_zone_init(&z, 2048);
    msgpack_object o;
    size_t off = 0;
    if (msgpack_unpack((const char *)data, size, &off, &z, &o) != MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_MAP)
        s_die("accepted bytes that msgpack-c does not read as exactly one map", NULL);
    msgpack_zone_destroy(&z);
    if (bt_wire_encode(&m1, &b1, &eb) != BT_OK)
        s_die("cannot re-encode a decoded message", eb.msg);
    if (bt_wire_decode(b1.data, b1.len, &m2, &eb) != BT_OK)
        s_die("cannot decode our own encoding", eb.msg);
    if (!bt_msg_equal(&m1, &m2))
        s_die("message changed across encode/decode", bt_msg_type_name(m1.type));
    if (bt_wire_encode(&m2, &b2, &eb) != BT_OK || b2.len != b1.len ||
        memcmp(b1.data, b2.data, b1.len) != 0)
        s_die("encoding is not canonical", bt_msg_type_name(m1.type));
    return 0;
}

#ifdef BT_FUZZ_REPLAY
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>

/* ------------------------------------------------------ corpus writer -- */

static int s_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_wire: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int s_write_msg(const char *dir, const char *name, const bt_msg_t *m, size_t cut)
{
    bt_wire_buf_t b;
    bt_wire_buf_init(&b);
    bt_errbuf_t eb;
    if (bt_wire_encode(m, &b, &eb) != BT_OK) {
        fprintf(stderr, "fuzz_wire: %s: %s\n", name, eb.msg);
        return -1;
    }
    int rc = s_write(dir, name, b.data, cut && cut < b.len ? cut : b.len);
    bt_wire_buf_fini(&b);
    return rc;
}

static int s_write_sb(const char *dir, const char *name, msgpack_sbuffer *sb)
{
    int rc = s_write(dir, name, sb->data, sb->size);
    msgpack_sbuffer_destroy(sb);
    return rc;
}

static void s_head(msgpack_packer *pk, uint32_t nkeys, const char *type, uint64_t v)
{
    msgpack_pack_map(pk, nkeys);
    msgpack_pack_str_with_body(pk, "t", 1);
    msgpack_pack_str_with_body(pk, type, strlen(type));
    msgpack_pack_str_with_body(pk, "v", 1);
    msgpack_pack_uint64(pk, v);
}

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int s_write_corpus(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_wire: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    bt_msg_t m;
    bt_msg_init(&m);

    bt_msg_reset(&m, BT_MSG_HELLO);
    snprintf(m.hello.name, sizeof m.hello.name, "node7:31337");
    m.hello.threads = 4;
    snprintf(m.hello.bt_version, sizeof m.hello.bt_version, "0.1.0");
    rc |= s_write_msg(dir, "ok-hello.bin", &m, 0);
    m.hello.threads = 0;
    rc |= s_write_msg(dir, "bad-hello-zero-threads.bin", &m, 0);

    bt_msg_reset(&m, BT_MSG_WELCOME);
    snprintf(m.welcome.sweep_id, sizeof m.welcome.sweep_id, "sw-1");
    m.welcome.heartbeat_ms = 1000;
    m.welcome.lease_ms = 30000;
    rc |= s_write_msg(dir, "ok-welcome.bin", &m, 0);

    bt_msg_reset(&m, BT_MSG_REFUSE);
    snprintf(m.refuse.reason, sizeof m.refuse.reason,
             "coordinator speaks v1, worker v2: upgrade the worker");
    rc |= s_write_msg(dir, "ok-refuse.bin", &m, 0);

    static const char yaml[] = "strategy: sma_cross\nparams: {fast: 10, slow: 50}\n";
    bt_msg_reset(&m, BT_MSG_SWEEP);
    m.sweep.yaml = yaml;
    m.sweep.yaml_len = sizeof yaml - 1;
    snprintf(m.sweep.config_sha256, sizeof m.sweep.config_sha256, "%s", HEX_A);
    snprintf(m.sweep.store_path, sizeof m.sweep.store_path, "/data/bars.h5");
    snprintf(m.sweep.data_hash, sizeof m.sweep.data_hash, "%s", HEX_A);
    rc |= s_write_msg(dir, "ok-sweep.bin", &m, 0);
    /* the optional "set" key: --set overrides the worker applies on load */
    const char *sets[] = {"execution.commission_pct=0.5", "data.symbols=[A, B]"};
    m.sweep.sets = sets;
    m.sweep.nsets = 2;
    rc |= s_write_msg(dir, "ok-sweep-set.bin", &m, 0);
    const char *bad_set[] = {"no_equals_sign"};
    m.sweep.sets = bad_set;
    m.sweep.nsets = 1;
    rc |= s_write_msg(dir, "bad-sweep-set-not-key-value.bin", &m, 0);
    m.sweep.sets = NULL;
    m.sweep.nsets = 0;
    /* the optional "mcols" key: the metric columns of RESULT "m", by name */
    const char *mcols[] = {"final_equity", "total_return", "sharpe"};
    m.sweep.mcols = mcols;
    m.sweep.nmcols = 3;
    rc |= s_write_msg(dir, "ok-sweep-mcols.bin", &m, 0);
    m.sweep.mcols = NULL;
    m.sweep.nmcols = 0;

    bt_wire_override_t ov[] = {{"fast", 10.0}, {"slow", -0.0}, {"risk.stop", 4.9e-324}};
    bt_wire_job_t jobs[] = {{.id = 0, .attempt = 0, .nover = 0, .over = NULL},
                            {.id = 17, .attempt = 1, .nover = 3, .over = ov},
                            {.id = UINT64_MAX, .attempt = UINT32_MAX, .nover = 1, .over = ov}};
    bt_msg_reset(&m, BT_MSG_JOB);
    m.job.jobs = jobs;
    m.job.njobs = 3;
    rc |= s_write_msg(dir, "ok-job.bin", &m, 0);
    rc |= s_write_msg(dir, "bad-job-truncated.bin", &m, 40);
    bt_msg_reset(&m, BT_MSG_JOB);
    rc |= s_write_msg(dir, "ok-job-empty.bin", &m, 0);

    static const double blk[] = {0.01, -0.02, 0.03};
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.job_id = 17;
    m.result.attempt = 1;
    m.result.has_metrics = true;
    for (size_t i = 0; i < BT_WIRE_NMETRICS; i++)
        bt_metrics_set(&m.result.metrics, i, (double)i * 0.5);
    m.result.run_us = 1234;
    m.result.bars = 5000;
    rc |= s_write_msg(dir, "ok-result.bin", &m, 0);
    m.result.blk = blk;
    m.result.nblk = 3;
    rc |= s_write_msg(dir, "ok-result-blk.bin", &m, 0);
    /* a walk-forward test run's equity segment */
    static const int64_t seg_t[] = {1262563200000000000LL, 1262649600000000000LL};
    static const double seg_e[] = {100000.0, 100250.5}, fills[] = {9990.0}, fees[] = {9.99};
    static const uint8_t seg_x[] = {0, 1};
    m.result.blk = NULL;
    m.result.nblk = 0;
    m.result.has_seg = true;
    m.result.seg_time = seg_t;
    m.result.seg_equity = seg_e;
    m.result.seg_exposed = seg_x;
    m.result.nseg = 2;
    m.result.fill_value = fills;
    m.result.fill_commission = fees;
    m.result.nfills = 1;
    rc |= s_write_msg(dir, "ok-result-segment.bin", &m, 0);
    static const int64_t seg_back[] = {1262649600000000000LL, 1262563200000000000LL};
    m.result.seg_time = seg_back;
    rc |= s_write_msg(dir, "bad-result-segment-time-backwards.bin", &m, 0);
    m.result.has_seg = false;
    m.result.blk = blk;
    m.result.nblk = 3;
    m.result.metrics.sharpe = NAN;
    rc |= s_write_msg(dir, "bad-result-nan-metric.bin", &m, 0);
    bt_msg_reset(&m, BT_MSG_RESULT);
    m.result.job_id = 18;
    m.result.status = BT_JOB_FAILED;
    snprintf(m.result.error, sizeof m.result.error, "strategy 'sma_cross': fast >= slow");
    rc |= s_write_msg(dir, "ok-result-failed.bin", &m, 0);

    bt_msg_reset(&m, BT_MSG_CREDIT);
    m.credit.credit = 64;
    rc |= s_write_msg(dir, "ok-credit.bin", &m, 0);
    bt_msg_reset(&m, BT_MSG_HEARTBEAT);
    m.heartbeat.seq = 99;
    rc |= s_write_msg(dir, "ok-heartbeat.bin", &m, 0);
    bt_msg_reset(&m, BT_MSG_BYE);
    snprintf(m.bye.reason, sizeof m.bye.reason, "shutting down");
    rc |= s_write_msg(dir, "ok-bye.bin", &m, 0);
    static const uint64_t ids[] = {0, 17, UINT64_MAX};
    bt_msg_reset(&m, BT_MSG_ACK);
    m.ack.ids = ids;
    m.ack.nids = 3;
    rc |= s_write_msg(dir, "ok-ack.bin", &m, 0);

    /* shipping files by hash: FETCH, CHUNK, SWEEP manifests */
    bt_msg_reset(&m, BT_MSG_FETCH);
    m.fetch.kind = BT_WIRE_FILE_DATA;
    snprintf(m.fetch.sha256, sizeof m.fetch.sha256, "%s", HEX_A);
    m.fetch.offset = 2u << 20;
    m.fetch.len = 1u << 20;
    rc |= s_write_msg(dir, "ok-fetch.bin", &m, 0);
    m.fetch.len = 0;
    rc |= s_write_msg(dir, "bad-fetch-len-zero.bin", &m, 0);
    static const char bytes[] = "HDF\r\n\x1a\n\0chunk";
    bt_msg_reset(&m, BT_MSG_CHUNK);
    snprintf(m.chunk.sha256, sizeof m.chunk.sha256, "%s", HEX_A);
    m.chunk.offset = 2u << 20;
    m.chunk.bytes = bytes;
    m.chunk.len = sizeof bytes;
    rc |= s_write_msg(dir, "ok-chunk.bin", &m, 0);
    static uint8_t csha[2 * 32];
    for (size_t i = 0; i < sizeof csha; i++)
        csha[i] = (uint8_t)(i * 13u);
    bt_msg_reset(&m, BT_MSG_SWEEP);
    m.sweep.yaml = yaml;
    m.sweep.yaml_len = sizeof yaml - 1;
    snprintf(m.sweep.config_sha256, sizeof m.sweep.config_sha256, "%s", HEX_A);
    snprintf(m.sweep.store_path, sizeof m.sweep.store_path, "/data/bars.h5");
    snprintf(m.sweep.data_hash, sizeof m.sweep.data_hash, "%s", HEX_A);
    m.sweep.data_file.has = true;
    snprintf(m.sweep.data_file.sha256, sizeof m.sweep.data_file.sha256, "%s", HEX_A);
    m.sweep.data_file.size = (1u << 20) + 5;
    m.sweep.data_file.chunk = 1u << 20;
    m.sweep.data_file.chunk_sha = csha;
    m.sweep.data_file.chunk_sha_len = 64;
    rc |= s_write_msg(dir, "ok-sweep-manifest.bin", &m, 0);
    m.sweep.data_file.chunk_sha_len = 32; /* one hash for two chunks */
    rc |= s_write_msg(dir, "bad-sweep-manifest-short.bin", &m, 0);
    bt_msg_fini(&m);

    msgpack_sbuffer sb;
    msgpack_packer pk;
#define S_BEGIN()                                                                                  \
    do {                                                                                           \
        msgpack_sbuffer_init(&sb);                                                                 \
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);                                      \
    } while (0)

    S_BEGIN(); /* an unknown key with a nested value is ignored */
    s_head(&pk, 4, "hb", 1);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint8(&pk, 5);
    msgpack_pack_str_with_body(&pk, "future", 6);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_ext(&pk, 2, 7);
    msgpack_pack_ext_body(&pk, "ab", 2);
    rc |= s_write_sb(dir, "ok-heartbeat-unknown-key.bin", &sb);

    S_BEGIN();
    s_head(&pk, 3, "hb", 2);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint8(&pk, 5);
    rc |= s_write_sb(dir, "bad-version-2.bin", &sb);

    S_BEGIN();
    s_head(&pk, 2, "launch", 1);
    rc |= s_write_sb(dir, "bad-unknown-type.bin", &sb);

    S_BEGIN();
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "t", 1);
    msgpack_pack_str_with_body(&pk, "hb", 2);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint8(&pk, 5);
    rc |= s_write_sb(dir, "bad-missing-version.bin", &sb);

    S_BEGIN(); /* ids: array32 claiming 16M elements, none present */
    s_head(&pk, 3, "ack", 1);
    msgpack_pack_str_with_body(&pk, "ids", 3);
    msgpack_sbuffer_write(&sb, "\xdd\x01\x00\x00\x00", 5);
    rc |= s_write_sb(dir, "bad-forged-array.bin", &sb);

    S_BEGIN();
    s_head(&pk, 5, "hello", 1);
    msgpack_pack_str_with_body(&pk, "name", 4);
    msgpack_pack_str_with_body(&pk, "n:1", 3);
    msgpack_pack_str_with_body(&pk, "thr", 3);
    msgpack_pack_str_with_body(&pk, "4", 1); /* a string where a number belongs */
    msgpack_pack_str_with_body(&pk, "ver", 3);
    msgpack_pack_str_with_body(&pk, "0.1.0", 5);
    rc |= s_write_sb(dir, "bad-wrong-type.bin", &sb);

    S_BEGIN();
    s_head(&pk, 4, "credit", 1);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_uint8(&pk, 2);
    rc |= s_write_sb(dir, "bad-duplicate-key.bin", &sb);

    S_BEGIN();
    s_head(&pk, 3, "bye", 1);
    msgpack_pack_str_with_body(&pk, "why", 3);
    char longtext[BT_WIRE_REASON_MAX + 1];
    memset(longtext, 'w', sizeof longtext);
    msgpack_pack_str_with_body(&pk, longtext, sizeof longtext);
    rc |= s_write_sb(dir, "bad-reason-too-long.bin", &sb);

    S_BEGIN();
    s_head(&pk, 3, "hb", 1);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint8(&pk, 5);
    msgpack_pack_nil(&pk); /* a second object after the map */
    rc |= s_write_sb(dir, "bad-trailing-byte.bin", &sb);

    S_BEGIN();
    s_head(&pk, 4, "hb", 1);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint8(&pk, 5);
    msgpack_pack_str_with_body(&pk, "deep", 4);
    for (int i = 0; i < 40; i++)
        msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    rc |= s_write_sb(dir, "bad-deep-nesting.bin", &sb);

    rc |= s_write(dir, "bad-empty.bin", "", 0);
    rc |= s_write(dir, "bad-garbage.bin", "\xc1\xff\x00\x12\x34", 5);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------- replay -- */

static int s_ok, s_rejected, s_other, s_wrong;

static void s_replay_file(const char *path, const char *base)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_wire: cannot open %s: %s\n", path, strerror(errno));
        s_wrong++;
        return;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap && cap < ((size_t)BT_WIRE_MSG_MAX + 1)) {
            uint8_t *q = realloc(buf, cap * 2);
            if (!q)
                break;
            buf = q;
            cap *= 2;
        } else if (len == cap) {
            break;
        }
    }
    fclose(f);
    if (!buf) {
        s_wrong++;
        return;
    }
    /* An exact-size copy so that sanitizers see any over-read. */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    bt_msg_t m;
    bt_msg_init(&m);
    bt_errbuf_t eb;
    bt_err_t e = bt_wire_decode(exact, len, &m, &eb);
    if (strncmp(base, "ok-", 3) == 0) {
        if (e != BT_OK) {
            fprintf(stderr, "fuzz_wire: %s should decode: %s\n", path, eb.msg);
            s_wrong++;
        }
        s_ok++;
    } else if (strncmp(base, "bad-", 4) == 0) {
        if (e == BT_OK) {
            fprintf(stderr, "fuzz_wire: %s should be rejected\n", path);
            s_wrong++;
        }
        s_rejected++;
    } else {
        s_other++;
    }
    bt_msg_fini(&m);
    free(exact);
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void s_replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_wire: %s: %s\n", path, strerror(errno));
        s_wrong++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(path, '/');
        s_replay_file(path, slash ? slash + 1 : path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        s_wrong++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **q = realloc(names, cap * sizeof *names);
            if (!q)
                break;
            names = q;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, s_cmp);
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        s_replay_file(full, names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return s_write_corpus(argv[2]) == 0 ? 0 : 1;
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: fuzz_wire_replay DIR_OR_FILE...\n"
                        "       fuzz_wire_replay --write-corpus DIR\n"
                        "example: fuzz_wire_replay tests/fuzz/corpus/wire\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        s_replay(argv[i]);
    printf("fuzz_wire: replayed %d files: %d ok-*, %d bad-*, %d other; %d wrong\n",
           s_ok + s_rejected + s_other, s_ok, s_rejected, s_other, s_wrong);
    if (s_ok + s_rejected + s_other == 0) {
        fprintf(stderr, "fuzz_wire: no corpus files found\n");
        return 1;
    }
    return s_wrong ? 1 : 0;
}
#endif
