"""thermoq.thrml against real thrml 0.1.4 on CPU JAX: moments agree with thrml's own sampler
(within the combined per-chain standard errors) and with exact enumeration, also with a clamped
block; unsupported programs are rejected with an error naming what was found."""

import json
import os

import numpy as np
import pytest

from conftest import ORACLE_FIXTURE, chain_zscores, exact_moments, require

if require("THERMOQ_REQUIRE_THRML"):
    import thrml  # noqa: F401  (must be importable in CI)
thrml = pytest.importorskip("thrml")
jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from thrml import Block, SamplingSchedule, SpinNode, sample_states  # noqa: E402
from thrml.models import IsingEBM, IsingSamplingProgram, hinton_init  # noqa: E402

import thermoq as tq  # noqa: E402
from thermoq import thrml as tqt  # noqa: E402

Z_MAX = 5.0
CHAINS = 32
SAMPLES = 1000


def fixture(name):
    return json.loads(ORACLE_FIXTURE.read_text())[name]


def build(case):
    nodes = [SpinNode() for _ in range(case["n"])]
    edges = [(nodes[i], nodes[j]) for i, j in case["edges"]]
    ebm = IsingEBM(nodes, edges, jnp.array(case["biases"]), jnp.array(case["weights"]), jnp.array(1.0))
    return ebm, nodes


def run_thrml(ebm, nodes, free, clamped, clamp_state, seed):
    prog = IsingSamplingProgram(ebm, free, clamped)
    sched = SamplingSchedule(n_warmup=100, n_samples=SAMPLES, steps_per_sample=1)
    k1, k2 = jax.random.split(jax.random.key(seed))
    init = hinton_init(k1, ebm, free, (CHAINS,))
    keys = jax.random.split(k2, CHAINS)
    f = jax.jit(jax.vmap(lambda k, i: sample_states(k, prog, sched, i, clamp_state, [Block(nodes)])))
    (x,) = f(keys, init)
    return np.where(np.asarray(x), 1, -1).astype(np.int8)  # (chain, sample, node)


def per_chain_stats(states, edges):
    x = states.astype(float)
    e = np.asarray(edges)
    per = np.concatenate([x.mean(axis=1), (x[:, :, e[:, 0]] * x[:, :, e[:, 1]]).mean(axis=1)], axis=1)
    return per.mean(axis=0), per.std(axis=0, ddof=1) / np.sqrt(per.shape[0])


def test_lattice_moments_agree_with_thrml_and_exact():
    case = fixture("lattice4")
    ebm, nodes = build(case)
    L = 4
    black = Block([nodes[i] for i in range(16) if (i // L + i % L) % 2 == 0])
    white = Block([nodes[i] for i in range(16) if (i // L + i % L) % 2 == 1])
    ours = tqt.sample_states(ebm, [black, white], n_warmup=100, n_samples=SAMPLES, chains=CHAINS, seed=3,
                             nodes_to_sample=[Block(nodes)])[0]
    assert ours.shape == (CHAINS, SAMPLES, 16) and ours.dtype == bool
    ours = np.where(ours, 1, -1).astype(np.int8)
    theirs = run_thrml(ebm, nodes, [black, white], [], [], seed=4)
    edges = np.array(case["edges"])
    J = np.zeros((16, 16))
    for (i, j), w in zip(edges, case["weights"]):
        J[i, j] += w
        J[j, i] += w
    m1, m2, _ = exact_moments(J, np.array(case["biases"]), 1.0, edges)
    np.testing.assert_allclose(m1, case["exact_m1"], atol=1e-10)  # the fixture's oracle agrees
    assert chain_zscores(ours, edges, m1, m2).max() < Z_MAX
    assert chain_zscores(theirs, edges, m1, m2).max() < Z_MAX
    a, sa = per_chain_stats(ours, edges)
    b, sb = per_chain_stats(theirs, edges)
    assert np.max(np.abs(a - b) / np.sqrt(sa**2 + sb**2 + 1e-12)) < Z_MAX


def test_rbm_with_a_clamped_visible_block():
    case = fixture("rbm5x3")
    ebm, nodes = build(case)
    vis, hid = nodes[:5], nodes[5:]
    v = np.array([True, False, True, True, False])
    ours = tqt.sample_states(ebm, [Block(hid)], [Block(vis)], clamped_state=[v], n_warmup=20,
                             n_samples=SAMPLES, chains=CHAINS, seed=5)[0]
    assert ours.shape == (CHAINS, SAMPLES, 3)
    ours = np.where(ours, 1, -1).astype(np.int8)
    theirs = run_thrml(ebm, nodes, [Block(hid)], [Block(vis)], [jnp.array(v)], seed=6)[:, :, 5:]
    # exact: hidden units are independent given v, ⟨h_j⟩ = tanh(β(c_j + Σ_i W_ij v_i))
    W = np.zeros((5, 3))
    for (i, j), w in zip(case["edges"], case["weights"]):
        W[i, j - 5] += w
    vs = np.where(v, 1.0, -1.0)
    exact = np.tanh(np.array(case["biases"][5:]) + vs @ W)
    for s in (ours, theirs):
        per = s.astype(float).mean(axis=1)
        se = per.std(axis=0, ddof=1) / np.sqrt(CHAINS)
        assert np.max(np.abs(per.mean(axis=0) - exact) / se) < Z_MAX
    a, sa = ours.astype(float).mean(axis=1).mean(0), ours.astype(float).mean(axis=1).std(0, ddof=1) / np.sqrt(CHAINS)
    b, sb = theirs.astype(float).mean(axis=1).mean(0), theirs.astype(float).mean(axis=1).std(0, ddof=1) / np.sqrt(CHAINS)
    assert np.max(np.abs(a - b) / np.sqrt(sa**2 + sb**2)) < Z_MAX


def test_full_rbm_against_the_fixture_oracle_and_estimate_moments():
    case = fixture("rbm5x3")
    ebm, nodes = build(case)
    edges = [(nodes[i], nodes[j]) for i, j in case["edges"]]
    m1, m2 = tqt.estimate_moments(ebm, [Block(nodes[:5]), Block(nodes[5:])], first_moment_nodes=nodes,
                                  second_moment_edges=edges, n_warmup=100, n_samples=SAMPLES, chains=CHAINS, seed=7)
    for per, ex in ((m1, np.array(case["exact_m1"])), (m2, np.array(case["exact_m2"]))):
        se = per.std(axis=0, ddof=1) / np.sqrt(CHAINS)
        assert np.max(np.abs(per.mean(axis=0) - ex) / se) < Z_MAX


def test_schedule_layout_and_init_state():
    nodes = [SpinNode() for _ in range(4)]
    edges = [(nodes[0], nodes[1]), (nodes[1], nodes[2]), (nodes[2], nodes[3])]
    ebm = IsingEBM(nodes, edges, jnp.zeros(4), jnp.full(3, 0.5), jnp.array(1.0))
    even, odd = Block([nodes[0], nodes[2]]), Block([nodes[1], nodes[3]])
    init = [np.array([True, True]), np.array([False, False])]
    out = tqt.sample_states(ebm, [even, odd], n_warmup=0, n_samples=5, steps_per_sample=3, init_state=init, chains=2)
    assert [o.shape for o in out] == [(2, 5, 2), (2, 5, 2)]
    np.testing.assert_array_equal(out[0][:, 0], True)  # with no warm-up the first sample is the init
    np.testing.assert_array_equal(out[1][:, 0], False)


def test_unsupported_programs_are_rejected_by_name():
    from thrml import CategoricalNode

    nodes = [SpinNode() for _ in range(3)]
    ebm = IsingEBM(nodes, [(nodes[0], nodes[1])], jnp.zeros(3), jnp.ones(1), jnp.array(1.0))
    with pytest.raises(TypeError, match="ebm"):
        tqt.convert(object(), [Block(nodes)])
    cat = CategoricalNode()
    with pytest.raises(TypeError, match="CategoricalNode"):
        tqt.convert(ebm, [Block(nodes), Block([cat])])

    class WithTriplets(IsingEBM):
        @property
        def factors(self):
            return super().factors

    sub = WithTriplets(nodes, [(nodes[0], nodes[1])], jnp.zeros(3), jnp.ones(1), jnp.array(1.0))
    with pytest.raises(TypeError, match="factors"):
        tqt.convert(sub, [Block(nodes)])
    with pytest.raises(ValueError, match="free_blocks"):
        tqt.convert(ebm, [Block(nodes[:2])])  # node 2 in no block
    with pytest.raises(ValueError, match="colors"):
        tqt.sample_states(ebm, [Block(nodes)], n_warmup=1, n_samples=1)  # 0 and 1 are coupled: not a colour class
