# shellcheck shell=bash
# Shared by tests/run.sh and demo.sh (source it; it defines functions only).
#
# sluice_install_packages: make sure the Debian packages needed to build Sluice, run its
# tests and benchmarks and the demo are installed. Installs only when `dpkg -s` reports a
# package missing; as non-root it uses `sudo -n` when available, and otherwise fails with the
# list of missing packages. Succeeds without doing anything when everything is present.

SLUICE_PACKAGES=(
    build-essential pkg-config
    meson ninja-build
    libuv1-dev libmariadb-dev libpcre2-dev libsqlite3-dev libcmocka-dev
    mariadb-server mariadb-client
    python3 python3-pymysql python3-pytest
    sysbench haproxy
    clang-format clang # clang: the libFuzzer targets (tests/fuzz)
    prometheus # for promtool (tests/integration/test_metrics.py); see below for its server
)

sluice_missing_packages() {
    local p
    for p in "${SLUICE_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            echo "$p"
        fi
    done
}

sluice_install_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "install: not a Debian system (no dpkg); assuming dependencies are present" >&2
        return 0
    fi
    local missing
    missing=$(sluice_missing_packages | tr '\n' ' ')
    missing=${missing% }
    if [[ -z "$missing" ]]; then
        return 0
    fi
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "install: missing packages: $missing" >&2
            echo "install: not root and no password-less sudo; install them with:" >&2
            echo "  sudo apt-get install -y $missing" >&2
            return 1
        fi
    fi
    echo "install: installing: $missing" >&2
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends $missing || return 1
    # Only promtool is wanted from the prometheus package, but on a machine run by systemd
    # its postinst enables and starts a Prometheus server on :9090. Stop and disable the
    # service we have just installed (never one that was there before). In containers
    # policy-rc.d already keeps it from starting, and there is no systemd to ask.
    if [[ " $missing " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
        "${sudo[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
}
