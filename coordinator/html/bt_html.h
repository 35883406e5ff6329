/* bt_html — the pieces every report.html is made of (docs/reports.md).
 *
 * A report is one self-contained file: the page's CSS and script (templates
 * under coordinator/html/tpl/, compiled into the program), the data as one
 * JSON blob in a <script type="application/json"> element, and Chart.js
 * inlined from Debian's libjs-chart.js at write time. Nothing is fetched when
 * the page is viewed. Without Chart.js the page is written without charts,
 * and says so (and bt_html_write_page warns on stderr).
 *
 *     bt_json_t j;
 *     bt_json_init(&j);
 *     bt_json_raw(&j, "{\"kind\":");  bt_json_str(&j, "run");  bt_json_raw(&j, "}");
 *     bt_html_write_page(dir, "run", "title", &j, eb);
 *     bt_json_fini(&j);
 *
 * Also a small reader for the project's own CSV files (bt_table_t), used to
 * rebuild a report from an output folder (bt report DIR). */
#ifndef BT_HTML_H
#define BT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_err.h"

/* Where Chart.js is read from; BT_CHARTJS in the environment overrides it
 * (the tests point it at a missing file to check the chart-less page). */
#define BT_HTML_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"
#define BT_HTML_MAX_BLOB ((size_t)1 << 30) /* cap on one report's data */

/* A JSON text being built; errors are sticky (the first one is kept). */
typedef struct bt_json {
    bt_buf_t buf;
    bt_err_t err;
} bt_json_t;

void bt_json_init(bt_json_t *j);
void bt_json_fini(bt_json_t *j);
/* Text as it is (punctuation, keys the caller knows need no escaping). */
void bt_json_raw(bt_json_t *j, const char *s);
/* A string literal; '<' is escaped so the blob cannot close its <script>. */
void bt_json_str(bt_json_t *j, const char *s);
/* A number that reads back exactly ("%.17g" when "%.15g" does not); null for nan/inf. */
void bt_json_num(bt_json_t *j, double v);
/* A number for display only: 7 significant digits; null for nan/inf. */
void bt_json_num7(bt_json_t *j, double v);
/* A CSV text cell the way a table read back from the file shows it
 * (bt_table_num): a number when all of it reads as one, else a string. */
void bt_json_csv_text(bt_json_t *j, const char *s);
void bt_json_i64(bt_json_t *j, int64_t v);
/* "," unless i == 0: between array elements. */
void bt_json_sep(bt_json_t *j, size_t i);
/* "\"key\":" */
void bt_json_key(bt_json_t *j, const char *key);

/* Writes DIR/report.html atomically: kind is "run" or "sweep" (its script
 * template), title the page title, data the blob. A missing Chart.js is not
 * an error: the page says so and a warning goes to stderr. */
bt_err_t bt_html_write_page(const char *dir, const char *kind, const char *title,
                            const bt_json_t *data, bt_errbuf_t *eb);

/* A CSV file read whole: cells as NUL-terminated strings, row-major; row 0 is
 * the header. Quoted fields (RFC 4180) are unquoted. */
typedef struct bt_table {
    char *text;   /* the file, cut into cells in place */
    char **cell;  /* nrows x ncols; short rows get "" */
    size_t nrows; /* rows including the header */
    size_t ncols; /* header fields */
} bt_table_t;

/* Reads path (at most cap bytes; BT_ELIMIT above). BT_ENOTFOUND when the file
 * does not exist (eb names it). */
bt_err_t bt_table_read(bt_table_t *t, const char *path, size_t cap, bt_errbuf_t *eb);
/* The same from CSV text in memory: takes text (malloc'd, len bytes and a
 * NUL after them; freed by bt_table_fini, also on failure); name for errors. */
bt_err_t bt_table_parse(bt_table_t *t, char *text, size_t len, const char *name, bt_errbuf_t *eb);
void bt_table_fini(bt_table_t *t);
/* Cell (row, col), "" when out of range. */
const char *bt_table_get(const bt_table_t *t, size_t row, size_t col);
/* Column of a header name, or -1. */
long bt_table_col(const bt_table_t *t, const char *name);
/* The cell as a number; false when it is not one (empty, text). */
bool bt_table_num(const bt_table_t *t, size_t row, size_t col, double *v);

/* DIR/name into buf; BT_ELIMIT when it does not fit. */
bt_err_t bt_html_path(char *buf, size_t cap, const char *dir, const char *name, bt_errbuf_t *eb);
/* Whether DIR/name exists. */
bool bt_html_exists(const char *dir, const char *name);

#endif
