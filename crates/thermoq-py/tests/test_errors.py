"""Every bad argument raises ValueError or TypeError whose message names the argument."""

import numpy as np
import pytest

import thermoq as tq

GOOD_J = np.array([[0.0, 1.0], [1.0, 0.0]])


def raises(exc, name, f, *a, **k):
    with pytest.raises(exc) as info:
        f(*a, **k)
    assert str(info.value).startswith(name), str(info.value)


@pytest.mark.parametrize(
    "exc, name, kwargs",
    [
        (ValueError, "J", dict(J=np.array([[0.0, 1.0], [0.5, 0.0]]))),  # asymmetric
        (ValueError, "J", dict(J=np.array([[0.0, np.nan], [np.nan, 0.0]]))),
        (ValueError, "J", dict(J=np.array([[0.0, np.inf], [np.inf, 0.0]]))),
        (ValueError, "J", dict(J=np.ones(3))),  # wrong shape
        (ValueError, "J", dict(J=np.ones((2, 3)))),
        (ValueError, "J", dict(J=np.eye(2))),  # self-coupling
        (TypeError, "J", dict(J=np.array([["a", "b"], ["c", "d"]]))),
        (TypeError, "J", dict(J=GOOD_J.astype(complex))),
        (ValueError, "h", dict(J=GOOD_J, h=np.ones(3))),
        (ValueError, "h", dict(J=GOOD_J, h=np.array([0.0, np.nan]))),
        (ValueError, "beta", dict(J=GOOD_J, beta=-1.0)),
        (ValueError, "beta", dict(J=GOOD_J, beta=float("nan"))),
        (TypeError, "beta", dict(J=GOOD_J, beta="hot")),
        (TypeError, "edges", dict(edges=np.array([[0.5, 1.0]]), couplings=[1.0])),
        (ValueError, "couplings", dict(edges=[[0, 1]], couplings=[1.0, 2.0])),
        (ValueError, "edges", dict(edges=[[0, 0]], couplings=[1.0], n=2)),  # self-loop
        (ValueError, "edges", dict(edges=[[0, 5]], couplings=[1.0], n=2)),  # out of range
        (ValueError, "edges", dict(edges=[[0, -1]], couplings=[1.0], n=2)),
    ],
)
def test_bad_models(exc, name, kwargs):
    raises(exc, name, tq.ising, **kwargs)


def test_bad_rbm_and_builders():
    raises(ValueError, "W", tq.rbm, np.ones(3))
    raises(ValueError, "W", tq.rbm, np.array([[np.nan]]))
    raises(ValueError, "b", tq.rbm, np.ones((2, 2)), np.ones(3))
    raises(ValueError, "lx", tq.lattice, 2)
    raises(TypeError, "n", tq.curie_weiss, 4.5)
    raises(ValueError, "n", tq.curie_weiss, -3)
    raises(TypeError, "path", tq.load, 3)
    with pytest.raises(ValueError):
        tq.load("/nonexistent/model.json")


@pytest.mark.parametrize(
    "exc, name, kwargs",
    [
        (ValueError, "kernel", dict(kernel="gibbs")),
        (TypeError, "kernel", dict(kernel=3)),
        (ValueError, "engine", dict(engine="gpu")),
        (ValueError, "sweeps", dict(sweeps=-1)),
        (ValueError, "sweeps", dict(sweeps=0)),
        (ValueError, "chains", dict(chains=0)),
        (TypeError, "chains", dict(chains=2.5)),
        (ValueError, "burn_in", dict(burn_in=-5)),
        (ValueError, "output", dict(output="everything")),
        (ValueError, "generator", dict(generator="mt19937")),
        (ValueError, "generator", dict(generator="xoshiro128+", engine="reference")),
        (ValueError, "init", dict(init=np.zeros((4, 8), dtype=np.int8), chains=4)),
        (ValueError, "init", dict(init=np.ones((3, 8), dtype=np.int8), chains=4)),
        (TypeError, "init", dict(init=np.full((4, 8), 0.5), chains=4)),
        (ValueError, "fields", dict(fields=np.full((4, 8), np.inf), chains=4, kernel="blk-alt")),
        (ValueError, "fields", dict(fields=np.zeros((4, 7)), chains=4, kernel="blk-alt")),
        (ValueError, "colors", dict(colors=np.zeros(8, dtype=int), kernel="blk-alt")),  # not proper
        (ValueError, "engine", dict(engine="lattice", kernel="blk-alt")),  # not a lattice
        (ValueError, "kernel", dict(engine="lanes", kernel="rs1")),  # fast engines are block-only
        (ValueError, "clamp", dict(clamp={9: 1})),
        (ValueError, "clamp values", dict(clamp={0: 3})),
    ],
)
def test_bad_sampling_arguments(small_model, exc, name, kwargs):
    m, _, _ = small_model
    args = dict(sweeps=10, burn_in=0, chains=4)
    args.update(kwargs)
    raises(exc, name, tq.sample, m, **args)


def test_bad_model_argument():
    raises(TypeError, "model", tq.sample, "not a model")


@pytest.mark.parametrize(
    "exc, name, f, x",
    [
        (ValueError, "x", tq.tau, np.array([1.0, np.nan, 2.0, 3.0])),
        (ValueError, "x", tq.tau, np.array([1.0, np.inf, 2.0, 3.0])),
        (ValueError, "x", tq.tau, np.ones(100)),  # constant: τ undefined
        (TypeError, "x", tq.tau, np.array(["a", "b"])),
        (ValueError, "x", tq.ess, np.array([[1.0, 2.0, 3.0]])),  # too short
        (ValueError, "x", tq.rhat, np.array([[1.0, np.nan, 3.0, 4.0, 5.0]])),
        (ValueError, "x", tq.tau_int, np.zeros((2, 3, 4, 5))),
    ],
)
def test_bad_estimator_inputs(exc, name, f, x):
    raises(exc, name, f, x)


def test_analyze_rejects_bad_arguments(small_model):
    m, _, _ = small_model
    raises(ValueError, "data_means", tq.analyze, m, data_means=np.ones(3))
    raises(ValueError, "kernel", tq.analyze, m, kernel="nope")
    raises(ValueError, "window", tq.analyze, m, window="soon")


def test_a_rust_panic_is_a_runtime_error_and_the_interpreter_survives():
    with pytest.raises(RuntimeError, match="panic"):
        tq._native._panic_for_tests()
    # still alive and working
    assert tq.curie_weiss(3).n == 3
