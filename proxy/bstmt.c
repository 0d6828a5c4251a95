/*
 * The proxy's data on a pooled backend connection (struct backend) and its
 * cache of prepared statements: statements prepared on that connection,
 * kept by text in most-recently-used order, so a session that prepares a
 * text the connection already has skips the round trip, and the least
 * recently used goes (COM_STMT_CLOSE) past mysql-max_stmts_per_connection.
 * A cache holds at most that many statements (50 by default), so a lookup
 * walks a short list.
 */
#include "proxy/proxy_int.h"

#include <stdlib.h>
#include <string.h>

void bstmt_free(struct bstmt *b)
{
    if (b->counted_in)
        stats_stmt_unref(b->counted_in, b->hash, true);
    free(b->sql);
    codec_buf_free(&b->coldefs);
    free(b);
}

struct backend *backend_new(void)
{
    struct backend *be = calloc(1, sizeof(*be));
    if (!be)
        return NULL;
    codec_buf_init(&be->rbuf);
    codec_buf_init(&be->wq);
    codec_buf_init(&be->scratch);
    varset_init(&be->vars);
    /* What the pool's connect leaves: utf8mb4, no schema, no
     * multi-statements. */
    if (varset_set_charset(&be->vars, 45) != 0) {
        backend_free(be);
        return NULL;
    }
    return be;
}

void backend_free(void *p)
{
    struct backend *be = p;
    if (!be)
        return;
    codec_buf_free(&be->rbuf);
    codec_buf_free(&be->wq);
    codec_buf_free(&be->scratch);
    varset_free(&be->vars);
    for (struct bstmt *b = be->lru_head; b;) {
        struct bstmt *next = b->lru_next;
        bstmt_free(b);
        b = next;
    }
    free(be);
}

int backend_rbuf_room(struct backend *be)
{
    if (be->rpos == be->rbuf.len) {
        be->rbuf.len = be->rpos = 0;
    } else if (be->rpos > 0 && be->rbuf.cap - be->rbuf.len < 4096) {
        /* Little room left behind a parsed prefix: slide the rest down
         * rather than grow. */
        memmove(be->rbuf.data, be->rbuf.data + be->rpos, be->rbuf.len - be->rpos);
        be->rbuf.len -= be->rpos;
        be->rpos = 0;
    }
    return codec_buf_reserve(&be->rbuf, be->rbuf.cap >= RBUF_SIZE ? 4096 : RBUF_SIZE) == 0
               ? 0
               : PROXY_ENOMEM;
}

struct bstmt *bstmt_find(struct backend *be, uint64_t hash, const char *sql, size_t len)
{
    for (struct bstmt *b = be->lru_head; b; b = b->lru_next)
        if (b->hash == hash && b->sql_len == len && memcmp(b->sql, sql, len) == 0)
            return b;
    return NULL;
}

void bstmt_unlink(struct backend *be, struct bstmt *b)
{
    if (b->lru_prev)
        b->lru_prev->lru_next = b->lru_next;
    else
        be->lru_head = b->lru_next;
    if (b->lru_next)
        b->lru_next->lru_prev = b->lru_prev;
    else
        be->lru_tail = b->lru_prev;
    b->lru_prev = b->lru_next = NULL;
}

void bstmt_push_front(struct backend *be, struct bstmt *b)
{
    b->lru_prev = NULL;
    b->lru_next = be->lru_head;
    if (be->lru_head)
        be->lru_head->lru_prev = b;
    else
        be->lru_tail = b;
    be->lru_head = b;
}

int bstmt_keep(struct session *s)
{
    const struct cstmt *st = s->cur_stmt;
    struct bstmt *b = calloc(1, sizeof(*b));
    if (!b || !(b->sql = malloc(st->sql_len ? st->sql_len : 1))) {
        free(b);
        return PROXY_ENOMEM;
    }
    memcpy(b->sql, st->sql, st->sql_len);
    b->sql_len = st->sql_len;
    b->hash = st->hash;
    b->backend_id = s->resp.prep_stmt_id;
    b->nparams = s->resp.prep_params;
    b->ncols = s->resp.prep_cols;
    b->coldefs = s->meta;
    codec_buf_init(&s->meta);
    bstmt_push_front(s->be, b);
    s->be->n_stmts++;
    b->counted_in = errstats_stmt_count(s, st, true);
    return 0;
}

/* A COM_STMT_PREPARE's reply is complete: the backend keeps the statement
 * (with the column definitions the reply carried, for metadata caching)
 * and the session gets its own under the client's id; a refused prepare
 * leaves nothing. */
void bstmt_prepared(struct session *s)
{
    struct cstmt *st = s->cur_stmt;
    if (!st)
        return;
    s->cur_stmt = NULL;
    if (s->resp.error) {
        session_stmt_free(st);
        return;
    }
    st->nparams = s->resp.prep_params;
    st->ncols = s->resp.prep_cols;
    s->cur_stmt = st;
    /* Without room the statement is prepared again on its next execute. */
    (void)bstmt_keep(s);
    s->cur_stmt = NULL;
    if (session_stmt_add(s, st) != 0)
        session_stmt_free(st);
    else
        st->counted_in = errstats_stmt_count(s, st, false);
}
