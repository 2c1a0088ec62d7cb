//! IOC feed loading end to end: every fixture format in `tests/feeds/` through `ioc::load`, the
//! errors for files that are not feeds, filters, merging across feeds, the report and KQL
//! writers, and a generated 100,000-row ThreatFox export.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use c2tap::ioc::{
    self, FeedFormat, FeedSource, FileStats, Filters, Ioc, LoadError, Loaded, Location, MatchKind,
    RejectReason,
};

/// 2026-05-10 00:00:00 UTC: the fixtures' "now".
const NOW: u64 = 1_778_371_200;

fn feed(name: &str) -> FeedSource {
    FeedSource::File(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/feeds")
            .join(name),
    )
}

fn load(names: &[&str]) -> Loaded {
    load_with(names, &Filters::default())
}

fn load_with(names: &[&str], filters: &Filters) -> Loaded {
    let sources: Vec<_> = names
        .iter()
        .map(|n| {
            if *n == "builtin" {
                FeedSource::Builtin
            } else {
                feed(n)
            }
        })
        .collect();
    ioc::load(&sources, filters, NOW).unwrap_or_else(|e| panic!("{names:?}: {e}"))
}

fn load_err(sources: &[FeedSource]) -> String {
    match ioc::load(sources, &Filters::default(), NOW) {
        Ok(loaded) => panic!("loaded {} IOCs", loaded.set.len()),
        Err(e) => e.to_string(),
    }
}

fn values(loaded: &Loaded) -> Vec<&str> {
    loaded.set.iter().map(|i| i.value.as_str()).collect()
}

/// The name IOCs as (kind, display value).
fn names(loaded: &Loaded) -> Vec<(&'static str, &str)> {
    loaded
        .set
        .names()
        .iter()
        .map(|n| (n.kind.label(), n.ioc.value.as_str()))
        .collect()
}

fn ioc<'a>(loaded: &'a Loaded, value: &str) -> &'a Ioc {
    loaded
        .set
        .iter()
        .find(|i| i.value == value)
        .unwrap_or_else(|| panic!("{value} not loaded"))
}

/// (format, rows, loaded, duplicates, other types, filtered, rejected)
fn counts(f: &FileStats) -> (FeedFormat, u64, u64, u64, u64, u64, u64) {
    (
        f.format,
        f.rows,
        f.loaded,
        f.duplicates,
        f.other_types,
        f.filtered.total(),
        f.rejected.total(),
    )
}

fn hit(loaded: &Loaded, addr: &str, port: Option<u16>) -> Option<(MatchKind, String)> {
    let addr: IpAddr = addr.parse().unwrap();
    let hit = loaded.set.lookup(addr, port)?;
    Some((hit.kind, loaded.set.get(hit.ioc)?.value.clone()))
}

/// 138.9.223.13:8015 as the ThreatFox CSV fixture describes it.
fn remcos_c2(first_seen: &str, source: &str) -> Ioc {
    Ioc {
        value: "138.9.223.13:8015".into(),
        port: Some(8015),
        malware: "Remcos".into(),
        threat_type: "botnet_cc".into(),
        confidence: Some(75),
        first_seen: Some(first_seen.into()),
        last_seen: Some("2026-05-10 06:00:00".into()),
        source: source.into(),
        reference: None,
    }
}

#[test]
fn no_feed_means_the_builtin_set() {
    let loaded = ioc::load(&[], &Filters::default(), NOW).unwrap();
    assert_eq!(values(&loaded), ["138.9.223.13:8015", "138.9.41.254:8015"]);
    let builtin = ioc::IocSet::builtin();
    for (a, b) in loaded.set.iter().zip(builtin.iter()) {
        assert_eq!(a, b);
    }
    assert_eq!(
        counts(&loaded.stats.files[0]),
        (FeedFormat::Builtin, 2, 2, 0, 0, 0, 0)
    );
}

#[test]
fn plain_lines_with_defanged_forms() {
    // The fixture's network is documentation space: a broad IOC, loaded only on request.
    let broad = Filters {
        allow_broad: true,
        ..Filters::default()
    };
    let loaded = load_with(&["plain-defanged.txt"], &broad);
    let warning = loaded.stats.files[0].broad_warning().unwrap_or_default();
    assert!(
        warning.contains("allow_broad loaded 1 broad IOC(s)")
            && warning.contains("198.51.100.0/24 (documentation)"),
        "{warning}"
    );
    assert_eq!(
        values(&loaded),
        [
            "138.9.223.13:8015",
            "138.9.41.254:8015",
            "203.0.113.77",
            "[2001:db8:bad::c2]:443",
            "2001:db8:bad::d0",
            "198.51.100.0/24",
        ]
    );
    assert_eq!(
        counts(&loaded.stats.files[0]),
        (FeedFormat::Plain, 9, 7, 1, 1, 0, 0)
    );
    assert_eq!(names(&loaded), [("domain", "evil-c2.example.com")]);
    let first = ioc(&loaded, "138.9.223.13:8015");
    assert_eq!(
        (
            first.source.as_str(),
            first.malware.as_str(),
            first.confidence
        ),
        ("plain-defanged.txt", "", None)
    );
    assert_eq!(
        hit(&loaded, "198.51.100.200", Some(1)),
        Some((MatchKind::Exact, "198.51.100.0/24".into()))
    );
    assert_eq!(
        hit(&loaded, "2001:db8:bad::c2", Some(80)),
        Some((MatchKind::OtherPort, "[2001:db8:bad::c2]:443".into()))
    );
}

#[test]
fn domain_and_url_iocs_load_normalised_and_bad_names_are_rejected_with_line_and_reason() {
    let loaded = load(&["names.txt"]);
    assert_eq!(values(&loaded), ["138.9.223.13:8015"]);
    assert_eq!(
        names(&loaded),
        [
            ("domain", "evil.duckdns.org"),
            ("suffix", "*.c2zone.example"),
            ("url", "https://panel.evil.example:8443/gate.php?id=1"),
            ("url", "http://dl.evil.example/stage2.bin"),
            ("domain", "xn--bcher-c2-65a.example"),
            ("domain", "under_score.example"),
        ]
    );
    let file = &loaded.stats.files[0];
    // 11 IOC lines (in `exa mple.org` the first token `exa` is the IOC, an unreadable one).
    assert_eq!(counts(file), (FeedFormat::Plain, 11, 7, 1, 0, 0, 3));
    assert_eq!(
        (file.names.domain, file.names.suffix, file.names.url),
        (3, 1, 2)
    );
    let rejected: Vec<_> = file
        .reject_details
        .iter()
        .map(|d| (d.at, d.reason))
        .collect();
    assert_eq!(
        rejected,
        [
            (Location::Line(9), RejectReason::EmptyLabel),
            (Location::Line(10), RejectReason::LabelTooLong),
            (Location::Line(12), RejectReason::Unparsable),
        ]
    );
    let remcos = |host: &[u8]| {
        loaded
            .set
            .match_host(host)
            .map(|n| (n.ioc.value.clone(), n.ioc.malware.clone()))
    };
    assert_eq!(
        remcos(b"Evil.DuckDNS.org:443"),
        Some(("evil.duckdns.org".into(), "Remcos".into()))
    );
    assert_eq!(
        remcos(b"a.b.c2zone.example").map(|h| h.0),
        Some("*.c2zone.example".into())
    );
    assert_eq!(remcos(b"other.duckdns.org"), None);
    let url = loaded
        .set
        .match_url(b"panel.evil.example:8443", b"/gate.php?id=1")
        .map(|n| n.ioc.value.as_str());
    assert_eq!(url, Some("https://panel.evil.example:8443/gate.php?id=1"));
    assert_eq!(loaded.stats.names.total(), 6);
}

#[test]
fn markdown_write_up_keeps_threat_type_date_and_confidence() {
    let loaded = load(&["remcos-writeup.md"]);
    assert_eq!(values(&loaded), ["138.9.223.13:8015", "138.9.41.254:8015"]);
    assert_eq!(
        counts(&loaded.stats.files[0]),
        (FeedFormat::Markdown, 3, 3, 0, 0, 0, 0)
    );
    assert_eq!(names(&loaded), [("domain", "remcos-update.example")]);
    let first = ioc(&loaded, "138.9.41.254:8015");
    assert_eq!(first.threat_type, "botnet_cc");
    assert_eq!(first.first_seen.as_deref(), Some("2026-05-09"));
    assert_eq!(first.confidence, Some(75));
    assert_eq!(first.source, "remcos-writeup.md");
}

#[test]
fn threatfox_csv_15_columns() {
    let loaded = load(&["threatfox-recent.csv"]);
    assert_eq!(
        values(&loaded),
        ["138.9.223.13:8015", "138.9.41.254:8015", "8.134.12.90:7777"]
    );
    assert_eq!(
        counts(&loaded.stats.files[0]),
        (FeedFormat::ThreatfoxCsv, 6, 5, 0, 1, 0, 0)
    );
    assert_eq!(
        names(&loaded),
        [
            ("domain", "remcos-update.example"),
            ("url", "http://203.0.113.9/gate.php")
        ]
    );
    let domain = loaded.set.match_host(b"Remcos-Update.example.").unwrap();
    assert_eq!(
        (domain.ioc.malware.as_str(), domain.ioc.confidence),
        ("Remcos", Some(50))
    );
    assert_eq!(
        ioc(&loaded, "138.9.223.13:8015"),
        &remcos_c2("2026-05-09 14:02:11", "ThreatFox")
    );
    let second = ioc(&loaded, "138.9.41.254:8015");
    assert_eq!(
        second.reference.as_deref(),
        Some("https://bazaar.abuse.ch/sample/0000/")
    );
    assert_eq!(second.last_seen, None);
    assert_eq!(ioc(&loaded, "8.134.12.90:7777").malware, "Cobalt Strike");
}

#[test]
fn threatfox_csv_14_columns() {
    let loaded = load(&["threatfox-2024.csv"]);
    assert_eq!(values(&loaded), ["8.134.12.90:7777", "192.0.2.44:2404"]);
    let old = ioc(&loaded, "192.0.2.44:2404");
    assert_eq!(
        (old.confidence, old.last_seen.as_deref()),
        (Some(50), Some("2024-07-16 01:00:00"))
    );
    assert_eq!(old.reference, None);
}

#[test]
fn threatfox_json_export_and_api_reply() {
    let export = load(&["threatfox-export.json"]);
    assert_eq!(
        values(&export),
        ["138.9.41.254:8015", "[2001:db8:c2::7]:8443"]
    );
    assert_eq!(
        counts(&export.stats.files[0]),
        (FeedFormat::ThreatfoxJson, 3, 3, 0, 0, 0, 0)
    );
    let v6 = ioc(&export, "[2001:db8:c2::7]:8443");
    assert_eq!(
        (v6.malware.as_str(), v6.confidence, v6.port),
        ("Sliver", Some(100), Some(8443))
    );
    assert_eq!(v6.reference.as_deref(), Some("https://example.org/sliver"));

    let api = load(&["threatfox-api.json"]);
    assert_eq!(values(&api), ["138.9.223.13:8015"]);
    assert_eq!(
        counts(&api.stats.files[0]),
        (FeedFormat::ThreatfoxApi, 2, 2, 0, 0, 0, 0)
    );
    let first = ioc(&api, "138.9.223.13:8015");
    assert_eq!(first.first_seen.as_deref(), Some("2026-05-09 14:02:11"));
    assert_eq!(first.last_seen.as_deref(), Some("2026-05-10 06:00:00"));
    assert_eq!(first.source, "ThreatFox");
}

#[test]
fn stix_bundle_with_quoted_and_unquoted_ports() {
    let loaded = load(&["stix-bundle.json"]);
    assert_eq!(
        values(&loaded),
        [
            "138.9.223.13:8015",
            "138.9.41.254:8015",
            "203.0.113.50",
            "2001:db8:c2::9"
        ]
    );
    assert_eq!(
        counts(&loaded.stats.files[0]),
        (FeedFormat::Stix, 5, 5, 0, 0, 0, 0)
    );
    assert_eq!(names(&loaded), [("domain", "remcos-update.example")]);
    let quoted = ioc(&loaded, "138.9.41.254:8015");
    assert_eq!(quoted.malware, "Remcos");
    assert_eq!(quoted.first_seen.as_deref(), Some("2026-05-09 14:02:11"));
    assert_eq!(
        ioc(&loaded, "203.0.113.50").reference.as_deref(),
        Some("https://example.org/report")
    );
    assert_eq!(
        hit(&loaded, "2001:db8:c2::9", None),
        Some((MatchKind::Exact, "2001:db8:c2::9".into()))
    );
}

/// (malware, threat type, first seen, last seen) of one loaded IOC.
fn context(loaded: &Loaded, value: &str) -> (String, String, Option<String>, Option<String>) {
    let i = ioc(loaded, value);
    (
        i.malware.clone(),
        i.threat_type.clone(),
        i.first_seen.clone(),
        i.last_seen.clone(),
    )
}

fn rejections(file: &FileStats) -> Vec<(Location, RejectReason)> {
    file.reject_details
        .iter()
        .map(|d| (d.at, d.reason))
        .collect()
}

#[test]
fn feodo_tracker_csv_and_json_blocklists() {
    let csv = load(&["feodo-blocklist.csv"]);
    assert_eq!(values(&csv), ["162.243.103.246:8080", "50.16.16.211:443"]);
    // 4 rows: 2 loaded, the extra-column row and the port-99999 row rejected with their reason.
    assert_eq!(
        counts(&csv.stats.files[0]),
        (FeedFormat::FeodoCsv, 4, 2, 0, 0, 0, 2)
    );
    assert_eq!(
        rejections(&csv.stats.files[0]),
        [
            (Location::Line(12), RejectReason::ExtraColumns),
            (Location::Line(13), RejectReason::BadPort)
        ]
    );
    let qakbot = (
        "QakBot".to_string(),
        "botnet_cc".to_string(),
        Some("2025-12-30 13:56:31".to_string()),
        Some("2026-05-09".to_string()),
    );
    assert_eq!(context(&csv, "50.16.16.211:443"), qakbot);
    assert_eq!(ioc(&csv, "50.16.16.211:443").source, "Feodo Tracker");

    let json = load(&["feodo-blocklist.json"]);
    assert_eq!(values(&json), ["162.243.103.246:8080", "50.16.16.211:443"]);
    assert_eq!(
        counts(&json.stats.files[0]),
        (FeedFormat::FeodoJson, 3, 2, 0, 0, 0, 1)
    );
    assert_eq!(
        rejections(&json.stats.files[0]),
        [(Location::Record(3), RejectReason::BadPort)]
    );
    assert_eq!(context(&json, "50.16.16.211:443"), qakbot);
    // The age filter works on last_online: the offline Emotet C2 (last online 2026-05-07) goes.
    let fresh = load_with(
        &["feodo-blocklist.json"],
        &Filters {
            max_age_days: Some(2),
            ..Filters::default()
        },
    );
    assert_eq!(values(&fresh), ["50.16.16.211:443"]);
}

#[test]
fn generic_ip_port_csv_with_and_without_header() {
    let with_header = load(&["address-list.csv"]);
    assert_eq!(
        values(&with_header),
        [
            "138.9.223.13:8015",
            "138.9.41.254:8015",
            "[2001:db8:c2::13]:8443"
        ]
    );
    let file = &with_header.stats.files[0];
    assert_eq!(counts(file), (FeedFormat::AddressCsv, 4, 3, 0, 0, 0, 1));
    assert_eq!(
        rejections(file),
        [(Location::Line(5), RejectReason::ExtraColumns)]
    );
    assert_eq!(ioc(&with_header, "138.9.223.13:8015").malware, "Remcos");
    assert_eq!(ioc(&with_header, "138.9.41.254:8015").malware, "");
    assert_eq!(
        ioc(&with_header, "[2001:db8:c2::13]:8443").malware,
        "Sliver"
    );

    let bare = load(&["address-noheader.csv"]);
    assert_eq!(values(&bare), ["138.9.223.13:8015", "138.9.41.254:8015"]);
    let file = &bare.stats.files[0];
    assert_eq!(counts(file), (FeedFormat::AddressCsv, 3, 2, 0, 0, 0, 1));
    assert_eq!(
        rejections(file),
        [(Location::Line(5), RejectReason::ExtraColumns)]
    );
    // The `# malware:` comment names the family; a malware column wins over it.
    assert_eq!(ioc(&bare, "138.9.223.13:8015").malware, "Remcos");
    assert_eq!(ioc(&bare, "138.9.41.254:8015").malware, "AsyncRAT");
    assert_eq!(
        ioc(&bare, "138.9.223.13:8015").source,
        "address-noheader.csv"
    );
}

#[test]
fn a_plain_list_names_its_family_in_a_comment_and_refuses_comma_rows() {
    let loaded = load(&["plain-remcos.txt"]);
    assert_eq!(values(&loaded), ["138.9.223.13:8015", "138.9.41.254:8015"]);
    let file = &loaded.stats.files[0];
    // The comma row is refused as extra_columns, never counted as "other type".
    assert_eq!(counts(file), (FeedFormat::Plain, 3, 2, 0, 0, 0, 1));
    assert_eq!(
        rejections(file),
        [(Location::Line(5), RejectReason::ExtraColumns)]
    );
    assert!(loaded.set.iter().all(|i| i.malware == "Remcos"));
}

#[test]
fn the_config_names_a_family_for_a_feed_that_names_none() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/feeds");
    let plain = dir.join("plain-defanged.txt");
    let feodo = dir.join("feodo-blocklist.csv");
    let text = format!(
        "[capture]\ninterfaces = [\"eth0\"]\n[iocs]\nfeeds = [\"{p}\", \"{f}\"]\n\
         [iocs.feed_malware]\n\"{p}\" = \"Remcos\"\n\"{f}\" = \"NotUsed\"\n",
        p = plain.display(),
        f = feodo.display()
    );
    let settings = c2tap::config::RawConfig::parse(&text)
        .ok()
        .and_then(|raw| raw.validate().ok())
        .expect("valid config");
    let loaded = c2tap::exclude::load_feeds(&settings.iocs, NOW).expect("loads");
    assert_eq!(ioc(&loaded, "138.9.223.13:8015").malware, "Remcos");
    // A family the feed names itself wins over the configured one.
    assert_eq!(ioc(&loaded, "50.16.16.211:443").malware, "QakBot");
    // The filter sees the configured family too.
    let only_remcos = c2tap::config::IocSettings {
        filters: Filters {
            malware: vec!["remcos".into()],
            ..Filters::default()
        },
        ..settings.iocs.clone()
    };
    let loaded = c2tap::exclude::load_feeds(&only_remcos, NOW).expect("loads");
    assert!(loaded.set.iter().all(|i| i.malware == "Remcos"));
    assert!(loaded.set.len() >= 2);
}

#[test]
fn every_rejection_reason_is_counted_with_its_line() {
    let loaded = load(&["every-rejection.txt"]);
    assert_eq!(values(&loaded), ["138.9.223.13:8015"]);
    let file = &loaded.stats.files[0];
    assert_eq!(counts(file), (FeedFormat::Plain, 9, 1, 0, 0, 0, 8));
    let details: Vec<(Location, RejectReason)> = file
        .reject_details
        .iter()
        .map(|d| (d.at, d.reason))
        .collect();
    use RejectReason::*;
    assert_eq!(
        details,
        [
            (Location::Line(2), BadAddress),
            (Location::Line(3), BadPort),
            (Location::Line(4), BadPort),
            (Location::Line(5), Unspecified),
            (Location::Line(6), Broadcast),
            (Location::Line(7), Multicast),
            (Location::Line(8), Loopback),
            (Location::Line(9), Unparsable),
        ]
    );
    assert!(file
        .reject_details
        .iter()
        .all(|d| d.file.ends_with("tests/feeds/every-rejection.txt")));
    assert_eq!(file.reject_details[1].text, "138.9.223.13:0");
}

#[test]
fn hostile_csv_with_bom_crlf_and_quoting() {
    let loaded = load(&["hostile-threatfox.csv"]);
    assert_eq!(values(&loaded), ["138.9.223.13:8015", "138.9.41.254:8015"]);
    let file = &loaded.stats.files[0];
    assert_eq!(counts(file), (FeedFormat::ThreatfoxCsv, 6, 2, 0, 0, 0, 4));
    assert_eq!((file.rejected.unparsable, file.rejected.loopback), (3, 1));
    let lines: Vec<_> = file.reject_details.iter().map(|d| d.at).collect();
    assert_eq!(
        lines,
        [
            Location::Line(7),
            Location::Line(8),
            Location::Line(9),
            Location::Line(10)
        ]
    );
    let first = ioc(&loaded, "138.9.223.13:8015");
    assert_eq!(first.malware, r#"Remcos "Pro", v4 = |pipe| \back\"#);
    assert_eq!(
        first.reference.as_deref(),
        Some(r"https://example.org/?a=1,b=2|c\d")
    );

    let mut table = Vec::new();
    ioc::write_report(&mut table, &loaded, false).unwrap();
    let table = String::from_utf8(table).unwrap();
    assert!(
        !table.contains('\u{1b}'),
        "control characters reach the terminal"
    );
    assert!(table.contains("Remcos?[31m"));
    assert!(table.contains("hostile-threatfox.csv: rejected: loopback 1, unparsable 3"));
    assert!(table.contains("hostile-threatfox.csv:line 10: loopback: 127.0.0.1:8015"));
}

#[test]
fn feeds_merge_and_builtin_can_stay_alongside() {
    let loaded = load(&["threatfox-recent.csv", "stix-bundle.json", "builtin"]);
    assert_eq!(loaded.set.len(), 5);
    assert_eq!(
        ioc(&loaded, "138.9.223.13:8015"),
        &remcos_c2("2026-05-09", "ThreatFox, stix-bundle.json")
    );
    let stats: Vec<_> = loaded.stats.files.iter().map(counts).collect();
    assert_eq!(
        stats,
        [
            (FeedFormat::ThreatfoxCsv, 6, 5, 0, 1, 0, 0),
            (FeedFormat::Stix, 5, 2, 3, 0, 0, 0),
            (FeedFormat::Builtin, 2, 0, 2, 0, 0, 0),
        ]
    );
    assert_eq!(loaded.stats.iocs, 5);
}

#[test]
fn filters_drop_low_confidence_stale_and_other_families() {
    let sources = [feed("threatfox-recent.csv"), feed("threatfox-2024.csv")];
    let filters = Filters {
        min_confidence: Some(80),
        max_age_days: Some(30),
        malware: vec![],
        allow_broad: false,
        feed_malware: None,
        suffix_names: false,
    };
    let loaded = ioc::load(&sources, &filters, NOW).unwrap();
    assert_eq!(values(&loaded), ["8.134.12.90:7777"]);
    let recent = &loaded.stats.files[0].filtered;
    // The 50 % domain is filtered like an address; the 100 % URL stays.
    assert_eq!(
        (recent.low_confidence, recent.stale, recent.malware),
        (3, 0, 0)
    );
    assert_eq!(names(&loaded), [("url", "http://203.0.113.9/gate.php")]);
    let old = &loaded.stats.files[1].filtered;
    assert_eq!((old.low_confidence, old.stale, old.malware), (1, 1, 0));

    let only_remcos = Filters {
        malware: vec!["remcos".into()],
        ..Filters::default()
    };
    let loaded = ioc::load(&sources[..1], &only_remcos, NOW).unwrap();
    assert_eq!(values(&loaded), ["138.9.223.13:8015", "138.9.41.254:8015"]);
    // The AsyncRAT address and the AsyncRAT URL.
    assert_eq!(loaded.stats.files[0].filtered.malware, 2);
    assert_eq!(names(&loaded), [("domain", "remcos-update.example")]);

    let stale = Filters {
        max_age_days: Some(30),
        ..Filters::default()
    };
    let err = ioc::load(&[feed("threatfox-2024.csv")], &stale, NOW).unwrap_err();
    assert!(
        matches!(&err, LoadError::AllFiltered { counts } if counts.stale == 2),
        "{err}"
    );
    // The message names the filter and its key, for the config and the command line.
    let text = err.to_string();
    assert!(
        text.contains("2 last seen longer ago than iocs.filters.max_age_days / --max-age-days"),
        "{text}"
    );
    // 0 turns the age filter off, as 0 does for every setting.
    let off = Filters {
        max_age_days: Some(0),
        ..Filters::default()
    };
    assert_eq!(
        ioc::load(&[feed("threatfox-2024.csv")], &off, NOW)
            .map(|l| l.set.len())
            .ok(),
        Some(2)
    );
}

#[test]
fn the_builtin_set_is_exempt_from_the_age_filter_today_and_in_years() {
    let aged = Filters {
        min_confidence: Some(50),
        max_age_days: Some(90),
        malware: vec![],
        allow_broad: false,
        feed_malware: None,
        suffix_names: false,
    };
    let in_ten_years = NOW + 10 * 365 * 86_400;
    for now in [NOW, in_ten_years] {
        let loaded = ioc::load(&[], &aged, now).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.set.len(), 2);
    }
    // An age filter still applies to files loaded beside it.
    let loaded = ioc::load(
        &[FeedSource::Builtin, feed("threatfox-2024.csv")],
        &aged,
        in_ten_years,
    )
    .unwrap();
    assert_eq!(loaded.stats.files[1].filtered.stale, 2);
}

#[test]
fn broad_iocs_are_refused_by_default_each_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broad.txt");
    std::fs::write(
        &path,
        "10.0.0.0/8
192.168.0.0/16
2000::/3
1.0.0.0/1
100.64.0.0/16
198.51.100.0/24
\
         240.0.0.0/16
fe80::/64
10.20.30.40
138.9.223.13:8015
",
    )
    .unwrap();
    let loaded = ioc::load(&[FeedSource::File(path.clone())], &Filters::default(), NOW).unwrap();
    assert_eq!(values(&loaded), ["10.20.30.40", "138.9.223.13:8015"]);
    let reasons: Vec<(String, RejectReason)> = loaded.stats.files[0]
        .reject_details
        .iter()
        .map(|d| (d.text.clone(), d.reason))
        .collect();
    let want = [
        ("10.0.0.0/8", RejectReason::TooBroad),
        ("192.168.0.0/16", RejectReason::Private),
        ("2000::/3", RejectReason::TooBroad),
        ("1.0.0.0/1", RejectReason::TooBroad),
        ("100.64.0.0/16", RejectReason::Shared),
        ("198.51.100.0/24", RejectReason::Documentation),
        ("240.0.0.0/16", RejectReason::Reserved),
        ("fe80::/64", RejectReason::LinkLocal),
    ];
    let want: Vec<(String, RejectReason)> = want.iter().map(|(t, r)| (t.to_string(), *r)).collect();
    assert_eq!(reasons, want);
    assert_eq!(loaded.stats.files[0].broad_warning(), None);

    // Opting in loads them (not the link-local one: never a C2 peer) and warns.
    let broad = Filters {
        allow_broad: true,
        ..Filters::default()
    };
    let loaded = ioc::load(&[FeedSource::File(path)], &broad, NOW).unwrap();
    assert_eq!(loaded.set.len(), 8, "{:?}", values(&loaded));
    let warning = loaded.stats.files[0].broad_warning().unwrap_or_default();
    assert!(
        warning.starts_with("WARNING: ") && warning.contains("loaded 6 broad IOC(s)"),
        "{warning}"
    );
    let mut report = Vec::new();
    ioc::write_report(&mut report, &loaded, false).unwrap();
    let report = String::from_utf8(report).unwrap();
    assert!(
        report.contains("allow_broad loaded 6 broad IOC(s)"),
        "{report}"
    );
}

#[test]
fn what_is_not_a_feed_is_an_error_naming_the_file() {
    let html = load_err(&[feed("not-a-feed.html")]);
    assert!(
        html.contains("not-a-feed.html") && html.contains("HTML"),
        "{html}"
    );
    let truncated = load_err(&[feed("truncated-export.json")]);
    assert!(
        truncated.contains("truncated-export.json") && truncated.contains("truncated download"),
        "{truncated}"
    );
    let empty = load_err(&[feed("no-iocs.txt")]);
    assert!(
        empty.contains(
            "no-iocs.txt: no usable IOC in this plain feed (2 rows: 2 of other IOC types"
        ),
        "{empty}"
    );
    let missing = load_err(&[feed("missing.csv")]);
    assert!(missing.contains("missing.csv: cannot read"), "{missing}");
    // One bad source fails the whole load: no partial set is swapped in.
    let mixed = load_err(&[feed("threatfox-recent.csv"), feed("not-a-feed.html")]);
    assert!(mixed.contains("not-a-feed.html"), "{mixed}");
}

fn zipped(name: &str, content: &[u8]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer.add_directory("docs/", options).unwrap();
    writer.start_file("docs/README", options).unwrap();
    writer.write_all(b"ThreatFox full export").unwrap();
    writer.start_file(name, options).unwrap();
    writer.write_all(content).unwrap();
    writer.finish().unwrap().into_inner()
}

#[test]
fn zipped_full_export_loads_and_a_truncated_zip_fails() {
    let csv = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/feeds/threatfox-recent.csv"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("threatfox-full.zip");
    let zip = zipped("full.csv", &csv);
    std::fs::write(&path, &zip).unwrap();
    let loaded = ioc::load(&[FeedSource::File(path.clone())], &Filters::default(), NOW).unwrap();
    assert_eq!(
        values(&loaded),
        ["138.9.223.13:8015", "138.9.41.254:8015", "8.134.12.90:7777"]
    );
    let file = &loaded.stats.files[0];
    assert_eq!(
        (file.format, file.archive_entry.as_deref()),
        (FeedFormat::ThreatfoxCsv, Some("full.csv"))
    );
    assert_eq!(ioc(&loaded, "8.134.12.90:7777").source, "ThreatFox");

    std::fs::write(&path, zip.get(..zip.len() / 2).unwrap()).unwrap();
    let err = load_err(&[FeedSource::File(path)]);
    assert!(
        err.contains("threatfox-full.zip: not a readable ZIP archive"),
        "{err}"
    );
}

#[test]
fn oversized_files_and_lines_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.txt");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(ioc::MAX_FEED_BYTES + 1)
        .unwrap();
    let err = load_err(&[FeedSource::File(huge)]);
    assert!(
        err.contains("huge.txt: larger than the 536870912-byte feed limit"),
        "{err}"
    );

    let long = dir.path().join("long.txt");
    std::fs::write(
        &long,
        format!("1.2.3.4:80\n{}\n", "9".repeat(ioc::MAX_LINE_BYTES + 1)),
    )
    .unwrap();
    let err = load_err(&[FeedSource::File(long)]);
    assert!(
        err.contains("long.txt: line 2 is longer than 65536 bytes"),
        "{err}"
    );
}

#[path = "feeds/threatfox_gen.rs"]
mod threatfox_gen;
use threatfox_gen::threatfox_csv;

#[test]
fn a_100k_row_threatfox_csv_loads_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recent.csv");
    std::fs::write(&path, threatfox_csv(100_000)).unwrap();
    let loaded = ioc::load(&[FeedSource::File(path)], &Filters::default(), NOW).unwrap();
    assert_eq!(
        counts(&loaded.stats.files[0]),
        (FeedFormat::ThreatfoxCsv, 100_000, 100_000, 0, 0, 0, 0)
    );
    assert_eq!(loaded.set.len(), 90_000);
    assert_eq!(loaded.stats.names.domain, 10_000);
    assert_eq!(
        loaded
            .set
            .match_host(b"c2-99999.example")
            .map(|n| n.ioc.value.as_str()),
        Some("c2-99999.example")
    );
    assert_eq!(
        hit(&loaded, "11.1.134.159", Some(41_023)),
        None,
        "row 99999 is a domain"
    );
    assert_eq!(
        hit(&loaded, "11.1.134.158", Some(41_022)),
        Some((MatchKind::Exact, "11.1.134.158:41022".into()))
    );
    assert_eq!(
        hit(&loaded, "11.0.0.0", Some(1)),
        Some((MatchKind::OtherPort, "11.0.0.0:1024".into()))
    );
    let last = ioc(&loaded, "11.1.134.158:41022");
    assert_eq!(
        (last.confidence, last.first_seen.as_deref()),
        (Some(100), Some("2026-05-09 10:00:00"))
    );
}

#[test]
fn kql_for_a_loaded_feed() {
    let broad = Filters {
        allow_broad: true,
        ..Filters::default()
    };
    let loaded = load_with(&["plain-defanged.txt"], &broad);
    let mut out = Vec::new();
    ioc::write_kql(&mut out, &loaded.set).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("let c2_ips = dynamic([\"138.9.41.254\", \"138.9.223.13\", \"203.0.113.77\", \"2001:db8:bad::c2\", \"2001:db8:bad::d0\"]);"), "{text}");
    assert!(text.contains("let c2_pairs = dynamic([\"138.9.223.13:8015\", \"138.9.41.254:8015\", \"2001:db8:bad::c2:443\"]);"), "{text}");
    assert!(text.contains("ipv4_is_in_range(ip, \"198.51.100.0/24\")"));
}
