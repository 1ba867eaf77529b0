//! The chain-interleaved ("lanes") sparse engine: `W` chains side by side, one SIMD lane each.
//!
//! The batch is cut into blocks of [`W`] consecutive chains (the last block padded with idle
//! lanes). Inside a block the state is stored chain-minor, `x[node][lane]` as `f32` `±1.0` (one
//! 64-byte cache line per node), and the field of node `i` in all `W` chains is
//! `h_i + Σ_k J_ik · x[k][0..W]`: per neighbour one broadcast coupling and `W/8` AVX2 fused
//! multiply-adds with a memory operand over a contiguous row, no gathers and no conversions.
//! Couplings are shared by all chains; neighbour lists are stored per colour class in CSR order,
//! the class's nodes in ascending order. Fields of a chunk of nodes are computed first, then the
//! comparisons (long independent dependency chains overlap). The batch is converted to this
//! layout and back once per run segment ([`Segment`](crate::Segment)).
//!
//! **Law.** Field summed in `f32` in CSR order from `h_i` (the `sparse-f32` field, bit for bit:
//! `J·x` is exact for `x = ±1`, so fused and unfused sums agree); then `a = φ·(−2β·log₂e)` in
//! `f32` and up iff `u·(1 + 2^a) < 2^24` for a uniform 24-bit `u` — `u < σ(2βφ)·2^24` without a
//! division — with `2^a` from a degree-5 polynomial and the exponent bits (see [`up24`]). Bit
//! depth 24; the realised probability is within 1e-6 relative + 2^-23 of `1/(1 + 2^a)` (checked
//! in this module's tests). The AVX2 and portable kernels give identical samples.
//!
//! **Randomness.** Lane `l` of block `b` is chain `b·W + l` and draws everything (comparison
//! words, the `BLK-SYM` coin, `BLK-RS` picks) from its own [`RandBuf`] (`chain_rng(seed, c)`),
//! read in place with [`RandBuf::take_carry`] so no byte is discarded or copied (until session
//! 11 a per-chain cursor copied every 4 KiB it read; the stream and the samples are the same);
//! each comparison uses 3 bytes. With [`Generator::Xoshiro128Plus`] the comparison words come instead
//! from a per-chain `xoshiro128+` state (seeded from the chain's next 16 ChaCha8 bytes at its first
//! run with it; schedules still draw from ChaCha8), 8 lanes per AVX2 step, top 24 bits of each
//! output; only the lanes a pass updates advance. Blocks are independent rayon tasks whose cut
//! depends only on the chain index, so samples do not depend on the thread count.
//!
//! **Per-chain schedules.** `BLK-SYM` (a coin per chain and sweep) and `BLK-RS` (per-chain
//! picks) let lanes of one block disagree on which class to update at a step. Each sweep is then
//! run as *masked passes*: for step `t`, one pass per distinct class among the lanes' step-`t`
//! classes, writing only the lanes that asked for it (lanes are independent chains, so passes of
//! one step commute). A pass at the end of step `t` is merged with a pass of the same class at
//! step `t + 1` when their lane sets are disjoint. `BLK-ALT` is one unmasked pass per class;
//! `BLK-SYM` with mixed coins costs `2k − 1` passes for `k` classes instead of `k`.

use super::Generator;
use super::stream::{RandBuf, xoshiro_seed_words, xoshiro128p_step};
use crate::observe::Observer;
use crate::run::Segment;
use crate::schedule::ScheduleRng;
use crate::{ChainBatch, ColourSchedule};
use rayon::prelude::*;
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};

/// Chains per block (SIMD lanes of one row).
pub(crate) const W: usize = 16;
/// AVX2 vectors per row.
#[cfg(target_arch = "x86_64")]
const V: usize = W / 8;
/// Nodes per random-number chunk (`CHUNK·W` words of scratch).
pub(super) const CHUNK: usize = 256;
/// Nodes whose neighbour sums the AVX-512 kernel interleaves (independent dependency chains).
pub(super) const NODE_GROUP: usize = 4;
/// Bytes per comparison word.
const WORD: usize = 3;

/// One node's spins (`±1.0` as `f32`) in the `W` lanes of a block: one 64-byte cache line, so a
/// neighbour's contribution to the field is one fused multiply-add per 8 lanes straight from
/// memory, with no sign extension or conversion (the 60_12 DTM grid's 3,600 rows, 230 KB, stay
/// in L2).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Row([f32; W]);

/// Eight lanes' `f32` fields.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct FieldRow([f32; W]);

/// The `xoshiro128+` states of a block's `W` lanes, word-major (`s[k][lane]`), so 8 lanes of one
/// state word are one AVX2 vector.
#[derive(Clone)]
#[repr(C, align(64))]
struct XoBlock {
    s: [[u32; W]; 4],
}

impl XoBlock {
    /// A fixed non-zero state in every lane (idle padding lanes keep it until seeded).
    fn idle() -> Self {
        Self {
            s: [[1; W], [2; W], [3; W], [4; W]],
        }
    }

    /// Seeds lane `l` from 16 bytes (little-endian words); an all-zero seed, which `xoshiro`
    /// cannot leave, becomes the idle state.
    fn seed_lane(&mut self, l: usize, bytes: [u8; 16]) {
        let w = xoshiro_seed_words(&bytes);
        for (k, v) in w.into_iter().enumerate() {
            self.s[k][l] = v;
        }
    }
}

/// `words[s·W + l]` = the top 24 bits of lane `l`'s next `xoshiro128+` output, for `s < len`;
/// only lanes in `mask` advance (the others' words are unused and their streams untouched).
fn xo_words_portable(st: &mut XoBlock, len: usize, mask: u32, words: &mut [u32]) {
    for l in 0..W {
        if mask >> l & 1 == 0 {
            continue;
        }
        let mut v: [u32; 4] = std::array::from_fn(|k| st.s[k][l]);
        for s in 0..len {
            words[s * W + l] = xoshiro128p_step(&mut v) >> 8;
        }
        for (k, x) in v.into_iter().enumerate() {
            st.s[k][l] = x;
        }
    }
}

/// [`xo_words_avx512`] when `wide` (AVX-512F detected at run time), else [`xo_words_avx2`] when
/// `simd` (AVX2), else [`xo_words_portable`].
#[inline]
fn xo_words(st: &mut XoBlock, len: usize, mask: u32, words: &mut [u32], simd: bool, wide: bool) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: callers pass `wide` only from `wide_available()`.
        unsafe { xo_words_avx512(st, len, mask, words) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: callers pass `simd` only from `simd_available()`.
        unsafe { xo_words_avx2(st, len, mask, words) };
        return;
    }
    let _ = (simd, wide);
    xo_words_portable(st, len, mask, words);
}

/// [`xo_words_portable`] with AVX-512, all 16 lanes in one vector (identical words and states).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn xo_words_avx512(st: &mut XoBlock, len: usize, mask: u32, words: &mut [u32]) {
    use std::arch::x86_64::*;
    assert!(words.len() >= len * W);
    let m = mask as u16; // lanes that advance
    // SAFETY: state rows are `W` = 16 words, read and written whole; words are written at `s·W`
    // with `s < len`, within the length checked above.
    unsafe {
        let p: [*mut u32; 4] = std::array::from_fn(|k| st.s[k].as_mut_ptr());
        let mut v: [__m512i; 4] = std::array::from_fn(|k| _mm512_load_si512(p[k].cast()));
        let wp = words.as_mut_ptr();
        for s in 0..len {
            _mm512_storeu_si512(wp.add(s * W).cast(), xo_step_avx512(&mut v, m));
        }
        for (k, v) in v.into_iter().enumerate() {
            _mm512_store_si512(p[k].cast(), v);
        }
    }
}

/// One `xoshiro128+` step of 16 lanes (`v` = the state words `s0..s3`, lane `l` in element `l`):
/// returns the top 24 bits of each lane's output; only lanes in `m` advance.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(super) fn xo_step_avx512(
    v: &mut [std::arch::x86_64::__m512i; 4],
    m: u16,
) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let [s0, s1, s2, s3] = *v;
    let out = _mm512_add_epi32(s0, s3);
    let t = _mm512_slli_epi32::<9>(s1);
    let n2 = _mm512_xor_si512(s2, s0);
    let n3 = _mm512_xor_si512(s3, s1);
    let n1 = _mm512_xor_si512(s1, n2);
    let n0 = _mm512_xor_si512(s0, n3);
    let n2 = _mm512_xor_si512(n2, t);
    let n3 = _mm512_rol_epi32::<11>(n3);
    *v = if m == u16::MAX {
        [n0, n1, n2, n3]
    } else {
        [
            _mm512_mask_mov_epi32(s0, m, n0),
            _mm512_mask_mov_epi32(s1, m, n1),
            _mm512_mask_mov_epi32(s2, m, n2),
            _mm512_mask_mov_epi32(s3, m, n3),
        ]
    };
    _mm512_srli_epi32::<8>(out)
}

/// [`xo_words_portable`] with AVX2, 8 lanes per vector (identical words and states).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn xo_words_avx2(st: &mut XoBlock, len: usize, mask: u32, words: &mut [u32]) {
    use std::arch::x86_64::*;
    assert!(words.len() >= len * W);
    // SAFETY: state rows are `W` words, read and written 8 at a time at offsets `8v < W`; words
    // are written at `s·W + 8v` with `s < len`, within the length checked above.
    unsafe {
        for v in 0..V {
            let m = _mm256_cmpeq_epi32(
                _mm256_and_si256(
                    _mm256_set1_epi32((mask >> (8 * v) & 0xff) as i32),
                    _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128),
                ),
                _mm256_setzero_si256(),
            ); // all-ones in lanes that stay put
            let all = _mm256_testz_si256(m, m) == 1;
            let p: [*mut u32; 4] = std::array::from_fn(|k| st.s[k].as_mut_ptr().add(8 * v));
            let mut sv: [__m256i; 4] = std::array::from_fn(|k| _mm256_load_si256(p[k].cast()));
            let wp = words.as_mut_ptr().add(8 * v);
            for s in 0..len {
                _mm256_storeu_si256(wp.add(s * W).cast(), xo_step_avx2(&mut sv, m, all));
            }
            for (k, sv) in sv.into_iter().enumerate() {
                _mm256_store_si256(p[k].cast(), sv);
            }
        }
    }
}

/// One `xoshiro128+` step of 8 lanes (`v` = the state words `s0..s3`): returns the top 24 bits
/// of each lane's output; lanes where `stay` is all-ones keep their state (`all`: no such lane).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn xo_step_avx2(
    v: &mut [std::arch::x86_64::__m256i; 4],
    stay: std::arch::x86_64::__m256i,
    all: bool,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    let [s0, s1, s2, s3] = *v;
    let out = _mm256_add_epi32(s0, s3);
    let t = _mm256_slli_epi32::<9>(s1);
    let n2 = _mm256_xor_si256(s2, s0);
    let n3 = _mm256_xor_si256(s3, s1);
    let n1 = _mm256_xor_si256(s1, n2);
    let n0 = _mm256_xor_si256(s0, n3);
    let n2 = _mm256_xor_si256(n2, t);
    let n3 = _mm256_or_si256(_mm256_slli_epi32::<11>(n3), _mm256_srli_epi32::<21>(n3));
    *v = if all {
        [n0, n1, n2, n3]
    } else {
        [
            _mm256_blendv_epi8(n0, s0, stay),
            _mm256_blendv_epi8(n1, s1, stay),
            _mm256_blendv_epi8(n2, s2, stay),
            _mm256_blendv_epi8(n3, s3, stay),
        ]
    };
    _mm256_srli_epi32::<8>(out)
}

/// The comparison-word generator alone, for the bench harness's random-number bound: `blocks`
/// blocks of `W` lanes (one rayon task each), `words_per_lane` words per lane generated `CHUNK`
/// at a time exactly as a pass does (AVX2 when available). Returns a checksum so the work is not
/// optimised away.
pub fn probe_xoshiro_words(blocks: usize, words_per_lane: usize) -> u64 {
    let (simd, wide) = (simd_available(), wide_available());
    (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut st = XoBlock::idle();
            for l in 0..W {
                st.seed_lane(l, std::array::from_fn(|i| (b * 131 + l * 17 + i) as u8 | 1));
            }
            let mut words = vec![0u32; CHUNK * W];
            let mut acc = 0u64;
            for _ in 0..words_per_lane.div_ceil(CHUNK) {
                xo_words(&mut st, CHUNK, u32::MAX, &mut words, simd, wide);
                acc = acc.wrapping_add(u64::from(words[17]));
            }
            acc
        })
        .sum()
}

/// One colour class: its nodes, their biases and CSR neighbour lists.
#[derive(Clone)]
pub(super) struct Class {
    pub(super) nodes: Vec<u32>,
    pub(super) h: Vec<f32>,
    pub(super) off: Vec<u32>,
    pub(super) nbr: Vec<u32>,
    pub(super) j: Vec<f32>,
}

impl Class {
    /// The classes of `coloring` on `model`, each in ascending node order (the class's nodes are
    /// conditionally independent, so any order is the same block update): neighbours of
    /// consecutive nodes are close in memory on grid-like graphs whose classes list nodes in a
    /// scattered order.
    pub(super) fn all(model: &IsingModel, coloring: &Coloring) -> Vec<Self> {
        let g = model.graph();
        coloring
            .classes()
            .iter()
            .map(|sites| {
                let mut sites = sites.clone();
                sites.sort_unstable();
                let mut off = vec![0u32];
                let mut nbr = Vec::new();
                let mut j = Vec::new();
                for &i in &sites {
                    let i = i as usize;
                    for (&k, &e) in g.neighbors(i).iter().zip(g.neighbor_edges(i)) {
                        nbr.push(k);
                        j.push(model.coupling(e as usize) as f32);
                    }
                    off.push(nbr.len() as u32);
                }
                Class {
                    h: sites
                        .iter()
                        .map(|&i| model.bias(i as usize) as f32)
                        .collect(),
                    nodes: sites,
                    off,
                    nbr,
                    j,
                }
            })
            .collect()
    }
}

/// Readable slack after every byte slice handed to the word transposition (its 16-byte loads
/// read up to 4 bytes past a slice).
const SLACK: usize = 32;
const _: () = assert!(SLACK <= super::stream::READ_SLACK);
/// What the word transposition reads for a lane outside a pass's mask (its words are not used):
/// a chunk's worth of bytes and the slack, all zero.
static IDLE_LANE_BYTES: [u8; WORD * CHUNK + SLACK] = [0; WORD * CHUNK + SLACK];

/// A block's conditioning: per-lane biases and inverse temperatures.
#[derive(Clone)]
struct LaneParams {
    /// `h_i + e_{c,i}` for node `i` and the block's lane `c` (`None`: the shared `h_i`).
    bias: Option<Vec<[f32; W]>>,
    /// `−2β_c·log₂e` per lane: the field times this is the base-2 exponent of `e^{−2β_cφ}`.
    c2: [f32; W],
}

/// `−2β·log₂e` in `f32`.
pub(crate) fn c2_of(beta: f64) -> f32 {
    (-2.0 * beta * std::f64::consts::LOG2_E) as f32
}

/// A lane's schedule stream: its [`RandBuf`], read with [`RandBuf::take_carry`] like its
/// comparison bytes, so the lane's draws are its stream's bytes in order, none dropped.
struct LaneRng<'a>(&'a mut RandBuf);

impl LaneRng<'_> {
    fn u32(&mut self) -> u32 {
        let b = self.0.take_carry(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl ScheduleRng for LaneRng<'_> {
    fn next_word(&mut self) -> u32 {
        self.u32()
    }
    fn pick_index(&mut self, n: usize) -> usize {
        crate::kernel::pick_with(n, || self.u32())
    }
}

/// Chromatic block Gibbs on `W`-chain blocks (see the module docs).
#[derive(Clone)]
pub(crate) struct LanesEngine {
    n: usize,
    n_chains: usize,
    classes: Vec<Class>,
    /// The shared bias of every node.
    h: Vec<f32>,
    /// One per block of `W` chains.
    params: Vec<LaneParams>,
    simd: bool,
    /// AVX-512 kernels (16 lanes per vector; the same samples as AVX2).
    wide: bool,
    generator: Generator,
    /// One `xoshiro128+` block per `W` chains; seeded from the chains' own streams at the first
    /// run with [`Generator::Xoshiro128Plus`].
    xo: Vec<XoBlock>,
    xo_seeded: bool,
    /// The chains in the lanes layout between calls of [`LanesEngine::sweep_resident`], one
    /// `Vec` of rows per block (empty until [`LanesEngine::load_resident`]).
    resident: Vec<Vec<Row>>,
}

/// What [`LanesEngine::run_block`] calls after each draw: `(draw index, the block's chains)`.
type DrawObserver<'a> = dyn FnMut(usize, &BlockView<'_>) + 'a;

/// Per-block scratch.
struct Scratch {
    words: Vec<u32>,
    sched: Vec<usize>,
    passes: Vec<(usize, u32)>,
    /// Per node, bit `l` set when lane `l` is `−1` (the AVX-512 kernel's neighbour input).
    down: Vec<u16>,
}

impl Scratch {
    /// Scratch for a block whose lanes' schedules take `sched_len` entries in all, about to
    /// sweep the rows `x`; with `wide` (the AVX-512 kernel) it holds their `down` masks, which
    /// that kernel keeps in step with every row it writes. Only the block's sweeps may change
    /// `x` while the scratch is in use.
    fn new(sched_len: usize, x: &[Row], wide: bool) -> Self {
        let mut down = Vec::new();
        if wide {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `wide` is only true when AVX-512F was detected at run time.
            unsafe {
                down_masks(x, &mut down)
            };
        }
        Self {
            words: vec![0u32; CHUNK * W],
            sched: vec![0; sched_len],
            passes: Vec::new(),
            down,
        }
    }
}

impl LanesEngine {
    pub(crate) fn new(model: &IsingModel, coloring: &Coloring, n_chains: usize) -> Self {
        let g = model.graph();
        let classes = Class::all(model, coloring);
        let blocks = n_chains.div_ceil(W);
        Self {
            n: g.n(),
            n_chains,
            classes,
            h: (0..g.n()).map(|i| model.bias(i) as f32).collect(),
            params: vec![
                LaneParams {
                    bias: None,
                    c2: [c2_of(model.beta()); W],
                };
                blocks
            ],
            simd: simd_available(),
            wide: wide_available(),
            generator: Generator::ChaCha8,
            xo: vec![XoBlock::idle(); n_chains.div_ceil(W)],
            xo_seeded: false,
            resident: Vec::new(),
        }
    }

    /// Where comparison words come from (see the module docs).
    pub(crate) fn set_generator(&mut self, g: Generator) {
        self.generator = g;
    }

    /// The generator of the comparison words.
    pub(crate) fn generator(&self) -> Generator {
        self.generator
    }

    /// Re-reads couplings and biases from `model`, whose graph must be the one the engine was
    /// built on (the caller checks); per-lane fields must be set again afterwards.
    pub(crate) fn set_params(&mut self, model: &IsingModel) {
        let g = model.graph();
        for cl in &mut self.classes {
            let mut e = 0;
            for (s, &i) in cl.nodes.iter().enumerate() {
                let i = i as usize;
                cl.h[s] = model.bias(i) as f32;
                for &edge in g.neighbor_edges(i) {
                    cl.j[e] = model.coupling(edge as usize) as f32;
                    e += 1;
                }
            }
        }
        self.h = (0..self.n).map(|i| model.bias(i) as f32).collect();
    }

    /// Per-chain extra biases (`chains × N` `f32`, chain-major; each chain sees `h_i + e_{c,i}`),
    /// or `None` for the shared biases.
    pub(crate) fn set_fields(&mut self, fields: Option<&[f32]>) {
        let n = self.n;
        for (b, p) in self.params.iter_mut().enumerate() {
            p.bias = fields.map(|f| {
                (0..n)
                    .map(|i| {
                        std::array::from_fn(|l| {
                            let c = b * W + l;
                            if c < self.n_chains {
                                self.h[i] + f[c * n + i]
                            } else {
                                self.h[i]
                            }
                        })
                    })
                    .collect()
            });
        }
    }

    /// Each chain's inverse temperature (`betas.len()` = chains).
    pub(crate) fn set_betas(&mut self, betas: &[f64]) {
        for (b, p) in self.params.iter_mut().enumerate() {
            for l in 0..W {
                if let Some(&beta) = betas.get(b * W + l) {
                    p.c2[l] = c2_of(beta);
                }
            }
        }
    }

    /// Uses the portable kernel instead of the AVX2 one (same samples).
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.simd = on && simd_available();
        self.wide = self.simd && wide_available();
    }

    /// Uses the AVX-512 kernels when available (default) or the AVX2 ones (same samples).
    #[cfg(test)]
    fn set_wide(&mut self, on: bool) {
        self.wide = on && self.simd && wide_available();
    }

    /// Whether the AVX2 kernel is in use.
    pub(crate) fn simd(&self) -> bool {
        self.simd
    }

    /// Runs `seg` on every chain, visiting colour classes as `sched` says; with `observers` (one
    /// per chain), observer `c` gets chain `c`'s state after each draw.
    pub(crate) fn drive<O: Observer>(
        &mut self,
        batch: &mut ChainBatch,
        rngs: &mut [RandBuf],
        sched: &ColourSchedule,
        seg: &Segment,
        observers: Option<&mut [O]>,
    ) {
        let n = self.n;
        let mut ctx: Option<Vec<(&mut [O], Vec<Spin>)>> =
            observers.map(|o| o.chunks_mut(W).map(|c| (c, vec![0; n])).collect());
        self.drive_with(
            batch,
            rngs,
            sched,
            seg,
            ctx.as_deref_mut(),
            |(obs, tmp), d, v| {
                for (l, o) in obs.iter_mut().enumerate() {
                    v.lane(l, tmp);
                    o.observe(d, tmp);
                }
            },
        );
    }

    /// Runs `seg` on every chain; with `observers` (one per block of `W` chains), observer `b`
    /// gets block `b`'s chains in the lanes layout after each draw (no per-chain conversion).
    pub(crate) fn drive_blocks<B: BlockObserver>(
        &mut self,
        batch: &mut ChainBatch,
        rngs: &mut [RandBuf],
        sched: &ColourSchedule,
        seg: &Segment,
        observers: &mut [B],
    ) {
        self.drive_with(batch, rngs, sched, seg, Some(observers), |o, d, v| {
            o.observe(d, v)
        });
    }

    /// Runs `seg` on every chain; with `ctx` (one per block), `observe(&mut ctx[b], draw, view)`
    /// after each draw of block `b`.
    fn drive_with<T: Send>(
        &mut self,
        batch: &mut ChainBatch,
        rngs: &mut [RandBuf],
        sched: &ColourSchedule,
        seg: &Segment,
        ctx: Option<&mut [T]>,
        observe: impl Fn(&mut T, usize, &BlockView<'_>) + Sync,
    ) {
        let n = self.n.max(1);
        self.seed_xo(rngs);
        let mut xo = std::mem::take(&mut self.xo);
        let blocks = rngs.len().div_ceil(W);
        let mut obs: Vec<Option<&mut T>> = match ctx {
            Some(o) => o.iter_mut().map(Some).collect(),
            None => (0..blocks).map(|_| None).collect(),
        };
        let me = &*self;
        let observe = &observe;
        // Under a fixed colour order on AVX-512, two blocks run as one task when there are at
        // least two per thread (`run_block_pair`: the same samples, fewer loads per update);
        // otherwise one block per task keeps every thread busy.
        let order = self.pair_order(sched, blocks);
        let per = if order.is_some() { 2 } else { 1 };
        batch
            .as_mut_slice()
            .par_chunks_mut(n * W * per)
            .zip(rngs.par_chunks_mut(W * per))
            .zip(xo.par_chunks_mut(per))
            .zip(obs.par_chunks_mut(per))
            .enumerate()
            .for_each(|(t, (((xs, rbs), xo), o))| {
                let mut fs: Vec<_> = o
                    .iter_mut()
                    .map(|o| {
                        o.as_deref_mut()
                            .map(|t| move |d: usize, v: &BlockView<'_>| observe(t, d, v))
                    })
                    .collect();
                let mut obs = fs.iter_mut().map(|f| {
                    f.as_mut()
                        .map(|f| f as &mut dyn FnMut(usize, &BlockView<'_>))
                });
                match (order, xo) {
                    (Some(order), [xa, xb]) => {
                        let (xsa, xsb) = xs.split_at_mut(n * W);
                        let (ra, rb) = rbs.split_at_mut(W);
                        me.run_block_pair(
                            2 * t,
                            [xsa, xsb],
                            [ra, rb],
                            [xa, xb],
                            order,
                            seg,
                            [obs.next().flatten(), obs.next().flatten()],
                        );
                    }
                    (_, xo) => {
                        me.run_block(
                            t * per,
                            xs,
                            rbs,
                            &mut xo[0],
                            sched,
                            seg,
                            obs.next().flatten(),
                        );
                    }
                }
            });
        self.xo = xo;
    }

    /// The colour order when `blocks` blocks run in pairs under `sched` — a fixed order on
    /// AVX-512 with at least two blocks per thread of the current pool — else `None` (pairs
    /// change no sample; they only share loads).
    fn pair_order<'s>(&self, sched: &'s ColourSchedule, blocks: usize) -> Option<&'s [usize]> {
        match sched {
            ColourSchedule::Fixed(order)
                if self.wide && blocks >= 2 * rayon::current_num_threads() =>
            {
                Some(order.as_slice())
            }
            _ => None,
        }
    }

    /// Seeds each chain's xoshiro state from the next 16 bytes of its own ChaCha stream, at the
    /// first run with [`Generator::Xoshiro128Plus`].
    fn seed_xo(&mut self, rngs: &mut [RandBuf]) {
        if self.generator == Generator::Xoshiro128Plus && !self.xo_seeded {
            for (c, rb) in rngs.iter_mut().enumerate() {
                let seed = rb.take_carry(16).try_into().expect("16 bytes");
                self.xo[c / W].seed_lane(c % W, seed);
            }
            self.xo_seeded = true;
        }
    }

    /// Copies `batch` into the resident lanes layout ([`LanesEngine::sweep_resident`]).
    pub(crate) fn load_resident(&mut self, batch: &ChainBatch) {
        let n = self.n;
        self.resident = batch
            .as_slice()
            .chunks(n.max(1) * W)
            .map(|xs| to_rows(xs, n))
            .collect();
    }

    /// Copies the resident chains back into `batch` (same shape as loaded).
    pub(crate) fn store_resident(&self, batch: &mut ChainBatch) {
        let n = self.n.max(1);
        for (x, xs) in self
            .resident
            .iter()
            .zip(batch.as_mut_slice().chunks_mut(n * W))
        {
            for (l, chain) in xs.chunks_mut(n).enumerate() {
                store_lane(x, l, chain);
            }
        }
    }

    /// `sweeps` sweeps of every resident chain (no layout conversion), the same updates and
    /// random numbers as [`LanesEngine::drive`] on the batch; chain `c`'s energy change of each
    /// sweep (`f32` sum of `−(x_i' − x_i)·φ_i`, β not included, per-lane biases in `φ`) is added
    /// to `de[c]`.
    pub(crate) fn sweep_resident(
        &mut self,
        rngs: &mut [RandBuf],
        sched: &ColourSchedule,
        sweeps: usize,
        de: &mut [f64],
    ) {
        let mut ctx: Vec<&mut [f64]> = de.chunks_mut(W).collect();
        self.sweep_resident_with(rngs, sched, sweeps, &mut ctx, |t, _, d, _| {
            for (t, &d) in t.iter_mut().zip(d) {
                *t += f64::from(d);
            }
        });
    }

    /// As [`LanesEngine::sweep_resident`], with every block on its own: after each sweep of block
    /// `b`, `after(&mut ctx[b], view, de, c2)` gets the block's chains (`view`), each lane's
    /// energy change of that sweep (`f32`) and the lanes' `−2β·log₂e` to change for the next
    /// sweep. Blocks never wait for each other, so whatever `after` does must only involve its
    /// own block's lanes.
    pub(crate) fn sweep_resident_with<T: Send>(
        &mut self,
        rngs: &mut [RandBuf],
        sched: &ColourSchedule,
        sweeps: usize,
        ctx: &mut [T],
        after: impl Fn(&mut T, &BlockView<'_>, &[f32; W], &mut [f32; W]) + Sync,
    ) {
        self.seed_xo(rngs);
        let mut xo = std::mem::take(&mut self.xo);
        let mut resident = std::mem::take(&mut self.resident);
        let mut params = std::mem::take(&mut self.params);
        let me = &*self;
        // Pairs of blocks as in `drive_with` (the same samples and energy changes).
        let order = self.pair_order(sched, resident.len());
        let per = if order.is_some() { 2 } else { 1 };
        resident
            .par_chunks_mut(per)
            .zip(rngs.par_chunks_mut(W * per))
            .zip(xo.par_chunks_mut(per))
            .zip(params.par_chunks_mut(per))
            .zip(ctx.par_chunks_mut(per))
            .enumerate()
            .for_each(|(t, ((((x, rbs), xo), p), ctx))| {
                let b = t * per;
                match (order, x, xo, p, ctx) {
                    (Some(order), [xa, xb], [oa, ob], [pa, pb], [ta, tb]) => {
                        let (ra, rb) = rbs.split_at_mut(W);
                        let mut sa = Scratch::new(0, xa, true);
                        let mut sb = Scratch::new(0, xb, true);
                        for _ in 0..sweeps {
                            let (mut da, mut db) = ([0.0f32; W], [0.0f32; W]);
                            me.sweep_pair::<true>(
                                [&mut xa[..], &mut xb[..]],
                                [&mut *ra, &mut *rb],
                                [&mut *oa, &mut *ob],
                                [&*pa, &*pb],
                                order,
                                [&mut sa, &mut sb],
                                [&mut da, &mut db],
                            );
                            for (q, (x, rbs, d, p, t)) in [
                                (&*xa, &*ra, &da, &mut *pa, &mut *ta),
                                (&*xb, &*rb, &db, &mut *pb, &mut *tb),
                            ]
                            .into_iter()
                            .enumerate()
                            {
                                let v = BlockView {
                                    rows: x,
                                    first: (b + q) * W,
                                    lanes: rbs.len(),
                                };
                                after(t, &v, d, &mut p.c2);
                            }
                        }
                    }
                    (_, x, xo, p, ctx) => {
                        let (x, xo, p, t) = (&mut x[0], &mut xo[0], &mut p[0], &mut ctx[0]);
                        let mut sc = Scratch::new(rbs.len() * sched.steps(), x, me.wide);
                        for _ in 0..sweeps {
                            let mut d = [0.0f32; W];
                            me.sweep_block::<true>(x, rbs, xo, p, sched, &mut sc, &mut d);
                            let v = BlockView {
                                rows: x,
                                first: b * W,
                                lanes: rbs.len(),
                            };
                            after(t, &v, &d, &mut p.c2);
                        }
                    }
                }
            });
        self.xo = xo;
        self.resident = resident;
        self.params = params;
    }

    /// Runs `seg` on block `b` (chains `xs`), calling `obs(first + d, view)` after draw `d`.
    #[allow(clippy::too_many_arguments)]
    fn run_block(
        &self,
        b: usize,
        xs: &mut [Spin],
        rbs: &mut [RandBuf],
        xo: &mut XoBlock,
        sched: &ColourSchedule,
        seg: &Segment,
        obs: Option<&mut DrawObserver<'_>>,
    ) {
        let p = &self.params[b];
        let w = rbs.len();
        let x = to_rows(xs, self.n);
        let mut sc = Scratch::new(w * sched.steps(), &x, self.wide);
        self.run_segment(b, [x], [xs], [w], seg, [obs], |[x]| {
            self.sweep_block::<false>(x, rbs, xo, p, sched, &mut sc, &mut [0.0; W]);
        });
    }

    /// The segment `seg` on blocks `b, b + 1, …, b + B − 1` (rows `x`, chains `xs`, `widths`
    /// lanes each): `sweep` sweeps them all once; after each draw, block `q`'s observer (if any)
    /// gets its view; at the end the rows go back to the chains.
    #[allow(clippy::too_many_arguments)]
    fn run_segment<const B: usize>(
        &self,
        b: usize,
        mut x: [Vec<Row>; B],
        xs: [&mut [Spin]; B],
        widths: [usize; B],
        seg: &Segment,
        mut obs: [Option<&mut DrawObserver<'_>>; B],
        mut sweep: impl FnMut(&mut [Vec<Row>; B]),
    ) {
        let mut sweeps = |x: &mut [Vec<Row>; B], k: usize| {
            for _ in 0..k {
                sweep(x);
            }
        };
        sweeps(&mut x, seg.burn_in);
        if obs.iter().any(Option::is_some) {
            for d in 0..seg.draws {
                sweeps(&mut x, seg.thin);
                for (q, f) in obs.iter_mut().enumerate() {
                    if let Some(f) = f {
                        let v = BlockView {
                            rows: &x[q],
                            first: (b + q) * W,
                            lanes: widths[q],
                        };
                        f(seg.first + d, &v);
                    }
                }
            }
        } else {
            sweeps(&mut x, seg.draws * seg.thin);
        }
        for (x, xs) in x.iter().zip(xs) {
            for (l, chain) in xs.chunks_mut(self.n.max(1)).enumerate() {
                store_lane(x, l, chain);
            }
        }
    }

    /// One sweep of two blocks at once under the fixed colour order `order` (AVX-512 only):
    /// each class's chunks go through [`pass_pair_avx512`], each block drawing its words from
    /// its own chains' streams exactly as [`LanesEngine::sweep_block`] does alone, so every
    /// chain's samples (and with `E` its energy change in `de`) are those of a lone sweep.
    #[allow(clippy::too_many_arguments)]
    fn sweep_pair<const E: bool>(
        &self,
        x: [&mut [Row]; 2],
        rbs: [&mut [RandBuf]; 2],
        xo: [&mut XoBlock; 2],
        p: [&LaneParams; 2],
        order: &[usize],
        sc: [&mut Scratch; 2],
        de: [&mut [f32; W]; 2],
    ) {
        let [xa, xb] = x;
        let [ra, rb] = rbs;
        let [oa, ob] = xo;
        let [sa, sb] = sc;
        let [dea, deb] = de;
        let reals = [ra.len(), rb.len()].map(|w| if w == 32 { u32::MAX } else { (1u32 << w) - 1 });
        let xo_fused = self.generator == Generator::Xoshiro128Plus;
        for &c in order {
            let cl = &self.classes[c];
            let len_all = cl.nodes.len();
            let mut start = 0;
            while start < len_all {
                let len = (len_all - start).min(CHUNK);
                if !xo_fused {
                    self.chacha_words(len, reals[0], ra, &mut sa.words);
                    self.chacha_words(len, reals[1], rb, &mut sb.words);
                }
                // Idle padding lanes may be overwritten freely (as in `pass`).
                let passes = [(0, &sa.words), (1, &sb.words)].map(|(q, words)| Pass {
                    cl,
                    range: start..start + len,
                    words,
                    mask: u32::MAX,
                    p: p[q],
                });
                let down = [&mut sa.down[..], &mut sb.down[..]];
                #[cfg(target_arch = "x86_64")]
                // SAFETY: pairs run only when `wide` (AVX-512F, AVX2 and FMA detected at run
                // time); every neighbour index is a node of the model.
                unsafe {
                    if xo_fused {
                        pass_pair_avx512::<E, true>(
                            [&mut *xa, &mut *xb],
                            passes,
                            down,
                            [Some(&mut *oa), Some(&mut *ob)],
                            [&mut *dea, &mut *deb],
                        );
                    } else {
                        pass_pair_avx512::<E, false>(
                            [&mut *xa, &mut *xb],
                            passes,
                            down,
                            [None, None],
                            [&mut *dea, &mut *deb],
                        );
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                let _ = (passes, down);
                start += len;
            }
        }
    }

    /// [`LanesEngine::run_block`] for blocks `b` and `b + 1` at once under the fixed colour
    /// order `order` (AVX-512 only): each class's chunks go through [`pass_pair_avx512`], and
    /// each block draws its words from its own chains' streams exactly as alone, so every chain's
    /// samples are those of `run_block`.
    #[allow(clippy::too_many_arguments)]
    fn run_block_pair(
        &self,
        b: usize,
        xs: [&mut [Spin]; 2],
        rbs: [&mut [RandBuf]; 2],
        xo: [&mut XoBlock; 2],
        order: &[usize],
        seg: &Segment,
        obs: [Option<&mut DrawObserver<'_>>; 2],
    ) {
        let [ra, rb] = rbs;
        let [oa, ob] = xo;
        let p = [&self.params[b], &self.params[b + 1]];
        let widths = [ra.len(), rb.len()];
        let x = xs.each_ref().map(|xs| to_rows(xs, self.n));
        let [mut sa, mut sb] = x.each_ref().map(|x| Scratch::new(0, x, true));
        self.run_segment(b, x, xs, widths, seg, obs, |[xa, xb]| {
            self.sweep_pair::<false>(
                [xa, xb],
                [&mut *ra, &mut *rb],
                [&mut *oa, &mut *ob],
                p,
                order,
                [&mut sa, &mut sb],
                [&mut [0.0; W], &mut [0.0; W]],
            );
        });
    }

    /// One sweep of every lane of a block: per-lane schedules, then masked passes.
    #[allow(clippy::too_many_arguments)]
    ///
    /// With `E`, `de[l]` gains lane `l`'s energy change `−Σ_i (x_i' − x_i)·φ_i` (β not included;
    /// `φ_i` the lane's field, biases included), accumulated in `f32`.
    fn sweep_block<const E: bool>(
        &self,
        x: &mut [Row],
        rbs: &mut [RandBuf],
        xo: &mut XoBlock,
        p: &LaneParams,
        sched: &ColourSchedule,
        sc: &mut Scratch,
        de: &mut [f32; W],
    ) {
        // Steps per sweep (`BLK-RS`: `k` picks among all classes).
        let k = sched.steps();
        let w = rbs.len();
        let real: u32 = if w == 32 { u32::MAX } else { (1u32 << w) - 1 };
        let passes = &mut sc.passes;
        passes.clear();
        match sched {
            ColourSchedule::Fixed(order) => passes.extend(order.iter().map(|&c| (c, real))),
            _ => {
                for (s, rb) in sc.sched.chunks_mut(k).zip(rbs.iter_mut()) {
                    let mut t = 0;
                    sched.visit(&mut LaneRng(rb), |c, _| {
                        s[t] = c;
                        t += 1;
                    });
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
        }
        debug_assert!(!self.wide || sc.down.len() == x.len());
        for pi in 0..sc.passes.len() {
            let (c, mask) = sc.passes[pi];
            self.pass::<E>(
                x,
                c,
                mask,
                real,
                rbs,
                xo,
                p,
                &mut sc.words,
                &mut sc.down,
                de,
            );
        }
    }

    /// Resamples class `c` in the lanes of `mask`.
    #[allow(clippy::too_many_arguments)]
    fn pass<const E: bool>(
        &self,
        x: &mut [Row],
        c: usize,
        mask: u32,
        real: u32,
        rbs: &mut [RandBuf],
        xo: &mut XoBlock,
        p: &LaneParams,
        words: &mut [u32],
        down: &mut [u16],
        de: &mut [f32; W],
    ) {
        let cl = &self.classes[c];
        // Idle padding lanes may be overwritten freely.
        let full = mask == real;
        let m = if full { u32::MAX } else { mask };
        let len_all = cl.nodes.len();
        // With xoshiro128+ the vector kernels step the generators themselves (`pass_avx2`,
        // `pass_avx512`).
        let fused = self.simd && self.generator == Generator::Xoshiro128Plus;
        let mut start = 0;
        while start < len_all {
            let len = (len_all - start).min(CHUNK);
            if fused {
                // The kernel draws the words.
            } else if self.generator == Generator::Xoshiro128Plus {
                xo_words(xo, len, m, words, self.simd, self.wide);
            } else {
                self.chacha_words(len, mask, rbs, words);
            }
            let pass = Pass {
                cl,
                range: start..start + len,
                words,
                mask: m,
                p,
            };
            if self.wide {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `wide` is only true when AVX-512F, AVX2 and FMA were detected at run
                // time; every neighbour index is a node of the model, `< x.len()`.
                unsafe {
                    if fused {
                        pass_avx512::<E, true>(x, pass, down, Some(&mut *xo), de)
                    } else {
                        pass_avx512::<E, false>(x, pass, down, None, de)
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                pass_portable::<E>(x, pass, de)
            } else if self.simd {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `simd` is only true when AVX2 and FMA were detected at run time; every
                // neighbour index is a node of the model, `< x.len()`.
                unsafe {
                    if fused {
                        pass_avx2::<E, true>(x, pass, Some(&mut *xo), de)
                    } else {
                        pass_avx2::<E, false>(x, pass, None, de)
                    }
                }
                #[cfg(not(target_arch = "x86_64"))]
                pass_portable::<E>(x, pass, de)
            } else {
                pass_portable::<E>(x, pass, de)
            }
            start += len;
        }
    }

    /// The next `len` comparison words of each lane in `mask` from its ChaCha8 stream, in
    /// `words[s·W + l]`.
    fn chacha_words(&self, len: usize, mask: u32, rbs: &mut [RandBuf], words: &mut [u32]) {
        // Lane `l`'s bytes: in place in its stream's buffer, or the idle zeros for lanes outside
        // the mask (whose words are not used).
        let mut ptrs = [IDLE_LANE_BYTES.as_ptr(); W];
        for (l, (rb, p)) in rbs.iter_mut().zip(&mut ptrs).enumerate() {
            if mask >> l & 1 == 1 {
                *p = rb.take_carry_slack(WORD * len, SLACK).as_ptr();
            }
        }
        // SAFETY (both calls): every pointer starts a slice of `WORD·len + SLACK` readable
        // bytes (`take_carry_slack` returns such slices; `IDLE_LANE_BYTES` is
        // `WORD·CHUNK + SLACK` long and `len ≤ CHUNK`) that nothing writes to until the words
        // are built.
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            unsafe { words_avx2(&ptrs, len, words) };
        } else {
            unsafe { words_portable(&ptrs, 0, len, words) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        unsafe {
            words_portable(&ptrs, 0, len, words)
        };
    }
}

/// `words[s·W + l]` = the 24-bit little-endian word at byte `WORD·s` of lane `l`, for `s` in
/// `from..len`.
///
/// # Safety
/// Each `ptrs[l]` must be valid for reads of `WORD·len + 1` bytes; `words.len() ≥ len·W`.
unsafe fn words_portable(ptrs: &[*const u8; W], from: usize, len: usize, words: &mut [u32]) {
    assert!(words.len() >= len * W);
    for (l, &p) in ptrs.iter().enumerate() {
        for s in from..len {
            // SAFETY: `WORD·s + 4 ≤ WORD·len + 1` bytes from `p` (caller's contract).
            let v = unsafe { p.add(WORD * s).cast::<u32>().read_unaligned() };
            words[s * W + l] = u32::from_le(v) & 0x00ff_ffff;
        }
    }
}

/// [`words_portable`] eight nodes × eight lanes at a time: one shuffle turns 24 bytes of a lane
/// into 8 words, an 8 × 8 transpose makes them rows of `words`.
///
/// # Safety
/// AVX2 available; each `ptrs[l]` valid for reads of `WORD·len + SLACK` bytes; `words.len() ≥
/// len·W`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn words_avx2(ptrs: &[*const u8; W], len: usize, words: &mut [u32]) {
    use std::arch::x86_64::*;
    assert!(words.len() >= len * W);
    let groups = len / 8;
    // SAFETY: loads read bytes `[WORD·s0, WORD·s0 + 28)` with `s0 + 8 ≤ len`, within
    // `WORD·len + SLACK`; stores write `words[(s0 + j)·W + 8·lb ..][..8]`, within `len·W`.
    unsafe {
        let shuf = _mm256_setr_epi8(
            0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7,
            8, -1, 9, 10, 11, -1,
        );
        let wp = words.as_mut_ptr();
        for g in 0..groups {
            let s0 = 8 * g;
            for lb in 0..W / 8 {
                let r: [__m256; 8] = std::array::from_fn(|q| {
                    let p = ptrs[8 * lb + q].add(WORD * s0);
                    let v = _mm256_loadu2_m128i(p.add(12).cast(), p.cast());
                    _mm256_castsi256_ps(_mm256_shuffle_epi8(v, shuf))
                });
                let t0 = _mm256_unpacklo_ps(r[0], r[1]);
                let t1 = _mm256_unpackhi_ps(r[0], r[1]);
                let t2 = _mm256_unpacklo_ps(r[2], r[3]);
                let t3 = _mm256_unpackhi_ps(r[2], r[3]);
                let t4 = _mm256_unpacklo_ps(r[4], r[5]);
                let t5 = _mm256_unpackhi_ps(r[4], r[5]);
                let t6 = _mm256_unpacklo_ps(r[6], r[7]);
                let t7 = _mm256_unpackhi_ps(r[6], r[7]);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let out = [
                    _mm256_permute2f128_ps::<0x20>(u0, u4),
                    _mm256_permute2f128_ps::<0x20>(u1, u5),
                    _mm256_permute2f128_ps::<0x20>(u2, u6),
                    _mm256_permute2f128_ps::<0x20>(u3, u7),
                    _mm256_permute2f128_ps::<0x31>(u0, u4),
                    _mm256_permute2f128_ps::<0x31>(u1, u5),
                    _mm256_permute2f128_ps::<0x31>(u2, u6),
                    _mm256_permute2f128_ps::<0x31>(u3, u7),
                ];
                for (j, o) in out.iter().enumerate() {
                    _mm256_storeu_ps(wp.add((s0 + j) * W + 8 * lb).cast(), *o);
                }
            }
        }
        words_portable(ptrs, 8 * groups, len, words);
    }
}

/// Up to [`W`] chains in the lanes layout, read-only: `row(i)[l]` is spin `i` of chain
/// `first_chain() + l` as `±1.0`; lanes from `lanes()` on are idle padding.
pub struct BlockView<'a> {
    rows: &'a [Row],
    first: usize,
    lanes: usize,
}

impl<'a> BlockView<'a> {
    /// Lane `l`'s spins into `out` (one per node).
    pub fn lane(&self, l: usize, out: &mut [Spin]) {
        store_lane(self.rows, l, out);
    }

    /// The chain in lane 0.
    pub fn first_chain(&self) -> usize {
        self.first
    }

    /// Lanes holding chains (the rest of the `W` are padding).
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Spins per chain.
    pub fn n_spins(&self) -> usize {
        self.rows.len()
    }

    /// Node `i` in every lane (`±1.0`).
    pub fn row(&self, i: usize) -> &'a [f32; W] {
        &self.rows[i].0
    }

    /// `out[l]` = lane `l`'s energy `E_θ(x)` (β not included) for the first `out.len() ≤ W`
    /// lanes, bit for bit what [`EnergyModel::energy`] returns for that lane's spins: the same
    /// `f64` operations in the same order (couplings in edge order, then biases), run for all
    /// lanes at once instead of one lane after another (each lane's sum is one long chain of
    /// dependent subtractions, so sixteen chains side by side cost about what one did).
    pub(crate) fn energies(&self, model: &IsingModel, out: &mut [f64]) {
        assert!(out.len() <= W && model.n_spins() == self.rows.len());
        let mut e = [0.0f64; W];
        for (k, (i, j)) in model.graph().edges().enumerate() {
            let (xi, xj, c) = (&self.rows[i].0, &self.rows[j].0, model.coupling(k));
            for ((el, a), b) in e.iter_mut().zip(xi).zip(xj) {
                // `x_i·x_j` is `±1` exactly in `f32` as in `Spin`, and so is its `f64`.
                *el -= c * f64::from(a * b);
            }
        }
        for (i, row) in self.rows.iter().enumerate() {
            let h = model.bias(i);
            for (el, x) in e.iter_mut().zip(&row.0) {
                *el -= h * f64::from(*x);
            }
        }
        out.copy_from_slice(&e[..out.len()]);
    }

    /// Builds the lanes layout of `chains` (`W·n` spins at most, chain-major) in `scratch` and
    /// hands its view to `f`; the first chain is `first`.
    pub(crate) fn of_chains<R>(
        chains: &[Spin],
        n: usize,
        first: usize,
        f: impl FnOnce(&BlockView<'_>) -> R,
    ) -> R {
        let rows = to_rows(chains, n);
        f(&BlockView {
            rows: &rows,
            first,
            lanes: chains.len() / n.max(1),
        })
    }
}

/// What a block-wise run hands each block's chains to after every draw
/// ([`ConditionedSampler::run_per_block`](super::conditioned::ConditionedSampler::run_per_block)).
pub trait BlockObserver: Send {
    /// Records the block's chains after draw `draw`.
    fn observe(&mut self, draw: usize, block: &BlockView<'_>);
}

/// Per-lane sums of `x_i` (every node) and `x_i x_j` (a fixed edge list) over the recorded states
/// of one block of chains, kept as exact integers: the lanes layout is turned into `i16` `±1` once
/// per state and each edge costs one sign-multiply and one add over all lanes (AVX2), instead of
/// one scalar product per chain and edge. Sums are exact, so any grouping of them gives the same
/// numbers as summing chain by chain.
#[derive(Clone, Debug)]
pub struct LaneMoments {
    edges: std::sync::Arc<[(u32, u32)]>,
    count: u64,
    /// States in `x` / `xx` since the last spill (at most `i16::MAX`, so `xx` cannot overflow).
    pending: u32,
    x: Vec<[i32; W]>,
    xx: Vec<[i16; W]>,
    /// Totals moved out of `x` / `xx` every `i16::MAX` states (empty until the first spill).
    x_spilled: Vec<[i64; W]>,
    xx_spilled: Vec<[i64; W]>,
    /// Scratch: the state as `i16` `±1` rows.
    spins: Vec<[i16; W]>,
}

impl LaneMoments {
    /// Empty sums for chains of `n` spins and the edges `edges` (`(i, j)`, both `< n`); an edge
    /// naming a node `≥ n` is an error naming `edges`.
    pub fn new(n: usize, edges: std::sync::Arc<[(u32, u32)]>) -> Result<Self, crate::SamplerError> {
        if let Some(k) = edges
            .iter()
            .position(|&(i, j)| i as usize >= n || j as usize >= n)
        {
            return Err(crate::SamplerError::invalid(
                "edges",
                format!("edge {k} is {:?}, expected nodes below {n}", edges[k]),
            ));
        }
        Ok(Self {
            count: 0,
            pending: 0,
            x: vec![[0; W]; n],
            xx: vec![[0; W]; edges.len()],
            x_spilled: Vec::new(),
            xx_spilled: Vec::new(),
            spins: vec![[0; W]; n],
            edges,
        })
    }

    /// Adds the block's current state (every lane; padding lanes are summed too and never read).
    /// The block must have the `n` spins the sums were made for.
    pub fn add(&mut self, block: &BlockView<'_>) {
        assert_eq!(
            block.n_spins(),
            self.x.len(),
            "LaneMoments::add: block has {} spins, the sums {}",
            block.n_spins(),
            self.x.len()
        );
        if self.pending == i16::MAX as u32 {
            self.spill();
        }
        #[cfg(target_arch = "x86_64")]
        if simd_available() {
            // SAFETY: AVX2 detected at run time.
            unsafe {
                lane_moments_avx2(
                    block.rows,
                    &self.edges,
                    &mut self.spins,
                    &mut self.x,
                    &mut self.xx,
                )
            };
            self.count += 1;
            self.pending += 1;
            return;
        }
        lane_moments_portable(
            block.rows,
            &self.edges,
            &mut self.spins,
            &mut self.x,
            &mut self.xx,
        );
        self.count += 1;
        self.pending += 1;
    }

    fn spill(&mut self) {
        if self.xx_spilled.is_empty() {
            self.x_spilled = vec![[0; W]; self.x.len()];
            self.xx_spilled = vec![[0; W]; self.xx.len()];
        }
        for (t, v) in self.x_spilled.iter_mut().zip(&mut self.x) {
            for l in 0..W {
                t[l] += i64::from(v[l]);
            }
            *v = [0; W];
        }
        for (t, v) in self.xx_spilled.iter_mut().zip(&mut self.xx) {
            for l in 0..W {
                t[l] += i64::from(v[l]);
            }
            *v = [0; W];
        }
        self.pending = 0;
    }

    /// States added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `Σ x_i` of lane `l`.
    pub fn sum_x(&self, i: usize, l: usize) -> i64 {
        i64::from(self.x[i][l]) + self.x_spilled.get(i).map_or(0, |t| t[l])
    }

    /// `Σ x_i x_j` of lane `l` over edge `e` of the list.
    pub fn sum_xx(&self, e: usize, l: usize) -> i64 {
        i64::from(self.xx[e][l]) + self.xx_spilled.get(e).map_or(0, |t| t[l])
    }

    /// `Σ x_i` of every lane.
    pub fn lanes_x(&self, i: usize) -> [i64; W] {
        let s = self.x_spilled.get(i);
        std::array::from_fn(|l| i64::from(self.x[i][l]) + s.map_or(0, |t| t[l]))
    }

    /// `Σ x_i x_j` of every lane over edge `e`.
    pub fn lanes_xx(&self, e: usize) -> [i64; W] {
        let s = self.xx_spilled.get(e);
        std::array::from_fn(|l| i64::from(self.xx[e][l]) + s.map_or(0, |t| t[l]))
    }
}

/// [`LaneMoments::add`]'s kernel, portable: `x[i] += rows[i]`, `spins[i] = rows[i]` as `i16`,
/// `xx[e] += spins[i]·spins[j]` per lane.
fn lane_moments_portable(
    rows: &[Row],
    edges: &[(u32, u32)],
    spins: &mut [[i16; W]],
    x: &mut [[i32; W]],
    xx: &mut [[i16; W]],
) {
    for ((row, xs), sp) in rows.iter().zip(x.iter_mut()).zip(spins.iter_mut()) {
        for l in 0..W {
            let v = row.0[l] as i32;
            xs[l] += v;
            sp[l] = v as i16;
        }
    }
    for (acc, &(i, j)) in xx.iter_mut().zip(edges) {
        let (a, b) = (&spins[i as usize], &spins[j as usize]);
        for l in 0..W {
            acc[l] += a[l] * b[l];
        }
    }
}

/// [`lane_moments_portable`] with AVX2 (the same integers): rows to `i32` by one conversion per 8
/// lanes, packed to `i16`; an edge is one `sign` (the product of `±1`s) and one add over 16 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn lane_moments_avx2(
    rows: &[Row],
    edges: &[(u32, u32)],
    spins: &mut [[i16; W]],
    x: &mut [[i32; W]],
    xx: &mut [[i16; W]],
) {
    use std::arch::x86_64::*;
    assert!(spins.len() == rows.len() && x.len() == rows.len() && xx.len() == edges.len());
    // SAFETY: every pointer is to an element of a slice indexed with bounds checks (rows, `x`,
    // `spins`, `xx`); each element is `W` = 16 lanes, read and written as two 8×`i32` vectors
    // (`x`, rows) or one 16×`i16` vector (`spins`, `xx`), unaligned.
    unsafe {
        for ((row, xs), sp) in rows.iter().zip(x.iter_mut()).zip(spins.iter_mut()) {
            let a = _mm256_cvtps_epi32(_mm256_load_ps(row.0.as_ptr()));
            let b = _mm256_cvtps_epi32(_mm256_load_ps(row.0.as_ptr().add(8)));
            let xp = xs.as_mut_ptr().cast::<__m256i>();
            _mm256_storeu_si256(xp, _mm256_add_epi32(_mm256_loadu_si256(xp), a));
            let xp1 = xp.add(1);
            _mm256_storeu_si256(xp1, _mm256_add_epi32(_mm256_loadu_si256(xp1), b));
            // `packs` interleaves 128-bit halves: (a0..3, b0..3, a4..7, b4..7) → lane order.
            let p = _mm256_permute4x64_epi64::<0xD8>(_mm256_packs_epi32(a, b));
            _mm256_storeu_si256(sp.as_mut_ptr().cast(), p);
        }
        for (acc, &(i, j)) in xx.iter_mut().zip(edges) {
            let si = _mm256_loadu_si256(spins[i as usize].as_ptr().cast());
            let sj = _mm256_loadu_si256(spins[j as usize].as_ptr().cast());
            let q = acc.as_mut_ptr().cast::<__m256i>();
            _mm256_storeu_si256(
                q,
                _mm256_add_epi16(_mm256_loadu_si256(q), _mm256_sign_epi16(si, sj)),
            );
        }
    }
}

/// Up to `W` chains of `n` spins (chain-major) in the lanes layout (idle lanes `+1`).
fn to_rows(chains: &[Spin], n: usize) -> Vec<Row> {
    let mut x = vec![Row([1.0; W]); n];
    for (l, chain) in chains.chunks(n.max(1)).enumerate() {
        for (row, &s) in x.iter_mut().zip(chain) {
            row.0[l] = f32::from(s);
        }
    }
    x
}

fn store_lane(x: &[Row], l: usize, out: &mut [Spin]) {
    for (o, row) in out.iter_mut().zip(x) {
        *o = if row.0[l] > 0.0 { 1 } else { -1 };
    }
}

/// AVX-512F as well as [`simd_available`]'s AVX2 and FMA.
fn wide_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        simd_available() && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
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

/// One kernel pass: nodes `range` of class `cl`, lanes in `mask`, comparison words
/// `words[(s − range.start)·W + l]`, parameters `p`.
struct Pass<'a> {
    cl: &'a Class,
    range: std::ops::Range<usize>,
    words: &'a [u32],
    mask: u32,
    p: &'a LaneParams,
}

impl<'a> Pass<'a> {
    /// The pass's parts `(cl, range, words, mask, p)`, after checking the bounds the SIMD kernels
    /// rely on: `range` lies in the class and spans at most [`CHUNK`] nodes, there is (with
    /// `with_words`) a word per lane and node, the class's CSR is well formed, and (in debug
    /// builds) every node and neighbour is one of the `rows` rows of `x`.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[allow(clippy::type_complexity)]
    fn checked(
        self,
        rows: usize,
        with_words: bool,
    ) -> (
        &'a Class,
        std::ops::Range<usize>,
        &'a [u32],
        u32,
        &'a LaneParams,
    ) {
        let (cl, range) = (self.cl, &self.range);
        assert!(
            range.end <= cl.nodes.len()
                && range.len() <= CHUNK
                && (!with_words || self.words.len() >= range.len() * W)
        );
        assert!(cl.off.len() == cl.nodes.len() + 1 && cl.j.len() == cl.nbr.len());
        debug_assert!(cl.nbr.iter().all(|&k| (k as usize) < rows));
        debug_assert!(cl.nodes.iter().all(|&k| (k as usize) < rows));
        (self.cl, self.range, self.words, self.mask, self.p)
    }
}

/// Portable kernel.
fn pass_portable<const E: bool>(x: &mut [Row], pass: Pass<'_>, de: &mut [f32; W]) {
    let Pass {
        cl,
        range,
        words,
        mask,
        p,
    } = pass;
    let base = range.start;
    for s in range {
        let i = cl.nodes[s] as usize;
        let (a, b) = (cl.off[s] as usize, cl.off[s + 1] as usize);
        let mut acc = match &p.bias {
            Some(rows) => rows[i],
            None => [cl.h[s]; W],
        };
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
                let new = if up24(p.c2[l] * acc[l], u[l]) {
                    1.0
                } else {
                    -1.0
                };
                if E {
                    de[l] = (-(new - row[l])).mul_add(acc[l], de[l]);
                }
                row[l] = new;
            }
        }
    }
}

/// [`pass_portable`] with AVX2/FMA, the same `f32` results (the fused `J·x + acc` equals the
/// unfused one because `J·x` is exact for `x = ±1`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pass_avx2<const E: bool, const XO: bool>(
    x: &mut [Row],
    pass: Pass<'_>,
    xo: Option<&mut XoBlock>,
    de: &mut [f32; W],
) {
    use std::arch::x86_64::*;
    let (cl, range, words, mask, p) = pass.checked(x.len(), !XO);
    assert!(XO == xo.is_some());
    let full = mask == u32::MAX;
    // SAFETY: node and neighbour indices are `< x.len()` (sites of the model); `off` entries are
    // `≤ nbr.len()`; words are read at `[(s − start)·W, +W)` within the length checked above;
    // rows are `W` floats, read and written 8 at a time at offsets `8v < W`.
    unsafe {
        let keep: [__m256; V] = std::array::from_fn(|v| {
            let bits = _mm256_and_si256(
                _mm256_set1_epi32((mask >> (8 * v) & 0xff) as i32),
                _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128),
            );
            _mm256_castsi256_ps(_mm256_cmpeq_epi32(bits, _mm256_setzero_si256()))
        });
        let xp = x.as_mut_ptr().cast::<f32>();
        let c2: [__m256; V] = std::array::from_fn(|v| _mm256_loadu_ps(p.c2.as_ptr().add(8 * v)));
        let bias = p.bias.as_ref().map(|rows| rows.as_ptr().cast::<f32>());
        let (up, down) = (_mm256_set1_ps(1.0), _mm256_set1_ps(-1.0));
        let base = range.start;
        // Phase 1: every node's field (nothing is written to `x`; the class's nodes are not
        // neighbours of each other, so deferring the writes changes nothing).
        let mut fields = std::mem::MaybeUninit::<[FieldRow; CHUNK]>::uninit();
        let fp = fields.as_mut_ptr().cast::<f32>();
        for s in range.clone() {
            let a = *cl.off.get_unchecked(s) as usize;
            let b = *cl.off.get_unchecked(s + 1) as usize;
            let mut acc = match bias {
                Some(bp) => {
                    let r = bp.add(*cl.nodes.get_unchecked(s) as usize * W);
                    std::array::from_fn(|v| _mm256_loadu_ps(r.add(8 * v)))
                }
                None => [_mm256_set1_ps(*cl.h.get_unchecked(s)); V],
            };
            for e in a..b {
                let k = *cl.nbr.get_unchecked(e) as usize;
                let jj = _mm256_set1_ps(*cl.j.get_unchecked(e));
                let row = xp.add(k * W);
                for (v, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(jj, _mm256_load_ps(row.add(8 * v)), *acc);
                }
            }
            for (v, acc) in acc.iter().enumerate() {
                _mm256_store_ps(fp.add((s - base) * W + 8 * v), *acc);
            }
        }
        // Phase 2: independent exponential/compare/store per 8 lanes (long dependency chains of
        // different nodes overlap); with `E`, the energy change `−(x' − x)·φ` per lane.
        let mut dacc: [__m256; V] =
            std::array::from_fn(|v| _mm256_loadu_ps(de.as_ptr().add(8 * v)));
        // With `XO`, the words are the lanes' next `xoshiro128+` outputs, stepped here in node
        // order (as in `pass_avx512`).
        let mut st = xo.map(|st| {
            let v: [[__m256i; 4]; V] = std::array::from_fn(|v| {
                std::array::from_fn(|k| _mm256_load_si256(st.s[k].as_ptr().add(8 * v).cast()))
            });
            (st, v)
        });
        for s in range {
            let dst = xp.add(*cl.nodes.get_unchecked(s) as usize * W);
            let wp = words.as_ptr().add((s - base) * W);
            for (v, &keep) in keep.iter().enumerate() {
                let acc = _mm256_load_ps(fp.add((s - base) * W + 8 * v));
                let w = match (XO, &mut st) {
                    (true, Some((_, sv))) => {
                        xo_step_avx2(&mut sv[v], _mm256_castps_si256(keep), full)
                    }
                    _ => _mm256_loadu_si256(wp.add(8 * v).cast()),
                };
                let u = _mm256_cvtepi32_ps(w);
                let is_up = up24_mask_avx2(_mm256_mul_ps(c2[v], acc), u);
                let mut new = _mm256_blendv_ps(down, up, is_up);
                let d = dst.add(8 * v);
                if !full {
                    // `keep` is all-ones in lanes outside the mask: they keep their spin.
                    new = _mm256_blendv_ps(new, _mm256_load_ps(d), keep);
                }
                if E {
                    let diff = _mm256_sub_ps(new, _mm256_load_ps(d));
                    dacc[v] = _mm256_fnmadd_ps(diff, acc, dacc[v]);
                }
                _mm256_store_ps(d, new);
            }
        }
        if E {
            for (v, d) in dacc.iter().enumerate() {
                _mm256_storeu_ps(de.as_mut_ptr().add(8 * v), *d);
            }
        }
        if let Some((st, sv)) = st {
            for (v, sv) in sv.iter().enumerate() {
                for (k, w) in sv.iter().enumerate() {
                    _mm256_store_si256(st.s[k].as_mut_ptr().add(8 * v).cast(), *w);
                }
            }
        }
    }
}

/// [`pass_avx2`] with AVX-512: a node's 16 lanes are one vector, so a neighbour costs one fused
/// multiply-add with a memory operand (the same `f32` operations lane by lane, so the same
/// samples).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn pass_avx512<const E: bool, const XO: bool>(
    x: &mut [Row],
    pass: Pass<'_>,
    down: &mut [u16],
    xo: Option<&mut XoBlock>,
    de: &mut [f32; W],
) {
    let (cl, range, words, mask, p) = pass.checked(x.len(), !XO);
    assert!(XO == xo.is_some());
    assert!(down.len() >= x.len());
    let mut fields = std::mem::MaybeUninit::<[Row; CHUNK]>::uninit();
    let fp = fields.as_mut_ptr().cast::<f32>();
    // SAFETY: `checked` bounds the pass (see `fields_avx512`); `fp` holds `CHUNK` rows and the
    // range at most `CHUNK` nodes; `finish_avx512` reads exactly the rows written here.
    unsafe {
        fields_avx512::<1>(cl, range.clone(), [bias_ptr(p)], [down.as_ptr()], [fp]);
        finish_avx512::<E, XO>(x, cl, range, fp, words, mask, p, down, xo, de);
    }
}

/// [`pass_avx512`] on two blocks at once under the same class, range and schedule (a fixed
/// colour order): each neighbour's index and coupling are read once for both blocks' masks, and
/// every lane of either block gets exactly the operations of [`pass_avx512`] (the same samples).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn pass_pair_avx512<const E: bool, const XO: bool>(
    x: [&mut [Row]; 2],
    passes: [Pass<'_>; 2],
    down: [&mut [u16]; 2],
    xo: [Option<&mut XoBlock>; 2],
    de: [&mut [f32; W]; 2],
) {
    let [xa, xb] = x;
    let [pa, pb] = passes;
    let [da, db] = down;
    let [oa, ob] = xo;
    let (cl, range, wa, ma, qa) = pa.checked(xa.len(), !XO);
    let (clb, range_b, wb, mb, qb) = pb.checked(xb.len(), !XO);
    assert!(std::ptr::eq(cl, clb) && range == range_b && xa.len() == xb.len());
    assert!(XO == oa.is_some() && XO == ob.is_some());
    assert!(da.len() >= xa.len() && db.len() >= xb.len());
    let mut fa = std::mem::MaybeUninit::<[Row; CHUNK]>::uninit();
    let mut fb = std::mem::MaybeUninit::<[Row; CHUNK]>::uninit();
    let (pfa, pfb) = (fa.as_mut_ptr().cast::<f32>(), fb.as_mut_ptr().cast::<f32>());
    // SAFETY: as in `pass_avx512`, for each block; both blocks have the rows of the same model.
    unsafe {
        fields_avx512::<2>(
            cl,
            range.clone(),
            [bias_ptr(qa), bias_ptr(qb)],
            [da.as_ptr(), db.as_ptr()],
            [pfa, pfb],
        );
        let [dea, deb] = de;
        finish_avx512::<E, XO>(xa, cl, range.clone(), pfa, wa, ma, qa, da, oa, dea);
        finish_avx512::<E, XO>(xb, cl, range, pfb, wb, mb, qb, db, ob, deb);
    }
}

/// The per-lane bias rows of a block, if it has them.
fn bias_ptr(p: &LaneParams) -> Option<*const f32> {
    p.bias.as_ref().map(|rows| rows.as_ptr().cast::<f32>())
}

/// Phase 1 of [`pass_avx512`] for `B` blocks: row `s − range.start` of `fp[q]` gets node
/// `cl.nodes[s]`'s field in block `q`'s lanes — its bias (`bias[q]`'s row, or the shared `h`),
/// then `± J` per neighbour in CSR order with the sign from block `q`'s down masks `dn[q]`.
///
/// # Safety
/// The class's CSR must be well formed with every node and neighbour index a row of both
/// blocks (`dn[q]` and `bias[q]` cover them); `range` lies in the class and spans at most
/// [`CHUNK`] nodes; each `fp[q]` is writable for `CHUNK` rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fields_avx512<const B: usize>(
    cl: &Class,
    range: std::ops::Range<usize>,
    bias: [Option<*const f32>; B],
    dn: [*const u16; B],
    fp: [*mut f32; B],
) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract.
    unsafe {
        let base = range.start;
        let init = |q: usize, s: usize| match bias[q] {
            Some(bp) => _mm512_loadu_ps(bp.add(*cl.nodes.get_unchecked(s) as usize * W)),
            None => _mm512_set1_ps(*cl.h.get_unchecked(s)),
        };
        // `J·x` is `±J` exactly, so `acc + J·x` (one rounding, as the fused multiply-add of the
        // other kernels) is `acc + J` or `acc − J`. One index and coupling for all `B` blocks.
        let add = |acc: &mut [__m512; B], e: usize| {
            let k = *cl.nbr.get_unchecked(e) as usize;
            let jj = _mm512_set1_ps(*cl.j.get_unchecked(e));
            for q in 0..B {
                acc[q] = _mm512_mask_sub_ps(_mm512_add_ps(acc[q], jj), *dn[q].add(k), acc[q], jj);
            }
        };
        // [`NODE_GROUP`] nodes at a time (per block) with their sums interleaved, so that the
        // add chains of different nodes overlap; each node still adds its bias and then its
        // neighbours in CSR order, so every field has the bits of a node-by-node sum.
        let mut s = range.start;
        while s + NODE_GROUP <= range.end {
            let a: [usize; NODE_GROUP] =
                std::array::from_fn(|i| *cl.off.get_unchecked(s + i) as usize);
            let b: [usize; NODE_GROUP] =
                std::array::from_fn(|i| *cl.off.get_unchecked(s + i + 1) as usize);
            let common = (0..NODE_GROUP).map(|i| b[i] - a[i]).min().unwrap_or(0);
            let mut acc: [[__m512; B]; NODE_GROUP] =
                std::array::from_fn(|i| std::array::from_fn(|q| init(q, s + i)));
            for d in 0..common {
                for (i, acc) in acc.iter_mut().enumerate() {
                    add(acc, a[i] + d);
                }
            }
            for i in 0..NODE_GROUP {
                for e in a[i] + common..b[i] {
                    add(&mut acc[i], e);
                }
                for q in 0..B {
                    _mm512_store_ps(fp[q].add((s + i - base) * W), acc[i][q]);
                }
            }
            s += NODE_GROUP;
        }
        for s in s..range.end {
            let mut acc: [__m512; B] = std::array::from_fn(|q| init(q, s));
            for e in *cl.off.get_unchecked(s) as usize..*cl.off.get_unchecked(s + 1) as usize {
                add(&mut acc, e);
            }
            for q in 0..B {
                _mm512_store_ps(fp[q].add((s - base) * W), acc[q]);
            }
        }
    }
}

/// Phase 2 of [`pass_avx512`]: for each node of `range`, the lanes' words (from `words`, or
/// with `XO` stepped from `xo`), the exponential and comparison on the field in `fp`, and the
/// new spins and down bits of the lanes in `mask`; with `E`, `−(x' − x)·φ` per lane into `de`.
///
/// # Safety
/// As for [`fields_avx512`] with one block (`x` and `down` the block's rows and masks), `fp`
/// holding the fields of `range` as that function writes them, and without `XO` `words` holding
/// `W` words per node of `range`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn finish_avx512<const E: bool, const XO: bool>(
    x: &mut [Row],
    cl: &Class,
    range: std::ops::Range<usize>,
    fp: *const f32,
    words: &[u32],
    mask: u32,
    p: &LaneParams,
    down: &mut [u16],
    xo: Option<&mut XoBlock>,
    de: &mut [f32; W],
) {
    use std::arch::x86_64::*;
    let dn = down.as_mut_ptr();
    let full = mask == u32::MAX;
    let m = mask as u16; // lanes that update
    // SAFETY: the caller's contract; rows and field rows are `W` = 16 floats, 64-byte aligned,
    // read and written whole.
    unsafe {
        let xp = x.as_mut_ptr().cast::<f32>();
        let c2 = _mm512_loadu_ps(p.c2.as_ptr());
        let (up, down) = (_mm512_set1_ps(1.0), _mm512_set1_ps(-1.0));
        let base = range.start;
        // Phase 2: exponential, compare and store per node; with `E`, `−(x' − x)·φ` per lane.
        let mut dacc = _mm512_loadu_ps(de.as_ptr());
        let mut finish = |s: usize, acc: __m512, is_up: __mmask16| {
            let node = *cl.nodes.get_unchecked(s) as usize;
            let dst = xp.add(node * W);
            let mut new = _mm512_mask_blend_ps(is_up, down, up);
            // Lanes outside the mask keep their spin (and their down bit).
            let mut down_bits = !is_up;
            if !full || E {
                let old = _mm512_load_ps(dst);
                if !full {
                    new = _mm512_mask_blend_ps(m, old, new);
                    down_bits = (down_bits & m) | (*dn.add(node) & !m);
                }
                if E {
                    dacc = _mm512_fnmadd_ps(_mm512_sub_ps(new, old), acc, dacc);
                }
            }
            _mm512_store_ps(dst, new);
            *dn.add(node) = down_bits;
        };
        // With `XO`, each node's words are the lanes' next `xoshiro128+` outputs, stepped here
        // in node order (the words and states of `xo_words_avx512`, so the same samples): the
        // generator's dependency chain then overlaps the comparisons instead of running alone.
        let mut st = xo.map(|st| {
            let v: [__m512i; 4] =
                std::array::from_fn(|k| _mm512_load_si512(st.s[k].as_ptr().cast()));
            (st, v)
        });
        let mut decide = |s: usize| {
            let acc = _mm512_load_ps(fp.add((s - base) * W));
            let w = match (XO, &mut st) {
                (true, Some((_, v))) => xo_step_avx512(v, m),
                _ => _mm512_loadu_si512(words.as_ptr().add((s - base) * W).cast()),
            };
            let u = _mm512_cvtepi32_ps(w);
            (acc, up24_mask_avx512(_mm512_mul_ps(c2, acc), u))
        };
        // Two nodes at a time, so that their exponential chains overlap.
        let mut s = base;
        while s + 2 <= range.end {
            let (a0, u0) = decide(s);
            let (a1, u1) = decide(s + 1);
            finish(s, a0, u0);
            finish(s + 1, a1, u1);
            s += 2;
        }
        if s < range.end {
            let (a0, u0) = decide(s);
            finish(s, a0, u0);
        }
        if E {
            _mm512_storeu_ps(de.as_mut_ptr(), dacc);
        }
        if let Some((st, v)) = st {
            for (k, v) in v.into_iter().enumerate() {
                _mm512_store_si512(st.s[k].as_mut_ptr().cast(), v);
            }
        }
    }
}

/// `down[k]` = the lanes of row `k` that are `−1` (bit `l` for lane `l`), for every row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn down_masks(x: &[Row], down: &mut Vec<u16>) {
    use std::arch::x86_64::*;
    down.resize(x.len(), 0);
    for (d, row) in down.iter_mut().zip(x) {
        // SAFETY: a row is `W` = 16 floats, 64-byte aligned.
        *d = unsafe {
            _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_load_ps(row.0.as_ptr()), _mm512_setzero_ps())
        };
    }
}

/// [`up24`] on 16 lanes, operation for operation (bit-identical): bit `l` is lane `l`'s answer.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
pub(super) fn up24_mask_avx512(
    a: std::arch::x86_64::__m512,
    u: std::arch::x86_64::__m512,
) -> std::arch::x86_64::__mmask16 {
    use std::arch::x86_64::*;
    let s = _mm512_set1_ps;
    let a = _mm512_max_ps(_mm512_min_ps(a, s(A_MAX)), s(A_MIN));
    // `n = round(a)` (nearest, ties to even, as `t − ROUND` in `up24`) and `p·2^n` by `vscalefps`:
    // both exact or correctly rounded as in `up24`, so the same bits in two operations fewer.
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a);
    let f = _mm512_sub_ps(a, n);
    let mut p = s(EXP2_POLY[5]);
    for &c in EXP2_POLY[..5].iter().rev() {
        p = _mm512_fmadd_ps(p, f, s(c));
    }
    let lhs = _mm512_fmadd_ps(u, _mm512_scalef_ps(p, n), u);
    _mm512_cmp_ps_mask::<_CMP_LT_OQ>(lhs, s(16_777_216.0))
}

/// Coefficients of the degree-5 polynomial for `2^f` on `[−½, ½]` (a relative-error minimax fit,
/// Lawson's algorithm on 4,000 Chebyshev nodes; max relative error 7.5e-8 in exact arithmetic,
/// 2.1e-7 evaluated in `f32` by Horner with fused multiply-adds).
const EXP2_POLY: [f32; 6] = [
    1.000_000_1,
    0.693_146_94,
    0.240_221_2,
    0.055_507_13,
    0.009_675_541,
    0.001_327_647_2,
];
/// `1.5·2^23`: adding it rounds an `f32` of magnitude `< 2^22` to an integer.
const ROUND: f32 = 12_582_912.0;
/// Exponent range of the comparison: below `−126` (`2^a` under the smallest normal float) every
/// `u` says up; above `100` (far past `2^24`) every `u ≥ 1` says down, and `u·2^a` stays finite.
const A_MIN: f32 = -126.0;
const A_MAX: f32 = 100.0;

/// Whether a uniform 24-bit `u` says "up" given `a = −2βφ·log₂e` (so `2^a = e^{−2βφ}`):
/// `u·(1 + 2^a) < 2^24`, i.e. `u < σ(2βφ)·2^24` without a division or a natural exponential.
/// `2^a = 2^n·2^f` with `n = round(a)`, `2^f` by [`EXP2_POLY`] and `2^n` built in the exponent
/// bits; `u·(1 + 2^a)` is one fused multiply-add. Bit depth 24; `u = 0` is always up, as with
/// the `sparse-f32` comparison.
#[inline(always)]
fn up24(a: f32, u: u32) -> bool {
    let a = a.clamp(A_MIN, A_MAX);
    let t = a + ROUND;
    let n = t - ROUND;
    let f = a - n;
    let mut p = EXP2_POLY[5];
    for &c in EXP2_POLY[..5].iter().rev() {
        p = p.mul_add(f, c);
    }
    // `t`'s bits are `bits(ROUND) + n`, and `bits(ROUND) << 23 ≡ 0 (mod 2^32)`: shifting gives
    // `n << 23`, and adding `127 << 23` makes it the float `2^n`.
    let scale = f32::from_bits((t.to_bits() << 23).wrapping_add(127 << 23));
    let u = u as f32;
    u.mul_add(p * scale, u) < 16_777_216.0
}

/// [`up24_mask_avx2`] as a bit mask: bit `l` of the result is lane `l`'s answer.
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
fn up24_avx2(a: std::arch::x86_64::__m256, u: std::arch::x86_64::__m256) -> i32 {
    std::arch::x86_64::_mm256_movemask_ps(up24_mask_avx2(a, u))
}

/// [`up24`] on 8 lanes, operation for operation (bit-identical): lane `l` is all-ones where lane
/// `l` says up, else zero.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn up24_mask_avx2(
    a: std::arch::x86_64::__m256,
    u: std::arch::x86_64::__m256,
) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let s = _mm256_set1_ps;
    let a = _mm256_max_ps(_mm256_min_ps(a, s(A_MAX)), s(A_MIN));
    let t = _mm256_add_ps(a, s(ROUND));
    let n = _mm256_sub_ps(t, s(ROUND));
    let f = _mm256_sub_ps(a, n);
    let mut p = s(EXP2_POLY[5]);
    for &c in EXP2_POLY[..5].iter().rev() {
        p = _mm256_fmadd_ps(p, f, s(c));
    }
    let scale = _mm256_castsi256_ps(_mm256_add_epi32(
        _mm256_slli_epi32::<23>(_mm256_castps_si256(t)),
        _mm256_set1_epi32(127 << 23),
    ));
    let lhs = _mm256_fmadd_ps(u, _mm256_mul_ps(p, scale), u);
    _mm256_cmp_ps::<_CMP_LT_OQ>(lhs, s(16_777_216.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`BlockView::energies`] is [`EnergyModel::energy`] of each lane, bit for bit (the PT
    /// driver's periodic exact recompute uses it), on a full and a partial block of random
    /// states of a model with couplings and biases of mixed signs and magnitudes.
    #[test]
    fn block_energies_are_the_models_bit_for_bit() {
        use rand::{RngExt, SeedableRng};
        let m = thermoq_models::builders::random_sparse(70, 0.15, 0.9, 0.7, 1.0, 12);
        let n = m.n_spins();
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        for lanes in [W, 5] {
            let chains: Vec<Spin> = (0..lanes * n)
                .map(|_| if r.random::<bool>() { 1 } else { -1 })
                .collect();
            let mut got = vec![0.0f64; lanes];
            BlockView::of_chains(&chains, n, 0, |v| v.energies(&m, &mut got));
            for (l, x) in chains.chunks(n).enumerate() {
                assert_eq!(
                    got[l].to_bits(),
                    m.energy(x).to_bits(),
                    "lane {l} of {lanes}"
                );
            }
        }
    }

    /// The realised up-probability of [`up24`] (the number of 24-bit `u` that say up, found by
    /// bisection: `up24` is monotone in `u`) is `σ(z) = 1/(1 + 2^a)` for the `f32` exponent `a`
    /// it is given, to within 1e-6 relative + 2^-23, over `z ∈ [−20, 20]`; beyond the clamps
    /// every `u` is up (`a < −126`) or every `u ≥ 1` down (`a > 100`).
    #[test]
    fn up24_realises_the_sigmoid() {
        let realised = |a: f32| {
            let (mut lo, mut hi) = (0u32, 1u32 << 24); // up24(a, lo) holds, up24(a, hi) does not
            assert!(up24(a, 0), "u = 0 must be up (a = {a})");
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if up24(a, mid) { lo = mid } else { hi = mid }
            }
            f64::from(hi) / 16_777_216.0
        };
        let mut z = -20.0f64;
        while z < 20.0 {
            let a = (-z * std::f64::consts::LOG2_E) as f32;
            let exact = 1.0 / (1.0 + f64::from(a).exp2());
            let r = realised(a);
            assert!(
                (r - exact).abs() <= 1e-6 * exact + 2.0f64.powi(-23),
                "z = {z}, a = {a}: realised {r} vs σ {exact}"
            );
            z += 0.0173;
        }
        for a in [-1e30, -500.0, -126.5] {
            assert_eq!(realised(a), 1.0, "a = {a}");
        }
        for a in [100.5, 500.0, 1e30] {
            assert_eq!(realised(a), 1.0 / 16_777_216.0, "a = {a}");
        }
    }

    /// Our `xoshiro128+` step is the published generator: the same outputs as `rand_xoshiro`'s
    /// `Xoshiro128Plus` from the same 16-byte seed.
    #[test]
    fn xoshiro_matches_the_reference_crate() {
        use rand::{Rng, SeedableRng};
        let seed: [u8; 16] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
        let mut reference = rand_xoshiro::Xoshiro128Plus::from_seed(seed);
        let mut st = XoBlock::idle();
        st.seed_lane(3, seed);
        let mut v: [u32; 4] = std::array::from_fn(|k| st.s[k][3]);
        for _ in 0..1000 {
            assert_eq!(xoshiro128p_step(&mut v), reference.next_u32());
        }
    }

    /// The comparison words of 16 lanes seeded as the engine seeds them (16 bytes of each
    /// chain's ChaCha8 stream) look uniform and independent: chi-square over 256 cells of the top
    /// 8 bits per lane, of the top 4 bits of neighbouring lanes jointly, and of the top 4 bits of
    /// consecutive words of a lane, on 2^16 words per lane. With 255 degrees of freedom the
    /// statistic has mean 255 and sd √510 ≈ 22.6; the bound is mean + 6 sd (fixed seed).
    #[test]
    fn xoshiro_words_look_uniform_and_independent() {
        let mut st = XoBlock::idle();
        for l in 0..W {
            let mut rb = RandBuf::new(thermoq_core::rng::chain_rng(2026, l as u64));
            st.seed_lane(l, rb.take(16).try_into().unwrap());
        }
        let len = 1 << 16;
        let mut words = vec![0u32; len * W];
        xo_words_portable(&mut st, len, u32::MAX, &mut words);
        let bound = 255.0 + 6.0 * 510f64.sqrt();
        let chi2 = |cells: &[u64]| {
            let e = cells.iter().sum::<u64>() as f64 / cells.len() as f64;
            cells
                .iter()
                .map(|&o| (o as f64 - e).powi(2) / e)
                .sum::<f64>()
        };
        let w = |s: usize, l: usize| words[s * W + l];
        for l in 0..W {
            let mut top8 = [0u64; 256];
            let mut serial = [0u64; 256];
            for s in 0..len {
                top8[(w(s, l) >> 16) as usize] += 1;
                if s + 1 < len {
                    serial[((w(s, l) >> 20) << 4 | w(s + 1, l) >> 20) as usize] += 1;
                }
            }
            assert!(
                chi2(&top8) < bound,
                "lane {l}: top-8-bit chi2 {}",
                chi2(&top8)
            );
            assert!(
                chi2(&serial) < bound,
                "lane {l}: serial chi2 {}",
                chi2(&serial)
            );
            if l + 1 < W {
                let mut joint = [0u64; 256];
                for s in 0..len {
                    joint[((w(s, l) >> 20) << 4 | w(s, l + 1) >> 20) as usize] += 1;
                }
                assert!(
                    chi2(&joint) < bound,
                    "lanes {l},{}: chi2 {}",
                    l + 1,
                    chi2(&joint)
                );
            }
        }
    }

    /// The AVX2 word generator gives the portable one's words and states, with full and partial
    /// lane masks; lanes outside the mask do not advance.
    #[test]
    fn xo_words_avx2_matches_portable() {
        if !simd_available() {
            eprintln!(
                "SKIPPED: no AVX2 — xo_words_avx2_matches_portable cannot compare the AVX2 kernel on this CPU"
            );
            return;
        }
        let mut a = XoBlock::idle();
        for l in 0..W {
            a.seed_lane(l, std::array::from_fn(|i| (i * 31 + l * 7 + 1) as u8));
        }
        let mut b = a.clone();
        let len = 37;
        for mask in [u32::MAX, 0b1010_0110_0000_0001, 0] {
            let before = a.s;
            let (mut wa, mut wb) = (vec![0u32; len * W], vec![0u32; len * W]);
            xo_words_portable(&mut a, len, mask, &mut wa);
            // SAFETY: AVX2 detected above.
            unsafe { xo_words_avx2(&mut b, len, mask, &mut wb) };
            assert_eq!(a.s, b.s, "mask {mask:#x}");
            for l in 0..W {
                let on = mask >> l & 1 == 1;
                assert_eq!((0..4).all(|k| a.s[k][l] == before[k][l]), !on, "lane {l}");
                if on {
                    for s in 0..len {
                        assert_eq!(wa[s * W + l], wb[s * W + l], "lane {l}, step {s}");
                        assert!(wa[s * W + l] < 1 << 24);
                    }
                }
            }
        }
        eprintln!(
            "RAN: xo_words_avx2_matches_portable compared the AVX2 kernel with the portable one"
        );
    }

    /// The lane sums' AVX2 kernel gives the portable kernel's integers, and sums past the `i16`
    /// range (40,000 states, spilled every 32,767) are the exact totals.
    #[test]
    fn lane_moments_kernels_agree_and_spill_exactly() {
        let n = 37;
        let mut k = 7u32;
        let mut next = || {
            k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            k >> 8
        };
        let edges: std::sync::Arc<[(u32, u32)]> = (0..90)
            .map(|_| (next() % n as u32, next() % n as u32))
            .collect();
        let states: Vec<Vec<Row>> = (0..3)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        Row(std::array::from_fn(|_| {
                            if next() & 1 == 1 { 1.0 } else { -1.0 }
                        }))
                    })
                    .collect()
            })
            .collect();
        if simd_available() {
            let (mut sa, mut xa, mut xxa) = (vec![[0; W]; n], vec![[0; W]; n], vec![[0; W]; 90]);
            let (mut sb, mut xb, mut xxb) = (sa.clone(), xa.clone(), xxa.clone());
            for st in &states {
                lane_moments_portable(st, &edges, &mut sa, &mut xa, &mut xxa);
                // SAFETY: AVX2 detected above.
                unsafe { lane_moments_avx2(st, &edges, &mut sb, &mut xb, &mut xxb) };
            }
            assert_eq!((sa, xa, xxa), (sb, xb, xxb));
            eprintln!("RAN: lane_moments_kernels_agree_and_spill_exactly compared the AVX2 kernel");
        }
        let mut lm = LaneMoments::new(n, edges.clone()).expect("edges");
        let reps = 40_000;
        for r in 0..reps {
            let st = &states[r % 3];
            lm.add(&BlockView {
                rows: st,
                first: 0,
                lanes: W,
            });
        }
        assert_eq!(lm.count(), reps as u64);
        let times: Vec<i64> = (0..3).map(|q| ((reps - q).div_ceil(3)) as i64).collect();
        let total = |f: &dyn Fn(&[Row]) -> f32| -> i64 {
            states
                .iter()
                .zip(&times)
                .map(|(st, t)| t * f(st) as i64)
                .sum()
        };
        for l in 0..W {
            for i in 0..n {
                let want = total(&|st| st[i].0[l]);
                assert_eq!(lm.sum_x(i, l), want, "node {i} lane {l}");
            }
            for (e, &(i, j)) in edges.iter().enumerate() {
                let want = total(&|st| st[i as usize].0[l] * st[j as usize].0[l]);
                assert_eq!(lm.sum_xx(e, l), want, "edge {e} lane {l}");
            }
        }
    }

    /// The AVX-512 kernels (pass and xoshiro words) give the AVX2 and portable kernels' samples
    /// bit for bit: 20 chains (a partial block), per-chain fields and temperatures, `BLK-SYM`
    /// (masked passes) and `BLK-ALT`, both generators, plain runs and resident sweeps with
    /// carried energy changes.
    #[test]
    fn avx512_kernels_match_avx2_and_portable() {
        if !wide_available() {
            eprintln!(
                "SKIPPED: no AVX-512 — avx512_kernels_match_avx2_and_portable cannot compare the AVX-512 kernels on this CPU"
            );
            return;
        }
        let m = thermoq_models::builders::random_sparse(40, 0.2, 0.5, 0.3, 0.9, 3);
        let col = Coloring::dsatur(m.graph());
        let c = 20;
        let run = |level: u8, kind: crate::KernelKind, g: Generator| {
            let mut e = LanesEngine::new(&m, &col, c);
            e.set_generator(g);
            e.set_simd(level > 0);
            e.set_wide(level > 1);
            assert_eq!((e.simd, e.wide), (level > 0, level > 1));
            let betas: Vec<f64> = (0..c).map(|k| 0.5 + 0.04 * k as f64).collect();
            e.set_betas(&betas);
            let f: Vec<f32> = (0..c * 40).map(|k| 0.3 * (k as f32 * 0.7).sin()).collect();
            e.set_fields(Some(&f));
            let sched = ColourSchedule::new(kind, col.n_colors()).expect("schedule");
            let mut rngs: Vec<RandBuf> = (0..c as u64)
                .map(|k| RandBuf::new(thermoq_core::rng::chain_rng(9, k)))
                .collect();
            let mut b = ChainBatch::uniform(c, 40, 4);
            e.drive::<crate::fast::NoObs>(&mut b, &mut rngs, &sched, &Segment::sweeps(25), None);
            e.load_resident(&b);
            let mut de = vec![0.0f64; c];
            e.sweep_resident(&mut rngs, &sched, 25, &mut de);
            e.store_resident(&mut b);
            (
                b.as_slice().to_vec(),
                de.iter().map(|d| d.to_bits()).collect::<Vec<_>>(),
            )
        };
        for kind in [crate::KernelKind::BlkSym, crate::KernelKind::BlkAlt] {
            for g in [Generator::ChaCha8, Generator::Xoshiro128Plus] {
                let wide = run(2, kind, g);
                assert_eq!(
                    wide,
                    run(1, kind, g),
                    "{kind} {}: AVX-512 vs AVX2",
                    g.name()
                );
                assert_eq!(
                    wide,
                    run(0, kind, g),
                    "{kind} {}: AVX-512 vs portable",
                    g.name()
                );
            }
        }
        let mut a = XoBlock::idle();
        for l in 0..W {
            a.seed_lane(l, std::array::from_fn(|i| (i * 29 + l * 5 + 3) as u8));
        }
        let mut b = a.clone();
        for mask in [u32::MAX, 0b0110_0000_1000_0101, 0] {
            let (mut wa, mut wb) = (vec![0u32; 41 * W], vec![0u32; 41 * W]);
            xo_words_portable(&mut a, 41, mask, &mut wa);
            // SAFETY: AVX-512F detected above.
            unsafe { xo_words_avx512(&mut b, 41, mask, &mut wb) };
            assert_eq!(a.s, b.s, "mask {mask:#x}");
            for l in (0..W).filter(|l| mask >> l & 1 == 1) {
                for s in 0..41 {
                    assert_eq!(wa[s * W + l], wb[s * W + l], "lane {l}, step {s}");
                }
            }
        }
        eprintln!("RAN: avx512_kernels_match_avx2_and_portable compared the AVX-512 kernels");
    }

    /// The AVX-512 comparison (`vroundscaleps`/`vscalefps`) against the portable one where they
    /// could differ: at each exponent's threshold word `u*` (the first `u` that says down,
    /// found by bisection on [`up24`]) and its neighbours, for exponents across both clamps, on
    /// every half-integer (the rounding ties), and through the subnormal range of `2^a`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn up24_avx512_simd_and_portable_agree() {
        if !wide_available() {
            eprintln!(
                "SKIPPED: no AVX-512 — up24_avx512_simd_and_portable_agree cannot compare the AVX-512 comparison on this CPU"
            );
            return;
        }
        use std::arch::x86_64::*;
        let mut exps: Vec<f32> = (0..4_000).map(|i| i as f32 * 0.061 - 130.0).collect();
        exps.extend((-262..=220).map(|k| k as f32 * 0.5));
        exps.extend((0..200).map(|i| -127.0 + i as f32 * 0.01));
        exps.extend([
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            -1e30,
            1e30,
            100.0,
            -126.0,
            99.5,
            -125.5,
        ]);
        let mut cases: Vec<(f32, u32)> = Vec::new();
        for &a in &exps {
            let (mut lo, mut hi) = (0u32, 1u32 << 24);
            if up24(a, hi - 1) {
                lo = hi - 1;
            } else {
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if up24(a, mid) { lo = mid } else { hi = mid }
                }
            }
            for u in [0, 1, lo.saturating_sub(1), lo, hi, hi + 1, (1 << 24) - 1] {
                cases.push((a, u.min((1 << 24) - 1)));
            }
        }
        let mut downs = 0;
        for chunk in cases.chunks(16) {
            let a: [f32; 16] = std::array::from_fn(|l| chunk.get(l).map_or(0.0, |c| c.0));
            let u: [u32; 16] = std::array::from_fn(|l| chunk.get(l).map_or(0, |c| c.1));
            let want: u16 = (0..16).map(|l| u16::from(up24(a[l], u[l])) << l).sum();
            downs += 16 - want.count_ones();
            // SAFETY: AVX-512F detected above.
            let got = unsafe {
                up24_mask_avx512(
                    _mm512_loadu_ps(a.as_ptr()),
                    _mm512_cvtepi32_ps(_mm512_loadu_si512(u.as_ptr().cast())),
                )
            };
            assert_eq!(want, got, "a = {a:?}, u = {u:?}");
        }
        // Both answers occur (the thresholds are inside the word range for most exponents).
        assert!(
            downs > 5_000 && (cases.len() as u32) - downs > 5_000,
            "{downs} downs"
        );
        eprintln!(
            "RAN: up24_avx512_simd_and_portable_agree compared the AVX-512 comparison with the portable one"
        );
    }

    /// The AVX2 comparison gives the portable one's bits.
    #[test]
    fn up24_avx2_matches_portable() {
        if !simd_available() {
            eprintln!(
                "SKIPPED: no AVX2 — up24_avx2_matches_portable cannot compare the AVX2 kernel on this CPU"
            );
            return;
        }
        use std::arch::x86_64::*;
        let mut k = 0u32;
        for i in 0..20_000 {
            let zs: [f32; 8] = std::array::from_fn(|l| ((i * 8 + l) as f32 * 0.0137) - 1000.0);
            // (`zs` are exponents `a`: −1000 … 1192, across both clamps.)
            let us: [u32; 8] = std::array::from_fn(|_| {
                k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                k >> 8
            });
            let want: i32 = (0..8).map(|l| i32::from(up24(zs[l], us[l])) << l).sum();
            // SAFETY: AVX2 and FMA detected above.
            let got = unsafe {
                up24_avx2(
                    _mm256_loadu_ps(zs.as_ptr()),
                    _mm256_cvtepi32_ps(_mm256_loadu_si256(us.as_ptr().cast())),
                )
            };
            assert_eq!(want, got, "z from {}", zs[0]);
        }
        eprintln!("RAN: up24_avx2_matches_portable compared the AVX2 kernel with the portable one");
    }
}
