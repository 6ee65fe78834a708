//! memcached's `MEMCACHED_PORT_FILENAME`: when the variable names a file, the
//! memcache ports bound (useful with `-p -1`/`-U -1`, any free port) are written
//! there as `TCP INET: 11211` and `UDP INET: 11211` lines, to a `.lck` file first
//! and then renamed, so a reader that sees the file sees all of it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use tailcache_runtime::LocalAddr;

/// The variable memcached reads.
pub const PORT_FILE_VARIABLE: &str = "MEMCACHED_PORT_FILENAME";

/// memcached's lines for these bound memcache listeners (unix sockets have none).
pub fn port_lines<'a>(bound: impl IntoIterator<Item = &'a LocalAddr>) -> String {
    let line = |transport: &str, addr: &SocketAddr| {
        let family = if addr.is_ipv4() { "INET" } else { "INET6" };
        format!("{transport} {family}: {}\n", addr.port())
    };
    bound
        .into_iter()
        .map(|addr| match addr {
            LocalAddr::Tcp(addr) => line("TCP", addr),
            LocalAddr::Udp(addr) => line("UDP", addr),
            LocalAddr::Unix(_) => String::new(),
        })
        .collect()
}

/// Writes `lines` to `path` through `path.lck`.
pub fn write(path: &Path, lines: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".lck");
    let describe = |e: std::io::Error| format!("{PORT_FILE_VARIABLE} {}: {e}", path.display());
    let mut file = std::fs::File::create(&temporary).map_err(describe)?;
    file.write_all(lines.as_bytes()).map_err(describe)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_memcached_writes_them() {
        let bound = [
            LocalAddr::Tcp("127.0.0.1:11211".parse().unwrap()),
            LocalAddr::Unix("/tmp/s".into()),
            LocalAddr::Udp("[::1]:4000".parse().unwrap()),
        ];
        assert_eq!(port_lines(&bound), "TCP INET: 11211\nUDP INET6: 4000\n");
        let dir = std::env::temp_dir().join(format!("tailcache-port-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ports");
        write(&path, "TCP INET: 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "TCP INET: 1\n");
        assert!(!dir.join("ports.lck").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
