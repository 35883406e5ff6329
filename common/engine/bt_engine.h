/* bt_engine — one event-driven backtest of one parameter set.
 *
 * Takes bar series and a parameter block, returns metrics (and, when asked,
 * the full record for `bt run`). Knows no file format, socket or YAML.
 * Per step: MARKET (the step's bars) -> FILL (resting orders against the new
 * bar) -> mark to market, risk exits -> strategy -> SIGNAL -> risk/sizing
 * -> ORDER. Nothing is allocated, logged or read per bar. */
#ifndef BT_ENGINE_H
#define BT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_metrics.h"
#include "bt_recorder.h"
#include "bt_series.h"
#include "bt_strategy.h"

typedef enum { BT_FILL_NEXT_OPEN = 0, BT_FILL_SAME_CLOSE = 1 } bt_fill_at_t;
typedef enum {
    BT_SIZE_PCT_EQUITY = 0, /* size_value = fraction of equity per unit signal */
    BT_SIZE_PCT_CASH,       /* size_value = fraction of available cash */
    BT_SIZE_FIXED,          /* size_value = quantity per unit signal */
    BT_SIZE_TARGET_WEIGHT   /* signal is the weight of equity itself */
} bt_sizing_t;
typedef enum {
    BT_SIZE_AT_CLOSE = 0, /* signals sized from the decision bar's close (default) */
    BT_SIZE_AT_FILL = 1   /* re-sized at the fill price, commission included, within cash */
} bt_size_at_t;
typedef enum {
    BT_RISK_SLEEVE = 0, /* limits of a SINGLE strategy on several symbols apply per sleeve */
    BT_RISK_ACCOUNT = 1 /* drawdown kill switch and exposure limits over all sleeves together */
} bt_risk_scope_t;
typedef enum { BT_REBAL_NONE = 0, BT_REBAL_DAILY, BT_REBAL_WEEKLY, BT_REBAL_MONTHLY } bt_rebalance_t;

/* Every field is a plain number so any of them can be a sweep axis. Rates
 * are fractions (0.001 = 0.1 %); the YAML layer converts user units. */
typedef struct bt_engine_cfg {
    double initial_cash;         /* whole account; SINGLE sleeves get an equal share each */
    bt_fill_at_t fill_at;        /* market orders: next bar's open (default) or this close */
    double slippage_bps;         /* adverse price move applied to every fill */
    double commission_rate;      /* fraction of traded value */
    double commission_per_share; /* per unit traded */
    double commission_min;       /* minimum per order (charged on its first fill) */
    double volume_cap;           /* max fraction of a bar's volume one order fills; 0 = off */
    bool allow_margin;           /* buys may cost more than cash */
    bool allow_short;            /* sells below zero open shorts */
    double margin_requirement;   /* fraction of short market value that must be covered by equity */
    bt_sizing_t sizing;
    double size_value;
    bool fractional;             /* fractional quantities; else whole units rounded down */
    double max_position;         /* risk: max |position value| / equity per symbol; 0 = off */
    double max_leverage;         /* risk: max gross exposure / equity; 0 = off */
    int max_positions;           /* risk: max symbols held at once; 0 = off */
    double stop_loss;            /* risk: exit at this fraction below entry (above for shorts); 0 = off */
    double take_profit;          /* risk: exit at this fraction above entry; 0 = off */
    double trailing_stop;        /* risk: exit this fraction below the high-water; 0 = off */
    double max_drawdown;         /* risk: kill switch, flatten and stop at this drawdown; 0 = off */
    bt_rebalance_t rebalance;    /* re-apply last target weights on this calendar */
    double risk_free_rate;       /* annual, for Sharpe and Sortino */
    bool close_at_end;           /* close open positions at the last bar's close */
    int64_t start, end;          /* inclusive time range; INT64_MIN / INT64_MAX = open */
    int pbo_blocks;              /* blocks of per-step return stats for PBO (even, 2..32; 0 = off) */
    int64_t trade_start;         /* warm-up: bars in [start, trade_start) feed the strategy but
                                  * nothing trades or is measured; INT64_MIN = off */
    bt_size_at_t size_at;        /* when signals are sized: decision close or fill price */
    bt_risk_scope_t risk_scope;  /* sleeve or account: where SINGLE strategies' limits apply */
} bt_engine_cfg_t;

void bt_engine_cfg_defaults(bt_engine_cfg_t *cfg);

/* ---- Optional full record (bt run): bt_recorder_t in bt_recorder.h ---- */

/* ---- Per-step hook (tests, debugging) ---- */

/* One fill of the current step, as seen by the step hook. */
typedef struct bt_step_fill {
    int64_t order_id; /* id within the book (sleeve-local for SINGLE runs) */
    uint32_t sym;     /* index into the run's series */
    int64_t decided;  /* time of the decision bar (the bar before, for engine exits) */
    int64_t time;     /* time of the bar it filled on */
    double qty;       /* signed */
    double price;     /* after slippage */
    double commission;
} bt_step_fill_t;

/* State of one book after a step (a SINGLE sleeve, or the PORTFOLIO book). */
typedef struct bt_step_info {
    size_t book;                 /* sleeve index for SINGLE runs; 0 for PORTFOLIO */
    size_t step;                 /* step index within the book, from 0 */
    int64_t time;                /* time of the step */
    size_t nsym;                 /* symbols in the book */
    uint32_t sym0;               /* run series index of the book's symbol 0 */
    const double *position;      /* nsym signed quantities */
    const double *close;         /* nsym last closes (this step's if it had a bar; 0 if none yet) */
    double cash;
    double equity;               /* cash + sum(position * close) */
    const bt_step_fill_t *fills; /* the fills of this step */
    size_t nfills;
} bt_step_info_t;

/* Called once per book step after the equity point. For SINGLE runs on
 * several symbols it is called from several threads at once (one sleeve per
 * call): the callee must be thread-safe. */
typedef void (*bt_step_fn)(void *user, const bt_step_info_t *info);

/* ---- Running ---- */

typedef struct bt_run_spec {
    const bt_series_t *series;     /* nsym series (already sliced or not; cfg.start/end apply) */
    size_t nsym;
    const bt_strategy_t *strategy;
    const double *params;          /* strategy->nparams values */
    const bt_engine_cfg_t *cfg;
    int threads;                   /* OpenMP threads across sleeves; 0 = OpenMP default */
    bt_recorder_t *rec;            /* NULL unless the caller wants every order/trade/equity point */
    bt_step_fn on_step;            /* optional per-step hook (tests); NULL in normal runs */
    void *on_step_user;            /* passed to on_step */
    bool on_step_fills;            /* on_step only at steps with a fill (positions change only
                                    * there): bt run's position collector */
    double *blocks_out;            /* optional: 3 * cfg->pbo_blocks doubles, per block count, sum
                                    * and sum of squares of per-step returns (docs/overfitting.md) */
    bool read_window;              /* one symbol: its bars read from the store file a window at a
                                    * time (bt_loop_single_window), not through the mapping: bt
                                    * run's one pass; same results */
} bt_run_spec_t;

typedef struct bt_engine bt_engine_t; /* reusable scratch; one per thread that runs backtests */

bt_engine_t *bt_engine_new(void);
void bt_engine_destroy(bt_engine_t **self_p);

/* Runs one backtest. Results are identical for any thread count. */
bt_err_t bt_engine_run(bt_engine_t *eng, const bt_run_spec_t *spec, bt_metrics_t *out,
                       bt_errbuf_t *eb);

/* The checks bt_engine_run makes before running (spec, parameters, cfg);
 * the grid fast path (bt_grid) makes the same ones. */
bt_err_t bt_engine_check(const bt_run_spec_t *spec, bt_errbuf_t *eb);
/* benchmark_return of a run: buy-and-hold of its symbols, equal weight. */
double bt_engine_benchmark(const bt_run_spec_t *spec);
/* The number of equity points a run of spec records (spec->rec): the steps of its symbols'
 * bars in [cfg.start, cfg.end] at or after cfg.trade_start. SIZE_MAX when out of memory. */
size_t bt_engine_record_steps(const bt_run_spec_t *spec);

#endif
