/* bt_sig — one way to catch Ctrl-C and SIGTERM, for bt run, the sweep
 * server and the worker (each stops its own way: removes temporary files,
 * says BYE, keeps the journal). */
#ifndef BT_SIG_H
#define BT_SIG_H

/* handler runs on SIGINT and SIGTERM from now on (no flags, empty mask:
 * a blocking call it interrupts returns EINTR). */
void bt_sig_on_stop(void (*handler)(int));

#endif
