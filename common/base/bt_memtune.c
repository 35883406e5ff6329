/* bt_memtune — see bt_memtune.h. */
#include "bt_memtune.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bt_memtune_compose(const char *cur, char *out, size_t cap)
{
    int n = cur && *cur ? snprintf(out, cap, "%s:%s", BT_MEMTUNE_SETTINGS, cur)
                        : snprintf(out, cap, "%s", BT_MEMTUNE_SETTINGS);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Whether GLIBC_TUNABLES already chooses glibc.malloc.hugetlb (ours or the user's). */
static bool s_chosen(void)
{
    const char *cur = getenv("GLIBC_TUNABLES");
    return cur && strstr(cur, "glibc.malloc.hugetlb");
}

/* Whether the settings are wanted and not there yet. */
static bool s_wanted(void)
{
    const char *want = getenv("BT_MALLOC_TUNE");
    return !(want && strcmp(want, "0") == 0) && !s_chosen();
}

void bt_memtune_exec(char **argv)
{
    if (!s_wanted())
        return;
    const char *cur = getenv("GLIBC_TUNABLES");
    char *saved = cur ? strdup(cur) : NULL;
    if (cur && !saved)
        return;
    char val[4096];
    if (bt_memtune_compose(saved, val, sizeof val) != 0 || setenv("GLIBC_TUNABLES", val, 1) != 0) {
        free(saved);
        return;
    }
    /* The program's own path, not /proc/self/exe: the process name (ps, top)
     * comes from the file name exec'd. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        execv(self, argv);
    }
    /* No /proc, say: run as we are, with the user's environment back. */
    if (saved)
        setenv("GLIBC_TUNABLES", saved, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    free(saved);
}

const char *bt_memtune_describe(void)
{
    return s_chosen() ? getenv("GLIBC_TUNABLES") : "glibc's defaults";
}
