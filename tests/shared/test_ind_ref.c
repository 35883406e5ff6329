/* Every indicator kind against an independent reference on real bars.
 *
 * tests/shared/ind_ref.py (run with Debian's /usr/bin/python3 and numpy)
 * recomputes each kind from its textbook definition — windows from scratch
 * at every bar, recursions as plain loops, nothing shared with the C code —
 * on ORCL daily bars (the dates NVDA also has; NVDA's close is the second
 * series of the pair kinds), and writes the values. This test runs the C
 * array form over the same bars and compares every output of every case:
 * NaN exactly where the reference has NaN (the same warm-up), and
 *   |c - ref| <= 1e-9 * max(|ref|, scale)
 * elsewhere, scale being the largest |ref| of that output. The two sides sum
 * in different orders (running vs. from-scratch windows, compensated vs.
 * plain sums), which costs a few ulps per operation; the largest difference
 * seen is about 1e-12 of the scale, so 1e-9 leaves margin without hiding a
 * wrong definition (those differ by > 1e-4). The scale term keeps outputs
 * that cross zero (MACD, momentum, z-score) from failing on a relative error
 * of a number that is ~0.
 *
 * Skipped, with a message, when /usr/bin/python3 or numpy is missing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_ind.h"

#define TOL 1e-9

static char *s_line;
static size_t s_cap;

static bool s_read(FILE *fp)
{
    return getline(&s_line, &s_cap, fp) > 0;
}

/* Parses n numbers after `skip` words of s_line into v. */
static void s_numbers(size_t skip, double *v, size_t n)
{
    char *p = s_line;
    for (size_t i = 0; i < skip; i++) {
        p = strchr(p, ' ');
        cr_assert_not_null(p, "short line: %.60s", s_line);
        p++;
    }
    for (size_t i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(p, &end);
        cr_assert(end != p, "value %zu missing in: %.60s", i, s_line);
        p = end;
    }
}

Test(ind_ref, every_kind_matches_numpy_reference)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
        cr_skip_test("SKIPPED: /usr/bin/python3 with numpy is needed for the reference "
                     "(apt install python3-numpy)");
    char path[] = "/tmp/bt_ind_refXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/shared/ind_ref.py %s %s", BT_SOURCE_DIR,
             BT_SHARED_DATA, path);
    cr_assert_eq(system(cmd), 0, "reference script failed: %s", cmd);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);

    size_t n = 0;
    cr_assert(s_read(fp) && sscanf(s_line, "bars %zu", &n) == 1 && n > 1000);
    bt_bar_t *bars = calloc(n, sizeof *bars);
    double *y = calloc(n, sizeof *y), *ref = calloc(n, sizeof *ref);
    double *got = calloc(BT_IND_MAX_OUT * n, sizeof *got);
    for (size_t t = 0; t < n; t++) {
        cr_assert(s_read(fp));
        double v[6];
        s_numbers(0, v, 6);
        long long tm = strtoll(s_line, NULL, 10);
        bars[t] = (bt_bar_t){tm, v[1], v[2], v[3], v[4], v[5]};
    }
    cr_assert(s_read(fp) && strncmp(s_line, "y ", 2) == 0);
    s_numbers(2, y, n);

    bool covered[256] = {false};
    cr_assert_leq(bt_ind_count(), 256);
    size_t cases = 0;
    while (s_read(fp)) {
        char name[64], src[32];
        size_t np = 0;
        cr_assert_eq(sscanf(s_line, "kind %63s %31s %zu", name, src, &np), 3, "%s", s_line);
        const bt_ind_kind_t *k = bt_ind_find(name);
        cr_assert_not_null(k, "reference has kind %s, the table does not", name);
        for (size_t i = 0; i < bt_ind_count(); i++)
            covered[i] |= bt_ind_at(i) == k;
        double given[BT_IND_MAX_PARAMS], p[BT_IND_MAX_PARAMS];
        s_numbers(4, given, np);
        bt_ind_source_t source;
        cr_assert(bt_ind_source_parse(src, &source));
        bt_errbuf_t eb;
        cr_assert_eq(bt_ind_params(k, given, np, p, &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(bt_ind_array(k, p, source, bars, y, n, got, &eb), BT_OK, "%s", eb.msg);
        for (size_t j = 0; j < k->nout; j++) {
            cr_assert(s_read(fp) && strncmp(s_line, "out ", 4) == 0, "%s: output %zu missing", name,
                      j);
            s_numbers(2, ref, n);
            double scale = 0.0, worst = 0.0;
            for (size_t t = 0; t < n; t++)
                if (!isnan(ref[t]))
                    scale = fmax(scale, fabs(ref[t]));
            for (size_t t = 0; t < n; t++) {
                double c = got[j * n + t], r = ref[t];
                cr_assert_eq(isnan(c), isnan(r), "%s.%s at bar %zu: C %.17g, reference %.17g", name,
                             k->outs[j], t, c, r);
                if (isnan(r))
                    continue;
                double err = fabs(c - r) / fmax(fabs(r), scale > 0 ? scale : 1.0);
                worst = fmax(worst, err);
                cr_assert_leq(err, TOL, "%s.%s at bar %zu: C %.17g, reference %.17g", name,
                              k->outs[j], t, c, r);
            }
            cr_log_info("%-12s %-9s worst scaled difference %.2e", name, k->outs[j], worst);
        }
        cases++;
    }
    for (size_t i = 0; i < bt_ind_count(); i++)
        cr_assert(covered[i], "kind %s has no reference case in ind_ref.py", bt_ind_at(i)->name);
    cr_assert_geq(cases, bt_ind_count());
    fclose(fp);
    unlink(path);
    free(s_line);
    free(bars);
    free(y);
    free(ref);
    free(got);
}
