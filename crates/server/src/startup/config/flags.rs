//! The command line applied over the defaults and the TOML file: memcached's flags
//! and ours, with a refusal for security features not served and one warning for
//! each memcached flag that changes nothing here.

use super::*;

impl Config {
    pub(super) fn apply_flags(
        &mut self,
        flags: &Flags,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        refuse_unserved(flags)?;
        if !flags.listen.is_empty() {
            self.listen = flags.listen.clone();
        }
        set(&mut self.port, flags.port);
        set(&mut self.udp_port, flags.udp_port);
        if let Some(udp) = flags.udp_port.filter(|&p| p != 0) {
            // memcached: a UDP port without -p is also the TCP port.
            if flags.port.is_none() && self.port == DEFAULT_PORT {
                self.port = udp;
            }
        }
        if flags.unix_socket.is_some() {
            self.unix_socket = flags.unix_socket.clone();
        }
        if let Some(mode) = flags.unix_socket_mode {
            self.unix_socket_mode = format!("{mode:o}");
        }
        if flags.resp_port.is_some() {
            self.resp_port = flags.resp_port;
        }
        if flags.http_port.is_some() {
            self.http_port = flags.http_port;
        }
        set(&mut self.admin_addr, flags.admin_addr.clone());
        set(
            &mut self.memory_limit_mib,
            flags.memory_limit_bytes.map(|b| b.div_ceil(1 << 20)),
        );
        set(&mut self.threads, flags.threads.map(usize::from));
        set(&mut self.conn_limit, flags.conn_limit.map(|c| c as usize));
        set(&mut self.max_item_size_bytes, flags.max_item_size_bytes);
        set(&mut self.eviction, flags.eviction);
        if flags.disable_evictions {
            self.eviction = EvictionName::None;
        }
        if flags.disable_cas {
            self.cas_enabled = false;
        }
        set(&mut self.segment_size_bytes, flags.segment_size_bytes);
        set(
            &mut self.expected_item_size_bytes,
            flags.expected_item_size_bytes,
        );
        if let Some(text) = &flags.prefix_delimiter {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(delimiter), None) => self.prefix_delimiter = delimiter,
                _ => return Err(ConfigError::invalid("-D", "must be one character")),
            }
        }
        set(&mut self.accept_mode, flags.accept_mode);
        if flags.verbose > 0 {
            self.verbosity = flags.verbose;
        }
        if flags.disable_flush_all {
            self.flush_enabled = false;
        }
        self.shutdown_command_enabled |= flags.enable_shutdown;
        self.debug_commands |= flags.debug_commands;
        set(&mut self.listen_backlog, flags.listen_backlog);
        if let Some(requests) = flags.max_reqs_per_event {
            self.turn_budget_requests = requests as usize;
        }
        set(&mut self.binding_protocol, flags.protocol);
        if flags.disable_watch {
            self.watch_enabled = false;
        }
        if flags.disable_dumping {
            self.dump_enabled = false;
        }
        if flags.user.is_some() {
            self.user = flags.user.clone();
        }
        if flags.pid_file.is_some() {
            self.pid_file = flags.pid_file.clone();
        }
        if flags.heap_file.is_some() {
            self.heap_file = flags.heap_file.clone();
        }
        self.daemonize |= flags.daemon;
        self.enable_coredumps |= flags.enable_coredumps;
        self.lock_memory |= flags.lock_memory;
        self.tls.apply_flags(&flags.tls);
        self.access
            .apply_flags(&flags.access, flags.auth_file.as_deref());
        warn_no_effect(flags, warnings);
        apply_memcached_options(self, &flags.extended, warnings)
    }
}

/// Flags that ask for a security feature tailcache does not serve: running
/// without it would expose what the operator meant to protect.
fn refuse_unserved(flags: &Flags) -> Result<(), ConfigError> {
    if flags.enable_sasl {
        return Err(ConfigError::unserved(
            "-S/--enable-sasl",
            "SASL authentication (a binary-protocol feature) is not served by tailcache",
        ));
    }
    Ok(())
}

/// One line for each memcached flag given that changes nothing here.
fn warn_no_effect(flags: &Flags, warnings: &mut Vec<String>) {
    let mut warn = |flag: &str, why: &str| warnings.push(format!("{flag} {why}; ignored"));
    if flags.enable_largepages {
        warn("-L/--enable-largepages", "has no effect in tailcache");
    }
    if flags.slab_growth_factor.is_some() {
        warn(
            "-f/--slab-growth-factor",
            "has no effect: tailcache has no slab classes",
        );
    }
    if flags.slab_min_size.is_some() {
        warn(
            "-n/--slab-min-size",
            "has no effect: tailcache has no slab classes",
        );
    }
    if flags.napi_ids.is_some() {
        warn("-N/--napi-ids", "has no effect in tailcache");
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}
