//! Least privilege for `c2tap run`, beside the data path: before the sensor starts a single
//! thread it gives up everything but what capture needs, so a bug in a parser that reads attacker
//! bytes runs with as little power as possible.
//!
//! Capture needs exactly CAP_NET_RAW (packet sockets) and CAP_NET_ADMIN (promiscuous mode,
//! fanout). Started as root with a configured user, [`lock_down`] switches to that user and keeps
//! only those two; started as root without one, it stays uid 0 but keeps only those two and says
//! so once. Not root: nothing to drop (the systemd unit hands the two capabilities in as ambient
//! ones). The switch happens while the process is still single-threaded because Linux keeps
//! credentials and capability sets per thread: a thread that already exists would keep root.
//! Every thread started afterwards (capture, outputs, metrics) inherits the reduced sets, and a
//! capture thread can still reopen an interface that went away.
//!
//! [`check_file_trust`] is the other half: a config or feed file that someone other than its
//! owner may rewrite would let them steer the sensor, so it is refused with a clear message.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::process::{Gid, Uid};
use rustix::thread::{self as cred, CapabilitySet, CapabilitySets};

/// The capabilities `run` keeps: raw packet sockets, and promiscuous mode plus fanout.
pub const KEPT: CapabilitySet = CapabilitySet::NET_RAW.union(CapabilitySet::NET_ADMIN);

/// Where user names are looked up. Local only: the sensor's user is a system user the package
/// creates in this file, and no name service is consulted while still root.
const PASSWD: &str = "/etc/passwd";

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error(
        "user `{0}` is not in {PASSWD}; create it (the Debian package adds `c2tap`) or fix `user`"
    )]
    UnknownUser(String),
    #[error("user `{0}` is root; name an unprivileged user to run as")]
    RootUser(String),
    #[error("cannot read {PASSWD}: {0}")]
    Passwd(io::Error),
    #[error("privileges must be dropped before any thread starts, but {0} threads are running")]
    Threaded(usize),
    #[error("dropping privileges failed at {step}: {source}")]
    Step {
        step: &'static str,
        source: io::Error,
    },
    #[error(
        "{path}: writable by other users (mode {mode:04o}); c2tap refuses a config or feed file \
         someone else could rewrite; run `chmod go-w {path}`",
        path = path.display()
    )]
    SharedWritable { path: PathBuf, mode: u32 },
    #[error(
        "{path}: its directory {dir} lets other users replace it (mode {mode:04o}, no sticky bit); \
         run `chmod go-w {dir}`",
        path = path.display(),
        dir = dir.display()
    )]
    SharedDirectory {
        path: PathBuf,
        dir: PathBuf,
        mode: u32,
    },
}

/// A local account to switch to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// What [`lock_down`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not started as root: the process has no more than it was given.
    NotRoot,
    /// Now running as `account` with [`KEPT`] only.
    Switched(Account),
    /// Still uid 0, but with [`KEPT`] only (no user configured).
    RootWithoutUser,
}

/// Finds `name` in `/etc/passwd`.
pub fn lookup_user(name: &str) -> Result<Account, PrivilegeError> {
    let text = fs::read_to_string(PASSWD).map_err(PrivilegeError::Passwd)?;
    find_account(&text, name).ok_or_else(|| PrivilegeError::UnknownUser(name.to_string()))
}

/// `name:password:uid:gid:...` lines; malformed lines are skipped.
fn find_account(passwd: &str, name: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let uid = fields.nth(1)?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(Account {
            name: name.to_string(),
            uid,
            gid,
        })
    })
}

/// Drops to `user` (or, without one, to uid 0 with [`KEPT`] only) when running as root. Must be
/// called before the process starts any thread; it refuses otherwise.
pub fn lock_down(user: Option<&str>) -> Result<Outcome, PrivilegeError> {
    if !rustix::process::geteuid().is_root() {
        return Ok(Outcome::NotRoot);
    }
    let threads = thread_count();
    if threads > 1 {
        return Err(PrivilegeError::Threaded(threads));
    }
    let account = user.map(lookup_user).transpose()?;
    if let Some(account) = &account {
        if account.uid == 0 {
            return Err(PrivilegeError::RootUser(account.name.clone()));
        }
    }
    // While all capabilities are still effective: shrink the bounding set (needs CAP_SETPCAP)
    // so nothing dropped below can come back, not even through an exec.
    shrink_bounding_set()?;
    step(
        "clear ambient capabilities",
        cred::clear_ambient_capability_set(),
    )?;
    step("set no_new_privs", cred::set_no_new_privs(true))?;
    if let Some(account) = &account {
        switch_user(account)?;
    }
    let kept = CapabilitySets {
        effective: KEPT,
        permitted: KEPT,
        inheritable: CapabilitySet::empty(),
    };
    step("capset", cred::set_capabilities(None, kept))?;
    Ok(match account {
        Some(account) => Outcome::Switched(account),
        None => Outcome::RootWithoutUser,
    })
}

/// Opens a config, feed or key file for reading, refusing anything but a regular file: a FIFO
/// would block the reader forever (until some process writes), a device would never end. The
/// open itself cannot block (`O_NONBLOCK`, which changes nothing for a regular file's reads),
/// and the type is checked on the open file, so swapping the path in between changes nothing.
pub fn open_regular(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, socket, device or directory); c2tap reads configs, \
             feeds and keys only from regular files",
        ));
    }
    Ok(file)
}

/// setgroups, setresgid, setresuid, keeping the permitted capabilities across the uid change.
/// The process is single-threaded here, so the per-thread system calls change the process.
fn switch_user(account: &Account) -> Result<(), PrivilegeError> {
    let gid = Gid::from_raw(account.gid);
    let uid = Uid::from_raw(account.uid);
    step("keep capabilities", cred::set_keep_capabilities(true))?;
    step("setgroups", cred::set_thread_groups(&[gid]))?;
    step("setresgid", cred::set_thread_res_gid(gid, gid, gid))?;
    step("setresuid", cred::set_thread_res_uid(uid, uid, uid))?;
    step("keep capabilities", cred::set_keep_capabilities(false))?;
    // Dropping root must be final: getting it back has to fail.
    if cred::set_thread_res_uid(Uid::ROOT, Uid::ROOT, Uid::ROOT).is_ok() {
        return Err(PrivilegeError::Step {
            step: "verify",
            source: io::Error::other("uid 0 could be regained"),
        });
    }
    Ok(())
}

/// Removes every capability but [`KEPT`] from the bounding set; stops at the first number the
/// kernel does not know.
fn shrink_bounding_set() -> Result<(), PrivilegeError> {
    for bit in 0..64u32 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if KEPT.contains(cap) {
            continue;
        }
        match cred::capability_is_in_bounding_set(cap) {
            Ok(true) => step(
                "drop from bounding set",
                cred::remove_capability_from_bounding_set(cap),
            )?,
            Ok(false) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn step(name: &'static str, result: rustix::io::Result<()>) -> Result<(), PrivilegeError> {
    result.map_err(|e| PrivilegeError::Step {
        step: name,
        source: e.into(),
    })
}

/// Threads of this process (0 when /proc is not mounted: the check is then skipped).
fn thread_count() -> usize {
    fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Refuses a config or feed file that a user other than its owner may write, or that sits in a
/// directory where others may replace it (a sticky directory such as /tmp is fine: only the
/// owner can rename or remove a file there).
pub fn check_file_trust(path: &Path) -> Result<(), PrivilegeError> {
    let Ok(meta) = fs::metadata(path) else {
        // Missing or unreadable: the caller's own read reports it with its context.
        return Ok(());
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(PrivilegeError::SharedWritable {
            path: path.to_path_buf(),
            mode,
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(dir_meta) = fs::metadata(dir) {
        let dir_mode = dir_meta.permissions().mode() & 0o7777;
        let sticky = dir_mode & 0o1000 != 0;
        if dir_mode & 0o002 != 0 && !sticky {
            return Err(PrivilegeError::SharedDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                mode: dir_mode,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_accounts_and_skips_malformed_lines() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nbroken\nc2tap:x:998:997::/var/lib/c2tap:/usr/sbin/nologin\nodd:x:uid:1::/:/bin/sh\n";
        assert_eq!(
            find_account(passwd, "c2tap"),
            Some(Account {
                name: "c2tap".into(),
                uid: 998,
                gid: 997
            })
        );
        assert_eq!(find_account(passwd, "root").map(|a| a.uid), Some(0));
        assert_eq!(find_account(passwd, "odd"), None);
        assert_eq!(find_account(passwd, "c2ta"), None);
        assert_eq!(find_account(passwd, "nobody"), None);
    }

    fn file_with_mode(dir: &Path, mode: u32) -> PathBuf {
        let path = dir.join(format!("f{mode:o}"));
        fs::write(&path, "x").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn refuses_files_others_may_write() {
        let dir = tempfile::tempdir().unwrap();
        for ok in [0o600, 0o640, 0o644, 0o400] {
            let path = file_with_mode(dir.path(), ok);
            assert!(check_file_trust(&path).is_ok(), "{ok:o}");
        }
        for bad in [0o666, 0o646, 0o664, 0o620] {
            let path = file_with_mode(dir.path(), bad);
            let err = check_file_trust(&path).unwrap_err().to_string();
            assert!(err.contains("writable by other users"), "{err}");
            assert!(err.contains(&format!("mode {bad:04o}")), "{err}");
        }
    }

    #[test]
    fn refuses_a_file_in_a_world_writable_directory_unless_sticky() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with_mode(dir.path(), 0o644);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_file_trust(&path).unwrap_err().to_string();
        assert!(err.contains("lets other users replace it"), "{err}");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(check_file_trust(&path).is_ok());
    }

    #[test]
    fn missing_files_are_left_to_the_reader() {
        assert!(check_file_trust(Path::new("/nonexistent/c2tap.toml")).is_ok());
    }
}
