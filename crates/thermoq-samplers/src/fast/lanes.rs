//! The chain-interleaved ("lanes") sparse engine: `W` chains side by side, one SIMD lane each.
//!
//! The batch is cut into blocks of [`W`] consecutive chains (the last block padded with idle
//! lanes). Inside a block the state is stored chain-minor, `x[node][lane]` as `f32` `±1` (one
//! 64-byte row per node), so the field of node `i` in all `W` chains is
//! `h_i + Σ_k J_ik · x[k][0..W]`: per neighbour one broadcast coupling and `W/8` AVX2 fused
//! multiply-adds over a contiguous row, no gathers. The couplings are shared by all chains, the
//! neighbour lists are stored per colour class in CSR order. Then the polynomial `f32` sigmoid of
//! [`SparseF32`](super::Engine::SparseF32) and a 24-bit comparison on every lane. The batch is
//! converted to this layout and back once per `sweep()`/`run()` call.
//!
//! **Law.** Exactly the `sparse-f32` update: field summed in `f32` in CSR order from `h_i`
//! (`J·x` is exact for `x = ±1`, so the fused and unfused sums are the same bits), `p` from the
//! same polynomial sigmoid, up iff `u < p·2^24` for a uniform 24-bit `u` (bit depth 24).
//!
//! **Randomness.** Lane `l` of block `b` is chain `b·W + l` and draws everything (comparison
//! words, the `BLK-SYM` coin, `BLK-RS` picks) from its own [`RandBuf`] (`chain_rng(seed, c)`),
//! consumed `BUF_BYTES` at a time through a per-chain byte cursor so no byte is discarded; each
//! comparison uses 3 bytes. Blocks are independent rayon tasks whose cut depends only on the
//! chain index, so samples do not depend on the thread count.
//!
//! **Per-chain schedules.** `BLK-SYM` (a coin per chain and sweep) and `BLK-RS` (per-chain
//! picks) let lanes of one block disagree on which class to update at a step. Each sweep is then
//! run as *masked passes*: for step `t`, one pass per distinct class among the lanes' step-`t`
//! classes, writing only the lanes that asked for it (lanes are independent chains, so passes of
//! one step commute). A pass at the end of step `t` is merged with a pass of the same class at
//! step `t + 1` when their lane sets are disjoint. `BLK-ALT` is one unmasked pass per class;
//! `BLK-SYM` with mixed coins costs `2k − 1` passes for `k` classes instead of `k`.

use super::dense::sigmoid_f32;
use super::stream::{BUF_BYTES, RandBuf};
use crate::observe::Observer;
use crate::{ChainBatch, KernelKind};
use rayon::prelude::*;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};

/// Chains per block (SIMD lanes of one row).
pub(crate) const W: usize = 16;
/// AVX2 vectors per row.
#[cfg(target_arch = "x86_64")]
const V: usize = W / 8;
/// Nodes per random-number chunk (`CHUNK·W` words of scratch).
const CHUNK: usize = 256;
/// Bytes per comparison word.
const WORD: usize = 3;

/// One node's spins in the `W` lanes of a block.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Row([f32; W]);

/// One colour class: its nodes, their biases and CSR neighbour lists.
struct Class {
    nodes: Vec<u32>,
    h: Vec<f32>,
    off: Vec<u32>,
    nbr: Vec<u32>,
    j: Vec<f32>,
}

/// A chain's random bytes: its [`RandBuf`] taken `BUF_BYTES` at a time, read with a cursor.
#[derive(Clone)]
struct ByteCursor {
    buf: Box<[u8; BUF_BYTES]>,
    pos: usize,
}

impl ByteCursor {
    fn new() -> Self {
        Self {
            buf: Box::new([0u8; BUF_BYTES]),
            pos: BUF_BYTES,
        }
    }

    /// Fills `out` with the chain's next bytes.
    #[inline]
    fn fill(&mut self, rb: &mut RandBuf, out: &mut [u8]) {
        let mut o = 0;
        while o < out.len() {
            if self.pos == BUF_BYTES {
                self.buf.copy_from_slice(rb.take(BUF_BYTES));
                self.pos = 0;
            }
            let k = (out.len() - o).min(BUF_BYTES - self.pos);
            out[o..o + k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            o += k;
        }
    }

    fn u32(&mut self, rb: &mut RandBuf) -> u32 {
        let mut b = [0u8; 4];
        self.fill(rb, &mut b);
        u32::from_le_bytes(b)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift with rejection).
    fn pick(&mut self, rb: &mut RandBuf, n: usize) -> usize {
        let n32 = n as u32;
        let threshold = n32.wrapping_neg() % n32;
        loop {
            let m = u64::from(self.u32(rb)) * u64::from(n32);
            if (m as u32) >= threshold {
                return (m >> 32) as usize;
            }
        }
    }
}

/// Chromatic block Gibbs on `W`-chain blocks (see the module docs).
pub(crate) struct LanesEngine {
    n: usize,
    classes: Vec<Class>,
    beta2: f32,
    simd: bool,
    cursors: Vec<ByteCursor>,
}

/// Per-block scratch.
struct Scratch {
    words: Vec<u32>,
    bytes: Vec<u8>,
    sched: Vec<usize>,
    passes: Vec<(usize, u32)>,
}

impl LanesEngine {
    pub(crate) fn new(model: &IsingModel, coloring: &Coloring, n_chains: usize) -> Self {
        let g = model.graph();
        let classes = coloring
            .classes()
            .iter()
            .map(|sites| {
                let mut off = vec![0u32];
                let mut nbr = Vec::new();
                let mut j = Vec::new();
                for &i in sites {
                    let i = i as usize;
                    for (&k, &e) in g.neighbors(i).iter().zip(g.neighbor_edges(i)) {
                        nbr.push(k);
                        j.push(model.coupling(e as usize) as f32);
                    }
                    off.push(nbr.len() as u32);
                }
                Class {
                    nodes: sites.to_vec(),
                    h: sites
                        .iter()
                        .map(|&i| model.bias(i as usize) as f32)
                        .collect(),
                    off,
                    nbr,
                    j,
                }
            })
            .collect();
        Self {
            n: g.n(),
            classes,
            beta2: (2.0 * model.beta()) as f32,
            simd: simd_available(),
            cursors: vec![ByteCursor::new(); n_chains],
        }
    }

    /// Uses the portable kernel instead of the AVX2 one (same samples).
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.simd = on && simd_available();
    }

    /// Runs `burn_in + sweeps` sweeps of every chain; with `make`, observes the last `sweeps`
    /// into one observer per chain (returned in chain order).
    pub(crate) fn drive<O: Observer, F: Fn(usize) -> O + Sync + ?Sized>(
        &mut self,
        batch: &mut ChainBatch,
        rngs: &mut [RandBuf],
        kind: KernelKind,
        burn_in: usize,
        sweeps: usize,
        make: Option<&F>,
    ) -> Vec<O> {
        let n = self.n.max(1);
        let mut cursors = std::mem::take(&mut self.cursors);
        let me = &*self;
        let out: Vec<Vec<O>> = batch
            .as_mut_slice()
            .par_chunks_mut(n * W)
            .zip(rngs.par_chunks_mut(W))
            .zip(cursors.par_chunks_mut(W))
            .enumerate()
            .map(|(b, ((xs, rbs), cur))| me.run_block(b, xs, rbs, cur, kind, burn_in, sweeps, make))
            .collect();
        self.cursors = cursors;
        out.into_iter().flatten().collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn run_block<O: Observer, F: Fn(usize) -> O + Sync + ?Sized>(
        &self,
        b: usize,
        xs: &mut [Spin],
        rbs: &mut [RandBuf],
        cur: &mut [ByteCursor],
        kind: KernelKind,
        burn_in: usize,
        sweeps: usize,
        make: Option<&F>,
    ) -> Vec<O> {
        let n = self.n;
        let w = rbs.len();
        let mut x = vec![Row([1.0; W]); n];
        for (l, chain) in xs.chunks(n.max(1)).enumerate() {
            for (row, &s) in x.iter_mut().zip(chain) {
                row.0[l] = f32::from(s);
            }
        }
        let mut obs: Vec<O> = match make {
            Some(f) => (0..w).map(|l| f(b * W + l)).collect(),
            None => Vec::new(),
        };
        let mut sc = Scratch {
            words: vec![0u32; CHUNK * W],
            bytes: vec![0u8; WORD * CHUNK + 1],
            sched: vec![0; w * self.classes.len()],
            passes: Vec::new(),
        };
        let mut tmp: Vec<Spin> = vec![0; n];
        for t in 0..burn_in + sweeps {
            self.sweep_block(&mut x, rbs, cur, kind, &mut sc);
            if t >= burn_in && !obs.is_empty() {
                for (l, o) in obs.iter_mut().enumerate() {
                    store_lane(&x, l, &mut tmp);
                    o.observe(t - burn_in, &tmp);
                }
            }
        }
        for (l, chain) in xs.chunks_mut(n.max(1)).enumerate() {
            store_lane(&x, l, chain);
        }
        obs
    }

    /// One sweep of every lane of a block: per-lane schedules, then masked passes.
    fn sweep_block(
        &self,
        x: &mut [Row],
        rbs: &mut [RandBuf],
        cur: &mut [ByteCursor],
        kind: KernelKind,
        sc: &mut Scratch,
    ) {
        let k = self.classes.len();
        let w = rbs.len();
        let real: u32 = if w == 32 { u32::MAX } else { (1u32 << w) - 1 };
        let passes = &mut sc.passes;
        passes.clear();
        match kind {
            KernelKind::BlkSym | KernelKind::BlkRs => {
                for l in 0..w {
                    let s = &mut sc.sched[l * k..(l + 1) * k];
                    if kind == KernelKind::BlkSym {
                        let fwd = cur[l].u32(&mut rbs[l]) & 1 == 0;
                        for (t, v) in s.iter_mut().enumerate() {
                            *v = if fwd { t } else { k - 1 - t };
                        }
                    } else {
                        for v in s.iter_mut() {
                            *v = cur[l].pick(&mut rbs[l], k);
                        }
                    }
                }
                let mut groups: Vec<(usize, u32)> = Vec::with_capacity(k);
                for t in 0..k {
                    groups.clear();
                    for l in 0..w {
                        let c = sc.sched[l * k + t];
                        match groups.iter_mut().find(|g| g.0 == c) {
                            Some(g) => g.1 |= 1 << l,
                            None => groups.push((c, 1 << l)),
                        }
                    }
                    // Merge with the previous pass: same class, disjoint lanes.
                    if let Some(last) = passes.last_mut()
                        && let Some(p) = groups
                            .iter()
                            .position(|g| g.0 == last.0 && g.1 & last.1 == 0)
                    {
                        last.1 |= groups.remove(p).1;
                    }
                    // Put last a group whose class the next step also visits (merge candidate).
                    if t + 1 < k
                        && let Some(p) = groups
                            .iter()
                            .position(|g| (0..w).any(|l| sc.sched[l * k + t + 1] == g.0))
                    {
                        let g = groups.remove(p);
                        groups.push(g);
                    }
                    passes.extend_from_slice(&groups);
                }
            }
            _ => passes.extend((0..k).map(|c| (c, real))),
        }
        for pi in 0..sc.passes.len() {
            let (c, mask) = sc.passes[pi];
            self.pass(x, c, mask, real, rbs, cur, &mut sc.words, &mut sc.bytes);
        }
    }

    /// Resamples class `c` in the lanes of `mask`.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        x: &mut [Row],
        c: usize,
        mask: u32,
        real: u32,
        rbs: &mut [RandBuf],
        cur: &mut [ByteCursor],
        words: &mut [u32],
        bytes: &mut [u8],
    ) {
        let cl = &self.classes[c];
        // Idle padding lanes may be overwritten freely.
        let full = mask == real;
        let m = if full { u32::MAX } else { mask };
        let len_all = cl.nodes.len();
        let mut start = 0;
        while start < len_all {
            let len = (len_all - start).min(CHUNK);
            for l in 0..rbs.len() {
                if mask >> l & 1 == 0 {
                    continue;
                }
                let bb = &mut bytes[..WORD * len];
                cur[l].fill(&mut rbs[l], bb);
                for s in 0..len {
                    let q = &bb[WORD * s..WORD * s + 3];
                    words[s * W + l] = u32::from_le_bytes([q[0], q[1], q[2], 0]);
                }
            }
            let range = start..start + len;
            if self.simd {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `simd` is only true when AVX2 and FMA were detected at run time; every
                // neighbour index is a node of the model, `< x.len()`.
                unsafe {
                    pass_avx2(x, cl, range, words, m, self.beta2)
                }
                #[cfg(not(target_arch = "x86_64"))]
                pass_portable(x, cl, range, words, m, self.beta2)
            } else {
                pass_portable(x, cl, range, words, m, self.beta2)
            }
            start += len;
        }
    }
}

fn store_lane(x: &[Row], l: usize, out: &mut [Spin]) {
    for (o, row) in out.iter_mut().zip(x) {
        *o = if row.0[l] > 0.0 { 1 } else { -1 };
    }
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Portable kernel: nodes `range` of class `cl`, lanes in `mask`, comparison words
/// `words[(s − range.start)·W + l]`.
fn pass_portable(
    x: &mut [Row],
    cl: &Class,
    range: std::ops::Range<usize>,
    words: &[u32],
    mask: u32,
    beta2: f32,
) {
    let base = range.start;
    for s in range {
        let i = cl.nodes[s] as usize;
        let (a, b) = (cl.off[s] as usize, cl.off[s + 1] as usize);
        let mut acc = [cl.h[s]; W];
        for (&k, &jk) in cl.nbr[a..b].iter().zip(&cl.j[a..b]) {
            let row = &x[k as usize].0;
            for l in 0..W {
                acc[l] += jk * row[l];
            }
        }
        let u = &words[(s - base) * W..(s - base + 1) * W];
        let row = &mut x[i].0;
        for l in 0..W {
            if mask >> l & 1 == 1 {
                let p = sigmoid_f32(beta2 * acc[l]);
                row[l] = if (u[l] as f32) < p * 16_777_216.0 {
                    1.0
                } else {
                    -1.0
                };
            }
        }
    }
}

/// [`pass_portable`] with AVX2/FMA, the same `f32` results (the fused `J·x + acc` equals the
/// unfused one because `J·x` is exact for `x = ±1`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pass_avx2(
    x: &mut [Row],
    cl: &Class,
    range: std::ops::Range<usize>,
    words: &[u32],
    mask: u32,
    beta2: f32,
) {
    use std::arch::x86_64::*;
    assert!(range.end <= cl.nodes.len() && words.len() >= range.len() * W);
    assert!(cl.off.len() == cl.nodes.len() + 1 && cl.j.len() == cl.nbr.len());
    debug_assert!(cl.nbr.iter().all(|&k| (k as usize) < x.len()));
    debug_assert!(cl.nodes.iter().all(|&k| (k as usize) < x.len()));
    let full = mask == u32::MAX;
    // SAFETY: node and neighbour indices are `< x.len()` (sites of the model); `off` entries are
    // `≤ nbr.len()`; words are read at `[(s − start)·W, +W)` within the length checked above;
    // rows are 64-byte aligned, so aligned loads at offsets 0, 32 are valid.
    unsafe {
        let lane_masks: [__m256; V] = std::array::from_fn(|v| {
            let bits = |l: usize| -((mask >> (8 * v + l) & 1) as i32);
            _mm256_castsi256_ps(_mm256_setr_epi32(
                bits(0),
                bits(1),
                bits(2),
                bits(3),
                bits(4),
                bits(5),
                bits(6),
                bits(7),
            ))
        });
        let xp = x.as_mut_ptr().cast::<f32>();
        let b2 = _mm256_set1_ps(beta2);
        let scale = _mm256_set1_ps(16_777_216.0);
        let one = _mm256_set1_ps(1.0);
        let neg = _mm256_set1_ps(-1.0);
        let base = range.start;
        for s in range {
            let i = *cl.nodes.get_unchecked(s) as usize;
            let a = *cl.off.get_unchecked(s) as usize;
            let b = *cl.off.get_unchecked(s + 1) as usize;
            let hv = _mm256_set1_ps(*cl.h.get_unchecked(s));
            let mut acc = [hv; V];
            for e in a..b {
                let k = *cl.nbr.get_unchecked(e) as usize;
                let jj = _mm256_set1_ps(*cl.j.get_unchecked(e));
                let row = xp.add(k * W);
                for (v, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(jj, _mm256_load_ps(row.add(8 * v)), *acc);
                }
            }
            let dst = xp.add(i * W);
            let wp = words.as_ptr().add((s - base) * W);
            for (v, acc) in acc.iter().enumerate() {
                let p = sigmoid_avx2(_mm256_mul_ps(b2, *acc));
                let u = _mm256_cvtepi32_ps(_mm256_loadu_si256(wp.add(8 * v).cast()));
                let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(u, _mm256_mul_ps(p, scale));
                let mut new = _mm256_blendv_ps(neg, one, lt);
                if !full {
                    new = _mm256_blendv_ps(_mm256_load_ps(dst.add(8 * v)), new, lane_masks[v]);
                }
                _mm256_store_ps(dst.add(8 * v), new);
            }
        }
    }
}

/// `super::dense::sigmoid_f32` on 8 lanes, operation for operation (bit-identical; the same
/// function as the `sparse-f32` engine's AVX2 sigmoid).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sigmoid_avx2(z: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    const MAGIC: f32 = 12_582_912.0;
    let s = _mm256_set1_ps;
    let x = _mm256_xor_ps(z, _mm256_set1_ps(-0.0));
    let x = _mm256_max_ps(_mm256_min_ps(x, s(88.0)), s(-87.0));
    let t = _mm256_add_ps(_mm256_mul_ps(x, s(std::f32::consts::LOG2_E)), s(MAGIC));
    let n = _mm256_sub_ps(t, s(MAGIC));
    let ni = _mm256_sub_epi32(
        _mm256_castps_si256(t),
        _mm256_set1_epi32(MAGIC.to_bits() as i32),
    );
    let r = _mm256_sub_ps(
        _mm256_sub_ps(x, _mm256_mul_ps(n, s(0.693_359_4))),
        _mm256_mul_ps(n, s(-2.121_944_4e-4)),
    );
    let mut p = s(1.987_569_1e-4);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), s(1.398_199_9e-3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), s(8.333_452e-3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), s(4.166_579_6e-2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), s(0.166_666_65));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), s(0.5));
    let y = _mm256_add_ps(
        _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r),
        s(1.0),
    );
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        ni,
        _mm256_set1_epi32(127),
    )));
    let e = _mm256_mul_ps(y, scale);
    _mm256_div_ps(s(1.0), _mm256_add_ps(s(1.0), e))
}
