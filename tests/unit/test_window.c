/* bt_filemap and bt_loop_single_window: bt run's engine reads its bars from
 * the store file a window at a time instead of through the mapping. The
 * answers must be the mapped run's, bit for bit: metrics, PBO blocks, every
 * order, trade and equity point; on a slice of the series (the window's
 * file offsets then start mid-column), over several windows with a partial
 * last one, and when the file cannot be read (the mapping is used). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_engine.h"
#include "bt_filemap.h"
#include "bt_recorder.h"
#include "bt_registry.h"
#include "bt_store.h"
#include "bt_synth.h"
#include "bt_time.h"

static char s_dir[64];
static char s_path[128];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_window_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/s.h5", s_dir);
}

static void s_teardown(void)
{
    unlink(s_path);
    rmdir(s_dir);
}

TestSuite(window, .init = s_setup, .fini = s_teardown);

Test(window, filemap_finds_ranges_inside_one_mapping)
{
    static char whole[8192];
    char *area = whole + 4096; /* a "mapping" of the upper half */
    int fd = open("/dev/null", O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert(bt_filemap_add(area, 4096, fd, 8192));
    int got_fd = -1;
    int64_t off = -1;
    /* 100 bytes at byte 1000: file offset 8192 + 1000 */
    cr_assert(bt_filemap_find(area + 1000, 100, &got_fd, &off));
    cr_assert_eq(got_fd, fd);
    cr_assert_eq(off, 9192);
    cr_assert(bt_filemap_find(area, 4096, &got_fd, &off)); /* all of it */
    cr_assert_eq(off, 8192);
    cr_assert_not(bt_filemap_find(area + 4000, 200, &got_fd, &off)); /* runs past the end */
    cr_assert_not(bt_filemap_find(area - 8, 16, &got_fd, &off));    /* starts before */
    cr_assert_not(bt_filemap_add(area, 4096, -1, 0));         /* no descriptor */
    bt_filemap_remove(area);
    cr_assert_not(bt_filemap_find(area + 1000, 100, &got_fd, &off));
    close(fd);
}

typedef struct {
    bt_metrics_t m;
    double blocks[3 * 8];
    bt_recorder_t rec;
} s_out_t;

/* sma_cross 10/30 long and short over series s with cfg c (pbo_blocks 8), recorded. */
static void s_run(const bt_series_t *s, const bt_engine_cfg_t *c, bool window, s_out_t *o)
{
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    cr_assert_not_null(st);
    double params[3] = {10, 30, 1};
    memset(o, 0, sizeof *o);
    bt_recorder_init(&o->rec);
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {.series = s, .nsym = 1, .strategy = st, .params = params, .cfg = c,
                          .threads = 1, .rec = &o->rec, .blocks_out = o->blocks,
                          .read_window = window};
    bt_errbuf_t eb;
    cr_assert_eq(bt_engine_run(eng, &spec, &o->m, &eb), BT_OK, "%s", eb.msg);
    bt_engine_destroy(&eng);
}

static void s_same(s_out_t *a, s_out_t *b)
{
    cr_assert_eq(memcmp(&a->m, &b->m, sizeof a->m), 0, "metrics differ");
    cr_assert_eq(memcmp(a->blocks, b->blocks, sizeof a->blocks), 0, "PBO blocks differ");
    cr_assert_gt(a->rec.ntrades, 100, "the test wants a busy run (%zu trades)", a->rec.ntrades);
    cr_assert_eq(a->rec.norders, b->rec.norders);
    cr_assert_eq(a->rec.ntrades, b->rec.ntrades);
    cr_assert_eq(a->rec.nequity, b->rec.nequity);
    cr_assert_eq(memcmp(a->rec.orders, b->rec.orders, a->rec.norders * sizeof *a->rec.orders), 0);
    cr_assert_eq(memcmp(a->rec.trades, b->rec.trades, a->rec.ntrades * sizeof *a->rec.trades), 0);
    cr_assert_eq(memcmp(a->rec.equity, b->rec.equity, a->rec.nequity * sizeof *a->rec.equity), 0);
    bt_recorder_fini(&a->rec);
    bt_recorder_fini(&b->rec);
}

static bt_engine_cfg_t s_cfg(void)
{
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.commission_rate = 0.001;
    c.pbo_blocks = 8;
    return c;
}

/* One synthetic symbol of n one-minute bars in the store at s_path (uncompressed: mapped). */
static void s_store(size_t n, uint64_t seed)
{
    bt_synth_opts_t so;
    bt_synth_opts_defaults(&so);
    so.nsym = 1;
    so.nbars = n;
    so.freq = "1m";
    so.seed = seed;
    bt_errbuf_t eb;
    cr_assert_eq(bt_synth_write(s_path, &so, false, false, &eb), BT_OK, "%s", eb.msg);
}

Test(window, same_results_as_the_mapping)
{
    /* 50,001 one-minute bars: six windows of 8,192 bars and a partial seventh */
    s_store(50001, 11);
    bt_errbuf_t eb;
    bt_dataset_t *ds = bt_dataset_load_mapped(s_path, NULL, 0, &eb);
    cr_assert_not_null(ds, "%s", eb.msg);
    const bt_series_t *s = &ds->series[0];
    int fd;
    int64_t off;
    cr_assert(bt_filemap_find(s->close, s->n * 8, &fd, &off), "the store registers its mapping");
    bt_engine_cfg_t c = s_cfg();
    s_out_t a, b;
    s_run(s, &c, false, &a);
    s_run(s, &c, true, &b);
    s_same(&a, &b);
    /* a slice: bars 12,345 .. 45,678 (the feed's slice starts mid-column, mid-window) */
    c.start = s->time[12345];
    c.end = s->time[45678];
    s_run(s, &c, false, &a);
    s_run(s, &c, true, &b);
    cr_assert_eq(a.rec.nequity, 45678 - 12345 + 1);
    s_same(&a, &b);
    const double *close = s->close;
    bt_dataset_destroy(&ds);
    cr_assert_not(bt_filemap_find(close, 8, &fd, &off), "unmapped: no longer registered");
}

Test(window, the_mapping_serves_when_the_file_cannot)
{
    /* bars in memory, "mapped" from a pipe: every pread fails, each window falls back */
    s_store(20000, 5);
    bt_errbuf_t eb;
    bt_dataset_t *ds = bt_dataset_load(s_path, NULL, 0, &eb); /* a copy: nothing registered */
    cr_assert_not_null(ds, "%s", eb.msg);
    bt_series_t s = ds->series[0];
    int p[2];
    cr_assert_eq(pipe(p), 0);
    const void *cols[6] = {s.time, s.open, s.high, s.low, s.close, s.volume};
    for (int k = 0; k < 6; k++)
        cr_assert(bt_filemap_add(cols[k], s.n * 8, p[0], 0));
    bt_engine_cfg_t c = s_cfg();
    s_out_t a, b;
    s_run(&s, &c, false, &a);
    s_run(&s, &c, true, &b);
    s_same(&a, &b);
    for (int k = 0; k < 6; k++)
        bt_filemap_remove(cols[k]);
    close(p[0]);
    close(p[1]);
    /* and not registered at all: the plain loop */
    s_run(&s, &c, false, &a);
    s_run(&s, &c, true, &b);
    s_same(&a, &b);
    bt_dataset_destroy(&ds);
}
