//! Bounded reading of feed files and ZIP archives: sizes are checked before allocating, so a
//! sparse, huge or growing file costs nothing beyond [`MAX_FEED_BYTES`].

use std::io::{Cursor, Read};

use super::load::{LoadError, MAX_FEED_BYTES};

/// Reads at most [`MAX_FEED_BYTES`]; the size check before the read avoids allocating for an
/// oversized file, the bounded read covers a file growing meanwhile.
pub(super) fn read_bounded(
    reader: std::io::Result<impl Read>,
    label: &str,
) -> Result<Vec<u8>, LoadError> {
    let io = |source| LoadError::Io {
        file: label.to_string(),
        source,
    };
    let reader = reader.map_err(io)?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_FEED_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    match bytes.len() as u64 > MAX_FEED_BYTES {
        true => Err(LoadError::TooLarge {
            file: label.to_string(),
        }),
        false => Ok(bytes),
    }
}

/// The archive's feed entry: the first file named like a feed (`.csv`, `.json`, `.txt`,
/// `.md`), else its first file. ThreatFox's full export holds just `full.csv`.
pub(super) fn unzip(bytes: Vec<u8>, label: &str) -> Result<(String, Vec<u8>), LoadError> {
    let zip_err = |e: zip::result::ZipError| LoadError::Zip {
        file: label.to_string(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
    let names: Vec<(usize, String)> = (0..archive.len())
        .filter_map(|i| archive.name_for_index(i).map(|n| (i, n.to_string())))
        .filter(|(_, n)| !n.ends_with('/') && !n.starts_with("__MACOSX"))
        .collect();
    let is_feed = |n: &str| {
        [".csv", ".json", ".txt", ".md"]
            .iter()
            .any(|e| n.to_ascii_lowercase().ends_with(e))
    };
    let (index, name) = names
        .iter()
        .find(|(_, n)| is_feed(n))
        .or(names.first())
        .cloned()
        .ok_or_else(|| LoadError::EmptyZip {
            file: label.to_string(),
        })?;
    let entry = archive.by_index(index).map_err(zip_err)?;
    if entry.size() > MAX_FEED_BYTES {
        return Err(LoadError::TooLarge {
            file: format!("{label}!{name}"),
        });
    }
    let content = read_bounded(Ok(entry), &format!("{label}!{name}"))?;
    Ok((name, content))
}
