//! Experiment 9 of EVALUATION.md: scoring and fitting variants of the
//! default learned model that have no `LearnConfig` knob, scored with the
//! shared protocol (`Evaluation::score`) by a brute-force ranker (every
//! seen item scored, same tie rule as the model: popularity rank).
//!
//! Run:
//!   cargo run --release --example experiment9 -- FILE.csv VARIANT...
//!   cargo run --release --example experiment9 -- FILE.csv cmp SPEC SPEC...
//!
//! Variants (the default model's edges and prior unless said otherwise):
//! * `base`: the default (reproduces the `learned` row exactly);
//! * `cartexp:A`: the prior of a cart of `s` known items (at least 1) is
//!   scaled by `s^A`;
//! * `sizeprior:S`: the prior of a cart of `s` known items is the share of
//!   training orders with at least `s + 1` items containing the candidate
//!   (`s` capped at S), times the default weight 0.2;
//! * `recent:H`: the prior's share of multi-item orders with each order
//!   weighted by recency, `2^(-age / (H x orders))`, its age counted in
//!   training orders back from the last (H = 0.5: half the weight is lost
//!   over half the training log);
//! * `intercept`: the prior is the mean residual of the model over
//!   multi-item orders, `share(j) - sum_i share(i) w(i -> j)`, floored at 0;
//! * `lsprior`: the prior weight fitted by least squares (one scalar beta
//!   on `share`, printed) instead of 0.2;
//! * `orderweight:A` (catalogs of at most 1024 items): dense EASE on a Gram
//!   matrix whose orders of `m` items weigh `(m - 1)^-A`;
//! * `edlae`: (at most 1024 items) the full-rank EDLAE weights of Steck
//!   (NeurIPS 2020), `-P_ij Lambda_j`, instead of EASE's `-P_ij / P_jj`;
//! * `pairs:LAMBDA2:MINC:TOP:AGG`: higher-order residual weights (a cheap
//!   form of Steck & Liang, RecSys 2021): for each item pair seen in at
//!   least MINC training orders, the model's residual `x_C - score(C)` for
//!   every C summed over the orders holding the pair, divided by the pair's
//!   count + LAMBDA2 (AGG `mean`: the cart adds the mean over its pairs) or
//!   by the sum over those orders of their number of such pairs + LAMBDA2
//!   (AGG `mm`, a majorize-minimize step from zero: the cart adds the sum);
//!   AGG `sum`: the pair's count + LAMBDA2, and the cart adds the sum (a
//!   plain one-step ridge fit per pair, which over-corrects);
//!   TOP corrections by magnitude kept per pair; `pairs:...:AGG:neg` (or
//!   `:pos`) keeps only the negative (positive) ones. Memory O(pairs x
//!   items): small catalogs only;
//! * `rules:conf:BETA`: the miner's two-item-antecedent rules ({A,B} -> C,
//!   default thresholds) add BETA x confidence, summed over the cart's
//!   pairs; `rules:excess:BETA`: BETA x the rule's confidence above the
//!   better single antecedent's, the largest over the cart's pairs;
//! * `blend:MEASURE:ALPHA`: adds ALPHA x a co-occurrence measure of every
//!   training pair, summed over the cart's items, to the model's score (an
//!   ensemble with SAR-style scores): MEASURE `cond` = c(i,j)/c(i), `cos` =
//!   c(i,j)/sqrt(c(i)c(j)), `jac` = c(i,j)/(c(i)+c(j)-c(i,j)), `condt` =
//!   c(i,j)/c(j).
//!
//! `cmp SPEC...` fits one model per `lambda=..,rho=..,prior=..` spec (empty
//! = default) and prints, by cart size and by log2 of the target's
//! popularity rank, each model's sum of reciprocal ranks and hits.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use cartwise::eval::Evaluation;
use cartwise::learn::{LearnConfig, LearnedModel};
use cartwise::mine::Itemsets;
use cartwise::{Miner, OrderLog, OrdersView};

#[derive(Clone, Copy, Debug)]
enum Variant {
    Base,
    CartExp(f64),
    SizePrior(usize),
    Recent(f64),
    Intercept,
    LsPrior,
    OrderWeight(f64),
    Edlae,
    Pairs {
        lambda2: f32,
        min_count: u32,
        top: usize,
        mm: bool,
        mean: bool,
        sign: i8,
    },
    Rules {
        excess: bool,
        beta: f32,
    },
    Blend {
        measure: u8,
        alpha: f32,
    },
}

fn parse(spec: &str) -> Variant {
    let p: Vec<&str> = spec.split(':').collect();
    let num = |i: usize| -> f64 {
        p.get(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{spec}: field {i}"))
    };
    match p[0] {
        "base" => Variant::Base,
        "cartexp" => Variant::CartExp(num(1)),
        "sizeprior" => Variant::SizePrior(num(1) as usize),
        "recent" => Variant::Recent(num(1)),
        "intercept" => Variant::Intercept,
        "lsprior" => Variant::LsPrior,
        "orderweight" => Variant::OrderWeight(num(1)),
        "edlae" => Variant::Edlae,
        "pairs" => Variant::Pairs {
            lambda2: num(1) as f32,
            min_count: num(2) as u32,
            top: num(3) as usize,
            mm: p.get(4) == Some(&"mm"),
            mean: p.get(4) == Some(&"mean"),
            sign: match p.get(5) {
                Some(&"neg") => -1,
                Some(&"pos") => 1,
                _ => 0,
            },
        },
        "blend" => Variant::Blend {
            measure: match p[1] {
                "cond" => 0,
                "cos" => 1,
                "jac" => 2,
                "condt" => 3,
                m => panic!("{spec}: measure {m}"),
            },
            alpha: num(2) as f32,
        },
        "rules" => Variant::Rules {
            excess: p.get(1) == Some(&"excess"),
            beta: num(2) as f32,
        },
        _ => panic!("unknown variant {spec:?}"),
    }
}

/// Dense EASE (penalty `50 + 0.1 c(i)` on the weighted counts) with order
/// weights `(m - 1)^-wexp`; `w[i * n + j]` is `i -> j`.
fn dense_weights(train: OrdersView<'_>, n: usize, wexp: f64, edlae: bool) -> Vec<f32> {
    let mut g = vec![0f64; n * n];
    for o in train.iter() {
        let m = o.len();
        let w = if m >= 2 {
            ((m - 1) as f64).powf(-wexp)
        } else {
            1.0
        };
        for &a in o {
            for &b in o {
                g[a as usize * n + b as usize] += w;
            }
        }
    }
    let diag: Vec<f64> = (0..n).map(|i| g[i * n + i]).collect();
    let lam: Vec<f64> = diag.iter().map(|&c| 50.0 + 0.1 * c).collect();
    for i in 0..n {
        g[i * n + i] = if diag[i] == 0.0 {
            1.0
        } else {
            diag[i] + lam[i]
        };
    }
    // Gauss-Jordan (symmetric positive definite: no pivoting needed).
    let mut inv = vec![0f64; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for c in 0..n {
        let p = g[c * n + c];
        for k in 0..n {
            g[c * n + k] /= p;
            inv[c * n + k] /= p;
        }
        for r in 0..n {
            let f = g[r * n + c];
            if r != c && f != 0.0 {
                for k in 0..n {
                    g[r * n + k] -= f * g[c * n + k];
                    inv[r * n + k] -= f * inv[c * n + k];
                }
            }
        }
    }
    let mut w = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j && diag[i] > 0.0 && diag[j] > 0.0 {
                let s = if edlae { lam[j] } else { 1.0 / inv[j * n + j] };
                w[i * n + j] = (-inv[i * n + j] * s) as f32;
            }
        }
    }
    w
}

/// Sorted distinct pairs of a sorted order.
fn pairs(s: &[u32]) -> impl Iterator<Item = (u32, u32)> + '_ {
    (0..s.len()).flat_map(move |a| (a + 1..s.len()).map(move |b| (s[a], s[b])))
}

type PairTable = HashMap<(u32, u32), Vec<(u32, f32)>>;

/// The higher-order residual corrections of `pairs:...`.
fn pair_residuals(
    train: OrdersView<'_>,
    model: &LearnedModel,
    prior: &[f32],
    tie: &[u32],
    (lambda2, min_count, top, mm, sign): (f32, u32, usize, bool, i8),
) -> PairTable {
    let n = model.n_items();
    let mut count: HashMap<(u32, u32), u32> = HashMap::new();
    for o in train.iter() {
        let mut s = o.to_vec();
        s.sort_unstable();
        for p in pairs(&s) {
            *count.entry(p).or_default() += 1;
        }
    }
    let mut acc: HashMap<(u32, u32), Vec<f32>> = HashMap::new();
    let mut co_firing: HashMap<(u32, u32), u32> = HashMap::new();
    let mut sc = vec![0f32; n];
    for o in train.iter().filter(|o| o.len() >= 2) {
        let mut s = o.to_vec();
        s.sort_unstable();
        // The model's score of every C for this order: C's own row is not
        // an edge of C, so it is the score of the order without C.
        sc.copy_from_slice(prior);
        for &i in &s {
            let (t, w) = model.edges(i);
            for (&j, &wj) in t.iter().zip(w) {
                sc[j as usize] += wj;
            }
        }
        let frequent: Vec<(u32, u32)> = pairs(&s).filter(|p| count[p] >= min_count).collect();
        for &p in &frequent {
            *co_firing.entry(p).or_default() += frequent.len() as u32;
            let e = acc.entry(p).or_insert_with(|| vec![0f32; n]);
            for c in 0..n {
                e[c] -= sc[c];
            }
            for &c in &s {
                e[c as usize] += 1.0;
            }
        }
    }
    acc.into_iter()
        .map(|((a, b), r)| {
            let d = lambda2
                + if mm {
                    co_firing[&(a, b)] as f32
                } else {
                    count[&(a, b)] as f32
                };
            let mut list: Vec<(u32, f32)> = r
                .iter()
                .enumerate()
                .filter(|&(c, _)| c as u32 != a && c as u32 != b && tie[c] != u32::MAX)
                .map(|(c, &x)| (c as u32, x / d))
                .filter(|&(_, x)| sign == 0 || (x > 0.0) == (sign > 0))
                .collect();
            list.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
            list.truncate(top);
            ((a, b), list)
        })
        .collect()
}

/// The miner's itemset rules as `pair -> [(C, confidence or excess)]`.
fn itemset_rules(log: &OrderLog, train: OrdersView<'_>, excess: bool) -> PairTable {
    let mut miner = Miner::new();
    miner.itemsets(Itemsets::Mine);
    let start = std::time::Instant::now();
    let mined = miner.mine(train).expect("mining");
    println!(
        "  (miner with itemsets: {:.4} s, {} itemset rules)",
        start.elapsed().as_secs_f64(),
        mined.n_itemset_rules()
    );
    let counts = train.item_counts();
    let mut pair_count: HashMap<(u32, u32), u32> = HashMap::new();
    if excess {
        for o in train.iter() {
            for &a in o {
                for &b in o {
                    if a != b {
                        *pair_count.entry((a, b)).or_default() += 1;
                    }
                }
            }
        }
    }
    let conf = |a: u32, c: u32| {
        pair_count.get(&(a, c)).copied().unwrap_or(0) as f32 / counts[a as usize] as f32
    };
    let mut rules = PairTable::new();
    for r in mined.itemset_rules() {
        let id = |s: &str| log.item(s).expect("mined SKU is in the log");
        let (a, b, c) = (id(r.antecedent[0]), id(r.antecedent[1]), id(r.to));
        let x = r.measures.confidence as f32;
        let x = if excess {
            (x - conf(a, c).max(conf(b, c))).max(0.0)
        } else {
            x
        };
        if x > 0.0 {
            rules.entry((a.min(b), a.max(b))).or_default().push((c, x));
        }
    }
    rules
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: experiment9 FILE.csv VARIANT... | FILE.csv cmp SPEC...");
        std::process::exit(2);
    }
    if args[2] == "cmp" {
        compare(&args[1], &args[3..]);
        return;
    }
    let log = OrderLog::from_csv_path(&args[1]).expect("orders");
    let eval = Evaluation::new(&log, 10).expect("evaluation");
    let train = eval.train();
    let config = LearnConfig::default();
    let model = LearnedModel::fit(train, &config).expect("fit");
    let n = model.n_items();
    let mut tie = vec![u32::MAX; n];
    for (r, &i) in model.popular().iter().enumerate() {
        tie[i as usize] = r as u32;
    }
    let prior: Vec<f32> = (0..n as u32).map(|j| model.prior(j)).collect();
    let share: Vec<f32> = prior.iter().map(|p| p / config.prior as f32).collect();
    // sum_i share(i) w(i -> j): the model's mean edge score of j over
    // multi-item orders.
    let mut mean_edges = vec![0f64; n];
    for i in 0..n as u32 {
        let (t, w) = model.edges(i);
        for (&j, &wj) in t.iter().zip(w) {
            mean_edges[j as usize] += f64::from(share[i as usize] * wj);
        }
    }
    for spec in &args[2..] {
        let v = parse(spec);
        let mut my_prior = prior.clone();
        let mut size_priors: Vec<Vec<f32>> = Vec::new();
        let mut dense = Vec::new();
        let mut table = PairTable::new();
        let (mut mean_over_pairs, mut max_over_pairs, mut beta) = (false, false, 1.0f32);
        let start = std::time::Instant::now();
        match v {
            Variant::Base | Variant::CartExp(_) | Variant::Blend { .. } => {}
            Variant::SizePrior(cap) => {
                size_priors = (0..=cap)
                    .map(|s| {
                        let mut c = vec![0u32; n];
                        let mut total = 0u32;
                        for o in train.iter().filter(|o| o.len() > s.max(1)) {
                            total += 1;
                            for &i in o {
                                c[i as usize] += 1;
                            }
                        }
                        c.iter()
                            .map(|&x| {
                                (config.prior * f64::from(x) / f64::from(total.max(1))) as f32
                            })
                            .collect()
                    })
                    .collect();
            }
            Variant::Recent(half) => {
                // The prior's share of multi-item orders, each weighted by
                // 2^(-age / (half x orders)), age counted in orders back from
                // the last training order.
                let orders: Vec<_> = train.iter().collect();
                let span = half * orders.len() as f64;
                let mut c = vec![0f64; n];
                let mut total = 0f64;
                for (idx, o) in orders.iter().enumerate() {
                    if o.len() < 2 {
                        continue;
                    }
                    let age = (orders.len() - 1 - idx) as f64;
                    let w = (-age / span * std::f64::consts::LN_2).exp();
                    total += w;
                    for &i in o.iter() {
                        c[i as usize] += w;
                    }
                }
                for j in 0..n {
                    my_prior[j] = (config.prior * c[j] / total.max(f64::MIN_POSITIVE)) as f32;
                }
            }
            Variant::Intercept => {
                for j in 0..n {
                    my_prior[j] = (f64::from(share[j]) - mean_edges[j]).max(0.0) as f32;
                }
            }
            Variant::LsPrior => {
                let (mut num, mut den) = (0f64, 0f64);
                for j in 0..n {
                    let s = f64::from(share[j]);
                    num += s * (s - mean_edges[j]);
                    den += s * s;
                }
                let b = num / den;
                println!("  (least-squares prior weight {b:.4})");
                for j in 0..n {
                    my_prior[j] = b as f32 * share[j];
                }
            }
            Variant::OrderWeight(_) | Variant::Edlae if n > 1024 => {
                println!("{spec:<32} skipped: more than 1024 items");
                continue;
            }
            Variant::OrderWeight(a) => dense = dense_weights(train, n, a, false),
            Variant::Edlae => dense = dense_weights(train, n, 0.0, true),
            Variant::Pairs {
                lambda2,
                min_count,
                top,
                mm,
                mean,
                sign,
            } => {
                table = pair_residuals(
                    train,
                    &model,
                    &prior,
                    &tie,
                    (lambda2, min_count, top, mm, sign),
                );
                mean_over_pairs = mean;
            }
            Variant::Rules { excess, beta: b } => {
                table = itemset_rules(&log, train, excess);
                max_over_pairs = excess;
                beta = b;
            }
        }
        let mut blend: Vec<Vec<(u32, f32)>> = Vec::new();
        if let Variant::Blend { measure, alpha } = v {
            let cc = cartwise::CoCounts::count(train, 2).expect("counts");
            blend = (0..n as u32)
                .map(|i| {
                    let (t, c) = cc.neighbours(i);
                    let ci = f64::from(cc.count_of(i)).max(1.0);
                    t.iter()
                        .zip(c)
                        .map(|(&j, &x)| {
                            let cj = f64::from(cc.count_of(j)).max(1.0);
                            let x = f64::from(x);
                            let m = match measure {
                                0 => x / ci,
                                1 => x / (ci * cj).sqrt(),
                                2 => x / (ci + cj - x),
                                _ => x / cj,
                            };
                            (j, alpha * m as f32)
                        })
                        .collect()
                })
                .collect();
        }
        let extra_fit = start.elapsed().as_secs_f64();
        let mut score = vec![0f32; n];
        let mut best: HashMap<u32, f32> = HashMap::new();
        let mut ranker = |cart: &[u32], k: usize, out: &mut Vec<u32>| {
            let mut known: Vec<u32> = cart
                .iter()
                .copied()
                .filter(|&i| (i as usize) < n && tie[i as usize] != u32::MAX)
                .collect();
            if let Variant::CartExp(a) = v {
                let f = (known.len().max(1) as f64).powf(a) as f32;
                for (s, &p) in score.iter_mut().zip(&my_prior) {
                    *s = p * f;
                }
            } else if size_priors.is_empty() {
                score.copy_from_slice(&my_prior);
            } else {
                score.copy_from_slice(&size_priors[known.len().clamp(1, size_priors.len() - 1)]);
            }
            for &i in &known {
                if dense.is_empty() {
                    let (t, w) = model.edges(i);
                    for (&j, &wj) in t.iter().zip(w) {
                        score[j as usize] += wj;
                    }
                } else {
                    for (s, &w) in score.iter_mut().zip(&dense[i as usize * n..][..n]) {
                        *s += w;
                    }
                }
            }
            if !blend.is_empty() {
                for &i in &known {
                    for &(j, x) in &blend[i as usize] {
                        score[j as usize] += x;
                    }
                }
            }
            if !table.is_empty() {
                known.sort_unstable();
                let n_pairs = (known.len() * known.len().saturating_sub(1) / 2).max(1);
                let scale = if mean_over_pairs {
                    1.0 / n_pairs as f32
                } else {
                    beta
                };
                best.clear();
                for p in pairs(&known) {
                    for &(c, x) in table.get(&p).map_or(&[][..], |l| &l[..]) {
                        let e = best.entry(c).or_insert(0.0);
                        *e = if max_over_pairs { e.max(x) } else { *e + x };
                    }
                }
                for (&c, &x) in &best {
                    score[c as usize] += scale * x;
                }
            }
            let mut cands: Vec<(f32, u32, u32)> = model
                .popular()
                .iter()
                .filter(|j| !cart.contains(j))
                .map(|&j| (score[j as usize], tie[j as usize], j))
                .collect();
            let kk = k.min(cands.len());
            if kk == 0 {
                return;
            }
            let by =
                |a: &(f32, u32, u32), b: &(f32, u32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            cands.select_nth_unstable_by(kk - 1, by);
            cands.truncate(kk);
            cands.sort_by(by);
            out.extend(cands.iter().map(|x| x.2));
        };
        let r = eval.score(spec, extra_fit, &mut ranker);
        println!(
            "{spec:<32} HR@10 {:.4} MRR@10 {:.4} coverage {:.3} extra fit {:.3} s",
            r.hr, r.mrr, r.coverage, extra_fit
        );
    }
}

/// Reciprocal ranks and hits by cart size and target popularity.
fn compare(path: &str, specs: &[String]) {
    let log = OrderLog::from_csv_path(path).expect("orders");
    let eval = Evaluation::new(&log, 10).expect("evaluation");
    let models: Vec<LearnedModel> = specs
        .iter()
        .map(|spec| {
            let mut c = LearnConfig::default();
            for kv in spec.split(',').filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').expect("key=value");
                let v: f64 = v.parse().expect("number");
                match k {
                    "lambda" => c.lambda = v,
                    "rho" => c.rho = v,
                    "prior" => c.prior = v,
                    _ => panic!("unknown key {k:?}"),
                }
            }
            LearnedModel::fit(eval.train(), &c).expect("fit")
        })
        .collect();
    let n = models[0].n_items();
    let mut rank = vec![u32::MAX; n];
    for (r, &i) in models[0].popular().iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let mut scratch: Vec<_> = models.iter().map(|m| m.scratch()).collect();
    const BUCKETS: usize = 12;
    // [table][model][bucket] = (cases, sum of 1/rank, hits)
    let mut tabs = vec![vec![[(0u32, 0f64, 0u32); BUCKETS]; models.len()]; 2];
    let mut out = Vec::new();
    eval.for_each_case(|cart, t| {
        let r = rank[t as usize];
        let pop = if r == u32::MAX {
            BUCKETS - 1
        } else {
            ((f64::from(r) + 1.0).log2() as usize).min(BUCKETS - 2)
        };
        let buckets = [cart.len().min(BUCKETS - 1), pop];
        for (m, model) in models.iter().enumerate() {
            out.clear();
            model.recommend_into(&mut scratch[m], cart, 10, &mut out);
            let rr = out
                .iter()
                .position(|&x| x == t)
                .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
            for (tab, &b) in tabs.iter_mut().zip(&buckets) {
                let e = &mut tab[m][b];
                e.0 += 1;
                e.1 += rr;
                e.2 += u32::from(rr > 0.0);
            }
        }
    });
    for (name, tab) in ["cart size", "log2(target popularity rank + 1)"]
        .iter()
        .zip(&tabs)
    {
        println!("by {name}: bucket, cases, then per model: sum of 1/rank, hits");
        for b in 0..BUCKETS {
            if tab[0][b].0 > 0 {
                let mut line = format!("{b:>3} {:>7}", tab[0][b].0);
                for m in tab {
                    line += &format!(" | {:>8.1} {:>6}", m[b].1, m[b].2);
                }
                println!("{line}");
            }
        }
    }
}
