/* bt_wire — the messages between coordinator and workers, and their
 * MessagePack codec. The only module that knows MessagePack. The protocol is
 * described for humans in docs/protocol.md.
 *
 * Every message is one MessagePack map with short string keys; "t" is the
 * type (a short string) and "v" the protocol version (BT_WIRE_VERSION).
 *
 * Memory: a bt_msg_t is a caller-owned value (bt_msg_init / bt_msg_fini).
 * Short strings live inline in it. Variable-length parts (the YAML text, job
 * batches, ack ids, block statistics) are *views*: a pointer and a count.
 * To encode, point the views at your own memory (the encoder only reads).
 * To decode, bt_wire_decode points them into storage the message owns; that
 * storage is kept across decodes and only grows (bounded by the caps below),
 * so a loop decoding into the same bt_msg_t allocates nothing in the steady
 * state. bt_msg_fini frees it; decoded views are valid until the next decode
 * into, or fini of, the same message.
 *
 * Decoding validates everything (shape, types, sizes against the caps before
 * any allocation, value rules, version) and never reads outside [data,
 * data + len). Unknown keys are ignored (forward compatibility); duplicate
 * keys, unknown types and trailing bytes are errors. */
#ifndef BT_WIRE_H
#define BT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_metrics.h"

#define BT_WIRE_VERSION 1u

/* Caps. Strings are byte lengths without the terminating NUL. */
#define BT_WIRE_MSG_MAX (64u << 20)   /* whole message, refused before parsing */
#define BT_WIRE_NAME_MAX 255u         /* HELLO worker name (hostname:pid) */
#define BT_WIRE_BTVER_MAX 63u         /* HELLO bt version string */
#define BT_WIRE_THREADS_MAX 4096u     /* HELLO threads */
#define BT_WIRE_SWEEPID_MAX 64u       /* WELCOME sweep id */
#define BT_WIRE_REASON_MAX 1023u      /* REFUSE / BYE reason */
#define BT_WIRE_YAML_MAX (1u << 20)   /* SWEEP config YAML bytes */
#define BT_WIRE_PATH_MAX 4095u        /* SWEEP data store path */
#define BT_WIRE_SETS_MAX 256u         /* SWEEP optional --set overrides */
#define BT_WIRE_SET_MAX 4095u         /* SWEEP one override "key=value" */
#define BT_WIRE_SHA256_HEX 64u        /* SWEEP hashes: exactly 64 lowercase hex digits */
#define BT_WIRE_JOBS_MAX 4096u        /* JOB jobs per batch */
#define BT_WIRE_OVERRIDES_MAX 64u     /* JOB overrides per job */
#define BT_WIRE_KEY_MAX 64u           /* JOB override key */
#define BT_WIRE_ERROR_MAX 1024u       /* RESULT error text (1 KiB) */
#define BT_WIRE_BLK_MAX 4096u         /* RESULT optional block statistics */
#define BT_WIRE_SEG_MAX (1u << 20)    /* RESULT equity segment points (walk-forward test) */
#define BT_WIRE_FILLS_MAX (1u << 20)  /* RESULT segment fills */
#define BT_WIRE_TRADES_MAX (1u << 20) /* RESULT segment closed trades */
#define BT_WIRE_MCOLS_MAX 64u         /* SWEEP metric columns */
#define BT_WIRE_MCOL_MAX 63u          /* SWEEP one metric name */
#define BT_WIRE_CREDIT_MAX (1u << 20) /* CREDIT */
#define BT_WIRE_ACK_MAX 65536u        /* ACK ids per message */
#define BT_WIRE_CHUNK_MAX (1u << 20) /* FETCH len, CHUNK bytes, manifest chunk size */
#define BT_WIRE_NCHUNKS_MAX 65536u    /* manifest chunks (64 GiB at 1 MiB) */
#define BT_WIRE_DEPTH_MAX 32u         /* nesting depth of (ignored) unknown values */

/* Number of metrics carried by RESULT: the length of BT_METRICS, i.e. what
 * bt_metrics_count() returns. Known at compile time so it can size arrays. */
#define BT_WIRE_METRIC_COUNT_ONE(name, desc) +1
enum { BT_WIRE_NMETRICS = 0 BT_METRICS(BT_WIRE_METRIC_COUNT_ONE) };

typedef enum {
    BT_MSG_NONE = 0,  /* not a message (after init or a failed decode) */
    BT_MSG_HELLO,     /* worker -> coordinator: I am here */
    BT_MSG_WELCOME,   /* coordinator -> worker: accepted */
    BT_MSG_REFUSE,    /* coordinator -> worker: not accepted, and why */
    BT_MSG_SWEEP,     /* coordinator -> worker: base config and data identity */
    BT_MSG_JOB,       /* coordinator -> worker: a batch of jobs */
    BT_MSG_RESULT,    /* worker -> coordinator: one job's outcome */
    BT_MSG_CREDIT,    /* worker -> coordinator: how many more jobs it can take */
    BT_MSG_HEARTBEAT, /* both ways: liveness */
    BT_MSG_BYE,       /* both ways: leaving, and why */
    BT_MSG_ACK,       /* coordinator -> worker: results durably journaled */
    BT_MSG_FETCH,     /* worker -> coordinator: send me bytes of a file by hash */
    BT_MSG_CHUNK,     /* coordinator -> worker: those bytes */
    BT_MSG_TYPE_COUNT_
} bt_msg_type_t;

typedef enum { BT_JOB_OK = 0, BT_JOB_FAILED = 1 } bt_job_status_t;

typedef struct {
    char name[BT_WIRE_NAME_MAX + 1];        /* worker name, "hostname:pid"; non-empty */
    uint32_t threads;                       /* OpenMP threads, 1..BT_WIRE_THREADS_MAX */
    char bt_version[BT_WIRE_BTVER_MAX + 1]; /* BT_VERSION of the worker; non-empty */
    bool has_build;                         /* "bid" present (optional key) */
    char build_id[BT_WIRE_SHA256_HEX + 1];  /* bt_build_id() of the worker, 64 hex */
} bt_msg_hello_t;

typedef struct {
    char sweep_id[BT_WIRE_SWEEPID_MAX + 1]; /* non-empty */
    uint32_t heartbeat_ms;                  /* >= 1: send a HEARTBEAT at least this often */
    uint32_t lease_ms;                      /* >= 1: a silent worker loses its jobs after this */
} bt_msg_welcome_t;

typedef struct {
    char reason[BT_WIRE_REASON_MAX + 1]; /* may be empty for BYE, non-empty for REFUSE */
} bt_msg_reason_t;

/* Which file a FETCH asks for. */
typedef enum { BT_WIRE_FILE_DATA = 0, BT_WIRE_FILE_LIB = 1 } bt_wire_file_kind_t;

/* A file the coordinator serves by hash (SWEEP optional keys): enough to
 * fetch it chunk by chunk and verify each chunk and the whole. */
typedef struct {
    bool has;                              /* keys present (all or none) */
    char sha256[BT_WIRE_SHA256_HEX + 1];   /* of the whole file */
    uint64_t size;                         /* bytes */
    uint32_t chunk;                        /* bytes per chunk, 1..BT_WIRE_CHUNK_MAX */
    const uint8_t *chunk_sha;              /* view: 32 raw sha256 bytes per chunk */
    size_t chunk_sha_len;                  /* 32 x ceil(size / chunk) */
} bt_wire_manifest_t;

typedef struct {
    const char *yaml; /* view: config bytes (decoded: NUL-terminated copy) */
    size_t yaml_len;  /* 1..BT_WIRE_YAML_MAX */
    char config_sha256[BT_WIRE_SHA256_HEX + 1]; /* as given by the coordinator */
    char store_path[BT_WIRE_PATH_MAX + 1];      /* data store path, non-empty */
    char data_hash[BT_WIRE_SHA256_HEX + 1];     /* dataset hash the worker must reproduce */
    const char *const *sets; /* view: --set overrides "key=value", applied in order on load */
    uint32_t nsets;          /* 0..BT_WIRE_SETS_MAX; 0 = key "set" omitted */
    const char *const *mcols; /* view: the metric columns of RESULT "m", by name, in order */
    uint32_t nmcols;          /* 1..BT_WIRE_MCOLS_MAX */
    bt_wire_manifest_t data_file; /* optional: the store file, served by hash */
    bt_wire_manifest_t lib_file;  /* optional: the strategy library, served by hash */
} bt_msg_sweep_t;

typedef struct {
    char key[BT_WIRE_KEY_MAX + 1]; /* parameter name (or dotted setting), non-empty */
    double value;                  /* finite */
} bt_wire_override_t;

typedef struct {
    uint64_t id;                    /* job id, any value */
    uint32_t attempt;               /* lease attempt, any value */
    uint32_t nover;                 /* 0..BT_WIRE_OVERRIDES_MAX */
    const bt_wire_override_t *over; /* view; keys distinct within a job */
} bt_wire_job_t;

typedef struct {
    const bt_wire_job_t *jobs; /* view */
    uint32_t njobs;            /* 0..BT_WIRE_JOBS_MAX */
} bt_msg_job_t;

typedef struct {
    uint64_t job_id;
    uint32_t attempt;
    bt_job_status_t status;
    char error[BT_WIRE_ERROR_MAX + 1]; /* "" when ok, non-empty when failed */
    bool has_metrics;                  /* required when ok; failed results carry none */
    bt_metrics_t metrics;              /* finite, BT_METRICS order on the wire */
    uint64_t run_us;                   /* run time, microseconds */
    uint64_t bars;                     /* bars processed */
    const double *blk;                 /* view: optional block statistics, finite */
    uint32_t nblk;                     /* 0..BT_WIRE_BLK_MAX; 0 = key omitted */
    /* Optional: the equity segment of a walk-forward test run (keys omitted
     * when has_seg is false). */
    bool has_seg;
    const int64_t *seg_time;       /* view: nseg times, strictly increasing */
    const double *seg_equity;      /* view: nseg equity values, finite */
    const uint8_t *seg_exposed;    /* view: nseg flags, 0 or 1: a position was open */
    uint32_t nseg;                 /* 0..BT_WIRE_SEG_MAX */
    const double *fill_value;      /* view: nfills traded values |qty x price|, finite */
    const double *fill_commission; /* view: nfills commissions, finite */
    uint32_t nfills;               /* 0..BT_WIRE_FILLS_MAX */
    const double *trade_pnl;       /* view: ntrades closed-trade pnls, finite */
    uint32_t ntrades;              /* 0..BT_WIRE_TRADES_MAX */
    uint64_t rejected;             /* orders rejected in the test range */
} bt_msg_result_t;

typedef struct {
    uint32_t credit; /* 0..BT_WIRE_CREDIT_MAX more jobs */
} bt_msg_credit_t;

typedef struct {
    uint64_t seq; /* sender's counter */
} bt_msg_heartbeat_t;

typedef struct {
    const uint64_t *ids; /* view */
    uint32_t nids;       /* 0..BT_WIRE_ACK_MAX */
} bt_msg_ack_t;

typedef struct {
    bt_wire_file_kind_t kind;            /* what the worker wants it for */
    char sha256[BT_WIRE_SHA256_HEX + 1]; /* whole-file hash from the manifest */
    uint64_t offset;                     /* a multiple of the manifest's chunk size */
    uint32_t len;                        /* 1..BT_WIRE_CHUNK_MAX */
} bt_msg_fetch_t;

typedef struct {
    char sha256[BT_WIRE_SHA256_HEX + 1]; /* as in the FETCH answered */
    uint64_t offset;                     /* as in the FETCH answered */
    const char *bytes;                   /* view: the file's bytes at offset (decoded: in the input) */
    size_t len;                          /* 0..BT_WIRE_CHUNK_MAX (short at the end) */
} bt_msg_chunk_t;

struct bt_msg_pool; /* private decode storage */

typedef struct bt_msg {
    bt_msg_type_t type; /* which member of the union is meaningful */
    uint32_t version;   /* decoded "v" (also set on BT_EVERSION); encode writes BT_WIRE_VERSION */
    union {
        bt_msg_hello_t hello;
        bt_msg_welcome_t welcome;
        bt_msg_reason_t refuse;
        bt_msg_sweep_t sweep;
        bt_msg_job_t job;
        bt_msg_result_t result;
        bt_msg_credit_t credit;
        bt_msg_heartbeat_t heartbeat;
        bt_msg_reason_t bye;
        bt_msg_ack_t ack;
        bt_msg_fetch_t fetch;
        bt_msg_chunk_t chunk;
    };
    struct bt_msg_pool *pool; /* private: storage behind decoded views; NULL until needed */
} bt_msg_t;

/* A growable output buffer owned by the caller; reuse it across encodes. */
typedef struct {
    char *data; /* bytes of the last encoded message */
    size_t len; /* its length */
    size_t cap; /* allocated bytes */
} bt_wire_buf_t;

void bt_wire_buf_init(bt_wire_buf_t *buf);
void bt_wire_buf_fini(bt_wire_buf_t *buf);

/* Zeroes m (type BT_MSG_NONE, no storage). */
void bt_msg_init(bt_msg_t *m);
/* Frees decode storage; m is then as after bt_msg_init. Safe twice. */
void bt_msg_fini(bt_msg_t *m);
/* Clears the message fields for type t, keeping decode storage. */
void bt_msg_reset(bt_msg_t *m, bt_msg_type_t t);

/* "HELLO", "JOB", ...; "?" for an invalid value. */
const char *bt_msg_type_name(bt_msg_type_t t);

/* Replaces buf's contents with the encoding of m. Checks the caps (strings
 * NUL-terminated within their arrays, counts, non-NULL views) and returns
 * BT_ELIMIT / BT_EINVAL if m could not be encoded; value rules (finite
 * doubles, hex hashes, distinct keys) are NOT checked here: call
 * bt_wire_check first if m comes from untrusted computation. Doubles are
 * written as float64, bit for bit, NaN included. */
bt_err_t bt_wire_encode(const bt_msg_t *m, bt_wire_buf_t *buf, bt_errbuf_t *eb);
/* bt_wire_encode without the body of m's last field, which must be bytes
 * (CHUNK): buf followed by exactly those bytes is bt_wire_encode's output,
 * so a sender can read them straight into place after buf (no copy). The
 * bytes view is not read (any non-NULL pointer will do). BT_EINVAL for a
 * message type that does not end with bytes. */
bt_err_t bt_wire_encode_head(const bt_msg_t *m, bt_wire_buf_t *buf, bt_errbuf_t *eb);

/* The value rules a decoder enforces (see docs/protocol.md), on a message in
 * memory. BT_EPROTO / BT_ELIMIT with the field named in eb. */
bt_err_t bt_wire_check(const bt_msg_t *m, bt_errbuf_t *eb);

/* Decodes exactly len bytes into m. On success m->type is set and the views
 * point into m's storage, except a CHUNK's bytes, which point into the input
 * (1 MiB not copied): keep the input until the CHUNK is handled. On failure m->type is BT_MSG_NONE (on BT_EVERSION,
 * m->version holds the peer's version) and eb names the field:
 * BT_ELIMIT  message or a field over its cap, BT_EVERSION  "v" is not
 * BT_WIRE_VERSION, BT_EPROTO  anything else malformed, BT_ENOMEM. */
bt_err_t bt_wire_decode(const void *data, size_t len, bt_msg_t *m, bt_errbuf_t *eb);

/* True when a and b are the same message: same type and fields, doubles
 * compared bit for bit, views compared by content. */
bool bt_msg_equal(const bt_msg_t *a, const bt_msg_t *b);

#endif
