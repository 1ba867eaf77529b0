//! [`PredictorKind`]: the four predictors named by an enum instead of a string.

use serde::{Deserialize, Serialize};

/// One of the predictors of SCIENCE II.5 (its [`crate::Predictor::name`] is [`Self::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PredictorKind {
    /// Single spectral gap.
    Naive,
    /// One observable-relevant gap.
    OneGap,
    /// `Q_struct⊥`.
    StructPerp,
    /// Matrix-free (Poisson) stationary predictor.
    MatrixFree,
}

thermoq_core::enum_names!(PredictorKind {
    Naive => "naive",
    OneGap => "one-gap",
    StructPerp => "struct-perp",
    MatrixFree => "matrix-free",
});
