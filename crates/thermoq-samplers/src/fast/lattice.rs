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
//! [`CALL_SITES`] sites per call (a whole parity block of `ising-32`, 16 rows of `ising-128`); the site
//! at a row's periodic edge, whose left (or right) run entry is the neighbouring row's, takes
//! that neighbour from the same run shifted by `w − 1` sites instead (a byte blend with a fixed
//! edge mask; the sublattice vectors carry a row of padding at each end for it). The kernel is
//! branch-free over `i8` slices, compiled three times (portable, AVX2 and AVX-512BW, chosen at
//! run time; identical bits), and appends tied sites to a list without a branch (one per mask;
//! more take a cold path), so the rare tie draws cost almost nothing when there are none. Ties
//! are finished once per colour class, in site order, after all its calls.
//!
//! **Comparison bytes.** From the chain's ChaCha8 stream (the default), or — opt-in,
//! [`Generator::Xoshiro128Plus`] — from the chain's [`XoBytes`]: eight `xoshiro128+` states
//! stepped as one AVX2 vector, three bytes (bits 8–31) per output word, seeded from the chain's
//! ChaCha8 stream at its first run with that generator. Same table, same lazy compare, same law.
//! Both are read through [`Bytes::take_carry`], so no byte of either stream is dropped at a
//! refill. (Session 11 changed the byte order — ties per class instead of per call, no dropped
//! leftovers — so lattice-engine samples differ from earlier versions for the same seed.)

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
/// bytes as one contiguous run of the chain's buffer ([`Bytes::take_carry`]: the bytes left at a
/// refill start the next run, so none is dropped whatever the call size; until session 11 a
/// refill dropped them, which capped calls at 256 sites). Longer calls spread the per-call set-up
/// over more sites.
const CALL_SITES: usize = BUF_BYTES / 4;

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
    /// Per site of a kernel call (calls start at a row's first site), `−1` at a row's first
    /// (`edge[0]`) or last (`edge[1]`) column.
    edge: [Vec<i8>; 2],
    /// Which kernel runs (portable, AVX2 or AVX-512BW; identical bits).
    level: Level,
    /// ChaCha8, or each chain's `xoshiro128+` byte source.
    sources: ChainSources,
}

/// The lattice kernel compiled for the best instruction set detected at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Portable,
    Avx2,
    Avx512,
}

impl Level {
    /// The best level this CPU runs.
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return Self::Avx512;
        }
        if avx2_available() {
            Self::Avx2
        } else {
            Self::Portable
        }
    }
}

/// A chain in sublattice layout, plus a tie scratch buffer.
pub(crate) struct LatticeChain {
    sub: [Vec<Spin>; 2],
    /// A parity block's tied sites ([`TieList`]); room for all of them plus one.
    ties: Vec<u64>,
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
        let rows_per_call = (CALL_SITES / w).clamp(1, hw);
        Self {
            lx,
            ly,
            w,
            hw,
            rows_per_call,
            class_parity,
            hi,
            lo,
            edge: [0, w - 1].map(|col| {
                (0..rows_per_call * w)
                    .map(|k| if k % w == col { -1 } else { 0 })
                    .collect()
            }),
            level: Level::detect(),
            sources: ChainSources::default(),
        }
    }

    /// Forces the portable kernel (for tests comparing it with the vector ones), or back to the
    /// best this CPU has.
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.level = if on { Level::detect() } else { Level::Portable };
        self.sources.set_simd(self.simd());
    }

    /// Whether a vector kernel is in use.
    pub(crate) fn simd(&self) -> bool {
        self.level != Level::Portable
    }

    /// Draws comparison bytes from `g` from the next run on (`Xoshiro128Plus`: seeded then).
    pub(crate) fn set_generator(&mut self, g: Generator) {
        self.sources.set_generator(g);
    }

    /// The generator of the comparison bytes.
    pub(crate) fn generator(&self) -> Generator {
        self.sources.generator()
    }

    /// Offset of parity block `q` (rows `q, q + 2, …`) in a sublattice vector. Layout: one row of
    /// padding, block 0, a copy of block 0's first row, a copy of block 1's last row, block 1,
    /// one row of padding — so the rows above and below every row of a block are contiguous
    /// rows, and a run shifted by `w − 1` either way (the wrapped row ends) stays inside.
    #[inline]
    fn blk(&self, q: usize) -> usize {
        self.w + q * (self.hw + 2) * self.w
    }

    pub(crate) fn new_chain(&self) -> LatticeChain {
        let len = (self.ly + 4) * self.w;
        LatticeChain {
            sub: [vec![0; len], vec![0; len]],
            ties: vec![0; 2 * self.hw * self.w + 1],
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
        let mut xo = self.sources.take(rngs, self.simd());
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
        match self.level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: this level is only set when AVX-512F/BW/VL were detected at run time.
            Level::Avx512 => unsafe { self.update_avx512(ch, p, rb) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: this level is only set when AVX2 was detected at run time.
            Level::Avx2 => unsafe { self.update_avx2(ch, p, rb) },
            _ => self.update_impl::<B>(ch, p, rb, run_kernel),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn update_avx2<B: Bytes>(&self, ch: &mut LatticeChain, p: usize, rb: &mut B) {
        // The closure inherits this function's target features.
        self.update_impl::<B>(ch, p, rb, |runs, bytes, t, ties, hi| {
            run_kernel_avx2(runs, bytes, t, ties, hi)
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
    fn update_avx512<B: Bytes>(&self, ch: &mut LatticeChain, p: usize, rb: &mut B) {
        // The closure inherits this function's target features.
        self.update_impl::<B>(ch, p, rb, |runs, bytes, t, ties, hi| {
            run_kernel_avx512(runs, bytes, t, ties, hi)
        });
    }

    /// Sublattice `p`: each parity block of its rows is one contiguous run of sites whose four
    /// neighbours are contiguous runs of the other sublattice at fixed offsets, so the kernel runs
    /// over up to [`CALL_SITES`] sites per call. The site at a row's periodic edge (column 0 or
    /// `w − 1`) would read the neighbouring row's end as its left (right) neighbour; the kernel
    /// takes that one value from the same run shifted by `w − 1` sites instead ([`Runs`]).
    ///
    /// Ties are resolved once per class, after all its calls, in site order: the
    /// neighbour sums they need are of the other sublattice, which the class does not change.
    #[inline(always)]
    fn update_impl<B: Bytes>(
        &self,
        ch: &mut LatticeChain,
        p: usize,
        rb: &mut B,
        kernel: impl Fn(Runs<'_>, &[u8], &mut [Spin], &mut TieList<'_>, &[u8; 5]),
    ) {
        let (w, hw) = (self.w, self.hw);
        let LatticeChain { sub, ties } = ch;
        let [s0, s1] = sub;
        let (tgt, src) = if p == 0 { (s0, &*s1) } else { (s1, &*s0) };
        let mut list = TieList {
            buf: ties,
            n: 0,
            tag: 0,
        };
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
                let bytes = rb.take_carry(len);
                // Shift 0: a row's first site wraps to its row's last site of the other
                // sublattice (`w − 1` further on); shift 1: its last site wraps to the row's
                // first (`w − 1` back).
                let runs = if shift == 0 {
                    Runs {
                        wrapped: left,
                        other: right,
                        up,
                        dn,
                        fix: &src[same + w - 1..same + w - 1 + len],
                        edge: &self.edge[0][..len],
                    }
                } else {
                    Runs {
                        wrapped: right,
                        other: left,
                        up,
                        dn,
                        fix: &src[same + 1 - w..same + 1 - w + len],
                        edge: &self.edge[1][..len],
                    }
                };
                list.tag = TieList::entry(same, 0);
                kernel(runs, bytes, t, &mut list, &self.hi);
                r0 += rows;
            }
        }
        // Rare (each site ties with probability ≤ 1/256): finish those compares in site order,
        // once for the class; a tie's table entry is `(s + 4) / 2`, its neighbour sum recomputed
        // from the other sublattice (unchanged by this update) with the row's periodic wrap.
        // Without data-dependent branches (a tie's block, parity and edge are as good as random,
        // so branches on them mispredict), and with the ties' 3 bytes each taken together: the
        // stream is read in the same order, so the bytes are the same as one `take_carry(3)` per
        // tie.
        let n = list.n;
        let (b0, b1) = (self.blk(0), self.blk(1));
        let ud = [(b1 - w, b1), (b0, b0 + w)];
        let mut done = 0;
        while done < n {
            let m = (n - done).min(BUF_BYTES / 3);
            let bytes = rb.take_carry(3 * m);
            for (&e, b) in ties[done..done + m].iter().zip(bytes.chunks_exact(3)) {
                let (i, kc) = TieList::split(e);
                let q = usize::from(i >= b1);
                let shift = (q + p) & 1;
                let (bu, bd) = ud[q];
                let kb = i - [b0, b1][q];
                // Shift 0: the row's first site's left neighbour wraps `w − 1` on; shift 1: the
                // row's last site's right neighbour wraps `w − 1` back.
                let e0 = usize::from(shift == 0) & usize::from(self.edge[0][kc] != 0);
                let e1 = usize::from(shift == 1) & usize::from(self.edge[1][kc] != 0);
                let left = src[i + shift + e0 * w - 1];
                let right = src[i + shift - e1 * w];
                let s = left + right + src[bu + kb] + src[bd + kb];
                let cls = usize::from((s + 4) as u8 >> 1);
                let u = u32::from_le_bytes([b[0], b[1], b[2], 0]);
                tgt[i] = if u < self.lo[cls] { 1 } else { -1 };
            }
            done += m;
        }
        self.halo(tgt);
    }
}

/// The sites of one colour class whose top byte tied, in site order, as the kernels append them
/// (branch-free in the vector kernels: each entry is written, then counted only if real).
pub(crate) struct TieList<'a> {
    /// Room for every site of a class plus one (the slot an empty mask writes and does not count).
    buf: &'a mut [u64],
    n: usize,
    /// [`Self::entry`] of the current call's first site.
    tag: u64,
}

impl TieList<'_> {
    /// The entry of site `k` of a call that starts at index `o` of the sublattice vector: the
    /// index `o + k` above bit 16, the call position `k < 2^16` below.
    #[inline(always)]
    fn entry(o: usize, k: usize) -> u64 {
        (((o + k) as u64) << 16) | k as u64
    }

    /// `(sublattice index, call position)` of an entry.
    #[inline(always)]
    fn split(e: u64) -> (usize, usize) {
        ((e >> 16) as usize, (e & 0xffff) as usize)
    }

    /// Appends the sites of `mask` (bit `j` ⇔ call site `k0 + j`) in order.
    #[inline(always)]
    fn push_mask(&mut self, mask: u64, k0: usize) {
        push_mask(self.buf, &mut self.n, self.tag, mask, k0);
    }
}

/// [`TieList::push_mask`] on the list's parts held in locals (so a kernel loop keeps them in
/// registers). One tie per mask costs no branch: the entry is written to slot `n` and counted
/// only if the mask is not empty (`n` < sites so far + 1 ≤ `buf.len()`). More ties in one mask
/// (probability < 3 % for 64 sites) take the cold path.
#[inline(always)]
fn push_mask(buf: &mut [u64], n: &mut usize, tag: u64, mask: u64, k0: usize) {
    let first = k0 as u64 + u64::from(mask.trailing_zeros());
    buf[*n] = tag + first * 0x1_0001;
    *n += usize::from(mask != 0);
    let rest = mask & mask.wrapping_sub(1);
    if rest != 0 {
        *n = push_rest(buf, *n, tag, rest, k0);
    }
}

/// The rest of [`push_mask`]'s ties; returns the new count. (The count goes in and out by
/// value: a `&mut` to it would make the kernels keep it in memory, a store and a reload on every
/// step's dependency chain.)
#[cold]
#[inline(never)]
fn push_rest(buf: &mut [u64], mut n: usize, tag: u64, mut mask: u64, k0: usize) -> usize {
    while mask != 0 {
        let k = k0 as u64 + u64::from(mask.trailing_zeros());
        buf[n] = tag + k * 0x1_0001;
        n += 1;
        mask &= mask - 1;
    }
    n
}

/// The neighbour runs of one kernel call: site `k`'s neighbours are `wrapped[k]` (or `fix[k]`
/// where `edge[k]` is `−1`: the row's periodic wrap), `other[k]`, `up[k]` and `dn[k]`.
#[derive(Clone, Copy)]
pub(crate) struct Runs<'a> {
    wrapped: &'a [Spin],
    other: &'a [Spin],
    up: &'a [Spin],
    dn: &'a [Spin],
    fix: &'a [Spin],
    edge: &'a [i8],
}

impl<'a> Runs<'a> {
    /// The runs cut to `w` sites (panics if one is shorter: the vector kernels rely on it).
    #[inline(always)]
    fn cut(self, w: usize) -> Self {
        Self {
            wrapped: &self.wrapped[..w],
            other: &self.other[..w],
            up: &self.up[..w],
            dn: &self.dn[..w],
            fix: &self.fix[..w],
            edge: &self.edge[..w],
        }
    }
}

/// A run of sites of a colour class: new spins from the neighbour sums and the top random bytes;
/// appends ties (`byte == H`) to `ties`, site `k` of the run being call site `k`.
#[inline(always)]
fn run_kernel(runs: Runs<'_>, bytes: &[u8], t: &mut [Spin], ties: &mut TieList<'_>, hi: &[u8; 5]) {
    run_kernel_from(runs, bytes, t, ties, 0, hi);
}

/// [`run_kernel`] over `t[k0..]` (the vector kernels' tail).
#[inline(always)]
fn run_kernel_from(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    ties: &mut TieList<'_>,
    k0: usize,
    hi: &[u8; 5],
) {
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let [h0, h1, h2, h3, h4] = *hi;
    for k in k0..w {
        let a = if r.edge[k] != 0 {
            r.fix[k]
        } else {
            r.wrapped[k]
        };
        let s = a
            .wrapping_add(r.other[k])
            .wrapping_add(r.up[k])
            .wrapping_add(r.dn[k]);
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
        if b == h {
            ties.push_mask(1, k);
        }
    }
}

/// The threshold bytes indexed by `s + 4 ∈ {0, 2, 4, 6, 8}` (one 128-bit `pshufb` table).
fn table16(hi: &[u8; 5]) -> [i8; 16] {
    let hb = hi.map(|v| v as i8);
    [
        hb[0], 0, hb[1], 0, hb[2], 0, hb[3], 0, hb[4], 0, 0, 0, 0, 0, 0, 0,
    ]
}

/// [`run_kernel`] in explicit AVX2: 32 sites per step (`pblendvb` takes the wrapped neighbour at
/// the row edges, `pshufb` looks the threshold byte up from the neighbour sum, `movemask` gives
/// the step's tie bits), then the 16-site step of [`run_kernel_sse_tail`], then the portable
/// loop for the rest. Bit-identical to it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn run_kernel_avx2(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    ties: &mut TieList<'_>,
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let t16 = table16(hi);
    let mut k = 0;
    let (buf, mut n, tag) = (&mut *ties.buf, ties.n, ties.tag);
    // SAFETY: every load/store below touches `[k, k + 32)` with the loop bound guaranteeing that
    // range lies within all slices (each cut to `w` sites above).
    unsafe {
        let tbl = _mm256_broadcastsi128_si256(_mm_loadu_si128(t16.as_ptr().cast()));
        let four = _mm256_set1_epi8(4);
        let flip = _mm256_set1_epi8(i8::MIN);
        let one = _mm256_set1_epi8(1);
        let mone = _mm256_set1_epi8(-1);
        while k + 32 <= w {
            let ld = |s: &[Spin]| _mm256_loadu_si256(s.as_ptr().add(k).cast());
            let edge = _mm256_loadu_si256(r.edge.as_ptr().add(k).cast());
            let a = _mm256_blendv_epi8(ld(r.wrapped), ld(r.fix), edge);
            let s = _mm256_add_epi8(
                _mm256_add_epi8(a, ld(r.other)),
                _mm256_add_epi8(ld(r.up), ld(r.dn)),
            );
            let h = _mm256_shuffle_epi8(tbl, _mm256_add_epi8(s, four));
            let b = _mm256_loadu_si256(bytes.as_ptr().add(k).cast());
            let lt = _mm256_cmpgt_epi8(_mm256_xor_si256(h, flip), _mm256_xor_si256(b, flip));
            let eq = _mm256_cmpeq_epi8(b, h);
            _mm256_storeu_si256(
                t.as_mut_ptr().add(k).cast(),
                _mm256_blendv_epi8(mone, one, lt),
            );
            push_mask(
                buf,
                &mut n,
                tag,
                u64::from(_mm256_movemask_epi8(eq) as u32),
                k,
            );
            k += 32;
        }
    }
    ties.n = n;
    if k < w {
        run_kernel_sse_tail(runs, bytes, t, ties, k, hi);
    }
}

/// [`run_kernel`] in AVX-512BW: 64 sites per step, the edge blend and the compares in mask
/// registers; the rest (under 64 sites, a call's last few at most) through the 16-site step of
/// [`run_kernel_sse_tail`] and the portable loop. Bit-identical to it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
#[inline(never)]
fn run_kernel_avx512(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    ties: &mut TieList<'_>,
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let t16 = table16(hi);
    let mut k = 0;
    let (buf, mut n, tag) = (&mut *ties.buf, ties.n, ties.tag);
    // SAFETY: every load/store below touches `[k, k + 64)` (or `[k, k + 32)`) with the loop
    // bounds guaranteeing that range lies within all slices (each cut to `w` sites above).
    unsafe {
        let tbl = _mm512_broadcast_i32x4(_mm_loadu_si128(t16.as_ptr().cast()));
        let four = _mm512_set1_epi8(4);
        let one = _mm512_set1_epi8(1);
        let mone = _mm512_set1_epi8(-1);
        while k + 64 <= w {
            let ld = |s: &[Spin]| _mm512_loadu_si512(s.as_ptr().add(k).cast());
            let edge = _mm512_movepi8_mask(_mm512_loadu_si512(r.edge.as_ptr().add(k).cast()));
            let a = _mm512_mask_blend_epi8(edge, ld(r.wrapped), ld(r.fix));
            let s = _mm512_add_epi8(
                _mm512_add_epi8(a, ld(r.other)),
                _mm512_add_epi8(ld(r.up), ld(r.dn)),
            );
            let h = _mm512_shuffle_epi8(tbl, _mm512_add_epi8(s, four));
            let b = _mm512_loadu_si512(bytes.as_ptr().add(k).cast());
            let lt = _mm512_cmplt_epu8_mask(b, h);
            _mm512_storeu_si512(
                t.as_mut_ptr().add(k).cast(),
                _mm512_mask_blend_epi8(lt, mone, one),
            );
            push_mask(buf, &mut n, tag, _mm512_cmpeq_epi8_mask(b, h), k);
            k += 64;
        }
    }
    ties.n = n;
    if k < w {
        run_kernel_sse_tail(runs, bytes, t, ties, k, hi);
    }
}

/// The vector kernels' tail from site `k`: 16-site SSE steps while they fit, then the portable
/// loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn run_kernel_sse_tail(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    ties: &mut TieList<'_>,
    mut k: usize,
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let t16 = table16(hi);
    while k + 16 <= w {
        // SAFETY: the loads and the store touch `[k, k + 16)`, within every slice (cut to `w`).
        unsafe {
            let ld = |s: &[Spin]| _mm_loadu_si128(s.as_ptr().add(k).cast());
            let edge = _mm_loadu_si128(r.edge.as_ptr().add(k).cast());
            let a = _mm_blendv_epi8(ld(r.wrapped), ld(r.fix), edge);
            let s = _mm_add_epi8(
                _mm_add_epi8(a, ld(r.other)),
                _mm_add_epi8(ld(r.up), ld(r.dn)),
            );
            let tbl = _mm_loadu_si128(t16.as_ptr().cast());
            let h = _mm_shuffle_epi8(tbl, _mm_add_epi8(s, _mm_set1_epi8(4)));
            let b = _mm_loadu_si128(bytes.as_ptr().add(k).cast());
            let flip = _mm_set1_epi8(i8::MIN);
            let lt = _mm_cmpgt_epi8(_mm_xor_si128(h, flip), _mm_xor_si128(b, flip));
            let eq = _mm_cmpeq_epi8(b, h);
            let (one, mone) = (_mm_set1_epi8(1), _mm_set1_epi8(-1));
            _mm_storeu_si128(t.as_mut_ptr().add(k).cast(), _mm_blendv_epi8(mone, one, lt));
            ties.push_mask(u64::from(_mm_movemask_epi8(eq) as u32 & 0xffff), k);
        }
        k += 16;
    }
    if k < w {
        run_kernel_from(runs, bytes, t, ties, k, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Every kernel level gives the portable kernel's spins and tie list, bit for bit: runs of
    /// lengths that exercise the 64-, 32- and 16-site steps and the scalar tail, edge sites in
    /// several places, and bytes drawn so that ties (and several per mask) are common.
    #[test]
    fn lattice_levels_simd_and_portable_agree() {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let hi = [3u8, 60, 128, 200, 251];
        let spin = |r: &mut rand_chacha::ChaCha8Rng| if r.random::<bool>() { 1i8 } else { -1 };
        let mut levels_run = vec![];
        let mut total_ties = 0;
        for len in [
            1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256, 1000,
        ] {
            for w in [3, 16, 64] {
                let runs: [Vec<Spin>; 5] =
                    std::array::from_fn(|_| (0..len).map(|_| spin(&mut r)).collect());
                let edge: Vec<i8> = (0..len)
                    .map(|k| if k % w == w - 1 { -1 } else { 0 })
                    .collect();
                // Half the bytes are a threshold byte, so about one site in ten ties.
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        if r.random::<bool>() {
                            hi[r.random_range(0..5)]
                        } else {
                            r.random()
                        }
                    })
                    .collect();
                let go = |level: Level| {
                    let mut t = vec![0i8; len];
                    let mut buf = vec![0u64; len + 1];
                    let mut ties = TieList {
                        buf: &mut buf,
                        n: 0,
                        tag: TieList::entry(5 * w, 0),
                    };
                    let runs = Runs {
                        wrapped: &runs[0],
                        other: &runs[1],
                        up: &runs[2],
                        dn: &runs[3],
                        fix: &runs[4],
                        edge: &edge,
                    };
                    match level {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: only called for levels `Level::detect` reports.
                        Level::Avx512 => unsafe {
                            run_kernel_avx512(runs, &bytes, &mut t, &mut ties, &hi)
                        },
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: as above.
                        Level::Avx2 => unsafe {
                            run_kernel_avx2(runs, &bytes, &mut t, &mut ties, &hi)
                        },
                        _ => run_kernel(runs, &bytes, &mut t, &mut ties, &hi),
                    }
                    let n = ties.n;
                    (t, buf[..n].to_vec())
                };
                let want = go(Level::Portable);
                total_ties += want.1.len();
                assert!(want.1.windows(2).all(|p| p[0] < p[1]), "ties in site order");
                for level in [Level::Avx2, Level::Avx512] {
                    if level <= Level::detect() {
                        assert_eq!(go(level), want, "{level:?}, {len} sites, w = {w}");
                        levels_run.push(level);
                    }
                }
            }
        }
        assert!(
            total_ties > 300,
            "{total_ties} ties: the bytes do not exercise the tie path"
        );
        if levels_run.is_empty() {
            eprintln!(
                "SKIPPED: no AVX2 — lattice_levels_simd_and_portable_agree compared no vector kernel"
            );
        } else {
            eprintln!(
                "RAN: lattice_levels_simd_and_portable_agree compared {:?} with the portable kernel",
                levels_run.iter().collect::<std::collections::BTreeSet<_>>()
            );
        }
    }
}
