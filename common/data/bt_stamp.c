/* bt_stamp — date formats, epoch timestamps and time zones for the importer. */
#define _DEFAULT_SOURCE /* tm_gmtoff, setenv */
#include "bt_stamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bt_time.h"

#define S_MIN_YEAR 1800
#define S_MAX_YEAR 2259 /* int64 ns since 1970 end in April 2262 */

/* ---- date formats ---- */

bt_err_t bt_datefmt_check(const char *fmt, bt_errbuf_t *eb)
{
    bool year = false, month = false, day = false;
    if (!fmt || !fmt[0])
        return bt_errf(eb, BT_EINVAL, "--date-format is empty; give e.g. '%%m/%%d/%%Y'");
    if (strlen(fmt) > 64)
        return bt_errf(eb, BT_EINVAL, "--date-format is longer than 64 characters");
    for (const char *p = fmt; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        switch (*p) {
        case 'Y':
        case 'y':
            year = true;
            break;
        case 'm':
        case 'b':
            month = true;
            break;
        case 'd':
            day = true;
            break;
        case 'H':
        case 'M':
        case 'S':
        case 'f':
        case '%':
            break;
        default:
            return bt_errf(eb, BT_EINVAL,
                           "--date-format '%s': unknown directive '%%%.1s'; use %%Y %%y %%m %%b "
                           "%%d %%H %%M %%S %%f or %%%%",
                           fmt, *p ? p : "");
        }
        if (!*p)
            break;
    }
    if (!year || !month || !day)
        return bt_errf(eb, BT_EINVAL,
                       "--date-format '%s' needs a year (%%Y or %%y), a month (%%m or %%b) and a "
                       "day (%%d)",
                       fmt);
    return BT_OK;
}

/* Reads 1..max digits (exactly max when exact) at s[*i]. */
static bool s_digits(const char *s, size_t len, size_t *i, int min, int max, long *out)
{
    long v = 0;
    int n = 0;
    while (*i < len && n < max && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    *out = v;
    return n >= min;
}

bool bt_datefmt_parse(const char *fmt, const char *s, size_t len, int64_t *out)
{
    static const char *const mon[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    long year = -1, month = -1, day = -1, hour = 0, minute = 0, second = 0, v = 0;
    int64_t nanos = 0;
    size_t i = 0;
    for (const char *p = fmt; *p; p++) {
        if (*p != '%' || p[1] == '%') {
            if (i >= len || s[i] != *p)
                return false;
            i++;
            p += *p == '%'; /* "%%" */
            continue;
        }
        p++;
        switch (*p) {
        case 'Y':
            if (!s_digits(s, len, &i, 4, 4, &year))
                return false;
            break;
        case 'y':
            if (!s_digits(s, len, &i, 2, 2, &v))
                return false;
            year = v >= 69 ? 1900 + v : 2000 + v;
            break;
        case 'm':
            if (!s_digits(s, len, &i, 1, 2, &month))
                return false;
            break;
        case 'b':
            if (i + 3 > len)
                return false;
            month = -1;
            for (int k = 0; k < 12; k++) {
                bool eq = true;
                for (int c = 0; c < 3; c++)
                    eq = eq && (s[i + (size_t)c] | 0x20) == mon[k][c];
                if (eq)
                    month = k + 1;
            }
            if (month < 0)
                return false;
            i += 3;
            break;
        case 'd':
            if (!s_digits(s, len, &i, 1, 2, &day))
                return false;
            break;
        case 'H':
            if (!s_digits(s, len, &i, 1, 2, &hour) || hour > 23)
                return false;
            break;
        case 'M':
            if (!s_digits(s, len, &i, 2, 2, &minute) || minute > 59)
                return false;
            break;
        case 'S':
            if (!s_digits(s, len, &i, 2, 2, &second) || second > 59)
                return false;
            break;
        case 'f': {
            size_t i0 = i;
            if (!s_digits(s, len, &i, 1, 9, &v))
                return false;
            nanos = v;
            for (size_t k = i - i0; k < 9; k++)
                nanos *= 10;
            break;
        }
        default:
            return false; /* bt_datefmt_check refuses it first */
        }
    }
    if (i != len || year < S_MIN_YEAR || year > S_MAX_YEAR ||
        !bt_date_valid((int)year, (int)month, (int)day))
        return false;
    bt_civil_t c = {(int)year, (int)month, (int)day, (int)hour, (int)minute, (int)second, nanos};
    *out = bt_time_from_civil(&c);
    return true;
}

/* ---- epoch timestamps ---- */

bt_err_t bt_epoch_unit_parse(const char *name, bt_epoch_t *out)
{
    if (strcmp(name, "s") == 0)
        *out = BT_EPOCH_S;
    else if (strcmp(name, "ms") == 0)
        *out = BT_EPOCH_MS;
    else
        return BT_EINVAL;
    return BT_OK;
}

bool bt_epoch_parse(bt_epoch_t unit, const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = len > 0 && s[0] == '-';
    i = neg;
    int64_t whole = 0;
    size_t d0 = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (i - d0 >= 15)
            return false; /* 15 digits of ms are past the year 2259 already */
        whole = whole * 10 + (s[i] - '0');
        i++;
    }
    if (i == d0)
        return false;
    int64_t frac = 0;
    if (unit == BT_EPOCH_S && i < len && s[i] == '.') {
        i++;
        size_t f0 = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - f0 < 9)
            frac = frac * 10 + (s[i++] - '0');
        if (i == f0)
            return false;
        for (size_t k = i - f0; k < 9; k++)
            frac *= 10;
    }
    if (i != len)
        return false;
    int64_t per = unit == BT_EPOCH_MS ? INT64_C(1000000) : BT_NS_PER_SEC;
    int64_t lo = bt_days_from_civil(S_MIN_YEAR, 1, 1) * 86400,
            hi = bt_days_from_civil(S_MAX_YEAR + 1, 1, 1) * 86400;
    int64_t secs = unit == BT_EPOCH_MS ? whole / 1000 : whole;
    if ((neg ? -secs : secs) < lo || (neg ? -secs : secs) >= hi)
        return false;
    int64_t t = whole * per + frac;
    *out = neg ? -t : t;
    return true;
}

/* ---- time zones ---- */

#define S_TZ_BLOCK 900 /* offsets are cached per 15 minutes of local time */

struct bt_tz {
    bool named;        /* a tz database zone (else a fixed offset) */
    int64_t fixed;     /* fixed offset east of UTC, seconds */
    char *old_tz;      /* TZ before bt_tz_new, to restore; NULL if it was unset */
    int64_t cache_key; /* local seconds / S_TZ_BLOCK of the cached answer */
    int64_t cache_off; /* its offset, or INT64_MIN for "does not exist" */
    bool cache_ok;     /* cache filled */
};

static bool s_fixed_offset(const char *s, int64_t *out)
{
    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || strcmp(s, "GMT") == 0) {
        *out = 0;
        return true;
    }
    if (s[0] != '+' && s[0] != '-')
        return false;
    size_t i = 1, len = strlen(s);
    long h = 0, m = 0;
    if (!s_digits(s, len, &i, 2, 2, &h))
        return false;
    if (i < len && s[i] == ':')
        i++;
    if (i < len && !s_digits(s, len, &i, 2, 2, &m))
        return false;
    if (i != len || h > 14 || m > 59 || h * 60 + m > 14 * 60)
        return false;
    *out = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return true;
}

static bool s_zone_exists(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return false;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", name);
    return access(path, R_OK) == 0;
}

bt_tz_t *bt_tz_new(const char *spec, bt_errbuf_t *eb)
{
    bt_tz_t *tz = calloc(1, sizeof *tz);
    if (!tz) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    if (s_fixed_offset(spec, &tz->fixed))
        return tz;
    if (!s_zone_exists(spec)) {
        bt_errf(eb, BT_EINVAL,
                "--tz '%s' is neither a UTC offset (UTC, +01:00, -0530) nor a zone of the tz "
                "database (e.g. Europe/Berlin, America/New_York; see /usr/share/zoneinfo)",
                spec);
        free(tz);
        return NULL;
    }
    const char *old = getenv("TZ");
    if (old) {
        size_t n = strlen(old) + 1;
        tz->old_tz = malloc(n);
        if (!tz->old_tz) {
            free(tz);
            bt_errf(eb, BT_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(tz->old_tz, old, n);
    }
    tz->named = true;
    setenv("TZ", spec, 1);
    tzset();
    return tz;
}

void bt_tz_destroy(bt_tz_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_tz_t *tz = *self_p;
    if (tz->named) {
        if (tz->old_tz)
            setenv("TZ", tz->old_tz, 1);
        else
            unsetenv("TZ");
        tzset();
    }
    free(tz->old_tz);
    free(tz);
    *self_p = NULL;
}

/* Offset east of UTC at the instant u (seconds). */
static int64_t s_off_at(int64_t u)
{
    time_t tt = (time_t)u;
    struct tm tm;
    if (!localtime_r(&tt, &tm))
        return 0;
    return tm.tm_gmtoff;
}

/* The offset for local seconds L: the candidates are the offsets a day either side (zones change
 * at most once a day); one is right when L - o maps back to o. INT64_MIN when none does. */
static int64_t s_named_offset(int64_t L)
{
    int64_t cand[2] = {s_off_at(L - 86400), s_off_at(L + 86400)};
    int64_t best = INT64_MIN, best_u = INT64_MAX;
    for (int k = 0; k < 2; k++) {
        int64_t u = L - cand[k];
        if (s_off_at(u) == cand[k] && u < best_u) {
            best_u = u;
            best = cand[k];
        }
    }
    return best;
}

static int64_t s_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool bt_tz_to_utc(bt_tz_t *tz, int64_t local, int64_t *utc)
{
    if (!tz->named) {
        *utc = local - tz->fixed * BT_NS_PER_SEC;
        return true;
    }
    int64_t L = s_floordiv(local, BT_NS_PER_SEC);
    int64_t key = s_floordiv(L, S_TZ_BLOCK);
    if (!tz->cache_ok || tz->cache_key != key) {
        tz->cache_key = key;
        tz->cache_off = s_named_offset(L);
        tz->cache_ok = true;
    }
    if (tz->cache_off == INT64_MIN)
        return false;
    *utc = local - tz->cache_off * BT_NS_PER_SEC;
    return true;
}
