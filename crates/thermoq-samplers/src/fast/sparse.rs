//! The generic sparse engine: CSR neighbour lists, `f32` or `f64` fields, `i8` spins.
//!
//! Works for any [`IsingModel`] and any proper colouring: one colour class at a time, each site's
//! field `φ_i = h_i + Σ_j J_ij x_j` is accumulated over its CSR row, `p = σ(2βφ_i)` is computed in
//! the field precision and compared against a 32-bit uniform word (`u < round(p·2^32)`). With
//! `f64` fields the realised probability is within `2^-33` of `σ(2βφ_i)` (bit depth 32); with `f32`
//! fields the field and sigmoid carry `f32` rounding (relative ≈ 6e-8) on top.
//!
//! **`f32` path, eight sites at a time.** For `f32` fields each colour class is also stored in a
//! padded ELL layout: groups of 8 sites, each with `deg` (the class's largest degree) neighbour
//! indices and couplings per lane, padding entries pointing at site 0 with coupling 0. Per group
//! the neighbour spins are loaded into 8 lanes (eight scalar loads: faster than `vgatherdps` on
//! the development machine), `h + Σ J·x` is accumulated in the CSR order,
//! evaluates the polynomial sigmoid on all 8 lanes and compares against 8 × 32-bit words from the
//! chain's stream (32 bytes per group, padding lanes included). The AVX2 and portable versions run
//! the same `f32` operations in the same order (no fused multiply-add), so they give identical
//! samples; the law is the scalar `f32` one described above.

use super::avx2_available;
use super::stream::{RandBuf, threshold32};
use crate::pbit::sigmoid;
use std::ops::{Add, Mul};
use thermoq_core::{Coloring, Spin};
use thermoq_models::{EnergyModel, IsingModel};

/// Field precision of the sparse engine; the arithmetic is the type's own (`+`, `*`, spin
/// conversion via `From<Spin>`), only the conversions and the "up" test differ per precision.
pub(crate) trait Field:
    Copy + Send + Sync + 'static + From<Spin> + Add<Output = Self> + Mul<Output = Self>
{
    fn from_f64(v: f64) -> Self;
    /// Whether a uniform 32-bit word `u` says "up" for input `z = 2βφ`.
    fn up(z: Self, u: u32) -> bool;
    /// Whether the engine builds the 8-lane ELL layout (the `f32` path).
    const ELL: bool = false;
    fn to_f32(self) -> f32;
}

impl Field for f64 {
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    /// `u < round(σ(z)·2^32)`: bit depth 32.
    #[inline]
    fn up(z: Self, u: u32) -> bool {
        u64::from(u) < threshold32(sigmoid(z))
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }
}

impl Field for f32 {
    const ELL: bool = true;
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    /// `⌊u/2^8⌋ < σ(z)·2^24` with the polynomial `f32` sigmoid of the dense engine: bit depth 24.
    #[inline]
    fn up(z: Self, u: u32) -> bool {
        ((u >> 8) as f32) < super::dense::sigmoid_f32(z) * 16_777_216.0
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
}

/// A model's graph as CSR neighbour rows with couplings and biases in field precision `F`, and
/// its colour classes: the scalar block update shared by [`SparseEngine`] and
/// [`ConditionedSampler`](super::conditioned::ConditionedSampler).
#[derive(Clone, Debug)]
pub(crate) struct Csr<F: Field> {
    n: usize,
    classes: Vec<Vec<u32>>,
    offsets: Vec<usize>,
    nbr: Vec<u32>,
    j: Vec<F>,
    h: Vec<F>,
}

impl<F: Field> Csr<F> {
    /// The rows of `model`'s graph (neighbours in the graph's order) and `coloring`'s classes.
    pub(crate) fn new(model: &IsingModel, coloring: &Coloring) -> Self {
        let g = model.graph();
        let n = g.n();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut nbr = Vec::with_capacity(2 * g.n_edges());
        offsets.push(0);
        for i in 0..n {
            nbr.extend_from_slice(g.neighbors(i));
            offsets.push(nbr.len());
        }
        let mut csr = Self {
            n,
            classes: coloring.classes().to_vec(),
            offsets,
            nbr,
            j: Vec::new(),
            h: Vec::new(),
        };
        csr.read_params(model);
        csr
    }

    /// Reads couplings and biases from `model`, whose graph must have these rows
    /// ([`Csr::same_graph`]).
    fn read_params(&mut self, model: &IsingModel) {
        let g = model.graph();
        self.j = (0..self.n)
            .flat_map(|i| g.neighbor_edges(i))
            .map(|&e| F::from_f64(model.coupling(e as usize)))
            .collect();
        self.h = (0..self.n).map(|i| F::from_f64(model.bias(i))).collect();
    }

    /// Reads couplings and biases from `model` if its graph has these rows; otherwise says how it
    /// differs.
    pub(crate) fn set_params(&mut self, model: &IsingModel) -> Result<(), String> {
        let g = model.graph();
        if g.n() != self.n || 2 * g.n_edges() != self.nbr.len() {
            return Err(format!(
                "has {} spins and {} edges, expected the sampler's graph ({} spins, {} edges)",
                g.n(),
                g.n_edges(),
                self.n,
                self.nbr.len() / 2
            ));
        }
        if let Some(i) = (0..self.n).find(|&i| g.neighbors(i) != self.row(i)) {
            return Err(format!(
                "row {i} of its graph differs from the sampler's graph"
            ));
        }
        self.read_params(model);
        Ok(())
    }

    fn row(&self, i: usize) -> &[u32] {
        &self.nbr[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Spins.
    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// The colour classes.
    pub(crate) fn classes(&self) -> &[Vec<u32>] {
        &self.classes
    }

    /// The coupling between spins `i` and `j` (`None` if they are not joined).
    pub(crate) fn coupling(&self, i: usize, j: usize) -> Option<F> {
        let (a, b) = (*self.offsets.get(i)?, *self.offsets.get(i + 1)?);
        let k = self.nbr[a..b].iter().position(|&v| v as usize == j)?;
        Some(self.j[a + k])
    }

    /// The bias of spin `i`.
    pub(crate) fn bias(&self, i: usize) -> Option<F> {
        self.h.get(i).copied()
    }

    /// Resamples every spin of colour class `class` of chain `x` at `2β = beta2`, with the extra
    /// biases `ext` (one per spin) if given: `φ_i = h_i (+ e_i) + Σ_j J_ij x_j` over the CSR row in
    /// order, then up when [`Field::up`]`(2β·φ_i, u)` for the chain's next 32-bit word `u`.
    #[inline]
    pub(crate) fn update_class(
        &self,
        x: &mut [Spin],
        class: usize,
        beta2: F,
        ext: Option<&[F]>,
        rb: &mut RandBuf,
    ) {
        debug_assert_eq!(x.len(), self.n);
        for &i in &self.classes[class] {
            let i = i as usize;
            let (a, b) = (self.offsets[i], self.offsets[i + 1]);
            let mut phi = self.h[i];
            if let Some(e) = ext {
                phi = phi + e[i];
            }
            for (&k, &jk) in self.nbr[a..b].iter().zip(&self.j[a..b]) {
                phi = phi + jk * F::from(x[k as usize]);
            }
            x[i] = if F::up(beta2 * phi, rb.u32()) { 1 } else { -1 };
        }
    }
}

/// Chromatic block Gibbs on CSR neighbour lists.
pub(crate) struct SparseEngine<F: Field> {
    csr: Csr<F>,
    beta2: F,
    /// Per colour class, the 8-lane layout of the `f32` path (empty for `f64`).
    ell: Vec<EllClass>,
    simd: bool,
}

/// One colour class in padded ELL layout: `groups = ⌈len/8⌉` groups of 8 lanes; entry `(g, d, l)`
/// of `idx`/`j` is at `(g·deg + d)·8 + l`.
struct EllClass {
    sites: Vec<u32>,
    deg: usize,
    idx: Vec<i32>,
    j: Vec<f32>,
    h: Vec<f32>,
}

impl EllClass {
    fn new(model: &IsingModel, sites: &[u32]) -> Self {
        let g = model.graph();
        let deg = sites
            .iter()
            .map(|&i| g.neighbors(i as usize).len())
            .max()
            .unwrap_or(0);
        let groups = sites.len().div_ceil(8);
        let mut idx = vec![0i32; groups * deg * 8];
        let mut j = vec![0f32; groups * deg * 8];
        let mut h = vec![0f32; groups * 8];
        for (s, &i) in sites.iter().enumerate() {
            let (gr, lane) = (s / 8, s % 8);
            let i = i as usize;
            h[s] = model.bias(i) as f32;
            for (d, (&k, &e)) in g.neighbors(i).iter().zip(g.neighbor_edges(i)).enumerate() {
                idx[(gr * deg + d) * 8 + lane] = k as i32;
                j[(gr * deg + d) * 8 + lane] = model.coupling(e as usize) as f32;
            }
        }
        Self {
            sites: sites.to_vec(),
            deg,
            idx,
            j,
            h,
        }
    }
}

impl<F: Field> SparseEngine<F> {
    pub(crate) fn new(model: &IsingModel, coloring: &Coloring) -> Self {
        Self {
            csr: Csr::new(model, coloring),
            beta2: F::from_f64(2.0 * model.beta()),
            ell: if F::ELL {
                coloring
                    .classes()
                    .iter()
                    .map(|c| EllClass::new(model, c))
                    .collect()
            } else {
                Vec::new()
            },
            simd: avx2_available(),
        }
    }

    /// Uses the portable 8-lane kernel instead of the AVX2 one (`f32` path; same samples).
    #[allow(dead_code)]
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.simd = on && avx2_available();
    }

    /// Resamples every spin of colour class `class` of chain `x`.
    #[inline]
    pub(crate) fn update_class(&self, x: &mut [Spin], class: usize, rb: &mut RandBuf) {
        if F::ELL {
            self.update_class_ell(x, class, rb);
            return;
        }
        self.csr.update_class(x, class, self.beta2, None, rb);
    }
}

impl<F: Field> SparseEngine<F> {
    /// The 8-lane `f32` class update (see the module docs).
    fn update_class_ell(&self, x: &mut [Spin], class: usize, rb: &mut RandBuf) {
        let e = &self.ell[class];
        let beta2 = self.beta2.to_f32();
        let stride = e.deg * 8;
        for (g, sites) in e.sites.chunks(8).enumerate() {
            let bytes: &[u8; 32] = rb.take(32).try_into().expect("take(32) returns 32 bytes");
            let grp = Group {
                idx: &e.idx[g * stride..(g + 1) * stride],
                j: &e.j[g * stride..(g + 1) * stride],
                h: e.h[g * 8..g * 8 + 8].try_into().expect("8 lanes per group"),
            };
            // The class's own sites are not neighbours of each other (proper colouring), so
            // reading `x` while earlier groups have been written is the block update.
            let xs = &x[..];
            let up = if self.simd {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `simd` is only true when AVX2 was detected at run time; every index
                // in `idx` is a site of this model, `< xs.len()` (checked in debug builds).
                unsafe {
                    group_avx2(&grp, xs, beta2, bytes)
                }
                #[cfg(not(target_arch = "x86_64"))]
                group_portable(&grp, xs, beta2, bytes)
            } else {
                group_portable(&grp, xs, beta2, bytes)
            };
            for (l, &i) in sites.iter().enumerate() {
                x[i as usize] = if (up >> l) & 1 == 1 { 1 } else { -1 };
            }
        }
    }
}

/// One group of 8 lanes of an [`EllClass`]: `idx[8d + l]` and `j[8d + l]` are lane `l`'s `d`-th
/// neighbour and coupling, `h[l]` its field.
struct Group<'a> {
    idx: &'a [i32],
    j: &'a [f32],
    h: &'a [f32; 8],
}

/// One group of 8 lanes, portable: bit `l` of the result says lane `l` goes up.
#[inline(always)]
fn group_portable(g: &Group<'_>, xs: &[Spin], beta2: f32, bytes: &[u8; 32]) -> u32 {
    let Group { idx, j, h } = *g;
    let deg = idx.len() / 8;
    let mut up = 0u32;
    for l in 0..8 {
        let mut phi = h[l];
        for d in 0..deg {
            phi += j[d * 8 + l] * f32::from(xs[idx[d * 8 + l] as usize]);
        }
        let u = u32::from_le_bytes([
            bytes[4 * l],
            bytes[4 * l + 1],
            bytes[4 * l + 2],
            bytes[4 * l + 3],
        ]);
        if <f32 as Field>::up(beta2 * phi, u) {
            up |= 1 << l;
        }
    }
    up
}

/// [`group_portable`] with AVX2 gathers; the same `f32` operations in the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn group_avx2(g: &Group<'_>, xs: &[Spin], beta2: f32, bytes: &[u8; 32]) -> u32 {
    use std::arch::x86_64::*;
    let Group { idx, j, h } = *g;
    let deg = idx.len() / 8;
    assert!(j.len() >= deg * 8);
    debug_assert!(idx.iter().all(|&k| k >= 0 && (k as usize) < xs.len()));
    // SAFETY: loads touch `idx`/`j` at `[8d, 8d + 8)` with `d < deg` (lengths checked above), `h`
    // and `bytes` whole; gathers read `xs[k]` for indices `k` that are sites of the model.
    unsafe {
        let mut acc = _mm256_loadu_ps(h.as_ptr());
        for d in 0..deg {
            // Eight scalar loads: on this hardware they beat `vgatherdps`.
            let ix = idx.as_ptr().add(d * 8);
            let ld = |l: usize| i32::from(*xs.get_unchecked(*ix.add(l) as usize));
            let v = _mm256_cvtepi32_ps(_mm256_setr_epi32(
                ld(0),
                ld(1),
                ld(2),
                ld(3),
                ld(4),
                ld(5),
                ld(6),
                ld(7),
            ));
            let jj = _mm256_loadu_ps(j.as_ptr().add(d * 8));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(jj, v));
        }
        let z = _mm256_mul_ps(_mm256_set1_ps(beta2), acc);
        let p = sigmoid_avx2(z);
        let u = _mm256_loadu_si256(bytes.as_ptr().cast());
        let uf = _mm256_cvtepi32_ps(_mm256_srli_epi32::<8>(u));
        let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(uf, _mm256_mul_ps(p, _mm256_set1_ps(16_777_216.0)));
        _mm256_movemask_ps(lt) as u32
    }
}

/// `super::dense::sigmoid_f32` on 8 lanes, operation for operation (bit-identical).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sigmoid_avx2(z: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    const MAGIC: f32 = 12_582_912.0;
    let s = _mm256_set1_ps;
    let x = _mm256_xor_ps(z, _mm256_set1_ps(-0.0)); // −z, as the scalar negation
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The AVX2 group kernel gives the same bits as the portable one, across field magnitudes
    /// that exercise the sigmoid's clamping.
    #[test]
    fn avx2_group_matches_portable() {
        if !avx2_available() {
            eprintln!(
                "SKIPPED: no AVX2 — avx2_group_matches_portable cannot compare the AVX2 kernel on this CPU"
            );
            return;
        }
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let n = 50;
        let deg = 7;
        for trial in 0..2000 {
            let xs: Vec<Spin> = (0..n)
                .map(|_| if r.next_u32() & 1 == 0 { 1 } else { -1 })
                .collect();
            let idx: Vec<i32> = (0..deg * 8).map(|_| (r.next_u32() % n) as i32).collect();
            let scale = [0.01f32, 0.5, 3.0, 40.0][trial % 4];
            let unit = |r: &mut rand_chacha::ChaCha8Rng| (r.next_u32() as f32 / 4.3e9 - 0.5) * 2.0;
            let j: Vec<f32> = (0..deg * 8).map(|_| scale * unit(&mut r)).collect();
            let h: [f32; 8] = std::array::from_fn(|_| scale * unit(&mut r));
            let mut bytes = [0u8; 32];
            r.fill_bytes(&mut bytes);
            let g = Group {
                idx: &idx,
                j: &j,
                h: &h,
            };
            let a = group_portable(&g, &xs, 2.0, &bytes);
            // SAFETY: AVX2 detected above; indices are < n.
            let b = unsafe { group_avx2(&g, &xs, 2.0, &bytes) };
            assert_eq!(a, b, "trial {trial}");
        }
        eprintln!(
            "RAN: avx2_group_matches_portable compared the AVX2 kernel with the portable one"
        );
    }
}
