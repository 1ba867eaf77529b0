//! `thermoq tau` end to end: a fast AR(1) series is resolved near its exact τ, a far too short
//! slow series is reported unresolved, and bad input fails with a message naming the line.

use std::io::Write;
use std::process::Command;

fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
    // xorshift + Box–Muller: a deterministic series without pulling rand into the test.
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut x = 0.0;
    (0..n)
        .map(|_| {
            let z = (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos();
            x = phi * x + z;
            x
        })
        .collect()
}

fn run(values: &[Vec<f64>]) -> (bool, serde_json::Value, String) {
    let mut f = tempfile::NamedTempFile::new().expect("a temporary file");
    for t in 0..values[0].len() {
        let row: Vec<String> = values.iter().map(|c| c[t].to_string()).collect();
        writeln!(f, "{}", row.join(",")).expect("writing the temporary file");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_thermoq"))
        .args(["tau", "--input"])
        .arg(f.path())
        .output()
        .expect("running the thermoq binary");
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn resolved_fast_series_near_exact_tau() {
    let chains: Vec<Vec<f64>> = (0..4).map(|c| ar1(0.8, 50_000, 10 + c)).collect();
    let (ok, v, err) = run(&chains);
    assert!(ok, "{err}");
    let tau = v["tau"].as_f64().unwrap();
    let se = v["std_err"].as_f64().unwrap();
    // exact τ = (1 + 0.8)/(1 − 0.8) = 9; the reported Sokal standard error bounds the deviation.
    assert!((tau - 9.0).abs() < 4.0 * se, "tau {tau} ± {se}");
    assert_eq!(v["resolved"], serde_json::Value::Bool(true));
    assert!(v["rhat"].as_f64().unwrap() < 1.01);
    assert_eq!(v["chains"], 4);
}

#[test]
fn too_short_slow_series_is_unresolved() {
    // exact τ = 1999 sweeps, but only 3000 samples: τ̂ must be flagged as a lower bound.
    let (ok, v, err) = run(&[ar1(0.999, 3000, 3)]);
    assert!(ok, "{err}");
    assert_eq!(v["resolved"], serde_json::Value::Bool(false));
}

#[test]
fn bad_input_names_the_line() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "1\n2\n3\nfoo\n5\n6\n7\n8\n9").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_thermoq"))
        .args(["tau", "--input"])
        .arg(f.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("line 4"), "{msg}");
}
