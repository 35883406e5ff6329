/* bt_buf — a capped growable byte buffer.
 *
 * Every decoder or accumulator that grows from outside input (a file, a
 * message, a report row by row) grows through one of these, so that one cap,
 * checked with overflow-safe arithmetic before any allocation, bounds it.
 * Growing past the cap or out of memory returns an error; nothing aborts.
 * The caller names the input in its own error message (the buffer does not
 * know what it holds). The content is always followed by a NUL byte (not
 * counted in len or against the cap), so text can be read as a C string. */
#ifndef BT_BUF_H
#define BT_BUF_H

#include <stddef.h>

#include "bt_err.h"

typedef struct bt_buf {
    char *data;   /* content, NUL-terminated; NULL until the first growth */
    size_t len;   /* bytes of content */
    size_t alloc; /* bytes allocated (content + NUL + slack) */
    size_t cap;   /* most bytes of content ever allowed */
} bt_buf_t;

/* An empty buffer that may hold up to cap bytes. Allocates nothing. */
void bt_buf_init(bt_buf_t *b, size_t cap);
/* Frees the memory; the buffer is empty (cap kept) and may be reused. Safe twice. */
void bt_buf_fini(bt_buf_t *b);
/* Empties the buffer, keeping its memory for reuse. */
void bt_buf_reset(bt_buf_t *b);

/* Makes room for extra more bytes. BT_ELIMIT if len + extra would exceed the
 * cap (or overflow size_t), BT_ENOMEM if memory runs out; b is unchanged then. */
bt_err_t bt_buf_reserve(bt_buf_t *b, size_t extra);
/* Appends n bytes (p may be NULL when n is 0). Errors as bt_buf_reserve. */
bt_err_t bt_buf_append(bt_buf_t *b, const void *p, size_t n);
/* Appends a C string (without its NUL). */
bt_err_t bt_buf_puts(bt_buf_t *b, const char *s);
/* Appends one byte. */
bt_err_t bt_buf_putc(bt_buf_t *b, char c);
/* Appends printf-formatted text; BT_EINVAL on a bad format. */
bt_err_t bt_buf_printf(bt_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
