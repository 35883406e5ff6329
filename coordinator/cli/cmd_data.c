/* cmd_data — `bt data import | info | export | resample`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_bars.h"
#include "bt_cmd.h"
#include "bt_csv.h"
#include "bt_csvw.h"
#include "bt_fs.h"
#include "bt_resample.h"
#include "bt_store.h"
#include "bt_time.h"

#define S_TOP_GAPS 10 /* gaps listed by `bt data info STORE SYMBOL` */

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool s_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Matches "--name value" and "--name=value"; advances *i past the value. On a missing value
 * prints an error and sets *bad. */
static bool s_opt_val(int argc, char **argv, int *i, const char *name, const char **val, bool *bad)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", name);
        *bad = true;
        return true;
    }
    *val = argv[++*i];
    return true;
}

/* The symbol a file name gives: its stem up to the first '-' or '.', upper-cased
 * (orcl-1995-2014.txt -> ORCL), when that is a ticker: a letter, then letters, digits or '_',
 * at most 15 characters. Else false and why (2006-day-001.txt: "2006" starts with a digit). */
static bool s_default_symbol(const char *path, char *out, size_t cap, char *why, size_t wcap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = 0;
    const char *p = base;
    for (; *p && *p != '-' && *p != '.' && n + 1 < cap; p++)
        out[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    out[n] = '\0';
    if (n == 0) {
        snprintf(why, wcap, "the file name has no stem before '-' or '.'");
        return false;
    }
    if (!(out[0] >= 'A' && out[0] <= 'Z')) {
        snprintf(why, wcap, "'%s' does not start with a letter, so it is not a ticker", out);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
            snprintf(why, wcap, "'%s' holds '%c'; a ticker is letters, digits and '_'", out, c);
            return false;
        }
    }
    if (n > 15 || (*p && *p != '-' && *p != '.')) {
        snprintf(why, wcap, "'%s' is longer than the 15 characters of a ticker", out);
        return false;
    }
    return true;
}

static const char *s_base(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* "3d 4h", "2h 5m", "45m", "12s" */
static char *s_fmt_dur(int64_t ns, char *buf, size_t cap)
{
    int64_t s = ns / BT_NS_PER_SEC;
    int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
    if (d > 0)
        snprintf(buf, cap, h ? "%lldd %lldh" : "%lldd", (long long)d, (long long)h);
    else if (h > 0)
        snprintf(buf, cap, m ? "%lldh %lldm" : "%lldh", (long long)h, (long long)m);
    else if (m > 0)
        snprintf(buf, cap, sec ? "%lldm %llds" : "%lldm", (long long)m, (long long)sec);
    else
        snprintf(buf, cap, "%llds", (long long)sec);
    return buf;
}

/* ---- import ------------------------------------------------------------ */

static void s_import_help(FILE *out)
{
    fprintf(
        out,
        "usage: bt data import FILE... --out STORE.h5 [--symbol NAME]\n"
        "                      [--format auto|yahoo|ohlcv|intraday] [--compress none|deflate]\n"
        "                      [--replace] [--skip-bad] [--delimiter ,|;|tab|'|']\n"
        "                      [--date-format FMT | --epoch s|ms] [--tz ZONE]\n"
        "                      [--columns ROLE=COL,...] [--adjust]\n"
        "\n"
        "Imports CSV bar files into an HDF5 bar store, one symbol per file.\n"
        "  --out STORE.h5   the bar store (created if absent)\n"
        "  --symbol NAME    symbol name (one file only); default: the upper-cased file name\n"
        "                   up to the first '-' or '.' (orcl-1995-2014.txt -> ORCL) when that\n"
        "                   is a ticker (a letter, then letters, digits, '_'; 15 at most)\n"
        "  --format F       auto (default: sniffed from the header), yahoo, ohlcv, intraday\n"
        "  --compress C     none (default, fastest to load) or deflate (smaller)\n"
        "  --replace        overwrite a symbol that is already in the store\n"
        "  --skip-bad       skip invalid rows (reported per reason) instead of failing\n"
        "  --delimiter D    field separator: , (default) ; tab |\n"
        "  --date-format F  timestamp layout, e.g. '%%m/%%d/%%Y' or '%%d.%%m.%%Y %%H:%%M'\n"
        "                   (%%Y %%y %%m %%b %%d %%H %%M %%S %%f);\n"
        "                   default: ISO YYYY-MM-DD[ HH:MM:SS]\n"
        "  --epoch U        timestamps are seconds (s) or milliseconds (ms) since 1970 UTC\n"
        "  --tz ZONE        naive timestamps are local time in ZONE (Europe/Berlin, +01:00);\n"
        "                   stored as UTC. Default: naive timestamps are UTC\n"
        "  --columns MAP    roles by position (from 0) or header name:\n"
        "                   'time=0,open=1,high=2,low=3,close=4,volume=5'\n"
        "                   or 'time=Date,open=First,high=Top,low=Bottom,close=Last'\n"
        "                   roles: time, clock (separate time of day), open, high, low, close,\n"
        "                   adj_close, volume; other columns are ignored\n"
        "  --adjust         scale open, high, low, close by Adj Close / Close (dividends)\n"
        "\n"
        "example:\n"
        "  bt data import orcl-1995-2014.txt nvda-1999-2014.txt --out stocks.h5\n"
        "  bt data import orcl-1995-2014.txt --adjust --symbol ORCL_ADJ --out stocks.h5\n"
        "  bt data import paris.csv --tz Europe/Paris --columns \\\n"
        "      time=0,open=1,high=2,low=3,close=4 --out eu.h5\n"
        "  bt data import us.csv --delimiter ';' --date-format '%%m/%%d/%%Y' --out us.h5\n");
}

static void s_print_skips(const bt_csv_report_t *rep)
{
    if (rep->skipped == 0)
        return;
    printf("  skipped %zu bad row%s:\n", rep->skipped, rep->skipped == 1 ? "" : "s");
    for (int r = 0; r < BT_CSV_NREASONS; r++) {
        size_t n = rep->by_reason[r];
        if (n == 0)
            continue;
        printf("    %zu x %s (line%s", n, bt_csv_reason_text((bt_csv_reason_t)r), n > 1 ? "s" : "");
        for (size_t k = 0; k < n && k < BT_CSV_FIRST_LINES; k++)
            printf("%s %zu", k ? "," : "", rep->first_lines[r][k]);
        printf("%s), first: %s\n", n > BT_CSV_FIRST_LINES ? ", ..." : "", rep->first_msg[r]);
    }
}

static int s_import_one(const char *file, const char *symbol, const char *store,
                        const bt_csv_opts_t *opts, bool replace, bool deflate)
{
    char sym[BT_SYMBOL_MAX], why[128];
    if (symbol)
        snprintf(sym, sizeof sym, "%s", symbol);
    else if (!s_default_symbol(file, sym, sizeof sym, why, sizeof why)) {
        fprintf(stderr,
                "bt data import: %s: cannot take a symbol from the file name: %s; pass "
                "--symbol NAME\n",
                file, why);
        return 2;
    }
    bt_bars_t *bars = bt_bars_new(sym, 4096);
    if (!bars) {
        fprintf(stderr, "bt data import: out of memory\n");
        return 1;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_csv_report_t rep;
    double t0 = s_now();
    bt_err_t rc = bt_csv_read_file(file, opts, bars, &rep, &eb);
    double t1 = s_now();
    if (rc != BT_OK) {
        fprintf(stderr, "bt data import: %s\n", eb.msg);
        bt_bars_destroy(&bars);
        return 1;
    }
    bt_series_t s = bt_bars_view(bars);
    bt_store_meta_t meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.source, sizeof meta.source, "%s%s", s_base(file),
             rep.adjusted ? " (adjusted: OHLC x adj_close/close)" : "");
    memcpy(meta.sha256, rep.sha256, sizeof meta.sha256);
    snprintf(meta.frequency, sizeof meta.frequency, "%s", bt_store_detect_frequency(&s));
    rc = bt_store_write(store, &s, &meta, replace, deflate, &eb);
    double t2 = s_now();
    if (rc != BT_OK) {
        fprintf(stderr, "bt data import: %s\n", eb.msg);
        bt_bars_destroy(&bars);
        return 1;
    }
    char a[40], b[40];
    double secs = t2 - t0;
    printf("%-8s %9zu rows  %s .. %s  %-9s %-8s %.3f s  %.0f rows/s  (parse %.3f s, write "
           "%.3f s)  %s%s\n",
           sym, s.n, bt_time_format(s.time[0], a, sizeof a),
           bt_time_format(s.time[s.n - 1], b, sizeof b), meta.frequency,
           bt_csv_format_name(rep.format), secs, secs > 0 ? (double)s.n / secs : 0.0, t1 - t0,
           t2 - t1, s_base(file), rep.time_from_rows ? " (time column taken from the rows)" : "");
    if (rep.adjusted)
        printf("  adjusted: open, high, low, close x adj_close / close\n");
    s_print_skips(&rep);
    bt_bars_destroy(&bars);
    return 0;
}

int bt_cmd_data_import(int argc, char **argv)
{
    const char *out = NULL, *symbol = NULL, *format = "auto", *compress = "none";
    const char *delim = NULL, *datefmt = NULL, *epoch = NULL, *tz = NULL, *columns = NULL;
    bool replace = false, skip_bad = false, adjust = false, bad = false;
    int nfiles = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files)
        return 1;
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i];
        if (s_is_help(a)) {
            s_import_help(stdout);
            free(files);
            return 0;
        }
        if (s_opt_val(argc, argv, &i, "--out", &out, &bad) ||
            s_opt_val(argc, argv, &i, "--symbol", &symbol, &bad) ||
            s_opt_val(argc, argv, &i, "--format", &format, &bad) ||
            s_opt_val(argc, argv, &i, "--compress", &compress, &bad) ||
            s_opt_val(argc, argv, &i, "--delimiter", &delim, &bad) ||
            s_opt_val(argc, argv, &i, "--date-format", &datefmt, &bad) ||
            s_opt_val(argc, argv, &i, "--epoch", &epoch, &bad) ||
            s_opt_val(argc, argv, &i, "--tz", &tz, &bad) ||
            s_opt_val(argc, argv, &i, "--columns", &columns, &bad))
            continue;
        if (strcmp(a, "--replace") == 0)
            replace = true;
        else if (strcmp(a, "--adjust") == 0)
            adjust = true;
        else if (strcmp(a, "--skip-bad") == 0)
            skip_bad = true;
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "bt data import: unknown option '%s'\n", a);
            bad = true;
        } else
            files[nfiles++] = argv[i];
    }
    bt_csv_opts_t opts = {.skip_bad = skip_bad,
                          .date_format = datefmt,
                          .tz = tz,
                          .columns = columns,
                          .adjust = adjust};
    if (!bad && nfiles == 0) {
        fprintf(stderr, "bt data import: no CSV file given\n");
        bad = true;
    }
    if (!bad && !out) {
        fprintf(stderr, "bt data import: --out STORE.h5 is required\n");
        bad = true;
    }
    if (!bad && symbol && nfiles > 1) {
        fprintf(stderr,
                "bt data import: --symbol works with one file only (%d given); import "
                "them one by one or rely on the file-name rule\n",
                nfiles);
        bad = true;
    }
    if (!bad && bt_csv_format_parse(format, &opts.format) != BT_OK) {
        fprintf(stderr, "bt data import: unknown --format '%s' (auto, yahoo, ohlcv, intraday)\n",
                format);
        bad = true;
    }
    if (!bad && strcmp(compress, "none") != 0 && strcmp(compress, "deflate") != 0) {
        fprintf(stderr, "bt data import: unknown --compress '%s' (none, deflate)\n", compress);
        bad = true;
    }
    if (!bad && delim && bt_csv_delimiter_parse(delim, &opts.delimiter) != BT_OK) {
        fprintf(stderr,
                "bt data import: unknown --delimiter '%s'; use , ; tab or | (quote ; and | in "
                "the shell)\n",
                delim);
        bad = true;
    }
    if (!bad && epoch && bt_epoch_unit_parse(epoch, &opts.epoch) != BT_OK) {
        fprintf(stderr,
                "bt data import: unknown --epoch '%s'; use s (seconds) or ms "
                "(milliseconds)\n",
                epoch);
        bad = true;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (!bad && bt_csv_opts_check(&opts, &eb) != BT_OK) {
        fprintf(stderr, "bt data import: %s\n", eb.msg);
        bad = true;
    }
    for (int i = 0; !bad && !symbol && i < nfiles; i++) {
        char sym[BT_SYMBOL_MAX], why[128];
        if (!s_default_symbol(files[i], sym, sizeof sym, why, sizeof why)) {
            fprintf(stderr,
                    "bt data import: %s: cannot take a symbol from the file name: %s; pass "
                    "--symbol NAME\n",
                    files[i], why);
            bad = true;
        }
    }
    if (bad) {
        fprintf(stderr, "see 'bt data import --help'\n");
        free(files);
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < nfiles; i++) {
        int r =
            s_import_one(files[i], symbol, out, &opts, replace, strcmp(compress, "deflate") == 0);
        if (r > rc)
            rc = r;
    }
    free(files);
    return rc;
}

/* ---- info -------------------------------------------------------------- */

typedef struct {
    int64_t from, to; /* the bars on either side */
} s_gap_t;

/* Weekdays (Mon-Fri) strictly between day numbers a < b. */
static int64_t s_weekdays_between(int64_t a, int64_t b)
{
    int64_t n = 0;
    int64_t d = a + 1;
    int64_t span = b - d;
    if (span <= 0)
        return 0;
    n = span / 7 * 5;
    for (int64_t x = d + span / 7 * 7; x < b; x++) {
        int64_t w = (x + 3) % 7; /* 1970-01-01 was a Thursday (3) */
        if (w < 0)
            w += 7;
        n += w < 5;
    }
    return n;
}

static int64_t s_floor_day(int64_t t)
{
    int64_t d = t / BT_NS_PER_DAY;
    return (t % BT_NS_PER_DAY < 0) ? d - 1 : d;
}

/* Is the spacing between bar i-1 and i a gap? See docs/data.md for the rule. */
static bool s_is_gap(const bt_series_t *s, size_t i, int64_t freq_ns, bool daily)
{
    if (daily)
        return s_weekdays_between(s_floor_day(s->time[i - 1]), s_floor_day(s->time[i])) >= 2;
    return (double)(s->time[i] - s->time[i - 1]) > 1.5 * (double)freq_ns;
}

/* Counts gaps and keeps the S_TOP_GAPS largest in top (descending). */
static size_t s_gaps(const bt_series_t *s, const char *freq, s_gap_t *top, size_t *ntop)
{
    int64_t fns = bt_store_frequency_ns(freq);
    bool daily = strcmp(freq, "1d") == 0;
    *ntop = 0;
    if (fns == 0)
        return 0;
    size_t count = 0;
    for (size_t i = 1; i < s->n; i++) {
        if (!s_is_gap(s, i, fns, daily))
            continue;
        count++;
        int64_t len = s->time[i] - s->time[i - 1];
        size_t k;
        if (*ntop < S_TOP_GAPS)
            k = (*ntop)++;
        else if (top[S_TOP_GAPS - 1].to - top[S_TOP_GAPS - 1].from < len)
            k = S_TOP_GAPS - 1;
        else
            continue;
        top[k] = (s_gap_t){s->time[i - 1], s->time[i]};
        for (; k > 0 && top[k - 1].to - top[k - 1].from < len; k--) {
            s_gap_t tmp = top[k - 1];
            top[k - 1] = top[k];
            top[k] = tmp;
        }
    }
    return count;
}

static void s_info_help(FILE *out)
{
    fprintf(out,
            "usage: bt data info STORE.h5 [SYMBOL] [--verify]\n"
            "\n"
            "Lists each symbol: rows, first and last bar, frequency, number of gaps and the\n"
            "largest gap. With SYMBOL also its largest gaps and stored attributes.\n"
            "  --verify   re-hash the bars and compare with the stored content_sha256\n"
            "\n"
            "A gap in daily data is a spacing that skips 2 or more weekdays (one missing weekday\n"
            "is a holiday); in other data a spacing above 1.5x the bar frequency.\n"
            "\n"
            "example:\n"
            "  bt data info stocks.h5\n"
            "  bt data info stocks.h5 ORCL --verify\n");
}

int bt_cmd_data_info(int argc, char **argv)
{
    const char *store = NULL, *symbol = NULL;
    bool verify = false, bad = false;
    for (int i = 1; i < argc; i++) {
        if (s_is_help(argv[i])) {
            s_info_help(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--verify") == 0)
            verify = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bt data info: unknown option '%s'\n", argv[i]);
            bad = true;
        } else if (!store)
            store = argv[i];
        else if (!symbol)
            symbol = argv[i];
        else {
            fprintf(stderr, "bt data info: unexpected argument '%s'\n", argv[i]);
            bad = true;
        }
    }
    if (!bad && !store) {
        fprintf(stderr, "bt data info: missing STORE.h5\n");
        bad = true;
    }
    if (bad) {
        fprintf(stderr, "see 'bt data info --help'\n");
        return 2;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    const char *one[1] = {symbol};
    bt_dataset_t *ds = bt_dataset_load(store, symbol ? one : NULL, symbol ? 1 : 0, &eb);
    if (!ds) {
        fprintf(stderr, "bt data info: %s\n", eb.msg);
        return 1;
    }
    int rc = 0;
    printf("%-10s %10s  %-19s  %-19s  %-9s %6s  %s\n", "symbol", "rows", "first", "last", "freq",
           "gaps", "largest gap");
    for (size_t k = 0; k < ds->nsym; k++) {
        const bt_series_t *s = &ds->series[k];
        const char *freq =
            ds->meta[k].frequency[0] ? ds->meta[k].frequency : bt_store_detect_frequency(s);
        s_gap_t top[S_TOP_GAPS];
        size_t ntop = 0;
        size_t ngaps = s_gaps(s, freq, top, &ntop);
        char a[40] = "-", b[40] = "-", g[40] = "-";
        if (s->n) {
            bt_time_format(s->time[0], a, sizeof a);
            bt_time_format(s->time[s->n - 1], b, sizeof b);
        }
        if (ntop)
            s_fmt_dur(top[0].to - top[0].from, g, sizeof g);
        char gaps[24];
        if (bt_store_frequency_ns(freq) == 0)
            snprintf(gaps, sizeof gaps, "-");
        else
            snprintf(gaps, sizeof gaps, "%zu", ngaps);
        printf("%-10s %10zu  %-19s  %-19s  %-9s %6s  %s", s->symbol, s->n, a, b, freq, gaps, g);
        if (ntop) {
            char f1[40], f2[40];
            printf(" (%s -> %s)", bt_time_format(top[0].from, f1, sizeof f1),
                   bt_time_format(top[0].to, f2, sizeof f2));
        }
        printf("\n");
        if (symbol) {
            bt_store_attrs_t at;
            if (bt_store_read_attrs(store, s->symbol, &at, &eb) != BT_OK) {
                fprintf(stderr, "bt data info: %s\n", eb.msg);
                rc = 1;
                continue;
            }
            if (ntop) {
                printf("\nlargest gaps:\n");
                for (size_t j = 0; j < ntop; j++) {
                    char f1[40], f2[40], d[40];
                    printf("  %-19s -> %-19s  %s\n", bt_time_format(top[j].from, f1, sizeof f1),
                           bt_time_format(top[j].to, f2, sizeof f2),
                           s_fmt_dur(top[j].to - top[j].from, d, sizeof d));
                }
            }
            printf("\nattributes of /%s:\n", s->symbol);
            printf("  source          %s\n", at.meta.source);
            printf("  source_sha256   %s\n", at.meta.sha256[0] ? at.meta.sha256 : "(none)");
            printf("  frequency       %s\n", at.meta.frequency);
            printf("  rows            %lld\n", at.rows);
            printf("  content_sha256  %s\n", at.content_sha256);
            printf("  bt_version      %s\n", at.bt_version);
            printf("  fields          time, open, high, low, close, volume%s\n",
                   at.has_adj_close ? ", adj_close" : "");
            printf("  compression     %s\n", at.deflate ? "shuffle + deflate" : "none");
        }
        if (verify) {
            bt_store_attrs_t at;
            char now[65];
            bt_store_content_hash(s, now);
            if (bt_store_read_attrs(store, s->symbol, &at, &eb) != BT_OK) {
                fprintf(stderr, "bt data info: %s\n", eb.msg);
                rc = 1;
            } else if (strcmp(now, at.content_sha256) != 0 || at.rows != (long long)s->n) {
                fprintf(stderr,
                        "bt data info: %s: symbol %s FAILED verification: content hash %s, "
                        "stored %s (rows %zu, stored %lld); re-import it\n",
                        store, s->symbol, now, at.content_sha256[0] ? at.content_sha256 : "(none)",
                        s->n, at.rows);
                rc = 1;
            } else {
                printf("  verify %s: OK (content_sha256 %s)\n", s->symbol, now);
            }
        }
    }
    printf("\ndata hash: %s\n", ds->hash);
    bt_dataset_destroy(&ds);
    return rc;
}

/* ---- export ------------------------------------------------------------ */

static void s_export_help(FILE *out)
{
    fprintf(out,
            "usage: bt data export STORE.h5 SYMBOL [--out FILE.csv]\n"
            "\n"
            "Writes one symbol as CSV (stdout by default) with the header\n"
            "Date,Open,High,Low,Close[,Adj Close],Volume. Numbers are written with 15 significant\n"
            "digits, or 17 where 15 would not read back to the same double, so re-importing\n"
            "gives identical bars.\n"
            "\n"
            "example:\n"
            "  bt data export stocks.h5 ORCL --out orcl.csv\n");
}

static void s_fmt_stamp(int64_t t, bool intraday, char *buf, size_t cap)
{
    bt_civil_t c;
    bt_time_to_civil(t, &c);
    if (!intraday)
        snprintf(buf, cap, "%04d-%02d-%02d", c.year, c.month, c.day);
    else if (c.nanos == 0)
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                 c.minute, c.second);
    else
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d.%09lld", c.year, c.month, c.day, c.hour,
                 c.minute, c.second, (long long)c.nanos);
}

int bt_cmd_data_export(int argc, char **argv)
{
    const char *store = NULL, *symbol = NULL, *out = NULL;
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (s_is_help(argv[i])) {
            s_export_help(stdout);
            return 0;
        }
        if (s_opt_val(argc, argv, &i, "--out", &out, &bad))
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "bt data export: unknown option '%s'\n", argv[i]);
            bad = true;
        } else if (!store)
            store = argv[i];
        else if (!symbol)
            symbol = argv[i];
        else {
            fprintf(stderr, "bt data export: unexpected argument '%s'\n", argv[i]);
            bad = true;
        }
    }
    if (!bad && (!store || !symbol)) {
        fprintf(stderr, "bt data export: need STORE.h5 and SYMBOL\n");
        bad = true;
    }
    if (bad) {
        fprintf(stderr, "see 'bt data export --help'\n");
        return 2;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    const char *one[1] = {symbol};
    bt_dataset_t *ds = bt_dataset_load(store, one, 1, &eb);
    if (!ds) {
        fprintf(stderr, "bt data export: %s\n", eb.msg);
        return 1;
    }
    /* --out: written to a temp file and renamed into place, so a failed export leaves no
     * half file behind */
    bt_fs_atomic_t a = {0};
    if (out && bt_fs_atomic_open(&a, out, &eb) != BT_OK) {
        fprintf(stderr, "bt data export: %s\n", eb.msg);
        bt_dataset_destroy(&ds);
        return 1;
    }
    FILE *f = out ? a.f : stdout;
    const bt_series_t *s = &ds->series[0];
    bool intraday = false;
    for (size_t i = 0; i < s->n && !intraday; i++)
        intraday = s->time[i] % BT_NS_PER_DAY != 0;
    bt_csvw_t w;
    bt_csvw_init_file(&w, f);
    bt_csvw_line(&w, s->adj_close ? "Date,Open,High,Low,Close,Adj Close,Volume"
                                  : "Date,Open,High,Low,Close,Volume");
    for (size_t i = 0; i < s->n && bt_csvw_error(&w) == BT_OK; i++) {
        char ts[48];
        s_fmt_stamp(s->time[i], intraday, ts, sizeof ts);
        bt_csvw_str(&w, ts);
        bt_csvw_double(&w, s->open[i]);
        bt_csvw_double(&w, s->high[i]);
        bt_csvw_double(&w, s->low[i]);
        bt_csvw_double(&w, s->close[i]);
        if (s->adj_close)
            bt_csvw_double(&w, s->adj_close[i]);
        bt_csvw_double(&w, s->volume[i]);
        bt_csvw_end_row(&w);
    }
    int rc = 0;
    if (out) {
        if (bt_fs_atomic_commit(&a, &eb) != BT_OK) {
            fprintf(stderr, "bt data export: %s\n", eb.msg);
            rc = 1;
        }
        bt_fs_atomic_abort(&a);
    } else if (bt_csvw_error(&w) != BT_OK || ferror(f) || fflush(f) != 0) {
        fprintf(stderr, "bt data export: writing stdout failed\n");
        rc = 1;
    }
    bt_dataset_destroy(&ds);
    return rc;
}

/* ---- resample ---------------------------------------------------------- */

static void s_resample_help(FILE *out)
{
    fprintf(
        out,
        "usage: bt data resample STORE.h5 SYMBOL --to PERIOD --out STORE2.h5\n"
        "                        [--label start|end] [--session HH:MM-HH:MM]\n"
        "                        [--symbol NAME] [--replace] [--compress none|deflate]\n"
        "\n"
        "Builds coarser bars: first open, highest high, lowest low, last close, summed\n"
        "volume per bin. Bins are aligned to UTC midnight; empty bins make no bar.\n"
        "  --to PERIOD      Ns, Nm, Nh dividing a day (5m, 15m, 1h, 4h), 1d or 1w (Monday)\n"
        "  --out STORE2.h5  where the new symbol goes (may be STORE.h5 with --symbol)\n"
        "  --label L        how the source bars are stamped: start (default: a bar at 09:00\n"
        "                   covers 09:00-09:05) or end (09:05 covers 09:00-09:05); intraday\n"
        "                   output bars are stamped the same way; 1d/1w bars at midnight\n"
        "  --session S      keep only bars stamped from HH:MM to HH:MM (inclusive); an\n"
        "                   overnight session (22:00-21:59) counts its evening to the next day\n"
        "  --symbol NAME    name in STORE2 (default: SYMBOL)\n"
        "  --replace        overwrite NAME in STORE2\n"
        "\n"
        "example:\n"
        "  bt data resample idx.h5 IDX5M --to 1d --label end --session 09:05-17:30 \\\n"
        "      --out idx-daily.h5 --symbol IDX\n"
        "  bt data resample fx.h5 EURUSD --to 4h --out fx4h.h5\n");
}

int bt_cmd_data_resample(int argc, char **argv)
{
    const char *store = NULL, *symbol = NULL, *out = NULL, *to = NULL, *label = "start";
    const char *session = NULL, *name = NULL, *compress = "none";
    bool replace = false, bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i];
        if (s_is_help(a)) {
            s_resample_help(stdout);
            return 0;
        }
        if (s_opt_val(argc, argv, &i, "--out", &out, &bad) ||
            s_opt_val(argc, argv, &i, "--to", &to, &bad) ||
            s_opt_val(argc, argv, &i, "--label", &label, &bad) ||
            s_opt_val(argc, argv, &i, "--session", &session, &bad) ||
            s_opt_val(argc, argv, &i, "--symbol", &name, &bad) ||
            s_opt_val(argc, argv, &i, "--compress", &compress, &bad))
            continue;
        if (strcmp(a, "--replace") == 0)
            replace = true;
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "bt data resample: unknown option '%s'\n", a);
            bad = true;
        } else if (!store)
            store = a;
        else if (!symbol)
            symbol = a;
        else {
            fprintf(stderr, "bt data resample: unexpected argument '%s'\n", a);
            bad = true;
        }
    }
    bt_resample_opts_t o = {0};
    if (!bad && (!store || !symbol)) {
        fprintf(stderr, "bt data resample: need STORE.h5 and SYMBOL\n");
        bad = true;
    }
    if (!bad && !to) {
        fprintf(stderr, "bt data resample: --to PERIOD is required (e.g. --to 1d)\n");
        bad = true;
    }
    if (!bad && !out) {
        fprintf(stderr, "bt data resample: --out STORE2.h5 is required\n");
        bad = true;
    }
    if (!bad && bt_resample_period_parse(to, &o.period) != BT_OK) {
        fprintf(stderr,
                "bt data resample: --to '%s' is not a period; use Ns, Nm or Nh dividing a day "
                "(5m, 15m, 1h, 4h), 1d or 1w\n",
                to);
        bad = true;
    }
    if (!bad && strcmp(label, "start") != 0 && strcmp(label, "end") != 0) {
        fprintf(stderr, "bt data resample: --label '%s': use start or end\n", label);
        bad = true;
    }
    o.label = strcmp(label, "end") == 0 ? BT_LABEL_END : BT_LABEL_START;
    if (!bad && session) {
        o.session = true;
        if (bt_resample_session_parse(session, &o.session_open, &o.session_close) != BT_OK) {
            fprintf(stderr,
                    "bt data resample: --session '%s': write HH:MM-HH:MM with two different "
                    "times, e.g. 09:00-17:30\n",
                    session);
            bad = true;
        }
    }
    if (!bad && strcmp(compress, "none") != 0 && strcmp(compress, "deflate") != 0) {
        fprintf(stderr, "bt data resample: unknown --compress '%s' (none, deflate)\n", compress);
        bad = true;
    }
    if (!bad && name && (name[0] == '\0' || strlen(name) >= BT_SYMBOL_MAX)) {
        fprintf(stderr, "bt data resample: --symbol must have 1 to %d characters\n",
                BT_SYMBOL_MAX - 1);
        bad = true;
    }
    if (bad) {
        fprintf(stderr, "see 'bt data resample --help'\n");
        return 2;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    const char *one[1] = {symbol};
    bt_dataset_t *ds = bt_dataset_load(store, one, 1, &eb);
    if (!ds) {
        fprintf(stderr, "bt data resample: %s\n", eb.msg);
        return 1;
    }
    bt_bars_t *bars = bt_bars_new(name ? name : symbol, ds->series[0].n / 4 + 16);
    int rc = 1;
    if (!bars)
        fprintf(stderr, "bt data resample: out of memory\n");
    else if (bt_resample(&ds->series[0], &o, bars, &eb) != BT_OK)
        fprintf(stderr, "bt data resample: %s\n", eb.msg);
    else {
        bt_series_t s = bt_bars_view(bars);
        bt_store_meta_t meta;
        memset(&meta, 0, sizeof meta);
        snprintf(meta.source, sizeof meta.source, "resample of %s:%s to %s, label %s%s%s",
                 s_base(store), symbol, to, label, session ? ", session " : "",
                 session ? session : "");
        snprintf(meta.frequency, sizeof meta.frequency, "%s", bt_store_detect_frequency(&s));
        if (bt_store_write(out, &s, &meta, replace, strcmp(compress, "deflate") == 0, &eb) != BT_OK)
            fprintf(stderr, "bt data resample: %s\n", eb.msg);
        else {
            char a[40], b[40];
            printf("%-8s %9zu rows  %s .. %s  %-9s from %zu bars of %s:%s\n", s.symbol, s.n,
                   bt_time_format(s.time[0], a, sizeof a),
                   bt_time_format(s.time[s.n - 1], b, sizeof b), meta.frequency, ds->series[0].n,
                   s_base(store), symbol);
            rc = 0;
        }
    }
    bt_bars_destroy(&bars);
    bt_dataset_destroy(&ds);
    return rc;
}
