//! `GET /` on the admin endpoint: a live status page, one self-contained HTML
//! file (inline CSS and script, no external assets) that polls `/stats` every
//! second and draws throughput, hit ratio, service-time percentiles, memory by
//! segment state, evictions, background work and stalls.
//!
//! The page itself carries no figures: every number comes from `/stats`, which
//! keeps the admin token check. So `/` is served without a token (a browser
//! cannot attach a bearer header to a navigation); when `/stats` answers 401 the
//! page asks for the token, keeps it in the tab's `sessionStorage` and sends it
//! as `Authorization: Bearer` on its own requests.

use tailcache_protocol::http::{response, Status};

/// The page, built into the binary.
pub const PAGE_HTML: &str = include_str!("status_page.html");

/// The page may run its own inline script and style and fetch from the admin
/// endpoint it came from; nothing else (no other origin, no framing, no form
/// posts, no plugins).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Whether `path` is the status page's.
pub fn is_page(path: &[u8]) -> bool {
    path == b"/"
}

/// Appends the page's response (the head alone for HEAD).
pub fn encode(out: &mut Vec<u8>, keep_alive: bool, head_only: bool) {
    response::status_line(out, Status::Ok);
    response::header(out, b"Content-Type", b"text/html; charset=utf-8");
    response::header(
        out,
        b"Content-Security-Policy",
        CONTENT_SECURITY_POLICY.as_bytes(),
    );
    response::header(out, b"X-Content-Type-Options", b"nosniff");
    response::header(out, b"Referrer-Policy", b"no-referrer");
    // Revalidated on each load so that an upgraded server's page replaces the old one.
    response::header(out, b"Cache-Control", b"no-cache");
    response::content_length(out, PAGE_HTML.len());
    if !keep_alive {
        response::header(out, b"Connection", b"close");
    }
    response::end_head(out);
    if !head_only {
        out.extend_from_slice(PAGE_HTML.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for outside in [
            "src=\"http",
            "href=\"http",
            "@import",
            "url(",
            "<link",
            "<iframe",
        ] {
            assert!(!PAGE_HTML.contains(outside), "{outside}");
        }
        // Only the SVG namespace, which names no resource.
        let urls = PAGE_HTML.matches("http://").count() + PAGE_HTML.matches("https://").count();
        assert_eq!(urls, 1);
        assert!(PAGE_HTML.contains("http://www.w3.org/2000/svg"));
        assert!(PAGE_HTML.contains("fetch(\"/stats\""));
        assert!(PAGE_HTML.contains("id=\"status\" data-updates=\"0\""));
    }

    #[test]
    fn head_carries_the_policy_and_length() {
        let mut out = Vec::new();
        encode(&mut out, true, true);
        let head = String::from_utf8(out).expect("ASCII head");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(head.contains(&format!(
            "Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\n"
        )));
        assert!(head.contains(&format!("Content-Length: {}\r\n", PAGE_HTML.len())));
        assert!(head.ends_with("\r\n\r\n") && !head.contains("<html"));
    }
}
