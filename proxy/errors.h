/*
 * The error codes of proxy/ (the wire codec has its own, codec.h). Its own
 * header so that the files kept apart from proxy_int.h (killq.c, qcache.c)
 * can use them too.
 */
#ifndef SLUICE_PROXY_ERRORS_H
#define SLUICE_PROXY_ERRORS_H

/* What a fallible function of proxy/ returns: 0 on success (or a count or
 * state its comment documents), or one of these. The wire codec has its own
 * CODEC_E* (codec.h). */
enum proxy_err {
    PROXY_ENOMEM = -1,  /* allocation failed */
    PROXY_EPROTO = -2,  /* a backend's reply breaks the protocol: malformed,
                         * out of sequence or not what the command expects */
    PROXY_EINFILE = -3, /* a backend asked for a local file the client did not offer */
    PROXY_EIO = -4,     /* a socket or libuv call failed */
    PROXY_EINVAL = -5,  /* a malformed argument (a variable name with a NUL,
                         * a server name without a port) */
    PROXY_ETOOBIG = -6, /* more than the bound allows (a query cache entry) */
};

/* A static description of err (0, a PROXY_E* code) that reads after
 * "backend host:port"; "unknown proxy error" for any other value. Never
 * NULL. */
const char *proxy_strerror(int err);

#endif
