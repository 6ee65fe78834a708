//! The credential files: memcached's `-Y` auth file (`user:password` lines,
//! read as memcached 1.6's authfile.c reads them) and a Redis ACL file
//! subset. Both are read once at start, with a bound on every part.

use std::io::Read;
use std::path::Path;

use crate::security::access::{secret_eq, Secret};
use crate::startup::config::ConfigError;

/// memcached's `MAX_ENTRIES`: an auth file is not meant to be a user database.
const MAX_MEMCACHE_USERS: usize = 8;
/// memcached's `MAX_ENTRY_LEN` (a line read with `fgets` of 256: 255 bytes
/// and its end); memcached cuts longer lines silently, tailcache refuses them.
const MAX_MEMCACHE_LINE_BYTES: usize = 255;
/// Largest ACL file read.
const MAX_ACL_FILE_BYTES: u64 = 1 << 20;
/// Most users in an ACL file.
const MAX_ACL_USERS: usize = 1024;
/// Longest user name or password in an ACL file.
const MAX_ACL_TOKEN_BYTES: usize = 512;

/// The users of a memcached auth file.
#[derive(Clone, Debug, PartialEq)]
pub struct MemcacheUsers {
    users: Vec<(Vec<u8>, Secret)>,
}

impl MemcacheUsers {
    /// Whether `user` and `password` match an entry. Every entry is compared,
    /// each in constant time, so the time taken does not say which matched.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut matched = false;
        for (name, secret) in &self.users {
            let both = secret_eq(user, name) & secret_eq(password, secret.as_bytes());
            matched |= both;
        }
        matched
    }
}

/// Reads a file of at most `max_bytes`, naming `setting` in any error.
pub fn read_bounded(path: &Path, max_bytes: u64, setting: &str) -> Result<String, ConfigError> {
    let file =
        std::fs::File::open(path).map_err(|e| ConfigError::unreadable(setting, e.to_string()))?;
    let mut text = String::new();
    file.take(max_bytes + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigError::unreadable(setting, e.to_string()))?;
    if text.len() as u64 > max_bytes {
        return Err(ConfigError::unreadable(
            setting,
            format!("file is larger than {max_bytes} bytes"),
        ));
    }
    Ok(text)
}

/// Reads memcached's auth file: one `user:password` per line, the password
/// running to the line's end (`\r` or `\n`), at most 8 entries. As memcached
/// does, any line without a `:` (an empty line, a comment) is malformed.
pub fn read_memcache_auth_file(path: &Path) -> Result<MemcacheUsers, ConfigError> {
    let setting = format!("-Y/--auth-file {}", path.display());
    let max_bytes = (MAX_MEMCACHE_USERS * (MAX_MEMCACHE_LINE_BYTES + 1)) as u64;
    let text = read_bounded(path, max_bytes, &setting)?;
    let mut users = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_number = index + 1;
        let body = line.strip_suffix('\n').unwrap_or(line);
        if body.len() > MAX_MEMCACHE_LINE_BYTES {
            return Err(ConfigError::invalid(
                &setting,
                format!("line {line_number} is longer than {MAX_MEMCACHE_LINE_BYTES} bytes"),
            ));
        }
        let Some((user, rest)) = body.split_once(':') else {
            return Err(ConfigError::invalid(
                &setting,
                format!("line {line_number} is a malformed entry. Should be 'user:password'"),
            ));
        };
        let password = rest.split(['\r', '\n']).next().unwrap_or_default();
        if users.len() == MAX_MEMCACHE_USERS {
            return Err(ConfigError::invalid(
                &setting,
                format!("more than {MAX_MEMCACHE_USERS} entries (memcached's limit)"),
            ));
        }
        users.push((user.as_bytes().to_vec(), Secret::new(password)));
    }
    if users.is_empty() {
        return Err(ConfigError::invalid(&setting, "no 'user:password' entry"));
    }
    Ok(MemcacheUsers { users })
}

/// What an authenticated RESP user may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Reading commands and connection commands only (`+@read`).
    ReadOnly,
    /// Every command (`+@all`).
    ReadWrite,
}

/// One RESP user.
#[derive(Clone, Debug, PartialEq)]
struct AclUser {
    name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    passwords: Vec<Secret>,
    permission: Permission,
}

/// The RESP users: from `requirepass` (the default user only) or an ACL file.
#[derive(Clone, Debug, PartialEq)]
pub struct RespUsers {
    users: Vec<AclUser>,
}

/// The user `AUTH password` names.
const DEFAULT_USER: &[u8] = b"default";

impl RespUsers {
    /// Only the default user, with read-write rights and `password`.
    pub fn with_default_password(password: Secret, setting: &str) -> Result<Self, ConfigError> {
        if password.as_bytes().is_empty() || password.as_bytes().len() > MAX_ACL_TOKEN_BYTES {
            return Err(ConfigError::invalid(
                setting,
                format!("a password is 1 to {MAX_ACL_TOKEN_BYTES} bytes"),
            ));
        }
        Ok(Self {
            users: vec![AclUser {
                name: DEFAULT_USER.to_vec(),
                enabled: true,
                nopass: false,
                passwords: vec![password],
                permission: Permission::ReadWrite,
            }],
        })
    }

    /// What a new connection may run before AUTH: only when the default user
    /// is on and needs no password (Redis's rule for when AUTH is needed).
    pub fn unauthenticated_permission(&self) -> Option<Permission> {
        self.users
            .iter()
            .find(|user| user.name == DEFAULT_USER)
            .filter(|user| user.enabled && user.nopass)
            .map(|user| user.permission)
    }

    /// The rights of `user` (the default user when `None`) if `password` is
    /// one of its passwords; every password of the user is compared, each in
    /// constant time.
    pub fn authenticate(&self, user: Option<&[u8]>, password: &[u8]) -> Option<Permission> {
        let name = user.unwrap_or(DEFAULT_USER);
        let user = self.users.iter().find(|u| u.name == name)?;
        let mut matched = user.nopass;
        for secret in &user.passwords {
            matched |= secret_eq(password, secret.as_bytes());
        }
        (user.enabled && matched).then_some(user.permission)
    }
}

/// Reads an ACL file: `user NAME RULE...` lines, blank lines and `#`
/// comments. Rules: `on`, `off`, `>password`, `nopass`, `~*`, `allkeys`,
/// `+@all`, `allcommands`, `+@read`; anything else is refused. A default
/// user the file does not name is off (Redis would leave it open).
pub fn read_acl_file(path: &Path) -> Result<RespUsers, ConfigError> {
    let setting = format!("--aclfile {}", path.display());
    let text = read_bounded(path, MAX_ACL_FILE_BYTES, &setting)?;
    let mut users: Vec<AclUser> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let user = parse_acl_line(line)
            .map_err(|why| ConfigError::invalid(&setting, format!("line {}: {why}", index + 1)))?;
        if users.iter().any(|known| known.name == user.name) {
            let why = format!("line {}: user defined twice", index + 1);
            return Err(ConfigError::invalid(&setting, why));
        }
        if users.len() == MAX_ACL_USERS {
            let why = format!("more than {MAX_ACL_USERS} users");
            return Err(ConfigError::invalid(&setting, why));
        }
        users.push(user);
    }
    if users.is_empty() {
        return Err(ConfigError::invalid(&setting, "no 'user' line"));
    }
    Ok(RespUsers { users })
}

fn parse_acl_line(line: &str) -> Result<AclUser, String> {
    let mut words = line.split_ascii_whitespace();
    if words.next() != Some("user") {
        return Err("a line must start with 'user'".to_owned());
    }
    let name = words.next().ok_or("'user' needs a name")?;
    if name.len() > MAX_ACL_TOKEN_BYTES {
        return Err(format!(
            "a user name is at most {MAX_ACL_TOKEN_BYTES} bytes"
        ));
    }
    let mut user = AclUser {
        name: name.as_bytes().to_vec(),
        enabled: false,
        nopass: false,
        passwords: Vec::new(),
        permission: Permission::ReadOnly,
    };
    let (mut all_keys, mut read, mut all) = (false, false, false);
    for rule in words {
        match rule {
            "on" => user.enabled = true,
            "off" => user.enabled = false,
            "nopass" => user.nopass = true,
            "~*" | "allkeys" => all_keys = true,
            "+@all" | "allcommands" => all = true,
            "+@read" => read = true,
            _ if rule.len() > 1 && rule.starts_with('>') => {
                if rule.len() - 1 > MAX_ACL_TOKEN_BYTES {
                    return Err(format!("a password is at most {MAX_ACL_TOKEN_BYTES} bytes"));
                }
                user.passwords.push(Secret::new(&rule[1..]));
            }
            _ => {
                // Never echo the rule: a mistyped password must not reach the log.
                return Err(
                    "unsupported ACL rule (tailcache accepts on, off, >password, nopass, ~*, \
                     allkeys, +@all, allcommands, +@read)"
                        .to_owned(),
                );
            }
        }
    }
    if !all_keys {
        return Err("the user needs '~*' (tailcache has no per-key patterns)".to_owned());
    }
    user.permission = match (all, read) {
        (true, _) => Permission::ReadWrite,
        (false, true) => Permission::ReadOnly,
        (false, false) => return Err("the user needs '+@all' or '+@read'".to_owned()),
    };
    if user.enabled && !user.nopass && user.passwords.is_empty() {
        return Err("an enabled user needs '>password' or 'nopass'".to_owned());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("tailcache-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn memcache_auth_file_reads_like_memcached() {
        let path = temp_file("authfile", "foo:bar\r\nbaaaz:quux\nlast:with:colon");
        let users = read_memcache_auth_file(&path).unwrap();
        assert!(users.check(b"foo", b"bar"));
        assert!(users.check(b"baaaz", b"quux"));
        assert!(users.check(b"last", b"with:colon"));
        assert!(!users.check(b"foo", b"bab"));
        assert!(!users.check(b"foo", b"ba"));
        assert!(!users.check(b"bar", b"foo"));
    }

    #[test]
    fn memcache_auth_file_refuses_what_memcached_cannot_read() {
        for (name, text) in [
            ("blank", "foo:bar\n\nbaz:qux\n"),
            ("comment", "# users\nfoo:bar\n"),
            ("nine", &"u:p\n".repeat(9)),
            ("long", &format!("u:{}\n", "p".repeat(300))),
            ("empty", ""),
        ] {
            let path = temp_file(name, text);
            assert!(read_memcache_auth_file(&path).is_err(), "{name} accepted");
        }
    }

    #[test]
    fn acl_file_subset() {
        let text = "# users\n\nuser default on >defpass ~* +@all\n\
                    user ro on >ropass ~* +@read\nuser gone off >x ~* +@all\n";
        let users = read_acl_file(&temp_file("acl", text)).unwrap();
        assert_eq!(users.unauthenticated_permission(), None);
        assert_eq!(
            users.authenticate(None, b"defpass"),
            Some(Permission::ReadWrite)
        );
        assert_eq!(
            users.authenticate(Some(b"ro"), b"ropass"),
            Some(Permission::ReadOnly)
        );
        assert_eq!(users.authenticate(Some(b"ro"), b"defpass"), None);
        assert_eq!(users.authenticate(Some(b"gone"), b"x"), None);
        assert_eq!(users.authenticate(Some(b"nobody"), b"x"), None);
    }

    #[test]
    fn acl_file_refuses_rules_outside_the_subset() {
        for (name, text) in [
            ("pattern", "user a on >p ~cache:* +@all\n"),
            ("category", "user a on >p ~* +@string\n"),
            ("no-keys", "user a on >p +@all\n"),
            ("no-pass", "user a on ~* +@all\n"),
            ("twice", "user a on >p ~* +@all\nuser a on >q ~* +@all\n"),
            ("not-user", "default on >p ~* +@all\n"),
        ] {
            let result = read_acl_file(&temp_file(name, text));
            assert!(result.is_err(), "{name} accepted");
        }
    }

    #[test]
    fn nopass_default_user_needs_no_auth() {
        let users = read_acl_file(&temp_file("nopass", "user default on nopass ~* +@read\n"));
        let users = users.unwrap();
        assert_eq!(
            users.unauthenticated_permission(),
            Some(Permission::ReadOnly)
        );
    }
}
