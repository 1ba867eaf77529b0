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

impl PredictorKind {
    /// Every predictor, in report order.
    pub const ALL: [Self; 4] = [
        Self::Naive,
        Self::OneGap,
        Self::StructPerp,
        Self::MatrixFree,
    ];

    /// The name the predictor reports (`naive`, `one-gap`, `struct-perp`, `matrix-free`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Naive => "naive",
            Self::OneGap => "one-gap",
            Self::StructPerp => "struct-perp",
            Self::MatrixFree => "matrix-free",
        }
    }
}

impl std::fmt::Display for PredictorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
