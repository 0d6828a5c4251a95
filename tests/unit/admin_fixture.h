/*
 * The admin unit tests' shared fixture: a fresh directory from mkdtemp under
 * /tmp (removed in teardown) holding the datadir and a config script, the
 * store, the "published" runtime snapshot and the last statement's result.
 * The fixture plays the admin listener's part: run() replaces the snapshot
 * with res.new_runtime whenever a statement returns one.
 *
 * The helpers fail the running cmocka test on an unexpected result; those
 * that return an int report instead, for setup functions (cmocka skips
 * teardown when setup fails).
 */
#ifndef SLUICE_TESTS_UNIT_ADMIN_FIXTURE_H
#define SLUICE_TESTS_UNIT_ADMIN_FIXTURE_H

#include "admin/admin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fixture {
    char root[64];     /* mkdtemp directory */
    char datadir[128]; /* root/data, created by admin_store_open */
    char conf[128];    /* root/sluice.sql */
    char db[160];      /* datadir/sluice.db */
    char err[512];
    struct admin_store *store;
    struct admin_config *runtime; /* the "published" snapshot */
    struct admin_result res;      /* the last statement's result */
};

/* Two servers, user app (default hostgroup 0), reads (^SELECT) to 1. */
extern const char fixture_fleet[];

/* A new fixture in *state under /tmp/sluice_test_<name>_XXXXXX; writes conf
 * as the config script unless it is NULL. Nothing opened yet. */
struct fixture *fixture_new(void **state, const char *name, const char *conf);
/* fixture_new() and fixture_try_start(); on failure cleans up, returns -1. */
int fixture_setup_started(void **state, const char *name, const char *conf);
/* Frees all the fixture holds and removes its directory. */
int fixture_teardown(void **state);

/* Opens the store on the datadir with conf (NULL: none); 0 or prints why not. */
int fixture_open(struct fixture *fx, const char *conf);
/* Opens the store with the config script and loads the runtime, as
 * proxy/main.c does at start-up. Returns 0 or prints why not. */
int fixture_try_start(struct fixture *fx);
void fixture_start(struct fixture *fx);
/* Closes what fixture_try_start() opened. */
void fixture_stop(struct fixture *fx);

/* Runs sql and publishes a new snapshot if there is one; returns whether
 * one was published. Without a runtime, nothing may be published. */
bool run(struct fixture *fx, const char *sql);
/* Runs sql expecting OK; returns the affected rows. */
uint64_t run_ok(struct fixture *fx, const char *sql);
/* Runs sql expecting a result set (any number of rows). */
void run_set(struct fixture *fx, const char *sql);
/* Runs sql expecting a result set of ncols columns and nrows rows. */
void run_rows(struct fixture *fx, const char *sql, size_t ncols, size_t nrows);
/* Runs sql expecting an error with this code and, unless NULL, this
 * SQLSTATE; returns the message. */
const char *run_err(struct fixture *fx, const char *sql, unsigned code, const char *sqlstate);
const char *cell(const struct fixture *fx, size_t r, size_t c);
/* The single value of a one-row, one-column query. */
const char *value(struct fixture *fx, const char *sql);

/* Fails unless haystack (NULL fails too) contains needle. */
void assert_contains(const char *haystack, const char *needle);
void write_file(const char *path, const char *text);
/* Whether path exists (a dangling symlink does). */
bool exists(const char *path);

#endif
