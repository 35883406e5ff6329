#include "bt_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bt_log_level_t bt_log_threshold = BT_LOG_INFO;
static _Thread_local char s_context[96];
static void (*s_before)(void *), (*s_after)(void *);
static void *s_hook_user;

void bt_log_set_line_hook(void (*before)(void *), void (*after)(void *), void *user)
{
    s_before = before;
    s_after = after;
    s_hook_user = user;
}

void bt_log_set_level(bt_log_level_t level) { bt_log_threshold = level; }

int bt_log_level_parse(const char *name)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void bt_log_set_context(const char *ctx)
{
    if (!ctx)
        s_context[0] = '\0';
    else
        snprintf(s_context, sizeof s_context, "%s", ctx);
}

void bt_log_emit(bt_log_level_t level, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s%s%s: ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, tags[level], s_context[0] ? " " : "",
                     s_context);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (s_before)
        s_before(s_hook_user);
    fprintf(stderr, "%s\n", line); /* one write per line keeps processes' lines whole */
    if (s_after)
        s_after(s_hook_user);
}
