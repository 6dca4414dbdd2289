//! Offline evaluation of cartwise's methods on an order log, with the exact
//! protocol of the shared EVAL.md: the first 80% of orders train, every item
//! of every later basket of two or more items is held out in turn, and each
//! method's top k is scored by HR@k, MRR@k and coverage.
//!
//! Run:
//!   cargo run --release --example evaluate -- --orders ../shared/data/groceries/orders.csv
//!   cargo run --release --example evaluate -- --orders FILE.csv --k 10 --json
//!   cargo run --release --example evaluate -- --orders FILE.csv --markdown --peers ../shared/EVAL.md
//!
//! It prints one row per method: the `popularity` and `sar_*` reference
//! baselines of EVAL.md (reimplemented exactly, so their figures match the
//! peers' table), the default learned model (`learned`, marked default) and
//! its main variants. `--json` prints one JSON object instead; `--markdown`
//! prints a Markdown section, with the peers' rows for the same dataset when
//! `--peers EVAL.md` is given (that is how EVALUATION.md is generated, see
//! scripts/evaluation.sh). `--learned key=value,...` adds a learned row with
//! a custom configuration (keys: see `parse_config`), for experiments, and
//! `--custom-only` then skips the built-in rows other than popularity.
//!
//! The `sar_*` references score every item that co-occurs with a cart
//! item; where the best sellers co-occur with much of the catalog they find
//! their 10 best by the threshold algorithm instead (see
//! `cartwise::eval::CoOccurrence`). The whole run on
//! `scripts/big_log.py 1000000 1000000` (0.67 million items, 860k cases)
//! took 2.7 minutes, 73-78 µs per case for those references against about
//! 3 µs for the default. To evaluate the default alone:
//!   cargo run --release --example evaluate -- --orders FILE.csv --custom-only --learned lambda=50
//! (`lambda=50` is the default configuration).

use std::fmt::Write as _;
use std::process::ExitCode;

use cartwise::eval::{CoOccurrence, Evaluation, MethodReport, Popularity, Ranker, Similarity};
use cartwise::learn::{LearnConfig, LearnedModel, LearnedRanker, NeighbourRank, Pruning, Solver};
use cartwise::mine::Decay;
use cartwise::{Miner, OrderLog, OrdersView};

struct Args {
    orders: String,
    k: usize,
    json: bool,
    markdown: bool,
    peers: Option<String>,
    configs: Vec<String>,
    custom_only: bool,
}

const USAGE: &str = "usage: evaluate --orders FILE.csv [--k 10] [--json | --markdown [--peers EVAL.md]] [--learned key=value,... [--custom-only]]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        orders: String::new(),
        k: 10,
        json: false,
        markdown: false,
        peers: None,
        configs: Vec::new(),
        custom_only: false,
    };
    let mut orders = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--orders" => orders = Some(it.next().ok_or("--orders needs a file")?),
            "--k" => {
                let v = it.next().ok_or("--k needs a number")?;
                a.k = v.parse().map_err(|_| format!("--k: not a number: {v:?}"))?;
            }
            "--json" => a.json = true,
            "--markdown" => a.markdown = true,
            "--peers" => a.peers = Some(it.next().ok_or("--peers needs EVAL.md")?),
            "--learned" => a
                .configs
                .push(it.next().ok_or("--learned needs key=value,...")?),
            "--custom-only" => a.custom_only = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    a.orders = orders.ok_or("--orders FILE.csv is required")?;
    Ok(a)
}

/// Parses `key=value,...` into a learned configuration, starting from the
/// default. Keys: lambda (absolute ridge penalty), rho (per-count penalty),
/// k (neighbours), m (edges per item), prior, minpair, dense (max items for
/// the dense solver), local (always local), sqrt / count (neighbour rank),
/// positive (keep positive weights only), threads.
fn parse_config(spec: &str) -> Result<LearnConfig, String> {
    let mut c = LearnConfig::default();
    for kv in spec.split(',').filter(|s| !s.is_empty()) {
        let (key, v) = kv.split_once('=').unwrap_or((kv, ""));
        let num = || {
            v.parse::<f64>()
                .map_err(|_| format!("{key}: not a number: {v:?}"))
        };
        match key {
            "lambda" => c.lambda = num()?,
            "rho" => c.rho = num()?,
            "k" => c.neighbours = num()? as usize,
            "m" => c.max_edges = num()? as usize,
            "prior" => c.prior = num()?,
            "minpair" => c.min_pair_count = num()? as u32,
            "dense" => c.dense_max_items = num()? as usize,
            "local" => c.solver = Solver::Local,
            "sqrt" => c.rank = NeighbourRank::CountOverSqrt,
            "count" => c.rank = NeighbourRank::Count,
            "positive" => c.pruning = Pruning::Positive,
            "threads" => c.threads = num()? as usize,
            _ => return Err(format!("unknown key {key:?}")),
        }
    }
    Ok(c)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
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

/// Scores a cart by summing the mined rules' weights from its items, then
/// fills with popularity (ties by popularity rank).
struct MinedRanker {
    out: Vec<Vec<(u32, f32)>>,
    popular: Vec<u32>,
    rank: Vec<u32>,
    score: Vec<f32>,
    touched: Vec<u32>,
}

impl MinedRanker {
    fn fit(train: OrdersView<'_>, decay: Decay) -> cartwise::Result<Self> {
        let mut miner = Miner::new();
        miner.decay(decay);
        let mined = miner.mine(train)?;
        let log = train.log();
        let n = log.n_items();
        let mut out = vec![Vec::new(); n];
        for r in mined.rules() {
            if let (Some(a), Some(b)) = (log.item(r.from), log.item(r.to)) {
                out[a as usize].push((b, r.weight));
            }
        }
        let popular = cartwise::eval::popularity_list(train);
        let mut rank = vec![u32::MAX; n];
        for (r, &i) in popular.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        Ok(MinedRanker {
            out,
            popular,
            rank,
            score: vec![0.0; n],
            touched: Vec::new(),
        })
    }
}

impl Ranker for MinedRanker {
    fn rank(&mut self, cart: &[u32], k: usize, out: &mut Vec<u32>) {
        for &c in cart {
            for &(j, w) in self.out.get(c as usize).map_or(&[][..], |v| &v[..]) {
                if self.score[j as usize] == 0.0 {
                    self.touched.push(j);
                }
                self.score[j as usize] += w;
            }
        }
        let mut cands: Vec<(f32, u32, u32)> = self
            .touched
            .iter()
            .filter(|j| !cart.contains(j))
            .map(|&j| (self.score[j as usize], self.rank[j as usize], j))
            .collect();
        for &j in &self.touched {
            self.score[j as usize] = 0.0;
        }
        self.touched.clear();
        cands.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.extend(cands.iter().take(k).map(|c| c.2));
        for &p in &self.popular {
            if out.len() >= k {
                break;
            }
            if !cart.contains(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
    }
}

struct Row {
    report: MethodReport,
    default: bool,
    note: &'static str,
}

fn run(args: &Args) -> Result<(), String> {
    let log = OrderLog::from_csv_path(&args.orders).map_err(|e| e.to_string())?;
    let eval = Evaluation::new(&log, args.k).map_err(|e| e.to_string())?;
    let threads = cartwise::cooc::default_threads();
    let learned = |name: &str, c: LearnConfig| {
        eval.run(name, move |t| {
            Ok(LearnedRanker::new(LearnedModel::fit(t, &c)?))
        })
        .map_err(|e| e.to_string())
    };
    let mut rows = Vec::new();
    let mut push = |report: MethodReport, default: bool, note: &'static str| {
        rows.push(Row {
            report,
            default,
            note,
        })
    };

    let builtin = if args.custom_only {
        Vec::new()
    } else {
        variants()
    };
    if !args.custom_only {
        push(learned("learned", LearnConfig::default())?, true, "default");
    }
    for (name, note, tweak) in builtin {
        let mut c = LearnConfig::default();
        tweak(&mut c);
        push(learned(name, c)?, false, note);
    }
    for spec in &args.configs {
        push(learned(spec, parse_config(spec)?)?, false, "custom");
    }
    if !args.custom_only {
        // Association rules from the miner (confidence-weighted), and the
        // same with time decay where the log has timestamps: the effect of
        // weighting recent orders more.
        push(
            eval.run("mined_confidence", |t| MinedRanker::fit(t, Decay::None))
                .map_err(|e| e.to_string())?,
            false,
            "variant: association rules (Miner)",
        );
        if log.timestamp(0).is_some() {
            let half_life = Decay::HalfLife(std::time::Duration::from_secs(30 * 86_400));
            push(
                eval.run("mined_confidence_decay30d", |t| {
                    MinedRanker::fit(t, half_life)
                })
                .map_err(|e| e.to_string())?,
                false,
                "variant: association rules, 30-day half-life",
            );
        }
    }
    let r = eval
        .run("popularity", |t| Ok(Popularity::fit(t)))
        .map_err(|e| e.to_string())?;
    push(r, false, "reference (EVAL.md)");
    let sims = if args.custom_only {
        vec![]
    } else {
        vec![Similarity::Jaccard, Similarity::Conditional]
    };
    for sim in sims {
        let r = eval
            .run(sim.name(), |t| CoOccurrence::fit(t, sim, threads))
            .map_err(|e| e.to_string())?;
        push(r, false, "reference (EVAL.md)");
    }

    let dataset = std::path::Path::new(&args.orders)
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| args.orders.clone(), |s| s.to_string_lossy().into_owned());
    if args.json {
        println!("{}", to_json(&dataset, eval.n_cases(), &rows));
    } else if args.markdown {
        let peers = match &args.peers {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?),
            None => None,
        };
        print!(
            "{}",
            to_markdown(&dataset, &log, &eval, &rows, peers.as_deref())
        );
    } else {
        println!(
            "{dataset}: {} orders ({} train), {} cases, k = {}",
            log.len(),
            eval.train().len(),
            eval.n_cases(),
            args.k
        );
        println!(
            "{:<22} {:>8} {:>8} {:>8} {:>9} {:>9}  note",
            "method", "HR@k", "MRR@k", "coverage", "fit s", "µs/cart"
        );
        for r in &rows {
            let m = &r.report;
            println!(
                "{:<22} {:>8.4} {:>8.4} {:>8.3} {:>9.4} {:>9.2}  {}",
                m.name, m.hr, m.mrr, m.coverage, m.fit_seconds, m.micros_per_cart, r.note
            );
        }
    }
    Ok(())
}

type Tweak = fn(&mut LearnConfig);

/// The main variants of the default, each changing one thing.
fn variants() -> Vec<(&'static str, &'static str, Tweak)> {
    vec![
        ("learned_no_prior", "variant: no popularity prior", |c| {
            c.prior = 0.0
        }),
        ("learned_positive", "variant: positive edges only", |c| {
            c.pruning = Pruning::Positive
        }),
        ("learned_local", "variant: local solver at any size", |c| {
            c.solver = Solver::Local
        }),
        ("learned_k16", "variant: 16 neighbours (faster fit)", |c| {
            c.neighbours = 16
        }),
        (
            "learned_ease200",
            "variant: EASE's lambda 200, no rho, no prior",
            |c| {
                c.lambda = 200.0;
                c.rho = 0.0;
                c.prior = 0.0;
            },
        ),
    ]
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn to_json(dataset: &str, cases: usize, rows: &[Row]) -> String {
    let methods: Vec<String> = rows
        .iter()
        .map(|r| {
            let m = &r.report;
            format!(
                "{{\"name\":{},\"default\":{},\"hr_at_k\":{},\"mrr_at_k\":{},\"coverage\":{},\"fit_seconds\":{},\"recommend_micros_per_cart\":{}}}",
                json_str(&m.name),
                r.default,
                m.hr,
                m.mrr,
                m.coverage,
                m.fit_seconds,
                m.micros_per_cart
            )
        })
        .collect();
    format!(
        "{{\"dataset\":{},\"cases\":{},\"methods\":[{}]}}",
        json_str(dataset),
        cases,
        methods.join(",")
    )
}

/// The peers' table rows for `dataset` from EVAL.md: the lines of the first
/// Markdown table after the `**dataset**` heading, header excluded.
fn peer_rows<'a>(eval_md: &'a str, dataset: &str) -> Vec<&'a str> {
    let heading = format!("**{dataset}**");
    let mut lines = eval_md
        .lines()
        .skip_while(|l| !l.starts_with(&heading))
        .skip(1);
    let mut rows = Vec::new();
    for l in lines.by_ref() {
        if l.starts_with('|') {
            rows.push(l);
        } else if !rows.is_empty() {
            break;
        }
    }
    rows.into_iter().skip(2).collect()
}

fn to_markdown(
    dataset: &str,
    log: &OrderLog,
    eval: &Evaluation<'_>,
    rows: &[Row],
    peers: Option<&str>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### {dataset}\n\n{} orders ({} train), {} SKUs, {} cases, k = {}.\n",
        log.len(),
        eval.train().len(),
        log.n_items(),
        eval.n_cases(),
        eval.k()
    );
    let _ = writeln!(
        s,
        "| method | source | fit s | µs/case | HR@{k} | MRR@{k} | coverage |",
        k = eval.k()
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in rows {
        let m = &r.report;
        let name = if r.default {
            format!("**{}** (default)", m.name)
        } else {
            m.name.clone()
        };
        let _ = writeln!(
            s,
            "| {name} | cartwise: {} | {:.4} | {:.2} | {:.4} | {:.4} | {:.3} |",
            r.note, m.fit_seconds, m.micros_per_cart, m.hr, m.mrr, m.coverage
        );
    }
    let mut summary = String::new();
    if let Some(md) = peers {
        let (mut best_hr, mut best_mrr) = (0.0f64, 0.0f64);

        for line in peer_rows(md, dataset) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if let (Some(h), Some(m)) = (cells.get(4), cells.get(5)) {
                best_hr = best_hr.max(h.parse().unwrap_or(0.0));
                best_mrr = best_mrr.max(m.parse().unwrap_or(0.0));
            }
        }
        if let Some(d) = rows.iter().find(|r| r.default) {
            let pct = |x: f64, best: f64| {
                if best > 0.0 {
                    format!("{:+.1}%", (x / best - 1.0) * 100.0)
                } else {
                    "n/a".into()
                }
            };
            // One machine-readable line that scripts/evaluation.sh gathers
            // into the summary table.
            summary = format!(
                "<!-- summary: | {dataset} | {} | {:.4} | {best_hr:.4} | {} | {:.4} | {best_mrr:.4} | {} | -->\n",
                eval.n_cases(),
                d.report.hr,
                pct(d.report.hr, best_hr),
                d.report.mrr,
                pct(d.report.mrr, best_mrr)
            );
        }
        for line in peer_rows(md, dataset) {
            // EVAL.md columns: method | params | fit s | µs/case | HR | MRR | coverage
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            if cells.len() == 7 {
                let source = if cells[1].is_empty() {
                    "peer (EVAL.md)".to_owned()
                } else {
                    format!("peer (EVAL.md), {}", cells[1])
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    cells[0], source, cells[2], cells[3], cells[4], cells[5], cells[6]
                );
            }
        }
    }
    s.push('\n');
    s.push_str(&summary);
    s
}
