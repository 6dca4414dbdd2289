//! Times fitting the learned model (median of repeated fits) on one order
//! log, for profiling.
//!
//! Run: cargo run --release --example fit_time -- FILE.csv [REPEATS] [THREADS]
//!
//! `FIT_ONLY=1` times fits only; `HASH=1` also prints a hash of the fitted
//! model's edges and priors, to check that a change to the fit keeps the
//! model; `SCORE_REPS=N` runs the evaluation's scoring pass N times.

use cartwise::eval::Evaluation;
use cartwise::learn::{LearnConfig, LearnedModel};
use cartwise::{CoCounts, OrderLog};
use std::time::Instant;

fn main() -> cartwise::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_default();
    let reps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let log = OrderLog::from_csv_path(&path)?;
    let eval = Evaluation::new(&log, 10)?;
    let mut c = LearnConfig::default();
    c.threads = threads;
    let mut t_count = Vec::new();
    let mut t_fit = Vec::new();
    let mut edges = 0;
    for _ in 0..reps {
        if std::env::var_os("FIT_ONLY").is_none() {
            let s = Instant::now();
            let cc = CoCounts::count(eval.train(), if threads == 0 { 2 } else { threads })?;
            t_count.push(s.elapsed().as_secs_f64());
            std::hint::black_box(cc);
        } else {
            t_count.push(0.0);
        }
        let s = Instant::now();
        let m = LearnedModel::fit(eval.train(), &c)?;
        t_fit.push(s.elapsed().as_secs_f64());
        edges = m.n_edges();
    }
    if std::env::var_os("HASH").is_some() {
        // FNV-1a over every edge and prior, bit for bit: two builds fit the
        // same model when the hashes agree.
        let m = LearnedModel::fit(eval.train(), &c)?;
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |x: u32| {
            for b in x.to_le_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        };
        for (i, j, w) in m.triples() {
            eat(i);
            eat(j);
            eat(w.to_bits());
        }
        for i in 0..m.n_items() as u32 {
            eat(m.prior(i).to_bits());
        }
        println!("model hash {h:016x}, edges {}", m.n_edges());
    }
    if std::env::var_os("FIT_ONLY").is_some() {
        t_fit.sort_by(f64::total_cmp);
        println!(
            "fit median {:.3} ms (min {:.3}), edges {}",
            t_fit[reps / 2] * 1e3,
            t_fit[0] * 1e3,
            edges
        );
        return Ok(());
    }
    // Scoring: CPU time of this thread over all evaluation cases.
    let model = LearnedModel::fit(eval.train(), &c)?;
    let mut ranker = cartwise::LearnedRanker::new(model);
    // `SCORE_REPS=N` scores N times (for a profile of scoring alone); the
    // figures printed are the last pass's.
    let passes: usize = std::env::var("SCORE_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for _ in 1..passes {
        std::hint::black_box(eval.score("learned", 0.0, &mut ranker));
    }
    let cpu0 = thread_cpu_seconds();
    let wall0 = Instant::now();
    let r = eval.score("learned", 0.0, &mut ranker);
    let (cpu, wall) = (thread_cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    println!(
        "scoring: {:.3} µs/cart CPU ({:.3} wall incl. checking), HR {:.4}",
        cpu * 1e6 / r.cases as f64,
        wall * 1e6 / r.cases as f64,
        r.hr
    );
    t_count.sort_by(f64::total_cmp);
    t_fit.sort_by(f64::total_cmp);
    t_count.sort_by(f64::total_cmp);
    println!("count min {:.3} ms, ", t_count[0] * 1e3);
    println!(
        "count median {:.3} ms, fit median {:.3} ms (min {:.3}), edges {}",
        t_count[reps / 2] * 1e3,
        t_fit[reps / 2] * 1e3,
        t_fit[0] * 1e3,
        edges
    );
    Ok(())
}

/// CPU time of the calling thread in seconds (Linux `schedstat`; 0 where
/// unavailable). Used to time under a loaded machine.
#[allow(dead_code)]
pub fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}
