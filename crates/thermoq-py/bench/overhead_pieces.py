"""Where the Python call's time goes, piece by piece, on one `bench peers` case.

Times, alternating in one process (medians of ``--reps``):

* ``rust``      — the Rust bench loop (``_native.time_sweeps``: one ``FastSampler::sweep`` call
  of all sweeps after a warm-up; no Python, no chunking);
* ``native``    — ``_native.sample`` directly (no Python-side argument checks), default chunks;
* ``native-1``  — the same with the whole run in one chunk (``chunk=sweeps``): no signal checks,
  one GIL release;
* ``native-c``  — the same with a forced chunk of ``--chunk`` sweeps (default 16, the old
  default chunk of ising-128), to isolate the per-chunk cost;
* ``python``    — ``thermoq.sample`` (what a user calls);
* ``setup``     — ``_native.sample`` with ``sweeps=1``: argument conversion, sampler build and
  output allocation, plus one sweep.

Usage: ``python overhead_pieces.py [--case ising-128|ising-32|rbm-784x256|dtm-60_12] [--reps 7]
[--chunk 16]``
"""

import argparse
import statistics
import time

import numpy as np

import thermoq as tq
from thermoq import _native

import bench_python

CHAINS = bench_python.CHAINS
SEED = bench_python.SEED


def case(name):
    """The `bench peers` case `name` exactly as ``bench_python.py`` builds it."""
    for c in bench_python.cases(quick=False):
        if c["name"] == name:
            return c["model"], list(map(int, c["colors"])), c["engine"], c["generator"], c["sweeps"]
    raise SystemExit(f"case: {name!r} is not a bench case (ising-32, ising-128, rbm-784x256, dtm-60_12)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="ising-128")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=16)
    a = ap.parse_args()
    m, colors, engine, gen, sweeps = case(a.case)
    colors_u32 = np.asarray(colors, dtype=np.uint32)
    n = m.n
    state = tq.sample(m, kernel="blk-alt", engine=engine, generator=gen, colors=colors,
                      chains=CHAINS, seed=SEED, sweeps=sweeps, burn_in=0, output="final").final

    def native(sw, chunk):
        return lambda: _native.sample(m, "blk-alt", engine, gen, SEED, CHAINS, sw, 0, "final",
                                      colors_u32, state, None, None, chunk)

    pieces = {
        "rust": lambda: _native.time_sweeps(m, engine, gen, colors, CHAINS, SEED, sweeps, 1),
        "native": native(sweeps, None),
        "native-1": native(sweeps, sweeps),
        "native-c": native(sweeps, a.chunk),
        "python": lambda: tq.sample(m, kernel="blk-alt", engine=engine, generator=gen, colors=colors,
                                    chains=CHAINS, seed=SEED, sweeps=sweeps, burn_in=0,
                                    output="final", init=state),
        "setup": native(1, None),
    }
    times = {k: [] for k in pieces}
    for _ in range(a.reps):
        for k, f in pieces.items():
            t0 = time.perf_counter()
            r = f()
            dt = time.perf_counter() - t0
            times[k].append(r if k == "rust" else dt)
    rust = statistics.median(times["rust"])
    print(f"{a.case}: {sweeps} sweeps x {n} spins x {CHAINS} chains; medians of {a.reps}")
    for k, v in times.items():
        med = statistics.median(v)
        print(f"  {k:<9} {1e3 * med:9.2f} ms  ({100 * (med / rust - 1):+6.1f}% vs rust)  "
              f"spread {1e3 * min(v):.2f}-{1e3 * max(v):.2f} ms")


if __name__ == "__main__":
    main()
