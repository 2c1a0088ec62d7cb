//! Retro-matching by name at a reload: the names the rings ([`super::seen`]) kept that the
//! new set lists become matches for the open flows that sent them (1010, 1012, 1013), and the
//! answers they kept become bindings (1011 for the open flows to those addresses). The worker
//! finds the flows (its table) and sends the alerts, as for an address retro-match.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use crate::flow::{ClientBasis, Flow, FlowKey, FlowMatch, NameMatch, NameVia};
use crate::ioc::{Ioc, MatchKind};
use crate::time::Nanos;

use super::bindings::clamped;
use super::shared::Announce;
use super::{NameIocs, Names};

/// A match for the open flow that sent a name the new set lists.
pub struct RetroFlow {
    pub key: FlowKey,
    /// When the name was seen: the flow that sent it had started by then (a flow on the same
    /// key that started later is a newer connection).
    pub at: Nanos,
    pub server_is_lo: bool,
    pub ioc: Arc<Ioc>,
    pub name: Arc<NameMatch>,
}

/// What a reload found in the rings.
#[derive(Default)]
pub struct Retro {
    /// Newest first: a lookup's answer comes before its query.
    pub flows: Vec<RetroFlow>,
    /// Kept answers became bindings: the worker walks its open flows once for them.
    pub bound: bool,
}

/// The flow's match, by name; `server_is_lo` tells which endpoint the IOC is.
pub(super) fn give(flow: &mut Flow, ioc: Arc<Ioc>, name: Arc<NameMatch>, server_is_lo: bool) {
    if flow.basis == ClientBasis::Inferred {
        flow.client_is_lo = !server_is_lo;
    }
    flow.matched = Some(FlowMatch {
        kind: MatchKind::Exact,
        ioc,
        ioc_is_lo: server_is_lo,
    });
    flow.name = Some(name);
}

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl Names {
    /// The rings' names that `set` lists, as matches for their flows (newest first), after
    /// binding the addresses their kept answers gave within the TTL still running at `now`.
    /// Runs once per reload (not per packet): it allocates the few matches it finds.
    pub fn retro(&mut self, set: &impl NameIocs, now: Nanos) -> Retro {
        let mut out = Retro::default();
        if !set.has_names() {
            return out;
        }
        for c in self.seen.clients.newest_first() {
            let host = c.host();
            let (ioc, via, url) = if c.http {
                let (authority, path) = c.authority_path();
                let by_url = if c.whole {
                    set.url_ioc(authority, path)
                } else {
                    None
                };
                let Some(ioc) = by_url.or_else(|| set.host_ioc(host)) else {
                    continue;
                };
                let url = format!(
                    "http://{}{}",
                    text(authority).to_ascii_lowercase(),
                    text(path)
                );
                (ioc, NameVia::Http, Some(Arc::from(url)))
            } else {
                let Some(ioc) = set.host_ioc(host) else {
                    continue;
                };
                (ioc, NameVia::Sni, None)
            };
            out.flows.push(RetroFlow {
                key: c.key,
                at: c.at,
                server_is_lo: c.server_is_lo,
                ioc,
                name: Arc::new(NameMatch {
                    via,
                    host: Arc::from(text(host)),
                    url,
                    answers: None,
                    ttl: None,
                    answered: None,
                }),
            });
        }
        for l in self.seen.lookups.newest_first() {
            let Some(ioc) = l.names().find_map(|n| set.host_ioc(n)) else {
                continue;
            };
            let host: Arc<str> = Arc::from(text(l.qname()));
            let mut answers = String::new();
            let mut ttl = None;
            for (addr, t) in l.answers() {
                if !answers.is_empty() {
                    answers.push(',');
                }
                let _ = write!(answers, "{addr}");
                ttl = Some(ttl.map_or(t, |m: u32| m.min(t)));
                let live = l.at.saturating_add(clamped(t)) > now;
                let newer = self.bindings.answered(addr).is_some_and(|a| a >= l.at);
                if !live || newer {
                    continue;
                }
                self.bindings.insert(addr, &ioc, &host, l.at, t);
                out.bound = true;
                // The peers take the new set at their next packet, before they read these.
                if let Some(peers) = &self.peers {
                    self.bindings.stats.overflow += peers.announce(&Announce {
                        addr,
                        ioc: Arc::clone(&ioc),
                        name: Arc::clone(&host),
                        answered: l.at,
                        ttl: t,
                    });
                }
            }
            out.flows.push(RetroFlow {
                key: l.key,
                at: l.at,
                server_is_lo: l.server_is_lo,
                ioc,
                name: Arc::new(NameMatch {
                    via: NameVia::Lookup,
                    host,
                    url: None,
                    answers: l.response.then(|| Arc::from(answers)),
                    ttl,
                    answered: l.response.then_some(l.at),
                }),
            });
        }
        out
    }

    /// Give a retro match to `flow` (the open flow on its key) when it is still the flow that
    /// sent the name (started by then) and matched nothing since. True when it did: the worker
    /// sends its alert.
    pub fn attach_retro(&mut self, flow: &mut Flow, m: RetroFlow) -> bool {
        if flow.matched.is_some() || flow.first > m.at {
            return false;
        }
        give(flow, m.ioc, m.name, m.server_is_lo);
        self.seen.stats.retro += 1;
        true
    }

    /// An open flow to (or from) an address the bindings hold that started after the answer
    /// and within its TTL: 1011, as if the binding had been there at its first packet.
    pub fn bound_retro(&mut self, key: &FlowKey, flow: &mut Flow) -> bool {
        let bound = self.give_binding(flow, key.lo().0, key.hi().0, true);
        self.seen.stats.retro += u64::from(bound);
        bound
    }

    /// Give unmatched `flow` the 1011 of a binding of `first` or `second` as it stood at the
    /// flow's first packet (`first` tried first; `first_is_lo` places it in the flow's key).
    /// Shared by the retro walk and the late bindings ([`super::late`]).
    pub(super) fn give_binding(
        &self,
        flow: &mut Flow,
        first: IpAddr,
        second: IpAddr,
        first_is_lo: bool,
    ) -> bool {
        if flow.matched.is_some() {
            return false;
        }
        let Some((b, is_first)) = self.bindings.either(first, second, flow.first) else {
            return false;
        };
        give(
            flow,
            Arc::clone(&b.ioc),
            Arc::clone(&b.connection),
            is_first == first_is_lo,
        );
        true
    }
}
