//! The report of [`crate::exp1`]: `cells.csv`, the predicted-vs-exact and spectrum figures,
//! and `REPORT.md`.

use super::{Render, Rendered, cells_csv, preamble, set, table_head};
use crate::exp1::{CellResult, Exp1, Family};
use crate::svg::{Figure, Series};
use crate::{ReproError, ResultsOf};
use serde::Serialize;
use std::fmt::Write;
use thermoq_spectral::Parity;

type Res = ResultsOf<Exp1>;

/// One row of `cells.csv`.
#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    family: &'static str,
    n: usize,
    beta: f64,
    gap: f64,
    phi2_parity: Parity,
    phi2_max_overlap: f64,
    reversibility_residual: f64,
    stationarity_residual: f64,
    gamma_eff: f64,
    tau_max: f64,
    burn_in: u64,
    window: u64,
    q_op: f64,
    naive_q: f64,
    naive_ratio: f64,
    one_gap_q: f64,
    one_gap_ratio: f64,
    struct_perp_q: f64,
    struct_perp_ratio: f64,
    cluster_size: usize,
    matrix_free_ratio: f64,
    mc_q: Option<f64>,
    mc_rel_diff: Option<f64>,
    tau_magnetization: f64,
}

impl Render for Exp1 {
    fn cells_csv(res: &Res) -> Result<String, ReproError> {
        cells_csv::<Exp1, _>(res, None, |id, c, x| Row {
            id,
            family: c.family.tag(),
            n: c.n,
            beta: c.beta,
            gap: x.gap,
            phi2_parity: x.phi2_parity,
            phi2_max_overlap: x.phi2_max_overlap,
            reversibility_residual: x.reversibility_residual,
            stationarity_residual: x.stationarity_residual,
            gamma_eff: x.gamma_eff,
            tau_max: x.tau_max,
            burn_in: x.burn_in,
            window: x.window,
            q_op: x.q_op,
            naive_q: x.naive.q,
            naive_ratio: x.naive.ratio,
            one_gap_q: x.one_gap.q,
            one_gap_ratio: x.one_gap.ratio,
            struct_perp_q: x.struct_perp.q,
            struct_perp_ratio: x.struct_perp.ratio,
            cluster_size: x.struct_perp.cluster_size,
            matrix_free_ratio: x.matrix_free.ratio,
            mc_q: x.mc.as_ref().map(|m| m.q_mc),
            mc_rel_diff: x.mc.as_ref().map(|m| m.rel_diff),
            tau_magnetization: x.tau_magnetization,
        })
    }

    fn files(res: &Res, out: &mut Rendered) {
        out.push("q_pred_vs_exact.svg", scatter(res).to_svg());
        out.push("spectra.svg", spectra(res).to_svg());
        out.push("REPORT.md", report(res));
    }

    fn headline(res: &Res) -> String {
        let s = &res.summary;
        format!(
            "{} cells; φ₂ odd in {}; naive over-predicts ≥ {:.1e}×; struct-perp tracks {}/{}, one-gap {}/{} (factor 2)",
            s.cells,
            s.phi2_odd_cells,
            s.naive_min_overprediction,
            s.struct_perp_tracks,
            s.cells,
            s.one_gap_tracks,
            s.cells
        )
    }
}

fn scatter(res: &Res) -> Figure {
    let pts = |f: fn(&CellResult) -> f64| {
        res.cells
            .iter()
            .map(|r| (r.result.q_op, f(&r.result)))
            .collect::<Vec<_>>()
    };
    let n = res.cells.len();
    let title = format!("exp1: predicted vs exact Q_op ({n} cells, K = 50 τ_max)");
    let series = vec![
        Series::dots("struct-perp", "#1f77b4", pts(|r| r.struct_perp.q)),
        Series::dots("one-gap", "#ff7f0e", pts(|r| r.one_gap.q)),
    ];
    Figure::new(title, "exact Q_op", "predicted Q", series)
        .log(true, true)
        .band(2.0)
}

fn spectra(res: &Res) -> Figure {
    let mut series = Vec::new();
    let colors = [
        ("#1f77b4", "#aec7e8"),
        ("#d62728", "#ff9896"),
        ("#2ca02c", "#98df8a"),
        ("#9467bd", "#c5b0d5"),
    ];
    for (f, (ce, co)) in Family::ALL.iter().zip(colors) {
        let Some(r) = res
            .cells
            .iter()
            .find(|r| r.config.family == *f && r.config.n == 10 && r.config.beta == 2.0)
        else {
            continue;
        };
        let ev = |p: Parity| {
            r.result
                .spectrum_top
                .iter()
                .enumerate()
                .filter(|(_, (_, q))| *q == p)
                .map(|(j, (s, _))| ((j + 2) as f64, 1.0 - s))
                .collect::<Vec<_>>()
        };
        for (parity, word, color) in [(Parity::Even, "even", ce), (Parity::Odd, "odd", co)] {
            series.push(Series::dots(
                format!("{} {word}", f.tag()),
                color,
                ev(parity),
            ));
        }
    }
    Figure::new(
        "Sweep-kernel relaxation rates 1 − σ_j by parity (N = 10, β = 2)",
        "mode index j",
        "1 − σ_j",
        series,
    )
    .log(false, true)
}

fn report(res: &Res) -> String {
    let (s, g) = (&res.summary, &res.grid);
    let n = s.cells;
    let mut r = preamble::<Exp1>(
        res,
        "exact diagonalization: the spectral gap is the wrong object",
        "",
        "",
    );
    let _ = writeln!(
        r,
        "Grid (SCIENCE.md II.6): Curie–Weiss, SK, Hopfield M = 2, 3 × N ∈ {} × β ∈ {}; bias-free; kernel RS1 (random-scan heat bath; time in sweeps of N steps); coupling observables f_ij = −x_i x_j; data law: 3 random patterns with their negatives, bit-flip ε = 0.1; B = ⌈5/γ_eff⌉, K = ⌈50 τ_max⌉, {} chain, uniform start. Exact Q_op = ‖g‖²/E‖ĝ − g‖² with the exact bias and the exact finite-window variance. Every τ in this report is exact (from the spectrum), not an estimate.\n",
        set(&g.n),
        set(&g.beta),
        g.chains
    );
    table_head(
        &mut r,
        "## Headline, beside the preprint",
        "quantity | thermoq (this run) | preprint",
    );
    let mut row = |quantity: &str, ours: String, preprint: &str| {
        let _ = writeln!(r, "| {quantity} | {ours} | {preprint} |");
    };
    let odd = s.phi2_odd_cells;
    row("cells with φ₂ odd", format!("{odd}/{n}"), "\"throughout\"");
    let overlap = s.phi2_odd_max_overlap;
    row(
        "max overlap ⟨f̄, φ₂⟩ on odd cells",
        format!("{overlap:.1e}"),
        "≤ 3.5×10⁻¹⁷",
    );
    let (lo, hi) = (s.naive_min_overprediction, s.naive_max_overprediction);
    let naive = format!("{lo:.1e} – {hi:.1e}");
    row(
        "naive over-prediction of Q_op (odd cells)",
        naive,
        "10²⁶ – 10³⁰",
    );
    let (sp, og) = (s.struct_perp_tracks, s.one_gap_tracks);
    row(
        "struct-perp tracks (within 2×)",
        format!("{sp}/{n}"),
        "45/48",
    );
    row("one-gap tracks (within 2×)", format!("{og}/{n}"), "23/48");
    let mc = format!(
        "{} cells, max |ΔQ|/Q = {:.1} %, exact inside 95 % CI in {}/{}",
        s.mc_cells,
        100.0 * s.mc_max_rel_diff,
        s.mc_exact_in_ci,
        s.mc_cells
    );
    row(
        "Monte Carlo check of exact Q_op",
        mc,
        "0.7 – 3.3 % over 5 cells",
    );
    let (med, max) = (
        s.magnetization_mistiming_median,
        s.magnetization_mistiming_max,
    );
    let mistiming = format!("median {med:.2}×, max {max:.1e}×");
    let what = "τ_int of the magnetization ÷ τ_max of the gradient observables";
    row(what, mistiming, "72× (blog)");
    let (rev, stat) = (s.max_reversibility_residual, s.max_stationarity_residual);
    let residuals = format!("{rev:.1e} / {stat:.1e}");
    row(
        "max reversibility / stationarity residual",
        residuals,
        "< 10⁻¹⁰ gate",
    );
    r.push('\n');
    table_head(
        &mut r,
        "## Tracking rates (cells within a factor F of exact Q_op, K = 50 τ_max)",
        "predictor | F = 1.5 | F = 2 | F = 3",
    );
    for (k, c) in &s.tracking {
        let _ = writeln!(r, "| {k} | {} | {} | {} |", c.f1_5, c.f2, c.f3);
    }
    table_head(
        &mut r,
        "\n## K-sweep (tracking within 2× at K = m·τ_max)",
        "K/τ_max | one-gap | struct-perp",
    );
    for (m, og, sp) in &s.k_sweep_tracks {
        let _ = writeln!(r, "| {m} | {og}/{n} | {sp}/{n} |");
    }
    let _ = writeln!(r, "\n## Where and why we differ from the preprint\n");
    let _ = writeln!(
        r,
        "* The preprint's 48 cells, its δ parameter and its tolerance are not public (SCIENCE.md §2.1); this grid is our own (II.6) and was fixed before any result was seen. Counts are compared side by side, never tuned."
    );
    let _ = writeln!(
        r,
        "* Our eigenvectors come from per-parity-sector diagonalization, so odd modes are exactly odd and their overlaps with even observables sit at the float floor of the summation; the naive ratio is then limited only by that floor, which is why its magnitude can differ from the preprint's 10²⁶–10³⁰ while the conclusion (astronomical over-prediction from a symmetry zero) is the same."
    );
    let _ = writeln!(
        r,
        "* Predictors here are stationary: K/2 · ‖g‖²/T. Exact Q_op includes the burn-in bias and the finite-window correction, so at K = τ_max every predictor over-states Q; the K-sweep table shows how tracking improves with K/τ.\n"
    );
    table_head(
        &mut r,
        "## Cells",
        "cell | gap | φ₂ | ⟨f,φ₂⟩ | γ_eff | τ_max | B | K | Q_op | naive/Q | one-gap/Q | struct-perp/Q | C* | MC ΔQ/Q",
    );
    for rec in &res.cells {
        let x = &rec.result;
        let mc = x.mc.as_ref().map_or("—".to_string(), |m| {
            format!("{:.1} %", 100.0 * m.rel_diff)
        });
        let _ = writeln!(
            r,
            "| {} | {:.3e} | {:?} | {:.0e} | {:.3e} | {:.1} | {} | {} | {:.3e} | {:.1e} | {:.2} | {:.2} | {} | {} |",
            rec.id,
            x.gap,
            x.phi2_parity,
            x.phi2_max_overlap,
            x.gamma_eff,
            x.tau_max,
            x.burn_in,
            x.window,
            x.q_op,
            x.naive.ratio,
            x.one_gap.ratio,
            x.struct_perp.ratio,
            x.struct_perp.cluster_size,
            mc
        );
    }
    let _ = writeln!(
        r,
        "\nFigures: `q_pred_vs_exact.svg` (log–log, factor-2 band), `spectra.svg` (relaxation rates by parity). Every number is in `results.json`; one row per cell in `cells.csv`."
    );
    r
}
