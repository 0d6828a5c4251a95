/*
 * The commands that move configuration between the layers (layers.c) and
 * through its recorded versions (versions.c):
 *   LOAD|SAVE <module> TO|FROM RUNTIME|MEMORY|DISK in ProxySQL's spellings,
 *     matched against two tables, modules x directions, that name the copy
 *     to run. FORCE after LOAD ... TO RUNTIME turns failing rule tests
 *     (ruletests.c) into warnings.
 *   SHOW CONFIG VERSIONS, ROLLBACK <module> TO VERSION n and DIFF <module>,
 *     parsed and run by versions.c (see the top of that file) and answered
 *     here.
 * LOAD ... TO RUNTIME and ROLLBACK leave the new snapshot in
 * res->new_runtime for the caller to publish; neither runs inside an
 * operator's transaction.
 */
#include "admin/admin_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* LOAD and SAVE: verb, module, direction. */

enum action {
    MEMORY_TO_RUNTIME, /* build, validate, copy to runtime_*, publish */
    MEMORY_TO_DISK,    /* copy main.<table> to disk.<table> */
    DISK_TO_MEMORY,    /* copy disk.<table> to main.<table> */
    RUNTIME_TO_MEMORY, /* copy main.runtime_<table> to main.<table> */
};

static const struct {
    const char *words;
    unsigned mod;
} modules[] = {
    {"MYSQL SERVERS", ADMIN_MOD_SERVERS},           {"MYSQL USERS", ADMIN_MOD_USERS},
    {"MYSQL QUERY RULES", ADMIN_MOD_RULES},         {"MYSQL VARIABLES", ADMIN_MOD_VARIABLES},
    {"ADMIN VARIABLES", ADMIN_MOD_ADMIN_VARIABLES},
};

/* ProxySQL's spellings, aliases included (RUN for RUNTIME, MEM for MEMORY). */
static const struct {
    const char *verb;
    const char *words;
    enum action action;
} directions[] = {
    {"LOAD", "TO RUNTIME", MEMORY_TO_RUNTIME},   {"LOAD", "TO RUN", MEMORY_TO_RUNTIME},
    {"LOAD", "FROM MEMORY", MEMORY_TO_RUNTIME},  {"LOAD", "FROM MEM", MEMORY_TO_RUNTIME},
    {"LOAD", "FROM DISK", DISK_TO_MEMORY},       {"LOAD", "TO MEMORY", DISK_TO_MEMORY},
    {"LOAD", "TO MEM", DISK_TO_MEMORY},          {"SAVE", "TO DISK", MEMORY_TO_DISK},
    {"SAVE", "FROM MEMORY", MEMORY_TO_DISK},     {"SAVE", "FROM MEM", MEMORY_TO_DISK},
    {"SAVE", "FROM RUNTIME", RUNTIME_TO_MEMORY}, {"SAVE", "FROM RUN", RUNTIME_TO_MEMORY},
    {"SAVE", "TO MEMORY", RUNTIME_TO_MEMORY},    {"SAVE", "TO MEM", RUNTIME_TO_MEMORY},
};

/* Loads mod to runtime, or with version > 0 rolls it back to that version
 * first (ROLLBACK ... TO VERSION). */
static int load_to_runtime(struct admin_exec *ex, unsigned mod, unsigned flags, int64_t version)
{
    struct admin_config *cfg = NULL;
    char err[sizeof(ex->res->err_msg)];
    int rc;

    /* A snapshot published from uncommitted rows would outlive a ROLLBACK
     * that restores the runtime_* tables under it. */
    if (!sqlite3_get_autocommit(ex->store->db))
        return admin_exec_fail(ex, ER_CANT_DO_THIS_DURING_AN_TRANSACTION, "25000",
                               "%s is not allowed inside a transaction: COMMIT or ROLLBACK first",
                               version > 0 ? "ROLLBACK ... TO VERSION" : "LOAD ... TO RUNTIME");
    if (version > 0)
        rc = admin_versions_rollback(ex->store, mod, version, flags, ex->res, &cfg, err,
                                     sizeof(err));
    else
        rc = admin_layer_to_runtime(ex->store, mod, flags, ex->res, &cfg, err, sizeof(err));
    if (rc == ADMIN_ENOMEM)
        return admin_exec_oom(ex);
    if (rc != 0) {
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "%s", err);
        return rc;
    }
    admin_config_unref(ex->res->new_runtime);
    ex->res->new_runtime = cfg;
    return admin_exec_ok(ex, 0);
}

static int run_action(struct admin_exec *ex, unsigned mod, enum action action, bool force)
{
    static const struct {
        enum admin_layer from, to;
    } copies[] = {
        [MEMORY_TO_DISK] = {ADMIN_LAYER_MEMORY, ADMIN_LAYER_DISK},
        [DISK_TO_MEMORY] = {ADMIN_LAYER_DISK, ADMIN_LAYER_MEMORY},
        [RUNTIME_TO_MEMORY] = {ADMIN_LAYER_RUNTIME, ADMIN_LAYER_MEMORY},
    };
    char err[sizeof(ex->res->err_msg)];
    uint64_t rows = 0;
    int rc;

    if (action == MEMORY_TO_RUNTIME)
        return load_to_runtime(ex, mod, force ? ADMIN_LOAD_FORCE : 0, 0);
    if (force)
        return admin_exec_fail(
            ex, ER_PARSE_ERROR, "42000",
            "You have an error in your SQL syntax: FORCE is only for LOAD ... TO RUNTIME");
    rc = admin_layer_copy(ex->store->db, mod, copies[action].from, copies[action].to, &rows, err,
                          sizeof(err));
    if (rc != 0) {
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "%s", err);
        return rc;
    }
    /* The rows copied, so an operator sees at once whether a SAVE took. */
    return admin_exec_ok(ex, rows);
}

static bool word_is(const struct admin_word *w, const char *s)
{
    return w->len == strlen(s) && strncasecmp(w->p, s, w->len) == 0;
}

int admin_cmd_layer(struct admin_exec *ex, const struct admin_args *a)
{
    char pattern[64], text[ADMIN_EXCERPT_MAX + 8];
    struct admin_stmt st = *ex->stmt;
    struct admin_args unused;
    bool force = false;

    (void)a;
    /* LOAD ... TO RUNTIME FORCE: the command without its last word. */
    if (st.n > 2 && !st.overflow && word_is(&st.w[st.n - 1], "FORCE")) {
        force = true;
        st.n--;
        st.end = st.w[st.n - 1].p + st.w[st.n - 1].len;
    }
    for (size_t d = 0; d < sizeof(directions) / sizeof(directions[0]); d++) {
        for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
            snprintf(pattern, sizeof(pattern), "%s %s %s", directions[d].verb, modules[m].words,
                     directions[d].words);
            if (admin_stmt_match(pattern, &st, &unused))
                return run_action(ex, modules[m].mod, directions[d].action, force);
        }
    }
    admin_excerpt(ex->stmt->start, text, sizeof(text));
    /* ProxySQL reads a config file into MEMORY; Sluice's config is an SQL
     * script applied on the first start only. */
    if (st.n >= 2 && word_is(&st.w[st.n - 1], "CONFIG"))
        return admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000",
                               "'%s': Sluice differs from ProxySQL here: its config file is an "
                               "SQL script applied to MEMORY on the first start only "
                               "(docs/proxysql-differences.md); run its statements on the admin "
                               "interface instead",
                               text);
    return admin_exec_fail(ex, ER_PARSE_ERROR, "42000",
                           "You have an error in your SQL syntax near '%s': unknown command; use "
                           "LOAD|SAVE MYSQL SERVERS|USERS|QUERY RULES|VARIABLES or ADMIN VARIABLES "
                           "TO|FROM RUNTIME|MEMORY|DISK",
                           text);
}

/* SHOW CONFIG VERSIONS [FOR <module>], ROLLBACK <module> TO VERSION n
 * [FORCE], DIFF <module> [<side> [<side>]]: parsed and run by versions.c,
 * answered here. */

static const char versions_usage[] =
    "You have an error in your SQL syntax: use SHOW CONFIG VERSIONS [FOR <module>], ROLLBACK "
    "<module> TO VERSION n [FORCE] or DIFF <module> [MEMORY|RUNTIME|DISK|VERSION n "
    "[MEMORY|RUNTIME|DISK|VERSION n]], <module> one of MYSQL SERVERS, MYSQL USERS, MYSQL "
    "QUERY RULES, MYSQL VARIABLES, ADMIN VARIABLES";

/* A missing version would compare as empty: DIFF says so instead. */
static int diff_version_exists(struct admin_exec *ex, unsigned mod, int64_t version)
{
    int rc = admin_exec_query(ex,
                              sqlite3_mprintf("SELECT 1 FROM main.mysql_config_versions"
                                              " WHERE version = %lld AND module = ?1",
                                              (long long)version),
                              admin_module_name(mod));

    if (rc == 0 && ex->res->nrows == 0)
        return admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000",
                               "DIFF: there is no version %lld of %s", (long long)version,
                               admin_module_name(mod));
    return rc;
}

int admin_cmd_versions(struct admin_exec *ex, const struct admin_args *a)
{
    struct admin_version_cmd cmd;
    char *sql;
    int rc;

    (void)a;
    if (admin_version_cmd_parse(ex->stmt->start, (size_t)(ex->stmt->end - ex->stmt->start), &cmd) !=
        0)
        return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", versions_usage);
    switch (cmd.kind) {
    case ADMIN_VCMD_SHOW:
        return admin_exec_query(
            ex,
            sqlite3_mprintf("SELECT version, module, loaded_at, checksum, \"rows\""
                            " FROM main.mysql_config_versions%s ORDER BY version",
                            cmd.mod ? " WHERE module = ?1" : ""),
            cmd.mod ? admin_module_name(cmd.mod) : NULL);
    case ADMIN_VCMD_ROLLBACK:
        return load_to_runtime(ex, cmd.mod, cmd.force ? ADMIN_LOAD_FORCE : 0, cmd.version);
    case ADMIN_VCMD_DIFF:
        for (size_t k = 0; k < 2; k++)
            if (cmd.sides[k].version > 0 &&
                (rc = diff_version_exists(ex, cmd.mod, cmd.sides[k].version)) != 0)
                return rc;
        sql = admin_diff_sql(ex->store->db, cmd.mod, &cmd.sides[0], &cmd.sides[1]);
        return sql ? admin_exec_query(ex, sql, NULL) : admin_exec_oom(ex);
    }
    return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", versions_usage);
}
