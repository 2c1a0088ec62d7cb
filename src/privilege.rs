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
//! owner may rewrite would let them steer the sensor, so it is refused with a clear message
//! (the rules are in [`trust`]).

mod trust;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustix::process::{Gid, Uid};
use rustix::thread::{self as cred, CapabilitySet, CapabilitySets};

pub use trust::{may_access, read_for_service_user, Access, ServiceUser, Trust};

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
    /// Mode bits let others rewrite the file; `fix` is the chmod argument that fixes it.
    #[error(
        "{path}: writable by other users (mode {mode:04o}); c2tap refuses a file someone else \
         could rewrite; run `chmod {fix} {path}`",
        path = path.display()
    )]
    SharedWritable {
        path: PathBuf,
        mode: u32,
        fix: &'static str,
    },
    #[error(
        "{path}: its directory {dir} lets other users replace it (mode {mode:04o}, entry owned \
         by {who}); move the file out of it, to a directory others cannot write",
        path = path.display(),
        dir = dir.display(),
        who = trust::owner_names(&[*owner])
    )]
    SharedDirectory {
        path: PathBuf,
        dir: PathBuf,
        mode: u32,
        owner: u32,
    },
    #[error(
        "{path}: {what} is owned by {who}; a privileged c2tap reads only files and directories \
         owned by {trusted}: change the owner (chown) or move the file",
        path = path.display(),
        who = trust::owner_names(&[*owner]),
        trusted = trust::owner_names(owners)
    )]
    UntrustedOwner {
        path: PathBuf,
        what: String,
        owner: u32,
        owners: Vec<u32>,
    },
    #[error("{path}: is {kind}; c2tap reads only regular files here", path = path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path}: cannot check who may change it: {source}", path = path.display())]
    Unreadable { path: PathBuf, source: io::Error },
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

/// Refuses a config, feed, TLS or exclusion file this process should not trust (see
/// [`trust`]: strict rules when privileged, an ordinary user's otherwise).
pub fn check_file_trust(path: &Path) -> Result<(), PrivilegeError> {
    Trust::current().check(path)
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
}
