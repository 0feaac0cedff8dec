#!/usr/bin/env bash
# fim-tray's two commands for a fresh machine:
#   ./dev.sh run [ARGS]   set up (once) and start fim-tray (the tray; ARGS go to the fim-tray command)
#   ./dev.sh test [ARGS]  set up (once) and run every check: ruff, mypy, import-linter and the tests
# Both create ./.venv and install what they need, system packages included on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD
VENV=$ROOT/.venv

say() { printf 'fim-tray: %s\n' "$*" >&2; }

# System packages: the tray's Linux backend (PyGObject + AppIndicator) and, for the tests, the
# real test desktop (Xvfb, a private D-Bus bus, dunst, a tray host, a folder chooser) and a
# real syslog server (rsyslog, with TLS, started privately on loopback by the alert tests).
APP_DEBS=(python3 python3-venv python3-tk python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 zenity)
TEST_DEBS=(xvfb x11-utils xdotool dbus dbus-x11 dunst libnotify-bin trayer imagemagick python3-tk desktop-file-utils appstream acl attr libcap2-bin strace rsyslog rsyslog-gnutls)

install_debs() {
  [[ "$(uname -s)" == Linux ]] && command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || {
    say "not a Debian-like system: install the equivalents of these yourself if missing: $*"
    return 0
  }
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { say "please install as root: apt-get install ${missing[*]}"; return 1; }
    sudo=(sudo)
  fi
  say "installing system packages: ${missing[*]}"
  # Wait for another apt/dpkg run (an unattended upgrade, a parallel job) instead of failing.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
  # On Linux the distribution's Python sees the distribution's PyGObject (python3-gi), which
  # pystray's AppIndicator backend needs; a venv with --system-site-packages keeps it visible.
  if [[ "$(uname -s)" == Linux && -x /usr/bin/python3 ]]; then echo /usr/bin/python3; return; fi
  command -v python3 || command -v python
}

make_venv() {  # make_venv EXTRAS
  local stamp="$VENV/.installed-$1"
  if [[ ! -x "$VENV/bin/python" ]]; then
    local py; py=$(pick_python)
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
      { say "Python 3.10 or newer is needed ($py is older)"; exit 2; }
    say "creating $VENV with $py"
    "$py" -m venv --system-site-packages "$VENV"
  fi
  if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    say "installing fim-tray and its dependencies into .venv"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$1]"
    touch "$stamp"
  fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  run)
    install_debs "${APP_DEBS[@]}" || say "continuing without the system packages above"
    make_venv test,alerts
    exec "$VENV/bin/fim-tray" "$@"
    ;;
  test)
    install_debs "${APP_DEBS[@]}" "${TEST_DEBS[@]}"
    make_venv test,alerts
    export PATH="$VENV/bin:$PATH"
    say "ruff"; ruff check .
    say "mypy"; mypy
    say "import-linter: the floors of the package"; lint-imports
    say "pytest"; exec python -m pytest "$@"
    ;;
  *)
    echo "usage: ./dev.sh run [fim-tray arguments] | ./dev.sh test [pytest arguments]" >&2
    exit 2 ;;
esac
