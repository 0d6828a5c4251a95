/*
 * Unit tests for router_digest(): a table of real-world statements with
 * their exact digest text, then the properties the proxy relies on (same
 * shape, same hash; truncation; the max_len bound; unterminated input).
 * Every call gets a heap copy of exactly len bytes and an output buffer of
 * exactly outcap bytes, so ASan catches a read or write one byte too far.
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

struct digest_case {
    const char *sql;
    const char *digest;
};

static const struct digest_case cases[] = {
    /* sysbench oltp_read_write */
    {"SELECT c FROM sbtest1 WHERE id=5024", "SELECT c FROM sbtest1 WHERE id=?"},
    {"SELECT c FROM sbtest7 WHERE id BETWEEN 4956 AND 5055",
     "SELECT c FROM sbtest7 WHERE id BETWEEN ? AND ?"},
    {"SELECT SUM(k) FROM sbtest3 WHERE id BETWEEN 10 AND 109",
     "SELECT SUM(k) FROM sbtest3 WHERE id BETWEEN ? AND ?"},
    {"SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c",
     "SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c"},
    {"SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c",
     "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ? AND ? ORDER BY c"},
    {"UPDATE sbtest1 SET k=k+1 WHERE id=5000", "UPDATE sbtest1 SET k=k+? WHERE id=?"},
    {"UPDATE sbtest1 SET c='12345678901-23456789012-34567890123' WHERE id=42",
     "UPDATE sbtest1 SET c=? WHERE id=?"},
    {"DELETE FROM sbtest1 WHERE id=5000", "DELETE FROM sbtest1 WHERE id=?"},
    {"INSERT INTO sbtest1 (id, k, c, pad) VALUES (5000, 4993, '1234-5678', '9876-5432')",
     "INSERT INTO sbtest1 (id,k,c,pad) VALUES (...)"},
    {"BEGIN", "BEGIN"},
    {"COMMIT", "COMMIT"},
    {"SELECT id, k FROM sbtest1 WHERE k IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)",
     "SELECT id,k FROM sbtest1 WHERE k IN (...)"},

    /* OLTP selects */
    {"select * from users where id = 42", "SELECT * FROM users WHERE id = ?"},
    {"SELECT * FROM users WHERE email = 'alice@example.com' LIMIT 1",
     "SELECT * FROM users WHERE email = ? LIMIT ?"},
    {"SELECT id, name FROM products WHERE price > 19.99 AND stock >= 0",
     "SELECT id,name FROM products WHERE price > ? AND stock >= ?"},
    {"SELECT * FROM orders WHERE created_at > '2024-01-01 00:00:00' ORDER BY created_at DESC "
     "LIMIT 20 OFFSET 40",
     "SELECT * FROM orders WHERE created_at > ? ORDER BY created_at DESC LIMIT ? OFFSET ?"},
    {"SELECT * FROM orders LIMIT 10, 20", "SELECT * FROM orders LIMIT ?,?"},
    {"SELECT COUNT(*) FROM t1 WHERE col_2 IS NULL", "SELECT COUNT(*) FROM t1 WHERE col_2 IS NULL"},
    {"select * from t where a is not null and b = true and c <> false",
     "SELECT * FROM t WHERE a IS NOT NULL AND b = TRUE AND c <> FALSE"},
    {"SELECT name FROM users WHERE name LIKE 'jo%' ESCAPE '!'",
     "SELECT name FROM users WHERE name LIKE ? ESCAPE ?"},
    {"SELECT * FROM t WHERE a <=> NULL OR b != 2 OR c <> 3",
     "SELECT * FROM t WHERE a <=> NULL OR b != ? OR c <> ?"},
    {"SELECT * FROM t WHERE a = 1 XOR b = 2", "SELECT * FROM t WHERE a = ? XOR b = ?"},
    {"SELECT a DIV 2, a MOD 3, a % 4 FROM t", "SELECT a DIV ?,a MOD ?,a % ? FROM t"},
    {"SELECT * FROM t ORDER BY RAND() LIMIT 1", "SELECT * FROM t ORDER BY RAND() LIMIT ?"},
    {"SELECT * FROM t FORCE INDEX (idx_a) WHERE a = 1",
     "SELECT * FROM t FORCE INDEX (idx_a) WHERE a = ?"},
    {"SELECT CAST('1' AS UNSIGNED), CONVERT('x' USING utf8mb4)",
     "SELECT CAST(? AS UNSIGNED),CONVERT(? USING utf8mb4)"},
    {"SELECT * FROM t WHERE MATCH (title, body) AGAINST ('+mysql -oracle' IN BOOLEAN MODE)",
     "SELECT * FROM t WHERE MATCH (title,body) AGAINST (? IN BOOLEAN MODE)"},
    {"SELECT GET_LOCK('lock1', 10)", "SELECT GET_LOCK(?,?)"},
    {"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10", "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT ?"},
    {"SELECT FOUND_ROWS()", "SELECT FOUND_ROWS()"},

    /* IN lists */
    {"SELECT * FROM t WHERE id IN (1)", "SELECT * FROM t WHERE id IN (...)"},
    {"SELECT * FROM t WHERE id IN (1,2)", "SELECT * FROM t WHERE id IN (...)"},
    {"SELECT * FROM t WHERE id in ( 'a' , 'b' , 'c' )", "SELECT * FROM t WHERE id IN (...)"},
    {"SELECT * FROM t WHERE id NOT IN (-1, -2, +3)", "SELECT * FROM t WHERE id NOT IN (...)"},
    {"SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))", "SELECT * FROM t WHERE (a,b) IN (...)"},
    {"SELECT * FROM t WHERE id IN (?, ?, ?)", "SELECT * FROM t WHERE id IN (...)"},
    {"SELECT * FROM t WHERE id IN(1,2,3)", "SELECT * FROM t WHERE id IN (...)"},
    {"SELECT * FROM t WHERE id IN (a, 1)", "SELECT * FROM t WHERE id IN (a,?)"},
    {"SELECT * FROM t WHERE id IN ()", "SELECT * FROM t WHERE id IN ()"},
    {"SELECT * FROM t WHERE id IN (SELECT user_id FROM bans WHERE until > NOW())",
     "SELECT * FROM t WHERE id IN (SELECT user_id FROM bans WHERE until > NOW())"},
    {"SELECT * FROM t WHERE d IN (DATE '2024-01-01', x'0A', 0b1) AND e IN (1) AND f = 2",
     "SELECT * FROM t WHERE d IN (...) AND e IN (...) AND f = ?"},

    /* inserts */
    {"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')",
     "INSERT INTO t (a,b) VALUES (...)"},
    {"insert into t values (1,2)", "INSERT INTO t VALUES (...)"},
    {"INSERT INTO t(a,b) VALUES(1,2),(3,4)", "INSERT INTO t(a,b) VALUES (...)"},
    {"INSERT INTO t (a, created) VALUES (1, NOW())", "INSERT INTO t (a,created) VALUES (...)"},
    {"INSERT INTO t (a) VALUES ((SELECT MAX(a) FROM t2))", "INSERT INTO t (a) VALUES (...)"},
    {"INSERT INTO t (a, b) VALUES (1, 2) ON DUPLICATE KEY UPDATE b = VALUES(b), c = c + 1",
     "INSERT INTO t (a,b) VALUES (...) ON DUPLICATE KEY UPDATE b = VALUES(b),c = c + ?"},
    {"INSERT IGNORE INTO t SET a = 1, b = 'x'", "INSERT IGNORE INTO t SET a = ?,b = ?"},
    {"REPLACE INTO kv (k, v) VALUES ('a', 'b')", "REPLACE INTO kv (k,v) VALUES (...)"},
    {"INSERT INTO archive SELECT * FROM orders WHERE created_at < '2023-01-01'",
     "INSERT INTO archive SELECT * FROM orders WHERE created_at < ?"},
    {"INSERT INTO t VALUES (1, 'a');", "INSERT INTO t VALUES (...)"},
    {"INSERT INTO `t` (`a`) VALUES (?)", "INSERT INTO `t` (`a`) VALUES (...)"},
    {"INSERT INTO t VALUES (1, 'a)'), (2, '(')", "INSERT INTO t VALUES (...)"},

    /* updates, deletes, DDL */
    {"UPDATE accounts SET balance = balance - 100.50 WHERE id = 7",
     "UPDATE accounts SET balance = balance - ? WHERE id = ?"},
    {"UPDATE t SET a=a-1 WHERE b=-1", "UPDATE t SET a=a-? WHERE b=?"},
    {"UPDATE t SET x = NULL WHERE id = 3", "UPDATE t SET x = NULL WHERE id = ?"},
    {"UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b WHERE t2.c > 5",
     "UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b WHERE t2.c > ?"},
    {"DELETE FROM sessions WHERE expires_at < 1700000000 LIMIT 1000",
     "DELETE FROM sessions WHERE expires_at < ? LIMIT ?"},
    {"delete t1 from t1 left join t2 on t1.id = t2.id where t2.id is null",
     "DELETE t1 FROM t1 LEFT JOIN t2 ON t1.id = t2.id WHERE t2.id IS NULL"},
    {"TRUNCATE TABLE logs", "TRUNCATE TABLE logs"},
    {"CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL DEFAULT '')",
     "CREATE TABLE t (id INT PRIMARY KEY,name VARCHAR(?) NOT NULL DEFAULT ?)"},
    {"ALTER TABLE t ADD INDEX idx_a (a)", "ALTER TABLE t ADD INDEX idx_a (a)"},
    {"DROP TABLE IF EXISTS tmp_1", "DROP TABLE IF EXISTS tmp_1"},
    {"KILL 1234", "KILL ?"},

    /* joins, subqueries, CTEs */
    {"SELECT u.id, o.total FROM users u INNER JOIN orders o ON o.user_id = u.id WHERE u.id = 10",
     "SELECT u.id,o.total FROM users u INNER JOIN orders o ON o.user_id = u.id WHERE u.id = ?"},
    {"SELECT * FROM a LEFT OUTER JOIN b USING (id) WHERE b.x IS NULL",
     "SELECT * FROM a LEFT OUTER JOIN b USING (id) WHERE b.x IS NULL"},
    {"SELECT * FROM a STRAIGHT_JOIN b ON a.id = b.id",
     "SELECT * FROM a STRAIGHT_JOIN b ON a.id = b.id"},
    {"SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.t_id = t.id)",
     "SELECT * FROM t WHERE EXISTS (SELECT ? FROM u WHERE u.t_id = t.id)"},
    {"SELECT (SELECT MAX(id) FROM t2) AS m FROM t1",
     "SELECT (SELECT MAX(id) FROM t2) AS m FROM t1"},
    {"SELECT * FROM (SELECT id FROM t WHERE a = 1) AS sub WHERE sub.id > 2",
     "SELECT * FROM (SELECT id FROM t WHERE a = ?) AS sub WHERE sub.id > ?"},
    {"WITH recent AS (SELECT * FROM orders WHERE created_at > NOW() - INTERVAL 7 DAY) "
     "SELECT COUNT(*) FROM recent",
     "WITH recent AS (SELECT * FROM orders WHERE created_at > NOW() - INTERVAL ? DAY) "
     "SELECT COUNT(*) FROM recent"},
    {"SELECT a FROM t1 UNION ALL SELECT a FROM t2 WHERE b = 'x'",
     "SELECT a FROM t1 UNION ALL SELECT a FROM t2 WHERE b = ?"},
    {"SELECT dept, COUNT(*) FROM emp GROUP BY dept HAVING COUNT(*) > 5 ORDER BY 2 DESC",
     "SELECT dept,COUNT(*) FROM emp GROUP BY dept HAVING COUNT(*) > ? ORDER BY ? DESC"},
    {"SELECT CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END FROM t",
     "SELECT CASE WHEN a > ? THEN ? WHEN a < ? THEN ? ELSE ? END FROM t"},
    {"SELECT CASE WHEN a THEN -1 ELSE 1 END - 1 FROM t",
     "SELECT CASE WHEN a THEN ? ELSE ? END - ? FROM t"},

    /* ORM-style */
    {"SELECT `users`.`id`, `users`.`email` FROM `users` WHERE `users`.`id` = 123 LIMIT 1",
     "SELECT `users`.`id`,`users`.`email` FROM `users` WHERE `users`.`id` = ? LIMIT ?"},
    {"SELECT `posts`.* FROM `posts` WHERE `posts`.`user_id` IN (1, 2, 3) ORDER BY "
     "`posts`.`created_at` DESC",
     "SELECT `posts`.* FROM `posts` WHERE `posts`.`user_id` IN (...) ORDER BY "
     "`posts`.`created_at` DESC"},
    {"select user0_.id as id1_0_, user0_.name as name2_0_ from users user0_ where user0_.id=?",
     "SELECT user0_.id AS id1_0_,user0_.name AS name2_0_ FROM users user0_ WHERE user0_.id=?"},
    {"SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`username` = 'admin' LIMIT 21",
     "SELECT `auth_user`.`id` FROM `auth_user` WHERE `auth_user`.`username` = ? LIMIT ?"},
    {"INSERT INTO `Users` (`id`,`name`,`createdAt`) VALUES (DEFAULT,'bob','2024-05-01 10:00:00')",
     "INSERT INTO `Users` (`id`,`name`,`createdAt`) VALUES (...)"},
    {"SELECT `t`.`select` FROM `order` AS `t`", "SELECT `t`.`select` FROM `order` AS `t`"},
    {"SELECT `weird``name` FROM t", "SELECT `weird``name` FROM t"},
    {"SELECT t.count, s.`key` FROM t, s", "SELECT t.count,s.`key` FROM t,s"},

    /* CALL, SET, SHOW, USE */
    {"CALL update_stock(42, -3, 'warehouse-1')", "CALL update_stock(?,?,?)"},
    {"call sp_noargs()", "CALL sp_noargs()"},
    {"SET autocommit=0", "SET autocommit=?"},
    {"SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci",
     "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"},
    {"set session transaction isolation level read committed",
     "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"},
    {"set session sql_mode = 'STRICT_TRANS_TABLES'", "SET SESSION sql_mode = ?"},
    {"SET @a = 5, @@session.wait_timeout = 28800", "SET @a = ?,@@session.wait_timeout = ?"},
    {"SHOW TABLES", "SHOW TABLES"},
    {"show full processlist", "SHOW FULL PROCESSLIST"},
    {"SHOW VARIABLES LIKE 'max_connections'", "SHOW VARIABLES LIKE ?"},
    {"SHOW CREATE TABLE users", "SHOW CREATE TABLE users"},
    {"SHOW WARNINGS", "SHOW WARNINGS"},
    {"USE app_db", "USE app_db"},
    {"SELECT @@version_comment LIMIT 1", "SELECT @@version_comment LIMIT ?"},
    {"SELECT DATABASE(), USER()", "SELECT DATABASE(),USER()"},
    {"SELECT LAST_INSERT_ID()", "SELECT LAST_INSERT_ID()"},
    {"PREPARE stmt FROM 'SELECT * FROM t WHERE id = ?'", "PREPARE stmt FROM ?"},
    {"EXECUTE stmt USING @id", "EXECUTE stmt USING @id"},
    {"EXPLAIN SELECT * FROM t WHERE a = 1", "EXPLAIN SELECT * FROM t WHERE a = ?"},

    /* transactions and locking reads */
    {"START TRANSACTION READ ONLY", "START TRANSACTION READ ONLY"},
    {"start transaction", "START TRANSACTION"},
    {"ROLLBACK", "ROLLBACK"},
    {"SAVEPOINT sp1", "SAVEPOINT sp1"},
    {"rollback to savepoint sp1", "ROLLBACK TO SAVEPOINT sp1"},
    {"RELEASE SAVEPOINT sp1", "RELEASE SAVEPOINT sp1"},
    {"SELECT * FROM t WHERE id = 1 FOR UPDATE", "SELECT * FROM t WHERE id = ? FOR UPDATE"},
    {"SELECT * FROM jobs WHERE state = 'new' LIMIT 10 FOR UPDATE SKIP LOCKED",
     "SELECT * FROM jobs WHERE state = ? LIMIT ? FOR UPDATE SKIP LOCKED"},
    {"SELECT * FROM t WHERE id = 1 LOCK IN SHARE MODE",
     "SELECT * FROM t WHERE id = ? LOCK IN SHARE MODE"},
    {"SELECT * FROM t WHERE id = 1 FOR SHARE NOWAIT",
     "SELECT * FROM t WHERE id = ? FOR SHARE NOWAIT"},

    /* comments and hints */
    {"/* app:web,controller:users */ SELECT * FROM users WHERE id = 1",
     "SELECT * FROM users WHERE id = ?"},
    {"SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = ?"},
    {"SELECT /*!40001 SQL_NO_CACHE */ * FROM t", "SELECT * FROM t"},
    {"SELECT 1 -- trailing comment", "SELECT ?"},
    {"SELECT a -- first\n, b # second\nFROM t", "SELECT a,b FROM t"},
    {"SELECT 5--3", "SELECT ?-?"},
    {"SELECT/*c*/a/*c*/FROM/*c*/t", "SELECT a FROM t"},
    {"SELECT 1 /* a */ /* b */ + /**/ 2", "SELECT ? + ?"},

    /* numbers */
    {"SELECT * FROM t WHERE a = -5", "SELECT * FROM t WHERE a = ?"},
    {"SELECT a-5, a - 5, a -5, -5 FROM t", "SELECT a-?,a - ?,a -?,? FROM t"},
    {"SELECT 1.5e10, .5, 3., -2.5E-3, 1e+5", "SELECT ?,?,?,?,?"},
    {"SELECT * FROM t WHERE a > -.5", "SELECT * FROM t WHERE a > ?"},
    {"SELECT ABS(-10), GREATEST(-1, +2)", "SELECT ABS(?),GREATEST(?,?)"},
    {"SELECT -1", "SELECT ?"},
    {"SELECT NULL-1, a - - 1", "SELECT NULL-?,a - - ?"},
    {"SELECT * FROM t2fa WHERE 2fa_code = 123456", "SELECT * FROM t2fa WHERE 2fa_code = ?"},
    {"SELECT t1.col_2, t2.c3 FROM t1, t2", "SELECT t1.col_2,t2.c3 FROM t1,t2"},

    /* hex, bit, introducers */
    {"SELECT * FROM t WHERE flags = 0x1F AND h = X'0A0B' AND x = x'ff'",
     "SELECT * FROM t WHERE flags = ? AND h = ? AND x = ?"},
    {"SELECT b'0101', B'1', 0b0011, 0xZZ FROM t", "SELECT ?,?,?,0xZZ FROM t"},
    {"SELECT * FROM t WHERE name = _utf8mb4'caf\xc3\xa9' COLLATE utf8mb4_bin",
     "SELECT * FROM t WHERE name = ? COLLATE utf8mb4_bin"},
    {"SELECT _binary'a\\'b', N'text', n'x'", "SELECT ?,?,?"},

    /* dates */
    {"SELECT * FROM events WHERE day = DATE '2024-02-29'", "SELECT * FROM events WHERE day = ?"},
    {"SELECT * FROM events WHERE ts BETWEEN TIMESTAMP '2024-01-01 00:00:00' AND "
     "timestamp'2024-12-31 23:59:59'",
     "SELECT * FROM events WHERE ts BETWEEN ? AND ?"},
    {"SELECT DATE(created_at), TIME '10:00' FROM t", "SELECT DATE(created_at),? FROM t"},
    {"SELECT * FROM t WHERE d >= '2024-01-01' AND d < DATE_ADD('2024-01-01', INTERVAL 1 MONTH)",
     "SELECT * FROM t WHERE d >= ? AND d < DATE_ADD(?,INTERVAL ? MONTH)"},

    /* strings */
    {"SELECT * FROM t WHERE s = 'it\\'s'", "SELECT * FROM t WHERE s = ?"},
    {"SELECT * FROM t WHERE s = 'it''s' AND u = \"say \\\"hi\\\"\"",
     "SELECT * FROM t WHERE s = ? AND u = ?"},
    {"SELECT * FROM t WHERE s = 'back\\\\' AND x = 1", "SELECT * FROM t WHERE s = ? AND x = ?"},
    {"SELECT * FROM t WHERE name = 'Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80'",
     "SELECT * FROM t WHERE name = ?"},
    {"SELECT * FROM `\xe6\x97\xa5\xe6\x9c\xac` WHERE \xe5\x90\x8d = 'x'",
     "SELECT * FROM `\xe6\x97\xa5\xe6\x9c\xac` WHERE \xe5\x90\x8d = ?"},
    {"SELECT 'a' 'b' FROM t", "SELECT ? ? FROM t"},
    {"SELECT 'a -- b /* c', \"#\" FROM t", "SELECT ?,? FROM t"},
    {"SELECT * FROM t WHERE j->>'$.name' = 'x' AND j->'$.a' IS NOT NULL",
     "SELECT * FROM t WHERE j->>? = ? AND j->? IS NOT NULL"},

    /* whitespace and statement ends */
    {"  SELECT\n\t*\r\n  FROM   t  WHERE  ( a = 1 )  ", "SELECT * FROM t WHERE (a = ?)"},
    {"SELECT 1;", "SELECT ?"},
    {"SELECT 1; SELECT 2;; ", "SELECT ?; SELECT ?"},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The hash as digest.c documents it, computed independently. */
static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* Digests sql[0..len) from a heap copy of exactly len bytes (no NUL) into a
 * heap buffer of exactly outcap bytes, then copies the text to text. */
static size_t digest_exact(const char *sql, size_t len, size_t outcap, size_t max_len, char *text,
                           uint64_t *hash)
{
    char *in = len ? malloc(len) : NULL;
    char *out = outcap ? malloc(outcap) : NULL;
    if (len)
        memcpy(in, sql, len);
    size_t n = router_digest(in, len, out, outcap, max_len, hash);
    if (outcap) {
        assert_true(n < outcap);
        assert_int_equal(out[n], '\0');
        memcpy(text, out, n + 1);
    } else {
        assert_int_equal(n, 0);
        text[0] = '\0';
    }
    free(in);
    free(out);
    return n;
}

/* The digest text of a NUL-terminated statement into buf (4096 bytes). */
static uint64_t digest_of(const char *sql, char *buf)
{
    uint64_t h;
    digest_exact(sql, strlen(sql), 4096, 0, buf, &h);
    return h;
}

static void test_table(void **state)
{
    (void)state;
    char buf[4096];
    int failures = 0;
    assert_true(NCASES >= 100);
    for (size_t i = 0; i < NCASES; i++) {
        const char *want = cases[i].digest;
        size_t wlen = strlen(want);
        uint64_t h;
        size_t n = digest_exact(cases[i].sql, strlen(cases[i].sql), wlen + 1, 0, buf, &h);
        if (n != wlen || strcmp(buf, want) != 0) {
            print_error("case %zu: %s\n  got:  %s\n  want: %s\n", i, cases[i].sql, buf, want);
            failures++;
        } else if (h != fnv1a(want, wlen)) {
            print_error("case %zu: hash is not FNV-1a of the text\n", i);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Keeps the keyword table honest: it is searched by bisection, so one word
 * out of order would silently stop being upper-cased. */
static void test_keywords_fold(void **state)
{
    (void)state;
    /* Every word of digest.c's table, in its order, in lower case. */
    static const char words[] =
        "add all alter and any as asc avg begin between binary by call case cast "
        "character collate columns commit committed count create cross database "
        "databases deallocate default delayed delete desc describe distinct div do drop "
        "duplicate else end escape execute exists explain false for force from full "
        "global group having high_priority if ignore in index inner insert interval into "
        "is isolation join key kill left level like limit lock locked low_priority match "
        "max min mod mode names natural not nowait null offset on only or order outer "
        "prepare procedure processlist read recursive regexp release rename repeatable "
        "replace right rollback savepoint select serializable session set share show "
        "skip sql_calc_found_rows sql_no_cache start straight_join sum table tables then "
        "to transaction true truncate uncommitted union unique unlock update use using "
        "values variables warnings when where with work write xor";
    char want[sizeof(words)];
    char buf[4096];
    for (size_t i = 0; i < sizeof(words); i++)
        want[i] = (char)(words[i] >= 'a' && words[i] <= 'z' ? words[i] - 'a' + 'A' : words[i]);
    digest_of(words, buf);
    assert_string_equal(buf, want);
    /* Near misses stay identifiers with their case. */
    digest_of("selects fro wheres in_ status Value", buf);
    assert_string_equal(buf, "selects fro wheres in_ status Value");
}

/* Statements of one shape: each row must digest like its first entry. */
static void test_same_shape_same_hash(void **state)
{
    (void)state;
    static const char *const groups[][4] = {
        {"SELECT * FROM t WHERE id = 1", "select  *  from t /* x */ where id = 999 -- y",
         "SELECT * FROM t\n\tWHERE id = 'abc'", "Select * From t Where id = -1.5e3;"},
        {"SELECT a FROM t WHERE b IN (1,2,3)", "SELECT a FROM t WHERE b in ('x')",
         "SELECT a FROM t WHERE b IN (?, ?)", "SELECT a FROM t WHERE b IN(-1,0x1,b'1',N'x')"},
        {"INSERT INTO t (a,b) VALUES (1,2)", "INSERT INTO t (a, b) VALUES (1,2),(3,4),(5,6)",
         "insert into t (a,b) values ('x', NOW())", "INSERT INTO t (a,b) VALUES (?,?);"},
        {"SELECT 'a'", "SELECT 42", "SELECT -4.2e1", "SELECT DATE '2020-01-01'"},
        {"SELECT a,b FROM t", "SELECT a , b FROM t", "SELECT a,\n b FROM t",
         "/*+ x */SELECT a,b FROM t"},
        {"SELECT x'00'", "SELECT 0x00", "SELECT b'1'", "SELECT ?"},
    };
    char first[4096], other[4096];
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        uint64_t h0 = digest_of(groups[g][0], first);
        for (size_t k = 1; k < 4; k++) {
            uint64_t h = digest_of(groups[g][k], other);
            if (h != h0 || strcmp(first, other) != 0)
                fail_msg("%s -> %s\n%s -> %s", groups[g][0], first, groups[g][k], other);
        }
    }
}

static void test_different_shape_different_hash(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"SELECT a FROM t", "SELECT b FROM t"},
        {"SELECT * FROM t1", "SELECT * FROM t2"},
        {"SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = NULL"},
        {"SELECT * FROM t WHERE id = NULL", "SELECT * FROM t WHERE id IS NULL"},
        {"SELECT a-1", "SELECT a+1"},
        {"SELECT * FROM t WHERE a IN (1)", "SELECT * FROM t WHERE a IN (b)"},
        {"SELECT * FROM `t`", "SELECT * FROM t"},
        {"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 1 FOR UPDATE"},
        {"UPDATE t SET a = 1", "DELETE FROM t"},
        {"SELECT Name FROM t", "SELECT name FROM t"},
    };
    char a[4096], b[4096];
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        uint64_t ha = digest_of(pairs[i][0], a);
        uint64_t hb = digest_of(pairs[i][1], b);
        if (ha == hb || strcmp(a, b) == 0)
            fail_msg("%s and %s share %s", pairs[i][0], pairs[i][1], a);
    }
}

/* Every outcap from 0 to past the end: a prefix, a NUL, the same hash. */
static void test_truncation_at_outcap(void **state)
{
    (void)state;
    const char *sql = "SELECT * FROM users WHERE id IN (1, 2, 3) AND name = 'x'";
    char full[4096], got[4096];
    uint64_t hfull = digest_of(sql, full);
    size_t flen = strlen(full);
    assert_string_equal(full, "SELECT * FROM users WHERE id IN (...) AND name = ?");
    for (size_t cap = 0; cap <= flen + 2; cap++) {
        uint64_t h;
        size_t n = digest_exact(sql, strlen(sql), cap, 0, got, &h);
        size_t want = cap == 0 ? 0 : (cap - 1 < flen ? cap - 1 : flen);
        assert_int_equal(n, want);
        assert_memory_equal(got, full, n);
        assert_true(h == hfull);
    }
    /* Without a buffer at all the hash is still produced. */
    uint64_t h;
    assert_int_equal(router_digest(sql, strlen(sql), NULL, 0, 0, &h), 0);
    assert_true(h == hfull);
}

static void test_max_len_bound(void **state)
{
    (void)state;
    char got[4096], want[4096];
    uint64_t h, hw;
    const char *sql = "SELECT * FROM t WHERE a = 1 AND b = 'xyz'";
    size_t cut = strlen("SELECT * FROM t WHERE a = 1");

    /* Bytes past max_len are not looked at: digest_exact's copy is still
     * len bytes, but the text stops at the bound. */
    digest_exact(sql, strlen(sql), sizeof(got), cut, got, &h);
    assert_string_equal(got, "SELECT * FROM t WHERE a = ?");
    hw = digest_of("SELECT * FROM t WHERE a = 1", want);
    assert_true(h == hw);

    /* A bound larger than len changes nothing; 0 means no bound. */
    digest_exact(sql, strlen(sql), sizeof(got), strlen(sql) + 100, got, &h);
    assert_string_equal(got, "SELECT * FROM t WHERE a = ? AND b = ?");
    digest_exact(sql, strlen(sql), sizeof(got), 0, got, &h);
    assert_string_equal(got, "SELECT * FROM t WHERE a = ? AND b = ?");

    /* A huge IN list cut by the bound still collapses; a string cut in the
     * middle is still a literal. */
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof(big), "SELECT * FROM t WHERE id IN (");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%d,", 100000 + i);
    digest_exact(big, n, sizeof(got), 100, got, &h);
    assert_string_equal(got, "SELECT * FROM t WHERE id IN (...)");
    digest_exact("SELECT 'abcdef' FROM t", 22, sizeof(got), 10, got, &h);
    assert_string_equal(got, "SELECT ?");

    /* Every bound over every table statement: max_len = k reads like a
     * statement of k bytes, and nothing reads past it (ASan builds). */
    for (size_t i = 0; i < NCASES; i++) {
        size_t len = strlen(cases[i].sql);
        for (size_t k = 1; k <= len; k++) {
            digest_exact(cases[i].sql, len, sizeof(got), k, got, &h);
            digest_exact(cases[i].sql, k, sizeof(want), 0, want, &hw);
            if (strcmp(got, want) != 0 || h != hw)
                fail_msg("case %zu cut at %zu: %s vs %s", i, k, got, want);
        }
    }
}

static void test_unterminated_and_odd_inputs(void **state)
{
    (void)state;
    static const struct digest_case odd[] = {
        {"SELECT 'abc", "SELECT ?"},
        {"SELECT \"a\\", "SELECT ?"},
        {"SELECT 'a''", "SELECT ?"},
        {"SELECT /* abc", "SELECT"},
        {"SELECT /*/ 1", "SELECT"},
        {"SELECT `ab", "SELECT `ab"},
        {"SELECT a -- x", "SELECT a"},
        {"SELECT a # x", "SELECT a"},
        {"SELECT a --", "SELECT a --"},
        {"SELECT * FROM t WHERE id IN (1, 2", "SELECT * FROM t WHERE id IN (...)"},
        {"INSERT INTO t VALUES (1, 'a", "INSERT INTO t VALUES (...)"},
        {"INSERT INTO t VALUES (1), (", "INSERT INTO t VALUES (...)"},
        {"SELECT x'0A", "SELECT ?"},
        {"SELECT DATE '2024", "SELECT ?"},
        {"SELECT DATE", "SELECT DATE"},
        {"'", "?"},
        {"/*", ""},
        {"SELECT 1 /", "SELECT ? /"},
        {"SELECT 0x", "SELECT 0x"},
        {"SELECT 1e", "SELECT 1e"},
        {"SELECT -", "SELECT -"},
        {"-", "-"},
        {"((((", "(((("},
        {"))))", "))))"},
        {";;;", ""},
    };
    char got[4096];
    uint64_t h;
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        digest_exact(odd[i].sql, strlen(odd[i].sql), sizeof(got), 0, got, &h);
        if (strcmp(got, odd[i].digest) != 0)
            fail_msg("%s: got %s, want %s", odd[i].sql, got, odd[i].digest);
    }
    /* Control bytes, NUL included, are whitespace: the text stays a C string. */
    digest_exact("SELECT a\0b\x01"
                 "c",
                 12, sizeof(got), 0, got, &h);
    assert_string_equal(got, "SELECT a b c");
}

static void test_empty_input(void **state)
{
    (void)state;
    char got[16];
    uint64_t h = 1;
    const uint64_t empty = 0xcbf29ce484222325ULL;

    assert_int_equal(digest_exact("", 0, sizeof(got), 0, got, &h), 0);
    assert_string_equal(got, "");
    assert_true(h == empty);
    assert_int_equal(router_digest(NULL, 0, got, sizeof(got), 0, &h), 0);
    assert_true(h == empty);
    assert_int_equal(digest_exact(" \t\n/* x */ -- y\n# z", 19, sizeof(got), 0, got, &h), 0);
    assert_string_equal(got, "");
    assert_true(h == empty);
    /* outcap 1: room for the NUL only. */
    assert_int_equal(digest_exact("SELECT 1", 8, 1, 0, got, &h), 0);
    assert_string_equal(got, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_keywords_fold),
        cmocka_unit_test(test_same_shape_same_hash),
        cmocka_unit_test(test_different_shape_different_hash),
        cmocka_unit_test(test_truncation_at_outcap),
        cmocka_unit_test(test_max_len_bound),
        cmocka_unit_test(test_unterminated_and_odd_inputs),
        cmocka_unit_test(test_empty_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
