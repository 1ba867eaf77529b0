//! How a command prints its result: JSON (indented or on one line) or its own text form.

use anyhow::Result;
use serde::Serialize;

/// The printed form of a command's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The command's human-readable text.
    Text,
    /// Indented JSON.
    Json,
    /// JSON on one line.
    JsonLine,
}

impl Format {
    /// `json` if `json` is set, else [`Format::Text`].
    pub fn json_or_text(json: bool, form: Format) -> Format {
        if json { form } else { Format::Text }
    }
}

/// Prints `value` in `format`; `text` writes the human-readable form.
pub fn print<T: Serialize>(value: &T, format: Format, text: impl FnOnce(&T)) -> Result<()> {
    match format {
        Format::Text => text(value),
        Format::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Format::JsonLine => println!("{}", serde_json::to_string(value)?),
    }
    Ok(())
}
