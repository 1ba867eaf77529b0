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
use std::fmt::Write;

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

/// An experiment whose results render to report files: `cells.csv`, then its own files (figures,
/// `REPORT.md`), and a one-line headline.
pub trait Render: Experiment + Sized {
    /// `cells.csv`: one row per cell (see [`cells_csv`]).
    fn cells_csv(res: &ResultsOf<Self>) -> Result<String, ReproError>;

    /// The files after `cells.csv`, in the order they should be written.
    fn files(res: &ResultsOf<Self>, out: &mut Rendered);

    /// One line summing up the run.
    fn headline(res: &ResultsOf<Self>) -> String;

    /// The CSV, figures and `REPORT.md` of `res`, with a one-line headline.
    fn render(res: &ResultsOf<Self>) -> Result<Rendered, ReproError> {
        let mut out = Rendered::default();
        out.push("cells.csv", Self::cells_csv(res)?);
        Self::files(res, &mut out);
        out.headline = Self::headline(res);
        Ok(out)
    }
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

/// `cells.csv` of `res`: one row per cell, `row(id, config, result)`, under `header` (the row
/// type's own field names when `None`).
pub(crate) fn cells_csv<'a, E: Experiment, T: Serialize>(
    res: &'a ResultsOf<E>,
    header: Option<Vec<String>>,
    row: impl Fn(&'a str, &'a E::Cell, &'a E::Output) -> T,
) -> Result<String, ReproError> {
    csv_with_header(
        header,
        res.cells.iter().map(|r| row(&r.id, &r.config, &r.result)),
    )
}

/// The opening of an experiment's `REPORT.md`: the title `# NAME — title`, a blank line, then
/// the preset sentence with `note` after the preset and `tail` after the command that
/// regenerates the report.
pub(crate) fn preamble<E: Experiment>(
    res: &ResultsOf<E>,
    title: &str,
    note: &str,
    tail: &str,
) -> String {
    let (name, preset) = (E::NAME, res.preset);
    format!(
        "# {name} — {title}\n\nPreset `{preset:?}`{note}; regenerate with `cargo xtask repro {name} --preset {preset}`.{tail}\n"
    )
}

/// Appends a Markdown table's head: `heading`, a blank line, then the header row `columns`
/// (the column names separated by ` | `, as the row reads) and its rule.
pub(crate) fn table_head(r: &mut String, heading: &str, columns: &str) {
    let rule = "---|".repeat(columns.split(" | ").count());
    let _ = writeln!(r, "{heading}\n\n| {columns} |\n|{rule}");
}

/// `{a, b, c}` for a report sentence.
pub(crate) fn set<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("{{{}}}", items.join(", "))
}
