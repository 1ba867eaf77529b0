"""Models: dense and edge-list forms agree, RBMs and builders, model files round-trip."""

import numpy as np
import pytest

import thermoq as tq
from conftest import all_states, exact_moments


def test_dense_and_edge_list_forms_build_the_same_model(small_model):
    m, J, h = small_model
    e = m.edges
    m2 = tq.ising(edges=e, couplings=J[e[:, 0], e[:, 1]], h=h, n=8)
    np.testing.assert_array_equal(m2.edges, e)
    np.testing.assert_array_equal(m2.couplings, m.couplings)
    np.testing.assert_array_equal(m.J, J)
    np.testing.assert_array_equal(m.h, h)
    assert m.n == 8 and m.beta == 1.0


def test_energy_matches_the_definition(small_model):
    m, J, h = small_model
    X = all_states(8)
    ref = -0.5 * np.einsum("si,ij,sj->s", X.astype(float), J, X.astype(float)) - X @ h
    np.testing.assert_allclose(m.energy(X), ref, rtol=0, atol=1e-12)


def test_exact_enumeration_matches_numpy(small_model):
    m, J, h = small_model
    ex = tq.exact(m)
    m1, m2, em = exact_moments(J, h, 1.0, m.edges)
    np.testing.assert_allclose(ex["m1"], m1, atol=1e-12)
    np.testing.assert_allclose(ex["m2_edges"], m2, atol=1e-12)
    assert abs(ex["energy_mean"] - em) < 1e-12
    assert abs(ex["pi"].sum() - 1) < 1e-12


def test_rbm_layout_and_energy():
    rng = np.random.default_rng(3)
    W = rng.normal(0, 0.5, (4, 3))
    b = rng.normal(0, 0.1, 4)
    c = rng.normal(0, 0.1, 3)
    m = tq.rbm(W, b, c, beta=0.7)
    assert m.is_rbm and m.rbm_shape == (4, 3) and m.n == 7
    e = m.edges
    assert e.shape == (12, 2)
    np.testing.assert_array_equal(e[5], [1, 4 + 2])  # edge i·hidden + j joins v_i and h_j
    np.testing.assert_allclose(m.couplings, W.reshape(-1))
    X = all_states(7)
    ref = -np.einsum("si,ij,sj->s", X[:, :4].astype(float), W, X[:, 4:].astype(float)) - X[:, :4] @ b - X[:, 4:] @ c
    np.testing.assert_allclose(m.energy(X), ref, atol=1e-12)


def test_builders():
    lat = tq.lattice(4, J=0.4, h=0.1)
    assert lat.n == 16 and len(lat.couplings) == 32
    assert np.all(lat.couplings == 0.4) and np.all(lat.biases == 0.1)
    cw = tq.curie_weiss(6, beta=0.5)
    assert len(cw.couplings) == 15 and np.allclose(cw.couplings, 1 / 6)
    sk = tq.sherrington_kirkpatrick(10, seed=4)
    assert len(sk.couplings) == 45
    hop, pats = tq.hopfield(12, 2, seed=1)
    assert pats.shape == (2, 12) and set(np.unique(pats)) <= {-1, 1}
    np.testing.assert_allclose(hop.J, (pats.T @ pats - 2 * np.eye(12)) / 12, atol=1e-12)
    r = tq.rbm_random(5, 3, std=0.1, seed=2)
    assert r.rbm_shape == (5, 3)


@pytest.mark.parametrize("suffix", [".json", ".bin"])
def test_model_files_round_trip(tmp_path, small_model, suffix):
    m, _, _ = small_model
    p = tmp_path / ("model" + suffix)
    m.save(str(p))
    m2 = tq.load(p)
    np.testing.assert_array_equal(m2.edges, m.edges)
    np.testing.assert_array_equal(m2.couplings, m.couplings)
    np.testing.assert_array_equal(m2.biases, m.biases)
    assert m2.beta == m.beta
    m3 = tq.from_json(m.to_json())
    np.testing.assert_array_equal(m3.couplings, m.couplings)
