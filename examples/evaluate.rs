//! Offline evaluation of cartwise's methods on an order log, with the
//! protocol of the shared EVAL.md (first 80% of orders to train, every item
//! of every later basket held out in turn, HR@k / MRR@k / coverage).
//!
//! Run:
//!   cargo run --release --example evaluate -- --orders ../shared/data/groceries/orders.csv
//!   cargo run --release --example evaluate -- --orders FILE.csv --k 10 --json
//!
//! Prints one row per method; `--json` prints one JSON object instead.

use std::process::ExitCode;

use cartwise::eval::{CoOccurrence, Evaluation, MethodReport, Popularity, Similarity};
use cartwise::learn::{LearnConfig, LearnedModel, LearnedRanker, NeighbourRank};
use cartwise::OrderLog;

struct Args {
    orders: String,
    k: usize,
    json: bool,
    configs: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut orders = None;
    let mut k = 10;
    let mut json = false;
    let mut configs = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--orders" => orders = Some(it.next().ok_or("--orders needs a file")?),
            "--k" => {
                let v = it.next().ok_or("--k needs a number")?;
                k = v.parse().map_err(|_| format!("--k: not a number: {v:?}"))?;
            }
            "--json" => json = true,
            "--learned" => configs.push(it.next().ok_or("--learned needs key=value,...")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { orders: orders.ok_or("--orders FILE.csv is required")?, k, json, configs })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("usage: evaluate --orders FILE.csv [--k 10] [--json]");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> cartwise::Result<()> {
    let log = OrderLog::from_csv_path(&args.orders)?;
    let eval = Evaluation::new(&log, args.k)?;
    let threads = cartwise::cooc::default_threads();
    let mut rows: Vec<MethodReport> = Vec::new();
    rows.push(eval.run("popularity", |t| Ok(Popularity::fit(t)))?);
    for sim in [Similarity::Jaccard, Similarity::Conditional, Similarity::Lift] {
        rows.push(eval.run(sim.name(), |t| CoOccurrence::fit(t, sim, threads))?);
    }
    for spec in &args.configs {
        let mut c = LearnConfig::default();
        for kv in spec.split(',').filter(|s| !s.is_empty()) {
            let (key, v) = kv.split_once('=').unwrap_or((kv, ""));
            let f: f64 = v.parse().unwrap_or(f64::NAN);
            match key {
                "lambda" => c.lambda_per_order = f,
                "rho" => c.rho = f,
                "abs" => c.lambda_abs = f,
                "k" => c.neighbours = f as usize,
                "m" => c.max_edges = f as usize,
                "prior" => c.prior = f,
                "min" => c.min_count = f as u32,
                "minpair" => c.min_pair_count = f as u32,
                "dense" => c.dense_max_items = f as usize,
                "sqrt" => c.rank = NeighbourRank::CountOverSqrt,
                "neg" => c.keep_negative = true,
                "threads" => c.threads = f as usize,
                _ => eprintln!("unknown key {key}"),
            }
        }
        rows.push(eval.run(spec, |t| Ok(LearnedRanker::new(LearnedModel::fit(t, &c)?)))?);
    }
    let dataset = std::path::Path::new(&args.orders)
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| args.orders.clone(), |s| s.to_string_lossy().into_owned());
    if args.json {
        println!("{{\"dataset\":{:?},\"cases\":{},\"methods\":[", dataset, eval.n_cases());
    } else {
        println!("{dataset}: {} orders ({} train), {} cases, k = {}", log.len(), eval.train().len(), eval.n_cases(), args.k);
        println!("{:<28} {:>9} {:>9} {:>9} {:>10} {:>10}", "method", "HR@k", "MRR@k", "coverage", "fit s", "µs/cart");
    }
    for r in &rows {
        println!(
            "{:<28} {:>9.4} {:>9.4} {:>9.3} {:>10.4} {:>10.2}   {:.10} {:.10}",
            r.name, r.hr, r.mrr, r.coverage, r.fit_seconds, r.micros_per_cart, r.hr, r.mrr
        );
    }
    Ok(())
}
