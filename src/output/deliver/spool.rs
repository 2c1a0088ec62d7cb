//! On-disk spool: where an output's formatted messages wait while the receiver is down or slow,
//! so the capture never blocks and nothing is lost across a reconnect or a restart. A FIFO of
//! segment files in the output's state directory, bounded in bytes.
//!
//! Every message is a frame whose checksum covers its header and payload, so a torn write or
//! a flipped bit costs that message only: the reader resynchronises on the next valid frame
//! and counts the damaged one (reason `corrupt`). How far each segment was read is kept in a
//! ledger replaced atomically (write to a temporary file, fsync, rename, fsync the
//! directory). The directory is the sensor's alone: created 0700, and refused when it exists
//! with another owner or a looser mode, so no other local user can plant records in it.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

mod dir;
mod frame;
mod read;
mod recover;

pub use dir::check_private_dir;
use dir::private_file;
pub use frame::Mark;
use frame::{encode_frame, FRAME_HEADER};

/// Largest message the spool takes; bounds the allocation when reading a (possibly damaged)
/// frame back. Far above any syslog size limit.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Segment ids start mid-range so that messages put back in front (after a connection loss
/// or at shutdown) can take ids below the oldest segment. Ids found on disk outside
/// `ID_RANGE` of it are not ours (a planted name) and are left alone.
const FIRST_ID: u64 = 1 << 62;
const ID_RANGE: u64 = 1 << 60;
const LEDGER: &str = "positions";

/// Extra time every [`Spool::sync`] takes: the delivery benchmark's slow disk. Zero in use.
static SLOW_SYNC_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Makes every spool sync this much slower (the delivery benchmark simulates a slow disk).
#[doc(hidden)]
pub fn simulate_slow_sync(delay: std::time::Duration) {
    let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
    SLOW_SYNC_MICROS.store(micros, std::sync::atomic::Ordering::Relaxed);
}

#[derive(Debug, Error)]
pub enum SpoolError {
    #[error("spool is full ({max_bytes} bytes)")]
    Full { max_bytes: u64 },
    #[error("message of {0} bytes is larger than the spool takes")]
    TooLarge(usize),
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("spool directory {path}: {why}; it must be a directory owned by c2tap's user (uid {uid}) with mode 0700 (e.g. chown {uid} and chmod 700 it, or remove it and c2tap creates it)")]
    Untrusted {
        path: PathBuf,
        why: String,
        uid: u32,
    },
}

#[derive(Debug)]
struct Segment {
    id: u64,
    /// Bytes of frames in the file.
    len: u64,
    /// Start of the first frame not yet taken out.
    read_offset: u64,
    /// Frames not yet taken out.
    records: u64,
}

/// The front segment's bytes from `start` on, read in one go (a segment is at most 1 MiB).
#[derive(Debug, Default)]
struct ReadBuf {
    id: u64,
    start: u64,
    bytes: Vec<u8>,
}

/// A bounded FIFO of messages on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    /// Open append handle on the last segment; a new run never appends to an old file.
    writer: Option<(u64, File)>,
    reader: Option<ReadBuf>,
    next_id: u64,
    /// Id for the next segment put in front; ids are never reused, so a ledger entry of a
    /// removed segment cannot apply to a new one after a crash.
    front_id: u64,
    total_bytes: u64,
    records: u64,
    /// Damaged frames skipped since the last [`Spool::take_corrupt`].
    corrupt: u64,
    /// Read positions or segments changed since the ledger was last written.
    ledger_dirty: bool,
    /// The message returned by the last `front()`: its payload range in the read buffer and
    /// the offset just past it.
    peeked: Option<(usize, usize, u64, Mark)>,
    /// Frames being encoded for writing.
    frame: Vec<u8>,
}

impl Spool {
    /// Opens (creating, or checking the ownership and mode of) the spool in `dir`, keeping
    /// every intact message a previous run left.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        check_private_dir(dir)?;
        let io_err = |source| SpoolError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err)? {
            let name = entry.map_err(io_err)?.file_name();
            let id = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok());
            match id {
                Some(id) if id.abs_diff(FIRST_ID) < ID_RANGE => ids.push(id),
                Some(_) | None => {
                    if name != LEDGER {
                        tracing::warn!(dir = %dir.display(), file = ?name, "not a spool segment; left alone");
                    }
                }
            }
        }
        ids.sort_unstable();
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(4096, 1 << 20),
            segments: VecDeque::new(),
            writer: None,
            reader: None,
            next_id: FIRST_ID,
            front_id: FIRST_ID - 1,
            total_bytes: 0,
            records: 0,
            corrupt: 0,
            ledger_dirty: true,
            peeked: None,
            frame: Vec::new(),
        };
        let ledger: Vec<(u64, u64)> = spool
            .read_ledger()
            .into_iter()
            .filter(|(id, _)| id.abs_diff(FIRST_ID) < ID_RANGE)
            .collect();
        let known = ids.iter().chain(ledger.iter().map(|(id, _)| id));
        if let (Some(lo), Some(hi)) = (known.clone().min(), known.max()) {
            spool.next_id = spool.next_id.max(hi + 1);
            spool.front_id = spool.front_id.min(lo - 1);
        }
        for id in ids {
            let saved = ledger
                .iter()
                .find(|(lid, _)| *lid == id)
                .map_or(0, |(_, off)| *off);
            let segment = spool.recover(id, saved)?;
            if segment.records == 0 {
                spool.remove_segment_file(id);
                continue;
            }
            spool.total_bytes += segment.len;
            spool.records += segment.records;
            spool.segments.push_back(segment);
        }
        // A fresh ledger: entries of segments that are gone must not outlive them.
        spool.sync()?;
        Ok(spool)
    }

    /// Messages waiting.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes on disk, counted against the bound.
    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Damaged messages skipped since the last call (to be counted as dropped, `corrupt`).
    pub fn take_corrupt(&mut self) -> u64 {
        std::mem::take(&mut self.corrupt)
    }

    fn seg_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.seg"))
    }

    fn io_err(&self, source: io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    fn remove_segment_file(&self, id: u64) {
        let _ = fs::remove_file(self.seg_path(id));
    }

    /// Appends one message at the back. `Full` when the byte bound would be passed.
    pub fn append(&mut self, msg: &[u8], mark: Mark) -> Result<(), SpoolError> {
        let frame_len = self.check_fits(msg)?;
        let need_new = match (&self.writer, self.segments.back()) {
            (Some((id, _)), Some(last)) => {
                *id != last.id || last.len + frame_len > self.segment_bytes
            }
            _ => true,
        };
        if need_new {
            self.start_segment()?;
        }
        encode_frame(&mut self.frame, msg, mark);
        let Some((_, file)) = self.writer.as_mut() else {
            return Ok(());
        };
        let written = file.write_all(&self.frame);
        if let Err(e) = written {
            // A partial frame may be on disk (disk full): cut it off, so the record is counted
            // once (as a spool error now), not again as a damaged frame by the next run; and
            // never write after it.
            if let Some(last) = self.segments.back() {
                let _ = file.set_len(last.len);
            }
            self.writer = None;
            return Err(self.io_err(e));
        }
        if let Some(last) = self.segments.back_mut() {
            last.len += frame_len;
            last.records += 1;
        }
        self.total_bytes += frame_len;
        self.records += 1;
        Ok(())
    }

    fn check_fits(&self, msg: &[u8]) -> Result<u64, SpoolError> {
        if msg.len() > MAX_MESSAGE {
            return Err(SpoolError::TooLarge(msg.len()));
        }
        let frame_len = (FRAME_HEADER + msg.len()) as u64;
        if self.total_bytes + frame_len > self.max_bytes {
            return Err(SpoolError::Full {
                max_bytes: self.max_bytes,
            });
        }
        Ok(frame_len)
    }

    fn start_segment(&mut self) -> Result<(), SpoolError> {
        if let Some((_, old)) = self.writer.take() {
            let _ = old.sync_data();
        }
        let id = self.next_id;
        self.next_id += 1;
        let file = private_file()
            .create_new(true)
            .append(true)
            .open(self.seg_path(id))
            .map_err(|e| self.io_err(e))?;
        self.segments.push_back(Segment {
            id,
            len: 0,
            read_offset: 0,
            records: 0,
        });
        self.writer = Some((id, file));
        Ok(())
    }

    /// Puts `msgs` (oldest first) in front of everything spooled: messages that were taken out
    /// but not delivered go back ahead of newer ones. Written and synced before it returns.
    /// Returns how many did not fit.
    pub fn prepend<'a>(
        &mut self,
        msgs: impl IntoIterator<Item = (&'a [u8], Mark)>,
    ) -> Result<u64, SpoolError> {
        self.peeked = None;
        let Some(front) = self.segments.front() else {
            let mut dropped = 0;
            for (msg, mark) in msgs {
                if self.append(msg, mark).is_err() {
                    dropped += 1;
                }
            }
            if let Some((_, file)) = &self.writer {
                file.sync_data().map_err(|e| self.io_err(e))?;
            }
            return Ok(dropped);
        };
        let id = self.front_id.min(front.id - 1);
        self.front_id = id - 1;
        let mut segment = Segment {
            id,
            len: 0,
            read_offset: 0,
            records: 0,
        };
        let mut dropped = 0;
        let mut frames = Vec::new();
        for (msg, mark) in msgs {
            match self.check_fits(msg) {
                Ok(frame_len) => {
                    encode_frame(&mut self.frame, msg, mark);
                    frames.extend_from_slice(&self.frame);
                    segment.len += frame_len;
                    segment.records += 1;
                    self.total_bytes += frame_len;
                }
                Err(_) => dropped += 1,
            }
        }
        if segment.records == 0 {
            return Ok(dropped);
        }
        let path = self.seg_path(id);
        let written = private_file()
            .create_new(true)
            .write(true)
            .open(&path)
            .and_then(|mut file| file.write_all(&frames).and_then(|()| file.sync_data()));
        if let Err(e) = written {
            self.total_bytes -= segment.len;
            let _ = fs::remove_file(&path);
            return Err(self.io_err(e));
        }
        self.records += segment.records;
        self.segments.push_front(segment);
        self.ledger_dirty = true;
        Ok(dropped)
    }

    /// Makes everything durable: the open segment's data, then the read positions in the
    /// ledger (written aside, synced, renamed over the old one, directory synced), so a crash
    /// at any moment leaves either the old or the new positions, never a torn file.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        let delay = SLOW_SYNC_MICROS.load(std::sync::atomic::Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        if let Some((_, file)) = &self.writer {
            file.sync_data().map_err(|e| self.io_err(e))?;
        }
        if !std::mem::take(&mut self.ledger_dirty) {
            return Ok(());
        }
        let mut text = String::new();
        for seg in self.segments.iter().filter(|s| s.read_offset > 0) {
            text.push_str(&format!("{} {}\n", seg.id, seg.read_offset));
        }
        let tmp = self.dir.join(format!("{LEDGER}.tmp"));
        let result = private_file()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| fs::rename(&tmp, self.dir.join(LEDGER)))
            .and_then(|()| File::open(&self.dir).and_then(|d| d.sync_all()));
        result.map_err(|e| self.io_err(e))
    }
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
