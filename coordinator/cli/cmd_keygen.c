/* cmd_keygen — `bt keygen DIR [--name NAME]`: writes a CurveZMQ key pair
 * for a coordinator or a worker and says what to copy where. */
#include <stdio.h>
#include <string.h>

#include "bt_cmd.h"
#include "bt_curve.h"
#include "bt_fs.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: bt keygen DIR [--name NAME]\n"
            "\n"
            "Writes a CurveZMQ key pair for encrypted, authenticated cluster traffic:\n"
            "DIR/NAME.key (public: copy it where it is needed) and DIR/NAME.key_secret\n"
            "(secret, mode 0600: it never leaves this machine). An existing key is never\n"
            "overwritten.\n"
            "\n"
            "  --name NAME   key name (default 'worker'); 'coordinator' also creates\n"
            "                DIR/allow/, the folder of admitted worker keys\n"
            "  -h, --help    this help\n"
            "\n"
            "A keys folder holds (see docs/cluster.md):\n"
            "  on the coordinator  coordinator.key, coordinator.key_secret, allow/HOST.key ...\n"
            "  on each worker      worker.key, worker.key_secret, coordinator.key\n"
            "\n"
            "examples:\n"
            "  bt keygen keys --name coordinator          # on the coordinator\n"
            "  bt keygen keys                             # on each worker\n"
            "  scp keys/worker.key COORD:keys/allow/$(hostname).key\n"
            "  scp COORD:keys/coordinator.key keys/\n");
}

static void s_explain(const char *dir, const char *name)
{
    printf("wrote %s/%s%s (public) and %s/%s%s (secret, mode 0600: keep it on this machine)\n", dir,
           name, BT_CURVE_PUBLIC_EXT, dir, name, BT_CURVE_SECRET_EXT);
    if (strcmp(name, BT_CURVE_COORDINATOR) == 0) {
        printf("this is the coordinator's pair:\n"
               "  - copy %s/%s%s to every worker, into its keys folder as %s%s\n"
               "  - copy each worker's public key into %s/%s/ (one NAME.key per worker,\n"
               "    e.g. %s/%s/node01.key); only keys in that folder are admitted\n",
               dir, name, BT_CURVE_PUBLIC_EXT, BT_CURVE_COORDINATOR, BT_CURVE_PUBLIC_EXT, dir,
               BT_CURVE_ALLOW_DIR, dir, BT_CURVE_ALLOW_DIR);
        return;
    }
    printf("this is a worker's pair:\n"
           "  - copy %s/%s%s into the coordinator's keys folder under %s/, named after\n"
           "    this machine (e.g. %s/node01.key)\n"
           "  - copy the coordinator's %s%s into %s/\n",
           dir, name, BT_CURVE_PUBLIC_EXT, BT_CURVE_ALLOW_DIR, BT_CURVE_ALLOW_DIR,
           BT_CURVE_COORDINATOR, BT_CURVE_PUBLIC_EXT, dir);
    if (strcmp(name, BT_CURVE_WORKER) != 0)
        printf("  - a worker's keys folder names its own pair %s%s: rename these files there\n",
               BT_CURVE_WORKER, BT_CURVE_PUBLIC_EXT);
}

int bt_cmd_keygen(int argc, char **argv)
{
    const char *dir = NULL, *name = BT_CURVE_WORKER;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--name") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "bt keygen: --name needs a value; see 'bt keygen --help'\n");
                return 2;
            }
            name = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "bt keygen: unknown option '%s'; see 'bt keygen --help'\n", argv[i]);
            return 2;
        } else if (dir == NULL) {
            dir = argv[i];
        } else {
            fprintf(stderr, "bt keygen: one DIR only (got '%s' and '%s')\n", dir, argv[i]);
            return 2;
        }
    }
    if (dir == NULL || dir[0] == '\0') {
        s_usage(stderr);
        fprintf(stderr, "\nbt keygen: DIR is required\n");
        return 2;
    }
    if (!bt_curve_name_ok(name)) {
        fprintf(stderr,
                "bt keygen: --name '%s': use 1..%d letters, digits, '.', '_' or '-' (not "
                "starting with '.' or '-')\n",
                name, BT_CURVE_NAME_MAX);
        return 2;
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (bt_curve_keygen(dir, name, &eb) != BT_OK) {
        fprintf(stderr, "bt keygen: %s\n", eb.msg);
        return 1;
    }
    if (strcmp(name, BT_CURVE_COORDINATOR) == 0) {
        char allow[4096];
        int w = snprintf(allow, sizeof allow, "%s/%s", dir, BT_CURVE_ALLOW_DIR);
        if (w < 0 || (size_t)w >= sizeof allow || bt_fs_mkdir_p(allow, &eb) != BT_OK) {
            fprintf(stderr, "bt keygen: %s\n", eb.msg[0] ? eb.msg : "folder path too long");
            return 1;
        }
    }
    s_explain(dir, name);
    return 0;
}
