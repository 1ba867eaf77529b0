"""The exact cell analysis from Python agrees with the science: bias-free ⇒ odd slowest mode,
invisible to the (even) coupling observables."""

import numpy as np

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
