/* bt_wfreport — the walk-forward files (docs/walkforward.md "Output"):
 * DIR/walkforward.csv (one row per window), DIR/oos_equity.csv (the stitched
 * out-of-sample curve) and the walk-forward section of DIR/summary.txt,
 * from each window's choice and its test run's metrics and segment. */
#ifndef BT_WFREPORT_H
#define BT_WFREPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bt_config.h"
#include "bt_err.h"
#include "bt_metrics.h"
#include "bt_plan.h"
#include "bt_report.h"

/* What a test run sends back besides its metrics: arrays in one block that
 * starts at time (freed by bt_wf_seg_fini). */
typedef struct bt_wf_seg {
    int64_t *time;    /* n equity times */
    double *equity;   /* n equity values */
    uint8_t *exposed; /* n flags: a position was open */
    size_t n;
    double *fill_value;      /* nfills traded values */
    double *fill_commission; /* nfills commissions */
    size_t nfills;
    double *trade_pnl; /* ntrades closed-trade pnls */
    size_t ntrades;
    uint64_t rejected; /* orders rejected in the test range */
} bt_wf_seg_t;

void bt_wf_seg_fini(bt_wf_seg_t *s);

/* One window's outcome. */
typedef struct bt_wf_outcome {
    bool chosen;             /* some training job was ok */
    uint64_t job;            /* the chosen training job */
    double is_rank, is_cagr; /* its rank_by metric and cagr */
    bool settled;            /* the test run is done (or will not run) */
    bool tested;             /* the test run succeeded */
    double start_equity, end_equity;
    bt_metrics_t oos; /* metrics of the test run */
    bt_wf_seg_t seg;  /* its segment */
} bt_wf_outcome_t;

typedef struct bt_wfreport bt_wfreport_t;

/* Selection facts, stitched metrics and per-window DSR / PBO of the plan's
 * windows (win: one entry per window; report: the training results). All
 * arguments are borrowed and must outlive the object. NULL: out of memory. */
bt_wfreport_t *bt_wfreport_new(const bt_config_t *cfg, const bt_plan_t *plan,
                               const bt_report_t *report, const bt_wf_outcome_t *win);
void bt_wfreport_destroy(bt_wfreport_t **self_p);

/* Writes DIR/walkforward.csv and DIR/oos_equity.csv (each atomically). */
bt_err_t bt_wfreport_write(const bt_wfreport_t *w, const char *dir, bt_errbuf_t *eb);
/* The walk-forward section of summary.txt (a bt_report_summary_t tail). */
void bt_wfreport_summary(FILE *f, void *w);
/* One line for the terminal: windows, out-of-sample cagr, sharpe, max drawdown, efficiency. */
void bt_wfreport_line(const bt_wfreport_t *w, FILE *f);

#endif
