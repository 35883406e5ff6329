/* bt data synth — write a seeded synthetic market to an HDF5 bar store. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_cmd.h"
#include "bt_err.h"
#include "bt_synth.h"
#include "bt_time.h"

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: bt data synth --out STORE.h5 [--symbols N] [--bars N] [--freq 1d|1h|1m]\n"
            "                     [--seed S] [--start YYYY-MM-DD] [--replace]\n"
            "                     [--compress none|deflate]\n"
            "\n"
            "Writes a seeded synthetic market: symbols SYN000, SYN001, ... driven by a common\n"
            "market factor (beta * market shock + own shock) with calm and stressed volatility\n"
            "regimes, consistent OHLC with overnight gaps, and volume that rises on big moves.\n"
            "The same options always give the same bytes; symbol k does not depend on --symbols.\n"
            "\n"
            "options:\n"
            "  --out PATH          bar store to write (created if missing)             [required]\n"
            "  --symbols N         number of symbols, 1..%d                          [4]\n"
            "  --bars N            bars per symbol                                     [2520]\n"
            "  --freq F            1d, 1h or 1m                                        [1d]\n"
            "  --seed S            any unsigned 64-bit integer                         [42]\n"
            "  --start DATE        first trading day on or after DATE                  [2010-01-04]\n"
            "  --replace           overwrite SYN000.. if the store already has them;\n"
            "                      other symbols in the store are kept\n"
            "  --compress C        none (fast loading) or deflate (smaller)            [none]\n"
            "\n"
            "calendar (all times UTC, no time zone or DST):\n"
            "  trading days are Monday..Friday except Jan 1, Jul 4 and Dec 25 (fixed dates,\n"
            "  no shift when they fall on a weekend)\n"
            "  1d: one bar per trading day, stamped at midnight of the day\n"
            "  1h: 7 bars per trading day, stamped 10:00, 11:00, ..., 16:00\n"
            "  1m: 390 bars per trading day, stamped 09:30, 09:31, ..., 15:59\n"
            "  (about 259 trading days a year; see docs/synth.md for the model)\n"
            "\n"
            "example:\n"
            "  bt data synth --out demo.h5 --symbols 4 --bars 2520 --freq 1d --seed 42\n",
            BT_SYNTH_MAX_SYMBOLS);
}

/* Whole decimal number in [0, max]; false otherwise (no sign, no junk). */
static bool s_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = (uint64_t)v;
    return true;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bt_cmd_data_synth(int argc, char **argv)
{
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    const char *out = NULL;
    bool replace = false, deflate = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_help(stdout);
            return 0;
        }
        if (strcmp(a, "--replace") == 0) {
            replace = true;
            continue;
        }
        static const char *const with_value[] = {"--out",  "--symbols", "--bars",    "--freq",
                                                 "--seed", "--start",   "--compress"};
        bool known = false;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            known = known || strcmp(a, with_value[k]) == 0;
        if (!known) {
            fprintf(stderr, "bt data synth: unknown option '%s'; see 'bt data synth --help'\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bt data synth: %s needs a value; see 'bt data synth --help'\n", a);
            return 2;
        }
        const char *v = argv[++i];
        uint64_t u = 0;
        if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--symbols") == 0) {
            if (!s_parse_u64(v, BT_SYNTH_MAX_SYMBOLS, &u) || u == 0) {
                fprintf(stderr, "bt data synth: --symbols '%s' must be a whole number from 1 to %d\n",
                        v, BT_SYNTH_MAX_SYMBOLS);
                return 2;
            }
            o.nsym = (size_t)u;
        } else if (strcmp(a, "--bars") == 0) {
            if (!s_parse_u64(v, BT_SYNTH_MAX_BARS, &u) || u == 0) {
                fprintf(stderr,
                        "bt data synth: --bars '%s' must be a whole number from 1 to %" PRIu64
                        "\n",
                        v, (uint64_t)BT_SYNTH_MAX_BARS);
                return 2;
            }
            o.nbars = (size_t)u;
        } else if (strcmp(a, "--freq") == 0) {
            if (strcmp(v, "1d") != 0 && strcmp(v, "1h") != 0 && strcmp(v, "1m") != 0) {
                fprintf(stderr, "bt data synth: --freq '%s' is not supported: use 1d, 1h or 1m\n",
                        v);
                return 2;
            }
            o.freq = v;
        } else if (strcmp(a, "--seed") == 0) {
            if (!s_parse_u64(v, UINT64_MAX, &u)) {
                fprintf(stderr,
                        "bt data synth: --seed '%s' must be a whole number from 0 to %" PRIu64
                        "\n",
                        v, UINT64_MAX);
                return 2;
            }
            o.seed = u;
        } else if (strcmp(a, "--start") == 0) {
            int64_t t;
            if (strlen(v) != 10 || !bt_time_parse(v, 10, &t)) {
                fprintf(stderr,
                        "bt data synth: --start '%s' is not a date: write it as YYYY-MM-DD, "
                        "e.g. 2010-01-04\n",
                        v);
                return 2;
            }
            o.start = t;
        } else { /* --compress */
            if (strcmp(v, "none") == 0) {
                deflate = false;
            } else if (strcmp(v, "deflate") == 0) {
                deflate = true;
            } else {
                fprintf(stderr, "bt data synth: --compress '%s' must be none or deflate\n", v);
                return 2;
            }
        }
    }
    if (!out) {
        fprintf(stderr, "bt data synth: --out STORE.h5 is required; see 'bt data synth --help'\n");
        return 2;
    }

    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (bt_synth_check(&o, &eb) != BT_OK) {
        fprintf(stderr, "bt data synth: %s\n", eb.msg);
        return 2;
    }
    double t0 = s_now();
    bt_err_t rc = bt_synth_write(out, &o, replace, deflate, &eb);
    if (rc != BT_OK) {
        fprintf(stderr, "bt data synth: %s\n", eb.msg[0] ? eb.msg : bt_strerror(rc));
        return rc == BT_EEXIST ? 2 : 1; /* EEXIST: checked before anything was written */
    }
    double secs = s_now() - t0;
    printf("wrote %zu symbol%s x %zu %s bars (seed %" PRIu64 ") to %s in %.2f s\n", o.nsym,
           o.nsym == 1 ? "" : "s", o.nbars, o.freq, o.seed, out, secs);
    return 0;
}
