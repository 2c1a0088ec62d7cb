//! DNS messages (RFC 1035) as the name path reads them: the question name and the A/AAAA/CNAME
//! answers with their TTLs. Runs only on port-53 payloads and only when name IOCs are loaded.
//!
//! Pure and bounded: names are written into a caller-owned [`Name`] (255 bytes on the stack),
//! compression pointers must point strictly backwards (so no loop can form) and are capped in
//! number, labels over 63 bytes and names over 255 bytes are errors, and at most
//! [`MAX_ANSWERS`] answers are read (the rest counted by the caller). Every error is a
//! [`DnsError`] value with a metric label, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most answer records read from one message; more are counted ([`Message::answer_count`]
/// tells how many were stated) and ignored. Real replies carry a handful.
pub const MAX_ANSWERS: usize = 64;
/// Most compression pointers followed in one name. With strictly backward pointers a loop is
/// impossible anyway; this bounds the work of a long backward chain.
const MAX_JUMPS: usize = 32;
/// Longest name on the wire, length octets included (RFC 1035 §2.3.4).
pub const MAX_NAME_WIRE: usize = 255;
const MAX_LABEL: usize = 63;
const HEADER: usize = 12;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// Why a DNS message was skipped. `kind()` is the metric label (a closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsError {
    /// The message ends inside its header, a name or a record.
    Truncated,
    /// A label longer than 63 bytes (or the reserved 0x40/0x80 label types).
    BadLabel,
    /// A name longer than 255 bytes.
    NameTooLong,
    /// A compression pointer that does not point strictly backwards, or too many of them.
    BadPointer,
    /// Not exactly one question (what resolvers send and answer).
    NotOneQuestion,
    /// DNS over TCP whose length prefix disagrees with the segment.
    BadTcpLength,
}

impl DnsError {
    pub const ALL: [DnsError; 6] = [
        DnsError::Truncated,
        DnsError::BadLabel,
        DnsError::NameTooLong,
        DnsError::BadPointer,
        DnsError::NotOneQuestion,
        DnsError::BadTcpLength,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            DnsError::Truncated => "dns_truncated",
            DnsError::BadLabel => "dns_bad_label",
            DnsError::NameTooLong => "dns_name_too_long",
            DnsError::BadPointer => "dns_bad_pointer",
            DnsError::NotOneQuestion => "dns_not_one_question",
            DnsError::BadTcpLength => "dns_bad_tcp_length",
        }
    }

    pub fn index(self) -> usize {
        DnsError::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

/// A decoded name in dotted form, ASCII lower-cased (DNS compares names case-insensitively),
/// without a trailing dot. Fixed size so decoding never allocates.
#[derive(Clone, Copy)]
pub struct Name {
    len: u8,
    bytes: [u8; MAX_NAME_WIRE],
}

impl Default for Name {
    fn default() -> Self {
        Name {
            len: 0,
            bytes: [0; MAX_NAME_WIRE],
        }
    }
}

impl Name {
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    fn push(&mut self, b: u8) -> Result<(), DnsError> {
        let slot = self
            .bytes
            .get_mut(usize::from(self.len))
            .ok_or(DnsError::NameTooLong)?;
        *slot = b.to_ascii_lowercase();
        self.len += 1;
        Ok(())
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// What an answer record carries, for the types the name path follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rdata {
    Addr(IpAddr),
    /// Offset of the CNAME target's name in the message (decode with [`Message::name_at`]).
    Cname(usize),
    /// Any other type (or a malformed A/AAAA length): skipped.
    Other(u16),
}

/// One answer record: owner name offset, TTL and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Offset of the owner name in the message.
    pub name_at: usize,
    pub ttl: u32,
    pub data: Rdata,
}

/// A checked DNS message: header read, question decoded; answers are read on demand.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    pub id: u16,
    pub is_response: bool,
    /// RCODE (0 = no error, 3 = NXDOMAIN).
    pub rcode: u8,
    pub qtype: u16,
    /// Answer count as stated by the header (may exceed what is read).
    pub answer_count: u16,
    answers_at: usize,
}

/// The message inside a TCP DNS segment: a 2-byte length prefix, then the message. Only a
/// message that starts and ends in this segment is read (a reply spanning segments is counted
/// as [`DnsError::BadTcpLength`]).
pub fn tcp_message(segment: &[u8]) -> Result<&[u8], DnsError> {
    let (len, rest) = segment
        .split_first_chunk::<2>()
        .ok_or(DnsError::Truncated)?;
    let len = usize::from(u16::from_be_bytes(*len));
    rest.get(..len).ok_or(DnsError::BadTcpLength)
}

impl<'a> Message<'a> {
    /// Read the header and the single question; `qname` receives the question name.
    pub fn parse(bytes: &'a [u8], qname: &mut Name) -> Result<Message<'a>, DnsError> {
        let header = bytes.first_chunk::<HEADER>().ok_or(DnsError::Truncated)?;
        let id = u16::from_be_bytes([header[0], header[1]]);
        let flags = u16::from_be_bytes([header[2], header[3]]);
        let qd = u16::from_be_bytes([header[4], header[5]]);
        let an = u16::from_be_bytes([header[6], header[7]]);
        if qd != 1 {
            return Err(DnsError::NotOneQuestion);
        }
        let mut msg = Message {
            bytes,
            id,
            is_response: flags & 0x8000 != 0,
            rcode: (flags & 0x000f) as u8,
            qtype: 0,
            answer_count: an,
            answers_at: 0,
        };
        let after = msg.name_at(HEADER, qname)?;
        msg.qtype = be16(bytes, after)?;
        let _class = be16(bytes, after + 2)?;
        msg.answers_at = after + 4;
        Ok(msg)
    }

    /// Decode the name at `at` into `out`; returns the offset just past the name where it
    /// sits (past the first pointer, if any).
    pub fn name_at(&self, at: usize, out: &mut Name) -> Result<usize, DnsError> {
        out.len = 0;
        let mut pos = at;
        let mut end = None;
        let mut jumps = 0;
        // Wire length so far: each label's length octet plus its bytes, and the final zero.
        let mut wire = 1;
        loop {
            let len = *self.bytes.get(pos).ok_or(DnsError::Truncated)?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    return Ok(end.unwrap_or(pos + 1));
                }
                0x00 => {
                    let len = usize::from(len);
                    if len > MAX_LABEL {
                        return Err(DnsError::BadLabel);
                    }
                    wire += 1 + len;
                    if wire > MAX_NAME_WIRE {
                        return Err(DnsError::NameTooLong);
                    }
                    let label = self
                        .bytes
                        .get(pos + 1..pos + 1 + len)
                        .ok_or(DnsError::Truncated)?;
                    if out.len > 0 {
                        out.push(b'.')?;
                    }
                    for &b in label {
                        out.push(b)?;
                    }
                    pos += 1 + len;
                }
                0xc0 => {
                    let target = usize::from(be16(self.bytes, pos)? & 0x3fff);
                    jumps += 1;
                    if target >= pos || jumps > MAX_JUMPS {
                        return Err(DnsError::BadPointer);
                    }
                    end.get_or_insert(pos + 2);
                    pos = target;
                }
                _ => return Err(DnsError::BadLabel),
            }
        }
    }

    /// The answer records, at most [`MAX_ANSWERS`]; a malformed record ends the walk with its
    /// error (the answers before it were already yielded).
    pub fn answers(&self) -> Answers<'a> {
        let count = if self.is_response {
            usize::from(self.answer_count).min(MAX_ANSWERS)
        } else {
            0
        };
        Answers {
            msg: *self,
            at: self.answers_at,
            left: count,
        }
    }
}

/// Iterator over a message's answers (see [`Message::answers`]).
pub struct Answers<'a> {
    msg: Message<'a>,
    at: usize,
    left: usize,
}

impl Iterator for Answers<'_> {
    type Item = Result<Answer, DnsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.read();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

impl Answers<'_> {
    fn read(&mut self) -> Result<Answer, DnsError> {
        let name_at = self.at;
        let mut scratch = Name::default();
        let after = self.msg.name_at(name_at, &mut scratch)?;
        let bytes = self.msg.bytes;
        let rtype = be16(bytes, after)?;
        let class = be16(bytes, after + 2)?;
        let ttl = be32(bytes, after + 4)?;
        let rdlen = usize::from(be16(bytes, after + 8)?);
        let rdata_at = after + 10;
        let rdata = bytes
            .get(rdata_at..rdata_at + rdlen)
            .ok_or(DnsError::Truncated)?;
        self.at = rdata_at + rdlen;
        let data = match (class, rtype) {
            (CLASS_IN, TYPE_A) => match rdata.first_chunk::<4>() {
                Some(a) if rdlen == 4 => Rdata::Addr(IpAddr::V4(Ipv4Addr::from(*a))),
                _ => Rdata::Other(rtype),
            },
            (CLASS_IN, TYPE_AAAA) => match rdata.first_chunk::<16>() {
                Some(a) if rdlen == 16 => Rdata::Addr(IpAddr::V6(Ipv6Addr::from(*a))),
                _ => Rdata::Other(rtype),
            },
            (CLASS_IN, TYPE_CNAME) => {
                // Checked now so a bad target is this record's error, not a later surprise.
                self.msg.name_at(rdata_at, &mut scratch)?;
                Rdata::Cname(rdata_at)
            }
            _ => Rdata::Other(rtype),
        };
        Ok(Answer { name_at, ttl, data })
    }
}

fn be16(b: &[u8], at: usize) -> Result<u16, DnsError> {
    b.get(at..)
        .and_then(|s| s.first_chunk::<2>())
        .map(|c| u16::from_be_bytes(*c))
        .ok_or(DnsError::Truncated)
}

fn be32(b: &[u8], at: usize) -> Result<u32, DnsError> {
    b.get(at..)
        .and_then(|s| s.first_chunk::<4>())
        .map(|c| u32::from_be_bytes(*c))
        .ok_or(DnsError::Truncated)
}

/// Builders for DNS messages, shared by the unit tests, fuzz seeds and fixture generator
/// expectations.
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::indexing_slicing)]
pub mod build {
    /// `name` as wire labels (no compression).
    pub fn name(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    /// A query for `qname` of type `qtype`.
    pub fn query(id: u16, qname: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![
            (id >> 8) as u8,
            id as u8,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        m.extend(name(qname));
        m.extend([(qtype >> 8) as u8, qtype as u8, 0, 1]);
        m
    }

    /// One answer record: owner (wire bytes), type, ttl, rdata.
    pub fn record(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut r = owner.to_vec();
        r.extend(rtype.to_be_bytes());
        r.extend(1u16.to_be_bytes());
        r.extend(ttl.to_be_bytes());
        r.extend((rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    /// A response to [`query`] with the given answer records appended.
    pub fn response(id: u16, qname: &str, qtype: u16, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut m = query(id, qname, qtype);
        m[2] = 0x81;
        m[3] = 0x80;
        let n = answers.len() as u16;
        m[6] = (n >> 8) as u8;
        m[7] = n as u8;
        for a in answers {
            m.extend_from_slice(a);
        }
        m
    }

    /// The pointer to the question name (always at offset 12).
    pub const QNAME_PTR: [u8; 2] = [0xc0, 12];
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
#[path = "dns_tests.rs"]
mod tests;
