/* bt_csv — the CSV bar importer.
 *
 * Reads the common CSV shapes into a bt_bars_t: Yahoo (Date,Open,High,Low,Close,Adj Close,Volume),
 * generic OHLCV with or without a header (date[,time],open,high,low,close[,volume[,openinterest]],
 * including the pandas shape whose first header field is empty), and intraday (a time column, or
 * one "YYYY-MM-DD HH:MM:SS" column). Lines end in LF, CRLF or CR. Naive timestamps are UTC (or
 * local time in opts.tz). Every row is validated (prices > 0 and <= BT_CSV_MAX_PRICE, low <= open,
 * close <= high, volume in [0, BT_CSV_MAX_VOLUME], time strictly increasing); a bad row fails the
 * import with a message naming file, line and field, or with skip_bad is counted per reason and
 * skipped. Numbers are
 * parsed exactly as strtod would (no rounding). Options (bt_csv_opts_t) take other delimiters,
 * date formats, epoch times, time zones, explicit column maps and dividend adjustment. See
 * docs/data.md. */
#ifndef BT_CSV_H
#define BT_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_bars.h"
#include "bt_err.h"
#include "bt_stamp.h"

typedef enum { BT_CSV_AUTO = 0, BT_CSV_YAHOO, BT_CSV_OHLCV, BT_CSV_INTRADAY } bt_csv_format_t;

/* "auto", "yahoo", "ohlcv", "intraday" -> format; BT_EINVAL if unknown. */
bt_err_t bt_csv_format_parse(const char *name, bt_csv_format_t *out);
const char *bt_csv_format_name(bt_csv_format_t f);

/* Zero-initialised options read ISO timestamps (taken as UTC) from comma-separated columns named
 * by the header. docs/data.md, "Import options", has the rules. */
typedef struct bt_csv_opts {
    bt_csv_format_t format;  /* BT_CSV_AUTO sniffs from the header / first row */
    bool skip_bad;           /* skip bad rows (counted in the report) instead of failing */
    char delimiter;          /* field separator: ',' (also 0), ';', '\t' or '|' */
    const char *date_format; /* the timestamp column in this format (bt_datefmt), or NULL: ISO */
    bt_epoch_t epoch;        /* the timestamp column is epoch seconds / milliseconds (UTC) */
    const char *columns;     /* "time=0,open=1,..." or "date=Date,close=Last": positions (from 0)
                                or header names; NULL: roles from the header / the shape */
    const char *tz;          /* naive timestamps are local time here (bt_tz), NULL: UTC */
    bool adjust;             /* scale open/high/low/close by adj_close / close */
} bt_csv_opts_t;

/* Checks the options a user gave (date format, column spec, zone, conflicting options), before
 * any file is read. BT_EINVAL with a message naming the flag and what to do. */
bt_err_t bt_csv_opts_check(const bt_csv_opts_t *opts, bt_errbuf_t *eb);
/* "," ";" "|" "tab" (or a real tab) -> the separator; BT_EINVAL otherwise. */
bt_err_t bt_csv_delimiter_parse(const char *name, char *out);

/* Largest price (open, high, low, close, adj close) and volume a row may carry: a larger number
 * is a unit or parsing mistake (1e308 would overflow every sum), not a quote. */
#define BT_CSV_MAX_PRICE 1e12
#define BT_CSV_MAX_VOLUME 1e15

/* Why a row was rejected. */
#define BT_CSV_REASONS(X)                                                                          \
    X(BT_CSV_R_FIELDS, "wrong number of fields")                                                   \
    X(BT_CSV_R_DATE, "unparsable date or time")                                                    \
    X(BT_CSV_R_NUMBER, "unparsable number")                                                        \
    X(BT_CSV_R_NONFINITE, "NaN or infinite value")                                                 \
    X(BT_CSV_R_ZERO_ROW, "open, high, low and close all zero")                                     \
    X(BT_CSV_R_NONPOSITIVE, "zero or negative price")                                              \
    X(BT_CSV_R_MAGNITUDE, "price above 1e12 or volume above 1e15")                                 \
    X(BT_CSV_R_HIGHLOW, "high below low")                                                          \
    X(BT_CSV_R_RANGE, "open or close outside [low, high]")                                         \
    X(BT_CSV_R_VOLUME, "negative volume")                                                          \
    X(BT_CSV_R_DUPLICATE, "duplicate timestamp")                                                   \
    X(BT_CSV_R_ORDER, "timestamp earlier than the previous row")

typedef enum {
#define BT_CSV_REASON_ENUM(name, text) name,
    BT_CSV_REASONS(BT_CSV_REASON_ENUM)
#undef BT_CSV_REASON_ENUM
        BT_CSV_NREASONS
} bt_csv_reason_t;

const char *bt_csv_reason_text(bt_csv_reason_t r);

#define BT_CSV_FIRST_LINES 5 /* line numbers kept per reason */

typedef struct bt_csv_report {
    size_t rows;                                             /* bars imported */
    size_t lines;                                            /* lines read, header included */
    size_t skipped;                                          /* rows skipped (skip_bad only) */
    size_t by_reason[BT_CSV_NREASONS];                       /* skipped rows per reason */
    size_t first_lines[BT_CSV_NREASONS][BT_CSV_FIRST_LINES]; /* first line numbers per reason */
    char first_msg[BT_CSV_NREASONS][200]; /* message of the first row per reason */
    bool has_header;                      /* the first line was a header */
    bool time_from_rows;                  /* header lacked the time column */
    bool has_adj_close;                   /* an Adj Close column was imported */
    bool adjusted;                        /* open/high/low/close were scaled (opts.adjust) */
    bt_csv_format_t format;               /* the format detected or forced */
    char columns[160];                    /* column roles, e.g. "date,time,open,.." */
    char sha256[65];                      /* sha256 of the file (read_file only) */
} bt_csv_report_t;

/* Parses len bytes of CSV text. name is used in messages (the file name). Bars are appended to
 * out (which should be empty). rep may be NULL. On failure out holds the rows before the bad one.
 */
bt_err_t bt_csv_parse(const char *name, const char *buf, size_t len, const bt_csv_opts_t *opts,
                      bt_bars_t *out, bt_csv_report_t *rep, bt_errbuf_t *eb);

/* Maps the file and parses it (and hashes its bytes into rep->sha256). */
bt_err_t bt_csv_read_file(const char *path, const bt_csv_opts_t *opts, bt_bars_t *out,
                          bt_csv_report_t *rep, bt_errbuf_t *eb);

/* Parses one decimal number of exactly len bytes, bit-identical to strtod. Accepts an optional
 * sign, digits, '.', exponent. false for anything else (including nan/inf text or empty). */
bool bt_csv_parse_double(const char *s, size_t len, double *out);

#endif
