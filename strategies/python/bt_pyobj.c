/* bt_pyobj — the Python types of the embedded `backtester` module (see
 * bt_pyobj.h); bt_pystrat.c runs them. */
#include "bt_pyobj.h"

#include <math.h>
#include <string.h>

/* ---- Indicator ---- */

static void s_ind_dealloc(PyObject *o)
{
    bt_pyind_obj_t *io = (bt_pyind_obj_t *)o;
    PyMem_Free(io->st);
    Py_TYPE(o)->tp_free(o);
}

static PyObject *s_ind_value(PyObject *o, void *unused)
{
    return PyFloat_FromDouble(((bt_pyind_obj_t *)o)->ind.out[0]);
}

static PyObject *s_ind_ready(PyObject *o, void *unused)
{
    return PyBool_FromLong(((bt_pyind_obj_t *)o)->ind.ready);
}

static PyObject *s_ind_count(PyObject *o, void *unused)
{
    return PyLong_FromUnsignedLongLong(((bt_pyind_obj_t *)o)->ind.count);
}

static PyObject *s_ind_values(PyObject *o, void *unused)
{
    const bt_ind_t *ind = &((bt_pyind_obj_t *)o)->ind;
    PyObject *t = PyTuple_New((Py_ssize_t)ind->kind->nout);
    for (size_t i = 0; t && i < ind->kind->nout; i++)
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, PyFloat_FromDouble(ind->out[i]));
    return t;
}

/* ind["upper"] or ind[1]: one output. */
static PyObject *s_ind_getitem(PyObject *o, PyObject *key)
{
    const bt_ind_t *ind = &((bt_pyind_obj_t *)o)->ind;
    long j = -1;
    if (PyUnicode_Check(key)) {
        j = bt_ind_out_index(ind->kind, PyUnicode_AsUTF8(key));
    } else if (PyLong_Check(key)) {
        j = PyLong_AsLong(key);
        if (j < 0)
            j += (long)ind->kind->nout;
    }
    if (j < 0 || j >= (long)ind->kind->nout) {
        PyErr_Format(PyExc_KeyError, "indicator %s has no output %R", ind->kind->name, key);
        return NULL;
    }
    return PyFloat_FromDouble(ind->out[j]);
}

static PyObject *s_ind_float(PyObject *o)
{
    return s_ind_value(o, NULL);
}

/* ind.update(x[, y]): feeds a manual indicator one value (or pair) in C. */
static PyObject *s_ind_update(PyObject *o, PyObject *args)
{
    bt_pyind_obj_t *io = (bt_pyind_obj_t *)o;
    double x, y = 0.0;
    if (!PyArg_ParseTuple(args, "d|d", &x, &y))
        return NULL;
    if (io->feed != BT_PYFEED_MANUAL) {
        PyErr_Format(PyExc_RuntimeError,
                     "indicator %s is fed by the engine each bar; declare it with manual=True "
                     "to feed it yourself",
                     io->ind.kind->name);
        return NULL;
    }
    if (io->ind.kind->input == BT_IND_IN_PAIR && PyTuple_GET_SIZE(args) < 2) {
        PyErr_Format(PyExc_TypeError, "indicator %s reads two series: update(x, y)",
                     io->ind.kind->name);
        return NULL;
    }
    /* source is close for manual indicators, so x is read from .close */
    bt_bar_t b = {.open = x, .high = x, .low = x, .close = x};
    return PyBool_FromLong(bt_ind_update(&io->ind, &b, y));
}

static PyMethodDef s_ind_methods[] = {
    {"update", s_ind_update, METH_VARARGS,
     "update(x[, y]) -> ready: feed a manual=True indicator one value (y: pair kinds)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef s_ind_getset[] = {
    {"value", s_ind_value, NULL, "main output at this bar (NaN until ready)", NULL},
    {"ready", s_ind_ready, NULL, "main output is ready", NULL},
    {"count", s_ind_count, NULL, "bars seen", NULL},
    {"values", s_ind_values, NULL, "every output at this bar", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static PyMappingMethods s_ind_map = {.mp_subscript = s_ind_getitem};
static PyNumberMethods s_ind_num = {.nb_float = s_ind_float};

PyTypeObject bt_pyind_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "backtester.Indicator",
    .tp_basicsize = sizeof(bt_pyind_obj_t),
    .tp_dealloc = s_ind_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "an indicator computed in C, updated before each on_bar",
    .tp_getset = s_ind_getset,
    .tp_methods = s_ind_methods,
    .tp_as_mapping = &s_ind_map,
    .tp_as_number = &s_ind_num,
};

/* ---- Ctx ---- */

static bt_ctx_t *s_ctx_get(PyObject *o)
{
    bt_ctx_t *c = ((bt_pyctx_obj_t *)o)->ctx;
    if (!c)
        PyErr_SetString(PyExc_RuntimeError,
                        "ctx is only valid during the on_bar/on_fill call it was passed to");
    return c;
}

static int s_sym_ok(const bt_ctx_t *c, long sym)
{
    if (sym < 0 || (size_t)sym >= c->nsym) {
        PyErr_Format(PyExc_IndexError, "symbol index %ld out of range (this book has %zu)", sym,
                     c->nsym);
        return 0;
    }
    return 1;
}

#define S_CTX_NUM(fname, expr)                                                                     \
    static PyObject *s_ctx_##fname(PyObject *o, void *unused)                                      \
    {                                                                                              \
        bt_ctx_t *c = s_ctx_get(o);                                                                \
        return c ? (expr) : NULL;                                                                  \
    }
S_CTX_NUM(step, PyLong_FromSize_t(c->step))
S_CTX_NUM(time, PyLong_FromLongLong(c->time))
S_CTX_NUM(nsym, PyLong_FromSize_t(c->nsym))
S_CTX_NUM(calendar, PyLong_FromUnsignedLong(c->calendar))
S_CTX_NUM(cash, PyFloat_FromDouble(c->cash))
S_CTX_NUM(equity, PyFloat_FromDouble(c->equity))
S_CTX_NUM(open, PyFloat_FromDouble(c->bar[0].open))
S_CTX_NUM(high, PyFloat_FromDouble(c->bar[0].high))
S_CTX_NUM(low, PyFloat_FromDouble(c->bar[0].low))
S_CTX_NUM(close, PyFloat_FromDouble(c->bar[0].close))
S_CTX_NUM(volume, PyFloat_FromDouble(c->bar[0].volume))
S_CTX_NUM(position, PyFloat_FromDouble(c->position[0]))
S_CTX_NUM(has_bar0, PyBool_FromLong(c->has_bar == NULL || c->has_bar[0]))

static PyGetSetDef s_ctx_getset[] = {
    {"step", s_ctx_step, NULL, "index of this step", NULL},
    {"time", s_ctx_time, NULL, "ns since epoch UTC", NULL},
    {"nsym", s_ctx_nsym, NULL, "symbols in this book", NULL},
    {"calendar", s_ctx_calendar, NULL, "new day/week/month/year flags (1, 2, 4, 8)", NULL},
    {"cash", s_ctx_cash, NULL, "cash now", NULL},
    {"equity", s_ctx_equity, NULL, "cash + positions at this step's closes", NULL},
    {"open", s_ctx_open, NULL, "symbol 0's open", NULL},
    {"high", s_ctx_high, NULL, "symbol 0's high", NULL},
    {"low", s_ctx_low, NULL, "symbol 0's low", NULL},
    {"close", s_ctx_close, NULL, "symbol 0's close", NULL},
    {"volume", s_ctx_volume, NULL, "symbol 0's volume", NULL},
    {"position", s_ctx_position, NULL, "symbol 0's signed quantity held", NULL},
    {"has_bar", s_ctx_has_bar0, NULL, "symbol 0 has a bar at this step", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ctx.bar(sym) -> (time, open, high, low, close, volume) or None */
static PyObject *s_ctx_bar(PyObject *o, PyObject *args)
{
    long sym = 0;
    bt_ctx_t *c = s_ctx_get(o);
    if (!c || !PyArg_ParseTuple(args, "|l", &sym) || !s_sym_ok(c, sym))
        return NULL;
    if (c->has_bar && !c->has_bar[sym])
        Py_RETURN_NONE;
    const bt_bar_t *b = &c->bar[sym];
    return Py_BuildValue("(Lddddd)", (long long)b->time, b->open, b->high, b->low, b->close,
                         b->volume);
}

static PyObject *s_ctx_pos(PyObject *o, PyObject *args)
{
    long sym = 0;
    bt_ctx_t *c = s_ctx_get(o);
    if (!c || !PyArg_ParseTuple(args, "|l", &sym) || !s_sym_ok(c, sym))
        return NULL;
    return PyFloat_FromDouble(c->position[sym]);
}

static PyObject *s_ctx_signal(PyObject *o, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"target", "sym", NULL};
    double target;
    long sym = 0;
    bt_ctx_t *c = s_ctx_get(o);
    if (!c || !PyArg_ParseTupleAndKeywords(args, kw, "d|l", kws, &target, &sym) ||
        !s_sym_ok(c, sym))
        return NULL;
    bt_signal(c, (uint32_t)sym, target);
    Py_RETURN_NONE;
}

static const char *const s_type_names[] = {"market", "limit", "stop", "stop_limit", NULL};

static PyObject *s_ctx_order(PyObject *o, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"qty",          "type",      "limit",      "stop",
                          "tif",          "stop_loss", "take_profit", "trail_pct",
                          "trail_amount", "trail_atr", "atr_period", "sym",
                          NULL};
    bt_order_req_t r = {0};
    const char *type = "market", *tif = "gtc";
    long sym = 0, atr_period = 0;
    double trail_amount = 0, trail_atr = 0;
    bt_ctx_t *c = s_ctx_get(o);
    if (!c ||
        !PyArg_ParseTupleAndKeywords(args, kw, "d|$sddsdddddll", kws, &r.qty, &type, &r.limit,
                                     &r.stop, &tif, &r.stop_loss, &r.take_profit, &r.trail_pct,
                                     &trail_amount, &trail_atr, &atr_period, &sym) ||
        !s_sym_ok(c, sym))
        return NULL;
    if ((r.trail_pct > 0) + (trail_amount > 0) + (trail_atr > 0) > 1) {
        PyErr_SetString(PyExc_ValueError,
                        "give at most one of trail_pct, trail_amount and trail_atr");
        return NULL;
    }
    if (atr_period < 0 || atr_period > 1000) {
        PyErr_Format(PyExc_ValueError, "atr_period %ld is outside 0..1000 (0 = 14)", atr_period);
        return NULL;
    }
    int ti = -1;
    for (int i = 0; s_type_names[i]; i++)
        if (strcmp(type, s_type_names[i]) == 0)
            ti = i;
    if (ti < 0) {
        PyErr_Format(PyExc_ValueError,
                     "order type '%s' is not one of market, limit, stop, stop_limit", type);
        return NULL;
    }
    if (strcmp(tif, "gtc") != 0 && strcmp(tif, "day") != 0) {
        PyErr_Format(PyExc_ValueError, "tif '%s' is not gtc or day", tif);
        return NULL;
    }
    r.type = (bt_order_type_t)ti;
    r.tif = tif[0] == 'd' ? BT_TIF_DAY : BT_TIF_GTC;
    r.sym = (uint32_t)sym;
    if (trail_amount > 0 || trail_atr > 0) { /* the engine's trailing modes (bt_order_trail) */
        bt_trail_t t = {trail_amount > 0 ? BT_TRAIL_AMOUNT : BT_TRAIL_ATR,
                        trail_amount > 0 ? trail_amount : trail_atr, (uint32_t)atr_period};
        return PyLong_FromLongLong(bt_order_trail(c, &r, &t));
    }
    return PyLong_FromLongLong(bt_order(c, &r));
}

static PyObject *s_ctx_modify(PyObject *o, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"order_id", "limit", "stop", "qty", NULL};
    long long id;
    double limit = 0, stop = 0, qty = 0;
    bt_ctx_t *c = s_ctx_get(o);
    if (!c || !PyArg_ParseTupleAndKeywords(args, kw, "L|$ddd", kws, &id, &limit, &stop, &qty))
        return NULL;
    return PyBool_FromLong(bt_modify(c, id, limit, stop, qty));
}

static PyObject *s_ctx_cancel(PyObject *o, PyObject *args)
{
    long long id;
    bt_ctx_t *c = s_ctx_get(o);
    if (!c || !PyArg_ParseTuple(args, "L", &id))
        return NULL;
    return PyBool_FromLong(bt_cancel(c, id));
}

static PyMethodDef s_ctx_methods[] = {
    {"bar", s_ctx_bar, METH_VARARGS,
     "bar(sym=0) -> (time, open, high, low, close, volume) or None"},
    {"pos", s_ctx_pos, METH_VARARGS, "pos(sym=0) -> signed quantity held"},
    {"signal", (PyCFunction)(void (*)(void))s_ctx_signal, METH_VARARGS | METH_KEYWORDS,
     "signal(target, sym=0): target exposure (+1 long, 0 flat, -1 short)"},
    {"order", (PyCFunction)(void (*)(void))s_ctx_order, METH_VARARGS | METH_KEYWORDS,
     "order(qty, *, type='market', limit=0, stop=0, tif='gtc', stop_loss=0, take_profit=0, "
     "trail_pct=0, trail_amount=0, trail_atr=0, atr_period=14, sym=0) -> order id (0 if refused)"},
    {"modify", (PyCFunction)(void (*)(void))s_ctx_modify, METH_VARARGS | METH_KEYWORDS,
     "modify(order_id, *, limit=0, stop=0, qty=0) -> False if not open or refused (0 keeps)"},
    {"cancel", s_ctx_cancel, METH_VARARGS, "cancel(order_id) -> False if no longer open"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject bt_pyctx_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "backtester.Ctx",
    .tp_basicsize = sizeof(bt_pyctx_obj_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "the strategy's view of the current step",
    .tp_getset = s_ctx_getset,
    .tp_methods = s_ctx_methods,
};

/* ---- Strategy base class ---- */

static int s_strat_traverse(PyObject *o, visitproc visit, void *arg)
{
    Py_VISIT(((bt_pystrat_obj_t *)o)->dict);
    Py_VISIT(Py_TYPE(o));
    return 0;
}

static int s_strat_clear(PyObject *o)
{
    Py_CLEAR(((bt_pystrat_obj_t *)o)->dict);
    return 0;
}

static void s_strat_dealloc(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    PyObject_GC_UnTrack(o);
    s_strat_clear(o);
    tp->tp_free(o);
    Py_DECREF(tp);
}

/* self.indicator(kind, *params, source="close", sym=0, other=-1, manual=False) */
static PyObject *s_strat_indicator(PyObject *o, PyObject *args, PyObject *kw)
{
    bt_pyinst_t *inst = ((bt_pystrat_obj_t *)o)->inst;
    if (!inst || !inst->in_init) {
        PyErr_SetString(PyExc_RuntimeError, "declare indicators in init(self), not later");
        return NULL;
    }
    Py_ssize_t na = PyTuple_GET_SIZE(args);
    if (na < 1 || !PyUnicode_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "indicator(kind, *params, source='close', sym=0, "
                                         "other=None, manual=False)");
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(args, 0));
    const bt_ind_kind_t *k = bt_ind_find(name);
    if (!k) {
        PyErr_Format(PyExc_ValueError, "unknown indicator kind '%s' (see `bt indicators`)", name);
        return NULL;
    }
    if ((size_t)(na - 1) > k->nparams) {
        PyErr_Format(PyExc_TypeError, "indicator %s takes at most %zu parameters, got %zd", name,
                     k->nparams, na - 1);
        return NULL;
    }
    double given[BT_IND_MAX_PARAMS] = {0};
    for (Py_ssize_t i = 1; i < na; i++) {
        given[i - 1] = PyFloat_AsDouble(PyTuple_GET_ITEM(args, i));
        if (given[i - 1] == -1.0 && PyErr_Occurred())
            return NULL;
    }
    const char *src = "close";
    long sym = 0, other = -1;
    int manual = 0;
    if (kw) {
        PyObject *empty = PyTuple_New(0), *oo = Py_None;
        static char *kws[] = {"source", "sym", "other", "manual", NULL};
        int ok = empty &&
                 PyArg_ParseTupleAndKeywords(empty, kw, "|$slOp", kws, &src, &sym, &oo, &manual);
        Py_XDECREF(empty);
        if (!ok)
            return NULL;
        if (oo != Py_None && (other = PyLong_AsLong(oo)) == -1 && PyErr_Occurred())
            return NULL;
        if (oo != Py_None && other < 0) {
            PyErr_Format(PyExc_IndexError, "other=%ld is not a symbol index", other);
            return NULL;
        }
    }
    if (sym < 0 || (size_t)sym >= inst->nsym) {
        PyErr_Format(PyExc_IndexError, "sym %ld out of range (this book has %zu symbols)", sym,
                     inst->nsym);
        return NULL;
    }
    bt_pyfeed_t feed = manual ? BT_PYFEED_MANUAL : BT_PYFEED_BAR;
    if (manual && k->input == BT_IND_IN_BAR) {
        PyErr_Format(PyExc_ValueError,
                     "indicator %s reads whole bars; only one-value and pair kinds take "
                     "manual=True",
                     name);
        return NULL;
    }
    if (manual && (other >= 0 || (kw && PyDict_GetItemString(kw, "source")))) {
        PyErr_SetString(PyExc_TypeError, "a manual indicator takes no source= or other=: feed "
                                         "it with ind.update(x[, y])");
        return NULL;
    }
    if (!manual && k->input == BT_IND_IN_PAIR) {
        if (other < 0) {
            PyErr_Format(PyExc_ValueError,
                         "indicator %s reads two series: give the second symbol, e.g. "
                         "indicator(\"%s\", n, sym=0, other=1) in a kind = \"portfolio\" "
                         "strategy (x = sym, y = other), or manual=True and ind.update(x, y)",
                         name, name);
            return NULL;
        }
        if ((size_t)other >= inst->nsym || other == sym) {
            PyErr_Format(PyExc_IndexError,
                         "other=%ld must be a symbol of this book other than sym=%ld (the book "
                         "has %zu symbols; kind = \"portfolio\" sees them all)",
                         other, sym, inst->nsym);
            return NULL;
        }
        feed = BT_PYFEED_PAIR;
    } else if (!manual && other >= 0) {
        PyErr_Format(PyExc_TypeError, "indicator %s reads one series; other= is for pair kinds",
                     name);
        return NULL;
    }
    bt_ind_source_t source;
    if (!bt_ind_source_parse(src, &source)) {
        PyErr_Format(PyExc_ValueError,
                     "source '%s' is not open, high, low, close, volume or typical", src);
        return NULL;
    }
    double p[BT_IND_MAX_PARAMS];
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (bt_ind_params(k, given, (size_t)(na - 1), p, &eb) != BT_OK) {
        PyErr_SetString(PyExc_ValueError, eb.msg);
        return NULL;
    }
    bt_pyind_obj_t *io = PyObject_New(bt_pyind_obj_t, &bt_pyind_type);
    if (!io)
        return NULL;
    size_t sz = bt_ind_state_size(k, p);
    io->st = PyMem_Calloc(1, sz ? sz : 8);
    io->sym = (uint32_t)sym;
    io->other = feed == BT_PYFEED_PAIR ? (uint32_t)other : 0;
    io->feed = feed;
    memset(&io->ind, 0, sizeof io->ind);
    if (!io->st) {
        Py_DECREF(io);
        return PyErr_NoMemory();
    }
    if (bt_ind_open(&io->ind, k, p, source, io->st, &eb) != BT_OK) {
        Py_DECREF(io);
        PyErr_SetString(PyExc_ValueError, eb.msg);
        return NULL;
    }
    if (PyList_Append(inst->inds, (PyObject *)io) != 0) {
        Py_DECREF(io);
        return NULL;
    }
    return (PyObject *)io;
}

static PyMethodDef s_strat_methods[] = {
    {"indicator", (PyCFunction)(void (*)(void))s_strat_indicator, METH_VARARGS | METH_KEYWORDS,
     "indicator(kind, *params, source='close', sym=0, other=None, manual=False): declare a C "
     "indicator (in init only); pair kinds: x = sym, y = other"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject bt_pystrat_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "backtester.Strategy",
    .tp_basicsize = sizeof(bt_pystrat_obj_t),
    .tp_dictoffset = offsetof(bt_pystrat_obj_t, dict),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "base class of a Python strategy (docs/python.md)",
    .tp_traverse = s_strat_traverse,
    .tp_clear = s_strat_clear,
    .tp_dealloc = s_strat_dealloc,
    .tp_methods = s_strat_methods,
    .tp_new = PyType_GenericNew,
};

/* ---- The built-in module ---- */

static PyStructSequence_Field s_fill_fields[] = {
    {"order_id", "order id"},
    {"sym", "symbol index"},
    {"time", "ns since epoch"},
    {"qty", "signed quantity"},
    {"price", "after slippage"},
    {"commission", "charged"},
    {NULL, NULL},
};
static PyStructSequence_Desc s_fill_desc = {"backtester.Fill", "a fill", s_fill_fields, 6};

static struct PyModuleDef s_moddef = {
    PyModuleDef_HEAD_INIT,
    "backtester",
    "the engine side of backtester: the Strategy base class for strategies run by bt",
    -1,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyObject *bt_pymod_init(void)
{
    if (PyType_Ready(&bt_pystrat_type) < 0 || PyType_Ready(&bt_pyind_type) < 0 ||
        PyType_Ready(&bt_pyctx_type) < 0)
        return NULL;
    if (!bt_pyfill_type && !(bt_pyfill_type = PyStructSequence_NewType(&s_fill_desc)))
        return NULL;
    PyObject *m = PyModule_Create(&s_moddef);
    if (!m)
        return NULL;
    Py_INCREF(&bt_pystrat_type);
    Py_INCREF(&bt_pyind_type);
    Py_INCREF(&bt_pyctx_type);
    Py_INCREF(bt_pyfill_type);
    if (PyModule_AddObject(m, "Strategy", (PyObject *)&bt_pystrat_type) < 0 ||
        PyModule_AddObject(m, "Indicator", (PyObject *)&bt_pyind_type) < 0 ||
        PyModule_AddObject(m, "Ctx", (PyObject *)&bt_pyctx_type) < 0 ||
        PyModule_AddObject(m, "Fill", (PyObject *)bt_pyfill_type) < 0 ||
        PyModule_AddIntConstant(m, "ENGINE", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

PyTypeObject *bt_pyfill_type;
