//! What a name IOC match adds to a flow's match: the name, the URL, and for DNS the answers and
//! their TTL. Kept on the flow (not the record) because the alert and its 1003 summary both
//! report it; one `Arc` so a flow that matched no name pays one pointer.

use std::sync::Arc;

use crate::time::Nanos;

/// How a flow came to match a name IOC; each is its own SignatureID (see `record::Signature`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameVia {
    /// 1010: the flow is a DNS lookup of the IOC name (client → resolver).
    Lookup,
    /// 1011: the flow goes to an address a DNS answer for the IOC name returned, within its TTL.
    Connection,
    /// 1012: the flow's TLS ClientHello names the IOC in its SNI.
    Sni,
    /// 1013: the flow's HTTP/1.x request names the IOC in its Host (or absolute URI), or its
    /// host and path match a URL IOC.
    Http,
}

/// The name-side facts of a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMatch {
    pub via: NameVia,
    /// The IOC name as seen (normalised): CEF `dhost`.
    pub host: Arc<str>,
    /// `http://host[:port]/path` of an HTTP request: CEF `request`.
    pub url: Option<Arc<str>>,
    /// DNS answers (A/AAAA addresses, comma-separated) for the name, when the answer was seen.
    pub answers: Option<Arc<str>>,
    /// TTL of the answer in seconds as sent (1010) or as it bound the address (1011).
    pub ttl: Option<u32>,
    /// Packet time of the DNS answer (1010 when seen; 1011 always).
    pub answered: Option<Nanos>,
}
