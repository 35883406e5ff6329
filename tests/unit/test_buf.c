/* Unit tests for bt_buf: the capped growable buffer. Sizes are counted by hand. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt_buf.h"

Test(buf, append_up_to_the_cap_and_no_further)
{
    bt_buf_t b;
    bt_buf_init(&b, 10);
    cr_assert_null(b.data); /* nothing allocated yet */
    cr_assert_eq(bt_buf_append(&b, "hello", 5), BT_OK);
    cr_assert_eq(bt_buf_puts(&b, "world"), BT_OK); /* 10 bytes: exactly the cap */
    cr_assert_eq(b.len, 10);
    cr_assert_str_eq(b.data, "helloworld"); /* NUL-terminated */
    cr_assert_eq(bt_buf_putc(&b, '!'), BT_ELIMIT); /* 11 > 10 */
    cr_assert_eq(b.len, 10);                       /* unchanged on failure */
    cr_assert_str_eq(b.data, "helloworld");
    cr_assert_eq(bt_buf_append(&b, NULL, 0), BT_OK); /* empty append at the cap is fine */
    bt_buf_fini(&b);
    bt_buf_fini(&b); /* safe twice */
    cr_assert_null(b.data);
}

Test(buf, size_arithmetic_cannot_overflow)
{
    bt_buf_t b;
    bt_buf_init(&b, SIZE_MAX);
    cr_assert_eq(bt_buf_append(&b, "abc", 3), BT_OK);
    /* 3 + SIZE_MAX wraps to 2: must be refused, not taken as "2 bytes" */
    cr_assert_eq(bt_buf_reserve(&b, SIZE_MAX), BT_ELIMIT);
    cr_assert_eq(bt_buf_reserve(&b, SIZE_MAX - 2), BT_ELIMIT); /* no room for the NUL */
    cr_assert_eq(b.len, 3);
    bt_buf_fini(&b);
    bt_buf_init(&b, 100);
    cr_assert_eq(bt_buf_reserve(&b, SIZE_MAX), BT_ELIMIT);
    cr_assert_eq(bt_buf_reserve(&b, 101), BT_ELIMIT);
    cr_assert_eq(bt_buf_reserve(&b, 100), BT_OK);
    cr_assert_leq(b.alloc, 101); /* growth never passes cap + NUL */
    bt_buf_fini(&b);
}

Test(buf, reset_keeps_memory_and_printf_grows)
{
    bt_buf_t b;
    bt_buf_init(&b, 4096);
    cr_assert_eq(bt_buf_printf(&b, "%d-%s", 42, "x"), BT_OK);
    cr_assert_str_eq(b.data, "42-x");
    char *mem = b.data;
    size_t alloc = b.alloc;
    bt_buf_reset(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(b.data, mem);
    cr_assert_eq(b.alloc, alloc);
    /* longer than printf's 256-byte stack buffer: 300 'a' + "|" */
    char big[301];
    memset(big, 'a', 300);
    big[300] = '\0';
    cr_assert_eq(bt_buf_printf(&b, "%s|", big), BT_OK);
    cr_assert_eq(b.len, 301);
    cr_assert_eq(b.data[299], 'a');
    cr_assert_eq(b.data[300], '|');
    cr_assert_eq(b.data[301], '\0');
    bt_buf_fini(&b);
    bt_buf_init(&b, 3);
    cr_assert_eq(bt_buf_printf(&b, "%s", "abcd"), BT_ELIMIT); /* 4 > 3 */
    cr_assert_eq(b.len, 0);
    bt_buf_fini(&b);
}
