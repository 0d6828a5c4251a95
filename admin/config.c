/*
 * The runtime snapshot: admin_config_build() reads mysql_servers, mysql_users,
 * mysql_query_rules and global_variables inside one savepoint, each module
 * from MEMORY or from its runtime_* mirror as the caller asks, converts and
 * validates every value, and returns a struct admin_config that workers share
 * through an atomic refcount. Validation is all-or-nothing: the caller's
 * current snapshot stays in force unless the whole new one is good
 * (DESIGN.md, LOAD ... TO RUNTIME). Reading the modules not being loaded from
 * runtime_* (rather than from the published snapshot) keeps one code path
 * for every module and makes the runtime_* tables the record of what is live.
 *
 * The global variables are read by globals.c, from the table of names,
 * defaults and bounds kept there.
 *
 * Passwords: mysql_users.password holds either the plain text or MySQL's
 * native hash ('*' + 40 hex digits of SHA1(SHA1(password))). Client auth
 * needs the inner SHA1(SHA1()) value in both cases, so plain passwords are
 * hashed here. No message built in this file contains a password.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * SHA-1 (FIPS 180-4), one-shot. codec/codec.c has its own (codec_sha1), but
 * admin sits below proxy and must not link against it; the duplication is a
 * few dozen lines and deliberate.
 */
static uint32_t rol32(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80], a, b, c, d, e;

    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k, tmp;

        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        tmp = rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t *p = data;
    size_t full = len / 64 * 64, rest = len - full, tlen;
    uint64_t bits = (uint64_t)len * 8;
    uint8_t tail[128];

    for (size_t i = 0; i < full; i += 64)
        sha1_block(h, p + i);
    /* Padding: 0x80, zeros, then the bit length big-endian in the last 8
     * bytes; it spills into a second block when fewer than 9 bytes remain. */
    if (rest)
        memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    tlen = rest + 9 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, tlen - rest - 1);
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < tlen; i += 64)
        sha1_block(h, tail + i);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* Table prefix ("main." or "main.runtime_") a module is read from. */
static const char *source(unsigned from_memory_mask, unsigned mod)
{
    return admin_layer_prefix((from_memory_mask & mod) ? ADMIN_LAYER_MEMORY : ADMIN_LAYER_RUNTIME);
}

/* Column helpers: SQLite columns are dynamically typed, so an INT column can
 * hold 'abc'; reject instead of reading it as 0. */
static bool col_int(sqlite3_stmt *stmt, int i, int *out)
{
    sqlite3_int64 v;

    if (sqlite3_column_type(stmt, i) != SQLITE_INTEGER)
        return false;
    v = sqlite3_column_int64(stmt, i);
    if (v < INT_MIN || v > INT_MAX)
        return false;
    *out = (int)v;
    return true;
}

/* Copies a text column (NULL reads as empty) into dst; false if it does not
 * fit or contains a NUL byte. */
static bool col_copy(sqlite3_stmt *stmt, int i, char *dst, size_t size)
{
    const unsigned char *s = sqlite3_column_text(stmt, i);
    size_t n = (size_t)sqlite3_column_bytes(stmt, i);

    if (!s)
        n = 0;
    if (n >= size || (n && memchr(s, '\0', n)))
        return false;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static int parse_status(const char *s, enum admin_server_status *out)
{
    static const struct {
        const char *name;
        enum admin_server_status status;
    } names[] = {
        {"ONLINE", ADMIN_SERVER_ONLINE},
        {"SHUNNED", ADMIN_SERVER_SHUNNED},
        {"OFFLINE_SOFT", ADMIN_SERVER_OFFLINE_SOFT},
        {"OFFLINE_HARD", ADMIN_SERVER_OFFLINE_HARD},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].status;
            return 0;
        }
    }
    return ADMIN_EINVAL;
}

/* Grows *arr (of elem-sized items) so that index *n is valid. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    void *p;
    size_t ncap;

    if (n < *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    p = realloc(*arr, ncap * elem);
    if (!p)
        return ADMIN_ENOMEM;
    memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = p;
    *cap = ncap;
    return 0;
}

static int read_server(sqlite3_stmt *stmt, void *row, char *errbuf, size_t errlen)
{
    struct admin_server *s = row;
    char status[32];
    int use_ssl;

    if (!col_copy(stmt, 1, s->host, sizeof(s->host)) || !s->host[0]) {
        admin_set_error(errbuf, errlen, "mysql_servers: hostname empty or longer than %zu bytes",
                        sizeof(s->host) - 1);
        return ADMIN_EINVAL;
    }
    if (!col_int(stmt, 0, &s->hostgroup) || s->hostgroup < 0 || !col_int(stmt, 2, &s->port) ||
        s->port < 1 || s->port > 65535 || !col_int(stmt, 4, &s->weight) || s->weight < 0 ||
        !col_int(stmt, 5, &s->max_connections) || s->max_connections < 0 ||
        !col_int(stmt, 6, &s->max_replication_lag) || s->max_replication_lag < 0 ||
        !col_int(stmt, 7, &use_ssl) || !col_int(stmt, 9, &s->max_latency_ms) ||
        s->max_latency_ms < 0) {
        admin_set_error(errbuf, errlen,
                        "mysql_servers: server %s: hostgroup_id, port (1-65535), weight, "
                        "max_connections, max_replication_lag, use_ssl or max_latency_ms invalid",
                        s->host);
        return ADMIN_EINVAL;
    }
    if (!col_copy(stmt, 3, status, sizeof(status)) || parse_status(status, &s->status) != 0) {
        admin_set_error(errbuf, errlen, "mysql_servers: server %s:%d: unknown status", s->host,
                        s->port);
        return ADMIN_EINVAL;
    }
    s->use_ssl = use_ssl != 0;
    /* The comment is informational; a long one is cut rather than refused. */
    const char *c = (const char *)sqlite3_column_text(stmt, 8);
    snprintf(s->comment, sizeof(s->comment), "%s", c ? c : "");
    return 0;
}

/* The value of hexadecimal digit c in *out; false if c is not one. */
static bool hex_digit(int c, uint8_t *out)
{
    if (c >= '0' && c <= '9') {
        *out = (uint8_t)(c - '0');
        return true;
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        *out = (uint8_t)(c - 'a' + 10);
        return true;
    }
    return false;
}

/* Fills password, has_password and native_hash from the password column.
 * Messages name the user, never the password. */
static int set_password(struct admin_user *u, const unsigned char *pw, size_t len, char *errbuf,
                        size_t errlen)
{
    uint8_t inner[20];

    memset(u->native_hash, 0, sizeof(u->native_hash));
    u->password[0] = '\0';
    u->has_password = false;
    if (!pw || len == 0)
        return 0;
    if (memchr(pw, '\0', len)) {
        admin_set_error(errbuf, errlen, "user '%s': password contains a NUL byte", u->username);
        return ADMIN_EINVAL;
    }
    /* '*' and 40 characters is the native hash form; a typo in a hash must
     * not silently become a plain password nobody can type. */
    if (len == 41 && pw[0] == '*') {
        for (int i = 0; i < 20; i++) {
            uint8_t hi, lo;

            if (!hex_digit(pw[1 + 2 * i], &hi) || !hex_digit(pw[2 + 2 * i], &lo)) {
                admin_set_error(errbuf, errlen,
                                "user '%s': password has the hash form ('*' and 40 characters) "
                                "but is not hexadecimal",
                                u->username);
                return ADMIN_EINVAL;
            }
            u->native_hash[i] = (uint8_t)(hi << 4 | lo);
        }
        u->has_password = true;
        return 0;
    }
    if (len >= sizeof(u->password)) {
        admin_set_error(errbuf, errlen, "user '%s': password longer than %zu bytes", u->username,
                        sizeof(u->password) - 1);
        return ADMIN_EINVAL;
    }
    memcpy(u->password, pw, len);
    u->password[len] = '\0';
    sha1(pw, len, inner);
    sha1(inner, sizeof(inner), u->native_hash);
    memset(inner, 0, sizeof(inner));
    u->has_password = true;
    return 0;
}

static int read_user(sqlite3_stmt *stmt, void *row, char *errbuf, size_t errlen)
{
    struct admin_user *u = row;
    int active, tp, fe, be;

    if (!col_copy(stmt, 0, u->username, sizeof(u->username)) || !u->username[0]) {
        admin_set_error(errbuf, errlen, "mysql_users: username empty or longer than %zu bytes",
                        sizeof(u->username) - 1);
        return ADMIN_EINVAL;
    }
    if (!col_int(stmt, 2, &active) || !col_int(stmt, 3, &u->default_hostgroup) ||
        u->default_hostgroup < 0 || !col_int(stmt, 5, &tp) || !col_int(stmt, 6, &fe) ||
        !col_int(stmt, 7, &be) || !col_int(stmt, 8, &u->max_connections) ||
        u->max_connections < 0 || !col_int(stmt, 9, &u->max_backend_connections) ||
        u->max_backend_connections < 0) {
        admin_set_error(errbuf, errlen,
                        "user '%s': default_hostgroup, transaction_persistent, frontend, "
                        "backend, max_connections or max_backend_connections invalid",
                        u->username);
        return ADMIN_EINVAL;
    }
    if (!col_copy(stmt, 4, u->default_schema, sizeof(u->default_schema))) {
        admin_set_error(errbuf, errlen, "user '%s': default_schema longer than %zu bytes",
                        u->username, sizeof(u->default_schema) - 1);
        return ADMIN_EINVAL;
    }
    /* attributes.causal_reads (JSON true/false, SQL 1/0), NULL: absent. */
    u->causal_reads = -1;
    if (sqlite3_column_type(stmt, 10) != SQLITE_NULL)
        u->causal_reads = sqlite3_column_int(stmt, 10) != 0;
    u->active = active != 0;
    u->transaction_persistent = tp != 0;
    u->frontend = fe != 0;
    u->backend = be != 0;
    return set_password(u, sqlite3_column_text(stmt, 1), (size_t)sqlite3_column_bytes(stmt, 1),
                        errbuf, errlen);
}

/* One runtime table read into a growing array of rows. */
struct table_load {
    const char *table; /* for messages */
    const char *sql;   /* a SELECT with %s for the schema prefix */
    void **rows;
    size_t *n;
    size_t elem;
    int (*read)(sqlite3_stmt *stmt, void *row, char *errbuf, size_t errlen);
    /* A row read in part is counted too: it may hold a secret that the
     * config's free must wipe. */
    bool count_failed;
};

static int load_table(sqlite3 *db, const char *from, const struct table_load *t, char *errbuf,
                      size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    size_t cap = 0;
    int rc = 0, src;
    char *sql = sqlite3_mprintf(t->sql, from);

    if (!sql || sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sqlite3_free(sql);
        admin_set_error(errbuf, errlen, "cannot read %s: %s", t->table, sqlite3_errmsg(db));
        return ADMIN_ESQL;
    }
    sqlite3_free(sql);
    while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = grow(t->rows, &cap, *t->n, t->elem);
        if (rc != 0) {
            admin_set_error(errbuf, errlen, "out of memory loading %s", t->table);
            goto out;
        }
        rc = t->read(stmt, (char *)*t->rows + *t->n * t->elem, errbuf, errlen);
        if (rc == 0 || t->count_failed)
            (*t->n)++;
        if (rc != 0)
            goto out;
    }
    if (src != SQLITE_DONE) {
        admin_set_error(errbuf, errlen, "cannot read %s: %s", t->table, sqlite3_errmsg(db));
        rc = ADMIN_ESQL;
    }
out:
    sqlite3_finalize(stmt);
    return rc;
}

static int read_repl_hostgroup(sqlite3_stmt *stmt, void *row, char *errbuf, size_t errlen)
{
    struct admin_repl_hostgroup *r = row;
    (void)errbuf;
    (void)errlen;
    /* The table's CHECKs already bound both hostgroups and check_type. */
    r->writer_hostgroup = sqlite3_column_int(stmt, 0);
    r->reader_hostgroup = sqlite3_column_int(stmt, 1);
    const char *ct = (const char *)sqlite3_column_text(stmt, 2);
    snprintf(r->check_type, sizeof(r->check_type), "%s", ct ? ct : "read_only");
    return 0;
}

static int load_servers(sqlite3 *db, const char *from, struct admin_config *cfg, char *errbuf,
                        size_t errlen)
{
    const struct table_load servers = {
        "mysql_servers",
        "SELECT hostgroup_id, hostname, port, status, weight, max_connections,"
        " max_replication_lag, use_ssl, comment, max_latency_ms FROM %smysql_servers"
        " ORDER BY hostgroup_id, hostname, port",
        (void **)&cfg->servers,
        &cfg->n_servers,
        sizeof(*cfg->servers),
        read_server,
        false};
    const struct table_load repl = {
        "mysql_replication_hostgroups",
        "SELECT writer_hostgroup, reader_hostgroup, check_type"
        " FROM %smysql_replication_hostgroups ORDER BY writer_hostgroup",
        (void **)&cfg->repl_hostgroups,
        &cfg->n_repl_hostgroups,
        sizeof(*cfg->repl_hostgroups),
        read_repl_hostgroup,
        false};
    int rc = load_table(db, from, &servers, errbuf, errlen);
    return rc != 0 ? rc : load_table(db, from, &repl, errbuf, errlen);
}

/* Loads the accounts clients may log in with: active rows with frontend=1.
 * (username, frontend) is UNIQUE, so each name appears once. */
static int load_users(sqlite3 *db, const char *from, struct admin_config *cfg, char *errbuf,
                      size_t errlen)
{
    const struct table_load users = {
        "mysql_users",
        "SELECT username, password, active, default_hostgroup, default_schema,"
        " transaction_persistent, frontend, backend, max_connections,"
        " max_backend_connections, CASE WHEN attributes = '' THEN NULL"
        " ELSE json_extract(attributes, '$.causal_reads') END"
        " FROM %smysql_users WHERE active = 1 AND frontend = 1 ORDER BY username",
        (void **)&cfg->users,
        &cfg->n_users,
        sizeof(*cfg->users),
        read_user,
        true};
    return load_table(db, from, &users, errbuf, errlen);
}

/* The first entry of each listen list must parse as host:port: found here,
 * a typo fails the start (or the LOAD) with the setting's name instead of
 * surfacing as a listener that cannot open. */
static int check_interfaces(const struct admin_config *cfg, char *errbuf, size_t errlen)
{
    const struct {
        const char *name, *value;
    } lists[] = {{"mysql-interfaces", cfg->mysql_interfaces},
                 {"admin-mysql_ifaces", cfg->admin_interfaces}};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        char host[256];
        int port;
        if (admin_first_hostport(lists[i].value, host, sizeof(host), &port) != 0) {
            admin_set_error(errbuf, errlen, "%s: '%.100s' is not host:port", lists[i].name,
                            lists[i].value);
            return ADMIN_EINVAL;
        }
    }
    return 0;
}

/* Every user's default hostgroup must have at least one server, or its first
 * query would queue until timeout. An empty fleet is allowed: the proxy can
 * start before any server is configured. */
static int check_hostgroups(const struct admin_config *cfg, char *errbuf, size_t errlen)
{
    if (cfg->n_servers == 0)
        return 0;
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct admin_user *u = &cfg->users[i];
        bool found = false;

        for (size_t j = 0; j < cfg->n_servers && !found; j++)
            found = cfg->servers[j].hostgroup == u->default_hostgroup;
        if (!found) {
            admin_set_error(errbuf, errlen,
                            "user '%s': default_hostgroup %d has no server in mysql_servers",
                            u->username, u->default_hostgroup);
            return ADMIN_EINVAL;
        }
    }
    return 0;
}

static void config_free(struct admin_config *cfg)
{
    /* Plain passwords are wiped so freed heap does not keep them around. This
     * is best effort: realloc while loading may have left older copies. */
    if (cfg->users)
        memset(cfg->users, 0, cfg->n_users * sizeof(*cfg->users));
    memset(cfg->monitor_password, 0, sizeof(cfg->monitor_password));
    memset(cfg->admin_credentials, 0, sizeof(cfg->admin_credentials));
    free(cfg->users);
    free(cfg->servers);
    free(cfg->repl_hostgroups);
    router_rules_free(cfg->rules);
    free(cfg);
}

int admin_config_build(struct admin_store *store, unsigned from_memory_mask,
                       struct admin_config **out, char *errbuf, size_t errlen)
{
    struct admin_config *cfg;
    unsigned m = from_memory_mask;
    bool in_sp = false;
    int rc;

    admin_set_error(errbuf, errlen, "%s", "");
    if (!store || !store->db || !out) {
        admin_set_error(errbuf, errlen, "no admin store");
        return ADMIN_EINVAL;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        admin_set_error(errbuf, errlen, "out of memory loading the configuration");
        return ADMIN_ENOMEM;
    }
    cfg->refs = 1;

    /* One read transaction so the tables are read from one state; as a
     * savepoint it nests in an admin session's own transaction. */
    if (sqlite3_exec(store->db, "SAVEPOINT admin_build", NULL, NULL, NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot begin read transaction: %s",
                        sqlite3_errmsg(store->db));
        rc = ADMIN_ESQL;
        goto out;
    }
    in_sp = true;
    rc = admin_globals_load(store->db, source(m, ADMIN_MOD_VARIABLES),
                            source(m, ADMIN_MOD_ADMIN_VARIABLES), cfg, errbuf, errlen);
    if (rc != 0)
        goto out;
    rc = load_servers(store->db, source(m, ADMIN_MOD_SERVERS), cfg, errbuf, errlen);
    if (rc != 0)
        goto out;
    rc = load_users(store->db, source(m, ADMIN_MOD_USERS), cfg, errbuf, errlen);
    if (rc != 0)
        goto out;
    rc = check_hostgroups(cfg, errbuf, errlen);
    if (rc == 0)
        rc = check_interfaces(cfg, errbuf, errlen);
    if (rc != 0)
        goto out;
    rc = admin_load_rules(store->db, source(m, ADMIN_MOD_RULES), cfg, errbuf, errlen);
out:
    /* Nothing was written, so ending the read savepoint cannot lose data. */
    if (in_sp)
        sqlite3_exec(store->db, "RELEASE admin_build", NULL, NULL, NULL);
    if (rc != 0) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int admin_config_load(struct admin_store *store, struct admin_config **out, char *errbuf,
                      size_t errlen)
{
    admin_set_error(errbuf, errlen, "%s", "");
    if (!store || !store->db || !out) {
        admin_set_error(errbuf, errlen, "no admin store");
        return ADMIN_EINVAL;
    }
    return admin_layer_to_runtime(store, ADMIN_MOD_ALL, ADMIN_LOAD_STARTUP, NULL, out, errbuf,
                                  errlen);
}

struct admin_config *admin_config_ref(struct admin_config *cfg)
{
    if (cfg)
        __atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
    return cfg;
}

void admin_config_unref(struct admin_config *cfg)
{
    /* Release on every drop and acquire before the free, so the freeing thread
     * sees all reads other threads made of the snapshot as finished. */
    if (cfg && __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
        config_free(cfg);
}

const struct admin_user *admin_config_user(const struct admin_config *cfg, const char *name,
                                           size_t name_len)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct admin_user *u = &cfg->users[i];

        if (strlen(u->username) == name_len && memcmp(u->username, name, name_len) == 0)
            return u;
    }
    return NULL;
}

int admin_first_hostport(const char *list, char *host, size_t hostlen, int *port)
{
    char first[256];
    snprintf(first, sizeof(first), "%s", list);
    first[strcspn(first, ";")] = '\0';
    return admin_parse_hostport(first, host, hostlen, port);
}

int admin_parse_hostport(const char *text, char *host, size_t hostlen, int *port)
{
    const char *hstart, *hend, *p;
    size_t hl;
    long v = 0;

    if (!text || !host || hostlen == 0 || !port)
        return ADMIN_EINVAL;
    if (text[0] == '[') {
        /* Bracketed IPv6 literal: "[::1]:6033". */
        hstart = text + 1;
        hend = strchr(hstart, ']');
        if (!hend || hend[1] != ':')
            return ADMIN_EINVAL;
        p = hend + 2;
    } else {
        hstart = text;
        hend = strrchr(text, ':');
        if (!hend || memchr(text, ':', (size_t)(hend - text)))
            return ADMIN_EINVAL; /* no port, or an unbracketed IPv6 address */
        p = hend + 1;
    }
    hl = (size_t)(hend - hstart);
    if (hl == 0 || hl >= hostlen)
        return ADMIN_EINVAL;
    for (size_t i = 0; i < hl; i++)
        if (!isgraph((unsigned char)hstart[i]) || hstart[i] == ';')
            return ADMIN_EINVAL;
    if (!*p || strlen(p) > 5)
        return ADMIN_EINVAL;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return ADMIN_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return ADMIN_EINVAL;
    memcpy(host, hstart, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}
