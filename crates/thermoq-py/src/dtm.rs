//! [`PyDtm`]: a trained denoising thermodynamic model loaded from a `DtmRun` checkpoint, and
//! class-conditional generation of digits as numpy arrays.

use crate::{guarded, value_err};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;
use thermoq_train::dtm::{DtmRun, DtmRunConfig};

/// A trained DTM (`thermoq.Dtm` in Python).
#[pyclass(frozen, name = "Dtm", module = "thermoq._native")]
pub struct PyDtm {
    run: DtmRun,
}

#[pymethods]
impl PyDtm {
    /// Loads and validates a checkpoint written by `cargo xtask train dtm`.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let run = DtmRun::load(&path).map_err(|e| PyValueError::new_err(format!("path: {e}")))?;
        Ok(Self { run })
    }

    /// A freshly initialised (untrained) model of a `train dtm` preset (`quick` or `paper`),
    /// for tests and for writing a first checkpoint.
    #[staticmethod]
    fn untrained(preset: &str) -> PyResult<Self> {
        let cfg = DtmRunConfig::preset(preset)
            .map_err(|e| PyValueError::new_err(format!("preset: {e}")))?;
        let run = DtmRun::new(cfg).map_err(value_err)?;
        Ok(Self { run })
    }

    /// Writes the checkpoint (atomically).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.run.save(&path).map_err(value_err)
    }

    /// The digits the model was trained on (class `k` generates `digits[k]`).
    #[getter]
    fn digits(&self) -> Vec<u8> {
        self.run.config().digits.clone()
    }

    /// Image pixels (spins) per digit.
    #[getter]
    fn n_image(&self) -> usize {
        self.run.config().n_image()
    }

    /// Training epochs completed.
    #[getter]
    fn epochs_done(&self) -> usize {
        self.run.epochs_done()
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
        let k = self.run.config().digits.len();
        if let Some(c) = classes.iter().find(|&&c| usize::from(c) >= k) {
            return Err(PyValueError::new_err(format!(
                "classes: holds {c}, expected class indices below {k}"
            )));
        }
        let n_image = self.n_image();
        let imgs = guarded("generate", || {
            py.detach(|| self.run.generate(&classes, seed))
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
