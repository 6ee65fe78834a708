//! http protocol (in progress).
