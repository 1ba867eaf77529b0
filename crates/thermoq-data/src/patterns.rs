//! Synthetic pattern data with exact moments (the data law of SCIENCE.md II.4).
//!
//! `M` random patterns `ξ^μ ∈ {±1}^N` are drawn from a seed. A data point is produced by picking a
//! pattern uniformly, taking it or its negative with probability ½ each (so the law is
//! flip-symmetric), and flipping every bit independently with probability `ε`:
//!
//! ```text
//! p(x) = (1/2M) Σ_μ Σ_{s=±1} Π_i [ (1−ε) 1{x_i = s ξ_i^μ} + ε 1{x_i ≠ s ξ_i^μ} ]
//! ```
//!
//! Writing `x_i = s ξ_i^μ η_i` with independent `η_i = ±1`, `E[η_i] = 1 − 2ε`, the moments are
//! exact in closed form:
//!
//! ```text
//! E[x_i] = 0,        E[x_i x_j] = (1 − 2ε)² (1/M) Σ_μ ξ_i^μ ξ_j^μ   (i ≠ j),   E[x_i²] = 1
//! ```
//!
//! so the data phase of the gradient is `E_data[f_ij] = −E[x_i x_j]` and `E_data[f_i] = 0`.
//!
//! Patterns are drawn exactly as `thermoq_models::builders::random_patterns` draws them
//! (`ChaCha8Rng::seed_from_u64(seed)`, one `bool` per bit, pattern-major), so a planted Hopfield
//! model and a data law built from the same `(N, M, seed)` share their patterns.
//!
//! ```
//! use thermoq_data::patterns::{PatternLaw, PatternSpec};
//! let spec = PatternSpec::parse("patterns:M=3,eps=0.1,seed=7")?;
//! let law = PatternLaw::new(6, &spec)?;
//! let p = law.probabilities()?;
//! // the closed-form pair moment equals the enumerated one
//! let brute: f64 = p.iter().enumerate()
//!     .map(|(s, w)| w * if ((s >> 0) ^ (s >> 4)) & 1 == 0 { 1.0 } else { -1.0 })
//!     .sum();
//! assert!((brute - law.pair_moment(0, 4)).abs() < 1e-14);
//! # Ok::<(), thermoq_data::patterns::PatternError>(())
//! ```

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thermoq_core::Graph;
use thiserror::Error;

/// Largest `N` for which [`PatternLaw::probabilities`] enumerates all states.
pub const MAX_ENUM_SPINS: usize = 24;

/// Default number of patterns (SCIENCE.md II.6 uses `M = 3`).
pub const DEFAULT_M: usize = 3;
/// Default bit-flip probability `ε_data`.
pub const DEFAULT_EPS: f64 = 0.1;

/// Errors parsing a pattern spec or building a pattern law.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The spec does not start with `patterns`.
    #[error("data spec {spec:?}: unknown scheme, expected `patterns:M=..,eps=..,seed=..`")]
    UnknownScheme {
        /// The whole spec string.
        spec: String,
    },
    /// A `key=value` item names an unknown key.
    #[error("data spec: unknown key {key:?}; expected one of M, eps, seed")]
    UnknownKey {
        /// The key found.
        key: String,
    },
    /// An item is not of the form `key=value`.
    #[error("data spec: item {item:?} is not of the form key=value")]
    Malformed {
        /// The offending item.
        item: String,
    },
    /// A key was given twice.
    #[error("data spec: key {key:?} given more than once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A value could not be parsed or is out of range.
    #[error("data spec: {key}={value:?} is invalid; expected {expected}")]
    BadValue {
        /// Which key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The model has no spins.
    #[error("pattern law needs at least one spin, got n = {n}")]
    NoSpins {
        /// Number of spins requested.
        n: usize,
    },
    /// Enumeration of `2^N` states was requested for too large an `N`.
    #[error("cannot enumerate 2^{n} states: at most {max} spins")]
    TooLarge {
        /// Number of spins.
        n: usize,
        /// Supported maximum.
        max: usize,
    },
    /// A graph has a different number of spins than the law.
    #[error("graph has {found} spins, the pattern law has {expected}")]
    SpinCount {
        /// Spins of the graph.
        found: usize,
        /// Spins of the law.
        expected: usize,
    },
}

const _: () = thermoq_core::error::assert_send_sync::<PatternError>();

/// Parses `v` (the value of spec key `k`, reported as `key`) into the slot, which must still be
/// empty: a second `key=…` is [`PatternError::DuplicateKey`], an unparsable value
/// [`PatternError::BadValue`] naming what was `expected`.
fn set_once<T: std::str::FromStr>(
    slot: &mut Option<T>,
    key: &'static str,
    k: &str,
    v: &str,
    expected: &'static str,
) -> Result<(), PatternError> {
    let x = v.parse::<T>().map_err(|_| PatternError::BadValue {
        key,
        value: v.into(),
        expected,
    })?;
    match slot.replace(x) {
        Some(_) => Err(PatternError::DuplicateKey { key: k.into() }),
        None => Ok(()),
    }
}

/// A validated pattern data spec: number of patterns, flip probability and seed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatternSpec {
    /// Number of patterns `M ≥ 1`.
    pub m: usize,
    /// Independent bit-flip probability `ε ∈ [0, 1/2]`.
    pub eps: f64,
    /// Seed of the pattern draw.
    pub seed: u64,
}

impl Default for PatternSpec {
    fn default() -> Self {
        Self {
            m: DEFAULT_M,
            eps: DEFAULT_EPS,
            seed: 0,
        }
    }
}

impl PatternSpec {
    /// Builds a spec, validating `m ≥ 1` and `0 ≤ eps ≤ 1/2` (NaN rejected).
    pub fn new(m: usize, eps: f64, seed: u64) -> Result<Self, PatternError> {
        if m == 0 {
            return Err(PatternError::BadValue {
                key: "M",
                value: m.to_string(),
                expected: "an integer >= 1",
            });
        }
        if !(0.0..=0.5).contains(&eps) {
            return Err(PatternError::BadValue {
                key: "eps",
                value: eps.to_string(),
                expected: "a number in [0, 0.5]",
            });
        }
        Ok(Self { m, eps, seed })
    }

    /// Parses `patterns[:key=value,...]` with keys `M` (or `m`), `eps`, `seed`; omitted keys take
    /// their defaults (`M = 3`, `eps = 0.1`, `seed = 0`).
    pub fn parse(spec: &str) -> Result<Self, PatternError> {
        let s = spec.trim();
        let (scheme, rest) = match s.split_once(':') {
            Some((a, b)) => (a, b),
            None => (s, ""),
        };
        if !scheme.trim().eq_ignore_ascii_case("patterns") {
            return Err(PatternError::UnknownScheme { spec: spec.into() });
        }
        let (mut m, mut eps, mut seed) = (None, None, None);
        for item in rest.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| PatternError::Malformed { item: item.into() })?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "M" | "m" => set_once(&mut m, "M", k, v, "an integer >= 1")?,
                "eps" => set_once(&mut eps, "eps", k, v, "a number in [0, 0.5]")?,
                "seed" => set_once(&mut seed, "seed", k, v, "a non-negative integer")?,
                _ => return Err(PatternError::UnknownKey { key: k.into() }),
            }
        }
        Self::new(
            m.unwrap_or(DEFAULT_M),
            eps.unwrap_or(DEFAULT_EPS),
            seed.unwrap_or(0),
        )
    }

    /// The canonical spec string (`patterns:M=3,eps=0.1,seed=0`).
    pub fn to_spec_string(&self) -> String {
        format!("patterns:M={},eps={},seed={}", self.m, self.eps, self.seed)
    }
}

/// The pattern data law on `N` spins: patterns, their negatives, independent bit flips.
#[derive(Clone, Debug, PartialEq)]
pub struct PatternLaw {
    n: usize,
    eps: f64,
    /// `patterns[μ][i] = ξ_i^μ`.
    patterns: Vec<Vec<i8>>,
}

impl PatternLaw {
    /// Draws the `spec.m` patterns of length `n` from `spec.seed`.
    pub fn new(n: usize, spec: &PatternSpec) -> Result<Self, PatternError> {
        if n == 0 {
            return Err(PatternError::NoSpins { n });
        }
        let spec = PatternSpec::new(spec.m, spec.eps, spec.seed)?;
        let mut r = ChaCha8Rng::seed_from_u64(spec.seed);
        let patterns = (0..spec.m)
            .map(|_| {
                (0..n)
                    .map(|_| if r.random::<bool>() { 1 } else { -1 })
                    .collect()
            })
            .collect();
        Ok(Self {
            n,
            eps: spec.eps,
            patterns,
        })
    }

    /// Uses the given patterns (each of length `n`, entries ±1) instead of drawing them.
    pub fn from_patterns(patterns: Vec<Vec<i8>>, eps: f64) -> Result<Self, PatternError> {
        let n = patterns.first().map_or(0, Vec::len);
        if n == 0 {
            return Err(PatternError::NoSpins { n });
        }
        PatternSpec::new(patterns.len(), eps, 0)?;
        for p in &patterns {
            if p.len() != n || thermoq_core::first_non_spin(p).is_some() {
                return Err(PatternError::BadValue {
                    key: "patterns",
                    value: format!("{p:?}"),
                    expected: "patterns of equal length with entries ±1",
                });
            }
        }
        Ok(Self { n, eps, patterns })
    }

    /// Number of spins `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Bit-flip probability `ε`.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The patterns, `patterns()[μ][i] = ξ_i^μ`.
    pub fn patterns(&self) -> &[Vec<i8>] {
        &self.patterns
    }

    /// `E[x_i] = 0` (the law is flip-symmetric).
    pub fn mean(&self, _i: usize) -> f64 {
        0.0
    }

    /// `E[x_i x_j] = (1 − 2ε)² (1/M) Σ_μ ξ_i^μ ξ_j^μ` for `i ≠ j`, and `1` for `i = j`.
    pub fn pair_moment(&self, i: usize, j: usize) -> f64 {
        if i == j {
            return 1.0;
        }
        let c = 1.0 - 2.0 * self.eps;
        let s: f64 = self.patterns.iter().map(|p| f64::from(p[i] * p[j])).sum();
        c * c * s / self.patterns.len() as f64
    }

    /// Exact data means of the gradient observables of a model on `graph`: `E_data[f_ij] =
    /// −E[x_i x_j]` for every edge in edge order, then (if `with_biases`) `E_data[f_i] = 0`.
    pub fn observable_means(
        &self,
        graph: &Graph,
        with_biases: bool,
    ) -> Result<Vec<f64>, PatternError> {
        if graph.n() != self.n {
            return Err(PatternError::SpinCount {
                found: graph.n(),
                expected: self.n,
            });
        }
        let mut out: Vec<f64> = graph
            .edges()
            .map(|(i, j)| -self.pair_moment(i, j))
            .collect();
        if with_biases {
            out.extend((0..self.n).map(|i| -self.mean(i)));
        }
        Ok(out)
    }

    /// `p(x)` for every state index `s` (bit `i` set ⇔ `x_i = +1`), by direct evaluation of the
    /// mixture — the brute-force oracle for the closed-form moments.
    pub fn probabilities(&self) -> Result<Vec<f64>, PatternError> {
        if self.n > MAX_ENUM_SPINS {
            return Err(PatternError::TooLarge {
                n: self.n,
                max: MAX_ENUM_SPINS,
            });
        }
        let ns = 1usize << self.n;
        let w = 1.0 / (2 * self.patterns.len()) as f64;
        let lr = if self.eps > 0.0 {
            Some((self.eps / (1.0 - self.eps)).ln())
        } else {
            None
        };
        let masks: Vec<usize> = self
            .patterns
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .fold(0usize, |m, (i, &v)| if v > 0 { m | (1 << i) } else { m })
            })
            .collect();
        let full = ns - 1;
        let base = (1.0 - self.eps).powi(self.n as i32);
        Ok((0..ns)
            .map(|s| {
                let mut acc = 0.0;
                for &m in &masks {
                    for target in [m, m ^ full] {
                        let d = (s ^ target).count_ones();
                        acc += match lr {
                            Some(l) => base * (f64::from(d) * l).exp(),
                            None => f64::from(u8::from(d == 0)),
                        };
                    }
                }
                acc * w
            })
            .collect())
    }

    /// Draws one data point.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<i8> {
        let mu = (rng.random::<f64>() * self.patterns.len() as f64) as usize;
        let mu = mu.min(self.patterns.len() - 1);
        let sign: i8 = if rng.random::<bool>() { 1 } else { -1 };
        self.patterns[mu]
            .iter()
            .map(|&v| {
                let flip = rng.random::<f64>() < self.eps;
                if flip { -sign * v } else { sign * v }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thermoq_core::state::{pair_moment, spin_moment};

    #[test]
    fn parse_defaults_and_keys() {
        assert_eq!(
            PatternSpec::parse("patterns").unwrap_or_default(),
            PatternSpec::default()
        );
        let s = PatternSpec::parse("patterns:M=2, eps=0.05 ,seed=9").expect("valid");
        assert_eq!((s.m, s.eps, s.seed), (2, 0.05, 9));
        assert_eq!(
            PatternSpec::parse(&s.to_spec_string()).expect("round trip"),
            s
        );
    }

    #[test]
    fn parse_errors_name_the_key() {
        let e = PatternSpec::parse("patterns:M=3,foo=1").unwrap_err();
        assert_eq!(e, PatternError::UnknownKey { key: "foo".into() });
        let e = PatternSpec::parse("patterns:eps=0.7").unwrap_err();
        assert!(
            matches!(e, PatternError::BadValue { key: "eps", .. }),
            "{e}"
        );
        let e = PatternSpec::parse("patterns:eps=NaN").unwrap_err();
        assert!(
            matches!(e, PatternError::BadValue { key: "eps", .. }),
            "{e}"
        );
        let e = PatternSpec::parse("patterns:M=0").unwrap_err();
        assert!(matches!(e, PatternError::BadValue { key: "M", .. }), "{e}");
        let e = PatternSpec::parse("patterns:seed=-1").unwrap_err();
        assert!(
            matches!(e, PatternError::BadValue { key: "seed", .. }),
            "{e}"
        );
        let e = PatternSpec::parse("patterns:M=3,M=4").unwrap_err();
        assert!(matches!(e, PatternError::DuplicateKey { .. }), "{e}");
        let e = PatternSpec::parse("mnist:M=3").unwrap_err();
        assert!(matches!(e, PatternError::UnknownScheme { .. }), "{e}");
        let e = PatternSpec::parse("patterns:M").unwrap_err();
        assert!(matches!(e, PatternError::Malformed { .. }), "{e}");
    }

    /// Closed-form moments against the enumerated law, several (N, M, ε, seed).
    #[test]
    fn closed_form_matches_enumeration() {
        for (n, m, eps, seed) in [
            (5, 1, 0.1, 1),
            (6, 3, 0.1, 2),
            (7, 2, 0.25, 3),
            (4, 3, 0.0, 4),
        ] {
            let law = PatternLaw::new(n, &PatternSpec::new(m, eps, seed).expect("ok")).expect("ok");
            let p = law.probabilities().expect("small");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            for i in 0..n {
                let m1 = spin_moment(&p, i);
                assert!(m1.abs() < 1e-14, "E[x_{i}] = {m1}");
                for j in 0..n {
                    let m2 = pair_moment(&p, i, j);
                    assert!(
                        (m2 - law.pair_moment(i, j)).abs() < 1e-14,
                        "E[x_{i} x_{j}]: brute {m2}, closed {}",
                        law.pair_moment(i, j)
                    );
                }
            }
        }
    }

    /// Sample moments against the closed form. Draws are i.i.d., each `x_i x_j` is ±1, so the
    /// standard error of its mean over `n` draws is `sqrt((1 − m²)/n) ≤ 1/sqrt(n)`; with
    /// n = 200 000 that is ≤ 2.3e-3 and we allow 5 standard errors (28 pairs + 8 means: a
    /// family-wise false-alarm rate below 1e-4; the seed is fixed anyway).
    #[test]
    fn sampling_matches_closed_form() {
        use rand::SeedableRng;
        let law = PatternLaw::new(8, &PatternSpec::new(3, 0.1, 5).expect("ok")).expect("ok");
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 200_000usize;
        let mut m1 = [0.0f64; 8];
        let mut m2 = [[0.0f64; 8]; 8];
        for _ in 0..n {
            let x = law.sample(&mut rng);
            for ((m1i, m2i), &xi) in m1.iter_mut().zip(m2.iter_mut()).zip(&x) {
                *m1i += f64::from(xi);
                for (m2ij, &xj) in m2i.iter_mut().zip(&x) {
                    *m2ij += f64::from(xi * xj);
                }
            }
        }
        let se = 1.0 / (n as f64).sqrt();
        for (i, (m1i, m2i)) in m1.iter().zip(&m2).enumerate() {
            assert!((m1i / n as f64).abs() < 5.0 * se, "mean {i}");
            for (j, m2ij) in m2i.iter().enumerate() {
                let d = m2ij / n as f64 - law.pair_moment(i, j);
                assert!(d.abs() < 5.0 * se, "pair ({i},{j}) off by {d}");
            }
        }
    }

    #[test]
    fn observable_means_follow_edge_order() {
        let law = PatternLaw::new(4, &PatternSpec::default()).expect("ok");
        let g = Graph::complete(4);
        let f = law.observable_means(&g, true).expect("ok");
        assert_eq!(f.len(), 6 + 4);
        for (e, (i, j)) in g.edges().enumerate() {
            assert_eq!(f[e], -law.pair_moment(i, j));
        }
        assert!(f[6..].iter().all(|&v| v == 0.0));
        assert!(law.observable_means(&Graph::complete(5), false).is_err());
    }
}
