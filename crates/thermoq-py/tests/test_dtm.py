"""DTM checkpoints: save, load, generate digits as arrays (deterministic for a seed)."""

import numpy as np
import pytest

import thermoq as tq


def test_checkpoint_round_trip_and_generation(tmp_path):
    d = tq.Dtm.untrained("quick")
    p = tmp_path / "checkpoint.json"
    d.save(p)
    e = tq.Dtm.load(p)
    assert e.digits == d.digits and e.epochs_done == 0
    imgs = e.generate([0, 1, 0], seed=3)
    assert imgs.dtype == np.int8 and imgs.shape[0] == 3
    assert set(np.unique(imgs)) <= {-1, 1}
    np.testing.assert_array_equal(imgs, e.generate([0, 1, 0], seed=3))
    with pytest.raises(ValueError, match="classes"):
        e.generate([len(e.digits)])
    with pytest.raises(ValueError, match="path"):
        tq.Dtm.load(tmp_path / "missing.json")
