//! Buffered per-chain random bytes: ChaCha8 stream `c` drawn in bulk.
//!
//! Every fast engine draws all of chain `c`'s randomness (block choices, comparison bytes,
//! tie-break bytes) through one [`RandBuf`] wrapping `thermoq_core::rng::chain_rng(seed, c)`, in an
//! order fixed by the chain's own history. Bulk `fill_bytes` lets ChaCha8 run its vectorized
//! block function over many blocks at once instead of paying a call per word.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Bytes drawn per refill (64 ChaCha blocks).
pub(crate) const BUF_BYTES: usize = 4096;

/// A chain's random stream, drawn `BUF_BYTES` at a time.
///
/// When a request does not fit in what is left, the leftover bytes are discarded and the buffer
/// is refilled: deterministic, and it keeps every request contiguous.
#[derive(Clone)]
pub(crate) struct RandBuf {
    rng: ChaCha8Rng,
    buf: Box<[u8; BUF_BYTES]>,
    pos: usize,
}

impl RandBuf {
    /// Wraps a stream; nothing is drawn until the first request.
    pub(crate) fn new(rng: ChaCha8Rng) -> Self {
        Self {
            rng,
            buf: Box::new([0u8; BUF_BYTES]),
            pos: BUF_BYTES,
        }
    }

    /// Makes `n ≤ BUF_BYTES` bytes available and returns them; they count as consumed.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> &[u8] {
        debug_assert!(n <= BUF_BYTES);
        if self.pos + n > BUF_BYTES {
            self.rng.fill_bytes(&mut self.buf[..]);
            self.pos = 0;
        }
        let s = self.pos;
        self.pos += n;
        &self.buf[s..s + n]
    }

    /// A uniform 32-bit word.
    #[inline]
    pub(crate) fn u32(&mut self) -> u32 {
        let b = self.take(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// A uniform 24-bit integer (the low bits of a 32-bit comparison after a tied top byte).
    #[inline]
    pub(crate) fn u24(&mut self) -> u32 {
        let b = self.take(3);
        u32::from_le_bytes([b[0], b[1], b[2], 0])
    }

    /// A uniform index in `0..n` (Lemire's multiply-shift with rejection; unbiased).
    #[inline]
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        debug_assert!(n > 0 && n <= u32::MAX as usize);
        let n32 = n as u32;
        let threshold = n32.wrapping_neg() % n32;
        loop {
            let m = u64::from(self.u32()) * u64::from(n32);
            if (m as u32) >= threshold {
                return (m >> 32) as usize;
            }
        }
    }
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
        assert!(a.u24() < 1 << 24);
        assert_eq!(threshold32(0.0), 0);
        assert_eq!(threshold32(1.0), 1 << 32);
        assert_eq!(threshold32(0.5), 1 << 31);
        assert_eq!(threshold32(f64::NAN), 0);
    }
}
