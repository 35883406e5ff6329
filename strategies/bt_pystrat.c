/* bt_pystrat — opens bt_python.so on the first Python strategy and forwards
 * to it (see bt_pystrat.h, bt_pymod.h). */
#include "bt_pystrat.h"
#include "bt_pymod.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef BT_PYMOD_INSTALLED
#define BT_PYMOD_INSTALLED "../lib/backtester" /* from the programs' folder (cmake sets it) */
#endif
#define S_MODULE "bt_python.so"

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static const bt_pymod_api_t *_Atomic s_api; /* NULL until opened */
static char s_why[3 * PATH_MAX];              /* why opening failed */
static _Atomic double s_limit = -1.0;       /* a limit set before the module was opened */

/* The folder of this program (from /proc/self/exe) into dir. */
static bool s_exe_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0)
        return false;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return true;
}

static void s_open(void)
{
    char dir[PATH_MAX], p1[PATH_MAX + 32], p2[PATH_MAX + 64];
    if (!s_exe_dir(dir, sizeof dir)) {
        snprintf(s_why, sizeof s_why, "cannot find this program's folder (/proc/self/exe)");
        return;
    }
    snprintf(p1, sizeof p1, "%s/%s", dir, S_MODULE);
    snprintf(p2, sizeof p2, "%s/%s/%s", dir, BT_PYMOD_INSTALLED, S_MODULE);
    const char *path = access(p1, R_OK) == 0 ? p1 : access(p2, R_OK) == 0 ? p2 : NULL;
    if (!path) {
        snprintf(s_why, sizeof s_why,
                 "Python strategies need %s (the embedded Python), found neither %s nor %s; "
                 "rebuild (scripts/build) or reinstall (cmake --install)",
                 S_MODULE, p1, p2);
        return;
    }
    /* global: the extension modules Python imports (numpy, ...) take libpython's symbols from
     * the process */
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        snprintf(s_why, sizeof s_why, "cannot open %s: %s", path, dlerror());
        return;
    }
    const bt_pymod_api_t *(*entry)(void) = NULL;
    *(void **)&entry = dlsym(h, BT_PYMOD_ENTRY);
    const bt_pymod_api_t *api = entry ? entry() : NULL;
    if (!api || api->abi != BT_PYMOD_ABI) {
        snprintf(s_why, sizeof s_why,
                 "%s is not this build's Python module (%s); rebuild or reinstall bt", path,
                 api ? "another version" : "no " BT_PYMOD_ENTRY);
        dlclose(h);
        return;
    }
    double lim = atomic_load(&s_limit);
    if (lim >= 0)
        api->set_call_limit(lim);
    atomic_store(&s_api, api); /* the module stays open for the process */
}

const bt_strategy_t *bt_pystrat_load(const char *path, const char *cls, bt_errbuf_t *eb)
{
    pthread_once(&s_once, s_open);
    const bt_pymod_api_t *api = atomic_load(&s_api);
    if (!api) {
        bt_errf(eb, BT_ESTRATEGY, "python strategy %s: %s", cls ? cls : "", s_why);
        return NULL;
    }
    return api->load(path, cls, eb);
}

const bt_strategy_t *bt_pystrat_load_spec(const char *spec, bt_errbuf_t *eb)
{
    size_t pl = strlen(BT_PYSTRAT_PREFIX);
    const char *c = spec && strncmp(spec, BT_PYSTRAT_PREFIX, pl) == 0 ? spec + pl : NULL;
    const char *colon = c ? strchr(c, ':') : NULL;
    if (!colon || colon == c || colon[1] == '\0' || colon - c > 255) {
        bt_errf(eb, BT_EINVAL, "'%s' is not python:CLASS:PATH", spec ? spec : "");
        return NULL;
    }
    char cls[256];
    snprintf(cls, sizeof cls, "%.*s", (int)(colon - c), c);
    return bt_pystrat_load(colon + 1, cls, eb);
}

bool bt_pystrat_is(const bt_strategy_t *s)
{
    const bt_pymod_api_t *api = atomic_load(&s_api);
    return api && api->is(s); /* not opened: nothing was loaded from it */
}

bt_err_t bt_pystrat_take_error(const bt_strategy_t *s, bt_errbuf_t *eb)
{
    const bt_pymod_api_t *api = atomic_load(&s_api);
    return api ? api->take_error(s, eb) : BT_OK;
}

void bt_pystrat_set_call_limit(double seconds)
{
    atomic_store(&s_limit, seconds);
    const bt_pymod_api_t *api = atomic_load(&s_api);
    if (api)
        api->set_call_limit(seconds);
}

void bt_pystrat_release_all(void)
{
    const bt_pymod_api_t *api = atomic_load(&s_api);
    if (api)
        api->release_all();
}
