//! The study's sizes ([`Params`] and its presets), constants, seed salts and the list of extra
//! checkpoints.

use crate::{Preset, ReproError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The preprint's rung budget R_MAX.
pub const BUDGET: usize = 96;
/// τ target of the decorrelation frontier (exp19).
pub const TAU_TARGET: f64 = 25.0;
/// Plain Gibbs reference of the stale-weights check: this many times `chains` chains (the model is
/// multimodal, so the mode-occupation noise of a few stuck chains would dominate the moments).
pub const GIBBS_CHAIN_FACTOR: usize = 4;

/// Seed salts of the study's random streams (one per part), xor-ed into `--seed`.
pub(crate) const SALT_OBS: u64 = 0x4454_4d5f_4f42_5301;
pub(crate) const SALT_TAU: u64 = 0x4454_4d5f_5441_5501;
pub(crate) const SALT_LADDER: u64 = 0x4454_4d5f_4c41_4401;
pub(crate) const SALT_TOP: u64 = 0x4454_4d5f_544f_5001;
pub(crate) const SALT_HEAT: u64 = 0x4454_4d5f_4845_4101;
pub(crate) const SALT_EQ: u64 = 0x4454_4d5f_4551_4c01;
pub(crate) const SALT_GIBBS: u64 = 0x4454_4d5f_4749_4201;
pub(crate) const SALT_GEO: u64 = 0x4454_4d5f_4745_4f01;

/// Every size of a preset, grouped by the part of the study it sizes. The groups are flattened,
/// so `results.json` and `run.json` keep one flat `params` object (`tau_warmup`, `ladder_rungs`, …).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// Training preset of the checkpoint.
    pub checkpoint_preset: String,
    /// Chains (parts 1 and 3) and PT chains (parts 2, 4, 5).
    pub chains: usize,
    /// Gradient observables in the τ subset (plus the energy).
    pub n_obs: usize,
    /// Part 1, τ vs L.
    #[serde(flatten)]
    pub tau: TauSizes,
    /// Part 2, the uniform ladders.
    #[serde(flatten)]
    pub ladder: LadderSizes,
    /// PT burn-in sweeps (every PT run: parts 2, 4, 5 and the C(α) passes).
    pub pt_burn_in: usize,
    /// Part 3, τ(α_top).
    #[serde(flatten)]
    pub top: TopSizes,
    /// The C(α) passes.
    #[serde(flatten)]
    pub heat: HeatSizes,
    /// Recorded sweeps of the equal-length ladder runs.
    pub eq_sweeps: usize,
    /// Recorded sweeps of the plain Gibbs reference of part 5.
    pub gibbs_sweeps: usize,
}

/// Sizes of part 1 (τ vs L).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TauSizes {
    /// Warm-up sweeps before the τ trajectory.
    #[serde(rename = "tau_warmup")]
    pub warmup: usize,
    /// Windows L (sweeps), doubling.
    #[serde(rename = "tau_lengths")]
    pub lengths: Vec<usize>,
}

/// Sizes of part 2 (uniform ladders).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LadderSizes {
    /// Rung counts of the uniform ladders.
    #[serde(rename = "ladder_rungs")]
    pub rungs: Vec<usize>,
    /// Hot end of the uniform ladders.
    #[serde(rename = "ladder_alpha_top")]
    pub alpha_top: f64,
    /// Recorded PT sweeps of the uniform ladders (the preprint's L_LADDER).
    #[serde(rename = "ladder_sweeps")]
    pub sweeps: usize,
}

/// Sizes of part 3 (τ at each hot end α_top).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TopSizes {
    /// The α_top grid.
    pub alpha_tops: Vec<f64>,
    /// Warm-up sweeps.
    #[serde(rename = "top_warmup")]
    pub warmup: usize,
    /// Flat window (sweeps).
    #[serde(rename = "top_window")]
    pub window: usize,
}

/// Sizes of the specific-heat profile C(α).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HeatSizes {
    /// Points of the geometric C(α) grid before refinement.
    #[serde(rename = "heat_points")]
    pub points: usize,
    /// Recorded sweeps of each C(α) pass.
    #[serde(rename = "heat_sweeps")]
    pub sweeps: usize,
}

impl Params {
    /// The sizes of `preset`.
    pub fn of(preset: Preset) -> Self {
        let quick = Self {
            checkpoint_preset: "quick".into(),
            chains: 32,
            n_obs: 256,
            tau: TauSizes {
                warmup: 1000,
                lengths: (0..7).map(|k| 250 << k).collect(),
            },
            ladder: LadderSizes {
                rungs: vec![4, 6, 8, 12, 16, 24],
                alpha_top: 0.5,
                sweeps: 2000,
            },
            pt_burn_in: 500,
            top: TopSizes {
                alpha_tops: vec![0.5, 0.18, 0.08, 0.03, 0.02, 0.01],
                warmup: 500,
                window: 2000,
            },
            heat: HeatSizes {
                points: 40,
                sweeps: 2000,
            },
            eq_sweeps: 4000,
            gibbs_sweeps: 4000,
        };
        match preset {
            Preset::Quick | Preset::Tiny => quick,
            Preset::Paper => Self {
                checkpoint_preset: "paper".into(),
                tau: TauSizes {
                    warmup: 2000,
                    lengths: (0..6).map(|k| 1000 << k).collect(),
                },
                heat: HeatSizes {
                    points: 64,
                    sweeps: 4000,
                },
                eq_sweeps: 8000,
                gibbs_sweeps: 8000,
                ..quick
            },
        }
    }

    /// A seconds-long preset for end-to-end tests of the whole study path (every phase, resume,
    /// extra checkpoints, outputs) on a small checkpoint; its numbers mean nothing.
    pub fn tiny() -> Self {
        Self {
            checkpoint_preset: "tiny".into(),
            chains: 8,
            n_obs: 12,
            tau: TauSizes {
                warmup: 20,
                lengths: vec![40, 80, 160],
            },
            ladder: LadderSizes {
                rungs: vec![4, 8],
                alpha_top: 0.5,
                sweeps: 40,
            },
            pt_burn_in: 10,
            top: TopSizes {
                alpha_tops: vec![0.5, 0.02],
                warmup: 10,
                window: 80,
            },
            heat: HeatSizes {
                points: 12,
                sweeps: 40,
            },
            eq_sweeps: 40,
            gibbs_sweeps: 40,
        }
    }

    /// Spin updates (per free spin of a sweep) the run performs, for cost projections.
    pub fn sweeps_total(&self, r_star_rungs: usize, heat_rungs: usize) -> f64 {
        let c = self.chains as f64;
        let tau =
            2.0 * c * (self.tau.warmup + self.tau.lengths.last().copied().unwrap_or(0)) as f64;
        let ladders: f64 = self.ladder.rungs.iter().sum::<usize>() as f64
            * c
            * (self.pt_burn_in + self.ladder.sweeps) as f64;
        let tops =
            self.top.alpha_tops.len() as f64 * c * (self.top.warmup + self.top.window) as f64;
        let heat = heat_rungs as f64 * c * (self.pt_burn_in + self.heat.sweeps) as f64;
        let eq = 2.0 * r_star_rungs as f64 * c * (self.pt_burn_in + self.eq_sweeps) as f64;
        let gibbs =
            2.0 * GIBBS_CHAIN_FACTOR as f64 * c * (self.pt_burn_in + self.gibbs_sweeps) as f64;
        tau + ladders + tops + heat + eq + gibbs
    }
}

/// A checkpoint of the study: a label (e.g. `e25`) and its file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckpointSpec {
    /// Short label used in tables and phase names.
    pub label: String,
    /// The checkpoint file.
    pub path: PathBuf,
}

/// Every `checkpoint-epoch-NNNN.json` in `dir` (as `train dtm --keep` writes them), labelled
/// `eNNNN` without leading zeros, by epoch; nothing when `dir` cannot be read.
pub fn checkpoints_in_dir(dir: &Path) -> Result<Vec<CheckpointSpec>, ReproError> {
    let mut v: Vec<(usize, PathBuf)> = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(_) => return Ok(Vec::new()),
    };
    for e in rd {
        let path = e?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(num) = name
            .strip_prefix("checkpoint-epoch-")
            .and_then(|r| r.strip_suffix(".json"))
            && let Ok(k) = num.parse::<usize>()
        {
            v.push((k, path.clone()));
        }
    }
    v.sort();
    Ok(v.into_iter()
        .map(|(k, path)| CheckpointSpec {
            label: format!("e{k}"),
            path,
        })
        .collect())
}

/// The extra checkpoints of the τ-vs-L and R\* parts from a list `spec` (either
/// `label=PATH,label=PATH,…` or a folder of `checkpoint-epoch-NNNN.json` files), else (`None`)
/// every `checkpoint-epoch-NNNN.json` beside the main checkpoint `main`.
pub fn extra_checkpoints(
    main: &Path,
    spec: Option<&str>,
) -> Result<Vec<CheckpointSpec>, ReproError> {
    match spec {
        Some(spec) if Path::new(spec).is_dir() => checkpoints_in_dir(Path::new(spec)),
        Some(spec) => spec
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|item| {
                let (label, path) = item.split_once('=').ok_or_else(|| {
                    ReproError::invalid(
                        "checkpoint list item",
                        format!(
                            "is {item:?}, expected label=PATH (e.g. e25=run/checkpoint-epoch-0025.json) or a folder"
                        ),
                    )
                })?;
                let label = label.trim();
                if label.is_empty()
                    || !label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(ReproError::invalid(
                        "checkpoint label",
                        format!("is {label:?}, expected letters, digits, '-' or '_'"),
                    ));
                }
                Ok(CheckpointSpec {
                    label: label.into(),
                    path: PathBuf::from(path.trim()),
                })
            })
            .collect(),
        None => main.parent().map_or(Ok(Vec::new()), checkpoints_in_dir),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs
mod tests {
    use super::*;

    #[test]
    fn checkpoint_lists_parse_and_name_their_errors() {
        let main = Path::new("/nonexistent/checkpoint.json");
        let v = extra_checkpoints(main, Some("e1=a/b.json, e25 = c.json,")).unwrap();
        assert_eq!(
            v,
            vec![
                CheckpointSpec {
                    label: "e1".into(),
                    path: "a/b.json".into()
                },
                CheckpointSpec {
                    label: "e25".into(),
                    path: "c.json".into()
                }
            ]
        );
        let e = extra_checkpoints(main, Some("e1")).unwrap_err().to_string();
        assert!(e.contains("label=PATH"), "{e}");
        let e = extra_checkpoints(main, Some("e 1=x.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("checkpoint label"), "{e}");
        // No list and an unreadable folder beside the main checkpoint: nothing.
        assert!(extra_checkpoints(main, None).unwrap().is_empty());
    }

    #[test]
    fn a_folder_lists_its_epoch_checkpoints_in_epoch_order() {
        let d = std::env::temp_dir().join(format!("thermoq-dtm-list-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for f in [
            "checkpoint-epoch-0010.json",
            "checkpoint-epoch-0002.json",
            "checkpoint.json",
            "checkpoint-epoch-x.json",
        ] {
            std::fs::write(d.join(f), b"{}").unwrap();
        }
        let v = extra_checkpoints(Path::new("/elsewhere/c.json"), d.to_str()).unwrap();
        let labels: Vec<&str> = v.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["e2", "e10"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
