//! The tailcache server as a library: configuration, the data and admin
//! services, command execution over the storage engine, and observability.
//! The `tailcache` binary starts it; tests and fuzz targets drive a
//! connection's service in-process (bytes in, bytes out, a real engine).

pub mod conn_registry;
pub mod context;
pub mod data_service;
pub mod exec;
pub mod lru_crawl;
pub mod observability;
pub mod security;
pub mod startup;
