//! [`enum_names!`](crate::enum_names): a fieldless enum's names, written once.

/// Gives a fieldless `Copy` enum its name table in one place: `ALL` (every listed variant, in
/// the table's order), `name()` (the variant's name), `from_name()` (the variant whose name is
/// exactly the argument) and `Display` (the name). Parsing with a crate's own normalisation
/// (case, `_` for `-`) and its own error type stays with the crate, built on `from_name`.
///
/// ```
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// pub enum Side {
///     Left,
///     Right,
/// }
/// thermoq_core::enum_names!(Side { Left => "left", Right => "right" });
/// assert_eq!(Side::ALL, [Side::Left, Side::Right]);
/// assert_eq!(Side::Right.name(), "right");
/// assert_eq!(Side::from_name("left"), Some(Side::Left));
/// assert_eq!(Side::from_name("Left"), None);
/// assert_eq!(Side::Left.to_string(), "left");
/// ```
#[macro_export]
macro_rules! enum_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in the order of its name table.
            pub const ALL: [Self; [$($name),+].len()] = [$(Self::$variant),+];

            /// The variant's name (its `Display` form).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The variant whose name is exactly `s`.
            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.name() == s)
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
