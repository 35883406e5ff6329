/* bt_plan — what a sweep runs, computed once before any work, for plain and
 * walk-forward sweeps alike: the jobs (grid points, or walk-forward windows x
 * grid points), each job's swept values and labels, the trial sets, the data
 * identity and the journal header text.
 *
 * Axes: the report's columns and the overrides a training job carries. A
 * plain sweep has the grid's axes; a walk-forward sweep puts wf.window first
 * (job id = window x points + point). A symbol-set axis has the set's index
 * as its value and a label ("A+B") per index. */
#ifndef BT_PLAN_H
#define BT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_config.h"
#include "bt_err.h"
#include "bt_grid.h"
#include "bt_wf.h"

#define BT_PLAN_MAX_AXES 64 /* cap on swept keys, wf.window included */

typedef struct bt_plan bt_plan_t;

/* Expands cfg's grid, resolves data.store, checks its symbols, takes the data
 * hash and, with a walk_forward: section, computes the windows. cfg is
 * borrowed and must outlive the plan. NULL on failure: eb->code BT_ENOMEM
 * for memory, anything else is a config or data problem (nothing was run). */
bt_plan_t *bt_plan_new(const bt_config_t *cfg, bool allow_huge, bt_errbuf_t *eb);
void bt_plan_destroy(bt_plan_t **self_p);

uint64_t bt_plan_jobs(const bt_plan_t *p);   /* training jobs: windows x points, or points */
uint64_t bt_plan_points(const bt_plan_t *p); /* grid points that pass the constraints */
size_t bt_plan_windows(const bt_plan_t *p);  /* walk-forward windows; 0 for a plain sweep */
const bt_wf_window_t *bt_plan_window(const bt_plan_t *p, size_t w);
const bt_grid_t *bt_plan_grid(const bt_plan_t *p);
const bt_config_t *bt_plan_config(const bt_plan_t *p); /* the cfg given to bt_plan_new */

/* Hands each grid point (the first 1,000,000) to the strategy's own init, as
 * a worker does first, so points that would fail every attempt are found
 * before any work. BT_ECONFIG if any does: how many, the first with its
 * error, and the constraint "A op B" over two axes that separates the
 * refused points from the others exactly, when there is one (e.g.
 * "params.fast < params.slow"). In bt_plan_check.c. */
bt_err_t bt_plan_check_points(const bt_plan_t *p, bt_errbuf_t *eb);

/* Axes (see above). */
size_t bt_plan_naxes(const bt_plan_t *p);
const char *const *bt_plan_axis_keys(const bt_plan_t *p);
size_t bt_plan_axis_len(const bt_plan_t *p, size_t axis);
bool bt_plan_axis_is_symbols(const bt_plan_t *p, size_t axis);
/* The label of value index j of a symbol-set axis: the set joined with '+'. */
const char *bt_plan_label(const bt_plan_t *p, size_t axis, size_t j, char *buf, size_t cap);
/* The swept values of a training job (bt_plan_naxes doubles). */
void bt_plan_values(const bt_plan_t *p, uint64_t job, double *values);

/* Jobs per trial set of the overfitting statistics: the points of one
 * window for a walk-forward sweep, 0 (all jobs are one set) otherwise. */
uint64_t bt_plan_trial_set_size(const bt_plan_t *p);

const char *bt_plan_store(const bt_plan_t *p);     /* realpath of data.store */
const char *bt_plan_data_hash(const bt_plan_t *p); /* 64 hex: every symbol as read, checked */

/* What identifies the sweep in its journal (config hash, data hash of the
 * bars as read, jobs, walk-forward layout, axes, engine build, strategy
 * library sha256), one "key value" line each; the journal adds its version
 * and metric columns. BT_ELIMIT if it does not fit; an unreadable strategy
 * library is an error naming it. */
bt_err_t bt_plan_journal_id(const bt_plan_t *p, char *buf, size_t cap, bt_errbuf_t *eb);

#endif
