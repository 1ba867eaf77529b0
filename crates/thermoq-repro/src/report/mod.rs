//! The files of a finished run as text: CSV rows (serde), SVG figures ([`crate::svg`]) and
//! `REPORT.md`, rendered by pure functions from the typed results — `cargo xtask repro` writes
//! them into a run folder, and any other caller (a notebook, the Python package) can render the
//! same report from the same results.
//!
//! [`Render`] is implemented for [`crate::exp1::Exp1`], [`crate::exp2::Exp2`] and
//! [`crate::exp5::Exp5`]; the DTM study renders through [`dtm::render`] and a DTM training run
//! through [`train`].

pub mod dtm;
mod exp1;
mod exp2;
mod exp5;
pub mod train;

use crate::{Experiment, ReproError, ResultsOf};
use serde::Serialize;

/// Everything a report consists of: named text files and a one-line headline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// `(file name, contents)` in the order they should be written.
    pub files: Vec<(&'static str, String)>,
    /// One line summing up the run.
    pub headline: String,
}

impl Rendered {
    /// Adds a file.
    pub fn push(&mut self, name: &'static str, text: impl Into<String>) {
        self.files.push((name, text.into()));
    }

    /// The contents of file `name`, if rendered.
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
    }
}

/// An experiment whose results render to report files.
pub trait Render: Experiment + Sized {
    /// The CSV, figures and `REPORT.md` of `res`, with a one-line headline.
    fn render(res: &ResultsOf<Self>) -> Result<Rendered, ReproError>;
}

/// `rows` as CSV text, the header from the row type's field names.
pub fn csv_text<T: Serialize>(rows: impl IntoIterator<Item = T>) -> Result<String, ReproError> {
    csv_with_header(None, rows)
}

/// `rows` as CSV text under `header` (the row type's own field names when `None`).
pub(crate) fn csv_with_header<T: Serialize>(
    header: Option<Vec<String>>,
    rows: impl IntoIterator<Item = T>,
) -> Result<String, ReproError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(header.is_none())
        .from_writer(Vec::new());
    if let Some(h) = header {
        w.write_record(h)?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    String::from_utf8(bytes).map_err(|e| ReproError::Io(std::io::Error::other(e)))
}

/// `{a, b, c}` for a report sentence.
pub(crate) fn set<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("{{{}}}", items.join(", "))
}
