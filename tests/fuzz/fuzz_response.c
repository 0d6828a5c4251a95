/*
 * libFuzzer target for the backend response parser (proxy/response.c,
 * through its module-private response.h): result sets, OK with session
 * tracking, ERR, EOF, prepare replies, MariaDB extended and cached metadata,
 * LOCAL INFILE, packets streamed across reads.
 *
 * How, without sockets: a struct session and struct backend built in
 * memory, the backend's capabilities given to response_start(). The input's
 * bytes go into be->rbuf the way the relay puts what recv() returned there,
 * chunk by chunk, and response_parse() runs after each chunk.
 *
 * Input: three header bytes, then what the backend sends.
 *   byte 0  the command's response kind (enum resp_kind, modulo RESP_NONE)
 *   byte 1  bit 0 client has CLIENT_DEPRECATE_EOF, 1 internal command
 *           (swallowed), 2 backend sends extended metadata, 3 backend caches
 *           metadata, 4 capture the first column of a row, 5 backend has
 *           CLIENT_SESSION_TRACK, 6 the executed statement has cached column
 *           definitions, 7 ... two of them
 *   byte 2  bytes per read (0: everything at once)
 *
 * Checks: the parser never reads or writes out of bounds (ASan); rpos never
 * passes the bytes read; a swallowed response sends the client nothing;
 * once the response is complete, what the client got is whole packets.
 */
#include "proxy/proxy_int.h"
#include "proxy/response.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define HEADER_LEN 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The statement whose COLLATE clause a SET NAMES reply is read against. */
static const char query[] = "SET NAMES latin1 COLLATE latin1_bin";

static const uint8_t command_of[] = {
    [RESP_QUERY] = CODEC_COM_QUERY,           [RESP_EXECUTE] = CODEC_COM_STMT_EXECUTE,
    [RESP_FETCH] = CODEC_COM_STMT_FETCH,      [RESP_PREPARE] = CODEC_COM_STMT_PREPARE,
    [RESP_FIELD_LIST] = CODEC_COM_FIELD_LIST, [RESP_SIMPLE] = CODEC_COM_INIT_DB,
    [RESP_ANY_ONE] = CODEC_COM_STATISTICS,
};

/* be->rbuf's memory, kept from one input to the next: a fresh 64 KiB
 * buffer per input goes through ASan's mmap allocator and costs 95% of the
 * time. A pooled connection keeps its buffer across commands too. */
static struct codec_buf rbuf;

struct fz {
    struct session s;
    struct cstmt stmt;
    struct bstmt bstmt;
};

/* Column definitions and their EOF, as a prepare leaves them in a bstmt. */
static void fz_coldefs(struct codec_buf *b, unsigned ncols)
{
    static const uint8_t def[] = {3,  'd', 'e', 'f', 0, 0, 0, 1, 'c', 1, 'c', 0x0c,
                                  45, 0,   0,   4,   0, 0, 3, 0, 0,   0, 0,   0};
    static const uint8_t eof[] = {0xfe, 0, 0, 2, 0};

    for (unsigned i = 0; i < ncols; i++) {
        size_t off = codec_buf_packet_begin(b, (uint8_t)(2 + i));
        CHECK(off != SIZE_MAX && codec_buf_append(b, def, sizeof(def)) == 0);
        codec_buf_packet_end(b, off);
    }
    size_t off = codec_buf_packet_begin(b, (uint8_t)(2 + ncols));
    CHECK(off != SIZE_MAX && codec_buf_append(b, eof, sizeof(eof)) == 0);
    codec_buf_packet_end(b, off);
}

static void fz_setup(struct fz *f, enum resp_kind kind, uint8_t flags)
{
    struct session *s = &f->s;
    uint8_t hdr[5];

    const struct resp_peer peer = {
        .caps = CLIENT_PROTOCOL_41_F | ((flags & 0x20) ? CLIENT_SESSION_TRACK_F : 0),
        .ext_caps = ((flags & 0x04) ? MARIADB_EXT_EXTENDED_METADATA : 0) |
                    ((flags & 0x08) ? MARIADB_EXT_CACHE_METADATA : 0),
        .hostgroup = 1,
    };
    s->be = backend_new();
    CHECK(s->be != NULL);
    s->be->rbuf = rbuf;
    codec_buf_reset(&s->be->rbuf);
    s->caps = CLIENT_PROTOCOL_41_F | ((flags & 0x01) ? CLIENT_DEPRECATE_EOF_F : 0);
    s->cmd = command_of[kind];
    /* The command as the client sent it (collate_clause() reads it). */
    codec_header_write(hdr, (uint32_t)sizeof(query), 0);
    hdr[4] = s->cmd;
    CHECK(codec_buf_append(&s->in, hdr, sizeof(hdr)) == 0 &&
          codec_buf_append(&s->in, query, sizeof(query) - 1) == 0);
    s->cmd_len = s->in.len;
    f->stmt.id = 77;
    s->cur_stmt = &f->stmt;
    if (flags & 0x40) {
        f->bstmt.ncols = (flags & 0x80) ? 2 : 1;
        fz_coldefs(&f->bstmt.coldefs, f->bstmt.ncols);
        s->cur_bstmt = &f->bstmt;
    }
    response_start(s, kind, flags & 0x02, &peer);
    s->resp.capture_row = flags & 0x10;
}

static void fz_teardown(struct fz *f)
{
    struct session *s = &f->s;

    codec_buf_free(&s->in);
    codec_buf_free(&s->out);
    codec_buf_free(&s->meta);
    varset_free(&s->vars);
    codec_buf_free(&f->bstmt.coldefs);
    rbuf = s->be->rbuf;
    codec_buf_init(&s->be->rbuf);
    backend_free(s->be);
}

/* Appends up to n bytes as one recv() into rbuf, as read_backend() does. */
static size_t fz_read(struct backend *be, const uint8_t *p, size_t n)
{
    CHECK(backend_rbuf_room(be) == 0);
    if (n > be->rbuf.cap - be->rbuf.len)
        n = be->rbuf.cap - be->rbuf.len;
    memcpy(be->rbuf.data + be->rbuf.len, p, n);
    be->rbuf.len += n;
    return n;
}

/* What the client received is whole packets. */
static void fz_check_framing(const struct codec_buf *out)
{
    size_t pos = 0;

    while (pos < out->len) {
        long span = codec_message_span(out->data + pos, out->len - pos, NULL);

        CHECK(span > 0);
        pos += (size_t)span;
    }
}

/* Feeds the backend's bytes; returns response_parse()'s last answer. */
static int fz_feed(struct session *s, const uint8_t *p, size_t n, size_t chunk)
{
    int rc = 0;

    while (n > 0) {
        size_t got = fz_read(s->be, p, chunk && chunk < n ? chunk : n);

        p += got;
        n -= got;
        rc = response_parse(s);
        CHECK(s->be->rpos <= s->be->rbuf.len);
        if (rc != 0 && s->resp.st != RS_INFILE)
            break;
        if (s->resp.st == RS_INFILE) {
            /* The client's file went up and ended with its empty packet:
             * backend_forward_infile() then waits for the server's reply. */
            response_file_sent(&s->resp);
            rc = 0;
        }
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {0};
    int rc;

    if (size < HEADER_LEN)
        return 0;
    fz_setup(&f, (enum resp_kind)(data[0] % RESP_NONE), data[1]);
    rc = fz_feed(&f.s, data + HEADER_LEN, size - HEADER_LEN, data[2]);
    if (f.s.resp.swallow)
        CHECK(f.s.out.len == 0);
    if (rc == 1)
        fz_check_framing(&f.s.out);
    fz_teardown(&f);
    return 0;
}
