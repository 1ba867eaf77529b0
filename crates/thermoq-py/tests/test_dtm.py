"""DTM checkpoints: save, load, generate digits as arrays (deterministic for a seed), train on
digit arrays, and the inpainting check (numpy arrays out)."""

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


def _digits(count=60, seed=4):
    """Synthetic 28×28 grey-level digits of classes 0-3: class k is a bright bar whose position
    depends on k (top-left, top-right, bottom-left, bottom-right quadrant strokes), plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 4
    im = (rng.random((count, 28, 28)) < 0.05).astype(np.uint8) * 200
    for i, k in enumerate(labels):
        r0 = 4 if k < 2 else 16
        c0 = 4 if k % 2 == 0 else 16
        im[i, r0 : r0 + 8, c0 : c0 + 8] = 255
        im[i, 2:26, 13:15] = 180  # a shared vertical stroke through both halves
    return im, labels


TINY = dict(batch=10, warmup=10, samples=4, sweeps_per_sample=2, probe=None, inpaint_test=8,
            generation=dict(sweeps=60, beta_start=0.8, beta_end=1.2, per_class=4))


def test_inpainting_of_a_small_trained_checkpoint(tmp_path):
    images, labels = _digits()
    d = tq.Dtm.untrained("quick", **TINY)
    assert d.config["batch"] == 10 and d.config["probe"] is None
    d.train(images, labels, epochs=1)
    assert d.epochs_done == 1
    hist = d.inpaint_history
    assert len(hist) == 1 and isinstance(hist[0], float)
    p = tmp_path / "tiny.json"
    d.save(p)
    e = tq.Dtm.load(p)
    r = e.inpaint(images, labels, n=8)
    side = r.images.shape[1]
    assert r.images.shape == r.targets.shape == (8, side, side) and side == 14  # 2×2 pooled
    assert r.images.dtype == np.int8 and set(np.unique(r.images)) <= {-1, 1}
    assert set(np.unique(r.targets)) <= {-1, 1}
    assert r.classes.shape == (8,) and r.classes.max() < 4
    # the same check training ran after its epoch, on the same test digits: the same number
    assert r.error == hist[0]
    # the error is the bottom-half mismatch rate of the returned arrays
    assert r.error == np.mean(r.images[:, side // 2 :] != r.targets[:, side // 2 :])
    # the top half is clamped (fields ±20 against couplings of order 0.01-0.1: a flip has
    # probability ≈ e^-38 per pixel)
    np.testing.assert_array_equal(r.images[:, : side // 2], r.targets[:, : side // 2])
    # deterministic
    r2 = e.inpaint(images, labels, n=8)
    np.testing.assert_array_equal(r.images, r2.images)
    assert e.inpaint(images, labels).error == r.error  # default n = inpaint_test = 8


def test_inpaint_and_train_bad_arguments():
    images, labels = _digits(count=20)
    d = tq.Dtm.untrained("quick", **TINY)
    with pytest.raises(TypeError, match="images"):
        d.inpaint(images.astype(np.float32), labels)
    with pytest.raises(ValueError, match="labels"):
        d.inpaint(images, labels[:-1])
    with pytest.raises(ValueError, match="images"):
        d.inpaint(images[:, :, :20], labels)  # 28×20 pixels: not the model's image size
    with pytest.raises(ValueError, match=r"^n:"):
        d.inpaint(images, labels, n=0)
    with pytest.raises(ValueError, match="epochs"):
        d.train(images, labels, epochs=0)
    with pytest.raises(ValueError, match="config"):
        tq.Dtm.untrained("quick", no_such_setting=1)
