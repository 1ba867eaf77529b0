//! The report of a DTM training run (`thermoq_train::dtm`): `epochs.csv`, `curves.svg`,
//! `results.json` and `REPORT.md`, from the run's history, its data and the scores of its
//! generated digits.

use super::{Rendered, csv_text};
use crate::ReproError;
use crate::svg::{Figure, Series};
use serde::Serialize;
use serde_json::json;
use std::fmt::Write as _;
use thermoq_train::dtm::{DtmData, DtmRun, GenerationEval, inpaint_background_baseline};

/// One row of `epochs.csv`: one layer after one epoch (`inpaint_error` and `q_probe` are empty
/// on epochs that did not measure them).
#[derive(Serialize)]
struct EpochCsv {
    epoch: usize,
    layer: usize,
    lr: f64,
    moment_gap: f64,
    grad_norm: f64,
    denoise_error: f64,
    inpaint_error: Option<f64>,
    autocorr: f64,
    change_rate: f64,
    cp: f64,
    q_probe: Option<f64>,
    seconds: f64,
    updates: u64,
}

/// The files of a finished training run `run` on `data` at `preset` (code `revision`), with its
/// generated digits scored as `ev` (`gen_seconds` to generate): `epochs.csv`, `curves.svg`,
/// `results.json` and `REPORT.md` (which shows `digits.png`, written by the caller).
pub fn render(
    run: &DtmRun,
    data: &DtmData,
    preset: &str,
    revision: &str,
    ev: &GenerationEval,
    gen_seconds: f64,
) -> Result<Rendered, ReproError> {
    let cfg = run.config();
    let h = run.history();
    let csv = csv_text(h.iter().flat_map(|e| {
        e.layers.iter().enumerate().map(move |(k, l)| EpochCsv {
            epoch: e.epoch,
            layer: k,
            lr: e.lr,
            moment_gap: l.moment_gap,
            grad_norm: l.grad_norm,
            denoise_error: l.denoise_error,
            inpaint_error: l.inpaint_error,
            autocorr: l.autocorr,
            change_rate: l.change_rate,
            cp: l.cp,
            q_probe: l.probe.as_ref().map(|q| q.q),
            seconds: e.seconds,
            updates: e.updates,
        })
    }))?;
    let mut out = Rendered::default();
    out.push("epochs.csv", csv);
    let n_classes = cfg.digits.len();
    let per = cfg.generation.per_class;
    let (acc_gen, acc_test, ink_gen, ink_test) = (
        ev.centroid_accuracy_generated,
        ev.centroid_accuracy_test,
        ev.ink_generated,
        ev.ink_test,
    );
    let n_inp = cfg.inpaint_test.min(data.test_len());
    let bottom_ink = inpaint_background_baseline(data, cfg.inpaint_test);

    // curves.svg
    let pts = |f: &dyn Fn(&thermoq_train::dtm::LayerEpoch) -> f64| -> Vec<(f64, f64)> {
        h.iter()
            .map(|e| (e.epoch as f64 + 1.0, f(&e.layers[0])))
            .collect()
    };
    let fig = Figure::new(
        format!("DTM {preset}: training diagnostics (layer 0)"),
        "epoch",
        "value",
        vec![
            Series::line("moment gap", "#1f77b4", pts(&|l| l.moment_gap)),
            Series::line("denoise error", "#ff7f0e", pts(&|l| l.denoise_error)),
            Series::line(
                "inpaint error",
                "#9467bd",
                h.iter()
                    .filter_map(|e| Some((e.epoch as f64 + 1.0, e.layers[0].inpaint_error?)))
                    .collect(),
            ),
            Series::line("autocorr", "#2ca02c", pts(&|l| l.autocorr)),
            Series::line("ACP cp", "#d62728", pts(&|l| l.cp)),
        ],
    )
    .log(false, true);
    out.push("curves.svg", fig.to_svg());

    let secs: Vec<f64> = h.iter().map(|e| e.seconds).collect();
    let mut sorted = secs.clone();
    sorted.sort_by(f64::total_cmp);
    let med_epoch = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let updates_per_epoch = h.last().map(|e| e.updates).unwrap_or(0);
    let first = h.first().map(|e| e.layers[0].clone());
    let last = h.last().map(|e| e.layers[0].clone());
    let results = json!({
        "preset": preset,
        "revision": revision,
        "config": cfg,
        "epochs_done": h.len(),
        "seconds_per_epoch_median": med_epoch,
        "updates_per_epoch": updates_per_epoch,
        "updates_per_second": updates_per_epoch as f64 / med_epoch.max(1e-9),
        "first_epoch": first,
        "last_epoch": last,
        "generation": {
            "per_class": per,
            "seconds": gen_seconds,
            "centroid_accuracy_generated": acc_gen,
            "centroid_accuracy_test": acc_test,
            "ink_generated": ink_gen,
            "ink_test": ink_test,
        },
        "inpaint_background_baseline": bottom_ink,
    });
    out.push("results.json", serde_json::to_string_pretty(&results)?);

    let mut r = String::new();
    let _ = writeln!(r, "# DTM training — preset `{preset}`\n");
    let _ = writeln!(
        r,
        "Command: `cargo xtask train dtm --preset {preset}` (revision `{revision}`).\n"
    );
    let _ = writeln!(
        r,
        "Model: grid `{}` ({} nodes), {}×{} binarized MNIST digits {:?} ({}), {} label spots × {} \
         classes, T = {} ({} schedule, λ_image {}, λ_label {}, offset {}), β = {}, kernel `{}`.",
        cfg.grid,
        run.layers()[0].graph().n(),
        data.side(),
        data.side(),
        cfg.digits,
        if cfg.pool_2x2 {
            "28×28 thresholded at 0.1, then 2×2 max-pooled"
        } else {
            "28×28 thresholded at 0.1"
        },
        cfg.label_spots,
        n_classes,
        cfg.steps,
        cfg.schedule,
        cfg.lambda_image,
        cfg.lambda_label,
        cfg.offset,
        cfg.beta,
        cfg.kernel
    );
    let _ = writeln!(
        r,
        "Training: {} train / {} test digits, batch {} (one chain per example and phase), {} warm-up \
         sweeps + {} samples × {} sweeps per phase, Adam lr {} cosine (α {}) over {} epochs, {} \
         epochs, ACP {}.\n",
        data.train_len(cfg.max_train),
        data.test_len(),
        cfg.batch,
        cfg.warmup,
        cfg.samples,
        cfg.sweeps_per_sample,
        cfg.lr,
        cfg.lr_alpha,
        cfg.lr_decay_epochs,
        cfg.epochs,
        cfg.acp
            .as_ref()
            .map(|a| format!(
                "threshold {} (cp₀ {}, floor {})",
                a.threshold, a.cp_init, a.cp_min
            ))
            .unwrap_or_else(|| "off".into())
    );
    let _ = writeln!(
        r,
        "Cost on this machine: median {med_epoch:.1} s per epoch, {:.3e} spin updates per epoch \
         ({:.2e} updates/s).\n",
        updates_per_epoch as f64,
        updates_per_epoch as f64 / med_epoch.max(1e-9)
    );
    let _ = writeln!(r, "## Per epoch (layer 0)\n");
    let _ = writeln!(
        r,
        "| epoch | lr | moment gap | denoise error | inpaint error | autocorr | change rate | cp | Q̂ probe | s |"
    );
    let _ = writeln!(r, "|---|---|---|---|---|---|---|---|---|---|");
    for e in h {
        let l = &e.layers[0];
        let _ = writeln!(
            r,
            "| {} | {:.4} | {:.4} | {:.4} | {} | {:.4} | {:.3} | {:.4} | {} | {:.1} |",
            e.epoch + 1,
            e.lr,
            l.moment_gap,
            l.denoise_error,
            l.inpaint_error
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "–".into()),
            l.autocorr,
            l.change_rate,
            l.cp,
            l.probe
                .as_ref()
                .map(|q| format!("{:.3}", q.q))
                .unwrap_or_else(|| "–".into()),
            e.seconds
        );
    }
    let _ = writeln!(
        r,
        "\n*moment gap*: RMS over parameters of ⟨f⟩_clamped − ⟨f⟩_free. *denoise error*: fraction \
         of image pixels of the last free-phase state that differ from the target (T = 1: a free \
         sample against a random training digit). *inpaint error*: the held-out denoising proxy — \
         for {} test digits the label and the top half of the image are clamped and the model \
         fills in the bottom half ({} sweeps at β); fraction of bottom-half pixels wrong (filling \
         it with background everywhere scores {:.4}). *autocorr*: lag-{} autocorrelation of a fixed \
         random projection of the free-phase image (the ACP input). *change rate*: fraction of \
         spins that changed between recorded states. *Q̂*: squared gradient SNR of one batch \
         estimate from {} independent replicates on fixed pairs, on the probe's own streams.\n",
        n_inp,
        cfg.generation.sweeps,
        bottom_ink,
        cfg.sweeps_per_sample,
        cfg.probe.as_ref().map(|p| p.replicates).unwrap_or(0)
    );
    let _ = writeln!(r, "## Generated digits\n");
    let _ = writeln!(
        r,
        "![generated digits](digits.png)\n\nOne row per class {:?}, label clamped, {} sweeps with β \
         annealed {}→{}× (generation took {gen_seconds:.1} s). A nearest-centroid classifier fitted \
         on the training digits labels **{:.1}%** of the generated digits as their conditioning \
         class (chance {:.0}%; the same classifier scores {:.1}% on real test digits). Ink \
         (fraction of +1 pixels): generated {:.3}, real {:.3}.\n",
        cfg.digits,
        cfg.generation.sweeps,
        cfg.generation.beta_start,
        cfg.generation.beta_end,
        100.0 * acc_gen,
        100.0 / n_classes as f64,
        100.0 * acc_test,
        ink_gen,
        ink_test
    );
    let _ = writeln!(r, "![training curves](curves.svg)");
    out.push("REPORT.md", r);
    out.headline = format!(
        "generated digits: centroid accuracy {:.1}%, test {:.1}%",
        100.0 * acc_gen,
        100.0 * acc_test
    );
    Ok(out)
}
