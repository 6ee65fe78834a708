//! Writing a report's files into an output directory.

use super::hgrm::percentile_distribution;
use super::html::{markdown, page, Section};
use crate::error::BenchError;
use crate::histogram::LatencyHistogram;
use std::path::{Path, PathBuf};

/// Everything one invocation reports.
#[derive(Debug, Default)]
pub struct Report {
    /// Heading.
    pub title: String,
    /// The command line that produced it.
    pub command: String,
    /// Tables and charts.
    pub sections: Vec<Section>,
    /// The JSON document.
    pub json: String,
    /// Histograms written as `<name>.hgrm`.
    pub histograms: Vec<(String, LatencyHistogram)>,
}

impl Report {
    /// All tables as text, for the terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.sections {
            out.push_str(&format!("\n== {} ==\n", s.title));
            for n in &s.notes {
                out.push_str(n);
                out.push('\n');
            }
            for t in &s.tables {
                out.push_str(&t.to_text());
            }
        }
        out
    }

    /// Writes report.html, report.md, report.json, summary.txt, one SVG per chart and
    /// one .hgrm per histogram into `dir` (created if missing); returns the paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BenchError::Output(dir.display().to_string(), e))?;
        let mut files: Vec<(String, String)> = vec![
            (
                "report.html".into(),
                page(&self.title, &self.command, &self.sections),
            ),
            (
                "report.md".into(),
                markdown(&self.title, &self.command, &self.sections, ""),
            ),
            ("report.json".into(), self.json.clone()),
            ("summary.txt".into(), self.text()),
        ];
        for s in &self.sections {
            for (stem, svg) in &s.charts {
                files.push((format!("{stem}.svg"), svg.clone()));
            }
        }
        for (name, h) in &self.histograms {
            files.push((
                format!("{}.hgrm", file_stem(name)),
                percentile_distribution(h),
            ));
        }
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .map_err(|e| BenchError::Output(path.display().to_string(), e))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// A name made safe for a file: letters, digits, '-', '_' and '.'; the rest become '_'.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file() {
        let dir =
            std::env::temp_dir().join(format!("tailcache-bench-files-{}", std::process::id()));
        let mut h = LatencyHistogram::new();
        h.record_ns(1000);
        let r = Report {
            title: "t".into(),
            command: "c".into(),
            sections: vec![Section {
                title: "s".into(),
                charts: vec![("chart".into(), "<svg/>".into())],
                ..Default::default()
            }],
            json: "{}".into(),
            histograms: vec![("127.0.0.1:1 a/b".into(), h)],
        };
        let files = r.write(&dir).unwrap();
        assert_eq!(files.len(), 6);
        assert!(dir.join("127.0.0.1_1_a_b.hgrm").exists());
        assert!(dir.join("chart.svg").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
