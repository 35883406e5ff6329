/* bt_config_int.h — private to common/config: the settings table, the config
 * struct and the loader helpers shared by bt_config*.c. Not for other modules. */
#ifndef BT_CONFIG_INT_H
#define BT_CONFIG_INT_H

#include <libfyaml.h>

#include "bt_config.h"

#define BT_CFG_KEY_MAX 96

typedef enum { S_REAL = 0, S_INT, S_BOOL, S_ENUM, S_STRING, S_DATE, S_STRLIST } bt_cfg_type_t;
/* Where a numeric setting lands in bt_engine_cfg_t (value * scale), or
 * S_L_NONE when s_finish handles it. */
typedef enum { S_L_NONE = 0, S_L_DOUBLE, S_L_INT, S_L_BOOL, S_L_ENUM } bt_cfg_land_t;

typedef struct {
    const char *key; /* dotted key */
    bt_cfg_type_t type;
    double min, max;      /* inclusive bounds in user units (REAL, INT) */
    double def;           /* default in user units (REAL, INT, BOOL, ENUM index) */
    const char *def_text; /* default as written in YAML (for the reference) */
    const char *unit;     /* user unit, "" if none */
    double scale;         /* engine value = user value * scale */
    bt_cfg_land_t land;
    size_t offset;              /* offsetof(bt_engine_cfg_t, field) when land != NONE */
    const char *const *choices; /* ENUM: NULL-terminated */
    const char *help;           /* one line */
} bt_cfg_setting_t;
/* Indices of the entries s_finish and the loader refer to by name. */
enum {
    S_STRATEGY = 0,
    S_LIBRARY,
    S_PYTHON,
    S_PYTIMEOUT,
    S_CAPITAL,
    S_RANK_BY,
    S_RANK_ORDER,
    S_TOP,
    S_STORE,
    S_SYMBOLS,
    S_START,
    S_END,
    S_FILL,
    S_SLIP,
    S_COMM_PCT,
    S_COMM_SHARE,
    S_COMM_MIN,
    S_VOLCAP,
    S_SHORT,
    S_MARGIN,
    S_MARGIN_REQ,
    S_SIZE_MODE,
    S_SIZE_PCT,
    S_SIZE_QTY,
    S_FRACTIONAL,
    S_SIZE_AT,
    S_MAX_POS,
    S_MAX_LEV,
    S_MAX_POSITIONS,
    S_STOP,
    S_TAKE,
    S_TRAIL,
    S_MAX_DD,
    S_REBAL,
    S_RISK_SCOPE,
    S_RF,
    S_CLOSE_END,
    S_PBO_BLOCKS,
    S_MAX_GRID,
    S_RANK_MIN_TRADES,
    S_NSETTINGS
};

extern const bt_cfg_setting_t bt_cfg_settings[S_NSETTINGS];
#define BT_CFG_NSECTIONS 8
extern const char *const bt_cfg_sections[BT_CFG_NSECTIONS];

struct bt_config {
    char *path;                 /* as given (or the name of a string source) */
    char hash[65];              /* sha256 of file bytes + overrides */
    double values[S_NSETTINGS]; /* numeric settings in user units */
    bool set[S_NSETTINGS];      /* given in the file or by --set */
    const bt_strategy_t *strategy;
    double params[BT_MAX_PARAMS]; /* strategy->nparams values */
    char *store;                  /* data.store */
    char *library;                /* strategy_library as written, or NULL */
    bool python;                  /* library is a strategy_python: file */
    char **symbols;               /* data.symbols, NULL = all */
    size_t nsymbols;
    int64_t start, end;    /* data.start / data.end, INT64_MIN/MAX = open */
    int rank_by;           /* metric index */
    bt_sweep_spec_t sweep; /* parsed sweep: section */
    bt_wf_spec_t wf;       /* parsed walk_forward: section (enabled = false if none) */
    bt_engine_cfg_t eng;   /* derived by s_finish */
};

/* One flattened key of the file or an override, with where it came from. */
typedef struct {
    char key[BT_CFG_KEY_MAX];
    struct fy_node *node;
    int line;        /* 1-based line in the file; 0 for --set */
    const char *set; /* the --set argument, or NULL */
} bt_cfg_entry_t;

typedef struct {
    const char *name; /* file name for messages */
    bt_config_t *c;
    bt_cfg_entry_t *entries;
    size_t n, cap;
    struct fy_node *sweep; /* the sweep: mapping, if any */
    int sweep_line;
    struct fy_node *wf; /* the walk_forward: mapping, if any */
    int wf_line;
    bt_errbuf_t *eb;
} bt_cfg_loader_t;

/* A numeric key's description: where its value lives and how to check it. */
typedef struct {
    bt_cfg_type_t type; /* REAL, INT, BOOL or ENUM */
    double min, max;
    const char *const *choices;
    double *slot; /* the value in the config */
    int setting;  /* index in bt_cfg_settings, or -1 for a parameter */
} bt_cfg_num_t;

/* bt_config_table.c */
const char *bt_cfg_type_name(bt_cfg_type_t t);
int bt_cfg_find_setting(const char *key); /* index in bt_cfg_settings, or -1 */

/* bt_config_value.c: nodes, numbers, symbol lists */
char *bt_cfg_strdup(const char *s);
char *bt_cfg_strndup(const char *s, size_t n);
void bt_cfg_free_strv(char **v, size_t n);
char **bt_cfg_strv_dup(char *const *v, size_t n);
int bt_cfg_node_line(struct fy_node *n);
/* Scalar text of a node, or NULL if it is not a (non-null) scalar. */
const char *bt_cfg_scalar(struct fy_node *n, size_t *len);
bool bt_cfg_parse_double(const char *s, size_t len, double *out);
/* BT_ECONFIG with "FILE:LINE: KEY: message" (or "--set K=V: KEY: ..."). */
bt_err_t bt_cfg_fail(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool bt_cfg_numkey(bt_config_t *c, const char *key, bt_cfg_num_t *d);
bool bt_cfg_num_ok(const bt_cfg_num_t *d, double v, char *why, size_t cap);
bt_err_t bt_cfg_node_number(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, struct fy_node *n,
                            const bt_cfg_num_t *d, double *out);
bt_err_t bt_cfg_parse_symbols(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, struct fy_node *n,
                              char ***out, size_t *nout);

/* bt_config.c */
bt_err_t bt_cfg_unknown_key(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e);
bt_err_t bt_cfg_apply_param(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e);

/* bt_config_sweep.c: the sweep: and walk_forward: sections */
bt_err_t bt_cfg_parse_sweep(bt_cfg_loader_t *ld);
bt_err_t bt_cfg_parse_wf(bt_cfg_loader_t *ld);
void bt_cfg_sweep_free(bt_sweep_spec_t *sw);
bool bt_cfg_sweep_dup(bt_sweep_spec_t *d, const bt_sweep_spec_t *s);

#endif
