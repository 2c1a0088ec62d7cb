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
            FileError::NotACapture { .. } => "not_a_capture",
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

impl CaptureFile {
    pub fn open(path: &Path) -> Result<CaptureFile, FileError> {
        let io_err = |source| FileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        let size = meta.is_file().then_some(meta.len());
        let mut reader = CaptureFile {
            path: path.to_path_buf(),
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
            if head.len() < 24 {
                return Err(self.truncated());
            }
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
