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
//! edge mask; the sublattice vectors carry a row of padding at each end for it). Where the rows
//! tile a 64-site vector (`w` dividing 64, as on `ising-32` and `ising-128`) and the CPU has
//! AVX-512, a step instead turns the same-row run into the wrapped one in registers, row ends
//! included ([`RowWrap`]: one `vpermb` with VBMI, lane moves without). The kernel is branch-free
//! over `i8` slices, compiled three times
//! (portable, AVX2 and AVX-512BW, chosen at run time; identical bits); it writes one tie mask
//! per 64 sites and leaves a tied site's neighbour sum in its place. After each call the tied
//! sites go to a list without a branch per mask (more than one tie in a mask takes a cold path);
//! they are finished once per colour class, in site order, after all its calls.
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

/// Tie masks a kernel call can need: one per 64 sites of the longest call (a whole row of the
/// widest lattice the byte buffer serves, [`LatticeEngine::MAX_HALF_WIDTH`]).
const CALL_MASKS: usize = BUF_BYTES / 64;

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
    /// With AVX-512 and rows that divide a 64-site vector: the in-register row wraps.
    rot: Option<RowWraps>,
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

/// Whether this CPU has AVX-512 VBMI (the byte permutation of the row-rotation kernel).
fn vbmi_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512vbmi");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// For rows of `w` sites that tile a 64-site vector (`64 % w == 0`), the permutations that take
/// a vector of whole rows of the other sublattice (`other`, each site's neighbour in the same
/// column of the run) to the wrapped neighbours: shift 0, the left neighbour (lane `j − 1`, the
/// row's last lane at its first); shift 1, the right neighbour (lane `j + 1`, the row's first
/// lane at its last). `None` for other widths.
fn rot_tables(w: usize) -> Option<[[u8; 64]; 2]> {
    if w == 0 || !64usize.is_multiple_of(w) {
        return None;
    }
    let left = std::array::from_fn(|j| if j % w == 0 { j + w - 1 } else { j - 1 } as u8);
    let right = std::array::from_fn(|j| if j % w == w - 1 { j + 1 - w } else { j + 1 } as u8);
    Some([left, right])
}

impl Level {
    /// The best level this CPU runs.
    pub(super) fn detect() -> Self {
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

/// A chain in sublattice layout, plus the tie scratch buffers.
pub(crate) struct LatticeChain {
    sub: [Vec<Spin>; 2],
    /// A kernel call's tie masks (each kernel writes every word it uses: nothing to clear).
    masks: Box<[u64; CALL_MASKS]>,
    /// A colour class's tied sites ([`TieList`]); room for all of them plus one.
    ties: Vec<usize>,
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
        let mut e = Self {
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
            level: Level::Portable,
            rot: None,
            sources: ChainSources::default(),
        };
        e.set_level(Level::detect());
        e
    }

    /// Sets the kernel level, and the row-rotation tables when that level can use them.
    fn set_level(&mut self, level: Level) {
        self.level = level;
        self.rot = RowWraps::new(self.w, level);
    }

    /// Forces the portable kernel (for tests comparing it with the vector ones), or back to the
    /// best this CPU has.
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.set_level(if on { Level::detect() } else { Level::Portable });
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
            masks: Box::new([0; CALL_MASKS]),
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
        self.update_impl::<B>(ch, p, rb, |runs, bytes, t, masks, hi| {
            run_kernel_avx2(runs, bytes, t, masks, hi)
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
    fn update_avx512<B: Bytes>(&self, ch: &mut LatticeChain, p: usize, rb: &mut B) {
        // The closure inherits this function's target features.
        self.update_impl::<B>(ch, p, rb, |runs, bytes, t, masks, hi| match runs.rot {
            // SAFETY: `vbmi` is only set when AVX-512 VBMI was detected at run time.
            Some(rot) if rot.wraps.vbmi => unsafe {
                run_kernel_avx512_vbmi(runs, bytes, t, masks, hi)
            },
            Some(_) => run_kernel_avx512_lanes(runs, bytes, t, masks, hi),
            None => run_kernel_avx512(runs, bytes, t, masks, hi),
        });
    }

    /// The in-register row wrap of `shift`, where the level and row width allow one.
    fn row_wrap(&self, shift: usize) -> Option<RowWrap<'_>> {
        self.rot.as_ref().map(|wraps| wraps.wrap(shift == 1))
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
        kernel: impl Fn(Runs<'_>, &[u8], &mut [Spin], &mut [u64], &[u8; 5]),
    ) {
        let (w, hw) = (self.w, self.hw);
        let LatticeChain { sub, masks, ties } = ch;
        let [s0, s1] = sub;
        let (tgt, src) = if p == 0 { (s0, &*s1) } else { (s1, &*s0) };
        let mut list = TieList { buf: ties, n: 0 };
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
                        rot: self.row_wrap(0),
                    }
                } else {
                    Runs {
                        wrapped: right,
                        other: left,
                        up,
                        dn,
                        fix: &src[same + 1 - w..same + 1 - w + len],
                        edge: &self.edge[1][..len],
                        rot: self.row_wrap(1),
                    }
                };
                // The kernel writes one tie mask per 64 sites; the list takes them in site order.
                let m = &mut masks[..len.div_ceil(64)];
                kernel(runs, bytes, t, m, &self.hi);
                for (j, &mk) in m.iter().enumerate() {
                    list.push_mask(mk, same + 64 * j);
                }
                r0 += rows;
            }
        }
        // Rare (each site ties with probability ≤ 1/256): finish those compares in site order,
        // once for the class. The kernel left a tie's neighbour sum `s` in its place; its table
        // entry is `(s + 4) / 2`. The ties' 3 bytes each are taken together: the stream is read
        // in the same order, so the bytes are the same as one `take_carry(3)` per tie.
        let n = list.n;
        let mut done = 0;
        while done < n {
            let m = (n - done).min(BUF_BYTES / 3);
            let bytes = rb.take_carry(3 * m);
            for (&i, b) in ties[done..done + m].iter().zip(bytes.chunks_exact(3)) {
                let cls = usize::from((tgt[i] + 4) as u8 >> 1);
                let u = u32::from_le_bytes([b[0], b[1], b[2], 0]);
                tgt[i] = if u < self.lo[cls] { 1 } else { -1 };
            }
            done += m;
        }
        self.halo(tgt);
    }
}

/// The sublattice indices of one colour class's sites whose top byte tied, in site order,
/// appended from the kernels' tie masks.
pub(crate) struct TieList<'a> {
    /// Room for every site of a class plus one (the slot an empty mask writes and does not count).
    buf: &'a mut [usize],
    n: usize,
}

impl TieList<'_> {
    /// Appends the sites of `mask` (bit `j` ⇔ sublattice index `o + j`) in order. One tie per
    /// mask costs no branch: the entry is written to slot `n` and counted only if the mask is not
    /// empty (`n` < sites so far + 1 ≤ `buf.len()`). More ties in one mask (probability < 3 %
    /// for 64 sites) take the cold path.
    #[inline(always)]
    fn push_mask(&mut self, mask: u64, o: usize) {
        self.buf[self.n] = o + mask.trailing_zeros() as usize;
        self.n += usize::from(mask != 0);
        let rest = mask & mask.wrapping_sub(1);
        if rest != 0 {
            self.n = push_rest(self.buf, self.n, rest, o);
        }
    }
}

/// The rest of [`TieList::push_mask`]'s ties; returns the new count.
#[cold]
#[inline(never)]
fn push_rest(buf: &mut [usize], mut n: usize, mut mask: u64, o: usize) -> usize {
    while mask != 0 {
        buf[n] = o + mask.trailing_zeros() as usize;
        n += 1;
        mask &= mask - 1;
    }
    n
}

/// The neighbour runs of one kernel call: site `k`'s neighbours are `wrapped[k]` (or `fix[k]`
/// where `edge[k]` is `−1`: the row's periodic wrap), `other[k]`, `up[k]` and `dn[k]`. With
/// `rot` (AVX-512, rows that tile 64 sites) the wrapped neighbours of a 64-site step are
/// `other`'s step permuted in registers instead, row ends included.
#[derive(Clone, Copy)]
pub(crate) struct Runs<'a> {
    wrapped: &'a [Spin],
    other: &'a [Spin],
    up: &'a [Spin],
    dn: &'a [Spin],
    fix: &'a [Spin],
    edge: &'a [i8],
    rot: Option<RowWrap<'a>>,
}

/// The in-register row wraps of 64-site steps of whole rows of `w` sites (`w` dividing 64) on
/// an AVX-512 CPU: per shift, the permutation that turns the same-row run into the wrapped one
/// ([`rot_tables`]; lane `j` takes lane `table[j]`), applied as one `vpermb` with VBMI; without
/// it, one in-lane `vpshufb` when rows fit a 16-byte lane (`w ≤ 16`), else a 128-bit lane
/// shuffle and a byte align (`w` = 32 or 64).
#[derive(Clone)]
pub(super) struct RowWraps {
    tables: [[u8; 64]; 2],
    w: usize,
    vbmi: bool,
}

impl RowWraps {
    /// The wraps of rows of `w` sites at kernel level `level` (one this CPU runs); `None` below
    /// AVX-512 or for rows that do not tile 64 sites.
    pub(super) fn new(w: usize, level: Level) -> Option<Self> {
        if level != Level::Avx512 {
            return None;
        }
        Some(Self {
            tables: rot_tables(w)?,
            w,
            vbmi: vbmi_available(),
        })
    }

    /// The wrap of the right neighbour (`right`, shift 1) or of the left one (shift 0).
    fn wrap(&self, right: bool) -> RowWrap<'_> {
        RowWrap { wraps: self, right }
    }
}

/// One shift's [`RowWraps`], as a kernel call takes it.
#[derive(Clone, Copy)]
pub(crate) struct RowWrap<'a> {
    wraps: &'a RowWraps,
    right: bool,
}

impl RowWrap<'_> {
    /// The permutation of this shift.
    fn table(&self) -> &[u8; 64] {
        &self.wraps.tables[usize::from(self.right)]
    }
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
            rot: self.rot,
        }
    }
}

/// A run of sites of a colour class: new spins from the neighbour sums and the top random bytes;
/// writes the tie masks: bit `k % 64` of `masks[k / 64]` is set where site `k` ties
/// (`byte == H`). Every kernel writes each of the `t.len().div_ceil(64)` words (no need to clear
/// them first). A tied site gets its neighbour sum (even, in `−4..=4`) instead of a spin, for
/// `update_impl` to finish its compare with.
#[inline(always)]
fn run_kernel(runs: Runs<'_>, bytes: &[u8], t: &mut [Spin], masks: &mut [u64], hi: &[u8; 5]) {
    run_kernel_from(runs, bytes, t, masks, 0, hi);
}

/// [`run_kernel`] over `t[k0..]` (the vector kernels' tail).
#[inline(always)]
fn run_kernel_from(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    masks: &mut [u64],
    k0: usize,
    hi: &[u8; 5],
) {
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    // The words from `k0` on (a caller's step filled any before it).
    masks[k0.div_ceil(64)..w.div_ceil(64)].fill(0);
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
        t[k] = if b == h {
            s
        } else if b < h {
            1
        } else {
            -1
        };
        masks[k / 64] |= u64::from(b == h) << (k % 64);
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
fn run_kernel_avx2(runs: Runs<'_>, bytes: &[u8], t: &mut [Spin], masks: &mut [u64], hi: &[u8; 5]) {
    use std::arch::x86_64::*;
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let masks = &mut masks[..w.div_ceil(64)];
    let t16 = table16(hi);
    let mut k = 0;
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
                _mm256_blendv_epi8(_mm256_blendv_epi8(mone, one, lt), s, eq),
            );
            // The word's first half is written, its second half added.
            let half = u64::from(_mm256_movemask_epi8(eq) as u32) << (k % 64);
            masks[k / 64] = if k % 64 == 0 {
                half
            } else {
                masks[k / 64] | half
            };
            k += 32;
        }
    }
    if k < w {
        run_kernel_sse_tail(runs, bytes, t, masks, k, hi);
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
    masks: &mut [u64],
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let r = runs.cut(t.len());
    // SAFETY: `steps_avx512` calls `wrapped(k, _)` only with `k + 64 ≤ t.len()`, and every run
    // is cut to `t.len()` sites; this function's features are AVX-512F/BW.
    unsafe {
        steps_avx512(runs, bytes, t, masks, hi, |k, _| {
            let ld = |s: &[Spin]| _mm512_loadu_si512(s.as_ptr().add(k).cast());
            let edge = _mm512_movepi8_mask(ld(r.edge));
            _mm512_mask_blend_epi8(edge, ld(r.wrapped), ld(r.fix))
        });
    }
}

/// [`run_kernel_avx512`] for rows that tile a 64-site step (`runs.rot`, [`RowWrap`]): each step
/// loads `other` once and moves it into the wrapped neighbours in registers (row ends included)
/// instead of loading the wrapped run, its fix-up run and the edge mask. The rest (a call's last
/// rows when they do not fill a step) as [`run_kernel_avx512`]'s. Bit-identical to the
/// portable kernel on runs of the engine's layout (`wrapped` and `fix` the shifted runs of the
/// same sublattice row, as `update_impl` cuts them). This one: one `vpermb` (AVX-512 VBMI).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx2")]
#[inline(never)]
fn run_kernel_avx512_vbmi(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    masks: &mut [u64],
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let rot = runs.rot.expect("a row wrap");
    // SAFETY: the table is 64 bytes; this function's features include VBMI.
    unsafe {
        let idx = _mm512_loadu_si512(rot.table().as_ptr().cast());
        steps_avx512(runs, bytes, t, masks, hi, |_, o| {
            _mm512_permutexvar_epi8(idx, o)
        });
    }
}

/// [`run_kernel_avx512_vbmi`] without VBMI (AVX-512BW): the row wrap by lane moves
/// ([`RowWrap`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
#[inline(never)]
fn run_kernel_avx512_lanes(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    masks: &mut [u64],
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let rot = runs.rot.expect("a row wrap");
    // SAFETY: the table is 64 bytes; the operations are AVX-512F/BW.
    unsafe {
        match (rot.wraps.w, rot.right) {
            (w, _) if w <= 16 => {
                // Rows inside a 16-byte lane: the table's first lane, as an in-lane shuffle.
                let idx = _mm512_broadcast_i32x4(_mm_loadu_si128(rot.table().as_ptr().cast()));
                steps_avx512(runs, bytes, t, masks, hi, |_, o| {
                    _mm512_shuffle_epi8(o, idx)
                });
            }
            // `alignr(a, b, n)` per 128-bit lane: bytes `n..n + 16` of `b`'s lane then `a`'s. The
            // byte before a lane's first (left) is the last of the row's previous lane; the byte
            // after its last (right), the first of the row's next lane (both cyclic in the row).
            (32, false) => steps_avx512(runs, bytes, t, masks, hi, |_, o| {
                _mm512_alignr_epi8::<15>(o, _mm512_shuffle_i32x4::<0b10_11_00_01>(o, o))
            }),
            (32, true) => steps_avx512(runs, bytes, t, masks, hi, |_, o| {
                _mm512_alignr_epi8::<1>(_mm512_shuffle_i32x4::<0b10_11_00_01>(o, o), o)
            }),
            (_, false) => steps_avx512(runs, bytes, t, masks, hi, |_, o| {
                _mm512_alignr_epi8::<15>(o, _mm512_shuffle_i32x4::<0b10_01_00_11>(o, o))
            }),
            (_, true) => steps_avx512(runs, bytes, t, masks, hi, |_, o| {
                _mm512_alignr_epi8::<1>(_mm512_shuffle_i32x4::<0b00_11_10_01>(o, o), o)
            }),
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl RowWraps {
    /// The engine's rotated 64-site steps on one run of whole rows, a multiple of 64 sites, for
    /// the ceiling loop of `bench sampler` ([`super::ceiling`]): site `k`'s neighbours are
    /// `other[k]`, its row's wrap of `other` (`right`: the right neighbour) and `up[k]`, `dn[k]`;
    /// new spins to `t`, tie masks to `masks` (one word per 64 sites), ties holding their
    /// neighbour sums.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run(
        &self,
        other: &[Spin],
        up: &[Spin],
        dn: &[Spin],
        bytes: &[u8],
        t: &mut [Spin],
        masks: &mut [u64],
        hi: &[u8; 5],
        right: bool,
    ) {
        assert!(t.len().is_multiple_of(64), "whole steps only");
        let runs = Runs {
            wrapped: other,
            other,
            up,
            dn,
            fix: other,
            edge: other,
            rot: Some(self.wrap(right)),
        };
        // SAFETY: a `RowWraps` exists only at the AVX-512 level (F/BW/VL detected), with `vbmi`
        // only where VBMI was; whole steps, so the tail, which would read the stand-in runs,
        // never runs.
        unsafe {
            if self.vbmi {
                run_kernel_avx512_vbmi(runs, bytes, t, masks, hi);
            } else {
                run_kernel_avx512_lanes(runs, bytes, t, masks, hi);
            }
        }
    }
}

/// The 64-site steps of the AVX-512 kernels ([`run_kernel_avx512`], [`run_kernel_avx512_vbmi`],
/// [`run_kernel_avx512_lanes`]), `wrapped(k, other)` giving step `k`'s wrapped neighbours from
/// the runs or from the step's same-row run `other`; then the tail. Inlined into each (their
/// target features).
///
/// # Safety
/// The CPU has AVX-512F/BW/VL and whatever `wrapped` uses; `wrapped` may read its runs at
/// `[k, k + 64)` for `k + 64 ≤ t.len()`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn steps_avx512(
    runs: Runs<'_>,
    bytes: &[u8],
    t: &mut [Spin],
    masks: &mut [u64],
    hi: &[u8; 5],
    wrapped: impl Fn(usize, std::arch::x86_64::__m512i) -> std::arch::x86_64::__m512i,
) {
    use std::arch::x86_64::*;
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let masks = &mut masks[..w.div_ceil(64)];
    let t16 = table16(hi);
    let mut k = 0;
    // SAFETY: every load/store below touches `[k, k + 64)` with the loop bound guaranteeing that
    // range lies within all slices (each cut to `w` sites above); the caller's features.
    unsafe {
        let tbl = _mm512_broadcast_i32x4(_mm_loadu_si128(t16.as_ptr().cast()));
        let four = _mm512_set1_epi8(4);
        let one = _mm512_set1_epi8(1);
        let mone = _mm512_set1_epi8(-1);
        while k + 64 <= w {
            let ld = |s: &[Spin]| _mm512_loadu_si512(s.as_ptr().add(k).cast());
            let o = ld(r.other);
            let s = _mm512_add_epi8(
                _mm512_add_epi8(wrapped(k, o), o),
                _mm512_add_epi8(ld(r.up), ld(r.dn)),
            );
            let h = _mm512_shuffle_epi8(tbl, _mm512_add_epi8(s, four));
            let b = _mm512_loadu_si512(bytes.as_ptr().add(k).cast());
            let lt = _mm512_cmplt_epu8_mask(b, h);
            let eq = _mm512_cmpeq_epi8_mask(b, h);
            let v = _mm512_mask_mov_epi8(_mm512_mask_blend_epi8(lt, mone, one), eq, s);
            _mm512_storeu_si512(t.as_mut_ptr().add(k).cast(), v);
            masks[k / 64] = eq;
            k += 64;
        }
        if k < w {
            run_kernel_sse_tail(runs, bytes, t, masks, k, hi);
        }
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
    masks: &mut [u64],
    mut k: usize,
    hi: &[u8; 5],
) {
    use std::arch::x86_64::*;
    let w = t.len();
    let r = runs.cut(w);
    let bytes = &bytes[..w];
    let t16 = table16(hi);
    // The words from `k` on (the caller's steps filled any before it).
    masks[k.div_ceil(64)..w.div_ceil(64)].fill(0);
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
            let v = _mm_blendv_epi8(_mm_blendv_epi8(mone, one, lt), s, eq);
            _mm_storeu_si128(t.as_mut_ptr().add(k).cast(), v);
            masks[k / 64] |= u64::from(_mm_movemask_epi8(eq) as u32 & 0xffff) << (k % 64);
        }
        k += 16;
    }
    if k < w {
        run_kernel_from(runs, bytes, t, masks, k, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Every kernel level gives the portable kernel's spins and tie masks, bit for bit: runs of
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
                    let runs = Runs {
                        wrapped: &runs[0],
                        other: &runs[1],
                        up: &runs[2],
                        dn: &runs[3],
                        fix: &runs[4],
                        edge: &edge,
                        rot: None,
                    };
                    kernel_at(level, runs, &bytes, &hi)
                };
                let want = go(Level::Portable);
                total_ties += want
                    .1
                    .iter()
                    .map(|m| m.count_ones() as usize)
                    .sum::<usize>();
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

    /// Spins and tie masks of one kernel call at `level` (the row-rotation kernel when `runs`
    /// has a permutation).
    fn kernel_at(level: Level, runs: Runs<'_>, bytes: &[u8], hi: &[u8; 5]) -> (Vec<i8>, Vec<u64>) {
        let len = runs.other.len();
        let mut t = vec![0i8; len];
        // Not cleared: every kernel must write each word.
        let mut masks = vec![0xa5a5_a5a5_a5a5_a5a5u64; len.div_ceil(64)];
        match (level, runs.rot) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: only called with `vbmi` when AVX-512 VBMI was detected.
            (Level::Avx512, Some(rot)) if rot.wraps.vbmi => unsafe {
                run_kernel_avx512_vbmi(runs, bytes, &mut t, &mut masks, hi)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: only called for levels `Level::detect` reports.
            (Level::Avx512, Some(_)) => unsafe {
                run_kernel_avx512_lanes(runs, bytes, &mut t, &mut masks, hi)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: only called for levels `Level::detect` reports.
            (Level::Avx512, None) => unsafe {
                run_kernel_avx512(runs, bytes, &mut t, &mut masks, hi)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Level::Avx2, _) => unsafe { run_kernel_avx2(runs, bytes, &mut t, &mut masks, hi) },
            _ => run_kernel(runs, bytes, &mut t, &mut masks, hi),
        }
        (t, masks)
    }

    /// The row-rotation kernels (VBMI and lane moves) give the portable kernel's spins and tie
    /// masks on runs laid out as the engine cuts them (the wrapped and fix-up runs the shifted
    /// runs of one sublattice row): every row width that tiles 64 sites, both shifts, calls of
    /// one row to 1,024 sites (whole steps and a shorter tail), ties common.
    #[test]
    fn lattice_row_rotation_simd_and_portable_agree() {
        if Level::detect() != Level::Avx512 {
            eprintln!(
                "SKIPPED: no AVX-512 — lattice_row_rotation_simd_and_portable_agree compared nothing"
            );
            return;
        }
        let mut kinds = vec![false];
        if vbmi_available() {
            kinds.push(true);
        } else {
            eprintln!("SKIPPED: no AVX-512 VBMI — the vpermb row wrap was not compared");
        }
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(23);
        let hi = [3u8, 60, 128, 200, 251];
        let spin = |r: &mut rand_chacha::ChaCha8Rng| if r.random::<bool>() { 1i8 } else { -1 };
        let mut calls = 0;
        for w in [2, 4, 8, 16, 32, 64] {
            for rows in [1, 3, 5, 16, 64 / w + 1, 1024 / w] {
                let len = rows * w;
                // One sublattice with a row of padding either side, as the engine's vectors.
                let src: Vec<Spin> = (0..len + 2 * w).map(|_| spin(&mut r)).collect();
                let (up, dn): (Vec<Spin>, Vec<Spin>) =
                    (0..len).map(|_| (spin(&mut r), spin(&mut r))).unzip();
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        if r.random::<bool>() {
                            hi[r.random_range(0..5)]
                        } else {
                            r.random()
                        }
                    })
                    .collect();
                let tables = rot_tables(w).expect("w divides 64");
                let wraps: Vec<RowWraps> = kinds
                    .iter()
                    .map(|&vbmi| RowWraps { tables, w, vbmi })
                    .collect();
                for shift in 0..2 {
                    // As `update_impl` cuts them, the call starting at `same = w`.
                    let same = w;
                    let (left, right) = (
                        &src[same + shift - 1..same + shift - 1 + len],
                        &src[same + shift..same + shift + len],
                    );
                    let edge: Vec<i8> = (0..len)
                        .map(|k| if k % w == [0, w - 1][shift] { -1 } else { 0 })
                        .collect();
                    let (wrapped, other, fix) = if shift == 0 {
                        (left, right, &src[same + w - 1..same + w - 1 + len])
                    } else {
                        (right, left, &src[same + 1 - w..same + 1 - w + len])
                    };
                    let runs = Runs {
                        wrapped,
                        other,
                        up: &up,
                        dn: &dn,
                        fix,
                        edge: &edge,
                        rot: None,
                    };
                    let want = kernel_at(Level::Portable, runs, &bytes, &hi);
                    for wraps in &wraps {
                        let vbmi = wraps.vbmi;
                        let rot = Runs {
                            rot: Some(wraps.wrap(shift == 1)),
                            ..runs
                        };
                        assert_eq!(
                            kernel_at(Level::Avx512, rot, &bytes, &hi),
                            want,
                            "w = {w}, {rows} rows, shift {shift}, vbmi {vbmi}"
                        );
                        calls += 1;
                    }
                }
            }
        }
        eprintln!("RAN: lattice_row_rotation_simd_and_portable_agree compared {calls} calls");
    }
}
