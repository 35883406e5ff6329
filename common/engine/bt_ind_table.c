/* bt_ind_table — the list of indicator kinds, in the order `bt indicators`
 * shows them. A new kind: define its descriptor in a family file, declare it
 * in bt_ind_kinds.h, add it here. */
#include "bt_ind.h"
#include "bt_ind_kinds.h"

static const bt_ind_kind_t *const s_kinds[] = {
    &bt_ind_kind_sma,     &bt_ind_kind_ema,       &bt_ind_kind_rsi,     &bt_ind_kind_stddev,
    &bt_ind_kind_bollinger, &bt_ind_kind_highest, &bt_ind_kind_lowest,  &bt_ind_kind_roc,
    /* bt_ind_ma.c */
    &bt_ind_kind_wma, &bt_ind_kind_dema, &bt_ind_kind_tema, &bt_ind_kind_kama, &bt_ind_kind_macd,
    &bt_ind_kind_ppo, &bt_ind_kind_trix, &bt_ind_kind_momentum, &bt_ind_kind_zscore,
    /* bt_ind_range.c */
    &bt_ind_kind_true_range, &bt_ind_kind_atr, &bt_ind_kind_adx, &bt_ind_kind_keltner,
    &bt_ind_kind_donchian, &bt_ind_kind_psar, &bt_ind_kind_stochastic, &bt_ind_kind_williams_r,
    &bt_ind_kind_aroon, &bt_ind_kind_ichimoku,
    /* bt_ind_volume.c */
    &bt_ind_kind_obv, &bt_ind_kind_vwap, &bt_ind_kind_mfi, &bt_ind_kind_cci,
    /* bt_ind_pair.c */
    &bt_ind_kind_correlation, &bt_ind_kind_beta,
};

size_t bt_ind_count(void)
{
    return sizeof s_kinds / sizeof *s_kinds;
}

const bt_ind_kind_t *bt_ind_at(size_t i)
{
    return i < bt_ind_count() ? s_kinds[i] : NULL;
}
