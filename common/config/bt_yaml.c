/* bt_yaml — one YAML document from text (see bt_yaml.h). */
#include "bt_yaml.h"

#include <libfyaml.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    char msg[512]; /* first diagnostic line */
} s_diag_t;

static void s_diag_out(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    s_diag_t *d = user;
    if (d->msg[0] || len == 0)
        return;
    size_t n = len < sizeof d->msg - 1 ? len : sizeof d->msg - 1;
    memcpy(d->msg, buf, n);
    d->msg[n] = '\0';
    char *nl = strchr(d->msg, '\n');
    if (nl)
        *nl = '\0';
}

/* Turns "<memory-...>:3:1: error: did not find..." into "NAME:3:1: ...". */
static bt_err_t s_syntax_error(bt_errbuf_t *eb, const char *name, const char *where,
                               const s_diag_t *d)
{
    const char *err = strstr(d->msg, ": error: ");
    if (!err)
        return bt_errf(eb, BT_ECONFIG, "%s: YAML syntax error%s%s", where, d->msg[0] ? ": " : "",
                       d->msg);
    /* walk back over ":COL" and ":LINE" */
    const char *p = err;
    int colons = 0;
    while (p > d->msg && colons < 2) {
        p--;
        if (*p == ':')
            colons++;
    }
    (void)name;
    return bt_errf(eb, BT_ECONFIG, "%s%.*s: YAML syntax error: %s", where, (int)(err - p), p,
                   err + 9);
}

/* Only blank lines and comments. */
static bool s_is_blank(const char *text, size_t len)
{
    bool comment = false;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\n')
            comment = false;
        else if (ch == '#')
            comment = true;
        else if (!comment && ch != ' ' && ch != '\t' && ch != '\r')
            return false;
    }
    return true;
}

/* 0 when text holds one YAML document; else the 1-based line where the second one starts, or -1
 * when what follows the first document is not valid YAML (the diagnostic is in pc's diag). */
static int s_second_document_line(const struct fy_parse_cfg *pc, const char *text, size_t len)
{
    struct fy_parser *fyp = fy_parser_create(pc);
    if (!fyp)
        return -1;
    int line = 0;
    struct fy_document *d1 = NULL, *d2 = NULL;
    if (fy_parser_set_string(fyp, text, len) != 0 || !(d1 = fy_parse_load_document(fyp))) {
        line = -1;
    } else if ((d2 = fy_parse_load_document(fyp)) != NULL) {
        struct fy_document_state *st = fy_document_get_document_state(d2);
        const struct fy_mark *m = st ? fy_document_state_start_mark(st) : NULL;
        line = m ? m->line + 1 : 1;
    } else if (fy_parser_get_stream_error(fyp)) {
        line = -1;
    }
    if (d2)
        fy_parse_document_destroy(fyp, d2);
    if (d1)
        fy_parse_document_destroy(fyp, d1);
    fy_parser_destroy(fyp);
    return line;
}

/* A config is text: a NUL byte means a binary or corrupt file, and the YAML parser would stop
 * there silently. 0, or the 1-based line of the first NUL (its column in *col). */
static int s_nul_line(const char *text, size_t len, int *col)
{
    const char *nul = memchr(text, '\0', len);
    if (!nul)
        return 0;
    int line = 1;
    const char *bol = text;
    for (const char *p = text; p < nul; p++)
        if (*p == '\n') {
            line++;
            bol = p + 1;
        }
    *col = (int)(nul - bol) + 1;
    return line;
}

struct fy_document *bt_yaml_parse(const char *text, size_t len, const char *where,
                                        bt_errbuf_t *eb)
{
    int col = 0, nul = s_nul_line(text, len, &col);
    if (nul) {
        bt_errf(eb, BT_ECONFIG,
                "%s:%d: a NUL byte at column %d; a config is plain text (is this the right "
                "file, or was it saved as UTF-16?)",
                where, nul, col);
        return NULL;
    }
    if (s_is_blank(text, len)) {
        bt_errf(eb, BT_ECONFIG, "%s: empty (write at least strategy: and data: store:)", where);
        return NULL;
    }
    s_diag_t dg = {{0}};
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = s_diag_out;
    dc.user = &dg;
    dc.colorize = false;
    dc.show_source = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    struct fy_parse_cfg pc = {.flags = FYPCF_QUIET, .diag = diag};
    struct fy_document *doc = fy_document_build_from_string(&pc, text, len);
    int second = 0;
    if (!doc && dg.msg[0])
        s_syntax_error(eb, where, where, &dg);
    else if (!doc)
        bt_errf(eb, BT_ECONFIG, "%s: empty (write at least strategy: and data: store:)", where);
    else if ((second = s_second_document_line(&pc, text, len)) != 0) {
        /* the loader above reads the first document only: the rest would be ignored */
        if (second > 0)
            bt_errf(eb, BT_ECONFIG,
                    "%s:%d: a second YAML document starts here ('---'); a config is one "
                    "document: remove the marker and merge the keys into one mapping",
                    where, second);
        else
            s_syntax_error(eb, where, where, &dg);
        fy_document_destroy(doc);
        doc = NULL;
    }
    fy_diag_destroy(diag);
    return doc;
}
