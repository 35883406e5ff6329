/* bt_cmd — the `bt` program's commands. Each takes the arguments after its
 * name (argv[0] is the command name) and returns the process exit code:
 * 0 success, 1 failure of the work, 2 bad usage. */
#ifndef BT_CMD_H
#define BT_CMD_H

int bt_cmd_data_import(int argc, char **argv);
int bt_cmd_data_info(int argc, char **argv);
int bt_cmd_data_export(int argc, char **argv);
int bt_cmd_data_resample(int argc, char **argv);
int bt_cmd_data_synth(int argc, char **argv);
int bt_cmd_data_fetch(int argc, char **argv);
int bt_cmd_paper(int argc, char **argv);
int bt_cmd_run(int argc, char **argv);
int bt_cmd_sweep(int argc, char **argv);
int bt_cmd_strategies(int argc, char **argv);
int bt_cmd_indicators(int argc, char **argv);
int bt_cmd_strategy(int argc, char **argv);
int bt_cmd_keygen(int argc, char **argv);
int bt_cmd_status(int argc, char **argv);
int bt_cmd_report(int argc, char **argv);

#endif
