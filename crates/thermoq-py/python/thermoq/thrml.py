"""thermoq.thrml — run a thrml ``IsingEBM`` sampling program on thermoq.

thrml (``pip install thrml==0.1.4``) describes a block Gibbs program as an ``IsingEBM`` plus a list
of free (super)blocks, sampled in that order every sweep, and a list of clamped blocks. This module
builds the equivalent thermoq model and colouring (free superblock ``k`` is colour class ``k``;
clamped spins are conditioned out exactly), samples it with thermoq's ``BLK-ALT`` kernel (thrml's
fixed block order) on the fastest engine, and hands states back in thrml's per-block layout::

    from thermoq import thrml as tqt
    states = tqt.sample_states(ebm, free_blocks, clamped_blocks, clamped_state=[x_clamped],
                               n_warmup=100, n_samples=1000, chains=64, seed=0)
    # states[k]: (chains, n_samples, len(nodes_to_sample[k])) booleans, True = spin +1

Only what thermoq can represent is accepted: ``IsingEBM`` with ``SpinNode`` nodes, pairwise
weights and a scalar ``beta``. Categorical nodes, other EBMs and ``IsingEBM`` subclasses with
their own (e.g. higher-order) factors raise ``TypeError`` naming what was found.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np

import thermoq as _tq

__all__ = ["Converted", "convert", "sample_states", "estimate_moments"]


def _thrml():
    try:
        import thrml
        from thrml.models import IsingEBM
    except ImportError as e:  # pragma: no cover - exercised only without thrml
        raise ImportError("thermoq.thrml needs thrml: pip install thrml==0.1.4 jax") from e
    return thrml, IsingEBM


@dataclasses.dataclass
class Converted:
    """A thrml program in thermoq form.

    ``model`` has one spin per thrml node, in ``nodes`` order (the EBM's bias nodes first, then
    nodes that appear only in edges); ``index`` maps a node to its spin; ``colors`` gives each free
    spin its superblock index (``-1`` for clamped spins); ``free`` lists the free blocks in thrml's
    flattened order, ``clamped`` the clamped blocks."""

    model: _tq.Model
    nodes: list
    index: dict
    colors: np.ndarray
    free: list
    clamped: list

    def spins(self, block) -> np.ndarray:
        """Spin indices of a thrml ``Block``'s nodes, in block order."""
        try:
            return np.array([self.index[v] for v in block.nodes], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"block: node {e.args[0]!r} is not a node of the model") from None


def _blocks(name: str, blocks: Any, Block) -> list:
    out = []
    for k, sb in enumerate(blocks):
        group = (sb,) if isinstance(sb, Block) else tuple(sb)
        for b in group:
            if not isinstance(b, Block):
                raise TypeError(f"{name}: entry {k} holds a {type(b).__name__}, expected thrml.Block")
        out.append(group)
    return out


def convert(ebm: Any, free_blocks: Sequence, clamped_blocks: Sequence = ()) -> Converted:
    """The thermoq model and colouring equivalent to ``IsingSamplingProgram(ebm, free_blocks,
    clamped_blocks)``. Edge weights on repeated node pairs add up; an edge from a node to itself
    only shifts the energy by a constant and is dropped."""
    thrml, IsingEBM = _thrml()
    if not isinstance(ebm, IsingEBM):
        raise TypeError(
            f"ebm: is a {type(ebm).__name__}; thermoq.thrml converts thrml.models.IsingEBM only "
            "(categorical nodes, higher-order factors and non-Ising EBMs cannot be represented)"
        )
    if type(ebm).factors is not IsingEBM.factors:
        raise TypeError(
            f"ebm: {type(ebm).__name__} overrides IsingEBM.factors; thermoq represents only the "
            "pairwise Ising factors (biases and edge weights), not extra or higher-order factors"
        )
    Spin = thrml.SpinNode
    nodes = list(ebm.nodes)
    for k, v in enumerate(nodes):
        if not isinstance(v, Spin):
            raise TypeError(f"ebm.nodes: node {k} is a {type(v).__name__}; thermoq samples SpinNode only")
    index = {v: i for i, v in enumerate(nodes)}
    if len(index) != len(nodes):
        raise ValueError("ebm.nodes: a node appears twice")
    biases = np.asarray(ebm.biases, dtype=np.float64).reshape(-1)
    if biases.shape != (len(nodes),):
        raise ValueError(f"ebm.biases: has shape {biases.shape}, expected ({len(nodes)},)")
    weights = np.asarray(ebm.weights, dtype=np.float64).reshape(-1)
    if weights.shape != (len(ebm.edges),):
        raise ValueError(f"ebm.weights: has shape {weights.shape}, expected ({len(ebm.edges)},)")
    beta = np.asarray(ebm.beta, dtype=np.float64)
    if beta.size != 1:
        raise ValueError(f"ebm.beta: has shape {beta.shape}, expected a scalar")
    pair_w: dict = {}
    for k, (a, b) in enumerate(ebm.edges):
        for v in (a, b):
            if not isinstance(v, Spin):
                raise TypeError(f"ebm.edges: edge {k} has a {type(v).__name__}; thermoq samples SpinNode only")
            if v not in index:
                index[v] = len(nodes)
                nodes.append(v)
        i, j = index[a], index[b]
        if i == j:
            continue
        key = (min(i, j), max(i, j))
        pair_w[key] = pair_w.get(key, 0.0) + weights[k]
    n = len(nodes)
    h = np.zeros(n)
    h[: len(biases)] = biases
    edges = np.array(list(pair_w.keys()), dtype=np.int64).reshape(-1, 2)
    w = np.array(list(pair_w.values()), dtype=np.float64)
    model = _tq.ising(edges=edges, couplings=w, h=h, n=n, beta=float(beta.reshape(())))

    Block = thrml.Block
    free = _blocks("free_blocks", free_blocks, Block)
    clamped = [g[0] for g in _blocks("clamped_blocks", clamped_blocks, Block)]
    colors = np.full(n, -2, dtype=np.int64)
    for k, group in enumerate(free):
        for b in group:
            for v in b.nodes:
                if not isinstance(v, Spin):
                    raise TypeError(f"free_blocks: superblock {k} holds a {type(v).__name__}; thermoq samples SpinNode only")
                if v not in index:
                    raise ValueError(f"free_blocks: superblock {k} holds a node that is not in the EBM")
                if colors[index[v]] != -2:
                    raise ValueError(f"free_blocks: a node of superblock {k} is in more than one block")
                colors[index[v]] = k
    for k, b in enumerate(clamped):
        for v in b.nodes:
            if v not in index:
                raise ValueError(f"clamped_blocks: block {k} holds a node that is not in the EBM")
            if colors[index[v]] != -2:
                raise ValueError(f"clamped_blocks: a node of block {k} is also in another block")
            colors[index[v]] = -1
    if np.any(colors == -2):
        i = int(np.flatnonzero(colors == -2)[0])
        raise ValueError(f"free_blocks: node {nodes[i]!r} (spin {i}) is in no free or clamped block")
    flat_free = [b for g in free for b in g]
    return Converted(model=model, nodes=nodes, index=index, colors=colors, free=flat_free, clamped=clamped)


def _spins(name: str, a: Any, length: int, chains: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "b":
        arr = np.where(arr, 1, -1)
    if arr.shape == (length,):
        arr = np.broadcast_to(arr, (chains, length))
    if arr.shape != (chains, length):
        raise ValueError(f"{name}: has shape {np.asarray(a).shape}, expected ({length},) or ({chains}, {length})")
    if not np.all((arr == 1) | (arr == -1)):
        raise ValueError(f"{name}: expected booleans (True = +1) or ±1 spins")
    return arr.astype(np.int8)


def sample_states(
    ebm: Any,
    free_blocks: Sequence,
    clamped_blocks: Sequence = (),
    *,
    n_warmup: int,
    n_samples: int,
    steps_per_sample: int = 1,
    nodes_to_sample: Optional[Sequence] = None,
    clamped_state: Optional[Sequence] = None,
    init_state: Optional[Sequence] = None,
    chains: int = 1,
    seed: int = 0,
    engine: str = "auto",
    generator: str = "chacha8",
) -> list:
    """thermoq's version of ``thrml.sample_states`` run on ``chains`` independent chains.

    The schedule is thrml's: ``n_warmup`` sweeps, the first sample, then one sample every
    ``steps_per_sample`` sweeps. ``clamped_state`` has one array per clamped block (booleans or
    ±1, shape ``(len,)`` or per chain ``(chains, len)``); ``init_state`` one array per free block
    (default: uniform random from ``seed``). Returns one boolean array per block of
    ``nodes_to_sample`` (default: the free blocks), shaped ``(chains, n_samples, len(block))``."""
    thrml, _ = _thrml()
    cv = convert(ebm, free_blocks, clamped_blocks)
    n = cv.model.n
    n_warmup = _tq._int("n_warmup", n_warmup, 0)
    n_samples = _tq._int("n_samples", n_samples, 1)
    sps = _tq._int("steps_per_sample", steps_per_sample, 1)
    chains = _tq._int("chains", chains, 1)
    if len(cv.clamped) and clamped_state is None:
        raise ValueError("clamped_state: required, one array per clamped block")
    clamp = None
    if cv.clamped:
        if len(clamped_state) != len(cv.clamped):
            raise ValueError(f"clamped_state: has {len(clamped_state)} arrays, expected {len(cv.clamped)}")
        idx = np.concatenate([cv.spins(b) for b in cv.clamped])
        vals = np.concatenate(
            [_spins(f"clamped_state[{k}]", a, len(b.nodes), chains) for k, (b, a) in enumerate(zip(cv.clamped, clamped_state))],
            axis=1,
        )
        # one clamped state shared by all chains folds into the biases (every engine applies)
        clamp = (idx, vals[0] if np.all(vals == vals[0]) else vals)
    init = None
    if init_state is not None:
        if len(init_state) != len(cv.free):
            raise ValueError(f"init_state: has {len(init_state)} arrays, expected one per free block ({len(cv.free)})")
        init = np.ones((chains, n), dtype=np.int8)
        for k, (b, a) in enumerate(zip(cv.free, init_state)):
            init[:, cv.spins(b)] = _spins(f"init_state[{k}]", a, len(b.nodes), chains)
        if clamp is not None:
            init[:, clamp[0]] = np.broadcast_to(clamp[1], (chains, len(clamp[0])))
    if init is None and n_warmup == 0:
        # thrml's first sample is the initial state: make it explicit so it can be returned
        init = np.where(np.random.default_rng(seed).random((chains, n)) < 0.5, 1, -1).astype(np.int8)
        if clamp is not None:
            init[:, clamp[0]] = np.broadcast_to(clamp[1], (chains, len(clamp[0])))
    colors = np.maximum(cv.colors, 0)
    total = n_warmup + (n_samples - 1) * sps
    if total == 0:
        states = init[:, None, :]
    else:
        burn = max(n_warmup - 1, 0)
        sweeps = total - burn
        s = _tq.sample(
            cv.model, kernel="blk-alt", sweeps=sweeps, burn_in=burn, chains=chains, seed=seed,
            engine=engine, generator=generator, output="trace", colors=colors, init=init, clamp=clamp,
        )
        tr = s.states
        if n_warmup == 0:
            tr = np.concatenate([init[:, None, :], tr], axis=1)
        states = tr[:, ::sps][:, :n_samples]
    targets = cv.free if nodes_to_sample is None else list(nodes_to_sample)
    return [states[:, :, cv.spins(b)] > 0 for b in targets]


def estimate_moments(
    ebm: Any,
    free_blocks: Sequence,
    clamped_blocks: Sequence = (),
    *,
    first_moment_nodes: Sequence,
    second_moment_edges: Sequence,
    **kwargs: Any,
) -> tuple:
    """thermoq's version of ``thrml.models.estimate_moments``: per-chain sample averages of
    ``s_i`` for ``first_moment_nodes`` and ``s_i s_j`` for ``second_moment_edges`` (spins ±1),
    shaped ``(chains, nodes)`` and ``(chains, edges)``. ``kwargs`` go to :func:`sample_states`."""
    thrml, _ = _thrml()
    cv = convert(ebm, free_blocks, clamped_blocks)
    every = thrml.Block(list(cv.nodes))
    (x,) = sample_states(ebm, free_blocks, clamped_blocks, nodes_to_sample=[every], **kwargs)
    x = np.where(x, 1.0, -1.0)
    i1 = np.array([cv.index[v] for v in first_moment_nodes], dtype=np.int64)
    ia = np.array([cv.index[a] for a, _ in second_moment_edges], dtype=np.int64)
    ib = np.array([cv.index[b] for _, b in second_moment_edges], dtype=np.int64)
    return x[:, :, i1].mean(axis=1), (x[:, :, ia] * x[:, :, ib]).mean(axis=1)
