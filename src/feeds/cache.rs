//! The last good copy of each source, on disk under the state directory (0700, the service
//! user's): read at start and whenever a fetch fails, so a sensor restarted while a publisher
//! is down still matches yesterday's C2s. One file per source, written whole (temporary file,
//! fsync, rename) and checksummed: a torn or edited copy is refused, never read as an empty
//! set.
//!
//! Layout of `<state_dir>/<name>.cache`: a header line
//! `c2tap-feed-cache 1 <crc32 hex> <meta bytes> <body bytes>`, the metadata as JSON, the body
//! exactly as the publisher's feed format (the loader reads it like a feed file).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const MAGIC: &str = "c2tap-feed-cache 1";

/// What is remembered about the last good fetch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Epoch seconds of the last successful fetch (a 304 or "nothing new" counts).
    pub success_at: u64,
    /// Epoch seconds of the last full fetch (incremental sources).
    pub full_at: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// TAXII 2.1: `X-TAXII-Date-Added-Last` of the last page, the next poll's `added_after`.
    pub added_after: Option<String>,
    /// IOCs the body loaded to (the shrink check compares against it).
    pub iocs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cached {
    pub meta: Meta,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: cannot read the cached copy: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the cached copy is corrupt ({why}); refused", path = path.display())]
    Corrupt { path: PathBuf, why: String },
}

pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.cache"))
}

/// Creates the state directory (0700). Run as the service user, after the privilege drop, so
/// it is theirs; an existing directory is tightened to 0700.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// The cached copy; `Ok(None)` when there is none yet.
pub fn read(dir: &Path, name: &str, max_bytes: u64) -> Result<Option<Cached>, CacheError> {
    let path = path(dir, name);
    let corrupt = |why: &str| CacheError::Corrupt {
        path: path.clone(),
        why: why.to_string(),
    };
    let len = match fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CacheError::Io { path, source }),
    };
    // Header and metadata are small; the body is bounded by the source's own limit.
    if len > max_bytes.saturating_add(64 * 1024) {
        return Err(corrupt("larger than the source's max_bytes"));
    }
    let bytes = fs::read(&path).map_err(|source| CacheError::Io {
        path: path.clone(),
        source,
    })?;
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt("no header"))?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| corrupt("bad header"))?;
    let rest = &bytes[newline + 1..];
    let fields = header
        .strip_prefix(MAGIC)
        .map(|f| f.split_whitespace().collect::<Vec<_>>())
        .ok_or_else(|| corrupt("not a c2tap cache file"))?;
    let [crc, meta_len, body_len] = fields[..] else {
        return Err(corrupt("bad header"));
    };
    let crc = u32::from_str_radix(crc, 16).map_err(|_| corrupt("bad checksum field"))?;
    let meta_len: usize = meta_len.parse().map_err(|_| corrupt("bad length"))?;
    let body_len: usize = body_len.parse().map_err(|_| corrupt("bad length"))?;
    if meta_len.checked_add(body_len) != Some(rest.len()) {
        return Err(corrupt("length mismatch (truncated?)"));
    }
    if crc32fast::hash(rest) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let (meta, body) = rest.split_at(meta_len);
    let meta: Meta = serde_json::from_slice(meta).map_err(|e| corrupt(&e.to_string()))?;
    Ok(Some(Cached {
        meta,
        body: body.to_vec(),
    }))
}

/// Replaces the cached copy whole: a crash leaves the old one or the new one, never half.
pub fn write(dir: &Path, name: &str, cached: &Cached) -> std::io::Result<()> {
    let meta = serde_json::to_vec(&cached.meta).map_err(std::io::Error::other)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&meta);
    hasher.update(&cached.body);
    let header = format!(
        "{MAGIC} {:08x} {} {}\n",
        hasher.finalize(),
        meta.len(),
        cached.body.len()
    );
    let tmp = dir.join(format!(".{name}.cache.tmp"));
    let file = write_private(&tmp, &[header.as_bytes(), &meta, &cached.body])?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path(dir, name))?;
    // The rename itself is durable only once the directory is synced.
    fs::File::open(dir).and_then(|d| d.sync_all())
}

/// The last attempt of a source, as the sensor saw it: `c2tap feeds status` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: u64,
    pub http_status: Option<u16>,
    /// `None` after a success; else the reason label and what happened.
    pub failure: Option<(String, String)>,
}

fn attempt_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.attempt"))
}

/// Records the last attempt (small, replaced whole; a lost write only loses this note).
pub fn write_attempt(dir: &Path, name: &str, attempt: &Attempt) -> std::io::Result<()> {
    let text = serde_json::to_vec(attempt).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{name}.attempt.tmp"));
    write_private(&tmp, &[&text])?;
    fs::rename(&tmp, attempt_path(dir, name))
}

/// The last attempt, when the sensor recorded one (and it reads).
pub fn read_attempt(dir: &Path, name: &str) -> Option<Attempt> {
    let text = fs::read(attempt_path(dir, name)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Writes `body` where the feed loader reads it: `<dir>/.load/<name>`, so the IOCs' `source`
/// is the source's name. Returns the path; the caller removes it after loading.
pub fn stage(dir: &Path, name: &str, body: &[u8]) -> std::io::Result<PathBuf> {
    let staging = dir.join(".load");
    fs::create_dir_all(&staging)?;
    fs::set_permissions(&staging, fs::Permissions::from_mode(0o700))?;
    let path = staging.join(name);
    write_private(&path, &[body])?;
    Ok(path)
}

/// Creates or truncates `path` (0600: the service user's alone) and writes `parts` in order.
fn write_private(path: &Path, parts: &[&[u8]]) -> std::io::Result<fs::File> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    for part in parts {
        file.write_all(part)?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_copy_reads_back_and_any_flipped_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), "tf", 1 << 20).unwrap().is_none());
        let cached = Cached {
            meta: Meta {
                success_at: 7,
                etag: Some("\"x\"".into()),
                iocs: 2,
                ..Meta::default()
            },
            body: b"1.2.3.4:80\n5.6.7.8:443\n".to_vec(),
        };
        write(dir.path(), "tf", &cached).unwrap();
        assert_eq!(read(dir.path(), "tf", 1 << 20).unwrap(), Some(cached));
        let p = path(dir.path(), "tf");
        let good = fs::read(&p).unwrap();
        for at in [good.len() - 3, good.len() - 30, 25] {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            fs::write(&p, &bad).unwrap();
            assert!(
                matches!(
                    read(dir.path(), "tf", 1 << 20),
                    Err(CacheError::Corrupt { .. })
                ),
                "flip at {at}"
            );
        }
        fs::write(&p, &good[..good.len() - 1]).unwrap();
        let err = read(dir.path(), "tf", 1 << 20).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        fs::write(&p, b"").unwrap();
        assert!(read(dir.path(), "tf", 1 << 20).is_err());
    }
}
