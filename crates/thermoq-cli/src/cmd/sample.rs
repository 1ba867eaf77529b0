//! `thermoq sample`: run a batch of chains on a model file and report moments as JSON.
//!
//! Chains start uniformly at random (chain `c` from its own stream of `--seed`), discard
//! `--burn-in` sweeps and record `--sweeps` sweeps each. Chain `c` always uses RNG stream `c`, so
//! the output depends on the seed and configuration only, not on the thread count.

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use thermoq_core::{Coloring, Graph};
use thermoq_models::IsingModel;
use thermoq_samplers::observe::{MomentObserver, Observer};
use thermoq_samplers::{BatchSampler, ChainBatch, GibbsKernel, KernelKind};

/// Arguments of `thermoq sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Model file (thermoq-ising-v1, JSON or binary).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Kernel: rs1, ss1, mh1, blk-alt, blk-sym or blk-rs.
    #[arg(long, default_value = "blk-sym")]
    pub kernel: String,
    /// Number of independent chains.
    #[arg(long, default_value_t = 64)]
    pub chains: usize,
    /// Recorded sweeps per chain (after burn-in).
    #[arg(long, default_value_t = 2000)]
    pub sweeps: usize,
    /// Discarded sweeps per chain before recording.
    #[arg(long, default_value_t = 200)]
    pub burn_in: usize,
    /// Seed of the run (chain c uses ChaCha8 stream c of this seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Colouring for block kernels: a JSON array with one colour 0..k per spin, or an object
    /// `{"colors": [...]}`. Validated (proper, every colour used). Default: DSATUR.
    #[arg(long, value_name = "FILE")]
    pub colors: Option<PathBuf>,
    /// Write the JSON here (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Memory budget such as `512M` or `4G` (default: the available memory). The run refuses up
    /// front when its estimate (states, RNGs and moment sums of every chain) exceeds it.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
}

/// The configuration echoed into the output.
#[derive(Debug, Serialize)]
pub struct SampleConfig {
    /// Model file as given.
    pub model: String,
    /// Kernel name.
    pub kernel: String,
    /// Number of chains.
    pub chains: usize,
    /// Recorded sweeps per chain.
    pub sweeps: usize,
    /// Burn-in sweeps per chain.
    pub burn_in: usize,
    /// Seed.
    pub seed: u64,
    /// Colouring file, if any.
    pub colors: Option<String>,
    /// Number of colour classes used (block kernels).
    pub n_colors: Option<usize>,
    /// Worker threads used.
    pub threads: usize,
    /// thermoq version.
    pub thermoq_version: String,
}

/// The JSON document `thermoq sample` writes.
#[derive(Debug, Serialize)]
pub struct SampleOutput {
    /// Number of spins.
    pub n: usize,
    /// Number of recorded states (chains × sweeps).
    pub count: u64,
    /// `⟨x_i⟩` per spin.
    pub m1: Vec<f64>,
    /// `⟨x_i x_j⟩` per edge, in file order.
    pub m2_edges: Vec<f64>,
    /// Mean energy `⟨E⟩` (β not included).
    pub energy_mean: f64,
    /// Variance of the energy over recorded states.
    pub energy_var: f64,
    /// The run's configuration.
    pub config: SampleConfig,
}

/// Reads a colouring file and validates it against `g`.
pub fn load_colors(path: &Path, g: &Graph) -> Result<Coloring> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading colouring file {}", path.display()))?;
    Coloring::from_json_str(&text, g).with_context(|| format!("{}", path.display()))
}

impl SampleArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        if self.chains == 0 {
            bail!("chains: is 0, expected at least 1");
        }
        if self.sweeps == 0 {
            bail!("sweeps: is 0, expected at least 1");
        }
        if self.threads == Some(0) {
            bail!("threads: is 0, expected at least 1");
        }
        let kind = KernelKind::parse(&self.kernel)?;
        let budget = crate::budget::Budget::new(self.max_memory.as_deref())?;
        // Counts are checked before anything is loaded or allocated.
        let per_chain_sweeps = crate::budget::add(
            self.burn_in as u64,
            self.sweeps as u64,
            "--burn-in + --sweeps",
        )?;
        crate::budget::mul(
            self.chains as u64,
            per_chain_sweeps,
            "--chains × (--burn-in + --sweeps)",
        )?;
        let model = IsingModel::load(&self.model)
            .with_context(|| format!("loading model {}", self.model.display()))?;
        let g = thermoq_models::EnergyModel::graph(&model);
        let (n, m) = (g.n() as u64, g.n_edges() as u64);
        crate::budget::check_work(
            crate::budget::product(&[self.chains as u64, per_chain_sweeps, n]),
            "--chains, --sweeps, --burn-in",
        )?;
        // Per chain: its spins (1 byte each), its RNG and its moment sums (8 bytes per spin and
        // per edge); the whole batch is resident at once.
        let per_chain = crate::budget::product(&[8, n + m]).and_then(|b| b.checked_add(n + 512));
        budget.check(
            &format!("{} chains of {n} spins and {m} edges", self.chains),
            per_chain.and_then(|b| b.checked_mul(self.chains as u64)),
            "--chains",
        )?;
        let coloring = match &self.colors {
            Some(p) => {
                if !kind.is_block() {
                    tracing::warn!("--colors is ignored by the single-site kernel {kind}");
                }
                Some(load_colors(p, g)?)
            }
            None => None,
        };
        let kernel = GibbsKernel::new(kind, g, coloring)?;
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(t) = self.threads {
            builder = builder.num_threads(t);
        }
        let pool = builder.build().context("starting the worker threads")?;
        let out = pool.install(|| self.sample(&model, &kernel))?;
        // Energies of magnitude near f64::MAX overflow in sums (J = 1e308): an error naming the
        // quantity, never a JSON null.
        if !out.energy_mean.is_finite() {
            bail!(
                "energy_mean: is {}, not representable as a finite f64 (the model's energies are \
                 too large to sum; rescale the couplings J, the biases h and β)",
                out.energy_mean
            );
        }
        // The variance is a difference of squares: `None` once E² overflows.
        let Some(energy_var) = out.energy_var else {
            bail!(
                "energy_var: not representable (|energy_mean| = {:e}, its square overflows f64; \
                 rescale the couplings J, the biases h and β)",
                out.energy_mean.abs()
            );
        };
        if let Some(i) = out.m1.iter().position(|v| !v.is_finite()) {
            bail!("m1[{i}]: is {}, not a finite number", out.m1[i]);
        }
        if let Some(i) = out.m2_edges.iter().position(|v| !v.is_finite()) {
            bail!("m2_edges[{i}]: is {}, not a finite number", out.m2_edges[i]);
        }
        let doc = SampleOutput {
            n: thermoq_models::EnergyModel::n_spins(&model),
            count: out.count,
            m1: out.m1,
            m2_edges: out.m2_edges,
            energy_mean: out.energy_mean,
            energy_var,
            config: SampleConfig {
                model: self.model.display().to_string(),
                kernel: kind.name().into(),
                chains: self.chains,
                sweeps: self.sweeps,
                burn_in: self.burn_in,
                seed: self.seed,
                colors: self.colors.as_ref().map(|p| p.display().to_string()),
                n_colors: kernel.coloring().map(Coloring::n_colors),
                threads: pool.current_num_threads(),
                thermoq_version: env!("CARGO_PKG_VERSION").into(),
            },
        };
        let text = serde_json::to_string_pretty(&doc)?;
        match &self.out {
            Some(p) => thermoq_core::format::write_atomic(p, format!("{text}\n").as_bytes())?,
            None => {
                let mut so = std::io::stdout().lock();
                writeln!(so, "{text}").context("writing to standard output")?;
            }
        }
        Ok(())
    }

    /// Burn-in and recording in chunks so that the progress bar moves; the RNG streams continue
    /// across chunks, so chunking does not change the samples.
    fn sample(
        &self,
        model: &IsingModel,
        kernel: &GibbsKernel,
    ) -> Result<thermoq_samplers::observe::Moments> {
        let n = thermoq_models::EnergyModel::n_spins(model);
        // Checked in `run`; saturating here only to keep this function panic-free on its own.
        let total = self.burn_in.saturating_add(self.sweeps) as u64;
        let bar = if std::io::stderr().is_terminal() {
            let b = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{msg:>8} [{bar:40}] {pos}/{len} sweeps ({eta})")
            {
                b.set_style(style);
            }
            b
        } else {
            ProgressBar::hidden()
        };
        let mut batch = ChainBatch::uniform(self.chains, n, self.seed);
        let mut sampler = BatchSampler::new(model, kernel, self.chains, self.seed);
        let chunk = (self.burn_in.saturating_add(self.sweeps) / 100).max(1);
        bar.set_message("burn-in");
        let mut done = 0;
        while done < self.burn_in {
            let k = chunk.min(self.burn_in - done);
            sampler.sweep(&mut batch, k)?;
            done += k;
            bar.inc(k as u64);
        }
        bar.set_message("sampling");
        let mut acc: Option<MomentObserver<'_, IsingModel>> = None;
        let mut done = 0;
        while done < self.sweeps {
            let k = chunk.min(self.sweeps - done);
            let o = sampler.run(&mut batch, 0, k, |_| MomentObserver::new(model))?;
            match &mut acc {
                Some(a) => a.merge(o),
                None => acc = Some(o),
            }
            done += k;
            bar.inc(k as u64);
        }
        bar.finish_and_clear();
        let acc = acc.context("no sweeps recorded")?;
        Ok(acc.moments())
    }
}
