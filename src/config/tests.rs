//! Config tests: parsing, validation and the problems each reports.

use super::*;
use crate::flow::Timeouts;
use crate::units::parse_duration;
use std::path::Path;
use std::time::Duration;

fn problems(text: &str) -> Vec<String> {
    let raw = match RawConfig::parse(text) {
        Ok(raw) => raw,
        Err(p) => return p.iter().map(Problem::to_string).collect(),
    };
    match raw.validate() {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().iter().map(Problem::to_string).collect(),
    }
}

#[test]
fn shipped_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/c2tap.toml");
    let settings = match load(&path) {
        Ok(s) => s,
        Err(e) => panic!("config/c2tap.toml: {e}"),
    };
    assert_eq!(settings.capture.interfaces, vec!["eth1".to_string()]);
    assert_eq!(settings.capture.buffer_size, 128 << 20);
    assert_eq!(settings.worker.flow.timeouts, Timeouts::default());
    assert_eq!(settings.health_interval, Some(Duration::from_secs(300)));
}

#[test]
fn minimal_file_gets_defaults() {
    let raw = RawConfig::parse("[capture]\ninterfaces = [\"eth0\"]\n");
    let s = match raw.map(|r| r.validate()) {
        Ok(Ok(s)) => s,
        _ => panic!("minimal config rejected"),
    };
    assert_eq!(s.capture.snaplen, 512);
    assert_eq!(s.capture.buffer_size, 64 << 20);
    assert_eq!(s.capture.timeout, Duration::from_millis(50));
    assert_eq!(s.worker.flow.max_flows, 500_000);
    assert_eq!(s.worker.flow.timeouts, Timeouts::default());
    assert_eq!(s.iocs.watch_interval, Some(Duration::from_secs(30)));
    assert_eq!(
        s.outputs.specs,
        vec![crate::output::options::OutputSpec::Udp {
            host: "127.0.0.1".into(),
            port: 514
        }]
    );
    assert_eq!(s.metrics.listen, "127.0.0.1:9917".parse().ok());
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let got = problems(
        r#"
        [capture]
        interfaces = []
        workers = 0
        buffer_size = "12 parsecs"
        [flow.timeouts]
        tcp_established = "0s"
        udp = "forever"
        [metrics]
        listen = "localhost"
        [health]
        interval = "10ms"
        "#,
    );
    assert_eq!(
        got,
        vec![
            "capture.interfaces: at least one interface is required",
            "capture.buffer_size: `12 parsecs`: unit must be one of KiB, MiB, GiB",
            "capture.workers: must be between 1 and 64",
            "flow.timeouts.tcp_established: must be > 0",
            "flow.timeouts.udp: `forever` is not a duration (e.g. 250ms, 30s, 10m, 2h, 1d)",
            "metrics.listen: `localhost` is not an address:port (e.g. 127.0.0.1:9917); \"\" = off",
            "health.interval: must be 0 (off) or at least 1s",
        ]
    );
}

#[test]
fn unknown_keys_are_errors_in_every_section() {
    let got = problems(
        "colour = 1\n[capture]\ninterfaces=[\"eth0\"]\nsnaplenn = 3\n[flow.timeouts]\nicmp = \"1s\"\n",
    );
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with("capture.snaplenn: unknown field `snaplenn`"),
        "{got:?}"
    );
    assert!(got[1].starts_with("colour: unknown key"), "{got:?}");
    assert!(
        got[2].starts_with("flow.timeouts.icmp: unknown field `icmp`"),
        "{got:?}"
    );
}

#[test]
fn durations_and_sizes() {
    // One grammar for every key (crate::units); a bare number is seconds since issue 15.
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("99999999999999999999d").is_err());
    assert_eq!(SizeText::Text("64MiB".into()).parse(), Ok(64 << 20));
    assert_eq!(SizeText::Bytes(4096).parse(), Ok(4096));
    assert!(SizeText::Text("1TB".into()).parse().is_err());
}

/// Every duration and size key of the file, with what it should read back as.
const UNIT_KEYS: [(&str, &str, &str, &str); 15] = [
    // (section, key, as text, as a TOML number)
    ("capture", "timeout", "\"2s\"", "2"),
    ("capture", "buffer_size", "\"2MiB\"", "2097152"),
    ("iocs", "watch_interval", "\"1d\"", "86400"),
    ("flow", "holddown", "\"2s\"", "2"),
    ("flow", "storm_window", "\"2m\"", "120"),
    ("flow.timeouts", "tcp_opening", "\"1d\"", "86400"),
    ("flow.timeouts", "tcp_established", "\"2h\"", "7200"),
    ("flow.timeouts", "tcp_closed", "\"20\"", "20"),
    ("flow.timeouts", "udp", "\"3m\"", "180"),
    ("flow.timeouts", "other", "\"90s\"", "90"),
    ("health", "interval", "\"1d\"", "86400"),
    ("outputs.options", "aggregate_window", "\"1d\"", "86400"),
    ("outputs.options", "stall_timeout", "\"2m\"", "120"),
    (
        "outputs.options",
        "spool_max_bytes",
        "\"1GiB\"",
        "1073741824",
    ),
    (
        "outputs.options",
        "resend_window_bytes",
        "\"64KiB\"",
        "65536",
    ),
];

#[test]
fn every_duration_and_size_key_takes_text_and_numbers_alike() {
    let settings = |section: &str, key: &str, value: &str| {
        let capture = match section {
            "capture" => String::new(),
            _ => "[capture]\ninterfaces = [\"eth0\"]\n".to_string(),
        };
        let extra = match section {
            "capture" => "interfaces = [\"eth0\"]\n",
            "outputs.options" => "spool_dir = \"/var/lib/c2tap\"\n",
            _ => "",
        };
        let text = format!("{capture}[{section}]\n{extra}{key} = {value}\n");
        let raw = RawConfig::parse(&text).unwrap_or_else(|p| panic!("{text}: {p:?}"));
        raw.validate().unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    for (section, key, text, number) in UNIT_KEYS {
        let a = settings(section, key, text);
        let b = settings(section, key, number);
        assert_eq!(a, b, "{section}.{key}: {text} and {number} differ");
        assert_ne!(
            a,
            RawConfig::parse("[capture]\ninterfaces = [\"eth0\"]\n[outputs.options]\nspool_dir = \"/var/lib/c2tap\"\n")
                .unwrap()
                .validate()
                .unwrap(),
            "{section}.{key} = {text} was not read"
        );
    }
    let s = settings("outputs.options", "max_record_bytes", "\"4KiB\"");
    assert_eq!(s.outputs.options.max_record_bytes, 4096);
    let s = settings("flow.timeouts", "udp", "45");
    assert_eq!(s.worker.flow.timeouts.udp, 45 * 1_000_000_000);
    let got = problems("[capture]\ninterfaces = [\"eth0\"]\ntimeout = true\n");
    assert_eq!(
        got,
        ["capture.timeout: invalid type: boolean `true`, expected a duration (e.g. \"30s\") or a number of seconds"]
    );
}

#[test]
fn problems_of_both_stages_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let text = "[capture]\ninterfaces=[]\nworkerz=2\n[flow.timeouts]\nudp=\"0s\"\n";
    std::fs::write(&path, text).unwrap();
    let got: Vec<String> = match load(&path) {
        Err(e) => e.problems().iter().map(Problem::to_string).collect(),
        Ok(_) => Vec::new(),
    };
    // The rest of [capture] is still checked: only the bad key is left out.
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with("capture.workerz: unknown field `workerz`"),
        "{got:?}"
    );
    assert_eq!(
        got[1],
        "capture.interfaces: at least one interface is required"
    );
    assert_eq!(got[2], "flow.timeouts.udp: must be > 0");
}

#[test]
fn every_type_error_is_reported_with_its_key_path() {
    let got = problems(
        "[capture]\ninterfaces = [\"eth0\"]\nworkers = \"2\"\nsnaplen = true\n\
         [flow]\nmax_flows = \"many\"\n[flow.timeouts]\nudp = 5.5\n\
         [iocs.filters]\nmax_age_days = -1\n[[exclude]]\nname = 7\n",
    );
    assert_eq!(
        got,
        vec![
            "capture.snaplen: invalid type: boolean `true`, expected u32",
            "capture.workers: invalid type: string \"2\", expected u32",
            "exclude[0].name: invalid type: integer `7`, expected a string",
            "flow.max_flows: invalid type: string \"many\", expected u64",
            // A whole number is seconds since issue 15; a fraction is not a duration.
            "flow.timeouts.udp: invalid type: floating point `5.5`, expected a duration (e.g. \"30s\") or a number of seconds",
            "iocs.filters.max_age_days: invalid value: integer `-1`, expected u32",
        ]
    );
}

#[test]
fn log_levels_are_checked_and_synonyms_normalized() {
    assert_eq!(log_filter("warning"), Ok("warn".to_string()));
    assert_eq!(log_filter("INFO"), Ok("info".to_string()));
    assert_eq!(
        log_filter("info, c2tap=debug"),
        Ok("info,c2tap=debug".to_string())
    );
    for bad in ["verbose", "", "c2tap=loud", "=info", "info,"] {
        assert!(log_filter(bad).is_err(), "{bad}");
    }
    let got = problems("[capture]\ninterfaces=[\"eth0\"]\n[logging]\nlevel = \"warnings\"\n");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("logging.level: `warnings` is not a level"),
        "{got:?}"
    );
}

#[test]
fn each_bad_output_option_is_reported_under_its_key() {
    let got = problems(
        "[capture]\ninterfaces=[\"eth0\"]\n[outputs.options]\nqueue_records = \"x\"\n\
         facility = \"bogus\"\nframing = \"lf\"\n",
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("outputs.options.facility: unknown variant `bogus`"),
        "{got:?}"
    );
    assert_eq!(
        got[1],
        "outputs.options.queue_records: invalid type: string \"x\", expected usize"
    );
}

#[test]
fn allow_broad_names_configured_feeds() {
    let text = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"b.txt\"]\n\
                [iocs.allow_broad]\n\"b.txt\" = true\n\"c.txt\" = true\n";
    assert_eq!(
        problems(text),
        vec!["iocs.allow_broad.\"c.txt\": not one of iocs.feeds"]
    );
    let ok = text.replace("\"c.txt\" = true\n", "");
    let s = RawConfig::parse(&ok).ok().and_then(|r| r.validate().ok());
    assert_eq!(s.map(|s| s.iocs.allow_broad), Some(vec![false, true]));
}

#[test]
fn suffix_names_names_configured_feeds() {
    let text = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"zones.txt\"]\n\
                [iocs.suffix_names]\n\"zones.txt\" = true\n\"c.txt\" = true\n";
    assert_eq!(
        problems(text),
        vec!["iocs.suffix_names.\"c.txt\": not one of iocs.feeds"]
    );
    let ok = text.replace("\"c.txt\" = true\n", "");
    let s = RawConfig::parse(&ok).ok().and_then(|r| r.validate().ok());
    assert_eq!(s.map(|s| s.iocs.suffix_names), Some(vec![false, true]));
}

#[test]
fn feed_malware_names_configured_feeds_and_a_family() {
    let text = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"b.txt\"]\n\
                [iocs.feed_malware]\n\"b.txt\" = \" Remcos \"\n\"c.txt\" = \"X\"\n\"a.txt\" = \"\"\n";
    assert_eq!(
        problems(text),
        vec![
            "iocs.feed_malware.\"a.txt\": must name a malware family",
            "iocs.feed_malware.\"c.txt\": not one of iocs.feeds"
        ]
    );
    let ok = "[capture]\ninterfaces=[\"eth0\"]\n[iocs]\nfeeds = [\"a.txt\", \"b.txt\"]\n\
              [iocs.feed_malware]\n\"b.txt\" = \"Remcos\"\n";
    let s = RawConfig::parse(ok).ok().and_then(|r| r.validate().ok());
    assert_eq!(
        s.map(|s| s.iocs.feed_malware),
        Some(vec![None, Some("Remcos".to_string())])
    );
}

#[test]
fn bad_bpf_is_reported() {
    let got = problems("[capture]\ninterfaces=[\"eth0\"]\nbpf = \"host and and\"\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("capture.bpf: "), "{got:?}");
}

#[test]
fn max_flows_is_shared_by_workers() {
    let raw =
        RawConfig::parse("[capture]\ninterfaces=[\"eth0\"]\nworkers=4\n[flow]\nmax_flows=1000\n");
    let s = raw.ok().and_then(|r| r.validate().ok());
    assert_eq!(s.map(|s| s.worker.flow.max_flows), Some(250));
}

#[test]
fn flow_numbers_share_the_command_lines_ranges() {
    let got = problems(
        "[capture]\ninterfaces=[\"eth0\"]\n[flow]\nmax_flows=0\nstorm_flows=1000001\nstorm_window=\"500ms\"\n",
    );
    assert_eq!(
        got,
        vec![
            "flow.max_flows: must be between 1 and 100000000",
            "flow.storm_flows: must be between 0 and 1000000",
            "flow.storm_window: must be between 1s and 3600s",
        ]
    );
}
