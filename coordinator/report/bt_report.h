/* bt_report — the sweep's results table, ranking and summary.
 *
 * Holds one row per job: its swept values, its metrics (BT_METRICS order) and
 * its status. Writes DIR/results.csv (grid order), DIR/ranking.csv (ok rows
 * ranked) and DIR/summary.txt. The two CSVs depend only on the rows set, never
 * on the order results arrived in, the number of workers, or resume: see
 * docs/sweep.md "Report" for the exact format.
 *
 * Axes: each swept key is an axis with a name (the dotted key, e.g.
 * "strategy.fast"). A numeric axis value is a double. A labelled axis (e.g.
 * data.symbols, whose values are symbol sets) takes the value's index as the
 * double and a label table set with bt_report_set_axis_labels(); the CSV then
 * shows the label (e.g. "AAPL+MSFT") in the column NAME and the index in
 * NAME_index. Not thread-safe. */
#ifndef BT_REPORT_H
#define BT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bt_csvw.h"
#include "bt_err.h"
#include "bt_journal.h"
#include "bt_overfit.h"

#define BT_REPORT_MAX_AXES 64 /* cap on swept keys */

typedef struct bt_report bt_report_t;

/* Run facts for summary.txt (not in the CSVs). Strings may be NULL (printed as "-"). */
typedef struct bt_report_summary {
    const char *config_path;   /* as given on the command line */
    const char *config_sha256; /* hex */
    const char *data_store;    /* bar store path */
    const char *data_hash;     /* dataset hash, hex */
    const char *bt_version;    /* BT_VERSION */
    const char *strategy;      /* strategy name */
    const char *rank_by;       /* printed; the ranking uses bt_report_write's argument */
    double wall_s;             /* wall time of this session, seconds */
    uint64_t jobs_run;         /* jobs finished in this session (not replayed) */
    uint64_t bars_run;         /* bar events of those jobs */
    uint64_t jobs_resumed;     /* jobs taken from the journal */
    uint32_t workers_seen;     /* workers that connected this session */
    uint64_t retries;          /* failed attempts that were retried */
    uint64_t requeued;         /* leases lost to silent/dead workers */
    double peak_rss_mb;        /* coordinator's peak resident memory so far, MB (0: unknown) */
    /* 0: all jobs are one trial set for the deflated Sharpe / PBO lines. n > 0
     * (walk-forward: points per window): jobs [k n, (k+1) n) are trial set k,
     * computed by the caller (bt_report_overfit); the summary's overfitting
     * lines then say so instead of pooling the sets. */
    uint64_t trial_set_size;
    /* Optional: writes more sections at the end of summary.txt (the
     * walk-forward section), inside the same atomic write. */
    void (*tail)(FILE *f, void *user);
    void *tail_user;
} bt_report_summary_t;

/* njobs > 0, naxes <= BT_REPORT_MAX_AXES; axis names are copied. NULL when out
 * of memory. Every row starts "pending" (no result). */
bt_report_t *bt_report_new(uint64_t njobs, size_t naxes, const char *const *axis_names);
void bt_report_destroy(bt_report_t **self_p);

/* Makes axis a labelled axis: value i of that axis prints as labels[i]
 * (copied). Values that are not a valid index print as the number. */
bt_err_t bt_report_set_axis_labels(bt_report_t *r, size_t axis, size_t nlabels,
                                   const char *const *labels, bt_errbuf_t *eb);

/* The swept values of job_id (naxes doubles, copied). */
void bt_report_set_point(bt_report_t *r, uint64_t job_id, const double *axis_values);

/* Keeps one result per job, independent of call order: an ok record beats a
 * failed one; between two of the same status the lower attempt wins; an
 * exact tie keeps the first. Returns false (ignored) if rec->job_id is out of
 * range. Only the first min(nmetrics, bt_metrics_count()) metrics are used;
 * missing ones print empty. */
bool bt_report_set_result(bt_report_t *r, const bt_journal_rec_t *rec);

/* Rounds rec's block statistics (count, sum, sum of squares per block) to
 * the form the report keeps: per block (count, mean, M2) with mean and M2
 * rounded to float, blk_f32 = 1 (no block statistics when they are not
 * valid). bt_report_set_result keeps the same floats from either form, so a
 * grouped journal can store them in 4 bytes with no change to the PBO. */
void bt_report_blocks_f32(bt_journal_rec_t *rec);

/* Best ok row so far by metric (index in BT_METRICS), for the progress line.
 * false if there is none. */
bool bt_report_best(const bt_report_t *r, size_t metric, bool descending, uint64_t *job_id,
                    double *value);

/* "job N (values): error" of the lowest failed job id, in a static buffer;
 * "" when none failed. */
const char *bt_report_first_failure(const bt_report_t *r);

/* Rows with status ok / failed / pending. */
void bt_report_counts(const bt_report_t *r, uint64_t *ok, uint64_t *failed, uint64_t *pending);

/* Writes DIR/results.csv, DIR/ranking.csv, DIR/failures.csv (the failed rows
 * of results.csv, header only when none failed) and DIR/summary.txt, each to a
 * temporary file, fsync'd and renamed, so a kill never leaves a torn report.
 * rank_by: a metric name from BT_METRICS (else BT_ECONFIG listing the names).
 * top: rows in ranking.csv (0 = all ok rows). summary may be NULL (no
 * summary.txt). */
/* sweep.rank_min_trades: ok rows with fewer closed trades (metric
 * "trades") than min_trades are left out of ranking.csv, the summary's top
 * table and bt_report_best; results.csv keeps them and gains a last column
 * "ranked" (1/0). 0 = off (the default: no column). */
void bt_report_set_min_trades(bt_report_t *r, double min_trades);
/* From now on, formats each kept ok result's metrics as it is set (up to
 * max_bytes of text, at most BT_REPORT_TEXTS_MAX; rows past it are formatted
 * when written), so the tables at the end of a sweep copy text: the same
 * bytes, less work after the last result. The room is reserved at once and
 * its pages touched only as rows arrive. BT_ENOMEM (nothing changes) when it
 * cannot be allocated. */
#define BT_REPORT_TEXTS_MAX ((size_t)64 << 20) /* what bt sweep uses: ~140,000 results */
bt_err_t bt_report_prerender(bt_report_t *r, size_t max_bytes);
/* Rows whose metric texts are made (0 without bt_report_prerender). */
uint64_t bt_report_prerendered(const bt_report_t *r);

bt_err_t bt_report_write(const bt_report_t *r, const char *dir, const char *rank_by,
                         bool descending, size_t top, const bt_report_summary_t *summary,
                         bt_errbuf_t *eb);

/* bt_report_write in two steps, so the end of a sweep can overlap them
 * (docs/sweep.md "End of the sweep"): the three CSVs (ranking the rows), then
 * summary.txt with the ranking of the last bt_report_write_tables
 * (BT_EINVAL when none, or rows changed since). */
typedef struct bt_report_cells bt_report_cells_t;
/* Cells to get a copy of the first max_rows rows of results.csv and
 * ranking.csv while they are written (either may be NULL). */
typedef struct bt_report_tee {
    const bt_report_cells_t *results;
    const bt_report_cells_t *ranking;
    size_t max_rows;
} bt_report_tee_t;
bt_err_t bt_report_write_tables(const bt_report_t *r, const char *dir, const char *rank_by,
                                bool descending, size_t top, const bt_report_tee_t *tee,
                                bt_errbuf_t *eb);
/* Ranks the rows as bt_report_write_tables(r, .., rank_by, descending, top,
 * ..) will (it then reuses the ranking), so ranking.csv's first rows can be
 * read (bt_report_table_csv) before the files are written. */
bt_err_t bt_report_rank(const bt_report_t *r, const char *rank_by, bool descending, size_t top,
                        bt_errbuf_t *eb);
bt_err_t bt_report_write_summary(const bt_report_t *r, const char *dir,
                                 const bt_report_summary_t *summary, bt_errbuf_t *eb);

/* The tables of bt_report_write_tables. */
typedef enum { BT_REPORT_RESULTS, BT_REPORT_RANKING, BT_REPORT_FAILURES } bt_report_table_t;

/* A table's cells for a writer other than the CSV one (report.html from
 * memory): begin gets the table's row count first (may be NULL); num what
 * the CSV prints as a number (job id, rank, swept value, metric, the ranked
 * flag; nan/inf included) and, when not NULL, the CSV's text for it (finite
 * values only: what bt_csvw_fmt_double gives); text what it prints as text
 * ("" for an empty cell); end_row ends each row, the header included. */
struct bt_report_cells {
    void *user;
    void (*begin)(void *user, uint64_t rows);
    void (*num)(void *user, double v, const char *text);
    void (*text)(void *user, const char *s);
    void (*end_row)(void *user);
};

/* The header and the first max_rows rows of one table as the last
 * bt_report_write_tables wrote it (the ranking is that call's), cell by cell
 * to cells or as CSV text to w (the same bytes as the file). */
void bt_report_table_cells(const bt_report_t *r, bt_report_table_t which, size_t max_rows,
                           const bt_report_cells_t *cells);
/* Rows of that table (the file's, without the header). */
uint64_t bt_report_table_rows(const bt_report_t *r, bt_report_table_t which);
bt_err_t bt_report_table_csv(const bt_report_t *r, bt_report_table_t which, size_t max_rows,
                             bt_csvw_t *w);

/* Computes the whole sweep's DSR and PBO into the report's cache, so later
 * calls (summary.txt, bt_report_pbo_logits) find them done. Changes nothing
 * else: may run on another thread while that one writes the tables (but not
 * the summary or the logits, which read the cache). */
void bt_report_overfit_warm(const bt_report_t *r);

/* Deflated Sharpe ratio and PBO of one trial set (docs/overfitting.md). */
typedef struct bt_report_overfit {
    uint64_t trials;   /* ok rows used: block statistics over nreturns returns */
    uint64_t left_out; /* ok rows with block statistics over another number of returns */
    uint64_t ref_job;  /* lowest job id with block statistics; it sets nreturns */
    uint64_t nreturns; /* returns of every trial (0 when there is no trial) */
    uint64_t best_job; /* highest per-step Sharpe (ties: lowest id): the DSR's winner */
    bt_err_t dsr_err; /* BT_OK: dsr is set; else dsr_msg says why there is none */
    bt_dsr_t dsr;
    char dsr_msg[256];
    bt_err_t pbo_err; /* BT_OK: pbo is set; else pbo_msg says why there is none */
    bt_pbo_t pbo;
    char pbo_msg[256];
} bt_report_overfit_t;

/* Computes the DSR and PBO over the trials with job id in [first, end) (end
 * is clamped to the row count): the ok rows that carry block statistics over
 * the same number of returns as the lowest such id in the range (others are
 * counted in left_out). The summary's lines use [0, njobs); a walk-forward
 * calls it once per window. Each statistic fails on its own, with a message
 * fit for summary.txt: BT_ENOTFOUND (no block statistics: report.pbo_blocks
 * is 0, or no successful run yet), BT_EINVAL (too few trials or returns),
 * BT_ENOMEM. Returns BT_OK when both are set, else the first error. */
bt_err_t bt_report_overfit(const bt_report_t *r, uint64_t first, uint64_t end,
                           bt_report_overfit_t *out);

/* The logits of every CSCV split of the PBO over all jobs (ascending, *n of
 * them; *logits malloc'd, caller frees), for report.html's distribution. The
 * error of the PBO when there is none (*logits NULL, *n 0). */
bt_err_t bt_report_pbo_logits(const bt_report_t *r, double **logits, size_t *n);

/* Formats v the way the CSVs do: "%.15g" if that reads back (strtod) to the
 * same double, else "%.17g" (always exact); "nan", "inf", "-inf". size >= 32.
 * Returns buf. */
const char *bt_report_fmt_double(double v, char *buf, size_t size);

#endif
