use super::*;
use crate::output::format::examples;
use std::net::Ipv4Addr;

fn alert(n: u32, t: Nanos, action: Action) -> FlowRecord {
    let mut r = examples::flow(examples::ioc());
    r.client.addr = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + n));
    r.start = t;
    r.end = t;
    r.action = action;
    r
}

#[test]
fn a_storm_folds_alerts_until_a_quiet_window_passes() {
    let cfg = StormConfig {
        flows: 3,
        window: 10,
    };
    let mut s = Storms::new(cfg);
    let ioc = alert(0, 0, Action::Attempted).ioc.value.clone();
    let mut out = Vec::new();
    // Three flows: no storm, their alerts leave.
    for n in 0..3 {
        s.new_flow(&ioc, n, &mut |r| out.push(r));
        assert!(s
            .fold_alert(alert(n as u32, n, Action::Attempted))
            .is_some());
    }
    // The fourth starts it: attempted flows fold, established ones keep their records
    // up to the threshold.
    for n in 3..10 {
        s.new_flow(&ioc, n, &mut |r| out.push(r));
    }
    for n in 3..8 {
        assert!(s
            .fold_alert(alert(n as u32, n, Action::Attempted))
            .is_none());
    }
    for n in 8..11 {
        assert!(s
            .fold_alert(alert(n as u32, n, Action::Established))
            .is_some());
    }
    assert!(s.fold_alert(alert(11, 9, Action::Established)).is_none());
    s.tick(10, &mut |r| out.push(r));
    let [Record::Flow(storm)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(storm.signature, Signature::ContactStorm);
    assert_eq!((storm.count, storm.clients), (6, 6));
    assert_eq!((storm.start, storm.end), (3, 9));
    // Still storming (7 new flows in the last window): this window folds too.
    s.new_flow(&ioc, 12, &mut |r| out.push(r));
    assert!(s.fold_alert(alert(1, 12, Action::Attempted)).is_none());
    s.tick(20, &mut |r| out.push(r));
    assert_eq!(out.len(), 2);
    // A quiet window: the storm is over and the IOC forgotten.
    s.tick(30, &mut |r| out.push(r));
    assert!(s.fold_alert(alert(1, 31, Action::Attempted)).is_some());
    assert_eq!(s.stats.folded, [7, 0, 0]);
    assert_eq!(s.stats.records, 2);
    assert!(s.iocs.is_empty());
}

#[test]
fn distinct_is_exact_when_small_and_close_when_large() {
    let mut d = Distinct::default();
    for n in 0..500u32 {
        d.insert(IpAddr::V4(Ipv4Addr::from(n % 200)));
    }
    assert_eq!(d.estimate(), 200);
    for truth in [1_000u32, 100_000] {
        let mut d = Distinct::default();
        for n in 0..truth {
            d.insert(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
        }
        let e = d.estimate() as f64;
        let err = (e - f64::from(truth)).abs() / f64::from(truth);
        assert!(err < 0.2, "{truth} estimated as {e}");
    }
}

#[test]
fn off_means_never_a_storm() {
    let mut s = Storms::new(StormConfig {
        flows: 0,
        window: 10,
    });
    let rec = alert(0, 0, Action::Attempted);
    for n in 0..1_000 {
        s.new_flow(&rec.ioc.value, n, &mut |_| panic!("no storm record"));
    }
    assert!(s.fold_alert(rec).is_some());
}
