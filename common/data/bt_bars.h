/* bt_bars — an owning, growable struct-of-arrays bar buffer.
 *
 * Importers and the synthetic market append bars here, then hand a read-only
 * view (bt_series_t) to the bar store writer. Every array is 64-byte aligned. */
#ifndef BT_BARS_H
#define BT_BARS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_series.h"

typedef struct bt_bars bt_bars_t;

/* New empty buffer for symbol (truncated to BT_SYMBOL_MAX - 1 bytes) with room
 * for capacity bars (0 is fine; it grows). NULL on failure. */
bt_bars_t *bt_bars_new(const char *symbol, size_t capacity);
void bt_bars_destroy(bt_bars_t **self_p);
/* Appends one bar; adj_close is NAN when the source has none (then every row
 * must be NAN). BT_ENOMEM if growing fails (the buffer is unchanged). */
bt_err_t bt_bars_push(bt_bars_t *self, int64_t time, double open, double high, double low,
                      double close, double volume, double adj_close);
size_t bt_bars_count(const bt_bars_t *self);
/* View of all bars; adj_close is NULL when every pushed adj_close was NAN.
 * Valid until the next push or destroy. */
bt_series_t bt_bars_view(const bt_bars_t *self);
/* Removes all bars, keeps the capacity. */
void bt_bars_clear(bt_bars_t *self);

#endif
