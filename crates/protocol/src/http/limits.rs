//! Bounds on what one HTTP request may ask the parser to hold.

/// Limits an HTTP request must respect; each has its own status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line (`GET /keys/... HTTP/1.1`): `414 URI Too Long`.
    pub max_request_line_bytes: usize,
    /// Most header fields: `431 Request Header Fields Too Large`.
    pub max_header_count: usize,
    /// Longest request head (request line, headers and the blank line): `431`.
    pub max_head_bytes: usize,
    /// Largest `Content-Length`: `413 Payload Too Large`.
    pub max_body_bytes: usize,
    /// Longest decoded key: `400 Bad Request`.
    pub max_key_len_bytes: usize,
}

impl Default for Limits {
    /// 8 KiB request lines and 16 KiB heads (what common servers allow), 64 headers,
    /// 1 MiB bodies (memcached's default item size), 250-byte keys (memcached's).
    fn default() -> Self {
        Limits {
            max_request_line_bytes: 8 * 1024,
            max_header_count: 64,
            max_head_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            max_key_len_bytes: 250,
        }
    }
}
