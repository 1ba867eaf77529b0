//! Proper vertex colourings: the blocks of a chromatic (p-bit array) Gibbs sampler.
//!
//! Every colour class is an independent set, so all its spins can be resampled at once without
//! changing the law of the update. [`Coloring::dsatur`] (Brélaz's saturation-degree heuristic) finds
//! the optimal two colours on bipartite graphs and few colours elsewhere; [`Coloring::greedy`] is the
//! plain first-fit in vertex order; [`Coloring::from_colors`] validates a user's colouring.

use crate::{CoreError, Graph};

/// A proper colouring with its classes (each class sorted ascending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coloring {
    color: Vec<u32>,
    classes: Vec<Vec<u32>>,
}

impl Coloring {
    /// Validates user-supplied colours: length `n`, proper, and colours `0..k` all used.
    pub fn from_colors(g: &Graph, colors: Vec<u32>) -> Result<Self, CoreError> {
        if colors.len() != g.n() {
            return Err(CoreError::length("colors", colors.len(), g.n()));
        }
        // A proper colouring that uses every colour 0..k has k ≤ n, so any colour ≥ n is wrong;
        // checking this first keeps the class table below at most n entries long.
        if let Some(i) = colors.iter().position(|&c| c as usize >= g.n()) {
            return Err(CoreError::Invalid {
                field: format!("colors[{i}]"),
                message: format!(
                    "is {}, expected a colour in 0..{} (colours must be 0..k with every colour used, k ≤ N)",
                    colors[i],
                    g.n()
                ),
            });
        }
        for (i, j) in g.edges() {
            if colors[i] == colors[j] {
                return Err(CoreError::ImproperColoring {
                    i,
                    j,
                    color: colors[i],
                });
            }
        }
        let k = colors.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
        let mut classes = vec![Vec::new(); k];
        for (i, &c) in colors.iter().enumerate() {
            classes[c as usize].push(i as u32);
        }
        if let Some(empty) = classes.iter().position(|c| c.is_empty()) {
            return Err(CoreError::Invalid {
                field: "colors".into(),
                message: format!(
                    "colour {empty} is unused; colours must be 0..k with every colour used"
                ),
            });
        }
        Ok(Self {
            color: colors,
            classes,
        })
    }

    /// Parses a colouring file — a JSON array with one colour per spin, or an object
    /// `{"colors": [...]}` — and validates it against `g` ([`Coloring::from_colors`]). Errors
    /// name the field (`colors`, `colors[i]`).
    pub fn from_json_str(text: &str, g: &Graph) -> Result<Self, CoreError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| CoreError::Parse {
            path: "colouring".into(),
            format: "a JSON array of colours or {\"colors\": [...]}".into(),
            message: e.to_string(),
        })?;
        let arr = match &v {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Object(o) => match o.get("colors") {
                Some(serde_json::Value::Array(a)) => a,
                _ => {
                    return Err(CoreError::Invalid {
                        field: "colors".into(),
                        message: "missing; expected an array or an object {\"colors\": [...]}"
                            .into(),
                    });
                }
            },
            _ => {
                return Err(CoreError::invalid(
                    "colors",
                    "expected an array of colours or {\"colors\": [...]}",
                ));
            }
        };
        if arr.len() != g.n() {
            return Err(CoreError::length("colors", arr.len(), g.n()));
        }
        let colors = arr
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .ok_or_else(|| {
                        CoreError::invalid(
                            format!("colors[{i}]"),
                            format!("is {c}, expected a non-negative integer below {}", g.n()),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_colors(g, colors)
    }

    /// First-fit greedy colouring in vertex order.
    pub fn greedy(g: &Graph) -> Self {
        let n = g.n();
        let mut color = vec![u32::MAX; n];
        let mut used = Vec::new();
        for i in 0..n {
            used.clear();
            used.extend(
                g.neighbors(i)
                    .iter()
                    .map(|&j| color[j as usize])
                    .filter(|&c| c != u32::MAX),
            );
            color[i] = smallest_free(&mut used);
        }
        Self::from_colors(g, color).expect("greedy colouring is proper")
    }

    /// DSATUR: repeatedly colour the uncoloured vertex with the most distinct neighbour colours
    /// (ties: highest degree, then lowest index) with the smallest free colour. Deterministic.
    pub fn dsatur(g: &Graph) -> Self {
        let n = g.n();
        let mut color = vec![u32::MAX; n];
        let mut sat: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); n];
        let mut heap = std::collections::BinaryHeap::new();
        for i in 0..n {
            heap.push((0usize, g.degree(i), std::cmp::Reverse(i)));
        }
        let mut used = Vec::new();
        while let Some((s, _, std::cmp::Reverse(i))) = heap.pop() {
            if color[i] != u32::MAX || s != sat[i].len() {
                continue; // stale entry
            }
            used.clear();
            used.extend(sat[i].iter().copied());
            let c = smallest_free(&mut used);
            color[i] = c;
            for &j in g.neighbors(i) {
                let j = j as usize;
                if color[j] == u32::MAX && sat[j].insert(c) {
                    heap.push((sat[j].len(), g.degree(j), std::cmp::Reverse(j)));
                }
            }
        }
        Self::from_colors(g, color).expect("DSATUR colouring is proper")
    }

    /// Number of colours (blocks).
    pub fn n_colors(&self) -> usize {
        self.classes.len()
    }

    /// Colour of spin `i`.
    pub fn color(&self, i: usize) -> u32 {
        self.color[i]
    }

    /// All colours, one per spin.
    pub fn colors(&self) -> &[u32] {
        &self.color
    }

    /// Spins of colour `c`, ascending.
    pub fn class(&self, c: usize) -> &[u32] {
        &self.classes[c]
    }

    /// All classes in colour order.
    pub fn classes(&self) -> &[Vec<u32>] {
        &self.classes
    }

    /// Whether no edge joins two spins of one colour.
    pub fn is_proper(&self, g: &Graph) -> bool {
        g.edges().all(|(i, j)| self.color[i] != self.color[j])
    }
}

fn smallest_free(used: &mut Vec<u32>) -> u32 {
    used.sort_unstable();
    used.dedup();
    let mut c = 0u32;
    for &u in used.iter() {
        if u == c {
            c += 1;
        } else if u > c {
            break;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn complete_graph_needs_n_colors() {
        let g = Graph::complete(6);
        assert_eq!(Coloring::dsatur(&g).n_colors(), 6);
        assert_eq!(Coloring::greedy(&g).n_colors(), 6);
    }

    #[test]
    fn rejects_improper() {
        let g = Graph::new(3, &[(0, 1), (1, 2)]).unwrap();
        assert!(matches!(
            Coloring::from_colors(&g, vec![0, 0, 1]),
            Err(CoreError::ImproperColoring {
                i: 0,
                j: 1,
                color: 0
            })
        ));
        assert!(matches!(
            Coloring::from_colors(&g, vec![0, 1]),
            Err(CoreError::Length { .. })
        ));
        assert!(matches!(
            Coloring::from_colors(&g, vec![0, 2, 0]),
            Err(CoreError::Invalid { .. })
        ));
        // Regression (issue 18): a huge colour used to allocate its class table before any check.
        let e = Coloring::from_colors(&g, vec![0, 4_294_967_294, 0]).unwrap_err();
        assert!(e.to_string().starts_with("colors[1]"), "{e}");
        assert!(matches!(
            Coloring::from_colors(&g, vec![0, 3, 0]),
            Err(CoreError::Invalid { .. })
        ));
    }

    proptest! {
        // Fixed RNG seed: the cases are the same on every run (issue 18, item 8).
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0xc010_0001),
            ..ProptestConfig::default()
        })]
        #[test]
        fn dsatur_is_proper_and_bipartite_gets_two(n in 2usize..30, p in 0.05f64..0.9, seed in 0u64..1000) {
            use rand::{RngExt, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut e = Vec::new();
            let mut bip = Vec::new();
            for i in 0..n { for j in i+1..n {
                if rng.random::<f64>() < p { e.push((i,j)); if (i + j) % 2 == 1 { bip.push((i,j)); } }
            }}
            let g = Graph::new(n, &e).unwrap();
            let c = Coloring::dsatur(&g);
            prop_assert!(c.is_proper(&g));
            prop_assert!(Coloring::greedy(&g).is_proper(&g));
            let gb = Graph::new(n, &bip).unwrap();
            prop_assert!(Coloring::dsatur(&gb).n_colors() <= 2);
        }
    }
}
