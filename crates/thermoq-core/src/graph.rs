//! Undirected sparse coupling graphs in CSR form with stable edge indices.

use crate::CoreError;

/// An undirected simple graph on `n` vertices. Edge `e` joins `edges[e].0 < edges[e].1`'s original
/// order is kept as given (the file order is the parameter order), and every vertex lists its
/// neighbours together with the index of the connecting edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    n: usize,
    edges: Vec<(u32, u32)>,
    offsets: Vec<usize>,
    nbr: Vec<u32>,
    nbr_edge: Vec<u32>,
}

impl Graph {
    /// Builds a graph, rejecting out-of-range endpoints, self-loops and duplicate pairs.
    pub fn new(n: usize, edges: &[(usize, usize)]) -> Result<Self, CoreError> {
        Self::new_named(n, edges, "edges")
    }

    /// As [`Graph::new`], naming the input field `field` in errors.
    pub fn new_named(n: usize, edges: &[(usize, usize)], field: &str) -> Result<Self, CoreError> {
        if n > u32::MAX as usize {
            return Err(CoreError::invalid(
                "n",
                format!("{n} spins exceeds the supported maximum {}", u32::MAX),
            ));
        }
        let mut seen = std::collections::HashMap::with_capacity(edges.len());
        let mut deg = vec![0usize; n];
        for (e, &(i, j)) in edges.iter().enumerate() {
            for idx in [i, j] {
                if idx >= n {
                    return Err(CoreError::IndexOutOfRange {
                        field: field.into(),
                        edge: e,
                        index: idx,
                        n,
                    });
                }
            }
            if i == j {
                return Err(CoreError::SelfLoop {
                    field: field.into(),
                    edge: e,
                    index: i,
                });
            }
            let key = (i.min(j), i.max(j));
            if let Some(&first) = seen.get(&key) {
                return Err(CoreError::DuplicateEdge {
                    field: field.into(),
                    edge: e,
                    first,
                    i,
                    j,
                });
            }
            seen.insert(key, e);
            deg[i] += 1;
            deg[j] += 1;
        }
        let mut offsets = vec![0usize; n + 1];
        for i in 0..n {
            offsets[i + 1] = offsets[i] + deg[i];
        }
        let mut fill = offsets.clone();
        let mut nbr = vec![0u32; offsets[n]];
        let mut nbr_edge = vec![0u32; offsets[n]];
        for (e, &(i, j)) in edges.iter().enumerate() {
            nbr[fill[i]] = j as u32;
            nbr_edge[fill[i]] = e as u32;
            fill[i] += 1;
            nbr[fill[j]] = i as u32;
            nbr_edge[fill[j]] = e as u32;
            fill[j] += 1;
        }
        Ok(Self {
            n,
            edges: edges.iter().map(|&(i, j)| (i as u32, j as u32)).collect(),
            offsets,
            nbr,
            nbr_edge,
        })
    }

    /// The complete graph on `n` vertices, edges in lexicographic order `(0,1), (0,2), …`.
    pub fn complete(n: usize) -> Self {
        let mut e = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        for i in 0..n {
            for j in i + 1..n {
                e.push((i, j));
            }
        }
        Self::new(n, &e).expect("complete graph is simple")
    }

    /// Number of vertices (spins).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of edges.
    pub fn n_edges(&self) -> usize {
        self.edges.len()
    }

    /// Edge `e` as `(i, j)` in the order given at construction.
    pub fn edge(&self, e: usize) -> (usize, usize) {
        let (i, j) = self.edges[e];
        (i as usize, j as usize)
    }

    /// All edges in order.
    pub fn edges(&self) -> impl ExactSizeIterator<Item = (usize, usize)> + '_ {
        self.edges.iter().map(|&(i, j)| (i as usize, j as usize))
    }

    /// Neighbours of `i`.
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.nbr[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Indices of the edges incident to `i`, aligned with [`Graph::neighbors`].
    pub fn neighbor_edges(&self, i: usize) -> &[u32] {
        &self.nbr_edge[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Degree of `i`.
    pub fn degree(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// CSR row offsets (length `n + 1`), for kernels that walk the adjacency directly.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_edges() {
        assert!(matches!(
            Graph::new(3, &[(0, 3)]),
            Err(CoreError::IndexOutOfRange { index: 3, .. })
        ));
        assert!(matches!(
            Graph::new(3, &[(1, 1)]),
            Err(CoreError::SelfLoop { index: 1, .. })
        ));
        assert!(matches!(
            Graph::new(3, &[(0, 1), (1, 0)]),
            Err(CoreError::DuplicateEdge {
                edge: 1,
                first: 0,
                ..
            })
        ));
    }

    #[test]
    fn adjacency_is_consistent() {
        let g = Graph::complete(5);
        assert_eq!(g.n_edges(), 10);
        for i in 0..5 {
            assert_eq!(g.degree(i), 4);
            for (&j, &e) in g.neighbors(i).iter().zip(g.neighbor_edges(i)) {
                let (a, b) = g.edge(e as usize);
                assert!((a == i && b == j as usize) || (b == i && a == j as usize));
            }
        }
    }
}
