//! The tailcache server as a library: configuration, the data and admin
//! services, command execution over the storage engine, and observability.
//! The `tailcache` binary starts it; tests and fuzz targets drive a
//! connection's service in-process (bytes in, bytes out, a real engine).

pub mod access;
pub mod access_files;
pub mod admin;
pub mod check_config;
pub mod cli;
pub mod config;
pub mod conn_registry;
pub mod context;
pub mod data_service;
pub mod engine;
pub mod exec;
pub mod fd_limit;
pub mod http_auth;
pub mod listeners;
pub mod log_watchers;
pub mod logging;
pub mod lru_crawl;
pub mod memcached_options;
pub mod metrics;
pub mod port_file;
pub mod prefix_stats;
pub mod process;
pub mod prometheus;
pub mod report;
pub mod scheduler_metrics;
pub mod server;
pub mod signals;
pub mod size;
pub mod stats_json;
pub mod status_page;
pub mod tls;
