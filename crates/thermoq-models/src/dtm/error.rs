//! [`DtmError`]: what can go wrong building a DTM grid, layout, forward process or layer.

use thiserror::Error;

thermoq_core::error_enum! {
    /// Errors of the [`crate::dtm`] module.
    #[derive(Debug, Error)]
    pub enum DtmError {
        transparent {
            /// An error from the underlying model or graph.
            Model(crate::ModelError),
        }
        /// A preset name is not in the table.
        #[error("unknown grid preset {name:?}; expected one of {known}")]
        UnknownPreset {
            /// The name given.
            name: String,
            /// The known names, comma-separated.
            known: String,
        },
        /// The grid geometry is invalid (odd side, even jump, colliding offsets, …).
        #[error("grid (side {side}): {message}")]
        Grid {
            /// Side of the grid.
            side: usize,
            /// What was wrong and what was expected.
            message: String,
        },
        /// The visible nodes do not fit on the upper colour (SCIENCE.md II.9).
        #[error(
            "grid side {side} has {upper} upper nodes but {n_image} image + {n_label} label nodes need {needed}; \
             expected side²/2 ≥ n_image + classes·spots (downsample to 14×14 or use side ≥ 42)"
        )]
        Capacity {
            /// Side of the grid.
            side: usize,
            /// Upper nodes available (`side²/2`).
            upper: usize,
            /// Visible nodes needed.
            needed: usize,
            /// Image nodes.
            n_image: usize,
            /// Label nodes (`classes · spots`).
            n_label: usize,
        },
    }
}

impl From<thermoq_core::CoreError> for DtmError {
    fn from(e: thermoq_core::CoreError) -> Self {
        Self::Model(e.into())
    }
}
