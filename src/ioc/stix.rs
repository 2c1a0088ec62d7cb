//! STIX 2.1 indicators, the form Sentinel's threat intelligence exports and MISP emits:
//! patterns naming an IPv4/IPv6 address (`[ipv4-addr:value = '…']`), optionally as a traffic
//! destination with a port (`network-traffic:dst_ref.value` + `dst_port`, quoted or not).
//! Accepts a bundle, a bare array of objects, or Sentinel's upload body (`stixobjects`).
//! The malware family comes from an `indicates` relationship to a malware object when present.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

use super::row::{FeedRow, Location, RowSink, ValueKind};
use super::text::FormatError;
use super::threatfox_json::Scalar;
use super::timestamp::Timestamp;

#[derive(Debug, Deserialize)]
struct Object<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pattern: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pattern_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    indicator_types: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    confidence: Option<Scalar<'a>>,
    #[serde(borrow)]
    valid_from: Option<Cow<'a, str>>,
    #[serde(borrow)]
    external_references: Option<Vec<ExternalReference<'a>>>,
    #[serde(borrow)]
    relationship_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source_ref: Option<Cow<'a, str>>,
    #[serde(borrow)]
    target_ref: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct ExternalReference<'a> {
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct Container<'a> {
    #[serde(borrow, alias = "stixobjects")]
    objects: Vec<Object<'a>>,
}

pub fn parse(text: &str, sink: &mut dyn RowSink) -> Result<(), FormatError> {
    let objects = match text.trim_start().starts_with('[') {
        true => serde_json::from_str::<Vec<Object<'_>>>(text)?,
        false => serde_json::from_str::<Container<'_>>(text)?.objects,
    };
    let malware = malware_by_indicator(&objects);
    let indicators = objects.iter().filter(|o| o.kind == "indicator");
    for (object, number) in indicators.zip(1u64..) {
        let at = Location::Record(number);
        let is_stix = object.pattern_type.as_deref().is_none_or(|t| t == "stix");
        let targets = match (&object.pattern, is_stix) {
            (Some(pattern), true) => targets(pattern),
            _ => Vec::new(),
        };
        if targets.is_empty() {
            sink.other_type(at);
            continue;
        }
        let family = object.id.as_deref().and_then(|id| malware.get(id)).copied();
        for (kind, target) in targets {
            sink.row(
                at,
                FeedRow {
                    kind,
                    value: Cow::Owned(target),
                    malware: family.map(Cow::Borrowed),
                    threat_type: object
                        .indicator_types
                        .iter()
                        .flatten()
                        .next()
                        .map(|t| Cow::Borrowed(&**t)),
                    confidence: object.confidence.as_ref().and_then(Scalar::confidence),
                    first_seen: object.valid_from.as_deref().and_then(Timestamp::parse),
                    last_seen: None,
                    reference: object
                        .external_references
                        .iter()
                        .flatten()
                        .find_map(|r| r.url.as_deref())
                        .map(Cow::Borrowed),
                },
            );
        }
    }
    Ok(())
}

/// indicator id → malware name, through `indicates` relationships.
fn malware_by_indicator<'o>(objects: &'o [Object<'_>]) -> HashMap<&'o str, &'o str> {
    let names: HashMap<&str, &str> = objects
        .iter()
        .filter(|o| o.kind == "malware")
        .filter_map(|o| Some((o.id.as_deref()?, o.name.as_deref()?)))
        .collect();
    objects
        .iter()
        .filter(|o| o.kind == "relationship" && o.relationship_type.as_deref() == Some("indicates"))
        .filter_map(|o| {
            Some((
                o.source_ref.as_deref()?,
                *names.get(o.target_ref.as_deref()?)?,
            ))
        })
        .collect()
}

/// One text per address, host name or URL the pattern names (`ip:port` when a destination
/// port goes with an address). `OR` separates alternatives (each its own IOC); `AND` joins an
/// address to its port.
fn targets(pattern: &str) -> Vec<(ValueKind, String)> {
    let tokens = tokenize(pattern);
    let mut targets = Vec::new();
    for alternative in tokens.split(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("OR")))
    {
        let mut addrs = Vec::new();
        let mut port = None;
        let mut names = Vec::new();
        for triple in alternative.windows(3) {
            let [Token::Word(path), Token::Word(op), value] = triple else {
                continue;
            };
            if !(*op == "=" || op.eq_ignore_ascii_case("ISSUBSET")) {
                continue;
            }
            let value = match value {
                Token::Quoted(v) => v.clone(),
                Token::Word(v) => v.to_string(),
            };
            match path.trim_start_matches('[') {
                p if p.ends_with("ipv4-addr:value")
                    || p.ends_with("ipv6-addr:value")
                    || p.ends_with("dst_ref.value")
                    || p.ends_with("src_ref.value") =>
                {
                    addrs.push(value)
                }
                p if p.ends_with("dst_port") => port = Some(value),
                p if p.ends_with("domain-name:value") => names.push((ValueKind::Domain, value)),
                p if p.ends_with("url:value") => names.push((ValueKind::Url, value)),
                _ => {}
            }
        }
        for addr in addrs {
            let text = match (&port, addr.contains(':')) {
                (Some(p), true) => format!("[{addr}]:{p}"),
                (Some(p), false) => format!("{addr}:{p}"),
                (None, _) => addr,
            };
            targets.push((ValueKind::Address, text));
        }
        targets.extend(names);
    }
    targets
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Word(&'a str),
    Quoted(String),
}

/// Words (paths, operators, numbers) and `'…'` literals with `\'`/`\\` escapes; brackets and
/// parentheses only group and are dropped, except inside paths like `protocols[*]`.
fn tokenize(pattern: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']') {
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        } else if c == '\'' {
            let mut literal = String::new();
            let mut chars = rest.char_indices().skip(1);
            let mut end = rest.len();
            while let Some((i, ch)) = chars.next() {
                match ch {
                    '\\' => literal.extend(chars.next().map(|(_, e)| e)),
                    '\'' => {
                        end = i + 1;
                        break;
                    }
                    ch => literal.push(ch),
                }
            }
            tokens.push(Token::Quoted(literal));
            rest = rest.get(end..).unwrap_or_default();
        } else {
            let end = rest
                .find(|ch: char| ch.is_whitespace() || matches!(ch, '\'' | '(' | ')'))
                .unwrap_or(rest.len());
            let word = rest.get(..end).unwrap_or_default();
            // `value='x'` without spaces: split the operator off the path.
            match word.strip_suffix('=') {
                Some(path) if !path.is_empty() && !path.ends_with(['!', '<', '>']) => {
                    tokens.push(Token::Word(path.trim_end_matches(']')));
                    tokens.push(Token::Word("="));
                }
                _ => tokens.push(Token::Word(word.trim_end_matches(']'))),
            }
            rest = rest.get(end..).unwrap_or_default();
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::plain::tests::Recorder;

    #[test]
    fn extracts_addresses_and_ports_from_patterns() {
        let cases = [
            ("[ipv4-addr:value = '138.9.223.13']", vec!["138.9.223.13"]),
            ("[ipv6-addr:value = '2001:db8::1/128']", vec!["2001:db8::1/128"]),
            (
                "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '138.9.223.13' AND network-traffic:dst_port = 8015]",
                vec!["138.9.223.13:8015"],
            ),
            (
                "[network-traffic:dst_ref.type='ipv6-addr' AND network-traffic:dst_ref.value='2001:db8::1' AND network-traffic:dst_port = '5678' AND network-traffic:protocols[*] = 'tcp']",
                vec!["[2001:db8::1]:5678"],
            ),
            ("[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '2.2.2.2'] OR [ipv4-addr:value ISSUBSET '198.51.100.0/24']", vec!["1.1.1.1", "2.2.2.2", "198.51.100.0/24"]),
        ];
        for (pattern, want) in cases {
            let got: Vec<_> = targets(pattern).into_iter().map(|(_, t)| t).collect();
            assert_eq!(got, want, "{pattern}");
        }
        assert_eq!(
            targets("[domain-name:value = 'evil.duckdns.org'] OR [url:value = 'http://x.example:8080/p']"),
            [
                (ValueKind::Domain, "evil.duckdns.org".to_string()),
                (ValueKind::Url, "http://x.example:8080/p".to_string())
            ]
        );
        assert_eq!(targets("[file:hashes.MD5 = 'x']"), []);
    }

    #[test]
    fn reads_a_bundle_with_malware_relationships() {
        let text = r#"{"type": "bundle", "id": "bundle--1", "objects": [
          {"type": "indicator", "spec_version": "2.1", "id": "indicator--a", "pattern_type": "stix",
           "pattern": "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '138.9.223.13' AND network-traffic:dst_port = 8015]",
           "valid_from": "2026-05-09T00:00:00Z", "confidence": 75, "indicator_types": ["malicious-activity"],
           "external_references": [{"source_name": "x", "url": "https://example.org/r"}]},
          {"type": "indicator", "id": "indicator--b", "pattern_type": "stix", "pattern": "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
          {"type": "indicator", "id": "indicator--c", "pattern_type": "sigma", "pattern": "title: x"},
          {"type": "malware", "id": "malware--r", "name": "Remcos", "is_family": true},
          {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates", "source_ref": "indicator--a", "target_ref": "malware--r"}
        ]}"#;
        let mut rec = Recorder::default();
        assert!(parse(text, &mut rec).is_ok());
        assert_eq!(rec.values(), [(1, "138.9.223.13:8015")]);
        let row = &rec.rows[0].2;
        assert_eq!(row.malware.as_deref(), Some("Remcos"));
        assert_eq!(row.threat_type.as_deref(), Some("malicious-activity"));
        assert_eq!(row.confidence, Some(75));
        assert_eq!(
            row.first_seen.map(|t| t.to_string()).as_deref(),
            Some("2026-05-09 00:00:00")
        );
        assert_eq!(row.reference.as_deref(), Some("https://example.org/r"));
        assert_eq!(rec.other, [Location::Record(2), Location::Record(3)]);
    }

    #[test]
    fn reads_arrays_and_upload_bodies() {
        let indicator = r#"{"type": "indicator", "pattern": "[ipv4-addr:value = '5.6.7.8']"}"#;
        for text in [
            format!("[{indicator}]"),
            format!(r#"{{"sourcesystem": "x", "stixobjects": [{indicator}]}}"#),
        ] {
            let mut rec = Recorder::default();
            assert!(parse(&text, &mut rec).is_ok());
            assert_eq!(rec.values(), [(1, "5.6.7.8")]);
        }
    }
}
