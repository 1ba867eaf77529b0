//! [`ReproError`]: the one error type of the experiments, wrapping the lower crates' errors.

use thiserror::Error;

/// Everything that can go wrong while computing a cell.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReproError {
    /// From `thermoq-core`.
    #[error(transparent)]
    Core(#[from] thermoq_core::CoreError),
    /// From `thermoq-models`.
    #[error(transparent)]
    Model(#[from] thermoq_models::ModelError),
    /// From `thermoq-samplers`.
    #[error(transparent)]
    Sampler(#[from] thermoq_samplers::SamplerError),
    /// From `thermoq-spectral`.
    #[error(transparent)]
    Spectral(#[from] thermoq_spectral::SpectralError),
    /// From `thermoq-snr`.
    #[error(transparent)]
    Snr(#[from] thermoq_snr::SnrError),
    /// From `thermoq-train` (DTM runs, the stale-weights check).
    #[error(transparent)]
    Train(#[from] thermoq_train::TrainError),
    /// Reading or writing a file (checkpoints, stored phases).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Encoding or decoding a stored phase.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Writing a report's CSV rows.
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// A DTM checkpoint that the study cannot use.
    #[error("checkpoint {}: {why}", path.display())]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A run folder (or shard folder, or cell file) that a command refuses to use or merge;
    /// `why` names the file and what is wrong.
    #[error("{why}")]
    RunFolder {
        /// The folder or file.
        path: std::path::PathBuf,
        /// The whole message.
        why: String,
    },
    /// From the data-law patterns of `thermoq-data`.
    #[error(transparent)]
    Pattern(#[from] thermoq_data::patterns::PatternError),
    /// A fact the analysis should have produced is missing (e.g. no spectrum for a reversible
    /// kernel, no observable-relevant mode).
    #[error("{what}: not produced by the analysis ({why})")]
    Missing {
        /// The missing fact.
        what: &'static str,
        /// Why it was expected.
        why: &'static str,
    },
    /// A configuration value is out of range.
    #[error("{field} = {value:?}: expected {expected}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// The expected form.
        expected: &'static str,
    },
}

/// `Some(x)` or [`ReproError::Missing`].
pub(crate) fn need<T>(
    x: Option<T>,
    what: &'static str,
    why: &'static str,
) -> Result<T, ReproError> {
    x.ok_or(ReproError::Missing { what, why })
}
