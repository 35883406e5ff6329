/* bt_log — levelled logging to stderr. The level is checked before any
 * formatting; each line carries the thread's context (worker/job ids). */
#ifndef BT_LOG_H
#define BT_LOG_H

typedef enum { BT_LOG_ERROR = 0, BT_LOG_WARN, BT_LOG_INFO, BT_LOG_DEBUG } bt_log_level_t;

extern bt_log_level_t bt_log_threshold; /* set once at start-up */

void bt_log_set_level(bt_log_level_t level);
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int bt_log_level_parse(const char *name);
/* Context printed on each line of this thread, e.g. "worker 3 job 17"; NULL clears. */
void bt_log_set_context(const char *ctx);
/* Called around each line written (NULL: none), e.g. to clear and redraw a
 * live progress line on a terminal. For a single-threaded program. */
void bt_log_set_line_hook(void (*before)(void *), void (*after)(void *), void *user);
void bt_log_emit(bt_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define bt_log(level, ...)                         \
    do {                                           \
        if ((level) <= bt_log_threshold)           \
            bt_log_emit((level), __VA_ARGS__);     \
    } while (0)

#endif
