//! ChaCha8 keystream, sixteen blocks at a time with AVX-512: the bytes of `rand_chacha`'s
//! [`ChaCha8Rng`], produced faster.
//!
//! Every chain's randomness on the reference generator is its ChaCha8 stream
//! (`thermoq_core::rng::chain_rng`), drawn in 4 KiB refills by [`super::stream::RandBuf`]. The
//! reference crate computes four blocks per call with 128/256-bit vectors (about one cycle per
//! byte on the machines of `docs/performance.md`), which made the random numbers most of the
//! cost of the lattice and lanes engines on that generator. [`fill`] computes the same blocks
//! with one 512-bit vector per state word: lane `l` holds block `b + l`, the eight rounds run on
//! all sixteen at once, and a 16 × 16 word transposition puts each block's words in order.
//!
//! **The same bytes, always.** [`fill`] reads the generator's key, stream and word position,
//! writes exactly the bytes `rng.fill_bytes(out)` would, and moves the generator on by as many
//! words, so later draws through the reference crate continue the stream. It takes the fast
//! path only for whole 1 KiB batches starting on a block boundary, on a CPU with AVX-512F;
//! otherwise it calls `fill_bytes`. Tests compare it with the reference crate byte for byte,
//! across the 32-bit carry of the block counter and after unaligned draws.

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
    if out.len().is_multiple_of(BATCH_BYTES) && wide_available() {
        let pos = rng.get_word_pos();
        if pos.is_multiple_of(16) {
            let key = rng.get_seed();
            let stream = rng.get_stream();
            // The position is a 68-bit word count; the block counter is its top 64 bits (the
            // reference crate wraps it the same way).
            let block = (pos / 16) as u64;
            // SAFETY: AVX-512F was detected at run time.
            unsafe { fill_avx512(&key, stream, block, out) };
            rng.set_word_pos(pos + (out.len() / 4) as u128);
            return;
        }
    }
    rng.fill_bytes(out);
}

/// Whether the AVX-512 path can run (AVX-512F detected at run time).
#[cfg(target_arch = "x86_64")]
fn wide_available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// The blocks `block, block + 1, …` of the ChaCha8 stream `stream` under `key`, as bytes, into
/// `out` (a whole number of [`BATCH_BYTES`] batches).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fill_avx512(key: &[u8; 32], stream: u64, block: u64, out: &mut [u8]) {
    use std::arch::x86_64::*;
    assert!(out.len().is_multiple_of(BATCH_BYTES));
    // "expand 32-byte k", the key words, the 64-bit block counter, the 64-bit stream.
    let mut input = [0u32; 16];
    input[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for (i, w) in key.chunks_exact(4).enumerate() {
        input[4 + i] = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    input[14] = stream as u32;
    input[15] = (stream >> 32) as u32;
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
            quarter(&mut x, 0, 4, 8, 12);
            quarter(&mut x, 1, 5, 9, 13);
            quarter(&mut x, 2, 6, 10, 14);
            quarter(&mut x, 3, 7, 11, 15);
            quarter(&mut x, 0, 5, 10, 15);
            quarter(&mut x, 1, 6, 11, 12);
            quarter(&mut x, 2, 7, 8, 13);
            quarter(&mut x, 3, 4, 9, 14);
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

    /// The reference bytes and the fast bytes of the same generator state, and the generators
    /// after them (their next draws must agree too).
    fn both(mut r: ChaCha8Rng, len: usize) -> (Vec<u8>, Vec<u8>, u32, u32) {
        let mut s = r.clone();
        let (mut want, mut got) = (vec![0u8; len], vec![0u8; len]);
        r.fill_bytes(&mut want);
        fill(&mut s, &mut got);
        (want, got, r.next_u32(), s.next_u32())
    }

    #[test]
    fn fill_gives_the_reference_bytes() {
        for (seed, stream) in [(1u64, 0u64), (2026, 7), (u64::MAX, u64::MAX), (9, 1 << 62)] {
            let r = thermoq_core::rng::chain_rng(seed, stream);
            for len in [BATCH_BYTES, 4 * BATCH_BYTES, 100, 1000] {
                let (want, got, a, b) = both(r.clone(), len);
                assert!(want == got, "seed {seed}, stream {stream}, {len} bytes");
                assert_eq!(a, b, "the next draw after {len} bytes");
            }
        }
        // Across the carry from the low to the high block-counter word, inside one batch.
        let mut r = ChaCha8Rng::seed_from_u64(5);
        r.set_stream(3);
        r.set_word_pos(((1u128 << 32) - 5) * 16);
        let (want, got, a, b) = both(r, 2 * BATCH_BYTES);
        assert!(want == got, "across the counter carry");
        assert_eq!(a, b);
        // After an unaligned draw the reference path runs (and still continues the stream).
        let mut r = ChaCha8Rng::seed_from_u64(6);
        r.next_u32();
        let (want, got, a, b) = both(r, BATCH_BYTES);
        assert!(want == got, "after one word");
        assert_eq!(a, b);
        // Successive fills continue one stream.
        let mut r = thermoq_core::rng::chain_rng(11, 2);
        let mut s = r.clone();
        let mut want = vec![0u8; 5 * BATCH_BYTES];
        r.fill_bytes(&mut want);
        let mut got = vec![0u8; 5 * BATCH_BYTES];
        for c in got.chunks_mut(BATCH_BYTES) {
            fill(&mut s, c);
        }
        assert!(want == got, "five fills");
        if cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("RAN: chacha8 fill compared the AVX-512 blocks with rand_chacha");
        } else {
            eprintln!("SKIPPED: no AVX-512 — only the rand_chacha path of fill was compared");
        }
    }
}
