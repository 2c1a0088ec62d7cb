//! The DNS side of [`Names`]: a lookup of an IOC name (1010), and the bindings its answers
//! leave for the connections they lead to (1011). Kept apart from the per-packet dispatch in
//! `names.rs`, which reaches it only on port 53.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::decode::dns::{self, DnsError, Message, Name, Rdata};
use crate::decode::{proto, PacketMeta};
use crate::flow::{Dir, FlowKey, NameMatch, NameVia};
use crate::time::Nanos;

use super::bindings::MAX_ADDRS_PER_ANSWER;
use super::shared::Announce;
use super::{Found, NameIocs, Names};

/// Names followed through one answer's CNAME chain.
const MAX_CHAIN: usize = 8;

impl Names {
    pub(super) fn dns(
        &mut self,
        set: &impl NameIocs,
        ts: Nanos,
        m: &PacketMeta,
        payload: &[u8],
    ) -> Option<Found> {
        let bytes = if m.proto == proto::TCP {
            match dns::tcp_message(payload) {
                Ok(b) => b,
                Err(e) => return self.dns_error(e),
            }
        } else {
            payload
        };
        let mut qname = Name::default();
        let msg = match Message::parse(bytes, &mut qname) {
            Ok(msg) => msg,
            Err(e) => return self.dns_error(e),
        };
        self.stats.dns_messages += 1;
        if usize::from(msg.answer_count) > dns::MAX_ANSWERS && msg.is_response {
            self.stats.dns_answers_over_limit +=
                u64::from(msg.answer_count) - dns::MAX_ANSWERS as u64;
        }
        // The chain: the question name, then every CNAME target reached from a name in it.
        let mut chain = [Name::default(); MAX_CHAIN];
        let mut chain_len = 1;
        chain[0] = qname;
        let mut ioc = set.host_ioc(qname.as_bytes());
        let mut owner = Name::default();
        let mut target = Name::default();
        if msg.is_response {
            // CNAMEs may come in any order: a few passes reach a fixed point.
            for _ in 0..MAX_CHAIN {
                let before = chain_len;
                for a in msg.answers() {
                    let Ok(a) = a else { break };
                    let Rdata::Cname(at) = a.data else { continue };
                    if msg.name_at(a.name_at, &mut owner).is_err()
                        || msg.name_at(at, &mut target).is_err()
                    {
                        continue;
                    }
                    let in_chain = |n: &Name, chain: &[Name]| chain.iter().any(|c| c == n);
                    if in_chain(&owner, chain.get(..chain_len).unwrap_or(&[]))
                        && !in_chain(&target, chain.get(..chain_len).unwrap_or(&[]))
                    {
                        if let Some(slot) = chain.get_mut(chain_len) {
                            *slot = target;
                            chain_len += 1;
                            if ioc.is_none() {
                                ioc = set.host_ioc(target.as_bytes());
                            }
                        }
                    }
                }
                if chain_len == before {
                    break;
                }
            }
        }
        let Some(ioc) = ioc else {
            // Kept for a later set (the client is the query's sender).
            let (key, dir) = FlowKey::of(m, m.sport, m.dport);
            let server_is_lo = msg.is_response == (dir == Dir::LoToHi);
            let chain = chain.get(..chain_len).unwrap_or(&[]);
            self.seen.lookup((key, server_is_lo, ts), &msg, chain);
            return None;
        };
        let host: Arc<str> = Arc::from(String::from_utf8_lossy(qname.as_bytes()));
        let mut answers = String::new();
        let mut ttl = None;
        let mut bound = 0;
        let mut bound_addrs = [std::net::IpAddr::from([0u8; 4]); MAX_ADDRS_PER_ANSWER];
        if msg.is_response {
            for a in msg.answers() {
                let Ok(a) = a else {
                    if let Err(e) = a {
                        self.dns_error(e);
                    }
                    break;
                };
                let Rdata::Addr(addr) = a.data else { continue };
                if msg.name_at(a.name_at, &mut owner).is_err()
                    || !chain.get(..chain_len).unwrap_or(&[]).contains(&owner)
                {
                    continue;
                }
                let seen = bound_addrs.get(..bound).unwrap_or(&[]);
                if seen.contains(&addr) {
                    continue;
                }
                let Some(slot) = bound_addrs.get_mut(bound) else {
                    self.bindings.stats.answer_overflow += 1;
                    continue;
                };
                *slot = addr;
                bound += 1;
                self.bindings.insert(addr, &ioc, &host, ts, a.ttl);
                if let Some(peers) = &self.peers {
                    self.bindings.stats.overflow += peers.announce(&Announce {
                        addr,
                        ioc: Arc::clone(&ioc),
                        name: Arc::clone(&host),
                        answered: ts,
                        ttl: a.ttl,
                    });
                }
                if !answers.is_empty() {
                    answers.push(',');
                }
                let _ = write!(answers, "{addr}");
                ttl = Some(ttl.map_or(a.ttl, |t: u32| t.min(a.ttl)));
            }
        }
        // The client is the query's sender: the response goes to it.
        let server_is_dst = !msg.is_response;
        Some(Found {
            ioc,
            name: Arc::new(NameMatch {
                via: NameVia::Lookup,
                host,
                url: None,
                answers: msg.is_response.then(|| Arc::from(answers)),
                ttl,
                answered: msg.is_response.then_some(ts),
            }),
            server_is_dst,
        })
    }

    pub(super) fn dns_error(&mut self, e: DnsError) -> Option<Found> {
        if let Some(c) = self.stats.dns_errors.get_mut(e.index()) {
            *c += 1;
        }
        None
    }
}
