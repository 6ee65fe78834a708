//! Values resolved ("pick for me" zeros made concrete) and checked, each error
//! naming the flag and TOML key to fix.

use super::addresses::bind_port;
use super::*;

impl Config {
    /// Replaces "pick for me" values (0) with what will be used.
    pub(super) fn resolve(&mut self, warnings: &mut Vec<String>) {
        if self.threads == 0 {
            self.threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
        }
        if self.segment_size_bytes == 0 {
            // -I counts the item's header, so the largest item fits a segment of -I.
            self.segment_size_bytes = self
                .max_item_size_bytes
                .next_power_of_two()
                .max(DEFAULT_SEGMENT_SIZE_BYTES);
            let memory_bytes = self.memory_limit_mib << 20;
            let chosen = self.segment_size_bytes;
            // Only a limit memcached would accept (at most half of -m) is adapted; a
            // larger one is refused by `validate`, as memcached refuses it.
            let memcached_valid = self.max_item_size_bytes <= memory_bytes / 2;
            while memcached_valid
                && self.segment_size_bytes > MIN_AUTO_SEGMENT_SIZE_BYTES
                && memory_bytes / self.segment_size_bytes < MIN_AUTO_SEGMENTS
            {
                self.segment_size_bytes /= 2;
            }
            if self.segment_size_bytes < chosen
                && self.max_item_size_bytes > self.segment_size_bytes
            {
                warnings.push(format!(
                    "-m {} is small: {} KiB segments, so the largest item (-I) is {} KiB",
                    self.memory_limit_mib,
                    self.segment_size_bytes >> 10,
                    self.segment_size_bytes >> 10
                ));
                self.max_item_size_bytes = self.segment_size_bytes;
            }
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.data_addrs()?;
        if self.binding_protocol == ProtocolName::Binary && self.access.auth_file.is_some() {
            // memcached's rule: ascii authentication has no binary form.
            return Err(ConfigError::conflict(
                "-B/--protocol (binding_protocol)",
                "you cannot allow the BINARY protocol while using ascii authentication tokens",
            ));
        }
        for (setting, port) in [
            ("-p/--port (port)", self.port),
            ("-U/--udp-port (udp_port)", self.udp_port),
        ] {
            if !(ANY_FREE_PORT..=i32::from(u16::MAX)).contains(&port) {
                return Err(ConfigError::invalid(
                    setting,
                    format!("{port} is not a port (0 turns it off, -1 picks a free one)"),
                ));
            }
        }
        if bind_port(self.udp_port).is_some() && self.access.auth_file.is_some() {
            // memcached's rule: a datagram cannot carry the connection's login.
            return Err(ConfigError::conflict(
                "-U/--udp-port (udp_port)",
                "cannot use UDP with ascii authentication enabled (-U 0 to disable)",
            ));
        }
        if !(1..=crate::observability::log_watchers::MAX_BUFFER_KIB)
            .contains(&self.watcher_buffer_kib)
        {
            return Err(ConfigError::invalid(
                "-o watcher_logbuf_size (watcher_buffer_kib)",
                format!(
                    "{} is outside 1..={} kilobytes",
                    self.watcher_buffer_kib,
                    crate::observability::log_watchers::MAX_BUFFER_KIB
                ),
            ));
        }
        self.admin_socket_addr()?;
        self.tls.validate()?;
        self.unix_mode()?;
        check_range(
            "-m/--memory-limit (memory_limit_mib)",
            self.memory_limit_mib,
            1,
            1 << 30,
        )?;
        check_range("-t/--threads (threads)", self.threads as u64, 1, 1024)?;
        check_range(
            "-c/--conn-limit (conn_limit)",
            self.conn_limit as u64,
            1,
            1 << 24,
        )?;
        let item = "-I/--max-item-size (max_item_size_bytes)";
        // The largest segment an index slot can address is 256 MiB, and an item fits one.
        check_range(item, self.max_item_size_bytes, 1 << 10, 1 << 28)?;
        let segment = "--segment-size (segment_size_bytes)";
        check_range(segment, self.segment_size_bytes, 4 << 10, 1 << 28)?;
        if self.max_item_size_bytes > self.segment_size_bytes {
            return Err(ConfigError::invalid(
                segment,
                format!(
                    "{} bytes cannot hold an item of -I {} bytes",
                    self.segment_size_bytes, self.max_item_size_bytes
                ),
            ));
        }
        if self.max_item_size_bytes > self.memory_limit_mib << 19 {
            return Err(ConfigError::invalid(item, "must be at most half of -m"));
        }
        if !self.prefix_delimiter.is_ascii_graphic() {
            return Err(ConfigError::invalid(
                "-D (prefix_delimiter)",
                "must be one printable ASCII character",
            ));
        }
        check_range(
            EXPECTED_ITEM_SIZE_SETTING,
            self.expected_item_size_bytes,
            1,
            self.max_item_size_bytes,
        )?;
        let high_water = "write_buffer_high_water_bytes";
        check_range(
            high_water,
            self.write_buffer_high_water_bytes as u64,
            4 << 10,
            1 << 30,
        )?;
        if self.connection_output_cap_bytes != 0 {
            check_range(
                "connection_output_cap_bytes",
                self.connection_output_cap_bytes as u64,
                4 << 10,
                1 << 32,
            )?;
        }
        check_range(
            "connection_buffer_budget_mib (-o resp_obj_mem_limit, read_buf_mem_limit)",
            self.connection_buffer_budget_mib,
            0,
            1 << 30,
        )?;
        check_range("idle_reclaim_secs", self.idle_reclaim_secs, 0, 1 << 32)?;
        if self.socket_send_buffer_kib != 0 {
            check_range(
                "socket_send_buffer_kib",
                self.socket_send_buffer_kib,
                4,
                1 << 20,
            )?;
        }
        check_range(
            "turn_budget_bytes",
            self.turn_budget_bytes as u64,
            1 << 10,
            1 << 30,
        )?;
        check_range(
            "-R (turn_budget_requests)",
            self.turn_budget_requests as u64,
            1,
            1 << 30,
        )?;
        check_range(
            "turn_budget_output_bytes",
            self.turn_budget_output_bytes as u64,
            1 << 10,
            1 << 30,
        )?;
        check_range("task_quota_us", self.task_quota_us, 1, 1_000_000)?;
        check_range("heavy_turn_us", self.heavy_turn_us, 1, 1_000_000)?;
        check_range(
            "background_min_share_percent",
            u64::from(self.background_min_share_percent),
            0,
            50,
        )?;
        for (name, shares) in [
            ("shares_maintenance", self.shares_maintenance),
            ("shares_compaction", self.shares_compaction),
            ("shares_snapshot", self.shares_snapshot),
            ("shares_bulk", self.shares_bulk),
        ] {
            check_range(name, u64::from(shares), 1, 10_000)?;
        }
        if self.stall_threshold_ms != 0 {
            check_range("stall_threshold_ms", self.stall_threshold_ms, 1, 3_600_000)?;
        }
        check_range("shutdown_timeout_secs", self.shutdown_timeout_secs, 0, 3600)?;
        check_range("-v (verbosity)", u64::from(self.verbosity), 0, 3)?;
        check_range(
            "-o idle_timeout (idle_timeout_secs)",
            self.idle_timeout_secs,
            0,
            1 << 32,
        )?;
        Ok(())
    }
}

fn check_range(setting: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        setting,
        format!("{value} is outside {min}..={max}"),
    ))
}
