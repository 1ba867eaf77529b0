//! Per-mode contributions, relevance and the observable-relevant slow cluster `C*(O)`.
//!
//! `c_j = Σ_a |f̂_{a,j}|² (1+σ_j)/(2(1−σ_j))` so that `Σ_{j≥1} c_j = Σ_a v_a / 2` (the exact
//! asymptotic variance, halved). The cluster is the smallest set of *relevant* modes
//! (`r_j = max_a |f̂_{a,j}|²/Var_π[f_a] ≥ ε_overlap`) taken in decreasing `c_j` whose sum reaches
//! `(1 − ε_cluster) Σ_{j≥1} c_j`; `ε_cluster = 0` keeps every relevant mode.
//!
//! **Degenerate groups.** The kernels studied here have exactly degenerate eigenvalues (e.g.
//! `σ = 1 − 1/N` for single-site kernels at weak coupling, and symmetry-related modes in
//! general). Inside a degenerate eigenspace the eigenvectors are arbitrary, so a cluster that
//! keeps part of a group is not a function of the kernel, and its `T_O` is not differentiable.
//! [`select_cluster`] therefore closes the chosen set under degenerate groups: every mode whose
//! `σ` equals (relative tolerance `group_tol`, default 1e-9) that of a chosen mode is added, even
//! if irrelevant. The added modes carry `c_j` at the level of the group's other members, so `T_O`
//! changes by at most the group's own weight; `|C*|` counts them.

use super::SpectralView;

/// Default relative tolerance under which two eigenvalues are one degenerate group.
pub const DEFAULT_GROUP_TOL: f64 = 1e-9;

/// `c_j = Σ_a |f̂_{a,j}|² (1+σ_j)/(2(1−σ_j))` for every mode (`c_0 = 0`: the constant mode has no
/// overlap with centred observables). A mode with `σ_j = 1` and non-zero overlap gives `+∞`.
pub fn mode_contributions(sv: &SpectralView<'_>) -> Vec<f64> {
    let na = sv.overlaps.nrows();
    let mut c = vec![0.0; sv.sigma.len()];
    for (j, cj) in c.iter_mut().enumerate().skip(1) {
        let w: f64 = (0..na).map(|a| sv.overlaps[(a, j)].powi(2)).sum();
        let s = sv.sigma[j];
        *cj = if w == 0.0 {
            0.0
        } else if s >= 1.0 {
            f64::INFINITY
        } else {
            w * (1.0 + s) / (2.0 * (1.0 - s))
        };
    }
    c
}

/// `r_j = max_a |f̂_{a,j}|² / Var_π[f_a]` (observables with zero variance are skipped; `r_0 = 0`).
pub fn relevance(sv: &SpectralView<'_>, var_pi: &[f64]) -> Vec<f64> {
    let mut r = vec![0.0; sv.sigma.len()];
    for (j, rj) in r.iter_mut().enumerate().skip(1) {
        for (a, &v) in var_pi.iter().enumerate() {
            if v > 0.0 {
                *rj = f64::max(*rj, sv.overlaps[(a, j)].powi(2) / v);
            }
        }
    }
    r
}

/// A selected cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterChoice {
    /// Mode indices of `C*`: relevant modes in decreasing `c_j`, then the group-closure additions.
    pub modes: Vec<usize>,
    /// `T_O = Σ_{j∈C*} c_j`.
    pub t: f64,
    /// `Σ_{j≥1} c_j` over all modes.
    pub total: f64,
}

/// Whether two eigenvalues belong to one degenerate group.
pub fn same_group(a: f64, b: f64, group_tol: f64) -> bool {
    a == b || (a - b).abs() <= group_tol * a.abs().max(b.abs())
}

/// Selects `C*` from contributions `c`, relevances `r` and eigenvalues `sigma` (all per mode,
/// mode 0 constant and never selected).
pub fn select_cluster(
    c: &[f64],
    r: &[f64],
    sigma: &[f64],
    eps_overlap: f64,
    eps_cluster: f64,
    group_tol: f64,
) -> ClusterChoice {
    let nm = c.len();
    let total: f64 = c.iter().skip(1).sum();
    let mut rel: Vec<usize> = (1..nm).filter(|&j| r[j] >= eps_overlap).collect();
    rel.sort_by(|&a, &b| c[b].total_cmp(&c[a]).then(a.cmp(&b)));
    let target = (1.0 - eps_cluster) * total;
    let mut chosen = vec![false; nm];
    let mut modes = Vec::new();
    let mut acc = 0.0;
    for &j in &rel {
        if eps_cluster > 0.0 && acc >= target {
            break;
        }
        chosen[j] = true;
        modes.push(j);
        acc += c[j];
    }
    // close under degenerate groups: walk modes in σ order, group consecutive equal σ
    let mut by_sigma: Vec<usize> = (1..nm).collect();
    by_sigma.sort_by(|&a, &b| sigma[b].total_cmp(&sigma[a]).then(a.cmp(&b)));
    let mut start = 0;
    while start < by_sigma.len() {
        let mut end = start + 1;
        while end < by_sigma.len()
            && same_group(sigma[by_sigma[end - 1]], sigma[by_sigma[end]], group_tol)
        {
            end += 1;
        }
        let group = &by_sigma[start..end];
        if group.iter().any(|&j| chosen[j]) {
            for &j in group {
                if !chosen[j] {
                    chosen[j] = true;
                    modes.push(j);
                }
            }
        }
        start = end;
    }
    let t = modes.iter().map(|&j| c[j]).sum();
    ClusterChoice { modes, t, total }
}
