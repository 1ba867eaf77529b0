//! The issue-18 bad-input corpus (`tests/bad-inputs/`, see its README) through the real `thermoq`
//! binary: every case ends within 20 s, by no signal, either with a nonzero exit and a message
//! naming the field or option at fault, or with a correct answer (exit 0, finite numbers, no
//! `null`).
#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad-inputs")
        .join(name)
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

/// Runs `thermoq args…` with a 20 s limit; a hang or a signal fails the test here.
fn run(args: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_thermoq"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            panic!("thermoq {args:?} hung: no exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.signal().is_none(),
            "thermoq {args:?} was killed by signal {:?} (abort?)\nstderr: {}",
            status.signal(),
            std::fs::read_to_string(&err_path).unwrap_or_default()
        );
    }
    Outcome {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// A refusal: nonzero exit, `error:` naming every one of `names`, nothing (no `null`) on stdout.
fn refuses(args: &[&str], names: &[&str]) -> Outcome {
    let o = run(args);
    assert!(
        o.code.is_some_and(|c| c != 0),
        "thermoq {args:?} exited {:?}; stdout {}",
        o.code,
        o.stdout
    );
    assert!(
        !o.stdout.contains("null"),
        "thermoq {args:?}: null in {}",
        o.stdout
    );
    let msg = o
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    for n in names {
        assert!(
            msg.contains(n),
            "thermoq {args:?}: message does not name {n:?}: {}",
            o.stderr
        );
    }
    eprintln!("ok ({:.2} s) thermoq {}: {msg}", o.seconds, args.join(" "));
    o
}

fn p(name: &str) -> String {
    corpus(name).display().to_string()
}

#[test]
fn tiny_inputs_no_longer_abort() {
    // 16-byte colouring [0,4294967294,0]
    refuses(
        &[
            "sample",
            "--model",
            &p("chain3.json"),
            "--kernel",
            "blk-alt",
            "--colors",
            &p("colors-huge.json"),
            "--sweeps",
            "10",
        ],
        &["colors[1]", "4294967294"],
    );
    // 24-byte binary model claiming a 2^60-byte string
    refuses(
        &["inspect", "--model", &p("strlen-2e60.bin")],
        &["format", "1152921504606846976"],
    );
    refuses(&["sample", "--model", &p("strlen-2e60.bin")], &["format"]);
    // snr --monte-carlo --seeds 1e11
    refuses(
        &[
            "snr",
            "--model",
            &p("cw6.json"),
            "--monte-carlo",
            "--seeds",
            "100000000000",
            "--burn-in",
            "10",
            "--window",
            "10",
        ],
        &["--seeds"],
    );
    // sample --chains u64::MAX
    refuses(
        &[
            "sample",
            "--model",
            &p("cw6.json"),
            "--chains",
            "18446744073709551615",
        ],
        &["--chains"],
    );
}

#[test]
fn huge_counts_no_longer_hang() {
    for (flag, v) in [
        ("--sweeps", "18446744073709551615"),
        ("--burn-in", "18446744073709551615"),
        ("--sweeps", "18446744073709551000"),
        ("--burn-in", "9223372036854775808"),
    ] {
        let o = refuses(&["sample", "--model", &p("cw6.json"), flag, v], &[flag]);
        assert!(o.seconds < 5.0, "{flag} {v} took {} s", o.seconds);
    }
    // snr checks the model size up front, as spectrum does.
    for (m, n) in [("cw25.json", "25"), ("cw30.json", "30")] {
        let o = refuses(&["snr", "--model", &p(m)], &["model", &format!("N = {n}")]);
        assert!(o.seconds < 5.0, "snr on {m} took {} s", o.seconds);
        refuses(&["spectrum", "--model", &p(m)], &[&format!("N = {n}")]);
    }
    // A legal but large analysis refuses up front under a memory budget, naming what lowers it.
    let o = refuses(
        &[
            "spectrum",
            "--model",
            &p("cw14.json"),
            "--max-memory",
            "64M",
        ],
        &["--max-memory", "model size"],
    );
    assert!(o.seconds < 5.0, "{}", o.seconds);
    refuses(
        &["snr", "--model", &p("cw14.json"), "--max-memory", "64M"],
        &["--max-memory"],
    );
    refuses(
        &[
            "sample",
            "--model",
            &p("cw6.json"),
            "--chains",
            "100000000",
            "--max-memory",
            "1G",
        ],
        &["--chains", "--max-memory"],
    );
}

#[test]
fn unrepresentable_numbers_are_errors_not_nulls() {
    // J = 1e308: the energy sums overflow; an error naming the quantity, never null.
    refuses(
        &[
            "sample",
            "--model",
            &p("j1e308.json"),
            "--chains",
            "4",
            "--sweeps",
            "100",
        ],
        &["energy_"],
    );
    // tau near ±1e308: the right answer (the same as for the series scaled to ±1), no null, and
    // an ESS within the estimator's cap M·N·log10(M·N).
    let big = run(&["tau", "--input", &p("tau-1e308.csv")]);
    let plain = run(&["tau", "--input", &p("tau-plain.csv")]);
    assert_eq!(big.code, Some(0), "{}", big.stderr);
    assert_eq!(plain.code, Some(0), "{}", plain.stderr);
    assert!(!big.stdout.contains("null"), "{}", big.stdout);
    let vb: serde_json::Value = serde_json::from_str(&big.stdout).unwrap();
    let vp: serde_json::Value = serde_json::from_str(&plain.stdout).unwrap();
    for k in ["tau", "ess", "rhat", "std_err"] {
        let (a, b) = (vb[k].as_f64().unwrap(), vp[k].as_f64().unwrap());
        // The two inputs differ only by decimal rounding of the scale factor (≈ 1e-16 relative).
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{k}: {a} vs {b}");
    }
    let total = 2.0 * 256.0;
    assert!(vb["ess"].as_f64().unwrap() <= total * f64::log10(total));
}

#[test]
fn smaller_ones() {
    // Wrong magic: "not a thermoq model file", not "invalid utf-8".
    let o = refuses(
        &["inspect", "--model", &p("wrong-magic.bin")],
        &["not a thermoq model file"],
    );
    assert!(!o.stderr.contains("invalid utf-8"), "{}", o.stderr);
    // OS error text printed once.
    let o = refuses(
        &["sample", "--model", "/nonexistent/thermoq/m.json"],
        &["m.json"],
    );
    let os = std::io::Error::from_raw_os_error(2).to_string();
    let os = os.split(" (os error").next().unwrap_or(&os).to_lowercase();
    let count = o.stderr.to_lowercase().matches(&os).count();
    assert_eq!(
        count, 1,
        "OS error text {os:?} printed {count} times: {}",
        o.stderr
    );
}

/// Long exact analyses announce their stages on standard error when it is not a terminal.
#[test]
fn spectrum_prints_progress_lines_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cw12.json");
    let n = 12;
    let edges: Vec<String> = (0..n)
        .flat_map(|i| ((i + 1)..n).map(move |j| format!("[{i},{j},0.04]")))
        .collect();
    std::fs::write(
        &path,
        format!(
            "{{\"format\":\"thermoq-ising-v1\",\"n\":{n},\"beta\":1.0,\"h\":{:?},\"edges\":[{}]}}",
            vec![0.0; n],
            edges.join(",")
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_thermoq"))
        .args(["spectrum", "--json", "--model"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for stage in [
        "enumerating 2^12 states",
        "dense eigendecomposition",
        "Poisson solves",
        "done",
    ] {
        assert!(err.contains(stage), "no {stage:?} line in {err}");
    }
    assert!(
        err.lines().all(|l| l.starts_with("thermoq spectrum: [")),
        "{err}"
    );
}
