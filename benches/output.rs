//! Output benchmarks: the cost of rendering one record (CEF, CEF inside the syslog envelope,
//! JSON) into a reused buffer, and of `DispatchSink::emit` — what the capture path pays per
//! record — with two outputs whose threads drain in the background.
//! Run with `cargo bench --bench output`.

use std::hint::black_box;
use std::time::Duration;

use c2tap::output::cef::write_cef;
use c2tap::output::examples::{ctx, flow_record};
use c2tap::output::json::write_json;
use c2tap::output::syslog::{Envelope, Facility};
use c2tap::output::{Dispatcher, OutputOptions, RecordSink};
use criterion::{criterion_group, criterion_main, Criterion};

fn formatting(c: &mut Criterion) {
    let rec = flow_record();
    let ctx = ctx();
    let envelope = Envelope::new(Facility::Local4, false, "sensor01", 2048);
    let mut buf = Vec::with_capacity(4096);
    c.bench_function("write_cef", |b| {
        b.iter(|| {
            buf.clear();
            write_cef(&mut buf, black_box(&rec), &ctx);
        })
    });
    c.bench_function("syslog_envelope_cef", |b| {
        b.iter(|| {
            buf.clear();
            envelope.write(&mut buf, black_box(&rec), &ctx);
        })
    });
    c.bench_function("write_json", |b| {
        b.iter(|| {
            buf.clear();
            write_json(&mut buf, black_box(&rec), &ctx);
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

criterion_group!(benches, formatting, emit);
criterion_main!(benches);
