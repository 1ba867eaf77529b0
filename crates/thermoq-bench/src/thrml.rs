//! Driving thrml 0.1.4 (CPU JAX) beside thermoq for `bench peers`: the Python venv with thrml,
//! the JSON model spec `xtask/peers/thrml_peer.py` reads, the long-lived peer process, one timed
//! case (thermoq and thrml alternating, medians) and the moment cross-check of both against
//! exact enumeration. Nothing here prints; progress goes through a `note` callback.

use crate::peers::{MomentCase, PeerCase, mean_se, z};
use crate::{BenchError, CHAINS, SEED, median};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;
use thermoq_core::Coloring;
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::fast::Generator;
use thermoq_samplers::observe::ChainMoments;
use thermoq_samplers::{ChainBatch, KernelKind};

type Result<T> = std::result::Result<T, BenchError>;

/// A peer failure (the message names the step).
fn peer(msg: impl Into<String>) -> BenchError {
    BenchError::Peer(msg.into())
}

/// The thrml version compared against.
pub const THRML_VERSION: &str = "0.1.4";
/// Largest |z| the moment cross-check accepts.
pub const Z_MAX: f64 = 5.0;

// ---------------------------------------------------------------------------------------------
// Python / thrml

/// The venv's interpreter with thrml importable, creating the venv if needed; `Err` is the
/// human-readable reason the peer is missing.
pub fn thrml_python(root: &Path, note: &dyn Fn(&str)) -> std::result::Result<PathBuf, String> {
    let venv = root.join("target").join("peers-venv");
    let py = venv.join("bin").join("python");
    let has_thrml = |p: &Path| -> bool {
        Command::new(p)
            .args([
                "-c",
                "import thrml, jax; import sys; sys.exit(0 if thrml.__version__ == '0.1.4' else 3)",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if py.exists() && has_thrml(&py) {
        return Ok(py);
    }
    let sys_ok = |args: &[&str]| {
        Command::new("python3")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !sys_ok(&["--version"]) {
        return Err("python3 not found on PATH".into());
    }
    if !sys_ok(&["-m", "pip", "--version"]) {
        return Err("python3 has no pip (python3 -m pip failed)".into());
    }
    note(&format!(
        "creating {} and installing thrml=={THRML_VERSION} + jax (CPU) ...",
        venv.display()
    ));
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        return Err(format!("python3 -m venv {} failed", venv.display()));
    }
    let out = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("thrml=={THRML_VERSION}"),
            "jax",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            return Err(format!(
                "pip install thrml=={THRML_VERSION} jax failed: {last}"
            ));
        }
        Err(e) => return Err(format!("running pip: {e}")),
    }
    if has_thrml(&py) {
        Ok(py)
    } else {
        Err(format!(
            "thrml {THRML_VERSION} still not importable from {}",
            py.display()
        ))
    }
}

/// The model as the JSON spec `thrml_peer.py` reads.
fn spec_json(m: &IsingModel, coloring: &Coloring, extra: Value) -> Value {
    let edges: Vec<[usize; 2]> = m.graph().edges().map(|(i, j)| [i, j]).collect();
    let mut v = json!({
        "n": m.n_spins(),
        "edges": edges,
        "weights": m.couplings(),
        "biases": m.biases(),
        "beta": m.beta(),
        "blocks": coloring.classes(),
        "chains": CHAINS,
        "seed": SEED,
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn write_spec(root: &Path, name: &str, spec: &Value) -> Result<PathBuf> {
    let dir = root.join("target").join("peers-tmp");
    std::fs::create_dir_all(&dir).map_err(|e| peer(format!("creating {}: {e}", dir.display())))?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, spec.to_string())
        .map_err(|e| peer(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}

fn peer_command(py: &Path, root: &Path, spec: &Path, log: &Path) -> Result<Command> {
    let script = root.join("xtask").join("peers").join("thrml_peer.py");
    if !script.exists() {
        return Err(peer(format!("{} is missing", script.display())));
    }
    let log =
        std::fs::File::create(log).map_err(|e| peer(format!("creating {}: {e}", log.display())))?;
    let mut c = Command::new(py);
    c.arg(script)
        .arg(spec)
        .env("JAX_PLATFORMS", "cpu")
        .stderr(Stdio::from(log));
    Ok(c)
}

/// A running `thrml_peer.py` in bench mode.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

impl Peer {
    fn start(py: &Path, root: &Path, spec: &Path, log: PathBuf) -> Result<(Self, Value)> {
        let mut child = peer_command(py, root, spec, &log)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| peer(format!("starting thrml_peer.py: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| peer("thrml_peer.py: no stdin"))?;
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| peer("thrml_peer.py: no stdout"))?,
        );
        let mut p = Self {
            child,
            stdin,
            stdout,
            log,
        };
        let ready = p.read()?;
        if ready.get("ready").and_then(Value::as_bool) != Some(true) {
            return Err(peer(format!("thrml_peer.py did not get ready: {ready}")));
        }
        Ok((p, ready))
    }

    fn read(&mut self) -> Result<Value> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| peer(format!("reading thrml_peer.py: {e}")))?;
        if line.trim().is_empty() {
            return Err(peer(format!(
                "thrml_peer.py exited without output (see {})",
                self.log.display()
            )));
        }
        let v: Value = serde_json::from_str(line.trim())
            .map_err(|e| peer(format!("thrml_peer.py printed {line:?}: {e}")))?;
        if let Some(e) = v.get("error") {
            return Err(peer(format!("thrml_peer.py: {e}")));
        }
        Ok(v)
    }

    /// One timed call; returns its seconds.
    fn run(&mut self) -> Result<f64> {
        writeln!(self.stdin, "run")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| peer(format!("writing to thrml_peer.py: {e}")))?;
        let v = self.read()?;
        v["seconds"]
            .as_f64()
            .ok_or_else(|| peer(format!("thrml_peer.py: no seconds in {v}")))
    }

    fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Bench

/// Times `case`: thermoq (and its ChaCha8 reference when the case runs another generator) and
/// thrml (`py`: the venv interpreter, `None` for thermoq only), alternating, `reps` each.
pub fn bench_case(
    case: &PeerCase,
    py: Option<&Path>,
    root: &Path,
    reps: usize,
    threads: usize,
    profile: &str,
) -> Result<Value> {
    let m = case.model.ising();
    let n = m.n_spins();
    let mut s = case.model.sampler(
        KernelKind::BlkAlt,
        Some(case.coloring.clone()),
        case.engine,
        case.generator,
        SEED,
    )?;
    let mut batch = ChainBatch::uniform(CHAINS, n, SEED);
    // The reference generator on the same engine, when the case runs another one.
    let mut reference = if case.generator == Generator::ChaCha8 {
        None
    } else {
        let r = case.model.sampler(
            KernelKind::BlkAlt,
            Some(case.coloring.clone()),
            case.engine,
            Generator::ChaCha8,
            SEED,
        )?;
        Some((r, ChainBatch::uniform(CHAINS, n, SEED)))
    };
    let mut peer_error: Option<String> = None;
    let mut peer = match py {
        Some(py) => {
            let spec = spec_json(
                m,
                &case.coloring,
                json!({"mode": "bench", "sweeps": case.sweeps_thrml}),
            );
            let path = write_spec(root, &case.name, &spec)?;
            let log = path.with_extension("stderr.log");
            match Peer::start(py, root, &path, log) {
                Ok(p) => Some(p),
                Err(e) => {
                    peer_error = Some(e.to_string());
                    None
                }
            }
        }
        None => None,
    };
    let compile_s = peer
        .as_ref()
        .map(|p| p.1["compile_and_first_call_s"].clone())
        .unwrap_or(Value::Null);
    s.sweep(&mut batch, case.sweeps_thermoq)?; // warm-up
    if let Some((r, b)) = reference.as_mut() {
        r.sweep(b, case.sweeps_thermoq)?;
    }
    let (mut tq, mut tt, mut tr) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let t0 = Instant::now();
        s.sweep(&mut batch, case.sweeps_thermoq)?;
        tq.push(t0.elapsed().as_secs_f64());
        if let Some((r, b)) = reference.as_mut() {
            let t0 = Instant::now();
            r.sweep(b, case.sweeps_thermoq)?;
            tr.push(t0.elapsed().as_secs_f64());
        }
        if let Some((p, _)) = peer.as_mut() {
            match p.run() {
                Ok(t) => tt.push(t),
                Err(e) => {
                    peer_error = Some(e.to_string());
                    break;
                }
            }
        }
    }
    if let Some((p, _)) = peer {
        p.quit();
    }
    let work_q = (case.sweeps_thermoq * n * CHAINS) as f64;
    let work_t = (case.sweeps_thrml * n * CHAINS) as f64;
    let q = work_q / median(&tq);
    let t = (peer_error.is_none() && tt.len() == reps).then(|| work_t / median(&tt));
    let qr = (!tr.is_empty()).then(|| work_q / median(&tr));
    Ok(json!({
        "case": case.name,
        "thermoq_updates_per_s": q,
        "thrml_updates_per_s": t,
        "ratio": t.map(|t| q / t),
        "generator": s.generator().name(),
        "thermoq_chacha8_updates_per_s": qr,
        "ratio_chacha8": qr.zip(t).map(|(qr, t)| qr / t),
        "thermoq_chacha8_seconds_all": tr,
        "spins": n,
        "edges": m.graph().n_edges(),
        "blocks": case.coloring.n_colors(),
        "chains": CHAINS,
        "kernel": "blk-alt",
        "engine": s.engine().name(),
        "thermoq_sweeps": case.sweeps_thermoq,
        "thrml_sweeps": case.sweeps_thrml,
        "thermoq_seconds_all": tq,
        "thrml_seconds_all": tt,
        "thrml_compile_s": compile_s,
        "thrml_missing": match (py, &peer_error) {
            (_, Some(e)) => Value::from(e.clone()),
            (None, None) => Value::from("no python (see the note above)"),
            _ => Value::Null,
        },
        "threads": threads,
        "profile": profile,
    }))
}

// ---------------------------------------------------------------------------------------------
// Moments

/// The moment cross-check of `case`: thermoq and (with `py`) thrml against exact enumeration
/// and against each other.
pub fn moment_check(
    case: &MomentCase,
    py: Option<&Path>,
    root: &Path,
    quick: bool,
) -> Result<Value> {
    let (name, model, coloring, engine, generator) = case;
    let (name, engine, generator) = (*name, *engine, *generator);
    let m = model.ising();
    let (burn_in, sweeps) = if quick { (200, 4000) } else { (1000, 20000) };
    let mut s = model.sampler(
        KernelKind::BlkAlt,
        Some(coloring.clone()),
        engine,
        generator,
        SEED + 1,
    )?;
    let mut batch = ChainBatch::uniform(CHAINS, m.n_spins(), SEED + 1);
    let obs = s.run(&mut batch, burn_in, sweeps, |_| ChainMoments::new(m))?;
    let law = ExactLaw::new(m)?;
    let exact: Vec<f64> = law
        .m1()
        .into_iter()
        .chain(law.m2(m.graph().edges()))
        .collect();
    let n_obs = exact.len();
    let q_means: Vec<Vec<f64>> = (0..n_obs)
        .map(|a| {
            obs.chains()
                .iter()
                .map(|c| c.sum(a) / sweeps as f64)
                .collect()
        })
        .collect();
    let (mut zq, mut max_err_q) = (0.0f64, 0.0f64);
    let q_stats: Vec<(f64, f64)> = q_means.iter().map(|v| mean_se(v)).collect();
    for (a, &(mq, sq)) in q_stats.iter().enumerate() {
        zq = zq.max(z(mq - exact[a], sq));
        max_err_q = max_err_q.max((mq - exact[a]).abs());
    }
    let mut thrml_missing = Value::Null;
    let (mut zt, mut zd, mut max_err_t) = (None, None, None);
    if let Some(py) = py {
        let spec = spec_json(
            m,
            coloring,
            json!({"mode": "moments", "burn_in": burn_in, "samples": sweeps}),
        );
        let path = write_spec(root, &format!("moments-{name}"), &spec)?;
        let log = path.with_extension("stderr.log");
        let res = (|| -> Result<Vec<Vec<f64>>> {
            let out = peer_command(py, root, &path, &log)?
                .stdin(Stdio::null())
                .output()
                .map_err(|e| peer(format!("running thrml_peer.py (moments): {e}")))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let v: Value = serde_json::from_str(text.trim()).map_err(|e| {
                peer(format!(
                    "thrml_peer.py (moments) printed {:?}; see {}: {e}",
                    text.chars().take(200).collect::<String>(),
                    log.display()
                ))
            })?;
            if let Some(e) = v.get("error") {
                return Err(peer(format!("thrml_peer.py: {e}")));
            }
            let parse = |key: &str| -> Result<Vec<Vec<f64>>> {
                serde_json::from_value(v[key].clone())
                    .map_err(|e| peer(format!("thrml_peer.py: bad {key}: {e}")))
            };
            let (m1, m2) = (parse("chain_m1")?, parse("chain_m2")?);
            // Transpose to observable-major: [a][chain].
            let mut t = vec![Vec::with_capacity(CHAINS); n_obs];
            for (c1, c2) in m1.iter().zip(&m2) {
                if c1.len() + c2.len() != n_obs {
                    return Err(peer(format!(
                        "thrml_peer.py: {} moments, expected {n_obs}",
                        c1.len() + c2.len()
                    )));
                }
                for (a, &x) in c1.iter().chain(c2).enumerate() {
                    t[a].push(x);
                }
            }
            Ok(t)
        })();
        match res {
            Ok(t_means) => {
                let (mut a_zt, mut a_zd, mut a_err) = (0.0f64, 0.0f64, 0.0f64);
                for (a, v) in t_means.iter().enumerate() {
                    let (mt, st) = mean_se(v);
                    let (mq, sq) = q_stats[a];
                    a_zt = a_zt.max(z(mt - exact[a], st));
                    a_zd = a_zd.max(z(mq - mt, (sq * sq + st * st).sqrt()));
                    a_err = a_err.max((mt - exact[a]).abs());
                }
                zt = Some(a_zt);
                zd = Some(a_zd);
                max_err_t = Some(a_err);
            }
            Err(e) => thrml_missing = Value::from(e.to_string()),
        }
    } else {
        thrml_missing = Value::from("no python (see the note above)");
    }
    let worst = [Some(zq), zt, zd].into_iter().flatten().fold(0.0, f64::max);
    Ok(json!({
        "case": format!("moments-{name}"),
        "pass": worst <= Z_MAX,
        "max_z": worst,
        "z_limit": Z_MAX,
        "max_z_thermoq_vs_exact": zq,
        "max_z_thrml_vs_exact": zt,
        "max_z_thermoq_vs_thrml": zd,
        "max_abs_err_thermoq": max_err_q,
        "max_abs_err_thrml": max_err_t,
        "observables": n_obs,
        "spins": m.n_spins(),
        "blocks": coloring.n_colors(),
        "engine": s.engine().name(),
        "generator": s.generator().name(),
        "chains": CHAINS,
        "burn_in": burn_in,
        "sweeps": sweeps,
        "thrml_missing": thrml_missing,
    }))
}

// ---------------------------------------------------------------------------------------------

/// The human-readable table of `bench peers` rows (`rows`: timed cases, `checks`: moment checks).
pub fn table(rows: &[Value], checks: &[Value]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let line = |out: &mut String, c: [&str; 6]| {
        let _ = writeln!(
            out,
            "{:<12} {:<10} {:<12} {:>14} {:>14} {:>8}",
            c[0], c[1], c[2], c[3], c[4], c[5]
        );
    };
    line(
        &mut out,
        [
            "case",
            "engine",
            "generator",
            "thermoq upd/s",
            "thrml upd/s",
            "ratio",
        ],
    );
    for r in rows {
        let f = |k: &str| {
            r[k].as_f64()
                .map_or("-".to_string(), |v| format!("{v:.3e}"))
        };
        let ratio = |k: &str| r[k].as_f64().map_or("-".into(), |v| format!("{v:.1}x"));
        let s = |k: &str| r[k].as_str().unwrap_or("?").to_string();
        let cols = [
            s("case"),
            s("engine"),
            s("generator"),
            f("thermoq_updates_per_s"),
        ];
        let (t, q) = (f("thrml_updates_per_s"), ratio("ratio"));
        line(&mut out, [&cols[0], &cols[1], &cols[2], &cols[3], &t, &q]);
        if r["thermoq_chacha8_updates_per_s"].is_f64() {
            let (c, rc) = (f("thermoq_chacha8_updates_per_s"), ratio("ratio_chacha8"));
            line(&mut out, ["", &cols[1], "chacha8", &c, &t, &rc]);
        }
    }
    for c in checks {
        let _ = writeln!(
            out,
            "{:<22} {} (max |z| = {:.2}, limit {Z_MAX}; engine {}, {}{})",
            c["case"].as_str().unwrap_or("?"),
            if c["pass"].as_bool() == Some(true) {
                "PASS"
            } else {
                "FAIL"
            },
            c["max_z"].as_f64().unwrap_or(f64::NAN),
            c["engine"].as_str().unwrap_or("?"),
            c["generator"].as_str().unwrap_or("?"),
            if c["thrml_missing"].is_null() {
                ", thermoq and thrml vs exact and vs each other"
            } else {
                ", thermoq vs exact only: thrml missing"
            }
        );
    }
    out
}
