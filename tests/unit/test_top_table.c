/* Unit tests of the top rows bt sweep prints at its end
 * (bt_html_sweep_print_top_table): metrics rounded to 4 figures, but the
 * rank, job id, swept values and whole-number metrics (trades) printed in
 * full, so a row names its job and parameters exactly (job 14359 once
 * printed as 1.436e+04, the same as job 14361). */
#define _DEFAULT_SOURCE /* open_memstream */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_html_sweep.h"

static char *s_print(const char *csv, size_t n)
{
    char *text = strdup(csv);
    cr_assert_not_null(text);
    bt_table_t t;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_table_parse(&t, text, strlen(text), "ranking.csv", &eb), BT_OK, "%s", eb.msg);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    cr_assert_not_null(f);
    bt_html_sweep_print_top_table(&t, "sharpe", n, f);
    fclose(f);
    bt_table_fini(&t); /* frees text */
    return out;
}

/* The printed line of rank r (its first cell), whitespace folded to one space. */
static void s_line(const char *out, const char *rank, char *line, size_t cap)
{
    char key[16];
    snprintf(key, sizeof key, "\n     %s ", rank);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no row %s in:\n%s", rank, out);
    p++;
    size_t k = 0;
    bool space = false;
    for (; *p && *p != '\n' && k + 1 < cap; p++) {
        if (*p == ' ') {
            space = true;
            continue;
        }
        if (space && k)
            line[k++] = ' ';
        space = false;
        line[k++] = *p;
    }
    line[k] = '\0';
}

Test(top_table, ids_params_and_counts_in_full)
{
    /* hand-made ranking.csv rows: 5-digit job ids, a 6-digit swept value, a
     * 5-digit trade count and metrics with more digits than shown */
    char *out = s_print("rank,job_id,params.fast,params.slow,sharpe,total_return,cagr,"
                        "max_drawdown,trades\n"
                        "1,14359,80,123456,0.34983210987,24960.123,0.0538,0.818,232\n"
                        "2,14361,83,0.125,0.3494,2429,0.05365123,0.8178,12345\n",
                        5);
    char line[256];
    s_line(out, "1", line, sizeof line);
    /* 0.34983210987 -> 0.3498 and 24960.123 -> 2.496e+04 (4 significant figures) */
    cr_assert_str_eq(line, "1 14359 80 123456 0.3498 2.496e+04 0.0538 0.818 232 <- winner",
                     "%s", out);
    s_line(out, "2", line, sizeof line);
    /* 0.05365123 -> 0.05365; 2429 and 12345 are whole: in full */
    cr_assert_str_eq(line, "2 14361 83 0.125 0.3494 2429 0.05365 0.8178 12345", "%s", out);
    cr_assert(strstr(out, "top 2 by sharpe") != NULL, "%s", out);
    free(out);
}
