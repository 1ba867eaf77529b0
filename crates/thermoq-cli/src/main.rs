//! `thermoq` — the command-line front end of the thermoq workspace.
//!
//! Every subcommand lives in its own module under `src/cmd/` as an `XxxArgs` struct (clap derive)
//! with `fn run(&self) -> anyhow::Result<()>`. Adding a subcommand is one `pub mod` line in the
//! `cmd` block, one [`Command`] variant and one match arm in [`main`].
//!
//! Errors are printed as `error: …` with their full cause chain (which file, which field, what was
//! expected) and the process exits with status 1; nothing a user supplies can make it panic.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod budget;
mod output;
mod progress;

/// One module per subcommand.
mod cmd {
    pub mod inspect;
    pub mod model;
    pub mod sample;
    pub mod snr;
    pub mod spectrum;
    pub mod tau;
}

/// thermoq: sample Ising / Boltzmann-machine models with thermodynamic (p-bit / Gibbs) kernels and
/// measure what limits learning on them.
///
/// Model files are `thermoq-ising-v1` (JSON, or the binary form starting with the magic
/// `TQISING1`); see docs/formats.md. Kernels: rs1 (random-scan Gibbs), ss1 (systematic scan), mh1
/// (random-scan Metropolis), blk-alt / blk-sym / blk-rs (chromatic block Gibbs: alternating,
/// symmetrized, random-scan). The unit of time is the sweep.
#[derive(Debug, Parser)]
#[command(name = "thermoq", version, about, long_about)]
struct Cli {
    /// The command to run.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a batch of chains on a model file and write moments (⟨x_i⟩, ⟨x_i x_j⟩ per edge, energy
    /// mean and variance) with the run's configuration as JSON.
    Sample(cmd::sample::SampleArgs),
    /// Write a model file from a builder (lattice, Curie–Weiss, SK, Hopfield, RBM, sparse random)
    /// or from one layer of a trained DTM checkpoint.
    Model(cmd::model::ModelArgs),
    /// Describe a model file: size, edges, β, degree statistics, bias-freedom, colour counts.
    Inspect(cmd::inspect::InspectArgs),
    /// Exact operational gradient SNR Q_op of a small model (all 2^N states) beside the naive,
    /// one-gap, struct-perp and matrix-free predictions, for a data law and a burn-in/window.
    Snr(cmd::snr::SnrArgs),
    /// Integrated autocorrelation time of a recorded series (one column per chain): τ̂, window,
    /// ESS, split-R̂ and whether τ̂ is resolved under the doubling rule (else a lower bound).
    Tau(cmd::tau::TauArgs),
    /// Exact spectral summary of a small model under one kernel: sweep eigenvalues and gap, parity
    /// of φ_2 and its overlaps, exact τ_int per observable, reversibility certificates.
    Spectrum(cmd::spectrum::SpectrumArgs),
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Sample(a) => a.run(),
        Command::Inspect(a) => a.run(),
        Command::Model(a) => a.run(),
        Command::Snr(a) => a.run(),
        Command::Tau(a) => a.run(),
        Command::Spectrum(a) => a.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error with its causes, `a: b: c`, each text printed once: a cause whose text the message
/// so far already ends with (an OS error that its wrapper already quoted) is skipped.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Cli;

    #[test]
    fn os_error_text_is_printed_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "m.json: {}", self.0)
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = anyhow::Error::new(Wrap(io)).context("loading model m.json");
        let s = super::error_chain(&e);
        assert_eq!(s.matches(&text).count(), 1, "{s}");
        assert_eq!(s, format!("loading model m.json: m.json: {text}"));
    }
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
