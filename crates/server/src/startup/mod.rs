//! Starting the server: the command line and configuration, process setup
//! (daemon, user, limits, signals), building the engine and the listeners.

pub mod check_config;
pub mod cli;
pub mod config;
pub mod engine;
pub mod fd_limit;
pub mod listeners;
pub mod logging;
pub mod memcached_options;
pub mod port_file;
pub mod process;
pub mod server;
pub mod signals;
pub mod size;
