/* bt_stamp — the timestamp options of the CSV importer: a date format
 * (strptime-like, our own allocation-free parser), epoch seconds or
 * milliseconds, and a time zone for naive local timestamps. The result is
 * always ns since 1970-01-01 UTC. See docs/data.md ("Import options"). */
#ifndef BT_STAMP_H
#define BT_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

/* Checks a date format: the directives %Y (4-digit year), %y (2 digits: 69-99 -> 19xx, 00-68 ->
 * 20xx), %m (month 1-12, 1 or 2 digits), %b (month abbreviation Jan..Dec, any case), %d (day,
 * 1 or 2 digits), %H (hour 0-23), %M (minute), %S (second), %f (fraction, 1-9 digits), %% and
 * literal characters. A year, a month and a day are required. BT_EINVAL with a message naming
 * --date-format otherwise. */
bt_err_t bt_datefmt_check(const char *fmt, bt_errbuf_t *eb);
/* Parses exactly len bytes of s with fmt (checked) into ns since 1970 as if UTC. false if the
 * text does not match the format, the date does not exist or the year is outside 1800..2259. */
bool bt_datefmt_parse(const char *fmt, const char *s, size_t len, int64_t *out);

/* Epoch units of --epoch. */
typedef enum { BT_EPOCH_NONE = 0, BT_EPOCH_S, BT_EPOCH_MS } bt_epoch_t;
/* "s" / "ms" -> unit; BT_EINVAL otherwise. */
bt_err_t bt_epoch_unit_parse(const char *name, bt_epoch_t *out);
/* Parses an integer count of unit since 1970-01-01 UTC (seconds may carry a fraction of up to 9
 * digits, "1136214000.5"); false for anything else or outside the years 1800..2259. */
bool bt_epoch_parse(bt_epoch_t unit, const char *s, size_t len, int64_t *out);

/* A time zone: a fixed offset ("UTC", "+01:00", "-0530") or a name of the system tz database
 * ("Europe/Berlin", read from $TZDIR or /usr/share/zoneinfo through localtime_r). */
typedef struct bt_tz bt_tz_t;
/* NULL with a message naming --tz when spec is neither. */
bt_tz_t *bt_tz_new(const char *spec, bt_errbuf_t *eb);
void bt_tz_destroy(bt_tz_t **self_p);
/* Converts a naive local time (ns, as if UTC) to UTC. A local time that falls twice (the hour
 * after a DST end) takes the first, earlier instant; one that does not exist (skipped by a DST
 * start) returns false. A zone name sets the process TZ variable while converting (restored by
 * bt_tz_destroy): the importer is single-threaded. */
bool bt_tz_to_utc(bt_tz_t *tz, int64_t local, int64_t *utc);

#endif
