//! `cargo xtask bench peers`: thermoq and thrml (PyPI `thrml==0.1.4`, CPU JAX) on identical
//! models in the same run, alternating, with ratios; plus a moment cross-check of both against
//! exact enumeration (`docs/performance.md`, "Side by side with thrml").
//!
//! The cases and moment models are [`thermoq_bench::peers`]; the venv, the peer process
//! (`xtask/peers/thrml_peer.py`), the timing and the checks are [`thermoq_bench::thrml`]. This
//! file parses the arguments and prints the rows and the table. Without python3/pip, or if the
//! install fails, thermoq's side still runs, the thrml columns are `null` and the reason is
//! printed.

use anyhow::{Result, bail};
use clap::Args;
use std::path::Path;
use thermoq_bench::peers::{CASE_NAMES, cases, moment_models};
use thermoq_bench::thrml::{bench_case, moment_check, table, thrml_python};

/// Options of `bench peers`.
#[derive(Args, Debug, Clone)]
pub struct PeersBenchArgs {
    /// Print only the JSON lines (no human-readable table on stderr).
    #[arg(long)]
    pub json: bool,
    /// Fewer sweeps, 3 repetitions, shorter moment runs (a smoke run, noisier).
    #[arg(long)]
    pub quick: bool,
    /// Timed repetitions per tool and case (alternating; median reported; at least 3).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Run thermoq's side only (thrml columns null).
    #[arg(long)]
    pub no_python: bool,
    /// Only these cases (ising-32, ising-128, rbm-784x256, dtm-60_12); default all.
    #[arg(long = "case")]
    pub cases: Vec<String>,
    /// Skip the moment cross-check.
    #[arg(long)]
    pub no_moments: bool,
}

/// Runs `bench peers`.
pub fn run_peers_bench(args: &PeersBenchArgs) -> Result<()> {
    for a in &args.cases {
        if !CASE_NAMES.contains(&a.as_str()) {
            bail!("--case {a:?}: expected one of {}", CASE_NAMES.join(", "));
        }
    }
    let threads = rayon::current_num_threads();
    let reps = if args.quick { 3 } else { args.reps.max(3) };
    let profile = crate::bench::profile("peers", args.json);
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = xtask.parent().unwrap_or(xtask);
    let py = if args.no_python {
        Err("--no-python given".to_string())
    } else {
        thrml_python(root, &|m| {
            if !args.json {
                eprintln!("{m}");
            }
        })
    };
    if let Err(why) = &py {
        eprintln!("thrml peer missing: {why}; running thermoq's side only (ratios null)");
    }
    let py = py.ok();
    let (mut rows, mut checks) = (Vec::new(), Vec::new());
    for case in cases(args.quick)?
        .iter()
        .filter(|c| args.cases.is_empty() || args.cases.contains(&c.name))
    {
        if !args.json {
            eprintln!("{} ...", case.name);
        }
        let r = bench_case(case, py.as_deref(), root, reps, threads, profile)?;
        println!("{r}");
        rows.push(r);
    }
    if !args.no_moments {
        for case in moment_models()? {
            if !args.json {
                eprintln!("moments {} ...", case.0);
            }
            let r = moment_check(&case, py.as_deref(), root, args.quick)?;
            println!("{r}");
            checks.push(r);
        }
    }
    if !args.json {
        eprint!("\n{}", table(&rows, &checks));
    }
    Ok(())
}
