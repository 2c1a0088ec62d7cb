//! One `[[exclude]]` rule: the file's table as written ([`RawRule`]), checked into a compiled
//! [`Rule`] whose match is a handful of comparisons on fields every record of a flow shares
//! (endpoints, protocol, VLAN, IOC, flow start), so a flow's alert and its summary always get
//! the same verdict without the suppressor keeping any state.

use std::sync::Arc;

use serde::Deserialize;

use super::addr::AddrList;
use super::clock::{Expiry, Offset, Window};
use crate::ioc::names::normalize_name;
use crate::problem::Problem;
use crate::record::{has_ports, FlowRecord};

/// Longest rule name: it is a metric label and part of every suppressed record.
pub const MAX_NAME_LEN: usize = 40;
/// Longest reason: it travels in CEF `reason=` on every reported record.
pub const MAX_REASON_LEN: usize = 200;

/// An `[[exclude]]` table as written. Lists stay TOML values so each bad entry is reported
/// with its own key path instead of serde's "did not match any variant".
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Option<String>,
    pub reason: Option<String>,
    pub client: Option<toml::Value>,
    pub server: Option<toml::Value>,
    pub ports: Option<toml::Value>,
    pub protocol: Option<toml::Value>,
    pub vlan: Option<toml::Value>,
    pub ioc: Option<toml::Value>,
    pub malware: Option<toml::Value>,
    /// Host names (`updates.example.com`) or suffixes (`*.example.com`) of name-IOC records.
    pub domain: Option<toml::Value>,
    pub window: Option<String>,
    pub timezone: Option<String>,
    /// `2026-12-31`, quoted or as a TOML date.
    pub expires: Option<toml::Value>,
    #[serde(alias = "exclude_action")]
    pub action: Option<String>,
}

/// What happens to a record a rule matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Disposal {
    /// Not sent; only counted.
    #[default]
    Drop,
    /// Sent with `act=suppressed`, the rule's reason and the table's low severity.
    Report,
}

impl Disposal {
    pub fn parse(text: &str) -> Result<Disposal, String> {
        match text.trim() {
            "drop" => Ok(Disposal::Drop),
            "report" => Ok(Disposal::Report),
            other => Err(format!("`{other}`: must be \"drop\" or \"report\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Disposal::Drop => "drop",
            Disposal::Report => "report",
        }
    }
}

/// A compiled rule. Empty lists do not restrict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: Arc<str>,
    pub reason: Arc<str>,
    /// `name: reason`, the text reported records carry (CEF `reason=`).
    pub label: Arc<str>,
    pub disposal: Disposal,
    pub client: AddrList,
    pub server: AddrList,
    pub ports: Vec<u16>,
    pub protocols: Vec<u8>,
    pub vlans: Vec<u16>,
    pub iocs: Vec<String>,
    pub malware: Vec<String>,
    pub domains: Vec<Domain>,
    pub window: Option<Window>,
    pub expires: Option<Expiry>,
}

impl Rule {
    /// Judged on the flow's start (packet time), so every record of the flow agrees.
    #[inline]
    pub fn matches(&self, flow: &FlowRecord) -> bool {
        self.client.contains(flow.client.addr)
            && self.server.contains(flow.server.addr)
            && (self.ports.is_empty()
                || has_ports(flow.proto) && self.ports.contains(&flow.server.port))
            && (self.protocols.is_empty() || self.protocols.contains(&flow.proto))
            && (self.vlans.is_empty() || self.vlans.contains(&flow.vlan))
            && (self.iocs.is_empty()
                || self
                    .iocs
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case(&flow.ioc.value)))
            && (self.malware.is_empty()
                || self
                    .malware
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(flow.ioc.malware.trim())))
            && (self.domains.is_empty() || record_host(flow).is_some_and(|h| self.matches_host(h)))
            && self.window.is_none_or(|w| w.contains(flow.start))
            && self.expires.is_none_or(|e| e.applies_at(flow.start))
    }

    /// Whether a record's host name (normalised, as name-IOC records carry it) is one of the
    /// rule's domains: equal to an exact entry, or equal to or below a `*.` entry.
    pub fn matches_host(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        self.domains.iter().any(|d| match d {
            Domain::Exact(name) => host.eq_ignore_ascii_case(name),
            Domain::Suffix(zone) => {
                host.eq_ignore_ascii_case(zone)
                    || host.len() > zone.len()
                        && host
                            .get(host.len() - zone.len() - 1..)
                            .and_then(|tail| tail.strip_prefix('.'))
                            .is_some_and(|tail| tail.eq_ignore_ascii_case(zone))
            }
        })
    }

    /// Whether the rule restricts by anything but time.
    pub fn has_criterion(&self) -> bool {
        !(self.client.is_any()
            && self.server.is_any()
            && self.ports.is_empty()
            && self.protocols.is_empty()
            && self.vlans.is_empty()
            && self.iocs.is_empty()
            && self.malware.is_empty()
            && self.domains.is_empty())
    }
}

/// One `domain` entry, normalised like a name IOC (case, trailing dot, IDN to punycode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Domain {
    Exact(String),
    /// `*.example.com`: the zone and every name below it.
    Suffix(String),
}

impl Domain {
    pub fn parse(text: &str) -> Result<Domain, String> {
        let (suffix, name) = match text.strip_prefix("*.") {
            Some(zone) => (true, zone),
            None => (false, text),
        };
        let name = normalize_name(name).map_err(|e| format!("`{text}`: {e}"))?;
        Ok(match suffix {
            true => Domain::Suffix(name),
            false => Domain::Exact(name),
        })
    }
}

/// The host name a record of a name-IOC match carries; `None` for address matches, so a rule
/// with `domain` never matches them. The one line to change when records gain the name field.
#[inline]
fn record_host(flow: &FlowRecord) -> Option<&str> {
    flow.name.as_ref().map(|n| &*n.host)
}

/// Names rules are known by: a metric label, so short and plain.
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.len() <= MAX_NAME_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `gre`, or a protocol number.
pub fn protocol_number(text: &str) -> Option<u8> {
    match text.trim().to_ascii_lowercase().as_str() {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" => Some(1),
        "icmpv6" => Some(58),
        "sctp" => Some(132),
        "gre" => Some(47),
        n => n.parse().ok(),
    }
}

/// Collects problems for one rule under `exclude[i]`.
struct Keys<'a> {
    prefix: String,
    problems: &'a mut Vec<Problem>,
}

impl Keys<'_> {
    fn fail(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: format!("{}.{key}", self.prefix),
            message: message.into(),
        });
    }

    /// A value or a list of values, each converted by `item`.
    fn list<T>(
        &mut self,
        key: &str,
        value: Option<&toml::Value>,
        item: impl Fn(&toml::Value) -> Result<T, String>,
    ) -> Vec<T> {
        let items: Vec<&toml::Value> = match value {
            None => return Vec::new(),
            Some(toml::Value::Array(a)) => a.iter().collect(),
            Some(one) => vec![one],
        };
        if matches!(value, Some(toml::Value::Array(a)) if a.is_empty()) {
            self.fail(key, "is empty; leave the key out to match any");
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.into_iter().enumerate() {
            match item(v) {
                Ok(t) => out.push(t),
                Err(e) => self.fail(&format!("{key}[{i}]"), e),
            }
        }
        out
    }
}

fn text(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        toml::Value::String(_) => Err("must not be empty".into()),
        other => Err(format!("must be a string, not {}", other.type_str())),
    }
}

fn number(v: &toml::Value, max: i64, what: &str) -> Result<i64, String> {
    match v.as_integer() {
        Some(n) if (0..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be a {what} (0-{max})")),
    }
}

/// Checks one rule; problems go to `problems` under `exclude[index]`.
pub fn compile(
    raw: &RawRule,
    index: usize,
    default: Disposal,
    problems: &mut Vec<Problem>,
) -> Option<Rule> {
    let before = problems.len();
    let mut k = Keys {
        prefix: format!("exclude[{index}]"),
        problems,
    };
    let name = raw.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        k.fail(
            "name",
            "required: a short identifier used as the metric label",
        );
    } else if !valid_name(name) {
        k.fail(
            "name",
            format!("`{name}`: must start with a letter and use only letters, digits, _ and - (at most {MAX_NAME_LEN})"),
        );
    }
    let reason = raw.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        k.fail(
            "reason",
            "required: why these matches are benign (sent with reported records)",
        );
    } else if reason.chars().count() > MAX_REASON_LEN || reason.chars().any(char::is_control) {
        k.fail(
            "reason",
            format!("must be one line of at most {MAX_REASON_LEN} characters"),
        );
    }
    let disposal = match raw.action.as_deref().map(Disposal::parse) {
        None => default,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            k.fail("action", e);
            default
        }
    };
    let mut addrs = |key: &str, value: Option<&toml::Value>| {
        let entries = k.list(key, value, text);
        match AddrList::parse(&entries) {
            Ok(list) => list,
            Err(errors) => {
                for (i, e) in errors {
                    k.fail(&format!("{key}[{i}]"), e);
                }
                AddrList::default()
            }
        }
    };
    let client = addrs("client", raw.client.as_ref());
    let server = addrs("server", raw.server.as_ref());
    let ports = k.list("ports", raw.ports.as_ref(), |v| {
        number(v, 65_535, "port").map(|n| u16::try_from(n).unwrap_or(0))
    });
    let protocols = k.list("protocol", raw.protocol.as_ref(), |v| match v {
        toml::Value::Integer(_) => {
            number(v, 255, "protocol number").map(|n| u8::try_from(n).unwrap_or(0))
        }
        _ => text(v).and_then(|t| {
            protocol_number(&t)
                .ok_or_else(|| format!("`{t}`: tcp, udp, icmp, icmpv6, sctp, gre or a number"))
        }),
    });
    let vlans = k.list("vlan", raw.vlan.as_ref(), |v| {
        number(v, 4095, "VLAN id").map(|n| u16::try_from(n).unwrap_or(0))
    });
    let iocs = k.list("ioc", raw.ioc.as_ref(), text);
    let malware = k.list("malware", raw.malware.as_ref(), text);
    let domains = k.list("domain", raw.domain.as_ref(), |v| {
        text(v).and_then(|t| Domain::parse(&t))
    });
    let offset = match raw.timezone.as_deref().map(Offset::parse) {
        None => Offset::default(),
        Some(Ok(o)) => o,
        Some(Err(e)) => {
            k.fail("timezone", e);
            Offset::default()
        }
    };
    let window = match raw.window.as_deref().map(|w| Window::parse(w, offset)) {
        None => None,
        Some(Ok(w)) => Some(w),
        Some(Err(e)) => {
            k.fail("window", e);
            None
        }
    };
    let expires = match &raw.expires {
        None => None,
        Some(v) => {
            let date = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
                _ => String::new(),
            };
            match Expiry::parse(&date, offset) {
                Ok(e) => Some(e),
                Err(_) => {
                    k.fail("expires", "must be a date (YYYY-MM-DD)");
                    None
                }
            }
        }
    };
    let rule = Rule {
        name: Arc::from(name),
        reason: Arc::from(reason),
        label: Arc::from(format!("{name}: {reason}")),
        disposal,
        client,
        server,
        ports,
        protocols,
        vlans,
        iocs,
        malware,
        domains,
        window,
        expires,
    };
    if !rule.has_criterion() && k.problems.len() == before {
        k.fail(
            "",
            "names no client, server, ports, protocol, vlan, ioc, malware or domain: it would suppress every alert",
        );
    }
    if let Some(p) = k.problems.last_mut().filter(|p| p.key.ends_with('.')) {
        p.key.pop();
    }
    (k.problems.len() == before).then_some(rule)
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
