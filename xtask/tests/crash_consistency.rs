//! Crash consistency of run folders, through the real `xtask` binary.
//!
//! * `repro exp1 --preset tiny` killed with SIGKILL at seeded random moments and resumed gives
//!   the same `results.json` and `cells.csv`, byte for byte, as an uninterrupted run; and the
//!   numbers do not depend on `--threads` (a 1-thread run equals the 2-thread reference);
//! * reusing a finished folder with another seed, preset or revision is refused, naming the
//!   difference, and leaves every byte as it was;
//! * `merge` with a missing or a foreign shard refuses and names it; with the right shards (run
//!   on 1 thread) it reproduces the 2-thread reference byte for byte;
//! * `train dtm` (ignored by default: minutes; `.ci/run` runs it) killed and resumed ends with
//!   the same checkpoint as an uninterrupted run.

#![allow(clippy::unwrap_used)] // a test: fixed inputs, and a failure should stop it

use rand::RngExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use thermoq_core::rng::chain_rng;

const BIN: &str = env!("CARGO_BIN_EXE_xtask");

fn tmp(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("thermoq-crash-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn xtask(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    // A fixed revision, so a commit made while the test runs cannot change what it compares.
    c.args(args).env("THERMOQ_REVISION", "crash-test");
    c
}

/// Panics naming the first differing line when `got` and `want` differ.
fn same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let (g, w) = (String::from_utf8_lossy(got), String::from_utf8_lossy(want));
        let line = g
            .lines()
            .zip(w.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map_or_else(
                || format!("lengths {} vs {}", got.len(), want.len()),
                |(k, (a, b))| format!("line {}: {a:?} vs {b:?}", k + 1),
            );
        panic!("{what}: differs from the reference at {line}");
    }
}

/// `repro exp1 --preset tiny` followed by `extra`.
fn tiny<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["repro", "exp1", "--preset", "tiny"];
    a.extend_from_slice(extra);
    a
}

fn run_ok(args: &[&str]) -> Output {
    let o = xtask(args).output().expect("running xtask");
    assert!(
        o.status.success(),
        "xtask {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn run_err(mut c: Command) -> String {
    let o = c.output().expect("running xtask");
    assert!(!o.status.success(), "expected a refusal");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    thermoq_repro::runs::snapshot(dir).expect("reading the folder")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Starts `args`, kills it with SIGKILL after `after`; true if it was still running then.
fn kill_after(args: &[&str], after: Duration) -> bool {
    let mut child = xtask(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning xtask");
    let t0 = Instant::now();
    while t0.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let alive = child.try_wait().unwrap().is_none();
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    alive
}

#[test]
fn exp1_killed_resumed_refused_and_merged() {
    let base = tmp("exp1");
    let p = |s: &str| base.join(s).to_str().unwrap().to_string();
    // The uninterrupted reference, 2 threads.
    let t0 = Instant::now();
    let reference = p("reference");
    run_ok(&tiny(&["--threads", "2", "--out", &reference]));
    let full = t0.elapsed();
    let want_json = read(&base.join("reference/results.json"));
    let want_csv = read(&base.join("reference/cells.csv"));

    // Five runs, each killed at a seeded random moment within the reference's duration, then
    // resumed to the end: the same bytes as the reference.
    let mut moments = chain_rng(0x5eed_0018, 0);
    let mut hits = 0;
    let mut trial = 0;
    while hits < 5 && trial < 10 {
        trial += 1;
        let out = p(&format!("killed-{trial}"));
        let args = tiny(&["--threads", "2", "--out", &out]);
        let at = full.mul_f64(0.05 + 0.9 * moments.random::<f64>());
        hits += usize::from(kill_after(&args, at));
        let o = run_ok(&args);
        let log = String::from_utf8_lossy(&o.stderr);
        let written =
            std::fs::read_dir(base.join(format!("killed-{trial}/cells"))).map_or(0, |d| d.count());
        assert!(written > 0, "trial {trial}: no cells");
        same(
            &read(&base.join(format!("killed-{trial}/results.json"))),
            &want_json,
            &format!("trial {trial} (killed at {at:?}; resume log: {log})"),
        );
        same(
            &read(&base.join(format!("killed-{trial}/cells.csv"))),
            &want_csv,
            &format!("trial {trial} cells.csv"),
        );
    }
    assert!(
        hits >= 5,
        "only {hits} of {trial} kills hit a running process (reference took {full:?})"
    );

    // Thread-count independence: one thread gives the same bytes.
    let one = p("one-thread");
    run_ok(&tiny(&["--threads", "1", "--out", &one]));
    same(
        &read(&base.join("one-thread/results.json")),
        &want_json,
        "--threads 1 vs 2",
    );

    // Reusing the finished folder with another seed, preset or revision is refused, naming the
    // difference; not one byte changes.
    let before = snapshot(&base.join("reference"));
    let e = run_err(xtask(&tiny(&["--seed", "1", "--out", &reference])));
    assert!(e.contains("seed 0 vs 1"), "{e}");
    let e = run_err(xtask(&[
        "repro", "exp1", "--preset", "quick", "--out", &reference,
    ]));
    assert!(e.contains("preset tiny vs quick"), "{e}");
    let mut c = xtask(&tiny(&["--out", &reference]));
    c.env("THERMOQ_REVISION", "another-revision");
    let e = run_err(c);
    assert!(
        e.contains("revision") && e.contains("another-revision"),
        "{e}"
    );
    let e = run_err(xtask(&[
        "repro", "exp2", "--preset", "quick", "--out", &reference,
    ]));
    assert!(e.contains("experiment exp1 vs exp2"), "{e}");
    assert!(
        snapshot(&base.join("reference")) == before,
        "a refused command changed the folder"
    );
    // An altered cell is named and not trusted; --recompute-damaged mends it.
    let cell = std::fs::read_dir(base.join("reference/cells"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let text = std::fs::read_to_string(&cell).unwrap();
    let altered = text.replacen("\"gap\": 0.", "\"gap\": 1.", 1);
    assert_ne!(altered, text, "the cell has a gap field to alter");
    std::fs::write(&cell, &altered).unwrap();
    let e = run_err(xtask(&tiny(&["--out", &reference])));
    let name = cell.file_name().unwrap().to_string_lossy().into_owned();
    assert!(e.contains(&name) && e.contains("checksum"), "{e}");
    run_ok(&tiny(&["--out", &reference, "--recompute-damaged"]));
    same(
        &read(&base.join("reference/results.json")),
        &want_json,
        "after --recompute-damaged",
    );

    // Shards on one thread, a foreign shard (seed 1), and merges.
    let (s0, s1, foreign) = (p("shard-0"), p("shard-1"), p("foreign-1"));
    run_ok(&tiny(&["--threads", "1", "--shard", "0/2", "--out", &s0]));
    run_ok(&tiny(&["--threads", "1", "--shard", "1/2", "--out", &s1]));
    run_ok(&tiny(&[
        "--seed",
        "1",
        "--threads",
        "1",
        "--shard",
        "1/2",
        "--out",
        &foreign,
    ]));
    let merged = p("merged");
    let e = run_err(xtask(&["merge", "exp1", "--out", &merged, &s0]));
    assert!(e.contains("missing") && e.contains("shard 1/2"), "{e}");
    let e = run_err(xtask(&["merge", "exp1", "--out", &merged, &s0, &foreign]));
    assert!(e.contains("foreign-1") && e.contains("seed 0 vs 1"), "{e}");
    assert!(
        !base.join("merged").exists(),
        "a refused merge wrote its output"
    );
    run_ok(&["merge", "exp1", "--out", &merged, &s0, &s1]);
    same(
        &read(&base.join("merged/results.json")),
        &want_json,
        "merged 1-thread shards vs 2-thread run",
    );
    same(
        &read(&base.join("merged/cells.csv")),
        &want_csv,
        "merged cells.csv",
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// `train dtm --preset quick --epochs 2` killed at (at least) five seeded moments and resumed ends with
/// the same model as an uninterrupted run. Minutes (MNIST is fetched on first use); `.ci/run`
/// runs it with `--ignored`.
#[test]
#[ignore = "minutes of training; .ci/run runs it explicitly"]
fn train_dtm_killed_and_resumed() {
    let base = tmp("dtm");
    let p = |s: &str| base.join(s).to_str().unwrap().to_string();
    let reference = p("reference");
    let t0 = Instant::now();
    run_ok(&[
        "train", "dtm", "--preset", "quick", "--epochs", "2", "--out", &reference,
    ]);
    let full = t0.elapsed();
    let model = |dir: &str| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_slice(&read(&Path::new(dir).join("checkpoint.json"))).unwrap();
        strip_timings(&mut v);
        v
    };
    let want = model(&reference);
    let out = p("killed");
    let args = [
        "train", "dtm", "--preset", "quick", "--epochs", "2", "--out", &out,
    ];
    let mut moments = chain_rng(0x5eed_d7e0, 0);
    let (mut hits, mut tries, mut scale, mut fresh) = (0, 0, 0.5, false);
    while hits < 5 && tries < 15 {
        tries += 1;
        // A resumed run restarts the unfinished epoch, so kills within the first half of the
        // reference's time mostly land on a running process. A run that finished before its
        // kill (the machine got faster) is started over with --fresh and the moments shrink.
        let at = full.mul_f64(scale * (0.1 + 0.9 * moments.random::<f64>()));
        let mut a = args.to_vec();
        if fresh {
            a.push("--fresh");
        }
        if kill_after(&a, at) {
            hits += 1;
            fresh = false;
        } else {
            fresh = true;
            scale *= 0.6;
        }
    }
    run_ok(&args);
    assert!(
        hits >= 5,
        "only {hits} of {tries} kills hit a running training (reference {full:?})"
    );
    assert!(
        model(&out) == want,
        "resumed training differs from the uninterrupted one"
    );
    let e = run_err(xtask(&[
        "train", "dtm", "--preset", "quick", "--epochs", "2", "--seed", "1", "--out", &out,
    ]));
    assert!(e.contains("different configuration"), "{e}");
    let _ = std::fs::remove_dir_all(&base);
}

/// Drops wall-time fields (`seconds`) anywhere in a JSON value.
fn strip_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("seconds");
            m.values_mut().for_each(strip_timings);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_timings),
        _ => {}
    }
}
