//! [`PyModel`]: an Ising/Boltzmann machine or an RBM, built from arrays, builders or files.

use crate::{guarded, value_err};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use thermoq_core::{Graph, IsingFile};
use thermoq_models::exact::ExactLaw;
use thermoq_models::{EnergyModel, IsingModel, Rbm, builders};

/// The model behind a [`PyModel`].
#[derive(Clone, Debug)]
pub enum Inner {
    /// A Boltzmann machine on a sparse graph.
    Ising(IsingModel),
    /// A restricted Boltzmann machine (also an Ising model on the complete bipartite graph).
    Rbm(Rbm),
}

/// A thermoq energy model (`thermoq.Model` in Python).
#[pyclass(frozen, name = "Model", module = "thermoq._native")]
#[derive(Clone, Debug)]
pub struct PyModel {
    /// The model.
    pub inner: Inner,
}

impl PyModel {
    /// The model as an Ising model (an RBM's Ising form).
    pub fn ising(&self) -> &IsingModel {
        match &self.inner {
            Inner::Ising(m) => m,
            Inner::Rbm(r) => r.as_ising(),
        }
    }
}

fn check_beta(beta: f64) -> PyResult<()> {
    if beta.is_finite() && beta > 0.0 {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "beta: is {beta}, expected a finite number > 0"
        )))
    }
}

fn check_count(name: &str, v: usize, min: usize) -> PyResult<()> {
    if v >= min {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{name}: is {v}, expected at least {min}"
        )))
    }
}

fn contiguous<'a, T: numpy::Element>(
    name: &str,
    a: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name}: expected a contiguous 1-D array")))
}

#[pymethods]
impl PyModel {
    /// A Boltzmann machine on `n` spins with edges `edges` (shape `(E, 2)`), couplings `j`
    /// (shape `(E,)`, one per edge), biases `h` (shape `(n,)`) and inverse temperature `beta`.
    #[staticmethod]
    fn from_edges(
        n: usize,
        edges: PyReadonlyArray2<'_, i64>,
        j: PyReadonlyArray1<'_, f64>,
        h: PyReadonlyArray1<'_, f64>,
        beta: f64,
    ) -> PyResult<Self> {
        check_count("n", n, 1)?;
        check_beta(beta)?;
        let shape = edges.shape();
        if shape.len() != 2 || (shape[1] != 2 && shape[0] != 0) {
            return Err(PyValueError::new_err(format!(
                "edges: has shape {shape:?}, expected (E, 2)"
            )));
        }
        let ev = edges.as_array();
        let mut pairs = Vec::with_capacity(shape[0]);
        for (e, row) in ev.outer_iter().enumerate() {
            let (a, b) = (row[0], row[1]);
            if a < 0 || b < 0 {
                return Err(PyValueError::new_err(format!(
                    "edges: edge {e} is ({a}, {b}), expected non-negative spin indices"
                )));
            }
            pairs.push((a as usize, b as usize));
        }
        let g = Graph::new(n, &pairs).map_err(value_err)?;
        let m = IsingModel::new(
            g,
            contiguous("J", &j)?.to_vec(),
            contiguous("h", &h)?.to_vec(),
            beta,
        )
        .map_err(value_err)?;
        Ok(Self {
            inner: Inner::Ising(m),
        })
    }

    /// An RBM with weights `w` (visible × hidden), visible biases `b`, hidden biases `c`.
    #[staticmethod]
    fn rbm(
        w: PyReadonlyArray2<'_, f64>,
        b: PyReadonlyArray1<'_, f64>,
        c: PyReadonlyArray1<'_, f64>,
        beta: f64,
    ) -> PyResult<Self> {
        check_beta(beta)?;
        let shape = w.shape();
        let (m, n) = (shape[0], shape[1]);
        let wv: Vec<f64> = w.as_array().iter().copied().collect();
        let r = Rbm::new(
            m,
            n,
            wv,
            contiguous("b", &b)?.to_vec(),
            contiguous("c", &c)?.to_vec(),
            beta,
        )
        .map_err(value_err)?;
        Ok(Self {
            inner: Inner::Rbm(r),
        })
    }

    /// An RBM with `W ~ N(0, std²)` drawn from `seed`, zero biases.
    #[staticmethod]
    fn rbm_random(m: usize, n: usize, std: f64, beta: f64, seed: u64) -> PyResult<Self> {
        check_beta(beta)?;
        if !(std.is_finite() && std >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "std: is {std}, expected a finite number >= 0"
            )));
        }
        let r = Rbm::random(m, n, std, beta, seed).map_err(value_err)?;
        Ok(Self {
            inner: Inner::Rbm(r),
        })
    }

    /// Periodic `lx × ly` lattice, uniform coupling `j` and bias `h`.
    #[staticmethod]
    fn lattice(lx: usize, ly: usize, j: f64, h: f64, beta: f64) -> PyResult<Self> {
        check_beta(beta)?;
        let m = builders::lattice_2d(lx, ly, j, h, beta).map_err(value_err)?;
        Ok(Self {
            inner: Inner::Ising(m),
        })
    }

    /// Curie–Weiss: complete graph, `J = 1/n`, no bias.
    #[staticmethod]
    fn curie_weiss(n: usize, beta: f64) -> PyResult<Self> {
        check_count("n", n, 2)?;
        check_beta(beta)?;
        guarded("curie_weiss", || {
            Ok(Self {
                inner: Inner::Ising(builders::curie_weiss(n, beta)),
            })
        })
    }

    /// Sherrington–Kirkpatrick: complete graph, `J ~ N(0, 1/n)` from `seed`.
    #[staticmethod]
    fn sherrington_kirkpatrick(n: usize, beta: f64, seed: u64) -> PyResult<Self> {
        check_count("n", n, 2)?;
        check_beta(beta)?;
        guarded("sherrington_kirkpatrick", || {
            Ok(Self {
                inner: Inner::Ising(builders::sherrington_kirkpatrick(n, beta, seed)),
            })
        })
    }

    /// Hopfield network with `m` random patterns (Hebbian `J`); returns the model and the
    /// patterns (shape `(m, n)`, ±1).
    #[staticmethod]
    fn hopfield<'py>(
        py: Python<'py>,
        n: usize,
        m: usize,
        beta: f64,
        seed: u64,
    ) -> PyResult<(Self, Bound<'py, PyArray2<i8>>)> {
        check_count("n", n, 2)?;
        check_count("m", m, 1)?;
        check_beta(beta)?;
        let (model, xi) = guarded("hopfield", || Ok(builders::hopfield(n, m, beta, seed)))?;
        let pats = PyArray2::from_vec2(py, &xi).map_err(value_err)?;
        Ok((
            Self {
                inner: Inner::Ising(model),
            },
            pats,
        ))
    }

    /// Reads a `thermoq-ising-v1` file (JSON or binary).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let m = IsingModel::load(&path).map_err(value_err)?;
        Ok(Self {
            inner: Inner::Ising(m),
        })
    }

    /// Parses a `thermoq-ising-v1` JSON document.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let f = IsingFile::from_json_str(text, "<string>").map_err(value_err)?;
        let m = IsingModel::from_file(&f).map_err(value_err)?;
        Ok(Self {
            inner: Inner::Ising(m),
        })
    }

    /// Writes the model as `thermoq-ising-v1` (binary when the extension is `.bin`, JSON
    /// otherwise), atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.ising().to_file().save(&path).map_err(value_err)
    }

    /// The `thermoq-ising-v1` JSON document.
    fn to_json(&self) -> String {
        self.ising().to_file().to_json_string()
    }

    /// Number of spins.
    #[getter]
    fn n(&self) -> usize {
        self.ising().n_spins()
    }

    /// Inverse temperature.
    #[getter]
    fn beta(&self) -> f64 {
        self.ising().beta()
    }

    /// Whether the model is an RBM.
    #[getter]
    fn is_rbm(&self) -> bool {
        matches!(self.inner, Inner::Rbm(_))
    }

    /// `(visible, hidden)` sizes of an RBM, `None` otherwise.
    #[getter]
    fn rbm_shape(&self) -> Option<(usize, usize)> {
        match &self.inner {
            Inner::Rbm(r) => Some((r.n_visible(), r.n_hidden())),
            Inner::Ising(_) => None,
        }
    }

    /// Edges `(E, 2)` in edge order.
    #[getter]
    fn edges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let g = self.ising().graph();
        let rows: Vec<Vec<i64>> = g.edges().map(|(i, j)| vec![i as i64, j as i64]).collect();
        if rows.is_empty() {
            return Ok(PyArray2::zeros(py, [0, 2], false));
        }
        PyArray2::from_vec2(py, &rows).map_err(value_err)
    }

    /// Couplings, one per edge.
    #[getter]
    fn couplings<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.ising().couplings())
    }

    /// Biases, one per spin.
    #[getter]
    fn biases<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.ising().biases())
    }

    /// The same model at another inverse temperature.
    fn with_beta(&self, beta: f64) -> PyResult<Self> {
        check_beta(beta)?;
        let inner = match &self.inner {
            Inner::Ising(m) => Inner::Ising(m.with_beta(beta).map_err(value_err)?),
            Inner::Rbm(r) => {
                let (m, n) = (r.n_visible(), r.n_hidden());
                Inner::Rbm(
                    Rbm::new(
                        m,
                        n,
                        r.weights().to_vec(),
                        r.visible_bias().to_vec(),
                        r.hidden_bias().to_vec(),
                        beta,
                    )
                    .map_err(value_err)?,
                )
            }
        };
        Ok(Self { inner })
    }

    /// Energies (β not included) of the states `x` (shape `(S, n)`, ±1 `int8`).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let n = self.n();
        let shape = x.shape();
        if shape[1] != n {
            return Err(PyValueError::new_err(format!(
                "x: has shape {shape:?}, expected (S, {n})"
            )));
        }
        let xs = x
            .as_slice()
            .map_err(|_| PyValueError::new_err("x: expected a C-contiguous array"))?;
        if let Some(k) = thermoq_core::first_non_spin(xs) {
            return Err(PyValueError::new_err(format!(
                "x: entry {k} is {}, expected -1 or +1",
                xs[k]
            )));
        }
        let m = self.ising();
        let e: Vec<f64> = xs.chunks(n.max(1)).map(|s| m.energy(s)).collect();
        Ok(PyArray1::from_vec(py, e))
    }

    /// Exact enumeration (at most 24 spins): a dict with `pi` (over state indices, bit `i` set
    /// when `x_i = +1`), `m1`, `m2_edges`, `energy_mean`.
    fn exact<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.ising().clone();
        let (pi, m1, m2, em) = py
            .detach(move || {
                let law = ExactLaw::new(&m).map_err(|e| e.to_string())?;
                let m1 = law.m1();
                let m2 = law.m2(m.graph().edges());
                let em = law.energy_mean();
                Ok::<_, String>((law.pi, m1, m2, em))
            })
            .map_err(PyValueError::new_err)?;
        let d = PyDict::new(py);
        d.set_item("pi", PyArray1::from_vec(py, pi))?;
        d.set_item("m1", PyArray1::from_vec(py, m1))?;
        d.set_item("m2_edges", PyArray1::from_vec(py, m2))?;
        d.set_item("energy_mean", em)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            Inner::Ising(m) => format!(
                "Model(ising, n={}, edges={}, beta={})",
                m.n_spins(),
                m.graph().n_edges(),
                m.beta()
            ),
            Inner::Rbm(r) => format!(
                "Model(rbm, visible={}, hidden={}, beta={})",
                r.n_visible(),
                r.n_hidden(),
                r.as_ising().beta()
            ),
        }
    }
}
