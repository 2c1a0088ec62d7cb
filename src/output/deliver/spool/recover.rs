//! Reopening a spool left by an earlier run: the ledger's read positions, and a scan of each
//! segment that counts intact frames, skips damaged ones and cuts a torn tail off.

use std::fs;
use std::io::Write;

use super::frame::{scan_frame, Scan};
use super::{private_file, Segment, Spool, SpoolError, LEDGER};

impl Spool {
    pub(super) fn read_ledger(&self) -> Vec<(u64, u64)> {
        let Ok(text) = fs::read_to_string(self.dir.join(LEDGER)) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                let (id, off) = line.split_once(' ')?;
                Some((id.parse().ok()?, off.parse().ok()?))
            })
            .collect()
    }

    /// Scans a segment left by an earlier run from its saved read position: counts intact
    /// frames, counts damaged ones as corrupt, and cuts a torn tail off.
    pub(super) fn recover(&mut self, id: u64, saved: u64) -> Result<Segment, SpoolError> {
        let path = self.seg_path(id);
        let bytes = fs::read(&path).map_err(|e| self.io_err(e))?;
        let start = usize::try_from(saved)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let corrupt_before = self.corrupt;
        let mut pos = start;
        let mut records = 0;
        let mut valid_end = start;
        while pos < bytes.len() {
            match scan_frame(&bytes, pos) {
                Scan::Frame { end, .. } => {
                    records += 1;
                    pos = end;
                    valid_end = end;
                }
                Scan::Resync(next) => {
                    self.corrupt += 1;
                    pos = next;
                }
                Scan::Torn => {
                    self.corrupt += 1;
                    break;
                }
            }
        }
        if valid_end < bytes.len() {
            tracing::warn!(path = %path.display(), skipped_bytes = bytes.len() - valid_end,
                "spool segment ends in a damaged record (torn write); cut off");
        }
        if self.corrupt > corrupt_before {
            // Keep only the intact frames, so every frame in the file is counted once: written
            // aside, synced and renamed over the damaged file.
            let mut kept = Vec::with_capacity(valid_end - start);
            let mut pos = start;
            while pos < valid_end {
                match scan_frame(&bytes, pos) {
                    Scan::Frame { end, .. } => {
                        kept.extend_from_slice(bytes.get(pos..end).unwrap_or_default());
                        pos = end;
                    }
                    Scan::Resync(next) => pos = next,
                    Scan::Torn => break,
                }
            }
            let tmp = self.dir.join("rewrite.tmp");
            private_file()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&tmp)
                .and_then(|mut f| f.write_all(&kept).and_then(|()| f.sync_all()))
                .and_then(|()| fs::rename(&tmp, &path))
                .map_err(|e| self.io_err(e))?;
            tracing::warn!(path = %path.display(), damaged = self.corrupt - corrupt_before,
                "spool segment had damaged records; they are skipped and counted as dropped (corrupt)");
            return Ok(Segment {
                id,
                len: kept.len() as u64,
                read_offset: 0,
                records,
            });
        }
        Ok(Segment {
            id,
            len: valid_end as u64,
            read_offset: start as u64,
            records,
        })
    }
}
