//! Buffered per-chain random bytes: ChaCha8 stream `c` drawn in bulk, and the lattice engine's
//! fast per-chain `xoshiro128+` byte source.
//!
//! Every fast engine draws all of chain `c`'s randomness (block choices, comparison bytes,
//! tie-break bytes) through one [`RandBuf`] wrapping `thermoq_core::rng::chain_rng(seed, c)`, in an
//! order fixed by the chain's own history. Each refill draws 64 blocks at once through
//! [`super::chacha::fill`] (sixteen blocks per AVX-512 step, the bytes of `rand_chacha`'s
//! `fill_bytes`) instead of paying a call per word.
//!
//! [`XoBytes`] is the opt-in fast source of comparison bytes ([`Generator::Xoshiro128Plus`]
//! (super::Generator)) for the lattice engine: eight `xoshiro128+` states per chain, stepped as
//! one AVX2 vector, each output word giving its top three bytes (bits 8–31; the weak low byte is
//! dropped, as the lanes engine drops it). Both sources implement [`Bytes`].

use rand_chacha::ChaCha8Rng;

/// Bytes drawn per refill (64 ChaCha blocks).
pub(crate) const BUF_BYTES: usize = 4096;
/// Readable bytes a [`RandBuf::take_carry_slack`] run may have after it.
pub(crate) const READ_SLACK: usize = 32;

/// A chain's random stream, drawn `BUF_BYTES` at a time.
///
/// When a [`take`](Self::take) request does not fit in what is left, the leftover bytes are
/// discarded and the buffer is refilled: deterministic, and it keeps every request contiguous.
/// [`take_carry`](Self::take_carry) keeps the leftover instead (moved to the front, the refill
/// written after it), so a caller that draws only through it uses every byte of the stream.
#[derive(Clone)]
pub(crate) struct RandBuf {
    rng: ChaCha8Rng,
    /// `BUF_BYTES` per refill, plus room for a carried leftover before them.
    buf: Box<[u8; 2 * BUF_BYTES + READ_SLACK]>,
    pos: usize,
    /// End of the drawn bytes (`BUF_BYTES` unless the last refill carried a leftover).
    end: usize,
}

impl RandBuf {
    /// Wraps a stream; nothing is drawn until the first request.
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Self {
            rng,
            buf: Box::new([0u8; 2 * BUF_BYTES + READ_SLACK]),
            pos: BUF_BYTES,
            end: BUF_BYTES,
        }
    }

    /// Makes `n ≤ BUF_BYTES` bytes available and returns them; they count as consumed.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> &[u8] {
        self.claim::<false>(n, 0)
    }

    /// [`take`](Self::take), except that the bytes left when `n` do not fit are kept: they
    /// start the returned run, and the refill follows them.
    #[inline]
    pub(crate) fn take_carry(&mut self, n: usize) -> &[u8] {
        self.claim::<true>(n, 0)
    }

    /// [`take_carry`](Self::take_carry) of `n` bytes, returned with `slack ≤ READ_SLACK` more
    /// readable bytes after them (not consumed; their values are unspecified).
    #[inline]
    pub(crate) fn take_carry_slack(&mut self, n: usize, slack: usize) -> &[u8] {
        self.claim::<true>(n, slack)
    }

    /// The next `n` bytes (refilled first, keeping the leftover with `CARRY`, when they do not
    /// fit), returned with `slack` more readable bytes.
    #[inline(always)]
    fn claim<const CARRY: bool>(&mut self, n: usize, slack: usize) -> &[u8] {
        debug_assert!(n <= BUF_BYTES && slack <= READ_SLACK);
        if self.pos + n > self.end {
            if CARRY {
                self.refill_carry();
            } else {
                super::chacha::fill(&mut self.rng, &mut self.buf[..BUF_BYTES]);
                (self.pos, self.end) = (0, BUF_BYTES);
            }
        }
        let s = self.pos;
        self.pos += n;
        &self.buf[s..s + n + slack]
    }

    #[inline(never)]
    fn refill_carry(&mut self) {
        let rem = self.end - self.pos;
        self.buf.copy_within(self.pos..self.end, 0);
        super::chacha::fill(&mut self.rng, &mut self.buf[rem..rem + BUF_BYTES]);
        (self.pos, self.end) = (0, rem + BUF_BYTES);
    }

    /// A uniform 32-bit word.
    #[inline]
    pub(crate) fn u32(&mut self) -> u32 {
        let b = self.take(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// A uniform index in `0..n` (Lemire's multiply-shift with rejection; unbiased).
    #[inline]
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        crate::kernel::pick_with(n, || self.u32())
    }
}

/// A chain's source of comparison bytes (the lattice engine is generic over it).
pub(crate) trait Bytes {
    /// Makes `n ≤ BUF_BYTES` bytes available and returns them; they count as consumed.
    fn take(&mut self, n: usize) -> &[u8];

    /// [`take`](Self::take) without discarding the bytes left at a refill (they start the
    /// returned run): a caller drawing only through it uses every byte.
    fn take_carry(&mut self, n: usize) -> &[u8];
}

impl Bytes for RandBuf {
    #[inline]
    fn take(&mut self, n: usize) -> &[u8] {
        RandBuf::take(self, n)
    }

    #[inline]
    fn take_carry(&mut self, n: usize) -> &[u8] {
        RandBuf::take_carry(self, n)
    }
}

/// `xoshiro128+` states per chain in [`XoBytes`] (one AVX2 vector of 32-bit words).
const XO_LANES: usize = 8;
/// Bytes one step of the [`XO_LANES`] states yields (three per output word).
const XO_STEP_BYTES: usize = 3 * XO_LANES;
/// Usable bytes per [`XoBytes`] refill: 171 steps, the fewest covering [`BUF_BYTES`].
pub(crate) const XO_BUF_BYTES: usize = BUF_BYTES.div_ceil(XO_STEP_BYTES) * XO_STEP_BYTES;

/// A `xoshiro128+` state from 16 seed bytes (little-endian words); an all-zero seed, which
/// `xoshiro` cannot leave, becomes `[1, 2, 3, 4]`. Shared by the lattice bytes and the lanes words.
pub(crate) fn xoshiro_seed_words(bytes: &[u8]) -> [u32; 4] {
    let w: [u32; 4] = std::array::from_fn(|k| {
        u32::from_le_bytes([
            bytes[4 * k],
            bytes[4 * k + 1],
            bytes[4 * k + 2],
            bytes[4 * k + 3],
        ])
    });
    if w == [0; 4] { [1, 2, 3, 4] } else { w }
}

/// One `xoshiro128+` step (Blackman & Vigna) of a 128-bit state; returns the output `s0 + s3`.
#[inline(always)]
pub(crate) fn xoshiro128p_step(s: &mut [u32; 4]) -> u32 {
    let out = s[0].wrapping_add(s[3]);
    let t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(11);
    out
}

/// A chain's fast comparison bytes: [`XO_LANES`] `xoshiro128+` states, word-major
/// (`s[k][lane]`), refilled [`XO_BUF_BYTES`] at a time. Byte `24·t + 3·l + b` of a refill is
/// byte `b + 1` (little-endian) of lane `l`'s `t`-th output word, i.e. bits `8(b+1) … 8(b+1)+7`.
#[derive(Clone)]
pub(crate) struct XoBytes {
    s: [[u32; XO_LANES]; 4],
    /// `XO_BUF_BYTES` usable bytes plus slack for the AVX2 path's 32-byte stores, after room
    /// for a leftover that [`Bytes::take_carry`] keeps.
    buf: Box<[u8]>,
    pos: usize,
    /// End of the drawn bytes (`XO_BUF_BYTES` unless the last refill carried a leftover).
    end: usize,
    simd: bool,
}

/// An engine's choice of comparison bytes ([`super::Generator`]) and, with `xoshiro128+`, each
/// chain's [`XoBytes`]: seeded from the chain's ChaCha8 stream at the first run with that
/// generator, then kept, so later runs continue them.
#[derive(Default)]
pub(crate) struct ChainSources {
    generator: super::Generator,
    xo: Vec<XoBytes>,
}

impl ChainSources {
    /// Draws from `g` from the next run on (`Xoshiro128Plus`: seeded then).
    pub(crate) fn set_generator(&mut self, g: super::Generator) {
        if g != self.generator {
            self.generator = g;
            self.xo.clear();
        }
    }

    /// The generator of the comparison bytes.
    pub(crate) fn generator(&self) -> super::Generator {
        self.generator
    }

    /// The chains' `xoshiro128+` sources for a run over `rngs` (seeded now if they are not yet;
    /// `simd`: the AVX2 refill), or nothing with ChaCha8. Hand them back with
    /// [`ChainSources::put_back`] after the run.
    pub(crate) fn take(&mut self, rngs: &mut [RandBuf], simd: bool) -> Vec<XoBytes> {
        if self.generator == super::Generator::Xoshiro128Plus && self.xo.len() != rngs.len() {
            self.xo = rngs
                .iter_mut()
                .map(|rb| XoBytes::seeded(rb, simd))
                .collect();
        }
        std::mem::take(&mut self.xo)
    }

    /// Keeps the sources a run took, to continue them at the next run.
    pub(crate) fn put_back(&mut self, xo: Vec<XoBytes>) {
        self.xo = xo;
    }

    /// Switches the seeded sources' refill between AVX2 and portable.
    pub(crate) fn set_simd(&mut self, on: bool) {
        for x in &mut self.xo {
            x.set_simd(on);
        }
    }
}

impl XoBytes {
    /// Seeds the eight states from the next 128 bytes of `rb` (16 per lane, little-endian words;
    /// an all-zero lane seed, which `xoshiro` cannot leave, becomes `[1, 2, 3, 4]`). `simd`: use
    /// the AVX2 refill (only pass `true` when AVX2 was detected at run time).
    pub(crate) fn seeded(rb: &mut RandBuf, simd: bool) -> Self {
        let seed = rb.take(16 * XO_LANES);
        let mut s = [[0u32; XO_LANES]; 4];
        for (l, lane) in seed.chunks_exact(16).enumerate() {
            let w = xoshiro_seed_words(lane);
            for (row, v) in s.iter_mut().zip(w) {
                row[l] = v;
            }
        }
        Self {
            s,
            buf: vec![0u8; BUF_BYTES + XO_BUF_BYTES + 32].into_boxed_slice(),
            pos: XO_BUF_BYTES,
            end: XO_BUF_BYTES,
            simd,
        }
    }

    /// Uses the portable refill instead of the AVX2 one (identical bytes).
    pub(crate) fn set_simd(&mut self, on: bool) {
        self.simd = on && super::avx2_available();
    }

    /// The next `n` bytes, refilled first (keeping the leftover with `CARRY`) when they do not
    /// fit.
    #[inline(always)]
    fn claim<const CARRY: bool>(&mut self, n: usize) -> &[u8] {
        if self.pos + n > self.end {
            if CARRY {
                self.refill_carry();
            } else {
                self.refill();
            }
        }
        let s = self.pos;
        self.pos += n;
        &self.buf[s..s + n]
    }

    // The slow path of `take` (once per buffer), kept out of its callers' loops.
    #[inline(never)]
    fn refill(&mut self) {
        self.refill_at(0);
    }

    // The slow path of `take_carry`: the leftover moves to the front, the refill follows it.
    #[inline(never)]
    fn refill_carry(&mut self) {
        let rem = self.end - self.pos;
        self.buf.copy_within(self.pos..self.end, 0);
        self.refill_at(rem);
    }

    /// Writes the next [`XO_BUF_BYTES`] bytes at `buf[at..]` and makes `buf[0..at + XO_BUF_BYTES]`
    /// the drawn bytes, from the front.
    fn refill_at(&mut self, at: usize) {
        (self.pos, self.end) = (0, at + XO_BUF_BYTES);
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: `simd` is only true when AVX2 was detected at run time.
            unsafe { self.refill_avx2(at) };
            return;
        }
        for l in 0..XO_LANES {
            let mut v: [u32; 4] = std::array::from_fn(|k| self.s[k][l]);
            for t in 0..XO_BUF_BYTES / XO_STEP_BYTES {
                let w = xoshiro128p_step(&mut v).to_le_bytes();
                let o = at + XO_STEP_BYTES * t + 3 * l;
                self.buf[o..o + 3].copy_from_slice(&w[1..4]);
            }
            for (k, x) in v.into_iter().enumerate() {
                self.s[k][l] = x;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn refill_avx2(&mut self, at: usize) {
        use std::arch::x86_64::*;
        let steps = XO_BUF_BYTES / XO_STEP_BYTES;
        assert!(self.buf.len() >= at + XO_STEP_BYTES * (steps - 1) + 32);
        // SAFETY: the state rows are 8 words (one unaligned 32-byte load/store each); step `t`
        // stores 32 bytes at `24·t`, within the buffer by the length checked above.
        unsafe {
            let p: [*mut u32; 4] = std::array::from_fn(|k| self.s[k].as_mut_ptr());
            let mut s0 = _mm256_loadu_si256(p[0].cast());
            let mut s1 = _mm256_loadu_si256(p[1].cast());
            let mut s2 = _mm256_loadu_si256(p[2].cast());
            let mut s3 = _mm256_loadu_si256(p[3].cast());
            // Bytes 1..=3 of each word to the low 12 bytes of each 128-bit half, then the two
            // halves' 12 bytes side by side.
            let pick = _mm256_setr_epi8(
                1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, -1, -1, -1, -1, 1, 2, 3, 5, 6, 7, 9, 10,
                11, 13, 14, 15, -1, -1, -1, -1,
            );
            let join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
            let out = self.buf.as_mut_ptr().add(at);
            for t in 0..steps {
                let w = _mm256_add_epi32(s0, s3);
                let b = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(w, pick), join);
                _mm256_storeu_si256(out.add(XO_STEP_BYTES * t).cast(), b);
                let tt = _mm256_slli_epi32::<9>(s1);
                let n2 = _mm256_xor_si256(s2, s0);
                let n3 = _mm256_xor_si256(s3, s1);
                s1 = _mm256_xor_si256(s1, n2);
                s0 = _mm256_xor_si256(s0, n3);
                s2 = _mm256_xor_si256(n2, tt);
                s3 = _mm256_or_si256(_mm256_slli_epi32::<11>(n3), _mm256_srli_epi32::<21>(n3));
            }
            _mm256_storeu_si256(p[0].cast(), s0);
            _mm256_storeu_si256(p[1].cast(), s1);
            _mm256_storeu_si256(p[2].cast(), s2);
            _mm256_storeu_si256(p[3].cast(), s3);
        }
    }
}

impl Bytes for XoBytes {
    // Always inlined (and `refill` never): with the dense engine as a second caller the compiler
    // stopped inlining `take` into the lattice kernel's call loop (−5 % on its xoshiro128+ rows).
    #[inline(always)]
    fn take(&mut self, n: usize) -> &[u8] {
        debug_assert!(n <= XO_BUF_BYTES);
        self.claim::<false>(n)
    }

    #[inline(always)]
    fn take_carry(&mut self, n: usize) -> &[u8] {
        debug_assert!(n <= BUF_BYTES);
        self.claim::<true>(n)
    }
}

/// The lattice engine's `xoshiro128+` comparison bytes alone, for the bench harness's
/// random-number bound: `chains` per-chain sources (one rayon task each, seeded as the engine
/// seeds them), `bytes_per_chain` bytes each drawn [`BUF_BYTES`] at a time as the engine draws
/// them (AVX2 when available). Returns a checksum so the work is not optimised away.
pub fn probe_xoshiro_bytes(chains: usize, bytes_per_chain: usize) -> u64 {
    use rayon::prelude::*;
    let simd = super::avx2_available();
    (0..chains as u64)
        .into_par_iter()
        .map(|c| {
            let mut xo =
                XoBytes::seeded(&mut RandBuf::new(thermoq_core::rng::chain_rng(1, c)), simd);
            let mut acc = 0u64;
            for _ in 0..bytes_per_chain.div_ceil(BUF_BYTES) {
                acc = acc.wrapping_add(u64::from(xo.take(BUF_BYTES)[17]));
            }
            acc
        })
        .sum()
}

/// The 32-bit comparison threshold of an update probability: `round(p·2^32)`, in `0..=2^32`.
///
/// "Up" is `u < T` for a uniform 32-bit `u`, so the realised probability is `T/2^32`, within
/// `2^-33` of `p`.
#[inline]
pub(crate) fn threshold32(p: f64) -> u64 {
    let t = (p * 4_294_967_296.0).round();
    if t.is_nan() || t <= 0.0 {
        0
    } else if t >= 4_294_967_296.0 {
        1 << 32
    } else {
        t as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_refills_and_is_deterministic() {
        let mut a = RandBuf::new(thermoq_core::rng::chain_rng(5, 1));
        let mut b = RandBuf::new(thermoq_core::rng::chain_rng(5, 1));
        for n in [1, 100, 4000, 3, BUF_BYTES] {
            assert_eq!(a.take(n).to_vec(), b.take(n).to_vec());
        }
        assert_eq!(threshold32(0.0), 0);
        assert_eq!(threshold32(1.0), 1 << 32);
        assert_eq!(threshold32(0.5), 1 << 31);
        assert_eq!(threshold32(f64::NAN), 0);
    }

    /// Our step is the published generator: `rand_xoshiro`'s `Xoshiro128Plus` outputs from the
    /// same seed, and each lane of [`XoBytes`] gives bytes 1..=3 of exactly those words.
    #[test]
    fn xoshiro_bytes_are_the_reference_generators_top_bytes() {
        use rand::{Rng, SeedableRng};
        let mut rb = RandBuf::new(thermoq_core::rng::chain_rng(9, 4));
        let seed = rb.clone().take(128).to_vec();
        let mut xo = XoBytes::seeded(&mut rb, false);
        let steps = 3 * XO_BUF_BYTES / XO_STEP_BYTES + 5;
        let bytes: Vec<u8> = (0..steps)
            .flat_map(|_| xo.take(XO_STEP_BYTES).to_vec())
            .collect();
        for l in 0..XO_LANES {
            let s: [u8; 16] = seed[16 * l..16 * l + 16].try_into().unwrap();
            let mut reference = rand_xoshiro::Xoshiro128Plus::from_seed(s);
            for t in 0..steps {
                let w = reference.next_u32().to_le_bytes();
                let o = XO_STEP_BYTES * t + 3 * l;
                assert_eq!(bytes[o..o + 3], w[1..4], "lane {l} word {t}");
            }
        }
    }

    /// `take_carry` loses no byte: runs of any sizes up to `BUF_BYTES`, mixed with `take` of
    /// single bytes (which never drops one), read back the stream itself, for both sources and
    /// both refills of `xoshiro128+`.
    #[test]
    fn take_carry_reads_the_whole_stream() {
        let sizes = [1000, 3, 4096, 1, 2500, 3, 3, 4095, 700, 3, 64, 4096, 3, 900];
        // `a` read a byte at a time (the stream itself) against `b` read in runs of `sizes`,
        // every seventh a single `take`.
        fn check<B: Bytes>(a: &mut B, b: &mut B, sizes: &[usize]) {
            let mut got = Vec::new();
            for (k, &n) in sizes.iter().cycle().take(60).enumerate() {
                got.extend_from_slice(if k % 7 == 6 {
                    b.take(1)
                } else {
                    b.take_carry(n)
                });
            }
            let want: Vec<u8> = (0..got.len()).map(|_| a.take(1)[0]).collect();
            assert_eq!(got, want);
        }
        let stream = || RandBuf::new(thermoq_core::rng::chain_rng(7, 2));
        check(&mut stream(), &mut stream(), &sizes);
        for simd in [false, crate::fast::avx2_available()] {
            check(
                &mut XoBytes::seeded(&mut stream(), simd),
                &mut XoBytes::seeded(&mut stream(), simd),
                &sizes,
            );
        }
    }

    /// The AVX2 and portable refills give the same bytes, across refills and odd request sizes.
    #[test]
    fn xoshiro_avx2_and_portable_bytes_agree() {
        if !crate::fast::avx2_available() {
            eprintln!("SKIPPED: no AVX2 — xoshiro_avx2_and_portable_bytes_agree compares nothing");
            return;
        }
        let mut ra = RandBuf::new(thermoq_core::rng::chain_rng(3, 0));
        let mut rb = ra.clone();
        let mut a = XoBytes::seeded(&mut ra, true);
        let mut b = XoBytes::seeded(&mut rb, false);
        for n in [1, 7, 4000, 3, XO_BUF_BYTES, 100, 24] {
            for _ in 0..5 {
                assert_eq!(a.take(n).to_vec(), b.take(n).to_vec(), "n = {n}");
                assert_eq!(a.take_carry(3), b.take_carry(3));
            }
        }
    }
}
