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
use serde::{Serialize, de::DeserializeOwned};
use std::path::{Path, PathBuf};
use std::time::Instant;
pub use thermoq_repro::runs::{
    CellRecord, CellScan, Manifest, RUN_RECORD, RunRecord, Shard, cell_bytes, cell_path,
    scan_cells, validate_merge,
};

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
        if let Some(h) = &have
            && let Err(diff) = h.same_run(&want)
        {
            if !policy.subrun {
                bail!(
                    "{} holds a run made with a different configuration ({diff}); nothing was \
                         changed. Use another --out, or pass --subrun to start a fresh sub-run inside it",
                    path.display(),
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
            if let Some(h) = &have
                && let Err(diff) = h.same_run(&want)
            {
                bail!(
                    "sub-run {} holds a different configuration ({diff}); nothing was changed",
                    path.display(),
                );
            }
            eprintln!("{experiment}: sub-run in {}", path.display());
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
        cell_path(&self.path, id)
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

/// Runs `f` on every cell of this shard that has no stored record, in parallel on `threads`
/// threads (one cell per thread; the linear algebra inside a cell runs sequentially, so the
/// numbers do not depend on `threads` or on the sharding), storing each record with its checksum
/// as it finishes; returns all records of this shard (stored and new), in cell order.
///
/// Refuses — before writing anything — when a stored cell holds another configuration, and
/// when a stored cell is damaged or altered unless the folder was opened with
/// `recompute_damaged`.
///
/// `before` is called after every stored cell was checked and before anything is computed or
/// written.
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
    let CellScan {
        mut done,
        todo,
        mine,
        damaged,
    } = scan_cells::<C, R>(&dir.path, cells, shard)?;
    let mine: Vec<&(String, C)> = mine.iter().map(|&k| &cells[k]).collect();
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
        rec.adopt_grid(&dir.path, cells)?;
    }
    let write_record = || match &record {
        Some(rec) if on_disk.as_ref() != Some(rec) => {
            write_json_atomic(&dir.path.join(RUN_RECORD), rec)
        }
        _ => Ok(()),
    };
    let recs = run_cells_then(dir, cells, shard, threads, experiment, f, write_record)?;
    let mut manifest = manifest(experiment, threads, shard, t0.elapsed().as_secs_f64());
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

/// The manifest of this process (revision, version, command line).
pub fn manifest(experiment: &str, threads: usize, shard: Shard, wall_seconds: f64) -> Manifest {
    Manifest {
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

/// The workspace root (parent of the xtask crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `$THERMOQ_REVISION` when set (batch scripts pin the revision they were written for), else
/// `git rev-parse HEAD` (+ `-dirty`), or `unknown` outside a checkout — read once, when the process
/// starts (`main` calls this first), so a long run that outlives a checkout or merge in its workspace
/// still records the revision it started from (the paper DTM study of 2026-11-30 did not, and
/// recorded the later HEAD: see docs/reproductions/dtm-paper/PROVENANCE.md).
pub fn git_revision() -> String {
    static REVISION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    REVISION.get_or_init(read_git_revision).clone()
}

fn read_git_revision() -> String {
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
    let merge = validate_merge(out, experiment, shards)?;
    for (id, bytes) in &merge.cells {
        let target = cell_path(out, id);
        if std::fs::read(&target).ok().as_deref() != Some(bytes.as_slice()) {
            write_atomic(&target, bytes)?;
        }
    }
    write_json_atomic(&out.join(RUN_RECORD), &merge.record)?;
    Ok(merge.record)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed test inputs, not user data
mod tests {
    use super::*;

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
        let none = || Ok(());
        let a: Vec<CellRecord<u32, u32>> =
            run_cells_then(&dir, &cells, "0/2".parse().unwrap(), 2, "t", f, none).unwrap();
        assert_eq!(
            a.iter().map(|r| r.result).collect::<Vec<_>>(),
            vec![0, 20, 40]
        );
        let b: Vec<CellRecord<u32, u32>> =
            run_cells_then(&dir, &cells, Shard::default(), 2, "t", f, none).unwrap();
        assert_eq!(b.len(), 6);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            6,
            "stored cells are not recomputed"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("thermoq-runner-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        thermoq_repro::runs::snapshot(dir).unwrap()
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
