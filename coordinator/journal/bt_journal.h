/* bt_journal — the sweep's append-only, checksummed result journal.
 *
 * One file, DIR/journal.btj. A header record identifies the sweep (the caller's
 * text: config sha256, data hash, grid size, version...); then one record per
 * final job outcome. Every record carries a length and a CRC-32C, so a record
 * torn by a kill in the middle of a write is detected on replay and cut off.
 *
 * Durability protocol (docs/sweep.md "Journal"): append() only buffers in
 * memory; sync() writes the buffer and calls fdatasync(); only results whose
 * records went through a successful sync() may be acknowledged to workers.
 * Not thread-safe: one thread (the coordinator loop) owns a journal. */
#ifndef BT_JOURNAL_H
#define BT_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

#define BT_JOURNAL_FILE "journal.btj" /* file name inside the output folder */
#define BT_JOURNAL_MAX_METRICS 64     /* cap on metrics per record */
#define BT_JOURNAL_MAX_HEADER 4096    /* cap on the header text, bytes */
#define BT_JOURNAL_MAX_BLK 96         /* cap on block statistics per record (3 x 32 blocks) */

/* One job outcome. Strings are NUL-terminated (truncated to fit). */
typedef struct bt_journal_rec {
    uint64_t job_id;                        /* grid index of the job */
    uint32_t attempt;                       /* lease number that produced it (1 = first) */
    uint8_t ok;                             /* 1 ok, 0 failed */
    char error[256];                        /* "" when ok */
    size_t nmetrics;                        /* <= BT_JOURNAL_MAX_METRICS */
    double metrics[BT_JOURNAL_MAX_METRICS]; /* BT_METRICS order */
    char worker[64];                        /* worker name (journal only, never in the CSVs) */
    uint64_t run_us;                        /* time the worker spent on the job */
    uint64_t bars;                          /* bar events processed */
    uint32_t nblk;                          /* block statistics (PBO), 0 = none */
    double blk[BT_JOURNAL_MAX_BLK];         /* per block: count, sum, sum of squares of returns */
    /* 1: blk holds per block (count, mean, M2) with mean and M2 already
     * rounded to float, the precision the report keeps for the PBO
     * (bt_report_blocks_f32); a grouped journal stores them in 4 bytes. */
    uint8_t blk_f32;
} bt_journal_rec_t;

typedef struct bt_journal bt_journal_t;

/* Opens DIR/journal.btj (DIR must exist).
 * resume == false: creates it and writes + syncs the header; if a journal is
 *   already there -> NULL, BT_EEXIST, telling the user to pass --resume DIR or
 *   pick another --out.
 * resume == true: the journal must exist (else BT_ENOTFOUND) and its header
 *   must equal `header` byte for byte (else BT_ECONFIG: "config or data
 *   changed since the sweep started"). Then call bt_journal_replay() once
 *   before any bt_journal_append(). */
bt_journal_t *bt_journal_open(const char *dir, const char *header, bool resume, bt_errbuf_t *eb);

/* Reads the header text of DIR/journal.btj into buf (NUL-terminated), checking
 * magic and CRC, without opening the journal for writing (for tools and tests
 * that inspect a journal). BT_ELIMIT if it does not fit in size. */
bt_err_t bt_journal_read_header(const char *dir, char *buf, size_t size, bt_errbuf_t *eb);

/* Calls fn for each intact record in file order (fn may be NULL). A damaged
 * region (bit flip, garbage) followed by good records is skipped: the reader
 * resyncs on the next offset holding a whole record with a matching CRC and a
 * valid payload, and counts the region (bt_journal_skipped_*); its jobs are
 * simply absent, so they run again. A damaged tail with no good record after
 * it (a torn last write) is truncated, so appends continue after the last
 * good record. A caller may see one job id several
 * times (e.g. a record written twice); keeping one is the caller's job
 * (bt_report_set_result does it). */
bt_err_t bt_journal_replay(bt_journal_t *j, void (*fn)(void *user, const bt_journal_rec_t *r),
                           void *user, bt_errbuf_t *eb);

/* New records go in compressed groups (journal versions 3 and 4,
 * docs/sweep.md "Journal", bt_jgroup.h): the records buffered between two
 * syncs are one framed, checksummed record whose payload is their fields,
 * column by column and byte plane by byte plane, deflated; version 4 (any
 * header but a version-3 one) stores the metrics that follow from others
 * as the difference from their prediction. Off (the default): one record
 * each, the format of journal versions 1 and 2. Replay reads all of them. */
void bt_journal_set_grouped(bt_journal_t *j, bool on);

/* Bytes in the file (header and records written so far, not the buffer). */
uint64_t bt_journal_file_bytes(const bt_journal_t *j);

/* Buffers one record (nothing reaches the disk until bt_journal_sync). A
 * full buffer (1 MiB) is written out, still without fdatasync. */
bt_err_t bt_journal_append(bt_journal_t *j, const bt_journal_rec_t *r, bt_errbuf_t *eb);

/* Closes the pending group and writes every buffered record, without
 * fdatasync: nothing may be acknowledged on this alone. */
bt_err_t bt_journal_flush(bt_journal_t *j, bt_errbuf_t *eb);

/* Writes all buffered records and fdatasync()s. On BT_OK every record appended
 * so far is durable and may be acknowledged. On error nothing may be acked. */
bt_err_t bt_journal_sync(bt_journal_t *j, bt_errbuf_t *eb);

/* Records appended (this session, buffered or not), records replayed, and
 * bytes cut off the tail by the last replay (0 if the file was clean). */
uint64_t bt_journal_appended(const bt_journal_t *j);
uint64_t bt_journal_replayed(const bt_journal_t *j);
uint64_t bt_journal_truncated_bytes(const bt_journal_t *j);

/* Damaged regions the last replay skipped (good records came after each),
 * and their bytes; each usually held one record. */
uint64_t bt_journal_skipped_regions(const bt_journal_t *j);
uint64_t bt_journal_skipped_bytes(const bt_journal_t *j);

/* Path of the journal file. */
const char *bt_journal_path(const bt_journal_t *j);

/* Syncs what is buffered (errors are logged), closes, frees, sets *j_p = NULL.
 * Accepts NULL and *j_p == NULL. */
void bt_journal_close(bt_journal_t **j_p);

#endif
