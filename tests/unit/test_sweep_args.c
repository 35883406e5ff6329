/* Unit tests for coordinator/cli/bt_sweep_args: option parsing and the
 * "continue with:" command with its shell quoting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_sweep_args.h"

/* What bt_sweep_args_quote writes for s. */
static char *s_quoted(const char *s)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cr_assert(f);
    bt_sweep_args_quote(f, s);
    fclose(f);
    return buf;
}

/* Known answers from POSIX sh quoting rules (XCU 2.2): inside single quotes
 * every byte is literal, so a quote is closed, escaped and reopened: '\''.
 * (tests/integration/test_sweep_resume.c pastes real hints into sh.) */
Test(sweep_args, quoting_for_the_shell)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"configs/sma_cross.yaml", "configs/sma_cross.yaml"},
        {"execution.commission_pct=0.5", "execution.commission_pct=0.5"},
        {"tcp://*:5555", "'tcp://*:5555'"},
        {"a b", "'a b'"},
        {"it's", "'it'\\''s'"},
        {"$HOME", "'$HOME'"},
        {"data.symbols=[A, B]", "'data.symbols=[A, B]'"},
        {"", "''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *q = s_quoted(cases[i].in);
        cr_assert_str_eq(q, cases[i].out, "%s", cases[i].in);
        free(q);
    }
}

Test(sweep_args, hint_repeats_every_option_given)
{
    char *argv[] = {"sweep", "c.yaml", "--set", "params.fast=5", "--set", "a=b c",
                    "--bind", "tcp://*:5555", "--workers", "0", "--threads", "2",
                    "--lease-ms", "3000", "--heartbeat-ms", "200", "--max-attempts", "5",
                    "--allow-huge", "--out", "o", "--log-level", "warn"};
    bt_sweep_args_t a;
    cr_assert_eq(bt_sweep_args_parse(sizeof argv / sizeof argv[0], argv, &a), 0);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    bt_sweep_args_hint(f, "bt", &a);
    fclose(f);
    cr_assert_str_eq(buf, "bt sweep c.yaml --set params.fast=5 --set 'a=b c' --bind "
                          "'tcp://*:5555' --workers 0 --threads 2 --lease-ms 3000 "
                          "--heartbeat-ms 200 --max-attempts 5 --allow-huge --resume o\n");
    free(buf);
    /* Defaults are not repeated: a plain local sweep resumes as one. */
    char *plain[] = {"sweep", "c.yaml", "--out", "o"};
    cr_assert_eq(bt_sweep_args_parse(4, plain, &a), 0);
    f = open_memstream(&buf, &n);
    bt_sweep_args_hint(f, "bt", &a);
    fclose(f);
    cr_assert_str_eq(buf, "bt sweep c.yaml --resume o\n");
    free(buf);
    cr_assert(a.run.workers == -1 && a.run.lease_ms == 10000 && !a.run.resume);
}

/* The trust options come back in the hint, in the documented order
 * (docs/sweep.md "continue with"); defaults are not repeated. */
Test(sweep_args, hint_repeats_keys_and_timeouts)
{
    char *argv[] = {"sweep", "c.yaml", "--job-timeout", "90", "--insecure", "--keys", "my keys",
                    "--idle-timeout", "0", "--bind", "tcp://*:1", "--out", "o"};
    bt_sweep_args_t a;
    cr_assert_eq(bt_sweep_args_parse(sizeof argv / sizeof argv[0], argv, &a), 0);
    cr_assert_str_eq(a.run.keys_dir, "my keys");
    cr_assert(a.run.insecure);
    cr_assert_eq(a.run.idle_timeout_s, 0);
    cr_assert_eq(a.run.job_timeout_s, 90);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    bt_sweep_args_hint(f, "bt", &a);
    fclose(f);
    cr_assert_str_eq(buf, "bt sweep c.yaml --bind 'tcp://*:1' --keys 'my keys' --insecure "
                          "--idle-timeout 0 --job-timeout 90 --resume o\n");
    free(buf);
    char *plain[] = {"sweep", "c.yaml"};
    cr_assert_eq(bt_sweep_args_parse(2, plain, &a), 0);
    cr_assert_null(a.run.keys_dir);
    cr_assert_eq(a.run.idle_timeout_s, 300);
    cr_assert_eq(a.run.job_timeout_s, 0);
}

/* --no-fast (the per-point path) is how the sweep runs, so the hint repeats
 * it; a sweep without it resumes without it. */
Test(sweep_args, hint_repeats_no_fast)
{
    char *argv[] = {"sweep", "c.yaml", "--no-fast", "--workers", "2", "--out", "o"};
    bt_sweep_args_t a;
    cr_assert_eq(bt_sweep_args_parse(sizeof argv / sizeof argv[0], argv, &a), 0);
    cr_assert(a.run.no_fast);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    bt_sweep_args_hint(f, "bt", &a);
    fclose(f);
    cr_assert_str_eq(buf, "bt sweep c.yaml --workers 2 --no-fast --resume o\n");
    free(buf);
    char *plain[] = {"sweep", "c.yaml", "--out", "o"};
    cr_assert_eq(bt_sweep_args_parse(4, plain, &a), 0);
    cr_assert(!a.run.no_fast);
}
