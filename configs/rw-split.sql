-- Sluice default read/write split: writer hostgroup 0, reader hostgroup 1.
--
-- Apply with `sluice --config` on a new store, or paste into the admin interface and run
-- LOAD MYSQL QUERY RULES TO RUNTIME. Give application users default_hostgroup 0 (the writer):
-- every statement no rule matches (INSERT, UPDATE, DELETE, REPLACE, DDL, SET, CALL, DO,
-- BEGIN, COMMIT, LOCK TABLES, HANDLER, LOAD DATA...) goes to the user's default hostgroup.
-- So the rules only have two jobs: pick out the statements that are safe on a replica, and
-- first catch the ones that only look like reads but must run where the session's state is.
--
-- How the rules see a statement: most use match_digest, which is matched against the
-- statement's digest text (router/digest.c), not the raw text. In the digest, comments and
-- optimizer hints are gone ("/* app:42 */ SELECT" and "/*+ BKA(t) */ SELECT" both start
-- with "SELECT"), string and number literals are '?' (so WHERE note = 'FOR UPDATE' is not a
-- locking read), whitespace runs and newlines are one space, and SQL keywords are upper
-- case. Function and variable names keep their case, hence CASELESS (the column's default).
--
-- Evaluation is by rule_id; the first rule with apply = 1 that matches decides. Rules 100-120
-- look at the raw text for what the digest cannot show; 200-280 send look-alike reads to the
-- writer; 300-340 send the real reads to the reader.
--
-- What these rules cannot know (route such statements with a per-user rule, a digest rule,
-- or a leading /* hostgroup=0 */ hint where hints are enabled):
--   - stored functions with side effects (SELECT my_func_that_inserts()): any name could be one;
--   - temporary tables: SELECT/SHOW/DESCRIBE of a table the session created with CREATE
--     TEMPORARY TABLE must run on the writer, where the table lives;
--   - server-specific diagnostics (SHOW PROCESSLIST, SHOW ENGINE INNODB STATUS, SHOW REPLICA
--     STATUS, SELECT @@server_id...) answer for whichever reader was picked;
--   - read-your-writes: a read right after a write may see a replica that has not applied it
--     yet. That is the causal-reads setting's job, not a rule's;
--   - statements inside a transaction: the session keeps them on the transaction's backend
--     whatever the rules say (transaction_persistent).
-- tests/unit/test_rwsplit.c parses this file and checks 100+ statements against it: keep the
-- INSERT form below (one statement per rule, a column list, then one VALUES tuple).

-- 100: executable comments. The digest drops /*! ... */ and /*M! ... */ with their content,
-- but the server runs that content: "SELECT * FROM t /*!50000 FOR UPDATE */" locks rows. Any
-- statement that carries one goes to the writer (mysqldump's SELECT /*!40001 SQL_NO_CACHE */
-- too: a false "write" only costs the replica a read, a false "read" is wrong).
INSERT INTO mysql_query_rules (rule_id, active, match_pattern, destination_hostgroup, apply, comment)
VALUES (100, 1, '/\*M?!', 0, 1, 'executable comment: its content is hidden from the digest');

-- 110-112: huge statements. The rule engine digests at most the first 64 KiB of a statement
-- (ROUTER_RULES_DIGEST_MAX), so a FOR UPDATE after a 70 KiB IN list would not be in the
-- digest. Statements longer than that (65,537 bytes or more: PCRE2 caps one repeat count at
-- 65,535, hence two) get flag 1, and rule 111 searches their raw text for anything the
-- digest rules below look for; a match in a string literal is a false alarm on the safe side.
-- Rule 112 puts the rest back on flag 0, so rules 200-340 still see them. Shorter statements
-- fail rule 110 at once: PCRE2 rejects a subject shorter than the pattern's minimum length
-- without scanning it.
INSERT INTO mysql_query_rules (rule_id, active, match_pattern, flagOUT, comment)
VALUES (110, 1, '^[\s\S]{32768}[\s\S]{32769}', 1, 'longer than the digested 64 KiB');

INSERT INTO mysql_query_rules (rule_id, active, flagIN, match_pattern, destination_hostgroup, apply, comment)
VALUES (111, 1, 1, '\bFOR\s+(?:UPDATE|SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bINTO\b|_LOCKS?\s*\(|\b(?:LAST_INSERT_ID|FOUND_ROWS|ROW_COUNT|CONNECTION_ID|NEXTVAL|SETVAL|LASTVAL)\s*\(|\bVALUE\s+FOR\b|\.(?:NEXTVAL|CURRVAL)\b|\bSQL_CALC_FOUND_ROWS\b|@|;', 0, 1, 'long statement that may lock, write or need the session');

INSERT INTO mysql_query_rules (rule_id, active, flagIN, flagOUT, comment)
VALUES (112, 1, 1, 0, 'long statement: back to the digest rules');

-- 200: several statements in one COM_QUERY (CLIENT_MULTI_STATEMENTS). The first one may be a
-- SELECT and the next a DELETE; the digest keeps the ';' between statements (a trailing one
-- goes, and one inside a string literal is a '?').
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (200, 1, ';', 0, 1, 'multi-statement');

-- 210: locking reads: SELECT ... FOR UPDATE [NOWAIT | SKIP LOCKED | OF t], FOR SHARE,
-- LOCK IN SHARE MODE, wherever they are (after a UNION, in a CTE's main SELECT).
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (210, 1, '\bFOR\s+(?:UPDATE|SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b', 0, 1, 'locking read');

-- 220: SELECT ... INTO @var / OUTFILE / DUMPFILE writes a session variable or a file on the
-- server; INSERT ... INTO matches as well and was going to the writer anyway.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (220, 1, '\bINTO\b', 0, 1, 'SELECT ... INTO');

-- 230: named locks live on the connection that took them: GET_LOCK, RELEASE_LOCK,
-- RELEASE_ALL_LOCKS, IS_FREE_LOCK, IS_USED_LOCK (the session also pins after GET_LOCK).
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (230, 1, '\b(?:GET_LOCK|RELEASE_LOCK|RELEASE_ALL_LOCKS|IS_FREE_LOCK|IS_USED_LOCK)\s*\(', 0, 1, 'named lock');

-- 240: functions that answer about this session's previous statements or its connection:
-- LAST_INSERT_ID(), FOUND_ROWS() (and the SQL_CALC_FOUND_ROWS select it pairs with, so both
-- run on the same server), ROW_COUNT(), CONNECTION_ID().
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (240, 1, '\b(?:LAST_INSERT_ID|FOUND_ROWS|ROW_COUNT|CONNECTION_ID)\s*\(|\bSQL_CALC_FOUND_ROWS\b', 0, 1, 'session-bound function');

-- 250: sequences (MariaDB, Oracle mode): NEXTVAL(s), NEXT VALUE FOR s and SETVAL(...) write;
-- LASTVAL(s), PREVIOUS VALUE FOR s and s.currval answer for this session; s.nextval.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (250, 1, '\b(?:NEXTVAL|SETVAL|LASTVAL)\s*\(|\b(?:NEXT|PREVIOUS)\s+VALUE\s+FOR\b|\.(?:NEXTVAL|CURRVAL)\b', 0, 1, 'sequence');

-- 260: system variables read the session's value unless they name GLOBAL, and many are per
-- connection (@@last_insert_id, @@identity, @@insert_id, @@warning_count, @@error_count,
-- @@last_gtid, @@in_transaction, @@session.*, @@local.*): any @@ goes to the writer except
-- @@global.* and a short list of server-wide, read-only ones that monitoring and tests ask a
-- replica for (version, server_id, port, read_only, gtid positions...). The negative
-- look-ahead makes the rule match when at least one @@ in the statement is not on that list.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (260, 1, '@@(?!global\.|(?:version|version_comment|version_compile_os|version_compile_machine|server_id|server_uuid|hostname|port|read_only|super_read_only|innodb_read_only|log_bin|gtid_mode|gtid_executed|gtid_purged|gtid_binlog_pos|gtid_current_pos|gtid_slave_pos)\b)', 0, 1, 'session system variable');

-- 270: user variables (@x, @`x`, @'x') are session state: they are set on the writer, where
-- the session's SETs went, and must be read there.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (270, 1, '(?<!@)@(?!@)', 0, 1, 'user variable');

-- 280: SHOW statements about this session or the primary: SHOW WARNINGS / ERRORS / COUNT(*)
-- WARNINGS, SHOW PROFILE(S), SHOW [SESSION | LOCAL] STATUS / VARIABLES (unqualified means
-- SESSION), SHOW MASTER STATUS, SHOW BINARY LOG(S), SHOW BINLOG .... The session also keeps
-- the previous statement's backend for SHOW WARNINGS after warnings. SHOW GLOBAL STATUS and
-- the catalog SHOWs fall through to rule 330.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (280, 1, '^SHOW\s+(?:WARNINGS|ERRORS|COUNT|PROFILES?|SESSION|LOCAL|STATUS|VARIABLES|MASTER|BINARY|BINLOG)\b', 0, 1, 'session or primary SHOW');

-- 300: plain reads, parenthesized or not: SELECT ..., (SELECT ...) UNION (SELECT ...).
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (300, 1, '^[(\s]*SELECT\b', 1, 1, 'read');

-- 310: common table expressions whose main statement is a SELECT. MySQL 8 also writes with
-- WITH ... UPDATE / DELETE (and INSERT ... WITH, which starts with INSERT): a WITH statement
-- that names UPDATE, DELETE, INSERT or REPLACE anywhere stays on the writer (REPLACE() the
-- string function is a false alarm on the safe side).
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (310, 1, '^\(*WITH\b(?!.*\b(?:UPDATE|DELETE|INSERT|REPLACE)\b)', 1, 1, 'CTE read');

-- 320: EXPLAIN / DESCRIBE / DESC does not run the statement, except EXPLAIN ANALYZE, which
-- does (MySQL 8 also for UPDATE and DELETE): that one stays on the writer.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (320, 1, '^(?:EXPLAIN|DESCRIBE|DESC)\b(?!.*\bANALYZE\b)', 1, 1, 'EXPLAIN without ANALYZE');

-- 330: the other SHOW statements read the catalog or server-wide state (SHOW TABLES, SHOW
-- CREATE TABLE, SHOW COLUMNS, SHOW DATABASES, SHOW GLOBAL STATUS...).
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (330, 1, '^SHOW\b', 1, 1, 'catalog SHOW');

-- 340: MySQL 8's TABLE t statement is SELECT * FROM t.
INSERT INTO mysql_query_rules (rule_id, active, match_digest, destination_hostgroup, apply, comment)
VALUES (340, 1, '^TABLE\b', 1, 1, 'TABLE statement');
