#!/usr/bin/env bash
# Installs what the interop test servers need, inside this crate only:
#   .venv/                      Python venv with oauthlib_provider/requirements.txt
#   oidc_provider/node_modules  `npm ci` from the committed package-lock.json
# Idempotent: each part is redone only when its lock/requirements file changed
# (a hash stamp is kept next to the installed files), so a second run takes
# well under a second. The Rust harness runs this under a file lock on first use.
#
# Environment: PYTHON (default python3), NPM (default npm), INTEROP_NODE (default node: the
# Node.js the OIDC server runs with, so the one whose version is checked here).
# INTEROP_SETUP_PARENT: set by the Rust harness, which runs this in a process group of its own,
# to its process id.
set -euo pipefail

# The harness's process group keeps a timed-out install from running on (it kills the group),
# but it also keeps a Ctrl-C on `cargo test` (sent to the terminal's foreground group) from
# reaching pip or npm. So when the test process is gone, stop the whole group here: an install
# left running would race the next run's install into the same .venv and node_modules.
if [[ -n "${INTEROP_SETUP_PARENT:-}" ]]; then
  (
    while kill -0 "$INTEROP_SETUP_PARENT" 2>/dev/null; do sleep 1; done
    kill -KILL 0
  ) </dev/null >/dev/null 2>&1 &
  watchdog=$!
  trap 'kill "$watchdog" 2>/dev/null || true' EXIT
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
npm="${NPM:-npm}"
node="${INTEROP_NODE:-node}"

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# A registry that fails or stalls for a moment (a reset connection, a 503) must not fail the
# whole run: each install is tried up to 3 times, with a pause in between. Both are idempotent
# (pip skips what is installed, `npm ci` starts from an empty node_modules).
retry() {
  local attempt
  for attempt in 1 2 3; do
    if "$@"; then
      return 0
    fi
    if [[ $attempt -lt 3 ]]; then
      echo "setup.sh: attempt $attempt of 3 failed, retrying in $((attempt * 10))s: $*" >&2
      sleep $((attempt * 10))
    fi
  done
  echo "setup.sh: giving up after 3 attempts: $*" >&2
  return 1
}

# --- Prerequisites, with a message that says what to install ------------------------
missing() { echo "setup.sh: $1" >&2; exit 1; }
command -v "$python" >/dev/null 2>&1 ||
  missing "$python not found: the interop tests need Python 3.11+ (or set PYTHON)"
"$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
  missing "$python must be 3.11+ with its venv module (Debian/Ubuntu: apt install python3-venv)"
command -v "$node" >/dev/null 2>&1 ||
  missing "$node not found: the interop tests need Node.js 20+ (or set INTEROP_NODE)"
"$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' ||
  missing "Node.js $("$node" --version) is too old: the interop tests need Node.js 20+"
command -v "$npm" >/dev/null 2>&1 || missing "$npm not found: the interop tests need npm"

# --- Python: oauthlib provider ---------------------------------------------------
venv="$here/.venv"
req="$here/oauthlib_provider/requirements.txt"
py_stamp="$venv/.interop-requirements.sha256"
want="$(hash_of "$req")"
if [[ -x "$venv/bin/python" && -f "$py_stamp" && "$(cat "$py_stamp")" == "$want" ]]; then
  echo "setup.sh: python venv up to date"
else
  echo "setup.sh: creating $venv and installing $(basename "$req")"
  rm -f "$py_stamp"
  "$python" -m venv --clear "$venv"
  # --timeout: pip's 15 s per read is short for a slow mirror; pip also retries each request.
  retry "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --timeout 60 -r "$req"
  "$venv/bin/python" -c "import oauthlib, jwt, cryptography"
  echo "$want" >"$py_stamp"
fi

# --- Node: oidc-provider ---------------------------------------------------------
node_dir="$here/oidc_provider"
lock="$node_dir/package-lock.json"
node_stamp="$node_dir/node_modules/.interop-lock.sha256"
want="$(hash_of "$lock")"
if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$want" ]]; then
  echo "setup.sh: node_modules up to date"
else
  echo "setup.sh: npm ci in $node_dir"
  (cd "$node_dir" && retry "$npm" ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$node_stamp"
fi
