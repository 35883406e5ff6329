/* bt_wftest — the walk-forward test jobs of a sweep's job graph
 * (docs/walkforward.md "Test runs").
 *
 * Window w's test job has id jobs + w (after every training job). It is held
 * back in the scheduler until every training job of window w is in and
 * window w-1's test result is in; then the window's best training point
 * (rank_by, NaN last, ties by the swept values ascending, then job id: the
 * ranking.csv order) is chosen and the job is released with the overrides
 * wf.test = w, the point's swept values and wf.cash = the previous window's
 * ending equity (capital carried over). Its RESULT carries the test run's
 * metrics and equity segment. A window whose training jobs all failed (or
 * with no equity left) is settled without a run: the equity carries over. */
#ifndef BT_WFTEST_H
#define BT_WFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_config.h"
#include "bt_err.h"
#include "bt_plan.h"
#include "bt_sched.h"
#include "bt_wfreport.h"
#include "bt_wire.h"

typedef struct bt_wftest bt_wftest_t;

/* Holds every test job of sched (ids bt_plan_jobs(plan) + w, which sched
 * must have room for). cfg, plan and sched are borrowed. NULL: out of memory. */
bt_wftest_t *bt_wftest_new(const bt_config_t *cfg, const bt_plan_t *plan, bt_sched_t *sched);
void bt_wftest_destroy(bt_wftest_t **self_p);

/* A training job's final outcome (from the journal or a worker); metrics
 * in BT_METRICS order, NULL when failed. Repeats are ignored. */
void bt_wftest_train(bt_wftest_t *t, uint64_t job, const bt_metrics_t *metrics);
/* A test job's final outcome; copies its segment. BT_ENOMEM, or BT_EINVAL
 * for a job that is not the one running. */
bt_err_t bt_wftest_result(bt_wftest_t *t, const bt_msg_result_t *r, bt_errbuf_t *eb);
/* Chooses, settles and releases what has become possible. */
void bt_wftest_advance(bt_wftest_t *t);

/* Overrides of test job id (at most max); the count written. */
size_t bt_wftest_overrides(const bt_wftest_t *t, uint64_t id, bt_wire_override_t *over, size_t max);
/* One outcome per window (complete once bt_wftest_done). */
const bt_wf_outcome_t *bt_wftest_outcomes(const bt_wftest_t *t);
bool bt_wftest_done(const bt_wftest_t *t);

#endif
