/* bt_redis — the synchronous Redis client (cache, publishing). See bt_redis.h. */
#include "bt_redis.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "bt_log.h"

struct bt_redis {
    redisContext *c; /* the connection */
    char addr[256];  /* as given */
    long ttl;        /* cache expiry, s */
};

const char *bt_redis_hint(void)
{
    return "start one with 'redis-server --port 6379 --save \"\" --daemonize yes', or "
           "'scripts/redis-private start DIR' for a private one, or give another address "
           "(--redis host:port | unix:/path)";
}

bt_redis_t *bt_redis_connect(const char *addr, bt_errbuf_t *eb)
{
    bt_redis_t *r = calloc(1, sizeof *r);
    if (!r) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    bt_str_copy(r->addr, sizeof r->addr, addr);
    struct timeval tv = {2, 0};
    const char *path = strncmp(addr, "unix:", 5) == 0 ? addr + 5 : addr[0] == '/' ? addr : NULL;
    if (path) {
        r->c = redisConnectUnixWithTimeout(path, tv);
    } else {
        char host[200];
        bt_str_copy(host, sizeof host, addr);
        int port = 6379;
        char *colon = strrchr(host, ':');
        if (colon) {
            *colon = '\0';
            char *end = NULL;
            long p = strtol(colon + 1, &end, 10);
            if (end == colon + 1 || *end || p <= 0 || p > 65535) {
                bt_errf(eb, BT_EINVAL, "Redis address '%s': bad port (host:port or unix:/path)",
                        addr);
                free(r);
                return NULL;
            }
            port = (int)p;
        }
        r->c = redisConnectWithTimeout(host, port, tv);
    }
    if (!r->c || r->c->err) {
        bt_errf(eb, BT_EIO, "cannot reach Redis at %s (%s); %s", addr,
                r->c ? r->c->errstr : "out of memory", bt_redis_hint());
        bt_redis_destroy(&r);
        return NULL;
    }
    redisSetTimeout(r->c, tv);
    redisReply *rep = redisCommand(r->c, "PING");
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok)
        bt_errf(eb, BT_EIO, "Redis at %s does not answer PING (%s); %s", addr,
                rep ? rep->str : r->c->errstr, bt_redis_hint());
    freeReplyObject(rep);
    if (!ok)
        bt_redis_destroy(&r);
    return r;
}

void bt_redis_destroy(bt_redis_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->c)
        redisFree((*self_p)->c);
    free(*self_p);
    *self_p = NULL;
}

static bool s_get(void *user, const char *key, bt_buf_t *body)
{
    bt_redis_t *r = user;
    if (r->c->err)
        return false;
    redisReply *rep = redisCommand(r->c, "GET %s", key);
    bool hit = rep && rep->type == REDIS_REPLY_STRING &&
               bt_buf_append(body, rep->str, rep->len) == BT_OK;
    if (!rep)
        bt_log(BT_LOG_WARN, "Redis at %s: %s; fetching without the cache", r->addr, r->c->errstr);
    freeReplyObject(rep);
    return hit;
}

static void s_put(void *user, const char *key, const char *body, size_t len)
{
    bt_redis_t *r = user;
    if (r->c->err)
        return;
    redisReply *rep = redisCommand(r->c, "SET %s %b EX %ld", key, body, len, r->ttl);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        bt_log(BT_LOG_WARN, "Redis at %s: cannot cache %s: %s", r->addr, key,
               rep ? rep->str : r->c->errstr);
    freeReplyObject(rep);
}

void bt_redis_fetch_cache(bt_redis_t *r, long ttl_s, bt_fetch_cache_t *cache)
{
    r->ttl = ttl_s;
    cache->user = r;
    cache->get = s_get;
    cache->put = s_put;
}
