use super::*;

fn link(heartbeat_ms: u64) -> Arc<Link> {
    Link::new("lo", vec![Arc::new(AtomicU64::new(heartbeat_ms))])
}

#[test]
fn a_link_is_up_only_once_open_with_every_worker_reading_and_turning() {
    let l = link(now_ms());
    assert_eq!(l.state(), LinkState::Down("not opened yet".into()));
    l.set_problem(None);
    assert_eq!(
        l.state(),
        LinkState::Down("starting its capture threads".into())
    );
    l.reading.fetch_add(1, Ordering::SeqCst);
    // `lo` is up in every network namespace the tests run in.
    assert_eq!(l.state(), LinkState::Up);
    l.fail("absent: gone".into());
    l.fail("capture lost".into());
    assert_eq!(l.state(), LinkState::Down("absent: gone".into()));
}

#[test]
fn a_worker_that_stopped_turning_makes_its_link_stuck() {
    let l = link(now_ms().saturating_sub(HUNG_AFTER_MS + 1));
    l.set_problem(None);
    l.reading.fetch_add(1, Ordering::SeqCst);
    assert!(matches!(l.state(), LinkState::Down(why) if why.starts_with("stuck")));
}

#[test]
fn libpcap_failures_read_as_the_operator_would_say_them() {
    let open = |reason: &str| LiveError::Open {
        interface: "eth1".into(),
        reason: reason.into(),
    };
    assert_eq!(
        describe(&open("libpcap error: No such device exists")),
        "absent: cannot open: libpcap error: No such device exists"
    );
    let read = LiveError::Read {
        interface: "eth1".into(),
        reason: "The interface went down".into(),
    };
    assert!(describe(&read).starts_with("down: "));
    assert!(describe(&open("socket: Operation not permitted")).starts_with("no permission"));
}
