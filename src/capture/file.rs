//! Capture files: the source of `c2tap replay`. Classic pcap (µs/ns, either byte order) and
//! pcapng (sections of either byte order, many interfaces of different link types, per-interface
//! timestamp resolution and offset) become the same [`Packet`] the live path hands to decode.
//!
//! A hand-written reader over one large reused buffer: frames are borrowed straight out of it, so
//! the per-packet path neither allocates nor copies. It was chosen over `pcap-parser` by measurement
//! (`cargo bench --bench reader`). Lengths in the file are untrusted: a packet may claim at most
//! [`MAX_PACKET`] captured bytes and a pcapng block at most [`MAX_BLOCK`]; beyond that the file is
//! rejected with a clear error instead of allocating what it asks for.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::decode::LinkType;
use crate::time::Nanos;

use bytes::{be32, le32, read32};
use pcapng::Interface;

/// Largest captured length of one packet (libpcap's own maximum snap length).
pub const MAX_PACKET: u32 = 256 * 1024;
/// Largest pcapng block (a packet block carries options besides the packet).
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;
/// Most interfaces one pcapng section may declare.
pub const MAX_INTERFACES: usize = 4096;
/// Read size; big enough that a refill is rare and the kernel reads ahead.
const BUF_SIZE: usize = 1024 * 1024;

const PCAP_MICRO: u32 = 0xa1b2_c3d4;
const PCAP_NANO: u32 = 0xa1b2_3c4d;
/// Kuznetzov's patched pcap: 8 extra bytes per record header, microseconds.
const PCAP_PATCHED: u32 = 0xa1b2_cd34;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub ts: Nanos,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length on the wire; larger than `data.len()` when the snap length cut the frame.
    pub wire_len: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a capture file (neither pcap nor pcapng; it starts with {start:02x?})", path = path.display())]
    NotACapture { path: PathBuf, start: Vec<u8> },
    #[error("{path}: empty (0 bytes), not a capture file", path = path.display())]
    Empty { path: PathBuf },
    #[error("{path}: {len} bytes, too short to be a capture file (a pcap header alone is 24 bytes)", path = path.display())]
    TooShort { path: PathBuf, len: usize },
    #[error("{path}: {format}-compressed, not a capture file; unpack it first (`{tool} FILE | c2tap replay -` reads it without a copy)", path = path.display())]
    Compressed {
        path: PathBuf,
        format: &'static str,
        tool: &'static str,
    },
    #[error("{path}: file ends inside a record at byte {offset}; every packet before it was read", path = path.display())]
    Truncated { path: PathBuf, offset: u64 },
    #[error("{path}: record at byte {offset} claims {len} bytes, over the {limit}-byte limit", path = path.display())]
    TooLarge {
        path: PathBuf,
        offset: u64,
        len: u64,
        limit: u32,
    },
    #[error("{path}: malformed at byte {offset}: {reason}", path = path.display())]
    Malformed {
        path: PathBuf,
        offset: u64,
        reason: &'static str,
    },
}

impl FileError {
    /// Closed label set for the replay summary and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FileError::Io { .. } => "io",
            FileError::NotACapture { .. }
            | FileError::Empty { .. }
            | FileError::TooShort { .. }
            | FileError::Compressed { .. } => "not_a_capture",
            FileError::Truncated { .. } => "truncated",
            FileError::TooLarge { .. } => "too_large",
            FileError::Malformed { .. } => "malformed",
        }
    }
}

#[derive(Debug)]
enum Format {
    Pcap {
        big_endian: bool,
        frac_to_ns: u64,
        record_len: usize,
        link: LinkType,
    },
    Pcapng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// A capture file being read front to back.
#[derive(Debug)]
pub struct CaptureFile {
    path: PathBuf,
    file: File,
    size: Option<u64>,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    eof: bool,
    /// Set after the last packet or an error: every later call returns `Ok(None)`.
    done: bool,
    /// Time of the previous packet: simple packet blocks carry none and inherit it.
    last_ts: Nanos,
    format: Format,
}

/// The path that means standard input, as for most Unix tools.
pub const STDIN: &str = "-";

impl CaptureFile {
    /// Opens `path`, or standard input when it is [`STDIN`] (`zcat x.pcap.gz | c2tap replay -`).
    pub fn open(path: &Path) -> Result<CaptureFile, FileError> {
        let stdin = path.as_os_str() == STDIN;
        let shown = if stdin {
            PathBuf::from("stdin")
        } else {
            path.to_path_buf()
        };
        let io_err = |source| FileError::Io {
            path: shown.clone(),
            source,
        };
        let file = if stdin {
            use std::os::fd::AsFd;
            let fd = io::stdin().as_fd().try_clone_to_owned().map_err(io_err)?;
            File::from(fd)
        } else {
            File::open(path).map_err(io_err)?
        };
        let meta = file.metadata().map_err(io_err)?;
        let size = meta.is_file().then_some(meta.len());
        let mut reader = CaptureFile {
            path: shown.clone(),
            file,
            size,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            buf_offset: 0,
            eof: false,
            done: false,
            last_ts: 0,
            format: Format::Pcap {
                big_endian: false,
                frac_to_ns: 0,
                record_len: 16,
                link: LinkType(0),
            },
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// Bytes consumed so far (for a progress bar against [`CaptureFile::size`]).
    pub fn bytes_read(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// File size, when the path is a regular file.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ok(None) at a clean end; Err(FileError::Truncated{..}) when the file ends inside a record
    /// (every earlier packet has been returned); other Errs are fatal for this file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FileError> {
        if self.done {
            return Ok(None);
        }
        let found = match self.format {
            Format::Pcap { .. } => self.next_pcap_record(),
            Format::Pcapng { .. } => self.next_pcapng_packet(),
        };
        match found {
            Ok(Some((ts, link, range, wire_len))) => {
                self.last_ts = ts;
                let data = self.buf.get(range).unwrap_or_default();
                Ok(Some(Packet {
                    ts,
                    link,
                    data,
                    wire_len,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn read_file_header(&mut self) -> Result<(), FileError> {
        match self.fill(24) {
            // A file shorter than a pcap header may still be a (short) pcapng or not a capture.
            Ok(_) | Err(FileError::Truncated { .. }) => {}
            Err(e) => return Err(e),
        }
        let head = self.unread();
        if let Some((format, tool)) = compression(head) {
            return Err(FileError::Compressed {
                path: self.path.clone(),
                format,
                tool,
            });
        }
        match head.len() {
            0 => {
                return Err(FileError::Empty {
                    path: self.path.clone(),
                })
            }
            len @ 1..24 => {
                return Err(FileError::TooShort {
                    path: self.path.clone(),
                    len,
                })
            }
            _ => {}
        }
        let magic_le = le32(head, 0);
        let magic_be = be32(head, 0);
        if magic_le == Some(PCAPNG_SHB) {
            self.format = Format::Pcapng {
                big_endian: false,
                interfaces: Vec::new(),
            };
            return Ok(());
        }
        for (magic, big_endian) in [(magic_le, false), (magic_be, true)] {
            let (frac_to_ns, record_len) = match magic {
                Some(PCAP_MICRO) => (1_000, 16),
                Some(PCAP_NANO) => (1, 16),
                Some(PCAP_PATCHED) => (1_000, 24),
                _ => continue,
            };
            // The upper bits of the link-type field carry FCS facts, not the link type.
            let network = read32(head, 20, big_endian).unwrap_or(0) & 0xffff;
            self.format = Format::Pcap {
                big_endian,
                frac_to_ns,
                record_len,
                link: LinkType(network),
            };
            self.start += 24;
            return Ok(());
        }
        Err(FileError::NotACapture {
            path: self.path.clone(),
            start: head.iter().take(8).copied().collect(),
        })
    }
}

/// (timestamp, link type, range of the frame in the buffer, wire length) of the next packet.
type RecordResult = Result<Option<(Nanos, LinkType, std::ops::Range<usize>, u32)>, FileError>;

/// A compressed file's format and the tool that unpacks it to stdout, from its magic bytes:
/// captures are often stored compressed, and hex bytes would not tell the user what to do.
fn compression(head: &[u8]) -> Option<(&'static str, &'static str)> {
    const MAGICS: [(&[u8], &str, &str); 5] = [
        (&[0x1f, 0x8b], "gzip", "zcat"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", "zstdcat"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz", "xzcat"),
        (b"BZh", "bzip2", "bzcat"),
        (&[0x04, 0x22, 0x4d, 0x18], "lz4", "lz4cat"),
    ];
    MAGICS
        .iter()
        .find(|(magic, _, _)| head.starts_with(magic))
        .map(|&(_, format, tool)| (format, tool))
}

mod buffer;
mod bytes;
mod pcap;
mod pcapng;

#[cfg(test)]
mod tests;
