/* bt_config_table — every setting declared once (key, type, bounds, default,
 * unit, help), the reference writer for configs/README.md, and the
 * closest-key hint used in error messages. */
#include <stdio.h>
#include <string.h>

#include "bt_config_int.h"

static const char *const s_fill_choices[] = {"next_open", "same_close", NULL};
static const char *const s_sizing_choices[] = {"percent_equity", "percent_cash", "fixed",
                                               "target_weight", NULL};
static const char *const s_rebal_choices[] = {"none", "daily", "weekly", "monthly", NULL};
static const char *const s_order_choices[] = {"desc", "asc", NULL};
static const char *const s_size_at_choices[] = {"close", "fill", NULL};
static const char *const s_scope_choices[] = {"sleeve", "account", NULL};

#define S_E(f) S_L_DOUBLE, offsetof(bt_engine_cfg_t, f)
#define S_EI(f) S_L_INT, offsetof(bt_engine_cfg_t, f)
#define S_EB(f) S_L_BOOL, offsetof(bt_engine_cfg_t, f)
#define S_EE(f) S_L_ENUM, offsetof(bt_engine_cfg_t, f)
#define S_NONE S_L_NONE, 0

const bt_cfg_setting_t bt_cfg_settings[S_NSETTINGS] = {
    [S_STRATEGY] = {"strategy", S_STRING, 0, 0, 0, "(required)", "", 1, S_NONE, NULL,
                    "strategy name: a built-in (see `bt strategies`) or the one in strategy_library"},
    [S_LIBRARY] = {"strategy_library", S_STRING, 0, 0, 0, "(none)", "path", 1, S_NONE, NULL,
                   "user strategy shared library (.so, strategies/README.md); a relative path is "
                   "taken from the current directory; remote sweep workers load their --strategy-lib"},
    [S_STORE] = {"data.store", S_STRING, 0, 0, 0, "(required)", "path", 1, S_NONE, NULL,
                 "HDF5 bar store; a relative path is taken from the current directory"},
    [S_SYMBOLS] = {"data.symbols", S_STRLIST, 0, 0, 0, "all", "", 1, S_NONE, NULL,
                   "list of symbols to trade, or `all` (every symbol in the store, sorted)"},
    [S_START] = {"data.start", S_DATE, 0, 0, 0, "(first bar)", "date", 1, S_NONE, NULL,
                 "first bar time used, inclusive (YYYY-MM-DD[ HH:MM[:SS]])"},
    [S_END] = {"data.end", S_DATE, 0, 0, 0, "(last bar)", "date", 1, S_NONE, NULL,
               "last bar time used, inclusive; a bare date includes that whole day"},
    [S_CAPITAL] = {"capital", S_REAL, 1e-6, 1e15, 100000, "100000", "currency", 1,
                   S_E(initial_cash), NULL,
                   "starting cash of the whole account (single-symbol sleeves share it equally)"},
    [S_FILL] = {"execution.fill", S_ENUM, 0, 0, 0, "next_open", "", 1, S_EE(fill_at),
                s_fill_choices,
                "market orders decided at a bar's close fill at the next bar's open, or at that close"},
    [S_SLIP] = {"execution.slippage_bps", S_REAL, 0, 9999, 0, "0", "bps", 1, S_E(slippage_bps),
                NULL, "adverse price move applied to every fill"},
    [S_COMM_PCT] = {"execution.commission_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01,
                    S_E(commission_rate), NULL, "commission as a percentage of traded value"},
    [S_COMM_SHARE] = {"execution.commission_per_share", S_REAL, 0, 1e6, 0, "0", "currency/unit",
                      1, S_E(commission_per_share), NULL, "commission per share/unit traded"},
    [S_COMM_MIN] = {"execution.commission_min", S_REAL, 0, 1e9, 0, "0", "currency", 1,
                    S_E(commission_min), NULL, "minimum commission per order"},
    [S_VOLCAP] = {"execution.volume_cap_pct", S_REAL, 0, 100, 0, "0", "percent", 0.01,
                  S_E(volume_cap), NULL,
                  "an order fills at most this percentage of a bar's volume (partial fills); 0 = off"},
    [S_SHORT] = {"execution.allow_short", S_BOOL, 0, 1, 0, "false", "", 1, S_EB(allow_short), NULL,
                 "sells below zero open short positions"},
    [S_MARGIN] = {"execution.allow_margin", S_BOOL, 0, 1, 0, "false", "", 1, S_EB(allow_margin),
                  NULL, "buys may cost more than the cash available"},
    [S_MARGIN_REQ] = {"execution.margin_requirement_pct", S_REAL, 0, 1000, 50, "50", "percent",
                      0.01, S_E(margin_requirement), NULL,
                      "equity that must cover short market value"},
    [S_SIZE_MODE] = {"sizing.mode", S_ENUM, 0, 0, 0, "percent_equity", "", 1, S_EE(sizing),
                     s_sizing_choices,
                     "what a signal of 1 means: a percentage of equity or cash, a fixed quantity, or the "
                     "signal is itself the target weight"},
    [S_SIZE_PCT] = {"sizing.value_pct", S_REAL, 0, 10000, 95, "95", "percent", 0.01, S_NONE, NULL,
                    "percent_equity / percent_cash: size of a signal of 1 (95 leaves room for a "
                    "gap up to the fill); target_weight ignores it"},
    [S_SIZE_QTY] = {"sizing.quantity", S_REAL, 0, 1e12, 1, "1", "units", 1, S_NONE, NULL,
                    "fixed: quantity for a signal of 1"},
    [S_FRACTIONAL] = {"sizing.fractional", S_BOOL, 0, 1, 0, "false", "", 1, S_EB(fractional), NULL,
                      "allow fractional quantities; otherwise whole units, rounded down"},
    [S_SIZE_AT] = {"sizing.at", S_ENUM, 0, 0, 0, "close", "", 1, S_EE(size_at), s_size_at_choices,
                   "size signals from the decision close, or again at the fill price (commission "
                   "included, never more than the cash: an all-in order is not rejected for a gap)"},
    [S_MAX_POS] = {"risk.max_position_pct", S_REAL, 0, 10000, 0, "0", "percent", 0.01,
                   S_E(max_position), NULL, "max absolute position value per symbol, % of equity; 0 = off"},
    [S_MAX_LEV] = {"risk.max_leverage", S_REAL, 0, 100, 0, "0", "ratio", 1, S_E(max_leverage),
                   NULL, "max gross exposure / equity; 0 = off"},
    [S_MAX_POSITIONS] = {"risk.max_positions", S_INT, 0, 1000000, 0, "0", "count", 1,
                         S_EI(max_positions), NULL, "max symbols held at once; 0 = off"},
    [S_STOP] = {"risk.stop_loss_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01, S_E(stop_loss), NULL,
                "exit when price moves this far against the entry; 0 = off"},
    [S_TAKE] = {"risk.take_profit_pct", S_REAL, 0, 100000, 0, "0", "percent", 0.01,
                S_E(take_profit), NULL, "exit when price moves this far in favour; 0 = off"},
    [S_TRAIL] = {"risk.trailing_stop_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01,
                 S_E(trailing_stop), NULL, "exit this far below the high-water mark; 0 = off"},
    [S_MAX_DD] = {"risk.max_drawdown_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01,
                  S_E(max_drawdown), NULL,
                  "kill switch: flatten and stop trading at this drawdown; 0 = off"},
    [S_REBAL] = {"risk.rebalance", S_ENUM, 0, 0, 0, "none", "", 1, S_EE(rebalance), s_rebal_choices,
                 "re-apply the last target weights on this calendar"},
    [S_RISK_SCOPE] = {"risk.scope", S_ENUM, 0, 0, 0, "sleeve", "", 1, S_EE(risk_scope),
                      s_scope_choices,
                      "single-symbol strategy on several symbols: max_drawdown, max_leverage, "
                      "max_positions and max_position per sleeve, or over the whole account"},
    [S_RF] = {"report.risk_free_rate_pct", S_REAL, -99.99, 100, 0, "0", "percent/year", 0.01,
              S_E(risk_free_rate), NULL, "annual risk-free rate for Sharpe and Sortino"},
    [S_CLOSE_END] = {"report.close_at_end", S_BOOL, 0, 1, 1, "true", "", 1, S_EB(close_at_end), NULL,
                     "close open positions at the last bar's close so every trade is counted"},
    [S_PBO_BLOCKS] = {"report.pbo_blocks", S_INT, 0, 32, 16, "16", "blocks", 1, S_EI(pbo_blocks),
                      NULL, "blocks for the probability of backtest overfitting (CSCV), even; "
                      "0 = off (docs/overfitting.md)"},
    [S_RANK_BY] = {"rank_by", S_STRING, 0, 0, 0, "sharpe", "metric", 1, S_NONE, NULL,
                   "metric that ranks sweep results (any name in docs/metrics.md)"},
    [S_RANK_ORDER] = {"rank_order", S_ENUM, 0, 0, 0, "(by metric)", "", 1, S_NONE, s_order_choices,
                      "desc = larger is better; default: desc, or asc for max_drawdown-like metrics"},
    [S_TOP] = {"top", S_INT, 0, 1000000, 20, "20", "rows", 1, S_NONE, NULL,
               "rows written to a sweep's ranking.csv, best first; 0 = all"},
    [S_PYTHON] = {"strategy_python", S_STRING, 0, 0, 0, "(none)", "path", 1, S_NONE, NULL,
                  "Python strategy file (docs/python.md); `strategy:` names its class; shipped "
                  "to sweep workers like strategy_library"},
    [S_PYTIMEOUT] = {"strategy_python_timeout", S_REAL, 0, 86400, 30, "30", "s", 1, S_NONE, NULL,
                     "a Python strategy call (init, on_bar, on_fill) running longer than this "
                     "fails the job with a TimeoutError; 0 = no limit"},
    [S_MAX_GRID] = {"sweep.max_grid", S_INT, 1, 1e15, 1e7, "10000000", "points", 1,
                    S_NONE, NULL, "refuse a sweep grid larger than this (before pruning)"},
    [S_RANK_MIN_TRADES] = {"sweep.rank_min_trades", S_INT, 0, 1e9, 0, "0", "trades", 1, S_NONE,
                           NULL, "points with fewer closed trades are left out of the ranking "
                           "(kept in results.csv, ranked = 0); 0 = off"},
};

const char *const bt_cfg_sections[BT_CFG_NSECTIONS] = {
    "data", "execution", "sizing", "risk", "report", "params", "sweep", "walk_forward"};

static size_t s_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return 1000;
    size_t row[128];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *s_last_part(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

const char *bt_config_closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        /* The same last part in another section ("commission_pct" for
         * "execution.commission_pct") is the best hint there is. */
        if (strcmp(s_last_part(word), s_last_part(cands[i])) == 0)
            return cands[i];
        size_t d = s_edit_distance(word, cands[i]);
        size_t d2 = s_edit_distance(s_last_part(word), s_last_part(cands[i])) + 1;
        if (d2 < d)
            d = d2;
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    return bestd <= limit ? best : NULL;
}


const char *bt_cfg_type_name(bt_cfg_type_t t)
{
    static const char *const names[] = {"number", "whole number", "true or false", "choice",
                                        "text", "date", "list of names"};
    return names[t];
}

int bt_cfg_find_setting(const char *key)
{
    for (int i = 0; i < S_NSETTINGS; i++)
        if (strcmp(bt_cfg_settings[i].key, key) == 0)
            return i;
    return -1;
}

/* ---- Reference ---- */

void bt_config_write_reference(FILE *out)
{
    char section[32] = "-";
    for (int i = 0; i < S_NSETTINGS; i++) {
        const bt_cfg_setting_t *s = &bt_cfg_settings[i];
        const char *dot = strchr(s->key, '.');
        char sec[32];
        snprintf(sec, sizeof sec, "%.*s", dot ? (int)(dot - s->key) : 0, s->key);
        if (strcmp(section, sec) != 0) {
            snprintf(section, sizeof section, "%s", sec);
            if (sec[0])
                fprintf(out, "\n### `%s:`\n\n", sec);
            else
                fprintf(out, "\n### top level\n\n");
            fprintf(out, "| key | type | default | bounds | unit | meaning |\n"
                         "| --- | --- | --- | --- | --- | --- |\n");
        }
        char bounds[128] = "";
        if (s->type == S_REAL || s->type == S_INT)
            snprintf(bounds, sizeof bounds, "%.15g .. %.15g", s->min, s->max);
        else if (s->type == S_ENUM) {
            size_t off = 0;
            for (size_t k = 0; s->choices[k] && off < sizeof bounds; k++)
                off += (size_t)snprintf(bounds + off, sizeof bounds - off, "%s`%s`",
                                        k ? " / " : "", s->choices[k]);
        }
        char conv[64] = "";
        if (s->scale != 1.0)
            snprintf(conv, sizeof conv, " (engine: x%g)", s->scale);
        fprintf(out, "| `%s` | %s | %s | %s | %s%s | %s |\n", s->key, bt_cfg_type_name(s->type),
                s->def_text, bounds, s->unit, conv, s->help);
    }
}
