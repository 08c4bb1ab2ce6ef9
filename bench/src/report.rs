//! `report`: wrk outputs as a table (Markdown and JSON) and an SVG chart.

use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::PathBuf;

/// Figures parsed from one wrk run (`wrk --latency`).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Figures {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

pub(crate) fn parse_duration_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

pub(crate) fn parse_wrk(path: &str) -> Result<Figures> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let mut figures = Figures::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            figures.requests_per_second = rest.trim().parse().unwrap_or(0.0);
        } else if let Some(rest) = line.strip_prefix("50%") {
            figures.p50_ms = parse_duration_ms(rest);
        } else if let Some(rest) = line.strip_prefix("99%") {
            figures.p99_ms = parse_duration_ms(rest);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            figures.non_2xx = rest.trim().parse().unwrap_or(0);
        }
    }
    Ok(figures)
}

pub(crate) fn report(
    scenarios: &[String],
    markdown: &PathBuf,
    json_path: &PathBuf,
    svg: &PathBuf,
) -> Result<()> {
    let mut rows = Vec::new();
    let mut round_ratios = Vec::new();
    for scenario in scenarios {
        let parts: Vec<&str> = scenario.splitn(3, '=').collect();
        let [name, ceilings, subjects] = parts.as_slice() else {
            bail!("scenario must be NAME=CEILING[,CEILING…]=SUBJECT[,SUBJECT…]")
        };
        // Rounds alternate ceiling and countersign; the round with the median ratio is
        // reported, with every round's ratio beside it.
        let mut rounds = ceilings
            .split(',')
            .zip(subjects.split(','))
            .map(|(c, s)| Ok((parse_wrk(c)?, parse_wrk(s)?)))
            .collect::<Result<Vec<(Figures, Figures)>>>()?;
        if rounds.is_empty() {
            bail!("scenario {name} has no rounds");
        }
        let ratio = |(c, s): &(Figures, Figures)| {
            if c.requests_per_second > 0.0 {
                s.requests_per_second / c.requests_per_second
            } else {
                0.0
            }
        };
        rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
        round_ratios.push(
            rounds
                .iter()
                .map(|r| format!("{:.2}", ratio(r)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let (ceiling, subject) = rounds.swap_remove(rounds.len() / 2);
        rows.push((name.to_string(), ceiling, subject));
    }
    let mut table = String::from(
        "| scenario | countersign req/s | p50 | p99 | non-2xx | ceiling req/s | ratio | ratio of each round |\n|---|---|---|---|---|---|---|---|\n",
    );
    for ((name, ceiling, subject), rounds) in rows.iter().zip(&round_ratios) {
        let ratio = if ceiling.requests_per_second > 0.0 {
            subject.requests_per_second / ceiling.requests_per_second
        } else {
            0.0
        };
        table.push_str(&format!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.0} | {ratio:.2} | {rounds} |\n",
            subject.requests_per_second,
            subject.p50_ms,
            subject.p99_ms,
            subject.non_2xx,
            ceiling.requests_per_second
        ));
    }
    std::fs::write(markdown, &table)?;
    let value = json!(rows.iter().map(|(name, ceiling, subject)| json!({"scenario": name, "ceiling": ceiling, "countersign": subject})).collect::<Vec<_>>());
    std::fs::write(json_path, serde_json::to_vec_pretty(&value)?)?;
    std::fs::write(svg, chart(&rows))?;
    println!("{table}");
    Ok(())
}

/// A grouped bar chart: ceiling and countersign requests/s per scenario.
pub(crate) fn chart(rows: &[(String, Figures, Figures)]) -> String {
    let width = 760.0;
    let bar_area = 560.0;
    let row_height = 56.0;
    let height = 60.0 + row_height * rows.len() as f64;
    let max = rows
        .iter()
        .flat_map(|(_, c, s)| [c.requests_per_second, s.requests_per_second])
        .fold(1.0, f64::max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"10\" y=\"20\" font-size=\"14\">requests/s on one machine (grey: ceiling, no authentication; blue: countersign)</text>"
    );
    for (i, (name, ceiling, subject)) in rows.iter().enumerate() {
        let y = 40.0 + row_height * i as f64;
        let ceiling_width = bar_area * ceiling.requests_per_second / max;
        let subject_width = bar_area * subject.requests_per_second / max;
        let ratio = if ceiling.requests_per_second > 0.0 {
            subject.requests_per_second / ceiling.requests_per_second
        } else {
            0.0
        };
        svg.push_str(&format!(
            "<text x=\"10\" y=\"{:.0}\">{}</text>\
<rect x=\"180\" y=\"{:.0}\" width=\"{ceiling_width:.1}\" height=\"16\" fill=\"#bbb\"/><text x=\"{:.0}\" y=\"{:.0}\">{:.0}</text>\
<rect x=\"180\" y=\"{:.0}\" width=\"{subject_width:.1}\" height=\"16\" fill=\"#2a6fdb\"/><text x=\"{:.0}\" y=\"{:.0}\">{:.0} ({ratio:.2}×)</text>",
            y + 20.0,
            escape(name),
            y,
            184.0 + ceiling_width,
            y + 12.0,
            ceiling.requests_per_second,
            y + 20.0,
            184.0 + subject_width,
            y + 32.0,
            subject.requests_per_second,
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
