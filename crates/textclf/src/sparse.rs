//! Sparse matrices: documents stay sparse end to end.

/// A sparse matrix in compressed sparse row form, one row per document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    pub n_cols: usize,
}

impl Csr {
    pub fn n_rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    pub(crate) fn empty(n_cols: usize) -> Self {
        Csr {
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            n_cols,
        }
    }

    /// An empty matrix with room for `rows` rows and `nnz` entries, so
    /// building it never doubles a buffer (a doubling can leave half of a
    /// 60 MB matrix unused; see [`Self::fit_capacity`]).
    pub(crate) fn with_capacity(n_cols: usize, rows: usize, nnz: usize) -> Self {
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        Csr {
            indptr,
            indices: Vec::with_capacity(nnz),
            values: Vec::with_capacity(nnz),
            n_cols,
        }
    }

    /// Gives back what a bound given to [`Self::with_capacity`] reserved
    /// beyond the entries pushed.
    pub(crate) fn fit_capacity(&mut self) {
        self.indptr.shrink_to_fit();
        self.indices.shrink_to_fit();
        self.values.shrink_to_fit();
    }

    pub(crate) fn push_row(&mut self, row: &[(u32, f32)]) {
        for &(i, v) in row {
            self.indices.push(i);
            self.values.push(v);
        }
        self.indptr.push(self.indices.len());
    }
}

impl Csr {
    /// Asks the processor to start loading row `i` (its first cache lines
    /// of indices, and of `values`: the matrix's own or a scaled copy of
    /// them) without waiting for it: a hint, with no effect on results.
    #[inline]
    pub(crate) fn prefetch_row_of(&self, i: usize, values: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let start = self.indptr[i];
            if start < self.indices.len() && start < values.len() {
                let idx = self.indices[start..].as_ptr().cast::<i8>();
                let val = values[start..].as_ptr().cast::<i8>();
                // SAFETY: prefetching is a hint that never faults; both
                // pointers point into live slices.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(idx);
                    _mm_prefetch::<_MM_HINT_T0>(val);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (i, values);
    }
}
