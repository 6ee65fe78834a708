//! The HTTP key API (`/v1/keys/...`).

pub(super) mod keys;
