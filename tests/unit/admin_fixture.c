#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw; meson passes -D_GNU_SOURCE, direct gcc builds do not */
#endif
#include "tests/unit/admin_fixture.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

const char fixture_fleet[] =
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, 'db1', 3306);\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (1, 'db2', 3306);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup) VALUES ('app', 'pw', 0);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup,"
    " apply) VALUES (1, 1, '^SELECT', 1, 1);\n";

struct fixture *fixture_new(void **state, const char *name, const char *conf)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    snprintf(fx->root, sizeof(fx->root), "/tmp/sluice_test_%s_XXXXXX", name);
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->datadir, sizeof(fx->datadir), "%s/data", fx->root);
    snprintf(fx->conf, sizeof(fx->conf), "%s/sluice.sql", fx->root);
    snprintf(fx->db, sizeof(fx->db), "%s/sluice.db", fx->datadir);
    if (conf)
        write_file(fx->conf, conf);
    *state = fx;
    return fx;
}

int fixture_setup_started(void **state, const char *name, const char *conf)
{
    struct fixture *fx = fixture_new(state, name, conf);

    /* cmocka skips teardown when setup fails, so clean up here. */
    if (fixture_try_start(fx) != 0) {
        fixture_teardown(state);
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int fixture_teardown(void **state)
{
    struct fixture *fx = *state;

    fixture_stop(fx);
    nftw(fx->root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

int fixture_open(struct fixture *fx, const char *conf)
{
    int rc = admin_store_open(fx->datadir, conf, &fx->store, fx->err, sizeof(fx->err));

    if (rc != 0)
        print_error("admin_store_open: %s (%s)\n", admin_strerror(rc), fx->err);
    return rc;
}

int fixture_try_start(struct fixture *fx)
{
    int rc = fixture_open(fx, fx->conf);

    if (rc != 0)
        return rc;
    rc = admin_config_load(fx->store, &fx->runtime, fx->err, sizeof(fx->err));
    if (rc != 0) {
        print_error("admin_config_load: %s (%s)\n", admin_strerror(rc), fx->err);
        admin_store_close(fx->store);
        fx->store = NULL;
    }
    return rc;
}

void fixture_start(struct fixture *fx)
{
    assert_int_equal(fixture_try_start(fx), 0);
}

void fixture_stop(struct fixture *fx)
{
    admin_result_free(&fx->res);
    admin_config_unref(fx->runtime);
    fx->runtime = NULL;
    admin_store_close(fx->store);
    fx->store = NULL;
}

bool run(struct fixture *fx, const char *sql)
{
    int rc;

    admin_result_free(&fx->res);
    rc = admin_execute(fx->store, fx->runtime, sql, strlen(sql), &fx->res);
    assert_int_equal(rc == 0, fx->res.kind != ADMIN_RES_ERROR);
    if (!fx->runtime)
        assert_null(fx->res.new_runtime);
    if (!fx->res.new_runtime)
        return false;
    admin_config_unref(fx->runtime);
    fx->runtime = fx->res.new_runtime;
    fx->res.new_runtime = NULL;
    return true;
}

/* Fails unless the last result is of this kind. */
static void want_kind(const struct fixture *fx, const char *sql, enum admin_result_kind kind)
{
    if (fx->res.kind != kind)
        fail_msg("%s: kind %d, error %u %s", sql, fx->res.kind, fx->res.err_code, fx->res.err_msg);
}

uint64_t run_ok(struct fixture *fx, const char *sql)
{
    run(fx, sql);
    want_kind(fx, sql, ADMIN_RES_OK);
    return fx->res.affected_rows;
}

void run_set(struct fixture *fx, const char *sql)
{
    run(fx, sql);
    want_kind(fx, sql, ADMIN_RES_ROWS);
}

void run_rows(struct fixture *fx, const char *sql, size_t ncols, size_t nrows)
{
    run_set(fx, sql);
    assert_int_equal(fx->res.ncols, ncols);
    if (fx->res.nrows != nrows)
        fail_msg("%s: %zu rows, want %zu", sql, fx->res.nrows, nrows);
}

const char *run_err(struct fixture *fx, const char *sql, unsigned code, const char *sqlstate)
{
    run(fx, sql);
    if (fx->res.kind != ADMIN_RES_ERROR)
        fail_msg("%s: kind %d, want error %u", sql, fx->res.kind, code);
    assert_int_equal(fx->res.err_code, code);
    if (sqlstate)
        assert_string_equal(fx->res.err_sqlstate, sqlstate);
    assert_int_equal(fx->res.ncols, 0);
    assert_null(fx->res.rows);
    return fx->res.err_msg;
}

const char *cell(const struct fixture *fx, size_t r, size_t c)
{
    assert_true(r < fx->res.nrows && c < fx->res.ncols);
    return fx->res.rows[r][c];
}

const char *value(struct fixture *fx, const char *sql)
{
    run_rows(fx, sql, 1, 1);
    return cell(fx, 0, 0);
}

void assert_contains(const char *haystack, const char *needle)
{
    /* A NULL cell is a failure too (and GCC wants the check for %s). */
    if (!haystack || !strstr(haystack, needle))
        fail_msg("'%s' does not contain '%s'", haystack ? haystack : "NULL", needle);
}

void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}
