#!/usr/bin/env bash
# Sets up (or reuses) the venv of the `thermoq` Python package under target/ and installs the
# package into it from this clone with pip — maturin is the PEP 517 backend, exactly what
# `pip install ./crates/thermoq-py` runs — together with what the tests and the benchmark need
# (pytest, emcee, ArviZ, thrml 0.1.4 on CPU JAX). Shared by scripts/python-test.sh and
# `cargo xtask bench python`.
#
#   scripts/python-env.sh            # dev profile (incremental; what the tests use)
#   scripts/python-env.sh --release  # release profile (what the benchmark uses)
#
# The venv is $THERMOQ_PY_VENV (default target/py-venv); needs python3 (>= 3.10) with venv/pip and
# a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE=dev
case "${1:-}" in
  --release) PROFILE=release ;;
  "") ;;
  *) echo "python-env: unknown argument ${1:-}; expected --release or nothing" >&2; exit 2 ;;
esac
VENV=${THERMOQ_PY_VENV:-$ROOT/target/py-venv}
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "python-env: $PYTHON not found; install CPython >= 3.10" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# maturin (the PEP 517 backend, run without build isolation) calls the `maturin` binary on PATH
export PATH="$VENV/bin:$PATH"
"$PY" -m pip install --quiet --disable-pip-version-check \
  'maturin>=1.7,<2' 'numpy>=1.23' pytest emcee arviz 'thrml==0.1.4' jax
# Build + install as a user would (pip, maturin backend); the shared target/ keeps repeated runs
# incremental (results do not depend on the profile, only the speed does).
CARGO_TARGET_DIR="$ROOT/target" MATURIN_PEP517_ARGS="--profile $PROFILE" \
  "$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
  --force-reinstall ./crates/thermoq-py
