"""The exact cell analysis from Python agrees with the science: bias-free ⇒ odd slowest mode,
invisible to the (even) coupling observables."""

import numpy as np
import pytest

import thermoq as tq


def test_curie_weiss_spectrum_summary_and_predictors():
    m = tq.curie_weiss(6, beta=0.8)
    r = tq.analyze(m, kernel="rs1", chains=4)
    sp = r["spectrum"]
    assert sp["phi2_parity"] == "odd"
    assert sp["phi2_max_overlap"] < 1e-12
    assert 0 < sp["gap"] < 1 and abs(sp["sigma2"] - (1 - sp["gap"])) < 1e-12
    assert sp["gamma_eff"] > sp["gap"]  # the relevant mode is faster than the slowest one
    assert r["qop"]["q_op"] > 0
    names = [p["prediction"]["predictor"] for p in r["predictions"]]
    assert "struct-perp" in names and "naive" in names
    assert r["n_observables"] == 15


def test_nonreversible_kernel_has_no_spectrum_but_a_qop():
    m = tq.curie_weiss(5, beta=0.5)
    r = tq.analyze(m, kernel="ss1", burn_in=10, window=100, observables="all")
    assert r["spectrum"] is None and r["reversible"] is False
    assert r["n_observables"] == 10 + 5
    assert r["config"]["window"] == 100


def _q_fixed_cluster(edges, J, h, beta, dm, window, cluster):
    """Q_struct⊥ = (K/2)‖g‖²/T_O with the cluster held fixed; ‖g‖² from numpy's own exact
    enumeration (g_a = E_data[f_a] − E_π[f_a], f_ij = −x_i x_j, f_i = −x_i), T_O from thermoq."""
    m = tq.ising(edges=edges, couplings=J, h=h, n=len(h), beta=beta)
    ex = tq.exact(m)
    e_pi = np.concatenate([-np.asarray(ex["m2_edges"]), -np.asarray(ex["m1"])])
    g2 = float(np.sum((dm - e_pi) ** 2))
    t = tq.struct_perp_t_o(m, cluster, observables="all")
    return 0.5 * window * g2 / t


def test_struct_perp_gradient_matches_a_finite_difference_of_q_struct_perp():
    # a 5-spin frustrated model with biases; data means of a different model's law
    rng = np.random.default_rng(5)
    n = 5
    edges = np.array([(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.7], dtype=np.int64)
    J = rng.normal(0, 0.6, len(edges))
    h = rng.normal(0, 0.4, n)
    beta, window = 1.0, 200.0
    target = tq.exact(tq.ising(edges=edges, couplings=rng.normal(0, 0.6, len(edges)), h=rng.normal(0, 0.4, n), n=n))
    dm = np.concatenate([-np.asarray(target["m2_edges"]), -np.asarray(target["m1"])])
    m = tq.ising(edges=edges, couplings=J, h=h, n=n, beta=beta)
    r = tq.struct_perp_gradient(m, data_means=dm, observables="all", window=window)
    assert r.dq.shape == (len(edges) + n,) and len(r.cluster) >= 1
    # the value itself, rebuilt from numpy's exact enumeration and the fixed-cluster T_O
    q0 = _q_fixed_cluster(edges, J, h, beta, dm, window, r.cluster)
    assert abs(q0 - r.q) <= 1e-10 * r.q
    assert abs(tq.struct_perp_t_o(m, r.cluster, observables="all") - r.t_o) <= 1e-12 * r.t_o
    # Central differences, step 1e-4: truncation ≈ h²|Q'''|/6 ~ 1e-9 relative for O(1)
    # parameters, rounding ≈ 1e-16 |Q| / h ~ 1e-12; each component is compared with the largest
    # component (exact zeros by symmetry have no scale of their own), limit 1e-5 (SCIENCE.md II.5).
    step = 1e-4
    theta = np.concatenate([J, h])
    scale = np.max(np.abs(r.dq))
    assert scale > 0
    for b in range(len(theta)):
        tp, tm = theta.copy(), theta.copy()
        tp[b] += step
        tm[b] -= step
        qp = _q_fixed_cluster(edges, tp[: len(J)], tp[len(J):], beta, dm, window, r.cluster)
        qm = _q_fixed_cluster(edges, tm[: len(J)], tm[len(J):], beta, dm, window, r.cluster)
        fd = (qp - qm) / (2 * step)
        assert abs(fd - r.dq[b]) <= 1e-5 * scale, (b, fd, r.dq[b])


def test_struct_perp_gradient_bad_arguments():
    m = tq.curie_weiss(4, beta=0.5)
    with pytest.raises(ValueError, match="data_means"):
        tq.struct_perp_gradient(m, data_means=np.zeros(3))
    with pytest.raises(ValueError, match="window"):
        tq.struct_perp_gradient(m, window=0.0)
    with pytest.raises(ValueError, match="observables"):
        tq.struct_perp_gradient(m, observables="edges")
    with pytest.raises(TypeError, match="cluster"):
        tq.struct_perp_t_o(m, [0.5])
    with pytest.raises(ValueError, match="cluster"):
        tq.struct_perp_t_o(m, [1 << 20])
