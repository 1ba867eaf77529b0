"""thermoq called from Python against thrml 0.1.4 (CPU JAX) on the four `bench peers` cases.

For every case (64 chains, BLK-ALT, the engine `cargo xtask bench peers` uses) this times, in one
process, first the two thermoq sides alternating, then (after every case, so that JAX is not yet
loaded while thermoq is timed) thrml:

* ``thermoq.sample(..., output="final")`` — the Python call a user makes (sampler construction,
  argument checks, GIL-free chunks with a signal check between them);
* the Rust bench loop (``FastSampler::sweep`` after a warm-up, no Python in the loop; the same
  loop as ``xtask/src/bench_peers.rs``), through ``thermoq._native.time_sweeps``;
* thrml's ``sample_states`` under ``jax.jit(jax.vmap(...))`` (compilation excluded).

It prints one JSON line per case and a table: updates/s = sweeps × spins × chains / seconds,
``speedup`` = thermoq-from-Python ÷ thrml (target ≥ 10), ``overhead`` = Python time ÷ Rust-loop
time − 1 (target ≤ 5%) from the two medians, and ``paired`` = the median over repetitions of
each Python call's time ÷ the Rust loop's time timed right after it, − 1 (the machine's drift
between repetitions cancels within a pair; on a shared VM it moved whole-run medians by ±10
points), with a distribution-free 95 % confidence interval for that median (order statistics of
the ratios). The pair's order alternates between repetitions. Run it with
``cargo xtask bench python`` (builds the release package into ``target/py-venv`` first), or by
hand from the repository root::

    target/py-venv/bin/python crates/thermoq-py/bench/bench_python.py [--quick] [--reps 21]

after installing the package with the release profile (``scripts/python-env.sh --release``;
``pip install ./crates/thermoq-py`` builds release by default).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

import thermoq as tq

CHAINS = 64
SEED = 2026


def cases(quick):
    q = 4 if quick else 1
    out = []
    for L, sq, st in ((32, 8000, 400), (128, 500, 40)):
        m = tq.lattice(L, J=0.4, h=0.0)
        colors = [(i // L + i % L) % 2 for i in range(L * L)]
        out.append(dict(name=f"ising-{L}", model=m, colors=colors, engine="lattice", generator="chacha8",
                        sweeps=sq // q, sweeps_thrml=st // q))
    r = tq.rbm_random(784, 256, std=0.01, seed=SEED)
    out.append(dict(name="rbm-784x256", model=r, colors=[0] * 784 + [1] * 256, engine="dense",
                    generator="chacha8", sweeps=1000 // q, sweeps_thrml=100 // q))
    rng = np.random.default_rng(SEED)
    # parameters drawn N(0, 0.1²) and a random input, as the Rust bench (its own draws)
    n_params = _dtm_n_params()
    theta = rng.normal(0, 0.1, n_params)
    x_t = np.where(rng.normal(size=834) >= 0, 1, -1).astype(np.int8)
    m, colors = tq._native.dtm_conditional("60_12", theta, x_t)
    out.append(dict(name="dtm-60_12", model=m, colors=colors, engine="lanes", generator="xoshiro128+",
                    sweeps=400 // q, sweeps_thrml=100 // q))
    return out


def _dtm_n_params():
    try:
        tq._native.dtm_conditional("60_12", np.zeros(1), np.ones(834, dtype=np.int8))
    except ValueError as e:
        msg = str(e)
        return int(msg.rsplit("expected", 1)[1])
    raise RuntimeError("could not read the DTM parameter count")


def median_ci(xs, level=0.95):
    """A distribution-free confidence interval for the median of the sorted sample `xs`: the order
    statistics (j, k) with P(X_(j) ≤ median ≤ X_(k)) ≥ `level` under Binomial(n, 1/2)."""
    n = len(xs)
    if n < 6:
        return xs[0], xs[-1]
    cdf, j = 0.0, 0
    # largest j with P(B ≤ j − 1) ≤ (1 − level) / 2, B ~ Binomial(n, 1/2)
    for i in range(n + 1):
        p = math.comb(n, i) / 2 ** n
        if cdf + p > (1 - level) / 2:
            j = i
            break
        cdf += p
    j = max(j, 1)
    return xs[j - 1], xs[n - j]


def thrml_timer(model, colors, sweeps):
    """A callable running `sweeps` sweeps of 64 chains with thrml; compiled on construction."""
    import jax
    import jax.numpy as jnp
    from thrml import Block, SamplingSchedule, SpinNode, sample_states
    from thrml.models import IsingEBM, IsingSamplingProgram

    n = model.n
    nodes = [SpinNode() for _ in range(n)]
    e = model.edges
    edges = [(nodes[i], nodes[j]) for i, j in e]
    ebm = IsingEBM(nodes, edges, jnp.array(model.biases), jnp.array(model.couplings), jnp.array(model.beta))
    k = max(colors) + 1
    blocks = [Block([nodes[i] for i in range(n) if colors[i] == c]) for c in range(k)]
    prog = IsingSamplingProgram(ebm, blocks, clamped_blocks=[])
    sched = SamplingSchedule(n_warmup=sweeps, n_samples=1, steps_per_sample=1)
    key = jax.random.key(1)
    init = [jax.random.bernoulli(kk, 0.5, (CHAINS, len(b.nodes))) for kk, b in zip(jax.random.split(key, k), blocks)]
    f = jax.jit(jax.vmap(lambda kk, s: sample_states(kk, prog, sched, s, [], [blocks[0]])))
    t0 = time.perf_counter()
    jax.block_until_ready(f(jax.random.split(key, CHAINS), init))
    compile_s = time.perf_counter() - t0
    state = {"r": 0}

    def run():
        state["r"] += 1
        keys = jax.random.split(jax.random.key(100 + state["r"]), CHAINS)
        t0 = time.perf_counter()
        jax.block_until_ready(f(keys, init))
        return time.perf_counter() - t0

    return run, compile_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--no-thrml", action="store_true")
    ap.add_argument("--json-out", help="also write the JSON lines to this file")
    a = ap.parse_args()
    rows = []
    all_cases = cases(a.quick)
    # Phase 1: thermoq from Python against the Rust loop, before JAX is imported (XLA's CPU
    # thread pool stays busy between calls and halved thermoq's measured throughput on two cores
    # when thrml calls were interleaved).
    for c in all_cases:
        m, n = c["model"], c["model"].n
        work = c["sweeps"] * n * CHAINS
        kw = dict(kernel="blk-alt", engine=c["engine"], generator=c["generator"], colors=c["colors"],
                  chains=CHAINS, seed=SEED, sweeps=c["sweeps"], burn_in=0, output="final")
        # Like for like: the Rust loop times sweeps `sweeps .. 2·sweeps` of chains started
        # uniformly from SEED (one warm-up call first), so every Python call starts from that
        # same warm state. (The lattice engine's cost per update depends on the state: calls that
        # kept continuing from ever more equilibrated states measured ≈ 5 % slower on ising-128.)
        s = tq.sample(m, **kw)  # warm-up call, from the uniform start of SEED
        assert s.engine == c["engine"], (c["name"], s.engine)
        warm = s.final
        tp, tr = [], []
        colors = list(map(int, c["colors"]))

        def python_call():
            t0 = time.perf_counter()
            tq.sample(m, init=warm, **kw)
            tp.append(time.perf_counter() - t0)

        def rust_loop():
            tr.append(tq._native.time_sweeps(m, c["engine"], c["generator"], colors, CHAINS, SEED,
                                             c["sweeps"], 1))

        for i in range(a.reps):
            # Alternate which of the pair runs first, so a drift of the machine's speed during a
            # pair does not favour one side.
            for f in (python_call, rust_loop) if i % 2 == 0 else (rust_loop, python_call):
                f()
        t_py, t_rust = statistics.median(tp), statistics.median(tr)
        ratios = sorted(p / r for p, r in zip(tp, tr))
        lo, hi = median_ci(ratios)
        rows.append(dict(
            case=c["name"], spins=n, chains=CHAINS, engine=c["engine"], generator=c["generator"],
            sweeps=c["sweeps"], python_updates_per_s=work / t_py, rust_updates_per_s=work / t_rust,
            python_overhead=t_py / t_rust - 1.0,
            python_overhead_paired=statistics.median(ratios) - 1.0,
            python_overhead_paired_ci95=[lo - 1.0, hi - 1.0], reps=a.reps,
        ))
    # Phase 2: thrml on the same cases, same process.
    for c, row in zip(all_cases, rows):
        if not a.no_thrml:
            m, n = c["model"], c["model"].n
            thr, compile_s = thrml_timer(m, c["colors"], c["sweeps_thrml"])
            t_thrml = statistics.median(thr() for _ in range(a.reps))
            row.update(thrml_sweeps=c["sweeps_thrml"], thrml_updates_per_s=c["sweeps_thrml"] * n * CHAINS / t_thrml,
                       thrml_compile_s=compile_s)
            row["speedup_vs_thrml"] = row["python_updates_per_s"] / row["thrml_updates_per_s"]
        print(json.dumps(row), flush=True)
    if a.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(a.json_out)), exist_ok=True)
        with open(a.json_out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print(f"{'case':<12} {'py upd/s':>10} {'rust upd/s':>10} {'overhead':>9} {'paired':>7} {'paired 95% CI':>15} "
          f"{'thrml upd/s':>11} {'speedup':>8}", file=sys.stderr)
    for r in rows:
        lo, hi = r["python_overhead_paired_ci95"]
        print(
            f"{r['case']:<12} {r['python_updates_per_s']:10.3g} {r['rust_updates_per_s']:10.3g} "
            f"{100 * r['python_overhead']:8.1f}% {100 * r['python_overhead_paired']:6.1f}% "
            f"{f'[{100 * lo:.1f}, {100 * hi:.1f}]%':>15} {r.get('thrml_updates_per_s', float('nan')):11.3g} "
            f"{r.get('speedup_vs_thrml', float('nan')):7.1f}x",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
