#!/usr/bin/env bash
# Install cronsync on a Debian/Ubuntu machine and apply its user space (the example, on a fresh machine).
#
#   ./install.sh              system packages, a virtualenv, `cronsync` on PATH, the user space, apply
#   ./install.sh --deps-only  only the system packages (what tests/run uses)
#
# CRONSYNC_PREFIX (virtualenv parent) and CRONSYNC_BIN_DIR (where the `cronsync` link goes) override the
# defaults: /opt/cronsync and /usr/local/bin as root, ~/.local/share/cronsync and ~/.local/bin otherwise.
# The user space is --user-dir's usual default: $CRONSYNC_USER_DIR, else ~/.config/cronsync.
#
# Idempotent: a second run changes nothing and says so.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deps_only=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'install.sh: %s\n' "$*"; }
changed=0

# --- system packages -------------------------------------------------------------------------
# python3-venv/python3-dev/gcc/pkg-config/libsystemd-dev: build pystemd; cron: the crontab backend;
# systemd + dbus: the user manager; tzdata: time zones; util-linux: unshare/nsenter for the tests.
packages=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev cron systemd dbus tzdata util-linux)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing system packages: ${missing[*]}"
  # wait for another apt (a machine's unattended upgrade at boot, say) instead of failing at once
  wait_lock=(-o DPkg::Lock::Timeout=300)
  $sudo apt-get "${wait_lock[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get "${wait_lock[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  changed=1
fi
[ "$deps_only" -eq 1 ] && { [ "$changed" -eq 1 ] || say "system packages already installed"; exit 0; }

# --- cronsync in its own virtualenv ----------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  prefix=${CRONSYNC_PREFIX:-/opt/cronsync}
  bindir=${CRONSYNC_BIN_DIR:-/usr/local/bin}
else
  prefix=${CRONSYNC_PREFIX:-${XDG_DATA_HOME:-$HOME/.local/share}/cronsync}
  bindir=${CRONSYNC_BIN_DIR:-$HOME/.local/bin}
fi
venv="$prefix/venv"
python=$(command -v python3)
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install.sh: cronsync needs Python >= 3.11, found $($python --version)" >&2; exit 1; }

# The source's fingerprint decides whether the installed copy is current.
fingerprint=$(cd "$here" && find pyproject.toml cronsync templates USER -type f \
  ! -path '*/__pycache__/*' ! -path 'USER/logs/*' ! -path 'USER/state/*' -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/cronsync" ] || [ "$(cat "$venv/.cronsync-source" 2>/dev/null)" != "$fingerprint" ]; then
  say "installing cronsync into $venv"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q "$here" >/dev/null
  echo "$fingerprint" > "$venv/.cronsync-source"
  changed=1
fi

mkdir -p "$bindir"
if [ "$(readlink "$bindir/cronsync" 2>/dev/null)" != "$venv/bin/cronsync" ]; then
  ln -sfn "$venv/bin/cronsync" "$bindir/cronsync"
  say "linked $bindir/cronsync"
  changed=1
fi
case ":$PATH:" in *":$bindir:"*) ;; *) say "note: $bindir is not on your PATH; add it to use 'cronsync'" ;; esac

# --- the user space and the main job ---------------------------------------------------------
cronsync="$venv/bin/cronsync"
init_out=$("$cronsync" init)
case "$init_out" in *"nothing changed"*) ;; *) echo "$init_out"; changed=1 ;; esac
# The main job: validate the user space and install its schedules (systemd user timers where a user
# manager answers, else crontab entries).
apply_out=$("$cronsync" apply) || { echo "$apply_out"; exit 1; }
case "$apply_out" in *"no changes"*) ;; *) echo "$apply_out"; changed=1 ;; esac

[ "$changed" -eq 1 ] && say "done" || say "already installed and up to date; nothing changed"
