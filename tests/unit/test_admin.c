/*
 * Unit tests for admin/store.c and admin/config.c: creating a store from a
 * config script, reopening, failing scripts, password forms, validation of
 * users and globals, host:port parsing and snapshot refcounting.
 *
 * Each test gets a fresh directory from mkdtemp under /tmp (the shared
 * fixture, admin_fixture.h, removed in teardown); the datadir inside it does not exist yet, so
 * every test also exercises its creation. Tests reach the SQLite handle through admin_int.h to edit
 * tables the way the admin SQL interface would.
 */
#include "admin/admin_int.h"
#include "tests/unit/admin_fixture.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

/* MariaDB's PASSWORD('password'). */
static const char password_hash_hex[] = "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";

static int setup(void **state)
{
    fixture_new(state, "admin", NULL);
    return 0;
}

/* Writes script as the config file and opens a new store with it. */
static struct admin_store *open_with(struct fixture *fx, const char *script)
{
    struct admin_store *store = NULL;
    int rc;

    write_file(fx->conf, script);
    rc = admin_store_open(fx->datadir, fx->conf, &store, fx->err, sizeof(fx->err));
    if (rc != 0)
        fail_msg("admin_store_open: %s (%s)", admin_strerror(rc), fx->err);
    return store;
}

static void exec_sql(struct admin_store *store, const char *sql)
{
    char *emsg = NULL;

    if (sqlite3_exec(store->db, sql, NULL, NULL, &emsg) != SQLITE_OK) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", emsg ? emsg : "?");
        sqlite3_free(emsg);
        fail_msg("%s: %s", sql, msg);
    }
}

static long long query_int(struct admin_store *store, const char *sql)
{
    sqlite3_stmt *stmt;
    long long v;

    assert_int_equal(sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static struct admin_config *load_ok(struct fixture *fx, struct admin_store *store)
{
    struct admin_config *cfg = NULL;
    int rc = admin_config_load(store, &cfg, fx->err, sizeof(fx->err));

    if (rc != 0)
        fail_msg("admin_config_load: %s (%s)", admin_strerror(rc), fx->err);
    return cfg;
}

/* Loads expecting ADMIN_EINVAL, checks *out stays untouched, returns errbuf. */
static const char *load_fails(struct fixture *fx, struct admin_store *store)
{
    struct admin_config *sentinel = (struct admin_config *)(uintptr_t)0x5a5a;
    struct admin_config *cfg = sentinel;

    fx->err[0] = '\0';
    assert_int_equal(admin_config_load(store, &cfg, fx->err, sizeof(fx->err)), ADMIN_EINVAL);
    assert_ptr_equal(cfg, sentinel);
    assert_true(fx->err[0] != '\0');
    return fx->err;
}

static void hex20(const char *hex, uint8_t out[20])
{
    for (int i = 0; i < 20; i++) {
        unsigned v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void assert_hash(const uint8_t hash[20], const char *hex)
{
    uint8_t want[20];

    hex20(hex, want);
    assert_memory_equal(hash, want, 20);
}

static const char fleet_script[] =
    "-- Sluice test fleet: comments, blank lines and several statements.\n"
    "/* a block comment; with a semicolon */\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, status, weight,\n"
    "    max_connections, max_replication_lag, use_ssl, comment)\n"
    "  VALUES (0, '10.0.0.1', 3306, 'ONLINE', 10, 200, 5, 1, 'primary');\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, status)\n"
    "  VALUES (1, '10.0.0.2', 3307, 'offline_soft');\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (1, 'replica.example'); -- "
    "defaults\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, status)\n"
    "  VALUES (2, 'h3', 3306, 'SHUNNED'), (2, 'h4', 3306, 'OFFLINE_HARD');\n"
    "\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup, default_schema,\n"
    "    transaction_persistent, max_connections)\n"
    "  VALUES ('app', 'password', 0, 'shop', 0, 50);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup)\n"
    "  VALUES ('reporter', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19', 1);\n"
    "INSERT INTO mysql_users (username, password, active) VALUES ('off', 'x', 0);\n"
    "INSERT INTO mysql_users (username, password, frontend) VALUES ('backonly', 'y', 0);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply)\n"
    "  VALUES (1, 1, '^SELECT', 1, 1);\n"
    "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup)\n"
    "  VALUES (0, 1);\n"
    "INSERT OR REPLACE INTO global_variables VALUES ('mysql-threads', '4');\n"
    "UPDATE global_variables SET variable_value = '0.0.0.0:6033'\n"
    "  WHERE variable_name = 'mysql-interfaces';\n"
    "INSERT OR REPLACE INTO global_variables VALUES ('mysql-default_charset', 'utf8'),\n"
    "  ('mysql-monitor_enabled', 'false'), ('mysql-connect_timeout_server', '1500'),\n"
    "  ('admin-restapi_port', '6071');\n";

static void check_server(const struct admin_server *s, int hg, const char *host, int port,
                         enum admin_server_status status, int weight, int maxc, int lag, bool ssl,
                         const char *comment)
{
    assert_int_equal(s->hostgroup, hg);
    assert_string_equal(s->host, host);
    assert_int_equal(s->port, port);
    assert_int_equal(s->status, status);
    assert_int_equal(s->weight, weight);
    assert_int_equal(s->max_connections, maxc);
    assert_int_equal(s->max_replication_lag, lag);
    assert_int_equal(s->use_ssl, ssl);
    assert_string_equal(s->comment, comment);
}

static void test_new_store_with_config(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store = open_with(fx, fleet_script);
    struct admin_config *cfg = load_ok(fx, store);
    const struct admin_user *u;
    struct stat st;

    assert_int_equal(stat(fx->datadir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_true(exists(fx->db));

    assert_int_equal(cfg->refs, 1);
    assert_int_equal(cfg->n_servers, 5);
    assert_int_equal(cfg->n_repl_hostgroups, 1);
    assert_int_equal(cfg->repl_hostgroups[0].writer_hostgroup, 0);
    assert_int_equal(cfg->repl_hostgroups[0].reader_hostgroup, 1);
    assert_string_equal(cfg->repl_hostgroups[0].check_type, "read_only");
    check_server(&cfg->servers[0], 0, "10.0.0.1", 3306, ADMIN_SERVER_ONLINE, 10, 200, 5, true,
                 "primary");
    check_server(&cfg->servers[1], 1, "10.0.0.2", 3307, ADMIN_SERVER_OFFLINE_SOFT, 1, 1000, 0,
                 false, "");
    check_server(&cfg->servers[2], 1, "replica.example", 3306, ADMIN_SERVER_ONLINE, 1, 1000, 0,
                 false, "");
    check_server(&cfg->servers[3], 2, "h3", 3306, ADMIN_SERVER_SHUNNED, 1, 1000, 0, false, "");
    check_server(&cfg->servers[4], 2, "h4", 3306, ADMIN_SERVER_OFFLINE_HARD, 1, 1000, 0, false, "");

    /* Inactive and backend-only accounts are not client logins. */
    assert_int_equal(cfg->n_users, 2);
    u = &cfg->users[0];
    assert_string_equal(u->username, "app");
    assert_string_equal(u->password, "password");
    assert_true(u->has_password);
    assert_hash(u->native_hash, password_hash_hex);
    assert_true(u->active);
    assert_int_equal(u->default_hostgroup, 0);
    assert_string_equal(u->default_schema, "shop");
    assert_false(u->transaction_persistent);
    assert_true(u->frontend);
    assert_true(u->backend);
    assert_int_equal(u->max_connections, 50);
    u = &cfg->users[1];
    assert_string_equal(u->username, "reporter");
    assert_string_equal(u->password, "");
    assert_true(u->has_password);
    assert_hash(u->native_hash, password_hash_hex);
    assert_true(u->active);
    assert_int_equal(u->default_hostgroup, 1);
    assert_string_equal(u->default_schema, "");
    assert_true(u->transaction_persistent);
    assert_true(u->frontend);
    assert_true(u->backend);
    assert_int_equal(u->max_connections, 10000);

    /* Lookups take (ptr, len) wire data, not NUL-terminated strings. */
    assert_ptr_equal(admin_config_user(cfg, "appX", 3), &cfg->users[0]);
    assert_ptr_equal(admin_config_user(cfg, "reporter", 8), &cfg->users[1]);
    assert_null(admin_config_user(cfg, "ap", 2));
    assert_null(admin_config_user(cfg, "off", 3));
    assert_null(admin_config_user(cfg, "backonly", 8));

    assert_string_equal(cfg->mysql_interfaces, "0.0.0.0:6033");
    assert_string_equal(cfg->admin_interfaces, "127.0.0.1:6032");
    assert_string_equal(cfg->admin_credentials, "admin:admin");
    assert_int_equal(cfg->threads, 4);
    assert_string_equal(cfg->server_version, "10.11.6-MariaDB-Sluice");
    assert_int_equal(cfg->connect_timeout_server_ms, 1500);
    assert_int_equal(cfg->connect_timeout_server_max_ms, 10000);
    assert_int_equal(cfg->max_stmts_per_backend, 50);
    assert_int_equal(cfg->shutdown_timeout_ms, 10000);
    assert_int_equal(cfg->poll_timeout_ms, 2000);
    assert_int_equal(cfg->default_charset, 33);
    assert_int_equal(cfg->monitor_enabled, 0);
    assert_string_equal(cfg->monitor_username, "monitor");
    assert_string_equal(cfg->monitor_password, "monitor");
    assert_int_equal(cfg->restapi_enabled, 1);
    assert_int_equal(cfg->restapi_port, 6071);

    /* Tables outside the snapshot got the script's rows and ProxySQL's defaults. */
    assert_int_equal(query_int(store, "SELECT COUNT(*) FROM mysql_query_rules WHERE rule_id = 1"
                                      " AND re_modifiers = 'CASELESS' AND negate_match_pattern = 0"
                                      " AND attributes = ''"),
                     1);
    assert_int_equal(query_int(store, "SELECT COUNT(*) FROM mysql_replication_hostgroups"
                                      " WHERE check_type = 'read_only' AND comment = ''"),
                     1);
    /* The 58 defaults; the script only changed values. */
    assert_int_equal(query_int(store, "SELECT COUNT(*) FROM global_variables"), 58);

    admin_config_unref(cfg);
    admin_store_close(store);
}

static void test_new_store_without_config(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store = NULL;
    struct admin_config *cfg;

    assert_int_equal(admin_store_open(fx->datadir, NULL, &store, fx->err, sizeof(fx->err)), 0);
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->n_servers, 0);
    assert_int_equal(cfg->n_users, 0);
    assert_null(cfg->servers);
    assert_null(cfg->users);
    assert_string_equal(cfg->mysql_interfaces, "127.0.0.1:6033");
    assert_int_equal(cfg->threads, 0);
    assert_int_equal(cfg->default_charset, 45);
    assert_int_equal(cfg->monitor_enabled, 1);
    assert_int_equal(cfg->restapi_port, 6070);
    admin_config_unref(cfg);
    admin_store_close(store);
}

/* configs/default.sql documents the defaults; it must say what the code does. */
static void test_default_sql_matches_builtin_defaults(void **state)
{
    struct fixture *fx = *state;
    char dir_a[512], dir_b[512];
    (void)mkdir(fx->datadir, 0700);
    snprintf(dir_a, sizeof(dir_a), "%s/a", fx->datadir);
    snprintf(dir_b, sizeof(dir_b), "%s/b", fx->datadir);
    struct admin_store *plain = NULL, *with_file = NULL;
    if (admin_store_open(dir_a, NULL, &plain, fx->err, sizeof(fx->err)) != 0)
        fail_msg("%s", fx->err);
    assert_int_equal(admin_store_open(dir_b, SLUICE_SOURCE_ROOT "/configs/default.sql", &with_file,
                                      fx->err, sizeof(fx->err)),
                     0);
    const char *sql = "SELECT variable_name, variable_value FROM global_variables "
                      "ORDER BY variable_name";
    sqlite3_stmt *a, *b;
    assert_int_equal(sqlite3_prepare_v2(plain->db, sql, -1, &a, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(with_file->db, sql, -1, &b, NULL), SQLITE_OK);
    int rows = 0;
    for (;;) {
        int ra = sqlite3_step(a), rb = sqlite3_step(b);
        assert_int_equal(ra, rb);
        if (ra != SQLITE_ROW)
            break;
        assert_string_equal(sqlite3_column_text(a, 0), sqlite3_column_text(b, 0));
        assert_string_equal(sqlite3_column_text(a, 1), sqlite3_column_text(b, 1));
        rows++;
    }
    assert_true(rows >= 16);
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    /* Every variable of the file is one the code knows (the file lists them all). */
    sqlite3_stmt *n;
    assert_int_equal(
        sqlite3_prepare_v2(with_file->db, "SELECT COUNT(*) FROM global_variables", -1, &n, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(n), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(n, 0), rows);
    sqlite3_finalize(n);
    admin_store_close(plain);
    admin_store_close(with_file);
}

static void test_reopen_ignores_config(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store = open_with(fx, fleet_script);
    struct admin_config *cfg;

    /* An operator's change saved to DISK must survive a restart (MEMORY is in
     * memory now: a change made only there is gone, as in ProxySQL). */
    exec_sql(store, "UPDATE disk.global_variables SET variable_value = '8'"
                    " WHERE variable_name = 'mysql-threads';"
                    "DELETE FROM disk.global_variables WHERE variable_name = 'admin-restapi_port';"
                    "UPDATE global_variables SET variable_value = '16'"
                    " WHERE variable_name = 'mysql-threads'");
    admin_store_close(store);

    /* A script that would fail proves it is not run at all. */
    write_file(fx->conf, "INSERT INTO mysql_servers (hostname) VALUES ('other');\n"
                         "THIS IS NOT SQL;\n");
    store = NULL;
    assert_int_equal(admin_store_open(fx->datadir, fx->conf, &store, fx->err, sizeof(fx->err)), 0);
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->n_servers, 5);
    assert_int_equal(cfg->n_users, 2);
    assert_int_equal(cfg->threads, 8);
    /* A variable missing from an existing store is filled in with its default. */
    assert_int_equal(cfg->restapi_port, 6070);
    assert_int_equal(query_int(store, "SELECT COUNT(*) FROM global_variables"
                                      " WHERE variable_name = 'admin-restapi_port'"),
                     1);
    admin_config_unref(cfg);
    admin_store_close(store);
}

static void test_empty_db_file_counts_as_new(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store;
    struct admin_config *cfg;

    assert_int_equal(mkdir(fx->datadir, 0700), 0);
    write_file(fx->db, "");
    store = open_with(fx, "INSERT INTO mysql_servers (hostname) VALUES ('db1');");
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->n_servers, 1);
    admin_config_unref(cfg);
    admin_store_close(store);
}

/* Opens a new store with script, expecting failure; returns errbuf. */
static const char *open_fails(struct fixture *fx, const char *script, int want)
{
    struct admin_store *sentinel = (struct admin_store *)(uintptr_t)0x5a5a;
    struct admin_store *store = sentinel;

    if (script)
        write_file(fx->conf, script);
    fx->err[0] = '\0';
    assert_int_equal(admin_store_open(fx->datadir, fx->conf, &store, fx->err, sizeof(fx->err)),
                     want);
    assert_ptr_equal(store, sentinel);
    assert_false(exists(fx->db));
    assert_true(fx->err[0] != '\0');
    return fx->err;
}

static void test_bad_config(void **state)
{
    struct fixture *fx = *state;
    const char *err;

    /* A constraint failure on line 4; the first statement is rolled back too. */
    err = open_fails(fx,
                     "-- header\n"
                     "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (0, 'a');\n"
                     "\n"
                     "  INSERT INTO mysql_users (username, password, active)\n"
                     "    VALUES ('bob', 'hunter2', 5);\n"
                     "INSERT INTO mysql_servers (hostname) VALUES ('never');\n",
                     ADMIN_ESQL);
    assert_non_null(strstr(err, "line 4"));
    assert_non_null(strstr(err, "CHECK constraint failed"));
    assert_non_null(strstr(err, "INSERT INTO mysql_users (username, password, active)"));
    assert_null(strstr(err, "hunter2"));

    /* A syntax error next to a literal must not echo the literal. */
    err = open_fails(fx, "INSERT INTO mysql_users VALUES ('bob' 'hunter2');", ADMIN_ESQL);
    assert_non_null(strstr(err, "line 1"));
    assert_non_null(strstr(err, "syntax error"));
    assert_null(strstr(err, "hunter2"));

    err = open_fails(fx, "INSERT INTO mysql_users (username, password) VALUES ('bob', 'hunter2",
                     ADMIN_ESQL);
    assert_null(strstr(err, "hunter2"));

    err = open_fails(fx, "SELECT 1;\nINSERT INTO no_such_table VALUES (1);", ADMIN_ESQL);
    assert_non_null(strstr(err, "no such table: no_such_table"));
    assert_non_null(strstr(err, "line 2"));

    /* A misspelt variable would keep its default without a word: refused,
     * with its line and the names meant. */
    err = open_fails(fx,
                     "INSERT INTO mysql_servers (hostname) VALUES ('a');\n"
                     "UPDATE global_variables SET variable_value = '5'\n"
                     "  WHERE variable_name = 'mysql-max_connections';\n"
                     "INSERT INTO global_variables VALUES ('mysql-max_conections', '5');\n",
                     ADMIN_EINVAL);
    assert_non_null(strstr(err, "line 4"));
    assert_non_null(strstr(err, "unknown variable 'mysql-max_conections'"));
    assert_non_null(strstr(err, "'mysql-max_connections'"));

    unlink(fx->conf);
    err = open_fails(fx, NULL, ADMIN_EIO);
    assert_non_null(strstr(err, fx->conf));

    /* The datadir itself stays: only the store file is removed. */
    assert_true(exists(fx->datadir));
}

static void test_bad_datadir(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store = NULL;
    char path[192];

    snprintf(path, sizeof(path), "%s/missing/data", fx->root);
    assert_int_equal(admin_store_open(path, NULL, &store, fx->err, sizeof(fx->err)), ADMIN_EIO);
    assert_non_null(strstr(fx->err, path));
    write_file(fx->conf, "");
    assert_int_equal(admin_store_open(fx->conf, NULL, &store, fx->err, sizeof(fx->err)), ADMIN_EIO);
    assert_non_null(strstr(fx->err, "not a directory"));
    /* errbuf is optional. */
    assert_int_equal(admin_store_open(path, NULL, &store, NULL, 0), ADMIN_EIO);
    assert_null(store);
}

static void test_password_forms(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store;
    struct admin_config *cfg;
    const struct admin_user *u;
    char sql[512], long_pw[128];

    store = open_with(fx, "INSERT INTO mysql_users (username, password) VALUES"
                          " ('plain', 'password'), ('root', 'root'),"
                          " ('hash', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'),"
                          " ('lowerhash', '*2470c0c06dee42fd1618bb99005adca2ec9d1e19'),"
                          " ('empty', ''), ('nullpw', NULL), ('star', '*short');");
    /* 100 and 127 bytes: multi-block SHA-1 input and the longest plain password. */
    memset(long_pw, 'x', 100);
    long_pw[100] = '\0';
    snprintf(sql, sizeof(sql), "INSERT INTO mysql_users (username, password) VALUES ('x100', '%s')",
             long_pw);
    exec_sql(store, sql);
    memset(long_pw, 'p', 127);
    long_pw[127] = '\0';
    snprintf(sql, sizeof(sql), "INSERT INTO mysql_users (username, password) VALUES ('p127', '%s')",
             long_pw);
    exec_sql(store, sql);

    cfg = load_ok(fx, store);
    assert_int_equal(cfg->n_users, 9);

    u = admin_config_user(cfg, "plain", 5);
    assert_non_null(u);
    assert_true(u->has_password);
    assert_string_equal(u->password, "password");
    assert_hash(u->native_hash, password_hash_hex);

    u = admin_config_user(cfg, "root", 4);
    assert_non_null(u);
    assert_hash(u->native_hash, "81F5E21E35407D884A6CD4A731AEBFB6AF209E1B");

    u = admin_config_user(cfg, "hash", 4);
    assert_non_null(u);
    assert_true(u->has_password);
    assert_string_equal(u->password, "");
    assert_hash(u->native_hash, password_hash_hex);

    u = admin_config_user(cfg, "lowerhash", 9);
    assert_non_null(u);
    assert_true(u->has_password);
    assert_string_equal(u->password, "");
    assert_hash(u->native_hash, password_hash_hex);

    for (int i = 0; i < 2; i++) {
        static const uint8_t zero[20];

        u = i == 0 ? admin_config_user(cfg, "empty", 5) : admin_config_user(cfg, "nullpw", 6);
        assert_non_null(u);
        assert_false(u->has_password);
        assert_string_equal(u->password, "");
        assert_memory_equal(u->native_hash, zero, 20);
    }

    /* Not 41 characters, so a plain password that happens to start with '*'. */
    u = admin_config_user(cfg, "star", 4);
    assert_non_null(u);
    assert_true(u->has_password);
    assert_string_equal(u->password, "*short");

    u = admin_config_user(cfg, "x100", 4);
    assert_non_null(u);
    assert_hash(u->native_hash, "5615FCF664CC628D3AED5FD5D5138B5DAE42D72C");
    u = admin_config_user(cfg, "p127", 4);
    assert_non_null(u);
    assert_int_equal(strlen(u->password), 127);
    assert_hash(u->native_hash, "E46189355E20E3F83854259B07C759507BE81972");
    admin_config_unref(cfg);

    /* A mistyped hash is refused, naming the user but not the value. */
    exec_sql(store, "BEGIN; INSERT INTO mysql_users (username, password)"
                    " VALUES ('typo', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1EZZ')");
    assert_non_null(strstr(load_fails(fx, store), "'typo'"));
    assert_null(strstr(fx->err, "2470"));
    exec_sql(store, "ROLLBACK");

    /* 128 bytes does not fit the snapshot's buffer. */
    exec_sql(store, "BEGIN; INSERT INTO mysql_users (username, password)"
                    " VALUES ('toolong', printf('%.128c', 'q'))");
    assert_non_null(strstr(load_fails(fx, store), "'toolong'"));
    assert_null(strstr(fx->err, "qqqq"));
    exec_sql(store, "ROLLBACK");

    admin_store_close(store);
}

static void test_missing_hostgroup(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store;
    struct admin_config *cfg;
    const char *err;

    store = open_with(fx, "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (0, 'db1');"
                          "INSERT INTO mysql_users (username, password, default_hostgroup)"
                          " VALUES ('bob', 'pw', 0), ('alice', 'pw', 7);");
    err = load_fails(fx, store);
    assert_non_null(strstr(err, "'alice'"));
    assert_non_null(strstr(err, "7"));

    /* An inactive user's hostgroup is not checked: it cannot log in. */
    exec_sql(store, "UPDATE mysql_users SET active = 0 WHERE username = 'alice'");
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->n_users, 1);
    admin_config_unref(cfg);

    /* An empty fleet is a valid configuration. */
    exec_sql(store, "UPDATE mysql_users SET active = 1;DELETE FROM mysql_servers");
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->n_servers, 0);
    assert_int_equal(cfg->n_users, 2);
    admin_config_unref(cfg);
    admin_store_close(store);
}

static void test_bad_server_rows(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store;

    store = open_with(fx, "");
    /* The table allows port 0; a snapshot cannot connect there. */
    exec_sql(store, "BEGIN; INSERT INTO mysql_servers (hostname, port) VALUES ('db0', 0)");
    assert_non_null(strstr(load_fails(fx, store), "db0"));
    exec_sql(store, "ROLLBACK");
    /* SQLite keeps non-numeric text in an INT column whose only check is
     * ">= 0" (text sorts above numbers); it must not read as 0. */
    exec_sql(store, "BEGIN; INSERT INTO mysql_servers (hostname, max_connections)"
                    " VALUES ('dbw', 'many')");
    assert_non_null(strstr(load_fails(fx, store), "dbw"));
    exec_sql(store, "ROLLBACK");
    exec_sql(store, "BEGIN; INSERT INTO mysql_servers (hostname) VALUES ('')");
    assert_non_null(strstr(load_fails(fx, store), "hostname"));
    exec_sql(store, "ROLLBACK");
    admin_store_close(store);
}

struct bad_global {
    const char *name;
    const char *value;
    bool secret; /* the message must not quote the value */
};

static const struct bad_global bad_globals[] = {
    {"mysql-threads", "257", false},
    {"mysql-threads", "-1", false},
    {"mysql-threads", "abc", false},
    {"mysql-threads", "4x", false},
    {"mysql-threads", " 4", false},
    {"mysql-threads", "", false},
    {"mysql-threads", "99999999999999999999", false},
    {"mysql-connect_timeout_server", "0", false},
    {"mysql-connect_timeout_server_max", "100", false}, /* below connect_timeout_server */
    {"mysql-shutdown_timeout", "-5", false},
    {"mysql-poll_timeout", "0", false},
    {"mysql-max_stmts_per_connection", "0", false},
    {"mysql-interfaces", "127.0.0.1:0", false},
    {"mysql-interfaces", "127.0.0.1:65536", false},
    {"mysql-interfaces", "127.0.0.1", false},
    {"mysql-interfaces", ":6033", false},
    {"mysql-interfaces", "127.0.0.1:6033;", false},
    {"mysql-interfaces", "127.0.0.1:60a3", false},
    {"admin-mysql_ifaces", "localhost", false},
    {"admin-restapi_port", "0", false},
    {"admin-restapi_port", "70000", false},
    {"mysql-default_charset", "klingon", false},
    {"mysql-monitor_enabled", "maybe", false},
    {"admin-restapi_enabled", "yes please", false},
    {"mysql-server_version", "", false},
    {"admin-admin_credentials", "adminsecret", true},
    {"admin-admin_credentials", ":nouser", true},
};

static void set_global(struct admin_store *store, const char *name, const char *value)
{
    sqlite3_stmt *stmt;

    assert_int_equal(sqlite3_prepare_v2(store->db,
                                        "INSERT OR REPLACE INTO global_variables VALUES (?1, ?2)",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
}

static void test_global_out_of_range(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store = open_with(fx, "");
    struct admin_config *cfg;

    for (size_t i = 0; i < sizeof(bad_globals) / sizeof(bad_globals[0]); i++) {
        const struct bad_global *b = &bad_globals[i];
        const char *err;

        /* Inside the caller's transaction, so the rollback restores the default. */
        exec_sql(store, "BEGIN");
        set_global(store, b->name, b->value);
        err = load_fails(fx, store);
        if (!strstr(err, b->name))
            fail_msg("%s='%s': message '%s' does not name the variable", b->name, b->value, err);
        if (b->secret && strstr(err, b->value))
            fail_msg("%s: message quotes the secret value", b->name);
        exec_sql(store, "ROLLBACK");
    }

    /* Boundaries and alternative spellings that are accepted. */
    exec_sql(store, "BEGIN");
    set_global(store, "mysql-threads", "256");
    set_global(store, "mysql-interfaces", "0.0.0.0:6033;127.0.0.1:6034;[::1]:6035");
    set_global(store, "mysql-default_charset", "LATIN1");
    set_global(store, "mysql-monitor_enabled", "0");
    set_global(store, "admin-restapi_enabled", "FALSE");
    set_global(store, "admin-restapi_port", "65535");
    set_global(store, "mysql-monitor_password", "");
    set_global(store, "admin-admin_credentials", "admin:admin;radmin:secret");
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->threads, 256);
    assert_string_equal(cfg->mysql_interfaces, "0.0.0.0:6033;127.0.0.1:6034;[::1]:6035");
    assert_int_equal(cfg->default_charset, 8);
    assert_int_equal(cfg->monitor_enabled, 0);
    assert_int_equal(cfg->restapi_enabled, 0);
    assert_int_equal(cfg->restapi_port, 65535);
    assert_string_equal(cfg->monitor_password, "");
    admin_config_unref(cfg);
    set_global(store, "mysql-default_charset", "binary");
    cfg = load_ok(fx, store);
    assert_int_equal(cfg->default_charset, 63);
    admin_config_unref(cfg);
    exec_sql(store, "ROLLBACK");

    admin_store_close(store);
}

struct hostport_case {
    const char *text;
    int rc;
    const char *host;
    int port;
};

static const struct hostport_case hostport_cases[] = {
    {"127.0.0.1:6033", 0, "127.0.0.1", 6033},
    {"0.0.0.0:6033", 0, "0.0.0.0", 6033},
    {"localhost:1", 0, "localhost", 1},
    {"db.example.com:65535", 0, "db.example.com", 65535},
    {"[::1]:6033", 0, "::1", 6033},
    {"[::]:3306", 0, "::", 3306},
    {"127.0.0.1", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:", ADMIN_EINVAL, NULL, 0},
    {":6033", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:0", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:65536", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:099999", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:-1", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:+80", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:60 33", ADMIN_EINVAL, NULL, 0},
    {"127.0.0.1:6033x", ADMIN_EINVAL, NULL, 0},
    {"::1:6033", ADMIN_EINVAL, NULL, 0},
    {"[::1]6033", ADMIN_EINVAL, NULL, 0},
    {"[::1:6033", ADMIN_EINVAL, NULL, 0},
    {"[]:6033", ADMIN_EINVAL, NULL, 0},
    {"my host:6033", ADMIN_EINVAL, NULL, 0},
    {"", ADMIN_EINVAL, NULL, 0},
};

static void test_parse_hostport(void **state)
{
    char host[64], small[4];
    int port;

    (void)state;
    for (size_t i = 0; i < sizeof(hostport_cases) / sizeof(hostport_cases[0]); i++) {
        const struct hostport_case *c = &hostport_cases[i];
        int rc;

        strcpy(host, "unchanged");
        port = -7;
        rc = admin_parse_hostport(c->text, host, sizeof(host), &port);
        if (rc != c->rc)
            fail_msg("'%s': rc %d, want %d", c->text, rc, c->rc);
        if (rc == 0) {
            assert_string_equal(host, c->host);
            assert_int_equal(port, c->port);
        } else {
            /* Outputs are written only on success. */
            assert_string_equal(host, "unchanged");
            assert_int_equal(port, -7);
        }
    }
    /* The host must fit hostlen - 1 bytes. */
    assert_int_equal(admin_parse_hostport("abc:1", small, sizeof(small), &port), 0);
    assert_string_equal(small, "abc");
    assert_int_equal(admin_parse_hostport("abcd:1", small, sizeof(small), &port), ADMIN_EINVAL);
    assert_int_equal(admin_parse_hostport(NULL, host, sizeof(host), &port), ADMIN_EINVAL);
}

#define REF_THREADS 4
#define REF_ROUNDS 20000

static void *ref_worker(void *arg)
{
    struct admin_config *cfg = arg;

    /* A worker's pattern: take the snapshot per statement, read, release. */
    for (int i = 0; i < REF_ROUNDS; i++) {
        struct admin_config *c = admin_config_ref(cfg);

        if (c->n_servers != 1)
            abort();
        admin_config_unref(c);
    }
    admin_config_unref(cfg); /* the reference the main thread handed over */
    return NULL;
}

static void test_refcount(void **state)
{
    struct fixture *fx = *state;
    struct admin_store *store;
    struct admin_config *cfg;
    pthread_t th[REF_THREADS];

    store = open_with(fx, "INSERT INTO mysql_servers (hostname) VALUES ('db1');"
                          "INSERT INTO mysql_users (username, password) VALUES ('u', 'p');");
    cfg = load_ok(fx, store);
    /* The snapshot does not depend on the store staying open. */
    admin_store_close(store);

    assert_ptr_equal(admin_config_ref(cfg), cfg);
    assert_int_equal(cfg->refs, 2);
    admin_config_unref(cfg);
    assert_int_equal(cfg->refs, 1);

    for (int i = 0; i < REF_THREADS; i++) {
        admin_config_ref(cfg);
        assert_int_equal(pthread_create(&th[i], NULL, ref_worker, cfg), 0);
    }
    for (int i = 0; i < REF_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(cfg->refs, 1);
    /* The last unref frees everything; LeakSanitizer checks at exit. */
    admin_config_unref(cfg);

    assert_null(admin_config_ref(NULL));
    admin_config_unref(NULL);
    admin_store_close(NULL);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(admin_strerror(0), "success");
    assert_non_null(strstr(admin_strerror(ADMIN_EIO), "store"));
    assert_non_null(strstr(admin_strerror(ADMIN_ESQL), "SQL"));
    assert_non_null(strstr(admin_strerror(ADMIN_EINVAL), "invalid"));
    assert_non_null(strstr(admin_strerror(ADMIN_ENOMEM), "memory"));
    assert_non_null(strstr(admin_strerror(-99), "unknown"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_store_with_config, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_new_store_without_config, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_ignores_config, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_default_sql_matches_builtin_defaults, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_db_file_counts_as_new, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_datadir, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_password_forms, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_missing_hostgroup, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_server_rows, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_global_out_of_range, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_parse_hostport, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refcount, setup, fixture_teardown),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
