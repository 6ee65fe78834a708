//! Everything a run leaves behind: the summary table, JSON, HdrHistogram percentile
//! text, SVG charts and the HTML report that puts them together.

pub mod files;
pub mod hgrm;
pub mod html;
pub mod json;
pub mod summary;
pub mod svg;
pub mod table;
