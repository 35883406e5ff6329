/* bt_pymod — Python strategies on the C engine (see bt_pystrat.h), the part
 * in bt_python.so (bt_pymod.h).
 *
 * Python objects: the built-in module `backtester` (only inside the
 * embedded interpreter) with the base class Strategy, Indicator (a bt_ind_t
 * updated in C before each on_bar), Ctx (a view of bt_ctx_t valid during one
 * call) and Fill. One record per loaded class holds the compiled file; one
 * instance record per initialised state block holds that job's module,
 * object and indicators. */
#include "bt_pymod.h"
#include "bt_pyobj.h"
#include "bt_pystrat.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Records ---- */

typedef struct s_py {
    bt_strategy_t t;                   /* the table the engine sees; first member */
    bt_param_spec_t ps[BT_MAX_PARAMS]; /* params read from the class */
    char *pnames[BT_MAX_PARAMS];       /* owned names */
    char *phelp[BT_MAX_PARAMS];        /* owned help lines */
    char *path, *cls, *summary;        /* owned */
    PyObject *code;                    /* the compiled file */
    pthread_mutex_t mu;                /* guards err/has_err */
    bool has_err;                      /* a run failed since the last take */
    char err[1024];                    /* its message */
} s_py_t;

static s_py_t *s_py[BT_PYSTRAT_MAX];
static size_t s_npy;
static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER; /* s_py, s_live */
static bt_pyinst_t **s_live;                             /* instances by state block */
static size_t s_nlive, s_caplive;

/* ---- Call time limit ----
 * Each thread that calls Python has a slot: a call counter and a flag. A
 * watchdog thread looks ten times a second; a call whose counter has not
 * moved for the limit gets a TimeoutError raised inside it. */

#define S_MAX_THREADS 64

typedef struct {
    atomic_ulong seq;   /* calls begun */
    atomic_int active;  /* in a call now */
    atomic_int fired;   /* a TimeoutError was raised in this call */
    unsigned long tid;  /* Python thread id */
    unsigned long seen; /* watchdog: seq at the last look */
    unsigned ticks;     /* watchdog: looks with the same call active */
} s_call_t;

static s_call_t s_calls[S_MAX_THREADS];
static atomic_int s_ncalls;
static _Atomic double s_limit_s =
    30.0; /* below the coordinator's automatic job timeout (>= 60 s) */
static _Thread_local s_call_t *s_my_call;

static void s_set_call_limit(double seconds)
{
    atomic_store(&s_limit_s, seconds > 0 ? seconds : 0.0);
}

static void s_call_begin(void)
{
    if (!s_my_call) {
        int i = atomic_fetch_add(&s_ncalls, 1);
        if (i >= S_MAX_THREADS)
            return; /* more threads than slots: no limit for this one */
        s_my_call = &s_calls[i];
        s_my_call->tid = PyThread_get_thread_ident();
    }
    atomic_store(&s_my_call->fired, 0);
    atomic_fetch_add(&s_my_call->seq, 1);
    atomic_store(&s_my_call->active, 1);
}

static void s_call_end(void)
{
    if (s_my_call)
        atomic_store(&s_my_call->active, 0);
}

static void *s_watchdog(void *arg)
{
    for (;;) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        double lim = atomic_load(&s_limit_s);
        int n = atomic_load(&s_ncalls);
        for (int i = 0; i < n && i < S_MAX_THREADS; i++) {
            s_call_t *c = &s_calls[i];
            unsigned long seq = atomic_load(&c->seq);
            if (!atomic_load(&c->active) || seq != c->seen) {
                c->seen = seq;
                c->ticks = 0;
                continue;
            }
            c->ticks++;
            if (lim > 0 && c->ticks >= (unsigned)(lim * 10.0) && !atomic_load(&c->fired)) {
                PyGILState_STATE g = PyGILState_Ensure();
                if (atomic_load(&c->active) && atomic_load(&c->seq) == seq) {
                    atomic_store(&c->fired, 1);
                    PyThreadState_SetAsyncExc(c->tid, PyExc_TimeoutError);
                }
                PyGILState_Release(g);
            }
        }
    }
    return NULL;
}

/* ---- Errors ---- */

/* The pending Python exception as text (traceback included) into buf. */
static void s_exc_text(char *buf, size_t cap)
{
    PyObject *type = NULL, *val = NULL, *tb = NULL;
    PyErr_Fetch(&type, &val, &tb);
    PyErr_NormalizeException(&type, &val, &tb);
    buf[0] = '\0';
    PyObject *mod = PyImport_ImportModule("traceback");
    PyObject *only = mod && type ? PyObject_CallMethod(mod, "format_exception_only", "OO", type,
                                                       val ? val : Py_None)
                                 : NULL;
    PyObject *lines = only ? PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                                 val ? val : Py_None, tb ? tb : Py_None)
                           : NULL;
    PyObject *sep = lines ? PyUnicode_FromString("") : NULL;
    PyObject *head = sep ? PyUnicode_Join(sep, only) : NULL;
    PyObject *joined = head ? PyUnicode_Join(sep, lines) : NULL;
    const char *h = joined ? PyUnicode_AsUTF8(head) : NULL;
    const char *s = h ? PyUnicode_AsUTF8(joined) : NULL;
    if (s) {
        /* the exception line first (it survives truncation), then the traceback */
        size_t hn = strcspn(h, "\n");
        snprintf(buf, cap, "%.*s\n%s", (int)hn, h, s);
        size_t n;
        while ((n = strlen(buf)) > 0 && buf[n - 1] == '\n')
            buf[n - 1] = '\0';
    } else {
        snprintf(buf, cap, "a Python error that could not be formatted");
    }
    PyErr_Clear();
    Py_XDECREF(joined);
    Py_XDECREF(head);
    Py_XDECREF(only);
    Py_XDECREF(sep);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(val);
    Py_XDECREF(tb);
}

/* Marks inst failed and keeps the run's first message. GIL held. */
static void s_fail(bt_pyinst_t *inst, const char *where)
{
    char tb[900];
    bool timed_out = s_my_call && atomic_load(&s_my_call->fired);
    s_exc_text(tb, sizeof tb);
    inst->failed = true;
    s_py_t *py = inst->py;
    pthread_mutex_lock(&py->mu);
    if (!py->has_err) {
        py->has_err = true;
        if (timed_out)
            snprintf(py->err, sizeof py->err,
                     "python strategy %s (%s): %s ran longer than the time limit of %g s "
                     "(strategy_python_timeout) and was stopped: %s",
                     py->cls, py->path, where, atomic_load(&s_limit_s), tb);
        else
            snprintf(py->err, sizeof py->err, "python strategy %s (%s) raised in %s: %s", py->cls,
                     py->path, where, tb);
    }
    pthread_mutex_unlock(&py->mu);
}

/* Starts the interpreter once; the GIL is released afterwards so any thread
 * can take it with PyGILState_Ensure. Caller holds s_mu. */
static bool s_py_start(bt_errbuf_t *eb)
{
    if (Py_IsInitialized())
        return true;
    if (PyImport_AppendInittab("backtester", bt_pymod_init) != 0) {
        bt_errf(eb, BT_ESTRATEGY, "cannot register the backtester module with Python");
        return false;
    }
    PyConfig cfg;
    PyConfig_InitPythonConfig(&cfg);
    cfg.install_signal_handlers = 0; /* bt's own SIGINT/SIGTERM handling stays */
    cfg.parse_argv = 0;
    PyStatus st = Py_InitializeFromConfig(&cfg);
    PyConfig_Clear(&cfg);
    if (PyStatus_Exception(st)) {
        bt_errf(eb, BT_ESTRATEGY, "cannot start the Python interpreter: %s",
                st.err_msg ? st.err_msg : "unknown error");
        return false;
    }
    PyEval_SaveThread();
    pthread_t wd;
    if (pthread_create(&wd, NULL, s_watchdog, NULL) == 0)
        pthread_detach(wd);
    return true;
}

/* The GIL for this thread. The first time in a thread an extra
 * PyGILState_Ensure is kept forever, so the thread keeps one thread state
 * instead of creating and deleting one per call (a worker runs jobs on a
 * thread other than the one that started Python). */
static _Thread_local bool s_tls_state;

static PyGILState_STATE s_gil_take(void)
{
    if (!s_tls_state) {
        s_tls_state = true;
        PyGILState_STATE first = PyGILState_Ensure();
        if (first == PyGILState_UNLOCKED)
            PyEval_SaveThread();
        else
            return PyGILState_Ensure(); /* the GIL was already ours */
    }
    return PyGILState_Ensure();
}

/* ---- Instances ---- */

static void s_inst_free(bt_pyinst_t *inst)
{
    if (!inst)
        return;
    if (inst->self)
        ((bt_pystrat_obj_t *)inst->self)->inst = NULL;
    Py_XDECREF(inst->on_bar);
    Py_XDECREF(inst->on_fill);
    Py_XDECREF((PyObject *)inst->ctx);
    Py_XDECREF(inst->inds);
    Py_XDECREF(inst->self);
    if (inst->module) {
        /* break the module <-> class <-> function cycles now */
        PyObject *d = PyModule_GetDict(inst->module);
        if (d)
            PyDict_Clear(d);
    }
    Py_XDECREF(inst->module);
    free(inst);
}

/* Takes the live instance of state block `state` out of the table (caller
 * holds s_mu), or NULL. */
static bt_pyinst_t *s_live_take(void *state)
{
    for (size_t i = 0; i < s_nlive; i++) {
        if (s_live[i]->state == state) {
            bt_pyinst_t *x = s_live[i];
            s_live[i] = s_live[--s_nlive];
            return x;
        }
    }
    return NULL;
}

static bool s_live_add(bt_pyinst_t *inst)
{
    if (s_nlive == s_caplive) {
        size_t cap = s_caplive ? 2 * s_caplive : 16;
        bt_pyinst_t **nl = realloc(s_live, cap * sizeof *nl);
        if (!nl)
            return false;
        s_live = nl;
        s_caplive = cap;
    }
    s_live[s_nlive++] = inst;
    return true;
}

static void s_release_all(void)
{
    if (!Py_IsInitialized())
        return;
    PyGILState_STATE g = s_gil_take();
    pthread_mutex_lock(&s_mu);
    for (size_t i = 0; i < s_nlive; i++)
        s_inst_free(s_live[i]);
    s_nlive = 0;
    pthread_mutex_unlock(&s_mu);
    PyGILState_Release(g);
}

/* The parameters as a SimpleNamespace (INT parameters as int). */
static PyObject *s_params_ns(const s_py_t *py, const double *params)
{
    PyObject *kw = PyDict_New();
    for (size_t i = 0; kw && i < py->t.nparams; i++) {
        PyObject *v = py->ps[i].type == BT_PARAM_INT ? PyLong_FromDouble(params[i])
                                                     : PyFloat_FromDouble(params[i]);
        if (!v || PyDict_SetItemString(kw, py->ps[i].name, v) != 0) {
            Py_XDECREF(v);
            Py_CLEAR(kw);
            break;
        }
        Py_DECREF(v);
    }
    if (!kw)
        return NULL;
    PyObject *types = PyImport_ImportModule("types");
    PyObject *cls = types ? PyObject_GetAttrString(types, "SimpleNamespace") : NULL;
    PyObject *empty = cls ? PyTuple_New(0) : NULL;
    PyObject *ns = empty ? PyObject_Call(cls, empty, kw) : NULL;
    Py_XDECREF(empty);
    Py_XDECREF(cls);
    Py_XDECREF(types);
    Py_DECREF(kw);
    return ns;
}

/* Executes the file in a fresh module and returns the class (new ref). */
static PyObject *s_exec_class(s_py_t *py, PyObject **module_out)
{
    PyObject *m = PyModule_New("bt_strategy_file");
    if (!m)
        return NULL;
    PyObject *d = PyModule_GetDict(m);
    PyObject *file = PyUnicode_FromString(py->path);
    if (!file || PyDict_SetItemString(d, "__file__", file) != 0 ||
        PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) != 0) {
        Py_XDECREF(file);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(file);
    PyObject *r = PyEval_EvalCode(py->code, d, d);
    if (!r) {
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(r);
    PyObject *cls = PyDict_GetItemString(d, py->cls);
    if (!cls) {
        PyErr_Format(PyExc_LookupError, "%s defines no class %s", py->path, py->cls);
        Py_DECREF(m);
        return NULL;
    }
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &bt_pystrat_type)) {
        PyErr_Format(PyExc_TypeError,
                     "%s in %s is not a strategy class: write `class %s(Strategy)` with "
                     "`from backtester import Strategy`",
                     py->cls, py->path, py->cls);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(cls);
    *module_out = m;
    return cls;
}

static bt_err_t s_init_common(size_t slot, void *state, const double *params, size_t nsym,
                              bt_errbuf_t *eb)
{
    s_py_t *py = s_py[slot];
    PyGILState_STATE g = s_gil_take();
    pthread_mutex_lock(&s_mu);
    bt_pyinst_t *old = s_live_take(state);
    pthread_mutex_unlock(&s_mu);
    s_inst_free(old);
    bt_err_t rc = BT_OK;
    bt_pyinst_t *inst = calloc(1, sizeof *inst);
    if (!inst) {
        rc = bt_errf(eb, BT_ENOMEM, "out of memory for a Python strategy");
        goto out;
    }
    inst->py = py;
    inst->state = state;
    inst->nsym = nsym;
    s_call_begin(); /* the file's top level and init count as one call */
    PyObject *cls = s_exec_class(py, &inst->module);
    PyObject *pns = cls ? s_params_ns(py, params) : NULL;
    if (cls && pns) {
        inst->self = PyObject_CallNoArgs(cls);
        inst->inds = PyList_New(0);
        inst->ctx = PyObject_New(bt_pyctx_obj_t, &bt_pyctx_type);
    }
    Py_XDECREF(cls);
    if (inst->self && inst->inds && inst->ctx) {
        inst->ctx->ctx = NULL;
        ((bt_pystrat_obj_t *)inst->self)->inst = inst;
        if (PyObject_SetAttrString(inst->self, "p", pns) == 0) {
            PyObject *n = PyLong_FromSize_t(nsym);
            if (n && PyObject_SetAttrString(inst->self, "nsym", n) == 0) {
                inst->in_init = true;
                PyObject *r = PyObject_HasAttrString(inst->self, "init")
                                  ? PyObject_CallMethod(inst->self, "init", NULL)
                                  : (Py_INCREF(Py_None), Py_None);
                inst->in_init = false;
                s_call_end();
                if (r) {
                    inst->on_bar = PyObject_GetAttrString(inst->self, "on_bar");
                    if (inst->on_bar && PyObject_HasAttrString(inst->self, "on_fill"))
                        inst->on_fill = PyObject_GetAttrString(inst->self, "on_fill");
                }
                Py_XDECREF(r);
            }
            Py_XDECREF(n);
        }
    }
    s_call_end();
    Py_XDECREF(pns);
    if (!inst->on_bar || PyErr_Occurred()) {
        char tb[900];
        s_exc_text(tb, sizeof tb);
        rc = bt_errf(eb, BT_ESTRATEGY, "python strategy %s (%s) failed in init: %s", py->cls,
                     py->path, tb);
        s_inst_free(inst);
        goto out;
    }
    if (inst->on_fill == Py_None)
        Py_CLEAR(inst->on_fill);
    pthread_mutex_lock(&s_mu);
    bool added = s_live_add(inst);
    pthread_mutex_unlock(&s_mu);
    if (!added) {
        s_inst_free(inst);
        rc = bt_errf(eb, BT_ENOMEM, "out of memory for a Python strategy");
        goto out;
    }
    *(bt_pyinst_t **)state = inst;
out:
    PyGILState_Release(g);
    return rc;
}

static size_t s_state_size(const double *params, size_t nsym)
{
    return sizeof(bt_pyinst_t *);
}

/* Feeds this step's bars to the declared indicators. */
static void s_update_inds(bt_pyinst_t *inst, const bt_ctx_t *ctx)
{
    Py_ssize_t n = PyList_GET_SIZE(inst->inds);
    for (Py_ssize_t i = 0; i < n; i++) {
        bt_pyind_obj_t *io = (bt_pyind_obj_t *)PyList_GET_ITEM(inst->inds, i);
        uint32_t s = io->sym, o = io->other;
        if (io->feed == BT_PYFEED_BAR) {
            if (s < ctx->nsym && (ctx->has_bar == NULL || ctx->has_bar[s]))
                bt_ind_update(&io->ind, &ctx->bar[s], NAN);
        } else if (io->feed == BT_PYFEED_PAIR && s < ctx->nsym && o < ctx->nsym &&
                   (ctx->has_bar == NULL || (ctx->has_bar[s] && ctx->has_bar[o]))) {
            /* as pairs_trading feeds `beta`: only steps where both symbols trade */
            bt_ind_update(&io->ind, &ctx->bar[s],
                          bt_ind_source_value(&ctx->bar[o], io->ind.source));
        }
    }
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    bt_pyinst_t *inst = *(bt_pyinst_t **)state;
    if (!inst || inst->failed)
        return;
    PyGILState_STATE g = s_gil_take();
    s_update_inds(inst, ctx);
    inst->ctx->ctx = ctx;
    s_call_begin();
    PyObject *r = PyObject_CallOneArg(inst->on_bar, (PyObject *)inst->ctx);
    s_call_end();
    inst->ctx->ctx = NULL;
    if (!r) {
        s_fail(inst, "on_bar");
    } else if (r != Py_None) {
        PyObject *rep = PyObject_Repr(r);
        PyErr_Format(PyExc_TypeError,
                     "on_bar returned %.80s; it must return None (act with ctx.signal, "
                     "ctx.order, ctx.cancel)",
                     rep ? PyUnicode_AsUTF8(rep) : "a value");
        Py_XDECREF(rep);
        s_fail(inst, "on_bar");
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
}

static void s_on_fill(void *state, bt_ctx_t *ctx, const bt_fill_t *f)
{
    bt_pyinst_t *inst = *(bt_pyinst_t **)state;
    if (!inst || inst->failed || !inst->on_fill)
        return;
    PyGILState_STATE g = s_gil_take();
    PyObject *fo = PyStructSequence_New(bt_pyfill_type);
    if (fo) {
        PyStructSequence_SET_ITEM(fo, 0, PyLong_FromLongLong(f->order_id));
        PyStructSequence_SET_ITEM(fo, 1, PyLong_FromUnsignedLong(f->sym));
        PyStructSequence_SET_ITEM(fo, 2, PyLong_FromLongLong(f->time));
        PyStructSequence_SET_ITEM(fo, 3, PyFloat_FromDouble(f->qty));
        PyStructSequence_SET_ITEM(fo, 4, PyFloat_FromDouble(f->price));
        PyStructSequence_SET_ITEM(fo, 5, PyFloat_FromDouble(f->commission));
    }
    inst->ctx->ctx = ctx;
    s_call_begin();
    PyObject *r =
        fo ? PyObject_CallFunctionObjArgs(inst->on_fill, (PyObject *)inst->ctx, fo, NULL) : NULL;
    s_call_end();
    inst->ctx->ctx = NULL;
    if (!r)
        s_fail(inst, "on_fill");
    Py_XDECREF(r);
    Py_XDECREF(fo);
    PyGILState_Release(g);
}

/* One init per slot: the engine's init gets no strategy pointer. */
#define S_INIT(k)                                                                                  \
    static bt_err_t s_init_##k(void *st, const double *p, size_t n, bt_errbuf_t *eb)               \
    {                                                                                              \
        return s_init_common(k, st, p, n, eb);                                                     \
    }
/* clang-format off */
S_INIT(0) S_INIT(1) S_INIT(2) S_INIT(3) S_INIT(4) S_INIT(5) S_INIT(6) S_INIT(7)
S_INIT(8) S_INIT(9) S_INIT(10) S_INIT(11) S_INIT(12) S_INIT(13) S_INIT(14) S_INIT(15)
static bt_err_t (*const s_inits[BT_PYSTRAT_MAX])(void *, const double *, size_t, bt_errbuf_t *) = {
    s_init_0, s_init_1, s_init_2,  s_init_3,  s_init_4,  s_init_5,  s_init_6,  s_init_7,
    s_init_8, s_init_9, s_init_10, s_init_11, s_init_12, s_init_13, s_init_14, s_init_15,
};
/* clang-format on */

/* ---- Loading ---- */

static char *s_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Reads one entry of `params`: (default, min, max[, help]) or a dict with
 * default/min/max/help/type. Python error set on failure. */
static int s_read_param(s_py_t *py, size_t i, PyObject *name, PyObject *spec)
{
    bt_param_spec_t *ps = &py->ps[i];
    PyObject *def = NULL, *lo = NULL, *hi = NULL, *help = NULL, *type = NULL;
    if (PyTuple_Check(spec) && (PyTuple_GET_SIZE(spec) == 3 || PyTuple_GET_SIZE(spec) == 4)) {
        def = PyTuple_GET_ITEM(spec, 0);
        lo = PyTuple_GET_ITEM(spec, 1);
        hi = PyTuple_GET_ITEM(spec, 2);
        help = PyTuple_GET_SIZE(spec) == 4 ? PyTuple_GET_ITEM(spec, 3) : NULL;
    } else if (PyDict_Check(spec)) {
        def = PyDict_GetItemString(spec, "default");
        lo = PyDict_GetItemString(spec, "min");
        hi = PyDict_GetItemString(spec, "max");
        help = PyDict_GetItemString(spec, "help");
        type = PyDict_GetItemString(spec, "type");
    }
    if (!PyUnicode_Check(name) || !def || !lo || !hi) {
        PyErr_Format(PyExc_TypeError,
                     "params[%R] must be (default, min, max) or (default, min, max, help) or "
                     "a dict with default, min, max",
                     name);
        return -1;
    }
    ps->def = PyFloat_AsDouble(def);
    ps->min = PyFloat_AsDouble(lo);
    ps->max = PyFloat_AsDouble(hi);
    if (PyErr_Occurred())
        return -1;
    bool is_int = PyLong_Check(def) && PyLong_Check(lo) && PyLong_Check(hi);
    if (type && PyUnicode_Check(type))
        is_int = strcmp(PyUnicode_AsUTF8(type), "int") == 0;
    ps->type = is_int ? BT_PARAM_INT : BT_PARAM_REAL;
    py->pnames[i] = s_dup(PyUnicode_AsUTF8(name));
    py->phelp[i] = s_dup(help && PyUnicode_Check(help) ? PyUnicode_AsUTF8(help) : "(no help)");
    if (!py->pnames[i] || !py->phelp[i]) {
        PyErr_NoMemory();
        return -1;
    }
    ps->name = py->pnames[i];
    ps->help = py->phelp[i];
    return 0;
}

/* Reads params, kind and the docstring from the class. */
static int s_read_class(s_py_t *py, PyObject *cls)
{
    PyObject *params = PyObject_GetAttrString(cls, "params");
    if (!params) {
        PyErr_Clear();
        params = PyDict_New();
    }
    if (!params || !PyDict_Check(params)) {
        PyErr_Format(PyExc_TypeError, "%s.params must be a dict name -> (default, min, max)",
                     py->cls);
        Py_XDECREF(params);
        return -1;
    }
    if (PyDict_Size(params) > BT_MAX_PARAMS) {
        PyErr_Format(PyExc_ValueError, "%s declares %zd parameters, more than %d", py->cls,
                     PyDict_Size(params), BT_MAX_PARAMS);
        Py_DECREF(params);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    size_t i = 0;
    while (PyDict_Next(params, &pos, &k, &v)) {
        if (s_read_param(py, i, k, v) != 0) {
            Py_DECREF(params);
            return -1;
        }
        i++;
    }
    Py_DECREF(params);
    py->t.nparams = i;
    py->t.kind = BT_STRAT_SINGLE;
    PyObject *kind = PyObject_GetAttrString(cls, "kind");
    if (!kind)
        PyErr_Clear();
    else if (PyUnicode_Check(kind) && strcmp(PyUnicode_AsUTF8(kind), "portfolio") == 0)
        py->t.kind = BT_STRAT_PORTFOLIO;
    else if (!PyUnicode_Check(kind) || strcmp(PyUnicode_AsUTF8(kind), "single") != 0) {
        PyErr_Format(PyExc_ValueError, "%s.kind must be 'single' or 'portfolio'", py->cls);
        Py_DECREF(kind);
        return -1;
    }
    Py_XDECREF(kind);
    char sum[200] = "python strategy";
    PyObject *doc = PyObject_GetAttrString(cls, "__doc__");
    if (doc && PyUnicode_Check(doc)) {
        const char *d = PyUnicode_AsUTF8(doc);
        while (*d == ' ' || *d == '\n')
            d++;
        size_t n = strcspn(d, "\n");
        if (n > 0)
            snprintf(sum, sizeof sum, "%.*s", (int)(n < 190 ? n : 190), d);
    }
    PyErr_Clear();
    Py_XDECREF(doc);
    py->summary = s_dup(sum);
    if (!py->summary) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void s_py_free(s_py_t *py)
{
    if (!py)
        return;
    for (size_t i = 0; i < BT_MAX_PARAMS; i++) {
        free(py->pnames[i]);
        free(py->phelp[i]);
    }
    free(py->path);
    free(py->cls);
    free(py->summary);
    Py_XDECREF(py->code);
    pthread_mutex_destroy(&py->mu);
    free(py);
}

/* Reads and compiles the file; the GIL is held. */
static PyObject *s_compile(const char *path, bt_errbuf_t *eb)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bt_errf(eb, BT_ENOTFOUND,
                "cannot open python strategy '%s' (a relative path is taken from the current "
                "directory)",
                path);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > ((size_t)64 << 20)) { /* a strategy file is small */
                free(buf);
                fclose(f);
                bt_errf(eb, BT_ESTRATEGY, "python strategy '%s' is larger than 64 MiB", path);
                return NULL;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                bt_errf(eb, BT_ENOMEM, "out of memory reading '%s'", path);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    PyObject *code = Py_CompileString(buf, path, Py_file_input);
    free(buf);
    if (!code) {
        char tb[900];
        s_exc_text(tb, sizeof tb);
        bt_errf(eb, BT_ESTRATEGY, "python strategy '%s' does not compile: %s", path, tb);
    }
    return code;
}

static const bt_strategy_t *s_load(const char *path, const char *cls, bt_errbuf_t *eb)
{
    if (!path || !*path || !cls || !*cls) {
        bt_errf(eb, BT_EINVAL, "a python strategy needs a file and a class name");
        return NULL;
    }
    pthread_mutex_lock(&s_mu);
    for (size_t i = 0; i < s_npy; i++) {
        if (strcmp(s_py[i]->path, path) == 0 && strcmp(s_py[i]->cls, cls) == 0) {
            pthread_mutex_unlock(&s_mu);
            return &s_py[i]->t;
        }
    }
    if (s_npy == BT_PYSTRAT_MAX) {
        pthread_mutex_unlock(&s_mu);
        bt_errf(eb, BT_ESTRATEGY, "more than %d python strategies in one process", BT_PYSTRAT_MAX);
        return NULL;
    }
    if (!s_py_start(eb)) {
        pthread_mutex_unlock(&s_mu);
        return NULL;
    }
    PyGILState_STATE g = s_gil_take();
    s_py_t *py = calloc(1, sizeof *py);
    const bt_strategy_t *res = NULL;
    if (!py || pthread_mutex_init(&py->mu, NULL) != 0) {
        free(py);
        py = NULL;
        bt_errf(eb, BT_ENOMEM, "out of memory loading '%s'", path);
        goto out;
    }
    py->path = s_dup(path);
    py->cls = s_dup(cls);
    if (!py->path || !py->cls) {
        bt_errf(eb, BT_ENOMEM, "out of memory loading '%s'", path);
        goto out;
    }
    if (!(py->code = s_compile(path, eb)))
        goto out;
    PyObject *mod = NULL;
    PyObject *c = s_exec_class(py, &mod);
    int ok = c ? s_read_class(py, c) : -1;
    if (ok != 0) {
        char tb[900];
        s_exc_text(tb, sizeof tb);
        bt_errf(eb, BT_ESTRATEGY, "python strategy %s in '%s': %s", cls, path, tb);
    }
    Py_XDECREF(c);
    if (mod)
        PyDict_Clear(PyModule_GetDict(mod));
    Py_XDECREF(mod);
    if (ok != 0)
        goto out;
    py->t.name = py->cls;
    py->t.summary = py->summary;
    py->t.params = py->ps;
    py->t.state_size = s_state_size;
    py->t.init = s_inits[s_npy];
    py->t.on_bar = s_on_bar;
    py->t.on_fill = s_on_fill;
    s_py[s_npy++] = py;
    res = &py->t;
    py = NULL;
out:
    s_py_free(py);
    PyGILState_Release(g);
    pthread_mutex_unlock(&s_mu);
    return res;
}

static s_py_t *s_find(const bt_strategy_t *s)
{
    for (size_t i = 0; s && i < s_npy; i++)
        if (&s_py[i]->t == s)
            return s_py[i];
    return NULL;
}

static bool s_is(const bt_strategy_t *s)
{
    pthread_mutex_lock(&s_mu);
    bool r = s_find(s) != NULL;
    pthread_mutex_unlock(&s_mu);
    return r;
}

static bt_err_t s_take_error(const bt_strategy_t *s, bt_errbuf_t *eb)
{
    pthread_mutex_lock(&s_mu);
    s_py_t *py = s_find(s);
    pthread_mutex_unlock(&s_mu);
    if (!py)
        return BT_OK;
    bt_err_t rc = BT_OK;
    pthread_mutex_lock(&py->mu);
    if (py->has_err) {
        rc = bt_errf(eb, BT_ESTRATEGY, "%s", py->err);
        py->has_err = false;
    }
    pthread_mutex_unlock(&py->mu);
    return rc;
}

const bt_pymod_api_t *bt_pymod_api(void)
{
    static const bt_pymod_api_t api = {BT_PYMOD_ABI, s_load,           s_is,
                                       s_take_error, s_set_call_limit, s_release_all};
    return &api;
}
