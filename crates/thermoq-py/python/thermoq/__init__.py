"""thermoq for Python: fast Gibbs kernels, exact analysis and MCMC estimators on numpy arrays.

Quick start::

    import thermoq as tq
    m = tq.lattice(32, J=0.4)                                   # periodic 32×32 Ising lattice
    s = tq.sample(m, kernel="blk-sym", sweeps=2000, chains=16, output="trace")
    mag = s.states.mean(axis=2)                                  # (chain, draw) magnetisation
    print(tq.tau(mag.T), tq.ess(mag), tq.rhat(mag))

Conventions (the same as the Rust crates): spins are ``int8`` ±1; the law is
``π(x) ∝ exp(−β E(x))`` with ``E(x) = −Σ_edges J_ij x_i x_j − Σ_i h_i x_i``; one *sweep* is the
unit of time (N spin updates); traces are shaped ``(chain, draw, node)``; chain ``c`` of a run with
seed ``s`` always draws from its own random stream, so results depend only on the seed and the
configuration, never on the thread count.

Every bad argument raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong value or
shape, NaN/Inf, asymmetric ``J``, unknown kernel, …) with a message that starts with the
argument's name. Long calls release the GIL and stop with ``KeyboardInterrupt`` between sweeps.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from . import _native
from ._native import Model

__all__ = [
    "Model",
    "ising",
    "rbm",
    "rbm_random",
    "lattice",
    "curie_weiss",
    "sherrington_kirkpatrick",
    "hopfield",
    "load",
    "from_json",
    "sample",
    "sample_pt",
    "Samples",
    "PtSamples",
    "ladder",
    "tau",
    "tau_int",
    "TauResult",
    "ess",
    "rhat",
    "analyze",
    "KERNELS",
    "ENGINES",
]

__version__ = _native.__version__

#: Kernel names accepted by :func:`sample` (SCIENCE.md II.2).
KERNELS = ("rs1", "ss1", "mh1", "blk-alt", "blk-sym", "blk-rs")
#: Engine names accepted by :func:`sample`.
ENGINES = ("auto", "reference", "sparse", "sparse-f32", "lattice", "dense", "lanes")


# ---------------------------------------------------------------------------------------------
# argument checking


def _int(name: str, v: Any, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(v).__name__}")
    v = int(v)
    if v < minimum:
        raise ValueError(f"{name}: is {v}, expected at least {minimum}")
    return v


def _float(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name}: expected a real number, got {type(v).__name__}")
    v = float(v)
    if not np.isfinite(v):
        raise ValueError(f"{name}: is {v}, expected a finite number")
    return v


def _beta(v: Any) -> float:
    b = _float("beta", v)
    if b <= 0:
        raise ValueError(f"beta: is {b}, expected a finite number > 0")
    return b


def _str(name: str, v: Any, allowed: Sequence[str]) -> str:
    if not isinstance(v, str):
        raise TypeError(f"{name}: expected a string, got {type(v).__name__}")
    t = v.lower().replace("_", "-")
    if t not in allowed:
        raise ValueError(f"{name}: is {v!r}, expected one of {', '.join(allowed)}")
    return t


def _real_array(name: str, a: Any, ndim: Optional[int] = None) -> np.ndarray:
    """A finite float64 array from real numbers; TypeError for other dtypes."""
    if a is None:
        raise TypeError(f"{name}: expected an array, got None")
    arr = np.asarray(a)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{name}: has dtype {arr.dtype}, expected real numbers (float or int)"
        )
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: has shape {arr.shape}, expected a {ndim}-D array")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}: entry {idx if arr.ndim > 1 else idx[0]} is {arr[idx]}, expected a finite number"
        )
    return arr


def _spin_array(name: str, a: Any, shape: tuple, native_checks_int8: bool = False) -> np.ndarray:
    """A ±1 int8 array of the given shape (bool is accepted: True → +1, False → −1).

    With ``native_checks_int8`` an int8 array's values are left to the native call, which checks
    every entry itself (with no per-entry branch) and names ``name`` and the first bad entry."""
    arr = np.asarray(a)
    if arr.dtype.kind == "b":
        arr = np.where(arr, 1, -1)
    elif arr.dtype.kind not in "iu" and not (
        arr.dtype.kind == "f" and np.all(np.isin(arr, (-1.0, 1.0)))
    ):
        raise TypeError(f"{name}: has dtype {arr.dtype}, expected ±1 integers or booleans")
    if arr.shape != shape:
        raise ValueError(f"{name}: has shape {arr.shape}, expected {shape}")
    if not (native_checks_int8 and arr.dtype == np.int8) and not np.all((arr == 1) | (arr == -1)):
        raise ValueError(f"{name}: has entries other than -1 and +1")
    return np.ascontiguousarray(arr, dtype=np.int8)


# ---------------------------------------------------------------------------------------------
# models


def ising(
    J: Any = None,
    h: Any = None,
    *,
    edges: Any = None,
    couplings: Any = None,
    n: Optional[int] = None,
    beta: float = 1.0,
    atol: float = 1e-12,
) -> Model:
    """An Ising model / Boltzmann machine ``π(x) ∝ exp(β(Σ J_ij x_i x_j + Σ h_i x_i))``.

    Dense form: ``J`` is a symmetric ``(n, n)`` array with a zero diagonal (each pair counted
    once in the energy; ``J[i, j] == J[j, i]`` within ``atol`` relative to ``max |J|``), or a
    ``scipy.sparse`` matrix. Sparse form: ``edges`` ``(E, 2)`` integer pairs and ``couplings``
    ``(E,)``, with ``n`` spins. ``h`` (default zeros) has shape ``(n,)``.
    Edge order is the order of ``edges``, or row-major upper triangle of the dense ``J``.
    """
    beta = _beta(beta)
    if J is not None and (edges is not None or couplings is not None):
        raise ValueError("J: give either a dense J or edges + couplings, not both")
    if J is not None:
        if hasattr(J, "tocoo") and not isinstance(J, np.ndarray):
            coo = J.tocoo()
            nn = coo.shape[0]
            if coo.shape != (nn, nn):
                raise ValueError(f"J: has shape {coo.shape}, expected a square matrix")
            dense = np.zeros(coo.shape)
            np.add.at(dense, (coo.row, coo.col), coo.data)
            J = dense
        Jm = _real_array("J", J, 2)
        nn = Jm.shape[0]
        if Jm.shape != (nn, nn):
            raise ValueError(f"J: has shape {Jm.shape}, expected a square (n, n) matrix")
        scale = max(float(np.abs(Jm).max(initial=0.0)), 1.0)
        asym = np.abs(Jm - Jm.T)
        if asym.max(initial=0.0) > atol * scale:
            i, j = (int(v) for v in np.unravel_index(np.argmax(asym), asym.shape))
            raise ValueError(
                f"J: is not symmetric: J[{i}, {j}] = {Jm[i, j]} but J[{j}, {i}] = {Jm[j, i]}"
            )
        if np.any(np.diag(Jm) != 0):
            i = int(np.flatnonzero(np.diag(Jm))[0])
            raise ValueError(f"J: diagonal entry J[{i}, {i}] = {Jm[i, i]}, expected 0 (no self-couplings)")
        iu, ju = np.triu_indices(nn, 1)
        keep = Jm[iu, ju] != 0
        e = np.stack([iu[keep], ju[keep]], axis=1).astype(np.int64)
        w = np.ascontiguousarray(Jm[iu, ju][keep])
        if n is not None and _int("n", n, 1) != nn:
            raise ValueError(f"n: is {n}, but J has shape {Jm.shape}")
        n = nn
    else:
        if edges is None or couplings is None:
            raise TypeError("J: give a dense J, or edges and couplings")
        ea = np.asarray(edges)
        if ea.dtype.kind not in "iu":
            raise TypeError(f"edges: has dtype {ea.dtype}, expected integers")
        if ea.size == 0:
            ea = ea.reshape(0, 2)
        if ea.ndim != 2 or ea.shape[1] != 2:
            raise ValueError(f"edges: has shape {ea.shape}, expected (E, 2)")
        e = np.ascontiguousarray(ea, dtype=np.int64)
        w = _real_array("couplings", couplings, 1)
        if w.shape[0] != e.shape[0]:
            raise ValueError(
                f"couplings: has length {w.shape[0]}, expected one per edge ({e.shape[0]})"
            )
        if n is None:
            n = int(e.max()) + 1 if e.size else (0 if h is None else len(np.asarray(h)))
        n = _int("n", n, 1)
    hv = np.zeros(n) if h is None else _real_array("h", h, 1)
    if hv.shape != (n,):
        raise ValueError(f"h: has shape {hv.shape}, expected ({n},)")
    return Model.from_edges(n, e, np.ascontiguousarray(w, dtype=np.float64), hv, beta)


def rbm(W: Any, b: Any = None, c: Any = None, *, beta: float = 1.0) -> Model:
    """A restricted Boltzmann machine: weights ``W`` ``(visible, hidden)``, visible biases ``b``,
    hidden biases ``c`` (default zeros). Spin ``i < visible`` is visible unit ``i``; hidden unit
    ``j`` is spin ``visible + j``; edge ``(i, j)`` has index ``i·hidden + j``."""
    Wm = _real_array("W", W, 2)
    m, k = Wm.shape
    if m == 0 or k == 0:
        raise ValueError(f"W: has shape {Wm.shape}, expected both layers non-empty")
    bv = np.zeros(m) if b is None else _real_array("b", b, 1)
    cv = np.zeros(k) if c is None else _real_array("c", c, 1)
    if bv.shape != (m,):
        raise ValueError(f"b: has shape {bv.shape}, expected ({m},)")
    if cv.shape != (k,):
        raise ValueError(f"c: has shape {cv.shape}, expected ({k},)")
    return Model.rbm(Wm, bv, cv, _beta(beta))


def rbm_random(visible: int, hidden: int, *, std: float = 0.01, beta: float = 1.0, seed: int = 0) -> Model:
    """An RBM with ``W ~ N(0, std²)`` drawn from ``seed`` (the Rust ``Rbm::random``), zero biases."""
    return Model.rbm_random(
        _int("visible", visible, 1), _int("hidden", hidden, 1), _float("std", std), _beta(beta), _int("seed", seed)
    )


def lattice(lx: int, ly: Optional[int] = None, *, J: float = 1.0, h: float = 0.0, beta: float = 1.0) -> Model:
    """Periodic ``lx × ly`` square lattice (sides ≥ 3), uniform coupling ``J`` and bias ``h``.
    Spin ``(r, c)`` is index ``r·lx + c``."""
    lx = _int("lx", lx, 3)
    ly = lx if ly is None else _int("ly", ly, 3)
    return Model.lattice(lx, ly, _float("J", J), _float("h", h), _beta(beta))


def curie_weiss(n: int, *, beta: float = 1.0) -> Model:
    """Curie–Weiss model: complete graph on ``n`` spins, ``J = 1/n``, no bias."""
    return Model.curie_weiss(_int("n", n, 2), _beta(beta))


def sherrington_kirkpatrick(n: int, *, beta: float = 1.0, seed: int = 0) -> Model:
    """Sherrington–Kirkpatrick spin glass: complete graph, ``J_ij ~ N(0, 1/n)`` from ``seed``."""
    return Model.sherrington_kirkpatrick(_int("n", n, 2), _beta(beta), _int("seed", seed))


def hopfield(n: int, patterns: int, *, beta: float = 1.0, seed: int = 0) -> tuple:
    """Hopfield network with ``patterns`` random ±1 patterns; returns ``(model, patterns)``
    with ``patterns`` of shape ``(patterns, n)``."""
    return Model.hopfield(_int("n", n, 2), _int("patterns", patterns, 1), _beta(beta), _int("seed", seed))


def load(path: Union[str, os.PathLike]) -> Model:
    """Reads a ``thermoq-ising-v1`` model file (JSON or binary)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or path, got {type(path).__name__}")
    return Model.load(os.fspath(path))


def from_json(text: str) -> Model:
    """Parses a ``thermoq-ising-v1`` JSON document."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    return Model.from_json(text)


def _dense_J(model: Model) -> np.ndarray:
    J = np.zeros((model.n, model.n))
    e = model.edges
    if len(e):
        J[e[:, 0], e[:, 1]] = model.couplings
        J[e[:, 1], e[:, 0]] = model.couplings
    return J


# Python-side conveniences on the native class.
Model.J = property(_dense_J, doc="Dense symmetric coupling matrix (n, n), zero diagonal.")
Model.h = property(lambda self: self.biases, doc="Biases (n,).")


# ---------------------------------------------------------------------------------------------
# sampling


@dataclasses.dataclass
class Samples:
    """The result of :func:`sample`.

    ``states`` (``output="trace"``) is ``(chain, draw, node)`` ``int8``; ``final`` the last state
    of every chain ``(chain, node)`` (pass it as ``init=`` to continue). ``m1``, ``m2_edges``
    (edge order of the model), ``energy_mean`` and ``energy_var`` are the moments over all recorded
    states (``output="moments"`` or ``"trace"``).
    """

    kernel: str
    engine: str
    seed: int
    chains: int
    sweeps: int
    burn_in: int
    final: np.ndarray
    states: Optional[np.ndarray] = None
    m1: Optional[np.ndarray] = None
    m2_edges: Optional[np.ndarray] = None
    energy_mean: Optional[float] = None
    energy_var: Optional[float] = None
    count: int = 0

    def to_arviz_dict(self, nodes: Optional[Sequence[int]] = None) -> dict:
        """``{"x": (chain, draw, node) float array}`` for ``arviz.from_dict(posterior=...)``
        (or ``arviz.convert_to_datatree``); ``nodes`` picks a subset of spins."""
        if self.states is None:
            raise ValueError("states: not recorded; sample with output=\"trace\"")
        x = self.states if nodes is None else self.states[:, :, list(nodes)]
        return {"x": x.astype(np.float64)}

    def save_npz(self, path: Union[str, os.PathLike]) -> None:
        """Writes every array (and the configuration) to a ``.npz`` file."""
        arrays = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        np.savez_compressed(os.fspath(path), **{k: np.asarray(v) for k, v in arrays.items()})


def _reduce(model: Model, clamp: Any, chains: int, colors: Optional[np.ndarray]):
    """Conditions out clamped spins: returns (reduced model, free indices, clamped indices,
    clamped values (chains, K) int8, per-chain extra fields or None, reduced colors)."""
    if isinstance(clamp, Mapping):
        idx = np.array(list(clamp.keys()))
        vals = np.array(list(clamp.values()))
    else:
        if not isinstance(clamp, (tuple, list)) or len(clamp) != 2:
            raise TypeError("clamp: expected {index: value} or (indices, values)")
        idx, vals = np.asarray(clamp[0]), np.asarray(clamp[1])
    if idx.dtype.kind not in "iu":
        raise TypeError(f"clamp: indices have dtype {idx.dtype}, expected integers")
    idx = idx.astype(np.int64).reshape(-1)
    n = model.n
    if idx.size == 0:
        raise ValueError("clamp: is empty")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"clamp: index out of range 0..{n}")
    if len(np.unique(idx)) != len(idx):
        raise ValueError("clamp: an index appears twice")
    if len(idx) >= n:
        raise ValueError("clamp: clamps every spin; at least one must be free")
    per_chain = np.asarray(vals).ndim == 2
    shape = (chains, len(idx)) if per_chain else (len(idx),)
    v = _spin_array("clamp values", vals, shape)
    v2 = v if per_chain else np.broadcast_to(v, (chains, len(idx)))
    free = np.setdiff1d(np.arange(n), idx)
    pos = -np.ones(n, dtype=np.int64)
    pos[free] = np.arange(len(free))
    cpos = -np.ones(n, dtype=np.int64)
    cpos[idx] = np.arange(len(idx))
    e, J, h = model.edges, model.couplings, model.biases
    hr = h[free].copy()
    fields = np.zeros((chains, len(free)))
    keep = []
    for k, (a, b) in enumerate(e):
        fa, fb = pos[a] >= 0, pos[b] >= 0
        if fa and fb:
            keep.append(k)
        elif fa:
            fields[:, pos[a]] += J[k] * v2[:, cpos[b]]
        elif fb:
            fields[:, pos[b]] += J[k] * v2[:, cpos[a]]
    keep = np.array(keep, dtype=np.int64)
    er = pos[e[keep]] if len(keep) else np.zeros((0, 2), dtype=np.int64)
    if not per_chain:
        hr = hr + fields[0]
        fields = None
    reduced = Model.from_edges(
        len(free), np.ascontiguousarray(er, dtype=np.int64), np.ascontiguousarray(J[keep]), np.ascontiguousarray(hr), model.beta
    )
    rcol = None
    if colors is not None:
        fc = colors[free]
        _, rcol = np.unique(fc, return_inverse=True)  # renumber: a fully clamped class vanishes
        rcol = rcol.astype(np.uint32)
    return reduced, free, idx, v2, fields, rcol


def _moments_from_states(model: Model, states: np.ndarray) -> dict:
    c, d, n = states.shape
    flat = states.reshape(c * d, n)
    e = model.edges
    m2 = (flat[:, e[:, 0]].astype(np.float64) * flat[:, e[:, 1]]).mean(axis=0) if len(e) else np.zeros(0)
    en = model.energy(np.ascontiguousarray(flat))
    return dict(
        m1=flat.mean(axis=0, dtype=np.float64),
        m2_edges=m2,
        energy_mean=float(en.mean()),
        energy_var=float(max(np.mean(en * en) - en.mean() ** 2, 0.0)),
        count=c * d,
    )


def sample(
    model: Model,
    *,
    kernel: str = "blk-sym",
    sweeps: int = 1000,
    burn_in: int = 100,
    chains: int = 64,
    seed: int = 1,
    engine: str = "auto",
    generator: str = "chacha8",
    output: str = "moments",
    colors: Any = None,
    init: Any = None,
    clamp: Any = None,
    fields: Any = None,
    betas: Any = None,
    chunk: Optional[int] = None,
) -> Samples:
    """Runs ``chains`` independent chains of ``model``: ``burn_in`` discarded sweeps, then
    ``sweeps`` recorded sweeps.

    * ``kernel`` — ``rs1``, ``ss1``, ``mh1`` (single-site) or ``blk-alt``, ``blk-sym``,
      ``blk-rs`` (chromatic block Gibbs on ``colors``; default DSATUR, or visible/hidden for RBMs).
    * ``engine`` — ``"auto"`` (fastest engine for block kernels, the reference kernels otherwise),
      ``"reference"`` (the reference kernels: the same samples as the ``thermoq sample`` CLI for
      the same seed), or a fast engine: ``sparse``, ``sparse-f32``, ``lattice``, ``dense``,
      ``lanes``. Engines draw random numbers differently, so their samples differ (same law).
    * ``generator`` — ``"chacha8"`` (reference) or ``"xoshiro128+"`` (lanes, lattice and dense engines).
    * ``output`` — ``"moments"`` (default), ``"trace"`` (``states`` ``(chain, draw, node)``) or
      ``"final"`` (only the final states).
    * ``init`` — ``(chains, n)`` ±1 start states (default: uniform from ``seed``).
    * ``clamp`` — ``{index: ±1}`` or ``(indices, values)`` with values ``(K,)`` or per chain
      ``(chains, K)``: those spins are held fixed (conditioned out exactly; results are reported for
      all ``n`` spins).
    * ``fields`` — per-chain extra biases ``(chains, n)``; ``betas`` — per-chain inverse
      temperatures ``(chains,)``. Both need ``blk-alt``/``blk-sym`` (the conditioned engine).
    * ``chunk`` — sweeps per GIL-free chunk (default: by problem size; results do not depend on it).
    """
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a thermoq.Model, got {type(model).__name__}")
    kernel = _str("kernel", kernel, KERNELS)
    engine = _str("engine", engine, ENGINES)
    if not isinstance(generator, str):
        raise TypeError(f"generator: expected a string, got {type(generator).__name__}")
    output = _str("output", output, ("moments", "trace", "final"))
    sweeps = _int("sweeps", sweeps, 1)
    burn_in = _int("burn_in", burn_in, 0)
    chains = _int("chains", chains, 1)
    seed = _int("seed", seed, 0)
    if seed >= 2**64:
        raise ValueError(f"seed: is {seed}, expected < 2**64")
    chunk = None if chunk is None else _int("chunk", chunk, 1)
    n = model.n
    col = None
    if colors is not None:
        ca = np.asarray(colors)
        if ca.dtype.kind not in "iu":
            raise TypeError(f"colors: has dtype {ca.dtype}, expected integers")
        if ca.shape != (n,):
            raise ValueError(f"colors: has shape {ca.shape}, expected ({n},)")
        if ca.min() < 0:
            raise ValueError("colors: has a negative colour")
        if ca.max() >= 2**32:
            raise ValueError(f"colors: has colour {ca.max()}, expected < 2**32")
        col = ca.astype(np.uint32)
    fa = None if fields is None else _real_array("fields", fields, 2)
    ba = None
    if betas is not None:
        ba = _real_array("betas", betas, 1)
        if ba.shape != (chains,):
            raise ValueError(f"betas: has shape {ba.shape}, expected ({chains},)")
        if np.any(ba < 0):
            raise ValueError("betas: has a negative entry")
    if fa is not None and fa.shape != (chains, n):
        raise ValueError(f"fields: has shape {fa.shape}, expected (chains, n) = ({chains}, {n})")
    ia = None if init is None else _spin_array("init", init, (chains, n), native_checks_int8=clamp is None)

    if clamp is None:
        r = _native.sample(
            model, kernel, engine, generator, seed, chains, sweeps, burn_in, output,
            col, ia, fa, ba, chunk,
        )
        return Samples(
            kernel=r["kernel"], engine=r["engine"], seed=seed, chains=chains, sweeps=sweeps,
            burn_in=burn_in, final=r["final"], states=r.get("states"), m1=r.get("m1"),
            m2_edges=r.get("m2_edges"), energy_mean=r.get("energy_mean"),
            energy_var=r.get("energy_var"), count=int(r.get("count", 0)),
        )

    reduced, free, idx, vals, cfields, rcol = _reduce(model, clamp, chains, col)
    if fa is not None:
        extra = fa[:, free]
        cfields = extra if cfields is None else cfields + extra
    rinit = None if ia is None else np.ascontiguousarray(ia[:, free])
    if rcol is None and model.is_rbm:
        vis = model.rbm_shape[0]
        rcol = (free >= vis).astype(np.uint32)
        if len(np.unique(rcol)) < 2:
            rcol = np.zeros(len(free), dtype=np.uint32)
    inner = "final" if output == "final" else "trace"
    r = _native.sample(
        reduced, kernel, engine, generator, seed, chains, sweeps, burn_in, inner,
        rcol, rinit, None if cfields is None else np.ascontiguousarray(cfields), ba, chunk,
    )
    fin = np.empty((chains, n), dtype=np.int8)
    fin[:, free] = r["final"]
    fin[:, idx] = vals
    out = Samples(
        kernel=r["kernel"], engine=r["engine"], seed=seed, chains=chains, sweeps=sweeps,
        burn_in=burn_in, final=fin,
    )
    if output != "final":
        st = np.empty((chains, sweeps, n), dtype=np.int8)
        st[:, :, free] = r["states"]
        st[:, :, idx] = vals[:, None, :]
        mom = _moments_from_states(model, st)
        out.m1, out.m2_edges = mom["m1"], mom["m2_edges"]
        out.energy_mean, out.energy_var, out.count = mom["energy_mean"], mom["energy_var"], mom["count"]
        if output == "trace":
            out.states = st
    return out


@dataclasses.dataclass
class PtSamples(Samples):
    """:class:`Samples` of the cold rung of a parallel-tempering run, plus swap statistics."""

    scheme: str = ""
    alphas: Optional[np.ndarray] = None
    swap_acceptance: Optional[np.ndarray] = None
    round_trips: int = 0
    specific_heat: Optional[np.ndarray] = None


def ladder(
    kind: str = "geometric",
    rungs: int = 8,
    *,
    alpha_top: Optional[float] = None,
    points: Any = None,
    c: Any = None,
) -> np.ndarray:
    """A PT ladder ``α_1 = 1 > … > α_R``: ``"uniform"`` or ``"geometric"`` down to ``alpha_top``,
    or ``"equal-length"`` (equal thermodynamic length from specific heats ``c`` measured at the
    α grid ``points``)."""
    kind = _str("kind", kind, ("uniform", "geometric", "equal-length"))
    rungs = _int("rungs", rungs, 1)
    at = None if alpha_top is None else _float("alpha_top", alpha_top)
    p = None if points is None else [float(v) for v in _real_array("points", points, 1)]
    cc = None if c is None else [float(v) for v in _real_array("c", c, 1)]
    return np.array(_native.ladder(kind, rungs, at, p, cc))


def sample_pt(
    model: Model,
    *,
    alphas: Any,
    scheme: str = "pt-deo",
    kernel: str = "blk-sym",
    sweeps: int = 1000,
    burn_in: int = 100,
    chains: int = 16,
    seed: int = 1,
    output: str = "moments",
    colors: Any = None,
) -> PtSamples:
    """Parallel tempering (``scheme`` ``"pt-sym"`` or ``"pt-deo"``) over the ladder ``alphas``
    (rung ``r`` samples ``π_{α_r β}``; see :func:`ladder`), local kernel ``blk-alt``/``blk-sym``
    on the fast conditioned engine. Records the cold rung (``α = 1``) like :func:`sample`."""
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a thermoq.Model, got {type(model).__name__}")
    a = [float(v) for v in _real_array("alphas", alphas, 1)]
    r = _native.sample_pt(
        model, _str("kernel", kernel, KERNELS), a, _str("scheme", scheme, ("pt-sym", "pt-deo")),
        _int("seed", seed), _int("chains", chains, 1), _int("sweeps", sweeps, 1),
        _int("burn_in", burn_in, 0), _str("output", output, ("moments", "trace", "final")),
        None if colors is None else [int(v) for v in np.asarray(colors)],
    )
    return PtSamples(
        kernel=r["kernel"], engine="conditioned", seed=seed, chains=chains, sweeps=sweeps,
        burn_in=burn_in, final=r["final"], states=r.get("states"), m1=r.get("m1"),
        m2_edges=r.get("m2_edges"), energy_mean=r.get("energy_mean"),
        energy_var=r.get("energy_var"), count=int(r.get("count", 0)), scheme=r["scheme"],
        alphas=r["alphas"], swap_acceptance=r["swap_acceptance"],
        round_trips=int(r["round_trips"]), specific_heat=r.get("specific_heat"),
    )


# ---------------------------------------------------------------------------------------------
# estimators


def _series(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iufb":
        raise TypeError(f"{name}: has dtype {a.dtype}, expected real numbers")
    return _real_array(name, a.astype(np.float64) if a.dtype.kind == "b" else a)


def tau(x: Any) -> np.ndarray:
    """τ_int with emcee's axis convention and value: ``x`` is ``(draws,)``,
    ``(draws, walkers)`` or ``(draws, walkers, params)``; returns an array ``(params,)`` equal to
    ``emcee.autocorr.integrated_time(x, c=5, quiet=True)`` (Sokal's window on the
    walker-averaged autocorrelation). Never raises for short chains: use :func:`tau_int` for the
    resolved / lower-bound status."""
    a = _series("x", x)
    if a.ndim == 1:
        a = a[:, None, None]
    elif a.ndim == 2:
        a = a[:, :, None]
    elif a.ndim != 3:
        raise ValueError(f"x: has shape {a.shape}, expected (draws,), (draws, walkers) or (draws, walkers, params)")
    out = np.empty(a.shape[2])
    for d in range(a.shape[2]):
        out[d] = _native.tau_pooled(np.ascontiguousarray(a[:, :, d].T))["tau"]
    return out


@dataclasses.dataclass
class TauResult:
    """τ̂_int with its doubling-rule status. ``value`` is ``tau`` when resolved and ``None`` for a
    lower bound (so a lower bound cannot pass for a value); ``rows`` is the τ̂-vs-length table."""

    tau: float
    status: str
    std_err: float
    window: int
    window_found: bool
    ess: float
    rows: list

    @property
    def value(self) -> Optional[float]:
        return self.tau if self.status == "resolved" else None


def tau_int(x: Any) -> TauResult:
    """τ_int of ``(chains, draws)`` data (ArviZ's axis convention; 1-D is one chain) pooled over
    chains as :func:`tau`, with the doubling rule applied to the first half versus the whole:
    ``status`` is ``"resolved"`` or ``"lower-bound"``."""
    a = _series("x", x)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"x: has shape {a.shape}, expected (draws,) or (chains, draws)")
    a = np.ascontiguousarray(a)
    est = _native.tau_pooled(a)
    dbl = _native.tau_doubling(a)
    return TauResult(
        tau=est["tau"], status=dbl["verdict"], std_err=est["std_err"], window=est["window"],
        window_found=est["window_found"], ess=est["ess"], rows=dbl["rows"],
    )


def _per_param(name: str, x: Any, f) -> Union[float, np.ndarray]:
    a = _series(name, x)
    if a.ndim == 1:
        return f(np.ascontiguousarray(a[None, :]))
    if a.ndim == 2:
        return f(np.ascontiguousarray(a))
    if a.ndim < 1:
        raise ValueError(f"{name}: has shape {a.shape}, expected (chain, draw, ...)")
    c, d = a.shape[:2]
    rest = a.shape[2:]
    flat = a.reshape(c, d, -1)
    return np.array([f(np.ascontiguousarray(flat[:, :, k])) for k in range(flat.shape[2])]).reshape(rest)


def ess(x: Any) -> Union[float, np.ndarray]:
    """Effective sample size of the mean: ArviZ's ``ess(x, method="mean")`` with ArviZ's
    ``(chain, draw, *shape)`` convention (1-D is one chain). Split chains, multi-chain ρ̂, Geyer's
    initial monotone sequence; no rank normalisation."""
    return _per_param("x", x, _native.ess_mean)


def rhat(x: Any) -> Union[float, np.ndarray]:
    """Split-R̂: ArviZ's ``rhat(x, method="split")`` with the ``(chain, draw, *shape)`` convention."""
    return _per_param("x", x, _native.rhat_split)


# ---------------------------------------------------------------------------------------------
# exact analysis


def _arrays(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _arrays(w) for k, w in v.items()}
    if isinstance(v, list) and v and all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in v):
        return np.array(v, dtype=np.float64)
    if isinstance(v, list):
        return [_arrays(w) for w in v]
    return v


def analyze(
    model: Model,
    *,
    kernel: str = "rs1",
    data_means: Any = None,
    burn_in: Union[int, str] = "auto",
    window: Union[int, str] = "auto",
    chains: int = 1,
    observables: str = "couplings",
    colors: Any = None,
) -> dict:
    """Exact analysis of an enumerable model (N ≤ 24; the dense spectrum for N ≲ 14) under
    ``kernel``: ``spectrum`` (σ₂, gap, parity of φ₂, its overlap with the gradient observables,
    the one-gap anchor j* and γ_eff), ``tau_max`` (exact τ_int of the slowest observable, sweeps),
    ``qop`` (exact Q_op for burn-in B, window K and C chains; ``"auto"`` picks B = ⌈5/γ_eff⌉,
    K = ⌈50 τ_max⌉) and ``predictions`` (naive, one-gap, struct-perp, matrix-free, each with
    ``Q_pred/Q_op``). ``data_means`` are ``E_data[f_a]`` (``f_ij = −x_i x_j``, then ``f_i = −x_i``
    for ``observables="all"``); default zeros. Lists of numbers come back as numpy arrays."""
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a thermoq.Model, got {type(model).__name__}")
    kernel = _str("kernel", kernel, KERNELS)
    observables = _str("observables", observables, ("couplings", "all"))
    na = len(model.couplings) + (model.n if observables == "all" else 0)
    dm = np.zeros(na) if data_means is None else _real_array("data_means", data_means, 1)
    if dm.shape != (na,):
        raise ValueError(f"data_means: has shape {dm.shape}, expected ({na},) (one per observable)")

    def sw(name, v):
        if isinstance(v, str):
            if v != "auto":
                raise ValueError(f"{name}: is {v!r}, expected \"auto\" or a number of sweeps")
            return v
        return str(_int(name, v, 0))

    text = _native.analyze(
        model, kernel, [float(v) for v in dm], sw("burn_in", burn_in), sw("window", window),
        _int("chains", chains, 1), observables,
        None if colors is None else [int(v) for v in np.asarray(colors)],
    )
    return _arrays(json.loads(text))


def exact(model: Model) -> dict:
    """Exact enumeration (N ≤ 24): ``pi`` over state indices (bit ``i`` set ⇔ ``x_i = +1``),
    ``m1``, ``m2_edges`` and ``energy_mean``."""
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a thermoq.Model, got {type(model).__name__}")
    return dict(model.exact())


__all__.append("exact")


@dataclasses.dataclass
class StructPerpGradient:
    """``Q_struct⊥ = (K/2)‖g‖²/T_O`` under ideal heat-bath ``rs1`` and its analytic derivatives
    in every parameter ``θ`` (couplings in :attr:`Model.edges` order, then biases for
    ``observables="all"`` — the same order as ``data_means``), with the mode cluster chosen at
    the current ``θ`` and held fixed."""

    q: float
    t_o: float
    g_norm2: float
    #: the cluster, as mode indices in decreasing-eigenvalue order (pass to :func:`struct_perp_t_o`)
    cluster: np.ndarray
    #: ``∂Q_struct⊥/∂θ``
    dq: np.ndarray
    #: ``∂T_O/∂θ``
    dt_o: np.ndarray
    #: ``∂‖g‖²/∂θ``
    dg_norm2: np.ndarray


def _observable_means(model: Model, data_means: Any, observables: str) -> np.ndarray:
    na = len(model.couplings) + (model.n if observables == "all" else 0)
    dm = np.zeros(na) if data_means is None else _real_array("data_means", data_means, 1)
    if dm.shape != (na,):
        raise ValueError(f"data_means: has shape {dm.shape}, expected ({na},) (one per observable)")
    return dm


def struct_perp_gradient(
    model: Model,
    *,
    data_means: Any = None,
    observables: str = "couplings",
    window: float = 200.0,
    eps_cluster: Optional[float] = None,
) -> StructPerpGradient:
    """∂Q_struct⊥/∂θ: the differentiable predictor of the gradient SNR (SCIENCE.md II.5) and its
    exact gradient (Daleckii–Krein), for an enumerable model (N ≲ 12: one dense
    eigendecomposition of size 2^N) under the ideal heat-bath ``rs1`` kernel.

    * ``data_means`` — ``E_data[f_a]`` (``f_ij = −x_i x_j`` per edge, then ``f_i = −x_i`` for
      ``observables="all"``); default zeros.
    * ``window`` — ``K``, recorded sweeps per chain.
    * ``eps_cluster`` — the predictor's cluster tolerance (default: the predictor's default;
      ``0`` keeps every relevant mode).

    The cluster is chosen at the current parameters and held fixed, so ``dq`` is the derivative of
    ``(K/2)‖g(θ)‖²/T_O(θ; cluster)``; :func:`struct_perp_t_o` evaluates ``T_O`` for a given
    cluster (finite-difference checks)."""
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a thermoq.Model, got {type(model).__name__}")
    observables = _str("observables", observables, ("couplings", "all"))
    dm = _observable_means(model, data_means, observables)
    w = _float("window", window)
    if not w > 0:
        raise ValueError(f"window: is {w}, expected a number of sweeps > 0")
    ec = None if eps_cluster is None else _float("eps_cluster", eps_cluster)
    r = json.loads(_native.struct_perp_gradient(model, [float(v) for v in dm], observables, w, ec))
    return StructPerpGradient(
        q=float(r["q"]), t_o=float(r["t_o"]), g_norm2=float(r["g_norm2"]),
        cluster=np.asarray(r["cluster"], dtype=np.int64), dq=np.asarray(r["dq"], dtype=np.float64),
        dt_o=np.asarray(r["dt_o"], dtype=np.float64), dg_norm2=np.asarray(r["dg_norm2"], dtype=np.float64),
    )


def struct_perp_t_o(model: Model, cluster: Any, *, observables: str = "couplings") -> float:
    """``T_O`` of ``model`` under ideal heat-bath ``rs1`` with the mode cluster held at ``cluster``
    (as returned in :attr:`StructPerpGradient.cluster`): the denominator whose derivative
    :func:`struct_perp_gradient` returns."""
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a thermoq.Model, got {type(model).__name__}")
    observables = _str("observables", observables, ("couplings", "all"))
    c = np.asarray(cluster)
    if c.dtype.kind not in "iu" or c.ndim != 1:
        raise TypeError(f"cluster: expected a 1-D array of mode indices, got dtype {c.dtype} with shape {c.shape}")
    if c.size and c.min() < 0:
        raise ValueError("cluster: has a negative mode index")
    return float(_native.struct_perp_t_o(model, observables, [int(v) for v in c]))


__all__ += ["StructPerpGradient", "struct_perp_gradient", "struct_perp_t_o"]


def _digits(images: Any, labels: Any) -> tuple:
    """MNIST-style digits as the native layer takes them: flattened ``uint8`` grey levels,
    labels, rows, cols."""
    im = np.asarray(images)
    if im.dtype.kind not in "iu":
        raise TypeError(f"images: has dtype {im.dtype}, expected uint8 grey levels 0-255")
    if im.ndim != 3:
        raise ValueError(f"images: has shape {im.shape}, expected (count, rows, cols)")
    if im.size and (im.min() < 0 or im.max() > 255):
        raise ValueError("images: has values outside 0..255")
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        raise TypeError(f"labels: has dtype {lab.dtype}, expected integers (digits 0-9)")
    if lab.shape != (im.shape[0],):
        raise ValueError(f"labels: has shape {lab.shape}, expected ({im.shape[0]},) (one per image)")
    if lab.size and (lab.min() < 0 or lab.max() > 9):
        raise ValueError("labels: has values outside 0..9")
    flat = np.ascontiguousarray(im, dtype=np.uint8).reshape(-1)
    return flat, [int(v) for v in lab], int(im.shape[1]), int(im.shape[2])


@dataclasses.dataclass
class Inpainting:
    """The result of :meth:`Dtm.inpaint`: ``images`` (the digits after the run) and ``targets``
    (the test digits), both ``(n, side, side)`` ±1 ``int8``; ``classes`` (class indices into
    :attr:`Dtm.digits`); ``error`` — the fraction of bottom-half pixels (rows ``side//2 ..``)
    where ``images`` and ``targets`` differ."""

    error: float
    images: np.ndarray
    targets: np.ndarray
    classes: np.ndarray


class Dtm:
    """A denoising thermodynamic model (MNIST), loaded from a checkpoint written by
    ``cargo xtask train dtm`` (``checkpoint.json``) or initialised from a preset; it generates
    digits, trains on digit arrays and runs the inpainting check.

    Digits come as ``images`` ``(count, rows, cols)`` grey levels 0-255 (``uint8``, as MNIST) and
    ``labels`` ``(count,)`` digits 0-9; the model's own settings (kept digits, train/test split,
    threshold, 2×2 pooling) turn them into training and test spins, exactly as
    ``cargo xtask train dtm`` does."""

    def __init__(self, native):
        self._d = native

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Dtm":
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path: expected a str or path, got {type(path).__name__}")
        return cls(_native.Dtm.load(os.fspath(path)))

    @classmethod
    def untrained(cls, preset: str = "quick", **config: Any) -> "Dtm":
        """A freshly initialised model of a ``train dtm`` preset (``"quick"`` or ``"paper"``);
        keyword arguments replace settings of the preset (the fields of :attr:`config`, e.g.
        ``batch=20, epochs=1, probe=None``)."""
        p = _str("preset", preset, ("quick", "paper"))
        try:
            overrides = json.dumps(config, allow_nan=False) if config else None
        except (TypeError, ValueError) as e:
            raise TypeError(f"config: settings must be JSON numbers, strings, lists or dicts ({e})") from None
        return cls(_native.Dtm.untrained(p, overrides))

    @property
    def config(self) -> dict:
        """The run's settings (those of ``cargo xtask train dtm``)."""
        return json.loads(self._d.config)

    @property
    def inpaint_history(self) -> list:
        """Layer 0's held-out inpainting error recorded after each training epoch (``None`` when
        the check was off)."""
        return list(self._d.inpaint_history)

    def train(self, images: Any, labels: Any, *, epochs: int) -> None:
        """Trains until ``epochs`` epochs are done in total (continuing after those already in
        the checkpoint), on the training split of ``images``/``labels``; after each epoch the
        inpainting check runs on the test split (``inpaint_test`` digits) and lands in
        :attr:`inpaint_history`. Releases the GIL; ``KeyboardInterrupt`` is checked after each
        epoch."""
        e = _int("epochs", epochs, 1)
        if e < self.epochs_done:
            raise ValueError(f"epochs: is {e}, fewer than the {self.epochs_done} already done")
        self._d.train(*_digits(images, labels), e)

    def inpaint(self, images: Any, labels: Any, *, n: Optional[int] = None) -> Inpainting:
        """The inpainting check (the one ``train`` records every epoch): for the first ``n``
        digits of the test split of ``images``/``labels`` (default the model's ``inpaint_test``),
        the label and the top half are clamped, the model starts from noise and runs
        ``generation.sweeps`` sweeps at the training β, and the bottom half is compared with
        the digit. Deterministic (the same streams every call)."""
        k = self.config["inpaint_test"] if n is None else _int("n", n, 1)
        if k < 1:
            raise ValueError("n: the model's inpaint_test is 0; pass n >= 1")
        r = self._d.inpaint(*_digits(images, labels), k)
        side = int(r["side"])
        cnt = len(r["classes"])
        return Inpainting(
            error=float(r["error"]), images=r["images"].reshape(cnt, side, side),
            targets=r["targets"].reshape(cnt, side, side), classes=np.asarray(r["classes"]),
        )

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the checkpoint (atomically)."""
        self._d.save(os.fspath(path))

    @property
    def digits(self) -> list:
        return list(self._d.digits)

    @property
    def epochs_done(self) -> int:
        return self._d.epochs_done

    def generate(self, classes: Sequence[int], *, seed: int = 0) -> np.ndarray:
        """One image per class index (into :attr:`digits`): ``(len(classes), side, side)`` ±1
        ``int8`` when the image is square, ``(len(classes), n_image)`` otherwise."""
        cl = [_int("classes", c, 0) for c in classes]
        if not cl:
            raise ValueError("classes: is empty")
        if max(cl) > 255:
            raise ValueError(f"classes: holds {max(cl)}, expected class indices below {len(self.digits)}")
        flat = self._d.generate(cl, _int("seed", seed, 0))
        n = self._d.n_image
        side = int(round(np.sqrt(n)))
        return flat.reshape(len(cl), side, side) if side * side == n else flat.reshape(len(cl), n)


__all__ += ["Dtm", "Inpainting"]
