//! Reading the spool from the front: the oldest message, then taking it out once sent.

use std::fs::File;
use std::io::{self, Read};

use super::frame::{scan_frame, Mark, Scan};
use super::{ReadBuf, Spool, SpoolError};

impl Spool {
    /// The oldest message and its [`Mark`], without taking it out
    /// (see [`Spool::pop_front`]). Damaged frames on the way are skipped and counted.
    pub fn front(&mut self) -> Result<Option<(&[u8], Mark)>, SpoolError> {
        loop {
            if let Some((from, to, _, mark)) = self.peeked {
                let bytes = self.reader.as_ref().map(|r| r.bytes.as_slice());
                return Ok(bytes.and_then(|b| b.get(from..to)).map(|m| (m, mark)));
            }
            let Some(seg) = self.segments.front() else {
                return Ok(None);
            };
            let (id, offset, len, records) = (seg.id, seg.read_offset, seg.len, seg.records);
            if records == 0 || offset >= len {
                // Frames counted but not found (lost to damage) are counted as corrupt.
                self.corrupt += records;
                self.records -= records;
                self.drop_front_segment(id);
                continue;
            }
            let stale = !matches!(&self.reader, Some(r) if r.id == id && r.start <= offset
                && r.start + r.bytes.len() as u64 >= len);
            if stale {
                let mut file = File::open(self.seg_path(id)).map_err(|e| self.io_err(e))?;
                let mut bytes = Vec::new();
                io::Seek::seek(&mut file, io::SeekFrom::Start(offset))
                    .and_then(|_| file.take(len - offset).read_to_end(&mut bytes))
                    .map_err(|e| self.io_err(e))?;
                self.reader = Some(ReadBuf {
                    id,
                    start: offset,
                    bytes,
                });
            }
            let Some(reader) = self.reader.as_ref() else {
                return Ok(None);
            };
            let at = (offset - reader.start) as usize;
            match scan_frame(&reader.bytes, at) {
                Scan::Frame { payload, end, mark } => {
                    let next = reader.start + end as u64;
                    self.peeked = Some((payload, end, next, mark));
                }
                Scan::Resync(next) => {
                    self.skip_corrupt(reader.start + next as u64);
                }
                Scan::Torn => {
                    let end = reader.start + reader.bytes.len() as u64;
                    self.skip_corrupt(end);
                }
            }
        }
    }

    /// Counts one damaged frame and moves the front segment's read position past it.
    fn skip_corrupt(&mut self, to: u64) {
        self.ledger_dirty = true;
        self.corrupt += 1;
        self.records = self.records.saturating_sub(1);
        if let Some(seg) = self.segments.front_mut() {
            seg.read_offset = to;
            seg.records = seg.records.saturating_sub(1);
        }
    }

    /// Takes out the message last returned by [`Spool::front`].
    pub fn pop_front(&mut self) {
        let Some((_, _, next, _)) = self.peeked.take() else {
            return;
        };
        let Some(seg) = self.segments.front_mut() else {
            return;
        };
        seg.read_offset = next;
        seg.records = seg.records.saturating_sub(1);
        self.records = self.records.saturating_sub(1);
        self.ledger_dirty = true;
        if seg.records == 0 && next >= seg.len {
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
        if matches!(&self.reader, Some(r) if r.id == id) {
            self.reader = None;
        }
        self.peeked = None;
        self.remove_segment_file(id);
    }
}
