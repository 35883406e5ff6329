/* bt_ind_kinds — the kind descriptors the table lists (one per indicator;
 * each family file defines some). Private to the indicator modules. */
#ifndef BT_IND_KINDS_H
#define BT_IND_KINDS_H

#include "bt_ind.h"

/* bt_ind_basic.c */
extern const bt_ind_kind_t bt_ind_kind_sma, bt_ind_kind_ema, bt_ind_kind_rsi,
    bt_ind_kind_stddev, bt_ind_kind_bollinger, bt_ind_kind_highest, bt_ind_kind_lowest,
    bt_ind_kind_roc;

#endif
