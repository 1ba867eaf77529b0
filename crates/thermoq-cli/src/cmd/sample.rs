//! `thermoq sample`: run a batch of chains on a model file and report moments as JSON.
//!
//! Chains start uniformly at random (chain `c` from its own stream of `--seed`), discard
//! `--burn-in` sweeps and record `--sweeps` sweeps each. Chain `c` always uses RNG stream `c`, so
//! the output depends on the seed and configuration only, not on the thread count.
//!
//! `--engine` picks the sampler: `reference` (default; the `GibbsKernel` reference kernels, every
//! kernel) or one of the fast block engines of `thermoq_samplers::fast` (`auto`, `sparse`,
//! `sparse-f32`, `lattice`, `lanes`, and `dense` for an RBM: a model file that is an RBM's Ising
//! form — visible spins first, the edges `(i, m + j)` in row-major order, as `thermoq model rbm`
//! and the Python `Model.save` of an RBM write it — is sampled as that RBM, so `dense`, and `auto`
//! which picks it, apply to it as from Python), with
//! `--generator` choosing the lanes engine's random words. The names and the samples are those of
//! the Python API's `engine=` / `generator=` for the same seed. `--trace FILE` also writes every
//! recorded state as a NumPy `.npy` array of `int8`, shaped `(chain, draw, node)`.

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use thermoq_core::Spin;
use thermoq_core::{Coloring, Graph};
use thermoq_models::{IsingModel, Rbm};
use thermoq_samplers::fast::{Engine, FastModel, FastSampler, Generator};
use thermoq_samplers::observe::{MomentObserver, Moments, Observer};
use thermoq_samplers::{
    BatchSampler, ChainBatch, ChainSampler, Executor, GibbsKernel, KernelKind, SamplerError,
};

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
    /// Sampler: reference (the reference kernels, every kernel) or a fast block engine: auto,
    /// sparse, sparse-f32, lattice, dense, lanes (block kernels only; the same samples as the
    /// Python API's `engine=` for the same seed).
    #[arg(long, default_value = "reference")]
    pub engine: String,
    /// Random words of the lanes, lattice and dense engines: chacha8 (reference) or xoshiro128+.
    #[arg(long, default_value = "chacha8")]
    pub generator: String,
    /// Also write every recorded state here (atomically) as a NumPy `.npy` `int8` array shaped
    /// (chain, draw, node).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
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
    /// Engine that ran (`reference` or the fast engine's name, `auto` resolved).
    pub engine: String,
    /// Random-word generator (`chacha8` or `xoshiro128+`).
    pub generator: String,
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
    /// The moments over the recorded states (chains × sweeps), edges in file order, `⟨E⟩`
    /// without β; `energy_var` is always a number here (the command refuses a run where it is
    /// not representable).
    #[serde(flatten)]
    pub moments: Moments,
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
        let engine = parse_engine(&self.engine)?;
        let generator = parse_generator(&self.generator)?;
        if self.trace.is_some() {
            let bytes = crate::budget::product(&[self.chains as u64, self.sweeps as u64, n]);
            budget.check("the --trace array", bytes, "--trace")?;
        }
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(t) = self.threads {
            builder = builder.num_threads(t);
        }
        let pool = builder.build().context("starting the worker threads")?;
        let n_colors;
        let engine_name;
        let (out, trace) = match engine {
            None => {
                if generator != Generator::ChaCha8 {
                    bail!(
                        "--generator: is {:?}; the reference engine draws from chacha8 only \
                         (xoshiro128+ needs --engine lanes, lattice, dense or auto on a block kernel)",
                        self.generator
                    );
                }
                let kernel = GibbsKernel::new(kind, g, coloring)?;
                n_colors = kernel.coloring().map(Coloring::n_colors);
                engine_name = "reference".to_string();
                let mut sampler = BatchSampler::new(&model, &kernel, self.chains, self.seed);
                pool.install(|| self.sample(&model, &mut sampler))?
            }
            Some(e) => {
                if !kind.is_block() {
                    bail!(
                        "--engine: is {:?}; the fast engines run the block kernels blk-alt, \
                         blk-sym and blk-rs (use --engine reference for {kind})",
                        self.engine
                    );
                }
                // DSATUR when no colouring is given, as `FastSampler` itself would.
                let col = coloring.unwrap_or_else(|| Coloring::dsatur(g));
                n_colors = Some(col.n_colors());
                // A model file that is an RBM's Ising form (as a saved RBM is) runs as that RBM,
                // so `dense` (and `auto`, which picks it) applies as it does from Python.
                let rbm = match e {
                    Engine::Dense | Engine::Auto => Rbm::from_ising(&model).ok(),
                    _ => None,
                };
                let fast: FastModel<'_> = match &rbm {
                    Some(r) => r.into(),
                    None => (&model).into(),
                };
                let mut sampler =
                    FastSampler::with_engine(fast, kind, Some(col), self.chains, self.seed, e)
                        .map_err(|err| flag_error(err, "--engine"))?;
                sampler
                    .set_generator(generator)
                    .map_err(|err| flag_error(err, "--generator"))?;
                engine_name = sampler.engine().name().to_string();
                pool.install(|| self.sample(&model, &mut sampler))?
            }
        };
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
        if out.energy_var.is_none() {
            bail!(
                "energy_var: not representable (|energy_mean| = {:e}, its square overflows f64; \
                 rescale the couplings J, the biases h and β)",
                out.energy_mean.abs()
            );
        }
        if let Some(i) = out.m1.iter().position(|v| !v.is_finite()) {
            bail!("m1[{i}]: is {}, not a finite number", out.m1[i]);
        }
        if let Some(i) = out.m2_edges.iter().position(|v| !v.is_finite()) {
            bail!("m2_edges[{i}]: is {}, not a finite number", out.m2_edges[i]);
        }
        let n_spins = thermoq_models::EnergyModel::n_spins(&model);
        let doc = SampleOutput {
            n: n_spins,
            moments: out,
            config: SampleConfig {
                model: self.model.display().to_string(),
                kernel: kind.name().into(),
                chains: self.chains,
                sweeps: self.sweeps,
                burn_in: self.burn_in,
                seed: self.seed,
                engine: engine_name,
                generator: generator.name().into(),
                colors: self.colors.as_ref().map(|p| p.display().to_string()),
                n_colors,
                threads: pool.current_num_threads(),
                thermoq_version: env!("CARGO_PKG_VERSION").into(),
            },
        };
        if let (Some(p), Some(t)) = (&self.trace, trace) {
            thermoq_core::format::write_atomic(
                p,
                &npy_int8(&t, [self.chains, self.sweeps, n_spins]),
            )
            .with_context(|| format!("writing --trace {}", p.display()))?;
        }
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
    /// across chunks, so chunking does not change the samples. With `--trace`, also returns every
    /// recorded state, `(chain, draw, node)` in C order.
    fn sample<S: ChainSampler<State = ChainBatch>>(
        &self,
        model: &IsingModel,
        sampler: &mut S,
    ) -> Result<(thermoq_samplers::observe::Moments, Option<Vec<Spin>>)> {
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
        let mut trace: Option<Vec<Spin>> = self
            .trace
            .as_ref()
            .map(|_| vec![0; self.chains * self.sweeps * n]);
        let mut acc: Option<MomentObserver<'_, IsingModel>> = None;
        let mut done = 0;
        while done < self.sweeps {
            let k = chunk.min(self.sweeps - done);
            let o = Executor::new(k)
                .run(sampler, &mut batch, |_| Recorder {
                    moments: MomentObserver::new(model),
                    states: trace.as_ref().map(|_| vec![Vec::new()]),
                })?
                .observed;
            if let (Some(t), Some(states)) = (&mut trace, &o.states) {
                for (c, s) in states.iter().enumerate() {
                    let at = (c * self.sweeps + done) * n;
                    t[at..at + k * n].copy_from_slice(s);
                }
            }
            match &mut acc {
                Some(a) => a.merge(o.moments),
                None => acc = Some(o.moments),
            }
            done += k;
            bar.inc(k as u64);
        }
        bar.finish_and_clear();
        let acc = acc.context("no sweeps recorded")?;
        Ok((acc.moments(), trace))
    }
}

/// Moments, and with `--trace` every state of every chain (one `Vec` per chain, merged in chain
/// order).
struct Recorder<'m> {
    moments: MomentObserver<'m, IsingModel>,
    states: Option<Vec<Vec<Spin>>>,
}

impl Observer for Recorder<'_> {
    fn observe(&mut self, sweep: usize, x: &[Spin]) {
        self.moments.observe(sweep, x);
        if let Some(c) = self.states.as_mut().and_then(|s| s.last_mut()) {
            c.extend_from_slice(x);
        }
    }
    fn merge(&mut self, other: Self) {
        self.moments.merge(other.moments);
        if let (Some(s), Some(o)) = (&mut self.states, other.states) {
            s.extend(o);
        }
    }
}

/// The engine names of `--engine` (those of the Python API); `None` is the reference engine.
fn parse_engine(s: &str) -> Result<Option<Engine>> {
    match (s, Engine::from_name(s)) {
        ("reference", _) => Ok(None),
        (_, Some(e)) => Ok(Some(e)),
        _ => bail!(
            "--engine: is {s:?}, expected one of reference, auto, sparse, sparse-f32, lattice, \
             dense, lanes"
        ),
    }
}

fn parse_generator(s: &str) -> Result<Generator> {
    Generator::parse(s)
        .with_context(|| format!("--generator: is {s:?}, expected chacha8 or xoshiro128+"))
}

/// A sampler's refusal, prefixed with the command-line flag that caused it.
fn flag_error(e: SamplerError, flag: &str) -> anyhow::Error {
    anyhow::anyhow!("{flag}: {e}")
}

/// `data` as a NumPy `.npy` (format 1.0) `int8` array of the given C-order shape.
fn npy_int8(data: &[Spin], shape: [usize; 3]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '|i1', 'fortran_order': False, 'shape': ({}, {}, {}), }}",
        shape[0], shape[1], shape[2]
    );
    // magic (6) + version (2) + header length (2) + dict + padding + '\n', a multiple of 64
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let hlen = dict.len() + pad + 1;
    let mut out = Vec::with_capacity(10 + hlen + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(hlen as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out.extend(data.iter().map(|&v| v as u8));
    out
}
