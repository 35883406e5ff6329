/* bt_book — one account's state inside the engine (internal header).
 *
 * A book is a SINGLE sleeve (one symbol, initial_cash / nsym) or the
 * PORTFOLIO book (all symbols). Each component module owns one part of it:
 * bt_feed the bars and the clock, bt_exec the open orders and the step's
 * fills, bt_portfolio cash, positions and round trips, bt_risk the targets,
 * pending quantities and the kill switch; bt_engine the sleeve curves.
 *
 * Every array of a book is one row of BT_BOOK_ARRAYS: the component's
 * struct members, the arena layout, the allocation and the reset at run
 * start are all generated from that table (bt_book.c). To add an array, add
 * a row. Not a public header: only the engine's own .c files include it. */
#ifndef BT_BOOK_H
#define BT_BOOK_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_engine.h"

#define BT_BOOK_ORDER_BASE 64 /* open-order capacity per book: base + per symbol */
#define BT_BOOK_ORDER_PER_SYM 16

/* Who placed an order: the strategy (USER, SIGNAL) or the engine (bracket
 * children, kill switch / close_at_end, engine exits). */
enum {
    BT_EXEC_KIND_USER = 0,
    BT_EXEC_KIND_SIGNAL,
    BT_EXEC_KIND_SL,
    BT_EXEC_KIND_TRAIL,
    BT_EXEC_KIND_TP,
    BT_EXEC_KIND_KILL,
    BT_EXEC_KIND_EXIT
};

/* An open (or just finished) order of a book (bt_exec). */
typedef struct bt_exec_order {
    int64_t id;             /* > 0, per book */
    int64_t group;          /* bracket children: the parent's id; else 0 */
    int64_t created;        /* time of the decision bar */
    size_t created_step;    /* book step of the decision */
    size_t rec;             /* index in the recorder, SIZE_MAX if none */
    int64_t day;            /* DAY orders: UTC day number of the first eligible bar */
    double qty;             /* remaining, signed */
    double filled;          /* filled so far, signed */
    double fill_value;      /* sum of qty * price of fills */
    double commission;      /* charged so far */
    double limit, stop;     /* prices, 0 when unused */
    double sl, tp, trail;   /* attached children to create when it fills; 0 = none */
    double hw;              /* trailing child: high-water (sell) or low-water (buy) */
    double trail_k;         /* BT_TRAIL_AMOUNT: price distance; BT_TRAIL_ATR: ATR multiple */
    double trail_off;       /* trailing child (amount, ATR): distance from the water mark now */
    double tg;              /* signal order sized at the fill: its target */
    uint32_t sym;           /* book-local symbol */
    uint8_t type;           /* bt_order_type_t */
    uint8_t tif;            /* bt_tif_t */
    uint8_t kind;           /* BT_EXEC_KIND_* */
    uint8_t triggered;      /* stop-limit: stop has triggered */
    uint8_t done;           /* finished; removed at the next compaction */
    uint8_t comm_min_done;  /* the commission minimum was charged */
    uint8_t day_set;        /* day is valid */
    uint8_t kids;           /* children were created */
    uint8_t trail_mode;     /* bt_trail_mode_t of trail / trail_k */
    uint8_t exit_why;       /* BT_EXIT_* a closing fill of this order gives the trade */
    uint16_t atr_per;       /* BT_TRAIL_ATR: Wilder period */
    uint8_t resize;         /* signal order to size at its first fill (size_at: fill) */
} bt_exec_order_t;

/* The round trip in progress on one symbol (bt_portfolio). */
typedef struct bt_portfolio_trade {
    int64_t entry_time;
    double entry_qty, entry_value; /* signed sums over entry fills */
    double exit_qty, exit_value;   /* signed sums over exit fills */
    double realized;               /* price P&L of the closed part */
    double commission;             /* commission attributed to this trade */
    size_t rec;                    /* recorder index, SIZE_MAX if none */
} bt_portfolio_trade_t;

/* Element counts of one book's arrays: the count column of the table. */
typedef struct bt_book_dims {
    size_t nsym;   /* symbols in the book */
    size_t ocap;   /* open-order slots: BT_BOOK_ORDER_BASE + BT_BOOK_ORDER_PER_SYM * nsym */
    size_t fcap;   /* fill slots of one step (0 without a step hook) */
    size_t ncurve; /* sleeve curve bars (0 for single-book runs) */
    size_t ncash;  /* sleeve cash curve bars (0 without a recorder) */
} bt_book_dims_t;

/* Reset column: the byte every element is set to at run start, or KEEP for
 * arrays whose elements are written before they are read: the curves (the
 * run writes them in full) and the order slots (bt_exec_new writes a slot
 * before nord counts it; 15 KB a book, which was most of a grid point's
 * set-up). */
#define BT_BOOK_KEEP (-1)

/* X(component, field, element type, count (a bt_book_dims_t member), reset).
 * An array with count 0 is NULL. The arena keeps this order. */
#define BT_FEED_ARRAYS(X)                                                                        \
    X(feed, ser, bt_series_t, nsym, 0x00)      /* sliced views of the book's series */        \
    X(feed, idx, size_t, nsym, 0x00)           /* current bar index per symbol */             \
    X(feed, bar, bt_bar_t, nsym, 0x00)         /* current bars (ctx->bar) */                  \
    X(feed, has_bar, uint8_t, nsym, 0x00)      /* symbol has a bar at this step */            \
    X(feed, close, double, nsym, 0x00)         /* last closes (0 before the first bar) */     \
    X(feed, prev_time, int64_t, nsym, 0x00)    /* time of the symbol's previous bar */
#define BT_PORTFOLIO_ARRAYS(X)                                                                   \
    X(pf, pos, double, nsym, 0x00)             /* signed positions */                         \
    X(pf, avg, double, nsym, 0x00)             /* average cost */                             \
    X(pf, hw, double, nsym, 0x00)              /* high- (long) / low-water (short) mark */    \
    X(pf, open_step, size_t, nsym, 0x00)       /* step the current position was opened */     \
    X(pf, trade, bt_portfolio_trade_t, nsym, 0x00) /* round trip in progress */
#define BT_RISK_ARRAYS(X)                                                                        \
    X(risk, target, double, nsym, 0x00)        /* last signal targets */                      \
    X(risk, has_target, uint8_t, nsym, 0x00)   /* a signal was seen */                        \
    X(risk, sig_step, size_t, nsym, 0xFF)      /* step of the last signal (SIZE_MAX: none) */ \
    X(risk, pend_sig, double, nsym, 0x00)      /* remaining qty of open signal orders */      \
    X(risk, pend_all, double, nsym, 0x00)      /* remaining qty of open user + signal orders */
#define BT_EXEC_ARRAYS(X)                                                                        \
    X(exec, ord, bt_exec_order_t, ocap, BT_BOOK_KEEP) /* open orders, FIFO (first nord) */    \
    X(exec, fills, bt_step_fill_t, fcap, 0x00) /* fills of the current step (step hook) */    \
    X(exec, atr, double, nsym, 0x00)           /* ATR trails: Wilder ATR (sum of TR in seed) */ \
    X(exec, atr_n, size_t, nsym, 0x00)         /* ATR trails: bars consumed (next index) */    \
    X(exec, atr_per, size_t, nsym, 0x00)       /* ATR trails: period of atr (0 = none yet) */
#define BT_CURVE_ARRAYS(X)                                                                       \
    X(curve, eq, double, ncurve, BT_BOOK_KEEP) /* sleeve equity per bar */                    \
    X(curve, cash, double, ncash, BT_BOOK_KEEP) /* sleeve cash per bar (with a recorder) */   \
    X(curve, ex, uint8_t, ncurve, BT_BOOK_KEEP) /* sleeve exposed per bar */
#define BT_BOOK_ARRAYS(X)                                                                        \
    BT_FEED_ARRAYS(X) BT_PORTFOLIO_ARRAYS(X) BT_RISK_ARRAYS(X) BT_EXEC_ARRAYS(X)              \
    BT_CURVE_ARRAYS(X)

#define BT_BOOK_PTR(comp, field, type, count, reset) type *field;

/* bt_feed: the book's bars and clock. */
typedef struct bt_feed_state {
    BT_FEED_ARRAYS(BT_BOOK_PTR)
    size_t step;       /* index of the current step, from 0 */
    int64_t t;         /* time of the current step */
    bool warm;         /* warm-up: before cfg->trade_start (no orders, no equity points) */
    bool last_step;    /* the current step is the book's last */
    int64_t day_end, week_end, month_end, year_end; /* next calendar boundaries */
} bt_feed_state_t;

/* bt_portfolio: the account. */
typedef struct bt_portfolio_state {
    BT_PORTFOLIO_ARRAYS(BT_BOOK_PTR)
    double initial;    /* cash at start */
    double cash;       /* cash now */
    double equity;     /* cash + positions at the last marking */
    double peak;       /* running equity peak (kill switch, drawdown record) */
    size_t nheld;      /* symbols with a nonzero position */
} bt_portfolio_state_t;

typedef struct bt_book bt_book_t;

/* risk.scope: account — the sleeves of a SINGLE run seen as one account
 * (the sleeves then run in lockstep on one thread; bt_loop_account). */
typedef struct bt_account {
    bt_book_t *books;    /* the sleeves, in order */
    size_t n;
    double peak;         /* account equity peak (kill switch) */
    bool killed;         /* the account kill switch fired */
} bt_account_t;

/* bt_risk: intent and limits. */
typedef struct bt_risk_state {
    BT_RISK_ARRAYS(BT_BOOK_PTR)
    double mdd;          /* this book's own kill switch level (0 under an account) */
    bt_account_t *acct;  /* account-scope limits; NULL = this book alone */
    bool killed;         /* the kill switch fired: the strategy is not called again */
    bool has_exits;      /* cfg stop_loss / take_profit / trailing_stop */
    unsigned rebal_flag; /* BT_CAL_* flag that triggers a rebalance; 0 = none */
} bt_risk_state_t;

/* bt_exec: orders and fills. */
typedef struct bt_exec_state {
    BT_EXEC_ARRAYS(BT_BOOK_PTR)
    size_t nord;          /* orders in ord */
    size_t nfills;        /* fills in fills */
    int64_t next_id;      /* id of the next order, from 1 */
    uint64_t nfill_total; /* fills so far (to see whether a step changed anything) */
    uint8_t fill_why;     /* BT_EXIT_* of the fill being applied (trade exit reason) */
} bt_exec_state_t;

/* bt_engine: a sleeve's per-bar results, summed across sleeves. */
typedef struct bt_curve_state {
    BT_CURVE_ARRAYS(BT_BOOK_PTR)
    bool same_tl;         /* same bar times as sleeve 0 */
} bt_curve_state_t;

/* Cache-line aligned: sleeves run on several threads and their books lie
 * side by side in bt_engine's array. */
struct bt_book {
    _Alignas(64) const bt_engine_cfg_t *cfg;
    const bt_strategy_t *strat;
    size_t nsym;           /* symbols in the book */
    uint32_t sym0;         /* run series index of local symbol 0 */
    size_t book_index;     /* sleeve index (0 for PORTFOLIO) */
    bt_book_dims_t dims;   /* array sizes of this run */
    void *arena;           /* every array of the table, 64-byte aligned each */
    size_t arena_cap;
    void *state;           /* strategy state, 64-byte aligned, zeroed per run */
    size_t state_cap;
    bt_ctx_t ctx;          /* the strategy's view */
    bt_feed_state_t feed;
    bt_portfolio_state_t pf;
    bt_risk_state_t risk;
    bt_exec_state_t exec;
    bt_curve_state_t curve;
    bool stream_steps;     /* feed bt_macc_step per step (single-book runs) */
    bool rec_equity;       /* write equity records per step (single-book runs) */
    bt_err_t err;          /* BT_ENOMEM while recording */
    bt_recorder_t *rec;    /* where orders/trades go (NULL = none) */
    bt_step_fn on_step;    /* per-step hook (tests) or NULL */
    void *on_step_user;
    bool on_step_fills;    /* on_step only at steps with a fill */
    bt_macc_t macc;        /* metrics of this book (large: its block sums last) */
    bt_recorder_t local;   /* multi-sleeve: sleeve-local recorder */
};

/* Prepares bk for one run: arrays from the table (arena reused when large
 * enough), state reset, the series sliced, the strategy's state zeroed and
 * initialised. multi: a sleeve of a multi-sleeve SINGLE run. */
bt_err_t bt_book_setup(bt_book_t *bk, const bt_run_spec_t *spec, size_t nsym, uint32_t sym0,
                       size_t book_index, double initial, bool multi, bt_errbuf_t *eb);
/* Frees what the book holds (arena, strategy state, local recorder). */
void bt_book_fini(bt_book_t *bk);

/* ---- Small helpers shared by the component modules ---- */

static inline double bt_book_sign(double x)
{
    return (x > 0) - (x < 0);
}

static inline bool bt_book_is_zero(double q, double ref)
{
    return fabs(q) <= 1e-9 * fmax(1.0, fabs(ref));
}

/* Whole units toward zero unless fractional; a value within 1e-9 of a whole
 * number is taken as that number (100 * 0.95 / 0.95 is 100, not 99). */
static inline double bt_book_round_qty(const bt_book_t *bk, double q)
{
    if (bk->cfg->fractional)
        return q;
    double r = nearbyint(q);
    if (fabs(q - r) <= 1e-9 * fmax(1.0, fabs(q)))
        return r;
    return trunc(q);
}

/* Counts a rejected or shrunk order (metrics count from trade_start). */
static inline void bt_book_count_reject(bt_book_t *bk)
{
    if (!bk->feed.warm)
        bt_macc_reject(&bk->macc);
}

#endif
