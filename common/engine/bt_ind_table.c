/* bt_ind_table — the list of indicator kinds, in the order `bt indicators`
 * shows them. A new kind: define its descriptor in a family file, declare it
 * in bt_ind_kinds.h, add it here. */
#include "bt_ind.h"
#include "bt_ind_kinds.h"

static const bt_ind_kind_t *const s_kinds[] = {
    &bt_ind_kind_sma,     &bt_ind_kind_ema,       &bt_ind_kind_rsi,     &bt_ind_kind_stddev,
    &bt_ind_kind_bollinger, &bt_ind_kind_highest, &bt_ind_kind_lowest,  &bt_ind_kind_roc,
};

size_t bt_ind_count(void)
{
    return sizeof s_kinds / sizeof *s_kinds;
}

const bt_ind_kind_t *bt_ind_at(size_t i)
{
    return i < bt_ind_count() ? s_kinds[i] : NULL;
}
