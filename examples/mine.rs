//! Mines an order log into a complement graph that a shop loads at
//! start-up.
//!
//! ```text
//! cargo run --release --example mine -- --orders FILE.csv --out graph.json
//!     [--min-support S] [--min-count C] [--min-confidence F] [--top N]
//!     [--measure support|confidence|lift|leverage|conviction|jaccard]
//!     [--itemsets] [--itemset-min-count C] [--itemset-top N]
//!     [--half-life DAYS] [--events] [--threads N]
//!     [--dot graph.dot] [--dot-edges N]
//! ```
//!
//! The order log is the shared CSV format (`order_id,sku` plus optional
//! columns; `timestamp` for `--half-life`, `event` for `--events`, `name`
//! for the DOT labels). The graph is written as JSON
//! ([`MinedGraph::to_json`]); a shop loads it with
//! [`MinedGraph::from_json_file`] and maps it onto its catalog with
//! [`MinedGraph::to_graph`] and [`MinedGraph::to_itemset_rules`], then
//! serves it with the `Associations` strategy. `--dot` also writes the
//! strongest edges (100 unless `--dot-edges` says otherwise) as a Graphviz
//! file to look at: `dot -Tsvg graph.dot > graph.svg`.
//!
//! Progress goes to standard error, the summary (orders, items, pairs,
//! rules, seconds) to standard output.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cartwise::{Decay, Events, Itemsets, Measure, MinedGraph, Miner, OrderLog, Phase};

const USAGE: &str =
    "usage: mine --orders FILE.csv --out graph.json [--min-support S] [--min-count C] \
[--min-confidence F] [--top N] [--measure support|confidence|lift|leverage|conviction|jaccard] \
[--itemsets] [--itemset-min-count C] [--itemset-top N] [--half-life DAYS] [--events] [--threads N] \
[--dot graph.dot] [--dot-edges N]";

struct Args {
    orders: String,
    out: String,
    dot: Option<String>,
    dot_edges: usize,
    miner: Miner,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
    v.parse()
        .map_err(|_| format!("{flag}: not a number: {v:?}"))
}

fn parse_args() -> Result<Args, String> {
    let mut orders = None;
    let mut out = None;
    let mut dot = None;
    let mut dot_edges = 100;
    let mut miner = Miner::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--orders" => orders = Some(it.next().ok_or("--orders needs a file")?),
            "--out" => out = Some(it.next().ok_or("--out needs a file")?),
            "--dot" => dot = Some(it.next().ok_or("--dot needs a file")?),
            "--dot-edges" => dot_edges = number(&arg, it.next())?,
            "--min-support" => {
                miner.min_support(number(&arg, it.next())?);
            }
            "--min-count" => {
                miner.min_count(number(&arg, it.next())?);
            }
            "--min-confidence" => {
                miner.min_confidence(number(&arg, it.next())?);
            }
            "--top" => {
                miner.top(number(&arg, it.next())?);
            }
            "--itemset-top" => {
                miner.itemset_top(number(&arg, it.next())?);
            }
            "--itemset-min-count" => {
                miner.itemset_min_count(number(&arg, it.next())?);
            }
            "--threads" => {
                miner.threads(number(&arg, it.next())?);
            }
            "--measure" => {
                let m: Measure = it
                    .next()
                    .ok_or("--measure needs a name")?
                    .parse()
                    .map_err(|e| format!("{e}"))?;
                miner.measure(m);
            }
            "--itemsets" => {
                miner.itemsets(Itemsets::Mine);
            }
            "--events" => {
                miner.events(Events::weighted());
            }
            "--half-life" => {
                let days: f64 = number(&arg, it.next())?;
                let half_life = Duration::try_from_secs_f64(days * 86_400.0)
                    .map_err(|_| format!("--half-life: not a duration in days: {days}"))?;
                miner.decay(Decay::HalfLife(half_life));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args {
        orders: orders.ok_or_else(|| format!("missing --orders\n{USAGE}"))?,
        out: out.ok_or_else(|| format!("missing --out\n{USAGE}"))?,
        dot,
        dot_edges,
        miner,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
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

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let log = OrderLog::from_csv_path(&args.orders)?;
    let read = start.elapsed();
    eprintln!(
        "read {} orders, {} items, {} lines in {:.2} s",
        log.len(),
        log.n_items(),
        log.n_lines(),
        read.as_secs_f64()
    );

    // Progress: one line per phase, a dot per tenth.
    let mut last: Option<(Phase, u32)> = None;
    let graph = args.miner.mine_with_progress(log.view(), |p| {
        let tenth = (p.fraction * 10.0).floor() as u32;
        match last {
            Some((phase, t)) if phase == p.phase && t >= tenth => return,
            Some((phase, _)) if phase == p.phase => eprint!("."),
            Some(_) => eprint!("\n{:<15}", p.phase.to_string()),
            None => eprint!("{:<15}", p.phase.to_string()),
        }
        if p.fraction >= 1.0 {
            eprint!(" done");
        }
        last = Some((p.phase, tenth));
    });
    eprintln!();
    let graph = graph?;
    let mined = start.elapsed() - read;

    graph.write_json_file(&args.out)?;
    if let Some(path) = &args.dot {
        let names = names(&args.orders, &graph)?;
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| cartwise::Error::io(path, e))?,
        );
        graph
            .write_dot(&mut file, args.dot_edges, |sku| names.get(sku).cloned())
            .and_then(|()| file.flush())
            .map_err(|e| cartwise::Error::io(path, e))?;
    }
    let total = start.elapsed();

    println!("orders         {}", log.len());
    println!("items          {}", graph.n_items());
    println!("pairs          {}", graph.pairs_counted());
    println!(
        "edges          {} (weight = {})",
        graph.n_rules(),
        graph.measure()
    );
    println!("itemset rules  {}", graph.n_itemset_rules());
    println!(
        "seconds        {:.2} (read {:.2}, mine {:.2}, write {:.2})",
        total.as_secs_f64(),
        read.as_secs_f64(),
        mined.as_secs_f64(),
        (total - read - mined).as_secs_f64()
    );
    println!("wrote          {}", args.out);
    if let Some(path) = &args.dot {
        println!("wrote          {path}");
    }
    Ok(())
}

/// The first non-empty `name` of each SKU in the log, if it has a `name`
/// column (for DOT labels).
fn names(
    path: &str,
    graph: &MinedGraph,
) -> Result<HashMap<String, String>, Box<dyn std::error::Error>> {
    let mut map = HashMap::new();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_path(path)?;
    let header = rdr.headers()?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let (Some(sku_col), Some(name_col)) = (column("sku"), column("name")) else {
        return Ok(map);
    };
    for record in rdr.records() {
        let record = record?;
        if let (Some(sku), Some(name)) = (record.get(sku_col), record.get(name_col)) {
            if !name.is_empty() && graph.item(sku).is_some() && !map.contains_key(sku) {
                map.insert(sku.to_owned(), name.to_owned());
            }
        }
    }
    Ok(map)
}
