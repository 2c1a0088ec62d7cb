use super::*;
use crate::decode::proto;
use crate::flow::key::Dir;
use crate::flow::AlertState;
use crate::time::secs;

fn key(n: u16, proto: u8) -> FlowKey {
    FlowKey {
        lo_addr: 1,
        hi_addr: 2,
        lo_port: n,
        hi_port: 80,
        proto,
        vlan: 0,
        vni: 0,
    }
}

#[test]
fn idle_flows_time_out_on_packet_time_only() {
    let mut t = FlowTable::new(FlowConfig::default());
    let mut ended = Vec::new();
    let k = key(1, proto::UDP);
    t.insert(k, 0, false, &mut |k, _, r| ended.push((k, r)));
    t.expire(secs(119), &mut |k, _, r| ended.push((k, r)));
    assert!(ended.is_empty());
    // A packet at 100 s keeps it alive past the first deadline.
    if let Some(f) = t.get_mut(&k) {
        f.count(Dir::LoToHi, secs(100), 60);
    }
    t.expire(secs(121), &mut |k, _, r| ended.push((k, r)));
    assert!(ended.is_empty());
    t.expire(secs(220), &mut |k, _, r| ended.push((k, r)));
    assert_eq!(ended, vec![(k, EndReason::Timeout)]);
    assert!(t.is_empty());
}

#[test]
fn full_table_evicts_oldest_unmatched_and_protects_matched() {
    let cfg = FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut ended = Vec::new();
    let mut cb = |k: FlowKey, _f: Flow, r| ended.push((k, r));
    t.insert(key(1, proto::TCP), 1, true, &mut cb).alert = AlertState::Sent;
    t.insert(key(2, proto::TCP), 2, true, &mut cb);
    t.insert(key(3, proto::TCP), 3, true, &mut cb);
    t.insert(key(4, proto::TCP), 4, true, &mut cb);
    assert_eq!(ended, vec![(key(2, proto::TCP), EndReason::Evicted)]);
    assert_eq!(t.len(), 3);
    assert!(t.get_mut(&key(1, proto::TCP)).is_some());
    assert_eq!(t.stats.evicted, 1);
}

#[test]
fn the_bound_holds_under_a_flood() {
    let cfg = FlowConfig {
        max_flows: 100,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut n = 0u64;
    for i in 0..10_000u16 {
        t.insert(key(i, proto::TCP), u64::from(i), true, &mut |_, _, _| {
            n += 1
        });
        assert!(t.len() <= 100);
    }
    assert_eq!(n, 9_900);
    let queued = t.queues.total_len();
    assert!(queued <= 2 * 100 + 1024 + 1);
}

/// A flood of flows that all matched an IOC (spoofed SYNs from a C2 address): each new one
/// evicts the oldest matched flow, with its summary, after looking at O(1) queue entries —
/// not at every protected flow in the table.
#[test]
fn a_flood_of_protected_flows_evicts_in_constant_work() {
    let bound = 2_000;
    let cfg = FlowConfig {
        max_flows: bound,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut ended = Vec::new();
    let flows = 40_000u16;
    for i in 0..flows {
        let k = key(i, proto::TCP);
        t.insert(k, u64::from(i), true, &mut |k, f, r| {
            ended.push((k, f.id, r))
        })
        .alert = AlertState::Pending;
        t.requeue(&k);
        assert!(t.len() <= bound);
    }
    let evicted = usize::from(flows) - bound;
    assert_eq!(ended.len(), evicted);
    assert_eq!(t.stats.evicted_protected, evicted as u64);
    // Oldest first: flow n leaves when flow n + bound arrives.
    for (n, (k, id, reason)) in ended.iter().enumerate() {
        assert_eq!(
            (*k, *id, *reason),
            (key(n as u16, proto::TCP), n as u64 + 1, EndReason::Evicted)
        );
    }
    // Each eviction passes over the stale entry the requeue left, and takes one flow.
    assert!(
        t.eviction_steps <= 3 * evicted as u64,
        "{} queue entries looked at for {evicted} evictions",
        t.eviction_steps
    );
}

#[test]
fn ordinary_flows_leave_before_protected_ones_however_many_those_are() {
    let cfg = FlowConfig {
        max_flows: 1_000,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut ended = Vec::new();
    let mut cb = |k: FlowKey, _f: Flow, r| ended.push((k, r));
    t.insert(key(0, proto::TCP), 0, true, &mut cb);
    for i in 1..1_000u16 {
        t.insert(key(i, proto::TCP), u64::from(i), true, &mut cb)
            .alert = AlertState::Sent;
        t.requeue(&key(i, proto::TCP));
    }
    for i in 1_000..1_100u16 {
        t.insert(key(i, proto::TCP), u64::from(i), true, &mut cb);
    }
    // The one ordinary flow, then each newcomer evicts the previous (ordinary) newcomer.
    let want: Vec<(FlowKey, EndReason)> = (0..100u16)
        .map(|i| {
            (
                key(if i == 0 { 0 } else { 999 + i }, proto::TCP),
                EndReason::Evicted,
            )
        })
        .collect();
    assert_eq!(ended, want);
    assert_eq!(t.stats.evicted_protected, 0);
    // The 999 stale entries the requeues left are passed over once; then one per eviction.
    assert!(t.eviction_steps <= 999 + 2 * 100, "{}", t.eviction_steps);
}

#[test]
fn entries_keep_their_hot_fields_in_two_cache_lines() {
    assert_eq!(std::mem::size_of::<Entry>(), 192);
    let flow_at = std::mem::offset_of!(Entry, flow);
    assert!(flow_at + std::mem::offset_of!(Flow, shadow) < HOT_BYTES);
}

#[test]
fn drain_reports_closed_flows_as_closed() {
    let mut t = FlowTable::new(FlowConfig::default());
    let k = key(9, proto::TCP);
    let f = t.insert(k, 5, true, &mut |_, _, _| {});
    f.tcp(Dir::LoToHi, crate::decode::tcp_flags::RST);
    let mut ended = Vec::new();
    t.drain(&mut |k, _, r| ended.push((k, r)));
    assert_eq!(ended, vec![(k, EndReason::Reset)]);
}
