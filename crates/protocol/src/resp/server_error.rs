//! Errors only the server can detect (they depend on stored data or configuration),
//! with Redis's exact reply bytes, so every caller answers the same way.

/// An error reply decided while executing a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerError {
    /// `-NOAUTH Authentication required.` (a password is set and the client has not
    /// authenticated).
    NoAuth,
    /// `-WRONGPASS invalid username-password pair or user is disabled.`.
    WrongPass,
    /// `-ERR AUTH <password> called without any password configured for the default
    /// user. Are you sure your configuration is correct?`.
    AuthNotConfigured,
    /// `-ERR value is not an integer or out of range` (INCR of a non-numeric value).
    ValueNotInteger,
    /// `-ERR increment or decrement would overflow`.
    IncrementOverflow,
    /// `-ERR invalid expire time in '<command>' command` (the sum with now overflows).
    InvalidExpireTime {
        /// The lowercase command name (`set`, `getex`, `expire`, `pexpire`).
        command: &'static str,
    },
    /// `-ERR string exceeds maximum allowed size (proto-max-bulk-len)` (APPEND beyond the
    /// item size limit).
    StringTooLong,
    /// `-OOM command not allowed when used memory > 'maxmemory'.` (no eviction possible).
    OutOfMemory,
    /// `-WRONGTYPE Operation against a key holding the wrong kind of value`.
    WrongType,
}

impl ServerError {
    /// Appends the reply with its `\r\n`; the same in RESP2 and RESP3.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let message: &[u8] = match self {
            ServerError::NoAuth => b"-NOAUTH Authentication required.",
            ServerError::WrongPass => b"-WRONGPASS invalid username-password pair or user is disabled.",
            ServerError::AuthNotConfigured => b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ServerError::ValueNotInteger => b"-ERR value is not an integer or out of range",
            ServerError::IncrementOverflow => b"-ERR increment or decrement would overflow",
            ServerError::InvalidExpireTime { command } => {
                out.extend_from_slice(b"-ERR invalid expire time in '");
                out.extend_from_slice(command.as_bytes());
                out.extend_from_slice(b"' command\r\n");
                return;
            }
            ServerError::StringTooLong => b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ServerError::OutOfMemory => b"-OOM command not allowed when used memory > 'maxmemory'.",
            ServerError::WrongType => b"-WRONGTYPE Operation against a key holding the wrong kind of value",
        };
        out.extend_from_slice(message);
        out.extend_from_slice(b"\r\n");
    }
}
