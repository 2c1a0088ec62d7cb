//! On-disk spool: where an output's formatted messages wait while the receiver is down or slow,
//! so the capture never blocks and nothing is lost across a reconnect or a restart. A FIFO of
//! segment files in the output's state directory, bounded in bytes. Every message is framed with
//! its length and a CRC-32, so a message half-written at a power cut is detected on the next
//! start and cut off, never sent as garbage. Only the output's worker threads touch it.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Frame: magic (2) + payload length (u32 LE) + CRC-32 of the payload (u32 LE) + payload.
const MAGIC: [u8; 2] = [0xC2, 0x5F];
const FRAME_HEADER: usize = 10;
/// Largest message the spool takes; bounds the allocation when reading a (possibly damaged)
/// frame back. Far above any syslog size limit.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Segment ids start mid-range so that messages put back in front (after a connection loss
/// or at shutdown) can take ids below the oldest segment.
const FIRST_ID: u64 = 1 << 62;
/// Spooled records are alerts: readable by the sensor's user only (umask can narrow, not widen).
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Options for a file the spool creates, with its private mode.
fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

#[derive(Debug, Error)]
pub enum SpoolError {
    #[error("spool is full ({max_bytes} bytes)")]
    Full { max_bytes: u64 },
    #[error("message of {0} bytes is larger than the spool takes")]
    TooLarge(usize),
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Debug)]
struct Segment {
    id: u64,
    /// Bytes of valid frames in the file.
    len: u64,
    /// Start of the first frame not yet taken out.
    read_offset: u64,
    /// Frames not yet taken out.
    records: u64,
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
    reader: Option<(u64, File, u64)>,
    next_id: u64,
    total_bytes: u64,
    records: u64,
    /// The message returned by the last `front()` and the offset just past it.
    peeked: Option<u64>,
    /// Holds the message read by `front()`.
    scratch: Vec<u8>,
    /// Frames being encoded for writing.
    frame: Vec<u8>,
}

impl Spool {
    /// Opens (creating) the spool in `dir`, keeping every intact message a previous run left.
    /// A damaged tail of a segment (torn write) is cut off and logged.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let io_err = |source| SpoolError::Io {
            path: dir.to_path_buf(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(io_err)?;
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err)? {
            let name = entry.map_err(io_err)?.file_name();
            let id = name
                .to_str()
                .and_then(|n| n.strip_suffix(".seg"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(id) = id {
                ids.push(id);
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
            next_id: ids.last().map_or(FIRST_ID, |last| last + 1),
            total_bytes: 0,
            records: 0,
            peeked: None,
            scratch: Vec::new(),
            frame: Vec::new(),
        };
        for id in ids {
            let segment = spool.recover(id)?;
            if segment.records == 0 {
                spool.remove_files(id);
                continue;
            }
            spool.total_bytes += segment.len;
            spool.records += segment.records;
            spool.segments.push_back(segment);
        }
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

    fn seg_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.seg"))
    }

    fn pos_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.pos"))
    }

    fn io_err(&self, source: io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    fn remove_files(&self, id: u64) {
        let _ = fs::remove_file(self.seg_path(id));
        let _ = fs::remove_file(self.pos_path(id));
    }

    /// Scans a segment left by an earlier run: counts its frames from the saved read position
    /// and truncates the file at the first frame that is cut short or fails its checksum.
    fn recover(&mut self, id: u64) -> Result<Segment, SpoolError> {
        let path = self.seg_path(id);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| self.io_err(e))?;
        let file_len = file.metadata().map_err(|e| self.io_err(e))?.len();
        let saved = fs::read(self.pos_path(id))
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes);
        let mut offset = 0;
        let mut records = 0;
        let mut read_offset = 0;
        loop {
            if Some(offset) == saved {
                read_offset = offset;
                records = 0;
            }
            match read_frame(&mut file, &mut self.scratch) {
                Ok(Some(len)) => {
                    offset += len;
                    records += 1;
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(path = %path.display(), skipped_bytes = file_len - offset,
                        "spool segment ends in a damaged record (torn write); it is skipped");
                    file.set_len(offset).map_err(|e| self.io_err(e))?;
                    break;
                }
            }
        }
        Ok(Segment {
            id,
            len: offset,
            read_offset: read_offset.min(offset),
            records,
        })
    }

    /// Appends one message at the back. `Full` when the byte bound would be passed.
    pub fn append(&mut self, msg: &[u8]) -> Result<(), SpoolError> {
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
        encode_frame(&mut self.frame, msg);
        let Some((_, file)) = self.writer.as_mut() else {
            return Ok(());
        };
        let written = file.write_all(&self.frame);
        if let Err(e) = written {
            // A partial frame may be on disk: never write after it.
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
    /// but not delivered go back ahead of newer ones. Returns how many did not fit.
    pub fn prepend<'a>(
        &mut self,
        msgs: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<u64, SpoolError> {
        self.peeked = None;
        let Some(front) = self.segments.front() else {
            let mut dropped = 0;
            for msg in msgs {
                if self.append(msg).is_err() {
                    dropped += 1;
                }
            }
            return Ok(dropped);
        };
        let id = front.id.saturating_sub(1);
        let path = self.seg_path(id);
        let mut file = private_file()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| self.io_err(e))?;
        let mut segment = Segment {
            id,
            len: 0,
            read_offset: 0,
            records: 0,
        };
        let mut dropped = 0;
        let mut frames = Vec::new();
        for msg in msgs {
            match self.check_fits(msg) {
                Ok(frame_len) => {
                    encode_frame(&mut self.frame, msg);
                    frames.extend_from_slice(&self.frame);
                    segment.len += frame_len;
                    segment.records += 1;
                    self.total_bytes += frame_len;
                }
                Err(_) => dropped += 1,
            }
        }
        let written = file.write_all(&frames).and_then(|()| file.sync_data());
        if let Err(e) = written {
            self.total_bytes -= segment.len;
            let _ = fs::remove_file(&path);
            return Err(self.io_err(e));
        }
        self.records += segment.records;
        self.segments.push_front(segment);
        Ok(dropped)
    }

    /// The oldest message, without taking it out (see [`Spool::pop_front`]).
    pub fn front(&mut self) -> Result<Option<&[u8]>, SpoolError> {
        loop {
            let Some(seg) = self.segments.front() else {
                return Ok(None);
            };
            if seg.records == 0 {
                let id = seg.id;
                self.drop_front_segment(id);
                continue;
            }
            let (id, offset) = (seg.id, seg.read_offset);
            if self.peeked.is_some() {
                return Ok(Some(&self.scratch));
            }
            let reader_ok =
                matches!(&self.reader, Some((rid, _, pos)) if *rid == id && *pos == offset);
            if !reader_ok {
                let mut file = File::open(self.seg_path(id)).map_err(|e| self.io_err(e))?;
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| self.io_err(e))?;
                self.reader = Some((id, file, offset));
            }
            let Some((_, file, pos)) = self.reader.as_mut() else {
                return Ok(None);
            };
            match read_frame(file, &mut self.scratch) {
                Ok(Some(len)) => {
                    *pos += len;
                    self.peeked = Some(*pos);
                    return Ok(Some(&self.scratch));
                }
                // Cannot happen for frames this process wrote; skip the rest of the segment.
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        segment = id,
                        "spool segment unreadable past offset {offset}; skipping it"
                    );
                    self.records -= seg_records(&self.segments);
                    if let Some(seg) = self.segments.front_mut() {
                        seg.records = 0;
                    }
                }
            }
        }
    }

    /// Takes out the message last returned by [`Spool::front`].
    pub fn pop_front(&mut self) {
        let Some(next) = self.peeked.take() else {
            return;
        };
        let Some(seg) = self.segments.front_mut() else {
            return;
        };
        seg.read_offset = next;
        seg.records = seg.records.saturating_sub(1);
        self.records = self.records.saturating_sub(1);
        if seg.records == 0 {
            let id = seg.id;
            self.drop_front_segment(id);
        }
    }

    fn drop_front_segment(&mut self, id: u64) {
        if let Some(seg) = self.segments.pop_front() {
            self.total_bytes = self.total_bytes.saturating_sub(seg.len);
        }
        if matches!(&self.writer, Some((wid, _)) if *wid == id) {
            self.writer = None;
        }
        if matches!(&self.reader, Some((rid, _, _)) if *rid == id) {
            self.reader = None;
        }
        self.peeked = None;
        self.remove_files(id);
    }

    /// Makes everything durable and records how far the oldest segment was read, so the next
    /// run resumes there instead of resending that segment (called at shutdown).
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if let Some((_, file)) = &self.writer {
            file.sync_data().map_err(|e| self.io_err(e))?;
        }
        // A prepended segment may sit in front of a partly read one: save every position.
        for seg in self.segments.iter().filter(|s| s.read_offset > 0) {
            private_file()
                .create(true)
                .write(true)
                .truncate(true)
                .open(self.pos_path(seg.id))
                .and_then(|mut f| f.write_all(&seg.read_offset.to_le_bytes()))
                .map_err(|e| self.io_err(e))?;
        }
        Ok(())
    }
}

fn seg_records(segments: &VecDeque<Segment>) -> u64 {
    segments.front().map_or(0, |s| s.records)
}

fn encode_frame(out: &mut Vec<u8>, msg: &[u8]) {
    out.clear();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(msg.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(msg).to_le_bytes());
    out.extend_from_slice(msg);
}

/// Reads one frame into `out` (payload only). `Ok(None)` at a clean end of file; an error for
/// a frame that is cut short, has a bad magic or length, or fails its checksum.
fn read_frame(file: &mut File, out: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let mut header = [0u8; FRAME_HEADER];
    let mut got = 0;
    while got < FRAME_HEADER {
        let n = file.read(header.get_mut(got..).unwrap_or_default())?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let [m0, m1, l0, l1, l2, l3, c0, c1, c2, c3] = header;
    if [m0, m1] != MAGIC {
        return Err(bad("bad frame magic"));
    }
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len > MAX_MESSAGE {
        return Err(bad("frame too long"));
    }
    out.clear();
    out.resize(len, 0);
    file.read_exact(out)?;
    if crc32fast::hash(out) != u32::from_le_bytes([c0, c1, c2, c3]) {
        return Err(bad("frame checksum mismatch"));
    }
    Ok(Some((FRAME_HEADER + len) as u64))
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
