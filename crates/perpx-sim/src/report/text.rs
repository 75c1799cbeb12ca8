//! The plain-language summary of a run: the paragraphs at the top of `report.html`, written from
//! `summary.json` so the words and the numbers can't disagree.

// Formatting money strings for reading (thousands separators, percentages): presentation only.
#![allow(clippy::float_arithmetic)]

use crate::summary::Summary;

/// `"1234567.891000"` → `"1,234,568"` (whole units with separators).
#[must_use]
pub fn usd(text: &str) -> String {
    let v: f64 = text.parse().unwrap_or(0.0);
    group(v.round())
}

/// A float with thousands separators and no decimals.
#[must_use]
pub fn group(v: f64) -> String {
    let neg = v < 0.0;
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg { format!("-{out}") } else { out }
}

/// A fraction as a percentage: `"0.0075"` → `"0.75 %"`.
#[must_use]
pub fn pct(text: &str) -> String {
    let v: f64 = text.parse().unwrap_or(0.0) * 100.0;
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} %")
}

/// A share as a percentage with one decimal: `"0.127466"` → `"12.7 %"`.
#[must_use]
pub fn share(text: &str) -> String {
    format!("{:.1} %", text.parse::<f64>().unwrap_or(0.0) * 100.0)
}

/// A fraction with two decimals: `"0.9355143"` → `"0.94"`.
#[must_use]
pub fn two(text: &str) -> String {
    format!("{:.2}", text.parse::<f64>().unwrap_or(0.0))
}

fn is_zero(text: &str) -> bool {
    text.parse::<f64>().map_or(true, |v| v == 0.0)
}

/// The paragraphs.
#[must_use]
pub fn paragraphs(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let moves: Vec<String> = s
        .markets
        .iter()
        .map(|m| {
            format!(
                "{}: spot started at {} and ended at {}; its largest fall from a high to a later low was {:.2} %.",
                m.symbol,
                group(m.spot.start),
                group(m.spot.end),
                m.spot_drawdown_pct
            )
        })
        .collect();
    out.push(moves.join(" "));
    let l = &s.liquidations;
    if l.started == 0 {
        out.push("No position was liquidated.".into());
    } else {
        let (book, backstop, adl) = s.markets.iter().fold((0.0, 0.0, 0.0), |acc, m| {
            let f = |t: &str| t.parse::<f64>().unwrap_or(0.0);
            (
                acc.0 + f(&m.liquidated_notional.book),
                acc.1 + f(&m.liquidated_notional.backstop),
                acc.2 + f(&m.liquidated_notional.adl),
            )
        });
        let mut p = format!(
            "{} liquidations started ({} accounts), closing {} USD of positions: {} USD through the order book, {} USD \
             taken over by backstop liquidators and {} USD by auto-deleveraging.",
            l.started,
            l.accounts,
            usd(&l.notional),
            group(book),
            group(backstop),
            group(adl)
        );
        if let Some(peak) = &l.peak_minute {
            p.push_str(&format!(
                " The busiest minute began at {} with {} liquidations.",
                peak.at.replace('T', " ").replace('Z', " UTC"),
                peak.count
            ));
        }
        if l.stalled > 0 {
            p.push_str(&format!(
                " {} times nothing could take a position at once and its account waited in the queue, cancel-only.",
                l.stalled
            ));
        }
        out.push(p);
    }
    let f = &s.waterfall_funds.insurance_total;
    let d = &s.deficits;
    let mut p = format!(
        "The insurance funds started with {} USD, were at {} USD at their lowest and ended with {} USD. \
         They received {} USD of liquidation fees and paid {} USD of deficits (gaps paid to backstop \
         liquidators and closed-out negative balances).",
        usd(&f.start),
        usd(&f.min),
        usd(&f.end),
        usd(&l.fees_to_funds),
        usd(&d.insurance)
    );
    if !is_zero(&d.shared_insurance) {
        p.push_str(&format!(" The shared fund paid {} USD.", usd(&d.shared_insurance)));
    }
    if !is_zero(&d.guaranty) {
        p.push_str(&format!(" The guaranty fund paid {} USD.", usd(&d.guaranty)));
    }
    if is_zero(&d.uncovered) {
        p.push_str(" No deficit was left uncovered.");
    } else {
        p.push_str(&format!(" {} USD was left uncovered: bad debt no layer paid.", usd(&d.uncovered)));
    }
    if !s.waterfall_funds.layers_used.is_empty() {
        p.push_str(&format!(" Layers used: {}.", s.waterfall_funds.layers_used.join(" → ")));
    }
    out.push(p);
    let a = &s.adl;
    if a.events == 0 {
        out.push(
            "Auto-deleveraging never ran: the book, the backstops and the funds absorbed every liquidation.".into(),
        );
    } else {
        let mut policies: Vec<&str> = s.adl_policy.values().map(String::as_str).collect();
        policies.sort_unstable();
        policies.dedup();
        let mut p = format!(
            "Auto-deleveraging ran {} times ({} policy) and closed {} winning positions of {} accounts, \
             {} USD of notional. The winners gave up {} USD against closing at the mark",
            a.bankruptcies,
            policies.join("/"),
            a.events,
            a.accounts_hit,
            usd(&a.notional),
            usd(&a.profit_given_up)
        );
        if is_zero(&a.profit_given_up) {
            p.push_str(
                " — the bankrupt positions still had equity, so ADL traded at the mark: the winners lost \
                 their positions, not their profit.",
            );
        } else {
            p.push_str(&format!(
                "; the largest single share was {} and the Gini coefficient of the haircut {}.",
                share(&a.largest_share),
                two(&a.gini)
            ));
        }
        let totals: Vec<String> = a
            .policy_totals
            .iter()
            .map(|t| format!("{} would have hit {} positions", t.policy, t.accounts_hit))
            .collect();
        p.push_str(&format!(" On the same positions at each ADL, {}.", totals.join(", ")));
        out.push(p);
    }
    let b = &s.basis_traders;
    if b.adl_hits == 0 {
        out.push(format!(
            "ADL never hit one of the {} basis traders (market makers and arbitrageurs hedged in spot).",
            b.accounts
        ));
    } else {
        out.push(format!(
            "ADL hit basis traders {} times, leaving {} USD of spot exposure unhedged until they \
             re-hedged: they thought they were flat, and after the cut they were long (or short) the spot \
             they held. The largest net exposure right after an ADL was {} USD.",
            b.adl_hits,
            usd(&b.unhedged_created_notional),
            group(b.max_net_exposure_after_adl)
        ));
    }
    for m in &s.markets {
        let fu = &m.funding;
        let mut p = if fu.settlements == 0 {
            format!("{}: no funding settlement fell in the run.", m.symbol)
        } else {
            format!(
                "{}: {} funding settlements, the 8-hour rate between {} and {} (cap {}, reached {} times, \
                 an APR of up to {} on notional); longs paid {} USD and received {} USD, shorts paid {} USD \
                 and received {} USD.",
                m.symbol,
                fu.settlements,
                pct(&fu.rate_8h_min),
                pct(&fu.rate_8h_max),
                pct(&fu.cap_8h),
                fu.settlements_at_cap,
                pct(&fu.apr_max),
                usd(&fu.longs_paid),
                usd(&fu.longs_received),
                usd(&fu.shorts_paid),
                usd(&fu.shorts_received)
            )
        };
        p.push_str(&format!(
            " The perp traded {:.2} bp from spot on average (σ {:.2} bp, from {:.2} to {:.2}).",
            m.basis_bps.mean, m.basis_bps.stdev, m.basis_bps.min, m.basis_bps.max
        ));
        out.push(p);
    }
    let mut reasons: Vec<(&String, &u64)> = s.rejections.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let reasons: Vec<String> = reasons.iter().take(3).map(|(k, v)| format!("{v} {k}")).collect();
    let refused = if reasons.is_empty() { String::new() } else { format!(": {}", reasons.join(", ")) };
    out.push(format!(
        "{} commands went through the engine ({} refused{refused}), and all {} invariant checks passed. Final state \
         hash: {}.",
        s.commands, s.rejected, s.invariant_checks, s.final_state_hash
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(usd("1234567.891000"), "1,234,568");
        assert_eq!(usd("-999.5"), "-1,000");
        assert_eq!(usd("0.000000"), "0");
        assert_eq!(pct("0.0075"), "0.75 %");
        assert_eq!(pct("0"), "0 %");
        assert_eq!(share("0.127466"), "12.7 %");
        assert_eq!(two("0.9355143"), "0.94");
    }
}
