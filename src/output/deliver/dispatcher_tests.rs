use std::io::{BufRead, BufReader};
use std::net::TcpListener;

use super::*;
use crate::output::format::examples::{ctx, flow_record};

fn opts(spool: Option<&std::path::Path>) -> OutputOptions {
    OutputOptions {
        spool_dir: spool.map(Into::into),
        aggregate_window: Duration::ZERO,
        reconnect_max: Duration::from_millis(200),
        ..OutputOptions::default()
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn file_output_reopens_after_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c2tap.json");
    let spec: OutputSpec = format!("file://{}?format=json", path.display())
        .parse()
        .unwrap();
    let dispatcher = Dispatcher::start(vec![spec], opts(None), ctx()).unwrap();
    let mut sink = dispatcher.sink();
    sink.emit(flow_record());
    sink.emit(flow_record());
    wait_for("two sent", || dispatcher.stats()[0].sent == 2);
    std::fs::rename(&path, dir.path().join("c2tap.json.1")).unwrap();
    dispatcher.reopen_files();
    sink.emit(flow_record());
    let report = dispatcher.shutdown(Duration::from_secs(5));
    assert!(report.complete);
    let lines = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!(lines(&dir.path().join("c2tap.json.1")), 2);
    assert_eq!(lines(&path), 1);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("{\"signature_id\":1001,"));
}

#[test]
fn shutdown_spools_what_it_cannot_send_and_next_run_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let spec: OutputSpec = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    let dispatcher = Dispatcher::start(vec![spec.clone()], opts(Some(dir.path())), ctx()).unwrap();
    let mut sink = dispatcher.sink();
    for _ in 0..100 {
        sink.emit(flow_record());
    }
    let report = dispatcher.shutdown(Duration::from_millis(300));
    assert!(!report.complete);
    assert_eq!(
        (report.outputs[0].spool_records, report.outputs[0].dropped),
        (100, 0)
    );
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let dispatcher = Dispatcher::start(vec![spec], opts(Some(dir.path())), ctx()).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let lines: Vec<String> = BufReader::new(conn)
        .lines()
        .take(100)
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), 100);
    assert!(lines
        .iter()
        .all(|l| l.starts_with("<164>May  9 14:03:27 sensor01 CEF:0|")));
    wait_for("spool drained", || dispatcher.stats()[0].spool_records == 0);
    assert!(dispatcher.shutdown(Duration::from_secs(5)).complete);
}

#[test]
fn rejects_duplicate_outputs_and_bad_tls_settings() {
    let spec: OutputSpec = "udp://127.0.0.1:5514".parse().unwrap();
    let dup = Dispatcher::start(vec![spec.clone(), spec], opts(None), ctx());
    assert!(matches!(dup, Err(OutputError::Duplicate(_))));
    let tls: OutputSpec = "tls://127.0.0.1:6514".parse().unwrap();
    let no_ca = Dispatcher::start(vec![tls], opts(None), ctx());
    assert!(matches!(no_ca, Err(OutputError::Tls(_))));
}
