#include "bt_time.h"

#include <stdio.h>
#include <time.h>

int64_t bt_days_from_civil(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void bt_civil_from_days(int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

bool bt_date_valid(int year, int month, int day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1800 || year > 2500 || month < 1 || month > 12 || day < 1)
        return false;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int max = mdays[month - 1] + (month == 2 ? leap : 0);
    return day <= max;
}

int64_t bt_time_from_civil(const bt_civil_t *c)
{
    int64_t days = bt_days_from_civil(c->year, c->month, c->day);
    return days * BT_NS_PER_DAY + c->hour * BT_NS_PER_HOUR + c->minute * BT_NS_PER_MIN +
           c->second * BT_NS_PER_SEC + c->nanos;
}

void bt_time_to_civil(int64_t t, bt_civil_t *c)
{
    int64_t days = t / BT_NS_PER_DAY;
    int64_t rem = t % BT_NS_PER_DAY;
    if (rem < 0) {
        rem += BT_NS_PER_DAY;
        days -= 1;
    }
    bt_civil_from_days(days, &c->year, &c->month, &c->day);
    c->hour = (int)(rem / BT_NS_PER_HOUR);
    rem %= BT_NS_PER_HOUR;
    c->minute = (int)(rem / BT_NS_PER_MIN);
    rem %= BT_NS_PER_MIN;
    c->second = (int)(rem / BT_NS_PER_SEC);
    c->nanos = rem % BT_NS_PER_SEC;
}

int bt_time_weekday(int64_t t)
{
    int64_t days = t / BT_NS_PER_DAY;
    if (t % BT_NS_PER_DAY < 0)
        days -= 1;
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/* Reads exactly n digits at s; false if any is not a digit. */
static bool s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool bt_time_parse_clock(const char *s, size_t len, int64_t *out)
{
    int h, m, sec = 0;
    int64_t frac = 0;
    if (len < 5 || s[2] != ':' || !s_digits(s, 2, &h) || !s_digits(s + 3, 2, &m))
        return false;
    size_t pos = 5;
    if (len > pos) {
        if (s[pos] != ':' || len < pos + 3 || !s_digits(s + pos + 1, 2, &sec))
            return false;
        pos += 3;
        if (len > pos) {
            if (s[pos] != '.' || len == pos + 1 || len > pos + 10)
                return false;
            int64_t scale = 100000000;
            for (size_t i = pos + 1; i < len; i++, scale /= 10) {
                if (s[i] < '0' || s[i] > '9')
                    return false;
                frac += (s[i] - '0') * scale;
            }
        }
    }
    if (h > 23 || m > 59 || sec > 60)
        return false;
    *out = h * BT_NS_PER_HOUR + m * BT_NS_PER_MIN + sec * BT_NS_PER_SEC + frac;
    return true;
}

bool bt_time_parse(const char *s, size_t len, int64_t *out)
{
    int y, mo, d;
    if (len < 10 || s[4] != '-' || s[7] != '-' || !s_digits(s, 4, &y) ||
        !s_digits(s + 5, 2, &mo) || !s_digits(s + 8, 2, &d) || !bt_date_valid(y, mo, d))
        return false;
    int64_t clock = 0;
    if (len > 10) {
        if ((s[10] != ' ' && s[10] != 'T') || !bt_time_parse_clock(s + 11, len - 11, &clock))
            return false;
    }
    *out = bt_days_from_civil(y, mo, d) * BT_NS_PER_DAY + clock;
    return true;
}

char *bt_time_format(int64_t t, char *buf, size_t cap)
{
    bt_civil_t c;
    bt_time_to_civil(t, &c);
    if (c.hour == 0 && c.minute == 0 && c.second == 0 && c.nanos == 0)
        snprintf(buf, cap, "%04d-%02d-%02d", c.year, c.month, c.day);
    else if (c.nanos == 0)
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                 c.minute, c.second);
    else
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d.%09lld", c.year, c.month, c.day,
                 c.hour, c.minute, c.second, (long long)c.nanos);
    return buf;
}

int64_t bt_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double bt_monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
