//! Bounded top-k selection.
//!
//! Selecting the best `k` of `n` candidates must not sort all `n`: the
//! engine partitions with `select_nth_unstable_by` (O(n)) and sorts only the
//! `k` survivors (O(k log k)). When a per-category cap may reject some of
//! the survivors, the window doubles until `k` are accepted or the
//! candidates run out, so the common case stays O(n + k log k).
//!
//! The comparator must be a total order (the engine's is score, then
//! product id), which makes the result independent of the input order.

use std::cmp::Ordering;

/// Moves the best `min(k, len)` items, sorted best first, to the front of
/// `items` and returns that prefix. O(n + k log k).
pub fn top_k_by<T, F>(items: &mut [T], k: usize, mut cmp: F) -> &mut [T]
where
    F: FnMut(&T, &T) -> Ordering,
{
    let k = k.min(items.len());
    if k == 0 {
        return &mut items[..0];
    }
    if k < items.len() {
        items.select_nth_unstable_by(k - 1, &mut cmp);
    }
    let head = &mut items[..k];
    head.sort_unstable_by(cmp);
    head
}

/// Picks up to `k` items best first, accepting each only if `accept`
/// (called in rank order, with the chance to record state such as a
/// per-category count) agrees. Pushes accepted indices into `out`.
///
/// `reset` is called before each widened pass so `accept` can clear its
/// state. Reorders `items`.
pub fn top_k_filtered<T, F, A, R>(
    items: &mut [T],
    k: usize,
    mut cmp: F,
    mut accept: A,
    mut reset: R,
    out: &mut Vec<usize>,
) where
    F: FnMut(&T, &T) -> Ordering,
    A: FnMut(&T) -> bool,
    R: FnMut(),
{
    let mut window = k.saturating_mul(2).max(1);
    loop {
        out.clear();
        reset();
        let len = items.len();
        let head = top_k_by(items, window, &mut cmp);
        for (i, item) in head.iter().enumerate() {
            if out.len() == k {
                break;
            }
            if accept(item) {
                out.push(i);
            }
        }
        if out.len() == k || window >= len {
            return;
        }
        window = window.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_full_sort(mut v in proptest::collection::vec(0u32..50, 0..200), k in 0usize..30) {
            let mut reference = v.clone();
            reference.sort_unstable_by(|a, b| b.cmp(a));
            reference.truncate(k);
            let got = top_k_by(&mut v, k, |a, b| b.cmp(a)).to_vec();
            prop_assert_eq!(got, reference);
        }

        #[test]
        fn filtered_matches_greedy_reference(
            mut v in proptest::collection::vec((0u32..20, 0u8..4), 0..100),
            k in 1usize..12,
            cap in 1usize..4,
        ) {
            // Reference: sort everything, take greedily with a per-group cap.
            let mut sorted = v.clone();
            let cmp = |a: &(u32, u8), b: &(u32, u8)| b.cmp(a);
            sorted.sort_unstable_by(cmp);
            let mut counts = [0usize; 4];
            let mut reference = Vec::new();
            for x in &sorted {
                if reference.len() == k { break; }
                if counts[x.1 as usize] < cap { counts[x.1 as usize] += 1; reference.push(*x); }
            }
            let counts = std::cell::RefCell::new([0usize; 4]);
            let mut out = Vec::new();
            top_k_filtered(
                &mut v, k, cmp,
                |x| { let mut c = counts.borrow_mut(); if c[x.1 as usize] < cap { c[x.1 as usize] += 1; true } else { false } },
                || *counts.borrow_mut() = [0; 4],
                &mut out,
            );
            let got: Vec<_> = out.iter().map(|&i| v[i]).collect();
            prop_assert_eq!(got, reference);
        }
    }
}
