# shellcheck shell=bash
# Shared functions for scripts/run and scripts/test. Source it from the repository root:
#
#     cd "$(dirname "$0")/.." && source scripts/lib.sh
#
# Safe under `set -euo pipefail`. Every function logs to stderr with a "[maatwerk]" prefix and
# either succeeds or exits with a message that says what to do.

log() { printf '[maatwerk] %s\n' "$*" >&2; }
warn() { printf '[maatwerk] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[maatwerk] ERROR: %s\n' "$*" >&2
    exit 1
}

_is_root() { [ "$(id -u)" -eq 0 ]; }
_have() { command -v "$1" >/dev/null 2>&1; }

# _apt_install PKG...: install Debian packages, non-interactively (root only).
_apt_updated=0
_apt_install() {
    if [ "$_apt_updated" -eq 0 ]; then
        log "apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        _apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 </dev/null \
        || die "apt-get install $* failed"
}

# ---------------------------------------------------------------------------------------------
# Python and the virtual environment
# ---------------------------------------------------------------------------------------------

# _py: the python3 on PATH that is used for helpers (socket probes, URL parsing).
_py() {
    local py="${MAATWERK_PYTHON:-python3}"
    _have "$py" || die "python3 not found: install Python >= 3.11 (Debian: apt-get install python3)"
    "$py" "$@"
}

# find_python: print a Python >= 3.11 interpreter (MAATWERK_PYTHON, python3, python3.1x).
find_python() {
    local candidate
    for candidate in ${MAATWERK_PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if _have "$candidate" \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# ensure_venv: .venv in the repository root with `pip install -e '.[dev]'`; the install is
# repeated only when pyproject.toml is newer than .venv/.installed-stamp.
ensure_venv() {
    local venv=.venv stamp=.venv/.installed-stamp py
    [ -f pyproject.toml ] || die "ensure_venv must run in the repository root (no pyproject.toml in $PWD)"

    if [ -e "$venv" ] && ! "$venv/bin/python" -c \
        'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        log "$venv is broken or older than Python 3.11: recreating it"
        rm -rf "$venv"
    fi

    if [ ! -e "$venv" ]; then
        py="$(find_python)" || die "Python >= 3.11 is required but not found on PATH" \
            "(found: $(python3 --version 2>&1 || echo none)). Install it (Debian 12: apt-get" \
            "install python3 python3-venv) or set MAATWERK_PYTHON=/path/to/python3.11."
        if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
            if _is_root && _have apt-get && [ "${py#/usr/bin/}" != "$py" ]; then
                log "$py has no working venv module: installing python3-venv"
                _apt_install python3-venv
            else
                die "$py cannot create virtual environments (module venv/ensurepip missing)." \
                    "On Debian/Ubuntu: sudo apt-get install python3-venv"
            fi
        fi
        log "creating $venv with $py ($("$py" --version 2>&1))"
        "$py" -m venv "$venv" || die "could not create $venv with $py"
    fi

    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        log "installing maatwerk-hub and its dev tools into $venv (pip install -e '.[dev]')"
        # pip's and setuptools' chatter goes to a log; it is shown only when the install fails.
        if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' \
            >"$venv/pip-install.log" 2>&1 </dev/null; then
            tail -n 40 "$venv/pip-install.log" >&2
            die "pip install -e '.[dev]' failed: see the output above and $venv/pip-install.log"
        fi
        touch "$stamp"
    fi
}

# ---------------------------------------------------------------------------------------------
# Network helpers
# ---------------------------------------------------------------------------------------------

# port_open HOST PORT [PROTO]: true when HOST:PORT accepts a TCP connection within 2 s and, for
# PROTO amqp or postgres, answers like that server does. (A bare connect is not proof: a proxy or
# firewall may accept connections for hosts that are not there.)
port_open() {
    _py - "$1" "$2" "${3:-tcp}" <<'PY'
import socket, sys
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(3)
        if proto == "amqp":  # protocol header -> Connection.Start frame (or "AMQP" + version)
            s.sendall(b"AMQP\x00\x00\x09\x01")
            sys.exit(0 if s.recv(1) in (b"\x01", b"A") else 1)
        if proto == "postgres":  # SSLRequest -> "S" or "N"
            s.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
            sys.exit(0 if s.recv(1) in (b"S", b"N") else 1)
except OSError:
    sys.exit(1)
PY
}

# wait_port HOST PORT SECONDS [PROTO]: poll until HOST:PORT answers; false on timeout.
wait_port() {
    local host="$1" port="$2" deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        port_open "$host" "$port" "${4:-tcp}" && return 0
        sleep 1
    done
    port_open "$host" "$port" "${4:-tcp}"
}

# url_host_port URL DEFAULT_PORT: print "HOST PORT" of URL.
url_host_port() {
    _py - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or int(sys.argv[2]))
PY
}

_is_local_host() {
    case "$1" in 127.0.0.1 | localhost | ::1 | 0.0.0.0) return 0 ;; *) return 1 ;; esac
}

# http_ok URL [USER PASSWORD]: true when URL answers 2xx within 3 s.
http_ok() {
    _py - "$@" <<'PY'
import base64, sys, urllib.request
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 3:
    token = base64.b64encode(f"{sys.argv[2]}:{sys.argv[3]}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
try:
    with urllib.request.urlopen(req, timeout=3) as resp:
        sys.exit(0 if 200 <= resp.status < 300 else 1)
except Exception:
    sys.exit(1)
PY
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ
# ---------------------------------------------------------------------------------------------

_start_local_rabbitmq() {
    log "starting RabbitMQ: rabbitmq-server -detached"
    # Detached: the node must not hold our stdout/stderr open (CI waits for them to close).
    rabbitmq-server -detached >/dev/null 2>&1 </dev/null || true
    if ! wait_port 127.0.0.1 5672 60 amqp; then
        die "RabbitMQ did not answer on 127.0.0.1:5672 within 60 s;" \
            "see /var/log/rabbitmq/ and try: rabbitmq-server -detached"
    fi
    if _have rabbitmqctl; then
        timeout 60 rabbitmqctl -q await_startup >/dev/null 2>&1 \
            || warn "rabbitmqctl await_startup did not confirm the node (continuing: port is open)"
    fi
    log "RabbitMQ is up on 127.0.0.1:5672"
}

_ensure_management_plugin() {
    _have rabbitmq-plugins || return 0
    if ! rabbitmq-plugins -q list -e -m 2>/dev/null | grep -qx 'rabbitmq_management'; then
        log "enabling the RabbitMQ management plugin (rabbitmq-plugins enable rabbitmq_management)"
        rabbitmq-plugins -q enable rabbitmq_management >/dev/null 2>&1 </dev/null \
            || die "rabbitmq-plugins enable rabbitmq_management failed"
    fi
    local url=http://127.0.0.1:15672/api/overview deadline=$((SECONDS + 60))
    until http_ok "$url" guest guest; do
        [ "$SECONDS" -lt "$deadline" ] \
            || die "RabbitMQ management API $url did not answer within 60 s (guest/guest)"
        sleep 1
    done
}

# ensure_rabbitmq: a broker that answers at AMQP_URL (or 127.0.0.1:5672, started or installed
# if needed), with the management plugin when local. Exports MAATWERK_MANAGEMENT_URL.
ensure_rabbitmq() {
    local host=127.0.0.1 port=5672 hp local_broker=1 proto=amqp
    if [ -n "${AMQP_URL:-}" ]; then
        case "$AMQP_URL" in
            amqps:*) hp="$(url_host_port "$AMQP_URL" 5671)" proto=tcp ;; # TLS: connect only
            *) hp="$(url_host_port "$AMQP_URL" 5672)" ;;
        esac
        host="${hp% *}" port="${hp#* }"
        if ! _is_local_host "$host" || [ "$port" != 5672 ]; then
            local_broker=0
        fi
        if port_open "$host" "$port" "$proto"; then
            log "RabbitMQ answers at $host:$port (AMQP_URL)"
        elif [ "$local_broker" -eq 0 ]; then
            die "AMQP_URL points at $host:$port but nothing answers there." \
                "Start that broker, or unset AMQP_URL to use a local RabbitMQ on 127.0.0.1:5672."
        fi
    fi

    if [ "$local_broker" -eq 1 ]; then
        if port_open 127.0.0.1 5672 amqp; then
            [ -n "${AMQP_URL:-}" ] || log "RabbitMQ answers on 127.0.0.1:5672"
        elif _have rabbitmq-server; then
            _start_local_rabbitmq
        elif _is_root && _have apt-get; then
            log "RabbitMQ is not installed: installing it from Debian's packages"
            _apt_install rabbitmq-server
            if port_open 127.0.0.1 5672 amqp; then
                log "RabbitMQ answers on 127.0.0.1:5672 (started by its package)"
            else
                _start_local_rabbitmq
            fi
        else
            die "no RabbitMQ on 127.0.0.1:5672 and rabbitmq-server is not installed." \
                "Install it (Debian: sudo apt-get install rabbitmq-server; then" \
                "sudo rabbitmq-server -detached), or set AMQP_URL to a running broker."
        fi
        _ensure_management_plugin
    fi
    export MAATWERK_MANAGEMENT_URL="${MAATWERK_MANAGEMENT_URL:-http://guest:guest@127.0.0.1:15672}"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL (optional: its tests are skipped when it is unavailable)
# ---------------------------------------------------------------------------------------------

_pg_cluster() {
    # "VERSION NAME" of the first local cluster, or nothing.
    if _have pg_lsclusters; then
        pg_lsclusters -h 2>/dev/null | awk 'NR == 1 { print $1, $2 }'
    elif [ -d /etc/postgresql ]; then
        printf '%s main\n' "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
    fi
}

_start_local_postgres() {
    local cluster
    cluster="$(_pg_cluster)"
    [ -n "$cluster" ] || { warn "no PostgreSQL cluster found under /etc/postgresql"; return 1; }
    log "starting PostgreSQL: pg_ctlcluster --skip-systemctl-redirect $cluster start"
    # shellcheck disable=SC2086 # "VERSION NAME" splits into two arguments on purpose
    pg_ctlcluster --skip-systemctl-redirect $cluster start >/dev/null 2>&1 </dev/null || true
    wait_port 127.0.0.1 5432 30 postgres
}

_pg_connects() {
    _have psql || return 0 # cannot check: assume the tests will tell
    PGCONNECT_TIMEOUT=5 psql "$1" -XtAqc 'select 1' >/dev/null 2>&1 </dev/null
}

# _pg_fix_local: on a throwaway root machine, create database "test" and allow trust
# connections from 127.0.0.1 and ::1 so that postgresql://postgres@127.0.0.1:5432/test works.
_pg_fix_local() {
    local cluster hba
    _is_root && _have su && _have psql || return 1
    if ! su postgres -c "psql -XtAqc \"select 1 from pg_database where datname = 'test'\"" \
        </dev/null 2>/dev/null | grep -q 1; then
        log "creating PostgreSQL database test (su postgres -c 'createdb test')"
        su postgres -c "createdb test" </dev/null >&2 || return 1
    fi
    _pg_connects "$1" && return 0
    cluster="$(_pg_cluster)"
    hba="/etc/postgresql/${cluster% *}/${cluster#* }/pg_hba.conf"
    [ -n "$cluster" ] && [ -f "$hba" ] || return 1
    log "THROWAWAY DEV MACHINE: setting 'trust' auth for host 127.0.0.1/32 and ::1/128 in $hba"
    sed -i -E 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)[^[:space:]]+#\1trust#' "$hba"
    grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" \
        || printf 'host    all             all             127.0.0.1/32            trust\n' >>"$hba"
    grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+::1/128[[:space:]]+trust' "$hba" \
        || printf 'host    all             all             ::1/128                 trust\n' >>"$hba"
    # shellcheck disable=SC2086
    pg_ctlcluster --skip-systemctl-redirect $cluster reload >/dev/null 2>&1 </dev/null || true
    sleep 1
    _pg_connects "$1"
}

_pg_unavailable() {
    warn "PostgreSQL is not available: $*"
    warn "tests marked 'postgres' will be SKIPPED (set MAATWERK_TEST_PG_URL to a reachable database)."
    unset MAATWERK_TEST_PG_URL
    return 0
}

# ensure_postgres: export MAATWERK_TEST_PG_URL for a reachable PostgreSQL, starting or installing
# a local one if needed. Never fails: without PostgreSQL it warns and unsets the variable.
ensure_postgres() {
    local default_url=postgresql://postgres@127.0.0.1:5432/test hp
    if [ -n "${MAATWERK_TEST_PG_URL:-}" ]; then
        hp="$(url_host_port "$MAATWERK_TEST_PG_URL" 5432)"
        if port_open "${hp% *}" "${hp#* }" postgres; then
            log "PostgreSQL answers at ${hp% *}:${hp#* } (MAATWERK_TEST_PG_URL)"
            export MAATWERK_TEST_PG_URL
            return 0
        fi
        warn "MAATWERK_TEST_PG_URL points at ${hp% *}:${hp#* } but nothing answers; trying local"
    fi

    if port_open 127.0.0.1 5432 postgres; then
        log "PostgreSQL answers on 127.0.0.1:5432"
    elif _have pg_ctlcluster; then
        _start_local_postgres || { _pg_unavailable "the local cluster did not start"; return 0; }
        log "PostgreSQL is up on 127.0.0.1:5432"
    elif _is_root && _have apt-get; then
        log "PostgreSQL is not installed: installing it from Debian's packages"
        (_apt_install postgresql) || { _pg_unavailable "apt-get install postgresql failed"; return 0; }
        port_open 127.0.0.1 5432 postgres || _start_local_postgres \
            || { _pg_unavailable "the new cluster did not start"; return 0; }
        log "PostgreSQL is up on 127.0.0.1:5432"
    else
        _pg_unavailable "nothing on 127.0.0.1:5432 and not root, so not installing it" \
            "(Debian: sudo apt-get install postgresql)"
        return 0
    fi

    if ! _pg_connects "$default_url" && ! _pg_fix_local "$default_url"; then
        _pg_unavailable "cannot connect to $default_url"
        return 0
    fi
    export MAATWERK_TEST_PG_URL="$default_url"
}

# ---------------------------------------------------------------------------------------------
# Chromium (optional: the console's browser test is skipped without it)
# ---------------------------------------------------------------------------------------------

# ensure_chromium: Debian's chromium for the headless browser test (Playwright drives it with
# executable_path; no browser is downloaded). Installs it as root with apt-get; never fails.
ensure_chromium() {
    if _have chromium || [ -x /usr/bin/chromium ]; then
        return 0
    fi
    if _is_root && _have apt-get; then
        log "chromium is not installed: installing it from Debian's packages (browser test)"
        (_apt_install chromium) || warn "apt-get install chromium failed: the browser test will be SKIPPED"
    else
        warn "chromium is not installed and not root: the console's browser test will be SKIPPED" \
            "(Debian: sudo apt-get install chromium)"
    fi
    return 0
}

# ensure_promtool: Debian's prometheus (promtool) and prometheus-alertmanager (amtool), to check
# and unit-test compose/prometheus/alerts.yml and the Alertmanager example. Installs them as root
# with apt-get (no server is started); never fails: without them the alert checks are SKIPPED.
ensure_promtool() {
    local missing=()
    _have promtool || missing+=(prometheus)
    _have amtool || missing+=(prometheus-alertmanager)
    [ "${#missing[@]}" -eq 0 ] && return 0
    if _is_root && _have apt-get; then
        log "installing ${missing[*]} from Debian's packages (promtool, amtool: the alert checks)"
        (_apt_install --no-install-recommends "${missing[@]}") \
            || warn "apt-get install ${missing[*]} failed: the alert rule checks will be SKIPPED"
    else
        warn "promtool/amtool are not installed and not root: the alert rule checks will be" \
            "SKIPPED (Debian: sudo apt-get install prometheus prometheus-alertmanager)"
    fi
    return 0
}
