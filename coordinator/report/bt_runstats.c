/* bt_runstats — bt run's outputs of the run statistics. See bt_runstats.h. */
#include "bt_runstats.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "bt_csvw.h"
#include "bt_fs.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

void bt_runstats_json(FILE *f, const bt_run_stats_t *st)
{
    fprintf(f, "  \"stats\": {\n");
    size_t n = bt_run_stats_count();
    for (size_t i = 0; i < n; i++)
        fprintf(f, "    \"%s\": %.17g%s\n", bt_run_stats_name(i), bt_run_stats_get(st, i),
                i + 1 < n ? "," : "");
    fprintf(f, "  },\n");
}

void bt_runstats_print(FILE *f, const bt_run_stats_t *st, int w)
{
    size_t n = bt_run_stats_count();
    for (size_t i = 0; i < n; i++)
        if (w < (int)strlen(bt_run_stats_name(i)))
            w = (int)strlen(bt_run_stats_name(i));
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%-*s  %16.6f\n", w, bt_run_stats_name(i), bt_run_stats_get(st, i));
}

static void s_returns_csv(bt_csvw_t *w, const bt_run_stats_t *st)
{
    bt_csvw_line(w, "period,kind,return");
    char p[32];
    for (size_t i = 0; i < st->nmonth; i++) {
        snprintf(p, sizeof p, "%04d-%02d", st->month[i].year, st->month[i].month);
        bt_csvw_str(w, p);
        bt_csvw_str(w, "month");
        bt_csvw_g(w, st->month[i].ret, 15);
        bt_csvw_end_row(w);
    }
    for (size_t i = 0; i < st->nyear; i++) {
        snprintf(p, sizeof p, "%04d", st->year[i].year);
        bt_csvw_str(w, p);
        bt_csvw_str(w, "year");
        bt_csvw_g(w, st->year[i].ret, 15);
        bt_csvw_end_row(w);
    }
}

static void s_symbols_csv(bt_csvw_t *w, const bt_series_t *series, const bt_run_stats_t *st)
{
    bt_csvw_line(w, "symbol,trades,win_rate,pnl,avg_trade,best_trade,worst_trade,commission,"
                    "long_trades,short_trades");
    for (size_t i = 0; i < st->nsym; i++) {
        const bt_sym_stats_t *y = &st->sym[i];
        bt_csvw_str(w, series[i].symbol);
        bt_csvw_g(w, y->trades, 15);
        bt_csvw_g(w, y->trades > 0 ? y->wins / y->trades : 0.0, 15);
        bt_csvw_g(w, y->pnl, 15);
        bt_csvw_g(w, y->trades > 0 ? y->pnl / y->trades : 0.0, 15);
        bt_csvw_g(w, y->best, 15);
        bt_csvw_g(w, y->worst, 15);
        bt_csvw_g(w, y->commission, 15);
        bt_csvw_g(w, y->long_trades, 15);
        bt_csvw_g(w, y->short_trades, 15);
        bt_csvw_end_row(w);
    }
}

bt_err_t bt_runstats_write(const char *dir, const bt_series_t *series, const bt_run_stats_t *st,
                           bt_errbuf_t *eb)
{
    static const char *const names[] = {"returns.csv", "symbols.csv"};
    for (size_t k = 0; k < 2; k++) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if (n < 0 || (size_t)n >= sizeof path)
            return bt_errf(eb, BT_ELIMIT, "output folder path too long: %s", dir);
        bt_fs_atomic_t a;
        bt_err_t e = bt_fs_atomic_open(&a, path, eb);
        if (e != BT_OK)
            return e;
        bt_csvw_t w;
        bt_csvw_init_file(&w, a.f);
        if (k == 0)
            s_returns_csv(&w, st);
        else
            s_symbols_csv(&w, series, st);
        e = bt_fs_atomic_commit(&a, eb);
        bt_fs_atomic_abort(&a);
        if (e != BT_OK)
            return e;
    }
    return BT_OK;
}
