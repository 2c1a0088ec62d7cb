//! CEF formatting: the last pure step before a record leaves the sensor. One function renders a
//! [`Record`] into a caller-owned, reused buffer in the exact layout fixed by the project's
//! record format (header, then extension keys in a fixed order), so stdout, files and syslog all
//! carry identical CEF. A size budget shortens a record field by field instead of letting a
//! receiver cut it mid-escape.

use std::fmt::Display;
use std::io::Write as _;
use std::net::IpAddr;

use crate::decode::Tunnel;
use crate::output::timefmt::{feed_time_millis, push_u64};
use crate::record::{FlowRecord, HealthRecord, Record, SensorContext, Signature};
use crate::time::to_millis;

pub const VENDOR: &str = "c2tap";
pub const PRODUCT: &str = "c2tap";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Appends the CEF text of `rec` to `buf` (no trailing newline). The caller clears the buffer
/// between records; appending lets the syslog envelope go in front without a copy.
pub fn write_cef(buf: &mut Vec<u8>, rec: &Record, ctx: &SensorContext) {
    write_cef_within(buf, rec, ctx, usize::MAX);
}

/// Like [`write_cef`], but keeps the appended text within `max_len` bytes by shortening the
/// free-text values: the longest custom string (`cs1`-`cs5`) first, then the malware name in
/// the header, the interface and the host name. Values are cut on character boundaries before
/// escaping, so an escape sequence is never split. Returns false when even empty free-text
/// fields do not fit; the record is then written with those fields emptied.
pub fn write_cef_within(
    buf: &mut Vec<u8>,
    rec: &Record,
    ctx: &SensorContext,
    max_len: usize,
) -> bool {
    let start = buf.len();
    let mut caps = Caps::default();
    loop {
        buf.truncate(start);
        render(buf, rec, ctx, &caps);
        let len = buf.len() - start;
        if len <= max_len {
            return true;
        }
        let Some(field) = caps.longest(rec, ctx) else {
            return false;
        };
        caps.shorten(field, rec, ctx, len - max_len);
    }
}

/// Free-text fields that may be shortened, in the order they give way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    Cs1,
    Cs2,
    Cs3,
    Cs4,
    Cs5,
    /// `request` (a URL from the wire) and `c2tapDnsAnswers` of name IOC records.
    Request,
    Answers,
    NameMalware,
    Interface,
    Host,
}

const CUTS: [Cut; 10] = [
    Cut::Cs1,
    Cut::Cs2,
    Cut::Cs3,
    Cut::Cs4,
    Cut::Cs5,
    Cut::Request,
    Cut::Answers,
    Cut::NameMalware,
    Cut::Interface,
    Cut::Host,
];
/// `CUTS[..FIRST_TIER]` are the custom strings and name facts, shortened before anything else.
const FIRST_TIER: usize = 7;

impl Cut {
    fn text<'a>(self, rec: &'a Record, ctx: &'a SensorContext) -> &'a str {
        let flow = match rec {
            Record::Flow(flow) => flow,
            Record::Health(_) => return if self == Cut::Host { &ctx.hostname } else { "" },
        };
        match self {
            Cut::Cs1 => &flow.ioc.value,
            Cut::Cs2 | Cut::NameMalware => &flow.ioc.malware,
            Cut::Cs3 => &flow.ioc.threat_type,
            Cut::Cs4 => &flow.ioc.source,
            Cut::Cs5 => flow.ioc.reference.as_deref().unwrap_or(""),
            Cut::Request => flow
                .name
                .as_ref()
                .and_then(|n| n.url.as_deref())
                .unwrap_or(""),
            Cut::Answers => flow
                .name
                .as_ref()
                .and_then(|n| n.answers.as_deref())
                .unwrap_or(""),
            Cut::Interface => &flow.interface,
            Cut::Host => &ctx.hostname,
        }
    }

    fn in_header(self) -> bool {
        self == Cut::NameMalware
    }
}

/// Byte caps (on the unescaped text) per shortenable field; `usize::MAX` = whole value.
#[derive(Clone, Copy, Debug)]
struct Caps([usize; CUTS.len()]);

impl Default for Caps {
    fn default() -> Self {
        Caps([usize::MAX; CUTS.len()])
    }
}

impl Caps {
    fn get(&self, cut: Cut) -> usize {
        self.0.get(cut as usize).copied().unwrap_or(usize::MAX)
    }

    fn capped<'a>(&self, cut: Cut, text: &'a str) -> &'a str {
        prefix(text, self.get(cut))
    }

    /// The longest non-empty field of the first tier that has one, else of the second.
    fn longest(&self, rec: &Record, ctx: &SensorContext) -> Option<Cut> {
        let size = |cut: Cut| escaped_len(self.capped(cut, cut.text(rec, ctx)), cut.in_header());
        let pick = |cuts: &[Cut]| {
            cuts.iter()
                .copied()
                .filter(|&c| size(c) > 0)
                .max_by_key(|&c| (size(c), usize::MAX - c as usize))
        };
        pick(CUTS.get(..FIRST_TIER)?).or_else(|| pick(CUTS.get(FIRST_TIER..)?))
    }

    /// Lowers `cut`'s cap so its escaped text shrinks by at least `excess` bytes (or to empty).
    fn shorten(&mut self, cut: Cut, rec: &Record, ctx: &SensorContext, excess: usize) {
        let text = self.capped(cut, cut.text(rec, ctx));
        let header = cut.in_header();
        let target = escaped_len(text, header).saturating_sub(excess);
        let mut kept = 0;
        let mut end = 0;
        for (i, c) in text.char_indices() {
            kept += escaped_char_len(c, header);
            if kept > target {
                break;
            }
            end = i + c.len_utf8();
        }
        if let Some(slot) = self.0.get_mut(cut as usize) {
            *slot = end;
        }
    }
}

/// The first `max` bytes of `text`, backed off to a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if max >= text.len() {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

fn escaped_char_len(c: char, header: bool) -> usize {
    match c {
        '\\' => 2,
        '|' if header => 2,
        '=' if !header => 2,
        '\r' | '\n' => {
            if header {
                1
            } else {
                2
            }
        }
        c if is_unsafe_char(c) => '\u{FFFD}'.len_utf8(),
        c => c.len_utf8(),
    }
}

/// Characters that must never reach a receiver raw: they end a line for some reader (C0, NEL
/// and the other C1 controls, U+2028/U+2029), or make the text read differently from what it
/// is (bidi embeddings, overrides and isolates, marks, BOM/ZWNBSP). They come from feed
/// metadata and packets, so an attacker chooses them.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\0'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        | '\u{2028}' | '\u{2029}'
        | '\u{200E}' | '\u{200F}' | '\u{061C}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

fn escaped_len(text: &str, header: bool) -> usize {
    text.chars().map(|c| escaped_char_len(c, header)).sum()
}

/// Header field escaping: `\` and `|` get a backslash, CR/LF become a space, other unsafe
/// characters ([`is_unsafe_char`]) U+FFFD.
pub fn escape_header(buf: &mut Vec<u8>, text: &str) {
    escape(buf, text, true);
}

/// Extension value escaping: `\`, `=`, CR (`\r`) and LF (`\n`); other unsafe characters
/// ([`is_unsafe_char`]) become U+FFFD.
pub fn escape_value(buf: &mut Vec<u8>, text: &str) {
    escape(buf, text, false);
}

fn escape(buf: &mut Vec<u8>, text: &str, header: bool) {
    let mut plain_from = 0;
    for (i, c) in text.char_indices() {
        let replacement: &[u8] = match c {
            '\\' => b"\\\\",
            '|' if header => b"\\|",
            '=' if !header => b"\\=",
            '\r' | '\n' if header => b" ",
            '\r' => b"\\r",
            '\n' => b"\\n",
            c if is_unsafe_char(c) => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        buf.extend_from_slice(text.as_bytes().get(plain_from..i).unwrap_or_default());
        buf.extend_from_slice(replacement);
        plain_from = i + c.len_utf8();
    }
    buf.extend_from_slice(text.as_bytes().get(plain_from..).unwrap_or_default());
}

/// `Display` into the buffer; writing into a `Vec` cannot fail.
fn push_display(buf: &mut Vec<u8>, value: impl Display) {
    let _ = write!(buf, "{value}");
}

/// CEF Severity (0-10): the configured `[severity]` table, by default the record format's
/// (see [`crate::exclude::severity`] for the table and how it is set).
pub fn severity(rec: &Record) -> u8 {
    crate::exclude::severity::current().of(rec)
}

/// Text after the malware name in the Name header field.
pub fn name_suffix(signature: Signature) -> &'static str {
    match signature {
        Signature::IocMatch => " C2 connection",
        Signature::IocAddressMatch => " C2 address contacted on another port",
        Signature::FlowSummary => " C2 flow ended",
        Signature::Health => "",
        Signature::ContactStorm => " C2 contact storm",
        Signature::DomainLookup => " C2 domain lookup",
        Signature::DomainConnection => " C2 connection via domain",
        Signature::TlsSni => " C2 domain in TLS SNI",
        Signature::HttpHost => " C2 domain in HTTP request",
    }
}

pub const HEALTH_NAME: &str = "c2tap sensor health";

/// Transport protocol name for `proto=`.
pub fn proto_name(proto: u8, buf: &mut Vec<u8>) {
    match proto {
        1 => buf.extend_from_slice(b"ICMP"),
        6 => buf.extend_from_slice(b"TCP"),
        17 => buf.extend_from_slice(b"UDP"),
        47 => buf.extend_from_slice(b"GRE"),
        58 => buf.extend_from_slice(b"ICMPv6"),
        132 => buf.extend_from_slice(b"SCTP"),
        n => push_u64(buf, u64::from(n)),
    }
}

/// Protocols whose flows have ports (the others omit `spt`/`dpt`).
pub fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 132)
}

/// `gre:KEY` (`gre` without a key) etc., or `None` when the flow was not tunnelled.
pub fn write_tunnel(buf: &mut Vec<u8>, tunnel: Tunnel) -> bool {
    let (kind, id): (&[u8], u64) = match tunnel {
        Tunnel::None => return false,
        Tunnel::Gre { key: None } => {
            buf.extend_from_slice(b"gre");
            return true;
        }
        Tunnel::Gre { key: Some(key) } => (b"gre:", u64::from(key)),
        Tunnel::ErspanII { session } => (b"erspan2:", u64::from(session)),
        Tunnel::ErspanIII { session } => (b"erspan3:", u64::from(session)),
        Tunnel::Vxlan { vni } => (b"vxlan:", u64::from(vni)),
        Tunnel::Geneve { vni } => (b"geneve:", u64::from(vni)),
    };
    buf.extend_from_slice(kind);
    push_u64(buf, id);
    true
}

fn render(buf: &mut Vec<u8>, rec: &Record, ctx: &SensorContext, caps: &Caps) {
    buf.extend_from_slice(b"CEF:0|");
    for part in [VENDOR, PRODUCT, VERSION] {
        escape_header(buf, part);
        buf.push(b'|');
    }
    let signature = match rec {
        Record::Flow(flow) => flow.signature,
        Record::Health(_) => Signature::Health,
    };
    push_u64(buf, u64::from(signature.id()));
    buf.push(b'|');
    match rec {
        Record::Flow(flow) => {
            let malware = caps.capped(Cut::NameMalware, &flow.ioc.malware);
            escape_header(
                buf,
                if flow.ioc.malware.is_empty() {
                    "Unknown"
                } else {
                    malware
                },
            );
            buf.extend_from_slice(name_suffix(signature).as_bytes());
        }
        Record::Health(_) => buf.extend_from_slice(HEALTH_NAME.as_bytes()),
    }
    buf.push(b'|');
    push_u64(buf, u64::from(severity(rec)));
    buf.push(b'|');
    let mut ext = Ext { buf, first: true };
    match rec {
        Record::Flow(flow) => flow_extension(&mut ext, flow, rec, ctx, caps),
        Record::Health(health) => health_extension(&mut ext, health, rec, ctx, caps),
    }
}

/// Writes `key=value` pairs separated by single spaces.
struct Ext<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl Ext<'_> {
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b' ');
        }
        self.first = false;
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.push(b'=');
        self.buf
    }

    fn text(&mut self, key: &str, value: &str) {
        escape_value(self.key(key), value);
    }

    /// A custom field with its label, label first as Sentinel's examples send them.
    fn labelled(&mut self, label_key: &str, label: &str, key: &str, value: &str) {
        self.text(label_key, label);
        self.text(key, value);
    }
}

/// Numbers and addresses under a key: the part of the record layout CEF and JSON share.
pub(crate) trait Fields {
    fn num(&mut self, key: &str, n: u64);
    fn ip(&mut self, key: &str, addr: IpAddr);
}

impl Fields for Ext<'_> {
    fn num(&mut self, key: &str, n: u64) {
        push_u64(self.key(key), n);
    }

    fn ip(&mut self, key: &str, addr: IpAddr) {
        push_display(self.key(key), addr);
    }
}

/// `rt start end src spt dst dpt`, ports only for protocols that have them.
pub(crate) fn write_times_and_endpoints(w: &mut impl Fields, flow: &FlowRecord) {
    let start = to_millis(flow.start);
    w.num("rt", start);
    w.num("start", start);
    w.num("end", to_millis(flow.end));
    let ports = has_ports(flow.proto);
    w.ip("src", flow.client.addr);
    if ports {
        w.num("spt", u64::from(flow.client.port));
    }
    w.ip("dst", flow.server.addr);
    if ports {
        w.num("dpt", u64::from(flow.server.port));
    }
}

fn flow_extension(
    ext: &mut Ext,
    flow: &FlowRecord,
    rec: &Record,
    ctx: &SensorContext,
    caps: &Caps,
) {
    let text = |cut: Cut| caps.capped(cut, cut.text(rec, ctx));
    let start = to_millis(flow.start);
    write_times_and_endpoints(ext, flow);
    proto_name(flow.proto, ext.key("proto"));
    ext.text("act", flow.action.as_str());
    if let Some(reason) = &flow.suppressed {
        ext.text("reason", reason);
    }
    ext.num("deviceDirection", u64::from(flow.ioc_is_server));
    ext.num("cnt", u64::from(flow.count));
    ext.num("in", flow.totals.bytes_to_server);
    ext.num("out", flow.totals.bytes_to_client);
    ext.text("dvchost", text(Cut::Host));
    ext.text("deviceInboundInterface", text(Cut::Interface));
    if let IpAddr::V6(client) = flow.client.addr {
        ext.text("c6a2Label", "sourceIPv6");
        ext.ip("c6a2", IpAddr::V6(client));
    }
    if let IpAddr::V6(server) = flow.server.addr {
        ext.text("c6a3Label", "destinationIPv6");
        ext.ip("c6a3", IpAddr::V6(server));
    }
    let ioc = &flow.ioc;
    ext.labelled("cs1Label", "iocValue", "cs1", text(Cut::Cs1));
    if !ioc.malware.is_empty() {
        ext.labelled("cs2Label", "malware", "cs2", text(Cut::Cs2));
    }
    if !ioc.threat_type.is_empty() {
        ext.labelled("cs3Label", "threatType", "cs3", text(Cut::Cs3));
    }
    ext.labelled("cs4Label", "iocFeed", "cs4", text(Cut::Cs4));
    if ioc.reference.is_some() {
        ext.labelled("cs5Label", "iocReference", "cs5", text(Cut::Cs5));
    }
    ext.labelled("cs6Label", "sensorMode", "cs6", mode(ctx));
    if let Some(confidence) = ioc.confidence {
        ext.text("cn1Label", "iocConfidence");
        ext.num("cn1", u64::from(confidence));
    }
    ext.text("cn2Label", "packetsToServer");
    ext.num("cn2", flow.totals.packets_to_server);
    ext.text("cn3Label", "packetsToClient");
    ext.num("cn3", flow.totals.packets_to_client);
    if let Some(ms) = ioc.first_seen.as_deref().and_then(feed_time_millis) {
        ext.text("deviceCustomDate1Label", "iocFirstSeen");
        ext.num("deviceCustomDate1", ms);
    }
    if let Some(ms) = ioc.last_seen.as_deref().and_then(feed_time_millis) {
        ext.text("deviceCustomDate2Label", "iocLastSeen");
        ext.num("deviceCustomDate2", ms);
    }
    if flow.vlan != 0 {
        ext.num("c2tapVlan", u64::from(flow.vlan));
    }
    if flow.tunnel != Tunnel::None {
        write_tunnel(ext.key("c2tapTunnel"), flow.tunnel);
    }
    if flow.outer {
        ext.text("c2tapLayer", "outer");
    }
    if flow.signature == Signature::FlowSummary {
        ext.num("c2tapDurationMs", to_millis(flow.end).saturating_sub(start));
    }
    if flow.signature == Signature::ContactStorm {
        ext.num("c2tapClients", flow.clients);
    }
    if let Some(name) = &flow.name {
        // Name IOCs (1010-1013): the name in DestinationHostName, the URL in RequestURL, the
        // DNS answer in c2tap fields (README "CEF mapping"). All bounded where they are made.
        ext.text("dhost", &name.host);
        if name.url.is_some() {
            ext.text("request", text(Cut::Request));
        }
        if name.answers.is_some() {
            ext.text("c2tapDnsAnswers", text(Cut::Answers));
        }
        if let Some(ttl) = name.ttl {
            ext.num("c2tapDnsTtl", u64::from(ttl));
        }
        if let Some(at) = name.answered {
            ext.num("c2tapDnsAnswerTime", to_millis(at));
        }
    }
}

fn health_extension(
    ext: &mut Ext,
    health: &HealthRecord,
    rec: &Record,
    ctx: &SensorContext,
    caps: &Caps,
) {
    ext.num("rt", to_millis(health.time));
    ext.text("act", "health");
    ext.text("dvchost", caps.capped(Cut::Host, Cut::Host.text(rec, ctx)));
    ext.num("c2tapPackets", health.packets);
    ext.num("c2tapKernelDrops", health.kernel_drops);
    ext.num("c2tapMatches", health.matches);
    ext.num("c2tapIocsLoaded", health.iocs_loaded);
    ext.num("c2tapIocAgeSecs", health.ioc_age_secs);
    match &health.capture_problem {
        None => ext.text("c2tapCapture", "ok"),
        Some(why) => {
            ext.text("c2tapCapture", "down");
            ext.text("c2tapCaptureProblem", why);
        }
    }
    ext.labelled("cs6Label", "sensorMode", "cs6", mode(ctx));
}

/// `cs6` value that tells test events (`replay`) apart from production (`live`).
pub fn mode(ctx: &SensorContext) -> &'static str {
    if ctx.replay {
        "replay"
    } else {
        "live"
    }
}

#[cfg(test)]
#[path = "cef_tests.rs"]
mod tests;
