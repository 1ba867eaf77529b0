//! [`PyDtm`]: a denoising thermodynamic model loaded from a `DtmRun` checkpoint (or freshly
//! initialised from a preset), class-conditional generation of digits, training on digits given
//! as arrays, and the inpainting check — all with numpy arrays in and out.

use crate::{guarded, value_err};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use thermoq_data::Mnist;
use thermoq_train::dtm::{DtmData, DtmRun, DtmRunConfig};

/// A DTM (`thermoq.Dtm` in Python). The run sits behind a mutex because training changes it.
#[pyclass(frozen, name = "Dtm", module = "thermoq._native")]
pub struct PyDtm {
    run: Mutex<DtmRun>,
}

impl PyDtm {
    fn new(run: DtmRun) -> Self {
        Self {
            run: Mutex::new(run),
        }
    }

    fn lock(&self) -> PyResult<MutexGuard<'_, DtmRun>> {
        self.run.lock().map_err(|_| {
            pyo3::exceptions::PyRuntimeError::new_err(
                "Dtm: an earlier call panicked while holding the model; load it again",
            )
        })
    }
}

/// The checkpoint's preprocessing of raw MNIST-style digits: `pixels` (`labels.len() · rows ·
/// cols` grey levels 0–255, row-major) and `labels` (digits 0–9).
fn dataset(
    run: &DtmRun,
    pixels: PyReadonlyArray1<'_, u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
) -> PyResult<DtmData> {
    let m = Mnist::new(rows, cols, pixels.as_array().to_vec(), labels)
        .map_err(|e| PyValueError::new_err(format!("images: {e}")))?;
    DtmData::from_mnist(&m, run.config()).map_err(|e| PyValueError::new_err(format!("images: {e}")))
}

#[pymethods]
impl PyDtm {
    /// Loads and validates a checkpoint written by `cargo xtask train dtm`.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let run = DtmRun::load(&path).map_err(|e| PyValueError::new_err(format!("path: {e}")))?;
        Ok(Self::new(run))
    }

    /// A freshly initialised (untrained) model of a `train dtm` preset (`quick` or `paper`),
    /// with `overrides` (a JSON object of `DtmRunConfig` fields) replacing preset settings.
    #[staticmethod]
    #[pyo3(signature = (preset, overrides=None))]
    fn untrained(preset: &str, overrides: Option<&str>) -> PyResult<Self> {
        let cfg = DtmRunConfig::preset(preset)
            .map_err(|e| PyValueError::new_err(format!("preset: {e}")))?;
        let cfg = match overrides {
            None => cfg,
            Some(text) => {
                let bad = |e: serde_json::Error| PyValueError::new_err(format!("config: {e}"));
                let mut v = serde_json::to_value(&cfg).map_err(bad)?;
                let o: serde_json::Value = serde_json::from_str(text).map_err(bad)?;
                let (Some(dst), Some(src)) = (v.as_object_mut(), o.as_object()) else {
                    return Err(PyValueError::new_err("config: expected a dict of settings"));
                };
                for (k, x) in src {
                    if !dst.contains_key(k) {
                        return Err(PyValueError::new_err(format!(
                            "config: {k:?} is not a DTM setting"
                        )));
                    }
                    dst.insert(k.clone(), x.clone());
                }
                serde_json::from_value(v).map_err(bad)?
            }
        };
        let run = DtmRun::new(cfg).map_err(|e| PyValueError::new_err(format!("config: {e}")))?;
        Ok(Self::new(run))
    }

    /// Writes the checkpoint (atomically).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.lock()?.save(&path).map_err(value_err)
    }

    /// The digits the model was trained on (class `k` generates `digits[k]`).
    #[getter]
    fn digits(&self) -> PyResult<Vec<u8>> {
        Ok(self.lock()?.config().digits.clone())
    }

    /// Image pixels (spins) per digit.
    #[getter]
    fn n_image(&self) -> PyResult<usize> {
        Ok(self.lock()?.config().n_image())
    }

    /// Training epochs completed.
    #[getter]
    fn epochs_done(&self) -> PyResult<usize> {
        Ok(self.lock()?.epochs_done())
    }

    /// The run's settings as a JSON document.
    #[getter]
    fn config(&self) -> PyResult<String> {
        serde_json::to_string(self.lock()?.config()).map_err(value_err)
    }

    /// Layer 0's held-out inpainting error recorded after each epoch (`None` when off).
    #[getter]
    fn inpaint_history(&self) -> PyResult<Vec<Option<f64>>> {
        Ok(self
            .lock()?
            .history()
            .iter()
            .map(|e| e.layers.first().and_then(|l| l.inpaint_error))
            .collect())
    }

    /// Trains until `epochs` epochs are done in total, on digits given as `pixels`/`labels`
    /// (`rows × cols` grey levels, preprocessed as the checkpoint's settings say). Checks for
    /// `KeyboardInterrupt` after every epoch.
    fn train(
        &self,
        py: Python<'_>,
        pixels: PyReadonlyArray1<'_, u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
        epochs: usize,
    ) -> PyResult<()> {
        let mut guard = self.lock()?;
        let run: &mut DtmRun = &mut guard;
        let data = dataset(run, pixels, labels, rows, cols)?;
        run.set_epochs(epochs)
            .map_err(|e| PyValueError::new_err(format!("epochs: {e}")))?;
        guarded("train", || {
            while run.epochs_done() < epochs {
                let next = run.epochs_done() + 1;
                py.detach(|| {
                    run.train(
                        &data,
                        |_| {},
                        |r| {
                            Ok(if r.epochs_done() >= next {
                                ControlFlow::Break(())
                            } else {
                                ControlFlow::Continue(())
                            })
                        },
                    )
                })
                .map_err(value_err)?;
                py.check_signals()?;
            }
            Ok(())
        })
    }

    /// The inpainting check on the checkpoint's test split of `pixels`/`labels`: the first `n`
    /// test digits, label and top half clamped, bottom half painted by layer 0. Returns a dict:
    /// `error` (float), `images` and `targets` (flattened ±1 `int8`), `classes`, `side`.
    fn inpaint<'py>(
        &self,
        py: Python<'py>,
        pixels: PyReadonlyArray1<'py, u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
        n: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        if n == 0 {
            return Err(PyValueError::new_err("n: is 0, expected at least 1"));
        }
        let guard = self.lock()?;
        let run: &DtmRun = &guard;
        let data = dataset(run, pixels, labels, rows, cols)?;
        let r = guarded("inpaint", || {
            py.detach(|| run.inpaint(&data, n))
                .map_err(|e| PyValueError::new_err(format!("images: {e}")))
        })?;
        let d = PyDict::new(py);
        d.set_item("error", r.error)?;
        d.set_item("images", PyArray1::from_vec(py, r.images))?;
        d.set_item("targets", PyArray1::from_vec(py, r.targets))?;
        d.set_item("classes", PyArray1::from_vec(py, r.classes))?;
        d.set_item("side", r.side)?;
        Ok(d)
    }

    /// Generates one image per entry of `classes` (indices into `digits`) with the checkpoint's
    /// annealed generation schedule; returns the images flattened, `len(classes) · n_image` ±1
    /// `int8` (the Python wrapper reshapes them).
    fn generate<'py>(
        &self,
        py: Python<'py>,
        classes: Vec<u8>,
        seed: u64,
    ) -> PyResult<Bound<'py, PyArray1<i8>>> {
        let guard = self.lock()?;
        let run: &DtmRun = &guard;
        let k = run.config().digits.len();
        if let Some(c) = classes.iter().find(|&&c| usize::from(c) >= k) {
            return Err(PyValueError::new_err(format!(
                "classes: holds {c}, expected class indices below {k}"
            )));
        }
        let n_image = run.config().n_image();
        let imgs = guarded("generate", || {
            py.detach(|| run.generate(&classes, seed))
                .map_err(value_err)
        })?;
        let flat: Vec<i8> = imgs.into_iter().flatten().collect();
        if flat.len() != classes.len() * n_image {
            return Err(PyValueError::new_err(format!(
                "generate: got {} pixels, expected {} images × {n_image}",
                flat.len(),
                classes.len()
            )));
        }
        Ok(PyArray1::from_vec(py, flat))
    }
}
