//! Stratified train/test split and k-fold, shuffled by a seeded generator
//! whose output is fixed by its definition (unlike `rand`'s `StdRng`, which
//! may change between releases): same seed, same split, forever.

/// splitmix64: a tiny generator whose output is fixed by its definition.
pub(crate) struct SplitMix(pub(crate) u64);
impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

pub(crate) fn by_class(y: &[u32], rows: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); k];
    for &r in rows {
        out[y[r] as usize].push(r);
    }
    out
}

/// Splits row indices into (train, test), keeping each class's share; at
/// least one example of each class stays in train.
pub fn stratified_split(y: &[u32], k: usize, test_size: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix(seed);
    let all: Vec<usize> = (0..y.len()).collect();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut rows in by_class(y, &all, k) {
        rng.shuffle(&mut rows);
        let n_test = ((rows.len() as f64 * test_size).round() as usize).min(rows.len().saturating_sub(1));
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Stratified k-fold over `rows`: each class is shuffled and dealt round
/// robin, so folds are disjoint, cover `rows`, and differ in size by at most
/// one per class. Returns the validation rows of each fold.
pub fn stratified_folds(y: &[u32], rows: &[usize], k: usize, folds: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = SplitMix(seed ^ 0xF01D);
    let mut out = vec![Vec::new(); folds];
    let mut next = 0;
    for mut class_rows in by_class(y, rows, k) {
        rng.shuffle(&mut class_rows);
        for r in class_rows {
            out[next % folds].push(r);
            next += 1;
        }
    }
    for f in &mut out {
        f.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_disjoint_and_covering() {
        let y: Vec<u32> = (0..1000).map(|i| if i % 4 == 0 { 1 } else { 0 }).collect();
        let (train, test) = stratified_split(&y, 2, 0.2, 7);
        assert_eq!(train.len() + test.len(), 1000);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(test.iter().filter(|&&r| y[r] == 1).count(), 50);
        assert_eq!(test.len(), 200);
        assert_eq!(stratified_split(&y, 2, 0.2, 7), (train.clone(), test.clone()), "seeded");
        assert_ne!(stratified_split(&y, 2, 0.2, 8).1, test);
    }

    #[test]
    fn folds_are_stratified_disjoint_and_covering() {
        let y: Vec<u32> = (0..103).map(|i| (i % 3 == 0) as u32).collect();
        let rows: Vec<usize> = (0..103).collect();
        let folds = stratified_folds(&y, &rows, 2, 5, 1);
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, rows, "disjoint and covering");
        let positives: Vec<usize> = folds.iter().map(|f| f.iter().filter(|&&r| y[r] == 1).count()).collect();
        assert!(
            positives.iter().max().unwrap() - positives.iter().min().unwrap() <= 1,
            "{positives:?}"
        );
        let sizes: Vec<usize> = folds.iter().map(Vec::len).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }
}
