/*
 * Router: the routing decision for one statement. Pure code: query text and
 * session facts in, decision out; no sockets, no SQLite, no logging, no
 * globals, so tests call it with a string.
 *
 * Pieces:
 *   - statement scanning (router.c): facts the session needs that the
 *     server's session tracking does not tell (named locks, LOCK TABLES,
 *     LAST_INSERT_ID(), statements that ask about the previous one);
 *   - query digests (digest.c): literals to '?', lists collapsed, comments
 *     and case folded, and a 64-bit hash of that text;
 *   - secrets (secrets.c): statement text with password literals masked;
 *   - rule sets (rules.c): ProxySQL's mysql_query_rules compiled once with
 *     PCRE2 JIT into an immutable set that workers share; evaluation
 *     allocates nothing (each worker owns a struct router_scratch).
 */
#ifndef SLUICE_ROUTER_ROUTER_H
#define SLUICE_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- errors */

/* What a fallible function of the router returns: 0 on success or one of
 * these. */
enum router_err {
    ROUTER_ENOMEM = -1, /* allocation failed */
    ROUTER_EINVAL = -2, /* a rule does not compile (bad regex, re_modifiers,
                         * digest or replace_pattern; duplicate rule_id) */
    ROUTER_EARG = -3,   /* a required argument is missing (NULL) */
};

/* A static description of err (0, a ROUTER_E* code); "unknown router error"
 * for any other value. Never NULL. */
const char *router_strerror(int err);

/* ------------------------------------------------------- statement scan */

#define ROUTER_STMT_NAMED_LOCK 0x01u  /* GET_LOCK(...): lock lives on the connection */
#define ROUTER_STMT_LOCK_TABLES 0x02u /* LOCK TABLE(S) ... */
#define ROUTER_STMT_UNLOCK_TABLES 0x04u
#define ROUTER_STMT_ASKS_PREVIOUS 0x08u  /* SHOW WARNINGS/ERRORS, @@warning_count, FOUND_ROWS() */
#define ROUTER_STMT_LAST_INSERT_ID 0x10u /* LAST_INSERT_ID(), @@identity, @@last_insert_id */

/* The statement flags of sql (not NUL-terminated). Bounded by len. */
unsigned router_stmt_flags(const char *sql, size_t len);

/* True when sql is a plain read that may run again on another connection
 * after its backend failed: it starts with SELECT or SHOW, has none of the
 * router_stmt_flags() (locks, questions about the previous statement or the
 * connection's insert id), is one statement (a trailing ';' allowed) and has
 * no FOR UPDATE, LOCK IN SHARE MODE, INTO,
 * NEXTVAL/SETVAL/SLEEP/GET_LOCK-like calls. Functions with side effects
 * that this scan does not know (user-defined ones) are not detected.
 * Bounded by len. */
bool router_stmt_is_read(const char *sql, size_t len);

/* True when sql has a LOAD DATA LOCAL or LOAD XML LOCAL statement, the only
 * statements after which a server may ask the client for a file. Words in
 * comments and quotes do not count. Bounded by len. */
bool router_stmt_loads_local_file(const char *sql, size_t len);

/* True when sql is START TRANSACTION with READ ONLY among its
 * characteristics (WITH CONSISTENT SNAPSHOT may come too), and nothing
 * after it but a ';'. Bounded by len. */
bool router_stmt_read_only_txn(const char *sql, size_t len);

/* -------------------------------------------------------------- digests */

/* Writes the digest text of sql (len bytes, not NUL-terminated) into out
 * (at most outcap bytes, always NUL-terminated when outcap > 0; out may be
 * NULL when outcap is 0) and returns the number of bytes written, NUL
 * excluded. Only the first max_len bytes of sql are looked at (0: no limit),
 * so the work is bounded on huge statements; it is O(len) in any case.
 * *hash receives the 64-bit FNV-1a hash of the whole digest text, also of
 * the part that did not fit in out (the same text always gives the same
 * hash, whatever outcap). Allocates nothing; thread-safe.
 *
 * Normalization: literals (strings with escaped or doubled quotes, numbers
 * including unary-signed, decimal and exponent forms, hex X'..' and 0x..,
 * bit b'..' and 0b.., N'..' and _charset'..', DATE/TIME/TIMESTAMP '...')
 * become '?'; "IN (1, 2, 3)" collapses to "IN (...)" and multi-row
 * "VALUES (...), (...)" to "VALUES (...)"; all comments go (optimizer hints
 * and executable comments too); whitespace runs become one space, none
 * after '(' or ',' or before ',' or ')'; a fixed list of SQL keywords is
 * upper-cased, other identifiers keep their case. digest.c's header has the
 * exact rules, and tests/unit/test_digest.c pins them down. */
size_t router_digest(const char *sql, size_t len, char *out, size_t outcap, size_t max_len,
                     uint64_t *hash);

/* -------------------------------------------------------------- secrets */

/* Writes sql (len bytes, not NUL-terminated) into out with the literals of
 * passwords and keys replaced by '***' (IDENTIFIED BY/VIA/WITH ..., PASSWORD
 * 'x', PASSWORD('x'), MASTER_PASSWORD = 'x', SET PASSWORD ... = 'x',
 * AES_ENCRYPT(...) and the like; secrets.c's header has the list). At most
 * outcap - 1 bytes, cut back to a whole UTF-8 character, then a NUL (nothing
 * when outcap is 0). Returns the bytes written, NUL excluded. Stops reading
 * once out is full; allocates nothing; thread-safe. For every text shown to
 * an operator (processlist, logs); digests hide all literals already. */
size_t router_mask_secrets(const char *sql, size_t len, char *out, size_t outcap);

/* ---------------------------------------------------------------- rules */

/* One row of mysql_query_rules as the store holds it. Strings may be NULL
 * (SQL NULL); integers use -1 for NULL where the column is nullable. */
struct router_rule_spec {
    int rule_id;
    bool active;
    const char *username;
    const char *schemaname;
    int flag_in; /* 0 by default */
    const char *client_addr;
    const char *digest; /* "0x" + 16 hex digits, matched against the digest hash */
    const char *match_digest;
    const char *match_pattern;
    bool negate_match_pattern;
    const char *re_modifiers; /* "CASELESS", "GLOBAL", comma-separated; NULL = CASELESS */
    int flag_out;             /* -1: NULL */
    const char *replace_pattern;
    int destination_hostgroup; /* -1: NULL */
    int cache_ttl;             /* -1: NULL */
    int timeout;               /* -1: NULL, ms */
    int retries;               /* -1: NULL */
    int delay;                 /* -1: NULL, ms */
    const char *error_msg;
    const char *ok_msg;
    int multiplex; /* -1: NULL, 0 disables multiplexing, 1 enables, 2 keeps for this stmt */
    bool apply;
    int log; /* -1: NULL */
    const char *comment;
};

/* Compiled rule set shared by workers (immutable; rule hit counters are
 * atomics inside). */
struct router_rules;

/* Compiles specs (copied; evaluated by ascending rule_id, inactive rows
 * skipped). Returns 0 and *out on success. On a row that does not compile
 * (a bad regex, unknown re_modifiers, a malformed digest or replace_pattern,
 * a duplicate rule_id) returns ROUTER_EINVAL and writes into errbuf a
 * message that names the rule_id, the column and, for a regex, PCRE2's
 * message and the offset; ROUTER_ENOMEM when memory is short (errbuf says
 * so too). *out is NULL and nothing stays allocated on failure. */
int router_rules_compile(const struct router_rule_spec *specs, size_t n, struct router_rules **out,
                         char *errbuf, size_t errlen) __attribute__((warn_unused_result));
void router_rules_free(struct router_rules *rules);

/* Number of compiled (active) rules, and the hit count / id of the i-th, in
 * evaluation order (for stats_mysql_query_rules). */
size_t router_rules_count(const struct router_rules *rules);
int router_rules_rule_id(const struct router_rules *rules, size_t i);
uint64_t router_rules_hits(const struct router_rules *rules, size_t i);

/* Adds to each rule of to the hits of the rule of from with the same rule_id
 * and the same definition (every column but comment), so a reload that
 * leaves a rule alone keeps its count; a changed or new rule starts at 0.
 * Hits counted on from while this runs may be lost (a handful, at a reload).
 * Either may be NULL. */
void router_rules_carry_hits(struct router_rules *to, const struct router_rules *from);

/* Per-worker scratch space: PCRE2 match data and a rewrite buffer, so
 * evaluation allocates nothing per query. One per thread. */
struct router_scratch;
struct router_scratch *router_scratch_new(size_t rewrite_cap);
void router_scratch_free(struct router_scratch *scratch);

/* --------------------------------------------------------------- decide */

struct router_facts {
    const char *user;
    const char *schema;      /* "" when none */
    const char *client_addr; /* "127.0.0.1", may be NULL */
    int default_hostgroup;
    bool in_transaction;
    /* Bytes of the text the digest looks at (ProxySQL's
     * mysql-query_digests_max_query_length); 0 or more than the router's
     * own bound (64 KiB) means that bound. */
    size_t digest_max_len;
    /* sql is only the beginning of the statement (it spans several
     * packets): error_msg rules then fail closed where the rest decides. */
    bool text_cut;
};

/* The error of a statement that an error_msg rule might stop but that could
 * not be checked (decision.unchecked). */
#define ROUTER_UNCHECKED_MSG "Sluice: the statement could not be checked against the query rules"

struct router_decision {
    int hostgroup;       /* where to run it */
    unsigned stmt_flags; /* router_stmt_flags() of the text */
    uint64_t digest;     /* hash of the digest text (0 when no rules need it) */
    int rule_id;         /* last rule that matched, -1: none */
    /* Actions of the matched rules (later rules override earlier ones, as
     * in ProxySQL's flagIN/flagOUT/apply chain): */
    const char *error_msg; /* reject with this message (points into rules) */
    const char *ok_msg;    /* answer OK with this message without running */
    const char *rewritten; /* replace_pattern applied: text in scratch, NULL if none */
    size_t rewritten_len;
    int cache_ttl;  /* -1: none */
    int timeout_ms; /* -1: none */
    int retries;    /* -1: none (mysql-query_retries_on_failure applies) */
    int delay_ms;   /* -1: none; wait this long before running it */
    int multiplex;  /* -1: unchanged, 0 disable, 1 enable */
    /* A rule that an error_msg depends on could not be checked (PCRE2
     * failed at match time, or the cut-off rest of a long statement
     * decides): error_msg is set, the rule's or ROUTER_UNCHECKED_MSG, and
     * rule_id names that rule. rules.c's header has the details. */
    bool unchecked;
};

/* Decides where (facts, sql) goes under rules (NULL: no rules, the default
 * hostgroup). sql is not NUL-terminated. scratch may be NULL only when
 * rules is NULL. Returns 0. Allocates nothing; thread-safe for distinct
 * scratch objects. */
int router_classify(const struct router_rules *rules, struct router_scratch *scratch,
                    const struct router_facts *facts, const char *sql, size_t len,
                    struct router_decision *out);

/* ===================================================== digest statistics */
/*
 * Per-worker query digest statistics, the data behind ProxySQL's
 * stats_mysql_query_digest plus latency percentiles (router/digest_stats.c).
 *
 * Each worker thread owns one struct router_digest_stats and records into it
 * after each statement; a reader (the admin thread) merges several workers'
 * objects by key (hostgroup, schema, user, digest) into rows. Protocol: each
 * object has its own mutex. The recorder holds it for the few hundred
 * nanoseconds of one record, the reader for the copy of one worker's table
 * (then the next worker's), so there is no global lock and a worker only
 * ever waits while the reader copies that worker's table. Records allocate
 * nothing: the capacity is fixed at creation.
 *
 * Bounds: at most capacity distinct keys per worker. Once full, samples of
 * keys not yet tracked are added to one overflow entry per worker (its row
 * has overflow = true, digest 0, hostgroup -1, empty schema and user, and
 * digest_text "(digests beyond capacity)"); keys already tracked keep
 * counting. Nothing is evicted, so counts never jump backwards between two
 * reads; a reset (or a merge with reset) makes room again. Schema and user
 * names are kept to ROUTER_DIGEST_NAME_MAX bytes for display, but keys
 * compare a 64-bit hash of the whole name as well, so two long names that
 * share a prefix stay apart. Digest text is kept to text_cap bytes.
 *
 * Latency histogram: ROUTER_DIGEST_BUCKETS buckets per entry, four per
 * power of two of microseconds. Bucket 0 holds 0 us; bucket b >= 1 holds
 * [2^((b-1)/4), 2^(b/4)) us; the last one, from 2^31.5 us, also holds
 * everything longer (2^31.75 us is about an hour). A percentile is the geometric middle of
 * the bucket holding the nearest-rank sample, clamped to the exact [min,
 * max]: it is within 9.1% (2^(1/8) - 1) of the true nearest-rank value,
 * plus up to 1 us for rounding, for values below an hour. A bucket that
 * would pass 2^32 samples halves all of its entry's buckets first, which
 * keeps the shape (and so the percentiles) while count_star stays exact.
 */

#define ROUTER_DIGEST_NAME_MAX 64u /* bytes of schema and user names kept */
#define ROUTER_DIGEST_BUCKETS 128u

struct router_digest_stats;

/* Creates a table for at most capacity keys (> 0) keeping the first text_cap
 * bytes of each digest text. Allocates everything it will ever use. NULL on
 * allocation failure or capacity 0. Any thread. */
struct router_digest_stats *router_digest_stats_new(size_t capacity, size_t text_cap);
/* Frees st (NULL is fine); no recorder or reader may use it any more. */
void router_digest_stats_free(struct router_digest_stats *st);

/* One executed statement. Strings are borrowed for the call only. */
struct router_digest_sample {
    int hostgroup;
    const char *schema;      /* NULL counts as "" */
    const char *user;        /* NULL counts as "" */
    uint64_t digest;         /* router_digest()'s hash */
    const char *digest_text; /* may be NULL; only read when the key is new */
    size_t text_len;
    uint64_t elapsed_us;
    uint64_t rows_affected;
    uint64_t rows_sent;
    int64_t now; /* unix time, seconds: first_seen / last_seen */
};

/* Adds one sample to st. Called by st's worker; takes st's mutex briefly
 * and allocates nothing. */
void router_digest_stats_record(struct router_digest_stats *st,
                                const struct router_digest_sample *sample);

/* Like router_digest_stats_record() but only when the sample needs no
 * digest text: its key is tracked already, or the table is full (the
 * overflow entry takes it). Returns false, recording nothing, when the key
 * is new: the caller then computes the text and records normally. Lets a
 * caller that has the hash from routing skip a second digest pass. */
bool router_digest_stats_record_known(struct router_digest_stats *st,
                                      const struct router_digest_sample *sample);

/* Forgets every entry of st, the overflow entry too. Any thread. */
void router_digest_stats_reset(struct router_digest_stats *st);

/* Number of keys st tracks now (overflow entry excluded). Any thread. */
size_t router_digest_stats_size(struct router_digest_stats *st);

/* One merged row: stats_mysql_query_digest's columns plus percentiles.
 * Strings point into the merge they came from. Times are microseconds. */
struct router_digest_row {
    int hostgroup;
    const char *schemaname;
    const char *username;
    const char *client_address; /* always "": clients are not part of the key */
    uint64_t digest;
    const char *digest_text;
    uint64_t count_star;
    int64_t first_seen;
    int64_t last_seen;
    uint64_t sum_time;
    uint64_t min_time;
    uint64_t max_time;
    uint64_t sum_rows_affected;
    uint64_t sum_rows_sent;
    uint64_t p50_time;
    uint64_t p95_time;
    uint64_t p99_time;
    bool overflow; /* the samples of keys beyond some worker's capacity */
};

/* The result of a merge, iterated by router_digest_merge_next(). */
struct router_digest_merge;

/* Merges the n objects in stats (typically one per worker; NULL elements are
 * skipped) by key: counts and sums add, min/max/first/last combine,
 * histograms add, and the digest text is the first worker's. Each object is
 * locked in turn while it is copied, so each worker's part is consistent in
 * itself; the workers are not read at one single instant. With reset, each
 * object is reset under the same lock right after its copy, so no sample is
 * lost or counted twice between two reading resets (ProxySQL's
 * stats_mysql_query_digest_reset). The reader's thread; allocates. Returns
 * 0 and *out, or ROUTER_ENOMEM (*out NULL; the workers copied before the
 * failure may have been reset already, the others are untouched). */
int router_digest_stats_merge(struct router_digest_stats *const *stats, size_t n, bool reset,
                              struct router_digest_merge **out) __attribute__((warn_unused_result));
/* Fills *row with the next merged row (in no particular order) and returns
 * true, or returns false at the end. */
bool router_digest_merge_next(struct router_digest_merge *m, struct router_digest_row *row);
size_t router_digest_merge_count(const struct router_digest_merge *m);
void router_digest_merge_free(struct router_digest_merge *m);

/* The nearest-rank percentile (0 < pct <= 100) of a histogram of
 * ROUTER_DIGEST_BUCKETS counts, clamped to [min_us, max_us]; 0 when empty.
 * Exposed for tests and for callers that keep their own histograms. */
uint64_t router_digest_percentile(const uint64_t *buckets, double pct, uint64_t min_us,
                                  uint64_t max_us);
/* The bucket of a latency of us microseconds. */
unsigned router_digest_bucket(uint64_t us);

/* ============================================================== explain */
/*
 * Explaining a decision (router/rules.c): the same evaluation as
 * router_classify(), reported rule by rule through a callback, for the admin
 * command EXPLAIN QUERY RULES. Not for the hot path: it digests the query
 * even when no rule needs it, so that the digest can be shown.
 */

/* Why a rule was skipped, or that it matched. */
enum router_explain_outcome {
    ROUTER_EXPLAIN_SKIP_FLAG,              /* flagIN differs from the current flag */
    ROUTER_EXPLAIN_SKIP_USERNAME,          /* username differs from the session's */
    ROUTER_EXPLAIN_SKIP_SCHEMANAME,        /* schemaname differs from the session's */
    ROUTER_EXPLAIN_SKIP_CLIENT_ADDR,       /* client_addr does not cover the client */
    ROUTER_EXPLAIN_SKIP_DIGEST,            /* digest differs from the query's hash */
    ROUTER_EXPLAIN_SKIP_MATCH_DIGEST,      /* match_digest did not match the digest text */
    ROUTER_EXPLAIN_SKIP_MATCH_DIGEST_NEG,  /* match_digest matched, negate_match_pattern */
    ROUTER_EXPLAIN_SKIP_MATCH_PATTERN,     /* match_pattern did not match the text */
    ROUTER_EXPLAIN_SKIP_MATCH_PATTERN_NEG, /* match_pattern matched, negate_match_pattern */
    ROUTER_EXPLAIN_MATCHED,                /* the rule's actions were taken */
    ROUTER_EXPLAIN_FAIL_CLOSED,            /* could not be checked: the statement is refused */
    ROUTER_EXPLAIN_DECISION,               /* the final step: the decision, no rule */
};

/* "skipped: username", "matched", "decision"...: what the admin command
 * shows. Static strings; "?" for an unknown value. */
const char *router_explain_outcome_str(enum router_explain_outcome outcome);

/* One step of an explanation. Pointers are valid during the callback only
 * (they point into the rule set, the query and the scratch). */
struct router_explain_step {
    enum router_explain_outcome outcome;
    size_t index; /* 0, 1, ...: the steps reported so far before this one */
    int rule_id;  /* -1 in the DECISION step */
    int flag_in;  /* the rule's flagIN; -1 in the DECISION step */
    /* MATCHED: the rule's actions (-1 / NULL / false where the rule has
     * none); skipped steps leave them so. In the DECISION step they are the
     * decision's: destination_hostgroup is where the query goes, error_msg,
     * ok_msg, cache_ttl, timeout_ms and multiplex what it carries. */
    int destination_hostgroup;
    int flag_out;
    bool apply;
    bool stops;     /* evaluation ends after this rule (apply or error_msg) */
    bool rewritten; /* this rule's replace_pattern changed the text; in the
                     * DECISION step: some rule did */
    const char *error_msg;
    const char *ok_msg;
    int cache_ttl;
    int timeout_ms;
    int retries;
    int delay_ms;
    int multiplex;
    /* The state after this step: the flag the next rule is compared with
     * and the text match_pattern sees (the query or its latest rewrite; not
     * NUL-terminated). */
    int flag;
    const char *text;
    size_t text_len;
    /* The query's digest, the same in every step: the hash router_classify()
     * reports when a rule consults it, and its text (not NUL-terminated,
     * at most 64 KiB: longer queries are digested up to that bound, like the
     * rules see them). */
    uint64_t digest;
    const char *digest_text;
    size_t digest_text_len;
};

/* Evaluates (facts, sql) under rules exactly as router_classify() does and
 * fills *out with the same decision (out->digest too, which stays 0 unless
 * a rule consulted it), but calls step(arg, st) for every active rule
 * considered, in evaluation order: skipped (with the reason) or matched
 * (with its actions). Rules after the one that ends evaluation are not
 * considered and not reported. A last call, outcome ROUTER_EXPLAIN_DECISION,
 * always follows (also with no rules) and carries the decision, the final
 * flag and text, and the digest. Rule hit counters are not incremented.
 * scratch is required (also when rules is NULL: the digest is written
 * there) and out->rewritten points into it until its next use. Returns 0,
 * or ROUTER_EARG when step or scratch is NULL (nothing called). Allocates
 * nothing; thread-safe for distinct scratch objects. */
int router_explain(const struct router_rules *rules, struct router_scratch *scratch,
                   const struct router_facts *facts, const char *sql, size_t len,
                   void (*step)(void *arg, const struct router_explain_step *st), void *arg,
                   struct router_decision *out) __attribute__((warn_unused_result));

#endif
