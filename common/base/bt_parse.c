/* bt_parse — see bt_parse.h. */
#include "bt_parse.h"

#include <errno.h>
#include <stdlib.h>

bool bt_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}
