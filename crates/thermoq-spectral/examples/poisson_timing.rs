//! Times the matrix-free Poisson solve for RS1 on a bias-free SK model:
//! `cargo run -p thermoq-spectral --example poisson_timing -- N BETA N_OBS`.

use std::time::Instant;
use thermoq_models::{ObservableSet, builders, exact::ExactLaw};
use thermoq_samplers::{KernelKind, exact::ExactKernel};
use thermoq_spectral::{PoissonParams, asymptotic_variances};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    let beta: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0.5);
    let n_obs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let m = builders::sherrington_kirkpatrick(n, beta, 1);
    let t0 = Instant::now();
    let op = ExactKernel::of_kind(KernelKind::Rs1, &m).expect("tables");
    let law = ExactLaw::new(&m).expect("law");
    let table = law.observable_table(&m, ObservableSet::Couplings);
    let table: Vec<Vec<f64>> = table.into_iter().take(n_obs).collect();
    let setup = t0.elapsed().as_secs_f64();
    if std::env::var("COMPARE").is_ok() {
        compare_step(&op);
        return;
    }
    let t1 = Instant::now();
    let res = asymptotic_variances(&op, &law.pi, &table, &PoissonParams::default()).expect("solve");
    let solve = t1.elapsed().as_secs_f64();
    for r in &res {
        println!(
            "tau_int {:.6} v {:.6e} iters {} residual {:.2e}",
            r.tau_int, r.asymptotic_variance, r.iterations, r.residual
        );
    }
    println!("N={n} beta={beta} n_obs={n_obs} setup {setup:.2}s solve {solve:.2}s");
}

/// Compares the fused site-mixture step with the plan interpreter (same run, same load).
#[allow(dead_code)]
fn compare_step(op: &ExactKernel) {
    use thermoq_spectral::operator::{FastOp, split_repeat};
    let ns = op.n_states();
    let mut f: Vec<f64> = (0..ns).map(|s| (s as f64).sin()).collect();
    let mut g = f.clone();
    let mut scratch = vec![0.0; ns];
    let step = split_repeat(op.plan()).0.clone();
    let t = Instant::now();
    for _ in 0..5 {
        op.plan_right(&step, &mut f);
    }
    let a = t.elapsed().as_secs_f64() / 5.0;
    let fast = FastOp::new(&step);
    let t = Instant::now();
    for _ in 0..5 {
        fast.apply(op, &mut g, &mut scratch);
    }
    let b = t.elapsed().as_secs_f64() / 5.0;
    let d = f
        .iter()
        .zip(&g)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    println!("step: interpreter {a:.4}s fused {b:.4}s max diff {d:.2e}");
}
