/* bt_paper_redis — Redis for a paper run: publishing each step and the
 * stream source bt:bars:SYMBOL. See bt_paper.h and docs/live.md. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "bt_csvw.h"
#include "bt_log.h"
#include "bt_paper_int.h"
#include "bt_time.h"

#define S_XCOUNT 1000 /* entries per stream per XREAD */
#define S_XCOUNT_STR "1000"

/* ---- Redis publishing ------------------------------------------------------- */

void bt_paper_publish(s_paper_t *P, int64_t t, const bt_bar_t *bars, const uint8_t *has)
{
    if (!P->ar || !bt_aredis_up(P->ar))
        return;
    const char *nm = P->o->name;
    char key[256], ts[32], v[5][40], cap[32];
    snprintf(ts, sizeof ts, "%lld", (long long)t);
    snprintf(cap, sizeof cap, "%zu", P->o->stream_cap);
    for (size_t s = 0; s < P->nsym; s++) {
        if (!has[s])
            continue;
        const bt_bar_t *b = &bars[s];
        double x[5] = {b->open, b->high, b->low, b->close, b->volume};
        for (int k = 0; k < 5; k++)
            bt_csvw_fmt_double(x[k], v[k], sizeof v[k]);
        snprintf(key, sizeof key, "bt:paper:%s:last:%s", nm, P->syms[s]);
        const char *h[] = {"HSET", key, "t", ts, "o", v[0], "h", v[1], "l", v[2],
                           "c", v[3], "v", v[4]};
        bt_aredis_cmd(P->ar, NULL, NULL, 14, h, NULL);
        snprintf(key, sizeof key, "bt:paper:%s:bars:%s", nm, P->syms[s]);
        const char *x2[] = {"XADD", key, "MAXLEN", "~", cap, "*", "t", ts, "o", v[0],
                            "h", v[1], "l", v[2], "c", v[3], "v", v[4]};
        bt_aredis_cmd(P->ar, NULL, NULL, 18, x2, NULL);
        for (size_t k = 0; k < P->nind; k++) {
            const bt_ind_t *ind = &P->ind[s * P->nind + k];
            char field[96], val[40];
            snprintf(field, sizeof field, "%s.%s", P->syms[s], ind->kind->name);
            bt_csvw_fmt_double(ind->out[0], val, sizeof val);
            snprintf(key, sizeof key, "bt:paper:%s:ind", nm);
            const char *hi[] = {"HSET", key, field, val};
            bt_aredis_cmd(P->ar, NULL, NULL, 4, hi, NULL);
        }
    }
    char eq[40], cash[40];
    bt_csvw_fmt_double(bt_live_equity(P->lv), eq, sizeof eq);
    bt_csvw_fmt_double(bt_live_cash(P->lv), cash, sizeof cash);
    snprintf(key, sizeof key, "bt:paper:%s:equity", nm);
    const char *he[] = {"HSET", key, "t", ts, "equity", eq, "cash", cash};
    bt_aredis_cmd(P->ar, NULL, NULL, 8, he, NULL);
}

void bt_paper_publish_event(s_paper_t *P, const bt_paper_event_t *ev)
{
    if (!P->ar || !bt_aredis_up(P->ar))
        return;
    char key[256], cap[32], step[32], ts[32], book[32], id[32], v[3][40];
    snprintf(key, sizeof key, "bt:paper:%s:events", P->o->name);
    snprintf(cap, sizeof cap, "%zu", P->o->stream_cap);
    snprintf(step, sizeof step, "%zu", ev->step);
    snprintf(ts, sizeof ts, "%lld", (long long)ev->t);
    snprintf(book, sizeof book, "%zu", ev->book);
    snprintf(id, sizeof id, "%lld", (long long)ev->order_id);
    const double x[3] = {ev->qty, ev->price, ev->commission};
    for (int k = 0; k < 3; k++)
        bt_csvw_fmt_double(x[k], v[k], sizeof v[k]);
    const char *a[] = {"XADD", key, "MAXLEN", "~", cap, "*", "step", step, "t", ts,
                       "event", ev->event, "book", book, "order_id", id, "symbol", ev->symbol,
                       "type", ev->type, "qty", v[0], "price", v[1], "commission", v[2],
                       "status", ev->status};
    bt_aredis_cmd(P->ar, NULL, NULL, (int)(sizeof a / sizeof a[0]), a, NULL);
}

/* ---- Redis stream source ----------------------------------------------------- */

static bool s_field(redisReply *kv, const char *name, double *out)
{
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        redisReply *k = kv->element[i], *v = kv->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0 &&
            v->type == REDIS_REPLY_STRING) {
            char *end = NULL;
            *out = strtod(v->str, &end);
            return end != v->str && *end == '\0';
        }
    }
    return false;
}

static void s_on_xread(void *user, redisReply *r)
{
    s_paper_t *P = user;
    P->xbusy = false;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            bt_log(BT_LOG_WARN, "Redis XREAD: %s", r->str);
        if (!r || r->type == REDIS_REPLY_NIL)
            P->idle++;
        if (r && r->type == REDIS_REPLY_NIL) /* no stream has anything new */
            for (size_t s = 0; s < P->nsym; s++)
                P->answered_ms[s] = bt_monotonic_ms();
        return;
    }
    bool fresh = false;
    bool full[64] = {false}; /* streams that sent a whole COUNT: more to read */
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *st = r->element[i];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2)
            continue;
        const char *key = st->element[0]->str;
        size_t s = 0;
        for (; s < P->nsym; s++)
            if (strcmp(key + strlen("bt:bars:"), P->syms[s]) == 0)
                break;
        if (s == P->nsym)
            continue;
        redisReply *ents = st->element[1];
        full[s] = ents->elements >= S_XCOUNT;
        for (size_t j = 0; j < ents->elements; j++) {
            redisReply *en = ents->element[j];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2)
                continue;
            bt_str_copy(P->xid[s], sizeof P->xid[s], en->element[0]->str);
            double t = 0;
            bt_rawbar_t b;
            if (!s_field(en->element[1], "t", &t) || !s_field(en->element[1], "o", &b.open) ||
                !s_field(en->element[1], "h", &b.high) || !s_field(en->element[1], "l", &b.low) ||
                !s_field(en->element[1], "c", &b.close) || !s_field(en->element[1], "v", &b.volume)) {
                bt_log(BT_LOG_WARN, "%s entry %s: needs fields t o h l c v; dropped", key,
                       P->xid[s]);
                continue;
            }
            /* t: ns since epoch as a whole number (exact in a double up to 2^53 only) */
            char *end = NULL;
            redisReply *kv = en->element[1];
            for (size_t k = 0; k + 1 < kv->elements; k += 2)
                if (strcmp(kv->element[k]->str, "t") == 0)
                    b.time = strtoll(kv->element[k + 1]->str, &end, 10);
            int64_t before = P->seen[s];
            bt_paper_offer(P, s, &b);
            fresh = fresh || P->seen[s] != before;
        }
    }
    for (size_t s = 0; s < P->nsym; s++) /* the others have nothing more now */
        if (!full[s])
            P->answered_ms[s] = bt_monotonic_ms();
    if (!fresh)
        P->idle++;
    bt_paper_drain(P, false);
}

void bt_paper_poll_redis(s_paper_t *P)
{
    if (P->xbusy || !bt_aredis_up(P->ar))
        return;
    if (bt_aredis_connects(P->ar) != P->xconn) {
        /* a restarted Redis numbers its entries afresh: read from the start again
         * (bars already taken are dropped as repeated) */
        P->xconn = bt_aredis_connects(P->ar);
        for (size_t s = 0; s < P->nsym; s++)
            bt_str_copy(P->xid[s], sizeof P->xid[s], "0");
        P->idle = 0; /* an outage is not an idle feed (--idle-exit), as for REST */
    }
    const char *argv[4 + 2 * 64];
    char keys[64][128];
    int n = 0;
    argv[n++] = "XREAD";
    argv[n++] = "COUNT";
    argv[n++] = S_XCOUNT_STR;
    argv[n++] = "STREAMS";
    for (size_t s = 0; s < P->nsym; s++) {
        snprintf(keys[s], sizeof keys[s], "bt:bars:%s", P->syms[s]);
        argv[n++] = keys[s];
    }
    for (size_t s = 0; s < P->nsym; s++)
        argv[n++] = P->xid[s];
    if (bt_aredis_cmd(P->ar, s_on_xread, P, n, argv, NULL))
        P->xbusy = true;
}

