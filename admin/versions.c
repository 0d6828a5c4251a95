/*
 * Configuration versions: what every LOAD <module> TO RUNTIME loaded, so an
 * operator can list, compare and roll back changes.
 *
 * Two tables, in MEMORY (main) and DISK (disk):
 *   mysql_config_versions      (version, module, loaded_at, checksum, rows)
 *   mysql_config_version_rows  (version, table_name, row_key, row_data)
 * A version holds every row of its module's tables as a JSON object of
 * column -> value (json_object(), so integers, text and NULL survive the
 * round trip through json_extract()), keyed by the table's primary key
 * rendered as text ("rule_id=10", "hostgroup_id=1,hostname=db1,port=3306").
 * The checksum is FNV-1a 64 over (table, key, row) in primary key order:
 * equal module contents give equal checksums, whatever the layer.
 *
 * Versions never change once recorded, so moving them between MEMORY and
 * DISK is a merge (INSERT OR IGNORE), not a replacement: SAVE <module> TO
 * DISK adds the module's new versions to the file and LOAD <module> FROM
 * DISK (and the start-up read of the file) adds the file's to MEMORY. Each
 * module keeps its newest ADMIN_VERSIONS_KEEP versions in each schema.
 * Version numbers are global across modules and never reused while a newer
 * one exists in either schema.
 *
 * The same JSON rendering of a layer's rows drives DIFF (admin_diff_sql),
 * so a version can be compared with a layer exactly as two layers are.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Enough for the tables of any module (servers: 2, rules: 2). */
#define MAX_MOD_TABLES 4

static const unsigned module_bits[] = {ADMIN_MOD_SERVERS, ADMIN_MOD_USERS, ADMIN_MOD_RULES,
                                       ADMIN_MOD_VARIABLES, ADMIN_MOD_ADMIN_VARIABLES};

#define N_MODULES (sizeof(module_bits) / sizeof(module_bits[0]))

bool admin_versions_table(const char *name)
{
    return strcmp(name, "mysql_config_versions") == 0 ||
           strcmp(name, "mysql_config_version_rows") == 0;
}

/* Runs sql (sqlite3_mprintf'd, freed here; NULL means OOM). */
static int exec_sql(sqlite3 *db, char *sql, char *errbuf, size_t errlen, const char *what)
{
    int rc = 0;

    if (!sql) {
        admin_set_error(errbuf, errlen, "%s: out of memory", what);
        return ADMIN_ENOMEM;
    }
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "%s: %s", what, admin_safe_sqlite_msg(sqlite3_errmsg(db)));
        rc = ADMIN_ESQL;
    }
    sqlite3_free(sql);
    return rc;
}

int admin_versions_create(sqlite3 *db, const char *schema, char *errbuf, size_t errlen)
{
    int rc;

    rc = exec_sql(db,
                  sqlite3_mprintf("CREATE TABLE IF NOT EXISTS %s.mysql_config_versions ("
                                  "version INTEGER PRIMARY KEY NOT NULL,"
                                  " module VARCHAR NOT NULL,"
                                  " loaded_at VARCHAR NOT NULL,"
                                  " checksum VARCHAR NOT NULL,"
                                  " \"rows\" INT NOT NULL)",
                                  schema),
                  errbuf, errlen, "cannot create mysql_config_versions");
    if (rc == 0)
        rc = exec_sql(db,
                      sqlite3_mprintf("CREATE TABLE IF NOT EXISTS %s.mysql_config_version_rows ("
                                      "version INT NOT NULL,"
                                      " table_name VARCHAR NOT NULL,"
                                      " row_key VARCHAR NOT NULL,"
                                      " row_data VARCHAR NOT NULL,"
                                      " PRIMARY KEY (version, table_name, row_key))",
                                      schema),
                      errbuf, errlen, "cannot create mysql_config_version_rows");
    return rc;
}

/* The column names of an admin table, in order, appended to the three
 * renderings callers need: json_object('c',"c",...), the plain list
 * "c",... and json_extract(row_data,'$.c'),... (each may be NULL). */
static int table_columns(sqlite3 *db, const char *table, sqlite3_str *json, sqlite3_str *list,
                         sqlite3_str *extract)
{
    sqlite3_stmt *st = NULL;
    char *sql = sqlite3_mprintf("SELECT * FROM main.%s LIMIT 0", table);
    int n;

    if (!sql)
        return ADMIN_ENOMEM;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_free(sql);
        return ADMIN_ESQL;
    }
    sqlite3_free(sql);
    n = sqlite3_column_count(st);
    if (json)
        sqlite3_str_appendall(json, "json_object(");
    for (int c = 0; c < n; c++) {
        const char *name = sqlite3_column_name(st, c);
        const char *sep = c ? "," : "";

        if (json)
            sqlite3_str_appendf(json, "%s'%q',\"%w\"", sep, name, name);
        if (list)
            sqlite3_str_appendf(list, "%s\"%w\"", sep, name);
        if (extract)
            sqlite3_str_appendf(extract, "%sjson_extract(row_data,'$.%q')", sep, name);
    }
    if (json)
        sqlite3_str_appendall(json, ")");
    sqlite3_finalize(st);
    return 0;
}

/* 'a=' || "a" || ',b=' || "b": the text form of a primary key. */
static void key_expr(sqlite3_str *out, const char *key)
{
    for (const char *p = key; *p;) {
        size_t n = strcspn(p, ",");

        sqlite3_str_appendf(out, "%s'%s%.*s=' || \"%.*w\"", p == key ? "" : " || ",
                            p == key ? "" : ",", (int)n, p, (int)n, p);
        p += n + (p[n] == ',');
    }
}

/* SELECT k, r: the rows of one table on one side, in primary key order. */
static char *side_rows_sql(sqlite3 *db, const struct admin_mod_table *t,
                           const struct admin_diff_side *side)
{
    sqlite3_str *s;

    if (side->version > 0)
        return sqlite3_mprintf(
            "SELECT row_key AS k, row_data AS r FROM main.mysql_config_version_rows"
            " WHERE version = %lld AND table_name = '%q' ORDER BY rowid",
            (long long)side->version, t->name);
    s = sqlite3_str_new(db);
    sqlite3_str_appendall(s, "SELECT ");
    key_expr(s, t->key);
    sqlite3_str_appendall(s, " AS k, ");
    if (table_columns(db, t->name, s, NULL, NULL) != 0) {
        sqlite3_free(sqlite3_str_finish(s));
        return NULL;
    }
    sqlite3_str_appendf(s, " AS r FROM %s%s WHERE %s ORDER BY %s", admin_layer_prefix(side->layer),
                        t->name, t->where, t->key);
    return sqlite3_str_finish(s);
}

/* FNV-1a 64, fed field by field with a separator so ("ab","c") and
 * ("a","bc") differ. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    h ^= 0x1f;
    return h * 0x100000001b3ULL;
}

/* Copies the module's runtime rows of one table into version v; updates
 * the checksum and row count. */
static int record_table(sqlite3 *db, const struct admin_mod_table *t, int64_t v, uint64_t *hash,
                        int64_t *rows, char *errbuf, size_t errlen)
{
    struct admin_diff_side rt = {.layer = ADMIN_LAYER_RUNTIME};
    sqlite3_stmt *sel = NULL, *ins = NULL;
    char *sql = side_rows_sql(db, t, &rt);
    int rc = ADMIN_ESQL, step;

    if (!sql) {
        admin_set_error(errbuf, errlen, "cannot record a version: out of memory");
        return ADMIN_ENOMEM;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO main.mysql_config_version_rows"
                           " (version, table_name, row_key, row_data) VALUES (?1, ?2, ?3, ?4)",
                           -1, &ins, NULL) != SQLITE_OK)
        goto out;
    *hash = fnv(*hash, t->name, strlen(t->name));
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(sel, 0);
        const char *r = (const char *)sqlite3_column_text(sel, 1);

        if (!k || !r)
            goto out;
        *hash = fnv(fnv(*hash, k, strlen(k)), r, strlen(r));
        sqlite3_bind_int64(ins, 1, v);
        sqlite3_bind_text(ins, 2, t->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, k, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, r, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto out;
        sqlite3_reset(ins);
        (*rows)++;
    }
    if (step == SQLITE_DONE)
        rc = 0;
out:
    if (rc != 0)
        admin_set_error(errbuf, errlen, "cannot record a version of %s: %s", t->name,
                        admin_safe_sqlite_msg(sqlite3_errmsg(db)));
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sqlite3_free(sql);
    return rc;
}

/* One integer (or text) answer of an internal query; NULL text on none. */
static int query_one(sqlite3 *db, const char *sql, const char *param, int64_t *iv, char *tv,
                     size_t tvlen)
{
    sqlite3_stmt *st = NULL;
    int rc = ADMIN_ESQL;

    if (tv && tvlen)
        tv[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return rc;
    if (param)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        if (iv)
            *iv = sqlite3_column_int64(st, 0);
        if (tv && sqlite3_column_text(st, 0))
            snprintf(tv, tvlen, "%s", (const char *)sqlite3_column_text(st, 0));
        /* fall through */
    case SQLITE_DONE:
        rc = 0;
        break;
    default:
        break;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Keeps the newest ADMIN_VERSIONS_KEEP versions of module in schema. */
static int prune(sqlite3 *db, const char *schema, const char *module, char *errbuf, size_t errlen)
{
    int rc;

    rc = exec_sql(db,
                  sqlite3_mprintf("DELETE FROM %s.mysql_config_versions WHERE module = %Q AND"
                                  " version NOT IN (SELECT version FROM %s.mysql_config_versions"
                                  " WHERE module = %Q ORDER BY version DESC LIMIT %d)",
                                  schema, module, schema, module, ADMIN_VERSIONS_KEEP),
                  errbuf, errlen, "cannot prune versions");
    if (rc == 0)
        rc = exec_sql(db,
                      sqlite3_mprintf("DELETE FROM %s.mysql_config_version_rows WHERE version"
                                      " NOT IN (SELECT version FROM %s.mysql_config_versions)",
                                      schema, schema),
                      errbuf, errlen, "cannot prune versions");
    return rc;
}

static int record_module(sqlite3 *db, unsigned mod, bool only_if_changed, char *errbuf,
                         size_t errlen)
{
    struct admin_mod_table t[MAX_MOD_TABLES];
    size_t nt = admin_module_tables(mod, t, MAX_MOD_TABLES);
    const char *name = admin_module_name(mod);
    uint64_t hash = 0xcbf29ce484222325ULL;
    int64_t v = 0, rows = 0;
    char hex[24], last[24];
    int rc;

    /* Both schemas: a version number saved to DISK and pruned from MEMORY
     * must not be handed out again. */
    rc = query_one(db,
                   "SELECT coalesce(max(version), 0) + 1 FROM (SELECT version FROM"
                   " main.mysql_config_versions UNION ALL SELECT version FROM"
                   " disk.mysql_config_versions)",
                   NULL, &v, NULL, 0);
    if (rc != 0)
        admin_set_error(errbuf, errlen, "cannot number a version: %s",
                        admin_safe_sqlite_msg(sqlite3_errmsg(db)));
    for (size_t i = 0; i < nt && rc == 0; i++)
        rc = record_table(db, &t[i], v, &hash, &rows, errbuf, errlen);
    if (rc != 0)
        return rc;
    snprintf(hex, sizeof(hex), "0x%016" PRIX64, hash);
    if (only_if_changed) {
        rc = query_one(db,
                       "SELECT checksum FROM main.mysql_config_versions WHERE module = ?1"
                       " ORDER BY version DESC LIMIT 1",
                       name, NULL, last, sizeof(last));
        if (rc == 0 && strcmp(last, hex) == 0)
            return exec_sql(db,
                            sqlite3_mprintf("DELETE FROM main.mysql_config_version_rows"
                                            " WHERE version = %lld",
                                            (long long)v),
                            errbuf, errlen, "cannot record a version");
    }
    /* SQLite's 'now' is UTC. */
    rc = exec_sql(db,
                  sqlite3_mprintf("INSERT INTO main.mysql_config_versions VALUES (%lld, %Q,"
                                  " strftime('%%Y-%%m-%%d %%H:%%M:%%S', 'now'), %Q, %lld)",
                                  (long long)v, name, hex, (long long)rows),
                  errbuf, errlen, "cannot record a version");
    if (rc == 0)
        rc = prune(db, "main", name, errbuf, errlen);
    return rc;
}

int admin_versions_record(sqlite3 *db, unsigned mods, bool only_if_changed, char *errbuf,
                          size_t errlen)
{
    int rc = 0;

    for (size_t m = 0; m < N_MODULES && rc == 0; m++)
        if (mods & module_bits[m])
            rc = record_module(db, module_bits[m], only_if_changed, errbuf, errlen);
    return rc;
}

int admin_versions_copy(sqlite3 *db, unsigned mods, enum admin_layer from, enum admin_layer to,
                        char *errbuf, size_t errlen)
{
    const char *src, *dst;
    int rc = 0;

    if (from == ADMIN_LAYER_MEMORY && to == ADMIN_LAYER_DISK) {
        src = "main";
        dst = "disk";
    } else if (from == ADMIN_LAYER_DISK && to == ADMIN_LAYER_MEMORY) {
        src = "disk";
        dst = "main";
    } else {
        return 0;
    }
    for (size_t m = 0; m < N_MODULES && rc == 0; m++) {
        const char *name = admin_module_name(module_bits[m]);

        if (!(mods & module_bits[m]))
            continue;
        rc = exec_sql(db,
                      sqlite3_mprintf("INSERT OR IGNORE INTO %s.mysql_config_version_rows"
                                      " SELECT r.* FROM %s.mysql_config_version_rows AS r"
                                      " JOIN %s.mysql_config_versions AS v USING (version)"
                                      " WHERE v.module = %Q;"
                                      "INSERT OR IGNORE INTO %s.mysql_config_versions"
                                      " SELECT * FROM %s.mysql_config_versions WHERE module = %Q",
                                      dst, src, src, name, dst, src, name),
                      errbuf, errlen, "cannot copy versions");
        if (rc == 0)
            rc = prune(db, dst, name, errbuf, errlen);
    }
    return rc;
}

/* Replaces the module's MEMORY rows by those of version v. */
static int restore(sqlite3 *db, unsigned mod, int64_t v, char *errbuf, size_t errlen)
{
    struct admin_mod_table t[MAX_MOD_TABLES];
    size_t nt = admin_module_tables(mod, t, MAX_MOD_TABLES);
    int rc = 0;

    for (size_t i = 0; i < nt && rc == 0; i++) {
        sqlite3_str *list = sqlite3_str_new(db), *extract = sqlite3_str_new(db);
        char *l, *e;

        rc = table_columns(db, t[i].name, NULL, list, extract);
        l = sqlite3_str_finish(list);
        e = sqlite3_str_finish(extract);
        if (rc == 0 && (!l || !e))
            rc = ADMIN_ENOMEM;
        if (rc == 0)
            rc = exec_sql(db,
                          sqlite3_mprintf("DELETE FROM main.%s WHERE %s;"
                                          "INSERT INTO main.%s (%s) SELECT %s FROM"
                                          " main.mysql_config_version_rows WHERE version = %lld"
                                          " AND table_name = '%q' ORDER BY rowid",
                                          t[i].name, t[i].where, t[i].name, l, e, (long long)v,
                                          t[i].name),
                          errbuf, errlen, "cannot restore the version");
        else
            admin_set_error(errbuf, errlen, "cannot restore the version of %s", t[i].name);
        sqlite3_free(l);
        sqlite3_free(e);
    }
    if (rc == 0 && (mod & (ADMIN_MOD_VARIABLES | ADMIN_MOD_ADMIN_VARIABLES)))
        rc = admin_globals_prefill(db, errbuf, errlen);
    return rc;
}

int admin_versions_rollback(struct admin_store *store, unsigned mod, int64_t version,
                            unsigned flags, struct admin_result *res, struct admin_config **out,
                            char *errbuf, size_t errlen)
{
    const char *name = admin_module_name(mod);
    char *sql, of[32];
    int rc;

    sql = sqlite3_mprintf("SELECT module FROM main.mysql_config_versions WHERE version = %lld",
                          (long long)version);
    if (!sql)
        return ADMIN_ENOMEM;
    rc = query_one(store->db, sql, NULL, NULL, of, sizeof(of));
    sqlite3_free(sql);
    if (rc != 0) {
        admin_set_error(errbuf, errlen, "ROLLBACK: cannot read mysql_config_versions");
        return rc;
    }
    if (!of[0]) {
        admin_set_error(errbuf, errlen,
                        "ROLLBACK: there is no version %lld (SHOW CONFIG VERSIONS lists them)",
                        (long long)version);
        return ADMIN_EINVAL;
    }
    if (strcmp(of, name) != 0) {
        admin_set_error(errbuf, errlen, "ROLLBACK: version %lld is of %s, not of %s",
                        (long long)version, of, name);
        return ADMIN_EINVAL;
    }
    /* The restored MEMORY rows stay only if the load takes: an outer
     * savepoint around the load's own. */
    rc = exec_sql(store->db, sqlite3_mprintf("SAVEPOINT admin_rollback"), errbuf, errlen,
                  "ROLLBACK");
    if (rc != 0)
        return rc;
    rc = restore(store->db, mod, version, errbuf, errlen);
    if (rc == 0)
        rc = admin_layer_to_runtime(store, mod, flags, res, out, errbuf, errlen);
    if (rc != 0)
        sqlite3_exec(store->db, "ROLLBACK TO admin_rollback", NULL, NULL, NULL);
    if (sqlite3_exec(store->db, "RELEASE admin_rollback", NULL, NULL, NULL) != SQLITE_OK &&
        rc == 0) {
        admin_set_error(errbuf, errlen, "ROLLBACK: cannot commit: %s", sqlite3_errmsg(store->db));
        admin_config_unref(*out);
        *out = NULL;
        rc = ADMIN_ESQL;
    }
    return rc;
}

char *admin_diff_sql(sqlite3 *db, unsigned mod, const struct admin_diff_side *a,
                     const struct admin_diff_side *b)
{
    struct admin_mod_table t[MAX_MOD_TABLES];
    size_t nt = admin_module_tables(mod, t, MAX_MOD_TABLES);
    sqlite3_str *s;

    if (!admin_module_name(mod) || nt == 0)
        return NULL;
    s = sqlite3_str_new(db);
    for (size_t i = 0; i < nt; i++) {
        char *ra = side_rows_sql(db, &t[i], a), *rb = side_rows_sql(db, &t[i], b);

        if (!ra || !rb) {
            sqlite3_free(ra);
            sqlite3_free(rb);
            sqlite3_free(sqlite3_str_finish(s));
            return NULL;
        }
        /* Whole rows on one side only carry their JSON; rows on both sides
         * are compared column by column through json_each(). IS NOT so that
         * NULL against a value counts as a change. */
        sqlite3_str_appendf(
            s,
            "%sSELECT * FROM (WITH a AS (%s), b AS (%s)"
            " SELECT 'layer_a_only' AS \"change\", '%q' AS table_name, a.k AS row_key,"
            " NULL AS column_name, a.r AS value_a, NULL AS value_b FROM a"
            " WHERE a.k NOT IN (SELECT k FROM b)"
            " UNION ALL SELECT 'layer_b_only', '%q', b.k, NULL, NULL, b.r FROM b"
            " WHERE b.k NOT IN (SELECT k FROM a)"
            " UNION ALL SELECT 'changed', '%q', a.k, ja.key, ja.value, jb.value"
            " FROM a JOIN b ON a.k = b.k, json_each(a.r) AS ja, json_each(b.r) AS jb"
            " WHERE ja.key = jb.key AND ja.value IS NOT jb.value)",
            i ? " UNION ALL " : "", ra, rb, t[i].name, t[i].name, t[i].name);
        sqlite3_free(ra);
        sqlite3_free(rb);
    }
    return sqlite3_str_finish(s);
}

/* Parsing the commands: the statement cut into at most MAX_CMD_WORDS words,
 * consumed from the front. */

#define MAX_CMD_WORDS 12

struct words {
    struct {
        const char *p;
        size_t len;
    } w[MAX_CMD_WORDS];
    size_t n, at;
};

static bool split(const char *p, size_t len, struct words *ws)
{
    const char *end = p + len;

    ws->n = ws->at = 0;
    for (;;) {
        const char *s;

        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end)
            return true;
        if (ws->n == MAX_CMD_WORDS)
            return false;
        for (s = p; p < end && !isspace((unsigned char)*p); p++)
            ;
        ws->w[ws->n].p = s;
        ws->w[ws->n++].len = (size_t)(p - s);
    }
}

/* Consumes the next word if it is kw (any case). */
static bool take(struct words *ws, const char *kw)
{
    size_t n = strlen(kw);

    if (ws->at == ws->n || ws->w[ws->at].len != n || strncasecmp(ws->w[ws->at].p, kw, n) != 0)
        return false;
    ws->at++;
    return true;
}

/* Consumes the words of a module's name ("MYSQL QUERY RULES"). */
static bool take_module(struct words *ws, unsigned *mod)
{
    for (size_t m = 0; m < N_MODULES; m++) {
        char name[32];
        size_t at = ws->at;
        bool ok = true;

        snprintf(name, sizeof(name), "%s", admin_module_name(module_bits[m]));
        for (char *save = NULL, *w = strtok_r(name, " ", &save); w && ok;
             w = strtok_r(NULL, " ", &save))
            ok = take(ws, w);
        if (ok) {
            *mod = module_bits[m];
            return true;
        }
        ws->at = at;
    }
    return false;
}

/* Consumes a positive decimal number. */
static bool take_number(struct words *ws, int64_t *v)
{
    char buf[24], *end;

    if (ws->at == ws->n || ws->w[ws->at].len >= sizeof(buf) ||
        !isdigit((unsigned char)ws->w[ws->at].p[0]))
        return false;
    memcpy(buf, ws->w[ws->at].p, ws->w[ws->at].len);
    buf[ws->w[ws->at].len] = '\0';
    *v = strtoll(buf, &end, 10);
    if (*end || *v <= 0)
        return false;
    ws->at++;
    return true;
}

static bool take_side(struct words *ws, struct admin_diff_side *side)
{
    if (take(ws, "VERSION"))
        return take_number(ws, &side->version);
    side->version = 0;
    if (take(ws, "MEMORY") || take(ws, "MEM"))
        side->layer = ADMIN_LAYER_MEMORY;
    else if (take(ws, "RUNTIME") || take(ws, "RUN"))
        side->layer = ADMIN_LAYER_RUNTIME;
    else if (take(ws, "DISK"))
        side->layer = ADMIN_LAYER_DISK;
    else
        return false;
    return true;
}

int admin_version_cmd_parse(const char *sql, size_t len, struct admin_version_cmd *cmd)
{
    struct words ws;
    bool ok;

    memset(cmd, 0, sizeof(*cmd));
    cmd->sides[0].layer = ADMIN_LAYER_MEMORY;
    cmd->sides[1].layer = ADMIN_LAYER_RUNTIME;
    if (!sql || !split(sql, len, &ws))
        return ADMIN_EINVAL;
    if (take(&ws, "SHOW")) {
        cmd->kind = ADMIN_VCMD_SHOW;
        ok = take(&ws, "CONFIG") && take(&ws, "VERSIONS") &&
             (!take(&ws, "FOR") || take_module(&ws, &cmd->mod));
    } else if (take(&ws, "ROLLBACK")) {
        cmd->kind = ADMIN_VCMD_ROLLBACK;
        ok = take_module(&ws, &cmd->mod) && take(&ws, "TO") && take(&ws, "VERSION") &&
             take_number(&ws, &cmd->version);
        cmd->force = ok && take(&ws, "FORCE");
    } else if (take(&ws, "DIFF")) {
        cmd->kind = ADMIN_VCMD_DIFF;
        ok = take_module(&ws, &cmd->mod);
        for (size_t k = 0; ok && k < 2 && ws.at < ws.n; k++)
            ok = take_side(&ws, &cmd->sides[k]);
    } else {
        ok = false;
    }
    return ok && ws.at == ws.n ? 0 : ADMIN_EINVAL;
}
