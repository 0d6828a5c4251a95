/*
 * The texts of proxy/'s error codes (enum proxy_err, errors.h).
 */
#include "proxy/errors.h"

const char *proxy_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case PROXY_ENOMEM:
        return "out of memory";
    case PROXY_EPROTO:
        return "sent a malformed or unexpected response";
    case PROXY_EINFILE:
        return "asked for a local file the client never offered";
    case PROXY_EIO:
        return "I/O error";
    case PROXY_EINVAL:
        return "invalid argument";
    case PROXY_ETOOBIG:
        return "too large";
    default:
        return "unknown proxy error";
    }
}
