/* bt_html_sweep — report.html of a sweep. See bt_html_sweep.h. */
#include "bt_html_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bt_build.h"
#include "bt_fs.h"
#include "bt_html.h"
#include "bt_metrics.h"
#include "bt_time.h"

#define S_MAX_ROWS BT_HTML_SWEEP_MAX_ROWS
#define S_OOS_POINTS 2000   /* stitched out-of-sample points drawn */
#define S_CSV_CAP ((size_t)4 << 30)

/* A CSV file as {"cols":[...],"rows":[[...],...]}: numbers as numbers (nan
 * as null), other cells as strings; null when the file is missing. */
static bt_err_t s_table(bt_json_t *j, const char *dir, const char *name, size_t max_rows,
                        bt_errbuf_t *eb)
{
    char p[4096];
    bt_table_t t;
    bt_err_t e = bt_html_path(p, sizeof p, dir, name, eb);
    if (e == BT_OK && !bt_html_exists(dir, name)) {
        bt_json_raw(j, "null");
        return BT_OK;
    }
    if (e == BT_OK)
        e = bt_table_read(&t, p, S_CSV_CAP, eb);
    if (e != BT_OK)
        return e;
    bt_json_raw(j, "{\"cols\":[");
    for (size_t c = 0; c < t.ncols; c++) {
        bt_json_sep(j, c);
        bt_json_str(j, bt_table_get(&t, 0, c));
    }
    size_t rows = t.nrows ? t.nrows - 1 : 0;
    bt_json_raw(j, "],\"total_rows\":");
    bt_json_i64(j, (int64_t)rows);
    bt_json_raw(j, ",\"rows\":[");
    for (size_t r = 0; r < rows && r < max_rows; r++) {
        bt_json_sep(j, r);
        bt_json_raw(j, "[");
        for (size_t c = 0; c < t.ncols; c++) {
            double v;
            bt_json_sep(j, c);
            if (bt_table_num(&t, r + 1, c, &v))
                bt_json_num(j, v);
            else
                bt_json_str(j, bt_table_get(&t, r + 1, c));
        }
        bt_json_raw(j, "]");
    }
    bt_json_raw(j, "]}");
    bt_table_fini(&t);
    return BT_OK;
}

/* A curve file (time in column tcol, value in vcol, optional group column
 * gcol >= 0) as {"t":[ms],"v":[...],"g":[...]} thinned to max points (a
 * group's first point is always kept: window boundaries). */
static bt_err_t s_curve(bt_json_t *j, const char *dir, const char *name, const char *gname,
                        const char *vname, size_t max, bt_errbuf_t *eb)
{
    char p[4096];
    bt_table_t t;
    if (!bt_html_exists(dir, name)) {
        bt_json_raw(j, "null");
        return BT_OK;
    }
    bt_err_t e = bt_html_path(p, sizeof p, dir, name, eb);
    if (e == BT_OK)
        e = bt_table_read(&t, p, S_CSV_CAP, eb);
    if (e != BT_OK)
        return e;
    long tc = bt_table_col(&t, "time"), vc = bt_table_col(&t, vname), gc = bt_table_col(&t, gname);
    size_t n = t.nrows ? t.nrows - 1 : 0, step = n > max ? (n + max - 1) / max : 1;
    if (tc < 0 || vc < 0 || gc < 0) {
        bt_table_fini(&t);
        return bt_errf(eb, BT_EFORMAT, "%s: expected columns %s, time, %s", p, gname, vname);
    }
    for (int k = 0; k < 3; k++) {
        bt_json_raw(j, k == 0 ? "{\"t\":[" : k == 1 ? "],\"v\":[" : "],\"g\":[");
        size_t out = 0;
        for (size_t r = 1; r <= n; r++) {
            bool first = r == 1 || strcmp(bt_table_get(&t, r, (size_t)gc),
                                          bt_table_get(&t, r - 1, (size_t)gc)) != 0;
            if (!first && (r - 1) % step && r != n)
                continue;
            bt_json_sep(j, out++);
            double v = NAN;
            if (k == 0) {
                const char *s = bt_table_get(&t, r, (size_t)tc);
                int64_t ns = 0;
                if (bt_time_parse(s, strlen(s), &ns))
                    bt_json_i64(j, ns / 1000000);
                else
                    bt_json_raw(j, "null");
            } else {
                bt_table_num(&t, r, (size_t)(k == 1 ? vc : gc), &v);
                bt_json_num7(j, v);
            }
        }
    }
    bt_json_raw(j, "]}");
    bt_table_fini(&t);
    return BT_OK;
}

static void s_text(bt_json_t *j, const char *dir, const char *name)
{
    char p[4096];
    size_t len = 0;
    char *s = bt_html_path(p, sizeof p, dir, name, NULL) == BT_OK && bt_html_exists(dir, name)
                  ? bt_fs_read_file(p, 4u << 20, &len, NULL)
                  : NULL;
    if (s)
        bt_json_str(j, s);
    else
        bt_json_raw(j, "null");
    free(s);
}

bt_err_t bt_html_sweep_write(const char *dir, bt_errbuf_t *eb)
{
    return bt_html_sweep_write_src(dir, NULL, eb);
}

bt_err_t bt_html_sweep_write_src(const char *dir, const bt_html_sweep_src_t *src,
                                 bt_errbuf_t *eb)
{
    if (!bt_html_exists(dir, "results.csv"))
        return bt_errf(eb, BT_ENOTFOUND, "%s/results.csv: no such file (not a sweep folder)",
                       dir);
    bt_json_t j;
    bt_json_init(&j);
    bt_json_raw(&j, "{\"kind\":\"sweep\",\"build_id\":");
    bt_json_str(&j, bt_build_id());
    bt_json_raw(&j, ",\"metric_names\":[");
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        bt_json_sep(&j, i);
        bt_json_str(&j, bt_metrics_name(i));
    }
    bt_json_raw(&j, "],\"summary\":");
    s_text(&j, dir, "summary.txt");
    bt_err_t e = BT_OK;
    static const char *const tables[] = {"results", "ranking", "walkforward", "pbo_logits"};
    for (size_t k = 0; e == BT_OK && k < 4; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s.csv", tables[k]);
        bt_json_raw(&j, ",");
        bt_json_key(&j, tables[k]);
        size_t max = k < 2 ? S_MAX_ROWS : SIZE_MAX;
        e = src && src->table ? src->table(src->user, name, max, &j, eb) : BT_ENOTFOUND;
        if (e == BT_ENOTFOUND)
            e = s_table(&j, dir, name, max, eb);
    }
    if (e == BT_OK) {
        bt_json_raw(&j, ",\"oos\":");
        e = s_curve(&j, dir, "oos_equity.csv", "window", "equity", S_OOS_POINTS, eb);
    }
    if (e == BT_OK) {
        bt_json_raw(&j, ",\"top_equity\":");
        e = s_curve(&j, dir, "top_equity.csv", "job_id", "equity", SIZE_MAX, eb);
    }
    bt_json_raw(&j, "}");
    if (e == BT_OK)
        e = bt_html_write_page(dir, "sweep", "Back Tester sweep report", &j, eb);
    bt_json_fini(&j);
    return e;
}

void bt_html_sweep_print_top_table(const bt_table_t *tp, const char *rank_by, size_t n, FILE *out)
{
    const bt_table_t t = *tp;
    /* rank, job_id, the axes (up to the first metric), then these */
    const char *want[] = {rank_by, "total_return", "cagr", "max_drawdown", "trades"};
    long cols[64 + 8];
    size_t nc = 0;
    for (size_t c = 0; c < t.ncols && nc < 64; c++) {
        const char *h = bt_table_get(&t, 0, c);
        bool metric = false;
        for (size_t m = 0; m < bt_metrics_count(); m++)
            metric |= strcmp(h, bt_metrics_name(m)) == 0;
        if (metric)
            break;
        size_t hl = strlen(h);
        if (hl > 6 && strcmp(h + hl - 6, "_index") == 0)
            continue;
        cols[nc++] = (long)c;
    }
    size_t nkeep = nc; /* rank, job_id and the axes: printed as written, never rounded */
    for (size_t k = 0; k < 5; k++) {
        long c = bt_table_col(&t, want[k]);
        bool dup = false;
        for (size_t i = 0; i < k; i++)
            dup |= strcmp(want[i], want[k]) == 0;
        if (c >= 0 && !dup)
            cols[nc++] = c;
    }
    size_t rows = t.nrows > 1 ? t.nrows - 1 : 0;
    if (rows > n)
        rows = n;
    if (!rows) {
        fprintf(out, "no successful run to rank\n");
        return;
    }
    char cell[16][72][32];
    size_t width[72] = {0};
    for (size_t r = 0; r <= rows && r < 16; r++)
        for (size_t k = 0; k < nc; k++) {
            double v;
            /* metrics to 4 figures; whole numbers (trades) in full */
            if (r && k >= nkeep && bt_table_num(&t, r, (size_t)cols[k], &v))
                snprintf(cell[r][k], 32,
                         fabs(v) < 1e12 && v == (double)(long long)v ? "%.0f" : "%.4g", v);
            else
                snprintf(cell[r][k], 32, "%s", bt_table_get(&t, r, (size_t)cols[k]));
            size_t l = strlen(cell[r][k]);
            width[k] = l > width[k] ? l : width[k];
        }
    fprintf(out, "top %zu by %s (rounded; all digits in ranking.csv):\n", rows, rank_by);
    for (size_t r = 0; r <= rows && r < 16; r++) {
        for (size_t k = 0; k < nc; k++)
            fprintf(out, "  %*s", (int)width[k], cell[r][k]);
        fputs(r == 1 ? "   <- winner\n" : "\n", out);
    }
}
