/* bt_sig — see bt_sig.h. */
#define _POSIX_C_SOURCE 200809L
#include "bt_sig.h"

#include <signal.h>
#include <string.h>

void bt_sig_on_stop(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
