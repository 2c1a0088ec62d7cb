//! pcapng blocks: sections of either byte order, interfaces with their own link type,
//! timestamp resolution and offset, and the three packet block kinds.

use super::bytes::{read16, read32, read64};
use super::*;
use crate::time::NANOS_PER_SEC;

/// How a pcapng interface's timestamp units become nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resolution {
    /// 10^-n with n <= 9: multiply.
    Mul(u64),
    /// 10^-n with n > 9: divide (0 when the divisor does not fit: the unit is below 1 ns).
    Div(u64),
    /// 2^-n: ns = units * 10^9 >> n.
    Pow2(u32),
}

impl Resolution {
    const MICRO: Resolution = Resolution::Mul(1_000);

    pub(super) fn from_option(byte: u8) -> Resolution {
        let n = u32::from(byte & 0x7f);
        if byte & 0x80 != 0 {
            Resolution::Pow2(n)
        } else if n <= 9 {
            Resolution::Mul(10u64.pow(9 - n))
        } else {
            Resolution::Div(10u64.checked_pow(n - 9).unwrap_or(0))
        }
    }

    pub(super) fn to_nanos(self, units: u64) -> u64 {
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
pub(super) struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// if_tsoffset: seconds added to every timestamp.
    offset_secs: i64,
}

impl CaptureFile {
    /// Blocks up to the next packet block; section and interface blocks update the format.
    pub(super) fn next_pcapng_packet(&mut self) -> RecordResult {
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

    pub(super) fn start_section(
        &mut self,
        big_endian: bool,
        block_len: usize,
    ) -> Result<(), FileError> {
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

    pub(super) fn add_interface(&mut self, block_len: usize) -> Result<(), FileError> {
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

    pub(super) fn enhanced_packet(&mut self, block_len: usize) -> RecordResult {
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

    pub(super) fn obsolete_packet(&mut self, block_len: usize) -> RecordResult {
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
    pub(super) fn packet_block(
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

    pub(super) fn simple_packet(&mut self, block_len: usize) -> RecordResult {
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
    pub(super) fn pcapng_state(&self) -> Option<(bool, &[Interface])> {
        match &self.format {
            Format::Pcapng {
                big_endian,
                interfaces,
            } => Some((*big_endian, interfaces)),
            Format::Pcap { .. } => None,
        }
    }
}

/// pcapng options (code, value) up to opt_endofopt or the end of the area.
pub(super) struct Options<'a> {
    rest: &'a [u8],
    big_endian: bool,
}

impl<'a> Options<'a> {
    pub(super) fn new(area: Option<&'a [u8]>, big_endian: bool) -> Options<'a> {
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
