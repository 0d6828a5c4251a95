/*
 * Unit tests for the default read/write split rules: configs/rw-split.sql is
 * read with tests/common/rules_sql.c (so the file, not a copy, is what is
 * tested), compiled with router_rules_compile(), and a table of statements
 * is routed with default hostgroup 0 (the writer) and checked against the
 * expected hostgroup and the rule that decided (-1: none, the default).
 * Also: statements longer than the digested 64 KiB, the user's default
 * hostgroup for unmatched statements, every rule in the file being reached
 * by some case, and the reader's refusal of malformed files.
 */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "router/router.h"
#include "tests/common/rules_sql.h"

#define WRITER 0
#define READER 1
#define DIGEST_MAX (64u * 1024u) /* ROUTER_RULES_DIGEST_MAX */

struct rw_case {
    const char *sql;
    int hostgroup;
    int rule_id; /* -1: no rule matched, the default hostgroup */
};

/* clang-format off */
static const struct rw_case cases[] = {
    /* Plain reads. */
    {"SELECT * FROM users WHERE id = 42", READER, 300},
    {"select * from users where id = 42", READER, 300},
    {"SeLeCt name FROM users", READER, 300},
    {"SELECT 1", READER, 300},
    {"SELECT COUNT(*) FROM orders WHERE created_at > NOW() - INTERVAL 1 DAY", READER, 300},
    {"SELECT * FROM t WHERE id IN (1, 2, 3) ORDER BY id DESC LIMIT 10 OFFSET 20", READER, 300},
    /* Leading comments, hints, whitespace. */
    {"/* app:42 */ SELECT * FROM orders WHERE id = 7", READER, 300},
    {"/*+ MAX_EXECUTION_TIME(100) */ SELECT * FROM t", READER, 300},
    {"SELECT /*+ BKA(t1) NO_ICP(t2) */ a FROM t1 JOIN t2 USING (id)", READER, 300},
    {"/* a */ /* b */ select 1", READER, 300},
    {"-- tracing id 7\nSELECT a FROM t", READER, 300},
    {"# shell-style comment\nSELECT a FROM t", READER, 300},
    {"  \n\tSELECT\n  a,\n  b\nFROM t\n", READER, 300},
    {"SELECT a FROM t;", READER, 300},
    /* Literals that look like locking or session clauses are data. */
    {"SELECT note FROM t WHERE note = 'FOR UPDATE'", READER, 300},
    {"SELECT * FROM t WHERE c = \"x LOCK IN SHARE MODE\"", READER, 300},
    {"SELECT 'SELECT a INTO @x FROM t' AS q", READER, 300},
    {"SELECT * FROM t WHERE s = 'GET_LOCK(1); DROP TABLE t'", READER, 300},
    {"SELECT u.email FROM users u WHERE u.email LIKE '%@example.com'", READER, 300},
    {"SELECT 'it''s FOR SHARE' FROM dual", READER, 300},
    /* Names that only contain the words. */
    {"SELECT updated_at, for_update, into_date FROM t", READER, 300},
    {"SELECT row_count, last_insert_id FROM import_runs", READER, 300},
    /* Subqueries, derived tables, unions, parentheses. */
    {"SELECT a FROM t WHERE b IN (SELECT b FROM u WHERE c > 5)", READER, 300},
    {"SELECT * FROM t1 JOIN (SELECT id FROM t2 WHERE x = 1) d ON d.id = t1.id", READER, 300},
    {"SELECT a FROM t UNION SELECT a FROM u", READER, 300},
    {"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a LIMIT 10", READER, 300},
    {"(SELECT a FROM t) UNION (SELECT a FROM u)", READER, 300},
    {"( ( SELECT 1 ) )", READER, 300},
    {"/* x */ (select a from t order by a limit 1)", READER, 300},
    /* Server-wide variables are fine on a replica. */
    {"SELECT @@version", READER, 300},
    {"SELECT @@server_id, @@port, @@hostname", READER, 300},
    {"SELECT @@global.max_connections", READER, 300},
    {"select @@GLOBAL.read_only, @@Version_Comment", READER, 300},
    /* CTEs. */
    {"WITH recent AS (SELECT * FROM orders WHERE d > '2024-01-01') SELECT * FROM recent",
     READER, 310},
    {"with recursive cte (n) as (select 1 union all select n + 1 from cte where n < 5) "
     "select * from cte", READER, 310},
    {"/* report */ WITH x AS (SELECT 1) SELECT * FROM x", READER, 310},
    /* EXPLAIN without ANALYZE, DESCRIBE. */
    {"EXPLAIN SELECT * FROM t WHERE a = 1", READER, 320},
    {"explain format=json select * from t", READER, 320},
    {"EXPLAIN UPDATE t SET a = 1", READER, 320},
    {"DESCRIBE users", READER, 320},
    {"desc users", READER, 320},
    /* Catalog and server-wide SHOW. */
    {"SHOW TABLES", READER, 330},
    {"show create table users", READER, 330},
    {"SHOW FULL COLUMNS FROM users", READER, 330},
    {"SHOW GLOBAL STATUS LIKE 'Threads%'", READER, 330},
    {"SHOW DATABASES", READER, 330},
    {"SHOW INDEX FROM users", READER, 330},
    {"SHOW TABLE STATUS LIKE 'users'", READER, 330},
    {"TABLE users", READER, 340},

    /* Executable comments: hidden from the digest, run by the server. */
    {"SELECT * FROM t /*!50000 FOR UPDATE */", WRITER, 100},
    {"SELECT /*!40001 SQL_NO_CACHE */ * FROM t", WRITER, 100},
    {"SELECT a FROM t /*M!100500 FOR UPDATE */", WRITER, 100},
    /* Multi-statements. */
    {"SELECT 1; DELETE FROM t", WRITER, 200},
    {"select a from t ;\nupdate t set a = 1", WRITER, 200},
    /* Locking reads. */
    {"SELECT * FROM t WHERE id = 1 FOR UPDATE", WRITER, 210},
    {"select * from t where id = 1 for update nowait", WRITER, 210},
    {"SELECT * FROM t WHERE id = 1 FOR UPDATE SKIP LOCKED", WRITER, 210},
    {"SELECT * FROM t JOIN u USING (id) FOR UPDATE OF t", WRITER, 210},
    {"SELECT * FROM t WHERE id = 1\nFOR\n  UPDATE", WRITER, 210},
    {"SELECT * FROM t WHERE id = 1 FOR /* why not */ UPDATE", WRITER, 210},
    {"SELECT * FROM t WHERE id = 1 FOR SHARE", WRITER, 210},
    {"SELECT * FROM t WHERE id = 1 lock in share mode", WRITER, 210},
    {"/* app:42 */ SELECT * FROM t WHERE id = 1 FOR UPDATE", WRITER, 210},
    {"/*+ SET_VAR(innodb_lock_wait_timeout = 1) */ SELECT a FROM t FOR UPDATE", WRITER, 210},
    {"(SELECT a FROM t WHERE id = 1) FOR UPDATE", WRITER, 210},
    {"SELECT a FROM t UNION SELECT a FROM u FOR UPDATE", WRITER, 210},
    {"WITH x AS (SELECT id FROM t) SELECT * FROM x FOR UPDATE", WRITER, 210},
    {"SELECT * FROM t WHERE note = 'FOR UPDATE' FOR UPDATE", WRITER, 210},
    /* SELECT ... INTO. */
    {"SELECT a INTO @a FROM t WHERE id = 1", WRITER, 220},
    {"SELECT a, b FROM t WHERE id = 1 INTO @a, @b", WRITER, 220},
    {"SELECT * FROM t INTO OUTFILE '/tmp/t.csv'", WRITER, 220},
    {"select a from t into dumpfile '/tmp/x'", WRITER, 220},
    /* Named locks. */
    {"SELECT GET_LOCK('job', 10)", WRITER, 230},
    {"select release_lock('job')", WRITER, 230},
    {"SELECT IS_FREE_LOCK('job')", WRITER, 230},
    {"SELECT IS_USED_LOCK('job')", WRITER, 230},
    {"SELECT RELEASE_ALL_LOCKS()", WRITER, 230},
    {"/* worker */ SELECT GET_LOCK ('job', 0) AS got", WRITER, 230},
    /* Session-bound results. */
    {"SELECT LAST_INSERT_ID()", WRITER, 240},
    {"select last_insert_id ( )", WRITER, 240},
    {"SELECT * FROM t WHERE id = LAST_INSERT_ID()", WRITER, 240},
    {"SELECT FOUND_ROWS()", WRITER, 240},
    {"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10", WRITER, 240},
    {"SELECT ROW_COUNT()", WRITER, 240},
    {"SELECT CONNECTION_ID()", WRITER, 240},
    /* Sequences. */
    {"SELECT NEXTVAL(order_seq)", WRITER, 250},
    {"SELECT NEXT VALUE FOR order_seq", WRITER, 250},
    {"select next value for shop.order_seq", WRITER, 250},
    {"SELECT SETVAL(order_seq, 100)", WRITER, 250},
    {"SELECT LASTVAL(order_seq)", WRITER, 250},
    {"SELECT PREVIOUS VALUE FOR order_seq", WRITER, 250},
    {"SELECT order_seq.nextval", WRITER, 250},
    {"SELECT order_seq.CURRVAL FROM dual", WRITER, 250},
    /* Per-connection system variables. */
    {"SELECT @@last_insert_id", WRITER, 260},
    {"SELECT @@identity", WRITER, 260},
    {"SELECT @@warning_count", WRITER, 260},
    {"SELECT @@error_count", WRITER, 260},
    {"SELECT @@session.tx_isolation", WRITER, 260},
    {"SELECT @@SESSION.auto_increment_increment AS a", WRITER, 260},
    {"SELECT @@local.time_zone", WRITER, 260},
    {"SELECT @@sql_mode", WRITER, 260},
    {"SELECT @@version, @@session.sql_mode", WRITER, 260},
    {"SELECT @@versions", WRITER, 260},
    /* User variables. */
    {"SELECT @x", WRITER, 270},
    {"SELECT * FROM t WHERE id = @id", WRITER, 270},
    {"SELECT @`my var`, @'other'", WRITER, 270},
    {"SET @x = 5", WRITER, 270},
    /* Session and primary SHOW. */
    {"SHOW WARNINGS", WRITER, 280},
    {"show errors limit 5", WRITER, 280},
    {"SHOW COUNT(*) WARNINGS", WRITER, 280},
    {"SHOW SESSION STATUS LIKE 'Com_select'", WRITER, 280},
    {"SHOW VARIABLES LIKE 'sql_mode'", WRITER, 280},
    {"SHOW STATUS", WRITER, 280},
    {"SHOW LOCAL VARIABLES", WRITER, 280},
    {"SHOW MASTER STATUS", WRITER, 280},
    {"SHOW BINARY LOGS", WRITER, 280},
    {"SHOW PROFILES", WRITER, 280},
    /* Statements no rule claims: the default (writer). */
    {"EXPLAIN ANALYZE SELECT * FROM t", WRITER, -1},
    {"WITH x AS (SELECT id FROM t) UPDATE t JOIN x USING (id) SET a = 1", WRITER, -1},
    {"WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)", WRITER, -1},
    {"UPDATE t SET a = 1 WHERE id = 2", WRITER, -1},
    {"update t set note = 'SELECT' where id in (select id from u)", WRITER, -1},
    {"DELETE FROM t WHERE id = 3", WRITER, -1},
    {"/* app:42 */ DELETE FROM t WHERE id = 3", WRITER, -1},
    {"CREATE TABLE x (id INT PRIMARY KEY)", WRITER, -1},
    {"CREATE TEMPORARY TABLE tmp AS SELECT * FROM t", WRITER, -1},
    {"DROP TABLE x", WRITER, -1},
    {"ALTER TABLE t ADD COLUMN c INT", WRITER, -1},
    {"TRUNCATE TABLE t", WRITER, -1},
    {"SET NAMES utf8mb4", WRITER, -1},
    {"SET SESSION sql_mode = 'STRICT_ALL_TABLES'", WRITER, -1},
    {"CALL refresh_stats(1, 'x')", WRITER, -1},
    {"BEGIN", WRITER, -1},
    {"START TRANSACTION", WRITER, -1},
    {"COMMIT", WRITER, -1},
    {"ROLLBACK", WRITER, -1},
    {"LOCK TABLES t WRITE", WRITER, -1},
    {"DO SLEEP(1)", WRITER, -1},
    {"ANALYZE SELECT * FROM t", WRITER, -1},
    {"", WRITER, -1},
    /* Writes that INTO claims first: same hostgroup. */
    {"INSERT INTO t (a) VALUES (1)", WRITER, 220},
    {"INSERT INTO t SELECT * FROM u WHERE a > 1", WRITER, 220},
    {"insert into t (a, b) values (1, 2), (3, 4) on duplicate key update b = values(b)",
     WRITER, 220},
    {"REPLACE INTO t VALUES (1)", WRITER, 220},
};
/* clang-format on */

struct fixture {
    struct rules_sql rs;
    struct router_rules *rules;
    struct router_scratch *scratch;
};

static int setup(void **state)
{
    static struct fixture fx;
    char err[512];
    const char *path = SLUICE_SOURCE_ROOT "/configs/rw-split.sql";
    if (rules_sql_load(path, &fx.rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot parse %s: %s\n", path, err);
        return -1;
    }
    if (router_rules_compile(fx.rs.specs, fx.rs.n, &fx.rules, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot compile %s: %s\n", path, err);
        rules_sql_free(&fx.rs);
        return -1;
    }
    fx.scratch = router_scratch_new(1024);
    if (fx.scratch == NULL)
        return -1;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    router_scratch_free(fx->scratch);
    router_rules_free(fx->rules);
    rules_sql_free(&fx->rs);
    return 0;
}

static struct router_decision route(struct fixture *fx, const char *sql, size_t len, int dflt)
{
    struct router_facts facts = {
        .user = "app", .schema = "shop", .client_addr = "10.0.0.5", .default_hostgroup = dflt};
    struct router_decision d;
    assert_int_equal(router_classify(fx->rules, fx->scratch, &facts, sql, len, &d), 0);
    return d;
}

static void test_file_shape(void **state)
{
    struct fixture *fx = *state;
    /* Every rule is active and every rule but the flag bookkeeping ones
     * (110, 112) applies: a rule that forgot apply would let later rules
     * override it. */
    assert_true(fx->rs.n >= 15);
    assert_int_equal(router_rules_count(fx->rules), fx->rs.n);
    for (size_t i = 0; i < fx->rs.n; i++) {
        const struct router_rule_spec *s = &fx->rs.specs[i];
        assert_true(s->active);
        assert_string_equal(s->re_modifiers, "CASELESS");
        assert_non_null(s->comment);
        if (s->rule_id != 110 && s->rule_id != 112) {
            assert_true(s->apply);
            assert_true(s->destination_hostgroup == WRITER || s->destination_hostgroup == READER);
        }
    }
}

static void test_table(void **state)
{
    struct fixture *fx = *state;
    size_t failures = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rw_case *c = &cases[i];
        struct router_decision d = route(fx, c->sql, strlen(c->sql), WRITER);
        if (d.hostgroup != c->hostgroup || d.rule_id != c->rule_id) {
            char digest[256];
            uint64_t h;
            router_digest(c->sql, strlen(c->sql), digest, sizeof(digest), 0, &h);
            fprintf(stderr,
                    "case %zu: \"%s\"\n  digest \"%s\"\n  want hostgroup %d rule %d, "
                    "got hostgroup %d rule %d\n",
                    i, c->sql, digest, c->hostgroup, c->rule_id, d.hostgroup, d.rule_id);
            failures++;
        }
    }
    printf("rwsplit: %zu statements routed\n", sizeof(cases) / sizeof(cases[0]));
    assert_int_equal(failures, 0);
}

/* Unmatched statements follow the user's default hostgroup; the rules'
 * destinations do not. */
static void test_default_hostgroup(void **state)
{
    struct fixture *fx = *state;
    const char *upd = "UPDATE t SET a = 1";
    const char *sel = "SELECT a FROM t";
    const char *lock = "SELECT a FROM t FOR UPDATE";
    assert_int_equal(route(fx, upd, strlen(upd), 7).hostgroup, 7);
    assert_int_equal(route(fx, sel, strlen(sel), 7).hostgroup, READER);
    assert_int_equal(route(fx, lock, strlen(lock), 7).hostgroup, WRITER);
}

/* Builds "<head> IN (1,2,...) <tail>" of at least min_len bytes. */
static char *long_statement(const char *head, const char *tail, size_t min_len, size_t *len)
{
    size_t cap = min_len + strlen(head) + strlen(tail) + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "%s IN (1", head);
    for (unsigned v = 2; n < min_len; v++)
        n += (size_t)snprintf(s + n, cap - n, ",%u", v);
    n += (size_t)snprintf(s + n, cap - n, ") %s", tail);
    *len = n;
    return s;
}

/* Past the 64 KiB the rule engine digests, rules 110-112 read the raw text. */
static void test_long_statements(void **state)
{
    struct fixture *fx = *state;
    size_t len;
    struct {
        const char *head, *tail;
        int hostgroup, rule_id;
    } longs[] = {
        {"SELECT * FROM t WHERE id", "FOR UPDATE", WRITER, 111},
        {"SELECT * FROM t WHERE id", "LOCK IN SHARE MODE", WRITER, 111},
        {"SELECT * FROM t WHERE id", "AND a = @x", WRITER, 111},
        {"SELECT * FROM t WHERE id", "ORDER BY id", READER, 300},
        {"UPDATE t SET a = 1 WHERE id", "", WRITER, 112}, /* last rule that matched */
    };
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        char *sql = long_statement(longs[i].head, longs[i].tail, DIGEST_MAX + 100, &len);
        struct router_decision d = route(fx, sql, len, WRITER);
        assert_int_equal(d.hostgroup, longs[i].hostgroup);
        assert_int_equal(d.rule_id, longs[i].rule_id);
        free(sql);
    }
    /* At exactly the digested length the digest sees it all: rule 210. */
    char *sql = long_statement("SELECT * FROM t WHERE id", "", DIGEST_MAX - 40, &len);
    size_t n = len;
    const char *tail = " FOR UPDATE";
    char *full = realloc(sql, DIGEST_MAX + 1);
    assert_non_null(full);
    memset(full + n, ' ', DIGEST_MAX - n);
    memcpy(full + DIGEST_MAX - strlen(tail), tail, strlen(tail));
    struct router_decision d = route(fx, full, DIGEST_MAX, WRITER);
    assert_int_equal(d.hostgroup, WRITER);
    assert_int_equal(d.rule_id, 210);
    free(full);
}

/* Every rule of the file is reached by some case above: a rule no test
 * exercises is one nobody knows works. */
static void test_every_rule_hit(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < router_rules_count(fx->rules); i++)
        if (router_rules_hits(fx->rules, i) == 0)
            fail_msg("rule %d of configs/rw-split.sql was never hit",
                     router_rules_rule_id(fx->rules, i));
}

static void test_reader_is_strict(void **state)
{
    (void)state;
    static const char *bad[] = {
        "INSERT INTO mysql_query_rules (rule_id) VALUES (1)",           /* no ';' */
        "INSERT INTO mysql_servers (hostgroup_id) VALUES (1);",         /* other table */
        "INSERT INTO mysql_query_rules (rule_id, nope) VALUES (1, 2);", /* unknown column */
        "INSERT INTO mysql_query_rules (rule_id, apply) VALUES (1);",   /* too few values */
        "INSERT INTO mysql_query_rules (rule_id) VALUES (1, 2);",       /* too many */
        "INSERT INTO mysql_query_rules (rule_id, match_digest) VALUES (1, 'x);",
        "INSERT INTO mysql_query_rules (rule_id, match_digest) VALUES (1, 2);",
        "INSERT INTO mysql_query_rules (rule_id, apply) VALUES (1, 'x');",
        "INSERT INTO mysql_query_rules (rule_id, apply) VALUES (1, 2);",
        "INSERT INTO mysql_query_rules (rule_id, apply) VALUES (1, NULL);",
        "INSERT INTO mysql_query_rules (apply) VALUES (1);", /* no rule_id */
        "INSERT INTO mysql_query_rules (rule_id, rule_id) VALUES (1, 1);",
        "UPDATE mysql_query_rules SET active = 0;",
        "/* c */ INSERT INTO mysql_query_rules (rule_id) VALUES (1);",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rules_sql rs;
        char err[256] = "";
        if (rules_sql_parse(bad[i], &rs, err, sizeof(err)) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(strstr(err, "line 1:"));
        assert_null(rs.specs);
    }

    struct rules_sql rs;
    char err[256] = "";
    const char *good = "-- c\nINSERT INTO mysql_query_rules (rule_id, active, match_pattern,\n"
                       " comment, flagOUT) VALUES (5, 1, 'it''s \\b', NULL, -1), (6, 0, NULL, "
                       "'x', 2);\n";
    assert_int_equal(rules_sql_parse(good, &rs, err, sizeof(err)), 0);
    assert_int_equal(rs.n, 2);
    assert_int_equal(rs.specs[0].rule_id, 5);
    assert_true(rs.specs[0].active);
    assert_string_equal(rs.specs[0].match_pattern, "it's \\b");
    assert_null(rs.specs[0].comment);
    assert_int_equal(rs.specs[0].flag_out, -1);
    assert_int_equal(rs.specs[0].destination_hostgroup, -1);
    assert_false(rs.specs[1].active);
    assert_null(rs.specs[1].match_pattern);
    assert_string_equal(rs.specs[1].comment, "x");
    assert_int_equal(rs.specs[1].flag_out, 2);
    rules_sql_free(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_shape),        cmocka_unit_test(test_table),
        cmocka_unit_test(test_default_hostgroup), cmocka_unit_test(test_long_statements),
        cmocka_unit_test(test_every_rule_hit),    cmocka_unit_test(test_reader_is_strict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
