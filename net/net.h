/*
 * net: the one small TCP connection layer under every listener of Sluice
 * (client port through proxy/session_tcp.c, admin port, HTTP metrics). It
 * uses libuv and nothing of Sluice but common/; proxy uses it.
 *
 * A struct net_conn is embedded in its owner (a client session, an admin
 * session, an HTTP connection) and belongs to one loop. It holds the socket,
 * the input buffer, at most one write in flight, an optional one-shot timer
 * and the peer's name. The owner is called back through struct net_ops;
 * nothing is called back from inside a net_conn_* call, only from the loop.
 *
 * Life of a connection:
 *
 *   net_conn_init -> net_conn_accept -> net_conn_read_start / write ...
 *       -> net_conn_close (or net_conn_end, closing once the reply is out)
 *       -> ops->closed, once, after every handle is closed: free it there.
 *
 * Thread: the loop's thread only. Like libuv: a function returning int
 * gives 0 or a negative libuv error code (uv_strerror()).
 */
#ifndef SLUICE_NET_H
#define SLUICE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct net_conn;
struct net_listener;

/*
 * The owner's callbacks. c->data is the owner. In data, written and timeout
 * the callee may call any net_conn_* function, net_conn_close included, but
 * must not free the memory holding c: that is for closed.
 */
struct net_ops {
    /* Where the next read goes, for an owner that keeps its own input
     * buffer: *base and *len of free room; -1 when there is none (out of
     * memory), which ends reading with data(c, UV_ENOBUFS). NULL: the layer's
     * own buffer, c->in, up to the bound given to net_conn_read_start. */
    int (*room)(struct net_conn *c, uint8_t **base, size_t *len);
    /* nread > 0: that many bytes were added (at the end of c->in, or where
     * room said). nread < 0: UV_EOF, a socket error, or UV_ENOBUFS when
     * c->in is at its bound (or room failed); reading has stopped. Never 0.
     * Not called once net_conn_end was called: input is dropped then. */
    void (*data)(struct net_conn *c, ssize_t nread);
    /* Optional. The write of net_conn_write is over: status 0, or a negative
     * error (UV_ECANCELED when the connection closed first, in which case
     * closed follows). Its buffers may be reused or freed now. */
    void (*written)(struct net_conn *c, int status);
    /* Optional. The timer of net_conn_timer expired. */
    void (*timeout)(struct net_conn *c);
    /* Every handle is closed and c->in freed; the layer touches c no more,
     * so the owner may free it here. Called exactly once, after
     * net_conn_close (or a close the layer decided, see net_conn_end). */
    void (*closed)(struct net_conn *c);
};

/* The layer's own input buffer: bytes data..data+len, capacity cap. The owner
 * reads it and drops what it handled with net_conn_consume(). */
struct net_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* The owner reads in, peer, peer_ip and writing; the rest is the layer's. */
struct net_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* initialised on first use */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    const struct net_ops *ops;
    void *data; /* the owner's */
    struct net_buf in;
    size_t in_max;
    char peer[64];    /* "ip:port" ("[ip]:port" for IPv6), "?" before accept */
    char peer_ip[48]; /* the address alone, "" before accept */
    int pending_closes;
    bool timer_on;                  /* timer initialised: one more handle to close */
    bool writing;                   /* a net_conn_write in flight */
    bool ending;                    /* net_conn_end: FIN after the write, input dropped */
    bool peer_eof;                  /* the peer closed its side while ending */
    bool closing;                   /* net_conn_close called */
    struct net_listener *listener;  /* accepted through net_listener_accept */
    struct net_conn *lprev, *lnext; /* listener's list */
};

/* Prepares c on loop (no socket yet). ops must outlive c; data is the owner.
 * After this, c ends only through net_conn_close and ops->closed. */
void net_conn_init(struct net_conn *c, uv_loop_t *loop, const struct net_ops *ops, void *data);
/* Accepts a pending connection of listener into c, sets TCP_NODELAY (every
 * owner writes whole replies; Nagle would only delay the last segment) and
 * names the peer. On failure the owner calls net_conn_close. */
int net_conn_accept(struct net_conn *c, uv_stream_t *listener) __attribute__((warn_unused_result));

/* Starts delivering input through ops->data. With the layer's buffer (no
 * ops->room) c->in grows to at most in_max bytes; in_max is ignored with
 * ops->room. Stopping keeps what c->in holds; the peer's bytes wait in the
 * socket. */
int net_conn_read_start(struct net_conn *c, size_t in_max) __attribute__((warn_unused_result));
int net_conn_read_stop(struct net_conn *c);
/* Drops the first n bytes of c->in. */
void net_conn_consume(struct net_conn *c, size_t n);

/* Writes what the peer takes now: bytes written, UV_EAGAIN for none, or
 * another negative error. Not while a write is in flight. */
int net_conn_try_write(struct net_conn *c, const uint8_t *data, size_t len);
/* Writes all of bufs in the background; ops->written fires once when done.
 * One write at a time; the buffers stay valid and unchanged until then. */
int net_conn_write(struct net_conn *c, const uv_buf_t *bufs, unsigned nbufs)
    __attribute__((warn_unused_result));
/* Ends the connection politely (a lingering close, as HTTP servers do): once
 * the write in flight is done (written is still called), our FIN goes out
 * and input is read and dropped until the peer's EOF, then the connection
 * closes. Closing at once could make the kernel answer unread input with a
 * RST that destroys the reply before the peer read it. Bound the wait with
 * net_conn_timer. */
void net_conn_end(struct net_conn *c);

/* Starts (ms > 0) or stops (0) the connection's one-shot timer:
 * ops->timeout fires after ms milliseconds. */
void net_conn_timer(struct net_conn *c, uint64_t ms);

/* Closes the connection: a write in flight ends with UV_ECANCELED, then
 * ops->closed fires once every handle is closed. Safe to call again (a
 * no-op), from any callback but closed. */
void net_conn_close(struct net_conn *c);

/*
 * A listening socket and the connections accepted from it (the admin port,
 * the metrics port; a worker's SO_REUSEPORT socket is its own). Embedded in
 * its owner, which reads conns and nconns. Callbacks, with l->data the
 * owner:
 *   accept(l)  a connection waits: the owner allocates itself and calls
 *              net_listener_accept. Not called once closing.
 *   closed(l)  the socket and every connection of conns are closed (each
 *              connection's own closed came first); the owner may free l.
 */
struct net_listener {
    uv_tcp_t tcp;
    void (*accept)(struct net_listener *l);
    void (*closed)(struct net_listener *l);
    void *data;
    struct net_conn *conns; /* accepted and not yet closed */
    int nconns;
    bool closing;    /* net_listener_close called */
    bool tcp_closed; /* its socket's close callback ran */
};

/* Binds l (initialised here on loop; the caller sets accept, closed and
 * data) to host:port (an IPv4 or IPv6 literal) and listens with backlog. On
 * failure the caller still closes l with net_listener_close. */
int net_listener_open(struct net_listener *l, uv_loop_t *loop, const char *host, int port,
                      int backlog) __attribute__((warn_unused_result));
/* Initialises c on l's loop as net_conn_init does, counts it among l's
 * connections and accepts into it as net_conn_accept does; on failure the
 * owner closes c as usual. */
int net_listener_accept(struct net_listener *l, struct net_conn *c, const struct net_ops *ops,
                        void *data) __attribute__((warn_unused_result));
/* Stops accepting, closes every connection still open (net_conn_close; an
 * owner that must do more first closes its own before) and the socket;
 * closed fires once all are closed, on a later turn of the loop. */
void net_listener_close(struct net_listener *l);

#endif
