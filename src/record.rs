//! Records: what detection hands to the outputs. One struct for every signature so CEF and JSON
//! are written by one function each, and each field has one meaning in every record.

use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::Tunnel;
use crate::flow::{NameMatch, NameVia};
use crate::ioc::{Ioc, MatchKind};
use crate::time::Nanos;

/// CEF SignatureID (DeviceEventClassID). Stable across versions: Sentinel rules filter on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Signature {
    /// The flow matches an IOC exactly.
    IocMatch,
    /// The flow touches an IOC's address on another port (or ICMP).
    IocAddressMatch,
    /// A matched flow ended: totals each way, duration, final state.
    FlowSummary,
    /// Periodic sensor health.
    Health,
    /// One IOC touched by more new flows per window than the storm threshold (a flood, often
    /// spoofed): one record per IOC and window stands for the flows whose own 1001/1002/1003
    /// records it replaces (`count`, `clients`).
    ContactStorm,
    /// A client looked up a name IOC in DNS (the resolver is the server).
    DomainLookup,
    /// A client connected to an address a DNS answer for a name IOC returned, within its TTL.
    DomainConnection,
    /// A TLS ClientHello's SNI names a name IOC.
    TlsSni,
    /// An HTTP/1.x request's Host (or absolute URI) names a name IOC, or matches a URL IOC.
    HttpHost,
}

impl Signature {
    pub fn id(self) -> u16 {
        match self {
            Signature::IocMatch => 1001,
            Signature::IocAddressMatch => 1002,
            Signature::FlowSummary => 1003,
            Signature::Health => 1004,
            Signature::ContactStorm => 1005,
            Signature::DomainLookup => 1010,
            Signature::DomainConnection => 1011,
            Signature::TlsSni => 1012,
            Signature::HttpHost => 1013,
        }
    }

    /// Signatures of per-flow alerts, in the order of per-signature match counters
    /// (`WorkerStats::matches`, the `signature` label of the match metrics).
    pub const ALERTS: [Signature; 6] = [
        Signature::IocMatch,
        Signature::IocAddressMatch,
        Signature::DomainLookup,
        Signature::DomainConnection,
        Signature::TlsSni,
        Signature::HttpHost,
    ];

    /// Index of an alert signature in [`Signature::ALERTS`].
    pub fn alert_index(self) -> Option<usize> {
        Signature::ALERTS.iter().position(|s| *s == self)
    }

    /// The alert signature of a match: by how a name matched, else by the address match kind.
    pub fn for_match(kind: MatchKind, name: Option<&NameMatch>) -> Signature {
        match name.map(|n| n.via) {
            None => Signature::for_kind(kind),
            Some(NameVia::Lookup) => Signature::DomainLookup,
            Some(NameVia::Connection) => Signature::DomainConnection,
            Some(NameVia::Sni) => Signature::TlsSni,
            Some(NameVia::Http) => Signature::HttpHost,
        }
    }

    pub fn for_kind(kind: MatchKind) -> Signature {
        match kind {
            MatchKind::Exact => Signature::IocMatch,
            MatchKind::OtherPort => Signature::IocAddressMatch,
        }
    }
}

/// What happened on the wire (CEF `act`, CommonSecurityLog DeviceAction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// TCP handshake completed.
    Established,
    /// The server answered with RST.
    Rejected,
    /// No answer within the hold-down.
    Attempted,
    /// UDP, ICMP, other protocols, or a TCP flow first seen mid-stream.
    Observed,
    /// Summary: the flow closed with FIN.
    Closed,
    /// Summary: the flow was reset.
    Reset,
    /// Summary: the flow went idle past its timeout.
    Timeout,
    /// Summary: the capture (replay) ended or the sensor shut down with the flow open.
    Shutdown,
    /// Summary: the flow table was full and this flow had to make room.
    Evicted,
    /// Health record.
    Health,
    /// An exclusion rule matched and is set to report: the record is sent for audit only.
    Suppressed,
    /// 1005: the flows of a contact storm (see [`Signature::ContactStorm`]).
    Storm,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Established => "established",
            Action::Rejected => "rejected",
            Action::Attempted => "attempted",
            Action::Observed => "observed",
            Action::Closed => "closed",
            Action::Reset => "reset",
            Action::Timeout => "timeout",
            Action::Shutdown => "shutdown",
            Action::Evicted => "evicted",
            Action::Health => "health",
            Action::Suppressed => "suppressed",
            Action::Storm => "storm",
        }
    }
}

/// One endpoint of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

/// Counters each way, client→server and server→client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub packets_to_server: u64,
    pub bytes_to_server: u64,
    pub packets_to_client: u64,
    pub bytes_to_client: u64,
}

/// An alert or summary about one flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    pub signature: Signature,
    pub action: Action,
    pub client: Endpoint,
    pub server: Endpoint,
    /// IP protocol number.
    pub proto: u8,
    /// First packet of the flow.
    pub start: Nanos,
    /// Last packet seen when the record was made.
    pub end: Nanos,
    /// The IOC and which side it is on.
    pub ioc: Arc<Ioc>,
    pub ioc_is_server: bool,
    pub vlan: u16,
    pub tunnel: Tunnel,
    /// The flow is a tunnel's outer layer, `tunnel` the tunnel it carried (CEF
    /// `c2tapLayer=outer`); false for a packet's own flow, tunnelled (`tunnel` carried it) or not.
    pub outer: bool,
    /// Capture interface (live) or file name (replay): CEF `deviceInboundInterface`.
    pub interface: Arc<str>,
    pub totals: Totals,
    /// How many flows this record stands for (alert-storm aggregation, contact storms); 1
    /// normally.
    pub count: u32,
    /// 1005 only: distinct client addresses among those flows (an estimate, within a few per
    /// cent); 0 in every other record.
    pub clients: u64,
    /// `Some("rule: reason")` only when an exclusion rule set to report matched (act=suppressed):
    /// what an auditor reads in CEF `reason=`.
    pub suppressed: Option<Arc<str>>,
    /// Name IOC facts (1010-1013 and their 1003 summary): CEF `dhost`, `request` and the DNS
    /// answer fields; `None` for address matches.
    pub name: Option<Arc<NameMatch>>,
}

/// Periodic sensor health, so a silent sensor or a stale feed shows in Sentinel itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthRecord {
    pub time: Nanos,
    pub packets: u64,
    pub kernel_drops: u64,
    pub matches: u64,
    pub iocs_loaded: u64,
    /// Seconds since the IOC set was last loaded.
    pub ioc_age_secs: u64,
    /// Which interfaces are not capturing and why; `None` while every one is.
    pub capture_problem: Option<String>,
    /// Fetched feeds with no success for over twice their interval, comma-separated.
    pub stale_feeds: Option<String>,
}

/// Protocols whose flows have ports (TCP, UDP, SCTP); the others omit `spt`/`dpt`, and an
/// exclusion rule with ports never matches them.
pub fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 132)
}

/// Everything an output can receive.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Flow(FlowRecord),
    Health(HealthRecord),
}

/// Context that is the same for every record a sensor emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorContext {
    /// Host name (CEF `dvchost`, syslog HOSTNAME).
    pub hostname: String,
    /// True for `c2tap replay`: records carry a marker so test events are told apart.
    pub replay: bool,
}

/// Where detection puts records: the worker emits into a chain of these (transform stages,
/// then the outputs). The packet path calls this; an implementation must never block the
/// capture for long (live sinks hand records to a queue).
pub trait RecordSink {
    fn emit(&mut self, record: Record);
}

/// Collects records in memory: replay tests and the deterministic replay path use it.
impl RecordSink for Vec<Record> {
    fn emit(&mut self, record: Record) {
        self.push(record);
    }
}

/// Both sinks get every record (replay printing on stdout and sending to syslog at once).
pub struct Tee<A, B>(pub A, pub B);

impl<A: RecordSink, B: RecordSink> RecordSink for Tee<A, B> {
    fn emit(&mut self, record: Record) {
        self.0.emit(record.clone());
        self.1.emit(record);
    }
}

/// An optional sink: `None` discards, so wiring can keep one sink type either way.
impl<S: RecordSink> RecordSink for Option<S> {
    fn emit(&mut self, record: Record) {
        if let Some(sink) = self {
            sink.emit(record);
        }
    }
}
