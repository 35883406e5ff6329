/* bt_netmon — peers that fail the CurveZMQ handshake, by address (bt_netmon.h). */
#include "bt_netmon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bt_curve.h"
#include "bt_log.h"

#define S_CONNS 256 /* open connections remembered (oldest overwritten) */

struct bt_netmon {
    zsock_t *router;  /* watched, borrowed */
    zactor_t *actor;  /* owns the monitor's PAIR socket */
    char endpoint[64]; /* inproc:// of the monitor */
};

typedef struct {
    int fd;          /* -1: free */
    char addr[64];   /* "10.0.0.7:51234" */
} s_conn_t;

/* "host:port" of the peer of fd, or "" if it is gone already. */
static void s_peer_addr(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "";
    out[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    }
}

static s_conn_t *s_find(s_conn_t *t, int fd)
{
    for (size_t i = 0; i < S_CONNS; i++)
        if (t[i].fd == fd)
            return &t[i];
    return NULL;
}

/* The actor: reads monitor events; sends "kind status address" to the
 * pipe for every connection closed after a failed handshake. */
static void s_actor(zsock_t *pipe, void *args)
{
    zsock_t *mon = zsock_new_pair((const char *)args);
    zsock_signal(pipe, 0);
    if (!mon)
        return;
    zpoller_t *poller = zpoller_new(pipe, mon, NULL);
    static s_conn_t tab[S_CONNS];
    size_t next = 0;
    for (size_t i = 0; i < S_CONNS; i++)
        tab[i].fd = -1;
    unsigned pending = 0, status = 0; /* failed handshake waiting for its close */
    while (poller) {
        void *which = zpoller_wait(poller, -1);
        if (!which || which == pipe)
            break; /* $TERM or interrupted */
        zmsg_t *m = zmsg_recv(mon);
        zframe_t *f = m ? zmsg_first(m) : NULL;
        if (!f || zframe_size(f) != 6) {
            zmsg_destroy(&m);
            continue;
        }
        uint16_t ev;
        uint32_t val;
        memcpy(&ev, zframe_data(f), 2);
        memcpy(&val, zframe_data(f) + 2, 4);
        zmsg_destroy(&m);
        if (ev == ZMQ_EVENT_ACCEPTED) {
            s_conn_t *c = s_find(tab, (int)val);
            if (!c) {
                c = &tab[next];
                next = (next + 1) % S_CONNS;
            }
            c->fd = (int)val;
            s_peer_addr(c->fd, c->addr, sizeof c->addr);
        } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
            pending = ev;
            status = val;
        } else if (ev == ZMQ_EVENT_DISCONNECTED) {
            s_conn_t *c = s_find(tab, (int)val);
            if (pending)
                zstr_sendf(pipe, "%u %u %s", pending, status,
                           c && c->addr[0] ? c->addr : "(address unknown)");
            pending = 0;
            if (c)
                c->fd = -1;
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&mon);
}

bt_netmon_t *bt_netmon_new(zsock_t *router)
{
    bt_netmon_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->router = router;
    snprintf(self->endpoint, sizeof self->endpoint, "inproc://bt-netmon-%p", (void *)self);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(zsock_resolve(router), self->endpoint, events) != 0) {
        free(self);
        return NULL;
    }
    self->actor = zactor_new(s_actor, self->endpoint);
    if (!self->actor) {
        zmq_socket_monitor(zsock_resolve(router), NULL, 0);
        free(self);
        return NULL;
    }
    return self;
}

void bt_netmon_destroy(bt_netmon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_netmon_t *self = *self_p;
    zmq_socket_monitor(zsock_resolve(self->router), NULL, 0);
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}

zactor_t *bt_netmon_actor(bt_netmon_t *self)
{
    return self->actor;
}

void bt_netmon_drain(bt_netmon_t *self, const char *keys_dir)
{
    while (zsock_events(zactor_sock(self->actor)) & ZMQ_POLLIN) {
        char *s = zstr_recv(self->actor);
        if (!s)
            return;
        unsigned ev = 0, status = 0;
        char addr[80] = "";
        if (sscanf(s, "%u %u %79s", &ev, &status, addr) == 3) {
            if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                bt_log(BT_LOG_ERROR,
                       "worker at %s refused: its key is not in the allow-list %s/%s (CurveZMQ, "
                       "ZAP status %u); if it is one of ours, copy its worker.key there",
                       addr, keys_dir ? keys_dir : "(none)", BT_CURVE_ALLOW_DIR, status);
            else
                bt_log(BT_LOG_WARN,
                       "peer at %s failed the CurveZMQ handshake (%s): a worker pinned to "
                       "another coordinator key, or not speaking CurveZMQ",
                       addr, ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error"
                                                                        : "no detail");
        }
        zstr_free(&s);
    }
}
