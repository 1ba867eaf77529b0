//! Checkpoints are validated whole on load (issue 18, item 5): every vector length, sign and
//! range of a CD or DTM checkpoint is checked, and the error names the field. Each case below
//! takes a real checkpoint, damages one field, and expects a typed error naming it — never a run
//! that loads and is saved again.
#![allow(clippy::unwrap_used)] // fixed test inputs, not user data

use thermoq_core::Graph;
use thermoq_models::IsingModel;
use thermoq_samplers::KernelKind;
use thermoq_train::dtm::{DtmRun, DtmRunConfig};
use thermoq_train::{Adam, CdConfig, CdTrainer, Checkpoint, LrSchedule, Optimizer, PositiveData};

const N: usize = 4;

fn cd_checkpoint() -> Checkpoint {
    let g = Graph::complete(N);
    let m = g.n_edges();
    let model = IsingModel::new(g, vec![0.1; m], vec![0.0; N], 1.0).unwrap();
    let cfg = CdConfig {
        kernel: KernelKind::Rs1,
        n_chains: 8,
        burn_in: 1,
        sweeps: 2,
        persistent: true,
        batch_size: 0,
        train_biases: true,
        seed: 3,
        steps_per_epoch: 2,
    };
    let opt = Optimizer::Adam(Adam::new(LrSchedule::constant(0.05).unwrap()).unwrap());
    let mut t = CdTrainer::new(model, (0..N).collect(), cfg, opt).unwrap();
    // E_data[f_a] with f_ij = −x_i x_j (⟨x_i x_j⟩ = 0.3) in edge order, then f_i = −x_i (⟨x_i⟩ = 0.2)
    let d: Vec<f64> = (0..m).map(|_| -0.3).chain((0..N).map(|_| -0.2)).collect();
    t.step(PositiveData::Moments(&d)).unwrap();
    t.step(PositiveData::Moments(&d)).unwrap();
    Checkpoint::of(&t)
}

fn adam_of(c: &mut Checkpoint) -> &mut Adam {
    match &mut c.optimizer {
        Optimizer::Adam(a) => a,
        other => panic!("expected Adam, found {other:?}"),
    }
}

fn expect_field(r: Result<impl std::fmt::Debug, thermoq_train::TrainError>, field: &str) {
    let e = r.unwrap_err().to_string();
    assert!(e.contains(field), "error does not name {field:?}: {e}");
}

#[test]
fn cd_checkpoint_fields_are_validated() {
    let good = cd_checkpoint();
    good.clone().resume().unwrap();
    let mut c = good.clone();
    adam_of(&mut c).m.pop();
    expect_field(c.resume(), "optimizer.m");
    let mut c = good.clone();
    adam_of(&mut c).v.push(0.0);
    expect_field(c.resume(), "optimizer.v");
    let mut c = good.clone();
    adam_of(&mut c).v[2] = -1e-3;
    expect_field(c.resume(), "optimizer.v[2]");
    let mut c = good.clone();
    adam_of(&mut c).params.b2 = 1.5;
    expect_field(c.resume(), "optimizer.b2");
    let mut c = good.clone();
    adam_of(&mut c).params.eps = -1.0;
    expect_field(c.resume(), "optimizer.eps");
    let mut c = good.clone();
    let a = adam_of(&mut c);
    a.m.clear();
    a.v.clear();
    expect_field(c.resume(), "optimizer.m");
    let mut c = good.clone();
    adam_of(&mut c).schedule = LrSchedule::Constant { lr: -0.1 };
    expect_field(c.resume(), "optimizer.lr");
    let mut c = good.clone();
    c.chains.as_mut().unwrap().pop();
    expect_field(c.resume(), "chains");
    // Through the file: a damaged JSON field is refused on load + resume.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cd.json");
    let mut c = good;
    adam_of(&mut c).v[0] = -2.0;
    c.save(&p).unwrap();
    expect_field(Checkpoint::load(&p).unwrap().resume(), "optimizer.v[0]");
}

fn dtm_config() -> DtmRunConfig {
    DtmRunConfig {
        grid: thermoq_models::dtm::GridName::S24D8,
        label_spots: 2,
        probe: None,
        ..DtmRunConfig::quick()
    }
}

fn dtm_adam(c: &mut thermoq_train::dtm::DtmCheckpoint, k: usize) -> &mut Adam {
    match &mut c.optimizers[k] {
        Optimizer::Adam(a) => a,
        other => panic!("expected Adam, found {other:?}"),
    }
}

#[test]
fn dtm_checkpoint_fields_are_validated() {
    let run = DtmRun::new(dtm_config()).unwrap();
    let mut good = run.checkpoint();
    // Give layer 0 the Adam state of a run that has taken a step.
    let np = good.params[0].len();
    let a = dtm_adam(&mut good, 0);
    a.t = 1;
    a.m = vec![0.01; np];
    a.v = vec![1e-4; np];
    DtmRun::from_checkpoint(good.clone()).unwrap();

    let mut c = good.clone();
    dtm_adam(&mut c, 0).m.truncate(np - 1);
    expect_field(DtmRun::from_checkpoint(c), "optimizers[0].m");
    let mut c = good.clone();
    dtm_adam(&mut c, 0).v.push(0.0);
    expect_field(DtmRun::from_checkpoint(c), "optimizers[0].v");
    let mut c = good.clone();
    dtm_adam(&mut c, 0).v[5] = -1.0;
    expect_field(DtmRun::from_checkpoint(c), "optimizers[0].v[5]");
    let mut c = good.clone();
    dtm_adam(&mut c, 0).params.b1 = -0.5;
    expect_field(DtmRun::from_checkpoint(c), "optimizers[0].b1");
    let mut c = good.clone();
    c.acp[0].cp = -0.01;
    expect_field(DtmRun::from_checkpoint(c), "acp[0].cp");
    let mut c = good.clone();
    c.acp[0].last_autocorr = Some(f64::NAN);
    expect_field(DtmRun::from_checkpoint(c), "acp[0].last_autocorr");
    let mut c = good.clone();
    c.params[0].push(0.0);
    expect_field(DtmRun::from_checkpoint(c), "params[0]");
    // Fuzz finding (dtm-checkpoint target): label_spots near usize::MAX overflowed the
    // visible-node count (a panic); now the layout's capacity check refuses it.
    let mut c = good.clone();
    c.config.label_spots = usize::MAX / 3;
    assert!(DtmRun::from_checkpoint(c).is_err());
    let mut c = good.clone();
    c.config.steps = 1 << 40;
    expect_field(DtmRun::from_checkpoint(c), "n_steps");

    // Through the file, as `train dtm --resume` reads it: refused, and nothing is saved.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dtm.json");
    let mut v = serde_json::to_value(&good).unwrap();
    v["acp"][0]["cp"] = serde_json::json!(-1.0);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    expect_field(DtmRun::load(&p), "acp[0].cp");
}
