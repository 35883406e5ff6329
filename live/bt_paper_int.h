/* bt_paper_int — the state of a paper run, shared by bt_paper.c (the loop,
 * the engine, files, REST) and bt_paper_redis.c (Redis publishing and the
 * stream source). Internal to live/. */
#ifndef BT_PAPER_INT_H
#define BT_PAPER_INT_H

#include <czmq.h>
#include <stdio.h>

#include "bt_config.h"
#include "bt_http.h"
#include "bt_ind.h"
#include "bt_live.h"
#include "bt_paper.h"
#include "bt_redis_async.h"

#define BT_PAPER_MAX_IND 8 /* indicator kinds published */

typedef struct {
    bt_rawbar_t *v; /* bars not yet stepped, oldest first */
    int64_t *at;    /* when each arrived (monotonic ms): the grace counts from it */
    size_t head, n, cap;
} s_queue_t;

typedef struct s_paper s_paper_t;

typedef struct {
    s_paper_t *P;
    size_t sym;
    bt_http_t *http;
    bt_http_resp_t resp;
    bt_buf_t url;
    int64_t from, to;         /* the range of the request in flight */
} s_slot_t;

struct s_paper {
    const bt_paper_opts_t *o;
    bt_config_t *cfg;
    const bt_strategy_t *st;
    const char *const *syms;
    size_t nsym;
    bt_live_t *lv;
    zloop_t *loop;
    s_slot_t *slots;          /* REST: one HTTP handle per symbol */
    int64_t iv_ns;            /* bar interval */
    int64_t *seen;            /* last bar time accepted per symbol */
    s_queue_t *q;             /* per symbol */
    int64_t retry_at_ms;      /* provider outage: no poll before this */
    long backoff_ms;
    bool outage;
    bt_aredis_t *ar;          /* Redis (publishing, and the stream source) */
    char (*xid)[64];          /* last stream entry id read per symbol */
    bool xbusy;
    unsigned xconn;           /* connection the stream ids belong to */
    FILE *events, *equity, *journal;
    size_t *nord_out;         /* order records already written, per book */
    double peak;              /* of the summed equity */
    size_t nind;
    const bt_ind_kind_t *kinds[BT_PAPER_MAX_IND];
    bt_ind_t *ind;            /* nsym * nind */
    void **ind_state;
    zsock_t *ctl;
    long idle;                /* polls in a row without a new bar */
    long grace_ms;            /* several symbols: how long a step waits for a missing bar */
    int64_t waited_t;         /* the step last logged as taken without a symbol */
    int64_t *answered_ms;     /* per symbol: when its feed last said it has nothing more
                                 (an answer with no page left, or a failure); monotonic */
    bool stop;
    bool replaying;
    bool tty;
    bt_err_t err;             /* a fatal error (disk) ends the loop */
    bt_errbuf_t eb;
    char status[512];
};

/* A bar from a feed: validated, late / repeated ones dropped, queued. */
void bt_paper_offer(s_paper_t *P, size_t s, const bt_rawbar_t *b);
/* Steps while every symbol has a bar waiting, or the grace for a missing
 * one is over (or force: the feed has ended). */
void bt_paper_drain(s_paper_t *P, bool force);
/* The step's bars, indicators and equity to Redis (when it is up). */
void bt_paper_publish(s_paper_t *P, int64_t t, const bt_bar_t *bars, const uint8_t *has);
/* One row of events.csv: an order placed or a fill. */
typedef struct {
    size_t step;
    int64_t t;
    const char *event;  /* "order" or "fill" */
    size_t book;
    int64_t order_id;   /* book-local */
    const char *symbol;
    const char *type;   /* order type ("" for a fill) */
    double qty, price, commission;
    const char *status; /* order status when placed ("" for a fill) */
} bt_paper_event_t;

/* The event to the stream bt:paper:NAME:events (when Redis is up). */
void bt_paper_publish_event(s_paper_t *P, const bt_paper_event_t *ev);
/* One XREAD of the streams bt:bars:SYMBOL (when Redis is up and none is in flight). */
void bt_paper_poll_redis(s_paper_t *P);

#endif
