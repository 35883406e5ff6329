/* worker/bt_runner: a job whose date range holds no bar is a job error
 * naming both ranges, never an "ok" row of all-zero metrics (issue 10). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_bars.h"
#include "bt_config.h"
#include "bt_registry.h"
#include "bt_runner.h"
#include "bt_store.h"
#include "bt_time.h"

static char s_dir[64], s_path[128];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_runner_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/s.h5", s_dir);
    setenv("BT_VERIFY_CACHE", "off", 1);
    /* 300 daily bars of AAA from 2020-01-02 (to 2020-10-27) */
    bt_bars_t *b = bt_bars_new("AAA", 0);
    int64_t t0 = INT64_C(1577923200) * BT_NS_PER_SEC;
    for (int i = 0; i < 300; i++) {
        double c = 100.0 + 10.0 * sin(i / 7.0);
        bt_bars_push(b, t0 + (int64_t)i * BT_NS_PER_DAY, c, c + 1, c - 1, c, 1000, NAN);
    }
    bt_series_t s = bt_bars_view(b);
    bt_store_meta_t m;
    memset(&m, 0, sizeof m);
    snprintf(m.source, sizeof m.source, "test");
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_write(s_path, &s, &m, false, false, &eb), BT_OK, "%s", eb.msg);
    bt_bars_destroy(&b);
}

static void s_teardown(void)
{
    unlink(s_path);
    rmdir(s_dir);
}

TestSuite(runner, .init = s_setup, .fini = s_teardown);

static bt_runner_job_t s_job;

/* Runs one job of a config with the given data.start / data.end lines. */
static void s_run(const char *range)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "strategy: sma_cross\ndata:\n  store: %s\n%sparams: {fast: 3, slow: 10}\n", s_path,
             range);
    bt_errbuf_t eb;
    bt_config_t *cfg = bt_config_load_string(yaml, "test", NULL, 0, bt_strategy_table(),
                                             bt_strategy_count(), &eb);
    cr_assert_not_null(cfg, "%s", eb.msg);
    bt_dataset_t *ds = bt_dataset_load(s_path, NULL, 0, &eb);
    cr_assert_not_null(ds, "%s", eb.msg);
    bt_runner_t *r = bt_runner_new(cfg, ds, 1);
    cr_assert_not_null(r);
    memset(&s_job, 0, sizeof s_job);
    s_job.id = 0;
    s_job.attempt = 1;
    bt_runner_run(r, &s_job, 1);
    bt_runner_destroy(&r);
    bt_dataset_destroy(&ds);
    bt_config_destroy(&cfg);
}

Test(runner, a_range_with_no_bar_is_a_job_error)
{
    s_run("  start: 2030-01-01\n  end: 2030-12-31\n");
    cr_assert_not(s_job.ok, "a job over no bar must not be ok");
    cr_assert(strstr(s_job.error, "no bar between 2030-01-01 and 2030-12-31"), "%s", s_job.error);
    cr_assert(strstr(s_job.error, "2020-01-02"), "names where the data starts: %s", s_job.error);
    bt_runner_job_fini(&s_job);
}

Test(runner, a_range_with_bars_runs)
{
    s_run("  start: 2020-03-01\n");
    cr_assert(s_job.ok, "%s", s_job.error);
    cr_assert_gt(s_job.bars, 0);
    bt_runner_job_fini(&s_job);
}
