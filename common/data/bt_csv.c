/* bt_csv — hand-rolled CSV bar importer over a mapped file (no per-row allocation). */
#include "bt_csv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_sha256.h"
#include "bt_stamp.h"
#include "bt_time.h"

#define S_MAXCOLS 32                  /* more fields than this is a field-count error */
#define S_MAX_FILE ((size_t)64 << 30) /* refuse files above 64 GiB */

/* What a column holds. */
typedef enum {
    S_SKIP = 0,
    S_DATE, /* date, or date and time in one field */
    S_TIME, /* time of day */
    S_OPEN,
    S_HIGH,
    S_LOW,
    S_CLOSE,
    S_ADJ,
    S_VOLUME,
    S_OI,
    S_NROLES
} s_role_t;

static const char *const s_role_names[S_NROLES] = {"(ignored)", "date",        "time",  "open",
                                                   "high",      "low",         "close", "adj_close",
                                                   "volume",    "openinterest"};

typedef struct {
    int ncols;                /* fields per row */
    s_role_t role[S_MAXCOLS]; /* role of each column */
    int col[S_NROLES];        /* column of each role, -1 if absent */
} s_layout_t;

/* ---- small helpers ----------------------------------------------------- */

const char *bt_csv_reason_text(bt_csv_reason_t r)
{
    switch (r) {
#define BT_CSV_REASON_CASE(name, text)                                                             \
    case name:                                                                                     \
        return text;
        BT_CSV_REASONS(BT_CSV_REASON_CASE)
#undef BT_CSV_REASON_CASE
    default:
        return "unknown";
    }
}

static const char *const s_format_names[] = {"auto", "yahoo", "ohlcv", "intraday"};

bt_err_t bt_csv_format_parse(const char *name, bt_csv_format_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, s_format_names[i]) == 0) {
            *out = (bt_csv_format_t)i;
            return BT_OK;
        }
    return BT_EINVAL;
}

const char *bt_csv_format_name(bt_csv_format_t f)
{
    return (unsigned)f < 4 ? s_format_names[f] : "unknown";
}

/* Exact powers of ten representable in a double. */
static const double s_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

bool bt_csv_parse_double(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (len == 0)
        return false;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    /* Fast path (Clinger): at most 19 digits whose value fits in 53 bits and at most 22
     * decimals: mantissa and 10^k are exact doubles, so one correctly rounded division gives
     * the same double as strtod. */
    uint64_t mant = 0;
    int sig = 0, nfrac = 0;
    bool dot = false, fast = true;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (mant == 0 && c == '0') {
                /* leading zero: no significant digit yet */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(c - '0');
                sig++;
            } else {
                fast = false;
            }
            if (dot)
                nfrac++;
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    size_t ndigits_total = i - (size_t)(s[0] == '-' || s[0] == '+') - (size_t)dot;
    if (ndigits_total == 0)
        return false; /* "", "-", ".", "-." */
    if (i == len && fast && mant <= (UINT64_C(1) << 53) && nfrac <= 22) {
        double v = (double)mant / s_pow10[nfrac];
        *out = neg ? -v : v;
        return true;
    }
    /* Slow path: exponent or many digits. Only the plain decimal shape goes to strtod. */
    if (i < len) {
        if (s[i] != 'e' && s[i] != 'E')
            return false;
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t e0 = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e0 || i != len)
            return false;
    }
    char tmp[128];
    if (len >= sizeof tmp)
        return false;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + len)
        return false;
    *out = v;
    return true;
}

/* Lower-cased, space-trimmed copy of a header field. */
static void s_norm(const char *s, size_t len, char *out, size_t cap)
{
    while (len && (*s == ' ' || *s == '"' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '"' || s[len - 1] == '\t'))
        len--;
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        char c = s[i];
        out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

static s_role_t s_role_of(const char *name, int index)
{
    static const struct {
        const char *name;
        s_role_t role;
    } t[] = {
        {"date", S_DATE},        {"datetime", S_DATE},    {"timestamp", S_DATE},
        {"date time", S_DATE},   {"open", S_OPEN},        {"high", S_HIGH},
        {"low", S_LOW},          {"close", S_CLOSE},      {"adj close", S_ADJ},
        {"adj_close", S_ADJ},    {"adjclose", S_ADJ},     {"adjusted close", S_ADJ},
        {"volume", S_VOLUME},    {"vol", S_VOLUME},       {"openinterest", S_OI},
        {"open interest", S_OI}, {"open_interest", S_OI}, {"oi", S_OI},
    };
    if (index == 0 && (name[0] == '\0' || strcmp(name, "time") == 0))
        return S_DATE; /* pandas index column, or a "time" column holding date and time */
    if (strcmp(name, "time") == 0)
        return S_TIME;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0)
            return t[i].role;
    return S_SKIP;
}

static void s_layout_index(s_layout_t *lay)
{
    for (int r = 0; r < S_NROLES; r++)
        lay->col[r] = -1;
    for (int c = 0; c < lay->ncols; c++)
        if (lay->role[c] != S_SKIP)
            lay->col[lay->role[c]] = c;
}

/* Splits [p, le) at delim. Returns the number of fields (may exceed S_MAXCOLS; only the first
 * S_MAXCOLS are recorded). */
static int s_split(const char *p, const char *le, const char **fb, size_t *fl, char delim)
{
    int nf = 0;
    const char *fs = p;
    for (;;) {
        const char *q = memchr(fs, delim, (size_t)(le - fs));
        const char *fe = q ? q : le;
        if (nf < S_MAXCOLS) {
            fb[nf] = fs;
            fl[nf] = (size_t)(fe - fs);
        }
        nf++;
        if (!q)
            return nf;
        fs = q + 1;
    }
}

/* Next line [p, *le) without its line end; returns the start of the following line. eol is the
 * file's line terminator: '\n' (LF, or CRLF: the CR is stripped) or '\r' (CR-only files, as
 * classic Mac OS and some exporters write; a CR LF pair still counts as one line end). */
static const char *s_line(const char *p, const char *end, const char **le, char eol)
{
    const char *nl = memchr(p, eol, (size_t)(end - p));
    const char *next = nl ? nl + 1 : end;
    const char *e = nl ? nl : end;
    if (eol == '\n' && e > p && e[-1] == '\r')
        e--;
    else if (eol == '\r' && next < end && *next == '\n')
        next++;
    *le = e;
    return next;
}

/* The line terminator of a file: CR when its first line ends in a CR not followed by LF. Only
 * the first line is looked at, so a 10 GB LF file is not scanned twice. */
static char s_eol_of(const char *buf, size_t len)
{
    if (len == 0)
        return '\n';
    const char *nl = memchr(buf, '\n', len);
    const char *cr = memchr(buf, '\r', nl ? (size_t)(nl - buf) : len);
    return cr && cr + 1 != nl ? '\r' : '\n';
}

static bool s_blank(const char *p, const char *le)
{
    for (; p < le; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return false;
    return true;
}

/* Shows a field in a message: at most 40 bytes. */
static int s_show_len(size_t len)
{
    return len > 40 ? 40 : (int)len;
}

/* ---- options ------------------------------------------------------------ */

bt_err_t bt_csv_delimiter_parse(const char *name, char *out)
{
    if (strcmp(name, "tab") == 0 || strcmp(name, "\t") == 0 || strcmp(name, "\\t") == 0)
        *out = '\t';
    else if (strcmp(name, ",") == 0 || strcmp(name, ";") == 0 || strcmp(name, "|") == 0)
        *out = name[0];
    else
        return BT_EINVAL;
    return BT_OK;
}

/* --columns parsed: per role a position or a (normalised) header name. */
typedef struct {
    bool given[S_NROLES];
    int pos[S_NROLES];       /* 0-based column, or -1 when by name */
    char name[S_NROLES][48]; /* header name (lower case) when pos < 0 */
    bool by_name;            /* some role is given by name */
} s_colspec_t;

static int s_colkey_role(const char *k, size_t n)
{
    static const struct {
        const char *key;
        s_role_t role;
    } t[] = {{"time", S_DATE},   {"date", S_DATE},     {"datetime", S_DATE}, {"timestamp", S_DATE},
             {"clock", S_TIME},  {"open", S_OPEN},     {"high", S_HIGH},     {"low", S_LOW},
             {"close", S_CLOSE}, {"adj_close", S_ADJ}, {"volume", S_VOLUME}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strlen(t[i].key) == n && memcmp(t[i].key, k, n) == 0)
            return (int)t[i].role;
    return -1;
}

static bt_err_t s_colspec_parse(const char *spec, s_colspec_t *cs, bt_errbuf_t *eb)
{
    memset(cs, 0, sizeof *cs);
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || eq + 1 == p + n)
            return bt_errf(
                eb, BT_EINVAL,
                "--columns '%s': '%.*s' is not ROLE=COLUMN; write e.g. "
                "'time=0,open=1,high=2,low=3,close=4,volume=5' or 'date=Date,close=Last'",
                spec, (int)n, p);
        int r = s_colkey_role(p, (size_t)(eq - p));
        if (r < 0)
            return bt_errf(eb, BT_EINVAL,
                           "--columns: unknown role '%.*s'; roles are time (the timestamp; also "
                           "date), clock (a separate time of day), open, high, low, close, "
                           "adj_close, volume",
                           (int)(eq - p), p);
        if (cs->given[r])
            return bt_errf(eb, BT_EINVAL, "--columns: role '%s' is given twice", s_role_names[r]);
        const char *v = eq + 1;
        size_t vn = (size_t)(p + n - v);
        bool digits = vn <= 2;
        for (size_t i = 0; i < vn && digits; i++)
            digits = v[i] >= '0' && v[i] <= '9';
        cs->given[r] = true;
        if (digits) {
            cs->pos[r] = (v[0] - '0') * (vn == 2 ? 10 : 1) + (vn == 2 ? v[1] - '0' : 0);
            if (cs->pos[r] >= S_MAXCOLS)
                return bt_errf(eb, BT_EINVAL, "--columns: column %d is past the %d supported",
                               cs->pos[r], S_MAXCOLS);
        } else {
            cs->pos[r] = -1;
            cs->by_name = true;
            s_norm(v, vn, cs->name[r], sizeof cs->name[r]);
        }
        p += n;
        if (*p == ',')
            p++;
    }
    static const s_role_t need[] = {S_DATE, S_OPEN, S_HIGH, S_LOW, S_CLOSE};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!cs->given[need[i]])
            return bt_errf(eb, BT_EINVAL,
                           "--columns '%s' does not map '%s'; time, open, high, low and close are "
                           "required",
                           spec, need[i] == S_DATE ? "time" : s_role_names[need[i]]);
    return BT_OK;
}

bt_err_t bt_csv_opts_check(const bt_csv_opts_t *opts, bt_errbuf_t *eb)
{
    if (opts->date_format && bt_datefmt_check(opts->date_format, eb) != BT_OK)
        return BT_EINVAL;
    if (opts->date_format && opts->epoch != BT_EPOCH_NONE)
        return bt_errf(eb, BT_EINVAL,
                       "--date-format and --epoch exclude each other: the timestamp column is "
                       "either text or a number; keep one");
    if (opts->tz && opts->epoch != BT_EPOCH_NONE)
        return bt_errf(eb, BT_EINVAL,
                       "--tz does not apply to --epoch timestamps, which are UTC; drop --tz");
    if (opts->tz) {
        bt_tz_t *tz = bt_tz_new(opts->tz, eb);
        if (!tz)
            return BT_EINVAL;
        bt_tz_destroy(&tz);
    }
    s_colspec_t cs;
    if (opts->columns && s_colspec_parse(opts->columns, &cs, eb) != BT_OK)
        return BT_EINVAL;
    return BT_OK;
}

/* Parses a timestamp field as the options say (ISO, a date format or epoch). */
static bool s_stamp(const bt_csv_opts_t *opts, const char *s, size_t len, int64_t *out)
{
    if (opts->epoch != BT_EPOCH_NONE)
        return bt_epoch_parse(opts->epoch, s, len, out);
    if (opts->date_format)
        return bt_datefmt_parse(opts->date_format, s, len, out);
    return bt_time_parse(s, len, out);
}

/* ---- layout detection -------------------------------------------------- */

/* The layout from --columns: roles by position or by header name. */
static bt_err_t s_layout_from_spec(const char *name, const bt_csv_opts_t *opts, const char **fb,
                                   size_t *fl, int nf, bool *header, int rnf, s_layout_t *lay,
                                   bt_errbuf_t *eb)
{
    s_colspec_t cs;
    bt_err_t rc = s_colspec_parse(opts->columns, &cs, eb);
    if (rc != BT_OK)
        return rc;
    int64_t t;
    int dpos = cs.pos[S_DATE];
    *header = cs.by_name || dpos >= nf || !s_stamp(opts, fb[dpos], fl[dpos], &t);
    lay->ncols = *header ? (rnf > 0 ? rnf : nf) : nf;
    if (lay->ncols > S_MAXCOLS)
        return bt_errf(eb, BT_EFORMAT, "%s: %d fields; at most %d columns are supported", name,
                       lay->ncols, S_MAXCOLS);
    for (int r = 0; r < S_NROLES; r++) {
        if (!cs.given[r])
            continue;
        int c = cs.pos[r];
        if (c < 0) {
            for (int k = 0; k < nf && k < S_MAXCOLS && c < 0; k++) {
                char norm[48];
                s_norm(fb[k], fl[k], norm, sizeof norm);
                if (strcmp(norm, cs.name[r]) == 0)
                    c = k;
            }
            if (c < 0)
                return bt_errf(eb, BT_EFORMAT,
                               "%s:1: --columns names '%s' for %s, but the header has no such "
                               "column (header: %.*s)",
                               name, cs.name[r], r == S_DATE ? "time" : s_role_names[r],
                               (int)(fl[nf - 1] + (size_t)(fb[nf - 1] - fb[0])), fb[0]);
        }
        if (c >= lay->ncols)
            return bt_errf(eb, BT_EFORMAT,
                           "%s: --columns puts %s in column %d, but rows have %d fields "
                           "(columns count from 0)",
                           name, r == S_DATE ? "time" : s_role_names[r], c, lay->ncols);
        if (lay->role[c] != S_SKIP)
            return bt_errf(eb, BT_EFORMAT, "%s: --columns maps column %d to both %s and %s", name,
                           c, s_role_names[lay->role[c]], s_role_names[r]);
        lay->role[c] = (s_role_t)r;
    }
    return BT_OK;
}

static void s_columns_text(const s_layout_t *lay, char *out, size_t cap)
{
    size_t pos = 0;
    out[0] = '\0';
    for (int c = 0; c < lay->ncols && pos < cap; c++) {
        int w = snprintf(out + pos, cap - pos, "%s%s", c ? "," : "", s_role_names[lay->role[c]]);
        if (w < 0)
            break;
        pos += (size_t)w;
    }
}

/* Works out the columns from the first line (header or not) and the first data row. */
static bt_err_t s_detect(const char *name, const char **fb, size_t *fl, int nf, bool *header,
                         const char **rb, size_t *rl, int rnf, const bt_csv_opts_t *opts,
                         s_layout_t *lay, bt_csv_report_t *rep, bt_errbuf_t *eb)
{
    int64_t t;
    memset(lay, 0, sizeof *lay);
    if (nf > S_MAXCOLS)
        return bt_errf(eb, BT_EFORMAT, "%s:1: %d fields; at most %d columns are supported", name,
                       nf, S_MAXCOLS);
    if (opts->columns) {
        bt_err_t rc = s_layout_from_spec(name, opts, fb, fl, nf, header, rb ? rnf : 0, lay, eb);
        if (rc != BT_OK)
            return rc;
    } else if ((*header = !s_stamp(opts, fb[0], fl[0], &t))) {
        lay->ncols = nf;
        for (int c = 0; c < nf; c++) {
            char norm[48];
            s_norm(fb[c], fl[c], norm, sizeof norm);
            lay->role[c] = s_role_of(norm, c);
            for (int k = 0; k < c; k++)
                if (lay->role[c] != S_SKIP && lay->role[k] == lay->role[c])
                    return bt_errf(eb, BT_EFORMAT,
                                   "%s:1: header names column '%s' twice (fields %d and %d)", name,
                                   s_role_names[lay->role[c]], k + 1, c + 1);
        }
        /* Quirk: header without the time column while the rows carry one (date,time,...). */
        int64_t clock;
        if (rb && rnf == nf + 1 && nf + 1 <= S_MAXCOLS && lay->role[0] == S_DATE && rl[0] == 10 &&
            bt_time_parse_clock(rb[1], rl[1], &clock)) {
            bool has_time = false;
            for (int c = 0; c < nf; c++)
                has_time |= lay->role[c] == S_TIME;
            if (!has_time) {
                memmove(&lay->role[2], &lay->role[1], (size_t)(nf - 1) * sizeof lay->role[0]);
                lay->role[1] = S_TIME;
                lay->ncols = nf + 1;
                if (rep)
                    rep->time_from_rows = true;
            }
        }
    } else {
        /* Headerless: date[,time],open,high,low,close[,volume[,openinterest]]. */
        int64_t clock;
        int c = 0;
        lay->role[c++] = S_DATE;
        if (nf > 1 && bt_time_parse_clock(fb[1], fl[1], &clock))
            lay->role[c++] = S_TIME;
        int rest = nf - c;
        if (rest < 4 || rest > 6)
            return bt_errf(eb, BT_EFORMAT,
                           "%s:1: no header and %d fields: expected "
                           "date[,time],open,high,low,close[,volume[,openinterest]]; add a header "
                           "line naming the columns",
                           name, nf);
        static const s_role_t tail[] = {S_OPEN, S_HIGH, S_LOW, S_CLOSE, S_VOLUME, S_OI};
        for (int k = 0; k < rest; k++)
            lay->role[c++] = tail[k];
        lay->ncols = c;
    }
    s_layout_index(lay);
    char cols[160];
    s_columns_text(lay, cols, sizeof cols);
    if (opts->adjust && lay->col[S_ADJ] < 0)
        return bt_errf(eb, BT_EFORMAT,
                       "%s: --adjust needs an Adj Close column, and there is none (columns read "
                       "as: %s); drop --adjust or map one with --columns adj_close=N",
                       name, cols);
    static const s_role_t need[] = {S_DATE, S_OPEN, S_HIGH, S_LOW, S_CLOSE};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (lay->col[need[i]] < 0)
            return bt_errf(eb, BT_EFORMAT,
                           "%s:1: no '%s' column found (columns read as: %s); the header must "
                           "name date, open, high, low and close",
                           name, s_role_names[need[i]], cols);
    bt_csv_format_t fmt = opts->format;
    if (fmt == BT_CSV_YAHOO) {
        static const s_role_t yahoo[] = {S_DATE, S_OPEN, S_HIGH, S_LOW, S_CLOSE, S_ADJ, S_VOLUME};
        bool ok = *header && lay->ncols == 7;
        for (int c = 0; ok && c < 7; c++)
            ok = lay->role[c] == yahoo[c];
        if (!ok)
            return bt_errf(eb, BT_EFORMAT,
                           "%s:1: not the Yahoo format: expected the header "
                           "'Date,Open,High,Low,Close,Adj Close,Volume' (columns read as: %s); "
                           "use --format auto",
                           name, cols);
    } else if (fmt == BT_CSV_INTRADAY) {
        bool ok =
            lay->col[S_TIME] >= 0 || (rb && lay->col[S_DATE] < rnf && rl[lay->col[S_DATE]] > 10);
        if (!ok)
            return bt_errf(eb, BT_EFORMAT,
                           "%s: intraday format needs a time column or 'YYYY-MM-DD HH:MM:SS' "
                           "timestamps, found dates only; use --format ohlcv for daily bars",
                           name);
    } else if (fmt == BT_CSV_AUTO) {
        if (lay->col[S_ADJ] >= 0)
            fmt = BT_CSV_YAHOO;
        else if (lay->col[S_TIME] >= 0 ||
                 (rb && lay->col[S_DATE] < rnf && rl[lay->col[S_DATE]] > 10))
            fmt = BT_CSV_INTRADAY;
        else
            fmt = BT_CSV_OHLCV;
    }
    if (rep) {
        rep->format = fmt;
        rep->has_header = *header;
        rep->has_adj_close = lay->col[S_ADJ] >= 0;
        rep->adjusted = opts->adjust;
        snprintf(rep->columns, sizeof rep->columns, "%s", cols);
    }
    return BT_OK;
}

/* ---- rows -------------------------------------------------------------- */

typedef struct {
    const char *name;          /* file name for messages */
    const s_layout_t *lay;     /* columns */
    const bt_csv_opts_t *opts; /* timestamp options, adjust */
    bt_tz_t *tz;               /* opts->tz, or NULL */
    char last_date[10];        /* cache: the last date text parsed ... */
    int64_t last_day_ns;       /* ... and its midnight in ns */
    bool have_last_date;       /* cache valid */
    char msg[300];             /* the row's error message */
    char cols[160];            /* column roles, for messages */
} s_rowctx_t;

#define S_FAIL(reason, ...)                                                                        \
    do {                                                                                           \
        snprintf(cx->msg, sizeof cx->msg, __VA_ARGS__);                                            \
        return (reason);                                                                           \
    } while (0)

/* Parses a date or datetime field using the one-entry date cache. */
static bool s_parse_stamp(s_rowctx_t *cx, const char *s, size_t len, int64_t *out)
{
    if (cx->opts->epoch != BT_EPOCH_NONE || cx->opts->date_format)
        return s_stamp(cx->opts, s, len, out);
    if (len >= 10 && cx->have_last_date && memcmp(s, cx->last_date, 10) == 0) {
        int64_t clock = 0;
        if (len > 10 &&
            ((s[10] != ' ' && s[10] != 'T') || !bt_time_parse_clock(s + 11, len - 11, &clock)))
            return false;
        *out = cx->last_day_ns + clock;
        return true;
    }
    int64_t day;
    /* int64 ns since 1970 end in April 2262: refuse later years before converting. */
    if (len < 10 || (s[0] > '2' || (s[0] == '2' && (s[1] > '2' || (s[1] == '2' && s[2] >= '6')))) ||
        !bt_time_parse(s, 10, &day))
        return false;
    memcpy(cx->last_date, s, 10);
    cx->last_day_ns = day;
    cx->have_last_date = true;
    int64_t clock = 0;
    if (len > 10 &&
        ((s[10] != ' ' && s[10] != 'T') || !bt_time_parse_clock(s + 11, len - 11, &clock)))
        return false;
    *out = day + clock;
    return true;
}

/* Parses and validates one row. Returns BT_CSV_NREASONS when good, else the reason (and msg). */
static int s_row(s_rowctx_t *cx, size_t line, const char **fb, const size_t *fl, int nf, int64_t *t,
                 double v[S_NROLES])
{
    const s_layout_t *lay = cx->lay;
    if (nf != lay->ncols)
        S_FAIL(BT_CSV_R_FIELDS, "%s:%zu: %d fields, expected %d (%s)", cx->name, line, nf,
               lay->ncols, cx->cols);
    int dc = lay->col[S_DATE];
    if (!s_parse_stamp(cx, fb[dc], fl[dc], t)) {
        const bt_csv_opts_t *o = cx->opts;
        char want[120];
        if (o->epoch != BT_EPOCH_NONE)
            snprintf(want, sizeof want, "epoch %s (--epoch %s)",
                     o->epoch == BT_EPOCH_S ? "seconds" : "milliseconds",
                     o->epoch == BT_EPOCH_S ? "s" : "ms");
        else if (o->date_format)
            snprintf(want, sizeof want, "--date-format '%s'", o->date_format);
        else
            snprintf(want, sizeof want, "YYYY-MM-DD[ HH:MM:SS] (or pass --date-format)");
        S_FAIL(BT_CSV_R_DATE,
               "%s:%zu: field 'date' (column %d): cannot parse '%.*s' as %s (years 1800 to 2259)",
               cx->name, line, dc + 1, s_show_len(fl[dc]), fb[dc], want);
    }
    int tc = lay->col[S_TIME];
    if (tc >= 0) {
        int64_t clock;
        if (!bt_time_parse_clock(fb[tc], fl[tc], &clock))
            S_FAIL(BT_CSV_R_DATE,
                   "%s:%zu: field 'time' (column %d): cannot parse '%.*s' as HH:MM:SS", cx->name,
                   line, tc + 1, s_show_len(fl[tc]), fb[tc]);
        *t += clock;
    }
    if (cx->tz) {
        int64_t local = *t;
        if (!bt_tz_to_utc(cx->tz, local, t)) {
            char a[40];
            S_FAIL(BT_CSV_R_DATE,
                   "%s:%zu: field 'date' (column %d): local time %s does not exist in --tz %s "
                   "(skipped by a daylight-saving change)",
                   cx->name, line, dc + 1, bt_time_format(local, a, sizeof a), cx->opts->tz);
        }
    }
    for (int r = S_OPEN; r <= S_VOLUME; r++) {
        int c = lay->col[r];
        if (c < 0) {
            v[r] = r == S_ADJ ? NAN : 0.0;
            continue;
        }
        if (!bt_csv_parse_double(fb[c], fl[c], &v[r])) {
            char low[8];
            s_norm(fb[c], fl[c] < 7 ? fl[c] : 7, low, sizeof low);
            if (strstr(low, "nan") || strstr(low, "inf"))
                S_FAIL(BT_CSV_R_NONFINITE,
                       "%s:%zu: field '%s' (column %d): '%.*s' is not a finite number", cx->name,
                       line, s_role_names[r], c + 1, s_show_len(fl[c]), fb[c]);
            S_FAIL(BT_CSV_R_NUMBER,
                   "%s:%zu: field '%s' (column %d): cannot parse '%.*s' as a number", cx->name,
                   line, s_role_names[r], c + 1, s_show_len(fl[c]), fb[c]);
        }
        if (!isfinite(v[r]))
            S_FAIL(BT_CSV_R_NONFINITE,
                   "%s:%zu: field '%s' (column %d): '%.*s' is out of the double range", cx->name,
                   line, s_role_names[r], c + 1, s_show_len(fl[c]), fb[c]);
    }
    /* A row of zeros is a placeholder for a missing bar, not a quote: its own reason. */
    if (v[S_OPEN] == 0 && v[S_HIGH] == 0 && v[S_LOW] == 0 && v[S_CLOSE] == 0)
        S_FAIL(BT_CSV_R_ZERO_ROW,
               "%s:%zu: field 'open' (column %d): open, high, low and close are all zero (a "
               "placeholder for a missing bar?)",
               cx->name, line, lay->col[S_OPEN] + 1);
    for (int r = S_OPEN; r <= S_ADJ; r++) {
        int c = lay->col[r];
        if (c < 0)
            continue;
        if (v[r] <= 0)
            S_FAIL(BT_CSV_R_NONPOSITIVE,
                   "%s:%zu: field '%s' (column %d): %s price %.*s; prices must be above zero",
                   cx->name, line, s_role_names[r], c + 1, v[r] < 0 ? "negative" : "zero",
                   s_show_len(fl[c]), fb[c]);
        if (v[r] > BT_CSV_MAX_PRICE)
            S_FAIL(BT_CSV_R_MAGNITUDE,
                   "%s:%zu: field '%s' (column %d): price %.*s is above %g, the largest price "
                   "accepted (wrong units or a broken number?)",
                   cx->name, line, s_role_names[r], c + 1, s_show_len(fl[c]), fb[c],
                   BT_CSV_MAX_PRICE);
    }
    if (v[S_HIGH] < v[S_LOW])
        S_FAIL(BT_CSV_R_HIGHLOW, "%s:%zu: field 'high' (column %d): high %.17g is below low %.17g",
               cx->name, line, lay->col[S_HIGH] + 1, v[S_HIGH], v[S_LOW]);
    if (v[S_OPEN] < v[S_LOW] || v[S_OPEN] > v[S_HIGH])
        S_FAIL(BT_CSV_R_RANGE,
               "%s:%zu: field 'open' (column %d): open %.17g is outside [low %.17g, high %.17g]",
               cx->name, line, lay->col[S_OPEN] + 1, v[S_OPEN], v[S_LOW], v[S_HIGH]);
    if (v[S_CLOSE] < v[S_LOW] || v[S_CLOSE] > v[S_HIGH])
        S_FAIL(BT_CSV_R_RANGE,
               "%s:%zu: field 'close' (column %d): close %.17g is outside [low %.17g, high %.17g]",
               cx->name, line, lay->col[S_CLOSE] + 1, v[S_CLOSE], v[S_LOW], v[S_HIGH]);
    if (v[S_VOLUME] < 0)
        S_FAIL(BT_CSV_R_VOLUME, "%s:%zu: field 'volume' (column %d): negative volume %.*s",
               cx->name, line, lay->col[S_VOLUME] + 1, s_show_len(fl[lay->col[S_VOLUME]]),
               fb[lay->col[S_VOLUME]]);
    if (v[S_VOLUME] > BT_CSV_MAX_VOLUME)
        S_FAIL(BT_CSV_R_MAGNITUDE,
               "%s:%zu: field 'volume' (column %d): volume %.*s is above %g, the largest volume "
               "accepted (wrong units or a broken number?)",
               cx->name, line, lay->col[S_VOLUME] + 1, s_show_len(fl[lay->col[S_VOLUME]]),
               fb[lay->col[S_VOLUME]], BT_CSV_MAX_VOLUME);
    if (cx->opts->adjust) {
        /* One factor for the whole bar keeps low <= open, close <= high: multiplying by a
         * positive double is monotone under rounding. */
        double f = v[S_ADJ] / v[S_CLOSE];
        v[S_OPEN] *= f;
        v[S_HIGH] *= f;
        v[S_LOW] *= f;
        v[S_CLOSE] *= f;
    }
    return BT_CSV_NREASONS;
}

static bt_err_t s_reason_code(int reason)
{
    return reason == BT_CSV_R_FIELDS || reason == BT_CSV_R_DATE || reason == BT_CSV_R_NUMBER
               ? BT_EPARSE
               : BT_EDATA;
}

static void s_note_skip(bt_csv_report_t *rep, int reason, size_t line, const char *msg)
{
    if (!rep)
        return;
    size_t k = rep->by_reason[reason]++;
    if (k < BT_CSV_FIRST_LINES)
        rep->first_lines[reason][k] = line;
    if (k == 0) {
        size_t n = strlen(msg);
        if (n >= sizeof rep->first_msg[reason])
            n = sizeof rep->first_msg[reason] - 1;
        memcpy(rep->first_msg[reason], msg, n);
        rep->first_msg[reason][n] = '\0';
    }
    rep->skipped++;
}

bt_err_t bt_csv_parse(const char *name, const char *buf, size_t len, const bt_csv_opts_t *opts,
                      bt_bars_t *out, bt_csv_report_t *rep, bt_errbuf_t *eb)
{
    assert(name && (buf || len == 0) && opts && out);
    bt_csv_report_t dummy;
    if (!rep)
        rep = &dummy;
    memset(rep, 0, sizeof *rep);

    const char *p = buf, *end = buf + len, *le;
    const char eol = s_eol_of(buf, len);
    const char delim = opts->delimiter ? opts->delimiter : ',';
    size_t line = 0;
    /* First non-blank line, and the first non-blank line after it. */
    const char *first = NULL, *first_le = NULL;
    size_t first_line = 0;
    while (p < end && !first) {
        const char *next = s_line(p, end, &le, eol);
        line++;
        if (!s_blank(p, le)) {
            first = p;
            first_le = le;
            first_line = line;
        }
        p = next;
    }
    if (!first)
        return bt_errf(eb, BT_EFORMAT, "%s: the file is empty; expected a CSV of bars", name);
    if (first_line == 1 && first_le - first >= 3 && (unsigned char)first[0] == 0xEF &&
        (unsigned char)first[1] == 0xBB && (unsigned char)first[2] == 0xBF)
        first += 3; /* UTF-8 byte order mark */
    const char *fb[S_MAXCOLS], *rb[S_MAXCOLS];
    size_t fl[S_MAXCOLS], rl[S_MAXCOLS];
    int nf = s_split(first, first_le, fb, fl, delim);
    /* Peek at the next non-blank line (first data row if the first line is a header). */
    const char *q = p;
    int rnf = 0;
    bool have_row = false;
    while (q < end && !have_row) {
        const char *next = s_line(q, end, &le, eol);
        if (!s_blank(q, le)) {
            rnf = s_split(q, le, rb, rl, delim);
            have_row = true;
        }
        q = next;
    }
    s_layout_t lay;
    bool header = false;
    bt_err_t rc = s_detect(name, fb, fl, nf, &header, have_row && rnf <= S_MAXCOLS ? rb : NULL, rl,
                           rnf, opts, &lay, rep, eb);
    if (rc != BT_OK)
        return rc;
    if (!header) { /* the first line is data: start over from it */
        p = first;
        line = first_line - 1;
    }

    s_rowctx_t cx = {.name = name, .lay = &lay, .opts = opts};
    if (opts->tz && !(cx.tz = bt_tz_new(opts->tz, eb)))
        return BT_EINVAL;
    s_columns_text(&lay, cx.cols, sizeof cx.cols);
    int64_t last_t = INT64_MIN;
    bool have_last = false;
    rc = BT_OK;
    while (p < end && rc == BT_OK) {
        const char *next = s_line(p, end, &le, eol);
        line++;
        if (le == p || s_blank(p, le)) {
            p = next;
            continue;
        }
        int rnf2 = s_split(p, le, fb, fl, delim);
        p = next;
        int64_t t;
        double v[S_NROLES];
        int reason = s_row(&cx, line, fb, fl, rnf2, &t, v);
        if (reason == BT_CSV_NREASONS && have_last && t <= last_t) {
            char a[40], b[40];
            bt_time_format(t, a, sizeof a);
            bt_time_format(last_t, b, sizeof b);
            reason = t == last_t ? BT_CSV_R_DUPLICATE : BT_CSV_R_ORDER;
            snprintf(cx.msg, sizeof cx.msg,
                     "%s:%zu: field 'date' (column %d): timestamp %s %s the previous row's %s; "
                     "rows must be in strictly increasing time order",
                     name, line, lay.col[S_DATE] + 1, a,
                     t == last_t ? "repeats" : "is earlier than", b);
        }
        if (reason != BT_CSV_NREASONS) {
            if (!opts->skip_bad) {
                rc = bt_errf(eb, s_reason_code(reason),
                             "%s; fix the row or pass --skip-bad to import the other rows", cx.msg);
                break;
            }
            s_note_skip(rep, reason, line, cx.msg);
            continue;
        }
        if (bt_bars_push(out, t, v[S_OPEN], v[S_HIGH], v[S_LOW], v[S_CLOSE], v[S_VOLUME],
                         v[S_ADJ]) != BT_OK) {
            rc = bt_errf(eb, BT_ENOMEM, "%s:%zu: out of memory after %zu bars", name, line,
                         rep->rows);
            break;
        }
        rep->rows++;
        last_t = t;
        have_last = true;
    }
    bt_tz_destroy(&cx.tz);
    rep->lines = line;
    if (rc == BT_OK && rep->rows == 0)
        rc = bt_errf(eb, BT_EDATA, "%s: no valid bars found (%zu lines read, %zu rows skipped)",
                     name, line, rep->skipped);
    return rc;
}

bt_err_t bt_csv_read_file(const char *path, const bt_csv_opts_t *opts, bt_bars_t *out,
                          bt_csv_report_t *rep, bt_errbuf_t *eb)
{
    assert(path && opts && out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return bt_errf(eb, errno == ENOENT ? BT_ENOTFOUND : BT_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bt_errf(eb, BT_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len > S_MAX_FILE) {
        close(fd);
        return bt_errf(eb, BT_ELIMIT,
                       "%s: %zu bytes is above the %zu-byte import limit; split "
                       "the file",
                       path, len, S_MAX_FILE);
    }
    if (len == 0) {
        close(fd);
        return bt_errf(eb, BT_EFORMAT, "%s: the file is empty; expected a CSV of bars", path);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return bt_errf(eb, BT_EIO, "%s: cannot map the file: %s", path, strerror(errno));
    posix_madvise(map, len, POSIX_MADV_SEQUENTIAL);
    bt_csv_report_t local;
    if (!rep)
        rep = &local;
    bt_sha256_t h;
    bt_sha256_init(&h);
    bt_sha256_update(&h, map, len);
    char hex[65];
    bt_sha256_final(&h, hex);
    bt_err_t rc = bt_csv_parse(path, map, len, opts, out, rep, eb);
    memcpy(rep->sha256, hex, sizeof hex);
    munmap(map, len);
    return rc;
}
