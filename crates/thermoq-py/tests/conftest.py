"""Shared helpers of the thermoq Python test suite: exact enumeration in numpy (an oracle
independent of the Rust code) and a z-score check whose standard errors come from the spread of
independent per-chain time averages (so autocorrelation is included without estimating τ)."""

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
ORACLE_FIXTURE = REPO / "crates" / "thermoq-samplers" / "tests" / "fixtures" / "thrml-oracle-fixture.json"


def all_states(n):
    """All 2^n states, row s has x_i = +1 exactly when bit i of s is set."""
    s = np.arange(2**n)[:, None]
    return np.where((s >> np.arange(n)) & 1, 1, -1).astype(np.int8)


def exact_moments(J, h, beta, edges):
    """Exact ⟨x_i⟩, ⟨x_i x_j⟩ (edges) and ⟨E⟩ of π ∝ exp(−βE), E = −½xᵀJx − hᵀx."""
    X = all_states(len(h)).astype(np.float64)
    E = -0.5 * np.einsum("si,ij,sj->s", X, J, X) - X @ h
    w = np.exp(-beta * (E - E.min()))
    p = w / w.sum()
    m1 = p @ X
    m2 = np.array([p @ (X[:, i] * X[:, j]) for i, j in edges])
    return m1, m2, float(p @ E)


def chain_zscores(states, edges, m1_exact, m2_exact):
    """|z| of every ⟨x_i⟩ and edge ⟨x_i x_j⟩ from a (chain, draw, node) trace, with the standard
    error of the mean over chains of the per-chain time averages (chains are independent)."""
    x = states.astype(np.float64)
    c = x.shape[0]
    per1 = x.mean(axis=1)  # (chain, node)
    e = np.asarray(edges)
    per2 = (x[:, :, e[:, 0]] * x[:, :, e[:, 1]]).mean(axis=1)  # (chain, edge)
    z = []
    for per, ex in ((per1, m1_exact), (per2, m2_exact)):
        se = per.std(axis=0, ddof=1) / np.sqrt(c)
        se = np.maximum(se, 1e-3 / np.sqrt(c))  # a frozen observable: never divide by 0
        z.append(np.abs(per.mean(axis=0) - ex) / se)
    return np.concatenate(z)


@pytest.fixture
def small_model():
    """An 8-spin frustrated model with biases: couplings and biases drawn from a fixed seed."""
    import thermoq as tq

    rng = np.random.default_rng(12)
    n = 8
    J = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        if rng.random() < 0.5:
            J[i, j] = J[j, i] = rng.normal(0, 0.5)
    h = rng.normal(0, 0.3, n)
    return tq.ising(J, h, beta=1.0), J, h


def require(env):
    """True when the CI script demands that an optional dependency be present."""
    return os.environ.get(env, "") == "1"
