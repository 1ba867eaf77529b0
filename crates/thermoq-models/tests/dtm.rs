//! DTM grids, placement, forward process, J_k and clamping (SCIENCE.md §3.1, II.9).

#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use rand::SeedableRng;
use std::collections::BTreeSet;
use std::sync::Arc;
use thermoq_core::Spin;
use thermoq_core::rng::chain_rng;
use thermoq_models::dtm::{
    self, Block, DtmError, DtmLayer, DtmLayout, ForwardProcess, GridPreset, Schedule, TorusGrid,
    VisibleSpec, forward,
};
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel};
use thermoq_samplers::{GibbsKernel, Kernel, KernelKind, Plan};

fn spec(n_image: usize, n_classes: usize, label_spots: usize) -> VisibleSpec {
    VisibleSpec {
        n_image,
        n_classes,
        label_spots,
    }
}

#[test]
fn presets_have_exact_degree_and_are_bipartite() {
    for &(name, side, jumps) in dtm::grid::PRESETS {
        let g = TorusGrid::named(name).unwrap();
        assert_eq!(g.n_nodes(), side * side, "{name}");
        let graph = g.graph();
        for i in 0..g.n_nodes() {
            assert_eq!(graph.degree(i), 4 * jumps.len(), "{name} node {i}");
            // no repeated neighbour (Graph rejects duplicate edges; check the CSR view too)
            let nb: BTreeSet<u32> = graph.neighbors(i).iter().copied().collect();
            assert_eq!(nb.len(), graph.degree(i));
        }
        for (i, j) in graph.edges() {
            assert!(g.is_upper(i) && !g.is_upper(j), "{name}: edge {i}-{j}");
        }
        let c = g.chessboard().unwrap();
        assert!(c.is_proper(graph));
        assert_eq!(c.n_colors(), 2);
        assert_eq!(g.upper_nodes().len(), side * side / 2);
    }
}

#[test]
fn torus_wraps_at_the_corner() {
    let g = TorusGrid::named("60_12").unwrap();
    let corner = g.node(0, 0);
    assert_eq!(corner, 0);
    let got: BTreeSet<u32> = g.graph().neighbors(corner).iter().copied().collect();
    // jumps (0,1), (4,1), (10,9) in four rotations, taken modulo 60
    let mut want = BTreeSet::new();
    for (dr, dc) in [(0i64, 1i64), (4, 1), (10, 9)] {
        for (a, b) in [(dr, dc), (-dc, dr), (-dr, -dc), (dc, -dr)] {
            want.insert(g.node(a, b) as u32);
        }
    }
    assert_eq!(got, want);
    // spelled out: right, up (wraps to row 59), left (wraps to col 59), down, and two (4,1) turns
    for (r, c) in [(0, 1), (59, 0), (0, 59), (1, 0), (56, 59), (59, 4)] {
        assert!(got.contains(&((r * 60 + c) as u32)), "({r},{c})");
    }
    assert_eq!(g.coords(59 * 60 + 4), (59, 4));
}

#[test]
fn duplicate_offsets_are_rejected() {
    let bad = GridPreset {
        side: 10,
        jumps: vec![(0, 1), (1, 0)],
    };
    assert!(matches!(
        TorusGrid::new(&bad),
        Err(DtmError::Grid { side: 10, .. })
    ));
    let even = GridPreset {
        side: 10,
        jumps: vec![(2, 2)],
    };
    assert!(matches!(TorusGrid::new(&even), Err(DtmError::Grid { .. })));
}

#[test]
fn visible_nodes_sit_on_upper_colour_and_placement_is_seeded() {
    let s = spec(196, 10, 5);
    let a = DtmLayout::new(TorusGrid::named("24_8").unwrap(), s, 7).unwrap();
    let b = DtmLayout::new(TorusGrid::named("24_8").unwrap(), s, 7).unwrap();
    let c = DtmLayout::new(TorusGrid::named("24_8").unwrap(), s, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.visible_nodes(), c.visible_nodes());
    let g = a.grid();
    assert_eq!(a.block(Block::Image).len(), 196);
    assert_eq!(a.block(Block::Label).len(), 50);
    assert!(a.visible_nodes().iter().all(|&i| g.is_upper(i as usize)));
    assert!(
        a.block(Block::UpperHidden)
            .iter()
            .all(|&i| g.is_upper(i as usize))
    );
    assert!(
        a.block(Block::LowerHidden)
            .iter()
            .all(|&i| !g.is_upper(i as usize))
    );
    // the four blocks partition the grid
    let mut all: Vec<u32> = Block::ALL
        .iter()
        .flat_map(|&b| a.block(b).to_vec())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..576u32).collect::<Vec<_>>());
    // the 4-block colouring is proper and matches the blocks; the block kernels accept it
    let col = a.coloring();
    assert_eq!(col.n_colors(), 4);
    assert!(col.is_proper(a.graph()));
    for (k, &b) in Block::ALL.iter().enumerate() {
        assert_eq!(a.block_color(b), Some(k as u32));
        let mut cls = a.block(b).to_vec();
        cls.sort_unstable();
        assert_eq!(col.class(k), &cls[..]);
    }
    let k = GibbsKernel::new(KernelKind::BlkSym, a.graph(), Some(col.clone())).unwrap();
    assert_eq!(k.coloring().unwrap().n_colors(), 4);
    // scatter / gather round trip
    let v: Vec<Spin> = (0..246).map(|i| if i % 3 == 0 { 1 } else { -1 }).collect();
    let mut x = vec![0 as Spin; 576];
    a.scatter_visible(&v, &mut x).unwrap();
    assert_eq!(a.gather_visible(&x).unwrap(), v);
    assert!(a.scatter_visible(&v[1..], &mut x).is_err());
}

#[test]
fn capacity_rule_is_enforced() {
    // 20²/2 = 200 upper nodes < 196 + 10·5
    let e = DtmLayout::new(TorusGrid::named("20_8").unwrap(), spec(196, 10, 5), 0).unwrap_err();
    assert!(matches!(
        e,
        DtmError::Capacity {
            side: 20,
            upper: 200,
            needed: 246,
            n_image: 196,
            n_label: 50
        }
    ));
    // a full 28×28 image needs side ≥ 42
    assert!(matches!(
        DtmLayout::new(TorusGrid::named("30_12").unwrap(), spec(784, 10, 5), 0),
        Err(DtmError::Capacity { .. })
    ));
    assert!(DtmLayout::new(TorusGrid::named("42_8").unwrap(), spec(784, 10, 5), 0).is_ok());
    assert!(DtmLayout::new(TorusGrid::named("60_12").unwrap(), spec(784, 10, 5), 0).is_ok());
    // exactly full: no label and no upper-hidden block; the colouring skips the empty blocks
    let full = DtmLayout::new(TorusGrid::named("4_4").unwrap(), spec(8, 10, 0), 0).unwrap();
    assert_eq!(full.coloring().n_colors(), 2);
    assert_eq!(full.block_color(Block::Label), None);
    assert_eq!(full.block_color(Block::LowerHidden), Some(1));
    assert!(DtmLayout::new(TorusGrid::named("4_4").unwrap(), spec(0, 1, 1), 0).is_err());
}

/// Fraction of spins of `a` equal to those of `b`.
fn agreement(a: &[Spin], b: &[Spin]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

#[test]
fn forward_process_keeps_a_spin_with_probability_half_one_plus_exp() {
    // Spins are noised independently, so the agreement count is Binomial(N, p) exactly, with
    // p = (1 + e^{−λΔt})/2. Tolerance: 5 binomial standard errors √(p(1−p)/N) (two-sided
    // false-failure probability ≈ 6e-7 per check).
    let n = 200_000;
    let mut rng = chain_rng(11, 0);
    let x0: Vec<Spin> = (0..n)
        .map(|i| if (i * 7919) % 3 == 0 { 1 } else { -1 })
        .collect();
    for &(lambda, dt) in &[(0.8, 0.1), (0.8, 0.7), (0.2, 2.5), (0.9, 5.0)] {
        let p = forward::same_probability(lambda, dt);
        let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
        let mut x = x0.clone();
        forward::noise(&mut x, lambda, dt, &mut rng);
        let got = agreement(&x0, &x);
        assert!(
            (got - p).abs() < tol,
            "λ={lambda} Δt={dt}: {got} vs {p} ± {tol}"
        );
        // Markov semigroup: two legs Δt/3 and 2Δt/3 compose to the one-leg law
        let mut y = x0.clone();
        forward::noise(&mut y, lambda, dt / 3.0, &mut rng);
        forward::noise(&mut y, lambda, 2.0 * dt / 3.0, &mut rng);
        let got2 = agreement(&x0, &y);
        assert!((got2 - p).abs() < tol, "two legs: {got2} vs {p} ± {tol}");
    }
    // infinite time is pure noise: p = 1/2
    let mut z = x0.clone();
    forward::noise(&mut z, 0.8, f64::INFINITY, &mut rng);
    assert!((agreement(&x0, &z) - 0.5).abs() < 5.0 * (0.25 / n as f64).sqrt());
}

#[test]
fn image_and_label_use_their_own_rates() {
    // Same binomial tolerance as above, on each part separately.
    let process = ForwardProcess::new(0.8, 0.2, Schedule::Linear, 2, 0.1).unwrap();
    let (n_img, n_lab) = (100_000, 100_000);
    let x0 = vec![1 as Spin; n_img + n_lab];
    let mut rng = chain_rng(12, 0);
    let (prev, next) = process.training_pair(1, &x0, n_img, &mut rng).unwrap();
    let (s, t) = process.training_interval(1).unwrap();
    assert!((s - 0.5 * 0.9).abs() < 1e-15 && (t - 1.1).abs() < 1e-15);
    for (lo, hi, lambda, dt, a, b) in [
        (0, n_img, 0.8, s, &x0, &prev),
        (n_img, n_img + n_lab, 0.2, s, &x0, &prev),
        (0, n_img, 0.8, t - s, &prev, &next),
        (n_img, n_img + n_lab, 0.2, t - s, &prev, &next),
    ] {
        let p = forward::same_probability(lambda, dt);
        let tol = 5.0 * (p * (1.0 - p) / (hi - lo) as f64).sqrt();
        let got = agreement(&a[lo..hi], &b[lo..hi]);
        assert!((got - p).abs() < tol, "λ={lambda}: {got} vs {p} ± {tol}");
    }
}

#[test]
fn coupling_matches_closed_form_and_forward_log_odds() {
    for &x in &[1e-6, 1e-3, 0.05, 0.3, 1.0, 2.5, 8.0, 30.0] {
        // x = λΔt
        let j = forward::coupling(1.0, x);
        let coth = 1.0 / (x / 2.0).tanh();
        assert!(((2.0 * j).exp() / coth - 1.0).abs() < 1e-12, "x={x}");
        // J is half the log-odds of keeping vs flipping under the forward kernel
        let p = forward::same_probability(1.0, x);
        assert!(
            (2.0 * j - (p / (1.0 - p)).ln()).abs() < 1e-9 * (1.0 + j),
            "x={x}"
        );
        // and the textbook form where it is numerically safe
        if x < 20.0 {
            assert!((j + 0.5 * (x / 2.0).tanh().ln()).abs() < 1e-12 * (1.0 + j));
        }
    }
    assert_eq!(forward::coupling(0.8, 0.0), f64::INFINITY);
    assert_eq!(forward::coupling(0.8, f64::INFINITY), 0.0);
    // T = 8 log schedule: Δt_k grows, so J_k decreases, and the last step (Δt = ∞) has J = 0
    let p = ForwardProcess::new(0.9, 0.2, Schedule::Log, 8, 0.15).unwrap();
    let js: Vec<f64> = (0..8).map(|k| p.couplings(k).unwrap().0).collect();
    assert!(js.windows(2).all(|w| w[0] > w[1]), "{js:?}");
    assert_eq!(js[7], 0.0);
    let (t0, t1) = p.interval(0).unwrap();
    assert!((js[0] - forward::coupling(0.9, t1 - t0)).abs() < 1e-15);
}

/// A small layer (4_4 grid, 4 image + 2 label nodes) with learned parameters uniform in ±`scale`.
fn small_layer(process: &ForwardProcess, step: usize, scale: f64, seed: u64) -> DtmLayer {
    let layout = DtmLayout::new(TorusGrid::named("4_4").unwrap(), spec(4, 2, 1), seed).unwrap();
    let mut layer = DtmLayer::new(Arc::new(layout), process, step, 1.0).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let theta: Vec<f64> = (0..layer.n_params())
        .map(|_| scale * (2.0 * uniform(&mut rng) - 1.0))
        .collect();
    layer.set_params(&theta).unwrap();
    layer
}

fn uniform<R: rand::Rng>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn linear4() -> ForwardProcess {
    ForwardProcess::new(0.8, 0.2, Schedule::Linear, 4, 0.1).unwrap()
}

#[test]
fn input_enters_as_bias_and_t1_log_has_none() {
    let layer = small_layer(&linear4(), 1, 0.5, 3);
    let (ji, jl) = layer.input_couplings();
    assert!(ji > 0.0 && jl > ji); // the slower label rate couples more strongly
    let x_t: Vec<Spin> = vec![1, -1, 1, 1, -1, 1];
    let cond = layer.conditional(&x_t).unwrap();
    let vis = layer.layout().visible_nodes();
    for i in 0..16 {
        let extra = match vis.iter().position(|&v| v as usize == i) {
            Some(v) if v < 4 => ji * f64::from(x_t[v]),
            Some(v) => jl * f64::from(x_t[v]),
            None => 0.0,
        };
        assert!((cond.bias(i) - layer.learned().bias(i) - extra).abs() < 1e-15);
    }
    // energy of the conditional = learned energy − Σ_v J(v) x_{t−1,v} x_{t,v}
    let x: Vec<Spin> = (0..16).map(|i| if i % 5 < 2 { 1 } else { -1 }).collect();
    let xv = layer.layout().gather_visible(&x).unwrap();
    let coupling_term: f64 = (0..6)
        .map(|v| (if v < 4 { ji } else { jl }) * f64::from(xv[v] * x_t[v]))
        .sum();
    assert!((cond.energy(&x) - (layer.learned().energy(&x) - coupling_term)).abs() < 1e-12);
    let owned = layer.conditional_model(&x_t).unwrap();
    assert!((owned.energy(&x) - cond.energy(&x)).abs() < 1e-12);
    for i in 0..16 {
        assert!((owned.local_field(&x, i) - cond.local_field(&x, i)).abs() < 1e-12);
    }
    // T = 1, log schedule: J = 0, the input changes nothing
    let mebm = small_layer(&ForwardProcess::default(), 0, 0.5, 3);
    assert_eq!(mebm.input_couplings(), (0.0, 0.0));
    let c0 = mebm.conditional(&x_t).unwrap();
    assert_eq!(c0.biases(), mebm.learned().biases());
    assert!(layer.conditional(&x_t[1..]).is_err());
}

#[test]
fn samplers_see_the_current_parameters() {
    let mut layer = small_layer(&linear4(), 0, 0.5, 4);
    let x_t = vec![1 as Spin; 6];
    let before = layer.conditional_model(&x_t).unwrap();
    let mut theta = layer.params();
    theta.iter_mut().for_each(|t| *t += 0.25);
    layer.set_params(&theta).unwrap();
    assert_eq!(layer.params(), theta);
    let after = layer.conditional_model(&x_t).unwrap();
    assert_ne!(before.couplings(), after.couplings());
    assert_eq!(after.couplings(), &theta[..layer.graph().n_edges()]);
    assert!(layer.set_params(&theta[1..]).is_err());
    let mut nan = theta.clone();
    nan[3] = f64::NAN;
    assert!(layer.set_params(&nan).is_err());
    assert_eq!(
        layer.params(),
        theta,
        "a rejected update leaves the parameters alone"
    );
}

#[test]
fn clamped_model_is_the_exact_hidden_conditional() {
    // E_full(v, z) − E_reduced(z) must not depend on z: then the reduced law is exactly the
    // conditional law of the hidden nodes. Checked on all 2^10 hidden states, then the hidden
    // marginals by enumerating both models.
    let layer = small_layer(&linear4(), 2, 0.6, 5);
    let x_t: Vec<Spin> = vec![-1, 1, 1, -1, 1, -1];
    let x_prev: Vec<Spin> = vec![1, 1, -1, -1, -1, 1];
    let cond = layer.conditional(&x_t).unwrap();
    let cl = layer.clamped(&x_t, &x_prev).unwrap();
    let red = cl.model();
    assert_eq!(red.n_spins(), 10);
    assert_eq!(cl.free_nodes(), layer.layout().hidden_nodes());
    assert!(cl.coloring().is_proper(red.graph()));
    let mut z = vec![0 as Spin; 10];
    let mut full = vec![0 as Spin; 16];
    let mut offset = None;
    for s in 0..1u64 << 10 {
        thermoq_core::state::spins_from_index(s, &mut z);
        cl.embed(&z, &mut full).unwrap();
        assert_eq!(layer.layout().gather_visible(&full).unwrap(), x_prev);
        let d = cond.energy(&full) - red.energy(&z);
        let o = *offset.get_or_insert(d);
        assert!((d - o).abs() < 1e-12, "state {s}: {d} vs {o}");
        for (k, &i) in cl.free_nodes().iter().enumerate() {
            assert!((red.local_field(&z, k) - cond.local_field(&full, i as usize)).abs() < 1e-12);
        }
    }
    // marginals: exact law of the conditional restricted to x_prev, against the reduced law
    let owned: IsingModel = layer.conditional_model(&x_t).unwrap();
    let law = ExactLaw::new(&owned).unwrap();
    let vis = layer.layout().visible_nodes();
    let mut m = [0.0; 16];
    let mut mass = 0.0;
    let mut x = vec![0 as Spin; 16];
    for (s, &p) in law.pi.iter().enumerate() {
        thermoq_core::state::spins_from_index(s as u64, &mut x);
        if vis.iter().zip(&x_prev).all(|(&i, &v)| x[i as usize] == v) {
            mass += p;
            for (mi, &xi) in m.iter_mut().zip(&x) {
                *mi += p * f64::from(xi);
            }
        }
    }
    let red_m1 = ExactLaw::new(red).unwrap().m1();
    for (k, &i) in cl.free_nodes().iter().enumerate() {
        assert!((m[i as usize] / mass - red_m1[k]).abs() < 1e-12);
    }
}

/// Heat-bath updates of the hidden blocks only: the positive-phase kernel on the full layer.
struct HiddenOnly {
    plan: Plan,
    inner: GibbsKernel,
}

impl<M: EnergyModel + ?Sized> Kernel<M> for HiddenOnly {
    fn plan(&self) -> &Plan {
        &self.plan
    }
    fn is_reversible(&self) -> bool {
        false
    }
    fn prob_up(&self, model: &M, x: &[Spin], i: usize) -> f64 {
        <GibbsKernel as Kernel<M>>::prob_up(&self.inner, model, x, i)
    }
}

#[test]
fn clamped_spins_never_change_and_hidden_marginals_match() {
    // Parameters |θ| ≤ 0.15 on a degree-4 grid: Dobrushin's coefficient ≤ 4·tanh(0.15) ≈ 0.6 <
    // 1, so after 60 sweeps every chain is within 0.6^60 ≈ 5e-14 of the target in total
    // variation. 4000 independent chains give independent samples (no τ correction needed):
    // SE of a hidden magnetization ≤ 1/√4000 ≈ 0.016; tolerance 5 SE.
    let layer = small_layer(&linear4(), 0, 0.15, 6);
    let x_t: Vec<Spin> = vec![1, 1, -1, 1, -1, 1];
    let x_prev: Vec<Spin> = vec![-1, 1, 1, -1, 1, -1];
    let cond = layer.conditional(&x_t).unwrap();
    let hidden_only = HiddenOnly {
        plan: Plan::Seq(layer.hidden_blocks().into_iter().map(Plan::Block).collect()),
        inner: GibbsKernel::new(KernelKind::Rs1, layer.graph(), None).unwrap(),
    };
    let cl = layer.clamped(&x_t, &x_prev).unwrap();
    let exact = ExactLaw::new(cl.model()).unwrap().m1();
    let chains = 4000u64;
    let mut mean = [0.0; 16];
    let mut hidden_moved = false;
    for c in 0..chains {
        let mut rng = chain_rng(21, c);
        let mut x: Vec<Spin> = (0..16)
            .map(|i| if (i + c) % 2 == 0 { 1 } else { -1 })
            .collect();
        layer.layout().scatter_visible(&x_prev, &mut x).unwrap();
        let start = x.clone();
        for _ in 0..60 {
            hidden_only.sweep(&cond, &mut x, &mut rng);
            assert_eq!(layer.layout().gather_visible(&x).unwrap(), x_prev);
        }
        hidden_moved |= x != start;
        for (mi, &xi) in mean.iter_mut().zip(&x) {
            *mi += f64::from(xi) / chains as f64;
        }
    }
    assert!(hidden_moved);
    let tol = 5.0 / (chains as f64).sqrt();
    for (k, &i) in cl.free_nodes().iter().enumerate() {
        assert!(
            (mean[i as usize] - exact[k]).abs() < tol,
            "node {i}: {} vs {} ± {tol}",
            mean[i as usize],
            exact[k]
        );
    }
    // Negative phase: BLK-SYM over all four blocks moves the visible nodes too.
    let k = GibbsKernel::new(
        KernelKind::BlkSym,
        layer.graph(),
        Some(layer.coloring().clone()),
    )
    .unwrap();
    let mut rng = chain_rng(22, 0);
    let mut x = vec![1 as Spin; 16];
    let mut visible_moved = false;
    for _ in 0..50 {
        k.sweep(&cond, &mut x, &mut rng);
        visible_moved |= layer
            .layout()
            .gather_visible(&x)
            .unwrap()
            .iter()
            .any(|&s| s < 0);
    }
    assert!(visible_moved);
}

#[test]
fn build_layers_seeds_each_step() {
    let process = ForwardProcess::new(0.8, 0.2, Schedule::Log, 3, 0.1).unwrap();
    let layers = dtm::build_layers(
        &GridPreset::named("24_8").unwrap(),
        spec(196, 10, 5),
        &process,
        40,
        1.0,
    )
    .unwrap();
    assert_eq!(layers.len(), 3);
    for (k, l) in layers.iter().enumerate() {
        assert_eq!(l.step(), k);
        assert_eq!(l.layout().seed(), 40 + k as u64);
        assert_eq!(l.n_params(), 576 * 8 / 2 + 576);
    }
    assert_ne!(
        layers[0].layout().visible_nodes(),
        layers[1].layout().visible_nodes()
    );
    assert_eq!(layers[2].input_couplings(), (0.0, 0.0));
}
