/* bt_wire_priv — what the files of common/wire share and nobody else sees:
 * the keys of each message, the decode storage and the byte reader. */
#ifndef BT_WIRE_PRIV_H
#define BT_WIRE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_wire.h"

/* ---------------------------------------------------------------- names -- */

/* Wire spelling of each type ("t"), indexed by bt_msg_type_t. */
static const char *const s_type_wire[BT_MSG_TYPE_COUNT_] = {
    [BT_MSG_NONE] = NULL,       [BT_MSG_HELLO] = "hello",   [BT_MSG_WELCOME] = "welcome",
    [BT_MSG_REFUSE] = "refuse", [BT_MSG_SWEEP] = "sweep",   [BT_MSG_JOB] = "job",
    [BT_MSG_RESULT] = "result", [BT_MSG_CREDIT] = "credit", [BT_MSG_HEARTBEAT] = "hb",
    [BT_MSG_BYE] = "bye",       [BT_MSG_ACK] = "ack",
};

static const char *const s_type_name[BT_MSG_TYPE_COUNT_] = {
    [BT_MSG_NONE] = "NONE",     [BT_MSG_HELLO] = "HELLO",   [BT_MSG_WELCOME] = "WELCOME",
    [BT_MSG_REFUSE] = "REFUSE", [BT_MSG_SWEEP] = "SWEEP",   [BT_MSG_JOB] = "JOB",
    [BT_MSG_RESULT] = "RESULT", [BT_MSG_CREDIT] = "CREDIT", [BT_MSG_HEARTBEAT] = "HEARTBEAT",
    [BT_MSG_BYE] = "BYE",       [BT_MSG_ACK] = "ACK",
};


/* Keys of each message type, in the order the encoder writes them. The
 * index of a key is its bit in the seen/required masks. */
enum { K_HELLO_NAME, K_HELLO_THR, K_HELLO_VER };
static const char *const s_keys_hello[] = {"name", "thr", "ver"};
enum { K_WEL_SID, K_WEL_HB, K_WEL_LEASE };
static const char *const s_keys_welcome[] = {"sid", "hb", "lease"};
enum { K_REASON_WHY };
static const char *const s_keys_reason[] = {"why"};
enum { K_SWEEP_YAML, K_SWEEP_SHA, K_SWEEP_STORE, K_SWEEP_DHASH, K_SWEEP_SET, K_SWEEP_MCOLS };
static const char *const s_keys_sweep[] = {"yaml", "sha", "store", "dhash", "set", "mcols"};
enum { K_JOB_JOBS };
static const char *const s_keys_job[] = {"jobs"};
enum {
    K_RES_ID, K_RES_A, K_RES_ST, K_RES_ERR, K_RES_M, K_RES_US, K_RES_BARS, K_RES_BLK,
    K_RES_ET, K_RES_EE, K_RES_EX, K_RES_FV, K_RES_FC, K_RES_TP, K_RES_RJ
};
static const char *const s_keys_result[] = {"id", "a", "st", "err", "m", "us", "bars", "blk",
                                             "et", "ee", "ex", "fv", "fc", "tp", "rj"};
/* The equity segment's keys: all or none. */
#define S_SEG_KEYS                                                                                 \
    ((1u << K_RES_ET) | (1u << K_RES_EE) | (1u << K_RES_EX) | (1u << K_RES_FV) |                  \
     (1u << K_RES_FC) | (1u << K_RES_TP) | (1u << K_RES_RJ))
enum { K_CREDIT_N };
static const char *const s_keys_credit[] = {"n"};
enum { K_HB_SEQ };
static const char *const s_keys_hb[] = {"seq"};
enum { K_ACK_IDS };
static const char *const s_keys_ack[] = {"ids"};
/* Keys of one job inside JOB's "jobs" array. */
enum { K_J_ID, K_J_A, K_J_O };
static const char *const s_keys_onejob[] = {"id", "a", "o"};

#define S_NKEYS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))
#define S_ALL(n) ((uint32_t)((1u << (n)) - 1u))

/* ----------------------------------------------------------------- pool -- */

/* Decode storage of one array of strings. */
typedef struct {
    char *bytes;       /* the strings, each + NUL, one after another */
    size_t bytes_cap;  /* in bytes */
    const char **v;    /* pointers into bytes */
    size_t v_cap;      /* in elements */
    size_t *off;       /* offsets into bytes while decoding */
    size_t off_cap;    /* in elements */
} s_strs_t;

enum { S_F64_BLK, S_F64_EE, S_F64_FV, S_F64_FC, S_F64_TP, S_NF64 };

struct bt_msg_pool {
    char *bytes;              /* SWEEP yaml copy (+ NUL) */
    size_t bytes_cap;         /* in bytes */
    bt_wire_job_t *jobs;      /* JOB jobs */
    size_t jobs_cap;          /* in elements */
    bt_wire_override_t *over; /* JOB overrides of all jobs, job after job */
    size_t over_cap;          /* in elements */
    uint64_t *u64;            /* ACK ids */
    size_t u64_cap;           /* in elements */
    double *f64[S_NF64];      /* RESULT blk, ee, fv, fc, tp */
    size_t f64_cap[S_NF64];   /* in elements */
    size_t f64_n[S_NF64];     /* elements decoded into each */
    int64_t *i64;             /* RESULT et */
    size_t i64_cap;           /* in elements */
    uint8_t *u8;              /* RESULT ex */
    size_t u8_cap, u8_n;      /* in bytes; bytes decoded */
    s_strs_t strs[2];         /* SWEEP set, mcols */
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
bt_err_t bt_wire_rd_key(bt_wire_rd_t *r, const char *where, const char *const *keys,
                        uint32_t nkeys, int *idx, char *name, size_t name_cap);
bt_err_t bt_wire_rd_seen(bt_wire_rd_t *r, uint32_t *seen, int idx, const char *name);
bt_err_t bt_wire_rd_missing(bt_wire_rd_t *r, uint32_t seen, uint32_t required,
                            const char *const *keys, const char *where);
bt_err_t bt_wire_rd_pool(bt_msg_t *m, bt_errbuf_t *eb);

/* Shared helpers. */
bt_err_t bt_wire_reserve(void **p, size_t *cap, size_t n, size_t el, size_t max);
bool bt_wire_utf8_valid(const unsigned char *s, size_t n);

#endif
