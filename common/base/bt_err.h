/* bt_err — the one error enum of the project, and an error-detail buffer.
 *
 * Every function that can fail returns bt_err_t (BT_OK = 0, negative on
 * failure) and, where the user could have caused the failure, fills a
 * bt_errbuf_t with a sentence naming the file/line/field and what to do. */
#ifndef BT_ERR_H
#define BT_ERR_H

#include <stddef.h>

/* X(name, value, short text) — generates the enum and bt_strerror(). */
#define BT_ERRORS(X)                                              \
    X(BT_OK, 0, "success")                                        \
    X(BT_ENOMEM, -1, "out of memory")                             \
    X(BT_EIO, -2, "input/output error")                           \
    X(BT_EPARSE, -3, "parse error")                               \
    X(BT_EINVAL, -4, "invalid argument")                          \
    X(BT_ENOTFOUND, -5, "not found")                              \
    X(BT_EEXIST, -6, "already exists")                            \
    X(BT_ERANGE, -7, "value out of range")                        \
    X(BT_EFORMAT, -8, "bad file format")                          \
    X(BT_ELIMIT, -9, "size limit exceeded")                       \
    X(BT_EPROTO, -10, "protocol error")                           \
    X(BT_EVERSION, -11, "protocol version mismatch")              \
    X(BT_ESTRATEGY, -12, "strategy error")                        \
    X(BT_ECONFIG, -13, "config error")                            \
    X(BT_EDATA, -14, "bad data")                                  \
    X(BT_EINTERNAL, -15, "internal error")

typedef enum {
#define BT_ERR_ENUM(name, value, text) name = value,
    BT_ERRORS(BT_ERR_ENUM)
#undef BT_ERR_ENUM
} bt_err_t;

/* Short fixed text for a code; never NULL. */
const char *bt_strerror(bt_err_t err);

/* Detail of the last failure of a call that was handed this buffer. */
typedef struct {
    bt_err_t code;  /* the code last set */
    char msg[1024]; /* full sentence for the user, "" if none */
} bt_errbuf_t;

/* Formats the detail into eb (eb may be NULL) and returns code, so that
 * `return bt_errf(eb, BT_EPARSE, "%s:%d: ...", file, line);` reads well. */
bt_err_t bt_errf(bt_errbuf_t *eb, bt_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies src into dst (cap > 0 bytes), truncating; always NUL-terminated. */
void bt_str_copy(char *dst, size_t cap, const char *src);

/* Clears eb (code BT_OK, empty message). */
void bt_errbuf_clear(bt_errbuf_t *eb);

#endif
