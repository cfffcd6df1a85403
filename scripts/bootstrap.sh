#!/usr/bin/env bash
# Prepare this machine for firmtext: Python venv, Java + Maven + the Kafka jars,
# PostgreSQL server binaries, kcat. Idempotent and silent when nothing is to do;
# installs Debian packages only when run as root. Honours FIRMTEXT_VAR_DIR (where
# the Kafka jars go) and skips what FIRMTEXT_KAFKA_BOOTSTRAP / FIRMTEXT_DATABASE_URL
# make unnecessary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "bootstrap: $*"; }
die() { echo "bootstrap: $*" >&2; exit 1; }

apt_updated=""
# apt_install WHAT PACKAGES...: install Debian packages, or explain what is missing.
apt_install() {
  local what=$1; shift
  [ "$(id -u)" = 0 ] || die "$what is missing; install it (apt-get install $*) or run this script as root."
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed, so $what cannot be installed."
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >/dev/null \
    || die "apt-get install $* failed, so $what is still missing."
}

# --- Python 3.11+ and the virtualenv ------------------------------------------
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || die "python3 is not installed; firmtext needs Python 3.11 to 3.13."
"$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' \
  || die "firmtext needs Python 3.11 to 3.13, but $python is $("$python" -V 2>&1)."
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv || die "could not create .venv (on Debian: apt-get install python3-venv)."
fi
# Reinstall only when pyproject.toml changed since the last successful install.
stamp=.venv/.firmtext-pyproject.sha256
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  say "installing Python packages (pyproject.toml changed)"
  # Build-backend warnings would drown the one line that matters: log, show on failure.
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' \
      > .venv/pip-install.log 2>&1; then
    tail -n 30 .venv/pip-install.log >&2
    die "pip install -e '.[test]' failed; the full output is in .venv/pip-install.log."
  fi
  echo "$wanted" > "$stamp"
fi

# --- Java 17+ and Maven (the local Kafka) ---------------------------------------
java_major() {  # prints the major version of the java given, 0 if unusable
  "$1" -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == 1 ? v[2] : v[1]); exit }' || echo 0
}
if [ -z "${FIRMTEXT_KAFKA_BOOTSTRAP:-}" ]; then
  java_ok=""
  for candidate in "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    if [ -x "$candidate" ] && [ "$(java_major "$candidate")" -ge 17 ] 2>/dev/null; then java_ok=1; break; fi
  done
  missing=()
  [ -n "$java_ok" ] || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] || apt_install "Java 17 and Maven (to run Kafka)" "${missing[@]}"
  .venv/bin/firmtext infra fetch || die "the Kafka jars could not be fetched (Maven Central)."
fi

# --- PostgreSQL server binaries -----------------------------------------------
if [ -z "${FIRMTEXT_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # firmtext runs its own cluster under var/; keep Debian from creating and
  # starting a system-wide one on port 5432.
  if [ "$(id -u)" = 0 ] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  apt_install "PostgreSQL" postgresql
fi

# --- kcat (the tests read Kafka with it) ------------------------------------------
if ! command -v kcat >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt_install "kcat" kcat
  else
    say "kcat is missing (apt-get install kcat); tests that read Kafka with it will fail." >&2
  fi
fi

# --- Chromium (tests/browser drive the web inbox in it, through Playwright) ----------
# Playwright's own browser downloads are never used: Debian's chromium is the browser.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt_install "Chromium (for the browser tests)" chromium
  else
    say "chromium is missing (apt-get install chromium); the browser tests will fail." >&2
  fi
fi
