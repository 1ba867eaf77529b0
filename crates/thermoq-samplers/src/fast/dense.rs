//! The dense bipartite (RBM) engine: each half-sweep of all chains is one `f32` GEMM.
//!
//! Visible states of all `C` chains are the columns of `Vᵀ` (`m × C`, column `c` = chain `c`),
//! hidden states the columns of `Hᵀ` (`n × C`). Updating the hidden layer of a group of chains is
//! `Fᵀ = Wᵀ·Vᵀ` (faer `matmul`, `f32`, parallel over the current rayon pool) followed, chain by
//! chain in parallel, by `p = σ(2β(F + c))` and a comparison against chain `c`'s own random words;
//! the visible layer likewise with `W·Hᵀ`. Chains whose sweep visits the layers in different
//! orders (BLK-SYM's per-chain coin, BLK-RS's per-chain picks) are grouped per half-step and each
//! group is gathered into its own GEMM, so every chain still follows its own schedule. Under a
//! fixed order (BLK-ALT) every block of [`CHAIN_BLOCK`] chains runs the whole segment as one task
//! on its own columns (no gather, no hand-off per half-sweep), with the same blocks and GEMMs.
//!
//! Precision: fields are `f32` (relative error ≈ `m·2^-24` from the GEMM), the sigmoid is a
//! vectorizable `f32` polynomial (relative error ≈ 1e-7), and the comparison is `u < p·2^24` on the
//! top 24 bits of a 32-bit word (exact in `f32`): the bit depth is 24 and the realised probability is
//! within ≈ 1e-6 of `σ(2βφ)` for the field computed in `f64`.

use super::stream::{Bytes, ChainSources, XoBytes};
use super::{DriveArgs, Generator, avx2_available};
use crate::run::Segment;
use crate::{ColourSchedule, Observer};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use thermoq_core::Spin;
use thermoq_models::{EnergyModel, Rbm};

/// Which layer a colour class is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layer {
    Visible,
    Hidden,
}

/// Batched RBM state and parameters in `f32`.
pub(crate) struct DenseEngine {
    m: usize,
    n: usize,
    /// `W`, `m × n`, column-major.
    w: Vec<f32>,
    /// `Wᵀ`, `n × m`, column-major.
    wt: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    beta2: f32,
    /// Colour class `k` → layer.
    class_layer: [Layer; 2],
    /// ChaCha8, or each chain's `xoshiro128+` byte source.
    sources: ChainSources,
}

/// All chains' layers and scratch.
pub(crate) struct DenseState {
    vt: Vec<f32>,
    ht: Vec<f32>,
}

/// One layer update's fixed operands: source rows, target rows, the weight matrix (target ×
/// source) and the target biases.
struct LayerOps<'a> {
    src_rows: usize,
    tgt_rows: usize,
    lhs: MatRef<'a, f32>,
    bias: &'a [f32],
}

/// `(source, target)` states of an update of `layer`, from the visible columns `vt` and the
/// hidden columns `ht`.
fn sides<'s>(layer: Layer, vt: &'s mut [f32], ht: &'s mut [f32]) -> (&'s [f32], &'s mut [f32]) {
    match layer {
        Layer::Hidden => (vt, ht),
        Layer::Visible => (ht, vt),
    }
}

impl DenseEngine {
    pub(crate) fn new(rbm: &Rbm, class_layer: [Layer; 2]) -> Self {
        let (m, n) = (rbm.n_visible(), rbm.n_hidden());
        let wr = rbm.weights(); // row-major m × n
        let mut w = vec![0f32; m * n];
        let mut wt = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                w[j * m + i] = wr[i * n + j] as f32;
                wt[i * n + j] = wr[i * n + j] as f32;
            }
        }
        Self {
            m,
            n,
            w,
            wt,
            b: rbm.visible_bias().iter().map(|&v| v as f32).collect(),
            c: rbm.hidden_bias().iter().map(|&v| v as f32).collect(),
            beta2: (2.0 * rbm.beta()) as f32,
            class_layer,
            sources: ChainSources::default(),
        }
    }

    /// Draws comparison words from `g` from the next run on (`Xoshiro128Plus`: seeded then).
    pub(crate) fn set_generator(&mut self, g: Generator) {
        self.sources.set_generator(g);
    }

    /// The generator of the comparison words.
    pub(crate) fn generator(&self) -> Generator {
        self.sources.generator()
    }

    /// Runs `total` sweeps of every chain of `xs` (`n` spins each): per sweep, each chain's colour
    /// order from its own stream `rngs[c]` (always ChaCha8), then one GEMM per (step, layer)
    /// group; chains observed through `slots` as `seg` says. Comparison words come from
    /// `rngs` or, with [`Generator::Xoshiro128Plus`], from the chains' `xoshiro128+` sources.
    pub(crate) fn drive<O: Observer>(&mut self, mut a: DriveArgs<'_, '_, O>) {
        let nc = a.rngs.len();
        let mut xo = self.sources.take(a.rngs, avx2_available());
        let mut st = self.new_state(nc);
        self.load(a.xs, &mut st);
        if let ColourSchedule::Fixed(order) = a.sched {
            // Every chain visits the layers in the same order and the schedule draws nothing, so
            // each block of chains can run the whole segment on its own (the blocks and GEMMs of
            // the general path below, without a hand-off between threads per half-sweep).
            let layers: Vec<Layer> = order.iter().map(|&k| self.class_layer(k)).collect();
            let run = BlockRun {
                layers: &layers,
                n: a.n,
                seg: a.seg,
                total: a.total,
            };
            if xo.is_empty() {
                self.drive_blocks(&mut st, &run, a.xs, a.slots, a.rngs);
            } else {
                self.drive_blocks(&mut st, &run, a.xs, a.slots, &mut xo);
            }
        } else if xo.is_empty() {
            self.drive_groups(&mut st, &mut a, None);
        } else {
            self.drive_groups(&mut st, &mut a, Some(&mut xo));
        }
        for (c, x) in a.xs.chunks_mut(a.n).enumerate() {
            self.store_chain(&st, c, x);
        }
        self.sources.put_back(xo);
    }

    /// The general run: per sweep, each chain's colour order from its own stream, then one
    /// [`Self::update_layer`] per (step, layer) group, drawing from `xo` when given.
    fn drive_groups<O: Observer>(
        &self,
        st: &mut DenseState,
        a: &mut DriveArgs<'_, '_, O>,
        mut xo: Option<&mut [XoBytes]>,
    ) {
        let nc = a.rngs.len();
        let observing = a.slots.iter().any(Option::is_some);
        // Per-chain schedules for one sweep, then one GEMM per (step, layer) group.
        let mut scheds: Vec<[usize; 2]> = vec![[0, 1]; nc];
        let mut group: Vec<usize> = Vec::with_capacity(nc);
        for t in 0..a.total {
            for (s, rb) in scheds.iter_mut().zip(a.rngs.iter_mut()) {
                let mut q = 0;
                a.sched.visit(rb, |cl, _| {
                    s[q] = cl;
                    q += 1;
                });
            }
            for step in [0, 1] {
                for layer in [Layer::Visible, Layer::Hidden] {
                    group.clear();
                    group.extend((0..nc).filter(|&c| self.class_layer(scheds[c][step]) == layer));
                    match xo.as_deref_mut() {
                        None => self.update_layer(st, layer, &group, a.rngs),
                        Some(xo) => self.update_layer(st, layer, &group, xo),
                    }
                }
            }
            if observing && let Some(d) = a.seg.observes_after(t) {
                a.xs.par_chunks_mut(a.n)
                    .zip(a.slots.par_iter_mut())
                    .enumerate()
                    .for_each(|(c, (x, o))| {
                        if let Some(o) = o.as_deref_mut() {
                            self.store_chain(st, c, x);
                            o.observe(d, x);
                        }
                    });
            }
        }
    }

    /// The fixed-schedule run: blocks of [`CHAIN_BLOCK`] chains in parallel, each running every
    /// sweep of the segment (its layers in `run.layers` order, one sequential GEMM on the block's
    /// own contiguous columns per layer) and observing its own chains. The blocks, GEMM shapes and
    /// per-chain word order are those of [`Self::update_layer`] for the same schedule, so the
    /// samples are the same.
    fn drive_blocks<B: Bytes + Send, O: Observer>(
        &self,
        st: &mut DenseState,
        run: &BlockRun<'_>,
        xs: &mut [Spin],
        slots: &mut [Option<&mut O>],
        srcs: &mut [B],
    ) {
        let (m, n) = (self.m, self.n);
        let observing = slots.iter().any(Option::is_some);
        st.vt
            .par_chunks_mut(CHAIN_BLOCK * m)
            .zip(st.ht.par_chunks_mut(CHAIN_BLOCK * n))
            .zip(srcs.par_chunks_mut(CHAIN_BLOCK))
            .zip(xs.par_chunks_mut(CHAIN_BLOCK * run.n))
            .zip(slots.par_chunks_mut(CHAIN_BLOCK))
            .for_each(|((((vt, ht), srcs), xs), slots)| {
                let g = srcs.len();
                let mut field = vec![0f32; m.max(n) * g];
                for t in 0..run.total {
                    for &layer in run.layers {
                        let ops = self.ops(layer);
                        let (src, tgt) = sides(layer, vt, ht);
                        let cols = tgt.chunks_mut(ops.tgt_rows).zip(srcs.iter_mut());
                        self.gemm_sample(&ops, src, &mut field, cols);
                    }
                    if observing && let Some(d) = run.seg.observes_after(t) {
                        let states = vt.chunks(m).zip(ht.chunks(n));
                        for ((x, o), (v, h)) in
                            xs.chunks_mut(run.n).zip(slots.iter_mut()).zip(states)
                        {
                            if let Some(o) = o.as_deref_mut() {
                                store_spins(v, h, x);
                                o.observe(d, x);
                            }
                        }
                    }
                }
            });
    }

    pub(crate) fn class_layer(&self, k: usize) -> Layer {
        self.class_layer[k]
    }

    pub(crate) fn new_state(&self, n_chains: usize) -> DenseState {
        DenseState {
            vt: vec![0.0; self.m * n_chains],
            ht: vec![0.0; self.n * n_chains],
        }
    }

    pub(crate) fn load(&self, spins: &[Spin], st: &mut DenseState) {
        let nn = self.m + self.n;
        for (c, x) in spins.chunks(nn).enumerate() {
            for (d, &s) in st.vt[c * self.m..(c + 1) * self.m]
                .iter_mut()
                .zip(&x[..self.m])
            {
                *d = f32::from(s);
            }
            for (d, &s) in st.ht[c * self.n..(c + 1) * self.n]
                .iter_mut()
                .zip(&x[self.m..])
            {
                *d = f32::from(s);
            }
        }
    }

    pub(crate) fn store_chain(&self, st: &DenseState, c: usize, x: &mut [Spin]) {
        store_spins(
            &st.vt[c * self.m..(c + 1) * self.m],
            &st.ht[c * self.n..(c + 1) * self.n],
            x,
        );
    }

    /// Resamples layer `layer` of the chains in `group` (ascending chain indices), chain `c`
    /// drawing from `rngs[c]`.
    ///
    /// The group is cut into fixed blocks of [`CHAIN_BLOCK`] chains (in group order); each block is
    /// one task: gather its source columns, one sequential GEMM, then sample its columns. The cut
    /// does not depend on the thread count, so neither do the samples.
    pub(crate) fn update_layer<B: Bytes + Send>(
        &self,
        st: &mut DenseState,
        layer: Layer,
        group: &[usize],
        rngs: &mut [B],
    ) {
        if group.is_empty() {
            return;
        }
        let ops = self.ops(layer);
        let (src_rows, tgt_rows) = (ops.src_rows, ops.tgt_rows);
        let (src, tgt) = sides(layer, &mut st.vt, &mut st.ht);
        let mut members: Vec<(usize, &mut [f32], &mut B)> = Vec::with_capacity(group.len());
        let mut gi = 0;
        for (c, (t, rb)) in tgt.chunks_mut(tgt_rows).zip(rngs.iter_mut()).enumerate() {
            if gi < group.len() && group[gi] == c {
                members.push((c, t, rb));
                gi += 1;
            }
        }
        members.par_chunks_mut(CHAIN_BLOCK).for_each(|blk| {
            let g = blk.len();
            let mut rhs_buf = vec![0f32; src_rows * g];
            let mut field = vec![0f32; tgt_rows * g];
            for (k, (c, _, _)) in blk.iter().enumerate() {
                rhs_buf[k * src_rows..(k + 1) * src_rows]
                    .copy_from_slice(&src[*c * src_rows..(*c + 1) * src_rows]);
            }
            let cols = blk.iter_mut().map(|(_, t, rb)| (&mut **t, &mut **rb));
            self.gemm_sample(&ops, &rhs_buf, &mut field, cols);
        });
    }

    /// The operands of an update of `layer`.
    fn ops(&self, layer: Layer) -> LayerOps<'_> {
        let (m, n) = (self.m, self.n);
        match layer {
            Layer::Hidden => LayerOps {
                src_rows: m,
                tgt_rows: n,
                lhs: MatRef::from_column_major_slice(&self.wt, n, m),
                bias: &self.c,
            },
            Layer::Visible => LayerOps {
                src_rows: n,
                tgt_rows: m,
                lhs: MatRef::from_column_major_slice(&self.w, m, n),
                bias: &self.b,
            },
        }
    }

    /// `field = lhs · rhs` for the columns of `rhs` (one sequential GEMM; `field` holds at least
    /// as many target columns), then each target column of `cols` drawn from its own words.
    fn gemm_sample<'t, B: Bytes + 't>(
        &self,
        ops: &LayerOps<'_>,
        rhs: &[f32],
        field: &mut [f32],
        cols: impl Iterator<Item = (&'t mut [f32], &'t mut B)>,
    ) {
        let g = rhs.len() / ops.src_rows;
        let field = &mut field[..ops.tgt_rows * g];
        let rhs = MatRef::from_column_major_slice(rhs, ops.src_rows, g);
        let dst = MatMut::from_column_major_slice_mut(field, ops.tgt_rows, g);
        matmul(dst, Accum::Replace, ops.lhs, rhs, 1.0f32, Par::Seq);
        for ((t, rb), f) in cols.zip(field.chunks(ops.tgt_rows)) {
            sample_column(f, ops.bias, self.beta2, t, rb);
        }
    }
}

/// Writes one chain's visible column `v` and hidden column `h` as spins `x = (v, h)`.
fn store_spins(v: &[f32], h: &[f32], x: &mut [Spin]) {
    for (d, &s) in x.iter_mut().zip(v.iter().chain(h)) {
        *d = if s > 0.0 { 1 } else { -1 };
    }
}

/// What every block of a fixed-schedule run shares: the layers of one sweep in order, the spins
/// per chain, the observation segment and the number of sweeps.
struct BlockRun<'a> {
    layers: &'a [Layer],
    n: usize,
    seg: &'a Segment,
    total: usize,
}

/// Chains per GEMM task of the dense engine (fixed, so results do not depend on threads).
pub const CHAIN_BLOCK: usize = 32;

/// `t_j ← +1` with probability `σ(β2·(f_j + bias_j))`, else `−1`; 32 random bits per unit, of
/// which the top 24 are compared.
fn sample_column<B: Bytes>(f: &[f32], bias: &[f32], beta2: f32, t: &mut [f32], rb: &mut B) {
    const CHUNK: usize = super::stream::BUF_BYTES / 4;
    for ((f, b), t) in f
        .chunks(CHUNK)
        .zip(bias.chunks(CHUNK))
        .zip(t.chunks_mut(CHUNK))
    {
        let bytes = rb.take(4 * f.len());
        sample_chunk(f, b, beta2, t, bytes);
    }
}

#[inline]
fn sample_chunk(f: &[f32], b: &[f32], beta2: f32, t: &mut [f32], bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
    {
        // SAFETY: the features were detected at run time.
        unsafe { sample_chunk_avx512(f, b, beta2, t, bytes) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features were detected at run time.
        unsafe { sample_chunk_avx2(f, b, beta2, t, bytes) };
        return;
    }
    sample_chunk_impl(f, b, beta2, t, bytes);
}

/// The same `f32` operations element by element as the AVX2 and portable forms (no reassociation
/// is allowed), so the same samples, 16 elements per vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn sample_chunk_avx512(f: &[f32], b: &[f32], beta2: f32, t: &mut [f32], bytes: &[u8]) {
    sample_chunk_impl(f, b, beta2, t, bytes);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn sample_chunk_avx2(f: &[f32], b: &[f32], beta2: f32, t: &mut [f32], bytes: &[u8]) {
    sample_chunk_impl(f, b, beta2, t, bytes);
}

#[inline(always)]
fn sample_chunk_impl(f: &[f32], b: &[f32], beta2: f32, t: &mut [f32], bytes: &[u8]) {
    let k = t.len();
    let (f, b, bytes) = (&f[..k], &b[..k], &bytes[..4 * k]);
    for (j, (tj, u)) in t.iter_mut().zip(bytes.chunks_exact(4)).enumerate() {
        let z = beta2 * (f[j] + b[j]);
        let p = sigmoid_f32(z);
        let u = u32::from_le_bytes([u[0], u[1], u[2], u[3]]) >> 8;
        *tj = if (u as f32) < p * 16_777_216.0 {
            1.0
        } else {
            -1.0
        };
    }
}

/// `1/(1 + e^{−z})` in `f32` with a branch-free polynomial `exp` (relative error ≈ 1e-7).
#[inline(always)]
pub(crate) fn sigmoid_f32(z: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-z))
}

/// Cephes-style `e^x` for `f32`: range reduction by `ln 2`, degree-6 polynomial, exponent by bit
/// manipulation. Input clamped to `[−87, 88]` (outputs stay normal and finite).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer in the low bits
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((ni + 127) << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_sigmoid_are_accurate() {
        let mut worst = 0f64;
        let mut z = -30.0f32;
        while z < 30.0 {
            let e = f64::from(z).exp();
            let rel = (f64::from(exp_f32(z)) - e).abs() / e;
            worst = worst.max(rel);
            let s = 1.0 / (1.0 + (-f64::from(z)).exp());
            assert!((f64::from(sigmoid_f32(z)) - s).abs() <= 5e-7 * s.max(1e-30) + 1e-12);
            z += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert!(exp_f32(-1000.0) > 0.0 && exp_f32(1000.0).is_finite());
    }

    /// The vector forms of the comparison give the portable form's spins, bit for bit, on fields
    /// that cover the sigmoid's whole range and on a length that is not a multiple of 16.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn dense_sampling_simd_and_portable_agree() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let k = 1021;
        let f: Vec<f32> = (0..k).map(|_| rng.random_range(-40.0f32..40.0)).collect();
        let b: Vec<f32> = (0..k).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let bytes: Vec<u8> = (0..4 * k).map(|_| rng.random()).collect();
        let mut want = vec![0f32; k];
        sample_chunk_impl(&f, &b, 0.7, &mut want, &bytes);
        let ups = want.iter().filter(|&&t| t > 0.0).count();
        assert!(ups > k / 4 && ups < 3 * k / 4, "{ups} of {k} up");
        let fma = std::arch::is_x86_feature_detected!("fma");
        if std::arch::is_x86_feature_detected!("avx2") && fma {
            let mut got = vec![0f32; k];
            // SAFETY: the features were detected at run time.
            unsafe { sample_chunk_avx2(&f, &b, 0.7, &mut got, &bytes) };
            assert_eq!(got, want, "AVX2");
        }
        if std::arch::is_x86_feature_detected!("avx512f") && fma {
            let mut got = vec![0f32; k];
            // SAFETY: the features were detected at run time.
            unsafe { sample_chunk_avx512(&f, &b, 0.7, &mut got, &bytes) };
            assert_eq!(got, want, "AVX-512");
            eprintln!("RAN: dense_sampling_simd_and_portable_agree compared the AVX-512 form");
        } else {
            eprintln!(
                "SKIPPED: no AVX-512 — dense_sampling_simd_and_portable_agree compared AVX2 at most"
            );
        }
    }
}
