/*
 * A server's refusal of a message it would not read whole. MariaDB reads a
 * statement over its max_allowed_packet only up to the packet that crosses
 * the limit, answers ERR 1153 (SQLSTATE 08S01) numbered after that packet,
 * and closes the connection while the proxy may still be writing the rest.
 * The proxy then sees a failed write or an ERR numbered before the end of
 * the message. Either way the server's ERR is the answer the client must
 * get, numbered after the client's whole message (the client sent all of
 * it to the proxy, which read it whole before forwarding), and the session
 * ends with the connection, as a direct one does.
 */
#include "proxy/proxy_int.h"

#include <string.h>
#include <sys/socket.h>

uint8_t session_reply_seq(const struct session *s)
{
    /* The client numbers a 16 MiB+ message's packets 0, 1, ...: the reply
     * follows its last one. */
    uint8_t seq = 0;
    size_t pos = 0;
    while (pos + 4 <= s->cmd_len && pos + 4 <= s->in.len) {
        seq = s->in.data[pos + 3];
        pos += 4u + codec_u24(s->in.data + pos);
    }
    return (uint8_t)(seq + 1);
}

/* Reads what the server sent before it closed: after a failed write the
 * socket gives its last bytes until the reset is reported. */
static void drain_socket(struct session *s)
{
    struct backend *be = s->be;
    for (int i = 0; i < 16; i++) {
        if (backend_rbuf_room(be) != 0)
            return;
        ssize_t n = recv(pool_conn_fd(s->conn), be->rbuf.data + be->rbuf.len,
                         be->rbuf.cap - be->rbuf.len, MSG_DONTWAIT);
        if (n <= 0)
            return;
        be->rbuf.len += (size_t)n;
    }
}

bool backend_take_refusal(struct session *s)
{
    if (s->state != SS_BACKEND || !s->conn || !s->be || s->resp.sent_any || s->resp.swallow ||
        s->step != BS_FORWARD)
        return false;
    drain_socket(s);
    struct backend *be = s->be;
    size_t avail = be->rbuf.len - be->rpos;
    const uint8_t *p = be->rbuf.data + be->rpos;
    if (avail < 5 || p[4] != 0xff)
        return false;
    uint32_t plen = codec_u24(p);
    if (avail < plen + 4u)
        return false;
    uint8_t hdr[4];
    codec_header_write(hdr, plen, session_reply_seq(s));
    if (codec_buf_append(&s->out, hdr, 4) != 0 || codec_buf_append(&s->out, p + 4, plen) != 0)
        return false;
    be->rpos += plen + 4u;
    s->resp.error = true;
    s->resp.errcode = plen >= 3 ? (uint16_t)(p[5] | p[6] << 8) : 0;
    slog_info(s, "backend %s refused the statement with error %u; closing as it did",
              pool_conn_server_name(s->conn), (unsigned)s->resp.errcode);
    return true;
}
