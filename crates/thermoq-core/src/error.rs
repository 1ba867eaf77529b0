//! The one error type of `thermoq-core`.

use thiserror::Error;

/// Declares a crate's error enum with the two variants every thermoq error type shares, worded
/// once: `Invalid { field, message }` (a value out of range; `message` says what it is and what
/// was expected) and `Length { field, found, expected }`, with the constructors
/// `invalid(field, message)` and `length(field, found, expected)`, and a compile-time check that
/// the type is `Send + Sync + 'static`.
///
/// The enum is `#[non_exhaustive]`; its own attributes must derive `thiserror::Error` (the
/// derive has to be written by the caller: thiserror does not see through a derive or a
/// `transparent` written inside this macro); its own variants follow the shared two. An optional leading `transparent { Name(path::LowerError), … }` block declares the
/// lower crates' errors it wraps, each as `#[error(transparent)] Name(#[from] path::LowerError)`
/// (the enum's first own variant then needs its doc comment, as every variant has).
///
/// ```
/// use thiserror::Error;
/// thermoq_core::error_enum! {
///     /// Errors of my crate.
///     #[derive(Debug, Error)]
///     pub enum MyError {
///         transparent {
///             /// A file problem.
///             Io(std::io::Error),
///         }
///         /// Something else.
///         #[error("other")]
///         Other,
///     }
/// }
/// assert_eq!(MyError::invalid("beta", "is -1, expected β ≥ 0").to_string(), "beta: is -1, expected β ≥ 0");
/// assert_eq!(MyError::length("h", 2, 3).to_string(), "h: has length 2, expected 3");
/// let e: MyError = std::io::Error::other("disk full").into();
/// assert_eq!(e.to_string(), "disk full");
/// ```
#[macro_export]
macro_rules! error_enum {
    // `transparent` is taken from the caller's tokens: thiserror does not recognise a
    // `transparent` written inside this macro (hygiene), so it is bound as `$tr` and checked.
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $tr:ident {
                $($(#[$wmeta:meta])* $wrap:ident($wty:ty)),* $(,)?
            }
            $($variants:tt)*
        }
    ) => {
        $crate::error_enum!(@transparent $tr);

        $(#[$meta])*
        #[non_exhaustive]
        $vis enum $name {
            $(
                $(#[$wmeta])*
                #[error($tr)]
                $wrap(#[from] $wty),
            )*
            /// A value is outside its allowed range.
            #[error("{field}: {message}")]
            Invalid {
                /// Which field or parameter.
                field: ::std::string::String,
                /// What was wrong and what was expected.
                message: ::std::string::String,
            },
            /// A vector (or two parts that must agree in length) has the wrong length.
            #[error("{field}: has length {found}, expected {expected}")]
            Length {
                /// Which field.
                field: ::std::string::String,
                /// Length found.
                found: usize,
                /// Length expected.
                expected: usize,
            },
            $($variants)*
        }

        impl $name {
            #[doc = concat!("[`", stringify!($name), "::Invalid`]: `field` is out of range; `message` says what it is and what was expected.")]
            pub fn invalid(
                field: impl ::std::convert::Into<::std::string::String>,
                message: impl ::std::convert::Into<::std::string::String>,
            ) -> Self {
                Self::Invalid {
                    field: field.into(),
                    message: message.into(),
                }
            }

            #[doc = concat!("[`", stringify!($name), "::Length`]: `field` has length `found`, expected `expected`.")]
            pub fn length(
                field: impl ::std::convert::Into<::std::string::String>,
                found: usize,
                expected: usize,
            ) -> Self {
                Self::Length {
                    field: field.into(),
                    found,
                    expected,
                }
            }
        }

        const _: () = $crate::error::assert_send_sync::<$name>();
    };
    (@transparent transparent) => {};
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($variants:tt)*
        }
    ) => {
        $crate::error_enum! {
            $(#[$meta])*
            $vis enum $name {
                transparent {}
                $($variants)*
            }
        }
    };
}

/// Compiles only when `T` is `Send + Sync + 'static` (errors cross threads and `Box<dyn Error>`):
/// `const _: () = assert_send_sync::<MyError>();`.
pub const fn assert_send_sync<T: Send + Sync + 'static>() {}

error_enum! {
    /// Everything that can go wrong when building graphs, colourings or reading model files.
    #[derive(Debug, Error)]
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
}
