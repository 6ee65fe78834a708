//! Process set-up that memcached does at start, applied the same way here:
//! running in the background (-d), the core file limit (-r), locking memory
//! (-k), switching to an unprivileged user (-u) and the pid file (-P).
//!
//! Everything here runs on the main thread before any worker exists, except
//! removing the pid file at exit.

use std::ffi::CString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// sysexits.h EX_NOUSER: the -u user does not exist.
pub const EXIT_NO_USER: u8 = 67;

/// True when the process runs as root (real or effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: getuid and geteuid cannot fail and touch no memory.
    unsafe { libc::getuid() == 0 || libc::geteuid() == 0 }
}

/// A user to switch to, looked up before anything is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The name given to -u.
    pub name: String,
    /// Its user id.
    pub uid: libc::uid_t,
    /// Its primary group id.
    pub gid: libc::gid_t,
}

/// Looks `name` up in the user database (getpwnam_r).
pub fn lookup_user(name: &str) -> Result<Identity, String> {
    let c_name = CString::new(name).map_err(|_| format!("'{name}' is not a user name"))?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    loop {
        // SAFETY: an all-zero passwd is a valid value for getpwnam_r to overwrite.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call and `buffer.len()` is its size;
        // the strings written into `entry` point into `buffer`, unused afterwards.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(format!(
                "cannot look up user {name}: {}",
                io::Error::from_raw_os_error(rc)
            ));
        }
        if found.is_null() {
            return Err(format!("can't find the user {name} to switch to"));
        }
        return Ok(Identity {
            name: name.to_owned(),
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        });
    }
}

/// Gives the unix socket to `who` so that its mode (-a) is about that user,
/// as when memcached creates it after switching.
pub fn chown_socket(path: &Path, who: &Identity) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(who.uid), Some(who.gid))
}

/// Drops supplementary groups, then takes `who`'s group and user ids.
/// With -r, the process stays able to write a core file.
pub fn switch_user(who: &Identity, keep_dumpable: bool) -> Result<(), String> {
    // SAFETY: setgroups with a count of 0 reads no memory.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        let error = io::Error::last_os_error();
        // EPERM: already without the right to change groups, as memcached accepts.
        if error.raw_os_error() != Some(libc::EPERM) {
            return Err(format!("failed to drop supplementary groups: {error}"));
        }
    }
    // SAFETY: setgid and setuid take plain ids; glibc applies them to every thread.
    if unsafe { libc::setgid(who.gid) } != 0 || unsafe { libc::setuid(who.uid) } != 0 {
        return Err(format!(
            "failed to assume identity of user {}: {}",
            who.name,
            io::Error::last_os_error()
        ));
    }
    if keep_dumpable {
        // SAFETY: PR_SET_DUMPABLE takes an integer argument and touches no memory.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) };
    }
    Ok(())
}

/// -r: raises the core file size limit to unlimited, or else to the hard
/// limit. Returns a warning when no core file could be written.
pub fn raise_core_limit() -> Option<String> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `unlimited` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &unlimited) } != 0 {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `current` is a valid, writable rlimit.
        if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut current) } == 0 {
            current.rlim_cur = current.rlim_max;
            // SAFETY: `current` is a valid rlimit with its soft value at the hard one.
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, &current) };
        }
    }
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `now` is a valid, writable rlimit.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut now) } == 0;
    (!ok || now.rlim_cur == 0)
        .then(|| "-r/--enable-coredumps: the core file limit stays 0; no core file".to_owned())
}

/// -k: locks the memory mapped now (the item memory is), and memory mapped
/// later when the locked-memory limit allows it. Returns a warning on failure.
pub fn lock_memory() -> Option<String> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `unlimited` is a valid rlimit; failing (not root) is fine.
    let unlimited_ok = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } == 0;
    // Without an unlimited allowance, locking future mappings would make a
    // later allocation fail instead of merely not being locked.
    let flags = if unlimited_ok {
        libc::MCL_CURRENT | libc::MCL_FUTURE
    } else {
        libc::MCL_CURRENT
    };
    // SAFETY: mlockall takes flags only.
    if unsafe { libc::mlockall(flags) } != 0 {
        return Some(format!(
            "-k/--lock-memory: mlockall failed ({}); memory is not locked",
            io::Error::last_os_error()
        ));
    }
    None
}

/// Running in the background: the parent waits until the child is serving
/// (or failed) and exits with its status, so a start script sees errors.
pub struct Daemon {
    ready: std::fs::File,
}

/// Forks. Returns only in the child, which is made a session leader; the
/// parent exits with the status the child reports through [`Daemon`].
/// Call while the process has a single thread.
pub fn daemonize() -> io::Result<Daemon> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: each descriptor was just created by pipe2 and is owned only here.
    let (read_end, write_end) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: the process has one thread here, so the child may run Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            drop(read_end);
            // SAFETY: setsid takes no arguments; the child of a fork is never a group leader.
            unsafe { libc::setsid() };
            Ok(Daemon { ready: write_end })
        }
        _ => {
            drop(write_end);
            let mut status = [1u8];
            let mut read_end = read_end;
            // End of file without a status: the child died before saying anything.
            let code = match read_end.read(&mut status) {
                Ok(1) => status[0],
                _ => 1,
            };
            std::process::exit(i32::from(code));
        }
    }
}

impl Daemon {
    /// The child is serving: detaches from the terminal's files (kept with
    /// -v, as memcached does), leaves the working directory unless core files
    /// should land there (-r), and lets the parent exit 0.
    pub fn serving(mut self, keep_stdio: bool, keep_cwd: bool) {
        let _ = io::stdout().flush();
        if !keep_stdio {
            redirect_stdio_to_null();
        }
        if !keep_cwd {
            let _ = std::env::set_current_dir("/");
        }
        let _ = self.ready.write_all(&[0]);
    }

    /// The child could not start: the parent exits with `code`.
    pub fn failed(mut self, code: u8) {
        let _ = self.ready.write_all(&[code]);
    }
}

fn redirect_stdio_to_null() {
    let path = CString::new("/dev/null").expect("no NUL");
    // SAFETY: `path` is a valid C string.
    let null = unsafe { libc::open(path.as_ptr(), libc::O_RDWR) };
    if null < 0 {
        return;
    }
    for fd in 0..=2 {
        // SAFETY: both descriptors are open; dup2 replaces `fd` atomically.
        unsafe { libc::dup2(null, fd) };
    }
    if null > 2 {
        // SAFETY: `null` was opened above and is not used again.
        unsafe { libc::close(null) };
    }
}

/// A written pid file, removed by [`PidFile::remove`] at exit.
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id to `path` (through a temporary file and a
    /// rename, so a reader never sees half of it).
    pub fn write(path: &Path) -> io::Result<PidFile> {
        let path = std::path::absolute(path)?;
        let mut temporary = path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, format!("{}\n", std::process::id()))?;
        if let Err(e) = std::fs::rename(&temporary, &path) {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
        Ok(PidFile { path })
    }

    /// The file's path, made absolute.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file if it still holds this process's id.
    pub fn remove(self) -> io::Result<()> {
        let ours = std::fs::read_to_string(&self.path)
            .map(|text| text.trim() == std::process::id().to_string())
            .unwrap_or(false);
        if ours {
            std::fs::remove_file(&self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_user_is_found_and_a_bogus_one_is_not() {
        let root = lookup_user("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        let err = lookup_user("no-such-user-tailcache").unwrap_err();
        assert!(err.contains("no-such-user-tailcache"), "{err}");
        assert!(lookup_user("bad\0name").is_err());
    }

    #[test]
    fn pid_file_holds_our_pid_and_is_removed() {
        let dir = std::env::temp_dir().join(format!("tailcache-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pid");
        let file = PidFile::write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        assert!(file.path().is_absolute());
        file.remove().unwrap();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
