/*
 * stats/: the counters of client sessions and the processlist, kept by the
 * workers that own the sessions and read by the main thread for the admin
 * stats tables and the metrics endpoint.
 *
 * Every figure belongs to one worker (struct stats_worker) and is written
 * by that worker's thread only, with relaxed atomic stores (stats_count), so
 * counting costs a plain add with no lock and no cache line shared between
 * workers. A reader sums the workers: each figure is exact, the set is not
 * one instant. The exceptions take a lock and say so: the table of
 * statements that pinned sessions, and the processlist exchange.
 *
 * This module knows nothing of sessions: proxy/ extracts what a statement
 * or a session amounts to (its text, its pin reasons, its row of the
 * processlist) and hands it here. Its output types are the admin module's
 * row types (admin/admin.h), so admin needs no knowledge of it.
 *
 * Threads: "worker" means the thread of the stats_worker named, "main" the
 * main loop's thread (admin, metrics), "any" any thread.
 */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include "admin/admin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

enum stats_err {
    STATS_ENOMEM = -1,
    STATS_EINVAL = -2, /* no worker, or a handle libuv would not open */
};
const char *stats_strerror(int err);

/* Adds n (may wrap, to subtract) to a counter the calling thread owns. */
static inline void stats_count(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------ session counters */

#define STATS_NCOMMANDS 33 /* command bytes 0..31, then one slot for the rest */
struct stats_counters {
    uint64_t clients_accepted;          /* client connections accepted */
    uint64_t clients_connected;         /* gauge: up at accept, down when the session is freed */
    uint64_t auth_failures;             /* access denied at login or COM_CHANGE_USER */
    uint64_t query_processor_ns;        /* time in the router (rules, digest) */
    uint64_t commands[STATS_NCOMMANDS]; /* commands received, by command byte */
};

/* ------------------------------------------------------ statement types */

/* ProxySQL's statement types (stats_mysql_commands_counters), UNKNOWN
 * last, and its twelve latency buckets (ADMIN_CMD_BUCKETS). */
#define STATS_CMD_TYPES 52
struct stats_cmd_counter {
    uint64_t cnt;
    uint64_t time_us;
    uint64_t buckets[ADMIN_CMD_BUCKETS];
};
/* The type (0..STATS_CMD_TYPES-1) of a statement by its first keywords,
 * and its name ("SELECT", "CREATE_TABLE"...; "UNKNOWN" out of range). */
int stats_cmd_classify(const char *q, size_t len);
const char *stats_cmd_name(int type);
/* The latency bucket (0..ADMIN_CMD_BUCKETS-1) of us microseconds, and the
 * upper bound of a bucket in us (0 for the last, unbounded one). */
int stats_cmd_bucket(uint64_t us);
uint64_t stats_cmd_bucket_bound_us(int bucket);

/* ------------------------------------------------------------ pin reasons */

/* Why a session keeps its backend connection between statements, as the
 * stats tables and metrics name it. */
enum stats_pin_reason {
    STATS_PIN_TRANSACTION,     /* in a transaction */
    STATS_PIN_USER_VARIABLE,   /* SET @x, SELECT @x := ... */
    STATS_PIN_TEMPORARY_TABLE, /* CREATE TEMPORARY TABLE */
    STATS_PIN_SQL_PREPARE,     /* PREPARE ... FROM (SQL-level prepared statement) */
    STATS_PIN_SESSION_STATE,   /* state the server flagged that none of the above explains */
    STATS_PIN_NAMED_LOCK,      /* GET_LOCK() */
    STATS_PIN_LOCK_TABLES,     /* LOCK TABLES */
    STATS_PIN_CURSOR,          /* an open server-side cursor */
    STATS_PIN_LONG_DATA,       /* COM_STMT_SEND_LONG_DATA before its execute */
    STATS_PIN_RULE,            /* a query rule with multiplex=0 */
    STATS_PIN_N,
};
#define STATS_PIN_BIT(r) (1u << (r))
/* "transaction", "user_variable"...; "?" out of range. */
const char *stats_pin_reason_name(int reason);
/* The reason a statement the server flagged as changing session state
 * pins its session (COM_QUERY text, len bytes). */
enum stats_pin_reason stats_pin_state_reason(const char *q, size_t len);

/* What one session has accounted in its worker's pin figures. */
struct stats_pin_account {
    unsigned reasons; /* STATS_PIN_BITs counted in the gauges */
    int mux_slot;     /* hostgroup slot the session counts in; -1: none */
};
#define STATS_PIN_ACCOUNT_INIT                                                                     \
    {                                                                                              \
        0, -1                                                                                      \
    }

/* ------------------------------------------------------------- workers */

struct stats_worker;
struct stats;

/* A stats object for nworkers workers: 0 and *out, or STATS_ENOMEM. */
int stats_new(int nworkers, struct stats **out) __attribute__((warn_unused_result));
/* After every worker stopped and stats_plist_close's callbacks ran. */
void stats_free(struct stats *st);
struct stats_worker *stats_worker(struct stats *st, int index);

/* Counters of the calling worker (stats_count them). Worker. */
struct stats_counters *stats_counters(struct stats_worker *ws);
/* Counts a COM_QUERY or COM_STMT_EXECUTE of text q that took us. Worker. */
void stats_cmd_record(struct stats_worker *ws, const char *q, size_t len, uint64_t us);
/* Brings the gauges from acct->reasons to reasons; for each reason in up
 * (became set with the statement that just ran), counts an event and the
 * statement (digest and digest text; text may be a placeholder such as
 * "(command 0x16)"). Worker. */
void stats_pin_update(struct stats_worker *ws, struct stats_pin_account *acct, unsigned reasons,
                      unsigned up, uint64_t digest, const char *text);
/* Moves the session's count to hostgroup hg (-1: none). Worker. */
void stats_pin_hostgroup(struct stats_worker *ws, struct stats_pin_account *acct, int hg);

/* ------------------------------------------------------------- readers */

uint64_t stats_start_ns(const struct stats *st);
/* Sums of every worker. Any thread. */
void stats_counters_sum(const struct stats *st, struct stats_counters *out);
void stats_cmd_sum(const struct stats *st, struct admin_command_stats out[STATS_CMD_TYPES]);
uint64_t stats_pinned_now(const struct stats *st, enum stats_pin_reason reason);
uint64_t stats_pin_events(const struct stats *st, enum stats_pin_reason reason);
uint64_t stats_pinned_sessions(const struct stats *st);
/* The pin and multiplexing tables: 0, or STATS_ENOMEM with *out empty.
 * stats_session_free releases what it filled. Any thread. */
int stats_session_stats(const struct stats *st, struct admin_session_stats *out);
void stats_session_free(struct admin_session_stats *out);

/* -------------------------------------------------------------- errors */

/*
 * stats_mysql_errors: errors that backends answered to clients' commands
 * and backend connects that failed, counted per (hostgroup, hostname, port,
 * username, client_address, schemaname, errno). Each worker keeps its own
 * table of at most STATS_ERRORS_MAX keys, behind a mutex that its thread
 * takes only when it records an error, so a command that succeeds costs
 * nothing here; when the table is full the least counted key makes room.
 * The caller masks secrets in msg before it gets here: this module stores
 * what it is handed.
 */
#define STATS_ERRORS_MAX 1000

struct stats_error {
    int hostgroup;
    const char *hostname;
    int port;
    const char *username;
    const char *client_address; /* "" when not known */
    const char *schemaname;     /* "" when none */
    int err_no;
    const char *msg; /* msg_len bytes, not NUL-terminated; cut at 255 */
    size_t msg_len;
};
/* Counts e at unix time now (seconds). Strings too long for their column
 * are cut. Worker (its own ws); takes ws's error lock. */
void stats_error_record(struct stats_worker *ws, const struct stats_error *e, int64_t now);
/* Every worker's errors merged by key into *out (malloc'd, *n rows,
 * free()); with reset, every table is emptied as it is read. 0, or
 * STATS_ENOMEM with nothing reset. Any thread. */
int stats_errors_rows(struct stats *st, bool reset, struct admin_mysql_error **out, size_t *n)
    __attribute__((warn_unused_result));

/* ---------------------------------------------------- prepared statements */

/*
 * stats_mysql_prepared_statements_info: per statement text, how many client
 * statements and backend connections hold it now. Each worker counts the
 * objects it creates in its own table (at most STATS_STMTS_MAX texts),
 * behind a mutex taken on a prepare, a backend's new statement and their
 * frees, never on an execute. An object is uncounted in the table that
 * counted it, whichever thread frees it, so the counts never go below zero.
 */
#define STATS_STMTS_MAX 4096

struct stats_stmt {
    uint64_t hash; /* of the text: the key */
    const char *sql;
    size_t sql_len;
    uint64_t digest;
    int hostgroup;
    const char *schemaname;
    const char *username;
    int nparams;
    int ncols;
};
/* Counts one more holder of e's text: a client statement (server false) or
 * a backend connection's (server true). True when counted: the caller then
 * calls stats_stmt_unref on the same ws exactly once; false when the table
 * is full or cannot grow. Worker. */
bool stats_stmt_ref(struct stats_worker *ws, const struct stats_stmt *e, bool server);
/* One holder of text hash less. Any thread (takes ws's statement lock). */
void stats_stmt_unref(struct stats_worker *ws, uint64_t hash, bool server);
/* Every worker's counts merged by text into *out (malloc'd, *n rows;
 * free()). 0 or STATS_ENOMEM. Any thread. */
int stats_stmts_rows(struct stats *st, struct admin_prepared_stmt **out, size_t *n)
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------- processlist */

/*
 * stats_mysql_processlist: one row per client session, built by the worker
 * that owns the session and gathered on the main loop. Nobody waits on a
 * lock or a condition variable: an admin statement that reads the table
 * asks (stats_plist_ask), the main loop goes on, each worker builds its
 * rows when its loop next runs and publishes them (stats_plist_publish,
 * which wakes the main loop), and the asker's callback runs on the main
 * loop once every worker answered or STATS_PLIST_WAIT_MS passed. A worker
 * that is slow to answer only leaves its sessions out of that answer; its
 * late rows replace the slot's old ones.
 *
 *   main     stats_plist_ask(st, &wait)  -> wake(arg, i) for each worker
 *   worker i stats_plist_asked(ws)? build rows; stats_plist_publish()
 *   main     wait.done(&wait) (all answered, or the bound passed);
 *            stats_plist_rows() copies the rows of the last answer
 */
#define STATS_PLIST_WAIT_MS 1000

struct stats_plist_wait {
    void (*done)(struct stats_plist_wait *w); /* main; may ask again or cancel others */
    struct stats_plist_wait *next;            /* private */
    bool waiting;                             /* private */
};

/* Starts the exchange's handles on the main loop; wake(arg, i) must make
 * worker i call stats_plist_asked soon (a uv_async_send). 0, or
 * STATS_EINVAL. Main. */
int stats_plist_open(struct stats *st, uv_loop_t *main_loop, void (*wake)(void *arg, int worker),
                     void *arg) __attribute__((warn_unused_result));
/* Closes the handles; waiters are dropped without a call. stats_free only
 * after the main loop ran the close callbacks. Main. */
void stats_plist_close(struct stats *st);
/* Asks every worker for fresh rows; w->done runs when they are in. A
 * waiter already waiting is left as it is. Main. */
void stats_plist_ask(struct stats *st, struct stats_plist_wait *w);
/* w no longer wants its callback (its owner goes away). Main. */
void stats_plist_cancel(struct stats *st, struct stats_plist_wait *w);
/* Whether the main loop asked this worker for rows it has not published
 * yet. Worker. */
bool stats_plist_asked(const struct stats_worker *ws);
/* Publishes the worker's rows (malloc'd, n of them; ownership passes; NULL
 * on ENOMEM means "no rows"). Worker. */
void stats_plist_publish(struct stats *st, struct stats_worker *ws, struct admin_process *rows,
                         size_t n);
/* A copy of the rows of the last answer gathered, into *out (malloc'd, *n
 * rows; free()). 0, or STATS_ENOMEM. Main. */
int stats_plist_rows(struct stats *st, struct admin_process **out, size_t *n)
    __attribute__((warn_unused_result));

#endif
