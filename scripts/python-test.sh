#!/usr/bin/env bash
# Builds and installs the `thermoq` Python package (crates/thermoq-py) into a venv under target/
# with pip — maturin is the PEP 517 backend, exactly what `pip install ./crates/thermoq-py` runs —
# and runs its pytest suite, including the comparisons with emcee, ArviZ, thrml 0.1.4 (CPU JAX)
# and the `thermoq` CLI. Needs python3 with venv/pip and a Rust toolchain; everything else comes
# from PyPI and crates.io.
#
#   scripts/python-test.sh              # the whole suite
#   scripts/python-test.sh -k tau       # extra arguments go to pytest
#
# pytest's exit code 5 ("no tests collected") is an error here (the suite must not silently
# vanish) unless THERMOQ_PY_ALLOW_EMPTY=1, for filtered runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${THERMOQ_PY_VENV:-$ROOT/target/py-venv}
PY="$VENV/bin/python"
# The Rust CLI, for the tests that Python and Rust give identical samples for one seed.
cargo test --workspace --no-run --quiet  # the same build as `cargo test --workspace` (a no-op after it)
export THERMOQ_CLI="$ROOT/target/debug/thermoq"
# venv + dependencies + the package itself (dev profile), shared with `cargo xtask bench python`
bash "$ROOT/scripts/python-env.sh"
export THERMOQ_REQUIRE_CLI=1 THERMOQ_REQUIRE_THRML=1 JAX_PLATFORMS=cpu
cd crates/thermoq-py
set +e
"$PY" -m pytest -q tests "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  if [ "${THERMOQ_PY_ALLOW_EMPTY:-0}" = "1" ]; then
    echo "python-test: pytest collected no tests (allowed by THERMOQ_PY_ALLOW_EMPTY=1)"
    exit 0
  fi
  echo "python-test: pytest collected no tests (exit 5); the suite is missing" >&2
  exit 1
fi
exit "$rc"
