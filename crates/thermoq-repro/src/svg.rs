//! A tiny SVG plotter for the reports' figures: scatter and line series on linear or log axes,
//! an optional `y = x` line with a multiplicative band. SVG text needs no font files at build or
//! run time, so figures render anywhere; [`Figure::to_svg`] is a pure function of the figure.

use std::fmt::Write;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Circles.
    Dot,
    /// A polyline through the points in order.
    Line,
}

/// One named series.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// CSS colour.
    pub color: &'static str,
    /// Points `(x, y)`; non-finite or (on log axes) non-positive points are skipped.
    pub points: Vec<(f64, f64)>,
    /// Mark.
    pub mark: Mark,
}

/// A figure.
#[derive(Clone, Debug, Default)]
pub struct Figure {
    /// Title.
    pub title: String,
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
    /// Draw `y = x` and the band `x/f ≤ y ≤ x·f` when set.
    pub diagonal_band: Option<f64>,
    /// Data.
    pub series: Vec<Series>,
}

/// One axis of a figure.
#[derive(Clone, Debug, Default)]
pub struct Axis {
    /// Label.
    pub label: String,
    /// log10 scale.
    pub log: bool,
}

impl Axis {
    /// A linear axis labelled `label`.
    fn linear(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            log: false,
        }
    }

    /// `v` in plot coordinates (its log10 on a log axis).
    fn coord(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    /// Whether `v` can be drawn: finite, and positive on a log axis.
    fn shows(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }
}

impl Figure {
    /// `series` under `title` on linear axes labelled `x_label` and `y_label`, no diagonal.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        series: Vec<Series>,
    ) -> Self {
        Self {
            title: title.into(),
            x: Axis::linear(x_label),
            y: Axis::linear(y_label),
            series,
            ..Self::default()
        }
    }

    /// The same figure with a log10 x axis (when `x`) and a log10 y axis (when `y`).
    pub fn log(mut self, x: bool, y: bool) -> Self {
        self.x.log = x;
        self.y.log = y;
        self
    }

    /// The same figure with the line `y = x` and the band `x/f ≤ y ≤ x·f`.
    pub fn band(mut self, f: f64) -> Self {
        self.diagonal_band = Some(f);
        self
    }
}

impl Series {
    /// Circles at `points`.
    pub fn dots(name: impl Into<String>, color: &'static str, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            color,
            points,
            mark: Mark::Dot,
        }
    }

    /// A polyline through `points`, in order.
    pub fn line(name: impl Into<String>, color: &'static str, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            color,
            points,
            mark: Mark::Line,
        }
    }
}

const W: f64 = 640.0;
const H: f64 = 480.0;
const L: f64 = 80.0;
const R: f64 = 170.0;
const T: f64 = 40.0;
const B: f64 = 60.0;

impl Figure {
    /// Renders the figure as an SVG document.
    pub fn to_svg(&self) -> String {
        let (ax, ay) = (&self.x, &self.y);
        let ok = |&(x, y): &(f64, f64)| ax.shows(x) && ay.shows(y);
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied().filter(ok))
            .map(|(x, y)| (ax.coord(x), ay.coord(y)))
            .collect();
        let (mut x0, mut x1, mut y0, mut y1) = bounds(&pts);
        if self.diagonal_band.is_some() {
            let lo = x0.min(y0);
            let hi = x1.max(y1);
            (x0, x1, y0, y1) = (lo, hi, lo, hi);
        }
        let px = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
        let py = |y: f64| H - B - (y - y0) / (y1 - y0) * (H - T - B);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>
"#,
            (L + W - R) / 2.0,
            esc(&self.title)
        );
        if let Some(f) = self.diagonal_band {
            let lf = ax.coord(f);
            let poly = [(x0, x0 + lf), (x1, x1 + lf), (x1, x1 - lf), (x0, x0 - lf)];
            let p: Vec<String> = poly
                .iter()
                .map(|&(a, b)| format!("{:.1},{:.1}", px(a), py(b.clamp(y0, y1))))
                .collect();
            let _ = writeln!(
                s,
                r##"<polygon points="{}" fill="#dde8f5" stroke="none"/>"##,
                p.join(" ")
            );
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#6a8fc2" stroke-dasharray="4 3"/>"##,
                px(x0),
                py(x0),
                px(x1),
                py(x1)
            );
        }
        let _ = writeln!(
            s,
            r#"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="black"/>"#,
            W - L - R,
            H - T - B
        );
        for (k, v) in ticks(x0, x1).into_iter().enumerate() {
            let _ = k;
            let _ = writeln!(
                s,
                r#"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="black"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4}</text>"#,
                px(v),
                H - B,
                H - B + 5.0,
                H - B + 18.0,
                label(v, ax.log)
            );
        }
        for v in ticks(y0, y1) {
            let _ = writeln!(
                s,
                r#"<line x1="{0}" y1="{1:.1}" x2="{2}" y2="{1:.1}" stroke="black"/><text x="{3}" y="{4:.1}" text-anchor="end">{5}</text>"#,
                L - 5.0,
                py(v),
                L,
                L - 8.0,
                py(v) + 4.0,
                label(v, ay.log)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (L + W - R) / 2.0,
            H - 18.0,
            esc(&ax.label)
        );
        let _ = writeln!(
            s,
            r#"<text x="18" y="{0}" text-anchor="middle" transform="rotate(-90 18 {0})">{1}</text>"#,
            (T + H - B) / 2.0,
            esc(&ay.label)
        );
        for (k, ser) in self.series.iter().enumerate() {
            let p: Vec<(f64, f64)> = ser
                .points
                .iter()
                .copied()
                .filter(ok)
                .map(|(x, y)| (px(ax.coord(x)), py(ay.coord(y))))
                .collect();
            match ser.mark {
                Mark::Dot => {
                    for (x, y) in &p {
                        let _ = writeln!(
                            s,
                            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}" fill-opacity="0.75"/>"#,
                            ser.color
                        );
                    }
                }
                Mark::Line => {
                    let d: Vec<String> = p.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                    let _ = writeln!(
                        s,
                        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
                        d.join(" "),
                        ser.color
                    );
                }
            }
            let ly = T + 14.0 + 18.0 * k as f64;
            let _ = writeln!(
                s,
                r#"<circle cx="{}" cy="{}" r="4" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                W - R + 14.0,
                ly - 4.0,
                ser.color,
                W - R + 24.0,
                ly,
                esc(&ser.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn bounds(p: &[(f64, f64)]) -> (f64, f64, f64, f64) {
    let mut b = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in p {
        b = (b.0.min(x), b.1.max(x), b.2.min(y), b.3.max(y));
    }
    if !b.0.is_finite() {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |lo: f64, hi: f64| {
        let d = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
        (lo - d, hi + d)
    };
    let (x0, x1) = pad(b.0, b.1);
    let (y0, y1) = pad(b.2, b.3);
    (x0, x1, y0, y1)
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 7.0)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + 1e-12 * span.abs() {
        out.push(v);
        v += step;
    }
    out
}

fn label(v: f64, log: bool) -> String {
    if log {
        if (v - v.round()).abs() < 1e-9 {
            format!("1e{}", v.round() as i64)
        } else {
            format!("{:.2e}", 10f64.powf(v))
        }
    } else if v.abs() >= 1e4 || (v != 0.0 && v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_looking_svg() {
        let series = vec![Series::dots(
            "a",
            "red",
            vec![(1.0, 2.0), (10.0, 8.0), (-1.0, 3.0)],
        )];
        let f = Figure::new("Q <pred> vs exact", "", "", series)
            .log(true, true)
            .band(2.0);
        let s = f.to_svg();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        assert_eq!(
            s.matches("<circle").count(),
            2 + 1,
            "two finite points plus one legend mark"
        );
        assert!(s.contains("&lt;pred&gt;"));
    }
}
