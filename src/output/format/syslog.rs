//! Syslog envelope: puts the CEF text of a record into the one message shape the Azure Monitor
//! Agent's CEF path classifies reliably — RFC 3164 `<PRI>Mmm dd hh:mm:ss HOST CEF:0|...`, no tag
//! before `CEF:` — with RFC 5424 as an option, and frames messages for stream transports (LF, or
//! RFC 6587 octet counting). Sits between the CEF writer and the transports.

use std::str::FromStr;

use serde::Deserialize;

use crate::exclude::severity::SeverityTable;
use crate::output::format::cef::write_cef_within;
use crate::output::timefmt::{push_u64, Civil};
use crate::record::{Record, SensorContext};

/// Syslog severity in every PRI: warning. The CEF Severity is independent (it lands in
/// LogSeverity); one fixed level keeps the forwarder's DCR minimum-level filter simple.
pub const SEVERITY_WARNING: u8 = 4;

/// Syslog facility. Default `local4`: a facility of its own, so the forwarder's CEF rule and
/// Syslog rule do not both collect the records (duplicates in two tables).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    Kern = 0,
    User = 1,
    Mail = 2,
    Daemon = 3,
    Auth = 4,
    Syslog = 5,
    Lpr = 6,
    News = 7,
    Uucp = 8,
    Cron = 9,
    Authpriv = 10,
    Local0 = 16,
    Local1 = 17,
    Local2 = 18,
    Local3 = 19,
    #[default]
    Local4 = 20,
    Local5 = 21,
    Local6 = 22,
    Local7 = 23,
}

impl Facility {
    /// PRI value `facility * 8 + severity`.
    pub fn pri(self, severity: u8) -> u8 {
        (self as u8) * 8 + (severity & 7)
    }
}

impl FromStr for Facility {
    type Err = String;

    fn from_str(s: &str) -> Result<Facility, String> {
        Facility::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(s))
            .map_err(|_| format!("unknown syslog facility {s:?} (kern, user, ..., local0-local7)"))
    }
}

/// How a stream transport separates messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// Message + LF (RFC 6587 non-transparent framing): what Microsoft's forwarder setup (rsyslog
    /// imtcp, syslog-ng tcp()) reads. Safe because CEF never contains a raw LF.
    #[default]
    Lf,
    /// `LEN SP MSG` (RFC 6587 octet counting, RFC 5425 for TLS). syslog-ng's `tcp()` source
    /// keeps the digits in the message, so only for receivers known to support it.
    OctetCounting,
}

impl Framing {
    /// Appends `msg` framed for a stream.
    pub fn frame(self, out: &mut Vec<u8>, msg: &[u8]) {
        match self {
            Framing::Lf => {
                out.extend_from_slice(msg);
                out.push(b'\n');
            }
            Framing::OctetCounting => {
                push_u64(out, msg.len() as u64);
                out.push(b' ');
                out.extend_from_slice(msg);
            }
        }
    }
}

/// Everything that is the same in every message of one output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pri: u8,
    rfc5424: bool,
    hostname: String,
    max_bytes: usize,
}

impl Envelope {
    /// `hostname` is cleaned to printable ASCII without spaces (a space would end the HOSTNAME
    /// field and push the rest into the tag). `max_bytes` bounds the whole message, header
    /// included, framing excluded.
    pub fn new(facility: Facility, rfc5424: bool, hostname: &str, max_bytes: usize) -> Envelope {
        let mut clean: String = hostname
            .chars()
            .take(255)
            .map(|c| if c.is_ascii_graphic() { c } else { '-' })
            .collect();
        if clean.is_empty() {
            clean.push('-');
        }
        Envelope {
            pri: facility.pri(SEVERITY_WARNING),
            rfc5424,
            hostname: clean,
            max_bytes,
        }
    }

    /// Appends the syslog message for `rec` (no framing). Returns false when the record could
    /// not be shortened to the size limit (it is then written with its free text emptied).
    pub fn write(
        &self,
        buf: &mut Vec<u8>,
        rec: &Record,
        ctx: &SensorContext,
        severity: &SeverityTable,
    ) -> bool {
        let start = buf.len();
        buf.push(b'<');
        push_u64(buf, u64::from(self.pri));
        buf.push(b'>');
        let time = Civil::from_nanos(record_time(rec));
        if self.rfc5424 {
            buf.extend_from_slice(b"1 ");
            time.write_rfc5424(buf);
        } else {
            time.write_rfc3164(buf);
        }
        buf.push(b' ');
        buf.extend_from_slice(self.hostname.as_bytes());
        if self.rfc5424 {
            buf.extend_from_slice(b" c2tap - - -");
        }
        buf.push(b' ');
        let budget = self.max_bytes.saturating_sub(buf.len() - start);
        write_cef_within(buf, rec, ctx, severity, budget)
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }
}

/// The time a record is about: flow start (CEF `rt`) or the health sample time.
pub fn record_time(rec: &Record) -> u64 {
    match rec {
        Record::Flow(flow) => flow.start,
        Record::Health(health) => health.time,
    }
}

/// This machine's host name (from the kernel), or `localhost` when it cannot be read.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exclude::severity::DEFAULT;
    use crate::output::format::cef::{write_cef, VERSION};
    use crate::output::format::examples::{ctx, flow_record, health_record};

    fn message(env: &Envelope, rec: &Record) -> String {
        let mut buf = Vec::new();
        assert!(env.write(&mut buf, rec, &ctx(), &DEFAULT));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn rfc3164_default_shape() {
        let env = Envelope::new(Facility::default(), false, "sensor01", 2048);
        let text = message(&env, &flow_record());
        let mut cef = Vec::new();
        write_cef(&mut cef, &flow_record(), &ctx(), &DEFAULT);
        assert_eq!(
            text,
            format!(
                "<164>May  9 14:03:27 sensor01 {}",
                String::from_utf8(cef).unwrap()
            )
        );
        assert!(text.starts_with(&format!(
            "<164>May  9 14:03:27 sensor01 CEF:0|c2tap|c2tap|{VERSION}|1001|"
        )));
    }

    #[test]
    fn rfc5424_and_facilities() {
        let env = Envelope::new(Facility::Local0, true, "host with space", 2048);
        let text = message(&env, &health_record());
        assert!(
            text.starts_with("<132>1 2026-05-09T14:03:27.123Z host-with-space c2tap - - - CEF:0|"),
            "{text}"
        );
        assert_eq!(Facility::Kern.pri(SEVERITY_WARNING), 4);
        assert_eq!(
            "local7".parse::<Facility>().unwrap().pri(SEVERITY_WARNING),
            188
        );
        assert!("local8".parse::<Facility>().is_err());
        assert_eq!(Envelope::new(Facility::User, false, "", 10).hostname(), "-");
    }

    #[test]
    fn size_limit_covers_the_header() {
        let env = Envelope::new(Facility::Local4, false, "sensor01", 600);
        let mut buf = Vec::new();
        assert!(env.write(&mut buf, &flow_record(), &ctx(), &DEFAULT));
        assert!(buf.len() <= 600 && buf.len() > 590, "{}", buf.len());
    }

    #[test]
    fn framing() {
        let mut out = Vec::new();
        Framing::OctetCounting.frame(&mut out, b"<164>abc");
        Framing::Lf.frame(&mut out, b"<164>x");
        assert_eq!(out, b"8 <164>abc<164>x\n");
    }

    #[test]
    fn hostname_is_read() {
        assert!(!local_hostname().is_empty());
    }
}
