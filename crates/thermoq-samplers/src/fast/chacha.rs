//! ChaCha8 keystream, sixteen blocks at a time with AVX-512 (eight with AVX2): the bytes of
//! `rand_chacha`'s [`ChaCha8Rng`], produced faster.
//!
//! Every chain's randomness on the reference generator is its ChaCha8 stream
//! (`thermoq_core::rng::chain_rng`), drawn in 4 KiB refills by [`super::stream::RandBuf`]. The
//! reference crate computes four blocks per call with 128/256-bit vectors (about one cycle per
//! byte on the machine of `docs/performance.md`), which made the random numbers most of the
//! cost of the lattice and lanes engines on that generator. [`fill`] computes the same blocks
//! with one vector per state word: lane `l` holds block `b + l`, the eight rounds run on all
//! lanes at once, and a word transposition puts each block's words in order.
//!
//! **The same bytes, always.** [`fill`] reads the generator's key, stream and word position,
//! writes exactly the bytes `rng.fill_bytes(out)` would, and moves the generator on by as many
//! words, so later draws through the reference crate continue the stream. It takes a vector
//! path only for whole batches (1 KiB with AVX-512F, 512 bytes with AVX2) starting on a block
//! boundary; otherwise, or on a CPU with neither, it calls `fill_bytes`. The test
//! `chacha8_fill_simd_and_portable_agree` compares every level this CPU has with the reference
//! crate byte for byte, across the 32-bit carry of the block counter and after unaligned draws.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Bytes per ChaCha block.
const BLOCK_BYTES: usize = 64;
/// Blocks per vector batch (one per 32-bit lane of a 512-bit vector).
const LANES: usize = 16;
/// Bytes per batch.
pub(crate) const BATCH_BYTES: usize = BLOCK_BYTES * LANES;
/// Double rounds of ChaCha8.
const DOUBLE_ROUNDS: usize = 4;

/// Fills `out` with the next bytes of `rng`'s stream and advances it past them, exactly as
/// `rng.fill_bytes(out)` (see the module docs).
pub fn fill(rng: &mut ChaCha8Rng, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    fill_with(Level::detect(), rng, out);
    #[cfg(not(target_arch = "x86_64"))]
    rng.fill_bytes(out);
}

/// [`fill`] with the block function of `level` (which must have been detected).
#[cfg(target_arch = "x86_64")]
fn fill_with(level: Level, rng: &mut ChaCha8Rng, out: &mut [u8]) {
    let pos = rng.get_word_pos();
    if level == Level::Portable
        || !out.len().is_multiple_of(level.batch_bytes())
        || !pos.is_multiple_of(16)
    {
        rng.fill_bytes(out);
        return;
    }
    let key = rng.get_seed();
    let stream = rng.get_stream();
    // The position is a 68-bit word count; the block counter is its top 64 bits (the reference
    // crate wraps it the same way).
    let block = (pos / 16) as u64;
    // SAFETY: the level's features were detected at run time.
    unsafe {
        match level {
            Level::Avx512 => fill_avx512(&key, stream, block, out),
            Level::Avx2 => fill_avx2(&key, stream, block, out),
            Level::Portable => unreachable!("the portable level returned above"),
        }
    }
    rng.set_word_pos(pos + (out.len() / 4) as u128);
}

/// Which block function [`fill`] uses.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    /// `rand_chacha`'s own.
    Portable,
    /// Eight blocks per 256-bit vector.
    Avx2,
    /// Sixteen blocks per 512-bit vector.
    Avx512,
}

#[cfg(target_arch = "x86_64")]
impl Level {
    fn detect() -> Self {
        if std::arch::is_x86_feature_detected!("avx512f") {
            Self::Avx512
        } else if std::arch::is_x86_feature_detected!("avx2") {
            Self::Avx2
        } else {
            Self::Portable
        }
    }

    /// Bytes per vector batch.
    fn batch_bytes(self) -> usize {
        match self {
            Self::Avx512 => BATCH_BYTES,
            _ => BATCH_BYTES / 2,
        }
    }
}

/// The ChaCha input words before the counter: constants, key, and (words 14, 15) the stream.
#[cfg(target_arch = "x86_64")]
fn input_words(key: &[u8; 32], stream: u64) -> [u32; 16] {
    let mut input = [0u32; 16];
    // "expand 32-byte k".
    input[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for (i, w) in key.chunks_exact(4).enumerate() {
        input[4 + i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    input[14] = stream as u32;
    input[15] = (stream >> 32) as u32;
    input
}

/// One double round (four column, then four diagonal quarter rounds) with `$quarter`, written
/// out call by call: constant word indices keep the sixteen state vectors in registers (a loop
/// over an index table left them in memory and ran three times slower).
#[cfg(target_arch = "x86_64")]
macro_rules! double_round {
    ($quarter:ident, $x:expr) => {
        $quarter($x, 0, 4, 8, 12);
        $quarter($x, 1, 5, 9, 13);
        $quarter($x, 2, 6, 10, 14);
        $quarter($x, 3, 7, 11, 15);
        $quarter($x, 0, 5, 10, 15);
        $quarter($x, 1, 6, 11, 12);
        $quarter($x, 2, 7, 8, 13);
        $quarter($x, 3, 4, 9, 14);
    };
}

/// [`fill_avx512`] with AVX2: eight blocks per batch (lane `l` of each 256-bit vector is block
/// `b + l`), the rotations by 16 and 8 as byte shuffles, and two 8 × 8 word transpositions per
/// batch. `out` is a whole number of half [`BATCH_BYTES`] batches.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(key: &[u8; 32], stream: u64, block: u64, out: &mut [u8]) {
    use std::arch::x86_64::*;
    const HALF: usize = BATCH_BYTES / 2;
    assert!(out.len().is_multiple_of(HALF));
    let input = input_words(key, stream);
    let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let sign = _mm256_set1_epi32(i32::MIN);
    let r16 = _mm256_setr_epi8(
        2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
        14, 15, 12, 13,
    );
    let r8 = _mm256_setr_epi8(
        3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10,
        15, 12, 13, 14,
    );
    for (b, chunk) in out.chunks_exact_mut(HALF).enumerate() {
        let first = block.wrapping_add((b * 8) as u64);
        let lo0 = _mm256_set1_epi32(first as u32 as i32);
        let lo = _mm256_add_epi32(lo0, iota);
        // All-ones where the low word wrapped (`lo < lo0` unsigned): the high word gains 1.
        let carry = _mm256_cmpgt_epi32(_mm256_xor_si256(lo0, sign), _mm256_xor_si256(lo, sign));
        let hi = _mm256_sub_epi32(_mm256_set1_epi32((first >> 32) as u32 as i32), carry);
        let init: [__m256i; 16] = std::array::from_fn(|i| match i {
            12 => lo,
            13 => hi,
            _ => _mm256_set1_epi32(input[i] as i32),
        });
        let mut x = init;
        let quarter = |x: &mut [__m256i; 16], a: usize, b: usize, c: usize, d: usize| {
            x[a] = _mm256_add_epi32(x[a], x[b]);
            x[d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[d], x[a]), r16);
            x[c] = _mm256_add_epi32(x[c], x[d]);
            let t = _mm256_xor_si256(x[b], x[c]);
            x[b] = _mm256_or_si256(_mm256_slli_epi32::<12>(t), _mm256_srli_epi32::<20>(t));
            x[a] = _mm256_add_epi32(x[a], x[b]);
            x[d] = _mm256_shuffle_epi8(_mm256_xor_si256(x[d], x[a]), r8);
            x[c] = _mm256_add_epi32(x[c], x[d]);
            let t = _mm256_xor_si256(x[b], x[c]);
            x[b] = _mm256_or_si256(_mm256_slli_epi32::<7>(t), _mm256_srli_epi32::<25>(t));
        };
        for _ in 0..DOUBLE_ROUNDS {
            double_round!(quarter, &mut x);
        }
        for (v, i) in x.iter_mut().zip(init) {
            *v = _mm256_add_epi32(*v, i);
        }
        // Words 0–7 and 8–15 of the eight blocks: two 8 × 8 transpositions. After the 32- and
        // 64-bit interleaves, `b[4k + m]` half `j` holds words `4k..4k + 4` (of the eight) of
        // block `4j + m`.
        let o = chunk.as_mut_ptr();
        for h in 0..2 {
            let r = &x[8 * h..8 * h + 8];
            let a: [__m256i; 8] = std::array::from_fn(|i| {
                let (p, q) = (r[i & !1], r[i | 1]);
                if i & 1 == 0 {
                    _mm256_unpacklo_epi32(p, q)
                } else {
                    _mm256_unpackhi_epi32(p, q)
                }
            });
            let bv: [__m256i; 8] = std::array::from_fn(|i| {
                let (k, m) = (i / 4, i % 4);
                let (p, q) = (a[4 * k + m / 2], a[4 * k + 2 + m / 2]);
                if m % 2 == 0 {
                    _mm256_unpacklo_epi64(p, q)
                } else {
                    _mm256_unpackhi_epi64(p, q)
                }
            });
            for m in 0..4 {
                let low = _mm256_permute2x128_si256::<0x20>(bv[m], bv[4 + m]);
                let high = _mm256_permute2x128_si256::<0x31>(bv[m], bv[4 + m]);
                // SAFETY: blocks `m` and `4 + m` (< 8) start `64·(4 + m) ≤ HALF − 64` in; the
                // 32 bytes at `32h` lie inside the block.
                unsafe {
                    _mm256_storeu_si256(o.add(BLOCK_BYTES * m + 32 * h).cast(), low);
                    _mm256_storeu_si256(o.add(BLOCK_BYTES * (4 + m) + 32 * h).cast(), high);
                }
            }
        }
    }
}

/// The blocks `block, block + 1, …` of the ChaCha8 stream `stream` under `key`, as bytes, into
/// `out` (a whole number of [`BATCH_BYTES`] batches).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fill_avx512(key: &[u8; 32], stream: u64, block: u64, out: &mut [u8]) {
    use std::arch::x86_64::*;
    assert!(out.len().is_multiple_of(BATCH_BYTES));
    let input = input_words(key, stream);
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (b, chunk) in out.chunks_exact_mut(BATCH_BYTES).enumerate() {
        let first = block.wrapping_add((b * LANES) as u64);
        // Lane `l`: block `first + l`, its low counter word wrapping into the high one.
        let lo0 = _mm512_set1_epi32(first as u32 as i32);
        let lo = _mm512_add_epi32(lo0, iota);
        let carry = _mm512_cmplt_epu32_mask(lo, lo0);
        let hi = _mm512_mask_add_epi32(
            _mm512_set1_epi32((first >> 32) as u32 as i32),
            carry,
            _mm512_set1_epi32((first >> 32) as u32 as i32),
            _mm512_set1_epi32(1),
        );
        let init: [__m512i; 16] = std::array::from_fn(|i| match i {
            12 => lo,
            13 => hi,
            _ => _mm512_set1_epi32(input[i] as i32),
        });
        let mut x = init;
        for _ in 0..DOUBLE_ROUNDS {
            double_round!(quarter, &mut x);
        }
        for (v, i) in x.iter_mut().zip(init) {
            *v = _mm512_add_epi32(*v, i);
        }
        // SAFETY: `chunk` is `BATCH_BYTES` long; `store_transposed` writes exactly that.
        unsafe { store_transposed(&x, chunk) };
    }
}

/// One ChaCha quarter round on state words `a, b, c, d` of all sixteen lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn quarter(x: &mut [std::arch::x86_64::__m512i; 16], a: usize, b: usize, c: usize, d: usize) {
    use std::arch::x86_64::*;
    x[a] = _mm512_add_epi32(x[a], x[b]);
    x[d] = _mm512_rol_epi32::<16>(_mm512_xor_si512(x[d], x[a]));
    x[c] = _mm512_add_epi32(x[c], x[d]);
    x[b] = _mm512_rol_epi32::<12>(_mm512_xor_si512(x[b], x[c]));
    x[a] = _mm512_add_epi32(x[a], x[b]);
    x[d] = _mm512_rol_epi32::<8>(_mm512_xor_si512(x[d], x[a]));
    x[c] = _mm512_add_epi32(x[c], x[d]);
    x[b] = _mm512_rol_epi32::<7>(_mm512_xor_si512(x[b], x[c]));
}

/// Writes the 16 × 16 word matrix `x` (`x[i]` lane `l` = word `i` of block `l`) to `out` block
/// by block, each block's words in order, little-endian.
///
/// # Safety
/// `out` must be at least [`BATCH_BYTES`] long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn store_transposed(x: &[std::arch::x86_64::__m512i; 16], out: &mut [u8]) {
    use std::arch::x86_64::*;
    debug_assert!(out.len() >= BATCH_BYTES);
    // 32-bit then 64-bit interleaves inside each 128-bit lane `j`: afterwards `b[4k + m]` lane
    // `j` holds words `4k..4k + 4` of block `4j + m`.
    let a: [__m512i; 16] = std::array::from_fn(|i| {
        let (p, q) = (x[i & !1], x[i | 1]);
        if i & 1 == 0 {
            _mm512_unpacklo_epi32(p, q)
        } else {
            _mm512_unpackhi_epi32(p, q)
        }
    });
    let b: [__m512i; 16] = std::array::from_fn(|i| {
        let (k, m) = (i / 4, i % 4);
        let (p, q) = (a[4 * k + m / 2], a[4 * k + 2 + m / 2]);
        if m % 2 == 0 {
            _mm512_unpacklo_epi64(p, q)
        } else {
            _mm512_unpackhi_epi64(p, q)
        }
    });
    // Per `m`, a 4 × 4 transposition of 128-bit lanes: block `4j + m` is lane `j` of
    // `b[m], b[4 + m], b[8 + m], b[12 + m]`, in that order.
    let o = out.as_mut_ptr();
    for m in 0..4 {
        let (b0, b1, b2, b3) = (b[m], b[4 + m], b[8 + m], b[12 + m]);
        let c0 = _mm512_shuffle_i32x4::<0x44>(b0, b1);
        let c1 = _mm512_shuffle_i32x4::<0xEE>(b0, b1);
        let c2 = _mm512_shuffle_i32x4::<0x44>(b2, b3);
        let c3 = _mm512_shuffle_i32x4::<0xEE>(b2, b3);
        let rows = [
            _mm512_shuffle_i32x4::<0x88>(c0, c2),
            _mm512_shuffle_i32x4::<0xDD>(c0, c2),
            _mm512_shuffle_i32x4::<0x88>(c1, c3),
            _mm512_shuffle_i32x4::<0xDD>(c1, c3),
        ];
        for (j, r) in rows.into_iter().enumerate() {
            // SAFETY: block `4j + m < 16` starts `64·(4j + m) ≤ BATCH_BYTES − 64` in.
            unsafe { _mm512_storeu_si512(o.add(BLOCK_BYTES * (4 * j + m)).cast(), r) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Every block function this CPU has, by name, with the function that runs it.
    #[allow(clippy::type_complexity)]
    fn levels() -> Vec<(&'static str, Box<dyn Fn(&mut ChaCha8Rng, &mut [u8])>)> {
        let mut v: Vec<(&'static str, Box<dyn Fn(&mut ChaCha8Rng, &mut [u8])>)> =
            vec![("fill", Box::new(fill))];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                v.push(("avx2", Box::new(|r, o| fill_with(Level::Avx2, r, o))));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                v.push(("avx512", Box::new(|r, o| fill_with(Level::Avx512, r, o))));
            }
        }
        v
    }

    /// Byte for byte `rand_chacha`'s `fill_bytes`, at every level: several seeds and streams
    /// (including the largest and the probe range), whole and partial batches, across the carry
    /// from the low to the high block-counter word inside a batch, after an unaligned draw (the
    /// reference path), and over successive fills; the generator then continues the stream.
    #[test]
    fn chacha8_fill_simd_and_portable_agree() {
        let levels = levels();
        for (name, f) in &levels {
            let both = |mut r: ChaCha8Rng, len: usize| {
                let mut s = r.clone();
                let (mut want, mut got) = (vec![0u8; len], vec![0u8; len]);
                r.fill_bytes(&mut want);
                f(&mut s, &mut got);
                assert!(want == got, "{name}: {len} bytes");
                assert_eq!(
                    r.next_u32(),
                    s.next_u32(),
                    "{name}: the draw after {len} bytes"
                );
            };
            for (seed, stream) in [(1u64, 0u64), (2026, 7), (u64::MAX, u64::MAX), (9, 1 << 62)] {
                for len in [BATCH_BYTES / 2, BATCH_BYTES, 4 * BATCH_BYTES, 100, 1000] {
                    both(thermoq_core::rng::chain_rng(seed, stream), len);
                }
            }
            let mut r = ChaCha8Rng::seed_from_u64(5);
            r.set_stream(3);
            r.set_word_pos(((1u128 << 32) - 5) * 16);
            both(r, 2 * BATCH_BYTES);
            let mut r = ChaCha8Rng::seed_from_u64(6);
            r.next_u32();
            both(r, BATCH_BYTES);
            let mut r = thermoq_core::rng::chain_rng(11, 2);
            let mut s = r.clone();
            let mut want = vec![0u8; 5 * BATCH_BYTES];
            r.fill_bytes(&mut want);
            let mut got = vec![0u8; 5 * BATCH_BYTES];
            for c in got.chunks_mut(BATCH_BYTES) {
                f(&mut s, c);
            }
            assert!(want == got, "{name}: five fills");
        }
        let names: Vec<&str> = levels.iter().map(|l| l.0).collect();
        if names.len() > 1 {
            eprintln!(
                "RAN: chacha8_fill_simd_and_portable_agree compared {names:?} with rand_chacha"
            );
        } else {
            eprintln!(
                "SKIPPED: no AVX2 — chacha8_fill_simd_and_portable_agree compared only the rand_chacha path"
            );
        }
    }
}
