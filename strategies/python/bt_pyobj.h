/* bt_pyobj — the Python types behind bt_pystrat (private to it): the
 * built-in module `backtester` with Strategy, Indicator, Ctx and Fill. */
#ifndef BT_PYOBJ_H
#define BT_PYOBJ_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include "bt_ind.h"
#include "bt_strategy.h"

typedef struct bt_pyinst bt_pyinst_t;

typedef struct {
    PyObject_HEAD PyObject *dict; /* instance attributes */
    bt_pyinst_t *inst;            /* set while the engine runs it; NULL otherwise */
} bt_pystrat_obj_t;

/* How an indicator gets its values. */
typedef enum {
    BT_PYFEED_BAR = 0, /* the engine feeds symbol `sym`'s bar before each on_bar */
    BT_PYFEED_PAIR,    /* the engine feeds x = sym's source, y = other's, when both have a bar */
    BT_PYFEED_MANUAL   /* the strategy calls ind.update(x[, y]) itself */
} bt_pyfeed_t;

typedef struct {
    PyObject_HEAD bt_ind_t ind; /* the streaming instance */
    void *st;                   /* its state (PyMem) */
    uint32_t sym;               /* symbol it reads (x for a pair) */
    uint32_t other;             /* the pair's second symbol (y), BT_PYFEED_PAIR only */
    bt_pyfeed_t feed;           /* who feeds it */
} bt_pyind_obj_t;

typedef struct {
    PyObject_HEAD bt_ctx_t *ctx; /* valid during one on_bar/on_fill call, else NULL */
} bt_pyctx_obj_t;

struct bt_pyinst {
    struct s_py *py;     /* the strategy */
    void *state;         /* the engine's state block it belongs to */
    size_t nsym;         /* symbols of its book */
    PyObject *module;    /* this job's module namespace */
    PyObject *self;      /* the strategy object */
    PyObject *on_bar;    /* bound method */
    PyObject *on_fill;   /* bound method or NULL */
    bt_pyctx_obj_t *ctx; /* reused Ctx object */
    PyObject *inds;      /* list of Indicator objects declared in init */
    bool in_init;        /* indicator() allowed */
    bool failed;         /* an exception stopped it */
};

extern PyTypeObject bt_pystrat_type; /* backtester.Strategy */
extern PyTypeObject bt_pyind_type;   /* backtester.Indicator */
extern PyTypeObject bt_pyctx_type;   /* backtester.Ctx */
extern PyTypeObject *bt_pyfill_type; /* backtester.Fill (made by bt_pymod_init) */

/* The module's init function, for PyImport_AppendInittab. */
PyObject *bt_pymod_init(void);

#endif
