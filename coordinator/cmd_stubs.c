/* Commands not built yet. Each helper deletes its command from here when it
 * lands the real one in its own cmd_*.c file. */
#include <stdio.h>

#include "bt_cmd.h"

__attribute__((unused)) static int s_not_yet(const char *name)
{
    fprintf(stderr, "bt %s: not available in this version yet\n", name);
    return 1;
}

