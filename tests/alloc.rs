//! The serving path makes no heap allocation once warmed up.
//!
//! A counting global allocator wraps the system allocator. The test builds
//! a 10k-product engine from the bench generator (`benches/common`), warms
//! one `Scratch` on every cart and request it will use, then counts the
//! allocations of 10,000 `Engine::recommend_with` calls over 1-, 5- and
//! 20-line carts, limit 10, every kind, with and without a per-category
//! cap, a budget and per-request exclusions, and asserts there are none.
//!
//! When it fails, find the allocation with
//! `CARTWISE_ALLOC_TRACE=1 cargo test --test alloc -- --nocapture`, which
//! prints a backtrace of the first allocation inside the measured window.

#[path = "../benches/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use cartwise::{CartLine, Catalog, Kinds, Money, Request, Scratch};
use common::{Workload, SEED};

/// Allocations (and reallocations) counted so far.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Print a backtrace at the next counted allocation.
static TRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread's allocations count: only the test thread's,
    /// and only inside the measured window, so the harness's own threads
    /// cannot disturb the figure. A `const` thread-local of a type without
    /// `Drop` needs no allocation to access, so the allocator may read it.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn record() {
    // `try_with`: the key is unavailable while the thread is torn down.
    if !COUNTING.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    ALLOCATIONS.fetch_add(1, Relaxed);
    if TRACE.swap(false, Relaxed) {
        // Capturing and printing allocate: stop counting meanwhile.
        COUNTING.with(|c| c.set(false));
        eprintln!(
            "allocation inside the measured window:\n{}",
            Backtrace::force_capture()
        );
        COUNTING.with(|c| c.set(true));
    }
}

/// The system allocator, counting.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the only addition is bookkeeping that
// never allocates on the counted path.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: `ptr` and `layout` come from this allocator, that is from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Calls measured after warm-up.
const CALLS: usize = 10_000;

#[test]
fn recommend_with_does_not_allocate_after_warm_up() {
    let w = Workload::generate(10_000, SEED);
    let engine = w.engine();
    let catalog = engine.catalog();
    let carts: Vec<Vec<CartLine>> = [1, 5, 20]
        .iter()
        .flat_map(|&lines| w.carts(lines, 64))
        .collect();
    let popular = catalog.sku(cartwise::ProductId(w.by_rank[0])).to_owned();
    let requests = [
        Request::new().limit(10).kinds(Kinds::Both),
        Request::new().limit(10).kinds(Kinds::CrossSell),
        Request::new().limit(10).kinds(Kinds::Upsell),
        Request::new()
            .limit(10)
            .kinds(Kinds::Both)
            .max_per_category(2)
            .budget(Money(20_000)),
        Request::new()
            .limit(10)
            .max_per_category(1)
            .exclude_sku(popular)
            .exclude_sku("NOT-IN-CATALOG")
            .exclude_category("category-001"),
    ];

    // Warm-up: every (cart, request) pair once, so every buffer of the
    // scratch reaches the largest size the measured calls need.
    let mut scratch = Scratch::new();
    for request in &requests {
        for cart in &carts {
            engine
                .recommend_with(&mut scratch, cart, request)
                .expect("valid request");
        }
    }

    let trace = std::env::var_os("CARTWISE_ALLOC_TRACE").is_some();
    let mut suggestions = 0usize;
    let mut capped_calls = 0usize;
    TRACE.store(trace, Relaxed);
    ALLOCATIONS.store(0, Relaxed);
    COUNTING.with(|c| c.set(true));
    for i in 0..CALLS {
        // Every cart with every request, about ten times over.
        let cart = &carts[i % carts.len()];
        let request = &requests[(i / carts.len()) % requests.len()];
        capped_calls += usize::from(request.max_per_category.is_some());
        suggestions += engine
            .recommend_with(&mut scratch, cart, request)
            .expect("valid request")
            .len();
    }
    COUNTING.with(|c| c.set(false));
    TRACE.store(false, Relaxed);
    let allocations = ALLOCATIONS.load(Relaxed);

    // The calls did real work on every path.
    assert!(
        suggestions >= CALLS * 5,
        "only {suggestions} suggestions in {CALLS} calls"
    );
    assert!(capped_calls >= CALLS / 3);
    assert_eq!(
        allocations, 0,
        "{allocations} heap allocations in {CALLS} warmed-up recommend_with calls; \
         rerun with CARTWISE_ALLOC_TRACE=1 and --nocapture to see where"
    );
}
