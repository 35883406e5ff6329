/* bt_jgroup — one compressed group of journal records: the payload coding of
 * journal versions 3 (payload type 2) and 4 (type 3). docs/sweep.md
 * "Journal" describes both layouts; bt_jgroup.c has them byte by byte.
 *
 * The writer side collects records (bt_jgroup_add) and turns them into one
 * payload (bt_jgroup_close); bt_journal frames it (length, CRC-32C). The
 * reader side decodes a payload of either type (bt_jgroup_walk). One
 * object holds the scratch memory of both; not thread-safe. */
#ifndef BT_JGROUP_H
#define BT_JGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_err.h"
#include "bt_journal.h"

#define BT_JGROUP_V3 2        /* payload type of a version-3 group */
#define BT_JGROUP_V4 3        /* payload type of a version-4 group */
#define BT_JGROUP_HEAD_MIN 19 /* bytes before the zlib stream: version 3 (version 4: 52) */
#define BT_JGROUP_RAW_MAX ((1u << 20) + 65536) /* cap on a group's bytes before deflate */
/* cap on a group payload: header and deflate's worst case of the raw bytes */
#define BT_JGROUP_PAYLOAD_MAX                                                                      \
    (64 + BT_JGROUP_RAW_MAX + (BT_JGROUP_RAW_MAX >> 12) + (BT_JGROUP_RAW_MAX >> 14) + 13)

typedef struct bt_jgroup bt_jgroup_t;

/* A coder writing payloads of type (BT_JGROUP_V3 or _V4). header: the
 * journal's header text; version 4 finds the metric columns it predicts
 * (final_equity, total_return, ...) on its "metrics " line (none there:
 * every metric is stored as it is). NULL when out of memory. */
bt_jgroup_t *bt_jgroup_new(int type, const char *header);
void bt_jgroup_destroy(bt_jgroup_t **self_p);

/* Records in the pending group. */
size_t bt_jgroup_pending(const bt_jgroup_t *g);

/* Whether r may join the pending group (same shape, room left); when not,
 * close the group first. An empty group takes any record. */
bool bt_jgroup_fits(const bt_jgroup_t *g, const bt_journal_rec_t *r);

/* Adds r to the pending group. */
bt_err_t bt_jgroup_add(bt_jgroup_t *g, const bt_journal_rec_t *r, bt_errbuf_t *eb);

/* Appends the pending group's payload to out and empties the group
 * (nothing when it is empty). */
bt_err_t bt_jgroup_close(bt_jgroup_t *g, bt_buf_t *out, bt_errbuf_t *eb);

/* Decodes a group payload pl of n bytes (type 2 or 3): false if it is not a
 * well-formed group. When fn is set each record is handed over in order;
 * *count (may be NULL) gets the number of records. */
bool bt_jgroup_walk(bt_jgroup_t *g, const uint8_t *pl, size_t n,
                    void (*fn)(void *user, const bt_journal_rec_t *r), void *user, uint64_t *count);

#endif
