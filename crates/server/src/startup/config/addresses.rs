//! Where the server listens: data interfaces and ports resolved, clashes refused,
//! and the admin endpoint's address.

use super::*;

impl Config {
    /// The data listeners this config asks for, every address resolved.
    pub fn data_addrs(&self) -> Result<Vec<DataAddr>, ConfigError> {
        use crate::context::{DataListenAddr, Protocol};
        let mut addrs = Vec::new();
        if let Some(path) = &self.unix_socket {
            let mode = self.unix_mode()?;
            let addr = DataListenAddr::Unix {
                path: path.clone(),
                mode,
            };
            addrs.push(DataAddr {
                protocol: Protocol::Memcache,
                addr,
                // A local socket's access is its file mode; TLS is for the network.
                tls: false,
            });
        }
        if self.listen.is_empty() {
            return Err(ConfigError::invalid(
                "-l/--listen (listen)",
                "no interface given",
            ));
        }
        let tls_only = self.tls.data_ports_tls_only;
        // (protocol, port, TLS port of its own, whether `-l ADDR:PORT`'s port replaces it);
        // the plain ports speak TLS under -Z.
        let ports = [
            (
                Protocol::Memcache,
                bind_port(self.port).filter(|_| self.unix_socket.is_none()),
                false,
                true,
            ),
            (Protocol::Resp, self.resp_port, false, false),
            (Protocol::Http, self.http_port, false, false),
            (Protocol::Memcache, self.tls.port, true, false),
            (Protocol::Resp, self.tls.resp_port, true, false),
            (Protocol::Http, self.tls.http_port, true, false),
        ];
        for (protocol, port, tls_port, interface_port_wins) in ports {
            let Some(port) = port else { continue };
            for interface in &self.listen {
                // memcached's `-l notls:ADDR:PORT`: this interface stays plain under -Z.
                let (interface, plain) = match interface.trim().strip_prefix("notls:") {
                    Some(_) if !tls_only => {
                        return Err(ConfigError::conflict(
                            "-l/--listen (listen)",
                            "'notls' option is valid only when SSL is enabled (-Z)",
                        ))
                    }
                    Some(rest) => (rest, true),
                    None => (interface.as_str(), false),
                };
                // Only -Z's TLS yields to notls; a TLS port was asked for by itself.
                let tls = tls_port || (tls_only && !plain);
                for addr in resolve_interface(interface, port, interface_port_wins)? {
                    addrs.push(DataAddr {
                        protocol,
                        addr: DataListenAddr::Tcp(addr),
                        tls,
                    });
                }
            }
        }
        if let Some(udp_port) = bind_port(self.udp_port) {
            // memcached's UDP: the memcache protocol on every -l interface, plain
            // (a datagram carries no TLS), never on a unix socket.
            for interface in &self.listen {
                let interface = interface.trim();
                let interface = interface.strip_prefix("notls:").unwrap_or(interface);
                for addr in resolve_interface(interface, udp_port, false)? {
                    addrs.push(DataAddr {
                        protocol: Protocol::Memcache,
                        addr: DataListenAddr::Udp(addr),
                        tls: false,
                    });
                }
            }
        }
        check_port_clash(&addrs)?;
        Ok(addrs)
    }

    /// The admin endpoint address; `None` when "off".
    pub fn admin_socket_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let text = self.admin_addr.trim();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let setting = "--admin-addr (admin_addr)";
        let mut resolved = text
            .to_socket_addrs()
            .map_err(|e| ConfigError::invalid(setting, format!("'{text}': {e}")))?;
        let addr = resolved.next().ok_or_else(|| {
            ConfigError::invalid(setting, format!("'{text}' resolves to nothing"))
        })?;
        Ok(Some(addr))
    }
}

/// `ADDR`, `ADDR:PORT`, `[v6]:PORT` or a host name; a port in the text
/// overrides `port` only for memcache (memcached's `-l addr:port`).
fn resolve_interface(
    interface: &str,
    port: u16,
    interface_port_wins: bool,
) -> Result<Vec<SocketAddr>, ConfigError> {
    let setting = "-l/--listen (listen)";
    let text = interface.trim();
    if let Ok(ip) = text
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
    {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        let port = if interface_port_wins {
            addr.port()
        } else {
            port
        };
        return Ok(vec![SocketAddr::new(addr.ip(), port)]);
    }
    let resolved: Vec<SocketAddr> = (text, port)
        .to_socket_addrs()
        .map_err(|e| ConfigError::invalid(setting, format!("'{text}': {e}")))?
        .collect();
    if resolved.is_empty() {
        return Err(ConfigError::invalid(
            setting,
            format!("'{text}' resolves to nothing"),
        ));
    }
    // A host name with several addresses listens on the first of each family.
    let v4 = resolved.iter().find(|a| a.is_ipv4()).copied();
    let v6 = resolved.iter().find(|a| a.is_ipv6()).copied();
    Ok(v4.into_iter().chain(v6).collect())
}

fn check_port_clash(addrs: &[DataAddr]) -> Result<(), ConfigError> {
    use crate::context::DataListenAddr;
    for (i, a) in addrs.iter().enumerate() {
        for b in &addrs[i + 1..] {
            if let (DataListenAddr::Tcp(x), DataListenAddr::Tcp(y)) = (&a.addr, &b.addr) {
                if x == y && x.port() != 0 && (a.protocol != b.protocol || a.tls != b.tls) {
                    let name = |d: &DataAddr| {
                        format!("{:?}{}", d.protocol, if d.tls { " over TLS" } else { "" })
                    };
                    return Err(ConfigError::conflict(
                        "--resp-port/--http-port/--tls-port",
                        format!("{x} is given to both {} and {}", name(a), name(b)),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The port to bind for a memcache port setting: `None` when off (0), 0 (the
/// kernel picks) for -1.
pub(super) fn bind_port(port: i32) -> Option<u16> {
    match port {
        0 => None,
        ANY_FREE_PORT => Some(0),
        port => u16::try_from(port).ok(),
    }
}
