#include "bt_fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *bt_fs_read_file(const char *path, size_t cap, size_t *len, bt_errbuf_t *eb)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bt_errf(eb, BT_EIO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf) {
        bt_errf(eb, BT_ENOMEM, "out of memory reading %s", path);
        return NULL;
    }
    if (failed) {
        free(buf);
        bt_errf(eb, BT_EIO, "cannot read %s", path);
        return NULL;
    }
    if (n > cap) {
        free(buf);
        bt_errf(eb, BT_ELIMIT, "%s is larger than %zu bytes, the cap for this file", path, cap);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

bt_err_t bt_fs_mkdir_p(const char *dir, bt_errbuf_t *eb)
{
    char tmp[PATH_MAX];
    int w = snprintf(tmp, sizeof tmp, "%s", dir);
    if (w <= 0 || (size_t)w >= sizeof tmp)
        return bt_errf(eb, BT_ELIMIT, "folder path empty or too long: %s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return bt_errf(eb, BT_EIO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return bt_errf(eb, BT_EIO, "cannot create %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bt_errf(eb, BT_EIO, "%s exists and is not a folder", dir);
    return BT_OK;
}
