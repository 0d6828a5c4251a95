/*
 * The response parser: walks a backend's reply to one command, packet by
 * packet, and writes what the client must see into the session's `out`
 * buffer (the sink). Module-private to proxy/ and its unit tests and fuzz
 * target, which drive it with a session and backend built in memory: no
 * socket, no pool.
 *
 * States (enum resp_state, in proxy_int.h) and what each expects:
 *
 *   RS_FIRST      OK, ERR, EOF (simple commands), LOCAL INFILE request,
 *                 prepare OK, or a column count (then RS_COLS)
 *   RS_COLS       column definitions until ncols_left reaches 0
 *   RS_COLS_EOF   the EOF after them (then RS_ROWS, or RS_DONE on a cursor)
 *   RS_META_EOF   after definitions replayed from the statement cache: an
 *                 EOF, or the first row when the server left the EOF out
 *   RS_ROWS       rows until EOF (RS_FIRST again with MORE_RESULTS) or ERR
 *   RS_PARAMS, RS_PARAMS_EOF, RS_PCOLS, RS_PCOLS_EOF
 *                 a prepare reply's parameter and column definitions
 *   RS_FIELDS     COM_FIELD_LIST definitions until EOF
 *   RS_INFILE     the client is sending a file; the parser waits
 *   RS_DONE       the reply is complete
 *
 * Rows and definitions that need no rewriting stream through as they
 * arrive (a 16 MiB row included); the packets whose content matters are
 * handled whole. Sequence ids are renumbered where packets are dropped or
 * added (CLIENT_DEPRECATE_EOF, metadata caching), and the backend's own
 * numbering is checked: a reply out of order is a protocol error.
 */
#ifndef SLUICE_PROXY_RESPONSE_H
#define SLUICE_PROXY_RESPONSE_H

#include "proxy/proxy_int.h"

/* MariaDB extended capabilities, as pool_conn_ext_caps() reports them. */
#define MARIADB_EXT_EXTENDED_METADATA (1u << 3)
#define MARIADB_EXT_CACHE_METADATA (1u << 4)

/* Prepares s->resp for the reply to a command of this kind. swallow: an
 * internal command whose reply the client never sees. Clears s->meta. */
void response_start(struct session *s, enum resp_kind kind, bool swallow,
                    const struct resp_peer *peer);

/* Notes that data (whole packets, as sent to the backend) was sent: the
 * reply continues the numbering of its last packet. */
void response_expect_reply(struct resp *r, const uint8_t *data, size_t len);

/* Walks s->be->rbuf from s->be->rpos, appending to s->out and updating the
 * session and backend state that OK packets track. Returns 1 when the reply
 * is complete, 0 when more bytes are needed (or RS_INFILE waits for the
 * client), or a negative code after which the connection is unusable:
 * PROXY_EPROTO (malformed, out of sequence or not what the command
 * expects), PROXY_EINFILE (a LOCAL INFILE request the client never
 * offered a file for), PROXY_ENOMEM. Logs nothing: the caller does. */
int response_parse(struct session *s) __attribute__((warn_unused_result));

/* The client's LOAD DATA LOCAL file went to the backend, empty packet and
 * all: the server's answer to the statement comes next (RS_INFILE ends). */
void response_file_sent(struct resp *r);

#endif
