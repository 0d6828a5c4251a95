/*
 * The admin store: one SQLite file, datadir/sluice.db, holding the MEMORY
 * layer in ProxySQL's table names and columns so its documentation and
 * runbooks apply unchanged.
 *
 * admin_store_open() proceeds in order:
 *   1. create the datadir (0700: the file holds passwords) if missing;
 *   2. note whether sluice.db is new (absent or empty) before SQLite creates it;
 *   3. create the tables IF NOT EXISTS and pre-fill global_variables with the
 *      defaults that are missing (one transaction);
 *   4. only for a new file, run the config script in one transaction. Any
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
 */
#include "admin/admin_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config script is a handful of INSERTs; anything larger is a mistake. */
#define CONFIG_MAX_BYTES (16 * 1024 * 1024)

/* How much of a failing statement is quoted in an error message. */
#define EXCERPT_MAX 60

/*
 * Table definitions follow ProxySQL 2.x (mysql_servers 2.0.11, mysql_users and
 * mysql_query_rules 2.1.0, mysql_replication_hostgroups 2.0.0) so scripts and
 * partial-column INSERTs written for ProxySQL get the same defaults here.
 * JSON_VALID needs SQLite >= 3.38 (JSON built in) or the JSON1 extension.
 */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS mysql_servers ("
    " hostgroup_id INT CHECK (hostgroup_id>=0) NOT NULL DEFAULT 0,"
    " hostname VARCHAR NOT NULL,"
    " port INT CHECK (port >= 0 AND port <= 65535) NOT NULL DEFAULT 3306,"
    " gtid_port INT CHECK ((gtid_port <> port OR gtid_port=0) AND gtid_port >= 0"
    "  AND gtid_port <= 65535) NOT NULL DEFAULT 0,"
    " status VARCHAR CHECK (UPPER(status) IN"
    "  ('ONLINE','SHUNNED','OFFLINE_SOFT','OFFLINE_HARD')) NOT NULL DEFAULT 'ONLINE',"
    " weight INT CHECK (weight >= 0 AND weight <= 10000000) NOT NULL DEFAULT 1,"
    " compression INT CHECK (compression IN (0,1)) NOT NULL DEFAULT 0,"
    " max_connections INT CHECK (max_connections >= 0) NOT NULL DEFAULT 1000,"
    " max_replication_lag INT CHECK (max_replication_lag >= 0"
    "  AND max_replication_lag <= 126144000) NOT NULL DEFAULT 0,"
    " use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0,"
    " max_latency_ms INT UNSIGNED CHECK (max_latency_ms >= 0) NOT NULL DEFAULT 0,"
    " comment VARCHAR NOT NULL DEFAULT '',"
    " PRIMARY KEY (hostgroup_id, hostname, port));"

    "CREATE TABLE IF NOT EXISTS mysql_users ("
    " username VARCHAR NOT NULL,"
    " password VARCHAR,"
    " active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 1,"
    " use_ssl INT CHECK (use_ssl IN (0,1)) NOT NULL DEFAULT 0,"
    " default_hostgroup INT NOT NULL DEFAULT 0,"
    " default_schema VARCHAR,"
    " schema_locked INT CHECK (schema_locked IN (0,1)) NOT NULL DEFAULT 0,"
    " transaction_persistent INT CHECK (transaction_persistent IN (0,1)) NOT NULL DEFAULT 1,"
    " fast_forward INT CHECK (fast_forward IN (0,1)) NOT NULL DEFAULT 0,"
    " backend INT CHECK (backend IN (0,1)) NOT NULL DEFAULT 1,"
    " frontend INT CHECK (frontend IN (0,1)) NOT NULL DEFAULT 1,"
    " max_connections INT CHECK (max_connections >= 0) NOT NULL DEFAULT 10000,"
    " attributes VARCHAR CHECK (JSON_VALID(attributes) OR attributes = '')"
    "  NOT NULL DEFAULT '',"
    " comment VARCHAR NOT NULL DEFAULT '',"
    " PRIMARY KEY (username, backend),"
    " UNIQUE (username, frontend));"

    "CREATE TABLE IF NOT EXISTS mysql_query_rules ("
    " rule_id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
    " active INT CHECK (active IN (0,1)) NOT NULL DEFAULT 0,"
    " username VARCHAR,"
    " schemaname VARCHAR,"
    " flagIN INT CHECK (flagIN >= 0) NOT NULL DEFAULT 0,"
    " client_addr VARCHAR,"
    " proxy_addr VARCHAR,"
    " proxy_port INT CHECK (proxy_port >= 0 AND proxy_port <= 65535),"
    " digest VARCHAR,"
    " match_digest VARCHAR,"
    " match_pattern VARCHAR,"
    " negate_match_pattern INT CHECK (negate_match_pattern IN (0,1)) NOT NULL DEFAULT 0,"
    " re_modifiers VARCHAR DEFAULT 'CASELESS',"
    " flagOUT INT CHECK (flagOUT >= 0),"
    " replace_pattern VARCHAR CHECK (CASE WHEN replace_pattern IS NULL THEN 1"
    "  WHEN replace_pattern IS NOT NULL AND match_pattern IS NOT NULL THEN 1 ELSE 0 END),"
    " destination_hostgroup INT DEFAULT NULL,"
    " cache_ttl INT CHECK (cache_ttl > 0),"
    " cache_empty_result INT CHECK (cache_empty_result IN (0,1)) DEFAULT NULL,"
    " cache_timeout INT CHECK (cache_timeout >= 0),"
    " reconnect INT CHECK (reconnect IN (0,1)) DEFAULT NULL,"
    " timeout INT UNSIGNED CHECK (timeout >= 0),"
    " retries INT CHECK (retries >= 0 AND retries <= 1000),"
    " delay INT UNSIGNED CHECK (delay >= 0),"
    " next_query_flagIN INT UNSIGNED,"
    " mirror_flagOUT INT UNSIGNED,"
    " mirror_hostgroup INT UNSIGNED,"
    " error_msg VARCHAR,"
    " OK_msg VARCHAR,"
    " sticky_conn INT CHECK (sticky_conn IN (0,1)),"
    " multiplex INT CHECK (multiplex IN (0,1,2)),"
    " gtid_from_hostgroup INT UNSIGNED,"
    " log INT CHECK (log IN (0,1)),"
    " apply INT CHECK (apply IN (0,1)) NOT NULL DEFAULT 0,"
    " attributes VARCHAR CHECK (JSON_VALID(attributes) OR attributes = '')"
    "  NOT NULL DEFAULT '',"
    " comment VARCHAR);"

    "CREATE TABLE IF NOT EXISTS mysql_replication_hostgroups ("
    " writer_hostgroup INT CHECK (writer_hostgroup >= 0) NOT NULL PRIMARY KEY,"
    " reader_hostgroup INT NOT NULL CHECK (reader_hostgroup <> writer_hostgroup"
    "  AND reader_hostgroup >= 0),"
    " check_type VARCHAR CHECK (LOWER(check_type) IN ('read_only','innodb_read_only',"
    "  'super_read_only','read_only|innodb_read_only','read_only&innodb_read_only'))"
    "  NOT NULL DEFAULT 'read_only',"
    " comment VARCHAR NOT NULL DEFAULT '',"
    " UNIQUE (reader_hostgroup));"

    "CREATE TABLE IF NOT EXISTS global_variables ("
    " variable_name VARCHAR NOT NULL PRIMARY KEY,"
    " variable_value VARCHAR NOT NULL);";

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

/* Returns a pointer past blanks and SQL comments, so an excerpt and its line
 * number point at the statement itself rather than the comment before it. */
static const char *skip_blank(const char *p)
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

/* Copies the start of a statement into out, on one line, stopping at the first
 * quote so no literal (possibly a password) is ever quoted. */
static void excerpt(const char *stmt, char *out, size_t outlen)
{
    size_t n = 0;
    const char *p = stmt;

    while (*p && *p != '\'' && *p != '"' && *p != ';' && n < EXCERPT_MAX && n + 1 < outlen) {
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

/* SQLite echoes the offending token in syntax errors; when that token is a
 * string literal it may be a password, so it is replaced by a description. */
static const char *safe_sqlite_msg(const char *msg)
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
    while (*(p = skip_blank(p))) {
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
            char ex[EXCERPT_MAX + 8];

            excerpt(p, ex, sizeof(ex));
            admin_set_error(errbuf, errlen, "config file %s line %d: %s (in \"%s\")", path,
                            line_of(script, p), safe_sqlite_msg(sqlite3_errmsg(db)), ex);
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

static int apply_config(sqlite3 *db, const char *path, char *errbuf, size_t errlen)
{
    char *script = NULL;
    int rc;

    rc = read_file(path, &script, errbuf, errlen);
    if (rc == 0)
        rc = run_script(db, path, script, errbuf, errlen);
    free(script);
    return rc;
}

static int create_schema(sqlite3 *db, char *errbuf, size_t errlen)
{
    char *emsg = NULL;
    int rc;

    if (sqlite3_exec(db, "BEGIN", NULL, NULL, &emsg) != SQLITE_OK ||
        sqlite3_exec(db, schema_sql, NULL, NULL, &emsg) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot create admin tables: %s",
                        emsg ? emsg : "unknown error");
        sqlite3_free(emsg);
        rc = ADMIN_ESQL;
        goto out;
    }
    rc = admin_globals_prefill(db, errbuf, errlen);
    if (rc != 0)
        goto out;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot commit admin tables: %s",
                        emsg ? emsg : "unknown error");
        sqlite3_free(emsg);
        rc = ADMIN_ESQL;
    }
out:
    if (rc != 0 && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int ensure_dir(const char *dir, char *errbuf, size_t errlen)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    admin_set_error(errbuf, errlen, "cannot create datadir %s: %s", dir,
                    errno == EEXIST ? "not a directory" : strerror(errno));
    return ADMIN_EIO;
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

int admin_store_open(const char *datadir, const char *config_path, struct admin_store **out,
                     char *errbuf, size_t errlen)
{
    struct admin_store *store = NULL;
    struct stat st;
    bool is_new = false;
    int rc;

    admin_set_error(errbuf, errlen, "%s", "");
    if (!datadir || !*datadir || !out) {
        admin_set_error(errbuf, errlen, "no datadir given");
        return ADMIN_EINVAL;
    }
    rc = ensure_dir(datadir, errbuf, errlen);
    if (rc != 0)
        return rc;

    rc = ADMIN_ENOMEM;
    store = calloc(1, sizeof(*store));
    if (!store)
        goto out;
    size_t plen = strlen(datadir) + sizeof("/sluice.db");
    store->path = malloc(plen);
    if (!store->path)
        goto out;
    snprintf(store->path, plen, "%s/sluice.db", datadir);

    /* An empty file counts as new: SQLite creates the file before the first
     * commit, so a crash during the first start can leave one behind. */
    if (stat(store->path, &st) != 0) {
        if (errno != ENOENT) {
            admin_set_error(errbuf, errlen, "cannot stat %s: %s", store->path, strerror(errno));
            rc = ADMIN_EIO;
            goto out;
        }
        is_new = true;
    } else {
        is_new = st.st_size == 0;
    }

    if (sqlite3_open_v2(store->path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot open %s: %s", store->path,
                        store->db ? sqlite3_errmsg(store->db) : "out of memory");
        rc = ADMIN_EIO;
        goto out;
    }
    /* A corrupt or foreign file fails here rather than at the first LOAD. */
    rc = create_schema(store->db, errbuf, errlen);
    if (rc != 0)
        goto out;
    if (is_new && config_path)
        rc = apply_config(store->db, config_path, errbuf, errlen);
out:
    if (rc != 0) {
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
    *out = store;
    return 0;
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
