//! The spool's frame: magic, flags, length and a CRC-32 over all of them and the payload, so
//! a torn write or a flipped bit costs one message and the reader finds the next intact one.

use super::MAX_MESSAGE;

/// Frame: magic (2) + flags (1) + payload length (u32 LE) + CRC-32 (u32 LE) of the magic,
/// flags, length and payload + payload.
pub(super) const MAGIC: [u8; 2] = [0xC2, 0x60];
pub(super) const FRAME_HEADER: usize = 11;
/// Flags: the message was confirmed by a receiver before (counted as sent), and it was
/// written to a receiver before (a resend may be a duplicate).
pub(super) const FLAG_COUNTED: u8 = 1;
pub(super) const FLAG_TRIED: u8 = 2;

/// What a message went through before it was spooled; kept in its frame's flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// Confirmed by a receiver once (counted in `sent`).
    pub counted: bool,
    /// Written to a receiver once (sending it again may make a duplicate).
    pub tried: bool,
}

impl Mark {
    pub(super) fn bits(self) -> u8 {
        (u8::from(self.counted) * FLAG_COUNTED) | (u8::from(self.tried) * FLAG_TRIED)
    }

    pub(super) fn from_bits(bits: u8) -> Mark {
        Mark {
            counted: bits & FLAG_COUNTED != 0,
            tried: bits & FLAG_TRIED != 0,
        }
    }
}

pub(super) fn encode_frame(out: &mut Vec<u8>, msg: &[u8], mark: Mark) {
    out.clear();
    out.extend_from_slice(&MAGIC);
    out.push(mark.bits());
    out.extend_from_slice(&(msg.len() as u32).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(out);
    crc.update(msg);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(msg);
}

/// What is at one offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// An intact frame: its payload range, where it ends, its flags.
    Frame {
        payload: usize,
        end: usize,
        mark: Mark,
    },
    /// A damaged frame; the next intact one starts here.
    Resync(usize),
    /// A damaged frame and no intact one after it.
    Torn,
}

/// Checks the frame at `at`; when it is damaged, finds the next offset where an intact frame
/// starts (magic, sane length and a matching checksum).
pub(super) fn scan_frame(bytes: &[u8], at: usize) -> Scan {
    if let Some(found) = frame_at(bytes, at) {
        return found;
    }
    let mut from = at + 1;
    while let Some(i) = bytes
        .get(from..)
        .and_then(|rest| rest.windows(2).position(|w| w == MAGIC))
    {
        if frame_at(bytes, from + i).is_some() {
            return Scan::Resync(from + i);
        }
        from += i + 1;
    }
    Scan::Torn
}

pub(super) fn frame_at(bytes: &[u8], at: usize) -> Option<Scan> {
    let header: [u8; FRAME_HEADER] = bytes.get(at..at + FRAME_HEADER)?.try_into().ok()?;
    let [m0, m1, flags, l0, l1, l2, l3, c0, c1, c2, c3] = header;
    if [m0, m1] != MAGIC || flags & !(FLAG_COUNTED | FLAG_TRIED) != 0 {
        return None;
    }
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len > MAX_MESSAGE {
        return None;
    }
    let payload = at + FRAME_HEADER;
    let msg = bytes.get(payload..payload + len)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(header.get(..7)?);
    crc.update(msg);
    (crc.finalize() == u32::from_le_bytes([c0, c1, c2, c3])).then_some(Scan::Frame {
        payload,
        end: payload + len,
        mark: Mark::from_bits(flags),
    })
}
