//! Whether the service user may use a path (read it, or append to it): `c2tap run` drops to
//! that account, so root judges the path on its behalf from the mode bits, beforehand.

use super::*;

/// What the service user needs from a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Open for appending, creating it if missing.
    Append,
}

/// Whether `uid`/`gid` — an account with no supplementary group and no capability over file
/// permissions, which is what `c2tap run` becomes after dropping privileges — may use `path`
/// as `access` says. Judged from the mode bits of the path and every directory on the way,
/// so root can check it on the service user's behalf. `Err` says what stops it.
pub fn may_access(path: &Path, uid: u32, gid: u32, access: Access) -> Result<(), String> {
    let allowed = |meta: &fs::Metadata, bits: u32| {
        let mode = meta.permissions().mode();
        let class = match (meta.uid() == uid, meta.gid() == gid) {
            (true, _) => mode >> 6,
            (false, true) => mode >> 3,
            (false, false) => mode,
        };
        class & bits == bits
    };
    let (target, bits) = match (fs::canonicalize(path), access) {
        (Ok(real), Access::Read) => (real, 0o4),
        (Ok(real), Access::Append) => (real, 0o2),
        (Err(e), Access::Read) => return Err(e.to_string()),
        (Err(_), Access::Append) => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let dir = fs::canonicalize(parent)
                .map_err(|e| format!("directory {}: {e}", parent.display()))?;
            let name = path.file_name().map(PathBuf::from).unwrap_or_default();
            (dir.join(name), 0o2)
        }
    };
    let mut dir = PathBuf::from("/");
    let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
    for name in components(&parent) {
        let meta = fs::metadata(&dir).map_err(|e| e.to_string())?;
        if !allowed(&meta, 0o1) {
            return Err(format!("cannot enter {}", dir.display()));
        }
        dir.push(name);
    }
    let meta = fs::metadata(&dir).map_err(|e| e.to_string())?;
    if !allowed(&meta, 0o1) {
        return Err(format!("cannot enter {}", dir.display()));
    }
    match fs::metadata(&target) {
        Ok(meta) if allowed(&meta, bits) => Ok(()),
        Ok(_) => Err(format!(
            "no {} permission on {}",
            if bits == 0o4 { "read" } else { "write" },
            target.display()
        )),
        Err(_) if allowed(&meta, 0o3) => Ok(()),
        Err(_) => Err(format!("cannot create files in {}", dir.display())),
    }
}
