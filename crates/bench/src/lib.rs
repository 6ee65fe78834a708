//! tailcache-bench: an open-loop, coordinated-omission-free load generator.
//!
//! Requests follow a fixed schedule and each latency is measured from the request's
//! *intended* send time, so a server stall shows up in the percentiles instead of
//! silently slowing the generator down (wrk2's and HdrHistogram's rule).

#![warn(missing_docs)]

pub mod cli;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod driver;
pub mod echo_server;
pub mod error;
pub mod histogram;
pub mod ketama;
pub mod output;
pub mod protocol;
pub mod schedule;
pub mod sweep;
pub mod target;
pub mod tls;
pub mod units;
pub mod workload;
