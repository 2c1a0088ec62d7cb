//! CEF formatting: the last pure step before a record leaves the sensor. One function renders a
//! [`Record`] into a caller-owned, reused buffer in the exact layout fixed by the project's
//! record format (header, then extension keys in a fixed order), so stdout, files and syslog all
//! carry identical CEF. A size budget shortens a record field by field instead of letting a
//! receiver cut it mid-escape.

use std::fmt::Display;
use std::io::Write as _;
use std::net::IpAddr;

use crate::decode::Tunnel;
use crate::exclude::severity::SeverityTable;
use crate::output::timefmt::push_u64;
use crate::record::{has_ports, FlowRecord, HealthRecord, Record, SensorContext, Signature};
use crate::time::to_millis;
use crate::units::Timestamp;

mod budget;
mod escape;

use budget::{Caps, Cut};
#[cfg(test)]
use escape::escaped_len;
pub use escape::{escape_header, escape_value, is_unsafe_char};

pub const VENDOR: &str = "c2tap";
pub const PRODUCT: &str = "c2tap";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Appends the CEF text of `rec` to `buf` (no trailing newline). The caller clears the buffer
/// between records; appending lets the syslog envelope go in front without a copy. The
/// Severity comes from `severity` (the `[severity]` table of the chain the record came through).
pub fn write_cef(buf: &mut Vec<u8>, rec: &Record, ctx: &SensorContext, severity: &SeverityTable) {
    write_cef_within(buf, rec, ctx, severity, usize::MAX);
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
    severity: &SeverityTable,
    max_len: usize,
) -> bool {
    let start = buf.len();
    let mut caps = Caps::default();
    let severity = severity.of(rec);
    loop {
        buf.truncate(start);
        render(buf, rec, ctx, severity, &caps);
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

/// `Display` into the buffer; writing into a `Vec` cannot fail.
fn push_display(buf: &mut Vec<u8>, value: impl Display) {
    let _ = write!(buf, "{value}");
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

/// `severity` is the CEF Severity (0-10) from the `[severity]` table.
fn render(buf: &mut Vec<u8>, rec: &Record, ctx: &SensorContext, severity: u8, caps: &Caps) {
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
    push_u64(buf, u64::from(severity));
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
    if let Some(ms) = ioc.first_seen.and_then(Timestamp::epoch_millis) {
        ext.text("deviceCustomDate1Label", "iocFirstSeen");
        ext.num("deviceCustomDate1", ms);
    }
    if let Some(ms) = ioc.last_seen.and_then(Timestamp::epoch_millis) {
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
    if let Some(stale) = &health.stale_feeds {
        ext.text("c2tapStaleFeeds", stale);
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
