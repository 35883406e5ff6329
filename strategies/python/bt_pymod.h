/* bt_pymod — the embedded Python, built as a module of its own (bt_python.so)
 * so that only a process that runs a Python strategy maps libpython (~8 ms
 * of every bt and bt-worker start otherwise). bt_pystrat (strategies/) opens
 * it on first use and calls it through this table; the module calls the
 * engine (bt_signal, bt_ind_*, bt_errf, ...) in the program that opened it,
 * which exports its symbols (-rdynamic) as it does for strategy plug-ins. */
#ifndef BT_PYMOD_H
#define BT_PYMOD_H

#include <stdbool.h>

#include "bt_err.h"
#include "bt_strategy.h"

/* Changes whenever the table below does: a module of another build is refused. */
#define BT_PYMOD_ABI 1
/* The one symbol the module exports for its opener. */
#define BT_PYMOD_ENTRY "bt_pymod_api"

/* Each is bt_pystrat.h's function of the same name. */
typedef struct {
    int abi; /* BT_PYMOD_ABI */
    const bt_strategy_t *(*load)(const char *path, const char *cls, bt_errbuf_t *eb);
    bool (*is)(const bt_strategy_t *s);
    bt_err_t (*take_error)(const bt_strategy_t *s, bt_errbuf_t *eb);
    void (*set_call_limit)(double seconds);
    void (*release_all)(void);
} bt_pymod_api_t;

/* The module is built with hidden symbols but this one. */
__attribute__((visibility("default"))) const bt_pymod_api_t *bt_pymod_api(void);

#endif
