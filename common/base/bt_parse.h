/* bt_parse — strict parsing of numbers given on a command line. */
#ifndef BT_PARSE_H
#define BT_PARSE_H

#include <stdbool.h>

/* A whole decimal number in lo..hi, nothing else in s (no sign games, no
 * trailing text, no overflow); false otherwise, *out untouched. */
bool bt_parse_long(const char *s, long lo, long hi, long *out);

#endif
