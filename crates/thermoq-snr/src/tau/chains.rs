//! [`ChainSet`]: a validated set of equal-length, finite chains.

use crate::SnrError;

/// Checks that one series is non-empty and finite; `chain` labels it in the error.
pub(crate) fn check_series(x: &[f64], chain: usize) -> Result<(), SnrError> {
    if x.is_empty() {
        return Err(SnrError::EmptySeries { chain });
    }
    if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(SnrError::NonFinite {
            chain,
            index,
            value,
        });
    }
    Ok(())
}

/// Several chains of the same observable, all of the same non-zero length and all finite.
///
/// Built once with [`ChainSet::new`] (from slices) or [`ChainSet::from_flat`] (a row-major
/// chains × length buffer); every multi-chain estimator then takes it without re-checking.
/// It borrows the data: no samples are copied.
#[derive(Debug, Clone)]
pub struct ChainSet<'a> {
    chains: Vec<&'a [f64]>,
    len: usize,
}

impl<'a> ChainSet<'a> {
    /// Validates a list of chains: at least one, none empty, equal lengths, all values finite.
    pub fn new(chains: &[&'a [f64]]) -> Result<Self, SnrError> {
        let first = chains.first().ok_or(SnrError::NoChains)?;
        let len = first.len();
        for (c, x) in chains.iter().enumerate() {
            if x.len() != len {
                return Err(SnrError::ChainLengthMismatch {
                    chain: c,
                    len: x.len(),
                    expected: len,
                });
            }
            check_series(x, c)?;
        }
        Ok(Self {
            chains: chains.to_vec(),
            len,
        })
    }

    /// Validates a row-major `n_chains × len` buffer: chain c is `data[c·len .. (c+1)·len]`.
    pub fn from_flat(data: &'a [f64], n_chains: usize) -> Result<Self, SnrError> {
        if n_chains == 0 {
            return Err(SnrError::NoChains);
        }
        if !data.len().is_multiple_of(n_chains) {
            return Err(SnrError::FlatLayout {
                len: data.len(),
                chains: n_chains,
            });
        }
        let len = data.len() / n_chains;
        if len == 0 {
            return Err(SnrError::EmptySeries { chain: 0 });
        }
        let chains: Vec<&[f64]> = data.chunks_exact(len).collect();
        Self::new(&chains)
    }

    /// One validated chain.
    pub fn single(x: &'a [f64]) -> Result<Self, SnrError> {
        Self::new(&[x])
    }

    /// Number of chains.
    pub fn n_chains(&self) -> usize {
        self.chains.len()
    }

    /// Samples per chain.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a validated set has non-empty chains. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chains.
    pub fn chains(&self) -> &[&'a [f64]] {
        &self.chains
    }

    /// Splits every chain into its first and last ⌊n/2⌋ samples (dropping the middle sample when
    /// n is odd), giving 2M chains in ArviZ's `_split_chains` order: all first halves (in chain
    /// order), then all second halves. Detects drift within a chain as between-chain variance.
    pub fn split(&self) -> Result<ChainSet<'a>, SnrError> {
        let half = self.len / 2;
        if half == 0 {
            return Err(SnrError::TooShort {
                what: "split chains",
                len: self.len,
                min: 2,
            });
        }
        let mut chains = Vec::with_capacity(2 * self.chains.len());
        chains.extend(self.chains.iter().map(|x| &x[..half]));
        chains.extend(self.chains.iter().map(|x| &x[x.len() - half..]));
        Ok(ChainSet { chains, len: half })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_input_with_named_fields() {
        let a = [1.0, 2.0, 3.0];
        let b = [1.0, 2.0];
        assert!(matches!(
            ChainSet::new(&[&a, &b]).unwrap_err(),
            SnrError::ChainLengthMismatch {
                chain: 1,
                len: 2,
                expected: 3
            }
        ));
        let c = [1.0, f64::NAN, 3.0];
        assert!(matches!(
            ChainSet::new(&[&a, &c]).unwrap_err(),
            SnrError::NonFinite {
                chain: 1,
                index: 1,
                ..
            }
        ));
        assert!(matches!(
            ChainSet::new(&[]).unwrap_err(),
            SnrError::NoChains
        ));
        let e: [f64; 0] = [];
        assert!(matches!(
            ChainSet::new(&[&e]).unwrap_err(),
            SnrError::EmptySeries { chain: 0 }
        ));
        assert!(matches!(
            ChainSet::from_flat(&[1.0; 7], 2).unwrap_err(),
            SnrError::FlatLayout { len: 7, chains: 2 }
        ));
    }

    #[test]
    fn flat_and_split_layouts() {
        let data: Vec<f64> = (0..10).map(f64::from).collect();
        let set = ChainSet::from_flat(&data, 2).unwrap();
        assert_eq!(set.n_chains(), 2);
        assert_eq!(set.len(), 5);
        assert_eq!(set.chains()[1], &[5.0, 6.0, 7.0, 8.0, 9.0]);
        let s = set.split().unwrap();
        assert_eq!(s.n_chains(), 4);
        assert_eq!(s.chains()[0], &[0.0, 1.0]);
        assert_eq!(s.chains()[1], &[5.0, 6.0]);
        assert_eq!(s.chains()[2], &[3.0, 4.0]);
        assert_eq!(s.chains()[3], &[8.0, 9.0]);
    }
}
