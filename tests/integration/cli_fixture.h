/* cli_fixture — a temporary folder per test and the shell helpers of the
 * integration tests that drive `bt` by command line (test_run_cli,
 * test_from_sweep). Include once per test program; CLI_FIXTURE_PREFIX names
 * the folder, e.g. "/tmp/bt_test_run_XXXXXX". */
#ifndef CLI_FIXTURE_H
#define CLI_FIXTURE_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char s_dir[256];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "%s", CLI_FIXTURE_PREFIX);
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    (void)system(cmd);
}

/* Runs a shell command (paths here have no spaces or quotes), stdout and
 * stderr to DIR/out.txt and DIR/err.txt; returns the exit status. */
static int s_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_sh(const char *fmt, ...)
{
    char cmd[4096], full[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd %s && %s >%s/out.txt 2>%s/err.txt", s_dir, cmd, s_dir, s_dir);
    int st = system(full);
    cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
    return WEXITSTATUS(st);
}

/* Whole file DIR/name into a malloc'ed string ("" if missing). */
static char *s_slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static void s_write(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static bool s_exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    return stat(path, &st) == 0;
}

#endif
