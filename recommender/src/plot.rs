//! A minimal SVG line chart, enough for the prequential curves (no plotting dependency).

use std::fmt::Write;

/// One line of the chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Points (x, y), x ascending.
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 800.0;
const H: f64 = 450.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
];

/// Renders the series as an SVG document with axes, ticks, a title and a legend.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let x_max = pts.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_max = nice_ceiling(pts.map(|p| p.1).fold(0.0, f64::max));
    let px = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - y / y_max * (H - TOP - BOTTOM);
    let mut s = String::new();
    // Writing to a String cannot fail, so the fmt results are ignored.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        (W - RIGHT + LEFT) / 2.0,
        escape(title)
    );
    let (x0, y0, x1, y1) = (px(0.0), py(0.0), px(x_max), py(y_max));
    let _ = writeln!(
        s,
        r#"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" stroke="black" fill="none"/>"#
    );
    for t in 0..=5 {
        let y = y_max * f64::from(t) / 5.0;
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{py}" x2="{x1}" y2="{py}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{y:.3}</text>"##,
            x0 - 5.0,
            py(y) + 4.0,
            py = py(y)
        );
        let x = x_max * f64::from(t) / 5.0;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{x:.0}</text>"#,
            px(x),
            y0 + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 10.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="15" y="{}" text-anchor="middle" transform="rotate(-90 15 {})">{}</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
    for (n, ser) in series.iter().enumerate() {
        let colour = COLOURS[n % COLOURS.len()];
        let d: Vec<String> = ser
            .points
            .iter()
            .enumerate()
            .map(|(k, p)| {
                format!(
                    "{}{:.1},{:.1}",
                    if k == 0 { 'M' } else { 'L' },
                    px(p.0),
                    py(p.1)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            r#"<path d="{}" stroke="{colour}" stroke-width="2" fill="none"/>"#,
            d.join(" ")
        );
        let ly = TOP + 20.0 * n as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            W - RIGHT + 10.0,
            W - RIGHT + 30.0,
            W - RIGHT + 35.0,
            ly + 4.0,
            escape(&ser.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The smallest of 1, 2 or 5 times a power of ten at or above `v` (at least 0.01).
fn nice_ceiling(v: f64) -> f64 {
    let v = v.max(0.01);
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lines_and_legend() {
        let svg = line_chart(
            "HR <10>",
            "events",
            "HR@10",
            &[Series {
                label: "A&B".into(),
                points: vec![(0.0, 0.1), (5000.0, 0.2)],
            }],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("A&amp;B"));
        assert!(svg.contains("HR &lt;10&gt;"));
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1);
        assert_eq!(nice_ceiling(0.23), 0.5);
        assert_eq!(nice_ceiling(0.09), 0.1);
    }
}
