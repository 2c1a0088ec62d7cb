//! Output benchmarks: the cost of rendering one record (CEF, CEF inside the syslog envelope,
//! JSON) into a reused buffer, and of `DispatchSink::emit` — what the capture path pays per
//! record — with two outputs whose threads drain in the background.
//! Run with `cargo bench --bench output`.
//!
//! `cargo bench --bench output -- delivery` instead prints the delivery report: records/s
//! through a TCP output to a local receiver, and the intake under a slow disk (every spool
//! fsync made 50 ms slower while the receiver is away): how long `emit` and the intake ever
//! take, and what was dropped, by reason.

use std::hint::black_box;
use std::time::{Duration, Instant};

use c2tap::exclude::severity::DEFAULT;
use c2tap::output::format::cef::write_cef;
use c2tap::output::format::examples::{ctx, flow_record};
use c2tap::output::format::json::write_json;
use c2tap::output::format::syslog::{Envelope, Facility};
use c2tap::output::{Dispatcher, OutputOptions};
use c2tap::record::RecordSink;
use criterion::{criterion_group, Criterion};

fn formatting(c: &mut Criterion) {
    let rec = flow_record();
    let ctx = ctx();
    let envelope = Envelope::new(Facility::Local4, false, "sensor01", 2048);
    let mut buf = Vec::with_capacity(4096);
    c.bench_function("write_cef", |b| {
        b.iter(|| {
            buf.clear();
            write_cef(&mut buf, black_box(&rec), &ctx, &DEFAULT);
        })
    });
    c.bench_function("syslog_envelope_cef", |b| {
        b.iter(|| {
            buf.clear();
            envelope.write(&mut buf, black_box(&rec), &ctx, &DEFAULT);
        })
    });
    c.bench_function("write_json", |b| {
        b.iter(|| {
            buf.clear();
            write_json(&mut buf, black_box(&rec), &ctx, &DEFAULT);
        })
    });
}

fn emit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let specs = vec![
        format!("file://{}/a.cef", dir.path().display())
            .parse()
            .unwrap(),
        format!("file://{}/b.json?format=json", dir.path().display())
            .parse()
            .unwrap(),
    ];
    let opts = OutputOptions {
        queue_records: 1 << 20,
        aggregate_window: Duration::ZERO,
        ..OutputOptions::default()
    };
    let dispatcher = Dispatcher::start(specs, opts, ctx()).unwrap();
    let mut sink = dispatcher.sink();
    let rec = flow_record();
    c.bench_function("dispatch_emit_two_outputs", |b| {
        b.iter(|| sink.emit(black_box(rec.clone())))
    });
    let report = dispatcher.shutdown(Duration::from_secs(30));
    eprintln!(
        "emit bench: {:?}",
        report
            .outputs
            .iter()
            .map(|o| (o.sent, o.dropped))
            .collect::<Vec<_>>()
    );
}

/// Sends `n` records to a receiver that reads as fast as it can; records/s until all sent.
fn delivered_per_second(n: u64) -> f64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        std::io::copy(&mut conn, &mut std::io::sink()).unwrap()
    });
    let opts = OutputOptions {
        queue_records: 1 << 20,
        aggregate_window: Duration::ZERO,
        ..OutputOptions::default()
    };
    let spec = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    let dispatcher = Dispatcher::start(vec![spec], opts, ctx()).unwrap();
    while !dispatcher.stats()[0].connected {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut sink = dispatcher.sink();
    let rec = flow_record();
    let start = Instant::now();
    for i in 0..n {
        sink.emit(rec.clone());
        if i % 1024 == 0 {
            // Stay under the hand-off channel's bound: this measures delivery, not drops.
            while dispatcher.stats()[0].queued > 8192 {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while dispatcher.stats()[0].sent + dispatcher.stats()[0].dropped < n {
        assert!(Instant::now() < deadline, "{:?}", dispatcher.stats());
        std::thread::sleep(Duration::from_micros(200));
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let report = dispatcher.shutdown(Duration::from_secs(10));
    assert_eq!(report.outputs[0].dropped, 0);
    drop(reader);
    rate
}

/// Emits `n` records as fast as one thread can while the receiver is away and every spool
/// fsync takes `slow` extra. Returns (emit records/s, slowest emit, records spooled/s, report).
fn intake_under_slow_disk(n: u64, slow: Duration) -> (f64, Duration, f64, String) {
    c2tap::output::deliver::spool::simulate_slow_sync(slow);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = OutputOptions {
        queue_records: 1_000_000,
        spool_dir: Some(dir.path().join("spool")),
        spool_max_bytes: 4 << 30,
        aggregate_window: Duration::ZERO,
        ..OutputOptions::default()
    };
    let spec = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    let dispatcher = Dispatcher::start(vec![spec], opts, ctx()).unwrap();
    let mut sink = dispatcher.sink();
    let rec = flow_record();
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        sink.emit(rec.clone());
        slowest = slowest.max(t.elapsed());
        if i % 100 == 0 {
            // An alert storm far beyond a real one: at most 100,000 records/s.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let emit_rate = n as f64 / start.elapsed().as_secs_f64();
    // Everything is in memory, on disk or counted (the spooler may hold one batch).
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let s = dispatcher.stats().remove(0);
        if s.queued + s.spooled + s.dropped + 1024 >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Until everything is on disk: the spooler's rate, fsync included.
    let deadline = Instant::now() + Duration::from_secs(120);
    while dispatcher.stats()[0].spooled + dispatcher.stats()[0].dropped < n
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let spooled_rate = dispatcher.stats()[0].spooled as f64 / start.elapsed().as_secs_f64();
    let stats = dispatcher.stats().remove(0);
    let summary = format!(
        "queued {} spooled {} dropped {:?}",
        stats.queued,
        stats.spooled,
        stats
            .drop_reasons()
            .filter(|(_, n)| *n > 0)
            .collect::<Vec<_>>()
    );
    dispatcher.shutdown(Duration::ZERO);
    c2tap::output::deliver::spool::simulate_slow_sync(Duration::ZERO);
    (emit_rate, slowest, spooled_rate, summary)
}

fn delivery_report() {
    let n = 200_000;
    println!("delivery: {:.0} records/s over TCP to a local receiver (every record confirmed by the kernel)", delivered_per_second(n));
    for slow in [
        Duration::ZERO,
        Duration::from_millis(50),
        Duration::from_millis(500),
    ] {
        let (emit, slowest, spooled, summary) = intake_under_slow_disk(n, slow);
        println!(
            "slow disk +{slow:?} per fsync, receiver away: emit {emit:.0} records/s, slowest emit {slowest:?}, spooler {spooled:.0} records/s; {summary}"
        );
    }
}

criterion_group!(benches, formatting, emit);

fn main() {
    if std::env::args().any(|a| a == "delivery") {
        delivery_report();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
