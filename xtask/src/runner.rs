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
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (a, b) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s:?}: expected i/n, e.g. 0/4"))?;
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

/// The folder a run writes into.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// Root of the run.
    pub path: PathBuf,
}

impl RunDir {
    /// `out` if given, else `target/runs/<experiment>/<UTC timestamp>/` under the workspace root.
    pub fn create(experiment: &str, out: Option<&Path>) -> Result<Self> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => workspace_root()
                .join("target")
                .join("runs")
                .join(experiment)
                .join(timestamp()),
        };
        std::fs::create_dir_all(path.join("cells"))
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
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
        let mut s = serde_json::to_string_pretty(value)?;
        s.push('\n');
        self.write(name, s.as_bytes())
    }
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

/// Writes via a temporary file and a rename, so readers never see a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
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

/// Runs `f` on every cell of this shard that has no stored record with the same config, in
/// parallel on `threads` threads, storing each record as it finishes; returns all records of this
/// shard (stored and new), in cell order.
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
    let mine: Vec<&(String, C)> = cells
        .iter()
        .enumerate()
        .filter(|(k, _)| k % shard.n == shard.i)
        .map(|(_, c)| c)
        .collect();
    let mut done: Vec<Option<CellRecord<C, R>>> = Vec::with_capacity(mine.len());
    let mut todo = Vec::new();
    for (k, (id, cfg)) in mine.iter().enumerate() {
        match load_cell::<C, R>(&dir.cell_path(id)) {
            Some(rec) if rec.config == *cfg => done.push(Some(rec)),
            _ => {
                done.push(None);
                todo.push(k);
            }
        }
    }
    let resumed = mine.len() - todo.len();
    let pb = progress_bar(mine.len() as u64, label, "cells")?;
    pb.set_position(resumed as u64);
    if resumed > 0 {
        pb.println(format!(
            "{label}: resuming, {resumed} of {} cells already written",
            mine.len()
        ));
    }
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
                let mut s = serde_json::to_string_pretty(&rec)?;
                s.push('\n');
                write_atomic(&dir.cell_path(id), s.as_bytes())?;
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

fn load_cell<C: DeserializeOwned, R: DeserializeOwned>(p: &Path) -> Option<CellRecord<C, R>> {
    let text = std::fs::read_to_string(p).ok()?;
    serde_json::from_str(&text).ok()
}

/// The common body of every reproduction: runs (or resumes) this shard's cells, writes
/// `manifest.json`, and returns every record when the whole grid is present, or `None` (after
/// saying so) when this shard leaves cells to other shards — merge them with `cargo xtask merge`.
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
    let recs = run_cells(dir, cells, shard, threads, experiment, f)?;
    dir.write_json(
        "manifest.json",
        &Manifest::new(experiment, threads, shard, t0.elapsed().as_secs_f64()),
    )?;
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
        }
    }
}

/// The workspace root (parent of the xtask crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `git rev-parse HEAD` (+ `-dirty`), or `unknown` outside a checkout.
pub fn git_revision() -> String {
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

/// Copies every `cells/*.json` of the shard folders into `out/cells/` (refusing conflicting
/// duplicates), returning how many cells were merged.
pub fn merge_cells(out: &RunDir, shards: &[PathBuf]) -> Result<usize> {
    let mut n = 0;
    for s in shards {
        let dir = s.join("cells");
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for e in entries {
            let p = e?.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let name = p.file_name().context("cell file name")?.to_owned();
            let target = out.path.join("cells").join(&name);
            let bytes = std::fs::read(&p)?;
            if target.exists() && target != p {
                let old: serde_json::Value = serde_json::from_slice(&std::fs::read(&target)?)?;
                let new: serde_json::Value = serde_json::from_slice(&bytes)?;
                if old.get("config") != new.get("config") || old.get("result") != new.get("result")
                {
                    bail!(
                        "cell {} differs between shards ({} vs {})",
                        name.to_string_lossy(),
                        target.display(),
                        p.display()
                    );
                }
            }
            write_atomic(&target, &bytes)?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
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
}
