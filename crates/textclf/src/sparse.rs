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
    /// of indices and values) without waiting for it: a hint, with no
    /// effect on results.
    #[inline]
    pub(crate) fn prefetch_row(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let start = self.indptr[i];
            if start < self.indices.len() {
                let idx = self.indices[start..].as_ptr().cast::<i8>();
                let val = self.values[start..].as_ptr().cast::<i8>();
                // SAFETY: prefetching is a hint that never faults; both
                // pointers point into live slices.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(idx);
                    _mm_prefetch::<_MM_HINT_T0>(val);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }
}
