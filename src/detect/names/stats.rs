//! The name path's counters, apart from the path itself: the worker publishes them and the
//! metrics side reads them back ([`NameStats::from_events`]) without touching
//! [`Names`](super::Names).

use std::fmt::Write as _;

use crate::decode::dns::DnsError;
use crate::decode::http::HttpError;
use crate::decode::tls::TlsError;

use super::bindings::BindingStats;
use super::gather::GatherStats;
use super::seen::SeenStats;

/// Counters of the name path (plain integers, published with the worker's stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameStats {
    pub dns_messages: u64,
    pub dns_errors: [u64; DnsError::ALL.len()],
    /// Answers past [`dns::MAX_ANSWERS`](crate::decode::dns::MAX_ANSWERS) in one message, not read.
    pub dns_answers_over_limit: u64,
    pub tls_hellos: u64,
    pub tls_errors: [u64; TlsError::ALL.len()],
    pub http_requests: u64,
    pub http_errors: [u64; HttpError::ALL.len()],
    /// Packets whose name matched, by how: lookup, connection, SNI, HTTP (a flow's first such
    /// packet makes its alert; a bound flow hits on each packet).
    pub hits: [u64; 4],
    pub bindings: BindingStats,
    /// First payloads gathered over segments, by [`Kind`](super::gather::Kind).
    pub gather: GatherStats,
    pub seen: SeenStats,
}

/// Counter labels of [`NameStats::events`], a closed set (the `event` label of
/// `c2tap_name_path_total`).
pub const NAME_EVENTS: [&str; 32] = [
    "dns_message",
    "dns_truncated",
    "dns_bad_label",
    "dns_name_too_long",
    "dns_bad_pointer",
    "dns_not_one_question",
    "dns_bad_tcp_length",
    "dns_answers_over_limit",
    "tls_hello",
    "tls_not_hello",
    "tls_incomplete",
    "tls_bad_length",
    "tls_too_long",
    "http_request",
    "http_not_request",
    "http_no_end",
    "http_bad_host",
    "hit_lookup",
    "hit_connection",
    "hit_sni",
    "hit_http",
    "binding_insert",
    "binding_expired",
    "binding_overflow",
    "binding_answer_overflow",
    "binding_late",
    "hello_gathered",
    "hello_abandoned",
    "http_gathered",
    "http_abandoned",
    "seen_overwritten",
    "retro_name",
];

impl NameStats {
    /// Every counter in [`NAME_EVENTS`] order (first payloads not gathered for lack of room
    /// count as abandoned), for publishing as metrics.
    pub fn events(&self) -> [u64; NAME_EVENTS.len()] {
        let [t, bl, nl, bp, nq, tl] = self.dns_errors;
        let [nh, inc, blen, tlong] = self.tls_errors;
        let [nr, ne, bh] = self.http_errors;
        let [h0, h1, h2, h3] = self.hits;
        let b = &self.bindings;
        // Indexed by `Kind`: hello, request.
        let [g_hs, g_rs] = self.gather.started;
        let [g_ha, g_ra] = self.gather.abandoned;
        let [g_ho, g_ro] = self.gather.overflow;
        [
            self.dns_messages,
            t,
            bl,
            nl,
            bp,
            nq,
            tl,
            self.dns_answers_over_limit,
            self.tls_hellos,
            nh,
            inc,
            blen,
            tlong,
            self.http_requests,
            nr,
            ne,
            bh,
            h0,
            h1,
            h2,
            h3,
            b.inserts,
            b.expired,
            b.overflow,
            b.answer_overflow,
            b.late,
            g_hs,
            g_ha + g_ho,
            g_rs,
            g_ra + g_ro,
            self.seen.overwritten,
            self.seen.retro,
        ]
    }

    /// The inverse of [`NameStats::events`] (binding table size, late scans and gathering
    /// overflow, not apart in the events, are left at zero).
    pub fn from_events(e: [u64; NAME_EVENTS.len()]) -> NameStats {
        let [dm, t, bl, nl, bp, nq, tl, over, th, nh, inc, blen, tlong, hr, nr, ne, bh, h0, h1, h2, h3, bi, be, bo, ba, blate, hs, ha, rs, ra, ro, rr] =
            e;
        NameStats {
            dns_messages: dm,
            dns_errors: [t, bl, nl, bp, nq, tl],
            dns_answers_over_limit: over,
            tls_hellos: th,
            tls_errors: [nh, inc, blen, tlong],
            http_requests: hr,
            http_errors: [nr, ne, bh],
            hits: [h0, h1, h2, h3],
            bindings: BindingStats {
                inserts: bi,
                expired: be,
                overflow: bo,
                answer_overflow: ba,
                late: blate,
                ..BindingStats::default()
            },
            gather: GatherStats {
                started: [hs, rs],
                overflow: [0, 0],
                abandoned: [ha, ra],
            },
            seen: SeenStats {
                overwritten: ro,
                retro: rr,
            },
        }
    }

    /// Every counted skip: malformed or bounded-out DNS, TLS and HTTP, answers past the
    /// limit, first payloads abandoned or not gathered for lack of room.
    pub fn skips(&self) -> u64 {
        let sum = |a: &[u64]| a.iter().sum::<u64>();
        sum(&self.dns_errors)
            + sum(&self.tls_errors)
            + sum(&self.http_errors)
            + self.dns_answers_over_limit
            + sum(&self.gather.abandoned)
            + sum(&self.gather.overflow)
    }

    /// The non-zero skip counters as `reason=n` pairs (closed set of reasons).
    pub fn skip_reasons(&self) -> String {
        let mut out = String::new();
        let dns = DnsError::ALL.iter().map(|e| e.kind()).zip(self.dns_errors);
        let tls = TlsError::ALL.iter().map(|e| e.kind()).zip(self.tls_errors);
        let http = HttpError::ALL
            .iter()
            .map(|e| e.kind())
            .zip(self.http_errors);
        // Indexed by `Kind`: hello, request.
        let [g_ha, g_ra] = self.gather.abandoned;
        let [g_ho, g_ro] = self.gather.overflow;
        let more = [
            ("dns_answers_over_limit", self.dns_answers_over_limit),
            ("tls_hello_abandoned", g_ha),
            ("tls_hello_no_room", g_ho),
            ("http_request_abandoned", g_ra),
            ("http_request_no_room", g_ro),
        ];
        for (kind, n) in dns.chain(tls).chain(http).chain(more) {
            if n > 0 {
                if !out.is_empty() {
                    out.push(' ');
                }
                let _ = write!(out, "{kind}={n}");
            }
        }
        out
    }
}
