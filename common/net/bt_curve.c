#include "bt_curve.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_fs.h"

#define S_KEY_TXT 40    /* Z85 text of a 32-byte key */
#define S_KEY_BIN 32    /* binary key */
#define S_FILE_MAX 4096 /* a key file is a few hundred bytes */

struct bt_curve_auth_t {
    zactor_t *actor; /* czmq zauth, the process's ZAP handler */
    size_t nkeys;    /* NAME.key files seen at start */
};

/* zauth binds the one ZAP endpoint of the process: a second one would abort. */
static bool s_auth_running;

bool bt_curve_available(void)
{
    return zsys_has_curve();
}

bool bt_curve_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > BT_CURVE_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool s_is_zero(const byte *key)
{
    for (size_t i = 0; i < S_KEY_BIN; i++) {
        if (key[i])
            return false;
    }
    return true;
}

static bt_err_t s_need_curve(bt_errbuf_t *eb)
{
    if (bt_curve_available())
        return BT_OK;
    return bt_errf(eb, BT_EINTERNAL,
                   "this libzmq was built without CURVE (libsodium); install "
                   "Debian's libzmq5, which has it, and rebuild");
}

/* Reads one key ("public-key" or "secret-key") of a czmq certificate file
 * into bin. Returns BT_ENOTFOUND (no message) if the file has no such key. */
static bt_err_t s_read_key(zconfig_t *root, const char *path, const char *which, byte *bin,
                           bt_errbuf_t *eb)
{
    char item[32];
    snprintf(item, sizeof item, "/curve/%s", which);
    const char *txt = zconfig_get(root, item, NULL);
    if (txt == NULL)
        return BT_ENOTFOUND;
    if (strlen(txt) != S_KEY_TXT || zmq_z85_decode(bin, txt) == NULL)
        return bt_errf(eb, BT_EFORMAT,
                       "%s: the curve %s is not a 40-character Z85 key; the file is damaged: "
                       "make a new pair with 'bt keygen'",
                       path, which);
    return BT_OK;
}

/* Loads a czmq certificate file (capped size, must parse). */
static zconfig_t *s_load_file(const char *path, bt_errbuf_t *eb)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        bt_errf(eb, BT_ENOTFOUND, "%s: %s (make a key pair with 'bt keygen DIR --name NAME')", path,
                strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        bt_errf(eb, BT_EFORMAT,
                "%s is not a regular file; give the NAME.key file written by "
                "'bt keygen'",
                path);
        return NULL;
    }
    if (st.st_size > S_FILE_MAX) {
        bt_errf(eb, BT_ELIMIT,
                "%s has %lld bytes; a key file has a few hundred: is it the "
                "NAME.key file written by 'bt keygen'?",
                path, (long long)st.st_size);
        return NULL;
    }
    zconfig_t *root = zconfig_load(path);
    if (root == NULL)
        bt_errf(eb, BT_EFORMAT,
                "%s cannot be read as a key file (czmq certificate format); give "
                "the NAME.key file written by 'bt keygen'",
                path);
    return root;
}

zcert_t *bt_curve_load_public(const char *public_path, bt_errbuf_t *eb)
{
    if (s_need_curve(eb) != BT_OK)
        return NULL;
    zconfig_t *root = s_load_file(public_path, eb);
    if (root == NULL)
        return NULL;
    byte pub[S_KEY_BIN] = {0}, sec[S_KEY_BIN] = {0};
    zcert_t *cert = NULL;
    bt_err_t rc = s_read_key(root, public_path, "public-key", pub, eb);
    if (rc == BT_ENOTFOUND) {
        bt_errf(eb, BT_EFORMAT,
                "%s has no curve public-key; give the NAME.key file written by "
                "'bt keygen'",
                public_path);
    } else if (rc == BT_OK && zconfig_get(root, "/curve/secret-key", NULL) != NULL) {
        /* a secret under a public name is about to be copied around */
        bt_errf(eb, BT_EFORMAT,
                "%s holds a secret key, so it is a NAME.key_secret file under a "
                "public name; copy only the NAME.key file, and make a new pair "
                "with 'bt keygen' if this one was shared",
                public_path);
    } else if (rc == BT_OK) {
        cert = zcert_new_from(pub, sec);
        if (cert == NULL)
            bt_errf(eb, BT_ENOMEM, "out of memory loading %s", public_path);
    }
    zconfig_destroy(&root);
    return cert;
}

zcert_t *bt_curve_load_pair(const char *public_path, bt_errbuf_t *eb)
{
    char secret_path[PATH_MAX];
    int w = snprintf(secret_path, sizeof secret_path, "%s_secret", public_path);
    if (w < 0 || (size_t)w >= sizeof secret_path) {
        bt_errf(eb, BT_ELIMIT, "key path too long: %s", public_path);
        return NULL;
    }
    if (!s_ends_with(public_path, BT_CURVE_PUBLIC_EXT)) {
        bt_errf(eb, BT_EINVAL,
                "%s: give the public file NAME.key of a pair written by 'bt "
                "keygen' (its secret NAME.key_secret must be beside it)",
                public_path);
        return NULL;
    }
    zcert_t *pub = bt_curve_load_public(public_path, eb);
    if (pub == NULL)
        return NULL;
    struct stat st;
    if (stat(secret_path, &st) != 0) {
        bt_errf(eb, BT_ENOTFOUND,
                "%s: %s (the secret half of %s; it stays on the machine where "
                "'bt keygen' wrote it)",
                secret_path, strerror(errno), public_path);
        zcert_destroy(&pub);
        return NULL;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
        bt_errf(eb, BT_EINVAL,
                "%s can be read or written by others (mode %03o); run 'chmod 600 "
                "%s', and make a new pair if others may have read it",
                secret_path, (unsigned)(st.st_mode & 0777), secret_path);
        zcert_destroy(&pub);
        return NULL;
    }
    zconfig_t *root = s_load_file(secret_path, eb);
    if (root == NULL) {
        zcert_destroy(&pub);
        return NULL;
    }
    byte spub[S_KEY_BIN], ssec[S_KEY_BIN];
    zcert_t *pair = NULL;
    bt_err_t rc = s_read_key(root, secret_path, "public-key", spub, eb);
    if (rc == BT_OK)
        rc = s_read_key(root, secret_path, "secret-key", ssec, eb);
    if (rc == BT_ENOTFOUND) {
        bt_errf(eb, BT_EFORMAT,
                "%s lacks its public-key or secret-key; make a new pair with 'bt "
                "keygen'",
                secret_path);
    } else if (rc == BT_OK) {
        /* the secret must be the one whose public half is NAME.key */
        char sec_txt[S_KEY_TXT + 1], derived[S_KEY_TXT + 1];
        zmq_z85_encode(sec_txt, ssec, S_KEY_BIN);
        if (zmq_curve_public(derived, sec_txt) != 0 ||
            strcmp(derived, zcert_public_txt(pub)) != 0 ||
            memcmp(spub, zcert_public_key(pub), S_KEY_BIN) != 0) {
            bt_errf(eb, BT_EFORMAT,
                    "%s and %s are not one key pair (the public file was replaced "
                    "or mixed up); make a new pair with 'bt keygen'",
                    public_path, secret_path);
        } else {
            pair = zcert_new_from(spub, ssec);
            if (pair == NULL)
                bt_errf(eb, BT_ENOMEM, "out of memory loading %s", secret_path);
        }
    }
    zconfig_destroy(&root);
    zcert_destroy(&pub);
    return pair;
}

/* Creates path empty with O_EXCL (never through a symlink). */
static bt_err_t s_create_excl(const char *path, mode_t mode, bt_errbuf_t *eb)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return bt_errf(eb, BT_EEXIST,
                           "%s exists; 'bt keygen' never overwrites a key (remove "
                           "it first, or choose another --name)",
                           path);
        return bt_errf(eb, BT_EIO, "cannot create %s: %s", path, strerror(errno));
    }
    close(fd);
    return BT_OK;
}

bt_err_t bt_curve_keygen(const char *dir, const char *name, bt_errbuf_t *eb)
{
    bt_err_t rc = s_need_curve(eb);
    if (rc != BT_OK)
        return rc;
    if (!bt_curve_name_ok(name))
        return bt_errf(eb, BT_EINVAL,
                       "key name '%.80s' is not 1..%d of letters, digits, '.', '_' "
                       "and '-' (not starting with '.' or '-')",
                       name, BT_CURVE_NAME_MAX);
    char pub[PATH_MAX], sec[PATH_MAX];
    int w1 = snprintf(pub, sizeof pub, "%s/%s%s", dir, name, BT_CURVE_PUBLIC_EXT);
    int w2 = snprintf(sec, sizeof sec, "%s/%s%s", dir, name, BT_CURVE_SECRET_EXT);
    if (w1 < 0 || w2 < 0 || (size_t)w2 >= sizeof sec || (size_t)w1 >= sizeof pub)
        return bt_errf(eb, BT_ELIMIT, "key folder path too long: %s", dir);
    struct stat st;
    if (lstat(pub, &st) == 0 || lstat(sec, &st) == 0)
        return bt_errf(eb, BT_EEXIST,
                       "%s exists; 'bt keygen' never overwrites a key (remove it "
                       "first, or choose another --name)",
                       lstat(pub, &st) == 0 ? pub : sec);
    rc = bt_fs_mkdir_p(dir, eb);
    if (rc != BT_OK)
        return rc;
    zcert_t *cert = zcert_new();
    if (cert == NULL)
        return bt_errf(eb, BT_EINTERNAL, "cannot make a CURVE key pair (zmq_curve_keypair failed)");
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "created-by", "bt keygen");
    /* Both files are created empty first: O_EXCL makes the no-overwrite
     * promise race-free and gives the secret its 0600 mode from birth;
     * zcert_save_* then rewrites them in place (fopen "w" keeps the mode). */
    rc = s_create_excl(sec, 0600, eb);
    if (rc == BT_OK) {
        rc = s_create_excl(pub, 0644, eb);
        if (rc != BT_OK)
            unlink(sec);
    }
    if (rc == BT_OK) {
        if (zcert_save_secret(cert, sec) != 0 || chmod(sec, 0600) != 0 ||
            zcert_save_public(cert, pub) != 0) {
            rc = bt_errf(eb, BT_EIO, "cannot write %s or %s: %s", sec, pub, strerror(errno));
            unlink(sec);
            unlink(pub);
        }
    }
    zcert_destroy(&cert);
    if (rc != BT_OK)
        return rc;
    zcert_t *check = bt_curve_load_pair(pub, eb); /* read back what a user will load */
    if (check == NULL)
        return eb ? eb->code : BT_EIO;
    zcert_destroy(&check);
    return BT_OK;
}

/* Checks the allow-list folder and counts its keys: only NAME.key files
 * (hidden files aside, which zauth skips too); a secret file, a folder or
 * any other file is refused, because zauth would admit any certificate
 * file it finds, whatever its name, in the folder or below. */
static bt_err_t s_scan_allow(const char *dir, size_t *nkeys, bt_errbuf_t *eb)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return bt_errf(eb, BT_ENOTFOUND,
                       "allow-list folder %s: %s (create it and copy each "
                       "worker's public NAME.key into it)",
                       dir, strerror(errno));
    bt_err_t rc = BT_OK;
    size_t n = 0;
    struct dirent *e;
    while (rc == BT_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        int w = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (w < 0 || (size_t)w >= sizeof path) {
            rc = bt_errf(eb, BT_ELIMIT, "path too long in %s: %s", dir, e->d_name);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = bt_errf(eb, BT_EIO, "%s: %s", path, strerror(errno));
        } else if (s_ends_with(e->d_name, BT_CURVE_SECRET_EXT)) {
            rc = bt_errf(eb, BT_EINVAL,
                         "%s: a secret key in the allow-list folder; only public "
                         "NAME.key files belong there: remove it (and if it was "
                         "copied from a worker, give that worker a new pair)",
                         path);
        } else if (!S_ISREG(st.st_mode) || !s_ends_with(e->d_name, BT_CURVE_PUBLIC_EXT)) {
            rc = bt_errf(eb, BT_EINVAL,
                         "%s: only workers' public NAME.key files belong in the "
                         "allow-list folder (the coordinator would admit any key "
                         "file here); move it elsewhere",
                         path);
        } else {
            zcert_t *c = bt_curve_load_public(path, eb);
            if (c == NULL)
                rc = eb ? eb->code : BT_EFORMAT;
            zcert_destroy(&c);
            n++;
        }
    }
    closedir(d);
    *nkeys = n;
    return rc;
}

bt_curve_auth_t *bt_curve_auth_new(const char *allow_dir, bt_errbuf_t *eb)
{
    if (s_need_curve(eb) != BT_OK)
        return NULL;
    if (strcmp(allow_dir, CURVE_ALLOW_ANY) == 0) {
        bt_errf(eb, BT_EINVAL,
                "allow-list folder '%s' would admit any key; give a folder of "
                "workers' NAME.key files",
                allow_dir);
        return NULL;
    }
    if (s_auth_running) {
        bt_errf(eb, BT_EINTERNAL, "an allow-list is already running in this process");
        return NULL;
    }
    char real[PATH_MAX];
    if (realpath(allow_dir, real) == NULL) {
        bt_errf(eb, BT_ENOTFOUND,
                "allow-list folder %s: %s (create it and copy each worker's "
                "public NAME.key into it)",
                allow_dir, strerror(errno));
        return NULL;
    }
    size_t nkeys = 0;
    if (s_scan_allow(real, &nkeys, eb) != BT_OK)
        return NULL;
    bt_curve_auth_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    self->nkeys = nkeys;
    self->actor = zactor_new(zauth, NULL);
    if (self->actor == NULL) {
        free(self);
        bt_errf(eb, BT_EINTERNAL, "cannot start the ZeroMQ authenticator (zauth)");
        return NULL;
    }
    zstr_sendx(self->actor, "CURVE", real, NULL);
    zsock_wait(self->actor);
    s_auth_running = true;
    return self;
}

size_t bt_curve_auth_nkeys(const bt_curve_auth_t *self)
{
    return self->nkeys;
}

void bt_curve_auth_destroy(bt_curve_auth_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    bt_curve_auth_t *self = *self_p;
    zactor_destroy(&self->actor);
    s_auth_running = false;
    free(self);
    *self_p = NULL;
}

bt_err_t bt_curve_server_apply(zsock_t *sock, zcert_t *server_pair, const bt_curve_auth_t *auth,
                               bt_errbuf_t *eb)
{
    assert(sock && server_pair && auth);
    bt_err_t rc = s_need_curve(eb);
    if (rc != BT_OK)
        return rc;
    if (s_is_zero(zcert_secret_key(server_pair)))
        return bt_errf(eb, BT_EINVAL,
                       "the coordinator's key has no secret half; load it with its "
                       "NAME.key_secret beside NAME.key");
    /* With the domain enforced, a missing ZAP handler refuses every client
     * instead of admitting all of them. */
    zsock_set_zap_domain(sock, BT_CURVE_ZAP_DOMAIN);
    zsock_set_zap_enforce_domain(sock, 1);
    zcert_apply(server_pair, sock);
    zsock_set_curve_server(sock, 1);
    return BT_OK;
}

bt_err_t bt_curve_client_apply(zsock_t *sock, zcert_t *own_pair, zcert_t *server_public,
                               bt_errbuf_t *eb)
{
    assert(sock && own_pair && server_public);
    bt_err_t rc = s_need_curve(eb);
    if (rc != BT_OK)
        return rc;
    if (s_is_zero(zcert_secret_key(own_pair)))
        return bt_errf(eb, BT_EINVAL,
                       "the worker's key has no secret half; load it with its "
                       "NAME.key_secret beside NAME.key");
    zcert_apply(own_pair, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(server_public));
    return BT_OK;
}

/* DIR/NAME.key into buf. */
static bt_err_t s_key_path(char *buf, size_t cap, const char *dir, const char *name,
                           bt_errbuf_t *eb)
{
    int w = snprintf(buf, cap, "%s/%s%s", dir, name, BT_CURVE_PUBLIC_EXT);
    if (w < 0 || (size_t)w >= cap)
        return bt_errf(eb, BT_ELIMIT, "key folder path too long: %s", dir);
    return BT_OK;
}

bt_err_t bt_curve_server_setup(zsock_t *router, const char *keys_dir, bt_curve_auth_t **auth_out,
                               bt_errbuf_t *eb)
{
    char path[PATH_MAX], allow[PATH_MAX];
    bt_err_t rc = s_key_path(path, sizeof path, keys_dir, BT_CURVE_COORDINATOR, eb);
    if (rc != BT_OK)
        return rc;
    int w = snprintf(allow, sizeof allow, "%s/%s", keys_dir, BT_CURVE_ALLOW_DIR);
    if (w < 0 || (size_t)w >= sizeof allow)
        return bt_errf(eb, BT_ELIMIT, "key folder path too long: %s", keys_dir);
    zcert_t *pair = bt_curve_load_pair(path, eb);
    if (pair == NULL)
        return eb ? eb->code : BT_EIO;
    bt_curve_auth_t *auth = bt_curve_auth_new(allow, eb);
    if (auth == NULL) {
        zcert_destroy(&pair);
        return eb ? eb->code : BT_EIO;
    }
    rc = bt_curve_server_apply(router, pair, auth, eb);
    zcert_destroy(&pair);
    if (rc != BT_OK) {
        bt_curve_auth_destroy(&auth);
        return rc;
    }
    *auth_out = auth;
    return BT_OK;
}

bt_err_t bt_curve_client_setup(zsock_t *dealer, const char *keys_dir, bt_errbuf_t *eb)
{
    char own[PATH_MAX], server[PATH_MAX];
    bt_err_t rc = s_key_path(own, sizeof own, keys_dir, BT_CURVE_WORKER, eb);
    if (rc == BT_OK)
        rc = s_key_path(server, sizeof server, keys_dir, BT_CURVE_COORDINATOR, eb);
    if (rc != BT_OK)
        return rc;
    zcert_t *pair = bt_curve_load_pair(own, eb);
    if (pair == NULL)
        return eb ? eb->code : BT_EIO;
    zcert_t *pin = bt_curve_load_public(server, eb);
    if (pin == NULL) {
        zcert_destroy(&pair);
        return eb ? eb->code : BT_EIO;
    }
    rc = bt_curve_client_apply(dealer, pair, pin, eb);
    zcert_destroy(&pin);
    zcert_destroy(&pair);
    return rc;
}

bool bt_curve_is_loopback(const char *endpoint)
{
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *hostport = endpoint + 6;
    if (strchr(hostport, ';') != NULL) /* "source;destination" form */
        return false;
    char host[INET6_ADDRSTRLEN + 2];
    size_t n;
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (close == NULL || close[1] != ':')
            return false;
        n = (size_t)(close - hostport - 1);
        if (n == 0 || n >= sizeof host)
            return false;
        memcpy(host, hostport + 1, n);
        host[n] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return false;
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        /* ::ffff:127.x.y.z */
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL)
        return false;
    n = (size_t)(colon - hostport);
    if (n == 0 || n >= sizeof host)
        return false;
    memcpy(host, hostport, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) != 1)
        return false;
    return (ntohl(a4.s_addr) >> 24) == 127;
}
