"""thrml side of `cargo xtask bench peers` (thermoq's own driver; not part of thrml).

Usage: python thrml_peer.py SPEC.json

SPEC.json is written by xtask (xtask/src/bench_peers.rs) and describes one Ising model exactly as
thermoq samples it:

    {"mode": "bench" | "moments", "n": N, "edges": [[i, j], ...], "weights": [...],
     "biases": [...], "beta": b, "blocks": [[node, ...], ...], "chains": C, "seed": s,
     "sweeps": S,                       # bench: sweeps per timed call
     "burn_in": B, "samples": K}        # moments: discarded sweeps, then K recorded sweeps

Energy convention (thrml's IsingEBM and thermoq's IsingModel agree): E = -beta (sum b s + sum J s s),
spins +-1 (thrml stores True for +1). Blocks are updated in the given order every sweep.

bench mode: builds the sampling program, compiles it and makes one untimed warm-up call, prints
one JSON line {"ready": true, ...}; then, for every line "run" read on stdin, times one call of
S sweeps of C chains (fresh keys each call) and prints {"seconds": t, "updates_per_s": ...}.
Stops on "quit" or end of input. xtask alternates these calls with thermoq's own repetitions.

moments mode: runs B + K sweeps (the K states after the burn-in are recorded: thrml records the
state right after its warm-up first, so n_warmup = B + 1 and n_samples = K), and prints one JSON
line with per-chain time averages of every x_i and of x_i x_j on every edge.
"""

import json
import sys
import time


def fail(msg):
    print(json.dumps({"error": msg}), flush=True)
    sys.exit(2)


def main():
    if len(sys.argv) != 2:
        fail("usage: thrml_peer.py SPEC.json")
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)

    t_import = time.perf_counter()
    try:
        import jax
        import jax.numpy as jnp
        import numpy as np
        import thrml
        from thrml import Block, SamplingSchedule, SpinNode, sample_states
        from thrml.models import IsingEBM, IsingSamplingProgram
    except Exception as exc:  # missing package or broken install: report, do not crash
        fail(f"import failed: {exc!r}")
    t_import = time.perf_counter() - t_import

    n = int(spec["n"])
    chains = int(spec["chains"])
    nodes = [SpinNode() for _ in range(n)]
    edges = [(nodes[i], nodes[j]) for i, j in spec["edges"]]
    weights = jnp.asarray(np.asarray(spec["weights"], dtype=np.float32))
    biases = jnp.asarray(np.asarray(spec["biases"], dtype=np.float32))
    if len(spec["biases"]) != n or len(spec["weights"]) != len(edges):
        fail("spec: biases must have n entries and weights one per edge")
    model = IsingEBM(nodes, edges, biases, weights, jnp.array(float(spec["beta"])))
    blocks = [Block([nodes[i] for i in b]) for b in spec["blocks"]]
    covered = sorted(i for b in spec["blocks"] for i in b)
    if covered != list(range(n)):
        fail("spec: blocks must partition the nodes")
    t0 = time.perf_counter()
    program = IsingSamplingProgram(model, blocks, clamped_blocks=[])
    t_build = time.perf_counter() - t0
    everything = [Block(nodes)]
    seed = int(spec["seed"])
    k_init, k_run = jax.random.split(jax.random.key(seed))
    init = [
        jax.random.bernoulli(k, 0.5, (chains, len(b)))
        for k, b in zip(jax.random.split(k_init, len(blocks)), blocks)
    ]
    info = dict(
        thrml_version=getattr(thrml, "__version__", "?"),
        jax_version=jax.__version__,
        backend=jax.default_backend(),
        import_s=round(t_import, 3),
        program_build_s=round(t_build, 3),
    )

    if spec["mode"] == "bench":
        sweeps = int(spec["sweeps"])
        # The state after n_warmup sweeps is the single recorded sample: exactly `sweeps` sweeps.
        schedule = SamplingSchedule(n_warmup=sweeps, n_samples=1, steps_per_sample=1)
        f = jax.jit(jax.vmap(lambda k, s: sample_states(k, program, schedule, s, [], everything)))
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(jax.random.split(k_run, chains), init))
        info.update(ready=True, compile_and_first_call_s=round(time.perf_counter() - t0, 3))
        print(json.dumps(info), flush=True)
        rep = 0
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            if cmd != "run":
                fail(f"unknown command {cmd!r}")
            keys = jax.random.split(jax.random.fold_in(k_run, rep + 1), chains)
            rep += 1
            t0 = time.perf_counter()
            out = jax.block_until_ready(f(keys, init))
            dt = time.perf_counter() - t0
            x = np.asarray(out[0][:, -1, :])  # final states, (chains, n) bool
            print(
                json.dumps(
                    dict(
                        seconds=dt,
                        updates_per_s=sweeps * n * chains / dt,
                        mean_spin=float(2.0 * x.mean() - 1.0),
                    )
                ),
                flush=True,
            )
    elif spec["mode"] == "moments":
        burn_in = int(spec["burn_in"])
        samples = int(spec["samples"])
        schedule = SamplingSchedule(n_warmup=burn_in + 1, n_samples=samples, steps_per_sample=1)
        f = jax.jit(jax.vmap(lambda k, s: sample_states(k, program, schedule, s, [], everything)))
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(jax.random.split(k_run, chains), init))
        dt = time.perf_counter() - t0
        states = np.asarray(out[0])  # (chains, samples, n) bool
        e = np.asarray(spec["edges"], dtype=np.int64).reshape(-1, 2)
        m1, m2 = [], []
        for c in range(chains):
            x = states[c].astype(np.float32) * 2.0 - 1.0
            m1.append(x.mean(axis=0).astype(float).tolist())
            m2.append((x[:, e[:, 0]] * x[:, e[:, 1]]).mean(axis=0).astype(float).tolist())
        info.update(seconds_incl_compile=round(dt, 3), chain_m1=m1, chain_m2=m2)
        print(json.dumps(info), flush=True)
    else:
        fail(f"spec: unknown mode {spec['mode']!r}")


if __name__ == "__main__":
    main()
