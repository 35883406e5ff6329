/* bt-worker — runs backtest jobs handed out by a `bt sweep` coordinator. */
#include <stdio.h>
#include <string.h>

static void s_usage(FILE *out)
{
    fprintf(out, "usage: bt-worker --connect ENDPOINT [--threads N]\n\n"
                 "Connects to a coordinator started with 'bt sweep CONFIG --bind ENDPOINT' and\n"
                 "runs the backtest jobs it hands out until the sweep ends.\n\n"
                 "example:\n"
                 "  bt-worker --connect tcp://10.0.0.5:5555 --threads 2\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("bt-worker %s\n", BT_VERSION);
        return 0;
    }
    s_usage(stderr);
    fprintf(stderr, "bt-worker: the sweep cluster is not available in this version yet\n");
    return 2;
}
