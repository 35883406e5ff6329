#include "bt_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *bt_strerror(bt_err_t err)
{
    switch (err) {
#define BT_ERR_CASE(name, value, text) \
    case name:                         \
        return text;
        BT_ERRORS(BT_ERR_CASE)
#undef BT_ERR_CASE
    }
    return "unknown error";
}

bt_err_t bt_errf(bt_errbuf_t *eb, bt_err_t code, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
        eb->code = code;
    }
    return code;
}

void bt_errbuf_clear(bt_errbuf_t *eb)
{
    if (eb) {
        eb->code = BT_OK;
        eb->msg[0] = '\0';
    }
}

void bt_str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}
