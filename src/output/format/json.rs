//! JSON lines formatting: the same records as CEF, one object per line with snake_case keys in
//! a fixed order, for `--format json` on stdout and `file://` outputs (jq, Vector, Splunk HEC
//! batchers). Written by hand into the reused buffer so key order is part of the contract and
//! nothing is allocated per record.

use std::net::IpAddr;

use crate::exclude::severity::SeverityTable;
use crate::output::format::cef::{
    is_unsafe_char, mode, name_suffix, proto_name, write_times_and_endpoints, write_tunnel, Fields,
    HEALTH_NAME,
};
use crate::output::timefmt::push_u64;
use crate::record::{FlowRecord, HealthRecord, Record, SensorContext, Signature};
use crate::time::to_millis;

pub use crate::output::format::line::Format;

/// Appends one JSON object (no trailing newline) for `rec`, its `severity` from the table.
pub fn write_json(buf: &mut Vec<u8>, rec: &Record, ctx: &SensorContext, severity: &SeverityTable) {
    let mut obj = Obj::open(buf);
    let severity = severity.of(rec);
    match rec {
        Record::Flow(flow) => write_flow(&mut obj, flow, severity, ctx),
        Record::Health(health) => write_health(&mut obj, health, severity, ctx),
    }
    obj.close();
}

fn write_flow(obj: &mut Obj, flow: &FlowRecord, severity: u8, ctx: &SensorContext) {
    obj.num("signature_id", u64::from(flow.signature.id()));
    let name = obj.key("name");
    name.push(b'"');
    escape_json(
        name,
        if flow.ioc.malware.is_empty() {
            "Unknown"
        } else {
            &flow.ioc.malware
        },
    );
    escape_json(name, name_suffix(flow.signature));
    name.push(b'"');
    obj.num("severity", u64::from(severity));
    obj.str("action", flow.action.as_str());
    if let Some(reason) = &flow.suppressed {
        obj.str("reason", reason);
    }
    let start = to_millis(flow.start);
    write_times_and_endpoints(obj, flow);
    let proto = obj.key("proto");
    proto.push(b'"');
    proto_name(flow.proto, proto);
    proto.push(b'"');
    obj.str(
        "direction",
        if flow.ioc_is_server {
            "outbound"
        } else {
            "inbound"
        },
    );
    obj.num("count", u64::from(flow.count));
    obj.num("bytes_to_server", flow.totals.bytes_to_server);
    obj.num("bytes_to_client", flow.totals.bytes_to_client);
    obj.num("packets_to_server", flow.totals.packets_to_server);
    obj.num("packets_to_client", flow.totals.packets_to_client);
    if flow.signature == Signature::FlowSummary {
        obj.num("duration_ms", to_millis(flow.end).saturating_sub(start));
    }
    if flow.signature == Signature::ContactStorm {
        obj.num("clients", flow.clients);
    }
    if let Some(name) = &flow.name {
        obj.str("host", &name.host);
        if let Some(url) = &name.url {
            obj.str("url", url);
        }
        if let Some(answers) = &name.answers {
            obj.str("dns_answers", answers);
        }
        if let Some(ttl) = name.ttl {
            obj.num("dns_ttl", u64::from(ttl));
        }
        if let Some(at) = name.answered {
            obj.num("dns_answer_time", to_millis(at));
        }
    }
    obj.str("sensor", &ctx.hostname);
    obj.str("interface", &flow.interface);
    obj.str("mode", mode(ctx));
    if flow.vlan != 0 {
        obj.num("vlan", u64::from(flow.vlan));
    }
    let tunnel_at = obj.buf.len();
    let tunnel = obj.key("tunnel");
    tunnel.push(b'"');
    if write_tunnel(tunnel, flow.tunnel) {
        tunnel.push(b'"');
    } else {
        obj.buf.truncate(tunnel_at);
    }
    if flow.outer {
        obj.str("layer", "outer");
    }
    let ioc = &flow.ioc;
    let mut inner = Obj::open(obj.key("ioc"));
    inner.str("value", &ioc.value);
    inner.str("malware", &ioc.malware);
    inner.str("threat_type", &ioc.threat_type);
    if let Some(confidence) = ioc.confidence {
        inner.num("confidence", u64::from(confidence));
    }
    inner.str("feed", &ioc.source);
    for (key, value) in [("first_seen", ioc.first_seen), ("last_seen", ioc.last_seen)] {
        if let Some(value) = value {
            inner.str(key, value.text().as_str());
        }
    }
    if let Some(value) = &ioc.reference {
        inner.str("reference", value);
    }
    inner.close();
}

fn write_health(obj: &mut Obj, health: &HealthRecord, severity: u8, ctx: &SensorContext) {
    obj.num("signature_id", u64::from(Signature::Health.id()));
    obj.str("name", HEALTH_NAME);
    obj.num("severity", u64::from(severity));
    obj.str("action", "health");
    obj.num("rt", to_millis(health.time));
    obj.str("sensor", &ctx.hostname);
    obj.str("mode", mode(ctx));
    obj.num("packets", health.packets);
    obj.num("kernel_drops", health.kernel_drops);
    obj.num("matches", health.matches);
    obj.num("iocs_loaded", health.iocs_loaded);
    obj.num("ioc_age_secs", health.ioc_age_secs);
    match &health.capture_problem {
        None => obj.str("capture", "ok"),
        Some(why) => {
            obj.str("capture", "down");
            obj.str("capture_problem", why);
        }
    }
    if let Some(stale) = &health.stale_feeds {
        obj.str("stale_feeds", stale);
    }
}

/// An object being written: tracks whether a comma is due.
struct Obj<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(buf: &'a mut Vec<u8>) -> Obj<'a> {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    fn close(self) {
        self.buf.push(b'}');
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.buf
    }

    fn str(&mut self, key: &str, value: &str) {
        let buf = self.key(key);
        buf.push(b'"');
        escape_json(buf, value);
        buf.push(b'"');
    }
}

impl Fields for Obj<'_> {
    fn num(&mut self, key: &str, n: u64) {
        push_u64(self.key(key), n);
    }

    fn ip(&mut self, key: &str, addr: IpAddr) {
        let buf = self.key(key);
        buf.push(b'"');
        let _ = std::io::Write::write_fmt(buf, format_args!("{addr}"));
        buf.push(b'"');
    }
}

/// JSON string escaping (RFC 8259): quote, backslash, and every character that could end a
/// line or hide text for a reader ([`is_unsafe_char`]: C0/C1 controls, U+2028/2029, bidi
/// controls, BOM) as `\uXXXX`, so one record stays one line and reads as what it is.
fn escape_json(buf: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut plain_from = 0;
    for (i, c) in text.char_indices() {
        let short: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\n' => b"\\n",
            '\r' => b"\\r",
            '\t' => b"\\t",
            c if is_unsafe_char(c) => b"",
            _ => continue,
        };
        buf.extend_from_slice(text.as_bytes().get(plain_from..i).unwrap_or_default());
        if short.is_empty() {
            // Every unsafe character is in the Basic Multilingual Plane: one \uXXXX.
            let code = u32::from(c);
            buf.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                buf.push(HEX[((code >> shift) & 0xf) as usize]);
            }
        } else {
            buf.extend_from_slice(short);
        }
        plain_from = i + c.len_utf8();
    }
    buf.extend_from_slice(text.as_bytes().get(plain_from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exclude::severity::DEFAULT;
    use crate::output::format::examples::{ctx, flow_record, health_record};

    fn json(rec: &Record) -> serde_json::Value {
        let mut buf = Vec::new();
        write_json(&mut buf, rec, &ctx(), &DEFAULT);
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn flow_record_keys_in_order() {
        let mut buf = Vec::new();
        write_json(&mut buf, &flow_record(), &ctx(), &DEFAULT);
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            r#"{"signature_id":1001,"name":"Remcos C2 connection","severity":8,"action":"established","rt":1778335407123,"start":1778335407123,"end":1778335408123,"src":"10.1.2.3","spt":49822,"dst":"138.9.223.13","dpt":8015,"proto":"TCP","direction":"outbound","count":1,"bytes_to_server":120,"bytes_to_client":80,"packets_to_server":3,"packets_to_client":2,"sensor":"sensor01","interface":"eth1","mode":"live","ioc":{"value":"138.9.223.13:8015","malware":"Remcos","threat_type":"botnet_cc","confidence":75,"feed":"ThreatFox","first_seen":"2026-05-09"}}"#
        );
    }

    #[test]
    fn escapes_and_optional_keys() {
        let Record::Flow(mut flow) = flow_record() else {
            unreachable!()
        };
        let mut ioc = (*flow.ioc).clone();
        ioc.malware = "a\"b\\c\n\u{1}é".into();
        flow.ioc = std::sync::Arc::new(ioc);
        flow.signature = Signature::FlowSummary;
        flow.vlan = 7;
        flow.tunnel = crate::decode::Tunnel::Vxlan { vni: 42 };
        let v = json(&Record::Flow(flow));
        assert_eq!(v["ioc"]["malware"], "a\"b\\c\n\u{1}é");
        assert_eq!(v["name"], "a\"b\\c\n\u{1}é C2 flow ended");
        assert_eq!(v["duration_ms"], 1000);
        assert_eq!(v["vlan"], 7);
        assert_eq!(v["tunnel"], "vxlan:42");
        assert_eq!(v["severity"], 3);
        assert!(v.get("layer").is_none());
        let Record::Flow(mut outer) = flow_record() else {
            unreachable!()
        };
        outer.outer = true;
        assert_eq!(json(&Record::Flow(outer))["layer"], "outer");
    }

    proptest::proptest! {
        /// Any text in a record stays inside one JSON line: no raw line breaker of any reader
        /// (LF, CR, NEL, U+2028/2029) and no bidi or BOM character, and it parses back exactly.
        #[test]
        fn any_text_is_one_line(text in proptest::prelude::any::<String>()) {
            let Record::Flow(mut flow) = flow_record() else { unreachable!() };
            let mut ioc = (*flow.ioc).clone();
            ioc.malware.clone_from(&text);
            flow.ioc = std::sync::Arc::new(ioc);
            let mut buf = Vec::new();
            write_json(&mut buf, &Record::Flow(flow), &ctx(), &DEFAULT);
            let line = String::from_utf8(buf).unwrap();
            proptest::prop_assert!(!line.chars().any(is_unsafe_char), "{line:?}");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            proptest::prop_assert_eq!(v["ioc"]["malware"].as_str(), Some(text.as_str()));
        }
    }

    #[test]
    fn health_record_fields() {
        let v = json(&health_record());
        assert_eq!(v["signature_id"], 1004);
        assert_eq!(v["kernel_drops"], 2);
        assert_eq!(v["mode"], "live");
    }
}
