//! [`ReproError`]: the one error type of the experiments, wrapping the lower crates' errors.

use thiserror::Error;

thermoq_core::error_enum! {
    /// Everything that can go wrong while computing a cell.
    #[derive(Debug, Error)]
    pub enum ReproError {
        transparent {
            /// From `thermoq-core`.
            Core(thermoq_core::CoreError),
            /// From `thermoq-models`.
            Model(thermoq_models::ModelError),
            /// From `thermoq-samplers`.
            Sampler(thermoq_samplers::SamplerError),
            /// From `thermoq-spectral`.
            Spectral(thermoq_spectral::SpectralError),
            /// From `thermoq-snr`.
            Snr(thermoq_snr::SnrError),
            /// From `thermoq-train` (DTM runs, the stale-weights check).
            Train(thermoq_train::TrainError),
            /// Reading or writing a file (checkpoints, stored phases).
            Io(std::io::Error),
            /// Encoding or decoding a stored phase.
            Json(serde_json::Error),
            /// Writing a report's CSV rows.
            Csv(csv::Error),
            /// From the data-law patterns of `thermoq-data`.
            Pattern(thermoq_data::patterns::PatternError),
        }
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
        /// A fact the analysis should have produced is missing (e.g. no spectrum for a reversible
        /// kernel, no observable-relevant mode).
        #[error("{what}: not produced by the analysis ({why})")]
        Missing {
            /// The missing fact.
            what: &'static str,
            /// Why it was expected.
            why: &'static str,
        },
    }
}

/// `Some(x)` or [`ReproError::Missing`].
pub(crate) fn need<T>(
    x: Option<T>,
    what: &'static str,
    why: &'static str,
) -> Result<T, ReproError> {
    x.ok_or(ReproError::Missing { what, why })
}
