/* bt_csvw — the one CSV writer: every CSV the project writes goes through it.
 *
 * One quoting rule (RFC 4180): a field that holds a comma, a double quote, CR
 * or LF is written in double quotes with its quotes doubled; any other field
 * is written as it is. Rows end in "\n". Fields go to a FILE* or a bt_buf_t.
 *
 *     bt_csvw_t w;
 *     bt_csvw_init_file(&w, f);
 *     bt_csvw_line(&w, "symbol,qty,price");   // a fixed header
 *     bt_csvw_str(&w, sym); bt_csvw_i64(&w, qty); bt_csvw_double(&w, px);
 *     if (bt_csvw_end_row(&w) != BT_OK) ...   // first error so far, sticky
 *
 * Errors are sticky: after the first failed write (BT_EIO from the FILE*,
 * BT_ELIMIT / BT_ENOMEM from the buffer) nothing more is written and every
 * later call reports that error. */
#ifndef BT_CSVW_H
#define BT_CSVW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bt_buf.h"
#include "bt_err.h"

typedef struct bt_csvw {
    FILE *f;       /* target file, or NULL */
    bt_buf_t *buf; /* target buffer, or NULL */
    size_t nfield; /* fields written so far in the current row */
    bt_err_t err;  /* first error, BT_OK if none */
} bt_csvw_t;

void bt_csvw_init_file(bt_csvw_t *w, FILE *f);
void bt_csvw_init_buf(bt_csvw_t *w, bt_buf_t *buf);

/* True when s must be quoted: it holds ',', '"', '\r' or '\n'. */
bool bt_csvw_needs_quotes(const char *s, size_t n);

/* A text field, quoted when needed. */
void bt_csvw_str(bt_csvw_t *w, const char *s);
/* The same for the first n bytes of s (or up to a NUL, whichever is first). */
void bt_csvw_strn(bt_csvw_t *w, const char *s, size_t n);
/* An empty field. */
void bt_csvw_empty(bt_csvw_t *w);
void bt_csvw_i64(bt_csvw_t *w, int64_t v);
void bt_csvw_u64(bt_csvw_t *w, uint64_t v);
/* A double that reads back exactly: "%.15g" when strtod gives v back, else
 * "%.17g"; NaN as "nan", infinities as "inf" / "-inf". Used for every
 * number a program reads again (reports, data export). */
void bt_csvw_double(bt_csvw_t *w, double v);
/* A number already formatted (text needs no quoting). */
void bt_csvw_num_text(bt_csvw_t *w, const char *text);
/* "%.*g" with the given significant digits (printf's own nan/inf text). */
void bt_csvw_g(bt_csvw_t *w, double v, int digits);
/* "%.*f" with the given decimals. */
void bt_csvw_fixed(bt_csvw_t *w, double v, int decimals);
/* Ends the row with "\n"; returns the first error so far. */
bt_err_t bt_csvw_end_row(bt_csvw_t *w);
/* Writes text and "\n" as they are (a fixed header row); the caller vouches
 * that it needs no quoting. Returns the first error so far. */
bt_err_t bt_csvw_line(bt_csvw_t *w, const char *text);
/* The first error so far (BT_OK if none). */
bt_err_t bt_csvw_error(const bt_csvw_t *w);

/* "%.15g" of v into buf (at least 40 bytes), the same bytes as snprintf, mostly
 * without it (the per-bar CSVs of bt run are millions of these). Returns the length. */
int bt_csvw_fmt_g15(double v, char *buf);
/* The text bt_csvw_double writes, into buf (40 bytes are always enough). */
const char *bt_csvw_fmt_double(double v, char *buf, size_t size);

#endif
