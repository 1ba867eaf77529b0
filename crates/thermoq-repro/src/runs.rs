//! Run folders as data: the shard of a process ([`Shard`], also from a batch scheduler's
//! environment), the folder's record (`run.json`, [`RunRecord`]), the provenance written beside
//! results ([`Manifest`]), finished cells ([`CellRecord`]) with their checksums, the grid's
//! config hash, the check of a folder's stored cells against a grid ([`scan_cells`]) and the
//! validation of a shard merge ([`validate_merge`]).
//!
//! A reproduction is a list of independent *cells*. Each finished cell is stored as
//! `<run>/cells/<id>.json`: the record `{id, config, result, seconds}` plus `sha256`, the SHA-256
//! of the compact JSON of `{config, id, result}` (the wall time is not covered). `--shard i/n`
//! runs the cells `k` with `k mod n = i`. Running cells, progress bars and writing files are the
//! caller's business (`cargo xtask repro`); the readers here never panic on damaged files.

use crate::ReproError;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

/// A `--shard` value or scheduler environment that names no shard; the message names the value
/// or variables and the expected form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardError(pub String);

impl std::str::FromStr for Shard {
    type Err = ShardError;
    /// `i/n`, or `auto` / `auto/n`: the shard from the batch scheduler's environment (see
    /// [`Shard::from_env`]).
    fn from_str(s: &str) -> Result<Self, ShardError> {
        Self::parse(s).map_err(ShardError)
    }
}

impl Shard {
    fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("auto") {
            let count = match rest.strip_prefix('/') {
                None if rest.is_empty() => None,
                Some(n) => Some(n.trim().parse::<usize>().map_err(|_| {
                    format!("--shard {s:?}: expected auto or auto/n with n a whole number")
                })?),
                None => return Err(format!("--shard {s:?}: expected auto or auto/n")),
            };
            return Self::env_shard(|k| std::env::var(k).ok(), count);
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
    ) -> Result<Self, ShardError> {
        Self::env_shard(var, count).map_err(ShardError)
    }

    fn env_shard(
        var: impl Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> Result<Self, String> {
        let num = |k: &str| -> Result<Option<usize>, String> {
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
    /// `Ok` when `other` describes the same run, else [`RunRecord::differences`] joined by
    /// `, ` (for the message of the refusal).
    pub fn same_run(&self, other: &Self) -> Result<(), String> {
        let d = self.differences(other);
        if d.is_empty() {
            Ok(())
        } else {
            Err(d.join(", "))
        }
    }

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

    /// Decodes a run record from the bytes of a `run.json`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The record of the run folder `dir`, `None` when it has no `run.json`.
    pub fn read(dir: &Path) -> Result<Option<Self>, ReproError> {
        let p = dir.join(RUN_RECORD);
        match std::fs::read(&p) {
            Ok(bytes) => Self::from_json(&bytes).map(Some).map_err(|e| {
                folder(
                    &p,
                    format!("{} is damaged (not a run record): {e}", p.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(folder(&p, format!("reading {}: {e}", p.display()))),
        }
    }

    /// Takes `cells` as this run's grid: records its config hash and ids. Refuses a grid other
    /// than the one already recorded (`dir` is named in the error).
    pub fn adopt_grid<C: Serialize>(
        &mut self,
        dir: &Path,
        cells: &[(String, C)],
    ) -> Result<(), ReproError> {
        let hash = config_hash(cells)?;
        if let Some(h) = &self.config_hash
            && *h != hash
        {
            return Err(folder(
                dir,
                format!(
                    "{} holds a run of {} with another cell grid (config hash {h}, this command's \
                     {hash}); nothing was changed. Use another --out",
                    dir.display(),
                    self.experiment
                ),
            ));
        }
        self.config_hash = Some(hash);
        self.cells = cells.iter().map(|(id, _)| id.clone()).collect();
        Ok(())
    }
}

/// File name of a run folder's record.
pub const RUN_RECORD: &str = "run.json";

/// A [`ReproError::RunFolder`] about `path` (`why` is the whole message).
fn folder(path: &Path, why: String) -> ReproError {
    ReproError::RunFolder {
        path: path.to_path_buf(),
        why,
    }
}

/// Provenance written beside every run's results (`manifest.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
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
pub fn cell_checksum(v: &serde_json::Value) -> Result<String, ReproError> {
    let canon = serde_json::json!({
        "id": v.get("id"),
        "config": v.get("config"),
        "result": v.get("result"),
    });
    Ok(sha256_hex(serde_json::to_string(&canon)?.as_bytes()))
}

/// Whether `v` carries a `sha256` equal to its [`cell_checksum`].
pub fn checksum_ok(v: &serde_json::Value) -> bool {
    v.get("sha256")
        .and_then(|x| x.as_str())
        .is_some_and(|sum| cell_checksum(v).is_ok_and(|c| c == sum))
}

/// The SHA-256 of the canonical JSON of a cell grid.
pub fn config_hash<C: Serialize>(cells: &[(String, C)]) -> Result<String, ReproError> {
    let v = serde_json::to_value(cells)?;
    Ok(sha256_hex(serde_json::to_string(&v)?.as_bytes()))
}

/// The state of one stored cell file.
#[derive(Clone, Debug)]
pub enum StoredCell<C, R> {
    /// No file.
    Missing,
    /// Intact, with its record.
    Intact(CellRecord<C, R>),
    /// Unreadable, truncated, without checksum, or altered; with the reason.
    Damaged(String),
}

/// Checks and decodes the bytes of a cell file.
pub fn parse_cell<C: DeserializeOwned, R: DeserializeOwned>(bytes: &[u8]) -> StoredCell<C, R> {
    let v: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return StoredCell::Damaged(format!("not valid JSON (truncated?): {e}")),
    };
    if v.get("sha256").and_then(|s| s.as_str()).is_none() {
        return StoredCell::Damaged("no checksum (written by an older thermoq)".into());
    }
    if !checksum_ok(&v) {
        return StoredCell::Damaged("checksum mismatch (the file was altered)".into());
    }
    match serde_json::from_value(v) {
        Ok(rec) => StoredCell::Intact(rec),
        Err(e) => StoredCell::Damaged(format!("not a cell of this experiment: {e}")),
    }
}

/// Reads and checks the cell file `p`.
pub fn read_cell<C: DeserializeOwned, R: DeserializeOwned>(p: &Path) -> StoredCell<C, R> {
    match std::fs::read(p) {
        Ok(b) => parse_cell(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => StoredCell::Missing,
        Err(e) => StoredCell::Damaged(format!("unreadable: {e}")),
    }
}

/// The bytes of a cell file: the record plus its checksum, pretty JSON with a trailing newline.
pub fn cell_bytes<C: Serialize, R: Serialize>(
    rec: &CellRecord<C, R>,
) -> Result<Vec<u8>, ReproError> {
    let mut v = serde_json::to_value(rec)?;
    let sum = cell_checksum(&v)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("sha256".into(), serde_json::Value::String(sum));
    }
    let mut s = serde_json::to_string_pretty(&v)?;
    s.push('\n');
    Ok(s.into_bytes())
}

/// Every file under `dir` (recursively) with its bytes, sorted by path: what a folder holds, to
/// check that a refused command changed nothing in it.
pub fn snapshot(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, ReproError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let b = std::fs::read(&p)?;
                out.push((p, b));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Where cell `id` of the run folder `dir` is stored.
pub fn cell_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("cells").join(format!("{id}.json"))
}

/// This shard's cells of a grid against what a folder stores.
#[derive(Clone, Debug)]
pub struct CellScan<C, R> {
    /// One slot per cell of this shard, in grid order: the stored record, or `None` to compute.
    pub done: Vec<Option<CellRecord<C, R>>>,
    /// Indices into `done` (and `mine`) of the cells to compute.
    pub todo: Vec<usize>,
    /// Indices into the grid of this shard's cells.
    pub mine: Vec<usize>,
    /// Damaged cell files of this shard, `path (reason)`.
    pub damaged: Vec<String>,
}

/// Reads every stored cell of `cells` in the run folder `dir` and sorts this shard's into stored
/// and to-compute. Refuses a stored cell that holds another configuration or id (of any shard).
pub fn scan_cells<C, R>(
    dir: &Path,
    cells: &[(String, C)],
    shard: Shard,
) -> Result<CellScan<C, R>, ReproError>
where
    C: DeserializeOwned + PartialEq,
    R: DeserializeOwned,
{
    let mut scan = CellScan {
        done: Vec::new(),
        todo: Vec::new(),
        mine: Vec::new(),
        damaged: Vec::new(),
    };
    for (k, (id, cfg)) in cells.iter().enumerate() {
        let is_mine = k % shard.n == shard.i;
        let path = cell_path(dir, id);
        match read_cell::<C, R>(&path) {
            StoredCell::Intact(rec) if rec.config != *cfg || rec.id != *id => {
                return Err(folder(
                    &path,
                    format!(
                        "{} holds cell {id} of another configuration; nothing was changed. Use another --out",
                        path.display()
                    ),
                ));
            }
            StoredCell::Intact(rec) if is_mine => scan.done.push(Some(rec)),
            StoredCell::Damaged(why) if is_mine => {
                scan.damaged.push(format!("{} ({why})", path.display()));
                scan.todo.push(scan.done.len());
                scan.done.push(None);
            }
            StoredCell::Missing if is_mine => {
                scan.todo.push(scan.done.len());
                scan.done.push(None);
            }
            _ => continue,
        }
        scan.mine.push(k);
    }
    Ok(scan)
}

/// A checked merge: the common record and, per cell of the grid, the bytes to store.
#[derive(Clone, Debug)]
pub struct Merge {
    /// The record every shard folder carries.
    pub record: RunRecord,
    /// `(id, bytes)` of every cell, in grid order (copied verbatim from a shard folder).
    pub cells: Vec<(String, Vec<u8>)>,
}

/// Checks a merge of the shard folders `shards` into `out` for `experiment`, computing nothing:
/// every shard folder must carry a run record naming the same experiment, preset, seed,
/// revision and cell grid; every cell file must be intact; copies of a cell must agree; every
/// cell of the grid must be present (a missing one is named with the shard that should hold it);
/// `out` must be new or a previous merge of the same run holding the same cells.
#[allow(clippy::too_many_lines)]
pub fn validate_merge(
    out: &Path,
    experiment: &str,
    shards: &[PathBuf],
) -> Result<Merge, ReproError> {
    let mut first: Option<(RunRecord, &Path)> = None;
    let mut shard_of: Vec<(Option<Shard>, &Path)> = Vec::new();
    for s in shards {
        let rec = RunRecord::read(s)?.ok_or_else(|| {
            folder(
                s,
                format!(
                    "{} has no {RUN_RECORD}: not a run folder of this thermoq (or it never started)",
                    s.display()
                ),
            )
        })?;
        if rec.experiment != experiment {
            return Err(folder(
                out,
                format!(
                    "shard folder {} holds {}, not {experiment}",
                    s.display(),
                    rec.experiment
                ),
            ));
        }
        if rec.config_hash.is_none() {
            return Err(folder(
                out,
                format!(
                    "shard folder {} never got past its start (no cell grid recorded)",
                    s.display()
                ),
            ));
        }
        match &first {
            None => first = Some((rec, s)),
            Some((f, fp)) => {
                if let Err(d) = f.same_run(&rec) {
                    return Err(folder(
                        out,
                        format!(
                            "shard folder {} is foreign to {} ({d}); refusing to merge",
                            s.display(),
                            fp.display(),
                        ),
                    ));
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
    let (record, _) = first.ok_or_else(|| folder(out, "no shard folders given".into()))?;
    // Every cell: from the first shard folder holding an intact copy; copies must agree.
    let mut found: Vec<Option<(Vec<u8>, serde_json::Value)>> = vec![None; record.cells.len()];
    let mut damaged = Vec::new();
    for (_, s) in &shard_of {
        for (k, id) in record.cells.iter().enumerate() {
            let p = cell_path(s, id);
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let v: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let ok = v.as_ref().is_some_and(|v| {
                checksum_ok(v) && v.get("id").and_then(|x| x.as_str()) == Some(id.as_str())
            });
            let Some(v) = v.filter(|_| ok) else {
                damaged.push(p.display().to_string());
                continue;
            };
            match &found[k] {
                None => found[k] = Some((bytes, v)),
                Some((_, w)) => {
                    if w.get("config") != v.get("config") || w.get("result") != v.get("result") {
                        return Err(folder(
                            out,
                            format!(
                                "cell {id} differs between shard folders (see {})",
                                p.display()
                            ),
                        ));
                    }
                }
            }
        }
    }
    if !damaged.is_empty() {
        return Err(folder(
            out,
            format!(
                "{} damaged or altered cell file(s) in the shards: {}; re-run those shards with \
             --recompute-damaged, then merge",
                damaged.len(),
                damaged.join(", ")
            ),
        ));
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
        return Err(folder(
            out,
            format!(
                "{} of {} cells are missing, refusing to merge (merge never computes): {}{}",
                missing.len(),
                record.cells.len(),
                shown.join("; "),
                if missing.len() > shown.len() {
                    "; …"
                } else {
                    ""
                }
            ),
        ));
    }
    // The output folder: new, or a previous merge of the same run.
    if let Some(have) = RunRecord::read(out)?
        && let Err(d) = have.same_run(&record)
    {
        return Err(folder(
            out,
            format!(
                "{} holds a different run ({d}); nothing was changed. Use another --out",
                out.display(),
            ),
        ));
    }
    for (k, id) in record.cells.iter().enumerate() {
        let target = cell_path(out, id);
        if let Ok(old) = std::fs::read(&target) {
            let same = serde_json::from_slice::<serde_json::Value>(&old).is_ok_and(|o| {
                found[k].as_ref().is_some_and(|(_, v)| {
                    o.get("config") == v.get("config") && o.get("result") == v.get("result")
                })
            });
            if !same {
                return Err(folder(
                    out,
                    format!(
                        "{} already holds a different cell {id}; nothing was changed. Use another --out",
                        out.display()
                    ),
                ));
            }
        }
    }
    let cells = record
        .cells
        .iter()
        .zip(found)
        .filter_map(|(id, f)| f.map(|(bytes, _)| (id.clone(), bytes)))
        .collect();
    Ok(Merge { record, cells })
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
        // `pairs` as the environment is refused with a message containing `needle`
        let refused = |pairs: &[(&str, &str)], n: Option<usize>, needle: &str| {
            let e = Shard::from_env(env(pairs), n).unwrap_err();
            assert!(e.0.contains(needle), "{needle}: {e}");
        };
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
        refused(&slurm, Some(5), "auto/5");
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
        refused(&step, None, "disagrees");
        let k8s = [("JOB_COMPLETION_INDEX", "5")];
        assert_eq!(
            Shard::from_env(env(&k8s), Some(6)),
            Ok(Shard { i: 5, n: 6 })
        );
        refused(&k8s, None, "auto/n");
        assert!(Shard::from_env(env(&k8s), Some(5)).is_err());
        let none: [(&str, &str); 0] = [];
        let e = Shard::from_env(env(&none), None).unwrap_err();
        assert!(
            e.0.contains("SLURM_ARRAY_TASK_ID") && e.0.contains("JOB_COMPLETION_INDEX"),
            "{e}"
        );
        let both = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("JOB_COMPLETION_INDEX", "0"),
        ];
        refused(&both, None, "both");
        let bad = [
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ];
        refused(&bad, None, "SLURM_ARRAY_TASK_ID");
    }
}
