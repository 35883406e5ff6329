/* bt_sweepjob — one job of a finished sweep. See bt_sweepjob.h. */
#include "bt_sweepjob.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_csvw.h"
#include "bt_engine.h"
#include "bt_fs.h"
#include "bt_html.h"
#include "bt_metrics.h"
#include "bt_plan.h"
#include "bt_registry.h"
#include "bt_store.h"
#include "bt_time.h"

#define S_TOP_POINTS 2000

struct bt_sweepjob {
    bt_config_t *cfg; /* the sweep's config */
    bt_plan_t *plan;
    char *sets_text;  /* sweep_sets.txt, cut into lines */
};

bt_err_t bt_sweepjob_save(const char *dir, const char *yaml, size_t yaml_len,
                          const char *const *sets, size_t nsets, bt_errbuf_t *eb)
{
    char p[4096];
    bt_err_t e = bt_html_path(p, sizeof p, dir, BT_SWEEPJOB_YAML, eb);
    if (e == BT_OK)
        e = bt_fs_write_atomic(p, yaml, yaml_len, eb);
    bt_buf_t b;
    bt_buf_init(&b, 1u << 20);
    for (size_t i = 0; e == BT_OK && i < nsets; i++)
        if (!strchr(sets[i], '\n'))
            e = bt_buf_printf(&b, "%s\n", sets[i]);
    if (e == BT_OK)
        e = bt_html_path(p, sizeof p, dir, BT_SWEEPJOB_SETS, eb);
    if (e == BT_OK)
        e = bt_fs_write_atomic(p, b.len ? b.data : "", b.len, eb);
    bt_buf_fini(&b);
    return e;
}

bt_sweepjob_t *bt_sweepjob_open(const char *dir, bt_errbuf_t *eb)
{
    char yp[4096], sp[4096];
    if (bt_html_path(yp, sizeof yp, dir, BT_SWEEPJOB_YAML, eb) != BT_OK ||
        bt_html_path(sp, sizeof sp, dir, BT_SWEEPJOB_SETS, eb) != BT_OK)
        return NULL;
    if (!bt_html_exists(dir, BT_SWEEPJOB_YAML)) {
        bt_errf(eb, BT_ENOTFOUND,
                "%s: no such file: %s holds no sweep config (written by bt sweep since report.html; "
                "rerun the sweep)",
                yp, dir);
        return NULL;
    }
    bt_sweepjob_t *sj = calloc(1, sizeof *sj);
    size_t ylen = 0, slen = 0;
    char *yaml = sj ? bt_fs_read_file(yp, 16u << 20, &ylen, eb) : NULL;
    if (sj && yaml)
        sj->sets_text = bt_fs_read_file(sp, 1u << 20, &slen, eb);
    if (!sj || !yaml || !sj->sets_text) {
        free(yaml);
        bt_sweepjob_destroy(&sj);
        return NULL;
    }
    const char *sets[BT_CONFIG_MAX_OVERRIDES];
    size_t nsets = 0;
    for (char *s = sj->sets_text; *s && nsets < BT_CONFIG_MAX_OVERRIDES;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        sets[nsets++] = s;
        if (!nl)
            break;
        s = nl + 1;
    }
    sj->cfg = bt_config_load_string_lib(yaml, yp, sets, nsets, bt_strategy_table(),
                                        bt_strategy_count(), bt_strategy_load, eb);
    free(yaml);
    if (sj->cfg)
        sj->plan = bt_plan_new(sj->cfg, true, eb);
    if (!sj->plan)
        bt_sweepjob_destroy(&sj);
    return sj;
}

void bt_sweepjob_destroy(bt_sweepjob_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_sweepjob_t *sj = *self_p;
    bt_plan_destroy(&sj->plan);
    bt_config_destroy(&sj->cfg);
    free(sj->sets_text);
    free(sj);
    *self_p = NULL;
}

uint64_t bt_sweepjob_jobs(const bt_sweepjob_t *sj)
{
    return bt_plan_jobs(sj->plan);
}

const bt_config_t *bt_sweepjob_base(const bt_sweepjob_t *sj)
{
    return sj->cfg;
}

bt_config_t *bt_sweepjob_config(const bt_sweepjob_t *sj, uint64_t job, char *label, size_t cap,
                                bt_errbuf_t *eb)
{
    uint64_t njobs = bt_plan_jobs(sj->plan), points = bt_plan_points(sj->plan);
    if (job >= njobs || points == 0) {
        bt_errf(eb, BT_ERANGE, "job %llu: the sweep has jobs 0..%llu", (unsigned long long)job,
                (unsigned long long)(njobs ? njobs - 1 : 0));
        return NULL;
    }
    const bt_grid_t *g = bt_plan_grid(sj->plan);
    uint64_t p = job % points, raw = 0;
    for (uint64_t k = 0;; k++, raw++) { /* the p-th surviving point */
        if (!bt_grid_next(g, &raw)) {
            bt_errf(eb, BT_ERANGE, "job %llu: no such grid point", (unsigned long long)job);
            return NULL;
        }
        if (k == p)
            break;
    }
    bt_config_t *c = bt_config_dup(sj->cfg);
    if (!c) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    if (bt_grid_apply(g, raw, c, eb) != BT_OK) {
        bt_config_destroy(&c);
        return NULL;
    }
    bt_grid_label(g, raw, label, cap);
    size_t nwin = bt_plan_windows(sj->plan);
    if (nwin) {
        size_t w = (size_t)(job / points);
        const bt_wf_window_t *win = bt_plan_window(sj->plan, w);
        bt_config_set_range(c, win->train_first, win->train_last);
        size_t l = strlen(label);
        snprintf(label + l, cap - l, " (walk-forward window %zu, training range)", w);
    }
    return c;
}

/* The dataset of the last re-run, kept for the next one when it reads the
 * same store and symbols (the top points usually do: loaded once, not 3x). */
typedef struct {
    bt_dataset_t *ds;
    char key[4096]; /* store and symbols it was loaded for */
} s_dscache_t;

/* One job run with a recorder; the metrics and equity. */
static bt_err_t s_run(const bt_config_t *c, bt_metrics_t *m, bt_recorder_t *rec,
                      s_dscache_t *dc, bt_errbuf_t *eb)
{
    size_t nsym = 0;
    const char *const *syms = bt_config_symbols(c, &nsym);
    char key[sizeof dc->key];
    size_t used = (size_t)snprintf(key, sizeof key, "%s", bt_config_store(c));
    for (size_t i = 0; i < nsym && used < sizeof key; i++)
        used += (size_t)snprintf(key + used, sizeof key - used, "\n%s", syms[i]);
    bool fits = used < sizeof key;
    if (!dc->ds || !fits || strcmp(key, dc->key) != 0) {
        bt_dataset_destroy(&dc->ds);
        dc->ds = bt_dataset_load(bt_config_store(c), syms, nsym, eb);
        if (!dc->ds)
            return eb->code;
        bt_str_copy(dc->key, sizeof dc->key, fits ? key : "");
    }
    bt_dataset_t *ds = dc->ds;
    bt_engine_t *eng = bt_engine_new();
    bt_err_t e = BT_ENOMEM;
    if (eng) {
        bt_run_spec_t spec = {.series = ds->series,
                              .nsym = ds->nsym,
                              .strategy = bt_config_strategy(c),
                              .params = bt_config_params(c),
                              .cfg = bt_config_engine(c),
                              .rec = rec};
        e = bt_engine_run(eng, &spec, m, eb);
    } else {
        bt_errf(eb, e, "out of memory");
    }
    bt_engine_destroy(&eng);
    return e;
}

/* Every metric of the run equals its ranking.csv row (exact: the CSV's text
 * reads back to the same double). */
static bt_err_t s_check(const bt_table_t *t, size_t row, uint64_t job, const bt_metrics_t *m,
                        bt_errbuf_t *eb)
{
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        long c = bt_table_col(t, bt_metrics_name(i));
        double v = 0, mine = bt_metrics_get(m, i);
        if (c < 0 || !bt_table_num(t, row, (size_t)c, &v))
            continue; /* a metric the sweep's bt did not have */
        if (!(v == mine || (isnan(v) && isnan(mine))))
            return bt_errf(eb, BT_EINVAL,
                           "re-running job %llu gave %s = %.17g, its ranking.csv row says %.17g",
                           (unsigned long long)job, bt_metrics_name(i), mine, v);
    }
    return BT_OK;
}

bt_err_t bt_sweepjob_top_equity_table(const char *dir, const bt_table_t *tp, const char *rp,
                                      bt_errbuf_t *eb)
{
    char op[4096];
    const bt_table_t t = *tp;
    bt_err_t e = bt_html_path(op, sizeof op, dir, BT_SWEEPJOB_TOP_FILE, eb);
    if (e != BT_OK)
        return e;
    long jc = bt_table_col(&t, "job_id");
    bt_sweepjob_t *sj = jc >= 0 ? bt_sweepjob_open(dir, eb) : NULL;
    if (!sj)
        return jc >= 0 ? eb->code : bt_errf(eb, BT_EFORMAT, "%s: no job_id column", rp);
    bt_fs_atomic_t a;
    e = bt_plan_windows(sj->plan) ? BT_OK : bt_fs_atomic_open(&a, op, eb);
    if (bt_plan_windows(sj->plan) || e != BT_OK) {
        bt_sweepjob_destroy(&sj);
        return e;
    }
    bt_csvw_t w;
    bt_csvw_init_file(&w, a.f);
    bt_csvw_line(&w, "job_id,time,equity");
    s_dscache_t dc = {0};
    for (size_t r = 1; r < t.nrows && r <= BT_SWEEPJOB_TOP && e == BT_OK; r++) {
        double jd = 0;
        if (!bt_table_num(&t, r, (size_t)jc, &jd) || jd < 0) {
            e = bt_errf(eb, BT_EFORMAT, "%s:%zu: bad job_id", rp, r + 1);
            break;
        }
        uint64_t job = (uint64_t)jd;
        char label[1024];
        bt_config_t *c = bt_sweepjob_config(sj, job, label, sizeof label, eb);
        bt_recorder_t rec;
        bt_recorder_init(&rec);
        bt_metrics_t m;
        e = c ? s_run(c, &m, &rec, &dc, eb) : eb->code;
        if (e == BT_OK)
            e = s_check(&t, r, job, &m, eb);
        size_t n = rec.nequity, nb = n < S_TOP_POINTS ? n : S_TOP_POINTS;
        for (size_t b = 0; e == BT_OK && b < nb; b++) {
            const bt_equity_rec_t *q = &rec.equity[(b + 1) * n / nb - 1];
            char ts[40];
            bt_csvw_u64(&w, job);
            bt_csvw_str(&w, bt_time_format(q->time, ts, sizeof ts));
            bt_csvw_double(&w, q->equity);
            bt_csvw_end_row(&w);
        }
        bt_recorder_fini(&rec);
        bt_config_destroy(&c);
    }
    bt_dataset_destroy(&dc.ds);
    if (e == BT_OK)
        e = bt_fs_atomic_commit(&a, eb);
    bt_fs_atomic_abort(&a);
    bt_sweepjob_destroy(&sj);
    return e;
}
