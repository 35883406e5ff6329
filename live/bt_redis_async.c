/* bt_redis_async — hiredis async on a zloop. See bt_redis_async.h. */
#include "bt_redis_async.h"

#include <czmq.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "bt_log.h"

struct bt_aredis {
    zloop_t *loop;
    redisAsyncContext *ac;  /* NULL while down */
    char addr[256];
    bool up;                /* connected */
    bool reading, writing;  /* events hiredis wants */
    int fd;                 /* socket with a poller, -1 none */
    int timer;              /* reconnect timer, -1 none */
    long backoff_ms;
    unsigned connects;
    unsigned long dropped;  /* commands dropped while down */
};

static void s_connect(bt_aredis_t *r);

static int s_on_io(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    bt_aredis_t *r = arg;
    if (!r->ac)
        return 0;
    if (item->revents & (ZMQ_POLLIN | ZMQ_POLLERR))
        redisAsyncHandleRead(r->ac);
    if (r->ac && (item->revents & ZMQ_POLLOUT))
        redisAsyncHandleWrite(r->ac);
    return 0;
}

static void s_update(bt_aredis_t *r)
{
    if (r->fd >= 0) {
        zmq_pollitem_t it = {NULL, r->fd, 0, 0};
        zloop_poller_end(r->loop, &it);
        r->fd = -1;
    }
    if (!r->ac || (!r->reading && !r->writing))
        return;
    zmq_pollitem_t it = {NULL, r->ac->c.fd,
                         (short)((r->reading ? ZMQ_POLLIN : 0) | (r->writing ? ZMQ_POLLOUT : 0)), 0};
    if (zloop_poller(r->loop, &it, s_on_io, r) == 0) {
        zloop_poller_set_tolerant(r->loop, &it);
        r->fd = r->ac->c.fd;
    }
}

static void s_add_read(void *p) { bt_aredis_t *r = p; r->reading = true; s_update(r); }
static void s_del_read(void *p) { bt_aredis_t *r = p; r->reading = false; s_update(r); }
static void s_add_write(void *p) { bt_aredis_t *r = p; r->writing = true; s_update(r); }
static void s_del_write(void *p) { bt_aredis_t *r = p; r->writing = false; s_update(r); }
static void s_cleanup(void *p)
{
    bt_aredis_t *r = p;
    r->reading = r->writing = false;
    s_update(r);
}

static int s_on_timer(zloop_t *loop, int id, void *arg)
{
    bt_aredis_t *r = arg;
    r->timer = -1;
    s_connect(r);
    return 0;
}

static void s_schedule(bt_aredis_t *r)
{
    if (r->timer >= 0)
        return;
    r->timer = zloop_timer(r->loop, (size_t)r->backoff_ms, 1, s_on_timer, r);
    r->backoff_ms = r->backoff_ms * 2 > 30000 ? 30000 : r->backoff_ms * 2;
}

static void s_on_connect(const redisAsyncContext *ac, int status)
{
    bt_aredis_t *r = ac->data;
    if (!r)
        return;
    if (status != REDIS_OK) {
        bt_log(BT_LOG_WARN, "Redis at %s: cannot connect (%s); retrying in %.1f s", r->addr,
               ac->errstr, (double)r->backoff_ms / 1000.0);
        r->ac = NULL; /* hiredis frees it, and its clean-up (s_cleanup, after this callback)
                       * ends the socket's poller: r->fd must still name it */
        s_schedule(r);
        return;
    }
    r->up = true;
    r->connects++;
    r->backoff_ms = 500;
    if (r->connects > 1 || r->dropped)
        bt_log(BT_LOG_INFO, "Redis at %s: connected again (%lu writes were dropped while down)",
               r->addr, r->dropped);
    r->dropped = 0;
}

static void s_on_disconnect(const redisAsyncContext *ac, int status)
{
    bt_aredis_t *r = ac->data;
    if (!r)
        return;
    r->up = false;
    r->ac = NULL;
    r->fd = -1;
    if (status != REDIS_OK) {
        bt_log(BT_LOG_WARN, "Redis at %s: connection lost (%s); reconnecting", r->addr,
               ac->errstr);
        s_schedule(r);
    }
}

static void s_connect(bt_aredis_t *r)
{
    const char *a = r->addr;
    const char *path = strncmp(a, "unix:", 5) == 0 ? a + 5 : a[0] == '/' ? a : NULL;
    redisAsyncContext *ac;
    if (path) {
        ac = redisAsyncConnectUnix(path);
    } else {
        char host[200];
        bt_str_copy(host, sizeof host, a);
        int port = 6379;
        char *colon = strrchr(host, ':');
        if (colon) {
            *colon = '\0';
            port = (int)strtol(colon + 1, NULL, 10);
        }
        ac = redisAsyncConnect(host, port);
    }
    if (!ac || ac->err) {
        bt_log(BT_LOG_WARN, "Redis at %s: cannot connect (%s); retrying in %.1f s", a,
               ac ? ac->errstr : "out of memory", (double)r->backoff_ms / 1000.0);
        if (ac)
            redisAsyncFree(ac);
        s_schedule(r);
        return;
    }
    r->ac = ac;
    ac->data = r;
    ac->ev.data = r;
    ac->ev.addRead = s_add_read;
    ac->ev.delRead = s_del_read;
    ac->ev.addWrite = s_add_write;
    ac->ev.delWrite = s_del_write;
    ac->ev.cleanup = s_cleanup;
    redisAsyncSetConnectCallback(ac, s_on_connect);
    redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
    s_add_write(r); /* a non-blocking connect completes as writable */
}

bt_aredis_t *bt_aredis_new(void *loop, const char *addr, bt_errbuf_t *eb)
{
    bt_aredis_t *r = calloc(1, sizeof *r);
    if (!r) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    r->loop = loop;
    r->fd = -1;
    r->timer = -1;
    r->backoff_ms = 500;
    bt_str_copy(r->addr, sizeof r->addr, addr);
    s_connect(r);
    return r;
}

void bt_aredis_destroy(bt_aredis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_aredis_t *r = *self_p;
    if (r->timer >= 0)
        zloop_timer_end(r->loop, r->timer);
    /* The loop has ended, but the last steps' writes may still be buffered
     * and their replies unread: Redis drops the rest of a client's commands
     * when it cannot answer, so send them all and read every reply before
     * closing (at most ~2 s). */
    for (int i = 0; i < 200 && r->ac && r->up; i++) {
        redisContext *c = &r->ac->c;
        bool out = c->obuf && c->obuf[0] != '\0';
        if (!out && r->ac->replies.head == NULL)
            break;
        int done = 0;
        if (out && redisBufferWrite(c, &done) == REDIS_ERR)
            break;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 10) > 0)
            redisAsyncHandleRead(r->ac); /* may disconnect: r->ac is then NULL */
    }
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->data = NULL;
        ac->onDisconnect = NULL; /* hiredis 0.14 will not replace a set callback */
        redisAsyncFree(ac);
    }
    s_cleanup(r);
    free(r);
    *self_p = NULL;
}

bool bt_aredis_up(const bt_aredis_t *r)
{
    return r->up && r->ac;
}

unsigned bt_aredis_connects(const bt_aredis_t *r)
{
    return r->connects;
}

typedef struct {
    bt_aredis_fn *fn;
    void *user;
} s_cb_t;

static void s_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    s_cb_t *cb = priv;
    if (cb->fn)
        cb->fn(cb->user, reply);
    free(cb);
}

bool bt_aredis_cmd(bt_aredis_t *r, bt_aredis_fn *fn, void *user, int argc, const char **argv,
                   const size_t *lens)
{
    if (!bt_aredis_up(r)) {
        r->dropped++;
        return false;
    }
    s_cb_t *cb = malloc(sizeof *cb);
    if (!cb)
        return false;
    cb->fn = fn;
    cb->user = user;
    if (redisAsyncCommandArgv(r->ac, s_on_reply, cb, argc, argv, lens) != REDIS_OK) {
        free(cb);
        r->dropped++;
        return false;
    }
    return true;
}
