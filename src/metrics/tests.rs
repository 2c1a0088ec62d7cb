use std::collections::HashSet;

use super::names::{self, Kind};
use super::server::respond;
use super::*;
use crate::ioc::{FeedFormat, FeedSource, FileStats, Filters, IocSet};
use crate::output::format::examples::{flow, ioc};
use crate::pipeline::WorkerStats;
use crate::record::RecordSink;
use crate::record::{Record, Signature};
use crate::transform::CountingSink;

/// The sample lines of a render (no comments), for exact comparison.
fn samples(m: &Metrics) -> Vec<String> {
    m.render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn has(m: &Metrics, line: &str) -> bool {
    samples(m).iter().any(|l| l == line)
}

fn builtin_loaded() -> Loaded {
    crate::ioc::load(&[FeedSource::Builtin], &Filters::default(), 0)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_fresh_registry_renders_the_always_present_families() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    let version = env!("CARGO_PKG_VERSION");
    let mut expected = vec![
        format!("c2tap_build_info{{version=\"{version}\"}} 1"),
        "c2tap_capture_running 0".to_string(),
    ];
    for kind in crate::decode::DecodeError::ALL {
        expected.push(format!(
            "c2tap_decode_errors_total{{kind=\"{}\"}} 0",
            kind.kind()
        ));
    }
    expected.extend(
        [
            "c2tap_config_reload_failures_total 0",
            "c2tap_feed_load_failures_total 0",
            "c2tap_flow_summaries_total 0",
            "c2tap_flows_active 0",
            "c2tap_flows_evicted_total 0",
            "c2tap_flows_timed_out_total 0",
            "c2tap_flows_total 0",
            "c2tap_fragments_unattributed_total 0",
            "c2tap_matches_shadowed_total 0",
            "c2tap_retro_matches_total 0",
            "c2tap_alerts_sent_early_total 0",
            "c2tap_flows_evicted_matched_total 0",
            "c2tap_storm_flows_total{signature=\"1001\"} 0",
            "c2tap_storm_flows_total{signature=\"1002\"} 0",
            "c2tap_storm_flows_total{signature=\"1003\"} 0",
            "c2tap_storm_records_total 0",
            "c2tap_storm_untracked_total 0",
        ]
        .map(String::from),
    );
    let mut got = samples(&m);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    let text = m.render();
    assert!(text.contains("# TYPE c2tap_flows_total counter\n"));
    assert!(text.contains("# TYPE c2tap_flows_active gauge\n"));
}

#[test]
fn workers_are_summed_per_interface_and_overall() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    let stats = |packets, evicted| WorkerStats {
        packets,
        bytes: packets * 100,
        wire_len_implausible: packets / 10,
        flows_evicted: evicted,
        flows_active: 2,
        decode_errors: [0, 0, 0, 1, 0, 0, 0, 0, 0],
        ..WorkerStats::default()
    };
    m.worker("eth0", 0).publish(&stats(10, 1));
    m.worker("eth0", 1).publish(&stats(20, 2));
    m.worker("eth1", 0).publish(&stats(5, 0));
    m.worker("eth0", 0).kernel(40, 3, 1);
    m.worker("eth0", 1).kernel(25, 0, 0);
    // Registering the same worker again hands back the same counters.
    assert!(Arc::ptr_eq(&m.worker("eth1", 0), &m.worker("eth1", 0)));
    for line in [
        r#"c2tap_packets_total{interface="eth0"} 30"#,
        r#"c2tap_packets_total{interface="eth1"} 5"#,
        r#"c2tap_bytes_total{interface="eth0"} 3000"#,
        r#"c2tap_wire_length_implausible_total{interface="eth0"} 3"#,
        r#"c2tap_wire_length_implausible_total{interface="eth1"} 0"#,
        r#"c2tap_kernel_received_packets_total{interface="eth0"} 65"#,
        r#"c2tap_kernel_drops_total{interface="eth0"} 3"#,
        r#"c2tap_kernel_interface_drops_total{interface="eth0"} 1"#,
        r#"c2tap_decode_errors_total{kind="not_ip"} 3"#,
        "c2tap_flows_evicted_total 3",
        "c2tap_flows_active 6",
    ] {
        assert!(has(&m, line), "{line} missing from\n{}", m.render());
    }
    // No kernel statistics were reported for eth1: no made-up zeros.
    assert!(!m
        .render()
        .contains(r#"kernel_drops_total{interface="eth1"}"#));
}

#[test]
fn counting_sink_counts_alerts_by_signature_malware_and_ioc() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    m.iocs_loaded(&builtin_loaded(), 0.25, 1_778_335_407);
    let counters = m.worker("eth0", 0);
    let mut sink = CountingSink::new(Vec::<Record>::new(), counters.clone());
    let mut other_port = flow(ioc());
    other_port.signature = Signature::IocAddressMatch;
    let mut summary = flow(ioc());
    summary.signature = Signature::FlowSummary;
    let mut nameless = flow(crate::ioc::Ioc {
        malware: String::new(),
        value: "198.51.100.7:443".into(),
        ..ioc()
    });
    nameless.count = 3;
    for rec in [flow(ioc()), flow(ioc()), other_port, summary, nameless] {
        sink.emit(Record::Flow(rec));
    }
    assert_eq!(sink.inner().len(), 5);
    for line in [
        r#"c2tap_matches_total{signature="1001",malware="Remcos"} 2"#,
        r#"c2tap_matches_total{signature="1001",malware="unknown"} 3"#,
        r#"c2tap_matches_total{signature="1002",malware="Remcos"} 1"#,
        r#"c2tap_ioc_matches_total{ioc="138.9.223.13:8015"} 3"#,
        r#"c2tap_ioc_matches_total{ioc="198.51.100.7:443"} 3"#,
        "c2tap_iocs_loaded 2",
        "c2tap_feed_load_duration_seconds 0.25",
        "c2tap_feed_last_reload_timestamp_seconds 1778335407",
    ] {
        assert!(has(&m, line), "{line} missing from\n{}", m.render());
    }
    assert!(!m
        .render()
        .contains("c2tap_matches_total{signature=\"1003\""));
}

#[test]
fn per_ioc_series_vanish_once_the_set_outgrows_the_limit() {
    let m = Metrics::new(1);
    let mut sink = CountingSink::new(Vec::<Record>::new(), m.worker("eth0", 0));
    sink.emit(Record::Flow(flow(ioc())));
    // No set loaded yet: size unknown, so no per-IOC labels.
    assert!(!m.render().contains("c2tap_ioc_matches_total"));
    m.iocs_loaded(&builtin_loaded(), 0.1, 1);
    sink.emit(Record::Flow(flow(ioc())));
    assert!(!m.render().contains("c2tap_ioc_matches_total"));
    assert!(has(
        &m,
        r#"c2tap_matches_total{signature="1001",malware="Remcos"} 2"#
    ));
}

#[test]
fn alerts_of_a_worker_without_counting_sink_still_count() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    m.worker("eth0", 0).publish(&WorkerStats {
        matches: [4, 1, 0, 0, 0, 0],
        ..WorkerStats::default()
    });
    assert!(has(
        &m,
        r#"c2tap_matches_total{signature="1001",malware="unknown"} 4"#
    ));
    assert!(has(
        &m,
        r#"c2tap_matches_total{signature="1002",malware="unknown"} 1"#
    ));
}

#[test]
fn feed_rejections_and_filters_sum_over_loads() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    let mut file = FileStats::new("feed.txt", FeedFormat::Plain);
    file.rejected.loopback = 2;
    file.rejected.bad_port = 1;
    file.filtered.stale = 4;
    let loaded = Loaded {
        set: IocSet::builtin(),
        stats: crate::ioc::LoadStats {
            files: vec![file],
            iocs: 2,
            ..Default::default()
        },
    };
    m.iocs_loaded(&loaded, 0.5, 10);
    m.iocs_loaded(&loaded, 0.5, 20);
    m.feed_load_failed();
    for line in [
        r#"c2tap_feed_rejected_lines_total{reason="loopback"} 4"#,
        r#"c2tap_feed_rejected_lines_total{reason="bad_port"} 2"#,
        r#"c2tap_feed_rejected_lines_total{reason="unparsable"} 0"#,
        r#"c2tap_feed_filtered_total{reason="stale"} 8"#,
        r#"c2tap_feed_filtered_total{reason="malware"} 0"#,
        "c2tap_feed_last_reload_timestamp_seconds 20",
        "c2tap_feed_load_failures_total 1",
    ] {
        assert!(has(&m, line), "{line} missing from\n{}", m.render());
    }
}

#[test]
fn outputs_are_read_at_scrape_time() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    m.outputs(Box::new(|| {
        vec![OutputSample {
            name: "sentinel".into(),
            queued: 3,
            sent: 100,
            resent: 2,
            spooled: 7,
            dropped: vec![("queue_full", 1), ("corrupt", 0)],
            spool_bytes: 4096,
            connected: false,
            down: true,
        }]
    }));
    for line in [
        r#"c2tap_output_records_queued{output="sentinel"} 3"#,
        r#"c2tap_output_records_sent_total{output="sentinel"} 100"#,
        r#"c2tap_output_records_spooled_total{output="sentinel"} 7"#,
        r#"c2tap_output_records_dropped_total{output="sentinel",reason="queue_full"} 1"#,
        r#"c2tap_output_records_dropped_total{output="sentinel",reason="corrupt"} 0"#,
        r#"c2tap_output_records_resent_total{output="sentinel"} 2"#,
        r#"c2tap_output_down{output="sentinel"} 1"#,
        r#"c2tap_output_spool_bytes{output="sentinel"} 4096"#,
        r#"c2tap_output_connected{output="sentinel"} 0"#,
    ] {
        assert!(has(&m, line), "{line} missing from\n{}", m.render());
    }
}

#[test]
fn readiness_names_what_is_missing() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    assert_eq!(
        m.readiness().to_string(),
        "not ready: capture not running, no IOC set loaded"
    );
    m.set_capture_running(true);
    m.iocs_loaded(&builtin_loaded(), 0.0, 0);
    assert_eq!(m.readiness().to_string(), "ready");
    m.set_outputs_ok(false);
    assert_eq!(
        m.readiness().to_string(),
        "not ready: an output is not delivering (not connected or down)"
    );
    assert!(has(&m, "c2tap_capture_running 1"));
}

#[test]
fn capture_state_is_per_interface_and_ready_only_when_all_are_up() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    m.iocs_loaded(&builtin_loaded(), 0.0, 0);
    let state = |eth1: bool| vec![("eth0".to_string(), true), ("eth1".to_string(), eth1)];
    m.set_capture_state(
        state(false),
        Some(Arc::from("eth1: absent: no such interface")),
    );
    assert_eq!(
        m.readiness().to_string(),
        "not ready: capture not running (eth1: absent: no such interface)"
    );
    assert!(has(&m, "c2tap_capture_running 0"));
    assert!(has(&m, "c2tap_capture_up{interface=\"eth0\"} 1"));
    assert!(has(&m, "c2tap_capture_up{interface=\"eth1\"} 0"));
    m.set_capture_state(state(true), None);
    assert_eq!(m.readiness().to_string(), "ready");
    assert!(has(&m, "c2tap_capture_running 1"));
    assert!(has(&m, "c2tap_capture_up{interface=\"eth1\"} 1"));
    m.config_reload_failed();
    assert!(has(&m, "c2tap_config_reload_failures_total 1"));
}

#[test]
fn requests_are_routed_by_method_and_path() {
    let m = Metrics::new(DEFAULT_IOC_LABEL_LIMIT);
    let status = |req: &str| respond(req.as_bytes(), &m).status;
    assert_eq!(status("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    assert_eq!(status("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), 200);
    assert_eq!(status("GET /healthz HTTP/1.1\r\n\r\n"), 200);
    assert_eq!(status("GET /readyz HTTP/1.1\r\n\r\n"), 503);
    assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 404);
    assert_eq!(status("POST /metrics HTTP/1.1\r\n\r\n"), 405);
    assert_eq!(status("GET /metrics\r\n\r\n"), 400);
    assert_eq!(status("\u{0}\u{1}garbage"), 400);
    let metrics = respond(b"GET /metrics HTTP/1.1\r\n\r\n", &m);
    assert_eq!(metrics.content_type, "text/plain; version=0.0.4");
    assert!(metrics.body.contains("c2tap_build_info"));
    let head = respond(b"HEAD /metrics HTTP/1.1\r\n\r\n", &m);
    assert!(head.head_only);
}

#[test]
fn the_catalogue_follows_prometheus_naming() {
    let mut seen = HashSet::new();
    for spec in names::ALL {
        assert!(seen.insert(spec.name), "{} twice", spec.name);
        assert!(spec.name.starts_with("c2tap_"), "{}", spec.name);
        assert!(
            spec.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{}",
            spec.name
        );
        assert_eq!(
            spec.kind == Kind::Counter,
            spec.name.ends_with("_total"),
            "{}: counters and only counters end in _total",
            spec.name
        );
        assert!(!spec.labels.contains(&"ip") && !spec.labels.contains(&"port"));
    }
}

#[test]
fn an_uncounted_sink_only_passes_records_on() {
    let mut sink = CountingSink::uncounted(Vec::<Record>::new());
    sink.emit(Record::Flow(flow(ioc())));
    assert!(sink.counters().is_none());
    assert_eq!(sink.into_inner().len(), 1);
}
