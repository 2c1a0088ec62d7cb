//! CEF formatting round trip: any field values in, a single line out that parses back to exactly
//! those values (after the documented sanitizing: ASCII control characters other than CR/LF
//! become U+FFFD, and CR/LF become a space in the header). With a size budget, the line fits it
//! and every shortened value is a prefix of the full one.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arbitrary::Arbitrary;
use c2tap::decode::Tunnel;
use c2tap::flow::{NameMatch, NameVia};
use c2tap::ioc::Ioc;
use c2tap::exclude::severity::DEFAULT;
use c2tap::output::format::cef::{name_suffix, write_cef, write_cef_within, HEALTH_NAME};
use c2tap::output::format::cef_parse::{parse_cef, CefEvent};
use c2tap::record::{
    Action, Endpoint, FlowRecord, HealthRecord, Record, SensorContext, Signature, Totals,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    health: bool,
    signature: u8,
    v6: (bool, bool),
    client: ([u8; 16], u16),
    server: ([u8; 16], u16),
    proto: u8,
    times: (u64, u64),
    ioc: (String, String, String, String, Option<String>),
    confidence: Option<u8>,
    seen: (Option<String>, Option<String>),
    interface: String,
    hostname: String,
    vlan: u16,
    tunnel: (u8, u32),
    totals: (u64, u64, u64, u64),
    count: u32,
    suppressed: Option<String>,
    outer: bool,
    clients: u64,
    capture_problem: Option<String>,
    replay: bool,
    budget: u16,
    /// A name IOC match (1010-1013): via, host, URL, DNS answers, TTL, answer time. All are
    /// attacker-chosen bytes from the wire.
    name: Option<(u8, String, Option<String>, Option<String>, Option<u32>, Option<u64>)>,
}

fn addr(v6: bool, bytes: [u8; 16]) -> IpAddr {
    match v6 {
        true => IpAddr::V6(Ipv6Addr::from(bytes)),
        false => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
    }
}

fn record(i: &Input) -> Record {
    if i.health {
        return Record::Health(HealthRecord {
            time: i.times.0,
            packets: i.totals.0,
            kernel_drops: i.totals.1,
            matches: i.totals.2,
            iocs_loaded: i.totals.3,
            ioc_age_secs: i.times.1,
            capture_problem: i.capture_problem.clone(),
            stale_feeds: None,
        });
    }
    let signature = match i.signature % 7 {
        0 => Signature::IocMatch,
        1 => Signature::IocAddressMatch,
        2 => Signature::DomainLookup,
        3 => Signature::DomainConnection,
        4 => Signature::TlsSni,
        5 => Signature::HttpHost,
        _ => Signature::FlowSummary,
    };
    let name = i.name.as_ref().map(|(via, host, url, answers, ttl, answered)| {
        Arc::new(NameMatch {
            via: match via % 4 {
                0 => NameVia::Lookup,
                1 => NameVia::Connection,
                2 => NameVia::Sni,
                _ => NameVia::Http,
            },
            host: Arc::from(host.as_str()),
            url: url.as_deref().map(Arc::from),
            answers: answers.as_deref().map(Arc::from),
            ttl: *ttl,
            answered: *answered,
        })
    });
    let tunnel = match i.tunnel.0 % 6 {
        0 => Tunnel::None,
        1 => Tunnel::Gre {
            key: (i.tunnel.1 != 0).then_some(i.tunnel.1),
        },
        2 => Tunnel::ErspanII {
            session: i.tunnel.1 as u16,
        },
        3 => Tunnel::ErspanIII {
            session: i.tunnel.1 as u16,
        },
        4 => Tunnel::Vxlan { vni: i.tunnel.1 },
        _ => Tunnel::Geneve { vni: i.tunnel.1 },
    };
    let (value, malware, threat_type, source, reference) = i.ioc.clone();
    Record::Flow(FlowRecord {
        signature,
        action: Action::Established,
        client: Endpoint {
            addr: addr(i.v6.0, i.client.0),
            port: i.client.1,
        },
        server: Endpoint {
            addr: addr(i.v6.1, i.server.0),
            port: i.server.1,
        },
        proto: i.proto,
        start: i.times.0,
        end: i.times.1,
        ioc: Arc::new(Ioc {
            value,
            port: None,
            malware,
            threat_type,
            confidence: i.confidence,
            first_seen: i.seen.0.as_deref().and_then(c2tap::units::Timestamp::parse),
            last_seen: i.seen.1.as_deref().and_then(c2tap::units::Timestamp::parse),
            source,
            reference,
        }),
        ioc_is_server: true,
        vlan: i.vlan,
        tunnel,
        outer: i.outer,
        interface: Arc::from(i.interface.as_str()),
        totals: Totals {
            packets_to_server: i.totals.0,
            bytes_to_server: i.totals.1,
            packets_to_client: i.totals.2,
            bytes_to_client: i.totals.3,
        },
        count: i.count,
        clients: i.clients,
        suppressed: i.suppressed.as_deref().map(Arc::from),
        name,
    })
}

/// What an extension value reads back as.
fn as_value(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\r' | '\n' => c,
            c if c2tap::output::format::cef::is_unsafe_char(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// What a header field reads back as.
fn as_header(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\r' | '\n' => ' ',
            c if c2tap::output::format::cef::is_unsafe_char(c) => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// The free-text fields of `rec` as (key, expected value); `None` for the header name.
fn texts(rec: &Record, ctx: &SensorContext) -> Vec<(Option<&'static str>, String)> {
    let mut out = vec![(Some("dvchost"), as_value(&ctx.hostname))];
    let Record::Flow(flow) = rec else {
        return out;
    };
    let ioc = &flow.ioc;
    out.push((Some("deviceInboundInterface"), as_value(&flow.interface)));
    out.push((Some("cs1"), as_value(&ioc.value)));
    out.push((Some("cs4"), as_value(&ioc.source)));
    if !ioc.malware.is_empty() {
        out.push((Some("cs2"), as_value(&ioc.malware)));
        out.push((None, as_header(&ioc.malware)));
    }
    if !ioc.threat_type.is_empty() {
        out.push((Some("cs3"), as_value(&ioc.threat_type)));
    }
    if let Some(reference) = &ioc.reference {
        out.push((Some("cs5"), as_value(reference)));
    }
    if let Some(name) = &flow.name {
        out.push((Some("dhost"), as_value(&name.host)));
        if let Some(url) = &name.url {
            out.push((Some("request"), as_value(url)));
        }
        if let Some(answers) = &name.answers {
            out.push((Some("c2tapDnsAnswers"), as_value(answers)));
        }
    }

    out
}

fn name_of<'a>(rec: &Record, event: &'a CefEvent) -> &'a str {
    let suffix = match rec {
        Record::Flow(flow) => name_suffix(flow.signature),
        Record::Health(_) => return &event.name,
    };
    match event.name.strip_suffix(suffix) {
        Some(name) => name,
        None => panic!("name {:?} lost its suffix {suffix:?}", event.name),
    }
}

fn parse(line: &[u8]) -> CefEvent {
    assert!(
        !line.iter().any(|&b| b == b'\n' || b == b'\r' || b == 0),
        "raw CR, LF or NUL in {line:?}"
    );
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) => panic!("record is not UTF-8: {e}"),
    };
    match parse_cef(text) {
        Ok(event) => event,
        Err(e) => panic!("record does not parse ({e}): {text}"),
    }
}

fuzz_target!(|input: Input| {
    let rec = record(&input);
    let ctx = SensorContext {
        hostname: input.hostname.clone(),
        replay: input.replay,
    };
    let mut line = Vec::new();
    write_cef(&mut line, &rec, &ctx, &DEFAULT);
    let event = parse(&line);
    for (key, expected) in texts(&rec, &ctx) {
        match key {
            Some(key) => assert_eq!(event.get(key), Some(expected.as_str()), "{key}"),
            None => assert_eq!(name_of(&rec, &event), expected, "name"),
        }
    }
    if let Record::Flow(flow) = &rec {
        if flow.ioc.malware.is_empty() {
            assert_eq!(name_of(&rec, &event), "Unknown");
        }
        let src = flow.client.addr.to_string();
        assert_eq!(event.get("src"), Some(src.as_str()));
        let dst = flow.server.addr.to_string();
        assert_eq!(event.get("dst"), Some(dst.as_str()));
        if let (Some(reason), Some(got)) = (&flow.suppressed, event.get("reason")) {
            assert_eq!(got, as_value(reason), "reason");
        }
        let cnt = flow.count.to_string();
        assert_eq!(event.get("cnt"), Some(cnt.as_str()));
    } else {
        assert_eq!(event.name, HEALTH_NAME);
    }

    let budget = usize::from(input.budget);
    line.clear();
    let fits = write_cef_within(&mut line, &rec, &ctx, &DEFAULT, budget);
    if fits {
        assert!(line.len() <= budget, "{} > {budget}", line.len());
    }
    let short = parse(&line);
    for (key, expected) in texts(&rec, &ctx) {
        let got = match key {
            Some(key) => short.get(key).unwrap_or_default(),
            None => name_of(&rec, &short),
        };
        assert!(
            expected.starts_with(got),
            "{key:?}: {got:?} is not a prefix of {expected:?}"
        );
    }
});
