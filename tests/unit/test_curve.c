/* Unit tests for common/net/bt_curve with real ZeroMQ sockets on
 * tcp://127.0.0.1 (OS-chosen ports): an allow-listed worker talks to the
 * coordinator; a worker whose key is not allow-listed, and a worker that
 * pins another coordinator key, get nothing through (the handshake failure
 * is awaited on a socket monitor, never a fixed sleep); a TCP relay in the
 * middle sees a CURVE greeting and no plaintext (with a NULL-security
 * control run that does see it); key files, the allow-list folder checks
 * and the loopback rule. Criterion runs each test in its own process, so
 * each has its own zauth (one per process). */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_curve.h"

#define S_WAIT_MS 10000 /* guard against a hang, not a speed check */

static char s_dir[64];
static char s_keys[128];  /* bt keygen output: coordinator, worker, intruder */
static char s_allow[128]; /* allow-list: worker.key only */

static void s_copy(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    cr_assert_not_null(in, "%s", from);
    FILE *out = fopen(to, "wb");
    cr_assert_not_null(out, "%s", to);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static void s_path(char *buf, size_t cap, const char *dir, const char *file)
{
    int w = snprintf(buf, cap, "%s/%s", dir, file);
    cr_assert(w > 0 && (size_t)w < cap);
}

static void s_setup(void)
{
    cr_assert(bt_curve_available(), "libzmq without CURVE");
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_curve_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    s_path(s_keys, sizeof s_keys, s_dir, "keys");
    s_path(s_allow, sizeof s_allow, s_keys, BT_CURVE_ALLOW_DIR);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    const char *names[] = {BT_CURVE_COORDINATOR, BT_CURVE_WORKER, "intruder"};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(bt_curve_keygen(s_keys, names[i], &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(mkdir(s_allow, 0755), 0);
    char from[256], to[256];
    s_path(from, sizeof from, s_keys, "worker.key");
    s_path(to, sizeof to, s_allow, "worker.key");
    s_copy(from, to);
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(curve, .init = s_setup, .fini = s_teardown, .timeout = 60);

static zcert_t *s_pair(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.key", s_keys, name);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    zcert_t *c = bt_curve_load_pair(path, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    return c;
}

static zcert_t *s_public(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.key", s_keys, name);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    zcert_t *c = bt_curve_load_public(path, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    return c;
}

/* A socket monitor for the given events; the PAIR end is returned. */
static zsock_t *s_monitor(zsock_t *sock, const char *tag, int events)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://monitor-%s", tag);
    cr_assert_eq(zmq_socket_monitor(zsock_resolve(sock), ep, events), 0);
    zsock_t *pair = zsock_new_pair(NULL);
    cr_assert_not_null(pair);
    cr_assert_eq(zsock_connect(pair, "%s", ep), 0);
    return pair;
}

/* Waits for the next monitor event; returns it, or 0 on the hang guard. */
static int s_next_event(zsock_t *mon, uint32_t *value)
{
    zpoller_t *p = zpoller_new(mon, NULL);
    void *ready = zpoller_wait(p, S_WAIT_MS);
    zpoller_destroy(&p);
    if (ready == NULL)
        return 0;
    zmsg_t *msg = zmsg_recv(mon);
    cr_assert_not_null(msg);
    zframe_t *f = zmsg_first(msg);
    cr_assert_eq(zframe_size(f), 6);
    uint16_t ev;
    memcpy(&ev, zframe_data(f), 2);
    memcpy(value, zframe_data(f) + 2, 4);
    zmsg_destroy(&msg);
    return ev;
}

/* True if sock has a message within ms (used only after a failure event,
 * to show nothing slipped through). */
static bool s_has_message(zsock_t *sock, int ms)
{
    zpoller_t *p = zpoller_new(sock, NULL);
    void *ready = zpoller_wait(p, ms);
    zpoller_destroy(&p);
    return ready != NULL;
}

static zsock_t *s_bind_router(zcert_t *pair, const bt_curve_auth_t *auth, char *ep, size_t cap)
{
    zsock_t *r = zsock_new(ZMQ_ROUTER);
    cr_assert_not_null(r);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (pair)
        cr_assert_eq(bt_curve_server_apply(r, pair, auth, &eb), BT_OK, "%s", eb.msg);
    cr_assert_neq(zsock_bind(r, "tcp://127.0.0.1:*"), -1);
    snprintf(ep, cap, "%s", zsock_endpoint(r));
    return r;
}

static zsock_t *s_dealer(zcert_t *own, zcert_t *pin, const char *ep)
{
    zsock_t *d = zsock_new(ZMQ_DEALER);
    cr_assert_not_null(d);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (own)
        cr_assert_eq(bt_curve_client_apply(d, own, pin, &eb), BT_OK, "%s", eb.msg);
    zsock_set_linger(d, 0);
    cr_assert_eq(zsock_connect(d, "%s", ep), 0);
    return d;
}

/* Dealer says hello, router answers; checks both arrive. Returns the
 * User-Id the router saw on the hello (caller frees). */
static char *s_exchange(zsock_t *router, zsock_t *dealer, const char *hello, const char *answer)
{
    cr_assert_eq(zstr_send(dealer, hello), 0);
    cr_assert(s_has_message(router, S_WAIT_MS), "router got nothing");
    zmsg_t *in = zmsg_recv(router);
    cr_assert_not_null(in);
    cr_assert_eq(zmsg_size(in), 2);
    zframe_t *id = zmsg_pop(in);
    zframe_t *body = zmsg_pop(in);
    cr_assert(zframe_streq(body, hello));
    const char *uid = zframe_meta(body, "User-Id");
    char *user = strdup(uid ? uid : "");
    zframe_destroy(&body);
    zmsg_destroy(&in);
    zmsg_t *out = zmsg_new();
    zmsg_append(out, &id);
    zmsg_addstr(out, answer);
    cr_assert_eq(zmsg_send(&out, router), 0);
    cr_assert(s_has_message(dealer, S_WAIT_MS), "dealer got nothing");
    char *got = zstr_recv(dealer);
    cr_assert_str_eq(got, answer);
    zstr_free(&got);
    return user;
}

Test(curve, allowed_worker_exchanges_messages)
{
    /* the --keys layout: coordinator pair + allow/, worker pair + coordinator.key */
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    bt_curve_auth_t *auth = NULL;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_curve_server_setup(router, s_keys, &auth, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_curve_auth_nkeys(auth), 1);
    cr_assert_neq(zsock_bind(router, "tcp://127.0.0.1:*"), -1);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    cr_assert_eq(bt_curve_client_setup(dealer, s_keys, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(zsock_connect(dealer, "%s", zsock_endpoint(router)), 0);

    char *user = s_exchange(router, dealer, "hello", "welcome");
    /* zauth names the peer by its public key: the coordinator can tell workers apart */
    zcert_t *w = s_public("worker");
    cr_assert_str_eq(user, zcert_public_txt(w));
    free(user);
    user = s_exchange(router, dealer, "second", "again");
    free(user);
    zcert_destroy(&w);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
    bt_curve_auth_destroy(&auth);
    bt_curve_auth_destroy(&auth); /* safe twice */
    cr_assert_null(auth);
}

Test(curve, worker_not_in_allow_list_gets_nothing_through)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_curve_auth_t *auth = bt_curve_auth_new(s_allow, &eb);
    cr_assert_not_null(auth, "%s", eb.msg);
    zcert_t *coord = s_pair("coordinator"), *pin = s_public("coordinator");
    zcert_t *intruder = s_pair("intruder"), *worker = s_pair("worker");
    char ep[128];
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_t *mon = s_monitor(router, "router", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_assert_eq(bt_curve_server_apply(router, coord, auth, &eb), BT_OK, "%s", eb.msg);
    cr_assert_neq(zsock_bind(router, "tcp://127.0.0.1:*"), -1);
    snprintf(ep, sizeof ep, "%s", zsock_endpoint(router));

    zsock_t *bad = s_dealer(intruder, pin, ep);
    cr_assert_eq(zstr_send(bad, "let me in"), 0);
    uint32_t status = 0;
    cr_assert_eq(s_next_event(mon, &status), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_assert_eq(status, 400, "ZAP status %u", status); /* zauth's "no access" */
    cr_assert_not(s_has_message(router, 300), "a refused worker's message arrived");
    cr_assert_not(s_has_message(bad, 100));

    /* control: the same coordinator admits the allow-listed worker */
    zsock_t *good = s_dealer(worker, pin, ep);
    char *user = s_exchange(router, good, "hello", "welcome");
    free(user);

    zsock_destroy(&good);
    zsock_destroy(&bad);
    zsock_destroy(&mon);
    zsock_destroy(&router);
    zcert_destroy(&coord);
    zcert_destroy(&pin);
    zcert_destroy(&intruder);
    zcert_destroy(&worker);
    bt_curve_auth_destroy(&auth);
}

Test(curve, worker_pinning_another_coordinator_key_gets_nothing)
{
    /* An impostor coordinator (intruder's key pair) with the worker allowed:
     * the worker pinned the real coordinator key, so the impostor cannot
     * read its hello and the handshake fails on cryptography, not on ZAP. */
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_curve_auth_t *auth = bt_curve_auth_new(s_allow, &eb);
    cr_assert_not_null(auth, "%s", eb.msg);
    zcert_t *impostor = s_pair("intruder"), *pin = s_public("coordinator");
    zcert_t *worker = s_pair("worker");
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_t *mon = s_monitor(router, "impostor",
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    cr_assert_eq(bt_curve_server_apply(router, impostor, auth, &eb), BT_OK, "%s", eb.msg);
    cr_assert_neq(zsock_bind(router, "tcp://127.0.0.1:*"), -1);
    zsock_t *dealer = s_dealer(worker, pin, zsock_endpoint(router));
    cr_assert_eq(zstr_send(dealer, "hello"), 0);
    uint32_t why = 0;
    cr_assert_eq(s_next_event(mon, &why), ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    cr_assert_eq(why, ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, "protocol error 0x%x", why);
    cr_assert_not(s_has_message(router, 300), "the impostor read a message");
    cr_assert_not(s_has_message(dealer, 100), "the worker heard from the impostor");

    zsock_destroy(&dealer);
    zsock_destroy(&mon);
    zsock_destroy(&router);
    zcert_destroy(&impostor);
    zcert_destroy(&pin);
    zcert_destroy(&worker);
    bt_curve_auth_destroy(&auth);
}

/* A one-connection TCP relay that records every byte it forwards. */
typedef struct {
    int lfd;               /* listening socket on 127.0.0.1 */
    int up_port;           /* the router's port */
    int stop[2];           /* pipe: main thread asks the relay to end */
    char *log;             /* all bytes, both directions */
    size_t len, cap;       /* of log */
    unsigned char s2c[64]; /* first bytes from the server */
    size_t s2c_len;
    pthread_t th;
} s_relay_t;

static void s_log(s_relay_t *r, const char *buf, size_t n, bool from_server)
{
    if (from_server) {
        size_t k = sizeof r->s2c - r->s2c_len;
        k = k < n ? k : n;
        memcpy(r->s2c + r->s2c_len, buf, k);
        r->s2c_len += k;
    }
    if (r->len + n > r->cap)
        return; /* 1 MiB is far more than the test sends */
    memcpy(r->log + r->len, buf, n);
    r->len += n;
}

static void *s_relay_main(void *arg)
{
    s_relay_t *r = arg;
    struct pollfd a[2] = {{r->lfd, POLLIN, 0}, {r->stop[0], POLLIN, 0}};
    if (poll(a, 2, S_WAIT_MS) <= 0 || !(a[0].revents & POLLIN))
        return NULL;
    int c = accept(r->lfd, NULL, NULL);
    int u = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->up_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c < 0 || u < 0 || connect(u, (struct sockaddr *)&sa, sizeof sa) != 0)
        return NULL;
    for (;;) {
        struct pollfd p[3] = {{c, POLLIN, 0}, {u, POLLIN, 0}, {r->stop[0], POLLIN, 0}};
        if (poll(p, 3, S_WAIT_MS) <= 0 || p[2].revents)
            break;
        char buf[4096];
        if (p[0].revents) {
            ssize_t n = read(c, buf, sizeof buf);
            if (n <= 0 || write(u, buf, (size_t)n) != n)
                break;
            s_log(r, buf, (size_t)n, false);
        }
        if (p[1].revents) {
            ssize_t n = read(u, buf, sizeof buf);
            if (n <= 0 || write(c, buf, (size_t)n) != n)
                break;
            s_log(r, buf, (size_t)n, true);
        }
    }
    close(c);
    close(u);
    return NULL;
}

static int s_relay_start(s_relay_t *r, const char *router_ep)
{
    memset(r, 0, sizeof *r);
    const char *colon = strrchr(router_ep, ':');
    cr_assert_not_null(colon);
    r->up_port = (int)strtol(colon + 1, NULL, 10);
    r->cap = 1 << 20;
    r->log = malloc(r->cap);
    cr_assert_not_null(r->log);
    cr_assert_eq(pipe(r->stop), 0);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(r->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(r->lfd, 1), 0);
    socklen_t len = sizeof sa;
    cr_assert_eq(getsockname(r->lfd, (struct sockaddr *)&sa, &len), 0);
    cr_assert_eq(pthread_create(&r->th, NULL, s_relay_main, r), 0);
    return ntohs(sa.sin_port);
}

static void s_relay_stop(s_relay_t *r)
{
    cr_assert_eq(write(r->stop[1], "x", 1), 1);
    pthread_join(r->th, NULL);
    close(r->lfd);
    close(r->stop[0]);
    close(r->stop[1]);
}

#define S_MARKER "bt-plaintext-marker-7d1f0c"

/* Sends the marker both ways through a relay; secure picks CURVE or NULL. */
static void s_through_relay(bool secure, s_relay_t *relay)
{
    bt_curve_auth_t *auth = NULL;
    zcert_t *coord = NULL, *pin = NULL, *worker = NULL;
    if (secure) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        auth = bt_curve_auth_new(s_allow, &eb);
        cr_assert_not_null(auth, "%s", eb.msg);
        coord = s_pair("coordinator");
        pin = s_public("coordinator");
        worker = s_pair("worker");
    }
    char ep[128], via[64];
    zsock_t *router = s_bind_router(coord, auth, ep, sizeof ep);
    int port = s_relay_start(relay, ep);
    snprintf(via, sizeof via, "tcp://127.0.0.1:%d", port);
    zsock_t *dealer = s_dealer(worker, pin, via);
    char *user =
        s_exchange(router, dealer, S_MARKER " to the coordinator", S_MARKER " to the worker");
    free(user);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
    s_relay_stop(relay);
    zcert_destroy(&coord);
    zcert_destroy(&pin);
    zcert_destroy(&worker);
    bt_curve_auth_destroy(&auth);
}

Test(curve, traffic_is_encrypted)
{
    s_relay_t relay;
    s_through_relay(true, &relay);
    /* ZMTP 3 greeting: bytes 12..31 name the mechanism, NUL-padded */
    cr_assert_geq(relay.s2c_len, 32);
    cr_assert_eq(relay.s2c[0], 0xFF);
    cr_assert_eq(relay.s2c[9], 0x7F);
    cr_assert_eq(memcmp(relay.s2c + 12, "CURVE\0", 6), 0, "mechanism %.20s", relay.s2c + 12);
    cr_assert_gt(relay.len, 200);
    cr_assert_null(memmem(relay.log, relay.len, S_MARKER, strlen(S_MARKER)),
                   "plaintext on the wire");
    free(relay.log);
}

Test(curve, control_null_security_is_plaintext)
{
    /* shows the relay would catch plaintext: without keys the marker shows */
    s_relay_t relay;
    s_through_relay(false, &relay);
    cr_assert_geq(relay.s2c_len, 32);
    cr_assert_eq(memcmp(relay.s2c + 12, "NULL\0", 5), 0);
    cr_assert_not_null(memmem(relay.log, relay.len, S_MARKER, strlen(S_MARKER)));
    free(relay.log);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

Test(curve, keygen_modes_and_no_overwrite)
{
    char pub[256], sec[256];
    s_path(pub, sizeof pub, s_keys, "worker.key");
    s_path(sec, sizeof sec, s_keys, "worker.key_secret");
    struct stat st;
    cr_assert_eq(stat(sec, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "secret mode %o", st.st_mode & 0777);
    cr_assert_eq(stat(pub, &st), 0);
    cr_assert(st.st_mode & 0400 && !(st.st_mode & 022), "public mode %o", st.st_mode & 0777);
    char *before_pub = s_slurp(pub), *before_sec = s_slurp(sec);
    cr_assert(strstr(before_pub, "public-key") && !strstr(before_pub, "secret-key"));
    cr_assert(strstr(before_sec, "secret-key"));

    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_curve_keygen(s_keys, "worker", &eb), BT_EEXIST);
    cr_assert(strstr(eb.msg, pub) && strstr(eb.msg, "never overwrites"), "%s", eb.msg);
    /* only the secret half left behind: still refused, nothing written */
    cr_assert_eq(unlink(pub), 0);
    cr_assert_eq(bt_curve_keygen(s_keys, "worker", &eb), BT_EEXIST);
    cr_assert(strstr(eb.msg, sec), "%s", eb.msg);
    cr_assert_eq(stat(pub, &st), -1);
    char *after_sec = s_slurp(sec);
    cr_assert_str_eq(after_sec, before_sec);
    free(before_pub);
    free(before_sec);
    free(after_sec);

    /* two pairs differ; keygen creates missing folders */
    char deep[256];
    s_path(deep, sizeof deep, s_dir, "a/b/c");
    cr_assert_eq(bt_curve_keygen(deep, "w2", &eb), BT_OK, "%s", eb.msg);
    char p2[300];
    s_path(p2, sizeof p2, deep, "w2.key");
    zcert_t *a = bt_curve_load_pair(p2, &eb), *b = s_pair("intruder");
    cr_assert_not_null(a, "%s", eb.msg);
    cr_assert_str_neq(zcert_public_txt(a), zcert_public_txt(b));
    zcert_destroy(&a);
    zcert_destroy(&b);

    const char *bad[] = {"", ".hidden", "-x", "a/b", "../up", "sp ace", "ümlaut"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_not(bt_curve_name_ok(bad[i]), "'%s'", bad[i]);
        cr_assert_eq(bt_curve_keygen(s_keys, bad[i], &eb), BT_EINVAL, "'%s'", bad[i]);
    }
    cr_assert(bt_curve_name_ok("node-01.example_b"));
}

Test(curve, load_errors_name_the_file_and_the_fix)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    char path[256], sec[256];

    s_path(path, sizeof path, s_keys, "nobody.key");
    cr_assert_null(bt_curve_load_pair(path, &eb));
    cr_assert(strstr(eb.msg, path) && strstr(eb.msg, "bt keygen"), "%s", eb.msg);

    /* secret readable by the group */
    s_path(path, sizeof path, s_keys, "worker.key");
    s_path(sec, sizeof sec, s_keys, "worker.key_secret");
    cr_assert_eq(chmod(sec, 0640), 0);
    cr_assert_null(bt_curve_load_pair(path, &eb));
    cr_assert(strstr(eb.msg, sec) && strstr(eb.msg, "chmod 600"), "%s", eb.msg);
    cr_assert_eq(chmod(sec, 0600), 0);
    zcert_t *ok = bt_curve_load_pair(path, &eb);
    cr_assert_not_null(ok, "%s", eb.msg);
    zcert_destroy(&ok);

    /* public half swapped for another key's */
    char mixed[256], mixed_sec[256], from[256];
    s_path(mixed, sizeof mixed, s_dir, "mixed.key");
    s_path(mixed_sec, sizeof mixed_sec, s_dir, "mixed.key_secret");
    s_path(from, sizeof from, s_keys, "intruder.key");
    s_copy(from, mixed);
    s_copy(sec, mixed_sec);
    cr_assert_eq(chmod(mixed_sec, 0600), 0);
    cr_assert_null(bt_curve_load_pair(mixed, &eb));
    cr_assert(strstr(eb.msg, "not one key pair"), "%s", eb.msg);

    /* a secret file given as a public key */
    char leaked[256];
    s_path(leaked, sizeof leaked, s_dir, "leaked.key");
    s_copy(sec, leaked);
    cr_assert_null(bt_curve_load_public(leaked, &eb));
    cr_assert(strstr(eb.msg, leaked) && strstr(eb.msg, "secret"), "%s", eb.msg);

    /* not a key file at all */
    char junk[256];
    s_path(junk, sizeof junk, s_dir, "junk.key");
    FILE *f = fopen(junk, "w");
    fputs("curve\n    public-key = \"short\"\n", f);
    fclose(f);
    cr_assert_null(bt_curve_load_public(junk, &eb));
    cr_assert(strstr(eb.msg, junk) && strstr(eb.msg, "Z85"), "%s", eb.msg);

    /* load_pair wants the public name */
    cr_assert_null(bt_curve_load_pair(sec, &eb));
    cr_assert(strstr(eb.msg, "NAME.key"), "%s", eb.msg);

    /* a public-only key cannot serve or connect */
    zcert_t *pub = s_public("coordinator");
    zsock_t *s = zsock_new(ZMQ_DEALER);
    cr_assert_eq(bt_curve_client_apply(s, pub, pub, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "secret"), "%s", eb.msg);
    zsock_destroy(&s);
    zcert_destroy(&pub);
}

Test(curve, allow_list_folder_checks)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    char path[256];

    cr_assert_null(bt_curve_auth_new(CURVE_ALLOW_ANY, &eb));
    cr_assert(strstr(eb.msg, "any key"), "%s", eb.msg);

    s_path(path, sizeof path, s_dir, "no-such-folder");
    cr_assert_null(bt_curve_auth_new(path, &eb));
    cr_assert(strstr(eb.msg, path), "%s", eb.msg);

    /* a secret key dropped into the allow-list */
    char from[256], to[256];
    s_path(from, sizeof from, s_keys, "intruder.key_secret");
    s_path(to, sizeof to, s_allow, "intruder.key_secret");
    s_copy(from, to);
    cr_assert_null(bt_curve_auth_new(s_allow, &eb));
    cr_assert(strstr(eb.msg, to) && strstr(eb.msg, "secret"), "%s", eb.msg);
    cr_assert_eq(unlink(to), 0);

    /* any other file: zauth would admit a certificate whatever its name */
    s_path(to, sizeof to, s_allow, "intruder.pub");
    s_path(from, sizeof from, s_keys, "intruder.key");
    s_copy(from, to);
    cr_assert_null(bt_curve_auth_new(s_allow, &eb));
    cr_assert(strstr(eb.msg, to), "%s", eb.msg);
    cr_assert_eq(unlink(to), 0);

    /* hidden files are skipped (zauth skips them too); two keys counted */
    s_path(to, sizeof to, s_allow, ".notes");
    s_copy(from, to);
    s_path(to, sizeof to, s_allow, "other.key");
    s_copy(from, to);
    bt_curve_auth_t *auth = bt_curve_auth_new(s_allow, &eb);
    cr_assert_not_null(auth, "%s", eb.msg);
    cr_assert_eq(bt_curve_auth_nkeys(auth), 2);
    /* one ZAP handler per process */
    cr_assert_null(bt_curve_auth_new(s_allow, &eb));
    bt_curve_auth_destroy(&auth);
}

typedef struct {
    const char *ep;
    bool loopback;
} s_loop_case_t;

Test(curve, loopback_endpoints)
{
    static const s_loop_case_t cases[] = {
        {"tcp://127.0.0.1:5555", true},
        {"tcp://127.0.0.1:*", true},
        {"tcp://127.1.2.3:9", true},
        {"tcp://localhost:5555", true},
        {"tcp://LOCALHOST:1", true},
        {"tcp://[::1]:5555", true},
        {"tcp://[::ffff:127.0.0.1]:5555", true},
        {"ipc:///tmp/bt.sock", true},
        {"inproc://coordinator", true},
        {"tcp://*:5555", false},
        {"tcp://0.0.0.0:5555", false},
        {"tcp://[::]:5555", false},
        {"tcp://10.0.0.5:5555", false},
        {"tcp://128.0.0.1:5555", false},
        {"tcp://eth0:5555", false},
        {"tcp://lo:5555", false},
        {"tcp://127.0.0.1.example.com:5555", false},
        {"tcp://localhost.example.com:5555", false},
        {"tcp://127.0.0.1", false},
        {"tcp://:5555", false},
        {"tcp://[::1]5555", false},
        {"tcp://127.0.0.1:5555;10.0.0.5:5555", false},
        {"udp://127.0.0.1:5555", false},
        {"ws://127.0.0.1:5555", false},
        {"127.0.0.1:5555", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(bt_curve_is_loopback(cases[i].ep), cases[i].loopback, "%s", cases[i].ep);
}
