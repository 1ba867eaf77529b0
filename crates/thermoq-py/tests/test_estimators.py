"""τ_int equals emcee's integrated_time; ESS and split-R̂ equal ArviZ's; the doubling status."""

import numpy as np
import pytest

import thermoq as tq

emcee = pytest.importorskip("emcee")


def ar1(phi, n, chains, seed):
    rng = np.random.default_rng(seed)
    x = np.empty((chains, n))
    x[:, 0] = rng.normal(size=chains) / np.sqrt(1 - phi**2)
    eps = rng.normal(size=(chains, n))
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + eps[:, t]
    return x


@pytest.mark.parametrize("phi, n, seed", [(0.0, 4000, 1), (0.5, 5000, 2), (0.9, 20000, 3), (0.99, 3000, 4)])
def test_tau_equals_emcee_for_1d_2d_and_3d(phi, n, seed):
    x = ar1(phi, n, 6, seed)  # (chains, draws)
    ref1 = emcee.autocorr.integrated_time(x[0], quiet=True)
    np.testing.assert_allclose(tq.tau(x[0]), ref1, rtol=1e-6, atol=0)
    ref2 = emcee.autocorr.integrated_time(x.T, quiet=True)  # (draws, walkers)
    np.testing.assert_allclose(tq.tau(x.T), ref2, rtol=1e-6, atol=0)
    x3 = np.stack([x.T, 2.0 * x.T + 1.0, x[::-1].T ** 3], axis=2)  # (draws, walkers, params)
    ref3 = emcee.autocorr.integrated_time(x3, quiet=True)
    got3 = tq.tau(x3)
    assert got3.shape == (3,)
    np.testing.assert_allclose(got3, ref3, rtol=1e-6, atol=0)


@pytest.mark.parametrize("phi, n, chains, seed", [(0.0, 1000, 4, 1), (0.7, 3000, 4, 2), (0.95, 2001, 3, 3), (0.5, 500, 1, 4)])
def test_ess_and_rhat_equal_arviz(phi, n, chains, seed):
    az = pytest.importorskip("arviz")
    x = ar1(phi, n, chains, seed)
    x[-1] += 0.3  # chains that disagree a little, so R̂ is not trivially 1
    ref_ess = float(az.ess(x, method="mean"))
    ref_rhat = float(az.rhat(x, method="split"))
    assert abs(tq.ess(x) - ref_ess) <= 1e-6 * ref_ess
    if chains >= 2:
        assert abs(tq.rhat(x) - ref_rhat) <= 1e-6 * ref_rhat
    else:
        # ArviZ needs 2 chains for R̂ (NaN); thermoq compares the two halves of the one chain
        assert np.isnan(ref_rhat) and np.isfinite(tq.rhat(x))
    # (chain, draw, *shape) convention
    y = np.stack([x, -x, x**2], axis=2)
    got = tq.ess(y)
    assert got.shape == (3,)
    for k in range(3):
        r = float(az.ess(y[:, :, k], method="mean"))
        assert abs(got[k] - r) <= 1e-6 * r


def test_doubling_status_resolved_and_lower_bound():
    ok = tq.tau_int(ar1(0.5, 40000, 4, 11))
    assert ok.status == "resolved" and ok.value is not None
    assert abs(ok.tau - 3.0) < 5 * ok.std_err  # exact τ of AR(1) = (1+φ)/(1−φ) = 3
    slow = tq.tau_int(ar1(0.999, 4000, 4, 12))
    assert slow.status == "lower-bound" and slow.value is None
    assert len(slow.rows) == 2


def test_tau_of_a_sampled_trace_runs_end_to_end():
    m = tq.lattice(8, J=0.2)
    s = tq.sample(m, kernel="blk-sym", sweeps=4000, chains=8, seed=1, output="trace")
    mag = s.states.mean(axis=2, dtype=np.float64)  # (chain, draw)
    t = tq.tau(mag.T)
    assert t.shape == (1,) and 1.0 <= t[0] < 50
    r = tq.tau_int(mag)
    assert r.status in ("resolved", "lower-bound")
    assert 0.9 < tq.rhat(mag) < 1.1
