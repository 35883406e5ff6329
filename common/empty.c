/* Placeholder translation unit for a library that has only headers so far. */
typedef int bt_empty_unit_t;
