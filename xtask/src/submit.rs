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
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
    /// Slurm partition (default: the cluster's default).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, in a form sbatch accepts (e.g. `2:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// Cores per task (each task runs its cells on this many threads).
    #[arg(long, default_value_t = 1)]
    pub cpus: usize,
    /// Memory per task, in a form sbatch/Kubernetes accepts (e.g. `4G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// The xtask binary the jobs run (default: this one; it must be visible on every node).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Container image for `k8s` (it must contain the xtask binary at `--bin`).
    #[arg(long, default_value = "thermoq:latest")]
    pub image: String,
    /// PersistentVolumeClaim mounted at `--out` for `k8s`.
    #[arg(long, default_value = "thermoq-runs")]
    pub pvc: String,
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

struct Plan {
    out: PathBuf,
    bin: PathBuf,
    revision: String,
    name: String,
}

fn plan(r: &SubmitRepro, scheduler: &str) -> Result<Plan> {
    if r.tasks == 0 {
        bail!("--tasks is 0; expected at least 1");
    }
    if r.cpus == 0 {
        bail!("--cpus is 0; expected at least 1");
    }
    if r.experiment == Experiment::Dtm && r.tasks > 1 {
        bail!("repro dtm is one sequential study and is not sharded; use --tasks 1");
    }
    let out = match &r.out {
        Some(p) => p.clone(),
        None => crate::runner::workspace_root()
            .join("target/runs")
            .join(format!("{}-{scheduler}", r.experiment.name())),
    };
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("creating {}", out.display()))?;
    let out = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    let bin = match &r.bin {
        Some(b) => b.clone(),
        None => std::env::current_exe().context("locating the xtask binary")?,
    };
    Ok(Plan {
        out,
        bin,
        revision: git_revision(),
        name: format!("thermoq-{}-{}", r.experiment.name(), r.preset.name()),
    })
}

/// Single-quotes `s` for a POSIX shell.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not valid UTF-8", p.display()))
}

/// The sbatch array script and the merge script.
fn slurm_scripts(r: &SubmitRepro, p: &Plan) -> Result<(String, String)> {
    let out = path_str(&p.out)?;
    let bin = sh(path_str(&p.bin)?);
    let mut head = String::new();
    if let Some(part) = &r.partition {
        writeln!(head, "#SBATCH --partition={part}")?;
    }
    if let Some(t) = &r.time {
        writeln!(head, "#SBATCH --time={t}")?;
    }
    if let Some(m) = &r.mem {
        writeln!(head, "#SBATCH --mem={m}")?;
    }
    let exp = r.experiment.name();
    let array = format!(
        "#!/bin/bash
# thermoq: {exp} --preset {preset} --seed {seed} as a {n}-task Slurm job array (one shard per task).
# Written by `cargo xtask submit slurm repro {exp}`. A requeued task (node failure, preemption,
# `scontrol requeue`) resumes from the cells it already wrote in its shard folder.
#SBATCH --job-name={name}
#SBATCH --array=0-{last}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task={cpus}
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output={out}/logs/shard-%a.log
{head}set -euo pipefail
export THERMOQ_REVISION={rev}
exec {bin} repro {exp} --preset {preset} --seed {seed} --shard auto/{n} \\
  --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --out {out_q}/shard-\"$SLURM_ARRAY_TASK_ID\"
",
        preset = r.preset.name(),
        seed = r.seed,
        n = r.tasks,
        name = p.name,
        last = r.tasks - 1,
        cpus = r.cpus,
        rev = sh(&p.revision),
        out_q = sh(out),
    );
    let shards: Vec<String> = (0..r.tasks)
        .map(|i| sh(&format!("{out}/shard-{i}")))
        .collect();
    let merge = format!(
        "#!/bin/bash
# thermoq: merges the {n} shard folders of {exp} into {out}/merged (computes nothing; refuses
# and names any missing cell). Submitted with --dependency=afterok:<array job id>.
#SBATCH --job-name={name}-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output={out}/logs/merge.log
{head}set -euo pipefail
export THERMOQ_REVISION={rev}
exec {bin} merge {exp} --out {out_q}/merged \\
  {shards}
",
        n = r.tasks,
        name = p.name,
        rev = sh(&p.revision),
        out_q = sh(out),
        shards = shards.join(" \\\n  "),
    );
    Ok((array, merge))
}

fn slurm(r: &SubmitRepro) -> Result<()> {
    let p = plan(r, "slurm")?;
    let (array, merge) = slurm_scripts(r, &p)?;
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

/// The Kubernetes manifest: an Indexed Job for the shards and a Job for the merge.
fn k8s_manifest(r: &SubmitRepro, p: &Plan) -> Result<String> {
    let out = path_str(&p.out)?;
    let bin = path_str(&p.bin)?;
    let exp = r.experiment.name();
    let name = p.name.replace('_', "-");
    let mem = r
        .mem
        .as_deref()
        .map(|m| format!("\n              memory: \"{m}\""))
        .unwrap_or_default();
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let shards: Vec<String> = (0..r.tasks)
        .map(|i| q(&format!("{out}/shard-{i}")))
        .collect();
    Ok(format!(
        "# thermoq: {exp} --preset {preset} --seed {seed} as a {n}-completion Indexed Job.
# Written by `cargo xtask submit k8s repro {exp}`. Apply the first Job, wait for it
# (`kubectl wait --for=condition=complete job/{name} --timeout=-1s`), then apply the second.
# Failed pods are retried (backoffLimitPerIndex) and resume from the cells their shard wrote.
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completionMode: Indexed
  completions: {n}
  parallelism: {n}
  backoffLimitPerIndex: 3
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: shard
          image: {image}
          env:
            - name: THERMOQ_REVISION
              value: {rev}
          command: [\"/bin/sh\", \"-c\"]
          args:
            - exec {bin_q} repro {exp} --preset {preset} --seed {seed} --shard auto/{n} --threads {cpus} --out {out_q}/shard-$JOB_COMPLETION_INDEX
          resources:
            requests:
              cpu: \"{cpus}\"{mem}
          volumeMounts:
            - name: runs
              mountPath: {out_j}
      volumes:
        - name: runs
          persistentVolumeClaim:
            claimName: {pvc}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}-merge
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: merge
          image: {image}
          env:
            - name: THERMOQ_REVISION
              value: {rev}
          command: [{bin_j}, \"merge\", \"{exp}\", \"--out\", {merged}, {shards}]
          volumeMounts:
            - name: runs
              mountPath: {out_j}
      volumes:
        - name: runs
          persistentVolumeClaim:
            claimName: {pvc}
",
        preset = r.preset.name(),
        seed = r.seed,
        n = r.tasks,
        image = r.image,
        rev = q(&p.revision),
        bin_q = sh(bin),
        bin_j = q(bin),
        cpus = r.cpus,
        out_q = sh(out),
        out_j = q(out),
        merged = q(&format!("{out}/merged")),
        shards = shards.join(", "),
        pvc = r.pvc,
    ))
}

fn k8s(r: &SubmitRepro) -> Result<()> {
    if r.submit {
        bail!("submit k8s only writes the manifest; apply it with kubectl (see docs/cluster.md)");
    }
    let p = plan(r, "k8s")?;
    let m = k8s_manifest(r, &p)?;
    let f = p.out.join(format!("{}-k8s.yaml", r.experiment.name()));
    write_atomic(&f, m.as_bytes())?;
    println!("# {}\n{m}", f.display());
    eprintln!(
        "wrote {}; apply with kubectl (see docs/cluster.md)",
        f.display()
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    fn args(tasks: usize) -> SubmitRepro {
        SubmitRepro {
            experiment: Experiment::Exp1,
            preset: Preset::Tiny,
            seed: 3,
            tasks,
            out: None,
            partition: Some("debug".into()),
            time: Some("0:10:00".into()),
            cpus: 1,
            mem: None,
            bin: None,
            image: "img".into(),
            pvc: "pvc".into(),
            submit: false,
        }
    }

    fn plan_at(out: &str) -> Plan {
        Plan {
            out: PathBuf::from(out),
            bin: PathBuf::from("/opt/thermoq/xtask"),
            revision: "abc".into(),
            name: "thermoq-exp1-tiny".into(),
        }
    }

    #[test]
    fn slurm_scripts_shard_requeue_and_merge_every_folder() {
        let (array, merge) = slurm_scripts(&args(4), &plan_at("/scratch/run")).unwrap();
        assert!(array.contains("#SBATCH --array=0-3\n"));
        assert!(array.contains("#SBATCH --requeue\n"));
        assert!(array.contains("#SBATCH --partition=debug\n"));
        assert!(array.contains("#SBATCH --time=0:10:00\n"));
        assert!(array.contains("--shard auto/4"));
        assert!(array.contains("--preset tiny --seed 3"));
        assert!(array.contains("export THERMOQ_REVISION='abc'"));
        for i in 0..4 {
            assert!(
                merge.contains(&format!("'/scratch/run/shard-{i}'")),
                "{merge}"
            );
        }
        assert!(!merge.contains("shard-4"));
        assert!(merge.contains("merge exp1 --out '/scratch/run'/merged"));
    }

    #[test]
    fn k8s_manifest_is_indexed() {
        let m = k8s_manifest(&args(6), &plan_at("/runs")).unwrap();
        assert!(m.contains("completionMode: Indexed"));
        assert!(m.contains("completions: 6"));
        assert!(m.contains("--shard auto/6"));
        assert!(m.contains("\"/runs/shard-5\""));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("a'b"), r"'a'\''b'");
    }
}
