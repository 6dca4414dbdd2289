//! Non-blocking cache prefetch, the serving path's way to start a cache
//! miss without waiting for it.
//!
//! A read whose value is thrown away (`black_box(x[i])`) also starts a
//! miss, but the processor cannot retire it, nor anything after it, until
//! the data arrives: with a few hundred instructions in flight, the work
//! behind a burst of such reads stalls. A prefetch instruction retires at
//! once. Replacing cross-sell's reads of every edge target's row with
//! prefetches made cold 5- and 20-line calls on a million-product catalog
//! 4-18% faster (BENCHMARKS.md, "Applied in the sixth round"), with the
//! same answers.
//!
//! On x86 the instruction comes from `safe_arch` (the `core::arch`
//! intrinsic is `unsafe`, which this crate forbids); on other targets a
//! prefetch does nothing, and only the speed differs.

/// Hints that the cache line holding `value` will be read soon.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse"
    ))]
    safe_arch::prefetch_t0(value);
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse"
    )))]
    let _ = value;
}
