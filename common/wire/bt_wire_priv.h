/* bt_wire_priv — what the files of common/wire share and nobody else sees:
 * the message descriptions, the decode storage and the byte reader. */
#ifndef BT_WIRE_PRIV_H
#define BT_WIRE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_buf.h"
#include "bt_wire.h"

/* ---------------------------------------------------------- the table -- */

/* Every message is described once, in bt_wire_msgs.c: its wire name and its
 * fields. Encoder, decoder, checker and equality walk these descriptions;
 * nothing else in common/wire knows a key. */

typedef enum {
    W_U32,     /* uint32_t; min..max (over max: BT_ELIMIT if cap, else BT_EPROTO) */
    W_U64,     /* uint64_t, any value */
    W_F64,     /* double, finite */
    W_STR,     /* char[max + 1] inline: UTF-8, no NUL, at least min bytes */
    W_ENUM,    /* an int (C enum) written as names[value], value 0..max */
    W_BIN,     /* view: const char * + size_t length at noff; min..max bytes (decoded + NUL) */
    W_U8S,     /* view: const uint8_t * (bin on the wire) + uint32_t count at noff */
    W_U64S,    /* view: const uint64_t * + uint32_t count */
    W_I64S,    /* view: const int64_t * + uint32_t count */
    W_F64S,    /* view: const double * + uint32_t count; every element finite */
    W_STRS,    /* view: const char *const * + uint32_t count; each min..elmax bytes, UTF-8 */
    W_METRICS, /* bt_metrics_t: exactly BT_WIRE_NMETRICS finite doubles, BT_METRICS order */
    W_MAPS,    /* view of elsize-byte structs + uint32_t count: an array of maps (sub) */
    W_TUPLES,  /* view of elsize-byte structs + uint32_t count: arrays of exactly sub->nf */
} w_kind_t;

typedef enum {
    W_REQ = 0, /* required, always written */
    W_OPT_NZ,  /* optional: written when its count (uint: value) is not 0; absent = 0 */
    W_OPT_FLAG /* optional: written when the bool at flag is true; decoding sets it */
} w_opt_t;

typedef struct w_field w_field_t;
typedef struct w_msg w_msg_t;

/* Where a check stands, for error messages: the message, or one element of
 * a nested array (key[idx]) inside `up`. Formatted only on failure. */
typedef struct w_where {
    const struct w_where *up; /* enclosing level, NULL at the top */
    const w_msg_t *msg;       /* description of this level */
    const void *base;         /* its struct */
    const char *key;          /* the array this element is in (nested levels) */
    uint32_t idx;             /* its index there */
} w_where_t;

/* A value rule beyond the kind's own: f is the field (NULL for a message
 * rule), base the struct holding it. */
typedef bt_err_t (*w_rule_fn)(const w_where_t *w, const w_field_t *f, const void *base,
                              bt_errbuf_t *eb);

struct w_field {
    const char *key;          /* wire key; in a tuple, the element's name for errors */
    w_kind_t kind;            /* how it is written and what it holds */
    w_opt_t opt;              /* required or how it is optional */
    bool cap;                 /* W_U32: over max is BT_ELIMIT (a cap), not BT_EPROTO */
    uint32_t off;             /* offset of the value (or view pointer) in its struct */
    uint32_t noff;            /* views: offset of the count; fields sharing it share a length */
    uint32_t flag;            /* W_OPT_FLAG: offset of the presence bool */
    uint64_t min, max;        /* value (uint), bytes (str, bin) or elements (arrays) */
    uint32_t elmax;           /* W_STRS: bytes of one string */
    uint32_t elsize;          /* W_MAPS, W_TUPLES: bytes of one element struct */
    const w_msg_t *sub;       /* W_MAPS, W_TUPLES: the element's fields */
    const char *const *names; /* W_ENUM: wire spelling of each value */
    const char *group;        /* W_OPT_FLAG: all-or-none group name in errors, or NULL */
    w_rule_fn rule;           /* extra value rule, or NULL */
    bool inplace;             /* W_BIN at level 0: decoded as a view into the input, no copy */
};

#define W_KEYS_MAX 32u /* fields of one map (bit masks are uint32_t) */

struct w_msg {
    const char *wire;         /* "t" value ("hello"); NULL for a nested element */
    const char *name;         /* for messages ("HELLO") */
    const w_field_t *f;       /* fields, in the order the encoder writes them */
    uint32_t nf;              /* their number, <= W_KEYS_MAX */
    bool has_subject;         /* errors name the uint64 at subject_off ... */
    uint32_t subject_off;     /* ... */
    const char *subject_name; /* ... as "<subject_name> <value>" ("job 17") */
    w_rule_fn rule;           /* cross-field rule run after the fields' checks, or NULL */
};

/* Descriptions of every message, indexed by bt_msg_type_t (bt_wire_msgs.c). */
extern const w_msg_t bt_wire_msgs[BT_MSG_TYPE_COUNT_];

/* Whether field f of the struct at base is present (written on encode). */
bool bt_wire_present(const w_field_t *f, const void *base);

/* "wire <where>: <detail>" into eb (bt_wire_check.c). */
__attribute__((format(printf, 4, 5))) bt_err_t bt_wire_fail(const w_where_t *w, bt_errbuf_t *eb,
                                                            bt_err_t code, const char *fmt, ...);

/* ----------------------------------------------------------------- pool -- */

/* Decode storage: two growable buffers per field position, one set for the
 * message's own fields (level 0) and one for the fields of a nested array's
 * elements (level 1). A buffer is plain bytes, so positions are reused by
 * whatever message type is decoded next. */
struct bt_msg_pool {
    bt_buf_t buf[2][W_KEYS_MAX][2];
};

/* --------------------------------------------------------- the reader -- */

typedef struct {
    const uint8_t *base; /* first byte of the message */
    const uint8_t *p;    /* next byte to read */
    const uint8_t *end;  /* one past the last byte */
    const char *mn;      /* message type name for errors ("message" before it is known) */
    bt_errbuf_t *eb;     /* where errors go */
} bt_wire_rd_t;

typedef enum { S_NIL, S_BOOL, S_UINT, S_INT, S_FLOAT, S_STR, S_BIN, S_ARR, S_MAP, S_EXT } bt_wire_kind_t;

extern const char *const bt_wire_kind_name[]; /* "a nil", ... by kind */

/* One decoded header: scalars carry their value; str/bin/ext carry their
 * payload length (payload not consumed); arrays and maps their count. */
typedef struct {
    bt_wire_kind_t kind;
    uint64_t u; /* S_UINT value, or length/count */
    int64_t i;  /* S_INT value (negative) */
    double d;   /* S_FLOAT value */
} bt_wire_tok_t;


/* The reader (bt_wire_read.c): a bounds-checked cursor over one message. */
__attribute__((format(printf, 4, 5))) bt_err_t bt_wire_rd_fail(bt_wire_rd_t *r, bt_err_t code,
                                                               const char *field,
                                                               const char *fmt, ...);
size_t bt_wire_rd_left(const bt_wire_rd_t *r);
bt_err_t bt_wire_rd_next(bt_wire_rd_t *r, const char *field, bt_wire_tok_t *t);
bt_err_t bt_wire_rd_skip(bt_wire_rd_t *r, const char *field, unsigned depth);
bt_err_t bt_wire_rd_want(bt_wire_rd_t *r, const char *field, const bt_wire_tok_t *t,
                         bt_wire_kind_t kind, const uint8_t *at);
bt_err_t bt_wire_rd_uint(bt_wire_rd_t *r, const char *field, uint64_t max, uint64_t *out);
bt_err_t bt_wire_rd_u32(bt_wire_rd_t *r, const char *field, uint32_t *out);
bt_err_t bt_wire_rd_double(bt_wire_rd_t *r, const char *field, double *out);
bt_err_t bt_wire_rd_str(bt_wire_rd_t *r, const char *field, size_t max, char *dst);
bt_err_t bt_wire_rd_array(bt_wire_rd_t *r, const char *field, uint32_t max, uint32_t *n);
bt_err_t bt_wire_rd_map(bt_wire_rd_t *r, const char *field, uint32_t *n);
bt_err_t bt_wire_rd_key(bt_wire_rd_t *r, const char *where, const void *keys, size_t stride,
                        uint32_t nkeys, int *idx, char *name, size_t name_cap);
bt_err_t bt_wire_rd_seen(bt_wire_rd_t *r, uint32_t *seen, int idx, const char *name);
bt_err_t bt_wire_rd_pool(bt_msg_t *m, bt_errbuf_t *eb);

/* Shared helpers. */
bool bt_wire_utf8_valid(const unsigned char *s, size_t n);

#endif
