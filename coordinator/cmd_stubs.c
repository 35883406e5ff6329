/* Commands not built yet. Each helper deletes its command from here when it
 * lands the real one in its own cmd_*.c file. */
#include <stdio.h>

#include "bt_cmd.h"

static int s_not_yet(const char *name)
{
    fprintf(stderr, "bt %s: not available in this version yet\n", name);
    return 1;
}

int bt_cmd_data_import(int argc, char **argv) { (void)argc; (void)argv; return s_not_yet("data import"); }
int bt_cmd_data_info(int argc, char **argv) { (void)argc; (void)argv; return s_not_yet("data info"); }
int bt_cmd_data_export(int argc, char **argv) { (void)argc; (void)argv; return s_not_yet("data export"); }
int bt_cmd_run(int argc, char **argv) { (void)argc; (void)argv; return s_not_yet("run"); }
int bt_cmd_sweep(int argc, char **argv) { (void)argc; (void)argv; return s_not_yet("sweep"); }
int bt_cmd_strategies(int argc, char **argv) { (void)argc; (void)argv; return s_not_yet("strategies"); }
