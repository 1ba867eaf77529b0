//! Run folders, manifests and the resumable, shardable cell runner shared by every reproduction.
//!
//! A reproduction is a list of independent *cells*. Each finished cell is written atomically to
//! `<run>/cells/<id>.json` (temporary file, then rename), so a killed run loses nothing already
//! finished and a re-run skips those cells. `--shard i/n` runs every n-th cell starting at i, so a
//! batch scheduler (Slurm array jobs, Kubernetes Jobs) can spread one preset over many machines;
//! `cargo xtask merge` unions the shard folders and assembles the report.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `i/n`: this process runs cells `i, i+n, i+2n, …` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Index of this shard, `0 ≤ i < n`.
    pub i: usize,
    /// Number of shards.
    pub n: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Self { i: 0, n: 1 }
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// `i/n`, or `auto` / `auto/n`: the shard from the batch scheduler's environment (see
    /// [`Shard::from_env`]).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("auto") {
            let count = match rest.strip_prefix('/') {
                None if rest.is_empty() => None,
                Some(n) => Some(n.trim().parse::<usize>().map_err(|_| {
                    format!("--shard {s:?}: expected auto or auto/n with n a whole number")
                })?),
                None => return Err(format!("--shard {s:?}: expected auto or auto/n")),
            };
            return Self::from_env(|k| std::env::var(k).ok(), count);
        }
        let (a, b) = t
            .split_once('/')
            .ok_or_else(|| format!("--shard {s:?}: expected i/n (e.g. 0/4), auto or auto/n"))?;
        let i: usize = a
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: i must be a whole number"))?;
        let n: usize = b
            .trim()
            .parse()
            .map_err(|_| format!("--shard {s:?}: n must be a whole number"))?;
        if n == 0 || i >= n {
            return Err(format!("--shard {s:?}: expected 0 ≤ i < n"));
        }
        Ok(Self { i, n })
    }
}

impl Shard {
    /// The shard of this process from a batch scheduler's environment (`var` looks a variable
    /// up; `count` is the `n` of `--shard auto/n`):
    ///
    /// * Slurm job arrays: `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT` and/or
    ///   `SLURM_ARRAY_TASK_MIN`/`MAX`; `i = ID − MIN` (MIN = 0 when unset), `n = COUNT` or
    ///   `MAX − MIN + 1`. Arrays with a step (`0-10:2`) or holes are refused.
    /// * Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` with the count from `auto/n` (or
    ///   `THERMOQ_SHARD_COUNT`).
    ///
    /// Errors name the variables when none is set, or when the values disagree with each
    /// other or with `count`.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> std::result::Result<Self, String> {
        let num = |k: &str| -> std::result::Result<Option<usize>, String> {
            match var(k) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("--shard auto: {k}={v:?} is not a whole number")),
            }
        };
        let (id, cnt, min, max) = (
            num("SLURM_ARRAY_TASK_ID")?,
            num("SLURM_ARRAY_TASK_COUNT")?,
            num("SLURM_ARRAY_TASK_MIN")?,
            num("SLURM_ARRAY_TASK_MAX")?,
        );
        let k8s = num("JOB_COMPLETION_INDEX")?;
        let env_count = num("THERMOQ_SHARD_COUNT")?;
        let shard = match (id, k8s) {
            (Some(_), Some(_)) => {
                return Err(
                    "--shard auto: both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are \
                            set; use --shard i/n"
                        .into(),
                );
            }
            (Some(id), None) => {
                let lo = min.unwrap_or(0);
                let span = max.map(|hi| {
                    if hi < lo {
                        Err(format!(
                            "--shard auto: SLURM_ARRAY_TASK_MAX={hi} < SLURM_ARRAY_TASK_MIN={lo}"
                        ))
                    } else {
                        Ok(hi - lo + 1)
                    }
                });
                let span = span.transpose()?;
                let n = match (cnt, span) {
                    (Some(c), Some(s)) if c != s => {
                        return Err(format!(
                            "--shard auto: SLURM_ARRAY_TASK_COUNT={c} disagrees with \
                             SLURM_ARRAY_TASK_MIN..MAX ({lo}..{}, {s} tasks); arrays with a step or \
                             holes cannot be mapped to shards, use --array=0-{}",
                            lo + s - 1,
                            c - 1
                        ));
                    }
                    (Some(c), _) => c,
                    (None, Some(s)) => s,
                    (None, None) => count.ok_or(
                        "--shard auto: SLURM_ARRAY_TASK_ID is set but neither \
                         SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX; use --shard auto/n",
                    )?,
                };
                if id < lo || id - lo >= n {
                    return Err(format!(
                        "--shard auto: SLURM_ARRAY_TASK_ID={id} lies outside the array \
                         ({lo}..{})",
                        lo + n - 1
                    ));
                }
                Self { i: id - lo, n }
            }
            (None, Some(idx)) => {
                let n = match (count, env_count) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(format!(
                            "--shard auto/{a} disagrees with THERMOQ_SHARD_COUNT={b}"
                        ));
                    }
                    (Some(a), _) | (None, Some(a)) => a,
                    (None, None) => {
                        return Err("--shard auto: JOB_COMPLETION_INDEX is set but the count \
                                    is not; use --shard auto/n with n = the Job's completions"
                            .into());
                    }
                };
                if idx >= n {
                    return Err(format!(
                        "--shard auto: JOB_COMPLETION_INDEX={idx} is not below the count {n}"
                    ));
                }
                Self { i: idx, n }
            }
            (None, None) => {
                return Err(
                    "--shard auto: no scheduler shard in the environment (expected \
                            SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT or MIN/MAX, or \
                            JOB_COMPLETION_INDEX with auto/n); use --shard i/n"
                        .into(),
                );
            }
        };
        if let Some(c) = count
            && c != shard.n
        {
            return Err(format!(
                "--shard auto/{c}: the scheduler says {} tasks",
                shard.n
            ));
        }
        if shard.n == 0 {
            return Err("--shard auto: the count is 0".into());
        }
        Ok(shard)
    }
}

/// What a run folder is for: written to `<run>/run.json` when the folder is first used and
/// checked by every later command pointed at it (and copied into `manifest.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Experiment name (`exp1`, `exp2`, …).
    pub experiment: String,
    /// Preset name (`tiny`, `quick`, `paper`).
    pub preset: String,
    /// Master seed.
    pub seed: u64,
    /// Code revision (`git rev-parse HEAD`, `-dirty` when the tree had changes, or
    /// `$THERMOQ_REVISION` when set).
    pub revision: String,
    /// SHA-256 of the canonical JSON of the whole cell grid (ids and configurations); filled in
    /// when the grid is first known.
    #[serde(default)]
    pub config_hash: Option<String>,
    /// The grid's cell ids in grid order (cell `k` belongs to shard `k mod n` of `i/n`).
    #[serde(default)]
    pub cells: Vec<String>,
}

impl RunRecord {
    /// Human-readable differences in experiment, preset, seed, revision and config hash
    /// (`field: ours vs theirs`); empty when the two describe the same run.
    pub fn differences(&self, other: &Self) -> Vec<String> {
        let mut d = Vec::new();
        if self.experiment != other.experiment {
            d.push(format!(
                "experiment {} vs {}",
                self.experiment, other.experiment
            ));
        }
        if self.preset != other.preset {
            d.push(format!("preset {} vs {}", self.preset, other.preset));
        }
        if self.seed != other.seed {
            d.push(format!("seed {} vs {}", self.seed, other.seed));
        }
        if self.revision != other.revision {
            d.push(format!("revision {} vs {}", self.revision, other.revision));
        }
        if let (Some(a), Some(b)) = (&self.config_hash, &other.config_hash)
            && a != b
        {
            d.push(format!("config hash {a} vs {b}"));
        }
        d
    }

    fn read(dir: &Path) -> Result<Option<Self>> {
        let p = dir.join(RUN_RECORD);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is damaged (not a run record)", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }
}

/// File name of a run folder's record.
pub const RUN_RECORD: &str = "run.json";

/// What a command does with a run folder that was made for something else, and with damaged cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenPolicy {
    /// Start a fresh sub-run `<out>/subruns/<experiment>-<preset>-seed<seed>-<revision>/` instead
    /// of refusing when the folder was made with another experiment, preset, seed or revision.
    pub subrun: bool,
    /// Recompute cells whose file is damaged or altered (checksum mismatch) instead of refusing.
    pub recompute_damaged: bool,
    /// Never compute a cell: every cell must already be stored (used by `merge`).
    pub merge_only: bool,
}

/// The folder a run writes into.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// Root of the run.
    pub path: PathBuf,
    /// The run's record; `None` for folders made by [`RunDir::create`] (unchecked).
    record: Option<RunRecord>,
    policy: OpenPolicy,
}

impl RunDir {
    /// `out` if given, else `target/runs/<experiment>/<UTC timestamp>/` under the workspace root.
    /// Records nothing and checks nothing; commands use [`RunDir::open`].
    #[allow(
        dead_code,
        reason = "kept for library callers and tests; commands use `open`"
    )]
    pub fn create(experiment: &str, out: Option<&Path>) -> Result<Self> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => default_dir(experiment),
        };
        std::fs::create_dir_all(path.join("cells"))
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            path,
            record: None,
            policy: OpenPolicy::default(),
        })
    }

    /// Opens (or makes) the run folder of `experiment` at `preset` and `seed` made by this code
    /// revision. A folder recorded for anything else is refused with the differences named —
    /// nothing in it is touched — unless `policy.subrun`, which starts (or resumes) a sub-run
    /// inside it instead.
    pub fn open(
        experiment: &str,
        preset: &str,
        seed: u64,
        out: Option<&Path>,
        policy: OpenPolicy,
    ) -> Result<Self> {
        let want = RunRecord {
            experiment: experiment.into(),
            preset: preset.into(),
            seed,
            revision: git_revision(),
            config_hash: None,
            cells: Vec::new(),
        };
        let base = match out {
            Some(p) => p.to_path_buf(),
            None => default_dir(experiment),
        };
        let mut path = base.clone();
        let mut have = RunRecord::read(&path)?;
        if let Some(h) = &have {
            let diff = h.differences(&want);
            if !diff.is_empty() {
                if !policy.subrun {
                    bail!(
                        "{} holds a run made with a different configuration ({}); nothing was changed. \
                         Use another --out, or pass --subrun to start a fresh sub-run inside it",
                        path.display(),
                        diff.join(", ")
                    );
                }
                let rev: String = want.revision.chars().take(12).collect();
                path = base.join("subruns").join(format!(
                    "{experiment}-{preset}-seed{seed}-{rev}{}",
                    if want.revision.ends_with("-dirty") {
                        "-dirty"
                    } else {
                        ""
                    }
                ));
                have = RunRecord::read(&path)?;
                if let Some(h) = &have {
                    let diff = h.differences(&want);
                    if !diff.is_empty() {
                        bail!(
                            "sub-run {} holds a different configuration ({}); nothing was changed",
                            path.display(),
                            diff.join(", ")
                        );
                    }
                }
                eprintln!("{experiment}: sub-run in {}", path.display());
            }
        }
        let record = match have {
            Some(h) => h,
            None => {
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
                // A folder with cells but no record was made by an older thermoq: its cells are
                // checked against the grid before the record is written (see `run_experiment`).
                if !has_cells(&path) {
                    write_json_atomic(&path.join(RUN_RECORD), &want)?;
                }
                want
            }
        };
        std::fs::create_dir_all(path.join("cells"))
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            path,
            record: Some(record),
            policy,
        })
    }

    /// Where cell `id` is stored.
    pub fn cell_path(&self, id: &str) -> PathBuf {
        self.path.join("cells").join(format!("{id}.json"))
    }

    /// Writes `bytes` to `name` inside the run atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path.join(name), bytes)
    }

    /// Writes `value` as pretty JSON (with a trailing newline) to `name`.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        write_json_atomic(&self.path.join(name), value)
    }
}

fn default_dir(experiment: &str) -> PathBuf {
    workspace_root()
        .join("target")
        .join("runs")
        .join(experiment)
        .join(timestamp())
}

fn has_cells(path: &Path) -> bool {
    std::fs::read_dir(path.join("cells")).is_ok_and(|mut d| {
        d.any(|e| {
            e.is_ok_and(|e| {
                let p = e.path();
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
        })
    })
}

fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// SHA-256 (lowercase hex) of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The checksum stored in a cell file: SHA-256 of the compact JSON of `{config, id, result}`
/// (the wall time is not covered).
fn cell_checksum(v: &serde_json::Value) -> Result<String> {
    let canon = serde_json::json!({
        "id": v.get("id"),
        "config": v.get("config"),
        "result": v.get("result"),
    });
    Ok(sha256_hex(serde_json::to_string(&canon)?.as_bytes()))
}

/// The SHA-256 of the canonical JSON of a cell grid.
pub fn config_hash<C: Serialize>(cells: &[(String, C)]) -> Result<String> {
    let v = serde_json::to_value(cells)?;
    Ok(sha256_hex(serde_json::to_string(&v)?.as_bytes()))
}

/// The state of one stored cell file.
enum Stored<C, R> {
    Missing,
    /// Intact, with its record.
    Intact(CellRecord<C, R>),
    /// Unreadable, truncated, without checksum, or altered; with the reason.
    Damaged(String),
}

fn read_cell<C: DeserializeOwned, R: DeserializeOwned>(p: &Path) -> Stored<C, R> {
    let bytes = match std::fs::read(p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Stored::Missing,
        Err(e) => return Stored::Damaged(format!("unreadable: {e}")),
    };
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Stored::Damaged(format!("not valid JSON (truncated?): {e}")),
    };
    let Some(sum) = v.get("sha256").and_then(|s| s.as_str()) else {
        return Stored::Damaged("no checksum (written by an older thermoq)".into());
    };
    match cell_checksum(&v) {
        Ok(c) if c == sum => {}
        _ => return Stored::Damaged("checksum mismatch (the file was altered)".into()),
    }
    match serde_json::from_value(v) {
        Ok(rec) => Stored::Intact(rec),
        Err(e) => Stored::Damaged(format!("not a cell of this experiment: {e}")),
    }
}

/// The bytes of a cell file: the record plus its checksum.
fn cell_bytes<C: Serialize, R: Serialize>(rec: &CellRecord<C, R>) -> Result<Vec<u8>> {
    let mut v = serde_json::to_value(rec)?;
    let sum = cell_checksum(&v)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("sha256".into(), serde_json::Value::String(sum));
    }
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s.into_bytes())
}

/// A progress bar of `len` items counted in `unit` (may be empty), labelled `prefix`.
pub fn progress_bar(len: u64, prefix: &str, unit: &str) -> Result<ProgressBar> {
    let pb = ProgressBar::new(len);
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{prefix}} [{{bar:40}}] {{pos}}/{{len}}{unit} {{elapsed_precise}} eta {{eta}} {{msg}}"
        ))?
        .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    Ok(pb)
}

/// Prints a line above the progress bar (also when the bar is hidden, e.g. stderr is not a TTY).
pub fn say(pb: &ProgressBar, msg: String) {
    pb.suspend(|| eprintln!("{msg}"));
}

/// [`thermoq_core::format::write_atomic`] after creating the parent folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    thermoq_core::format::write_atomic(path, bytes)?;
    Ok(())
}

/// The stored form of one finished cell.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CellRecord<C, R> {
    /// Cell id (file stem).
    pub id: String,
    /// The configuration that produced it.
    pub config: C,
    /// The result.
    pub result: R,
    /// Wall time spent on the cell (a timing field: excluded from byte-identity checks).
    pub seconds: f64,
}

/// Runs `f` on every cell of this shard that has no stored record, in parallel on `threads`
/// threads (one cell per thread; the linear algebra inside a cell runs sequentially, so the
/// numbers do not depend on `threads` or on the sharding), storing each record with its checksum
/// as it finishes; returns all records of this shard (stored and new), in cell order.
///
/// Refuses — before writing anything — when a stored cell holds another configuration, and
/// when a stored cell is damaged or altered unless the folder was opened with
/// `recompute_damaged`.
#[cfg(test)]
pub fn run_cells<C, R, F>(
    dir: &RunDir,
    cells: &[(String, C)],
    shard: Shard,
    threads: usize,
    label: &str,
    f: F,
) -> Result<Vec<CellRecord<C, R>>>
where
    C: Serialize + DeserializeOwned + PartialEq + Clone + Send + Sync,
    R: Serialize + DeserializeOwned + Send,
    F: Fn(&C) -> Result<R> + Sync,
{
    run_cells_then(dir, cells, shard, threads, label, f, || Ok(()))
}

/// [`run_cells`] with `before` called after every stored cell was checked and before anything
/// is computed or written.
fn run_cells_then<C, R, F, B>(
    dir: &RunDir,
    cells: &[(String, C)],
    shard: Shard,
    threads: usize,
    label: &str,
    f: F,
    before: B,
) -> Result<Vec<CellRecord<C, R>>>
where
    C: Serialize + DeserializeOwned + PartialEq + Clone + Send + Sync,
    R: Serialize + DeserializeOwned + Send,
    F: Fn(&C) -> Result<R> + Sync,
    B: FnOnce() -> Result<()>,
{
    let mut done: Vec<Option<CellRecord<C, R>>> = Vec::new();
    let mut mine: Vec<&(String, C)> = Vec::new();
    let mut todo = Vec::new();
    let mut damaged = Vec::new();
    for (k, (id, cfg)) in cells.iter().enumerate() {
        let is_mine = k % shard.n == shard.i;
        match read_cell::<C, R>(&dir.cell_path(id)) {
            Stored::Intact(rec) if rec.config != *cfg || rec.id != *id => bail!(
                "{} holds cell {id} of another configuration; nothing was changed. Use another --out",
                dir.cell_path(id).display()
            ),
            Stored::Intact(rec) if is_mine => done.push(Some(rec)),
            Stored::Damaged(why) if is_mine => {
                damaged.push(format!("{} ({why})", dir.cell_path(id).display()));
                todo.push(done.len());
                done.push(None);
            }
            Stored::Missing if is_mine => {
                todo.push(done.len());
                done.push(None);
            }
            _ => continue,
        }
        mine.push(&cells[k]);
    }
    if !damaged.is_empty() {
        if !dir.policy.recompute_damaged || dir.policy.merge_only {
            bail!(
                "{} damaged or altered cell file(s): {}; nothing was changed. Pass \
                 --recompute-damaged to recompute them",
                damaged.len(),
                damaged.join(", ")
            );
        }
        for d in &damaged {
            eprintln!("{label}: recomputing damaged cell {d}");
        }
    }
    if dir.policy.merge_only && !todo.is_empty() {
        let ids: Vec<&str> = todo.iter().map(|&k| mine[k].0.as_str()).collect();
        bail!(
            "merge never computes, but {} cell(s) are missing: {}",
            ids.len(),
            ids.join(", ")
        );
    }
    before()?;
    let resumed = mine.len() - todo.len();
    if resumed > 0 {
        // Plain stderr (not the progress bar), so the line shows in batch logs too.
        eprintln!(
            "{label}: resuming in {}, {resumed} of {} cells already written",
            dir.path.display(),
            mine.len()
        );
    }
    if todo.is_empty() {
        return Ok(done.into_iter().flatten().collect());
    }
    let pb = progress_bar(mine.len() as u64, label, "cells")?;
    pb.set_position(resumed as u64);
    // Cells run in parallel; faer's own parallelism inside a cell would make the floating-point
    // reduction order (hence the last bits, and the float-floor quantities) depend on the
    // thread count, so the linear algebra inside a cell runs sequentially.
    faer::set_global_parallelism(faer::Par::Seq);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let new: Vec<Result<(usize, CellRecord<C, R>)>> = pool.install(|| {
        todo.par_iter()
            .map(|&k| {
                let (id, cfg) = mine[k];
                let t0 = Instant::now();
                let result = f(cfg).with_context(|| format!("cell {id}"))?;
                let rec = CellRecord {
                    id: id.clone(),
                    config: cfg.clone(),
                    result,
                    seconds: t0.elapsed().as_secs_f64(),
                };
                write_atomic(&dir.cell_path(id), &cell_bytes(&rec)?)?;
                pb.inc(1);
                pb.set_message(id.clone());
                Ok((k, rec))
            })
            .collect()
    });
    pb.finish_and_clear();
    for r in new {
        let (k, rec) = r?;
        done[k] = Some(rec);
    }
    Ok(done.into_iter().flatten().collect())
}

/// The common body of every reproduction: checks the folder's record against this grid, runs
/// (or resumes) this shard's cells, writes `manifest.json`, and returns every record when the
/// whole grid is present, or `None` (after saying so) when this shard leaves cells to other
/// shards — merge them with `cargo xtask merge`.
pub fn run_experiment<C, R, F>(
    dir: &RunDir,
    experiment: &str,
    cells: &[(String, C)],
    shard: Shard,
    threads: usize,
    f: F,
) -> Result<Option<Vec<CellRecord<C, R>>>>
where
    C: Serialize + DeserializeOwned + PartialEq + Clone + Send + Sync,
    R: Serialize + DeserializeOwned + Send,
    F: Fn(&C) -> Result<R> + Sync,
{
    let t0 = Instant::now();
    let on_disk = match &dir.record {
        Some(_) => RunRecord::read(&dir.path)?,
        None => None,
    };
    let mut record = on_disk.clone().or_else(|| dir.record.clone());
    if let Some(rec) = &mut record {
        let hash = config_hash(cells)?;
        if let Some(h) = &rec.config_hash
            && *h != hash
        {
            bail!(
                "{} holds a run of {} with another cell grid (config hash {h}, this command's \
                 {hash}); nothing was changed. Use another --out",
                dir.path.display(),
                rec.experiment
            );
        }
        rec.config_hash = Some(hash);
        rec.cells = cells.iter().map(|(id, _)| id.clone()).collect();
    }
    let write_record = || match &record {
        Some(rec) if on_disk.as_ref() != Some(rec) => {
            write_json_atomic(&dir.path.join(RUN_RECORD), rec)
        }
        _ => Ok(()),
    };
    let recs = run_cells_then(dir, cells, shard, threads, experiment, f, write_record)?;
    let mut manifest = Manifest::new(experiment, threads, shard, t0.elapsed().as_secs_f64());
    manifest.run = record;
    dir.write_json("manifest.json", &manifest)?;
    if recs.len() < cells.len() {
        eprintln!(
            "{experiment}: shard {}/{} wrote {} cells into {}; merge the shards to assemble the report",
            shard.i,
            shard.n,
            recs.len(),
            dir.path.display()
        );
        return Ok(None);
    }
    Ok(Some(recs))
}

/// Provenance written beside every run's results.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// Experiment name.
    pub experiment: String,
    /// `git rev-parse HEAD` of the workspace (or `unknown`), with `-dirty` if the tree has changes.
    pub git_revision: String,
    /// thermoq version.
    pub version: String,
    /// The command line.
    pub command: Vec<String>,
    /// Worker threads.
    pub threads: usize,
    /// Shard of this process.
    pub shard: Shard,
    /// Wall time of this invocation, seconds.
    pub wall_seconds: f64,
    /// The run folder's record (experiment, preset, seed, revision, config hash, cell ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
}

impl Manifest {
    /// A manifest for this process.
    pub fn new(experiment: &str, threads: usize, shard: Shard, wall_seconds: f64) -> Self {
        Self {
            experiment: experiment.into(),
            git_revision: git_revision(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: std::env::args().collect(),
            threads,
            shard,
            wall_seconds,
            run: None,
        }
    }
}

/// The workspace root (parent of the xtask crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `$THERMOQ_REVISION` when set (batch scripts pin the revision they were written for), else
/// `git rev-parse HEAD` (+ `-dirty`), or `unknown` outside a checkout.
pub fn git_revision() -> String {
    if let Ok(r) = std::env::var("THERMOQ_REVISION")
        && !r.trim().is_empty()
    {
        return r.trim().to_string();
    }
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".into(),
    }
}

/// UTC timestamp `YYYYmmddTHHMMSSZ` computed from the system clock (no time-zone database needed).
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Gathers the cells of shard folders into `out` for `experiment`, checking everything and
/// computing nothing: every shard folder must carry a run record naming the same experiment,
/// preset, seed, revision and cell grid; every cell file must be intact; every cell of the grid
/// must be present (a missing one is named with the shard that should hold it). Nothing is
/// written to `out` unless all checks pass. Returns the common record.
pub fn merge_shards(out: &Path, experiment: &str, shards: &[PathBuf]) -> Result<RunRecord> {
    let mut first: Option<(RunRecord, &Path)> = None;
    let mut shard_of: Vec<(Option<Shard>, &Path)> = Vec::new();
    for s in shards {
        let rec = RunRecord::read(s)?.with_context(|| {
            format!(
                "{} has no {RUN_RECORD}: not a run folder of this thermoq (or it never started)",
                s.display()
            )
        })?;
        if rec.experiment != experiment {
            bail!(
                "shard folder {} holds {}, not {experiment}",
                s.display(),
                rec.experiment
            );
        }
        if rec.config_hash.is_none() {
            bail!(
                "shard folder {} never got past its start (no cell grid recorded)",
                s.display()
            );
        }
        match &first {
            None => first = Some((rec, s)),
            Some((f, fp)) => {
                let d = f.differences(&rec);
                if !d.is_empty() {
                    bail!(
                        "shard folder {} is foreign to {} ({}); refusing to merge",
                        s.display(),
                        fp.display(),
                        d.join(", ")
                    );
                }
            }
        }
        let manifest: Option<serde_json::Value> = std::fs::read(s.join("manifest.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let shard = manifest
            .and_then(|m| m.get("shard").cloned())
            .and_then(|v| serde_json::from_value::<Shard>(v).ok());
        shard_of.push((shard, s.as_path()));
    }
    let (record, _) = first.context("no shard folders given")?;
    // Every cell: from the first shard folder holding an intact copy; copies must agree.
    let mut found: Vec<Option<(Vec<u8>, serde_json::Value)>> = vec![None; record.cells.len()];
    let mut damaged = Vec::new();
    for (_, s) in &shard_of {
        for (k, id) in record.cells.iter().enumerate() {
            let p = s.join("cells").join(format!("{id}.json"));
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let v: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let ok = v.as_ref().is_some_and(|v| {
                v.get("sha256")
                    .and_then(|x| x.as_str())
                    .is_some_and(|sum| cell_checksum(v).is_ok_and(|c| c == sum))
                    && v.get("id").and_then(|x| x.as_str()) == Some(id.as_str())
            });
            let Some(v) = v.filter(|_| ok) else {
                damaged.push(p.display().to_string());
                continue;
            };
            match &found[k] {
                None => found[k] = Some((bytes, v)),
                Some((_, w)) => {
                    if w.get("config") != v.get("config") || w.get("result") != v.get("result") {
                        bail!(
                            "cell {id} differs between shard folders (see {})",
                            p.display()
                        );
                    }
                }
            }
        }
    }
    if !damaged.is_empty() {
        bail!(
            "{} damaged or altered cell file(s) in the shards: {}; re-run those shards with \
             --recompute-damaged, then merge",
            damaged.len(),
            damaged.join(", ")
        );
    }
    let missing: Vec<String> = record
        .cells
        .iter()
        .enumerate()
        .filter(|(k, _)| found[*k].is_none())
        .map(|(k, id)| {
            let n = shard_of.iter().find_map(|(sh, _)| sh.map(|s| s.n));
            let holder = n.map_or_else(
                || "no shard folder records its shard".to_string(),
                |n| {
                    let i = k % n;
                    shard_of
                        .iter()
                        .find(|(sh, _)| *sh == Some(Shard { i, n }))
                        .map_or_else(
                            || format!("shard {i}/{n}, whose folder was not given"),
                            |(_, p)| format!("shard {i}/{n} in {}", p.display()),
                        )
                },
            );
            format!("{id} (should be in {holder})")
        })
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
        bail!(
            "{} of {} cells are missing, refusing to merge (merge never computes): {}{}",
            missing.len(),
            record.cells.len(),
            shown.join("; "),
            if missing.len() > shown.len() {
                "; …"
            } else {
                ""
            }
        );
    }
    // The output folder: new, or a previous merge of the same run.
    if let Some(have) = RunRecord::read(out)? {
        let d = have.differences(&record);
        if !d.is_empty() {
            bail!(
                "{} holds a different run ({}); nothing was changed. Use another --out",
                out.display(),
                d.join(", ")
            );
        }
    }
    for (k, id) in record.cells.iter().enumerate() {
        let target = out.join("cells").join(format!("{id}.json"));
        if let Ok(old) = std::fs::read(&target) {
            let same = serde_json::from_slice::<serde_json::Value>(&old).is_ok_and(|o| {
                found[k].as_ref().is_some_and(|(_, v)| {
                    o.get("config") == v.get("config") && o.get("result") == v.get("result")
                })
            });
            if !same {
                bail!(
                    "{} already holds a different cell {id}; nothing was changed. Use another --out",
                    out.display()
                );
            }
        }
    }
    for (k, id) in record.cells.iter().enumerate() {
        if let Some((bytes, _)) = &found[k] {
            let target = out.join("cells").join(format!("{id}.json"));
            if std::fs::read(&target).ok().as_deref() != Some(bytes.as_slice()) {
                write_atomic(&target, bytes)?;
            }
        }
    }
    write_json_atomic(&out.join(RUN_RECORD), &record)?;
    Ok(record)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

    #[test]
    fn shard_parses_and_rejects() {
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { i: 1, n: 4 });
        assert!("4/4".parse::<Shard>().is_err());
        assert!("x/4".parse::<Shard>().is_err());
        assert!("3".parse::<Shard>().is_err());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }

    #[test]
    fn cells_resume_and_shard() {
        let tmp = std::env::temp_dir().join(format!("thermoq-runner-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let dir = RunDir::create("t", Some(&tmp)).unwrap();
        let cells: Vec<(String, u32)> = (0..6).map(|k| (format!("c{k}"), k)).collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let f = |c: &u32| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(c * 10)
        };
        let a: Vec<CellRecord<u32, u32>> =
            run_cells(&dir, &cells, "0/2".parse().unwrap(), 2, "t", f).unwrap();
        assert_eq!(
            a.iter().map(|r| r.result).collect::<Vec<_>>(),
            vec![0, 20, 40]
        );
        let b: Vec<CellRecord<u32, u32>> =
            run_cells(&dir, &cells, Shard::default(), 2, "t", f).unwrap();
        assert_eq!(b.len(), 6);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            6,
            "stored cells are not recomputed"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(a, _)| *a == k)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn shard_from_scheduler_environment() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
        ];
        assert_eq!(Shard::from_env(env(&slurm), None), Ok(Shard { i: 2, n: 4 }));
        assert_eq!(
            Shard::from_env(env(&slurm), Some(4)),
            Ok(Shard { i: 2, n: 4 })
        );
        assert!(
            Shard::from_env(env(&slurm), Some(5))
                .unwrap_err()
                .contains("auto/5")
        );
        // MIN/MAX only, offset array 5-8.
        let offset = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "8"),
        ];
        assert_eq!(
            Shard::from_env(env(&offset), None),
            Ok(Shard { i: 2, n: 4 })
        );
        // A stepped array (0-6:2 → 4 tasks, span 7) is refused.
        let step = [
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
        ];
        assert!(
            Shard::from_env(env(&step), None)
                .unwrap_err()
                .contains("disagrees")
        );
        let k8s = [("JOB_COMPLETION_INDEX", "5")];
        assert_eq!(
            Shard::from_env(env(&k8s), Some(6)),
            Ok(Shard { i: 5, n: 6 })
        );
        assert!(
            Shard::from_env(env(&k8s), None)
                .unwrap_err()
                .contains("auto/n")
        );
        assert!(Shard::from_env(env(&k8s), Some(5)).is_err());
        let none: [(&str, &str); 0] = [];
        let e = Shard::from_env(env(&none), None).unwrap_err();
        assert!(
            e.contains("SLURM_ARRAY_TASK_ID") && e.contains("JOB_COMPLETION_INDEX"),
            "{e}"
        );
        let both = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("JOB_COMPLETION_INDEX", "0"),
        ];
        assert!(
            Shard::from_env(env(&both), None)
                .unwrap_err()
                .contains("both")
        );
        let bad = [
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ];
        assert!(
            Shard::from_env(env(&bad), None)
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_ID")
        );
    }

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("thermoq-runner-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    /// Every file under `dir` with its bytes, sorted.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let b = std::fs::read(&p).unwrap();
                    out.push((p, b));
                }
            }
        }
        out.sort();
        out
    }

    fn grid(seed: u32) -> Vec<(String, u32)> {
        (0..5).map(|k| (format!("c{k}"), k + 100 * seed)).collect()
    }

    #[test]
    fn folders_refuse_other_configurations_and_keep_every_byte() {
        let out = tmp("own");
        let policy = OpenPolicy::default();
        let dir = RunDir::open("t", "tiny", 0, Some(&out), policy).unwrap();
        let r: Option<Vec<CellRecord<u32, u32>>> = run_experiment(
            &dir,
            "t",
            &grid(0),
            Shard::default(),
            1,
            |c: &u32| Ok(c * 2),
        )
        .unwrap();
        assert_eq!(r.unwrap().len(), 5);
        let before = snapshot(&out);
        for (preset, seed, what) in [
            ("tiny", 1, "seed 0 vs 1"),
            ("quick", 0, "preset tiny vs quick"),
        ] {
            let e = RunDir::open("t", preset, seed, Some(&out), policy).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        // Same preset and seed but another grid (e.g. uncommitted code changes): refused too.
        let e =
            run_experiment::<u32, u32, _>(&dir, "t", &grid(7), Shard::default(), 1, |c: &u32| {
                Ok(*c)
            })
            .unwrap_err();
        assert!(e.to_string().contains("config hash"), "{e}");
        assert_eq!(
            snapshot(&out),
            before,
            "a refused command changed the folder"
        );
        // With --subrun the other seed gets its own folder inside.
        let sub = RunDir::open(
            "t",
            "tiny",
            1,
            Some(&out),
            OpenPolicy {
                subrun: true,
                ..policy
            },
        )
        .unwrap();
        assert!(sub.path.starts_with(out.join("subruns")));
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn damaged_cells_are_named_and_recomputed_only_when_asked() {
        let out = tmp("damaged");
        let policy = OpenPolicy::default();
        let dir = RunDir::open("t", "tiny", 0, Some(&out), policy).unwrap();
        let f = |c: &u32| Ok(c * 2);
        let _: Option<Vec<CellRecord<u32, u32>>> =
            run_experiment(&dir, "t", &grid(0), Shard::default(), 1, f).unwrap();
        // Alter a number in c1 (keeping valid JSON) and truncate c3.
        let p1 = dir.cell_path("c1");
        let text = std::fs::read_to_string(&p1).unwrap();
        std::fs::write(&p1, text.replace("\"result\": 2", "\"result\": 3")).unwrap();
        assert_ne!(
            std::fs::read_to_string(&p1).unwrap(),
            text,
            "the alteration must apply"
        );
        let p3 = dir.cell_path("c3");
        let b3 = std::fs::read(&p3).unwrap();
        std::fs::write(&p3, &b3[..b3.len() / 2]).unwrap();
        let e =
            run_experiment::<u32, u32, _>(&dir, "t", &grid(0), Shard::default(), 1, f).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("c1.json") && msg.contains("checksum"), "{msg}");
        assert!(
            msg.contains("c3.json") && msg.contains("not valid JSON"),
            "{msg}"
        );
        let dir = RunDir::open(
            "t",
            "tiny",
            0,
            Some(&out),
            OpenPolicy {
                recompute_damaged: true,
                ..policy
            },
        )
        .unwrap();
        let r: Vec<CellRecord<u32, u32>> =
            run_experiment(&dir, "t", &grid(0), Shard::default(), 1, f)
                .unwrap()
                .unwrap();
        assert_eq!(
            r.iter().map(|c| c.result).collect::<Vec<_>>(),
            vec![0, 2, 4, 6, 8]
        );
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn merge_refuses_missing_and_foreign_shards_and_never_computes() {
        let base = tmp("merge");
        let policy = OpenPolicy::default();
        let shard = |seed: u64, i: usize| {
            let p = base.join(format!("s{seed}-{i}"));
            let dir = RunDir::open("t", "tiny", seed, Some(&p), policy).unwrap();
            let _: Option<Vec<CellRecord<u32, u32>>> = run_experiment(
                &dir,
                "t",
                &grid(seed as u32),
                Shard { i, n: 2 },
                1,
                |c: &u32| Ok(c * 2),
            )
            .unwrap();
            p
        };
        let (a, b, foreign) = (shard(0, 0), shard(0, 1), shard(1, 1));
        let out = base.join("merged");
        let e = merge_shards(&out, "t", std::slice::from_ref(&a))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("c1 (should be in shard 1/2, whose folder was not given)"),
            "{e}"
        );
        let e = merge_shards(&out, "t", &[a.clone(), foreign.clone()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&foreign.display().to_string()) && e.contains("seed 0 vs 1"),
            "{e}"
        );
        assert!(!out.exists(), "a refused merge wrote its output folder");
        let rec = merge_shards(&out, "t", &[a, b]).unwrap();
        assert_eq!(rec.cells.len(), 5);
        // The report step finds every cell and computes none.
        let dir = RunDir::open(
            "t",
            "tiny",
            0,
            Some(&out),
            OpenPolicy {
                merge_only: true,
                ..policy
            },
        )
        .unwrap();
        let r: Vec<CellRecord<u32, u32>> =
            run_experiment(&dir, "t", &grid(0), Shard::default(), 1, |_: &u32| {
                anyhow::bail!("merge computed a cell")
            })
            .unwrap()
            .unwrap();
        assert_eq!(r.len(), 5);
        let _ = std::fs::remove_dir_all(&base);
    }
}
