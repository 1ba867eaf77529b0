//! Speed-of-light loops for `bench sampler`: the least work per update the lattice and lanes
//! engines' algorithms need on this CPU, with none of the engines' bookkeeping.
//!
//! A case's binding bound (`thermoq_bench::sampler::binding_bound`) counts one resource: random
//! bytes for the lattice, FMA-pipe operations for the DTM layer. The update itself also costs
//! vector work on the same core, so a bound fraction near 1 is out of reach for any code. These
//! loops measure how close the simplest loop gets, in the same run as the engines:
//!
//! * [`probe_lattice_loop`] — the lattice engine's own 64-site steps (the row wrap in registers)
//!   on an `lx × ly` checkerboard, each class one run in pieces of a 4 KiB refill of the chain's
//!   ChaCha8 stream ([`fill_chacha8`](super::chacha::fill), as the engine draws it), tie masks
//!   written and counted. Left out: finishing the ties (a tied site keeps its neighbour sum: not
//!   a sampler), the engine's calls of 1,024 sites and their set-up, the parity blocks' halo
//!   rows and row layout.
//! * [`probe_dtm_loop`] — the lanes engine's update on a model's colour classes, two blocks of 16
//!   chains per task with one index and coupling load for both (the engine's block pairs), the
//!   engine's own `xoshiro128+` step and comparison; the field as `S_i − 2·Σ_{x_j = −1} J_ij`
//!   (one masked add per neighbour instead of the engine's two; other rounding, so other
//!   samples), and the state kept as down masks only (the engine also stores each lane's `f32`
//!   spin row for its observers).
//!
//! Both give `None` where the engines' widest kernels do not run (no AVX-512, or for the
//! lattice rows that do not tile 64 sites); a colouring that does not fit the model is an error.

#[cfg(target_arch = "x86_64")]
use super::lanes::{CHUNK, Class, NODE_GROUP, W, c2_of, up24_mask_avx512, xo_step_avx512};
#[cfg(target_arch = "x86_64")]
use super::lattice::{Level, RowWraps};
use crate::SamplerError;
use rayon::prelude::*;
use thermoq_core::Coloring;
use thermoq_models::{EnergyModel, IsingModel};

/// Runs `sweeps` checkerboard sweeps of the lattice ceiling loop on `chains` chains of an
/// `lx × ly` lattice (`lx / 2` dividing 64, `lx`, `ly` even), one rayon task per chain; returns
/// the number of updates (`sweeps · lx · ly · chains`), or `None` without AVX-512 BW or for
/// another shape.
pub fn probe_lattice_loop(lx: usize, ly: usize, chains: usize, sweeps: usize) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        let w = lx / 2;
        let shape = lx.is_multiple_of(2) && ly.is_multiple_of(2) && ly >= 4;
        let steps = RowWraps::new(w, Level::detect())?;
        if !shape || !(w * ly).is_multiple_of(64) {
            return None;
        }
        // Thresholds of J = 0.4, β = 1, h = 0 (the bench's lattices) by neighbour sum.
        let hi = [10u8, 43, 128, 213, 246];
        let sink: u64 = (0..chains)
            .into_par_iter()
            .map(|c| lattice_chain(&steps, w, ly, sweeps, c as u64, &hi))
            .sum();
        std::hint::black_box(sink);
        Some((sweeps * lx * ly * chains) as u64)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (lx, ly, chains, sweeps);
        None
    }
}

/// One chain of [`probe_lattice_loop`]: two sublattices of `ly` rows of `w` sites with a
/// 64-byte pad either side, each class one run of the engine's rotated steps ([`RowWraps::run`])
/// in pieces of one 4 KiB refill of ChaCha8 bytes (whole 64-site steps: the class and the refill
/// are multiples of 64); a row's neighbours are the other sublattice's same row, its wrap and the
/// rows `w` before and after. Returns the tie count (so the work is kept).
#[cfg(target_arch = "x86_64")]
fn lattice_chain(
    steps: &RowWraps,
    w: usize,
    ly: usize,
    sweeps: usize,
    chain: u64,
    hi: &[u8; 5],
) -> u64 {
    const PAD: usize = 64;
    const REFILL: usize = 4096;
    let sites = w * ly;
    let mut sub = [vec![1i8; sites + 2 * PAD], vec![-1i8; sites + 2 * PAD]];
    let mut rng = thermoq_core::rng::chain_rng(1, chain);
    let mut buf = vec![0u8; REFILL];
    let mut pos = REFILL;
    let mut masks = [0u64; REFILL / 64];
    let mut ties = 0u64;
    for _ in 0..sweeps {
        for p in 0..2 {
            let [a, b] = &mut sub;
            let (tgt, src) = if p == 0 { (a, &*b) } else { (b, &*a) };
            let mut k = 0;
            while k < sites {
                if pos == REFILL {
                    super::chacha::fill(&mut rng, &mut buf);
                    pos = 0;
                }
                let len = (REFILL - pos).min(sites - k);
                let at = PAD + k;
                steps.run(
                    &src[at..at + len],
                    &src[at - w..at - w + len],
                    &src[at + w..at + w + len],
                    &buf[pos..pos + len],
                    &mut tgt[at..at + len],
                    &mut masks[..len / 64],
                    hi,
                    p == 1,
                );
                ties += masks[..len / 64]
                    .iter()
                    .map(|m| u64::from(m.count_ones()))
                    .sum::<u64>();
                pos += len;
                k += len;
            }
        }
    }
    ties
}

/// Runs `sweeps` sweeps of the DTM ceiling loop over `coloring`'s classes (in order) on
/// `blocks` blocks of 16 chains (rounded up to pairs), one rayon task per pair of blocks;
/// returns the number of updates (`sweeps · n · 16 · blocks`), or `None` without AVX-512.
///
/// # Errors
/// [`SamplerError::Core`] when `coloring` is not a proper colouring of `model`'s graph.
pub fn probe_dtm_loop(
    model: &IsingModel,
    coloring: &Coloring,
    blocks: usize,
    sweeps: usize,
) -> Result<Option<u64>, SamplerError> {
    Coloring::from_colors(model.graph(), coloring.colors().to_vec())?;
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma")) {
            return Ok(None);
        }
        let classes: Vec<Ceiling> = Class::all(model, coloring)
            .into_iter()
            .map(Ceiling::of)
            .collect();
        let n = model.n_spins();
        let c2 = c2_of(model.beta());
        let pairs = blocks.div_ceil(2);
        let sink: u64 = (0..pairs)
            .into_par_iter()
            .map(|q| {
                // SAFETY: AVX-512F and FMA were detected above.
                unsafe { dtm_pair(&classes, n, c2, sweeps, q) }
            })
            .sum();
        std::hint::black_box(sink);
        Ok(Some((sweeps * n * W * 2 * pairs) as u64))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (blocks, sweeps);
        Ok(None)
    }
}

/// A class with the field's all-up value `S_i = h_i + Σ_j J_ij` and `−2·J_ij` per edge.
#[cfg(target_arch = "x86_64")]
struct Ceiling {
    cl: Class,
    all_up: Vec<f32>,
    m2j: Vec<f32>,
}

#[cfg(target_arch = "x86_64")]
impl Ceiling {
    fn of(cl: Class) -> Self {
        let all_up = (0..cl.nodes.len())
            .map(|s| {
                let (a, b) = (cl.off[s] as usize, cl.off[s + 1] as usize);
                cl.h[s] + cl.j[a..b].iter().sum::<f32>()
            })
            .collect();
        let m2j = cl.j.iter().map(|j| -2.0 * j).collect();
        Self { cl, all_up, m2j }
    }
}

/// One pair of blocks of [`probe_dtm_loop`]; returns a checksum of the down masks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn dtm_pair(classes: &[Ceiling], n: usize, c2: f32, sweeps: usize, q: usize) -> u64 {
    use std::arch::x86_64::*;
    let mut down = [vec![0u16; n], vec![0u16; n]];
    for (b, d) in down.iter_mut().enumerate() {
        for (i, x) in d.iter_mut().enumerate() {
            *x = (i as u16).wrapping_mul(40_503) ^ (q * 2 + b) as u16;
        }
    }
    let mut fields = [[[0f32; W]; CHUNK], [[0f32; W]; CHUNK]];
    // SAFETY: node and neighbour indices come from the model's graph (`< n`, the masks'
    // length); `s − base < CHUNK` indexes the field rows; every read is inside its slice.
    unsafe {
        let mut st: [[__m512i; 4]; 2] = std::array::from_fn(|b| {
            std::array::from_fn(|k| {
                _mm512_add_epi32(
                    _mm512_set1_epi32((q * 8 + b * 4 + k + 1) as i32),
                    _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                )
            })
        });
        let c2 = _mm512_set1_ps(c2);
        for _ in 0..sweeps {
            for c in classes {
                let cl = &c.cl;
                let len = cl.nodes.len();
                let mut base = 0;
                while base < len {
                    let end = (base + CHUNK).min(len);
                    // Phase 1: both blocks' fields, one index and coupling per neighbour, the
                    // sums of `NODE_GROUP` nodes interleaved (as the engine's).
                    let mut s = base;
                    while s < end {
                        let g = NODE_GROUP.min(end - s);
                        let a: [usize; NODE_GROUP] = std::array::from_fn(|i| {
                            *cl.off.get_unchecked(s + i.min(g - 1)) as usize
                        });
                        let b: [usize; NODE_GROUP] = std::array::from_fn(|i| {
                            *cl.off.get_unchecked(s + i.min(g - 1) + 1) as usize
                        });
                        let common = (0..g).map(|i| b[i] - a[i]).min().unwrap_or(0);
                        let mut acc: [[__m512; 2]; NODE_GROUP] = std::array::from_fn(|i| {
                            [_mm512_set1_ps(*c.all_up.get_unchecked(s + i.min(g - 1))); 2]
                        });
                        let add = |acc: &mut [__m512; 2], e: usize| {
                            let k = *cl.nbr.get_unchecked(e) as usize;
                            let j = _mm512_set1_ps(*c.m2j.get_unchecked(e));
                            for (bl, a) in acc.iter_mut().enumerate() {
                                *a = _mm512_mask_add_ps(*a, *down[bl].get_unchecked(k), *a, j);
                            }
                        };
                        for d in 0..common {
                            for (i, acc) in acc.iter_mut().enumerate().take(g) {
                                add(acc, a[i] + d);
                            }
                        }
                        for (i, acc) in acc.iter_mut().enumerate().take(g) {
                            for e in a[i] + common..b[i] {
                                add(acc, e);
                            }
                            for (bl, a) in acc.iter().enumerate() {
                                _mm512_storeu_ps(fields[bl][s + i - base].as_mut_ptr(), *a);
                            }
                        }
                        s += g;
                    }
                    // Phase 2: per block, the lanes' words, exponential and comparison.
                    for bl in 0..2 {
                        for s in base..end {
                            let acc = _mm512_loadu_ps(fields[bl][s - base].as_ptr());
                            let u = _mm512_cvtepi32_ps(xo_step_avx512(&mut st[bl], u16::MAX));
                            let is_up = up24_mask_avx512(_mm512_mul_ps(c2, acc), u);
                            *down[bl].get_unchecked_mut(*cl.nodes.get_unchecked(s) as usize) =
                                !is_up;
                        }
                    }
                    base = end;
                }
            }
        }
    }
    down.iter()
        .flat_map(|d| d.iter())
        .fold(0u64, |a, &x| a.wrapping_add(u64::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probes run where the engines' wide kernels do and report the updates they did.
    #[test]
    fn ceiling_probes_count_their_updates() {
        match probe_lattice_loop(128, 16, 3, 2) {
            Some(u) => assert_eq!(u, 2 * 128 * 16 * 3),
            None => eprintln!("SKIPPED: no AVX-512 — the lattice ceiling loop did not run"),
        }
        assert_eq!(probe_lattice_loop(100, 16, 1, 1), None, "rows of 50 sites");
        let model = thermoq_models::builders::lattice_2d(8, 8, 0.4, 0.1, 1.0).unwrap();
        let coloring = Coloring::greedy(model.graph());
        match probe_dtm_loop(&model, &coloring, 3, 2).unwrap() {
            Some(u) => assert_eq!(u, 2 * 64 * 16 * 4),
            None => eprintln!("SKIPPED: no AVX-512 — the DTM ceiling loop did not run"),
        }
        let other = thermoq_models::builders::lattice_2d(4, 4, 0.4, 0.1, 1.0).unwrap();
        let err = probe_dtm_loop(&other, &coloring, 1, 1);
        assert!(
            matches!(err, Err(SamplerError::Core(_))),
            "a colouring of another graph: {err:?}"
        );
    }
}
