//! The one error type of `thermoq-samplers`.

use thiserror::Error;

/// Errors configuring kernels, p-bit arrays and batches.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// A structural problem found by `thermoq-core` (e.g. an improper colouring).
    #[error(transparent)]
    Core(#[from] thermoq_core::CoreError),
    /// A model problem.
    #[error(transparent)]
    Model(#[from] thermoq_models::ModelError),
    /// An unknown kernel name.
    #[error(
        "kernel: {name:?} is not a kernel; expected one of rs1, ss1, mh1, blk-alt, blk-sym, blk-rs"
    )]
    UnknownKernel {
        /// The name given.
        name: String,
    },
    /// A parameter is out of range or inconsistent.
    #[error("{field}: {message}")]
    Invalid {
        /// Which parameter.
        field: String,
        /// What was expected.
        message: String,
    },
}

impl SamplerError {
    /// [`SamplerError::Invalid`]: `field` is out of range; `message` says what it is and what
    /// was expected.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<super::SamplerError>();
    }
}
