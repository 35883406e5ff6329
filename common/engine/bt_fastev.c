/* bt_fastev — which books may take the inline event step. See bt_fastev.h. */
#include "bt_fastev.h"

bool bt_fastev_ok(const bt_book_t *bk)
{
    const bt_engine_cfg_t *c = bk->cfg;
    return bk->nsym == 1 && !bk->rec && !bk->on_step && !bk->strat->on_fill && !bk->risk.acct &&
           bk->risk.mdd == 0 && !bk->risk.has_exits && bk->risk.rebal_flag == 0 &&
           !bk->feed.warm && c->fill_at == BT_FILL_NEXT_OPEN && c->size_at == BT_SIZE_AT_CLOSE &&
           c->sizing == BT_SIZE_PCT_EQUITY && !c->allow_short && !c->allow_margin &&
           c->volume_cap == 0 && c->max_position == 0 && c->max_leverage == 0 &&
           c->max_positions == 0 && c->max_drawdown == 0 && c->trade_start == INT64_MIN;
}
