/* bt_build: the build id is 64 hex digits and changes when a source that
 * can change a result changes (cmake/build_id.cmake run on a scratch tree). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_build.h"

Test(build, id_is_sha256_hex)
{
    const char *id = bt_build_id();
    cr_assert_eq(strlen(id), 64);
    for (const char *p = id; *p; p++)
        cr_assert(strchr("0123456789abcdef", *p) != NULL, "not lowercase hex: %s", id);
}

static void s_sh(const char *cmd)
{
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "command failed: %s", cmd);
}

static void s_read(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

Test(build, id_follows_sources_compiler_and_flags)
{
    char dir[] = "/tmp/bt_build_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[1024], a[512], b[512], c[512], d[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/common/engine %s/strategies %s/worker && "
             "echo 'int x;' > %s/common/engine/e.c && echo 'int y;' > %s/strategies/s.c", dir, dir, dir,
             dir, dir);
    s_sh(cmd);
#define RUN(flags, out)                                                                                  \
    snprintf(cmd, sizeof cmd, "cmake -DSRC_ROOT=%s -DOUT=%s/id.c -DCOMPILER=gcc -DFLAGS='%s' -P %s/cmake/build_id.cmake", \
             dir, dir, flags, BT_SOURCE_DIR);                                                            \
    s_sh(cmd);                                                                                           \
    snprintf(cmd, sizeof cmd, "%s/id.c", dir);                                                           \
    s_read(cmd, out, sizeof out)
    RUN("-O2", a);
    RUN("-O2", b);
    cr_assert_str_eq(a, b, "same tree, same id");
    snprintf(cmd, sizeof cmd, "echo 'int y2;' > %s/strategies/s.c", dir);
    s_sh(cmd);
    RUN("-O2", c);
    cr_assert_str_neq(a, c, "a strategy source changed: the id must change");
    RUN("-O0", d);
    cr_assert_str_neq(c, d, "flags changed: the id must change");
#undef RUN
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    s_sh(cmd);
}
