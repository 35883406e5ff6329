/* bt_yaml — reads one YAML document of a config (or of a --set value) with libfyaml.
 *
 * Refuses what libfyaml would quietly accept or drop: a NUL byte (the parser stops there) and a
 * second document after the first (the loader reads the first only). Errors are BT_ECONFIG with
 * "WHERE:LINE: ..." messages, WHERE being the file name or "--set key=value". */
#ifndef BT_YAML_H
#define BT_YAML_H

#include <stddef.h>

#include "bt_err.h"

struct fy_document;

/* The one document of text[0..len), or NULL with the error in eb (a blank text is "empty").
 * Free it with fy_document_destroy. */
struct fy_document *bt_yaml_parse(const char *text, size_t len, const char *where,
                                  bt_errbuf_t *eb);

#endif
