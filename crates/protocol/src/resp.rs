//! resp protocol (in progress).
