/* bench_ship — moving a data file to a worker by content hash (run by
 * scripts/bench, never by ctest).
 *
 * Makes an N MiB file (default 1024), then measures: hashing it whole and per
 * chunk (bt_ship_add, the coordinator's once-per-file cost), and the transfer
 * into an empty bt_cache over ZeroMQ tcp://127.0.0.1 with a window of W
 * chunks in flight: the worker asks, the coordinator answers from bt_ship,
 * each chunk is checked against its hash and written, and the whole file is
 * hashed again at commit. Framing here is a bare [offset|len] request and
 * [offset|bytes] reply (the FETCH/CHUNK messages are not in the wire table
 * yet), so the figure is the ceiling the protocol can reach. A second lookup
 * (warm cache: verify only, no transfer) is timed too. Target: >= 300 MB/s.
 *
 * usage: bench_ship [MIB] [REPS] [WINDOW] */
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "bt_time.h"
#include "bt_cache.h"
#include "bt_sha256.h"
#include "bt_ship.h"




typedef struct {
    bt_ship_t *ship;
    const char *sha;
    zsock_t *router;
} s_server_t;

/* Answers requests until an empty one. */
static void *s_serve(void *arg)
{
    s_server_t *sv = arg;
    char *buf = malloc(BT_SHIP_CHUNK + 8);
    for (;;) {
        zmsg_t *m = zmsg_recv(sv->router);
        if (!m)
            break;
        zframe_t *id = zmsg_pop(m);
        zframe_t *req = zmsg_pop(m);
        zmsg_destroy(&m);
        if (!req || zframe_size(req) != 12) {
            zframe_destroy(&id);
            zframe_destroy(&req);
            break;
        }
        uint64_t off;
        uint32_t len;
        memcpy(&off, zframe_data(req), 8);
        memcpy(&len, zframe_data(req) + 8, 4);
        zframe_destroy(&req);
        size_t got = 0;
        bt_errbuf_t eb;
        memcpy(buf, &off, 8);
        if (bt_ship_read(sv->ship, sv->sha, off, len, buf + 8, &got, &eb) != BT_OK)
            fprintf(stderr, "serve: %s\n", eb.msg);
        zframe_send(&id, sv->router, ZFRAME_MORE);
        zframe_t *rep = zframe_new(buf, got + 8);
        zframe_send(&rep, sv->router, 0);
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 1024;
    int reps = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    int window = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 4;
    if (mib < 1 || reps < 1 || reps > 50 || window < 1 || window > 64) {
        fprintf(stderr, "usage: bench_ship [MIB>=1] [REPS 1..50] [WINDOW 1..64]\n");
        return 2;
    }
    zsys_init();
    zsys_set_sndhwm(0);
    zsys_set_rcvhwm(0);
    char dir[] = "/tmp/bench_ship_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char file[128], cdir[128];
    snprintf(file, sizeof file, "%s/data.bin", dir);
    snprintf(cdir, sizeof cdir, "%s/cache", dir);
    FILE *fp = fopen(file, "wb");
    uint64_t *blk = malloc(1 << 20);
    uint64_t x = 88172645463325252ull;
    for (long i = 0; i < mib; i++) {
        for (size_t k = 0; k < (1u << 20) / 8; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            blk[k] = x;
        }
        fwrite(blk, 1, 1 << 20, fp);
    }
    fclose(fp);
    free(blk);
    double bytes = (double)mib * 1048576.0;
    printf("file %ld MiB, chunk %u KiB, window %d, sha256 %s\n", mib, BT_SHIP_CHUNK >> 10, window,
           bt_sha256_hw() ? "SHA-NI" : "portable C");

    double *t_add = calloc((size_t)reps, sizeof *t_add);
    double *t_xfer = calloc((size_t)reps, sizeof *t_xfer);
    double *t_warm = calloc((size_t)reps, sizeof *t_warm);
    bt_errbuf_t eb;
    for (int r = 0; r < reps; r++) {
        double t0 = bt_monotonic_s();
        bt_ship_t *ship = bt_ship_new();
        const bt_ship_manifest_t *m = bt_ship_add(ship, BT_SHIP_DATA, file, &eb);
        t_add[r] = bt_monotonic_s() - t0;
        if (!m) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        char rm[256];
        snprintf(rm, sizeof rm, "rm -rf '%s'", cdir);
        if (system(rm) != 0)
            return 1;
        s_server_t sv = {.ship = ship, .sha = m->sha256, .router = zsock_new(ZMQ_ROUTER)};
        int port = zsock_bind(sv.router, "tcp://127.0.0.1:*");
        zsock_t *dealer = zsock_new(ZMQ_DEALER);
        zsock_connect(dealer, "tcp://127.0.0.1:%d", port);
        pthread_t th;
        pthread_create(&th, NULL, s_serve, &sv);

        t0 = bt_monotonic_s();
        bt_cache_t *c = bt_cache_new(cdir, 0, &eb);
        bt_cache_recv_t *rcv =
            bt_cache_recv_new(c, m->sha256, m->size, m->chunk, m->chunk_sha, m->nchunks, &eb);
        if (!rcv) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        while (!bt_cache_recv_complete(rcv)) {
            uint64_t off;
            uint32_t len;
            while ((int)bt_cache_recv_inflight(rcv) < window &&
                   bt_cache_recv_next(rcv, &off, &len)) {
                char req[12];
                memcpy(req, &off, 8);
                memcpy(req + 8, &len, 4);
                zframe_t *f = zframe_new(req, 12);
                zframe_send(&f, dealer, 0);
            }
            zframe_t *rep = zframe_recv(dealer);
            if (!rep || zframe_size(rep) < 8)
                return 1;
            memcpy(&off, zframe_data(rep), 8);
            if (bt_cache_recv_chunk(rcv, off, zframe_data(rep) + 8, zframe_size(rep) - 8, &eb) !=
                BT_OK)
                fprintf(stderr, "chunk: %s\n", eb.msg);
            zframe_destroy(&rep);
        }
        char path[4200];
        if (bt_cache_recv_commit(rcv, path, sizeof path, &eb) != BT_OK) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        t_xfer[r] = bt_monotonic_s() - t0;
        bt_cache_recv_destroy(&rcv);
        t0 = bt_monotonic_s();
        if (bt_cache_lookup(c, m->sha256, path, sizeof path, &eb) != BT_OK)
            return 1;
        t_warm[r] = bt_monotonic_s() - t0;
        zframe_t *stop = zframe_new("", 0);
        zframe_send(&stop, dealer, 0);
        pthread_join(th, NULL);
        zsock_destroy(&dealer);
        zsock_destroy(&sv.router);
        bt_cache_destroy(&c);
        bt_ship_destroy(&ship);
    }
    double a = bench_median(t_add, reps), xf = bench_median(t_xfer, reps), w = bench_median(t_warm, reps);
    printf("coordinator hash (whole + chunks): %.3f s  %.0f MB/s\n", a, bytes / a / 1e6);
    printf("transfer to an empty cache (cold):  %.3f s  %.0f MB/s (target >= 300)\n", xf,
           bytes / xf / 1e6);
    printf("warm cache (verify, no transfer):   %.3f s  %.0f MB/s, 0 bytes moved\n", w,
           bytes / w / 1e6);
    printf("medians of %d runs\n", reps);
    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    return system(rm) == 0 ? 0 : 1;
}
