/* bt_html_sweep — report.html of a sweep. See bt_html_sweep.h. */
#include "bt_html_sweep.h"

#include "bt_html.h"

bt_err_t bt_html_sweep_write(const char *dir, bt_errbuf_t *eb)
{
    bt_json_t j;
    bt_json_init(&j);
    bt_json_raw(&j, "{\"kind\":\"sweep\"}");
    bt_err_t e = bt_html_write_page(dir, "sweep", "Back Tester sweep report", &j, eb);
    bt_json_fini(&j);
    return e;
}
