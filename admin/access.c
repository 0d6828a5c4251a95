/*
 * Who may reach the admin interface with which credentials: pure checks the
 * admin listener (ops/admin_listener.c) applies at start and at login.
 *
 * As in ProxySQL, the default credentials admin:admin work only from a
 * loopback client; Sluice treats a credential with an empty password the
 * same way. And since an operator who binds admin-mysql_ifaces to another
 * address means to log in from elsewhere, Sluice refuses to start in that
 * case while such a weak credential is configured, rather than expose it.
 */
#include "admin/admin_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* The parsed form of a numeric address; false for names and garbage. */
static bool parse_addr(const char *host, int *family, unsigned char bytes[16])
{
    if (inet_pton(AF_INET, host, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, host, bytes) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static bool is_loopback(int family, const unsigned char *b)
{
    static const unsigned char v6_loopback[16] = {[15] = 1};
    static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};

    if (family == AF_INET)
        return b[0] == 127;
    /* An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d. */
    return memcmp(b, v6_loopback, 16) == 0 || (memcmp(b, v4_mapped, 12) == 0 && b[12] == 127);
}

bool admin_addr_is_loopback(const char *host)
{
    unsigned char bytes[16];
    int family;

    return host && parse_addr(host, &family, bytes) && is_loopback(family, bytes);
}

bool admin_credential_weak(const char *user, const char *password)
{
    return !password || !*password ||
           (strcmp(user, "admin") == 0 && strcmp(password, "admin") == 0);
}

/* The first weak pair of creds ("user:password;..."): its user into
 * user[userlen] and whether its password is empty. */
static bool find_weak(const char *creds, char *user, size_t userlen, bool *empty)
{
    char buf[512];
    char *save = NULL;
    bool found = false;

    snprintf(buf, sizeof(buf), "%s", creds);
    for (char *pair = strtok_r(buf, ";", &save); pair && !found;
         pair = strtok_r(NULL, ";", &save)) {
        char *colon = strchr(pair, ':');

        if (!colon)
            continue;
        *colon = '\0';
        if (admin_credential_weak(pair, colon + 1)) {
            snprintf(user, userlen, "%s", pair);
            *empty = colon[1] == '\0';
            found = true;
        }
    }
    /* The copy holds passwords. */
    memset(buf, 0, sizeof(buf));
    return found;
}

/* The first entry of ifaces ("host:port;...") bound to a numeric address
 * that is not loopback, copied into out. Entries that do not parse or name
 * a host are skipped: they cannot be bound, and the listener says so. */
static bool find_exposed(const char *ifaces, char *out, size_t outlen)
{
    const char *p = ifaces;

    for (;;) {
        const char *sep = strchr(p, ';');
        size_t n = sep ? (size_t)(sep - p) : strlen(p);
        char item[300], host[256];
        unsigned char bytes[16];
        int port, family;

        if (n < sizeof(item)) {
            memcpy(item, p, n);
            item[n] = '\0';
            if (admin_parse_hostport(item, host, sizeof(host), &port) == 0 &&
                parse_addr(host, &family, bytes) && !is_loopback(family, bytes)) {
                snprintf(out, outlen, "%s", item);
                return true;
            }
        }
        if (!sep)
            return false;
        p = sep + 1;
    }
}

int admin_check_exposure(const char *ifaces, const char *creds, char *errbuf, size_t errlen)
{
    char iface[300], user[128];
    bool empty = false;

    if (!ifaces || !creds || !find_exposed(ifaces, iface, sizeof(iface)) ||
        !find_weak(creds, user, sizeof(user), &empty))
        return 0;
    admin_set_error(errbuf, errlen,
                    "refusing to start: admin-mysql_ifaces '%s' is not a loopback address and "
                    "admin-admin_credentials gives admin user '%.64s' %s; set "
                    "admin-admin_credentials to user:password pairs with strong passwords, or "
                    "admin-mysql_ifaces to 127.0.0.1:<port>",
                    iface, user, empty ? "an empty password" : "the default password");
    return ADMIN_EINVAL;
}
