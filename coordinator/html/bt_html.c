/* bt_html — report page writer, JSON builder, CSV reader. See bt_html.h. */
#include "bt_html.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "bt_csvw.h"
#include "bt_fs.h"

/* The templates, compiled in by cmake/bt_embed.cmake (tpl/). */
extern const char bt_asset_report_css[], bt_asset_common_js[], bt_asset_run_js[],
    bt_asset_sweep_js[];
extern const size_t bt_asset_report_css_len, bt_asset_common_js_len, bt_asset_run_js_len,
    bt_asset_sweep_js_len;

void bt_json_init(bt_json_t *j)
{
    bt_buf_init(&j->buf, BT_HTML_MAX_BLOB);
    j->err = BT_OK;
}

void bt_json_fini(bt_json_t *j)
{
    bt_buf_fini(&j->buf);
}

static void s_put(bt_json_t *j, const char *p, size_t n)
{
    if (j->err == BT_OK)
        j->err = bt_buf_append(&j->buf, p, n);
}

void bt_json_raw(bt_json_t *j, const char *s)
{
    s_put(j, s, strlen(s));
}

void bt_json_str(bt_json_t *j, const char *s)
{
    s_put(j, "\"", 1);
    size_t from = 0, i = 0;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<')
            continue;
        s_put(j, s + from, i - from);
        char esc[8];
        int n = c == '"' || c == '\\' ? snprintf(esc, sizeof esc, "\\%c", c)
                                      : snprintf(esc, sizeof esc, "\\u%04x", c);
        s_put(j, esc, (size_t)n);
        from = i + 1;
    }
    s_put(j, s + from, i - from);
    s_put(j, "\"", 1);
}

void bt_json_num(bt_json_t *j, double v)
{
    char t[40];
    if (!isfinite(v)) {
        bt_json_raw(j, "null");
        return;
    }
    bt_json_raw(j, bt_csvw_fmt_double(v, t, sizeof t));
}

void bt_json_num7(bt_json_t *j, double v)
{
    char t[40];
    if (!isfinite(v)) {
        bt_json_raw(j, "null");
        return;
    }
    int n = snprintf(t, sizeof t, "%.7g", v);
    s_put(j, t, (size_t)n);
}

void bt_json_csv_text(bt_json_t *j, const char *s)
{
    char *e = NULL;
    double v = *s ? strtod(s, &e) : 0.0;
    if (*s && e && *e == '\0')
        bt_json_num(j, v);
    else
        bt_json_str(j, s);
}

void bt_json_i64(bt_json_t *j, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof t, "%" PRId64, v);
    s_put(j, t, (size_t)n);
}

void bt_json_sep(bt_json_t *j, size_t i)
{
    if (i)
        s_put(j, ",", 1);
}

void bt_json_key(bt_json_t *j, const char *key)
{
    bt_json_str(j, key);
    s_put(j, ":", 1);
}

bt_err_t bt_html_path(char *buf, size_t cap, const char *dir, const char *name, bt_errbuf_t *eb)
{
    int w = snprintf(buf, cap, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= cap)
        return bt_errf(eb, BT_ELIMIT, "path too long: %s/%s", dir, name);
    return BT_OK;
}

bool bt_html_exists(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    return bt_html_path(p, sizeof p, dir, name, NULL) == BT_OK && stat(p, &st) == 0;
}

/* Writes text into <script>, breaking any "</script" it holds (Chart.js has
 * none today; it could only sit in a string, regexp or comment, where "<\/"
 * means the same). */
static void s_script(FILE *f, const char *s, size_t n)
{
    size_t from = 0;
    for (size_t i = 0; i + 8 <= n; i++)
        if (s[i] == '<' && s[i + 1] == '/' && strncasecmp(s + i + 2, "script", 6) == 0) {
            fwrite(s + from, 1, i + 1 - from, f);
            fputs("\\", f);
            from = i + 1;
        }
    fwrite(s + from, 1, n - from, f);
}

bt_err_t bt_html_write_page(const char *dir, const char *kind, const char *title,
                            const bt_json_t *data, bt_errbuf_t *eb)
{
    if (data->err != BT_OK)
        return bt_errf(eb, data->err, "report data for %s/report.html: %s (over %zu MB?)", dir,
                       bt_strerror(data->err), BT_HTML_MAX_BLOB >> 20);
    const char *cjs_path = getenv("BT_CHARTJS");
    if (!cjs_path || !cjs_path[0])
        cjs_path = BT_HTML_CHARTJS;
    size_t cjs_len = 0;
    bt_errbuf_t ceb;
    char *cjs = bt_fs_read_file(cjs_path, 16u << 20, &cjs_len, &ceb);
    if (!cjs)
        fprintf(stderr,
                "bt: warning: %s: charts left out of %s/report.html (install Debian's "
                "libjs-chart.js: apt-get install libjs-chart.js)\n",
                ceb.msg, dir);
    char path[4096];
    bt_err_t e = bt_html_path(path, sizeof path, dir, "report.html", eb);
    bt_fs_atomic_t a;
    if (e == BT_OK)
        e = bt_fs_atomic_open(&a, path, eb);
    if (e != BT_OK) {
        free(cjs);
        return e;
    }
    FILE *f = a.f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    for (const char *p = title; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else
            fputc(*p, f);
    }
    fputs("</title>\n<style>\n", f);
    fwrite(bt_asset_report_css, 1, bt_asset_report_css_len, f);
    fprintf(f, "</style>\n</head>\n<body data-kind=\"%s\">\n<main id=\"app\"></main>\n", kind);
    fputs("<script id=\"bt-data\" type=\"application/json\">", f);
    fwrite(data->buf.data, 1, data->buf.len, f);
    fputs("</script>\n", f);
    if (cjs) {
        fputs("<script>\n", f);
        s_script(f, cjs, cjs_len);
        fputs("\n</script>\n", f);
    }
    fputs("<script>\n", f);
    fwrite(bt_asset_common_js, 1, bt_asset_common_js_len, f);
    if (strcmp(kind, "run") == 0)
        fwrite(bt_asset_run_js, 1, bt_asset_run_js_len, f);
    else
        fwrite(bt_asset_sweep_js, 1, bt_asset_sweep_js_len, f);
    fputs("\ntry { btMain(); } catch (e) { btErrors.push('btMain: ' + e.stack); }\nbtFinish();\n"
          "</script>\n</body>\n</html>\n",
          f);
    free(cjs);
    e = bt_fs_atomic_commit(&a, eb);
    bt_fs_atomic_abort(&a);
    return e;
}

/* ---- CSV reader ---- */

static bt_err_t s_parse(bt_table_t *t, size_t len, const char *name, bt_errbuf_t *eb);

bt_err_t bt_table_read(bt_table_t *t, const char *path, size_t cap, bt_errbuf_t *eb)
{
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(path, &st) != 0)
        return bt_errf(eb, BT_ENOTFOUND, "%s: no such file", path);
    if ((uint64_t)st.st_size > cap)
        return bt_errf(eb, BT_ELIMIT, "%s is larger than %zu bytes, the cap for this file", path,
                       cap);
    size_t len = (size_t)st.st_size;
    FILE *f = fopen(path, "rb");
    bool opened = f != NULL;
    t->text = f ? malloc(len + 1) : NULL;
    size_t got = t->text ? fread(t->text, 1, len, f) : 0;
    if (f)
        fclose(f);
    if (!t->text || got != len) {
        bt_table_fini(t);
        return bt_errf(eb, opened ? BT_EIO : BT_ENOMEM, "cannot read %s", path);
    }
    t->text[len] = '\0';
    return s_parse(t, len, path, eb);
}

bt_err_t bt_table_parse(bt_table_t *t, char *text, size_t len, const char *name, bt_errbuf_t *eb)
{
    memset(t, 0, sizeof *t);
    t->text = text;
    return s_parse(t, len, name, eb);
}

/* Cuts t->text (len bytes) into cells. */
static bt_err_t s_parse(bt_table_t *t, size_t len, const char *name, bt_errbuf_t *eb)
{
    size_t rows = 0, cols = 1;
    for (size_t i = 0; i < len; i++)
        rows += t->text[i] == '\n';
    if (len && t->text[len - 1] != '\n')
        rows++;
    for (size_t i = 0; i < len && t->text[i] != '\n'; i++)
        cols += t->text[i] == ','; /* our headers are never quoted */
    t->cell = calloc(rows * cols + 1, sizeof *t->cell);
    if (!t->cell) {
        bt_table_fini(t);
        return bt_errf(eb, BT_ENOMEM, "out of memory reading %s", name);
    }
    t->ncols = cols;
    char *p = t->text, *end = t->text + len;
    size_t r = 0;
    while (p < end && r < rows) {
        size_t c = 0;
        for (;;) {
            char *w = p, *start = p;
            if (*p == '"') { /* quoted: unquote in place */
                p++;
                while (p < end) {
                    if (*p == '"' && p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                    } else if (*p == '"') {
                        p++;
                        break;
                    } else {
                        *w++ = *p++;
                    }
                }
            } else {
                while (p < end && *p != ',' && *p != '\n')
                    w = ++p;
            }
            while (p < end && *p != ',' && *p != '\n')
                p++; /* junk after a closing quote */
            char sep = p < end ? *p : '\n';
            if (w > start && w[-1] == '\r' && sep == '\n')
                w--;
            *w = '\0'; /* w <= p: the separator was read first */
            if (c < cols)
                t->cell[r * cols + c++] = start;
            if (p < end)
                p++;
            if (sep == '\n' || p >= end)
                break;
        }
        r++;
    }
    t->nrows = r;
    return BT_OK;
}

void bt_table_fini(bt_table_t *t)
{
    free(t->cell);
    free(t->text);
    memset(t, 0, sizeof *t);
}

const char *bt_table_get(const bt_table_t *t, size_t row, size_t col)
{
    if (row >= t->nrows || col >= t->ncols)
        return "";
    const char *s = t->cell[row * t->ncols + col];
    return s ? s : "";
}

long bt_table_col(const bt_table_t *t, const char *name)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(bt_table_get(t, 0, c), name) == 0)
            return (long)c;
    return -1;
}

bool bt_table_num(const bt_table_t *t, size_t row, size_t col, double *v)
{
    const char *s = bt_table_get(t, row, col);
    if (!*s)
        return false;
    char *e = NULL;
    *v = strtod(s, &e);
    return e && *e == '\0';
}
