use super::*;

#[test]
fn kernel_counters_widen_across_wrap() {
    let mut k = KernelCounters::default();
    k.update(pcap::Stat {
        received: u32::MAX - 1,
        dropped: 5,
        if_dropped: 0,
    });
    k.update(pcap::Stat {
        received: 3,
        dropped: 7,
        if_dropped: 1,
    });
    assert_eq!(k.received, u64::from(u32::MAX) + 4);
    assert_eq!(k.dropped, 7);
    assert_eq!(k.if_dropped, 1);
}

#[test]
fn missing_interface_is_an_open_error() {
    let opts = LiveOptions {
        snaplen: 256,
        buffer_size: 1 << 20,
        promiscuous: false,
        immediate: false,
        timeout: Duration::from_millis(10),
    };
    match LiveCapture::open("c2tap-nonexist", &opts) {
        Err(LiveError::Open { interface, .. }) => assert_eq!(interface, "c2tap-nonexist"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a missing interface"),
    }
}
