//! Checkpoints: the complete state of a [`CdTrainer`] as JSON, written atomically.
//!
//! A checkpoint holds the model (`thermoq-ising-v1` record), visible spins, configuration,
//! optimizer state (moments and step count), step and epoch counters and the persistent chains.
//! The trainer draws step `s`'s randomness from stream `s` of its seed, so `(seed, step)` *is* its
//! RNG position: resuming from a checkpoint continues bit-identically (floats round-trip exactly
//! through `serde_json`'s shortest representation with `float_roundtrip`).
//!
//! Files are written to `<path>.tmp` and renamed over `<path>`, so a crash never leaves a
//! half-written checkpoint behind.

use crate::TrainError;
use crate::cd::{CdConfig, CdTrainer};
use crate::error::{check_finite, check_len};
use crate::optim::Optimizer;
use serde::{Deserialize, Serialize};
use std::path::Path;
use thermoq_core::IsingFile;
use thermoq_models::{EnergyModel, EnergyModelExt, IsingModel};
use thermoq_samplers::ChainBatch;

/// Format tag of checkpoint files.
pub const CHECKPOINT_FORMAT: &str = "thermoq-train-cd-v1";

/// Validates an optimizer read from a checkpoint for a model with `n_params` parameters: the
/// learning-rate schedule, Adam's β₁, β₂ ∈ [0, 1) and ε ≥ 0, and its moment vectors — both empty
/// before the first step (`t = 0`), otherwise both of length `n_params`, finite, and second
/// moments `v ≥ 0`. Errors name the field as `<prefix>.<field>`.
pub fn validate_optimizer(prefix: &str, o: &Optimizer, n_params: usize) -> Result<(), TrainError> {
    let named = |e: TrainError| match e {
        TrainError::Invalid { field, message } => TrainError::Invalid {
            field: format!("{prefix}.{field}"),
            message,
        },
        other => other,
    };
    match o {
        Optimizer::Sgd(s) => s.schedule.check().map_err(named)?,
        Optimizer::Adam(a) => {
            a.schedule.check().map_err(named)?;
            a.params.check().map_err(named)?;
            let fresh = a.m.is_empty() && a.v.is_empty();
            if fresh && a.t > 0 {
                return Err(TrainError::Invalid {
                    field: format!("{prefix}.m"),
                    message: format!(
                        "is empty after {} steps, expected {n_params} first moments",
                        a.t
                    ),
                });
            }
            if !fresh {
                check_len(&format!("{prefix}.m"), a.m.len(), n_params)?;
                check_len(&format!("{prefix}.v"), a.v.len(), n_params)?;
                check_finite(&format!("{prefix}.m"), &a.m)?;
                check_finite(&format!("{prefix}.v"), &a.v)?;
                if let Some(i) = a.v.iter().position(|&v| v < 0.0) {
                    return Err(TrainError::Invalid {
                        field: format!("{prefix}.v[{i}]"),
                        message: format!(
                            "is {}, expected a second moment ≥ 0 (a mean of squared gradients)",
                            a.v[i]
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The serializable state of a [`CdTrainer`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// The model with its current parameters.
    pub model: IsingFile,
    /// Visible spins in data order.
    pub visible: Vec<usize>,
    /// Trainer configuration (holds the seed).
    pub config: CdConfig,
    /// Optimizer state.
    pub optimizer: Optimizer,
    /// Steps taken (the next step uses RNG stream `step`).
    pub step: u64,
    /// Epochs completed.
    pub epoch: u64,
    /// Persistent chains, chain-major (`n_chains × N`), if created.
    pub chains: Option<Vec<i8>>,
}

impl Checkpoint {
    /// Captures a trainer's state.
    pub fn of(t: &CdTrainer) -> Self {
        Self {
            format: CHECKPOINT_FORMAT.into(),
            model: t.model.to_file(),
            visible: t.visible.clone(),
            config: t.config.clone(),
            optimizer: t.optimizer.clone(),
            step: t.step,
            epoch: t.epoch,
            chains: t.chains.as_ref().map(|c| c.as_slice().to_vec()),
        }
    }

    /// Writes the checkpoint atomically (temporary file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let io = |source| TrainError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| TrainError::Json {
            path: path.display().to_string(),
            source,
        })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a checkpoint (validated when turned into a trainer by [`Checkpoint::resume`]).
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| TrainError::Json {
            path: path.display().to_string(),
            source,
        })
    }

    /// Rebuilds the trainer, validating every field.
    pub fn resume(self) -> Result<CdTrainer, TrainError> {
        if self.format != CHECKPOINT_FORMAT {
            return Err(TrainError::Invalid {
                field: "format".into(),
                message: format!("is {:?}, expected {CHECKPOINT_FORMAT:?}", self.format),
            });
        }
        let model = IsingModel::from_file(&self.model)?;
        validate_optimizer("optimizer", &self.optimizer, model.n_params())?;
        let n = model.n_spins();
        let mut t = CdTrainer::new(model, self.visible, self.config, self.optimizer)?;
        t.step = self.step;
        t.epoch = self.epoch;
        if let Some(flat) = self.chains {
            let nc = t.config.n_chains;
            let expected = nc.checked_mul(n).ok_or_else(|| TrainError::Invalid {
                field: "config.n_chains".into(),
                message: format!("{nc} chains × {n} spins overflows"),
            })?;
            check_len("chains", flat.len(), expected)?;
            if let Some(k) = thermoq_core::first_non_spin(&flat) {
                return Err(TrainError::NotSpin {
                    row: k / n.max(1),
                    col: k % n.max(1),
                    value: flat[k],
                });
            }
            let mut cb = ChainBatch::from_state(nc, &vec![1; n]);
            cb.as_mut_slice().copy_from_slice(&flat);
            t.chains = Some(cb);
        }
        Ok(t)
    }
}
