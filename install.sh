#!/usr/bin/env bash
# Install cronsync on a Debian/Ubuntu machine and apply its user space; or remove it (see usage below).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./install.sh [--deps-only | --test-deps | --uninstall [--purge]]

  ./install.sh                    system packages, a virtualenv, `cronsync` on PATH, the user space
                                  (the example, on a fresh machine), and apply: systemd user timers
                                  where a user manager answers, else crontab entries (cron is started
                                  if it is not running and this script may start it)
  ./install.sh --deps-only        only the system packages cronsync needs
  ./install.sh --test-deps        the same, plus what only the tests need: Debian's etcd-server (the
                                  tests start their own etcd cluster on free ports); what tests/run uses
  ./install.sh --uninstall        remove this user's schedules (`cronsync uninstall`), the `cronsync`
                                  link and the virtualenv; the user space stays
  ./install.sh --uninstall --purge  the same, and the user space too (jobs.json, scripts, logs)

CRONSYNC_PREFIX (virtualenv parent) and CRONSYNC_BIN_DIR (where the `cronsync` link goes) override the
defaults: /opt/cronsync and /usr/local/bin as root, ~/.local/share/cronsync and ~/.local/bin otherwise.
The user space is --user-dir's usual default: $CRONSYNC_USER_DIR, else ~/.config/cronsync.
A system-wide install (as root) uses the distribution's /usr/bin/python3, so that the timers depend on
no account's shell setup. Running it again changes nothing and says so.
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deps_only=0
test_deps=0
uninstall=0
purge=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    --test-deps) deps_only=1; test_deps=1 ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done
[ "$purge" -eq 0 ] || [ "$uninstall" -eq 1 ] || { echo "install.sh: --purge goes with --uninstall" >&2; exit 2; }

say() { printf 'install.sh: %s\n' "$*"; }
changed=0

if [ "$(id -u)" -eq 0 ]; then
  prefix=${CRONSYNC_PREFIX:-/opt/cronsync}
  bindir=${CRONSYNC_BIN_DIR:-/usr/local/bin}
else
  prefix=${CRONSYNC_PREFIX:-${XDG_DATA_HOME:-$HOME/.local/share}/cronsync}
  bindir=${CRONSYNC_BIN_DIR:-$HOME/.local/bin}
fi
venv="$prefix/venv"
user_dir=${CRONSYNC_USER_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/cronsync}

# --- removing the install ----------------------------------------------------------------------
if [ "$uninstall" -eq 1 ]; then
  removed=0
  if [ -x "$venv/bin/cronsync" ]; then
    "$venv/bin/cronsync" --user-dir "$user_dir" uninstall || {
      echo "install.sh: cronsync uninstall failed (above); the install is left in place" >&2; exit 1; }
  fi
  if [ "$(readlink "$bindir/cronsync" 2>/dev/null)" = "$venv/bin/cronsync" ]; then
    rm -f "$bindir/cronsync"; say "removed $bindir/cronsync"; removed=1
  fi
  if [ -d "$venv" ]; then
    rm -rf "$venv"; say "removed $venv"; removed=1
    rmdir "$prefix" 2>/dev/null || true
  fi
  if [ "$purge" -eq 1 ] && [ -d "$user_dir" ]; then
    [ -f "$user_dir/config/jobs.json" ] || {
      echo "install.sh: $user_dir holds no config/jobs.json: not a user space, so it is not removed" >&2; exit 1; }
    rm -rf "$user_dir"; say "removed the user space $user_dir"; removed=1
  elif [ -d "$user_dir" ]; then
    say "kept the user space $user_dir (--uninstall --purge removes it too)"
  fi
  [ "$removed" -eq 1 ] || say "nothing to remove: cronsync is not installed in $prefix"
  exit 0
fi

# --- system packages -------------------------------------------------------------------------
# python3-venv/python3-dev/gcc/pkg-config/libsystemd-dev: build pystemd; cron: the crontab backend;
# systemd + dbus: the user manager; tzdata: time zones; util-linux: unshare/nsenter for the tests.
packages=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev cron systemd dbus tzdata util-linux)
# etcd-server: the tests' fleet (issue #15) runs on a real etcd cluster; a user's fleet brings its own etcd.
[ "$test_deps" -eq 0 ] || packages+=(etcd-server)
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
new_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
# As root the install serves every timer of the machine: build it on the distribution's interpreter,
# not on whatever python3 comes first on root's PATH (a pyenv shim in someone's home, say).
if [ "$(id -u)" -eq 0 ] && [ -x /usr/bin/python3 ] && new_enough /usr/bin/python3; then
  python=/usr/bin/python3
  why="the distribution's"
else
  python=$(command -v python3)
  why="the first python3 on PATH"
  [ "$(id -u)" -ne 0 ] || why="$why (/usr/bin/python3 is missing or older than 3.11)"
fi
new_enough "$python" \
  || { echo "install.sh: cronsync needs Python >= 3.11, found $($python --version)" >&2; exit 1; }

# The source's fingerprint decides whether the installed copy is current.
fingerprint=$(cd "$here" && find pyproject.toml cronsync templates USER -type f \
  ! -path '*/__pycache__/*' ! -path 'USER/logs/*' ! -path 'USER/state/*' -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/cronsync" ] || [ "$(cat "$venv/.cronsync-source" 2>/dev/null)" != "$fingerprint" ]; then
  say "installing cronsync into $venv, on $python ($why, $("$python" --version 2>&1))"
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

# --- the crontab backend needs a running cron daemon --------------------------------------------
# cronsync itself says whether a cron daemon serves this crontab and how to start it here (through
# systemd where it is PID 1, else the daemon itself; with sudo unless root): the same words apply,
# plan and doctor use.
cron_start() {
  "$venv/bin/python" -c 'from cronsync.adapters import crontab
print("" if crontab.cron_running() else crontab.start_command())'
}
case "$apply_out" in
  *"backend: crontab"*)
    start=$(cron_start)
    if [ -n "$start" ]; then
      if [ "$(id -u)" -eq 0 ] && $start && [ -z "$(cron_start)" ]; then
        say "started the cron daemon ($start)"
        changed=1
      else
        say "WARNING: the cron daemon is not running, so no job will run; start it: $start"
      fi
    fi
    ;;
esac

[ "$changed" -eq 1 ] && say "done" || say "already installed and up to date; nothing changed"
