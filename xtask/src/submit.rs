//! `cargo xtask submit slurm|k8s repro <experiment> …`: runs a reproduction on a cluster.
//!
//! * `submit slurm` writes an sbatch job-array script (one task per shard, `--shard auto`,
//!   requeued on node failure and resuming from the cells it already wrote) and a merge script,
//!   prints both, and with `--submit` submits the array and then the merge with
//!   `--dependency=afterok:<array id>` (`sbatch --parsable`), printing the job ids.
//! * `submit k8s` writes a Kubernetes Indexed Job manifest for the shards and a second Job for
//!   the merge (apply it once the first completes); nothing is submitted.
//!
//! Layout under `--out DIR`: `DIR/shard-<i>/` per task, `DIR/merged/` for the report,
//! `DIR/logs/` for the batch logs, `DIR/<experiment>-array.sbatch` and `…-merge.sbatch` (or
//! `DIR/<experiment>-k8s.yaml`). See docs/cluster.md.

use crate::repro::{Experiment, Preset};
use crate::runner::{git_revision, write_atomic};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use thermoq_repro::batch::{JobSpec, K8sOptions, SlurmOptions, k8s_manifest, slurm_scripts};

/// `cargo xtask submit <scheduler> repro …`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    #[command(subcommand)]
    to: Scheduler,
}

#[derive(Subcommand, Debug)]
enum Scheduler {
    /// A Slurm job array plus a dependent merge job.
    Slurm(Target),
    /// A Kubernetes Indexed Job plus a merge Job (written, not submitted).
    K8s(Target),
}

#[derive(Args, Debug)]
struct Target {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// A reproduction (`cargo xtask repro <experiment>`), sharded over the tasks.
    Repro(SubmitRepro),
}

/// The reproduction and how to spread it.
#[derive(Args, Debug, Clone)]
pub struct SubmitRepro {
    /// The experiment.
    #[arg(value_enum)]
    pub experiment: Experiment,
    /// Preset size.
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: Preset,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of array tasks (= shards). At most the number of cells is useful.
    #[arg(long)]
    pub tasks: usize,
    /// Base folder on storage every node sees (default `target/runs/<experiment>-<scheduler>/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Slurm-only options.
    #[command(flatten)]
    pub slurm: SlurmOptions,
    /// Cores per task (each task runs its cells on this many threads).
    #[arg(long, default_value_t = 1)]
    pub cpus: usize,
    /// Memory per task, in a form sbatch/Kubernetes accepts (e.g. `4G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// The xtask binary the jobs run (default: this one; it must be visible on every node).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Kubernetes-only options.
    #[command(flatten)]
    pub k8s: K8sOptions,
    /// Submit with `sbatch` and print the job ids (otherwise only write and print the scripts).
    #[arg(long)]
    pub submit: bool,
}

/// Runs `cargo xtask submit …`.
pub fn run(a: &SubmitArgs) -> Result<()> {
    match &a.to {
        Scheduler::Slurm(Target {
            what: What::Repro(r),
        }) => slurm(r),
        Scheduler::K8s(Target {
            what: What::Repro(r),
        }) => k8s(r),
    }
}

/// Where the scripts go and what they run.
struct Plan {
    out: PathBuf,
    spec: JobSpec,
}

fn plan(r: &SubmitRepro, scheduler: &str) -> Result<Plan> {
    let out = match &r.out {
        Some(p) => p.clone(),
        None => crate::runner::workspace_root()
            .join("target/runs")
            .join(format!("{}-{scheduler}", r.experiment.name())),
    };
    let bin = match &r.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("locating the xtask binary")?,
    };
    let mut spec = JobSpec {
        experiment: r.experiment.name().into(),
        preset: r.preset,
        seed: r.seed,
        tasks: r.tasks,
        cpus: r.cpus,
        mem: r.mem.clone(),
        slurm: r.slurm.clone(),
        k8s: r.k8s.clone(),
        out: String::new(),
        bin: path_str(&bin)?.into(),
        revision: git_revision(),
        name: format!("thermoq-{}-{}", r.experiment.name(), r.preset.name()),
    };
    spec.validate()?;
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("creating {}", out.display()))?;
    let out = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    spec.out = path_str(&out)?.into();
    Ok(Plan { out, spec })
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not valid UTF-8", p.display()))
}

fn slurm(r: &SubmitRepro) -> Result<()> {
    let p = plan(r, "slurm")?;
    let (array, merge) = slurm_scripts(&p.spec);
    let exp = r.experiment.name();
    let fa = p.out.join(format!("{exp}-array.sbatch"));
    let fm = p.out.join(format!("{exp}-merge.sbatch"));
    write_atomic(&fa, array.as_bytes())?;
    write_atomic(&fm, merge.as_bytes())?;
    println!("# {}\n{array}\n# {}\n{merge}", fa.display(), fm.display());
    if !r.submit {
        eprintln!(
            "wrote {} and {}; submit with `sbatch --parsable {}` then \
             `sbatch --dependency=afterok:<id> {}` (or pass --submit)",
            fa.display(),
            fm.display(),
            fa.display(),
            fm.display()
        );
        return Ok(());
    }
    let array_id = sbatch(&[path_str(&fa)?])?;
    let dep = format!("--dependency=afterok:{array_id}");
    let merge_id = sbatch(&[&dep, path_str(&fm)?])?;
    println!("array job {array_id}");
    println!("merge job {merge_id}");
    eprintln!(
        "submitted: {} tasks as job {array_id}, merge job {merge_id} → {}/merged",
        r.tasks,
        p.out.display()
    );
    Ok(())
}

/// `sbatch --parsable ARGS…`, returning the job id.
fn sbatch(args: &[&str]) -> Result<String> {
    let o = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .context("running sbatch (is Slurm installed and on PATH?)")?;
    if !o.status.success() {
        bail!(
            "sbatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&o.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("sbatch printed {:?}, expected a job id", text.trim());
    }
    Ok(id)
}

fn k8s(r: &SubmitRepro) -> Result<()> {
    if r.submit {
        bail!("submit k8s only writes the manifest; apply it with kubectl (see docs/cluster.md)");
    }
    let p = plan(r, "k8s")?;
    let m = k8s_manifest(&p.spec);
    let f = p.out.join(format!("{}-k8s.yaml", r.experiment.name()));
    write_atomic(&f, m.as_bytes())?;
    println!("# {}\n{m}", f.display());
    eprintln!(
        "wrote {}; apply with kubectl (see docs/cluster.md)",
        f.display()
    );
    Ok(())
}
