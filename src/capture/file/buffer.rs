//! The reader's one reused buffer: refills that keep the unread bytes, bounded by the
//! callers' caps, and the errors that name the file offset where reading stopped.

use super::*;

impl CaptureFile {
    pub(super) fn unread(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    pub(super) fn block(&self, block_len: usize) -> &[u8] {
        self.buf
            .get(self.start..self.start + block_len)
            .unwrap_or_default()
    }

    /// Makes at least `need` unread bytes available. Ok(false) when the file ends first; Ok(false)
    /// with nothing unread is a clean end. `need` is bounded by the callers' caps.
    #[inline]
    pub(super) fn fill(&mut self, need: usize) -> Result<bool, FileError> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        self.refill(need)
    }

    #[cold]
    pub(super) fn refill(&mut self, need: usize) -> Result<bool, FileError> {
        self.buf.copy_within(self.start..self.end, 0);
        self.buf_offset += self.start as u64;
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        while self.end < need && !self.eof {
            let space = self.buf.get_mut(self.end..).unwrap_or_default();
            match self.file.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(FileError::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
        if self.end >= need {
            Ok(true)
        } else if self.end == 0 {
            Ok(false)
        } else {
            Err(self.truncated())
        }
    }

    pub(super) fn truncated(&self) -> FileError {
        FileError::Truncated {
            path: self.path.clone(),
            offset: self.bytes_read(),
        }
    }

    pub(super) fn too_large(&self, len: u64, limit: u32) -> FileError {
        FileError::TooLarge {
            path: self.path.clone(),
            offset: self.bytes_read(),
            len,
            limit,
        }
    }

    pub(super) fn malformed(&self, reason: &'static str) -> FileError {
        FileError::Malformed {
            path: self.path.clone(),
            offset: self.bytes_read(),
            reason,
        }
    }
}
