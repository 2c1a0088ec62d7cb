//! File trust: who may have written the files c2tap reads. Beside the data path, at start and
//! reload: a config, feed, TLS or exclusion file someone else could rewrite would let them steer
//! the sensor, so such a file is refused with the one change that fixes it.
//!
//! Two levels, chosen by who reads the file:
//! - **Privileged** (root, or any effective capability — the systemd unit's case), like sshd's
//!   `StrictModes`: the file must be a regular file owned by root or the service user and not
//!   writable by group or others; so must every directory on the way to it, from `/`. A
//!   directory others may write is accepted only when it is sticky (such as `/tmp`) and the
//!   entry in it is owned by root or the service user: then no one else can rename or remove
//!   it. Symbolic links are followed, each link judged as an entry of its directory and its
//!   target walked in turn.
//! - **Unprivileged** (an ordinary user's `replay` or `iocs`): the reader risks nothing beyond
//!   their own rights, so only what another user could plant is refused: a file writable by
//!   everyone, in a directory everyone may write without the sticky bit, or in a sticky shared
//!   directory but owned by someone else. Group-writable files of one's own (umask 0002) are
//!   fine.
//!
//! Advice never says to loosen or tighten a shared sticky directory such as `/tmp`: the fix is
//! to move the file out of it.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::PrivilegeError;

mod access;

pub use access::{may_access, Access};

/// Most symbolic links followed while resolving one path (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// The rules for one reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// Strict (`StrictModes`) rules, for a reader with privileges.
    pub privileged: bool,
    /// Owners a privileged reader accepts: root and the service user.
    pub owners: Vec<u32>,
    /// The reader's own uid (owner of files it may accept in a shared directory).
    pub uid: u32,
}

impl Trust {
    /// This process as it is now (with the service user of [`read_for_service_user`], while
    /// it reads on that user's behalf).
    pub fn current() -> Trust {
        let uid = rustix::process::geteuid().as_raw();
        let caps = rustix::thread::capabilities(None)
            .map(|c| !c.effective.is_empty())
            .unwrap_or(false);
        let mut owners = vec![0, uid];
        match SERVICE_UID.load(Ordering::Relaxed) {
            NO_SERVICE => {}
            service => owners.push(service),
        }
        Trust {
            privileged: uid == 0 || caps,
            owners: dedup(owners),
            uid,
        }
    }

    /// Refuses `path` unless these rules accept it. A missing path is left to the caller's own
    /// read, which reports it with its context.
    pub fn check(&self, path: &Path) -> Result<(), PrivilegeError> {
        let Ok(meta) = fs::metadata(path) else {
            return Ok(());
        };
        if !meta.file_type().is_file() {
            return Err(PrivilegeError::NotRegular {
                path: path.to_path_buf(),
                kind: kind(&meta.file_type()),
            });
        }
        match self.privileged {
            true => self.strict(path),
            false => self.lenient(path, &meta),
        }
    }

    fn trusted(&self, uid: u32) -> bool {
        self.owners.contains(&uid)
    }

    /// The unprivileged rules: the file and its own directory.
    fn lenient(&self, path: &Path, meta: &fs::Metadata) -> Result<(), PrivilegeError> {
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o002 != 0 {
            return Err(PrivilegeError::SharedWritable {
                path: path.to_path_buf(),
                mode,
                fix: "o-w",
            });
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let Ok(dir_meta) = fs::metadata(dir) else {
            return Ok(());
        };
        let dir_mode = dir_meta.permissions().mode() & 0o7777;
        if dir_mode & 0o002 == 0 {
            return Ok(());
        }
        let owner = meta.uid();
        if dir_mode & 0o1000 == 0 || (owner != self.uid && owner != 0) {
            return Err(PrivilegeError::SharedDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                mode: dir_mode,
                owner,
            });
        }
        Ok(())
    }

    /// Refuses a `file://` output path the sensor should not write: a symbolic link (an
    /// attacker's link in a shared directory would aim a root sensor's records at any file),
    /// an existing file these rules refuse, or a directory others may write (sticky or not:
    /// the file may not exist yet, and anyone could create it first).
    pub fn check_output(&self, path: &Path) -> Result<(), PrivilegeError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(PrivilegeError::NotRegular {
                    path: path.to_path_buf(),
                    kind: "a symbolic link (name the real path)",
                })
            }
            Ok(_) => return self.check(path),
            Err(_) => {}
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let Ok(meta) = fs::metadata(dir) else {
            return Ok(()); // the caller reports a missing directory
        };
        let mode = meta.permissions().mode() & 0o7777;
        let shared = match self.privileged {
            true => mode & 0o022 != 0,
            false => mode & 0o002 != 0 && mode & 0o1000 == 0,
        };
        if shared {
            return Err(PrivilegeError::SharedDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                mode,
                owner: meta.uid(),
            });
        }
        match self.privileged {
            true => self.walk(path, dir, Final::Directory),
            false => Ok(()),
        }
    }

    /// The privileged rules: every directory from `/`, every link, and the file.
    fn strict(&self, path: &Path) -> Result<(), PrivilegeError> {
        self.walk(path, path, Final::File)
    }

    /// Walks `target` from `/` (`path` is what messages name).
    fn walk(&self, path: &Path, target: &Path, last: Final) -> Result<(), PrivilegeError> {
        let start = match target.is_absolute() {
            true => target.to_path_buf(),
            false => std::env::current_dir()
                .map_err(|e| io_error(path, e))?
                .join(target),
        };
        let mut todo: Vec<PathBuf> = components(&start);
        todo.reverse();
        let mut dir = PathBuf::from("/");
        self.directory(path, &dir)?;
        let mut links = 0usize;
        while let Some(name) = todo.pop() {
            if name.as_os_str() == ".." {
                dir.pop();
                continue;
            }
            let entry = dir.join(&name);
            let meta = fs::symlink_metadata(&entry).map_err(|e| io_error(path, e))?;
            self.entry_of(path, &dir, meta.uid())?;
            if meta.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io_error(
                        path,
                        std::io::Error::other("too many levels of symbolic links"),
                    ));
                }
                let target = fs::read_link(&entry).map_err(|e| io_error(path, e))?;
                if target.is_absolute() {
                    dir = PathBuf::from("/");
                }
                let mut more = components(&target);
                more.reverse();
                todo.extend(more);
                continue;
            }
            if todo.is_empty() && last == Final::File {
                return self.file(path, &entry, &meta);
            }
            self.directory(path, &entry)?;
            dir = entry;
        }
        Ok(())
    }

    /// A directory on the way: a trusted owner; writable by others only if sticky (its
    /// entries are then judged by [`Trust::entry_of`]).
    fn directory(&self, path: &Path, dir: &Path) -> Result<(), PrivilegeError> {
        let meta = fs::metadata(dir).map_err(|e| io_error(path, e))?;
        if !self.trusted(meta.uid()) {
            return Err(PrivilegeError::UntrustedOwner {
                path: path.to_path_buf(),
                what: format!("its directory {}", dir.display()),
                owner: meta.uid(),
                owners: self.owners.clone(),
            });
        }
        Ok(())
    }

    /// An entry (directory, link or the file) inside `dir`: if others may write `dir`, the
    /// entry is safe only in a sticky directory and owned by a trusted user.
    fn entry_of(&self, path: &Path, dir: &Path, owner: u32) -> Result<(), PrivilegeError> {
        let mode = fs::metadata(dir)
            .map_err(|e| io_error(path, e))?
            .permissions()
            .mode()
            & 0o7777;
        if mode & 0o022 == 0 {
            return Ok(());
        }
        if mode & 0o1000 != 0 && self.trusted(owner) {
            return Ok(());
        }
        Err(PrivilegeError::SharedDirectory {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            mode,
            owner,
        })
    }

    fn file(&self, path: &Path, real: &Path, meta: &fs::Metadata) -> Result<(), PrivilegeError> {
        if !self.trusted(meta.uid()) {
            return Err(PrivilegeError::UntrustedOwner {
                path: path.to_path_buf(),
                what: match real == path {
                    true => "it".into(),
                    false => format!("its target {}", real.display()),
                },
                owner: meta.uid(),
                owners: self.owners.clone(),
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(PrivilegeError::SharedWritable {
                path: real.to_path_buf(),
                mode,
                fix: "go-w",
            });
        }
        Ok(())
    }
}

/// What a walk ends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Final {
    File,
    Directory,
}

const NO_SERVICE: u32 = u32::MAX;
static SERVICE_UID: AtomicU32 = AtomicU32::new(NO_SERVICE);

/// While the returned guard lives, this process reads feeds and TLS files as `c2tap run` will
/// after switching to `uid`: files that user owns are trusted too. The start-up check run as
/// root (by `check-config`) holds it, so it judges those files as the sensor will.
pub fn read_for_service_user(uid: u32) -> ServiceUser {
    SERVICE_UID.store(uid, Ordering::Relaxed);
    ServiceUser(())
}

/// See [`read_for_service_user`]; dropping it ends the arrangement.
#[must_use]
pub struct ServiceUser(());

impl Drop for ServiceUser {
    fn drop(&mut self) {
        SERVICE_UID.store(NO_SERVICE, Ordering::Relaxed);
    }
}

fn dedup(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

/// The normal components of `path` (and `..`), without the root and `.`.
fn components(path: &Path) -> Vec<PathBuf> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect()
}

fn io_error(path: &Path, source: std::io::Error) -> PrivilegeError {
    PrivilegeError::Unreadable {
        path: path.to_path_buf(),
        source,
    }
}

fn kind(t: &fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// `0 (root), 998 (c2tap)` for messages.
pub(super) fn owner_names(uids: &[u32]) -> String {
    let passwd = fs::read_to_string(super::PASSWD).unwrap_or_default();
    let names: Vec<String> = uids.iter().map(|&u| user_label(&passwd, u)).collect();
    names.join(" or ")
}

pub(super) fn user_label(passwd: &str, uid: u32) -> String {
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    });
    match name {
        Some(n) => format!("{n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
#[path = "trust_tests.rs"]
mod tests;
