//! Endpoint: the validated, normalized form of one IOC value. Every feed format hands its raw
//! value text here (after refanging), so the rules that keep junk out of the set live in one
//! place.
//!
//! Two kinds of rule. [`Endpoint::parse`] refuses what can never be a C2 peer seen on a wire:
//! `0.0.0.0`/`::`, broadcast, multicast, loopback and link-local space (for a network: any
//! overlap), and ports outside 1..=65535. [`Endpoint::breadth`] refuses what is *too broad* to
//! be an IOC unless the operator opts in per feed (`allow_broad`): a network wider than
//! [`MIN_PREFIX_V4`]/[`MIN_PREFIX_V6`], a network overlapping private, shared (CGNAT),
//! documentation or reserved space, and a single host in reserved space. Such an entry in a
//! public feed is a feed error that would turn every internal flow into an alert. A single
//! host in private, shared or documentation space is accepted: one address cannot flood, and
//! an internal sinkhole, honeypot or relay is a legitimate IOC.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::reject::RejectReason;

/// Widest IPv4 network accepted as an IOC without `allow_broad`: a /16 is 65,536 addresses,
/// already a provider's block; anything wider is a feed error or a policy, not an indicator.
pub const MIN_PREFIX_V4: u8 = 16;
/// Widest IPv6 network accepted without `allow_broad`: a /32 is a whole provider allocation.
pub const MIN_PREFIX_V6: u8 = 32;

/// Space where the hard rules of [`Endpoint::parse`] apply, with the reason.
const HARD_V4: [(&str, RejectReason); 3] = [
    ("127.0.0.0/8", RejectReason::Loopback),
    ("169.254.0.0/16", RejectReason::LinkLocal),
    ("224.0.0.0/4", RejectReason::Multicast),
];
const HARD_V6: [(&str, RejectReason); 3] = [
    ("::1/128", RejectReason::Loopback),
    ("fe80::/10", RejectReason::LinkLocal),
    ("ff00::/8", RejectReason::Multicast),
];
/// Space a network IOC may only overlap with `allow_broad`. `240.0.0.0/4` comes after the
/// broadcast check.
const SPECIAL_V4: [(&str, RejectReason); 11] = [
    ("0.0.0.0/8", RejectReason::Reserved),
    ("10.0.0.0/8", RejectReason::Private),
    ("100.64.0.0/10", RejectReason::Shared),
    ("172.16.0.0/12", RejectReason::Private),
    ("192.0.0.0/24", RejectReason::Reserved),
    ("192.0.2.0/24", RejectReason::Documentation),
    ("192.168.0.0/16", RejectReason::Private),
    ("198.18.0.0/15", RejectReason::Reserved),
    ("198.51.100.0/24", RejectReason::Documentation),
    ("203.0.113.0/24", RejectReason::Documentation),
    ("240.0.0.0/4", RejectReason::Reserved),
];
const SPECIAL_V6: [(&str, RejectReason); 4] = [
    ("fc00::/7", RejectReason::Private),
    ("2001:db8::/32", RejectReason::Documentation),
    ("3fff::/20", RejectReason::Documentation),
    ("100::/64", RejectReason::Reserved),
];

/// Wider than [`MIN_PREFIX_V4`] / [`MIN_PREFIX_V6`].
fn too_wide(net: IpNet) -> bool {
    let min = match net {
        IpNet::V4(_) => MIN_PREFIX_V4,
        IpNet::V6(_) => MIN_PREFIX_V6,
    };
    net.prefix_len() < min
}

/// The hard block holding all of `net`, if one does.
fn hard_block_containing(net: IpNet) -> Option<RejectReason> {
    let table: &[(&str, RejectReason)] = match net {
        IpNet::V4(_) => &HARD_V4,
        IpNet::V6(_) => &HARD_V6,
    };
    table.iter().find_map(|(block, reason)| {
        let block: IpNet = block.parse().ok()?;
        block.contains(&net).then_some(*reason)
    })
}

/// The first listed block `net` overlaps, with its reason.
fn overlap(
    net: IpNet,
    table4: &[(&str, RejectReason)],
    table6: &[(&str, RejectReason)],
) -> Option<RejectReason> {
    let table = match net {
        IpNet::V4(_) => table4,
        IpNet::V6(_) => table6,
    };
    table.iter().find_map(|(block, reason)| {
        let block: IpNet = block.parse().ok()?;
        let meets = block.contains(&net.network()) || net.contains(&block.network());
        meets.then_some(*reason)
    })
}

/// One IOC value. CIDRs of a single address collapse to [`Endpoint::Addr`] so `/32` and the bare
/// address de-duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Addr(IpAddr),
    AddrPort(IpAddr, u16),
    Net(IpNet),
}

impl Endpoint {
    /// Parses refanged text: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:443`,
    /// `198.51.100.0/24` (host bits are cleared), MISP's `5.6.7.8|5678`. IPv4-mapped IPv6 becomes IPv4 because that
    /// is how the packet path sees such peers.
    pub fn parse(text: &str) -> Result<Endpoint, RejectReason> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RejectReason::Unparsable);
        }
        let endpoint = if let Some((addr, port)) = text.rsplit_once('|') {
            // MISP `ip-dst|port` notation.
            match Endpoint::parse(addr)? {
                Endpoint::Addr(addr) => Endpoint::AddrPort(addr, parse_port(port)?),
                _ => return Err(RejectReason::BadAddress),
            }
        } else if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or(RejectReason::BadAddress)?;
            let addr = parse_v6(inside)?;
            match after {
                "" => Endpoint::Addr(addr),
                _ => {
                    let port = after.strip_prefix(':').ok_or(RejectReason::BadPort)?;
                    Endpoint::AddrPort(addr, parse_port(port)?)
                }
            }
        } else if let Some((addr, len)) = text.split_once('/') {
            parse_net(addr, len)?
        } else {
            match text.bytes().filter(|&b| b == b':').count() {
                0 => Endpoint::Addr(parse_v4(text)?),
                1 => {
                    let (addr, port) = text.split_once(':').ok_or(RejectReason::BadAddress)?;
                    Endpoint::AddrPort(parse_v4(addr)?, parse_port(port)?)
                }
                // A bare IPv6 address first; failing that ThreatFox-style `v6:port` (split on
                // the last colon), whose form the feeds do not document.
                _ => match parse_v6(text) {
                    Ok(addr) => Endpoint::Addr(addr),
                    Err(err) => {
                        let (addr, port) = text.rsplit_once(':').ok_or(err)?;
                        if addr.ends_with(':') {
                            return Err(err);
                        }
                        let addr = parse_v6(addr).map_err(|_| err)?;
                        Endpoint::AddrPort(addr, parse_port(port)?)
                    }
                },
            }
        };
        endpoint.check_usable()?;
        Ok(endpoint)
    }

    /// The port of an ip:port IOC.
    pub fn port(&self) -> Option<u16> {
        match self {
            Endpoint::AddrPort(_, port) => Some(*port),
            _ => None,
        }
    }

    /// The network this endpoint covers (a host is its own /32 or /128).
    pub fn net(&self) -> IpNet {
        match *self {
            Endpoint::Addr(a) | Endpoint::AddrPort(a, _) => IpNet::from(a),
            Endpoint::Net(net) => net,
        }
    }

    /// The hard rules: space that is never a C2 peer.
    ///
    /// A network that reaches into such space is refused for that space when it lies inside
    /// it (`127.0.0.0/8`: loopback), and as too broad when it spans it (`1.0.0.0/1` holds
    /// loopback and multicast space, but what is wrong with it is its size).
    fn check_usable(&self) -> Result<(), RejectReason> {
        let net = self.net();
        if let Some(reason) = overlap(net, &HARD_V4, &HARD_V6) {
            let inside = hard_block_containing(net).is_some();
            return Err(match inside || !too_wide(net) {
                true => reason,
                false => RejectReason::TooBroad,
            });
        }
        if net.network().is_unspecified() {
            return Err(match too_wide(net) {
                true => RejectReason::TooBroad,
                false => RejectReason::Unspecified,
            });
        }
        if net.broadcast() == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Err(RejectReason::Broadcast);
        }
        Ok(())
    }

    /// Why this endpoint is too broad to load without the feed's `allow_broad`, if it is.
    /// Judged after [`Endpoint::parse`] accepted it.
    pub fn breadth(&self) -> Option<RejectReason> {
        match *self {
            Endpoint::Net(net) => {
                if too_wide(net) {
                    return Some(RejectReason::TooBroad);
                }
                overlap(net, &SPECIAL_V4, &SPECIAL_V6)
            }
            Endpoint::Addr(_) | Endpoint::AddrPort(..) => {
                overlap(self.net(), &SPECIAL_V4, &SPECIAL_V6)
                    .filter(|r| *r == RejectReason::Reserved)
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Addr(a) => write!(f, "{a}"),
            Endpoint::AddrPort(IpAddr::V4(a), p) => write!(f, "{a}:{p}"),
            Endpoint::AddrPort(IpAddr::V6(a), p) => write!(f, "[{a}]:{p}"),
            Endpoint::Net(n) => write!(f, "{n}"),
        }
    }
}

fn parse_v4(text: &str) -> Result<IpAddr, RejectReason> {
    text.parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .map_err(|_| RejectReason::BadAddress)
}

fn parse_v6(text: &str) -> Result<IpAddr, RejectReason> {
    let addr = text
        .parse::<Ipv6Addr>()
        .map_err(|_| RejectReason::BadAddress)?;
    Ok(IpAddr::V6(addr).to_canonical())
}

fn parse_port(text: &str) -> Result<u16, RejectReason> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RejectReason::BadPort);
    }
    match text.parse::<u32>() {
        Ok(port @ 1..=65535) => u16::try_from(port).map_err(|_| RejectReason::BadPort),
        _ => Err(RejectReason::BadPort),
    }
}

fn parse_net(addr: &str, len: &str) -> Result<Endpoint, RejectReason> {
    let len: u8 = len.parse().map_err(|_| RejectReason::BadAddress)?;
    let addr = match addr.contains(':') {
        true => parse_v6(addr)?,
        false => parse_v4(addr)?,
    };
    // A mapped v6 address was folded to v4 above; its prefix length shrinks by the 96 bits of
    // the mapping prefix.
    let net = match addr {
        IpAddr::V4(a) if len > 32 => {
            Ipv4Net::new(a, len.checked_sub(96).ok_or(RejectReason::BadAddress)?).map(IpNet::V4)
        }
        IpAddr::V4(a) => Ipv4Net::new(a, len).map(IpNet::V4),
        IpAddr::V6(a) => Ipv6Net::new(a, len).map(IpNet::V6),
    }
    .map_err(|_| RejectReason::BadAddress)?
    .trunc();
    Ok(match net.prefix_len() == net.max_prefix_len() {
        true => Endpoint::Addr(net.addr()),
        false => Endpoint::Net(net),
    })
}

/// Whether text is plausibly meant as an IP endpoint: digits with dots or colons and nothing
/// but hex digits and address punctuation. Lets the loose formats (plain lines, markdown) tell
/// a mistyped address (rejected, reported) from a domain or hash (skipped as another IOC type).
pub(crate) fn looks_like_address(text: &str) -> bool {
    let mut digit = false;
    let mut separator = false;
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => digit = true,
            b'.' | b':' => separator = true,
            b'a'..=b'f' | b'A'..=b'F' | b'[' | b']' | b'/' | b'|' => {}
            _ => return false,
        }
    }
    digit && separator
}

#[cfg(test)]
#[path = "endpoint_tests.rs"]
mod tests;
