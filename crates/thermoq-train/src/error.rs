//! [`TrainError`]: everything that can go wrong configuring, running or checkpointing training.

use thermoq_models::ModelError;
use thermoq_samplers::SamplerError;

/// Errors of the training crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A configuration value is out of range.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// Which field.
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A vector has the wrong length.
    #[error("{field} has length {found}, expected {expected}")]
    Length {
        /// Which vector.
        field: String,
        /// Its length.
        found: usize,
        /// The expected length.
        expected: usize,
    },
    /// A number is NaN or infinite.
    #[error("{field}[{index}] is {value}, expected a finite number")]
    NotFinite {
        /// Which vector.
        field: String,
        /// Which entry.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A data vector holds something other than ±1.
    #[error("data vector {row}, entry {col} is {value}, expected -1 or +1")]
    NotSpin {
        /// Data row.
        row: usize,
        /// Entry within the row.
        col: usize,
        /// The offending value.
        value: i8,
    },
    /// The model rejected something.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The DTM layer rejected something.
    #[error(transparent)]
    Dtm(#[from] thermoq_models::dtm::DtmError),
    /// The sampler rejected something.
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    /// Reading or writing a checkpoint failed.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A checkpoint is not valid JSON of the expected shape.
    #[error("checkpoint {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// Rejects NaN/Inf entries of `v`, naming the vector.
pub(crate) fn check_finite(field: &str, v: &[f64]) -> Result<(), TrainError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(TrainError::NotFinite {
            field: field.into(),
            index,
            value: v[index],
        }),
        None => Ok(()),
    }
}

/// Rejects a length mismatch, naming the vector.
pub(crate) fn check_len(field: &str, found: usize, expected: usize) -> Result<(), TrainError> {
    if found == expected {
        Ok(())
    } else {
        Err(TrainError::Length {
            field: field.into(),
            found,
            expected,
        })
    }
}

const _: () = thermoq_core::error::assert_send_sync::<TrainError>();
