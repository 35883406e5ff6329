/* bt_ind — the generic indicator interface; the kinds are in bt_ind_table.c. */
#include "bt_ind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const bt_ind_kind_t *bt_ind_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < bt_ind_count(); i++)
        if (strcmp(bt_ind_at(i)->name, name) == 0)
            return bt_ind_at(i);
    return NULL;
}

int bt_ind_out_index(const bt_ind_kind_t *k, const char *name)
{
    for (size_t j = 0; k && name && j < k->nout; j++)
        if (strcmp(k->outs[j], name) == 0)
            return (int)j;
    return -1;
}

bt_err_t bt_ind_params(const bt_ind_kind_t *k, const double *given, size_t np, double *p,
                       bt_errbuf_t *eb)
{
    if (np > k->nparams)
        return bt_errf(eb, BT_EINVAL, "indicator %s takes %zu parameter(s), got %zu", k->name,
                       k->nparams, np);
    for (size_t i = 0; i < k->nparams; i++) {
        const bt_param_spec_t *s = &k->params[i];
        double v = i < np ? given[i] : s->def;
        if (!isfinite(v) || v < s->min || v > s->max)
            return bt_errf(eb, BT_ERANGE, "indicator %s: %s = %g is outside [%g, %g]", k->name,
                           s->name, v, s->min, s->max);
        if (s->type == BT_PARAM_INT && v != floor(v))
            return bt_errf(eb, BT_EINVAL, "indicator %s: %s = %g must be a whole number",
                           k->name, s->name, v);
        p[i] = v;
    }
    return BT_OK;
}

size_t bt_ind_state_size(const bt_ind_kind_t *k, const double *p)
{
    return (k->state_size(p) + 7u) & ~(size_t)7u;
}

bt_err_t bt_ind_open(bt_ind_t *ind, const bt_ind_kind_t *k, const double *p,
                     bt_ind_source_t source, void *state, bt_errbuf_t *eb)
{
    memset(ind, 0, sizeof *ind);
    ind->kind = k;
    memcpy(ind->p, p, k->nparams * sizeof *p);
    ind->source = source;
    ind->state = state;
    for (size_t j = 0; j < BT_IND_MAX_OUT; j++)
        ind->out[j] = NAN;
    return k->init(state, ind->p, eb);
}

double bt_ind_source_value(const bt_bar_t *bar, bt_ind_source_t source)
{
    switch (source) {
    case BT_SRC_OPEN:
        return bar->open;
    case BT_SRC_HIGH:
        return bar->high;
    case BT_SRC_LOW:
        return bar->low;
    case BT_SRC_VOLUME:
        return bar->volume;
    case BT_SRC_TYPICAL:
        return (bar->high + bar->low + bar->close) / 3.0;
    case BT_SRC_CLOSE:
    default:
        return bar->close;
    }
}

bool bt_ind_update(bt_ind_t *ind, const bt_bar_t *bar, double y)
{
    bt_ind_in_t in = {.bar = bar, .x = bt_ind_source_value(bar, ind->source), .y = y};
    ind->count++;
    ind->ready = ind->kind->update(ind->state, &in, ind->out);
    return ind->ready;
}

bt_err_t bt_ind_array(const bt_ind_kind_t *k, const double *p, bt_ind_source_t source,
                      const bt_bar_t *bars, const double *y, size_t n, double *out,
                      bt_errbuf_t *eb)
{
    if (k->input == BT_IND_IN_PAIR && !y)
        return bt_errf(eb, BT_EINVAL, "indicator %s needs a second series", k->name);
    void *st = calloc(1, bt_ind_state_size(k, p));
    if (!st)
        return bt_errf(eb, BT_ENOMEM, "indicator %s: out of memory for its state", k->name);
    bt_ind_t ind;
    bt_err_t rc = bt_ind_open(&ind, k, p, source, st, eb);
    if (rc == BT_OK)
        for (size_t t = 0; t < n; t++) {
            bt_ind_update(&ind, &bars[t], y ? y[t] : 0.0);
            for (size_t j = 0; j < k->nout; j++)
                out[j * n + t] = ind.out[j];
        }
    free(st);
    return rc;
}

bool bt_ind_source_parse(const char *name, bt_ind_source_t *out)
{
    static const char *const names[] = {"close", "open", "high", "low", "volume", "typical"};
    for (size_t i = 0; name && i < sizeof names / sizeof *names; i++)
        if (strcmp(names[i], name) == 0) {
            *out = (bt_ind_source_t)i;
            return true;
        }
    return false;
}
