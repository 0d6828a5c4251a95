/*
 * Opening the admin store: MEMORY (SQLite's main database, in memory) and
 * DISK (datadir/sluice.db, attached as schema disk); see layers.c for the
 * tables and admin.h for the layers.
 *
 * admin_store_open() proceeds in order:
 *   1. create the datadir (0700: the file holds passwords) if missing, or
 *      warn when an existing one is open to group or others;
 *   2. note whether sluice.db is new (absent or empty) before SQLite creates it;
 *   3. open MEMORY, create its tables, their runtime_ mirrors and the stats
 *      tables, and pre-fill global_variables with the defaults;
 *   4. only for a new file, run the config script on MEMORY in one
 *      transaction;
 *   5. create a new sluice.db 0600 ourselves (SQLite would use 0644 minus the
 *      umask, and gives its journal and WAL files the database's mode), and
 *      attach it as disk (creating missing tables), then copy DISK to
 *      MEMORY for an existing file, or MEMORY to DISK for a new one. Any
 *      failure after the file was created deletes it again, so the next start
 *      retries the config script on a clean store instead of silently running
 *      with a half-initialised one.
 *
 * The config script is run statement by statement (sqlite3_prepare_v2 with
 * its tail pointer) instead of one sqlite3_exec(): the effect is the same,
 * but we learn which statement failed and can name its line.
 *
 * Error messages quote the failing statement only up to its first string
 * literal, and SQLite messages that would echo a literal are redacted: a
 * literal may be a password (INSERT INTO mysql_users VALUES ('app','secret')).
 * exec*.c use the same helpers for the admin interface.
 */
#include "admin/admin_int.h"
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config script is a handful of INSERTs; anything larger is a mistake. */
#define CONFIG_MAX_BYTES (16 * 1024 * 1024)

void admin_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

const char *admin_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case ADMIN_EIO:
        return "cannot open or create the admin store";
    case ADMIN_ESQL:
        return "SQL statement failed";
    case ADMIN_EINVAL:
        return "invalid configuration value";
    case ADMIN_ENOMEM:
        return "out of memory";
    default:
        return "unknown admin error";
    }
}

/* Used so an excerpt and its line number point at the statement itself
 * rather than the comment before it. */
const char *admin_skip_blank(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");

            p = end ? end + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

static int line_of(const char *script, const char *at)
{
    int line = 1;

    for (const char *p = script; p < at; p++)
        if (*p == '\n')
            line++;
    return line;
}

void admin_excerpt(const char *stmt, char *out, size_t outlen)
{
    size_t n = 0;
    const char *p = stmt;

    while (*p && *p != '\'' && *p != '"' && *p != ';' && n < ADMIN_EXCERPT_MAX && n + 1 < outlen) {
        char c = *p++;

        /* Runs of blanks (line breaks, indentation) become one space. */
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            if (n > 0 && out[n - 1] == ' ')
                continue;
            c = ' ';
        }
        out[n++] = c;
    }
    if (*p && *p != ';' && n + 4 < outlen) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

const char *admin_safe_sqlite_msg(const char *msg)
{
    if (strncmp(msg, "near \"'", 7) == 0 || strncmp(msg, "near \"\"", 7) == 0)
        return "syntax error near a string literal";
    if (strncmp(msg, "unrecognized token: \"'", 22) == 0)
        return "unrecognized token (unterminated string literal?)";
    return msg;
}

static int read_file(const char *path, char **out, char *errbuf, size_t errlen)
{
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = ADMIN_EIO;

    f = fopen(path, "r");
    if (!f) {
        admin_set_error(errbuf, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return ADMIN_EIO;
    }
    for (;;) {
        if (len + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nbuf;

            if (ncap > CONFIG_MAX_BYTES + 1) {
                admin_set_error(errbuf, errlen, "config file %s is larger than %d bytes", path,
                                CONFIG_MAX_BYTES);
                goto out;
            }
            nbuf = realloc(buf, ncap);
            if (!nbuf) {
                rc = ADMIN_ENOMEM;
                admin_set_error(errbuf, errlen, "out of memory reading config file %s", path);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);

        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        admin_set_error(errbuf, errlen, "cannot read config file %s", path);
        goto out;
    }
    if (memchr(buf, '\0', len)) {
        admin_set_error(errbuf, errlen, "config file %s contains a NUL byte", path);
        goto out;
    }
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Runs every statement of script inside one transaction; on failure rolls back
 * and reports the statement's line and opening words. */
static int run_script(sqlite3 *db, const char *path, const char *script, char *errbuf,
                      size_t errlen)
{
    const char *p = script;
    char *emsg = NULL;
    int rc = 0;

    if (sqlite3_exec(db, "BEGIN", NULL, NULL, &emsg) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "config file %s: cannot begin transaction: %s", path,
                        emsg ? emsg : "unknown error");
        sqlite3_free(emsg);
        return ADMIN_ESQL;
    }
    while (*(p = admin_skip_blank(p))) {
        sqlite3_stmt *stmt = NULL;
        const char *tail = NULL;
        int src;

        src = sqlite3_prepare_v2(db, p, -1, &stmt, &tail);
        if (src == SQLITE_OK && stmt) {
            while ((src = sqlite3_step(stmt)) == SQLITE_ROW)
                ;
            if (src == SQLITE_DONE)
                src = SQLITE_OK;
        }
        if (src != SQLITE_OK) {
            char ex[ADMIN_EXCERPT_MAX + 8];

            admin_excerpt(p, ex, sizeof(ex));
            admin_set_error(errbuf, errlen, "config file %s line %d: %s (in \"%s\")", path,
                            line_of(script, p), admin_safe_sqlite_msg(sqlite3_errmsg(db)), ex);
            sqlite3_finalize(stmt);
            rc = ADMIN_ESQL;
            break;
        }
        sqlite3_finalize(stmt);
        if (!tail || tail == p)
            break; /* cannot happen after a successful prepare; avoids a loop */
        p = tail;
    }
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "config file %s: commit failed: %s", path,
                        emsg ? emsg : "unknown error");
        sqlite3_free(emsg);
        rc = ADMIN_ESQL;
    }
    if (rc != 0 && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* The three known variables nearest to name by edit distance, as
 * "'a', 'b' or 'c'" into out. */
static void nearest_names(const char *name, char *out, size_t outlen)
{
    const char *best[3] = {NULL, NULL, NULL};
    size_t dist[3] = {(size_t)-1, (size_t)-1, (size_t)-1};
    const char *v;

    for (size_t i = 0; (v = admin_global_at(i)) != NULL; i++) {
        size_t d = admin_edit_distance(name, v);
        for (int k = 0; k < 3; k++)
            if (d < dist[k]) {
                for (int m = 2; m > k; m--) {
                    dist[m] = dist[m - 1];
                    best[m] = best[m - 1];
                }
                dist[k] = d;
                best[k] = v;
                break;
            }
    }
    snprintf(out, outlen, "'%s', '%s' or '%s'", best[0] ? best[0] : "", best[1] ? best[1] : "",
             best[2] ? best[2] : "");
}

/* A variable the script names that Sluice does not know is a typo until
 * proven otherwise: read_globals() would skip it and the setting would
 * silently keep its default. Refused, with where and what was meant. */
static int check_variable_names(sqlite3 *db, const char *path, const char *script, char *errbuf,
                                size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db, "SELECT variable_name FROM global_variables ORDER BY rowid", -1,
                           &stmt, NULL) != SQLITE_OK)
        return 0; /* no table to check: nothing the script could have misspelt */
    while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        bool known = false;
        const char *v;
        for (size_t i = 0; name && !known && (v = admin_global_at(i)) != NULL; i++)
            known = strcmp(name, v) == 0;
        if (!name || known)
            continue;
        char near[200];
        const char *at = strstr(script, name);
        nearest_names(name, near, sizeof(near));
        admin_set_error(errbuf, errlen,
                        "config file %s line %d: unknown variable '%.64s'; the closest known: %s",
                        path, at ? line_of(script, at) : 0, name, near);
        rc = ADMIN_EINVAL;
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int apply_config(sqlite3 *db, const char *path, char *errbuf, size_t errlen)
{
    char *script = NULL;
    int rc;

    rc = read_file(path, &script, errbuf, errlen);
    if (rc == 0)
        rc = run_script(db, path, script, errbuf, errlen);
    if (rc == 0)
        rc = check_variable_names(db, path, script, errbuf, errlen);
    free(script);
    return rc;
}

/* MEMORY's tables, their runtime_ mirrors, the stats tables and the default
 * variables. */
static int create_memory(sqlite3 *db, char *errbuf, size_t errlen)
{
    int rc;

    rc = admin_layer_create(db, ADMIN_LAYER_MEMORY, errbuf, errlen);
    if (rc == 0)
        rc = admin_layer_create(db, ADMIN_LAYER_RUNTIME, errbuf, errlen);
    if (rc == 0)
        rc = admin_stats_create(db, errbuf, errlen);
    if (rc == 0)
        rc = admin_monitor_create(db, errbuf, errlen);
    if (rc == 0)
        rc = admin_globals_prefill(db, errbuf, errlen);
    return rc;
}

/* Attaches path as schema disk and creates its tables if missing (a store
 * written by an older version gains new tables). A corrupt or foreign file
 * fails here rather than at the first SAVE. */
static int attach_disk(sqlite3 *db, const char *path, char *errbuf, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc = ADMIN_EIO;

    if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS disk", -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE) {
        admin_set_error(errbuf, errlen, "cannot open %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    rc = admin_layer_create(db, ADMIN_LAYER_DISK, errbuf, errlen);
    if (rc != 0) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", errbuf && errlen ? errbuf : "");
        admin_set_error(errbuf, errlen, "%s: %s", path, msg);
        rc = ADMIN_EIO;
    }
out:
    sqlite3_finalize(stmt);
    return rc;
}

/* Creates the datadir 0700 whatever the umask. An existing one keeps its
 * mode, which may be the operator's choice (a backup group), but a mode that
 * lets group or others in is worth a warning: the store holds passwords. */
static int ensure_dir(const char *dir, char *errbuf, size_t errlen)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0) {
        if (chmod(dir, 0700) == 0)
            return 0;
    } else if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (st.st_mode & 077)
            log_warn("datadir %s has mode %04o: group or others can read or enter it, and "
                     "sluice.db holds passwords (chmod 700 it)",
                     dir, (unsigned)(st.st_mode & 07777));
        return 0;
    }
    admin_set_error(errbuf, errlen, "cannot create datadir %s: %s", dir,
                    errno == EEXIST ? "not a directory" : strerror(errno));
    return ADMIN_EIO;
}

/* Creates sluice.db for the owner only (0600 whatever the umask) before
 * SQLite opens it; an empty file left by a crashed first start is reused and
 * gets the same mode. O_NOFOLLOW: never chmod what a planted link points to. */
static int create_private(const char *path, char *errbuf, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0 || fchmod(fd, 0600) != 0) {
        admin_set_error(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ADMIN_EIO;
    }
    close(fd);
    return 0;
}

/* Deletes a store file this call created, with the side files SQLite may have
 * left, so a failed first start leaves nothing that looks like a store. */
static void remove_store_files(const char *path)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    size_t len = strlen(path);
    char *name = malloc(len + sizeof("-journal"));

    if (!name) {
        unlink(path);
        return;
    }
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        memcpy(name, path, len);
        strcpy(name + len, suffixes[i]);
        unlink(name);
    }
    free(name);
}

/* Allocates a store whose file is datadir/sluice.db; nothing is opened. */
static int store_new(const char *datadir, struct admin_store **out)
{
    struct admin_store *store = calloc(1, sizeof(*store));
    size_t plen = strlen(datadir) + sizeof("/sluice.db");

    if (!store)
        return ADMIN_ENOMEM;
    store->path = malloc(plen);
    if (!store->path) {
        free(store);
        return ADMIN_ENOMEM;
    }
    snprintf(store->path, plen, "%s/sluice.db", datadir);
    *out = store;
    return 0;
}

/* Sets *is_new when the store file is missing or empty: SQLite creates the
 * file before the first commit, so a crash during the first start can leave
 * an empty one behind. Warns about a file others can read. */
static int store_is_new(const char *path, bool *is_new, char *errbuf, size_t errlen)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            admin_set_error(errbuf, errlen, "cannot stat %s: %s", path, strerror(errno));
            return ADMIN_EIO;
        }
        *is_new = true;
        return 0;
    }
    *is_new = st.st_size == 0;
    if (!*is_new && (st.st_mode & 077))
        log_warn("%s has mode %04o: group or others can read it, and it holds passwords "
                 "(chmod 600 it)",
                 path, (unsigned)(st.st_mode & 07777));
    return 0;
}

/* Opens MEMORY, fills it (from the config script for a new store), attaches
 * DISK and copies one into the other: a new store's MEMORY to DISK, an
 * existing store's DISK to MEMORY. */
static int store_fill(struct admin_store *store, const char *config_path, bool is_new, char *errbuf,
                      size_t errlen)
{
    int rc;

    /* A private in-memory database: MEMORY is per process, as in ProxySQL. */
    if (sqlite3_open_v2(":memory:", &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot open the in-memory database: %s",
                        store->db ? sqlite3_errmsg(store->db) : "out of memory");
        return ADMIN_EIO;
    }
    rc = admin_sandbox_db(store->db, errbuf, errlen);
    if (rc == 0)
        rc = create_memory(store->db, errbuf, errlen);
    /* The config script runs before DISK is attached, so it can only touch
     * MEMORY and a failing script never creates the file. */
    if (rc == 0 && is_new && config_path)
        rc = apply_config(store->db, config_path, errbuf, errlen);
    if (rc == 0 && is_new)
        rc = create_private(store->path, errbuf, errlen);
    if (rc == 0)
        rc = attach_disk(store->db, store->path, errbuf, errlen);
    if (rc == 0)
        rc = admin_layer_copy(store->db, ADMIN_MOD_ALL,
                              is_new ? ADMIN_LAYER_MEMORY : ADMIN_LAYER_DISK,
                              is_new ? ADMIN_LAYER_DISK : ADMIN_LAYER_MEMORY, NULL, errbuf, errlen);
    return rc;
}

int admin_store_open(const char *datadir, const char *config_path, struct admin_store **out,
                     char *errbuf, size_t errlen)
{
    struct admin_store *store = NULL;
    bool is_new = false;
    int rc;

    admin_set_error(errbuf, errlen, "%s", "");
    if (!datadir || !*datadir || !out) {
        admin_set_error(errbuf, errlen, "no datadir given");
        return ADMIN_EINVAL;
    }
    rc = ensure_dir(datadir, errbuf, errlen);
    if (rc == 0)
        rc = store_new(datadir, &store);
    if (rc == 0)
        rc = store_is_new(store->path, &is_new, errbuf, errlen);
    if (rc == 0)
        rc = store_fill(store, config_path, is_new, errbuf, errlen);
    if (rc == 0) {
        *out = store;
        return 0;
    }
    if (store) {
        sqlite3_close(store->db);
        if (is_new)
            remove_store_files(store->path);
        free(store->path);
        free(store);
    }
    if (rc == ADMIN_ENOMEM && errbuf && errlen && !*errbuf)
        admin_set_error(errbuf, errlen, "out of memory opening the admin store");
    return rc;
}

void admin_store_close(struct admin_store *store)
{
    if (!store)
        return;
    /* Every statement is finalized where it is prepared, so the plain close
     * succeeds; _v2 would hide a leaked statement by deferring the close. */
    sqlite3_close(store->db);
    free(store->path);
    free(store);
}

bool admin_store_in_transaction(const struct admin_store *store)
{
    return store && store->db && !sqlite3_get_autocommit(store->db);
}
