//! Flow-table update cost, the per-packet bottleneck on a busy link, and the design question
//! behind it: per-worker tables or one shared concurrent map under fanout.
//!
//! - `flow_update/*`: one existing flow updated per op, flows visited round robin like the
//!   generator's benchmark captures (every access a different flow: the cache-miss case), with
//!   and without the prefetch pipeline the worker runs (`hash` → `prefetch_slot` → later
//!   `prefetch_flow` → later `upsert_hashed`); and a hot 1,000-flow set.
//! - `flow_flood`: every op a new flow in a full table (SYN flood): insert + evict; and the same
//!   with every flow matched (spoofed SYNs from a C2 address: each new flow protected, the
//!   oldest protected one evicted), which must cost about the same (issue 13).
//! - `fanout_2_threads/*`: two threads each updating their own half of the flows (what
//!   AF_PACKET fanout delivers): per-worker `FlowTable`s, per-worker `std::HashMap`s (the
//!   previous design), and one shared `DashMap` both threads update.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use c2tap::flow::{AlertState, Dir, Flow, FlowConfig, FlowHash, FlowKey, FlowTable};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dashmap::DashMap;
use foldhash::fast::RandomState;

/// Flows of the big case: the benchmark captures' 200,000.
const FLOWS: u32 = 200_000;
/// Ops per criterion iteration.
const OPS: u32 = 1 << 16;
/// The worker's lookahead depth (src/pipeline/lookahead.rs); 8 and 32 are measured too.
const DEPTH: usize = 16;

#[path = "support/flow_keys.rs"]
mod flow_keys;
use flow_keys::{key, noop};

fn filled(flows: u32, max_flows: usize) -> FlowTable {
    let mut t = FlowTable::new(FlowConfig {
        max_flows,
        ..FlowConfig::default()
    });
    for n in 0..flows {
        t.upsert(key(n), 1, true, &mut noop);
    }
    t
}

#[inline(always)]
fn touch(flow: &mut Flow, now: u64) {
    flow.count(Dir::LoToHi, now, 64);
}

fn update_plain(t: &mut FlowTable, keys: &[FlowKey], ops: u32, cursor: &mut usize) {
    for i in 0..ops {
        let k = keys[*cursor];
        *cursor = (*cursor + 1) % keys.len();
        touch(t.upsert(k, 2, true, &mut noop).0, u64::from(i));
    }
}

fn update_prefetched<const DEPTH: usize>(
    t: &mut FlowTable,
    keys: &[FlowKey],
    ops: u32,
    cursor: &mut usize,
) {
    let mut ring: [(FlowKey, FlowHash); DEPTH] = [(keys[0], t.hash(&keys[0])); DEPTH];
    let n = keys.len();
    for i in 0..ops as usize + DEPTH {
        let slot = i % DEPTH;
        if i >= DEPTH {
            let (k, h) = ring[slot];
            touch(t.upsert_hashed(k, h, 2, true, &mut noop).0, i as u64);
        }
        if i < ops as usize {
            let k = keys[(*cursor + i) % n];
            let h = t.hash(&k);
            t.prefetch_slot(h);
            ring[slot] = (k, h);
        }
        if i >= DEPTH / 2 && i - DEPTH / 2 < ops as usize {
            t.prefetch_flow(ring[(i - DEPTH / 2) % DEPTH].1);
        }
    }
    *cursor = (*cursor + ops as usize) % n;
}

fn flow_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_update");
    g.throughput(Throughput::Elements(u64::from(OPS)));
    for flows in [1_000, FLOWS] {
        let keys: Vec<FlowKey> = (0..flows).map(key).collect();
        let mut t = filled(flows, 500_000);
        let mut cursor = 0;
        g.bench_function(BenchmarkId::new("plain", flows), |b| {
            b.iter(|| update_plain(&mut t, &keys, OPS, &mut cursor))
        });
        g.bench_function(BenchmarkId::new("prefetched", flows), |b| {
            b.iter(|| update_prefetched::<DEPTH>(&mut t, &keys, OPS, &mut cursor))
        });
        if flows == FLOWS {
            g.bench_function(BenchmarkId::new("prefetched_depth_8", flows), |b| {
                b.iter(|| update_prefetched::<8>(&mut t, &keys, OPS, &mut cursor))
            });
            g.bench_function(BenchmarkId::new("prefetched_depth_32", flows), |b| {
                b.iter(|| update_prefetched::<32>(&mut t, &keys, OPS, &mut cursor))
            });
        }
    }
    g.finish();
}

fn flow_flood(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_flood");
    g.throughput(Throughput::Elements(u64::from(OPS)));
    let bound = 500_000;
    let mut t = filled(bound as u32, bound);
    let mut next = bound as u32;
    g.bench_function("new_flow_evicts_oldest", |b| {
        b.iter(|| {
            for _ in 0..OPS {
                next = next.wrapping_add(1);
                black_box(t.upsert(key(next), 3, true, &mut noop).1);
            }
        })
    });
    drop(t);
    // What the worker does for a flow that matched: mark it, move it to the protected queues.
    let protect = |t: &mut FlowTable, k: FlowKey| {
        let (flow, created) = t.upsert(k, 3, true, &mut noop);
        flow.alert = AlertState::Pending;
        t.requeue(&k);
        created
    };
    let mut t = FlowTable::new(FlowConfig {
        max_flows: bound,
        ..FlowConfig::default()
    });
    for n in 0..bound as u32 {
        protect(&mut t, key(n));
    }
    let mut next = bound as u32;
    g.bench_function("new_matched_flow_evicts_oldest_matched", |b| {
        b.iter(|| {
            for _ in 0..OPS {
                next = next.wrapping_add(1);
                black_box(protect(&mut t, key(next)));
            }
        })
    });
    g.finish();
}

/// Run `work(thread)` on two threads started together; the time until both finished.
fn two_threads(work: impl Fn(usize) + Sync) -> Duration {
    let start = Barrier::new(3);
    std::thread::scope(|s| {
        for thread in 0..2 {
            let (start, work) = (&start, &work);
            s.spawn(move || {
                start.wait();
                work(thread);
            });
        }
        start.wait();
        let t0 = Instant::now();
        // Scope end joins both threads.
        t0
    })
    .elapsed()
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout_2_threads");
    let half = FLOWS / 2;
    let per_thread = OPS;
    g.throughput(Throughput::Elements(2 * u64::from(per_thread)));
    let keys: Vec<Vec<FlowKey>> = (0..2u32)
        .map(|t| (0..half).map(|n| key(t * half + n)).collect())
        .collect();

    let tables: Vec<std::sync::Mutex<(FlowTable, usize)>> = (0..2u32)
        .map(|t| {
            let mut table = FlowTable::new(FlowConfig::default());
            for k in &keys[t as usize] {
                table.upsert(*k, 1, true, &mut noop);
            }
            std::sync::Mutex::new((table, 0))
        })
        .collect();
    // Each thread locks only its own table once per batch: no contention, as with owned tables.
    type Update = fn(&mut FlowTable, &[FlowKey], u32, &mut usize);
    let variants: [(&str, Update); 2] = [
        (
            "per_worker_flowtable_prefetched",
            update_prefetched::<DEPTH>,
        ),
        ("per_worker_flowtable_plain", update_plain),
    ];
    for (name, update) in variants {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                two_threads(|w| {
                    let mut guard = tables[w].lock().unwrap_or_else(|e| e.into_inner());
                    let (table, cursor) = &mut *guard;
                    for _ in 0..iters {
                        update(table, &keys[w], per_thread, cursor);
                    }
                })
            })
        });
    }
    drop(tables);

    let maps: Vec<std::sync::Mutex<HashMap<FlowKey, Flow, RandomState>>> = (0..2)
        .map(|t: usize| {
            let m = keys[t]
                .iter()
                .map(|k| (*k, Flow::new(1, 1, true)))
                .collect();
            std::sync::Mutex::new(m)
        })
        .collect();
    g.bench_function("per_worker_std_hashmap", |b| {
        b.iter_custom(|iters| {
            two_threads(|w| {
                let mut map = maps[w].lock().unwrap_or_else(|e| e.into_inner());
                for i in 0..iters * u64::from(per_thread) {
                    let k = keys[w][(i % u64::from(half)) as usize];
                    touch(map.entry(k).or_insert_with(|| Flow::new(1, 1, true)), i);
                }
            })
        })
    });
    drop(maps);

    let shared: DashMap<FlowKey, Flow, RandomState> = DashMap::with_hasher(RandomState::default());
    for k in keys.iter().flatten() {
        shared.insert(*k, Flow::new(1, 1, true));
    }
    g.bench_function("shared_dashmap", |b| {
        b.iter_custom(|iters| {
            two_threads(|w| {
                for i in 0..iters * u64::from(per_thread) {
                    let k = keys[w][(i % u64::from(half)) as usize];
                    touch(
                        &mut shared.entry(k).or_insert_with(|| Flow::new(1, 1, true)),
                        i,
                    );
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, flow_update, flow_flood, fanout);
criterion_main!(benches);
