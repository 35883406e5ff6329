/* bt paper — paper trading on live bars (live/bt_paper). */
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_cmd.h"
#include "bt_parse.h"
#include "bt_config.h"
#include "bt_paper.h"
#include "bt_time.h"

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: bt paper CONFIG.yaml [--out DIR] [--source rest|redis] [options]\n"
            "\n"
            "Runs the config's strategy on live bars through the same engine, risk and\n"
            "execution as 'bt run'. Bars come from a REST provider polled on the bar interval,\n"
            "or from Redis streams bt:bars:SYMBOL that another process fills (fields t = ns\n"
            "since epoch, o h l c v). Writes as it goes, to DIR:\n"
            "  events.csv   every order placed and every fill, with its step\n"
            "  equity.csv   one row per step (bt run's columns)\n"
            "  orders.csv   every order with its status (bt run's columns)\n"
            "  journal.csv  the bars applied: a restart replays it and continues with the same\n"
            "               positions, placing no order twice\n"
            "  status.txt   the live status line\n"
            "and, with --redis, the latest bar, recent bars, indicator values and equity under\n"
            "bt:paper:NAME:* (docs/live.md). Stop with Ctrl-C, SIGTERM or 'stop' on --control.\n"
            "\n"
            "options:\n"
            "  --set key=value    override a config key (repeatable)\n"
            "  --out DIR          output folder                              [out/paper]\n"
            "  --source S         rest or redis                              [rest]\n"
            "  --provider P       yahoo or binance (rest)                    [binance]\n"
            "  --base-url URL     provider base URL (or BT_<PROVIDER>_BASE_URL)\n"
            "  --interval IV      bar interval: 1m 5m 15m 30m 1h 4h 1d 1w    [1d]\n"
            "  --from DATE        first bar wanted (default: the latest bars)\n"
            "  --poll-ms MS       poll period (default: the interval)\n"
            "  --grace-ms MS      several symbols: how long a step waits for a symbol's bar\n"
            "                     before it goes on without it       [3 poll periods]\n"
            "  --redis ADDR       host:port or unix:/path (or BT_REDIS)\n"
            "  --name NAME        Redis key prefix bt:paper:NAME:            [default]\n"
            "  --stream-cap N     recent bars kept per symbol in Redis       [1000]\n"
            "  --indicators LIST  published indicators (default parameters)  [sma,ema,rsi]\n"
            "  --control EP       ZeroMQ REP control socket, e.g. ipc://DIR/control\n"
            "                     (commands: status, stop)\n"
            "  --ask CMD          with --control EP and no config: send CMD (status, stop)\n"
            "                     to a running bt paper, print its answer\n"
            "  --idle-exit N      stop after N polls without a new bar (replays, tests)\n"
            "  --max-steps N      stop after N steps in total\n"
            "\n"
            "exit status: 0 stopped, 1 failed, 2 bad usage or config\n"
            "\n"
            "example:\n"
            "  bt paper configs/sma_cross.yaml --set data.symbols=[BTCUSDT] --provider binance \\\n"
            "     --interval 1h --redis 127.0.0.1:6379 --out out/paper-btc\n");
}

/* bt paper --control EP --ask CMD: one request to a running paper run. */
static int s_ask(const char *ep, const char *cmd)
{
    zsock_t *s = zsock_new_req(ep);
    if (!s) {
        fprintf(stderr, "bt paper: cannot connect to %s\n", ep);
        return 1;
    }
    zsock_set_rcvtimeo(s, 5000);
    zsock_set_sndtimeo(s, 5000);
    char *ans = zstr_send(s, cmd) == 0 ? zstr_recv(s) : NULL;
    int rc = 0;
    if (ans) {
        printf("%s\n", ans);
    } else {
        fprintf(stderr, "bt paper: no answer from %s within 5 s; is a bt paper running with "
                        "--control %s?\n",
                ep, ep);
        rc = 1;
    }
    zstr_free(&ans);
    zsock_destroy(&s);
    return rc;
}

int bt_cmd_paper(int argc, char **argv)
{
    bt_paper_opts_t o;
    bt_paper_opts_defaults(&o);
    const char *sets[BT_CONFIG_MAX_OVERRIDES];
    const char *prov = "binance", *source = "rest", *from = NULL, *ask = NULL;
    o.redis = getenv("BT_REDIS");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_help(stdout);
            return 0;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) {
                fprintf(stderr, "bt paper: %s needs a value; see --help\n", a);
                return 2;
            }
            const char *v = argv[++i];
            long n = 0;
            if (strcmp(a, "--set") == 0 && o.nsets < BT_CONFIG_MAX_OVERRIDES)
                sets[o.nsets++] = v;
            else if (strcmp(a, "--out") == 0)
                o.out = v;
            else if (strcmp(a, "--source") == 0)
                source = v;
            else if (strcmp(a, "--provider") == 0)
                prov = v;
            else if (strcmp(a, "--base-url") == 0)
                o.base = v;
            else if (strcmp(a, "--interval") == 0)
                o.interval = v;
            else if (strcmp(a, "--from") == 0)
                from = v;
            else if (strcmp(a, "--redis") == 0)
                o.redis = v;
            else if (strcmp(a, "--name") == 0)
                o.name = v;
            else if (strcmp(a, "--indicators") == 0)
                o.indicators = v;
            else if (strcmp(a, "--control") == 0)
                o.control = v;
            else if (strcmp(a, "--ask") == 0)
                ask = v;
            else if (strcmp(a, "--poll-ms") == 0 && bt_parse_long(v, 1, 86400000L, &n))
                o.poll_ms = n;
            else if (strcmp(a, "--grace-ms") == 0 && bt_parse_long(v, 0, 86400000L * 7, &n))
                o.grace_ms = n;
            else if (strcmp(a, "--stream-cap") == 0 && bt_parse_long(v, 1, 10000000L, &n))
                o.stream_cap = (size_t)n;
            else if (strcmp(a, "--idle-exit") == 0 && bt_parse_long(v, 0, 1000000000L, &n))
                o.idle_exit = n;
            else if (strcmp(a, "--max-steps") == 0 && bt_parse_long(v, 0, 2000000000L, &n))
                o.max_steps = n;
            else {
                fprintf(stderr, "bt paper: bad option or value '%s %s'; see --help\n", a, v);
                return 2;
            }
        } else if (o.config) {
            fprintf(stderr, "bt paper: one config only (got '%s' and '%s')\n", o.config, a);
            return 2;
        } else {
            o.config = a;
        }
    }
    o.sets = sets;
    if (ask) {
        if (!o.control || o.config) {
            fprintf(stderr, "bt paper: --ask needs --control EP and no config; see --help\n");
            return 2;
        }
        return s_ask(o.control, ask);
    }
    if (!o.config) {
        s_help(stderr);
        return 2;
    }
    if (strcmp(source, "redis") == 0)
        o.from_redis = true;
    else if (strcmp(source, "rest") != 0) {
        fprintf(stderr, "bt paper: --source must be rest or redis\n");
        return 2;
    }
    o.prov = bt_provider_find(prov);
    if (!o.prov) {
        fprintf(stderr, "bt paper: unknown provider '%s' (yahoo, binance)\n", prov);
        return 2;
    }
    if (!o.base)
        o.base = getenv(o.prov->base_env);
    if (!o.base || !*o.base)
        o.base = o.prov->base_url;
    if (o.prov->key_env && getenv(o.prov->key_env) && *getenv(o.prov->key_env))
        o.api_key = getenv(o.prov->key_env);
    if (from && !bt_time_parse(from, strlen(from), &o.from)) {
        fprintf(stderr, "bt paper: --from %s: expected YYYY-MM-DD[ HH:MM[:SS]]\n", from);
        return 2;
    }
    if (o.redis && !*o.redis)
        o.redis = NULL;
    bt_errbuf_t eb;
    bt_err_t e = bt_paper_run(&o, &eb);
    if (e != BT_OK) {
        fprintf(stderr, "bt paper: %s\n", eb.msg);
        return e == BT_ECONFIG || e == BT_EINVAL ? 2 : 1;
    }
    return 0;
}
