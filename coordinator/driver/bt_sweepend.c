/* bt_sweepend — the end of a sweep from memory. See bt_sweepend.h. */
#include "bt_sweepend.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt_csvw.h"
#include "bt_html_sweep.h"
#include "bt_sweepjob.h"

struct bt_sweepend_pbo {
    pthread_t th;
    const bt_report_t *r;
};

static void *s_warm(void *arg)
{
    bt_sweepend_pbo_t *p = arg;
    bt_report_overfit_warm(p->r);
    return NULL;
}

bt_sweepend_pbo_t *bt_sweepend_pbo_start(const bt_report_t *r)
{
    bt_sweepend_pbo_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->r = r;
    if (pthread_create(&p->th, NULL, s_warm, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void bt_sweepend_pbo_join(bt_sweepend_pbo_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_join((*self_p)->th, NULL);
    free(*self_p);
    *self_p = NULL;
}

struct bt_sweepend_top {
    pthread_t th;
    const char *dir, *rp;
    const bt_table_t *t;
    bt_err_t rc;
    bt_errbuf_t eb;
};

static void *s_top(void *arg)
{
    bt_sweepend_top_t *p = arg;
    p->rc = bt_sweepjob_top_equity_table(p->dir, p->t, p->rp, &p->eb);
    return NULL;
}

bt_sweepend_top_t *bt_sweepend_top_start(const char *dir, const bt_table_t *t,
                                         const char *ranking_path)
{
    bt_sweepend_top_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    *p = (bt_sweepend_top_t){.dir = dir, .rp = ranking_path, .t = t};
    bt_errbuf_clear(&p->eb);
    if (pthread_create(&p->th, NULL, s_top, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

bt_err_t bt_sweepend_top_join(bt_sweepend_top_t **self_p, bt_errbuf_t *eb)
{
    if (!self_p || !*self_p)
        return BT_OK;
    bt_sweepend_top_t *p = *self_p;
    pthread_join(p->th, NULL);
    bt_err_t rc = p->rc;
    if (rc != BT_OK && eb)
        *eb = p->eb;
    free(p);
    *self_p = NULL;
    return rc;
}

bt_err_t bt_sweepend_top_table(const bt_report_t *r, size_t max_rows, bt_table_t *t,
                               bt_errbuf_t *eb)
{
    memset(t, 0, sizeof *t);
    bt_buf_t b;
    bt_buf_init(&b, (size_t)1 << 30);
    bt_csvw_t w;
    bt_csvw_init_buf(&w, &b);
    bt_err_t e = bt_report_table_csv(r, BT_REPORT_RANKING, max_rows, &w);
    if (e == BT_OK)
        e = bt_buf_append(&b, "", 1); /* the NUL bt_table_parse wants */
    if (e != BT_OK) {
        bt_buf_fini(&b);
        return bt_errf(eb, e, "the ranking's first rows: %s", bt_strerror(e));
    }
    size_t len = b.len - 1;
    char *text = b.data; /* handed over to the table */
    return bt_table_parse(t, text, len, "ranking.csv (in memory)", eb);
}

/* ---- report.html's tables, cell by cell as JSON ---- */

/* What s_table in bt_html_sweep.c makes of the file: the header as strings,
 * numbers as the CSV printed them read back (the CSV's doubles read back
 * exactly, so the number itself; nan/inf as null), text cells as read back
 * (a number when all of one; one trailing CR of a row's last cell dropped,
 * as the reader does). */
typedef struct {
    bt_json_t *j;
    uint64_t total; /* the table's rows: written after the header */
    size_t col;     /* cells so far in this row */
    size_t ncols;   /* the header's */
    size_t row;     /* data rows so far */
    size_t start;   /* where the first row starts in j */
    bool header;    /* still in the header row */
} s_cells_t;

static void s_cell_start(s_cells_t *c)
{
    if (c->col == 0 && !c->header) {
        bt_json_sep(c->j, c->row);
        bt_json_raw(c->j, "[");
    }
    bt_json_sep(c->j, c->col++);
}

static void s_begin(void *user, uint64_t rows)
{
    s_cells_t *c = user;
    c->total = rows;
    bt_json_raw(c->j, "{\"cols\":[");
}

static void s_num(void *user, double v, const char *text)
{
    s_cells_t *c = user;
    s_cell_start(c);
    if (text) /* the CSV's text of a finite double: bt_json_num's too */
        bt_json_raw(c->j, text);
    else
        bt_json_num(c->j, v);
}

static void s_text(void *user, const char *s)
{
    s_cells_t *c = user;
    bool last = !c->header && c->col + 1 == c->ncols;
    s_cell_start(c);
    if (c->header) {
        bt_json_str(c->j, s);
        return;
    }
    size_t n = strlen(s);
    if (last && n && s[n - 1] == '\r') {
        char *cut = strndup(s, n - 1);
        bt_json_csv_text(c->j, cut ? cut : "");
        free(cut);
        return;
    }
    bt_json_csv_text(c->j, s);
}

static void s_end_row(void *user)
{
    s_cells_t *c = user;
    if (c->header) {
        c->header = false;
        c->ncols = c->col;
        bt_json_raw(c->j, "],\"total_rows\":");
        bt_json_i64(c->j, (int64_t)c->total);
        bt_json_raw(c->j, ",\"rows\":[");
        c->start = c->j->buf.len;
    } else {
        bt_json_raw(c->j, "]");
        if (++c->row == 1 && c->j->err == BT_OK) { /* size the text once: no regrowth */
            uint64_t rows = c->total < BT_HTML_SWEEP_MAX_ROWS ? c->total : BT_HTML_SWEEP_MAX_ROWS;
            size_t per = c->j->buf.len - c->start + 8;
            if (rows > 1 && rows < SIZE_MAX / per)
                bt_buf_reserve(&c->j->buf, (size_t)(rows - 1) * per); /* a hint: failure is fine */
        }
    }
    c->col = 0;
}

struct bt_sweepend_tee {
    bt_json_t json[2];         /* results, ranking: {"cols":..,"rows":[..]} */
    s_cells_t cells[2];        /* their writers */
    bt_report_cells_t sink[2]; /* ... as the report's cells */
    bt_report_tee_t tee;       /* for bt_report_write_tables */
    const bt_report_t *r;      /* the logits */
    bool logits;               /* pbo_logits.csv was written from r: the page's from r too */
};

bt_sweepend_tee_t *bt_sweepend_tee_new(const bt_report_t *r)
{
    bt_sweepend_tee_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->r = r;
    for (int k = 0; k < 2; k++) {
        bt_json_init(&t->json[k]);
        t->cells[k] = (s_cells_t){.j = &t->json[k], .header = true};
        t->sink[k] = (bt_report_cells_t){&t->cells[k], s_begin, s_num, s_text, s_end_row};
    }
    t->tee = (bt_report_tee_t){&t->sink[0], &t->sink[1], BT_HTML_SWEEP_MAX_ROWS};
    return t;
}

void bt_sweepend_tee_logits(bt_sweepend_tee_t *t)
{
    if (t)
        t->logits = true;
}

const bt_report_tee_t *bt_sweepend_tee(const bt_sweepend_tee_t *t)
{
    return t ? &t->tee : NULL;
}

void bt_sweepend_tee_destroy(bt_sweepend_tee_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int k = 0; k < 2; k++)
        bt_json_fini(&(*self_p)->json[k]);
    free(*self_p);
    *self_p = NULL;
}

static bt_err_t s_table(void *user, const char *name, size_t max_rows, bt_json_t *j,
                        bt_errbuf_t *eb)
{
    const bt_sweepend_tee_t *t = user;
    int k = strcmp(name, "results.csv") == 0 ? 0 : strcmp(name, "ranking.csv") == 0 ? 1 : -1;
    if (k >= 0 && max_rows == BT_HTML_SWEEP_MAX_ROWS) {
        const bt_json_t *src = &t->json[k];
        if (src->err != BT_OK)
            return bt_errf(eb, src->err, "report data: %s", bt_strerror(src->err));
        if (t->cells[k].header) /* the table never came through */
            return BT_ENOTFOUND;
        bt_json_raw(j, ""); /* keeps j's sticky error */
        if (j->err == BT_OK)
            j->err = bt_buf_append(&j->buf, src->buf.data, src->buf.len);
        bt_json_raw(j, "]}");
        return BT_OK;
    }
    if (t->logits && strcmp(name, "pbo_logits.csv") == 0) {
        double *lg = NULL;
        size_t n = 0;
        if (bt_report_pbo_logits(t->r, &lg, &n) != BT_OK || !lg)
            return BT_ENOTFOUND; /* none written now: whatever the folder holds */
        bt_json_raw(j, "{\"cols\":[\"split\",\"logit\"],\"total_rows\":");
        bt_json_i64(j, (int64_t)n);
        bt_json_raw(j, ",\"rows\":[");
        for (size_t i = 0; i < n && i < max_rows; i++) {
            bt_json_sep(j, i);
            bt_json_raw(j, "[");
            bt_json_num(j, (double)i);
            bt_json_raw(j, ",");
            bt_json_num(j, lg[i]);
            bt_json_raw(j, "]");
        }
        bt_json_raw(j, "]}");
        free(lg);
        return BT_OK;
    }
    return BT_ENOTFOUND;
}

bt_err_t bt_sweepend_html(const bt_sweepend_tee_t *t, const char *dir, bt_errbuf_t *eb)
{
    bt_html_sweep_src_t src = {(void *)t, s_table};
    return bt_html_sweep_write_src(dir, t ? &src : NULL, eb);
}
