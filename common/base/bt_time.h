/* bt_time — timestamps are int64 nanoseconds since 1970-01-01 UTC (naive
 * timestamps from files are taken as UTC). Proleptic Gregorian calendar. */
#ifndef BT_TIME_H
#define BT_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_NS_PER_SEC INT64_C(1000000000)
#define BT_NS_PER_MIN (60 * BT_NS_PER_SEC)
#define BT_NS_PER_HOUR (3600 * BT_NS_PER_SEC)
#define BT_NS_PER_DAY (86400 * BT_NS_PER_SEC)

typedef struct {
    int year, month, day;   /* month 1..12, day 1..31 */
    int hour, minute, second;
    int64_t nanos;          /* 0..999999999 */
} bt_civil_t;

/* Days since 1970-01-01 for a civil date (H. Hinnant's days_from_civil). */
int64_t bt_days_from_civil(int year, int month, int day);
void bt_civil_from_days(int64_t days, int *year, int *month, int *day);
bool bt_date_valid(int year, int month, int day);

int64_t bt_time_from_civil(const bt_civil_t *c);
void bt_time_to_civil(int64_t t, bt_civil_t *c);
/* 0 = Monday ... 6 = Sunday. */
int bt_time_weekday(int64_t t);

/* Parses "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS" or with 'T'
 * between date and time, and an optional fraction ".fff". Exactly len bytes
 * are read (the string need not be NUL-terminated). Returns false if the text
 * is not one of these shapes or the date/time is out of range. */
bool bt_time_parse(const char *s, size_t len, int64_t *out);
/* Parses "HH:MM" or "HH:MM:SS" into ns since midnight. */
bool bt_time_parse_clock(const char *s, size_t len, int64_t *out);

/* Milliseconds from a monotonic clock (for timeouts, never for bar times). */
int64_t bt_monotonic_ms(void);
/* The same clock in seconds, with sub-millisecond resolution. */
double bt_monotonic_s(void);

/* Writes "YYYY-MM-DD" when t is midnight, else "YYYY-MM-DD HH:MM:SS" (and
 * ".nnnnnnnnn" when there are nanoseconds). Returns buf. cap >= 32. */
char *bt_time_format(int64_t t, char *buf, size_t cap);

#endif
