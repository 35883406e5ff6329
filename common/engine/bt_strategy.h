/* bt_strategy — the strategy API: the only header a strategy includes.
 *
 * A strategy is a table of functions registered by name. It sees one step
 * at a time: the bars of the current step (never a later one) plus what it
 * kept itself in its state block, which the engine allocates, zeroes and
 * owns. It acts by signals (target exposure, sized and risk-checked by the
 * engine) or explicit orders. Nothing in on_bar may allocate, log or do I/O. */
#ifndef BT_STRATEGY_H
#define BT_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

#define BT_STRATEGY_ABI 2 /* bumped when this header changes incompatibly (2: bt_strategy_t.fast) */
#define BT_MAX_PARAMS 16  /* parameters per strategy */

/* One bar of one symbol. */
typedef struct bt_bar {
    int64_t time; /* ns since epoch UTC */
    double open, high, low, close, volume;
} bt_bar_t;

typedef enum { BT_PARAM_INT = 0, BT_PARAM_REAL = 1 } bt_param_type_t;

typedef struct bt_param_spec {
    const char *name;     /* snake_case, unique within the strategy */
    bt_param_type_t type; /* INT values are whole numbers stored as double */
    double def;           /* default */
    double min, max;      /* inclusive bounds */
    const char *help;     /* one line */
} bt_param_spec_t;

typedef enum {
    BT_STRAT_SINGLE = 0,   /* trades one symbol; several symbols = one sleeve each */
    BT_STRAT_PORTFOLIO = 1 /* sees all symbols at once in one book */
} bt_strat_kind_t;

typedef enum { BT_ORD_MARKET = 0, BT_ORD_LIMIT, BT_ORD_STOP, BT_ORD_STOP_LIMIT } bt_order_type_t;
typedef enum { BT_TIF_GTC = 0, BT_TIF_DAY } bt_tif_t;

/* An explicit order. qty is signed: > 0 buys, < 0 sells. */
typedef struct bt_order_req {
    uint32_t sym;         /* index into the strategy's symbols */
    double qty;           /* shares/units, signed */
    bt_order_type_t type; /* market, limit, stop, stop-limit */
    double limit;         /* limit price (LIMIT, STOP_LIMIT) */
    double stop;          /* stop trigger price (STOP, STOP_LIMIT) */
    bt_tif_t tif;         /* GTC, or DAY: cancelled if not filled by the end of the next bar's day */
    double stop_loss;     /* attached protective stop price once filled; 0 = none */
    double take_profit;   /* attached take-profit limit price once filled; 0 = none */
    double trail_pct;     /* attached trailing stop, fraction below the high-water (long); 0 = none */
} bt_order_req_t;

/* A fill, as reported to on_fill. */
typedef struct bt_fill {
    int64_t order_id;
    uint32_t sym;
    int64_t time;      /* time of the bar it filled on */
    double qty;        /* signed quantity filled */
    double price;      /* fill price after slippage */
    double commission; /* commission charged for this fill */
} bt_fill_t;

/* Calendar flags of a step: set when this step is the first of a new
 * UTC day / ISO week / month / year compared with the previous step. */
enum {
    BT_CAL_NEW_DAY = 1u << 0,
    BT_CAL_NEW_WEEK = 1u << 1,
    BT_CAL_NEW_MONTH = 1u << 2,
    BT_CAL_NEW_YEAR = 1u << 3
};

/* The strategy's view of the current step. Fields are read-only for the
 * strategy; the engine updates them before each call. */
typedef struct bt_ctx {
    size_t nsym;            /* symbols in this book (1 for a SINGLE sleeve) */
    size_t step;            /* index of the current step, from 0 */
    int64_t time;           /* time of the current step */
    unsigned calendar;      /* BT_CAL_* flags of this step (0 on the first step) */
    const bt_bar_t *bar;    /* nsym bars; bar[i] is current only if has_bar[i] */
    const uint8_t *has_bar; /* nsym flags: symbol i has a bar at this step */
    const double *position; /* nsym signed quantities held */
    double cash;            /* cash now */
    double equity;          /* cash + positions at this step's closes */
    void *engine;           /* private to the engine */
} bt_ctx_t;

/* Signal: the strategy wants symbol sym at `target` units of exposure:
 * +1 fully long, -1 fully short (if shorting is allowed), 0 flat; values in
 * between scale the position. What "fully" means is the config's sizing
 * (percent of equity, percent of cash, fixed quantity, or target weight).
 * The engine sizes it from this bar's close, passes it through risk, and
 * places a market order for the difference from the current position. */
void bt_signal(bt_ctx_t *ctx, uint32_t sym, double target);

/* Places an explicit order (still risk-checked). Returns its id (> 0), or
 * 0 if it was refused at once (the refusal is recorded with its reason). */
int64_t bt_order(bt_ctx_t *ctx, const bt_order_req_t *req);
/* Cancels an open order; false if it is no longer open. */
bool bt_cancel(bt_ctx_t *ctx, int64_t order_id);

/* Changes an open order of the strategy in place: same id, same place in
 * the queue, no cancel/replace (docs/engine.md "Modifying orders"). qty is
 * the new remaining quantity, same sign as before (0 keeps it); limit and
 * stop are new prices for types that use them (0 keeps them). A larger
 * quantity passes the risk limits again. Returns false, leaving the order as
 * it was, if the order is not open or the change is invalid or refused. */
bool bt_modify(bt_ctx_t *ctx, int64_t order_id, double limit, double stop, double qty);

/* How an attached trailing stop keeps its distance from the best price
 * since entry (high-water for a long, low-water for a short). */
typedef enum {
    BT_TRAIL_PCT = 0,    /* value = fraction of the water mark (as trail_pct) */
    BT_TRAIL_AMOUNT = 1, /* value = price distance */
    BT_TRAIL_ATR = 2     /* value = multiple of the Wilder ATR of atr_period bars */
} bt_trail_mode_t;

typedef struct bt_trail {
    bt_trail_mode_t mode;
    double value;        /* > 0; BT_TRAIL_PCT: < 1 */
    uint32_t atr_period; /* BT_TRAIL_ATR: 1..1000; 0 = 14 */
} bt_trail_t;

/* bt_order with an attached trailing stop of any mode (req->trail_pct must
 * be 0). The ATR is the engine's own, from the bars before each bar the
 * stop is checked on (docs/engine.md "Trailing stops"). */
int64_t bt_order_trail(bt_ctx_t *ctx, const bt_order_req_t *req, const bt_trail_t *trail);

/* ---- Optional: the grid fast path (docs/engine.md "Grid fast path") ----
 *
 * A SINGLE strategy whose signals are a pure function of indicator values
 * (never of its position, cash or fills) may declare those indicators and
 * give `decide`, the same decisions as on_bar made over precomputed columns.
 * A sweep then computes each distinct declared indicator once per symbol
 * and worker (bt_ind's array form: the same update as the streaming form,
 * so the same bits) and runs many grid points bar-major with the engine's
 * own fill, sizing, accounting and metrics code. Results are bit-identical
 * to on_bar; a strategy without `fast` runs only through on_bar. */
#define BT_DECL_MAX 4          /* indicators one strategy may declare */
#define BT_FAST_STATE_BYTES 64 /* decide's own state, zeroed before bar 0 */

/* One declared indicator: a bt_ind kind by name with its parameters. */
typedef struct bt_decl {
    const char *kind; /* bt_ind kind name: "sma", "ema", "rsi", "bollinger", "highest", ... */
    double p[4];      /* its parameters in its table order; np of them given */
    uint32_t np;      /* the rest take the kind's defaults */
    uint32_t source;  /* bt_ind_source_t of the input: 0 = close */
    uint32_t out;     /* which output (0 = the main one) */
} bt_decl_t;

typedef struct bt_fast {
    /* Fills decl for these parameters; returns how many (<= BT_DECL_MAX). */
    size_t (*declare)(const double *params, bt_decl_t *decl);
    /* Bars [i0, i1) of a series, in order over successive calls from i0 = 0:
     * v[j][i] is declared indicator j at bar i (NaN before it is ready) and
     * v[ndecl][i] the close. The decision at bar i may read index i and
     * earlier only (tests/unit/test_batch.c checks it). Writes each bar at
     * which on_bar would call bt_signal(ctx, 0, target) to at[] with the
     * target, in order; returns the count. st: BT_FAST_STATE_BYTES. */
    size_t (*decide)(void *st, const double *params, const double *const *v, size_t i0,
                     size_t i1, uint32_t *at, double *target);
} bt_fast_t;

typedef struct bt_strategy {
    const char *name;    /* registry key, snake_case */
    const char *summary; /* one line for `bt strategies` */
    bt_strat_kind_t kind;
    const bt_param_spec_t *params; /* nparams entries */
    size_t nparams;
    /* Bytes of state for these parameters and nsym symbols. */
    size_t (*state_size)(const double *params, size_t nsym);
    /* Prepares zeroed state. Returns BT_OK, or an error with a message in eb
     * naming the parameter (e.g. "fast (50) must be less than slow (20)"). */
    bt_err_t (*init)(void *state, const double *params, size_t nsym, bt_errbuf_t *eb);
    /* Called once per step with the step's bars. */
    void (*on_bar)(void *state, bt_ctx_t *ctx);
    /* Called for each fill; may be NULL. */
    void (*on_fill)(void *state, bt_ctx_t *ctx, const bt_fill_t *fill);
    /* The grid fast path (above); NULL = on_bar only. */
    const bt_fast_t *fast;
} bt_strategy_t;

#endif
