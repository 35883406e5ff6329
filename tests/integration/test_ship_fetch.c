/* Data shipped by hash, with real processes (brief E, issue 9):
 * - a worker with an empty --cache and no --data fetches the store from the
 *   coordinator and the report equals a local run's;
 * - the fetched store is stamped at receipt: its load hashes no bar again;
 * - a second sweep with the same cache fetches 0 bytes (the worker says so);
 * - a cached copy corrupted on disk is found (hashed on use) and fetched
 *   again, and the report is still the local one. */
#include <stdlib.h>
#include <sys/stat.h>

#include "sweep_fixture.h"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "fetch");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(fetch, .init = s_setup, .fini = s_teardown, .timeout = 240);

/* One remote sweep named out with one worker using cache dir; waits for both. */
static void s_remote(const char *out, const char *name, const char *cache)
{
    char ep[128], log[340];
    pid_t coord = sfx_start_coord(&f, out, "tcp://127.0.0.1:*", false, ep, sizeof ep);
    snprintf(log, sizeof log, "%s/%s.log", f.dir, name);
    char *argv[] = {f.worker,    "--connect", ep,      "--threads", "1",
                    "--name",    (char *)name, "--idle-exit", "60", "--backoff-max-ms",
                    "500",       "--cache",   (char *)cache, NULL};
    pid_t w = bt_proc_spawn(argv, log);
    cr_assert(w > 0);
    cr_assert_eq(bt_proc_wait(coord, 120000), 0, "remote sweep %s failed (see %s.log)", out, out);
    bt_proc_wait(w, 60000);
}

Test(fetch, cold_warm_and_corrupted_cache)
{
    cr_assert_eq(sfx_sweep_local(&f, "local", 1), 0, "local sweep failed");
    char cache[340], cmd[1000];
    sfx_path(cache, sizeof cache, &f, "wcache");

    s_remote("cold", "w-cold", cache);
    sfx_assert_same_report(&f, "local", "cold");
    cr_assert(sfx_log_has(&f, "w-cold", "fetching data"), "the cold worker fetched the store");
    cr_assert_not(sfx_log_has(&f, "w-cold", "0 byte(s) fetched in total"));
    /* the fetched copy is the coordinator's, byte for byte: stamped at receipt
     * (its time order checked there), so its load hashes no symbol */
    cr_assert(sfx_log_has(&f, "w-cold", "symbols, 0 hashed"), "see w-cold.log");

    s_remote("warm", "w-warm", cache);
    sfx_assert_same_report(&f, "local", "warm");
    cr_assert(sfx_log_has(&f, "w-warm", "0 byte(s) fetched in total"),
              "a second sweep with the same cache transfers nothing (see w-warm.log)");
    cr_assert_not(sfx_log_has(&f, "w-warm", "fetching data"));

    /* Flip one byte of every cached file. */
    snprintf(cmd, sizeof cmd,
             "for x in '%s'/objects/*; do printf Z | dd of=\"$x\" bs=1 seek=200 conv=notrunc "
             "2>/dev/null || exit 1; done",
             cache);
    cr_assert_eq(system(cmd), 0);
    s_remote("again", "w-again", cache);
    sfx_assert_same_report(&f, "local", "again");
    cr_assert(sfx_log_has(&f, "w-again", "fetching data"), "the corrupted copy is fetched again");
}

/* A shipped strategy library is refused without an authenticated coordinator. */
Test(fetch, shipped_library_needs_keys_or_insecure)
{
    char so[340], cfg2[sizeof f.cfg];
    snprintf(so, sizeof so, "%s/strategies/my_strategy.so", BT_BIN_DIR);
    snprintf(cfg2, sizeof cfg2, "%.200s/lib.yaml", f.dir);
    FILE *c = fopen(cfg2, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: streak_reversal\nstrategy_library: %s\ndata:\n  store: %s\n"
            "params: {down: 3, hold: 4}\nsweep:\n  params.down: [2, 3, 4]\n",
            so, f.store);
    fclose(c);
    snprintf(f.cfg, sizeof f.cfg, "%s", cfg2);
    char ep[128], log[340], cache[340];
    sfx_path(cache, sizeof cache, &f, "lcache");
    sfx_start_coord(&f, "lib", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    snprintf(log, sizeof log, "%s/w-lib.log", f.dir);
    char *argv[] = {f.worker, "--connect", ep,     "--threads", "1",     "--name", "w-lib",
                    "--idle-exit", "60",   "--cache", cache,    NULL};
    pid_t w = bt_proc_spawn(argv, log);
    cr_assert(w > 0);
    cr_assert_eq(bt_proc_wait(w, 60000), 1, "the worker must refuse shipped code");
    cr_assert(sfx_log_has(&f, "w-lib", "--insecure"), "the worker says why (see w-lib.log)");
}

/* A store of several 1 MiB chunks (more than the window of 4 in flight). */
Test(fetch, many_chunks)
{
    char log[340];
    sfx_path(log, sizeof log, &f, "synth-big.log");
    char *synth[] = {f.bt,    "data", "synth", "--out", f.store,     "--symbols", "4",
                     "--bars", "40000", "--seed", "9",   "--replace", NULL};
    cr_assert_eq(bt_proc_run(synth, log, 60000), 0);
    struct stat st;
    cr_assert_eq(stat(f.store, &st), 0);
    cr_assert_gt(st.st_size, 5 << 20, "the store must span more than 5 chunks");
    cr_assert_eq(sfx_sweep_local(&f, "local", 1), 0, "local sweep failed");
    char cache[340];
    sfx_path(cache, sizeof cache, &f, "bcache");
    s_remote("big", "w-big", cache);
    sfx_assert_same_report(&f, "local", "big");
    cr_assert(sfx_log_has(&f, "w-big", "fetching data"));
}

/* With --insecure the shipped library is fetched and its cached copy used. */
Test(fetch, shipped_library_with_insecure)
{
    char so[340], cfg2[sizeof f.cfg];
    snprintf(so, sizeof so, "%s/strategies/my_strategy.so", BT_BIN_DIR);
    snprintf(cfg2, sizeof cfg2, "%.200s/lib.yaml", f.dir);
    FILE *c = fopen(cfg2, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: streak_reversal\nstrategy_library: %s\ndata:\n  store: %s\n"
            "params: {down: 3, hold: 4}\nsweep:\n  params.down: [2, 3, 4]\n",
            so, f.store);
    fclose(c);
    snprintf(f.cfg, sizeof f.cfg, "%s", cfg2);
    char ep[128], log[340], cache[340];
    sfx_path(cache, sizeof cache, &f, "icache");
    pid_t coord = sfx_start_coord(&f, "ilib", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    snprintf(log, sizeof log, "%s/w-ilib.log", f.dir);
    char *argv[] = {f.worker, "--connect", ep,        "--threads", "1",    "--name", "w-ilib",
                    "--idle-exit", "60",   "--cache", cache,       "--insecure", NULL};
    pid_t w = bt_proc_spawn(argv, log);
    cr_assert(w > 0);
    cr_assert_eq(bt_proc_wait(coord, 120000), 0, "sweep with a shipped library failed");
    bt_proc_wait(w, 60000);
    cr_assert(sfx_log_has(&f, "w-ilib", "fetching strategy library"));
    char p[400];
    snprintf(p, sizeof p, "%s/ilib/results.csv", f.dir);
    cr_assert_eq(bt_proc_count_lines(p), 1 + 3, "one row per params.down value");
}

/* The bytes a worker says it fetched ("N byte(s) fetched in total"). */
static unsigned long long s_fetched(const char *name)
{
    char log[340];
    snprintf(log, sizeof log, "%s/%s.log", f.dir, name);
    char *text = bt_proc_slurp(log, NULL);
    const char *key = "files for the sweep ready: ";
    char *p = text ? strstr(text, key) : NULL;
    cr_assert_not_null(p, "no fetch total in %s", log);
    unsigned long long n = strtoull(p + strlen(key), NULL, 10);
    free(text);
    return n;
}

/* Only what the sweep reads is shipped: 1 of 4 symbols over about a tenth of
 * the range gives the local report from far fewer bytes than the store, and
 * the cut, rebuilt in another output folder, is the same file (0 bytes). */
Test(fetch, only_the_symbols_and_range_of_the_sweep)
{
    char log[340];
    sfx_path(log, sizeof log, &f, "synth-cut.log");
    /* 40000 daily bars from 2010-01-04 run past 2160. */
    char *synth[] = {f.bt,    "data", "synth", "--out", f.store,     "--symbols", "4",
                     "--bars", "40000", "--seed", "9",   "--replace", NULL};
    cr_assert_eq(bt_proc_run(synth, log, 60000), 0);
    struct stat st;
    cr_assert_eq(stat(f.store, &st), 0);
    FILE *c = fopen(f.cfg, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: sma_cross\ndata:\n  store: %s\n  symbols: [SYN002]\n"
            "  start: 2030-01-01\n  end: 2039-12-31\nrank_by: sharpe\n"
            "sweep:\n  params.fast: [2, 3, 5, 8]\n  params.slow: [20, 40]\n",
            f.store);
    fclose(c);
    cr_assert_eq(sfx_sweep_local(&f, "local", 1), 0, "local sweep failed");
    char cache[340];
    sfx_path(cache, sizeof cache, &f, "ccache");
    s_remote("cut", "w-cut", cache);
    sfx_assert_same_report(&f, "local", "cut");
    unsigned long long got = s_fetched("w-cut");
    /* 1 symbol of 4, ~2600 of 40000 bars: about 1/60 of the bars. */
    cr_assert(got > 0 && got < (unsigned long long)st.st_size / 10,
              "fetched %llu bytes of a %lld-byte store: more than the sweep reads", got,
              (long long)st.st_size);
    s_remote("cut2", "w-cut2", cache);
    sfx_assert_same_report(&f, "local", "cut2");
    cr_assert_eq(s_fetched("w-cut2"), 0, "the same cut again transfers nothing (see w-cut2.log)");
}
