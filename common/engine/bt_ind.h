/* bt_ind — every indicator behind one interface, looked up by name.
 *
 * An indicator kind is a row of a table (bt_ind_table.c): its parameters
 * with defaults and bounds, its outputs, its inputs, and a streaming update.
 * The array form (bt_ind_array) runs that same update over a whole series,
 * so the two forms give bit-identical values by construction — which is what
 * lets the engine precompute a declared indicator once for a sweep and hand
 * a strategy the value at the current bar without changing a result.
 *
 * Inputs: an indicator reads either one value per bar (its `source`: open,
 * high, low, close, volume or the typical price; x below), the whole bar
 * (ATR, stochastic, OBV, ...), or two series (correlation, hedge ratio: x
 * and y). The kind says which (`input`).
 *
 * Streaming: bt_ind_open prepares an instance in caller-provided memory of
 * bt_ind_state_size bytes (no allocation, so it can live in a strategy's
 * state block); bt_ind_update takes one bar and fills `out`. Values before
 * the indicator is ready are NaN in both forms. */
#ifndef BT_IND_H
#define BT_IND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_strategy.h"

#define BT_IND_MAX_PARAMS 4 /* parameters per kind */
#define BT_IND_MAX_OUT 5    /* outputs per kind (Ichimoku has five) */

typedef enum {
    BT_SRC_CLOSE = 0,
    BT_SRC_OPEN,
    BT_SRC_HIGH,
    BT_SRC_LOW,
    BT_SRC_VOLUME,
    BT_SRC_TYPICAL /* (high + low + close) / 3 */
} bt_ind_source_t;

typedef enum {
    BT_IND_IN_SOURCE = 0, /* one value per bar: the source field (x) */
    BT_IND_IN_BAR,        /* the whole bar (OHLCV and time) */
    BT_IND_IN_PAIR        /* two series x and y (sources of two symbols) */
} bt_ind_input_t;

/* What one update sees. */
typedef struct bt_ind_in {
    const bt_bar_t *bar; /* the bar (BT_IND_IN_BAR; also set for SOURCE) */
    double x;            /* the source value (SOURCE), or the first series (PAIR) */
    double y;            /* the second series (PAIR) */
} bt_ind_in_t;

typedef struct bt_ind_kind {
    const char *name;    /* registry key, snake_case: "sma", "macd", ... */
    const char *summary; /* one line */
    bt_ind_input_t input;
    size_t nparams;
    const bt_param_spec_t *params; /* nparams entries, same schema as strategies */
    size_t nout;
    const char *const *outs; /* nout output names; outs[0] is the main one */
    /* Bytes of state for these parameters (a multiple of 8). */
    size_t (*state_size)(const double *p);
    /* Prepares zeroed state of state_size bytes. Parameters are already
     * within their bounds; a kind checks relations between them here. */
    bt_err_t (*init)(void *st, const double *p, bt_errbuf_t *eb);
    /* One bar: writes nout values (NaN where not ready yet); returns true
     * once the main output is ready. O(1) or amortised O(1); never allocates. */
    bool (*update)(void *st, const bt_ind_in_t *in, double *out);
} bt_ind_kind_t;

/* The table. */
size_t bt_ind_count(void);
const bt_ind_kind_t *bt_ind_at(size_t i);
/* The kind of that name, or NULL. */
const bt_ind_kind_t *bt_ind_find(const char *name);
/* Index of output `name` of kind k, or -1. */
int bt_ind_out_index(const bt_ind_kind_t *k, const char *name);

/* Fills p[nparams] from given values (np of them; missing ones take the
 * default) and checks the bounds; the error names kind and parameter. */
bt_err_t bt_ind_params(const bt_ind_kind_t *k, const double *given, size_t np, double *p,
                       bt_errbuf_t *eb);

/* One streaming instance. */
typedef struct bt_ind {
    const bt_ind_kind_t *kind;
    double p[BT_IND_MAX_PARAMS];
    bt_ind_source_t source; /* for SOURCE kinds (and y's source for PAIR) */
    void *state;
    double out[BT_IND_MAX_OUT]; /* the latest values */
    bool ready;
    uint64_t count; /* bars seen */
} bt_ind_t;

/* Bytes of state an instance of kind k with parameters p needs. */
size_t bt_ind_state_size(const bt_ind_kind_t *k, const double *p);
/* Prepares ind over zeroed memory `state` of bt_ind_state_size bytes.
 * p must have come through bt_ind_params. */
bt_err_t bt_ind_open(bt_ind_t *ind, const bt_ind_kind_t *k, const double *p,
                     bt_ind_source_t source, void *state, bt_errbuf_t *eb);
/* The source value of a bar. */
double bt_ind_source_value(const bt_bar_t *bar, bt_ind_source_t source);
/* Feeds one bar (y: the second series' value, PAIR kinds only). */
bool bt_ind_update(bt_ind_t *ind, const bt_bar_t *bar, double y);

/* Array form: runs the streaming update over n bars (y: n values for PAIR
 * kinds, else NULL) and writes out[j * n + t] for output j at bar t (NaN
 * before ready). Allocates its state on the heap. */
bt_err_t bt_ind_array(const bt_ind_kind_t *k, const double *p, bt_ind_source_t source,
                      const bt_bar_t *bars, const double *y, size_t n, double *out,
                      bt_errbuf_t *eb);

/* Source by name ("close", "open", "high", "low", "volume", "typical");
 * false if unknown. */
bool bt_ind_source_parse(const char *name, bt_ind_source_t *out);

#endif
