//! The one error type of `thermoq-core`.

use thiserror::Error;

/// Everything that can go wrong when building graphs, colourings or reading model files.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// An edge endpoint is outside `0..n`.
    #[error("{field}: edge {edge} has endpoint {index}, expected an index in 0..{n}")]
    IndexOutOfRange {
        /// Which field of the input held the bad edge.
        field: String,
        /// Position of the edge in the edge list.
        edge: usize,
        /// The offending endpoint.
        index: usize,
        /// Number of spins.
        n: usize,
    },
    /// An edge joins a spin to itself.
    #[error(
        "{field}: edge {edge} is a self-loop on spin {index}; couplings join two distinct spins"
    )]
    SelfLoop {
        /// Which field of the input held the bad edge.
        field: String,
        /// Position of the edge in the edge list.
        edge: usize,
        /// The spin.
        index: usize,
    },
    /// The same unordered pair appears twice.
    #[error(
        "{field}: edge {edge} duplicates edge {first} (pair {i}-{j}); each pair may appear once"
    )]
    DuplicateEdge {
        /// Which field of the input held the bad edge.
        field: String,
        /// Position of the duplicate.
        edge: usize,
        /// Position of the first occurrence.
        first: usize,
        /// First endpoint.
        i: usize,
        /// Second endpoint.
        j: usize,
    },
    /// A number is NaN or infinite.
    #[error("{field}: value {value} is not finite; expected a finite number")]
    NotFinite {
        /// Which field (with index) held the value, e.g. `h[3]` or `edges[7][2]`.
        field: String,
        /// The value as read.
        value: f64,
    },
    /// A vector has the wrong length.
    #[error("{field}: has length {found}, expected {expected}")]
    Length {
        /// Which field.
        field: String,
        /// Length found.
        found: usize,
        /// Length expected.
        expected: usize,
    },
    /// A value is outside its allowed range.
    #[error("{field}: {message}")]
    Invalid {
        /// Which field.
        field: String,
        /// What was expected.
        message: String,
    },
    /// A colouring is not proper: two neighbours share a colour.
    #[error("colouring: spins {i} and {j} are neighbours but both have colour {color}")]
    ImproperColoring {
        /// First spin.
        i: usize,
        /// Second spin.
        j: usize,
        /// Shared colour.
        color: u32,
    },
    /// A model file could not be parsed.
    #[error("{path}: cannot parse as {format}: {message}")]
    Parse {
        /// File (or `<memory>`).
        path: String,
        /// Expected format.
        format: String,
        /// Parser message.
        message: String,
    },
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<super::CoreError>();
    }
}
