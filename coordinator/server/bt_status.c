#include "bt_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "bt_buf.h"
#include "bt_fs.h"

#define S_STATUS_MAX (64u << 20) /* the file's cap: 65,536 worker rows fit */

/* A JSON string: quotes, backslashes and control bytes escaped (names are
 * valid UTF-8, checked by the wire decoder). */
static void s_str(bt_buf_t *b, const char *s)
{
    bt_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            bt_buf_putc(b, '\\');
            bt_buf_putc(b, (char)*p);
        } else if (*p < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            bt_buf_puts(b, esc);
        } else {
            bt_buf_putc(b, (char)*p);
        }
    }
    bt_buf_putc(b, '"');
}

bt_err_t bt_status_write(const char *path, const bt_status_t *st, bt_errbuf_t *eb)
{
    bt_buf_t b;
    bt_buf_init(&b, S_STATUS_MAX);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    bt_buf_puts(&b, "{\n  \"state\": ");
    s_str(&b, st->state);
    bt_buf_printf(&b, ",\n  \"pid\": %ld,\n  \"updated_ms\": %" PRId64 ",\n  \"endpoint\": ",
                  (long)getpid(), now_ms);
    s_str(&b, st->endpoint);
    bt_buf_printf(&b,
                  ",\n  \"jobs\": {\"total\": %" PRIu64 ", \"ok\": %" PRIu64
                  ", \"failed\": %" PRIu64 ", \"leased\": %" PRIu64 ", \"queued\": %" PRIu64 "},\n",
                  st->total, st->ok, st->failed, st->leased, st->queued);
    bt_buf_printf(&b,
                  "  \"rate\": %.3f,\n  \"eta_s\": %.1f,\n  \"elapsed_s\": %.1f,\n  \"workers\": [",
                  st->rate, st->eta_s, st->elapsed_s);
    for (size_t i = 0; i < st->nworkers; i++) {
        const bt_status_worker_t *w = &st->workers[i];
        bt_buf_puts(&b, i ? ",\n    {\"host\": " : "\n    {\"host\": ");
        s_str(&b, w->name);
        bt_buf_printf(&b,
                      ", \"threads\": %u, \"rate\": %.3f, \"done\": %" PRIu64
                      ", \"holding\": %zu, \"heard_ms_ago\": %" PRId64 "}",
                      w->threads, w->rate, w->done, w->outstanding, w->heard_ms_ago);
    }
    bt_buf_puts(&b, st->nworkers ? "\n  ]\n}\n" : "]\n}\n");
    bt_err_t rc = b.data ? bt_fs_write_atomic(path, b.data, b.len, eb)
                         : bt_errf(eb, BT_ENOMEM, "status: out of memory");
    bt_buf_fini(&b);
    return rc;
}
