//! Who may connect and what they may do: access rules and their files, HTTP
//! authentication, and TLS.

pub mod access;
pub mod access_files;
pub mod http_auth;
pub mod tls;
