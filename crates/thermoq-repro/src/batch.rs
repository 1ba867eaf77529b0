//! Batch-scheduler scripts for a sharded reproduction: the Slurm job array and its dependent
//! merge job, and the Kubernetes Indexed Job and its merge Job — pure text from a [`JobSpec`]
//! (`cargo xtask submit` writes and submits them; `docs/cluster.md` explains their use).

use crate::{Preset, ReproError};
use std::fmt::Write as _;

/// Everything a batch script needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    /// Experiment name (`exp1`, …, `dtm`).
    pub experiment: String,
    /// Preset.
    pub preset: Preset,
    /// Master seed.
    pub seed: u64,
    /// Array tasks (= shards), ≥ 1.
    pub tasks: usize,
    /// Cores per task, ≥ 1.
    pub cpus: usize,
    /// Memory per task.
    pub mem: Option<String>,
    /// What only the Slurm scripts use.
    pub slurm: SlurmOptions,
    /// What only the Kubernetes manifest uses.
    pub k8s: K8sOptions,
    /// Base folder every node sees (absolute).
    pub out: String,
    /// The xtask binary the jobs run.
    pub bin: String,
    /// Code revision the jobs pin (`THERMOQ_REVISION`).
    pub revision: String,
    /// Job name (`thermoq-<experiment>-<preset>`).
    pub name: String,
}

/// The Slurm-only part of a [`JobSpec`] (with the `clap` feature, also the command-line options
/// of that name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct SlurmOptions {
    /// Slurm partition (default: the cluster's default).
    #[cfg_attr(feature = "clap", arg(long))]
    pub partition: Option<String>,
    /// Time limit per task, in a form sbatch accepts (e.g. `2:00:00`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub time: Option<String>,
}

/// The Kubernetes-only part of a [`JobSpec`] (with the `clap` feature, also the command-line
/// options of that name).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct K8sOptions {
    /// Container image for `k8s` (it must contain the xtask binary at `--bin`).
    #[cfg_attr(feature = "clap", arg(long, default_value = "thermoq:latest"))]
    pub image: String,
    /// PersistentVolumeClaim mounted at `--out` for `k8s`.
    #[cfg_attr(feature = "clap", arg(long, default_value = "thermoq-runs"))]
    pub pvc: String,
}

impl JobSpec {
    /// Checks the task and core counts (and that the DTM study, which is not sharded, gets one
    /// task).
    pub fn validate(&self) -> Result<(), ReproError> {
        let bad = |field: &str, value: usize, expected: &str| {
            ReproError::invalid(field, format!("is {value}, expected {expected}"))
        };
        if self.tasks == 0 {
            return Err(bad("--tasks", 0, "at least 1"));
        }
        if self.cpus == 0 {
            return Err(bad("--cpus", 0, "at least 1"));
        }
        if self.experiment == "dtm" && self.tasks > 1 {
            return Err(bad(
                "--tasks",
                self.tasks,
                "1: repro dtm is one sequential study and is not sharded",
            ));
        }
        Ok(())
    }
}

/// Single-quotes `s` for a POSIX shell.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The sbatch array script and the merge script.
pub fn slurm_scripts(r: &JobSpec) -> (String, String) {
    let out = r.out.as_str();
    let bin = sh(&r.bin);
    let mut head = String::new();
    if let Some(part) = &r.slurm.partition {
        let _ = writeln!(head, "#SBATCH --partition={part}");
    }
    if let Some(t) = &r.slurm.time {
        let _ = writeln!(head, "#SBATCH --time={t}");
    }
    if let Some(m) = &r.mem {
        let _ = writeln!(head, "#SBATCH --mem={m}");
    }
    let exp = r.experiment.as_str();
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
        name = r.name,
        last = r.tasks - 1,
        cpus = r.cpus,
        rev = sh(&r.revision),
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
        name = r.name,
        rev = sh(&r.revision),
        out_q = sh(out),
        shards = shards.join(" \\\n  "),
    );
    (array, merge)
}

/// The Kubernetes manifest: an Indexed Job for the shards and a Job for the merge.
pub fn k8s_manifest(r: &JobSpec) -> String {
    let out = r.out.as_str();
    let bin = r.bin.as_str();
    let exp = r.experiment.as_str();
    let name = r.name.replace('_', "-");
    let mem = r
        .mem
        .as_deref()
        .map(|m| format!("\n              memory: \"{m}\""))
        .unwrap_or_default();
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let shards: Vec<String> = (0..r.tasks)
        .map(|i| q(&format!("{out}/shard-{i}")))
        .collect();
    // both Jobs mount the claim at the base folder
    let (out_j, pvc) = (q(out), &r.k8s.pvc);
    let volumes = format!(
        "          volumeMounts:
            - name: runs
              mountPath: {out_j}
      volumes:
        - name: runs
          persistentVolumeClaim:
            claimName: {pvc}
"
    );
    format!(
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
{volumes}---
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
{volumes}",
        preset = r.preset.name(),
        seed = r.seed,
        n = r.tasks,
        image = r.k8s.image,
        rev = q(&r.revision),
        bin_q = sh(bin),
        bin_j = q(bin),
        cpus = r.cpus,
        out_q = sh(out),
        merged = q(&format!("{out}/merged")),
        shards = shards.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(tasks: usize, out: &str) -> JobSpec {
        JobSpec {
            experiment: "exp1".into(),
            preset: Preset::Tiny,
            seed: 3,
            tasks,
            cpus: 1,
            mem: None,
            slurm: SlurmOptions {
                partition: Some("debug".into()),
                time: Some("0:10:00".into()),
            },
            k8s: K8sOptions {
                image: "img".into(),
                pvc: "pvc".into(),
            },
            out: out.into(),
            bin: "/opt/thermoq/xtask".into(),
            revision: "abc".into(),
            name: "thermoq-exp1-tiny".into(),
        }
    }

    #[test]
    fn slurm_scripts_shard_requeue_and_merge_every_folder() {
        let (array, merge) = slurm_scripts(&spec(4, "/scratch/run"));
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
        let m = k8s_manifest(&spec(6, "/runs"));
        assert!(m.contains("completionMode: Indexed"));
        assert!(m.contains("completions: 6"));
        assert!(m.contains("--shard auto/6"));
        assert!(m.contains("\"/runs/shard-5\""));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("a'b"), r"'a'\''b'");
    }

    #[test]
    fn counts_are_validated() {
        assert!(spec(1, "/r").validate().is_ok());
        assert!(spec(0, "/r").validate().is_err());
        let mut s = spec(2, "/r");
        s.cpus = 0;
        assert!(s.validate().is_err());
        s.cpus = 1;
        s.experiment = "dtm".into();
        assert!(s.validate().is_err());
    }
}
