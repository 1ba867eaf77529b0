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
//! **Layout.** Each chain is stored as its two checkerboard sublattices, row by row, `lx/2` spins
//! per row plus a halo spin at each end (periodic wrap), so a colour class is a set of contiguous
//! rows and its four neighbours are the other sublattice's rows `r−1`, `r`, `r+1` at offsets that
//! depend only on the row's parity. The row kernel is branch-free over contiguous `i8` slices and
//! is compiled twice (baseline and AVX2, chosen at run time); both give identical bits.

use super::avx2_available;
use super::stream::{RandBuf, threshold32};
use crate::pbit::sigmoid;
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
        if n % lx != 0 {
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
    if lx % 2 != 0 || ly % 2 != 0 || coloring.n_colors() != 2 {
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

/// The checkerboard table engine.
pub(crate) struct LatticeEngine {
    lx: usize,
    ly: usize,
    w: usize,
    stride: usize,
    class_parity: [usize; 2],
    hi: [u8; 5],
    lo: [u32; 5],
    simd: bool,
}

/// A chain in sublattice layout, plus a tie scratch row.
pub(crate) struct LatticeChain {
    sub: [Vec<Spin>; 2],
    ties: Vec<u8>,
}

impl LatticeEngine {
    /// Largest row half-width the byte buffer serves in one request.
    pub(crate) const MAX_HALF_WIDTH: usize = super::stream::BUF_BYTES;

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
        Self {
            lx,
            ly,
            w: lx / 2,
            stride: lx / 2 + 2,
            class_parity,
            hi,
            lo,
            simd: avx2_available(),
        }
    }

    /// Forces the portable row kernel (for tests comparing it with the AVX2 one).
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.simd = on && avx2_available();
    }

    /// Whether the AVX2 kernel is in use.
    pub(crate) fn simd(&self) -> bool {
        self.simd
    }

    pub(crate) fn new_chain(&self) -> LatticeChain {
        LatticeChain {
            sub: [
                vec![0; self.ly * self.stride],
                vec![0; self.ly * self.stride],
            ],
            ties: vec![0; self.w],
        }
    }

    pub(crate) fn load(&self, x: &[Spin], ch: &mut LatticeChain) {
        for r in 0..self.ly {
            for c in 0..self.lx {
                let p = (r + c) & 1;
                ch.sub[p][r * self.stride + 1 + c / 2] = x[r * self.lx + c];
            }
        }
        for p in 0..2 {
            self.halo(&mut ch.sub[p]);
        }
    }

    pub(crate) fn store(&self, ch: &LatticeChain, x: &mut [Spin]) {
        for r in 0..self.ly {
            for c in 0..self.lx {
                let p = (r + c) & 1;
                x[r * self.lx + c] = ch.sub[p][r * self.stride + 1 + c / 2];
            }
        }
    }

    fn halo(&self, s: &mut [Spin]) {
        let (w, st) = (self.w, self.stride);
        for r in 0..self.ly {
            s[r * st] = s[r * st + w];
            s[r * st + w + 1] = s[r * st + 1];
        }
    }

    /// Resamples colour class `class` of a chain.
    #[inline]
    pub(crate) fn update_class(&self, ch: &mut LatticeChain, class: usize, rb: &mut RandBuf) {
        let p = self.class_parity[class];
        if self.simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `simd` is only true when AVX2 was detected at run time.
            unsafe {
                self.update_avx2(ch, p, rb)
            }
        } else {
            self.update_impl::<false>(ch, p, rb);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn update_avx2(&self, ch: &mut LatticeChain, p: usize, rb: &mut RandBuf) {
        self.update_impl::<true>(ch, p, rb);
    }

    #[inline(always)]
    fn update_impl<const AVX2: bool>(&self, ch: &mut LatticeChain, p: usize, rb: &mut RandBuf) {
        let (w, st, ly) = (self.w, self.stride, self.ly);
        let [s0, s1] = &mut ch.sub;
        let (tgt, src) = if p == 0 { (s0, &*s1) } else { (s1, &*s0) };
        let ties = &mut ch.ties[..w];
        for r in 0..ly {
            let shift = (r + p) & 1;
            let row = &src[r * st..(r + 1) * st];
            let up = &src[((r + ly - 1) % ly) * st + 1..][..w];
            let dn = &src[((r + 1) % ly) * st + 1..][..w];
            let left = &row[shift..shift + w];
            let right = &row[shift + 1..shift + 1 + w];
            let t = &mut tgt[r * st + 1..r * st + 1 + w];
            let bytes = rb.take(w);
            let any = if AVX2 {
                #[cfg(target_arch = "x86_64")]
                {
                    // SAFETY: `AVX2` is only set on the path entered after run-time detection.
                    unsafe { row_kernel_avx2(left, right, up, dn, bytes, t, ties, &self.hi) }
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    row_kernel(left, right, up, dn, bytes, t, ties, &self.hi)
                }
            } else {
                row_kernel(left, right, up, dn, bytes, t, ties, &self.hi)
            };
            if any {
                // Rare (each site ties with probability ≤ 1/256): finish those compares in order.
                for (q, chunk) in ties.chunks(8).enumerate() {
                    let mut word = [0u8; 8];
                    word[..chunk.len()].copy_from_slice(chunk);
                    if u64::from_ne_bytes(word) == 0 {
                        continue;
                    }
                    for k in q * 8..q * 8 + chunk.len() {
                        if ties[k] != 0 {
                            let s = left[k] + right[k] + up[k] + dn[k];
                            let cls = ((s + 4) >> 1) as usize;
                            t[k] = if rb.u24() < self.lo[cls] { 1 } else { -1 };
                        }
                    }
                }
            }
        }
        for r in 0..ly {
            tgt[r * st] = tgt[r * st + w];
            tgt[r * st + w + 1] = tgt[r * st + 1];
        }
    }
}

/// One row of a colour class: new spins from the neighbour sums and the top random bytes; marks
/// ties (`byte == H`) and returns whether there was any.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_kernel(
    left: &[Spin],
    right: &[Spin],
    up: &[Spin],
    dn: &[Spin],
    bytes: &[u8],
    t: &mut [Spin],
    ties: &mut [u8],
    hi: &[u8; 5],
) -> bool {
    let w = t.len();
    let (left, right, up, dn, bytes, ties) = (
        &left[..w],
        &right[..w],
        &up[..w],
        &dn[..w],
        &bytes[..w],
        &mut ties[..w],
    );
    let [h0, h1, h2, h3, h4] = *hi;
    let mut any = 0u8;
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
        ties[k] = tie;
        any |= tie;
    }
    any != 0
}

/// [`row_kernel`] with explicit AVX2: 32 sites per step (`pshufb` looks the threshold byte up from
/// the neighbour sum), then 16 with SSE, then the portable loop for the rest. Bit-identical to it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
fn row_kernel_avx2(
    left: &[Spin],
    right: &[Spin],
    up: &[Spin],
    dn: &[Spin],
    bytes: &[u8],
    t: &mut [Spin],
    ties: &mut [u8],
    hi: &[u8; 5],
) -> bool {
    use std::arch::x86_64::*;
    let w = t.len();
    assert!(
        left.len() >= w
            && right.len() >= w
            && up.len() >= w
            && dn.len() >= w
            && bytes.len() >= w
            && ties.len() >= w
    );
    let hb = hi.map(|v| v as i8);
    // Table indexed by s + 4 ∈ {0, 2, 4, 6, 8}; duplicated in both 128-bit lanes for pshufb.
    let t16: [i8; 16] = [
        hb[0], 0, hb[1], 0, hb[2], 0, hb[3], 0, hb[4], 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut k = 0;
    let mut any = false;
    // SAFETY: every load/store below touches `[k, k + 32)` or `[k, k + 16)` with the loop bounds
    // guaranteeing that range lies within all slices (lengths ≥ w checked above).
    unsafe {
        let tbl128 = _mm_loadu_si128(t16.as_ptr().cast());
        let tbl = _mm256_broadcastsi128_si256(tbl128);
        let four = _mm256_set1_epi8(4);
        let flip = _mm256_set1_epi8(i8::MIN);
        let one = _mm256_set1_epi8(1);
        let mone = _mm256_set1_epi8(-1);
        let mut anyv = _mm256_setzero_si256();
        while k + 32 <= w {
            let ld = |s: &[Spin]| _mm256_loadu_si256(s.as_ptr().add(k).cast());
            let s = _mm256_add_epi8(
                _mm256_add_epi8(ld(left), ld(right)),
                _mm256_add_epi8(ld(up), ld(dn)),
            );
            let h = _mm256_shuffle_epi8(tbl, _mm256_add_epi8(s, four));
            let b = _mm256_loadu_si256(bytes.as_ptr().add(k).cast());
            let lt = _mm256_cmpgt_epi8(_mm256_xor_si256(h, flip), _mm256_xor_si256(b, flip));
            let eq = _mm256_cmpeq_epi8(b, h);
            _mm256_storeu_si256(
                t.as_mut_ptr().add(k).cast(),
                _mm256_blendv_epi8(mone, one, lt),
            );
            _mm256_storeu_si256(ties.as_mut_ptr().add(k).cast(), _mm256_and_si256(eq, one));
            anyv = _mm256_or_si256(anyv, eq);
            k += 32;
        }
        any |= _mm256_movemask_epi8(anyv) != 0;
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
            let h = _mm_shuffle_epi8(tbl128, _mm_add_epi8(s, four));
            let b = _mm_loadu_si128(bytes.as_ptr().add(k).cast());
            let lt = _mm_cmpgt_epi8(_mm_xor_si128(h, flip), _mm_xor_si128(b, flip));
            let eq = _mm_cmpeq_epi8(b, h);
            _mm_storeu_si128(t.as_mut_ptr().add(k).cast(), _mm_blendv_epi8(mone, one, lt));
            _mm_storeu_si128(ties.as_mut_ptr().add(k).cast(), _mm_and_si128(eq, one));
            any |= _mm_movemask_epi8(eq) != 0;
            k += 16;
        }
    }
    if k < w {
        any |= row_kernel(
            &left[k..w],
            &right[k..w],
            &up[k..w],
            &dn[k..w],
            &bytes[k..w],
            &mut t[k..w],
            &mut ties[k..w],
            hi,
        );
    }
    any
}
