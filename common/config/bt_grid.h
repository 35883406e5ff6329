/* bt_grid — the parameter grid of a sweep, from a config's sweep: section.
 *
 * Axes come in file order; the last axis varies fastest. A point is named by
 * its raw index in the full product (0 .. bt_grid_size()-1), so job ids are
 * stable whatever the constraints prune; bt_grid_next() skips pruned points.
 * Nothing is materialised: a point's values are decoded from its index.
 * Range axes give from + i*step (no accumulated rounding), `to` included
 * when it lands on the step grid (within 1e-9 of a step).
 *
 * Constraints are comparisons "A op B" with op one of < <= > >= == !=, each
 * side a dotted key (a sweep axis or any numeric key of the config) or a
 * number, e.g. "params.fast < params.slow" or "params.period >= 10". */
#ifndef BT_GRID_H
#define BT_GRID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_config.h"
#include "bt_err.h"

typedef struct bt_grid bt_grid_t;

/* Builds the grid of c's sweep: section (one point if there is none).
 * Refuses (BT_ELIMIT) a full product above bt_config_max_grid(c) unless
 * allow_huge; BT_ECONFIG for a bad constraint, naming FILE:LINE. The size is
 * computed overflow-safely before anything else; with constraints the grid is
 * scanned once to count the surviving points. */
bt_grid_t *bt_grid_new(const bt_config_t *c, bool allow_huge, bt_errbuf_t *eb);
void bt_grid_destroy(bt_grid_t **self_p);
/* Checks the sweep: section (constraints parse, size fits in 64 bits)
 * without counting or refusing by max_grid: for commands that ignore the
 * sweep but should still reject a broken config. */
bt_err_t bt_grid_check(const bt_config_t *c, bt_errbuf_t *eb);

uint64_t bt_grid_size(const bt_grid_t *g);  /* full product, before pruning */
uint64_t bt_grid_count(const bt_grid_t *g); /* points that pass the constraints */

size_t bt_grid_naxes(const bt_grid_t *g);
const char *bt_grid_axis_key(const bt_grid_t *g, size_t a);
size_t bt_grid_axis_len(const bt_grid_t *g, size_t a);
bool bt_grid_axis_is_symbols(const bt_grid_t *g, size_t a);
/* Value j of a numeric axis, in user units (for a symbols axis: j). */
double bt_grid_axis_value(const bt_grid_t *g, size_t a, size_t j);
/* Symbol set j of a data.symbols axis. */
const char *const *bt_grid_axis_symbols(const bt_grid_t *g, size_t a, size_t j, size_t *n);

/* Decodes raw (< size) into naxes value indices; returns whether the point
 * passes the constraints. */
bool bt_grid_point(const bt_grid_t *g, uint64_t raw, size_t *idx);
/* Sets *raw to the first surviving point >= *raw; false when there is none. */
bool bt_grid_next(const bt_grid_t *g, uint64_t *raw);
/* Writes point raw's values into c (a copy of the grid's config), re-validated. */
bt_err_t bt_grid_apply(const bt_grid_t *g, uint64_t raw, bt_config_t *c, bt_errbuf_t *eb);
/* "params.fast=10 params.slow=50" (symbols as [A,B]); returns buf. */
char *bt_grid_label(const bt_grid_t *g, uint64_t raw, char *buf, size_t cap);

#endif
