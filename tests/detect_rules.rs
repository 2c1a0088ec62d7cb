//! Detection rules on hand-built frames fed straight into a pipeline worker: who is client,
//! which signature, which `act`, exactly one alert per flow, packet-time hold-down, reuse,
//! eviction, retro-matching and cross-worker claims.

use std::net::Ipv4Addr;
use std::sync::Arc;

use c2tap::decode::LinkType;
use c2tap::detect::IocHandle;
use c2tap::flow::FlowConfig;
use c2tap::ioc::IocSet;
use c2tap::pipeline::{Claims, Worker, WorkerConfig};
use c2tap::record::{Action, FlowRecord, Record, Signature};
use c2tap::time::{Nanos, NANOS_PER_MILLI, NANOS_PER_SEC};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const RST: u8 = 0x04;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

const T0: Nanos = 1_778_335_407_123_456_000;
const C2: [u8; 4] = [138, 9, 223, 13];
const HOST: [u8; 4] = [10, 1, 2, 3];

/// Ethernet + IPv4 + TCP/UDP/ICMP frame with `payload` bytes of zeros.
fn frame(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: usize,
) -> Vec<u8> {
    let l4 = match proto {
        6 => 20,
        17 => 8,
        _ => 8,
    };
    let total = 20 + l4 + payload;
    let mut f = vec![0u8; 14 + total];
    f[12] = 0x08;
    f[13] = 0x00;
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let l = &mut ip[20..];
    match proto {
        6 => {
            l[0..2].copy_from_slice(&sport.to_be_bytes());
            l[2..4].copy_from_slice(&dport.to_be_bytes());
            l[12] = 0x50;
            l[13] = flags;
        }
        17 => {
            l[0..2].copy_from_slice(&sport.to_be_bytes());
            l[2..4].copy_from_slice(&dport.to_be_bytes());
            l[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
        }
        _ => {
            l[0] = flags; // ICMP type
        }
    }
    f
}

struct Rig {
    w: Worker<Vec<Record>>,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(WorkerConfig::default(), IocSet::builtin())
    }

    fn with(cfg: WorkerConfig, set: IocSet) -> Rig {
        Rig {
            w: Worker::new(0, cfg, Arc::new(IocHandle::new(set)), Vec::new()),
        }
    }

    fn send(&mut self, at_ms: u64, f: &[u8]) {
        self.w.packet(
            T0 + at_ms * NANOS_PER_MILLI,
            LinkType::ETHERNET,
            f,
            f.len() as u32,
        );
    }

    fn tcp(&mut self, at_ms: u64, from_host: bool, sport: u16, flags: u8, payload: usize) {
        let f = if from_host {
            frame(HOST, C2, 6, sport, 8015, flags, payload)
        } else {
            frame(C2, HOST, 6, 8015, sport, flags, payload)
        };
        self.send(at_ms, &f);
    }

    fn finish(mut self) -> Vec<FlowRecord> {
        self.w.finish();
        std::mem::take(self.w.sink_mut())
            .into_iter()
            .map(|r| match r {
                Record::Flow(f) => f,
                Record::Health(_) => panic!("unexpected health record"),
            })
            .collect()
    }
}

fn sigs(recs: &[FlowRecord]) -> Vec<(Signature, Action)> {
    recs.iter().map(|r| (r.signature, r.action)).collect()
}

#[test]
fn handshake_then_fin_gives_one_established_alert_and_a_closed_summary() {
    let mut r = Rig::new();
    r.tcp(0, true, 49822, SYN, 0);
    r.tcp(20, false, 49822, SYN | ACK, 0);
    r.tcp(40, true, 49822, ACK, 0);
    r.tcp(50, true, 49822, ACK | PSH, 100);
    r.tcp(70, false, 49822, ACK | PSH, 50);
    r.tcp(90, true, 49822, FIN | ACK, 0);
    r.tcp(95, false, 49822, FIN | ACK, 0);
    r.tcp(99, true, 49822, ACK, 0);
    let recs = r.finish();
    assert_eq!(
        sigs(&recs),
        vec![
            (Signature::IocMatch, Action::Established),
            (Signature::FlowSummary, Action::Closed)
        ]
    );
    let a = &recs[0];
    assert_eq!(a.client.addr, std::net::IpAddr::from(Ipv4Addr::from(HOST)));
    assert_eq!((a.client.port, a.server.port), (49822, 8015));
    assert!(a.ioc_is_server);
    assert_eq!(a.start, T0);
    assert_eq!(a.end, T0 + 40 * NANOS_PER_MILLI);
    assert_eq!(a.ioc.value, "138.9.223.13:8015");
    let s = &recs[1];
    assert_eq!(
        (s.totals.packets_to_server, s.totals.packets_to_client),
        (5, 3)
    );
    assert_eq!(s.totals.bytes_to_server, 5 * 40 + 100);
    assert_eq!(s.totals.bytes_to_client, 3 * 40 + 50);
    assert_eq!(s.end, T0 + 99 * NANOS_PER_MILLI);
}

#[test]
fn unanswered_syn_retries_give_one_attempted_alert_after_the_holddown() {
    let mut r = Rig::new();
    r.tcp(0, true, 50000, SYN, 0);
    r.tcp(1000, true, 50000, SYN, 0);
    // Unrelated traffic moves packet time past the 3 s hold-down.
    r.send(
        3500,
        &frame([10, 1, 9, 9], [192, 0, 2, 1], 17, 5353, 53, 0, 10),
    );
    let w_recs = r.w.sink_mut().clone();
    assert_eq!(
        w_recs.len(),
        1,
        "the alert leaves when the hold-down expires, not at the end"
    );
    r.tcp(3600, true, 50000, SYN, 0);
    let recs = r.finish();
    assert_eq!(
        sigs(&recs),
        vec![
            (Signature::IocMatch, Action::Attempted),
            (Signature::FlowSummary, Action::Shutdown)
        ]
    );
    assert_eq!(recs[1].totals.packets_to_server, 3);
}

#[test]
fn rst_from_the_server_is_rejected() {
    let mut r = Rig::new();
    r.tcp(0, true, 50001, SYN, 0);
    r.tcp(1, false, 50001, RST | ACK, 0);
    let recs = r.finish();
    assert_eq!(
        sigs(&recs),
        vec![
            (Signature::IocMatch, Action::Rejected),
            (Signature::FlowSummary, Action::Reset)
        ]
    );
}

#[test]
fn midstream_flow_takes_the_ioc_port_side_as_server() {
    let mut r = Rig::new();
    // First packet seen comes from the C2 (no SYN anywhere).
    r.tcp(0, false, 50002, ACK | PSH, 30);
    r.tcp(5, true, 50002, ACK, 0);
    let recs = r.finish();
    assert_eq!(recs[0].action, Action::Observed);
    assert_eq!(recs[0].server.port, 8015);
    assert_eq!(recs[0].client.port, 50002);
    assert!(recs[0].ioc_is_server);
}

#[test]
fn c2_connecting_in_is_the_client_by_its_syn() {
    let mut r = Rig::new();
    r.send(0, &frame(C2, HOST, 6, 8015, 443, SYN, 0));
    r.send(1, &frame(HOST, C2, 6, 443, 8015, SYN | ACK, 0));
    r.send(2, &frame(C2, HOST, 6, 8015, 443, ACK, 0));
    let recs = r.finish();
    assert_eq!(recs[0].signature, Signature::IocMatch);
    assert_eq!(recs[0].action, Action::Established);
    assert_eq!(recs[0].client.port, 8015);
    assert!(!recs[0].ioc_is_server);
}

#[test]
fn udp_and_icmp_and_other_ports() {
    let mut r = Rig::new();
    r.send(0, &frame(HOST, C2, 17, 40000, 8015, 0, 20));
    r.send(1, &frame(HOST, C2, 1, 0, 0, 8, 20));
    r.send(2, &frame(C2, HOST, 1, 0, 0, 0, 20));
    r.send(3, &frame(HOST, C2, 6, 40001, 443, SYN, 0));
    let recs = r.finish();
    let alerts: Vec<_> = recs
        .iter()
        .filter(|r| r.signature != Signature::FlowSummary)
        .collect();
    assert_eq!(alerts.len(), 3);
    assert_eq!(
        (alerts[0].signature, alerts[0].action, alerts[0].proto),
        (Signature::IocMatch, Action::Observed, 17)
    );
    assert_eq!(
        (alerts[1].signature, alerts[1].proto),
        (Signature::IocAddressMatch, 1)
    );
    assert_eq!(
        alerts[1].client.addr,
        std::net::IpAddr::from(Ipv4Addr::from(HOST))
    );
    assert_eq!(
        alerts[1].totals.packets_to_client, 0,
        "alert leaves at the first packet"
    );
    assert_eq!(
        (alerts[2].signature, alerts[2].server.port),
        (Signature::IocAddressMatch, 443)
    );
}

#[test]
fn near_misses_do_not_alert() {
    let mut r = Rig::new();
    r.send(0, &frame(HOST, [138, 9, 223, 14], 6, 40000, 8015, SYN, 0));
    r.send(1, &frame(HOST, [192, 0, 2, 10], 6, 8015, 443, SYN, 0));
    r.send(2, &frame([138, 9, 223, 12], HOST, 17, 8015, 53, 0, 4));
    assert!(r.finish().is_empty());
}

#[test]
fn a_closed_five_tuple_reused_is_a_new_flow_and_a_new_alert() {
    let mut r = Rig::new();
    for base in [0u64, 10_000] {
        r.tcp(base, true, 50003, SYN, 0);
        r.tcp(base + 1, false, 50003, SYN | ACK, 0);
        r.tcp(base + 2, true, 50003, ACK, 0);
        r.tcp(base + 3, true, 50003, RST, 0);
    }
    let recs = r.finish();
    assert_eq!(
        sigs(&recs),
        vec![
            (Signature::IocMatch, Action::Established),
            (Signature::FlowSummary, Action::Reset),
            (Signature::IocMatch, Action::Established),
            (Signature::FlowSummary, Action::Reset),
        ]
    );
    assert_eq!(recs[2].start, T0 + 10_000 * NANOS_PER_MILLI);
}

#[test]
fn long_flow_with_idle_gaps_alerts_once() {
    let mut r = Rig::new();
    r.tcp(0, true, 50004, SYN, 0);
    r.tcp(1, false, 50004, SYN | ACK, 0);
    r.tcp(2, true, 50004, ACK, 0);
    for i in 1..=30u64 {
        r.tcp(i * 60_000, true, 50004, ACK | PSH, 12);
        r.tcp(i * 60_000 + 5, false, 50004, ACK, 0);
    }
    let recs = r.finish();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].action, Action::Shutdown);
    assert_eq!(recs[1].totals.packets_to_server, 32);
}

#[test]
fn idle_past_the_timeout_ends_the_flow_and_a_later_packet_starts_another() {
    let mut r = Rig::new();
    r.send(0, &frame(HOST, C2, 17, 40000, 8015, 0, 20));
    r.send(200_000, &frame(HOST, C2, 17, 40000, 8015, 0, 20));
    let recs = r.finish();
    assert_eq!(
        sigs(&recs),
        vec![
            (Signature::IocMatch, Action::Observed),
            (Signature::FlowSummary, Action::Timeout),
            (Signature::IocMatch, Action::Observed),
            (Signature::FlowSummary, Action::Shutdown),
        ]
    );
}

#[test]
fn a_syn_flood_cannot_evict_matched_flows() {
    let cfg = WorkerConfig {
        flow: FlowConfig {
            max_flows: 64,
            ..FlowConfig::default()
        },
        ..WorkerConfig::default()
    };
    let mut r = Rig::with(cfg, IocSet::builtin());
    r.tcp(0, true, 50005, SYN, 0);
    for i in 0..5000u16 {
        r.send(
            1,
            &frame(
                [10, 2, (i >> 8) as u8, i as u8],
                [192, 0, 2, 1],
                6,
                1024 + i,
                80,
                SYN,
                0,
            ),
        );
    }
    r.tcp(2, false, 50005, SYN | ACK, 0);
    r.tcp(3, true, 50005, ACK, 0);
    r.send(4, &frame(HOST, C2, 6, 50006, 8015, SYN, 0));
    let stats = r.w.stats();
    // 5002 flows (the C2 flow, the flood, one more C2 flow) through a 64-flow table.
    assert_eq!(stats.flows_evicted, 5002 - 64);
    let recs = r.finish();
    let alerts: Vec<_> = recs
        .iter()
        .filter(|r| r.signature == Signature::IocMatch)
        .collect();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].action, Action::Established);
    assert_eq!(alerts[0].client.port, 50005);
}

#[test]
fn alerts_only_mode_still_alerts_but_tracks_nothing_else() {
    let cfg = WorkerConfig {
        track_all: false,
        ..WorkerConfig::default()
    };
    let mut r = Rig::with(cfg, IocSet::builtin());
    r.send(0, &frame(HOST, [192, 0, 2, 1], 6, 1234, 443, SYN, 0));
    r.tcp(1, true, 50007, SYN, 0);
    r.tcp(2, false, 50007, SYN | ACK, 0);
    r.tcp(3, true, 50007, ACK, 0);
    assert_eq!(r.w.stats().flows_created, 1);
    let recs = r.finish();
    assert_eq!(sigs(&recs)[0], (Signature::IocMatch, Action::Established));
}

#[test]
fn a_reload_flags_flows_already_open_with_their_true_start() {
    let handle = Arc::new(IocHandle::new(IocSet::default()));
    let mut w = Worker::new(
        0,
        WorkerConfig::default(),
        Arc::clone(&handle),
        Vec::<Record>::new(),
    );
    let f = |flags| frame(HOST, C2, 6, 50008, 8015, flags, 0);
    let g = |flags| frame(C2, HOST, 6, 8015, 50008, flags, 0);
    w.packet(T0, LinkType::ETHERNET, &f(SYN), 54);
    w.packet(T0 + 1, LinkType::ETHERNET, &g(SYN | ACK), 54);
    w.packet(T0 + 2, LinkType::ETHERNET, &f(ACK), 54);
    assert!(w.sink_mut().is_empty());
    handle.replace(IocSet::builtin());
    w.packet(T0 + 5 * NANOS_PER_SEC, LinkType::ETHERNET, &f(ACK), 54);
    assert_eq!(w.stats().retro_matches, 1);
    w.finish();
    let recs = std::mem::take(w.sink_mut());
    let Record::Flow(a) = &recs[0] else {
        panic!("flow record expected")
    };
    assert_eq!(
        (a.signature, a.action, a.start),
        (Signature::IocMatch, Action::Established, T0)
    );
    assert_eq!(
        a.totals.packets_to_server, 2,
        "counters so far, before the reload packet"
    );
}

#[test]
fn two_workers_seeing_one_mirrored_flow_alert_once() {
    let claims = Arc::new(Claims::default());
    let handle = Arc::new(IocHandle::new(IocSet::builtin()));
    let mut a = Worker::new(
        0,
        WorkerConfig::default(),
        Arc::clone(&handle),
        Vec::<Record>::new(),
    )
    .with_claims(Arc::clone(&claims));
    let mut b = Worker::new(
        1,
        WorkerConfig::default(),
        Arc::clone(&handle),
        Vec::<Record>::new(),
    )
    .with_claims(Arc::clone(&claims));
    let syn = frame(HOST, C2, 6, 50009, 8015, SYN, 0);
    let synack = frame(C2, HOST, 6, 8015, 50009, SYN | ACK, 0);
    let ack = frame(HOST, C2, 6, 50009, 8015, ACK, 0);
    for (i, p) in [&syn, &synack, &ack].into_iter().enumerate() {
        a.packet(T0 + i as u64, LinkType::ETHERNET, p, 54);
        b.packet(T0 + i as u64, LinkType::ETHERNET, p, 54);
    }
    a.finish();
    b.finish();
    assert_eq!(a.sink_mut().len(), 2);
    assert!(b.sink_mut().is_empty());
    assert_eq!(b.stats().shadowed, 1);
    assert!(
        claims.is_empty(),
        "the owner releases its claim when the flow ends"
    );
}

#[test]
fn garbage_is_counted_not_fatal() {
    let mut r = Rig::new();
    r.send(0, &[]);
    r.send(1, &[0xff; 7]);
    let mut bad = frame(HOST, C2, 6, 1, 8015, SYN, 0);
    bad[14] = 0x4f; // IHL beyond the frame
    r.send(2, &bad);
    r.tcp(3, true, 50010, SYN, 0);
    let stats = r.w.stats();
    assert_eq!(stats.decode_errors.iter().sum::<u64>(), 3);
    assert_eq!(r.finish().len(), 2);
}

#[test]
fn packet_time_steps_back_and_jumps_ahead_are_counted_and_survived() {
    let mut r = Rig::new();
    const DAY: u64 = 86_400_000;
    r.tcp(2 * DAY, true, 50011, SYN, 0);
    r.tcp(2 * DAY + 1, false, 50011, SYN | ACK, 0);
    // A day-old packet: counted, the clock stays; the flow keeps working.
    r.tcp(DAY, true, 50011, ACK, 0);
    // Decades ahead: counted; the open flow times out, a new one starts for the same hosts.
    r.tcp(40 * 365 * DAY, true, 50011, ACK | PSH, 10);
    let stats = r.w.stats();
    assert_eq!((stats.time_steps_back, stats.time_jumps), (1, 1));
    let recs = r.finish();
    assert_eq!(
        sigs(&recs),
        vec![
            (Signature::IocMatch, Action::Established),
            (Signature::FlowSummary, Action::Timeout),
            (Signature::IocMatch, Action::Observed),
            (Signature::FlowSummary, Action::Shutdown),
        ]
    );
}

/// The documented price of tracking outer layers only when they match: after a reload, a
/// tunnel's outer flow to a newly listed C2 is reported from its next packet on (that packet's
/// time and counters), not with its true start as an inner or untunnelled flow would be; an
/// outer flow that sends nothing after the reload stays unreported.
#[test]
fn after_a_reload_an_outer_flow_is_reported_from_its_next_packet() {
    let handle = Arc::new(IocHandle::new(IocSet::default()));
    let mut w = Worker::new(
        0,
        WorkerConfig::default(),
        Arc::clone(&handle),
        Vec::<Record>::new(),
    );
    // GRE from the host to the C2 carrying a benign DNS query between two other hosts.
    let inner = frame([10, 9, 9, 9], [10, 8, 8, 8], 17, 40000, 53, 0, 0);
    let inner_ip = &inner[14..];
    let mut gre = frame(HOST, C2, 47, 0, 0, 0, inner_ip.len() + 4 - 8);
    gre[34..38].copy_from_slice(&[0, 0, 0x08, 0x00]);
    gre[38..].copy_from_slice(inner_ip);
    let len = gre.len() as u32;
    w.packet(T0, LinkType::ETHERNET, &gre, len);
    w.packet(T0 + 1, LinkType::ETHERNET, &gre, len);
    assert!(w.sink_mut().is_empty());
    handle.replace(IocSet::builtin());
    let reloaded = T0 + 5 * NANOS_PER_SEC;
    w.packet(reloaded, LinkType::ETHERNET, &gre, len);
    assert_eq!(w.stats().retro_matches, 0);
    w.finish();
    let outer: Vec<_> = std::mem::take(w.sink_mut())
        .into_iter()
        .filter_map(|r| match r {
            Record::Flow(f) if f.outer && f.signature != Signature::FlowSummary => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(outer.len(), 1, "{outer:?}");
    assert_eq!(
        (
            outer[0].signature,
            outer[0].start,
            outer[0].totals.packets_to_server
        ),
        (Signature::IocAddressMatch, reloaded, 1),
        "{:?}",
        outer[0]
    );
}
