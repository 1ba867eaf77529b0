//! The one error type of `thermoq-snr`.
//!
//! Every variant carries the structured facts a caller needs to fix the input (which chain, which
//! index, what was expected) rather than a preformatted message.

use thiserror::Error;

/// Everything that can go wrong in the signal-to-noise estimators.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SnrError {
    /// No chains were supplied to a multi-chain estimator.
    #[error("no chains supplied; expected at least one chain")]
    NoChains,
    /// A series (chain) has no samples.
    #[error("chain {chain} is empty; expected at least one sample")]
    EmptySeries {
        /// Index of the empty chain (0 for a single series).
        chain: usize,
    },
    /// A sample is NaN or infinite.
    #[error("chain {chain}, index {index}: value {value} is not finite")]
    NonFinite {
        /// Index of the chain holding the value (0 for a single series).
        chain: usize,
        /// Position of the value inside the chain.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// Chains of a multi-chain set have different lengths.
    #[error("chain {chain} has length {len}, expected {expected} (the length of chain 0)")]
    ChainLengthMismatch {
        /// Index of the offending chain.
        chain: usize,
        /// Its length.
        len: usize,
        /// The length of chain 0.
        expected: usize,
    },
    /// A flat chains × length buffer cannot be split into equal chains.
    #[error("flat buffer of length {len} cannot be split into {chains} equal chains")]
    FlatLayout {
        /// Length of the flat buffer.
        len: usize,
        /// Requested number of chains.
        chains: usize,
    },
    /// A series is too short for the requested estimator.
    #[error("{what}: series length {len} is too short, need at least {min}")]
    TooShort {
        /// Which estimator or diagnostic refused the input.
        what: &'static str,
        /// Length supplied (samples per chain).
        len: usize,
        /// Minimum length accepted.
        min: usize,
    },
    /// A series has zero variance, so its autocorrelation (and τ_int) is undefined.
    #[error("chain {chain} has zero variance; autocorrelation is undefined")]
    ZeroVariance {
        /// Index of the constant chain (0 for a single series, or for pooled quantities).
        chain: usize,
    },
    /// The lengths given to a doubling run are inconsistent.
    #[error(
        "doubling run: initial length {initial_len} and maximum length {max_len} are invalid; \
         expected 4 <= initial_len <= max_len"
    )]
    DoublingLengths {
        /// Requested first length.
        initial_len: usize,
        /// Requested maximum length.
        max_len: usize,
    },
    /// The sampling closure of a doubling run did not deliver the requested length.
    #[error(
        "doubling run: chain {chain} has length {found} after extension, requested {requested}"
    )]
    SampleLength {
        /// Index of the chain (0 for a single series).
        chain: usize,
        /// Length requested from the closure.
        requested: usize,
        /// Length found after the closure returned.
        found: usize,
    },
    /// A parameter or input is out of range or inconsistent.
    #[error("{field}: {message}")]
    Invalid {
        /// Which parameter or input.
        field: String,
        /// What was expected.
        message: String,
    },
    /// An input has the wrong length or shape.
    #[error("{what}: has size {found}, expected {expected}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Size found.
        found: usize,
        /// Size expected.
        expected: usize,
    },
    /// An input value is NaN or infinite.
    #[error("{what}[{index}] = {value} is not finite")]
    NonFiniteInput {
        /// Which input.
        what: &'static str,
        /// Position of the value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A numeric parameter is out of range.
    #[error("{name} = {value} is invalid; expected {expected}")]
    InvalidParam {
        /// Which parameter.
        name: &'static str,
        /// The value found (formatted).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// `thermoq-models` refused the input (e.g. a model too large to enumerate).
    #[error("models: {0}")]
    Model(#[from] thermoq_models::ModelError),
    /// `thermoq-samplers` refused the input (e.g. a kernel without the colouring it needs).
    #[error("samplers: {0}")]
    Sampler(#[from] thermoq_samplers::SamplerError),
    /// `thermoq-spectral` failed (eigensolve, Poisson solve, dense operator).
    #[error("spectral: {0}")]
    Spectral(#[from] thermoq_spectral::SpectralError),
    /// A numerical step with no error type of its own failed (a dense eigensolve, a non-finite
    /// asymptotic variance, a Poisson solve whose dense fallback failed too).
    #[error("{layer}: {message}")]
    Numerical {
        /// Which step failed.
        layer: &'static str,
        /// What happened.
        message: String,
    },
    /// The operation does not support this kernel or model.
    #[error("{what} is not supported: {reason}")]
    Unsupported {
        /// The operation.
        what: &'static str,
        /// Why, and what is supported.
        reason: String,
    },
    /// A predictor was given an input without the data it needs.
    #[error("predictor {predictor} needs {needs}")]
    MissingInput {
        /// The predictor.
        predictor: &'static str,
        /// What it needs.
        needs: &'static str,
    },
}

const _: () = thermoq_core::error::assert_send_sync::<SnrError>();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_fields() {
        let e = SnrError::NonFinite {
            chain: 2,
            index: 17,
            value: f64::NAN,
        };
        let s = e.to_string();
        assert!(s.contains("chain 2") && s.contains("index 17"), "{s}");
    }
}
