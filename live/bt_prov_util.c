/* bt_prov_util — helpers shared by the provider modules. */
#include "bt_prov_util.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "bt_fs.h"

bt_err_t bt_prov_escape(bt_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        bt_err_t e = keep ? bt_buf_putc(b, (char)c)
                          : bt_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (e != BT_OK)
            return e;
    }
    return BT_OK;
}

json_t *bt_prov_json(const char *prov, const char *symbol, const char *body, size_t len,
                     bt_errbuf_t *eb)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root)
        bt_errf(eb, BT_EPARSE,
                "%s %s: the response is not valid JSON (line %d, column %d: %s; %zu bytes "
                "received); the provider or a proxy sent something else, retry later",
                prov, symbol, je.line, je.column, je.text, len);
    return root;
}

int64_t bt_prov_ceil_div(int64_t ns, int64_t unit)
{
    int64_t q = ns / unit;
    if (ns % unit > 0)
        q++;
    return q;
}

char *bt_live_read_file(const char *path, size_t max, size_t *len, bt_errbuf_t *eb)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        bt_errf(eb, BT_ENOTFOUND, "%s does not exist", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > max) {
        bt_errf(eb, BT_ELIMIT, "%s is larger than %zu bytes", path, max);
        return NULL;
    }
    /* the file only grows by our own appends; a few spare bytes cover a racing append */
    return bt_fs_read_file(path, (size_t)st.st_size + 4096, len, eb);
}
