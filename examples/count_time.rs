//! Scratch timing of pair counting phases (development aid).
use cartwise::{CoCounts, OrderLog};
use std::time::Instant;
fn main() -> cartwise::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_default();
    let log = OrderLog::from_csv_path(&path)?;
    let train = log.slice(0..4 * log.len() / 5);
    let mut best = f64::MAX;
    let mut e = 0;
    for _ in 0..10 {
        let s = Instant::now();
        let cc = CoCounts::count(train, 1)?;
        best = best.min(s.elapsed().as_secs_f64());
        e = cc.n_entries();
    }
    // naive increments only
    let mut best2 = f64::MAX;
    let n = log.n_items();
    for _ in 0..10 {
        let s = Instant::now();
        let mut acc = vec![0u32; n];
        for o in train.pair_orders() {
            for &i in o { for &j in o { acc[(i as usize ^ j as usize) % n] += 1; } }
        }
        std::hint::black_box(&acc);
        best2 = best2.min(s.elapsed().as_secs_f64());
    }
    println!("count min {:.1} ms, entries {}, raw incs {:.1} ms", best * 1e3, e, best2 * 1e3);
    Ok(())
}
