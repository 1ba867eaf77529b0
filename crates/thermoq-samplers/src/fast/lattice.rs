//! The lattice/table engine: periodic 2D square lattices with uniform coupling and bias.
//!
//! On such a lattice the local field takes only five values, `φ = h + J·s` with neighbour sum
//! `s ∈ {−4, −2, 0, 2, 4}`, so `p(s) = σ(2βφ)` is tabulated once as a 32-bit threshold
//! `T(s) = round(p(s)·2^32)` (realised probability within `2^-33` of `p`: bit depth 32).
//!
//! **Lazy 32-bit comparison.** "Up" is `u < T` for a uniform 32-bit `u = b·2^24 + r` with top
//! byte `b` and low 24 bits `r`. Writing `T = H·2^24 + L` (`H ≤ 255`, `L ≤ 2^24`), `u < T` exactly
//! when `b < H`, or `b = H` and `r < L`. So each update draws one byte, and only on a tie
//! (probability ≤ 1/256) three more: the same law as a full 32-bit compare, at about 8.1 random
//! bits per update instead of 32.
//!
//! **Layout.** Each chain is stored as its two checkerboard sublattices (`lx/2` spins per row),
//! each with its even rows first and its odd rows after, plus one halo row per parity block (a
//! copy of the first even row after the even block, of the last odd row before the odd block).
//! The sites of a colour class in rows of one parity are then one contiguous run, and their four
//! neighbours are contiguous runs of the other sublattice at fixed offsets: the same row shifted
//! by one site (left, right) and the rows above and below. So the kernel runs over up to
//! [`CALL_SITES`] sites per call (a whole parity block of `ising-32`, 4 rows of `ising-128`); for
//! the site at a row's periodic edge, whose left (or right) run entry is the neighbouring row's,
//! the call reads a copy of that run with the row's other end patched in. The kernel is branch-free over `i8` slices, compiled
//! twice (baseline and AVX2, chosen at run time; identical bits), and reports ties as one bit per
//! site, so the rare tie draws cost nothing when there are none.
//!
//! **Comparison bytes.** From the chain's ChaCha8 stream (the default), or — opt-in,
//! [`Generator::Xoshiro128Plus`] — from the chain's [`XoBytes`]: eight `xoshiro128+` states
//! stepped as one AVX2 vector, three bytes (bits 8–31) per output word, seeded from the chain's
//! ChaCha8 stream at its first run with that generator. Same table, same lazy compare, same law.

use super::stream::{BUF_BYTES, Bytes, ChainSources, RandBuf, XoBytes, threshold32};
use super::{DriveArgs, Generator, avx2_available};
use crate::observe::Observer;
use crate::pbit::sigmoid;
use rayon::prelude::*;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};

/// Detects a periodic `lx × ly` square lattice (site `r·lx + c`, as `builders::lattice_2d` makes)
/// with uniform coupling and bias; returns `(lx, ly)`.
pub(crate) fn detect(model: &IsingModel) -> Option<(usize, usize)> {
    let g = model.graph();
    let n = g.n();
    let j = model.couplings();
    let h = model.biases();
    if j.is_empty() || j.iter().any(|&v| v != j[0]) || h.iter().any(|&v| v != h[0]) {
        return None;
    }
    if g.n_edges() != 2 * n {
        return None;
    }
    'cand: for lx in 3..=n / 3 {
        if !n.is_multiple_of(lx) {
            continue;
        }
        let ly = n / lx;
        if ly < 3 {
            continue;
        }
        for r in 0..ly {
            for c in 0..lx {
                let i = r * lx + c;
                let mut want = [
                    (r * lx + (c + 1) % lx) as u32,
                    (r * lx + (c + lx - 1) % lx) as u32,
                    (((r + 1) % ly) * lx + c) as u32,
                    (((r + ly - 1) % ly) * lx + c) as u32,
                ];
                want.sort_unstable();
                let mut got = g.neighbors(i).to_vec();
                got.sort_unstable();
                if got[..] != want[..] {
                    continue 'cand;
                }
            }
        }
        return Some((lx, ly));
    }
    None
}

/// Colour-class → sublattice parity, if `coloring` is the checkerboard of an `lx × ly` lattice.
pub(crate) fn checkerboard_parities(
    coloring: &Coloring,
    lx: usize,
    ly: usize,
) -> Option<[usize; 2]> {
    if !lx.is_multiple_of(2) || !ly.is_multiple_of(2) || coloring.n_colors() != 2 {
        return None;
    }
    let c0 = coloring.color(0) as usize; // site (0,0) has parity 0
    for r in 0..ly {
        for c in 0..lx {
            let want = if (r + c) % 2 == 0 { c0 } else { 1 - c0 };
            if coloring.color(r * lx + c) as usize != want {
                return None;
            }
        }
    }
    let mut par = [0; 2];
    par[c0] = 0;
    par[1 - c0] = 1;
    Some(par)
}

/// Sites per kernel call (whole rows; one row when a row is longer). A call takes its comparison
/// bytes as one contiguous run of the chain's 4 KiB buffer, and a request that does not fit in
/// what is left makes the buffer refill and drop the rest. With the tie draws (3 bytes each)
/// falling between calls, a call of the whole 4 KiB made every call refill twice — half of
/// `ising-128`'s random bytes were thrown away (measured 2026-12-01: 4 % slower than before the
/// parity-block layout). At 256 sites a refill drops at most 255 bytes of 4,096.
const CALL_SITES: usize = BUF_BYTES / 16;

/// The checkerboard table engine.
pub(crate) struct LatticeEngine {
    lx: usize,
    ly: usize,
    /// Sites per sublattice row (`lx/2`).
    w: usize,
    /// Rows per parity block (`ly/2`).
    hw: usize,
    /// Rows per kernel call (at most [`CALL_SITES`] sites, or one row when a row is longer).
    rows_per_call: usize,
    class_parity: [usize; 2],
    hi: [u8; 5],
    lo: [u32; 5],
    simd: bool,
    /// ChaCha8, or each chain's `xoshiro128+` byte source.
    sources: ChainSources,
}

/// A chain in sublattice layout, plus a tie scratch buffer.
pub(crate) struct LatticeChain {
    sub: [Vec<Spin>; 2],
    /// Per 32 sites of a kernel call: which tied (bit `k` ⇔ site `32·m + k`).
    masks: Vec<u32>,
    /// A kernel call's left (or right) neighbour run with each row's periodic neighbour patched in.
    side: Vec<Spin>,
}

impl LatticeEngine {
    /// Largest row half-width the byte buffer serves in one request.
    pub(crate) const MAX_HALF_WIDTH: usize = BUF_BYTES;

    pub(crate) fn new(model: &IsingModel, lx: usize, ly: usize, class_parity: [usize; 2]) -> Self {
        let j = model.couplings()[0];
        let h = model.biases()[0];
        let beta = model.beta();
        let mut hi = [0u8; 5];
        let mut lo = [0u32; 5];
        for k in 0..5 {
            let s = 2.0 * k as f64 - 4.0;
            let t = threshold32(sigmoid(2.0 * beta * (h + j * s)));
            let hk = (t >> 24).min(255);
            hi[k] = hk as u8;
            lo[k] = (t - (hk << 24)) as u32;
        }
        let (w, hw) = (lx / 2, ly / 2);
        Self {
            lx,
            ly,
            w,
            hw,
            rows_per_call: (CALL_SITES / w).clamp(1, hw),
            class_parity,
            hi,
            lo,
            simd: avx2_available(),
            sources: ChainSources::default(),
        }
    }

    /// Forces the portable kernel (for tests comparing it with the AVX2 one).
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.simd = on && avx2_available();
        self.sources.set_simd(self.simd);
    }

    /// Whether the AVX2 kernel is in use.
    pub(crate) fn simd(&self) -> bool {
        self.simd
    }

    /// Draws comparison bytes from `g` from the next run on (`Xoshiro128Plus`: seeded then).
    pub(crate) fn set_generator(&mut self, g: Generator) {
        self.sources.set_generator(g);
    }

    /// The generator of the comparison bytes.
    pub(crate) fn generator(&self) -> Generator {
        self.sources.generator()
    }

    /// Offset of parity block `q` (rows `q, q + 2, …`) in a sublattice vector. Layout: one pad
    /// site, block 0, a copy of block 0's first row, a copy of block 1's last row, block 1, one
    /// pad site — so the rows above and below every row of a block are contiguous rows.
    #[inline]
    fn blk(&self, q: usize) -> usize {
        1 + q * (self.hw + 2) * self.w
    }

    pub(crate) fn new_chain(&self) -> LatticeChain {
        let len = (self.ly + 2) * self.w + 2;
        LatticeChain {
            sub: [vec![0; len], vec![0; len]],
            masks: vec![0; (self.rows_per_call * self.w).div_ceil(32)],
            side: vec![0; self.rows_per_call * self.w],
        }
    }

    /// Index of site `(r, c)` in its sublattice vector.
    #[inline]
    fn at(&self, r: usize, c: usize) -> usize {
        self.blk(r & 1) + (r >> 1) * self.w + c / 2
    }

    pub(crate) fn load(&self, x: &[Spin], ch: &mut LatticeChain) {
        for r in 0..self.ly {
            for c in 0..self.lx {
                ch.sub[(r + c) & 1][self.at(r, c)] = x[r * self.lx + c];
            }
        }
        for p in 0..2 {
            self.halo(&mut ch.sub[p]);
        }
    }

    pub(crate) fn store(&self, ch: &LatticeChain, x: &mut [Spin]) {
        for r in 0..self.ly {
            for c in 0..self.lx {
                x[r * self.lx + c] = ch.sub[(r + c) & 1][self.at(r, c)];
            }
        }
    }

    /// Refreshes the two halo rows of a sublattice from the rows they copy.
    fn halo(&self, s: &mut [Spin]) {
        let (w, hw) = (self.w, self.hw);
        let (b0, b1) = (self.blk(0), self.blk(1));
        s.copy_within(b0..b0 + w, b0 + hw * w);
        s.copy_within(b1 + (hw - 1) * w..b1 + hw * w, b1 - w);
    }

    /// Runs `total` sweeps of `sched` on every chain of `xs` (`n` spins each), chain `c` drawing
    /// from `rngs[c]` (and its `xoshiro128+` bytes with that generator), one rayon task per
    /// chain, observing through `slots` as `seg` says.
    pub(crate) fn drive<O: Observer>(&mut self, a: DriveArgs<'_, '_, O>) {
        let DriveArgs {
            xs,
            n,
            rngs,
            slots,
            sched,
            seg,
            total,
        } = a;
        let mut xo = self.sources.take(rngs, self.simd);
        let me = &*self;
        let run =
            |x: &mut [Spin], rb: &mut RandBuf, xo: Option<&mut XoBytes>, o: &mut Option<&mut O>| {
                let mut ch = me.new_chain();
                me.load(x, &mut ch);
                let mut xo = xo;
                for t in 0..total {
                    match xo.as_deref_mut() {
                        Some(xb) => sched.visit(rb, |cl, _| me.update_class(&mut ch, cl, xb)),
                        None => sched.visit(rb, |cl, rb| me.update_class(&mut ch, cl, rb)),
                    }
                    if let Some(o) = o.as_deref_mut()
                        && let Some(d) = seg.observes_after(t)
                    {
                        me.store(&ch, x);
                        o.observe(d, x);
                    }
                }
                me.store(&ch, x);
            };
        let chains = xs
            .par_chunks_mut(n.max(1))
            .zip(rngs.par_iter_mut())
            .zip(slots.par_iter_mut());
        if xo.is_empty() {
            chains.for_each(|((x, rb), o)| run(x, rb, None, o));
        } else {
            chains
                .zip(xo.par_iter_mut())
                .for_each(|(((x, rb), o), xb)| run(x, rb, Some(xb), o));
        }
        self.sources.put_back(xo);
    }

    /// Resamples colour class `class` of a chain with comparison bytes from `rb`.
    #[inline]
    pub(crate) fn update_class<B: Bytes>(&self, ch: &mut LatticeChain, class: usize, rb: &mut B) {
        let p = self.class_parity[class];
        if self.simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `simd` is only true when AVX2 was detected at run time.
            unsafe {
                self.update_avx2(ch, p, rb)
            }
        } else {
            self.update_impl::<false, B>(ch, p, rb);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn update_avx2<B: Bytes>(&self, ch: &mut LatticeChain, p: usize, rb: &mut B) {
        self.update_impl::<true, B>(ch, p, rb);
    }

    /// Sublattice `p`: each parity block of its rows is one contiguous run of sites whose four
    /// neighbours are contiguous runs of the other sublattice at fixed offsets, so the kernel runs
    /// over up to [`CALL_SITES`] sites per call. The site at a row's periodic edge (column 0 or
    /// `w − 1`) would read the neighbouring row's end as its left/right neighbour, so the kernel
    /// reads a copy of that run (`LatticeChain::side`) with each row's own other end patched in.
    #[inline(always)]
    fn update_impl<const AVX2: bool, B: Bytes>(&self, ch: &mut LatticeChain, p: usize, rb: &mut B) {
        let (w, hw) = (self.w, self.hw);
        let LatticeChain {
            sub,
            masks: mask_buf,
            side,
        } = ch;
        let [s0, s1] = sub;
        let (tgt, src) = if p == 0 { (s0, &*s1) } else { (s1, &*s0) };
        for q in 0..2 {
            let shift = (q + p) & 1;
            let bt = self.blk(q);
            // Rows above and below row k of block q: rows k − 1, k of block 1 (q = 0) or rows
            // k, k + 1 of block 0 (q = 1), the halo rows standing in at the wrap.
            let (bu, bd) = if q == 0 {
                (self.blk(1) - w, self.blk(1))
            } else {
                (self.blk(0), self.blk(0) + w)
            };
            let mut r0 = 0;
            while r0 < hw {
                let rows = self.rows_per_call.min(hw - r0);
                let (o, len) = (r0 * w, rows * w);
                let same = bt + o;
                let left = &src[same + shift - 1..same + shift - 1 + len];
                let right = &src[same + shift..same + shift + len];
                let up = &src[bu + o..bu + o + len];
                let dn = &src[bd + o..bd + o + len];
                let t = &mut tgt[same..same + len];
                let masks = &mut mask_buf[..len.div_ceil(32)];
                masks.fill(0);
                let bytes = rb.take(len);
                // The site at each row's periodic edge reads its wrapped neighbour from a copy of
                // the left (or right) run with the row's other end patched in, so the kernel gets
                // every site right with the same byte (one store per row instead of a scalar
                // recomputation after the call).
                let side = &mut side[..len];
                let (left, right) = if shift == 0 {
                    side.copy_from_slice(left);
                    for k in 0..rows {
                        side[k * w] = src[same + k * w + w - 1];
                    }
                    (&*side, right)
                } else {
                    side.copy_from_slice(right);
                    for k in 0..rows {
                        side[k * w + w - 1] = src[same + k * w];
                    }
                    (left, &*side)
                };
                let (nb, hi) = ([left, right, up, dn], &self.hi);
                if AVX2 {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `AVX2` is only set on the path entered after run-time detection.
                    unsafe {
                        run_kernel_avx2(nb, bytes, t, masks, hi)
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    run_kernel(nb, bytes, t, masks, 0, hi);
                } else {
                    run_kernel(nb, bytes, t, masks, 0, hi);
                }
                {
                    // Rare (each site ties with probability ≤ 1/256): finish those compares in
                    // order; a tie's table entry is `(s + 4) / 2`, its neighbour sum recomputed
                    // here from the kernel's runs (the other sublattice has not moved).
                    for (m, &bits) in masks.iter().enumerate() {
                        let mut bits = bits;
                        while bits != 0 {
                            let k = 32 * m + bits.trailing_zeros() as usize;
                            bits &= bits - 1;
                            let s = left[k] + right[k] + up[k] + dn[k];
                            let cls = usize::from((s + 4) as u8 >> 1);
                            t[k] = if rb.u24() < self.lo[cls] { 1 } else { -1 };
                        }
                    }
                }
                r0 += rows;
            }
        }
        self.halo(tgt);
    }
}

/// A run of sites of a colour class: new spins from the neighbour sums (`nb` = left, right, up,
/// down) and the top random bytes; marks ties (`byte == H`) by setting their bits in `masks`,
/// site `k` being bit `(first + k) % 32` of word
/// `(first + k) / 32`.
#[inline(always)]
fn run_kernel(
    nb: [&[Spin]; 4],
    bytes: &[u8],
    t: &mut [Spin],
    masks: &mut [u32],
    first: usize,
    hi: &[u8; 5],
) {
    let w = t.len();
    let [left, right, up, dn] = nb.map(|v| &v[..w]);
    let bytes = &bytes[..w];
    let [h0, h1, h2, h3, h4] = *hi;
    for k in 0..w {
        let s = left[k]
            .wrapping_add(right[k])
            .wrapping_add(up[k])
            .wrapping_add(dn[k]);
        let h = if s >= 4 {
            h4
        } else if s >= 2 {
            h3
        } else if s >= 0 {
            h2
        } else if s >= -2 {
            h1
        } else {
            h0
        };
        let b = bytes[k];
        t[k] = if b < h { 1 } else { -1 };
        let tie = u8::from(b == h);
        let a = first + k;
        masks[a / 32] |= u32::from(tie) << (a % 32);
    }
}

/// [`run_kernel`] (with `first = 0`) in explicit AVX2: 32 sites per step (`pshufb` looks the
/// threshold byte up from the neighbour sum, `movemask` gives the step's tie bits), then 16 with
/// SSE, then the portable loop for the rest. Bit-identical to it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn run_kernel_avx2(
    nb: [&[Spin]; 4],
    bytes: &[u8],
    t: &mut [Spin],
    masks: &mut [u32],
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let w = t.len();
    let [left, right, up, dn] = nb;
    assert!(
        left.len() >= w
            && right.len() >= w
            && up.len() >= w
            && dn.len() >= w
            && bytes.len() >= w
            && masks.len() >= w.div_ceil(32)
    );
    let hb = hi.map(|v| v as i8);
    // Table indexed by s + 4 ∈ {0, 2, 4, 6, 8}; duplicated in both 128-bit lanes for pshufb.
    let t16: [i8; 16] = [
        hb[0], 0, hb[1], 0, hb[2], 0, hb[3], 0, hb[4], 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut k = 0;
    // SAFETY: every load/store below touches `[k, k + 32)` or `[k, k + 16)` with the loop bounds
    // guaranteeing that range lies within all slices (lengths ≥ w checked above), and mask word
    // `k / 32 < ⌈w/32⌉`.
    unsafe {
        let tbl128 = _mm_loadu_si128(t16.as_ptr().cast());
        let tbl = _mm256_broadcastsi128_si256(tbl128);
        let four = _mm256_set1_epi8(4);
        let flip = _mm256_set1_epi8(i8::MIN);
        let one = _mm256_set1_epi8(1);
        let mone = _mm256_set1_epi8(-1);
        while k + 32 <= w {
            let ld = |s: &[Spin]| _mm256_loadu_si256(s.as_ptr().add(k).cast());
            let s = _mm256_add_epi8(
                _mm256_add_epi8(ld(left), ld(right)),
                _mm256_add_epi8(ld(up), ld(dn)),
            );
            let s4 = _mm256_add_epi8(s, four);
            let h = _mm256_shuffle_epi8(tbl, s4);
            let b = _mm256_loadu_si256(bytes.as_ptr().add(k).cast());
            let lt = _mm256_cmpgt_epi8(_mm256_xor_si256(h, flip), _mm256_xor_si256(b, flip));
            let eq = _mm256_cmpeq_epi8(b, h);
            _mm256_storeu_si256(
                t.as_mut_ptr().add(k).cast(),
                _mm256_blendv_epi8(mone, one, lt),
            );
            *masks.get_unchecked_mut(k / 32) = _mm256_movemask_epi8(eq) as u32;
            k += 32;
        }
        if k + 16 <= w {
            let four = _mm_set1_epi8(4);
            let flip = _mm_set1_epi8(i8::MIN);
            let one = _mm_set1_epi8(1);
            let mone = _mm_set1_epi8(-1);
            let ld = |s: &[Spin]| _mm_loadu_si128(s.as_ptr().add(k).cast());
            let s = _mm_add_epi8(
                _mm_add_epi8(ld(left), ld(right)),
                _mm_add_epi8(ld(up), ld(dn)),
            );
            let s4 = _mm_add_epi8(s, four);
            let h = _mm_shuffle_epi8(tbl128, s4);
            let b = _mm_loadu_si128(bytes.as_ptr().add(k).cast());
            let lt = _mm_cmpgt_epi8(_mm_xor_si128(h, flip), _mm_xor_si128(b, flip));
            let eq = _mm_cmpeq_epi8(b, h);
            _mm_storeu_si128(t.as_mut_ptr().add(k).cast(), _mm_blendv_epi8(mone, one, lt));
            // k is a multiple of 32 here: the low half of its mask word.
            *masks.get_unchecked_mut(k / 32) = (_mm_movemask_epi8(eq) as u32) & 0xffff;
            k += 16;
        }
    }
    if k < w {
        let nb = [left, right, up, dn].map(|v| &v[k..w]);
        run_kernel(nb, &bytes[k..w], &mut t[k..w], masks, k, hi);
    }
}
