use super::*;

fn ok(text: &str) -> String {
    Endpoint::parse(text)
        .map(|e| e.to_string())
        .unwrap_or_else(|r| format!("ERR {r}"))
}

#[test]
fn normalizes_every_form() {
    assert_eq!(ok("138.9.223.13:8015"), "138.9.223.13:8015");
    assert_eq!(ok(" 138.9.223.13 "), "138.9.223.13");
    assert_eq!(ok("2001:DB8:0::1"), "2001:db8::1");
    assert_eq!(ok("[2001:db8::1]:443"), "[2001:db8::1]:443");
    assert_eq!(ok("[2001:db8::1]"), "2001:db8::1");
    assert_eq!(ok("2001:db8::1:443"), "2001:db8::1:443");
    assert_eq!(ok("2001:db8:0:0:0:0:0:1:443"), "[2001:db8::1]:443");
    assert_eq!(ok("198.51.100.7/24"), "198.51.100.0/24");
    assert_eq!(ok("198.51.100.7/32"), "198.51.100.7");
    assert_eq!(ok("2001:db8::/32"), "2001:db8::/32");
    assert_eq!(ok("2001:db8::5/128"), "2001:db8::5");
    assert_eq!(ok("::ffff:1.2.3.4"), "1.2.3.4");
    assert_eq!(ok("[::ffff:1.2.3.4]:80"), "1.2.3.4:80");
    assert_eq!(ok("::ffff:1.2.3.0/120"), "1.2.3.0/24");
    assert_eq!(ok("5.6.7.8|5678"), "5.6.7.8:5678");
    assert_eq!(ok("2001:db8::1|443"), "[2001:db8::1]:443");
}

#[test]
fn rejects_each_reason() {
    use RejectReason::*;
    let cases = [
        ("999.1.1.1", BadAddress),
        ("1.2.3", BadAddress),
        ("1.2.3.04", BadAddress),
        ("2001:db8:::1", BadAddress),
        ("[2001:db8::1", BadAddress),
        ("1.2.3.4/33", BadAddress),
        ("1.2.3.4:0", BadPort),
        ("1.2.3.4:65536", BadPort),
        ("1.2.3.4:99999999999", BadPort),
        ("1.2.3.4:", BadPort),
        ("1.2.3.4:8o", BadPort),
        ("[2001:db8::1]443", BadPort),
        ("5.6.7.8|0", BadPort),
        ("5.6.7.8:1|2", BadAddress),
        ("127.0.0.1|80", Loopback),
        ("0.0.0.0", Unspecified),
        ("0.0.0.0:80", Unspecified),
        ("::", Unspecified),
        ("0.0.0.0/0", TooBroad),
        ("0.0.0.0/16", Unspecified),
        ("1.0.0.0/1", TooBroad),
        ("::/0", TooBroad),
        ("169.254.1.1", LinkLocal),
        ("169.254.0.0/16", LinkLocal),
        ("fe80::1", LinkLocal),
        ("[fe80::1]:443", LinkLocal),
        ("255.255.255.255", Broadcast),
        ("255.255.255.0/24", Broadcast),
        ("224.0.0.1", Multicast),
        ("ff02::1", Multicast),
        ("239.1.1.1:5000", Multicast),
        ("127.0.0.1:8015", Loopback),
        ("127.0.0.0/8", Loopback),
        ("::1", Loopback),
        ("", Unparsable),
    ];
    for (text, reason) in cases {
        assert_eq!(Endpoint::parse(text), Err(reason), "{text}");
    }
}

fn breadth(text: &str) -> Option<RejectReason> {
    Endpoint::parse(text)
        .unwrap_or_else(|r| panic!("{text}: {r}"))
        .breadth()
}

#[test]
fn broad_networks_and_special_space_need_allow_broad() {
    use RejectReason::*;
    let cases = [
        ("10.0.0.0/8", Some(TooBroad)),
        ("2000::/3", Some(TooBroad)),
        ("8.0.0.0/15", Some(TooBroad)),
        ("2a00::/31", Some(TooBroad)),
        ("192.168.0.0/16", Some(Private)),
        ("10.1.2.0/24", Some(Private)),
        ("172.16.0.0/16", Some(Private)),
        ("fd00::/48", Some(Private)),
        ("100.64.0.0/16", Some(Shared)),
        ("198.51.100.0/24", Some(Documentation)),
        ("203.0.113.128/25", Some(Documentation)),
        ("2001:db8::/32", Some(Documentation)),
        ("198.18.0.0/16", Some(Reserved)),
        ("240.0.0.0/16", Some(Reserved)),
        ("240.1.2.3", Some(Reserved)),
        ("0.1.2.3:80", Some(Reserved)),
        // A single host may sit in private, shared or documentation space: an internal
        // sinkhole is a legitimate IOC and one address cannot flood.
        ("10.1.2.3", None),
        ("192.168.1.1:8080", None),
        ("100.64.1.1", None),
        ("198.51.100.66", None),
        ("[2001:db8:c2::13]:8015", None),
        ("fd00::5", None),
        ("8.8.0.0/16", None),
        ("138.9.223.0/24", None),
        ("2a00:1450::/32", None),
        ("138.9.223.13:8015", None),
    ];
    for (text, want) in cases {
        assert_eq!(breadth(text), want, "{text}");
    }
}

#[test]
fn tells_addresses_from_other_ioc_types() {
    assert!(looks_like_address("999.1.1.1"));
    assert!(looks_like_address("[2001:db8::1]:443"));
    assert!(!looks_like_address("evil.example.com"));
    assert!(!looks_like_address("d41d8cd98f00b204e9800998ecf8427e"));
    assert!(!looks_like_address("ip:port"));
}
