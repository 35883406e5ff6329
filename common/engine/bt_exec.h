/* bt_exec — the execution handler of a book (internal to the engine).
 *
 * Open orders and their lifecycle (open, partial, filled, cancelled,
 * expired, rejected), fill prices per order type (one table in bt_exec.c),
 * slippage, commission, the volume cap (partial fills), the cash and margin
 * checks at fill time, brackets (children created on the parent's fill, one
 * cancels the other) and DAY expiry. Fills go to bt_portfolio, the metrics,
 * the recorder, the step hook and the strategy's on_fill. Fill rules:
 * docs/engine.md "Fill rules". */
#ifndef BT_EXEC_H
#define BT_EXEC_H

#include <string.h>

#include "bt_book.h"

/* ---- Order types ---- */

/* Fill price of an order of this type on bar b (before slippage); false if
 * it does not fill on this bar. May change o (a stop-limit's trigger). */
typedef bool (*bt_exec_price_fn)(bt_exec_order_t *o, const bt_bar_t *b, double *px);

/* Everything that depends on an order's type: one row per bt_order_type_t
 * in bt_exec.c. A new type is an enum value, a row and its price rule. */
typedef struct bt_exec_type {
    bool limit;             /* uses the limit price (else stored as 0) */
    bool stop;              /* uses the stop price (else stored as 0) */
    bool same_close;        /* fills at the decision close with fill_at: same_close */
    bt_exec_price_fn price; /* fill-price rule on a later bar */
} bt_exec_type_t;

#define BT_EXEC_NTYPES (BT_ORD_STOP_LIMIT + 1)
extern const bt_exec_type_t bt_exec_types[BT_EXEC_NTYPES];

static inline bool bt_exec_type_known(unsigned type)
{
    return type < BT_EXEC_NTYPES;
}

static inline bool bt_exec_type_uses_limit(unsigned type)
{
    return type < BT_EXEC_NTYPES && bt_exec_types[type].limit;
}

static inline bool bt_exec_type_uses_stop(unsigned type)
{
    return type < BT_EXEC_NTYPES && bt_exec_types[type].stop;
}

/* ---- Orders ---- */

/* A new open order (id, decision time and step set), or NULL when the book
 * has no free order slot. Inline: every strategy order passes here. */
static inline bt_exec_order_t *bt_exec_new(bt_book_t *bk, uint32_t sym, uint8_t kind,
                                           uint8_t type, double qty)
{
    bt_exec_state_t *e = &bk->exec;
    if (e->nord >= bk->dims.ocap)
        return NULL;
    bt_exec_order_t *o = &e->ord[e->nord++];
    memset(o, 0, sizeof *o);
    o->id = e->next_id++;
    o->created = bk->feed.t;
    o->created_step = bk->feed.step;
    o->rec = SIZE_MAX;
    o->qty = qty;
    o->sym = sym;
    o->type = type;
    o->kind = kind;
    return o;
}
/* Records o with requested quantity req_qty; its record index, or SIZE_MAX
 * without a recorder (or out of memory: bk->err is set). */
size_t bt_exec_record(bt_book_t *bk, const bt_exec_order_t *o, double req_qty, const char *reason,
                      bt_order_status_t st);
/* Counts and records an order that never became open (id 0). */
void bt_exec_refuse(bt_book_t *bk, uint32_t sym, uint8_t type, double qty, double limit,
                    double stop, const char *reason);
/* Finishes o without a fill: cancelled, expired or rejected (counted). */
void bt_exec_finish(bt_book_t *bk, bt_exec_order_t *o, bt_order_status_t st, const char *reason);
/* Finishes every open order with status CANCELLED and reason; none is left. */
void bt_exec_cancel_all(bt_book_t *bk, const char *reason);
/* Cancels the open order with this id; false if it is no longer open. */
bool bt_exec_cancel(bt_book_t *bk, int64_t order_id);
/* The open order with this id, or NULL. */
bt_exec_order_t *bt_exec_find(bt_book_t *bk, int64_t order_id);
/* Sets an open order's remaining qty (same sign, already checked; 0 keeps
 * it) and its limit / stop (> 0, for types that use them); the record
 * follows. False if the order is not open. */
bool bt_exec_modify(bt_book_t *bk, int64_t order_id, double limit, double stop, double qty);

/* ---- Fills ---- */

/* The price a fill of q (signed) at raw price px gets after slippage;
 * value = |q| price and comm its commission (raised to the minimum unless
 * the order paid it already). bt_exec_fill's arithmetic, inline so the
 * grid fast path (bt_fastev) fills with the same bits. */
static inline double bt_exec_fill_price(const bt_engine_cfg_t *c, double px, double q,
                                        bool comm_min_done, double *value, double *comm)
{
    double slip = c->slippage_bps * 1e-4;
    double price = q > 0 ? px * (1.0 + slip) : px * (1.0 - slip);
    double aq = fabs(q);
    *value = aq * price;
    double cm = c->commission_rate * *value + c->commission_per_share * aq;
    if (!comm_min_done && cm < c->commission_min)
        cm = c->commission_min;
    *comm = cm;
    return price;
}

/* Executes q (signed, nonzero) of order o at raw price px (before
 * slippage). Returns false if the fill was rejected (o is then finished). */
bool bt_exec_fill(bt_book_t *bk, bt_exec_order_t *o, double px, double q);
/* FILL: resting orders decided at an earlier step against this step's bars,
 * every sell first, then every buy; then DAY expiry and trailing marks. */
void bt_exec_fill_phase(bt_book_t *bk);
/* fill_at same_close: market orders decided at this step fill at its close. */
void bt_exec_same_close(bt_book_t *bk);
/* close_at_end: open orders cancelled, every position closed at its close. */
void bt_exec_close_at_end(bt_book_t *bk);

#endif
