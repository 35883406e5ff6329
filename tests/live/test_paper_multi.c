/* bt paper on several symbols, end to end: two years (2001-2002) of the real
 * ORCL, NVDA and YHOO daily bars (../shared/data, cut into the test's temp
 * dir; NVDA with a two-week gap) replayed as live feeds, each symbol its own
 * series, the bars of the symbols arriving interleaved and at different
 * moments (YHOO's feed later than the others), give exactly the orders.csv
 * and equity.csv of bt run on the same bars — for sma_cross in sleeves,
 * sma_cross under risk.scope: account, and momentum_rotation (one
 * portfolio book); from the REST mock and from Redis streams. A symbol late
 * beyond --grace-ms is stepped without (as a gap) and its late bars dropped:
 * the result is bt run's on the bars paper took. SIGKILL twice mid-replay
 * and restart: the same final files, no order twice. DAY limit orders (a
 * Python strategy) replay equal to bt run. Exit 77 without ../shared/data. */
#include <hiredis/hiredis.h>

#include "bt_store.h"
#include "bt_time.h"
#include "live_fixture.h"

static const char *const s_files[3] = {BT_SHARED_DATA "/orcl-1995-2014.txt",
                                       BT_SHARED_DATA "/nvda-1999-2014.txt",
                                       BT_SHARED_DATA "/yhoo-1996-2014.txt"};
static const char *const s_syms[3] = {"ORCL", "NVDA", "YHOO"};

static live_t L;
static char s_store[400];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    for (int i = 0; i < 3; i++)
        if (access(s_files[i], R_OK) != 0) {
            printf("SKIPPED: %s is absent; the several-symbol paper tests were not run\n",
                   s_files[i]);
            exit(77);
        }
}

/* DIR/NAME.csv: the header and the rows of [from, to) of the real file k;
 * NVDA without 2001-06-01..06-14 (a gap on one symbol); at most max_rows. */
static void s_cut_range(int k, const char *name, size_t max_rows, const char *from,
                        const char *to)
{
    FILE *in = fopen(s_files[k], "r");
    char path[400];
    snprintf(path, sizeof path, "%s/%s.csv", L.dir, name);
    FILE *out = fopen(path, "w");
    cr_assert(in && out);
    char line[512];
    size_t rows = 0;
    for (bool head = true; fgets(line, sizeof line, in); head = false) {
        bool keep = head || (strncmp(line, from, 10) >= 0 && strncmp(line, to, 10) < 0);
        if (!head && k == 1 && strncmp(line, "2001-06-01", 10) >= 0 &&
            strncmp(line, "2001-06-15", 10) < 0)
            keep = false;
        if (keep && !head && rows >= max_rows)
            keep = false;
        if (keep) {
            fputs(line, out);
            rows += !head;
        }
    }
    fclose(in);
    fclose(out);
}

/* The 2001-2002 rows. */
static void s_cut(int k, const char *name, size_t max_rows)
{
    s_cut_range(k, name, max_rows, "2001-01-01", "2003-01-01");
}

static void s_import(const char *store, const char *csv_name, const char *sym)
{
    char csv[400];
    snprintf(csv, sizeof csv, "%s/%s.csv", L.dir, csv_name);
    cr_assert_eq(live_bt(&L, "imp", "data", "import", csv, "--symbol", sym, "--out", store, NULL),
                 0, "%s", live_out(&L, "imp"));
}

static void setup(void)
{
    live_init(&L, "paper_multi");
    live_path(&L, "s.h5", s_store, sizeof s_store);
    for (int k = 0; k < 3; k++) {
        s_cut(k, s_syms[k], SIZE_MAX);
        s_import(s_store, s_syms[k], s_syms[k]);
    }
}

static void teardown(void)
{
    live_fini(&L);
}

TestSuite(paper_multi, .init = setup, .fini = teardown, .timeout = 300);

enum { CFG_SLEEVES, CFG_ACCOUNT, CFG_PORTFOLIO };

/* DIR/NAME.yaml on store; close_at_end off: a live run has no end. */
static void s_config(const char *name, int kind, const char *store)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.yaml", L.dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    if (kind == CFG_PORTFOLIO)
        fprintf(f, "strategy: momentum_rotation\nparams:\n  lookback: 21\n  top_n: 1\n"
                   "  absolute: 0\nsizing:\n  mode: percent_equity\n  value_pct: 95\n"
                   "  fractional: true\nrisk:\n  rebalance: weekly\n");
    else
        fprintf(f, "strategy: sma_cross\nparams:\n  fast: 10\n  slow: 30\n");
    if (kind == CFG_ACCOUNT) /* limits that bind: one symbol held at once, a kill switch */
        fprintf(f, "risk:\n  scope: account\n  max_positions: 1\n  max_drawdown_pct: 25\n");
    fprintf(f, "data:\n  store: %s\n  symbols: [ORCL, NVDA, YHOO]\ncapital: 30000\n"
               "execution:\n  commission_pct: 0.1\n  slippage_bps: 5\n"
               "report:\n  close_at_end: false\n",
            store);
    fclose(f);
}

/* bt run DIR/NAME.yaml --out DIR/run_NAME */
static void s_backtest(const char *name)
{
    char cfg[400], out[400];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", L.dir, name);
    snprintf(out, sizeof out, "%s/run_%s", L.dir, name);
    cr_assert_eq(live_bt(&L, "runout", "run", cfg, "--out", out, NULL), 0, "%s",
                 live_out(&L, "runout"));
}

/* DIR/run_NAME/F == DIR/paper_NAME/F for orders.csv and equity.csv */
static void s_same(const char *name)
{
    const char *files[2] = {"orders.csv", "equity.csv"};
    for (int i = 0; i < 2; i++) {
        char a[400], b[400];
        snprintf(a, sizeof a, "%s/run_%s/%s", L.dir, name, files[i]);
        snprintf(b, sizeof b, "%s/paper_%s/%s", L.dir, name, files[i]);
        cr_assert(bt_proc_same_file(a, b), "%s: paper %s differs from bt run's (diff %s %s)",
                  name, files[i], a, b);
    }
}

/* Every (book, order id) placed once in events.csv, and as many order
 * events as orders.csv rows (refusals, id 0, included). */
static void s_no_order_twice(const char *name)
{
    char ev[400], od[400];
    snprintf(ev, sizeof ev, "%s/paper_%s/events.csv", L.dir, name);
    snprintf(od, sizeof od, "%s/paper_%s/orders.csv", L.dir, name);
    char *t = bt_proc_slurp(ev, NULL);
    cr_assert(t);
    static char seen[4][4096];
    memset(seen, 0, sizeof seen);
    size_t n = 0;
    for (char *p = strstr(t, ",order,"); p; p = strstr(p + 1, ",order,")) {
        char *q = p + 7;
        long book = strtol(q, &q, 10);
        long id = strtol(q + 1, NULL, 10);
        cr_assert(book >= 0 && book < 4 && id >= 0 && id < 4096);
        if (id > 0) {
            cr_assert_eq(seen[book][id], 0, "book %ld order %ld placed twice", book, id);
            seen[book][id] = 1;
        }
        n++;
    }
    free(t);
    cr_assert_gt(n, 3, "%s: the strategy should trade", name);
    cr_assert_eq(n + 1, bt_proc_count_lines(od), "events hold %zu orders", n);
}

/* The mock serving the three cut files on an accelerated clock (step ms per
 * merged time), with lag (e.g. "YHOO=40") or NULL. */
static void s_mock(const char *step, const char *lag)
{
    char a[3][440];
    for (int k = 0; k < 3; k++)
        snprintf(a[k], sizeof a[k], "%s=%s/%s.csv", s_syms[k], L.dir, s_syms[k]);
    if (lag)
        live_mock(&L, "--csv", a[0], "--csv", a[1], "--csv", a[2], "--live", step, "--lag", lag,
                  NULL);
    else
        live_mock(&L, "--csv", a[0], "--csv", a[1], "--csv", a[2], "--live", step, NULL);
}

static pid_t s_paper(const char *name, const char *grace, const char *idle)
{
    char cfg[400], out[400];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", L.dir, name);
    snprintf(out, sizeof out, "%s/paper_%s", L.dir, name);
    char *argv[] = {LIVE_BT, "paper", cfg, "--out", out, "--base-url", L.base, "--from",
                    "1990-01-01", "--poll-ms", "5", "--idle-exit", (char *)idle, "--grace-ms",
                    (char *)grace, NULL};
    pid_t pid = bt_proc_spawn(argv, L.log);
    cr_assert(pid > 0);
    return pid;
}

/* REST: YHOO's feed 40 ms behind the others (within the grace), NVDA with
 * a gap: sleeves, account scope and a portfolio each equal bt run. */
Test(paper_multi, rest_several_symbols_equal_backtest)
{
    const char *names[3] = {"sleeves", "account", "portfolio"};
    for (int k = 0; k < 3; k++) {
        s_config(names[k], k, s_store);
        s_mock("3", "YHOO=40");
        pid_t pid = s_paper(names[k], "5000", "200");
        cr_assert_eq(bt_proc_wait(pid, 120000), 0, "bt paper %s failed; see %s", names[k],
                     L.log);
        live_mock_stop(&L);
        s_backtest(names[k]);
        s_same(names[k]);
        s_no_order_twice(names[k]);
    }
    char *log = bt_proc_slurp(L.log, NULL);
    cr_assert(strstr(log, "NVDA: gap in the feed from 2001-05-31"), "NVDA's gap not logged");
    cr_assert_null(strstr(log, "stepping without it"), "a bar within the grace was missed");
    free(log);
    /* the account limits bind: the account run differs from the sleeves' */
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/run_sleeves/orders.csv", L.dir);
    snprintf(b, sizeof b, "%s/run_account/orders.csv", L.dir);
    cr_assert_not(bt_proc_same_file(a, b));
}

/* DIR/jSYM.csv from DIR/paper_NAME/journal.csv: the bars paper stepped,
 * imported into store; returns the number of YHOO bars. */
static size_t s_journal_store(const char *name, const char *store)
{
    char path[400];
    snprintf(path, sizeof path, "%s/paper_%s/journal.csv", L.dir, name);
    char *t = bt_proc_slurp(path, NULL);
    cr_assert(t);
    FILE *out[3];
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/j%s.csv", L.dir, s_syms[k]);
        out[k] = fopen(path, "w");
        cr_assert(out[k]);
        fputs("Date,Open,High,Low,Close,Volume\n", out[k]);
    }
    size_t ny = 0;
    for (char *p = strchr(t, '\n'); p && p[1]; p = strchr(p, '\n')) {
        p++;
        int64_t tt = strtoll(p, &p, 10);
        char day[40];
        bt_time_format(tt, day, sizeof day);
        for (int k = 0; k < 3; k++) {
            long has = strtol(p + 1, &p, 10);
            double v[5];
            for (int j = 0; j < 5; j++)
                v[j] = strtod(p + 1, &p);
            if (has)
                fprintf(out[k], "%s,%.17g,%.17g,%.17g,%.17g,%.17g\n", day, v[0], v[1], v[2],
                        v[3], v[4]);
            ny += has && k == 2;
        }
    }
    free(t);
    for (int k = 0; k < 3; k++) {
        fclose(out[k]);
        char csv[40];
        snprintf(csv, sizeof csv, "j%s", s_syms[k]);
        s_import(store, csv, s_syms[k]);
    }
    return ny;
}

/* YHOO's feed falls 2.5 s behind from its bar 350 on, beyond --grace-ms
 * 300: the steps go on without YHOO (no bar, as in a gap) and its late bars
 * are dropped. The result is bt run's on the bars paper took (read back from
 * its journal, so a hiccup of the machine that makes any bar miss its grace
 * changes both sides alike). */
Test(paper_multi, symbol_late_beyond_grace_is_stepped_without)
{
    s_config("late", CFG_SLEEVES, s_store);
    s_mock("3", "YHOO=2500@350");
    pid_t pid = s_paper("late", "300", "1000");
    cr_assert_eq(bt_proc_wait(pid, 120000), 0, "bt paper failed; see %s", L.log);
    char store2[400];
    live_path(&L, "late.h5", store2, sizeof store2);
    size_t ny = s_journal_store("late", store2);
    cr_assert(ny > 300 && ny <= 350, "paper took %zu YHOO bars; want its first 350 at most", ny);
    s_config("late", CFG_SLEEVES, store2);
    s_backtest("late");
    s_same("late");
    s_no_order_twice("late");
    char *log = bt_proc_slurp(L.log, NULL);
    cr_assert(strstr(log, "YHOO: no bar for"), "the step without YHOO not logged");
    cr_assert(strstr(log, "bar came after its step was taken without it"),
              "the late YHOO bars not logged as dropped");
    free(log);
}

/* Catching up from history: the mock has every bar at once and Binance
 * pages hold 1,000 bars, so ORCL's first answer ends in 1998-12 while
 * NVDA's (listed 1999-01-22) runs to 2000. Stepping ORCL's 1,000 bars takes
 * far longer than the 50 ms grace, yet the NVDA bars wait for ORCL's next
 * page instead of being stepped without it: a feed still paging is not
 * late. Equal to bt run. */
Test(paper_multi, paging_symbol_is_waited_for)
{
    char store2[400];
    live_path(&L, "page.h5", store2, sizeof store2);
    s_cut_range(0, "ORCLp", SIZE_MAX, "1995-01-01", "2001-01-01");
    s_cut_range(1, "NVDAp", SIZE_MAX, "1995-01-01", "2001-01-01");
    s_import(store2, "ORCLp", "ORCL");
    s_import(store2, "NVDAp", "NVDA");
    char path[400];
    snprintf(path, sizeof path, "%s/page.yaml", L.dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "strategy: sma_cross\nparams:\n  fast: 10\n  slow: 30\ndata:\n  store: %s\n"
               "  symbols: [ORCL, NVDA]\ncapital: 20000\nreport:\n  close_at_end: false\n",
            store2);
    fclose(f);
    char a[2][440];
    snprintf(a[0], sizeof a[0], "ORCL=%s/ORCLp.csv", L.dir);
    snprintf(a[1], sizeof a[1], "NVDA=%s/NVDAp.csv", L.dir);
    live_mock(&L, "--csv", a[0], "--csv", a[1], NULL);
    pid_t pid = s_paper("page", "50", "100");
    cr_assert_eq(bt_proc_wait(pid, 120000), 0, "bt paper failed; see %s", L.log);
    s_backtest("page");
    s_same("page");
    char *log = bt_proc_slurp(L.log, NULL);
    cr_assert_null(strstr(log, "stepping without it"), "a paging symbol was stepped without");
    free(log);
}

Test(paper_multi, sigkill_and_restart_on_several_symbols)
{
    s_config("kill", CFG_ACCOUNT, s_store);
    s_mock("8", NULL);
    char journal[400];
    live_path(&L, "paper_kill/journal.csv", journal, sizeof journal);
    for (int round = 0; round < 2; round++) {
        pid_t pid = s_paper("kill", "5000", "60");
        size_t want = 150 * (size_t)(round + 1);
        int64_t deadline = bt_proc_now_ms() + 60000;
        while (bt_proc_count_lines(journal) < want && bt_proc_now_ms() < deadline)
            bt_proc_nap();
        cr_assert(bt_proc_count_lines(journal) >= want, "paper did not get to %zu steps", want);
        kill(pid, SIGKILL);
        cr_assert_eq(bt_proc_wait(pid, 10000), 128 + SIGKILL);
    }
    pid_t pid = s_paper("kill", "5000", "60");
    cr_assert_eq(bt_proc_wait(pid, 120000), 0, "bt paper failed; see %s", L.log);
    s_backtest("kill");
    s_same("kill");
    s_no_order_twice("kill");
    char *log = bt_proc_slurp(L.log, NULL);
    cr_assert(strstr(log, "restart: "), "no restart logged");
    free(log);
}

static void s_xadd(redisContext *c, const char *sym, const bt_series_t *s, size_t i)
{
    redisReply *r = redisCommand(c, "XADD bt:bars:%s * t %lld o %.17g h %.17g l %.17g c %.17g "
                                    "v %.17g",
                                 sym, (long long)s->time[i], s->open[i], s->high[i], s->low[i],
                                 s->close[i], s->volume[i]);
    cr_assert(r && r->type == REDIS_REPLY_STRING, "XADD failed");
    freeReplyObject(r);
}

/* Redis streams bt:bars:SYMBOL filled by another process: the symbols'
 * bars interleaved with YHOO three steps behind, one bar repeated. */
Test(paper_multi, redis_streams_several_symbols_equal_backtest)
{
    if (access("/usr/bin/redis-server", X_OK) != 0)
        cr_skip_test("redis-server is not installed");
    pid_t redis = 0;
    char addr[400];
    cr_assert(live_redis(&L, &redis, addr, sizeof addr));
    bt_errbuf_t eb;
    bt_dataset_t *ds = bt_dataset_load(s_store, (const char *const *)s_syms, 3, &eb);
    cr_assert(ds, "%s", eb.msg);
    redisContext *c = redisConnectUnix(addr + 5);
    cr_assert(c && !c->err);
    size_t idx[3] = {0}, ysent = 0; /* YHOO: bars [ysent, idx[2]) held back */
    for (;;) {
        int64_t t = INT64_MAX;
        for (int k = 0; k < 3; k++)
            if (idx[k] < ds->series[k].n && ds->series[k].time[idx[k]] < t)
                t = ds->series[k].time[idx[k]];
        for (int k = 0; k < 3; k++) {
            const bt_series_t *s = &ds->series[k];
            size_t i = idx[k];
            if (t == INT64_MAX || i >= s->n || s->time[i] != t)
                continue;
            idx[k]++;
            if (k == 2)
                continue;
            for (int rep = 0; rep < (i == 100 ? 2 : 1); rep++)
                s_xadd(c, s_syms[k], s, i);
        }
        /* YHOO's bar of three steps ago, or all held at the end */
        while (ysent < idx[2] && (t == INT64_MAX || idx[2] - ysent > 3))
            s_xadd(c, "YHOO", &ds->series[2], ysent++);
        if (t == INT64_MAX)
            break;
    }
    redisFree(c);
    bt_dataset_destroy(&ds);
    s_config("redis", CFG_PORTFOLIO, s_store);
    char cfg[400], out[400];
    snprintf(cfg, sizeof cfg, "%s/redis.yaml", L.dir);
    snprintf(out, sizeof out, "%s/paper_redis", L.dir);
    char *argv[] = {LIVE_BT, "paper", cfg, "--out", out, "--source", "redis", "--redis", addr,
                    "--poll-ms", "5", "--idle-exit", "100", "--grace-ms", "5000", NULL};
    pid_t pid = bt_proc_spawn(argv, L.log);
    cr_assert_eq(bt_proc_wait(pid, 120000), 0, "bt paper failed; see %s", L.log);
    s_backtest("redis");
    s_same("redis");
    s_no_order_twice("redis");
    /* orders and fills went to Redis as they happened: the first is an order */
    c = redisConnectUnix(addr + 5);
    cr_assert(c && !c->err);
    redisReply *r = redisCommand(c, "XRANGE bt:paper:default:events - + COUNT 1");
    cr_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1, "no events stream");
    redisReply *kv = r->element[0]->element[1];
    cr_assert(kv->elements >= 6 && strcmp(kv->element[4]->str, "event") == 0 &&
                  strcmp(kv->element[5]->str, "order") == 0,
              "first event: %s %s", kv->element[4]->str, kv->element[5]->str);
    freeReplyObject(r);
    redisFree(c);
}

/* DAY limit orders from a Python strategy on ORCL's bars: each order lives
 * for the day of its first bar and expires at the next day's first bar, in
 * paper as in bt run (same orders.csv, expiry times included). */
Test(paper_multi, day_orders_replay_equals_backtest)
{
    char py[400];
    live_path(&L, "day_limits.py", py, sizeof py);
    FILE *f = fopen(py, "w");
    cr_assert(f);
    fputs("from backtester import Strategy\n\n\n"
          "class DayLimits(Strategy):\n"
          "    \"\"\"DAY limit orders 1 % through the close (test)\"\"\"\n\n"
          "    params = {}\n\n"
          "    def init(self):\n"
          "        self.id = 0\n\n"
          "    def on_bar(self, ctx):\n"
          "        if not ctx.has_bar or (self.id and ctx.modify(self.id)):\n"
          "            return\n"
          "        if ctx.position == 0:\n"
          "            self.id = ctx.order(50, type=\"limit\", limit=ctx.close * 0.99, tif=\"day\")\n"
          "        else:\n"
          "            self.id = ctx.order(-ctx.position, type=\"limit\", limit=ctx.close * 1.01,\n"
          "                                tif=\"day\")\n",
          f);
    fclose(f);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/day.yaml", L.dir);
    f = fopen(cfg, "w");
    cr_assert(f);
    fprintf(f, "strategy: DayLimits\nstrategy_python: %s\ndata:\n  store: %s\n"
               "  symbols: [ORCL]\ncapital: 10000\nexecution:\n  commission_pct: 0.1\n"
               "report:\n  close_at_end: false\n",
            py, s_store);
    fclose(f);
    s_mock("3", NULL);
    pid_t pid = s_paper("day", "5000", "60");
    cr_assert_eq(bt_proc_wait(pid, 120000), 0, "bt paper failed; see %s", L.log);
    s_backtest("day");
    s_same("day");
    char od[400];
    snprintf(od, sizeof od, "%s/paper_day/orders.csv", L.dir);
    char *t = bt_proc_slurp(od, NULL);
    cr_assert(t && strstr(t, ",expired,day order expired"), "no DAY order expired");
    cr_assert(strstr(t, ",filled,"), "no DAY order filled");
    free(t);
}
