//! [`DataError`]: the one error type of the MNIST side of `thermoq-data`.

use thiserror::Error;

thermoq_core::error_enum! {
    /// Everything that can go wrong reading, converting or transforming a dataset.
    ///
    /// Every variant names the file (or `<memory>` for in-memory input) and what was expected, so a
    /// corrupt download or a truncated cache is diagnosable from the message alone.
    #[derive(Debug, Error)]
    pub enum DataError {
        /// The file could not be opened, read or written.
        #[error("{path}: {source}")]
        Io {
            /// The file.
            path: String,
            /// The cause.
            #[source]
            source: std::io::Error,
        },
        /// The SHA-256 of a file differs from the expected digest.
        #[error("{path}: sha256 is {found}, expected {expected} (corrupt or wrong file)")]
        Checksum {
            /// The file.
            path: String,
            /// Expected digest (lowercase hex).
            expected: String,
            /// Digest found (lowercase hex).
            found: String,
        },
        /// A header field (magic number, version, dimension) has the wrong value.
        #[error("{path}: {field} is {found}, expected {expected}")]
        Header {
            /// The file.
            path: String,
            /// Which field.
            field: String,
            /// The value found.
            found: String,
            /// What was expected.
            expected: String,
        },
        /// The file ends before (or continues after) the size its header announces.
        #[error("{path}: has {found} bytes of {what}, expected {expected}")]
        Size {
            /// The file.
            path: String,
            /// What was being read.
            what: String,
            /// Bytes (or items) found.
            found: usize,
            /// Bytes (or items) expected.
            expected: usize,
        },
        /// A compressed or archived stream is corrupt (bad gzip, bad tar).
        #[error("{path}: corrupt {format} stream: {message}")]
        Corrupt {
            /// The file.
            path: String,
            /// `gzip`, `tar`, …
            format: String,
            /// Decoder message.
            message: String,
        },
        /// An archive lacks a required member.
        #[error("{path}: archive has no member {entry}")]
        MissingEntry {
            /// The archive.
            path: String,
            /// The member that was expected.
            entry: String,
        },
        /// A JSON member does not parse or has invalid content.
        #[error("{path}: member {entry}: {message}")]
        Json {
            /// The archive (or file).
            path: String,
            /// The member.
            entry: String,
            /// What was wrong and what was expected.
            message: String,
        },
    }
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
