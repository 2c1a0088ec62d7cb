//! Feed dates are parsed once, at load, into `units::Timestamp`; the CEF writer prints that
//! value and never parses text again. Here one instant written in every grammar a feed uses
//! (ThreatFox CSV and JSON, the ThreatFox API's ` UTC`, STIX's RFC 3339 with a zone or an
//! offset, Feodo's JSON) must land in CEF as the same bytes, and a date the loader refuses must
//! leave the key out rather than carry a wrong date.

use std::path::Path;

use c2tap::exclude::severity::SeverityTable;
use c2tap::ioc::{self, FeedSource, Filters, Ioc};
use c2tap::output::format::cef::write_cef;
use c2tap::output::format::examples::{ctx, flow};
use c2tap::record::Record;
use c2tap::units::Timestamp;

/// 2026-05-09 14:03:27 UTC and 2026-05-10 06:00:00 UTC, in epoch milliseconds.
const FIRST_MS: &str = "deviceCustomDate1=1778335407000";
const LAST_MS: &str = "deviceCustomDate2=1778392800000";

fn cef_of(ioc: Ioc) -> String {
    let mut buf = Vec::new();
    write_cef(
        &mut buf,
        &Record::Flow(flow(ioc)),
        &ctx(),
        &SeverityTable::default(),
    );
    String::from_utf8(buf).unwrap()
}

/// The date keys of a CEF line, in order.
fn date_keys(cef: &str) -> Vec<&str> {
    cef.split(' ')
        .filter(|kv| kv.starts_with("deviceCustomDate"))
        .collect()
}

#[test]
fn every_date_grammar_lands_identically_in_cef() {
    let forms = [
        ("2026-05-09 14:03:27", "2026-05-10 06:00:00"), // ThreatFox CSV / export, Feodo
        ("2026-05-09 14:03:27 UTC", "2026-05-10 06:00:00 UTC"), // ThreatFox API
        ("2026-05-09T14:03:27Z", "2026-05-10T06:00:00Z"), // STIX
        ("2026-05-09T14:03:27.000Z", "2026-05-10T06:00:00.5Z"), // STIX, fractions
        ("2026-05-09T16:03:27+02:00", "2026-05-10T01:30:00-0430"), // offsets
        ("2026-05-09t14:03:27z", "2026-05-10 06:00"),   // lower case, no seconds
    ];
    let reference = {
        let mut i = c2tap::output::format::examples::ioc();
        i.first_seen = Timestamp::parse(forms[0].0);
        i.last_seen = Timestamp::parse(forms[0].1);
        cef_of(i)
    };
    assert_eq!(date_keys(&reference)[1], FIRST_MS, "{reference}");
    assert_eq!(date_keys(&reference)[3], LAST_MS, "{reference}");
    for (first, last) in forms {
        let mut i = c2tap::output::format::examples::ioc();
        i.first_seen = Timestamp::parse(first);
        i.last_seen = Timestamp::parse(last);
        assert_eq!(cef_of(i), reference, "{first} / {last}");
    }
    // A bare date is that day's midnight, UTC.
    let mut i = c2tap::output::format::examples::ioc();
    i.first_seen = Timestamp::parse("2026-05-09");
    assert_eq!(
        date_keys(&cef_of(i)),
        [
            "deviceCustomDate1Label=iocFirstSeen",
            "deviceCustomDate1=1778284800000"
        ]
    );
    // Refused dates never reach the model; before 1970 CEF leaves the key out.
    for bad in ["2026-02-30", "09.05.2026", "2026-05-09 25:00:00", "None"] {
        assert_eq!(Timestamp::parse(bad), None, "{bad}");
    }
    let mut i = c2tap::output::format::examples::ioc();
    i.first_seen = Timestamp::parse("1969-12-31 23:59:59");
    assert!(i.first_seen.is_some());
    assert_eq!(date_keys(&cef_of(i)), Vec::<&str>::new());
}

#[test]
fn every_feed_format_carries_its_dates_into_cef_alike() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = [
        (
            "threatfox.csv",
            "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"is_compromised\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n\
             \"2026-05-09 14:03:27\", \"1\", \"138.9.223.13:8015\", \"ip:port\", \"botnet_cc\", \"win.remcos\", \"\", \"Remcos\", \"2026-05-10 06:00:00\", \"75\", \"False\", \"None\", \"\", \"0\", \"abuse_ch\"\n"
                .to_string(),
        ),
        (
            "threatfox-export.json",
            r#"{"1": [{"ioc_value": "138.9.223.13:8015", "ioc_type": "ip:port", "threat_type": "botnet_cc",
                "malware_printable": "Remcos", "first_seen_utc": "2026-05-09 14:03:27",
                "last_seen_utc": "2026-05-10 06:00:00", "confidence_level": 75}]}"#
                .to_string(),
        ),
        (
            "threatfox-api.json",
            r#"{"query_status": "ok", "data": [{"ioc": "138.9.223.13:8015", "ioc_type": "ip:port",
                "threat_type": "botnet_cc", "malware_printable": "Remcos",
                "first_seen": "2026-05-09 14:03:27 UTC", "last_seen": "2026-05-10 06:00:00 UTC",
                "confidence_level": 75}]}"#
                .to_string(),
        ),
        (
            "feodo.json",
            r#"[{"ip_address": "138.9.223.13", "port": 8015, "first_seen": "2026-05-09 14:03:27",
                 "last_online": "2026-05-10 06:00:00", "malware": "Remcos"}]"#
                .to_string(),
        ),
        (
            "stix.json",
            r#"{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator",
                "spec_version": "2.1", "id": "indicator--1", "name": "Remcos C2",
                "pattern": "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '138.9.223.13' AND network-traffic:dst_port = 8015]",
                "pattern_type": "stix", "valid_from": "2026-05-09T16:03:27+02:00"}]}"#
                .to_string(),
        ),
    ];
    for (name, text) in feeds {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let loaded = ioc::load(
            &[FeedSource::parse(path_str(&path))],
            &Filters::default(),
            1_778_400_000,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ioc = loaded
            .set
            .iter()
            .find(|i| i.value == "138.9.223.13:8015")
            .unwrap_or_else(|| panic!("{name}: not loaded"));
        let cef = cef_of((**ioc).clone());
        let keys = date_keys(&cef);
        assert_eq!(keys.get(1), Some(&FIRST_MS), "{name}: {cef}");
        // STIX's valid_from is a first-seen only.
        if name != "stix.json" {
            assert_eq!(keys.get(3), Some(&LAST_MS), "{name}: {cef}");
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
