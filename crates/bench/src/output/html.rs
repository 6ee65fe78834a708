//! The HTML report: sections of tables and inline SVG charts in one self-contained file.

use super::svg::escape;
use super::table::Table;

/// One part of a report.
#[derive(Clone, Debug, Default)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Paragraphs of plain text shown above the tables.
    pub notes: Vec<String>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Charts: (file stem, SVG document).
    pub charts: Vec<(String, String)>,
}

/// A self-contained HTML page.
pub fn page(title: &str, command: &str, sections: &[Section]) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}\
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}th,td{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
th{{background:#f4f4f4}}code{{background:#f4f4f4;padding:2px 4px}}</style></head><body>\n<h1>{t}</h1>\n<p>Command: <code>{c}</code></p>\n",
        t = escape(title),
        c = escape(command)
    );
    for s in sections {
        out.push_str(&format!("<h2>{}</h2>\n", escape(&s.title)));
        for n in &s.notes {
            out.push_str(&format!("<p>{}</p>\n", escape(n)));
        }
        for t in &s.tables {
            out.push_str(&t.to_html());
        }
        for (_, svg) in &s.charts {
            out.push_str(svg);
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// The same report in Markdown, charts linked as `<stem>.svg` under `chart_dir`.
pub fn markdown(title: &str, command: &str, sections: &[Section], chart_dir: &str) -> String {
    let mut out = format!("## {title}\n\nCommand: `{command}`\n\n");
    for s in sections {
        out.push_str(&format!("### {}\n\n", s.title));
        for n in &s.notes {
            out.push_str(&format!("{n}\n\n"));
        }
        for t in &s.tables {
            out.push_str(&t.to_markdown());
            out.push('\n');
        }
        for (stem, _) in &s.charts {
            out.push_str(&format!("![{stem}]({chart_dir}{stem}.svg)\n\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_and_markdown_hold_every_section() {
        let mut t = Table::new(&["a"]);
        t.rows.push(vec!["1".into()]);
        let s = Section {
            title: "S<1>".into(),
            notes: vec!["n".into()],
            tables: vec![t],
            charts: vec![("c".into(), "<svg></svg>".into())],
        };
        let html = page("T", "bench --x", std::slice::from_ref(&s));
        assert!(
            html.contains("<h2>S&lt;1&gt;</h2>")
                && html.contains("<svg></svg>")
                && html.contains("<td>1</td>")
        );
        let md = markdown("T", "bench --x", &[s], "bench/");
        assert!(
            md.contains("### S<1>") && md.contains("![c](bench/c.svg)") && md.contains("| 1 |")
        );
    }
}
