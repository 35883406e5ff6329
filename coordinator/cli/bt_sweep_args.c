#include "bt_sweep_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bt_parse.h"
#include "bt_log.h"
#include "bt_wire.h"

static int s_parse_long(const char *opt, const char *s, long min, long max, long *out)
{
    long v = 0;
    if (!bt_parse_long(s, min, max, &v)) {
        fprintf(stderr, "bt sweep: %s wants a whole number in %ld..%ld, got '%s'\n", opt, min, max,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

int bt_sweep_args_parse(int argc, char **argv, bt_sweep_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->run.workers = -1;
    a->run.threads = 1;
    a->run.lease_ms = 10000;
    a->run.heartbeat_ms = 1000;
    a->run.max_attempts = 3;
    a->run.idle_timeout_s = 300;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0)
            return 1;
        if (strcmp(o, "--allow-huge") == 0) {
            a->run.allow_huge = true;
            continue;
        }
        if (strcmp(o, "--keep-invalid") == 0) {
            a->run.keep_invalid = true;
            continue;
        }
        if (strcmp(o, "--insecure") == 0) {
            a->run.insecure = true;
            continue;
        }
        if (strcmp(o, "--trivial") == 0) {
            a->run.trivial = true;
            continue;
        }
        if (strcmp(o, "--no-fast") == 0) {
            a->run.no_fast = true;
            continue;
        }
        if (o[0] != '-') {
            if (a->config_path) {
                fprintf(stderr, "bt sweep: one CONFIG only (got '%s' and '%s')\n", a->config_path,
                        o);
                return 2;
            }
            a->config_path = o;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bt sweep: %s needs a value; see 'bt sweep --help'\n", o);
            return 2;
        }
        i++;
        int rc = 0;
        if (strcmp(o, "--set") == 0) {
            if (a->run.nsets == BT_CONFIG_MAX_OVERRIDES) {
                fprintf(stderr, "bt sweep: more than %d --set options\n", BT_CONFIG_MAX_OVERRIDES);
                return 2;
            }
            if (strlen(v) > BT_WIRE_SET_MAX) {
                fprintf(stderr, "bt sweep: --set %.40s...: %zu bytes, the limit is %u\n", v,
                        strlen(v), BT_WIRE_SET_MAX);
                return 2;
            }
            a->run.sets[a->run.nsets++] = v;
        } else if (strcmp(o, "--out") == 0)
            a->run.out_dir = v;
        else if (strcmp(o, "--resume") == 0)
            a->resume_dir = v;
        else if (strcmp(o, "--bind") == 0)
            a->run.bind = v;
        else if (strcmp(o, "--keys") == 0)
            a->run.keys_dir = v;
        else if (strcmp(o, "--workers") == 0)
            rc = s_parse_long(o, v, 0, 1024, &a->run.workers);
        else if (strcmp(o, "--threads") == 0)
            rc = s_parse_long(o, v, 1, 4096, &a->run.threads), a->given |= BT_SWEEP_GIVEN_THREADS;
        else if (strcmp(o, "--lease-ms") == 0)
            rc = s_parse_long(o, v, 50, 3600L * 1000, &a->run.lease_ms),
            a->given |= BT_SWEEP_GIVEN_LEASE;
        else if (strcmp(o, "--heartbeat-ms") == 0)
            rc = s_parse_long(o, v, 10, 600L * 1000, &a->run.heartbeat_ms),
            a->given |= BT_SWEEP_GIVEN_HEARTBEAT;
        else if (strcmp(o, "--max-attempts") == 0)
            rc = s_parse_long(o, v, 1, 100, &a->run.max_attempts),
            a->given |= BT_SWEEP_GIVEN_ATTEMPTS;
        else if (strcmp(o, "--idle-timeout") == 0)
            rc = s_parse_long(o, v, 0, 86400L * 365, &a->run.idle_timeout_s),
            a->given |= BT_SWEEP_GIVEN_IDLE;
        else if (strcmp(o, "--job-timeout") == 0)
            rc = s_parse_long(o, v, 0, 86400L * 365, &a->run.job_timeout_s),
            a->given |= BT_SWEEP_GIVEN_JOB_TIMEOUT;
        else if (strcmp(o, "--log-level") == 0) {
            int lv = bt_log_level_parse(v);
            if (lv < 0) {
                fprintf(stderr, "bt sweep: --log-level wants error, warn, info or debug\n");
                return 2;
            }
            bt_log_set_level((bt_log_level_t)lv);
        } else {
            fprintf(stderr, "bt sweep: unknown option '%s'; see 'bt sweep --help'\n", o);
            return 2;
        }
        if (rc != 0)
            return 2;
    }
    if (!a->config_path) {
        fprintf(stderr, "bt sweep: CONFIG.yaml is required; see 'bt sweep --help'\n");
        return 2;
    }
    if (a->resume_dir && a->run.out_dir && strcmp(a->resume_dir, a->run.out_dir) != 0) {
        fprintf(stderr, "bt sweep: --resume DIR already names the output folder; drop --out\n");
        return 2;
    }
    if (a->resume_dir)
        a->run.out_dir = a->resume_dir;
    a->run.resume = a->resume_dir != NULL;
    if (!a->run.out_dir)
        a->run.out_dir = "out/sweep";
    if (a->run.heartbeat_ms * 2 > a->run.lease_ms) {
        fprintf(stderr, "bt sweep: --lease-ms (%ld) must be at least twice --heartbeat-ms (%ld)\n",
                a->run.lease_ms, a->run.heartbeat_ms);
        return 2;
    }
    return 0;
}

void bt_sweep_args_quote(FILE *f, const char *s)
{
    bool safe = s[0] != '\0';
    for (const char *p = s; *p && safe; p++)
        safe = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                      "_-./:=,+@%",
                      *p) != NULL;
    if (safe) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

/* " --opt VALUE" with VALUE quoted. */
static void s_opt(FILE *f, const char *opt, const char *value)
{
    fprintf(f, " %s ", opt);
    bt_sweep_args_quote(f, value);
}

static void s_opt_long(FILE *f, const char *opt, long value)
{
    fprintf(f, " %s %ld", opt, value);
}

void bt_sweep_args_hint(FILE *f, const char *prog, const bt_sweep_args_t *a)
{
    fprintf(f, "%s sweep ", prog);
    bt_sweep_args_quote(f, a->config_path);
    for (size_t i = 0; i < a->run.nsets; i++)
        s_opt(f, "--set", a->run.sets[i]);
    if (a->run.bind)
        s_opt(f, "--bind", a->run.bind);
    if (a->run.workers >= 0)
        s_opt_long(f, "--workers", a->run.workers);
    if (a->given & BT_SWEEP_GIVEN_THREADS)
        s_opt_long(f, "--threads", a->run.threads);
    if (a->run.keys_dir)
        s_opt(f, "--keys", a->run.keys_dir);
    if (a->run.insecure)
        fputs(" --insecure", f);
    if (a->given & BT_SWEEP_GIVEN_LEASE)
        s_opt_long(f, "--lease-ms", a->run.lease_ms);
    if (a->given & BT_SWEEP_GIVEN_HEARTBEAT)
        s_opt_long(f, "--heartbeat-ms", a->run.heartbeat_ms);
    if (a->given & BT_SWEEP_GIVEN_ATTEMPTS)
        s_opt_long(f, "--max-attempts", a->run.max_attempts);
    if (a->given & BT_SWEEP_GIVEN_IDLE)
        s_opt_long(f, "--idle-timeout", a->run.idle_timeout_s);
    if (a->given & BT_SWEEP_GIVEN_JOB_TIMEOUT)
        s_opt_long(f, "--job-timeout", a->run.job_timeout_s);
    if (a->run.allow_huge)
        fputs(" --allow-huge", f);
    if (a->run.keep_invalid)
        fputs(" --keep-invalid", f);
    if (a->run.trivial)
        fputs(" --trivial", f);
    if (a->run.no_fast)
        fputs(" --no-fast", f);
    s_opt(f, "--resume", a->run.out_dir);
    fputc('\n', f);
}
