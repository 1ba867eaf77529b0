//! State-index convention for enumerable models.
//!
//! A state `x ∈ {−1,+1}^N` with `N ≤ 63` is encoded as the integer whose bit `i` is set exactly when
//! `x_i = +1`. The global flip `x → −x` is `s → s ^ ((1 << N) − 1)`.

use crate::Spin;

/// Largest `N` for which states may be enumerated as `u64` indices.
pub const MAX_ENUM_SPINS: usize = 30;

/// Writes the spins of state index `s` into `out` (length N).
#[inline]
pub fn spins_from_index(s: u64, out: &mut [Spin]) {
    for (i, x) in out.iter_mut().enumerate() {
        *x = if (s >> i) & 1 == 1 { 1 } else { -1 };
    }
}

/// The state index of spins `x`.
#[inline]
pub fn index_from_spins(x: &[Spin]) -> u64 {
    x.iter()
        .enumerate()
        .fold(0u64, |s, (i, &v)| if v > 0 { s | (1 << i) } else { s })
}

/// Spin `i` (±1) of state index `s`.
#[inline]
pub fn spin_of(s: u64, i: usize) -> Spin {
    if (s >> i) & 1 == 1 { 1 } else { -1 }
}

/// `⟨x_i⟩ = Σ_s p(s) x_i(s)` under a law `p` on state indices (summed in index order).
pub fn spin_moment(p: &[f64], i: usize) -> f64 {
    p.iter()
        .enumerate()
        .map(|(s, w)| if (s >> i) & 1 == 1 { *w } else { -*w })
        .sum()
}

/// `⟨x_i x_j⟩ = Σ_s p(s) x_i(s) x_j(s)` under a law `p` on state indices (summed in index order).
pub fn pair_moment(p: &[f64], i: usize, j: usize) -> f64 {
    p.iter()
        .enumerate()
        .map(|(s, w)| {
            if ((s >> i) ^ (s >> j)) & 1 == 0 {
                *w
            } else {
                -*w
            }
        })
        .sum()
}

/// Index of the globally flipped state.
#[inline]
pub fn flip_all(s: u64, n: usize) -> u64 {
    s ^ ((1u64 << n) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip() {
        let mut x = vec![0i8; 5];
        for s in 0..32u64 {
            spins_from_index(s, &mut x);
            assert_eq!(index_from_spins(&x), s);
            assert_eq!(spin_of(s, 3), x[3]);
        }
        assert_eq!(flip_all(0b00101, 5), 0b11010);
    }
}
