//! Classic pcap records: a fixed header per packet, in the file's byte order and time unit.

use super::bytes::read32;
use super::*;
use crate::time::NANOS_PER_SEC;

impl CaptureFile {
    /// One classic pcap record: (ts, link, data range in `buf`, wire length).
    pub(super) fn next_pcap_record(&mut self) -> RecordResult {
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
}
