//! The spool directory is the sensor's alone: files 0600, the directory 0700 and owned by the
//! sensor's user, so no other local user can read the alerts or plant records in it.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::SpoolError;

/// Spooled records are alerts: readable by the sensor's user only (umask can narrow, not widen).
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Options for a file the spool creates, with its private mode.
pub(super) fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Creates `dir` (mode 0700) or checks that it is a directory of this user's with no access
/// for group or others.
pub fn check_private_dir(dir: &Path) -> Result<(), SpoolError> {
    let uid = rustix::process::geteuid().as_raw();
    let untrusted = |why: String| SpoolError::Untrusted {
        path: dir.to_path_buf(),
        why,
        uid,
    };
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(|source| SpoolError::Io {
                        path: parent.to_path_buf(),
                        source,
                    })?;
            }
            fs::DirBuilder::new()
                .mode(DIR_MODE)
                .create(dir)
                .map_err(|source| SpoolError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            fs::symlink_metadata(dir).map_err(|source| SpoolError::Io {
                path: dir.to_path_buf(),
                source,
            })?
        }
        Err(source) => {
            return Err(SpoolError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    if !meta.is_dir() {
        return Err(untrusted("not a directory (a symlink or a file)".into()));
    }
    if meta.uid() != uid {
        return Err(untrusted(format!("owned by uid {}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(untrusted(format!("mode {:04o}", meta.mode() & 0o7777)));
    }
    Ok(())
}
