/* bt_prov_util — small helpers the provider modules share (internal). */
#ifndef BT_PROV_UTIL_H
#define BT_PROV_UTIL_H

#include <jansson.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_err.h"

/* Appends s percent-encoded (RFC 3986 unreserved characters kept). */
bt_err_t bt_prov_escape(bt_buf_t *b, const char *s);
/* Parses body as JSON; BT_EPARSE naming provider, symbol, line and column. */
json_t *bt_prov_json(const char *prov, const char *symbol, const char *body, size_t len,
                     bt_errbuf_t *eb);
/* ns -> whole seconds / milliseconds, rounding up (a page starts at or after from). */
int64_t bt_prov_ceil_div(int64_t ns, int64_t unit);

/* Reads a whole file the live side wrote itself (progress files, journals):
 * sized by stat first, so no buffer of the cap is allocated up front; files
 * over max bytes are refused. NULL when absent or unreadable. */
char *bt_live_read_file(const char *path, size_t max, size_t *len, bt_errbuf_t *eb);

#endif
