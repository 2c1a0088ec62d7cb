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
use crate::time::{Nanos, NANOS_PER_SEC};

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

/// How a pcapng interface's timestamp units become nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    /// 10^-n with n <= 9: multiply.
    Mul(u64),
    /// 10^-n with n > 9: divide (0 when the divisor does not fit: the unit is below 1 ns).
    Div(u64),
    /// 2^-n: ns = units * 10^9 >> n.
    Pow2(u32),
}

impl Resolution {
    const MICRO: Resolution = Resolution::Mul(1_000);

    fn from_option(byte: u8) -> Resolution {
        let n = u32::from(byte & 0x7f);
        if byte & 0x80 != 0 {
            Resolution::Pow2(n)
        } else if n <= 9 {
            Resolution::Mul(10u64.pow(9 - n))
        } else {
            Resolution::Div(10u64.checked_pow(n - 9).unwrap_or(0))
        }
    }

    fn to_nanos(self, units: u64) -> u64 {
        match self {
            Resolution::Mul(m) => units.saturating_mul(m),
            Resolution::Div(0) => 0,
            Resolution::Div(d) => units / d,
            Resolution::Pow2(n) => {
                let ns = (u128::from(units) * u128::from(NANOS_PER_SEC)) >> n;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// if_tsoffset: seconds added to every timestamp.
    offset_secs: i64,
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

    /// One classic pcap record: (ts, link, data range in `buf`, wire length).
    fn next_pcap_record(&mut self) -> RecordResult {
        let Format::Pcap {
            big_endian,
            frac_to_ns,
            record_len,
            link,
        } = self.format
        else {
            return Ok(None);
        };
        if !self.fill(record_len)? {
            return Ok(None);
        }
        let head = self.unread();
        let field = |at| read32(head, at, big_endian).unwrap_or(0);
        let (secs, frac, caplen, wire_len) = (field(0), field(4), field(8), field(12));
        if caplen > MAX_PACKET {
            return Err(self.too_large(caplen.into(), MAX_PACKET));
        }
        let total = record_len + caplen as usize;
        if !self.fill(total)? {
            return Err(self.truncated());
        }
        let ts = u64::from(secs) * NANOS_PER_SEC + u64::from(frac) * frac_to_ns;
        let data = self.start + record_len..self.start + total;
        self.start += total;
        Ok(Some((ts, link, data, wire_len)))
    }

    /// Blocks up to the next packet block; section and interface blocks update the format.
    fn next_pcapng_packet(&mut self) -> RecordResult {
        loop {
            if !self.fill(12)? {
                return Ok(None);
            }
            let head = self.unread();
            let Format::Pcapng { big_endian, .. } = self.format else {
                return Ok(None);
            };
            let mut big_endian = big_endian;
            let block_type = read32(head, 0, big_endian).unwrap_or(0);
            if block_type == PCAPNG_SHB {
                big_endian = match (le32(head, 8), be32(head, 8)) {
                    (Some(PCAPNG_BOM), _) => false,
                    (_, Some(PCAPNG_BOM)) => true,
                    _ => return Err(self.malformed("section header without byte-order magic")),
                };
            }
            let block_len = read32(head, 4, big_endian).unwrap_or(0);
            if block_len < 12 {
                return Err(self.malformed("block shorter than 12 bytes"));
            }
            if block_len > MAX_BLOCK {
                return Err(self.too_large(block_len.into(), MAX_BLOCK));
            }
            let block_len = block_len as usize;
            if !self.fill(block_len)? {
                return Err(self.truncated());
            }
            let block_start = self.start;
            let found = match block_type {
                PCAPNG_SHB => self.start_section(big_endian, block_len).map(|()| None),
                1 => self.add_interface(block_len).map(|()| None),
                6 => self.enhanced_packet(block_len),
                3 => self.simple_packet(block_len),
                2 => self.obsolete_packet(block_len),
                _ => Ok(None),
            };
            let found = found?;
            self.start = block_start + block_len;
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    fn start_section(&mut self, big_endian: bool, block_len: usize) -> Result<(), FileError> {
        if block_len < 28 {
            return Err(self.malformed("section header block too short"));
        }
        if read16(self.unread(), 12, big_endian) != Some(1) {
            return Err(self.malformed("unsupported pcapng major version"));
        }
        self.format = Format::Pcapng {
            big_endian,
            interfaces: Vec::new(),
        };
        Ok(())
    }

    fn add_interface(&mut self, block_len: usize) -> Result<(), FileError> {
        let Format::Pcapng {
            big_endian,
            ref interfaces,
        } = self.format
        else {
            return Ok(());
        };
        if interfaces.len() >= MAX_INTERFACES {
            return Err(self.malformed("more interfaces than the reader accepts"));
        }
        let block = self.block(block_len);
        let (Some(link), Some(snaplen)) =
            (read16(block, 8, big_endian), read32(block, 12, big_endian))
        else {
            return Err(self.malformed("interface description block too short"));
        };
        let mut iface = Interface {
            link: LinkType(link.into()),
            snaplen,
            resolution: Resolution::MICRO,
            offset_secs: 0,
        };
        for (code, value) in Options::new(block.get(16..block_len.saturating_sub(4)), big_endian) {
            match (code, value.len()) {
                (9, 1..) => {
                    iface.resolution = Resolution::from_option(value.first().copied().unwrap_or(6))
                }
                (14, 8..) => iface.offset_secs = read64(value, 0, big_endian).unwrap_or(0) as i64,
                _ => {}
            }
        }
        if let Format::Pcapng {
            ref mut interfaces, ..
        } = self.format
        {
            interfaces.push(iface);
        }
        Ok(())
    }

    fn enhanced_packet(&mut self, block_len: usize) -> RecordResult {
        self.packet_block(block_len, 28, |b, be| {
            Some((
                read32(b, 8, be)?,
                read32(b, 12, be)?,
                read32(b, 16, be)?,
                read32(b, 20, be)?,
                read32(b, 24, be)?,
            ))
        })
    }

    fn obsolete_packet(&mut self, block_len: usize) -> RecordResult {
        self.packet_block(block_len, 28, |b, be| {
            let iface = read16(b, 8, be)?.into();
            Some((
                iface,
                read32(b, 12, be)?,
                read32(b, 16, be)?,
                read32(b, 20, be)?,
                read32(b, 24, be)?,
            ))
        })
    }

    /// EPB and OPB differ only in where their fields sit: `fields` reads
    /// (interface, ts high, ts low, captured length, wire length).
    fn packet_block(
        &mut self,
        block_len: usize,
        data_at: usize,
        fields: impl Fn(&[u8], bool) -> Option<(u32, u32, u32, u32, u32)>,
    ) -> RecordResult {
        let Some((big_endian, interfaces)) = self.pcapng_state() else {
            return Ok(None);
        };
        let Some((iface, ts_high, ts_low, caplen, wire_len)) =
            fields(self.block(block_len), big_endian)
        else {
            return Err(self.malformed("packet block too short"));
        };
        let Some(iface) = interfaces.get(iface as usize).copied() else {
            return Err(self.malformed("packet on an interface the section did not declare"));
        };
        if caplen > MAX_PACKET {
            return Err(self.too_large(caplen.into(), MAX_PACKET));
        }
        if data_at + caplen as usize + 4 > block_len {
            return Err(self.malformed("packet data overruns its block"));
        }
        let units = (u64::from(ts_high) << 32) | u64::from(ts_low);
        let ts = iface.resolution.to_nanos(units);
        let ts = ts.saturating_add_signed(iface.offset_secs.saturating_mul(NANOS_PER_SEC as i64));
        let data = self.start + data_at..self.start + data_at + caplen as usize;
        Ok(Some((ts, iface.link, data, wire_len)))
    }

    fn simple_packet(&mut self, block_len: usize) -> RecordResult {
        let Some((big_endian, interfaces)) = self.pcapng_state() else {
            return Ok(None);
        };
        let Some(iface) = interfaces.first().copied() else {
            return Err(self.malformed("simple packet block before any interface"));
        };
        let Some(wire_len) = read32(self.block(block_len), 8, big_endian) else {
            return Err(self.malformed("simple packet block too short"));
        };
        // The captured length is implied: the smallest of wire length, snap length and block room.
        let room = block_len.saturating_sub(16);
        let mut caplen = (wire_len as usize).min(room);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let data = self.start + 12..self.start + 12 + caplen;
        Ok(Some((self.last_ts, iface.link, data, wire_len)))
    }

    /// Byte order and interfaces of the current pcapng section.
    fn pcapng_state(&self) -> Option<(bool, &[Interface])> {
        match &self.format {
            Format::Pcapng {
                big_endian,
                interfaces,
            } => Some((*big_endian, interfaces)),
            Format::Pcap { .. } => None,
        }
    }

    fn unread(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    fn block(&self, block_len: usize) -> &[u8] {
        self.buf
            .get(self.start..self.start + block_len)
            .unwrap_or_default()
    }

    /// Makes at least `need` unread bytes available. Ok(false) when the file ends first; Ok(false)
    /// with nothing unread is a clean end. `need` is bounded by the callers' caps.
    #[inline]
    fn fill(&mut self, need: usize) -> Result<bool, FileError> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        self.refill(need)
    }

    #[cold]
    fn refill(&mut self, need: usize) -> Result<bool, FileError> {
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

    fn truncated(&self) -> FileError {
        FileError::Truncated {
            path: self.path.clone(),
            offset: self.bytes_read(),
        }
    }

    fn too_large(&self, len: u64, limit: u32) -> FileError {
        FileError::TooLarge {
            path: self.path.clone(),
            offset: self.bytes_read(),
            len,
            limit,
        }
    }

    fn malformed(&self, reason: &'static str) -> FileError {
        FileError::Malformed {
            path: self.path.clone(),
            offset: self.bytes_read(),
            reason,
        }
    }
}

/// (timestamp, link type, range of the frame in the buffer, wire length) of the next packet.
type RecordResult = Result<Option<(Nanos, LinkType, std::ops::Range<usize>, u32)>, FileError>;

/// pcapng options (code, value) up to opt_endofopt or the end of the area.
struct Options<'a> {
    rest: &'a [u8],
    big_endian: bool,
}

impl<'a> Options<'a> {
    fn new(area: Option<&'a [u8]>, big_endian: bool) -> Options<'a> {
        Options {
            rest: area.unwrap_or_default(),
            big_endian,
        }
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = read16(self.rest, 0, self.big_endian)?;
        let len = usize::from(read16(self.rest, 2, self.big_endian)?);
        if code == 0 {
            return None;
        }
        let value = self.rest.get(4..4 + len)?;
        let padded = 4 + len.next_multiple_of(4);
        self.rest = self.rest.get(padded..).unwrap_or_default();
        Some((code, value))
    }
}

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

fn bytes<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_le_bytes)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_be_bytes)
}

#[inline]
fn read32(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    if big_endian {
        be32(b, at)
    } else {
        le32(b, at)
    }
}

fn read16(b: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let v = bytes(b, at)?;
    Some(if big_endian {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    })
}

fn read64(b: &[u8], at: usize, big_endian: bool) -> Option<u64> {
    let v = bytes(b, at)?;
    Some(if big_endian {
        u64::from_be_bytes(v)
    } else {
        u64::from_le_bytes(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use c2tap_pcapgen::{Endian, Interface as NgInterface, PcapFormat, PcapWriter, PcapngWriter};

    const T: u64 = 1_778_335_407_123_456_789;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        f
    }

    /// (ts, link, data, wire_len) of one packet read.
    type ReadPacket = (Nanos, u32, Vec<u8>, u32);

    /// Every packet, then the final result.
    fn read_all(bytes: &[u8]) -> (Vec<ReadPacket>, Result<(), FileError>) {
        let f = file_with(bytes);
        let mut reader = match CaptureFile::open(f.path()) {
            Ok(r) => r,
            Err(e) => return (vec![], Err(e)),
        };
        assert_eq!(reader.size(), Some(bytes.len() as u64));
        let mut out = Vec::new();
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => out.push((p.ts, p.link.0, p.data.to_vec(), p.wire_len)),
                Ok(None) => {
                    assert_eq!(reader.bytes_read(), bytes.len() as u64);
                    return (out, Ok(()));
                }
                Err(e) => {
                    assert!(
                        matches!(reader.next_packet(), Ok(None)),
                        "an error ends the file"
                    );
                    return (out, Err(e));
                }
            }
        }
    }

    fn pcap(format: PcapFormat, packets: &[(u64, &[u8])]) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), format).unwrap();
        for (ts, frame) in packets {
            w.write(*ts, frame, None).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn pcap_micro_little_endian() {
        let bytes = pcap(PcapFormat::new(1), &[(T, &[1, 2, 3]), (T + 1_000, &[4])]);
        let (packets, end) = read_all(&bytes);
        end.unwrap();
        assert_eq!(
            packets,
            vec![
                (T - 789, 1, vec![1, 2, 3], 3),
                (T + 1_000 - 789, 1, vec![4], 1)
            ]
        );
    }

    #[test]
    fn pcap_nano_big_endian_with_snaplen() {
        let format = PcapFormat {
            endian: Endian::Big,
            nanos: true,
            snaplen: 2,
            link: 101,
        };
        let (packets, end) = read_all(&pcap(format, &[(T, &[1, 2, 3])]));
        end.unwrap();
        assert_eq!(packets, vec![(T, 101, vec![1, 2], 3)]);
    }

    #[test]
    fn pcap_with_only_a_header_is_empty() {
        let (packets, end) = read_all(&pcap(PcapFormat::new(1), &[]));
        end.unwrap();
        assert!(packets.is_empty());
    }

    #[test]
    fn pcap_records_across_buffer_refills() {
        let frames: Vec<Vec<u8>> = (0..30_000u32)
            .map(|i| vec![i as u8; 20 + (i % 97) as usize])
            .collect();
        let list: Vec<(u64, &[u8])> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| (i as u64 * 1_000, &f[..]))
            .collect();
        let bytes = pcap(PcapFormat::new(1), &list);
        assert!(bytes.len() > 2 * BUF_SIZE);
        let (packets, end) = read_all(&bytes);
        end.unwrap();
        assert_eq!(packets.len(), frames.len());
        assert!(packets.iter().zip(&frames).all(|(p, f)| p.2 == *f));
    }

    #[test]
    fn pcapng_interfaces_with_their_own_link_type_and_resolution() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let eth = w.interface(NgInterface::new(1)).unwrap();
        let raw = w
            .interface(NgInterface {
                tsresol: Some(9),
                ..NgInterface::new(101)
            })
            .unwrap();
        let ms = w
            .interface(NgInterface {
                tsresol: Some(3),
                ..NgInterface::new(113)
            })
            .unwrap();
        w.epb(eth, T, &[1]).unwrap();
        w.epb(raw, T, &[2, 2]).unwrap();
        w.epb(ms, T, &[3, 3, 3]).unwrap();
        let (packets, end) = read_all(&w.into_inner());
        end.unwrap();
        assert_eq!(
            packets,
            vec![
                (T - 789, 1, vec![1], 1),
                (T, 101, vec![2, 2], 2),
                (T - 456_789, 113, vec![3, 3, 3], 3)
            ]
        );
    }

    #[test]
    fn pcapng_power_of_two_resolution_and_offset() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let iface = NgInterface {
            tsresol: Some(0x80 | 20),
            tsoffset: Some(1_000),
            ..NgInterface::new(1)
        };
        let id = w.interface(iface).unwrap();
        w.epb(id, T, &[9]).unwrap();
        let (packets, end) = read_all(&w.into_inner());
        end.unwrap();
        let ts = packets[0].0;
        assert!(
            ts <= T && T - ts < 1_000,
            "2^-20 s units are within 1 µs: {ts} vs {T}"
        );
    }

    #[test]
    fn pcapng_sections_of_both_byte_orders_and_all_packet_blocks() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let sll = w.interface(NgInterface::new(113)).unwrap();
        w.block(4, &[0, 0, 0, 0]).unwrap();
        w.block(0x0bad, &[1, 2, 3, 4, 5]).unwrap();
        w.epb(sll, T, &[1]).unwrap();
        w.opb(sll as u16, T + 1_000, &[2]).unwrap();
        w.section(Endian::Big).unwrap();
        let eth = w
            .interface(NgInterface {
                tsresol: Some(9),
                snaplen: 2,
                ..NgInterface::new(1)
            })
            .unwrap();
        w.epb(eth, T + 2_000, &[3]).unwrap();
        w.spb(&[4, 4, 4]).unwrap();
        let (packets, end) = read_all(&w.into_inner());
        end.unwrap();
        assert_eq!(
            packets,
            vec![
                (T - 789, 113, vec![1], 1),
                (T + 1_000 - 789, 113, vec![2], 1),
                (T + 2_000, 1, vec![3], 1),
                (T + 2_000, 1, vec![4, 4], 3),
            ],
            "the SPB is cut to the snap length and inherits the previous time"
        );
    }

    #[test]
    fn pcapng_block_larger_than_the_buffer_is_skipped() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let id = w.interface(NgInterface::new(1)).unwrap();
        w.block(0x0bad, &vec![7; 3 * BUF_SIZE]).unwrap();
        w.epb(id, T, &[5]).unwrap();
        let (packets, end) = read_all(&w.into_inner());
        end.unwrap();
        assert_eq!(packets.len(), 1);
    }

    #[test]
    fn truncated_pcap_returns_every_packet_before_the_cut() {
        let bytes = pcap(PcapFormat::new(1), &[(T, &[1; 40]), (T, &[2; 40])]);
        for cut in [bytes.len() - 10, bytes.len() - 50] {
            let (packets, end) = read_all(&bytes[..cut]);
            assert_eq!(packets.len(), 1, "cut at {cut}");
            let offset = (24 + 16 + 40) as u64;
            assert!(
                matches!(end, Err(FileError::Truncated { offset: o, .. }) if o == offset),
                "{end:?}"
            );
        }
        // Cut inside the file header: too short to be a capture, not "truncated at byte 0".
        let (packets, end) = read_all(&bytes[..20]);
        assert!(packets.is_empty());
        assert!(
            matches!(end, Err(FileError::TooShort { len: 20, .. })),
            "{end:?}"
        );
    }

    #[test]
    fn truncated_pcapng_block() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let id = w.interface(NgInterface::new(1)).unwrap();
        w.epb(id, T, &[1; 40]).unwrap();
        w.epb(id, T, &[2; 40]).unwrap();
        let bytes = w.into_inner();
        let (packets, end) = read_all(&bytes[..bytes.len() - 8]);
        assert_eq!(packets.len(), 1);
        assert!(matches!(end, Err(FileError::Truncated { .. })), "{end:?}");
    }

    #[test]
    fn not_a_capture_names_the_file_and_says_why() {
        let mut pcap_start = pcap(PcapFormat::new(1), &[]);
        pcap_start.truncate(10);
        for (bytes, says) in [
            (
                &b"<!DOCTYPE html><html>not a capture</html>"[..],
                "not a capture file (neither pcap nor pcapng; it starts with [3c, 21,",
            ),
            (b"", "empty (0 bytes), not a capture file"),
            (b"ab", "2 bytes, too short to be a capture file"),
            (&pcap_start, "10 bytes, too short to be a capture file"),
            (
                &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
                "gzip-compressed, not a capture file; unpack it first (`zcat FILE | c2tap replay -`",
            ),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0, 0], "zstd-compressed"),
            (b"\xfd7zXZ\0 and more", "xz-compressed"),
            (b"BZh91AY&SY", "bzip2-compressed"),
        ] {
            let f = file_with(bytes);
            let err = CaptureFile::open(f.path()).unwrap_err();
            assert_eq!(err.kind(), "not_a_capture");
            let text = err.to_string();
            assert!(text.starts_with(&f.path().display().to_string()), "{text}");
            assert!(text.contains(says), "{text}");
        }
    }

    #[test]
    fn lengths_over_the_caps_are_errors_not_allocations() {
        let mut bytes = pcap(PcapFormat::new(1), &[(T, &[1])]);
        bytes[32..36].copy_from_slice(&(MAX_PACKET + 1).to_le_bytes());
        let (_, end) = read_all(&bytes);
        assert!(
            matches!(end, Err(FileError::TooLarge { len, .. }) if len == u64::from(MAX_PACKET) + 1)
        );

        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        w.interface(NgInterface::new(1)).unwrap();
        let mut bytes = w.into_inner();
        bytes.extend_from_slice(&6u32.to_le_bytes());
        bytes.extend_from_slice(&(MAX_BLOCK + 4).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        let (_, end) = read_all(&bytes);
        assert!(
            matches!(
                end,
                Err(FileError::TooLarge {
                    limit: MAX_BLOCK,
                    ..
                })
            ),
            "{end:?}"
        );
    }

    #[test]
    fn malformed_pcapng_blocks() {
        let base = || {
            let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
            w.interface(NgInterface::new(1)).unwrap();
            w
        };
        let mut w = base();
        w.epb(3, T, &[1]).unwrap();
        let (_, end) = read_all(&w.into_inner());
        assert!(
            matches!(end, Err(FileError::Malformed { reason, .. }) if reason.contains("interface"))
        );

        let mut bytes = base().into_inner();
        bytes.extend_from_slice(&[6, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
        let (_, end) = read_all(&bytes);
        assert!(matches!(end, Err(FileError::Malformed { .. })), "{end:?}");

        let mut w = base();
        w.epb(0, T, &[1; 8]).unwrap();
        let mut bytes = w.into_inner();
        let at = bytes.len() - 4 - 8 - 8; // the EPB's captured length
        bytes[at..at + 4].copy_from_slice(&200u32.to_le_bytes());
        let (_, end) = read_all(&bytes);
        assert!(matches!(end, Err(FileError::Malformed { .. })), "{end:?}");
    }

    #[test]
    fn mutated_files_never_panic() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let id = w
            .interface(NgInterface {
                tsresol: Some(0xff),
                tsoffset: Some(i64::MIN),
                ..NgInterface::new(1)
            })
            .unwrap();
        for i in 0..20u8 {
            w.epb(id, T, &[i; 30]).unwrap();
        }
        let ng = w.into_inner();
        let pc = pcap(
            PcapFormat::new(1),
            &[(T, &[1; 30]), (T, &[2; 30]), (T, &[3; 30])],
        );
        let mut x = 0x1234_5678u32;
        for round in 0..400 {
            let mut bytes = if round % 2 == 0 {
                ng.clone()
            } else {
                pc.clone()
            };
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let at = 8 + x as usize % (bytes.len() - 8);
                bytes[at] = (x >> 8) as u8;
            }
            let _ = read_all(&bytes);
        }
    }

    #[test]
    fn every_committed_fixture_reads_to_its_end() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let (packets, end) = read_all(&bytes);
            match name.as_str() {
                "not-a-capture.pcap" => assert_eq!(end.unwrap_err().kind(), "not_a_capture"),
                "truncated.pcap" => assert_eq!(end.unwrap_err().kind(), "truncated"),
                _ => assert!(end.is_ok() && !packets.is_empty(), "{name}: {end:?}"),
            }
            read += 1;
        }
        assert!(read >= 30, "only {read} fixtures found");
    }
}
