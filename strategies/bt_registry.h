/* bt_registry — the built-in strategies by name, and user strategies loaded
 * from shared libraries.
 *
 * Adding a built-in: write strategies/<name>.c defining
 * `const bt_strategy_t bt_strategy_<name>` and add one X(<name>) line to
 * BT_BUILTIN_STRATEGIES in bt_registry.c. See strategies/README.md. */
#ifndef BT_REGISTRY_H
#define BT_REGISTRY_H

#include <stddef.h>

#include "bt_err.h"
#include "bt_strategy.h"

/* The built-in strategy called name, or NULL. */
const bt_strategy_t *bt_strategy_find(const char *name);
/* Number of built-ins, and the i-th (registry order), NULL past the end. */
size_t bt_strategy_count(void);
const bt_strategy_t *bt_strategy_at(size_t i);
/* The whole built-in table (bt_strategy_count() entries), e.g. for
 * bt_config_load's strategy list. */
const bt_strategy_t *const *bt_strategy_table(void);

/* Loads a user strategy from a shared library (dlopen). The library must
 * export `int bt_strategy_abi(void)` returning BT_STRATEGY_ABI and
 * `const bt_strategy_t *bt_strategy_entry(void)`. The table is checked with
 * bt_strategy_validate. Returns NULL with a message in eb on any failure.
 * The library stays loaded for the life of the process (the table lives in
 * it). Loading the same path twice gives the same table. */
const bt_strategy_t *bt_strategy_load(const char *path_so, bt_errbuf_t *eb);

/* Checks a strategy table: a snake_case name, a summary, a known kind, the
 * function pointers state_size/init/on_bar, at most BT_MAX_PARAMS
 * parameters with unique snake_case names, a help line, min <= def <= max
 * and whole-number bounds/defaults for INT parameters. BT_ESTRATEGY with a
 * message naming the field otherwise. */
bt_err_t bt_strategy_validate(const bt_strategy_t *s, bt_errbuf_t *eb);

/* Writes the strategy's default parameter values into params
 * (s->nparams entries). */
void bt_strategy_defaults(const bt_strategy_t *s, double *params);

/* Index of parameter name in s->params, or -1. */
int bt_strategy_param_index(const bt_strategy_t *s, const char *name);

#endif
