//! Process set-up that memcached does at start, applied the same way here:
//! running in the background (-d), the core file limit (-r), locking memory
//! (-k), switching to an unprivileged user (-u) and the pid file (-P).
//!
//! Everything here runs on the main thread before any worker exists, except
//! removing the pid file at exit.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::mman::{mlockall, MlockAllFlags};
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use nix::unistd::{Gid, Uid, User};

/// sysexits.h EX_NOUSER: the -u user does not exist.
pub const EXIT_NO_USER: u8 = 67;

/// True when the process runs as root (real or effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::getuid().is_root() || nix::unistd::geteuid().is_root()
}

/// A user to switch to, looked up before anything is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The name given to -u.
    pub name: String,
    /// Its user id.
    pub uid: nix::libc::uid_t,
    /// Its primary group id.
    pub gid: nix::libc::gid_t,
}

/// Looks `name` up in the user database (getpwnam_r).
pub fn lookup_user(name: &str) -> Result<Identity, String> {
    if name.contains('\0') {
        return Err(format!("'{name}' is not a user name"));
    }
    match User::from_name(name) {
        Ok(Some(user)) => Ok(Identity {
            name: name.to_owned(),
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        }),
        Ok(None) => Err(format!("can't find the user {name} to switch to")),
        Err(errno) => Err(format!("cannot look up user {name}: {errno}")),
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
    match nix::unistd::setgroups(&[]) {
        // EPERM: already without the right to change groups, as memcached accepts.
        Ok(()) | Err(Errno::EPERM) => {}
        Err(errno) => return Err(format!("failed to drop supplementary groups: {errno}")),
    }
    // glibc applies both to every thread.
    nix::unistd::setgid(Gid::from_raw(who.gid))
        .and_then(|()| nix::unistd::setuid(Uid::from_raw(who.uid)))
        .map_err(|errno| format!("failed to assume identity of user {}: {errno}", who.name))?;
    if keep_dumpable {
        let _ = nix::sys::prctl::set_dumpable(true);
    }
    Ok(())
}

/// -r: raises the core file size limit to unlimited, or else to the hard
/// limit. Returns a warning when no core file could be written.
pub fn raise_core_limit() -> Option<String> {
    if setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_CORE) {
            let _ = setrlimit(Resource::RLIMIT_CORE, hard, hard);
        }
    }
    let soft = getrlimit(Resource::RLIMIT_CORE).map_or(0, |(soft, _)| soft);
    (soft == 0)
        .then(|| "-r/--enable-coredumps: the core file limit stays 0; no core file".to_owned())
}

/// -k: locks the memory mapped now (the item memory is), and memory mapped
/// later when the locked-memory limit allows it. Returns a warning on failure.
pub fn lock_memory() -> Option<String> {
    // Failing (not root) is fine.
    let unlimited_ok = setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_ok();
    // Without an unlimited allowance, locking future mappings would make a
    // later allocation fail instead of merely not being locked.
    let flags = if unlimited_ok {
        MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE
    } else {
        MlockAllFlags::MCL_CURRENT
    };
    mlockall(flags)
        .err()
        .map(|errno| format!("-k/--lock-memory: mlockall failed ({errno}); memory is not locked"))
}

/// Running in the background: the parent waits until the child is serving
/// (or failed) and exits with its status, so a start script sees errors.
pub struct Daemon {
    ready: std::fs::File,
}

/// Forks. Returns only in the child, which is made a session leader; the
/// parent exits with the status the child reports through [`Daemon`].
/// Call while the process has a single thread.
#[allow(unsafe_code)] // fork: nix marks it unsafe, with no safe alternative.
pub fn daemonize() -> io::Result<Daemon> {
    let (read_end, write_end): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the process has one thread here (daemonize runs before any
    // other starts), so the child may run any code, allocation included.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(read_end);
            // The child of a fork is never a group leader, so this cannot fail.
            let _ = nix::unistd::setsid();
            Ok(Daemon {
                ready: std::fs::File::from(write_end),
            })
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(write_end);
            let mut status = [1u8];
            let mut read_end = std::fs::File::from(read_end);
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
    let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    // Each replaces its descriptor atomically; `null` closes when dropped.
    let _ = nix::unistd::dup2_stdin(&null);
    let _ = nix::unistd::dup2_stdout(&null);
    let _ = nix::unistd::dup2_stderr(&null);
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
