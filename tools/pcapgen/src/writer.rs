//! Capture-file writers: classic pcap (µs or ns, either byte order, snap length) and pcapng
//! (sections of either byte order, interfaces with their own link type, if_tsresol and
//! if_tsoffset, EPB/SPB/OPB and arbitrary blocks). Streaming: nothing is buffered beyond `W`.

use std::io::{self, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    fn u64(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

/// Settings of a classic pcap file.
#[derive(Clone, Copy, Debug)]
pub struct PcapFormat {
    pub endian: Endian,
    pub nanos: bool,
    pub snaplen: u32,
    pub link: u32,
}

impl PcapFormat {
    pub fn new(link: u32) -> PcapFormat {
        PcapFormat {
            endian: Endian::Little,
            nanos: false,
            snaplen: 262_144,
            link,
        }
    }
}

pub struct PcapWriter<W: Write> {
    out: W,
    format: PcapFormat,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, format: PcapFormat) -> io::Result<PcapWriter<W>> {
        let e = format.endian;
        let magic: u32 = if format.nanos {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        out.write_all(&e.u32(magic))?;
        out.write_all(&e.u16(2))?;
        out.write_all(&e.u16(4))?;
        out.write_all(&[0; 8])?; // thiszone, sigfigs
        out.write_all(&e.u32(format.snaplen))?;
        out.write_all(&e.u32(format.link))?;
        Ok(PcapWriter { out, format })
    }

    /// One record; the frame is cut to `cut` (if given) and to the snap length.
    pub fn write(&mut self, ts_ns: u64, frame: &[u8], cut: Option<usize>) -> io::Result<()> {
        self.write_claiming(ts_ns, frame, cut, None)
    }

    /// One record whose header claims `wire_len` (if given) as the original length.
    pub fn write_claiming(
        &mut self,
        ts_ns: u64,
        frame: &[u8],
        cut: Option<usize>,
        wire_len: Option<u32>,
    ) -> io::Result<()> {
        let e = self.format.endian;
        let caplen = frame
            .len()
            .min(self.format.snaplen as usize)
            .min(cut.unwrap_or(usize::MAX));
        let secs = (ts_ns / 1_000_000_000) as u32;
        let frac = ts_ns % 1_000_000_000;
        let frac = if self.format.nanos {
            frac
        } else {
            frac / 1_000
        } as u32;
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&e.u32(secs));
        head[4..8].copy_from_slice(&e.u32(frac));
        head[8..12].copy_from_slice(&e.u32(caplen as u32));
        head[12..16].copy_from_slice(&e.u32(wire_len.unwrap_or(frame.len() as u32)));
        self.out.write_all(&head)?;
        self.out.write_all(&frame[..caplen])
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One pcapng interface description.
#[derive(Clone, Copy, Debug)]
pub struct Interface {
    pub link: u16,
    pub snaplen: u32,
    /// if_tsresol byte: 10^-n, or 2^-n with the top bit set; `None` = default µs, option omitted.
    pub tsresol: Option<u8>,
    /// if_tsoffset in seconds; the writer subtracts it from the timestamps it stores.
    pub tsoffset: Option<i64>,
}

impl Interface {
    pub fn new(link: u16) -> Interface {
        Interface {
            link,
            snaplen: 0,
            tsresol: None,
            tsoffset: None,
        }
    }

    /// Nanoseconds since the epoch → this interface's timestamp units.
    fn units(&self, ts_ns: u64) -> u64 {
        let ns = i128::from(ts_ns) - i128::from(self.tsoffset.unwrap_or(0)) * 1_000_000_000;
        let ns = ns.max(0) as u128;
        let byte = self.tsresol.unwrap_or(6);
        let n = u32::from(byte & 0x7f);
        let units = if byte & 0x80 != 0 {
            (ns << n) / 1_000_000_000
        } else if n <= 9 {
            ns / 10u128.pow(9 - n)
        } else {
            ns * 10u128.pow(n - 9)
        };
        units as u64
    }
}

pub struct PcapngWriter<W: Write> {
    out: W,
    endian: Endian,
    interfaces: Vec<Interface>,
}

impl<W: Write> PcapngWriter<W> {
    /// Starts the file with a section header block.
    pub fn new(out: W, endian: Endian) -> io::Result<PcapngWriter<W>> {
        let mut w = PcapngWriter {
            out,
            endian,
            interfaces: Vec::new(),
        };
        w.section(endian)?;
        Ok(w)
    }

    /// A new section: its own byte order, no interfaces yet.
    pub fn section(&mut self, endian: Endian) -> io::Result<()> {
        self.endian = endian;
        self.interfaces.clear();
        let mut body = Vec::new();
        body.extend_from_slice(&endian.u32(0x1a2b_3c4d));
        body.extend_from_slice(&endian.u16(1));
        body.extend_from_slice(&endian.u16(0));
        body.extend_from_slice(&endian.u64(u64::MAX)); // section length unknown
        self.block(0x0a0d_0d0a, &body)
    }

    /// Declares an interface; returns its id within the section.
    pub fn interface(&mut self, iface: Interface) -> io::Result<u32> {
        let e = self.endian;
        let mut body = Vec::new();
        body.extend_from_slice(&e.u16(iface.link));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&e.u32(iface.snaplen));
        if let Some(r) = iface.tsresol {
            self.option(&mut body, 9, &[r]);
        }
        if let Some(off) = iface.tsoffset {
            self.option(&mut body, 14, &e.u64(off as u64));
        }
        if iface.tsresol.is_some() || iface.tsoffset.is_some() {
            body.extend_from_slice(&[0; 4]); // opt_endofopt
        }
        self.block(1, &body)?;
        self.interfaces.push(iface);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Enhanced packet block.
    pub fn epb(&mut self, iface: u32, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let units = self.units(iface, ts_ns);
        let e = self.endian;
        let mut body = Vec::with_capacity(20 + frame.len() + 3);
        body.extend_from_slice(&e.u32(iface));
        body.extend_from_slice(&e.u32((units >> 32) as u32));
        body.extend_from_slice(&e.u32(units as u32));
        body.extend_from_slice(&e.u32(frame.len() as u32));
        body.extend_from_slice(&e.u32(frame.len() as u32));
        body.extend_from_slice(frame);
        self.block(6, &body)
    }

    /// Obsolete packet block (type 2): 16-bit interface id and drop count.
    pub fn opb(&mut self, iface: u16, ts_ns: u64, frame: &[u8]) -> io::Result<()> {
        let units = self.units(iface.into(), ts_ns);
        let e = self.endian;
        let mut body = Vec::with_capacity(20 + frame.len() + 3);
        body.extend_from_slice(&e.u16(iface));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&e.u32((units >> 32) as u32));
        body.extend_from_slice(&e.u32(units as u32));
        body.extend_from_slice(&e.u32(frame.len() as u32));
        body.extend_from_slice(&e.u32(frame.len() as u32));
        body.extend_from_slice(frame);
        self.block(2, &body)
    }

    /// Simple packet block: interface 0, no timestamp.
    pub fn spb(&mut self, frame: &[u8]) -> io::Result<()> {
        let mut body = self.endian.u32(frame.len() as u32).to_vec();
        body.extend_from_slice(frame);
        self.block(3, &body)
    }

    /// Any block, body padded to 4 bytes (e.g. a custom or name-resolution block a reader skips).
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let padded = body.len().next_multiple_of(4);
        let total = (12 + padded) as u32;
        let e = self.endian;
        self.out.write_all(&e.u32(block_type))?;
        self.out.write_all(&e.u32(total))?;
        self.out.write_all(body)?;
        self.out.write_all(&[0; 3][..padded - body.len()])?;
        self.out.write_all(&e.u32(total))
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn units(&self, iface: u32, ts_ns: u64) -> u64 {
        self.interfaces
            .get(iface as usize)
            .map_or(ts_ns / 1_000, |i| i.units(ts_ns))
    }

    fn option(&self, body: &mut Vec<u8>, code: u16, value: &[u8]) {
        body.extend_from_slice(&self.endian.u16(code));
        body.extend_from_slice(&self.endian.u16(value.len() as u16));
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(4), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_header_and_record_little_endian_micro() {
        let mut w = PcapWriter::new(Vec::new(), PcapFormat::new(1)).unwrap();
        w.write(1_500_000_123, &[1, 2, 3], None).unwrap();
        let b = w.into_inner();
        assert_eq!(&b[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&b[20..24], &[1, 0, 0, 0]);
        assert_eq!(&b[24..28], &[1, 0, 0, 0]);
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 500_000);
        assert_eq!(b.len(), 24 + 16 + 3);
    }

    #[test]
    fn pcap_big_endian_nanos_and_snaplen_cut() {
        let f = PcapFormat {
            endian: Endian::Big,
            nanos: true,
            snaplen: 2,
            link: 101,
        };
        let mut w = PcapWriter::new(Vec::new(), f).unwrap();
        w.write(7, &[1, 2, 3], None).unwrap();
        let b = w.into_inner();
        assert_eq!(&b[0..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
        assert_eq!(&b[28..32], &[0, 0, 0, 7]);
        assert_eq!(
            &b[32..36],
            &[0, 0, 0, 2],
            "captured length cut to the snap length"
        );
        assert_eq!(&b[36..40], &[0, 0, 0, 3], "wire length kept");
        assert_eq!(b.len(), 24 + 16 + 2);
    }

    #[test]
    fn pcapng_blocks_are_padded_and_framed() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        let id = w
            .interface(Interface {
                tsresol: Some(9),
                ..Interface::new(1)
            })
            .unwrap();
        w.epb(id, 5, &[0xaa]).unwrap();
        let b = w.into_inner();
        assert_eq!(&b[0..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 28);
        let idb = &b[28..];
        assert_eq!(u32::from_le_bytes(idb[0..4].try_into().unwrap()), 1);
        let idb_len = u32::from_le_bytes(idb[4..8].try_into().unwrap()) as usize;
        assert_eq!(idb_len, 20 + 8 + 4);
        let epb = &idb[idb_len..];
        assert_eq!(u32::from_le_bytes(epb[4..8].try_into().unwrap()), 32 + 4);
        assert_eq!(
            u32::from_le_bytes(epb[16..20].try_into().unwrap()),
            5,
            "ns resolution"
        );
    }

    #[test]
    fn timestamp_units_per_resolution_and_offset() {
        let ns = 1_778_335_407_123_456_789u64;
        assert_eq!(Interface::new(1).units(ns), ns / 1_000);
        assert_eq!(
            Interface {
                tsresol: Some(3),
                ..Interface::new(1)
            }
            .units(ns),
            ns / 1_000_000
        );
        assert_eq!(
            Interface {
                tsresol: Some(0x80 | 10),
                ..Interface::new(1)
            }
            .units(2_000_000_000),
            2048
        );
        let off = Interface {
            tsoffset: Some(1_000),
            ..Interface::new(1)
        };
        assert_eq!(off.units(1_000_000_001_000), 1);
    }
}
