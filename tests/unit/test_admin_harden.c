/*
 * Unit tests for the admin module's hardening: admin SQL cannot leave SQLite
 * (admin/sandbox.c through exec.c's authorizer); the datadir and the files
 * in it are private whatever the umask, and a datadir open to others gets a
 * warning (admin/store.c); weak admin credentials only from loopback, and
 * not at all with the admin interface on another address (admin/access.c).
 *
 * Each test gets a fresh directory from mkdtemp under /tmp (removed in
 * teardown) holding the datadir, so files an escape would create land there
 * and can be looked for.
 */
#include "admin/admin.h"
#include "tests/unit/admin_fixture.h"

#include <fcntl.h>
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

static const char fleet[] =
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, 'db1', 3306);\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (1, 'db2', 3306);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('app', 'pw', 0);\n";

static int setup(void **state)
{
    fixture_new(state, "admin_harden", fleet);
    return 0;
}

static void open_store(struct fixture *fx)
{
    assert_int_equal(fixture_open(fx, fx->conf), 0);
}

/* Everything an escape could change: the rows of MEMORY and DISK that hold
 * servers and users, and both schemas. */
static char *store_digest(struct fixture *fx)
{
    char *d = strdup(value(
        fx, "SELECT (SELECT group_concat(hostgroup_id || hostname || port || status, ',')"
            " FROM main.mysql_servers) || '|' ||"
            " (SELECT group_concat(username || password, ',') FROM main.mysql_users) || '|' ||"
            " (SELECT group_concat(hostgroup_id || hostname || port || status, ',')"
            " FROM disk.mysql_servers) || '|' ||"
            " (SELECT group_concat(username || password, ',') FROM disk.mysql_users) || '|' ||"
            " (SELECT group_concat(type || name || coalesce(sql, ''), ',')"
            " FROM main.sqlite_master) || '|' ||"
            " (SELECT group_concat(type || name || coalesce(sql, ''), ',')"
            " FROM disk.sqlite_master)"));

    assert_non_null(d);
    return d;
}

/* Each statement that would reach the file system or native code, and the
 * file it would create (in the test's directory) if any. */
static void test_escapes_refused(void **state)
{
    struct fixture *fx = *state;
    struct {
        const char *sql; /* %s: the test's directory */
        const char *file;
        const char *why; /* in the message */
    } cases[] = {
        {"SELECT fts3_tokenizer('simple')", NULL, "function fts3_tokenizer() is not allowed"},
        {"SELECT fts3_tokenizer('x', X'0000000000000000')", NULL,
         "function fts3_tokenizer() is not allowed"},
        {"ATTACH DATABASE '%s/x.db' AS x", "x.db", "ATTACH is not allowed"},
        {"attach '%s/x.db' as x", "x.db", "ATTACH is not allowed"},
        {"DETACH DATABASE disk", NULL, "DETACH is not allowed"},
        {"VACUUM INTO '%s/y.db'", "y.db", "VACUUM is not allowed"},
        {"/* tidy up */ vacuum disk", NULL, "VACUUM is not allowed"},
        {"SELECT load_extension('%s/z')", NULL, "function load_extension() is not allowed"},
        {"SELECT writefile('%s/w', 'x')", "w", "function writefile() is not allowed"},
        {"SELECT readfile('/etc/passwd')", NULL, "function readfile() is not allowed"},
        {"SELECT zeroblob(1000000000)", NULL, "function zeroblob() is not allowed"},
        {"PRAGMA writable_schema=1", NULL, "PRAGMA writable_schema is not allowed"},
        {"PRAGMA trusted_schema=1", NULL, "PRAGMA trusted_schema is not allowed"},
        {"PRAGMA disk.journal_mode=OFF", NULL, "PRAGMA journal_mode is not allowed"},
        {"SELECT * FROM pragma_journal_mode", NULL, "PRAGMA journal_mode is not allowed"},
        {"CREATE VIRTUAL TABLE v USING fts4(a)", NULL, "virtual tables are not allowed"},
        {"CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)", NULL, "virtual tables are not allowed"},
    };
    char *before, *after, sql[256], path[256];

    open_store(fx);
    before = store_digest(fx);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(sql, sizeof(sql), cases[i].sql, fx->root);
        run(fx, sql);
        if (fx->res.kind != ADMIN_RES_ERROR)
            fail_msg("%s: not refused", sql);
        if (fx->res.err_code != 1227 || strcmp(fx->res.err_sqlstate, "42000") != 0)
            fail_msg("%s: error %u (%s) %s", sql, fx->res.err_code, fx->res.err_sqlstate,
                     fx->res.err_msg);
        assert_contains(fx->res.err_msg, "Access denied; ");
        assert_contains(fx->res.err_msg, cases[i].why);
        assert_contains(fx->res.err_msg, "on the admin interface");
        if (cases[i].file) {
            snprintf(path, sizeof(path), "%s/%s", fx->root, cases[i].file);
            if (exists(path))
                fail_msg("%s created %s", sql, path);
        }
    }
    after = store_digest(fx);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* The store still works, and disk is still attached. */
    run_ok(fx, "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (2, 'db3')");
    run_ok(fx, "SAVE MYSQL SERVERS TO DISK");
    assert_string_equal(value(fx, "SELECT count(*) FROM disk.mysql_servers"), "3");
}

/* A trigger is compiled into the statement that fires it, under the same
 * authorizer; and SQLite runs neither function from a schema at all. */
static void test_trigger_cannot_smuggle(void **state)
{
    struct fixture *fx = *state;

    open_store(fx);
    run_ok(fx, "CREATE TABLE scratch (a INT)");
    run_ok(fx, "CREATE TRIGGER sneak AFTER INSERT ON scratch BEGIN"
               " SELECT load_extension('/nonexistent'); END");
    run(fx, "INSERT INTO scratch VALUES (1)");
    assert_int_equal(fx->res.err_code, 1227);
    assert_contains(fx->res.err_msg, "function load_extension() is not allowed");
    run_ok(fx, "DROP TRIGGER sneak");
    run_ok(fx, "CREATE VIEW leak AS SELECT fts3_tokenizer('simple') AS p");
    /* SQLite's own refusal (SQLITE_DIRECTONLY) comes before the authorizer. */
    run(fx, "SELECT * FROM leak");
    assert_int_equal(fx->res.kind, ADMIN_RES_ERROR);
    assert_contains(fx->res.err_msg, "unsafe use of fts3_tokenizer()");
    assert_string_equal(value(fx, "SELECT count(*) FROM scratch"), "0");
}

/* What operators and the mariadb client use keeps working. */
static void test_ordinary_sql_allowed(void **state)
{
    struct fixture *fx = *state;

    open_store(fx);
    assert_string_equal(value(fx, "SELECT count(*) || max(port) || upper(min(hostname)) ||"
                                  " coalesce(NULL, 'x') || ifnull(NULL, 'y') || length('abc') ||"
                                  " substr('hello', 1, 2) || printf('%d', 7) || abs(-1)"
                                  " FROM mysql_servers"),
                        "23306DB1xy3he71");
    assert_string_equal(value(fx, "SELECT group_concat(hostname, ',') FROM mysql_servers"
                                  " WHERE hostname LIKE 'db%' AND hostname GLOB 'db*'"),
                        "db1,db2");
    assert_string_equal(value(fx, "SELECT datetime(0, 'unixepoch') || strftime('%Y', '2024-01-01')"
                                  " || julianday('2000-01-01') || typeof(random())"),
                        "1970-01-01 00:00:002024" /* julianday: */ "2451544.5integer");
    assert_string_equal(value(fx, "SELECT json_extract('{\"a\": 1}', '$.a') + json_valid('{}')"),
                        "2");
    assert_string_equal(
        value(fx, "SELECT max(n) FROM (SELECT row_number() OVER () AS n FROM mysql_servers)"), "2");
    assert_string_equal(value(fx, "SELECT DATABASE() || USER()"), "mainadmin@localhost");
    run_set(fx, "PRAGMA table_info(mysql_servers)");
    assert_true(fx->res.nrows > 3);
    assert_string_equal(
        value(fx, "SELECT name FROM pragma_table_info('mysql_servers') WHERE cid = 0"),
        "hostgroup_id");
    run_set(fx, "PRAGMA index_list(mysql_servers)");
    assert_string_equal(value(fx, "PRAGMA disk.quick_check"), "ok");
}

static unsigned mode_of(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        fail_msg("stat %s failed", path);
    return (unsigned)(st.st_mode & 07777);
}

/* Under umask 000 SQLite alone would create sluice.db and its journal 0644. */
static void test_private_files_under_umask_000(void **state)
{
    struct fixture *fx = *state;
    mode_t old = umask(0);
    char db[160], journal[176];

    open_store(fx);
    snprintf(db, sizeof(db), "%s/sluice.db", fx->datadir);
    snprintf(journal, sizeof(journal), "%s-journal", db);
    assert_int_equal(mode_of(fx->datadir), 0700);
    assert_int_equal(mode_of(db), 0600);
    /* A write transaction on DISK keeps its rollback journal until it ends. */
    run_ok(fx, "BEGIN");
    run_ok(fx, "INSERT INTO disk.mysql_users (username, password) VALUES ('j', 'k')");
    assert_int_equal(mode_of(journal), 0600);
    run_ok(fx, "ROLLBACK");
    assert_false(exists(journal));
    umask(old);
}

/* Runs admin_store_open with stderr going to a file; returns what was
 * logged (static buffer). */
static const char *open_store_logged(struct fixture *fx)
{
    static char logged[2048];
    char path[160];
    int saved = dup(STDERR_FILENO), fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/stderr.txt", fx->root);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    open_store(fx);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    n = pread(fd, logged, sizeof(logged) - 1, 0);
    close(fd);
    logged[n > 0 ? n : 0] = '\0';
    return logged;
}

/* An existing datadir or sluice.db open to others is the operator's to fix:
 * the store opens, with a warning naming the path and its mode. */
static void test_open_modes_warned(void **state)
{
    struct fixture *fx = *state;
    char db[160];
    const char *logged;

    assert_int_equal(mkdir(fx->datadir, 0700), 0);
    assert_int_equal(chmod(fx->datadir, 0755), 0);
    logged = open_store_logged(fx);
    assert_contains(logged, "WARN datadir ");
    assert_contains(logged, fx->datadir);
    assert_contains(logged, "has mode 0755");
    assert_int_equal(mode_of(fx->datadir), 0755);
    snprintf(db, sizeof(db), "%s/sluice.db", fx->datadir);
    assert_int_equal(mode_of(db), 0600);
    assert_string_equal(value(fx, "SELECT count(*) FROM disk.mysql_servers"), "2");

    admin_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(chmod(fx->datadir, 0700), 0);
    assert_int_equal(chmod(db, 0644), 0);
    logged = open_store_logged(fx);
    assert_null(strstr(logged, "datadir"));
    assert_contains(logged, "sluice.db has mode 0644");
    assert_int_equal(mode_of(db), 0644);

    /* A private datadir and file: nothing to say. */
    admin_store_close(fx->store);
    fx->store = NULL;
    assert_int_equal(chmod(db, 0600), 0);
    assert_string_equal(open_store_logged(fx), "");
}

static void test_loopback_addresses(void **state)
{
    static const struct {
        const char *host;
        bool loopback;
    } cases[] = {
        {"127.0.0.1", true},    {"127.1.2.3", true},
        {"::1", true},          {"::ffff:127.0.0.1", true},
        {"0.0.0.0", false},     {"::", false},
        {"10.0.0.5", false},    {"192.168.1.1", false},
        {"128.0.0.1", false},   {"::ffff:10.0.0.1", false},
        {"fe80::1", false},     {"::2", false},
        {"localhost", false},   {"", false},
        {"127.0.0.1.5", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (admin_addr_is_loopback(cases[i].host) != cases[i].loopback)
            fail_msg("%s: want loopback %d", cases[i].host, cases[i].loopback);
    assert_false(admin_addr_is_loopback(NULL));
}

static void test_weak_credentials(void **state)
{
    (void)state;
    assert_true(admin_credential_weak("admin", "admin"));
    assert_true(admin_credential_weak("admin", ""));
    assert_true(admin_credential_weak("ops", ""));
    assert_true(admin_credential_weak("ops", NULL));
    assert_false(admin_credential_weak("admin", "s3cret"));
    assert_false(admin_credential_weak("Admin", "admin"));
    assert_false(admin_credential_weak("radmin", "admin"));
    assert_false(admin_credential_weak("ops", "admin"));
}

static void test_exposure(void **state)
{
    static const struct {
        const char *ifaces, *creds;
        const char *want; /* NULL: allowed; else in the message */
    } cases[] = {
        /* The defaults: loopback only. */
        {"127.0.0.1:6032", "admin:admin", NULL},
        {"[::1]:6032", "admin:admin", NULL},
        {"127.0.0.2:6032;[::1]:6032", "ops:", NULL},
        /* Any other address with strong credentials only. */
        {"0.0.0.0:6032", "admin:s3cret", NULL},
        {"10.0.0.5:6032", "ops:x;admin:y", NULL},
        /* Any other address with a weak pair anywhere in the list. */
        {"0.0.0.0:6032", "admin:admin", "'0.0.0.0:6032' is not a loopback address"},
        {"[::]:6032", "admin:admin", "user 'admin' the default password"},
        {"192.168.1.10:6032", "ops:s3cret;admin:admin", "user 'admin' the default password"},
        {"127.0.0.1:6032;10.0.0.5:6032", "ops:", "user 'ops' an empty password"},
    };
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        err[0] = '\0';
        rc = admin_check_exposure(cases[i].ifaces, cases[i].creds, err, sizeof(err));
        if (!cases[i].want) {
            if (rc != 0)
                fail_msg("%s with %s refused: %s", cases[i].ifaces, cases[i].creds, err);
            continue;
        }
        assert_int_equal(rc, ADMIN_EINVAL);
        assert_contains(err, cases[i].want);
        assert_contains(err, "set admin-admin_credentials");
        assert_contains(err, "admin-mysql_ifaces to 127.0.0.1");
    }
    /* The message never quotes a password. */
    assert_int_equal(
        admin_check_exposure("0.0.0.0:6032", "admin:admin;ops:hunter2", err, sizeof(err)),
        ADMIN_EINVAL);
    assert_null(strstr(err, "hunter2"));
    assert_null(strstr(err, "admin:admin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escapes_refused, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_trigger_cannot_smuggle, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ordinary_sql_allowed, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_private_files_under_umask_000, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_open_modes_warned, setup, fixture_teardown),
        cmocka_unit_test(test_loopback_addresses),
        cmocka_unit_test(test_weak_credentials),
        cmocka_unit_test(test_exposure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
