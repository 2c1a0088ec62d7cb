//! RELP, the Reliable Event Logging Protocol of rsyslog (imrelp), client side. Plain syslog
//! over TCP has no acknowledgement from the receiving program; RELP answers every message with
//! `rsp 200` once the receiver has taken it, so the sender releases a message only then.
//!
//! Frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. The session opens with `open` (offers
//! `commands=syslog`), carries one `syslog` frame per message and ends with `close`; up to
//! [`WINDOW`] messages are outstanding at once. Hand-written: no RELP client crate is kept up
//! on crates.io, and the client side is this one small file.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use super::{Watch, Wire, IO_TIMEOUT};
use crate::output::timefmt::push_u64;

/// Messages in flight before the sender waits for answers (rsyslog's own default window).
pub const WINDOW: usize = 128;
/// Transaction numbers run 1 ..= this, then wrap to 1 (RELP).
const TXNR_MAX: u32 = 999_999_999;
/// Largest answer frame read; answers are a status line and a few offers.
const MAX_ANSWER: usize = 64 * 1024;
const OFFERS: &str = concat!(
    "relp_version=0\nrelp_software=c2tap,",
    env!("CARGO_PKG_VERSION"),
    "\ncommands=syslog"
);

/// An open RELP session.
pub struct Relp {
    wire: Wire,
    acks: Acks,
}

/// The session's bookkeeping: what is outstanding and what came back.
struct Acks {
    next_txnr: u32,
    /// Messages sent on this session: the position of the last one.
    sent: u64,
    /// (txnr, position, answered) of each message not yet released, oldest first.
    outstanding: VecDeque<(u32, u64, bool)>,
    /// Position of the last message released (answered, with everything before it).
    confirmed: u64,
    /// Bytes received and not yet parsed.
    inbuf: Vec<u8>,
}

impl Relp {
    /// Opens the session: `open` with our offers, and waits for `200 OK`.
    pub fn open(mut wire: Wire) -> io::Result<Relp> {
        let mut frame = Vec::new();
        push_frame(&mut frame, 1, "open", OFFERS.as_bytes());
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut late = |_: &mut Wire| {
            if Instant::now() >= deadline {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "RELP open timed out",
                ))
            } else {
                Ok(())
            }
        };
        wire.write_watched(&frame, &mut late)?;
        let mut acks = Acks {
            next_txnr: 2,
            sent: 0,
            outstanding: VecDeque::new(),
            confirmed: 0,
            inbuf: Vec::new(),
        };
        loop {
            if let Some((txnr, command, data)) = acks.next_frame()? {
                if txnr != 1 || command != "rsp" {
                    return Err(protocol(format!(
                        "unexpected {command:?} (txnr {txnr}) in answer to open"
                    )));
                }
                if !data.starts_with("200") {
                    return Err(protocol(format!(
                        "receiver refused the session: {}",
                        first_line(&data)
                    )));
                }
                if !data.lines().any(|l| {
                    l.strip_prefix("commands=")
                        .is_some_and(|c| c.split(',').any(|c| c == "syslog"))
                }) {
                    return Err(protocol(
                        "receiver does not offer the syslog command".into(),
                    ));
                }
                return Ok(Relp { wire, acks });
            }
            acks.read(&mut wire, true)?;
            late(&mut wire)?;
        }
    }

    /// Sends one message; returns its position. Waits while [`WINDOW`] messages are
    /// unanswered, failing when `watch` says the receiver stalled or the deadline passed.
    pub fn send(&mut self, msg: &[u8], frame: &mut Vec<u8>, watch: &mut Watch) -> io::Result<u64> {
        let Relp { wire, acks } = self;
        acks.poll(wire, false)?;
        while acks.outstanding.len() >= WINDOW {
            let confirmed = acks.poll(wire, true)?;
            watch.observe(confirmed, acks.sent)?;
        }
        let txnr = acks.next_txnr;
        acks.next_txnr = if txnr >= TXNR_MAX { 1 } else { txnr + 1 };
        frame.clear();
        push_frame(frame, txnr, "syslog", msg);
        acks.sent += 1;
        acks.outstanding.push_back((txnr, acks.sent, false));
        wire.write_watched(frame, &mut |w| {
            let confirmed = acks.poll(w, false)?;
            watch.observe(confirmed, acks.sent)
        })?;
        Ok(acks.sent)
    }

    /// Reads the answers that arrived (up to one tick's wait when `block`) and returns the
    /// position confirmed so far.
    pub fn poll(&mut self, block: bool) -> io::Result<u64> {
        self.acks.poll(&mut self.wire, block)
    }

    /// `close`, a short wait for its answer, then the stream ends.
    pub fn close(mut self) {
        let mut frame = Vec::new();
        push_frame(&mut frame, self.acks.next_txnr, "close", b"");
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut late = |_: &mut Wire| {
            if Instant::now() >= deadline {
                Err(super::deadline_error())
            } else {
                Ok(())
            }
        };
        if self.wire.write_watched(&frame, &mut late).is_ok() {
            while Instant::now() < deadline {
                // The receiver answers `rsp` and closes; either ends the wait.
                if self.acks.read(&mut self.wire, true).is_err() {
                    break;
                }
                if matches!(self.acks.next_frame(), Ok(Some((_, c, _))) if c == "rsp") {
                    break;
                }
            }
        }
        self.wire.close();
    }
}

impl Acks {
    fn poll(&mut self, wire: &mut Wire, block: bool) -> io::Result<u64> {
        self.read(wire, block)?;
        while let Some((txnr, command, data)) = self.next_frame()? {
            match command.as_str() {
                "rsp" => {
                    if !data.starts_with("200") {
                        return Err(protocol(format!(
                            "receiver refused message {txnr}: {}",
                            first_line(&data)
                        )));
                    }
                    if let Some(entry) = self.outstanding.iter_mut().find(|e| e.0 == txnr) {
                        entry.2 = true;
                    }
                }
                "serverclose" => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "receiver closed the RELP session (serverclose)",
                    ))
                }
                other => return Err(protocol(format!("unexpected RELP command {other:?}"))),
            }
        }
        while let Some(&(_, pos, true)) = self.outstanding.front() {
            self.confirmed = pos;
            self.outstanding.pop_front();
        }
        if self.outstanding.is_empty() {
            self.confirmed = self.sent;
        }
        Ok(self.confirmed)
    }

    fn read(&mut self, wire: &mut Wire, block: bool) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        let n = wire.read_some(&mut buf, block)?;
        self.inbuf
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        if self.inbuf.len() > MAX_ANSWER + 64 {
            return Err(protocol("answer frame too long".into()));
        }
        Ok(())
    }

    /// Takes one complete frame off the input, if there is one.
    fn next_frame(&mut self) -> io::Result<Option<(u32, String, String)>> {
        match parse_frame(&self.inbuf) {
            Ok(Some((txnr, command, data, used))) => {
                let frame = (txnr, command.to_string(), data.to_string());
                self.inbuf.drain(..used);
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(why) => Err(protocol(why.to_string())),
        }
    }
}

fn protocol(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("RELP: {why}"))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Appends `TXNR SP COMMAND SP DATALEN [SP DATA] LF`.
pub fn push_frame(out: &mut Vec<u8>, txnr: u32, command: &str, data: &[u8]) {
    push_u64(out, u64::from(txnr));
    out.push(b' ');
    out.extend_from_slice(command.as_bytes());
    out.push(b' ');
    push_u64(out, data.len() as u64);
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// A parsed frame: transaction number, command, data, bytes taken.
type Parsed<'a> = (u32, &'a str, std::borrow::Cow<'a, str>, usize);

/// Parses one frame at the start of `buf`: `Ok(None)` when it is not complete yet, else the
/// transaction number, command, data (lossy UTF-8) and the bytes it took.
fn parse_frame(buf: &[u8]) -> Result<Option<Parsed<'_>>, &'static str> {
    let mut fields = [0usize; 2];
    let mut pos = 0;
    for end in &mut fields {
        match buf.iter().skip(pos).position(|&b| b == b' ') {
            Some(i) => {
                *end = pos + i;
                pos += i + 1;
            }
            None if buf.len() - pos > 32 => return Err("malformed frame header"),
            None => return Ok(None),
        }
    }
    let [txnr_end, cmd_end] = fields;
    let txnr = std::str::from_utf8(buf.get(..txnr_end).unwrap_or_default())
        .ok()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or("bad transaction number")?;
    let command = std::str::from_utf8(buf.get(txnr_end + 1..cmd_end).unwrap_or_default())
        .ok()
        .filter(|c| !c.is_empty() && c.len() <= 32 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or("bad command")?;
    let rest = buf.get(cmd_end + 1..).unwrap_or_default();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == rest.len() {
        return if digits > 9 {
            Err("bad data length")
        } else {
            Ok(None)
        };
    }
    let len: usize = std::str::from_utf8(rest.get(..digits).unwrap_or_default())
        .ok()
        .and_then(|d| d.parse().ok())
        .filter(|&n| n <= MAX_ANSWER)
        .ok_or("bad data length")?;
    let head = cmd_end + 1 + digits;
    let (data_start, need) = if len == 0 {
        (head, head + 1)
    } else {
        (head + 1, head + 1 + len + 1)
    };
    if buf.len() < need {
        return Ok(None);
    }
    if len > 0 && buf.get(head) != Some(&b' ') {
        return Err("no space before data");
    }
    if buf.get(need - 1) != Some(&b'\n') {
        return Err("frame does not end in LF");
    }
    let data = String::from_utf8_lossy(buf.get(data_start..data_start + len).unwrap_or_default());
    Ok(Some((txnr, command, data, need)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_partial_input_waits() {
        let mut out = Vec::new();
        push_frame(&mut out, 7, "rsp", b"200 OK");
        push_frame(&mut out, 8, "close", b"");
        assert_eq!(out, b"7 rsp 6 200 OK\n8 close 0\n");
        let (txnr, cmd, data, used) = parse_frame(&out).unwrap().unwrap();
        assert_eq!((txnr, cmd, data.as_ref(), used), (7, "rsp", "200 OK", 15));
        let (txnr, cmd, data, used) = parse_frame(&out[15..]).unwrap().unwrap();
        assert_eq!((txnr, cmd, data.as_ref(), used), (8, "close", "", 10));
        for cut in 0..15 {
            assert_eq!(parse_frame(&out[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b"x rsp 1 a\n"[..],
            b"1 r$p 1 a\n",
            b"1 rsp 99999999999 a\n",
            b"1 rsp 2 abc\n",
            b"1 rsp 2xab\n",
            b"11111111111111111111111111111111111111111111",
        ] {
            assert!(
                parse_frame(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
