"""Sampling: every kernel and engine against exact enumeration, clamping, per-chain fields, PT,
determinism (seed, chunking, equality with the Rust CLI), GIL release and Ctrl-C."""

import _thread
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import thermoq as tq
from conftest import chain_zscores, exact_moments, require

# (kernel, engine) pairs that apply to a general sparse model
CASES = [(k, "reference") for k in tq.KERNELS] + [
    (k, e) for k in ("blk-alt", "blk-sym", "blk-rs") for e in ("sparse", "sparse-f32", "lanes")
]
Z_MAX = 5.0  # per observable; ~20 observables × 15 cases, P(any |z| > 5) ≈ 2e-4 under the null


@pytest.mark.parametrize("kernel, engine", CASES)
def test_moments_agree_with_exact_enumeration(small_model, kernel, engine):
    m, J, h = small_model
    s = tq.sample(m, kernel=kernel, engine=engine, sweeps=1500, burn_in=100, chains=32, seed=5, output="trace")
    assert s.states.shape == (32, 1500, 8) and s.states.dtype == np.int8
    assert s.engine == engine
    m1, m2, _ = exact_moments(J, h, 1.0, m.edges)
    z = chain_zscores(s.states, m.edges, m1, m2)
    assert z.max() < Z_MAX, (kernel, engine, z.max())


def test_lattice_and_dense_engines_agree_with_exact():
    lat = tq.lattice(4, J=0.3, h=0.1)
    s = tq.sample(lat, kernel="blk-alt", sweeps=1500, chains=32, seed=2, output="trace", colors=[(i // 4 + i % 4) % 2 for i in range(16)])
    assert s.engine == "lattice"
    ex = tq.exact(lat)
    assert chain_zscores(s.states, lat.edges, ex["m1"], ex["m2_edges"]).max() < Z_MAX
    rng = np.random.default_rng(8)
    r = tq.rbm(rng.normal(0, 0.6, (6, 4)), rng.normal(0, 0.2, 6), rng.normal(0, 0.2, 4))
    s = tq.sample(r, kernel="blk-sym", sweeps=1500, chains=32, seed=3, output="trace")
    assert s.engine == "dense"
    ex = tq.exact(r)
    assert chain_zscores(s.states, r.edges, ex["m1"], ex["m2_edges"]).max() < Z_MAX


def test_moments_output_equals_moments_of_the_trace(small_model):
    m, _, _ = small_model
    a = tq.sample(m, kernel="blk-sym", engine="reference", sweeps=300, chains=8, seed=9)
    b = tq.sample(m, kernel="blk-sym", engine="reference", sweeps=300, chains=8, seed=9, output="trace")
    x = b.states.reshape(-1, 8).astype(float)
    np.testing.assert_array_equal(a.m1, x.mean(axis=0))
    e = m.edges
    np.testing.assert_array_equal(a.m2_edges, (x[:, e[:, 0]] * x[:, e[:, 1]]).mean(axis=0))
    np.testing.assert_array_equal(a.final, b.final)
    assert a.count == 8 * 300


@pytest.mark.parametrize("kernel, engine, generator", [
    ("rs1", "reference", "chacha8"), ("blk-sym", "sparse", "chacha8"), ("blk-rs", "sparse-f32", "chacha8"),
    ("blk-sym", "lanes", "chacha8"), ("blk-alt", "lanes", "xoshiro128+"),
])
def test_deterministic_for_a_seed_and_independent_of_chunking(small_model, kernel, engine, generator):
    m, _, _ = small_model
    kw = dict(kernel=kernel, engine=engine, generator=generator, sweeps=200, burn_in=30, chains=16, output="trace")
    a = tq.sample(m, seed=7, **kw)
    b = tq.sample(m, seed=7, chunk=7, **kw)
    c = tq.sample(m, seed=8, **kw)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.final, b.final)
    assert not np.array_equal(a.states, c.states)


def test_continuing_from_final_states(small_model):
    m, _, _ = small_model
    a = tq.sample(m, kernel="rs1", engine="reference", sweeps=50, burn_in=0, chains=4, seed=3, output="final")
    b = tq.sample(m, kernel="rs1", engine="reference", sweeps=10, burn_in=0, chains=4, seed=4, init=a.final, output="trace")
    assert b.states.shape == (4, 10, 8)


def _cli():
    p = os.environ.get("THERMOQ_CLI")
    if p and os.path.exists(p):
        return p
    if require("THERMOQ_REQUIRE_CLI"):
        pytest.fail("THERMOQ_CLI must point at the thermoq binary (set by scripts/python-test.sh)")
    pytest.skip("THERMOQ_CLI not set: build thermoq-cli and point THERMOQ_CLI at it")


@pytest.mark.parametrize("kernel", tq.KERNELS)
def test_identical_to_the_rust_cli_for_one_seed(tmp_path, small_model, kernel):
    cli = _cli()
    m, _, _ = small_model
    path = tmp_path / "m.json"
    m.save(str(path))
    out = subprocess.run(
        [cli, "sample", "--model", str(path), "--kernel", kernel, "--chains", "16", "--sweeps", "400",
         "--burn-in", "50", "--seed", "11"],
        check=True, capture_output=True, text=True,
    ).stdout
    rust = json.loads(out)
    py = tq.sample(m, kernel=kernel, engine="reference", chains=16, sweeps=400, burn_in=50, seed=11)
    assert rust["count"] == py.count
    # ⟨x_i⟩ and ⟨x_i x_j⟩ are integer counts / count: equal iff every sample is equal
    np.testing.assert_array_equal(np.array(rust["m1"]), py.m1)
    np.testing.assert_array_equal(np.array(rust["m2_edges"]), py.m2_edges)
    # the energy sums are merged in different chunk orders: equal to rounding
    assert abs(rust["energy_mean"] - py.energy_mean) <= 1e-12 * max(1.0, abs(py.energy_mean))


# Every fast engine × block kernel the CLI can run on a model file: the general engines on a
# frustrated sparse model (auto resolves to lanes with 16 chains), the lattice engine on a
# periodic lattice with its checkerboard colouring, the dense GEMM engine on an RBM (its saved file
# is the RBM's Ising form, which the CLI recognises as an RBM, so `dense` and `auto` run the same
# engine there as from Python); lanes, lattice and dense also with xoshiro128+ words.
FAST_CLI_CASES = [
    (model, kernel, engine, generator)
    for kernel in ("blk-alt", "blk-sym", "blk-rs")
    for (model, engine, generator) in (
        ("sparse", "auto", "chacha8"),
        ("sparse", "sparse", "chacha8"),
        ("sparse", "sparse-f32", "chacha8"),
        ("sparse", "lanes", "chacha8"),
        ("sparse", "lanes", "xoshiro128+"),
        ("lattice", "lattice", "chacha8"),
        ("lattice", "lattice", "xoshiro128+"),
        ("rbm", "dense", "chacha8"),
        ("rbm", "dense", "xoshiro128+"),
        ("rbm", "auto", "chacha8"),
    )
]


@pytest.mark.parametrize("which, kernel, engine, generator", FAST_CLI_CASES)
def test_fast_engines_identical_to_the_rust_cli_sample_for_sample(tmp_path, small_model, which, kernel, engine, generator):
    cli = _cli()
    if which == "lattice":
        m = tq.lattice(4, J=0.4, h=0.15)
        colors = [(i // 4 + i % 4) % 2 for i in range(16)]
        extra = ["--colors", str(tmp_path / "colors.json")]
        (tmp_path / "colors.json").write_text(json.dumps(colors))
    elif which == "rbm":
        m = tq.rbm_random(7, 5, std=0.6, seed=31)
        colors = [0] * 7 + [1] * 5
        extra = ["--colors", str(tmp_path / "colors.json")]
        (tmp_path / "colors.json").write_text(json.dumps(colors))
    else:
        m, colors, extra = small_model[0], None, []
    path = tmp_path / "m.json"
    m.save(str(path))
    trace = tmp_path / "trace.npy"
    out = subprocess.run(
        [cli, "sample", "--model", str(path), "--kernel", kernel, "--engine", engine, "--generator", generator,
         "--chains", "16", "--sweeps", "300", "--burn-in", "40", "--seed", "23", "--trace", str(trace), *extra],
        check=True, capture_output=True, text=True,
    ).stdout
    rust = json.loads(out)
    py = tq.sample(m, kernel=kernel, engine=engine, generator=generator, colors=colors, chains=16, sweeps=300,
                   burn_in=40, seed=23, output="trace")
    assert rust["config"]["engine"] == py.engine != "reference"
    if which == "rbm":
        assert py.engine == "dense"
    states = np.load(trace)
    assert states.shape == py.states.shape == (16, 300, m.n) and states.dtype == np.int8
    np.testing.assert_array_equal(states, py.states)  # every state of every chain
    # and the CLI's moments are those of its trace (integer counts / count: exact)
    np.testing.assert_array_equal(np.array(rust["m1"]), states.mean(axis=(0, 1), dtype=np.float64))


def test_cli_engine_bad_values(tmp_path, small_model):
    cli = _cli()
    path = tmp_path / "m.json"
    small_model[0].save(str(path))
    for args, flag in (
        (["--engine", "warp"], "--engine"),
        (["--engine", "lattice", "--kernel", "blk-alt"], "--engine"),  # not a lattice
        (["--engine", "sparse", "--kernel", "rs1"], "--engine"),  # not a block kernel
        (["--generator", "xoshiro128+"], "--generator"),  # reference engine: chacha8 only
    ):
        r = subprocess.run([cli, "sample", "--model", str(path), *args], capture_output=True, text=True)
        assert r.returncode != 0 and flag in r.stderr, (args, r.stderr)


def _conditional_exact(J, h, idx, vals):
    free = np.setdiff1d(np.arange(len(h)), idx)
    hf = h[free] + J[np.ix_(free, idx)] @ vals
    Jf = J[np.ix_(free, free)]
    iu, ju = np.triu_indices(len(free), 1)
    m1, _, _ = exact_moments(Jf, hf, 1.0, np.stack([iu, ju], 1))
    return free, m1


@pytest.mark.parametrize("kernel, engine", [("rs1", "reference"), ("blk-sym", "auto"), ("blk-alt", "lanes")])
def test_clamped_spins_sample_the_exact_conditional(small_model, kernel, engine):
    m, J, h = small_model
    idx, vals = np.array([1, 6]), np.array([1, -1])
    s = tq.sample(m, kernel=kernel, engine=engine, sweeps=1500, chains=32, seed=4, clamp=(idx, vals), output="trace")
    assert np.all(s.states[:, :, 1] == 1) and np.all(s.states[:, :, 6] == -1)
    free, m1 = _conditional_exact(J, h, idx, vals)
    x = s.states[:, :, free].astype(float).mean(axis=1)
    se = x.std(axis=0, ddof=1) / np.sqrt(32)
    assert np.max(np.abs(x.mean(axis=0) - m1) / se) < Z_MAX


def test_per_chain_clamps_and_fields(small_model):
    m, J, h = small_model
    chains = 32
    # half the chains clamp spin 2 to +1, the other half to −1
    vals = np.where(np.arange(chains)[:, None] < 16, 1, -1)
    s = tq.sample(m, kernel="blk-sym", sweeps=1500, chains=chains, seed=6, clamp=([2], vals), output="trace")
    for half, v in ((slice(0, 16), 1), (slice(16, 32), -1)):
        free, m1 = _conditional_exact(J, h, np.array([2]), np.array([v]))
        x = s.states[half][:, :, free].astype(float).mean(axis=1)
        se = x.std(axis=0, ddof=1) / 4
        assert np.max(np.abs(x.mean(axis=0) - m1) / se) < Z_MAX
    # per-chain fields: chains 0..15 see h + f, chains 16..31 see h − f
    f = np.random.default_rng(1).normal(0, 0.5, 8)
    fields = np.where(np.arange(chains)[:, None] < 16, f, -f)
    s = tq.sample(m, kernel="blk-alt", sweeps=1500, chains=chains, seed=7, fields=fields, output="trace")
    for half, sign in ((slice(0, 16), 1), (slice(16, 32), -1)):
        m1, m2, _ = exact_moments(J, h + sign * f, 1.0, m.edges)
        assert chain_zscores(s.states[half], m.edges, m1, m2).max() < Z_MAX


def test_per_chain_betas(small_model):
    m, J, h = small_model
    betas = np.where(np.arange(32) < 16, 1.0, 0.4)
    s = tq.sample(m, kernel="blk-sym", sweeps=1500, chains=32, seed=7, betas=betas, output="trace")
    for half, b in ((slice(0, 16), 1.0), (slice(16, 32), 0.4)):
        m1, m2, _ = exact_moments(J, h, b, m.edges)
        assert chain_zscores(s.states[half], m.edges, m1, m2).max() < Z_MAX


@pytest.mark.parametrize("scheme", ["pt-sym", "pt-deo"])
def test_parallel_tempering_cold_rung_is_exact(small_model, scheme):
    m, J, h = small_model
    alphas = tq.ladder("geometric", 4, alpha_top=0.3)
    assert alphas[0] == 1.0 and abs(alphas[-1] - 0.3) < 1e-12
    s = tq.sample_pt(m, alphas=alphas, scheme=scheme, sweeps=1500, chains=32, seed=3, output="trace")
    m1, m2, _ = exact_moments(J, h, 1.0, m.edges)
    assert chain_zscores(s.states, m.edges, m1, m2).max() < Z_MAX
    assert s.swap_acceptance.shape == (3,) and np.all((s.swap_acceptance > 0) & (s.swap_acceptance <= 1))
    np.testing.assert_allclose(tq.ladder("uniform", 3, alpha_top=0.5), [1.0, 0.75, 0.5])


def test_long_calls_release_the_gil():
    m = tq.lattice(64, J=0.4)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    t0 = time.perf_counter()
    tq.sample(m, kernel="blk-sym", engine="sparse", sweeps=400, chains=16, seed=1, output="final", chunk=400)
    dt = time.perf_counter() - t0
    stop.set()
    t.join()
    # With the GIL held for the whole single chunk the thread could not tick at all.
    assert dt > 0.05, "run too short to tell"
    assert len(ticks) >= 10, (len(ticks), dt)


@pytest.fixture
def sigint_default():
    # A process started in the background by a non-interactive shell inherits SIGINT as ignored;
    # `_thread.interrupt_main` then does nothing and the run below would never stop. Use Python's
    # own handler for the test, as in an interactive session.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _lattice_run(engine):
    m = tq.lattice(64, J=0.4)
    return m, dict(kernel="blk-sym", engine=engine, chains=16,
                   colors=[(i // 64 + i % 64) % 2 for i in range(64 * 64)])


def _dense_run():
    # the dense (RBM, GEMM) engine: chunks of 2^24 updates, ≈ 250 sweeps of this RBM × 64 chains
    return tq.rbm_random(784, 256, std=0.01, seed=0), dict(
        kernel="blk-alt", engine="dense", chains=64, colors=[0] * 784 + [1] * 256)


# lattice: the engine with the longest chunks (2^28 updates)
@pytest.mark.parametrize("case", ["sparse", "lattice", "dense"])
def test_ctrl_c_stops_a_long_run_promptly(case, sigint_default):
    m, kw = _dense_run() if case == "dense" else _lattice_run(case)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        tq.sample(m, sweeps=10**9, seed=1, output="final", **kw)
    elapsed = time.perf_counter() - t0
    timer.cancel()
    assert elapsed < 10.0, elapsed


def test_samples_go_into_arviz_and_npz(tmp_path, small_model):
    m, _, _ = small_model
    s = tq.sample(m, kernel="blk-sym", sweeps=100, chains=4, seed=2, output="trace")
    d = s.to_arviz_dict(nodes=[0, 3])
    assert d["x"].shape == (4, 100, 2)
    s.save_npz(tmp_path / "s.npz")
    z = np.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(z["states"], s.states)
    az = pytest.importorskip("arviz")
    idata = az.from_dict(posterior=d)
    assert idata.posterior["x"].shape == (4, 100, 2)
