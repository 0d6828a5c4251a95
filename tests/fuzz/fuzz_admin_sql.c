/*
 * libFuzzer target for the admin SQL interface (admin/exec.c and what it
 * calls: the layers, LOAD/SAVE, versions, rule tests, EXPLAIN QUERY RULES,
 * the stats tables). Input: the text of one admin statement string, as an
 * operator would type it into the admin port.
 *
 * The store is the real one (admin_store_open), in a private temporary
 * directory (under /dev/shm when there is one, so SAVE ... TO DISK costs no
 * disk I/O); ATTACH (and so VACUUM INTO) is refused by the store's own
 * authorizer, so statements cannot reach other files. The directory is
 * removed at exit; after a crash, run.sh removes it by the pid in its name. The store is
 * reopened from the same config every RESET_EVERY inputs, so state left by
 * earlier inputs (extra tables, rows, versions) stays bounded and a crash
 * usually reproduces from its input alone. Two harness limits keep single
 * inputs bounded without changing what admin_execute() does: SQLite's
 * progress handler interrupts a statement string after PROGRESS_MAX
 * callbacks (a recursive CTE would run forever), and values are capped at
 * 1 MiB.
 *
 * Checks: the return code agrees with the result kind; an ERROR has a
 * five-character SQLSTATE and a message; a result set has its names and
 * rows; an open transaction is rolled back after each input (the admin
 * listener would hand the store to the next session only then). Whether an
 * error message quotes a password is not checked here: the rule tests quote
 * their query text, and SQL can copy a password into it (a false alarm the
 * first long run raised).
 */
#include "admin/admin.h"
#include "admin/admin_int.h"

#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_failed(void);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_failed();                                                                        \
    } while (0)

#define RESET_EVERY 500
#define PROGRESS_OPS 1000   /* VM instructions between progress callbacks */
#define PROGRESS_MAX 20000  /* callbacks per input: 20M instructions */
#define VALUE_MAX (1 << 20) /* SQLITE_LIMIT_LENGTH */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small fleet: servers, a replication pair, users (one with a hash), rules
 * with every action, a rule test, and variables, so that LOAD, SAVE, DIFF,
 * ROLLBACK and EXPLAIN have something to work on. */
static const char config[] =
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port) VALUES (0, 'db1', 3306);\n"
    "INSERT INTO mysql_servers (hostgroup_id, hostname, port, weight) VALUES (1, 'db2', 3306, 5);\n"
    "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup) "
    "VALUES (0, 1);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup) "
    "VALUES ('app', 'app-pw', 0);\n"
    "INSERT INTO mysql_users (username, password, default_hostgroup, default_schema) VALUES "
    "('ro', '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19', 1, 'shop');\n"
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) "
    "VALUES (10, 1, '^SELECT.*FOR UPDATE', 0, 1);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply) "
    "VALUES (20, 1, '^SELECT', 1, 1);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, replace_pattern, flagOUT) "
    "VALUES (5, 1, '^(\\w+)\\s+secret', '\\1 public', 2);\n"
    "INSERT INTO mysql_query_rules (rule_id, active, flagIN, match_pattern, error_msg) "
    "VALUES (6, 1, 2, 'DROP', 'no');\n"
    "INSERT INTO mysql_query_rules_tests (query, expected_hostgroup) VALUES ('SELECT 1', 1);\n"
    "UPDATE global_variables SET variable_value = '2' WHERE variable_name = 'mysql-threads';\n";

static char root[256];
static char datadir[300];
static char config_path[300];
static struct admin_store *store;
static struct admin_config *runtime;
static struct router_digest_stats *digests;
static unsigned inputs;
static unsigned progress_calls;
static bool verbose; /* SLUICE_FUZZ_VERBOSE set: print each result's outline */

/* With SLUICE_FUZZ_HISTORY=DIR, the inputs since the store was last
 * reopened (the state the current one ran on), oldest first. A failed check
 * or an ASan report writes them to DIR/0000.sql..., and fuzz_admin_sql with those files as
 * arguments, in name order, replays them in one process: the way to
 * reproduce a crash that needs earlier inputs. */
static const char *history_dir;
static struct {
    char *data;
    size_t len;
} history[RESET_EVERY];
static size_t n_history;

static void history_clear(void)
{
    for (size_t i = 0; i < n_history; i++)
        free(history[i].data);
    n_history = 0;
}

static void history_add(const uint8_t *data, size_t size)
{
    char *copy;

    if (!history_dir || n_history == RESET_EVERY || !(copy = malloc(size ? size : 1)))
        return;
    memcpy(copy, data, size);
    history[n_history].data = copy;
    history[n_history++].len = size;
}

static void history_dump(void)
{
    char path[4096];
    FILE *f;

    if (!history_dir || (mkdir(history_dir, 0755) != 0 && errno != EEXIST))
        return;
    for (size_t i = 0; i < n_history; i++) {
        snprintf(path, sizeof(path), "%s/%04zu.sql", history_dir, i);
        if ((f = fopen(path, "wb"))) {
            fwrite(history[i].data, 1, history[i].len, f);
            fclose(f);
        }
    }
    fprintf(stderr, "fuzz_admin_sql: %zu inputs since the last reset in %s/\n", n_history,
            history_dir);
}

static void check_failed(void)
{
    history_dump();
    abort();
}

/* ASan calls this (a weak hook of its runtime) before it reports an error. */
void __asan_on_error(void);
void __asan_on_error(void)
{
    history_dump();
}

static int on_progress(void *arg)
{
    (void)arg;
    return ++progress_calls > PROGRESS_MAX;
}

/* Figures for the proxy-fed stats tables: static, so freeing is nothing. */
static struct admin_rule_hits rule_hits[] = {{10, 3}, {20, 7}};
static struct admin_global_stat globals[] = {{"Client_Connections_connected", 2}};
static struct admin_command_stats commands[] = {{.command = "SELECT", .total_cnt = 4}};
static struct admin_process processes[] = {{.session_id = 1, .user = "app", .command = "Query"}};
static struct admin_pin_reason reasons[] = {{"transaction", 1, 2}};
static struct admin_pin_digest pin_digests[] = {{"transaction", 0x1234, 2, "BEGIN"}};
static struct admin_hostgroup_sessions hg_sessions[] = {{0, 2}};

static int proxy_stats(void *arg, unsigned what, struct admin_proxy_stats *out)
{
    (void)arg;
    *out = (struct admin_proxy_stats){0};
    if (what & ADMIN_PROXY_RULES)
        out->rules = rule_hits, out->n_rules = 2;
    if (what & ADMIN_PROXY_GLOBALS)
        out->globals = globals, out->n_globals = 1;
    if (what & ADMIN_PROXY_COMMANDS)
        out->commands = commands, out->n_commands = 1;
    if (what & ADMIN_PROXY_PROCESSES)
        out->processes = processes, out->n_processes = 1;
    return 0;
}

static void proxy_stats_free(void *arg, struct admin_proxy_stats *st)
{
    (void)arg;
    (void)st;
}

static int session_stats(void *arg, struct admin_session_stats *out)
{
    (void)arg;
    *out = (struct admin_session_stats){reasons, 1, pin_digests, 1, hg_sessions, 1};
    return 0;
}

static void session_stats_free(void *arg, struct admin_session_stats *st)
{
    (void)arg;
    (void)st;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void close_store(void)
{
    admin_config_unref(runtime);
    runtime = NULL;
    admin_store_close(store);
    store = NULL;
    nftw(datadir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void open_store(void)
{
    char err[512];
    struct admin_sources src = {
        .digest_stats = &digests,
        .n_digest_stats = 1,
        .session_stats = session_stats,
        .session_stats_free = session_stats_free,
        .proxy_stats = proxy_stats,
        .proxy_stats_free = proxy_stats_free,
    };

    if (admin_store_open(datadir, config_path, &store, err, sizeof(err)) != 0 ||
        admin_config_load(store, &runtime, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_admin_sql: cannot open the store: %s\n", err);
        abort();
    }
    admin_store_set_sources(store, &src);
    sqlite3_limit(store->db, SQLITE_LIMIT_LENGTH, VALUE_MAX);
    sqlite3_progress_handler(store->db, PROGRESS_OPS, on_progress, NULL);
}

static void cleanup(void)
{
    close_store();
    router_digest_stats_free(digests);
    history_clear();
    nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void make_root(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    FILE *f;

    /* The pid in the name lets run.sh remove what a crashed run left. */
    snprintf(root, sizeof(root), "%s/sluice-fuzz-admin-%ld-XXXXXX", base, (long)getpid());
    CHECK(mkdtemp(root) != NULL);
    snprintf(datadir, sizeof(datadir), "%s/data", root);
    snprintf(config_path, sizeof(config_path), "%s/sluice.sql", root);
    f = fopen(config_path, "w");
    CHECK(f && fputs(config, f) >= 0 && fclose(f) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct router_digest_sample sample = {
        .hostgroup = 1,
        .schema = "shop",
        .user = "app",
        .digest = 42,
        .digest_text = "SELECT ?",
        .text_len = 8,
        .elapsed_us = 120,
        .now = 1700000000,
    };

    (void)argc;
    (void)argv;
    make_root();
    digests = router_digest_stats_new(64, 128);
    CHECK(digests != NULL);
    verbose = getenv("SLUICE_FUZZ_VERBOSE") != NULL;
    history_dir = getenv("SLUICE_FUZZ_HISTORY");
    router_digest_stats_record(digests, &sample);
    open_store();
    atexit(cleanup);
    return 0;
}

static void check_result(const struct admin_result *res, int rc)
{
    CHECK((rc == 0) == (res->kind != ADMIN_RES_ERROR));
    CHECK(res->n_warnings == 0 || res->warnings != NULL);
    switch (res->kind) {
    case ADMIN_RES_ERROR:
        CHECK(rc < 0 && strlen(res->err_sqlstate) == 5 && res->err_code != 0);
        CHECK(memchr(res->err_msg, '\0', sizeof(res->err_msg)) != NULL);
        break;
    case ADMIN_RES_ROWS:
        CHECK(res->ncols > 0 && res->col_names != NULL);
        for (size_t c = 0; c < res->ncols; c++)
            CHECK(res->col_names[c] != NULL);
        CHECK(res->nrows == 0 || res->rows != NULL);
        for (size_t r = 0; r < res->nrows; r++)
            CHECK(res->rows[r] != NULL);
        break;
    case ADMIN_RES_OK:
        CHECK(res->ncols == 0 && res->nrows == 0);
        break;
    }
}

/* Takes over a snapshot a LOAD published, as the admin listener does. */
static void publish(struct admin_result *res)
{
    if (!res->new_runtime)
        return;
    admin_config_unref(runtime);
    runtime = res->new_runtime;
    res->new_runtime = NULL;
}

static void run(const char *sql, size_t len)
{
    struct admin_result res = {0}, warn = {0};
    int rc;

    progress_calls = 0;
    rc = admin_execute(store, runtime, sql, len, &res);
    if (verbose)
        fprintf(stderr, "admin: kind %d, %zu rows, %zu warnings, error %u %s\n", (int)res.kind,
                res.nrows, res.n_warnings, res.err_code, res.err_msg);
    check_result(&res, rc);
    publish(&res);
    /* The session's SHOW WARNINGS answers from the last result's warnings. */
    if (admin_is_show_warnings(sql, len)) {
        rc = admin_warnings_result(res.warnings, res.n_warnings, &warn);
        check_result(&warn, rc);
        admin_result_free(&warn);
    }
    admin_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char rollback[] = "ROLLBACK";

    if (++inputs % RESET_EVERY == 0) {
        close_store();
        open_store();
        history_clear();
    }
    history_add(data, size);
    run((const char *)data, size);
    if (admin_store_in_transaction(store))
        run(rollback, sizeof(rollback) - 1);
    CHECK(!admin_store_in_transaction(store));
    return 0;
}
