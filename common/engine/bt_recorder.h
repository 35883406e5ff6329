/* bt_recorder — the optional full record of a run (bt run): every order,
 * round trip and equity point. NULL in sweeps.
 *
 * The record types are public (bt_engine.h includes this header); the
 * add/append functions are the engine's: they grow the arrays geometrically
 * (per run, never per bar in steady state) and return NULL when out of
 * memory, which the caller turns into BT_ENOMEM. */
#ifndef BT_RECORDER_H
#define BT_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_strategy.h"

typedef enum {
    BT_OS_OPEN = 0, BT_OS_FILLED, BT_OS_PARTIAL, BT_OS_CANCELLED, BT_OS_EXPIRED, BT_OS_REJECTED
} bt_order_status_t;

typedef struct bt_order_rec {
    int64_t id;
    uint32_t sym;              /* index into the run's series */
    int64_t created;           /* time of the decision bar */
    int64_t done;              /* time of the last fill / cancel / rejection; 0 if open */
    bt_order_type_t type;
    double qty;                /* requested, signed */
    double filled;             /* filled, signed */
    double limit, stop;        /* 0 when not used */
    double avg_price;          /* average fill price, 0 if none */
    double commission;
    bt_order_status_t status;
    char reason[64];           /* why rejected, shrunk or cancelled; "" otherwise */
} bt_order_rec_t;

/* Why a round trip ended (trades.csv exit_reason). */
typedef enum {
    BT_EXIT_OPEN = 0,    /* still open at the end of the data */
    BT_EXIT_SIGNAL,      /* a strategy signal or order */
    BT_EXIT_STOP_LOSS,   /* an attached stop or risk.stop_loss_pct */
    BT_EXIT_TAKE_PROFIT, /* an attached target or risk.take_profit_pct */
    BT_EXIT_TRAILING,    /* an attached trailing stop or risk.trailing_stop_pct */
    BT_EXIT_END,         /* report.close_at_end */
    BT_EXIT_RISK,        /* the drawdown kill switch */
    BT_EXIT_NREASONS
} bt_exit_reason_t;

/* "open", "signal", "stop_loss", "take_profit", "trailing", "end", "risk". */
const char *bt_exit_reason_name(unsigned reason);

typedef struct bt_trade_rec {
    uint32_t sym;
    int64_t entry_time, exit_time; /* exit_time 0 while open */
    double qty;                    /* signed: > 0 long */
    double entry_price, exit_price;/* average prices; exit = last close when open */
    double pnl;                    /* realised (or unrealised when open), after commission */
    double commission;
    bool open;
    uint8_t exit_reason;           /* bt_exit_reason_t */
} bt_trade_rec_t;

typedef struct bt_equity_rec {
    int64_t time;
    double cash, positions_value, equity, drawdown;
} bt_equity_rec_t;

/* Takes a full chunk of n equity points (bt_recorder_stream_equity) and returns an empty buffer
 * of the same capacity to go on with, or NULL when it failed (the run then stops: BT_ENOMEM). */
typedef bt_equity_rec_t *(*bt_recorder_sink_fn)(void *user, bt_equity_rec_t *full, size_t n);

typedef struct bt_recorder {
    bt_order_rec_t *orders;   size_t norders, orders_cap;
    bt_trade_rec_t *trades;   size_t ntrades, trades_cap;
    bt_equity_rec_t *equity;  size_t nequity, equity_cap; /* streamed: the current chunk only */
    bt_recorder_sink_fn sink; /* NULL: equity holds every point; else where full chunks go */
    void *sink_user;
    uint64_t equity_passed;   /* points already given to the sink */
} bt_recorder_t;

void bt_recorder_init(bt_recorder_t *rec);
void bt_recorder_fini(bt_recorder_t *rec);

/* Streams the equity points instead of keeping them: they go into buf (cap points, owned by the
 * sink, never freed by the recorder) and each full chunk is handed to sink, which returns the
 * next buffer. bt_recorder_flush_equity hands over what is left (call it after the run). */
void bt_recorder_stream_equity(bt_recorder_t *rec, bt_equity_rec_t *buf, size_t cap,
                               bt_recorder_sink_fn sink, void *user);
/* Hands the points held now to the sink (streaming only); BT_ENOMEM if it failed. */
bt_err_t bt_recorder_flush_equity(bt_recorder_t *rec);

/* ---- For the engine ---- */

/* Empties rec and keeps its capacity (sleeve-local recorders across runs). */
void bt_recorder_clear(bt_recorder_t *rec);
/* One more zeroed order / trade record, or NULL when out of memory. */
bt_order_rec_t *bt_recorder_add_order(bt_recorder_t *rec);
bt_trade_rec_t *bt_recorder_add_trade(bt_recorder_t *rec);
/* One more equity record (not zeroed: the caller sets every field), or NULL. */
bt_equity_rec_t *bt_recorder_add_equity(bt_recorder_t *rec);
/* bt_recorder_add_equity inlined while the buffer has room (the engine's per-step call). */
static inline bt_equity_rec_t *bt_recorder_next_equity(bt_recorder_t *rec)
{
    if (rec->nequity < rec->equity_cap)
        return &rec->equity[rec->nequity++];
    return bt_recorder_add_equity(rec);
}
/* Appends src's orders (nonzero ids shifted by id_off) and trades to dst. */
bt_err_t bt_recorder_append(bt_recorder_t *dst, const bt_recorder_t *src, int64_t id_off);
/* Copies a reason into a record's fixed buffer (cut at 63 bytes; NULL = ""). */
void bt_recorder_set_reason(char dst[64], const char *src);

#endif
