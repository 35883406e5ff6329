/* bt_pystrat — strategies written in Python, run by the C engine through an
 * embedded CPython (one interpreter per process, the GIL held only around
 * Python calls).
 *
 * A Python strategy is a class in a .py file (docs/python.md): `params`
 * (name -> (default, min, max[, help])), `init(self)` declaring indicators
 * with self.indicator(kind, *params, source=, sym=) — computed in C by
 * bt_ind before each on_bar — and `on_bar(self, ctx)`, optional
 * `on_fill(self, ctx, fill)`. It acts through ctx.signal / ctx.order /
 * ctx.cancel, which are bt_signal / bt_order / bt_cancel.
 *
 * Loading gives an ordinary bt_strategy_t, so the engine, config, sweeps
 * and workers treat it like any strategy. Each job (each init) executes the
 * file in a fresh module namespace and makes a fresh instance: nothing a job
 * does to module globals is seen by another job. A Python exception in
 * init fails the job at once; in on_bar/on_fill it stops the strategy's
 * calls for the rest of the run and bt_pystrat_take_error reports it with
 * the traceback. Callers run Python strategies single-threaded
 * (bt_pystrat_is), which keeps results identical at any thread count.
 *
 * The interpreter and everything that touches it live in bt_python.so
 * (strategies/python, bt_pymod.h), opened on the first load: a process that
 * never loads a Python strategy never maps libpython. The module is looked
 * for next to the program, then in the installed library folder
 * (LIBDIR/backtester); without it a load fails with a message naming both. */
#ifndef BT_PYSTRAT_H
#define BT_PYSTRAT_H

#include <stdbool.h>

#include "bt_err.h"
#include "bt_strategy.h"

/* The config layer passes a Python strategy to the strategy loader as
 * "python:CLASS:PATH" (bt_strategy_load understands it). */
#define BT_PYSTRAT_PREFIX "python:"

/* Most Python strategies one process can load (distinct file + class). */
#define BT_PYSTRAT_MAX 16

/* Loads class `cls` from the Python file at path: compiles the file, reads
 * the class's params, kind and docstring. The table lives for the process;
 * loading the same path and class twice gives the same table. NULL with a
 * message (the Python traceback when the file fails) in eb. */
const bt_strategy_t *bt_pystrat_load(const char *path, const char *cls, bt_errbuf_t *eb);

/* Parses "python:CLASS:PATH" and loads it; NULL with a message if spec
 * does not have that shape. */
const bt_strategy_t *bt_pystrat_load_spec(const char *spec, bt_errbuf_t *eb);

/* True if s came from bt_pystrat_load (run it with one thread). */
bool bt_pystrat_is(const bt_strategy_t *s);

/* After a run of s: BT_OK, or BT_ESTRATEGY with the first Python error of
 * that run (with traceback) in eb; clears it. BT_OK for non-Python s. */
bt_err_t bt_pystrat_take_error(const bt_strategy_t *s, bt_errbuf_t *eb);

/* Limit on one Python call (init, on_bar, on_fill) for this process:
 * a call running longer gets a TimeoutError raised inside it (checked ten
 * times a second), which fails its job. 0 = no limit; the default is 30 s.
 * bt run and workers set it from the config's strategy_python_timeout. */
void bt_pystrat_set_call_limit(double seconds);

/* Drops every Python instance still held from finished runs (optional: a
 * state block's instance is also dropped when that block is re-initialised). */
void bt_pystrat_release_all(void);

#endif
