use super::*;

#[test]
fn parses_urls() {
    let ok = [
        (
            "udp://127.0.0.1:514",
            OutputSpec::Udp {
                host: "127.0.0.1".into(),
                port: 514,
            },
        ),
        (
            "tcp://siem.example:601",
            OutputSpec::Tcp {
                host: "siem.example".into(),
                port: 601,
            },
        ),
        (
            "tls://[2001:db8::1]:6514",
            OutputSpec::Tls {
                host: "2001:db8::1".into(),
                port: 6514,
            },
        ),
        (
            "file:///var/log/c2tap.cef",
            OutputSpec::File {
                path: "/var/log/c2tap.cef".into(),
                format: Format::Cef,
            },
        ),
        (
            "file:///tmp/a.json?format=json",
            OutputSpec::File {
                path: "/tmp/a.json".into(),
                format: Format::Json,
            },
        ),
    ];
    let relp = |tls| OutputSpec::Relp {
        host: "fwd.example".into(),
        port: 2514,
        tls,
    };
    assert_eq!(
        "relp://fwd.example:2514".parse::<OutputSpec>().unwrap(),
        relp(false)
    );
    assert_eq!(
        "relp+tls://fwd.example:2514".parse::<OutputSpec>().unwrap(),
        relp(true)
    );
    assert_eq!(relp(true).name(), "relptls-fwd.example-2514");
    for (url, want) in ok {
        assert_eq!(url.parse::<OutputSpec>().unwrap(), want, "{url}");
    }
    for bad in [
        "",
        "udp://",
        "udp://h",
        "udp://h:0",
        "udp://h:99999",
        "http://h:1",
        "relp+udp://h:1",
        "file://rel",
        "file:///x?fmt=a",
        "tcp://:5",
        "[::1]:5",
    ] {
        assert!(bad.parse::<OutputSpec>().is_err(), "{bad}");
    }
    assert_eq!(
        "tls://[2001:db8::1]:6514"
            .parse::<OutputSpec>()
            .unwrap()
            .name(),
        "tls-2001_db8__1-6514"
    );
}

#[test]
fn options_from_toml_with_defaults_and_errors() {
    let table: toml::Table = toml::from_str(
        "facility = \"local0\"\nframing = \"octet-counting\"\naggregate_window = \"5m\"\nreconnect_max = 2\nspool_dir = \"/var/lib/c2tap\"",
    )
    .unwrap();
    let opts = OutputOptions::from_table(table).unwrap();
    assert_eq!(opts.facility, Facility::Local0);
    assert_eq!(opts.framing, Framing::OctetCounting);
    assert_eq!(opts.aggregate_window, Duration::from_secs(300));
    assert_eq!(opts.reconnect_max, Duration::from_secs(2));
    assert_eq!(opts.max_record_bytes, 2048);
    let unknown: toml::Table = toml::from_str("facilty = \"local0\"").unwrap();
    assert!(OutputOptions::from_table(unknown)
        .unwrap_err()
        .to_string()
        .contains("facilty"));
    let small: toml::Table = toml::from_str("max_record_bytes = 100\ntls_cert = \"/c\"").unwrap();
    let err = OutputOptions::from_table(small).unwrap_err().to_string();
    assert!(
        err.contains("max_record_bytes") && err.contains("tls_key"),
        "{err}"
    );
}

#[test]
fn durations_and_sizes_take_the_settings_grammar() {
    let opts = |text: &str| toml::from_str::<toml::Table>(text).map(OutputOptions::from_table);
    let o = opts("aggregate_window = \"250ms\"\nstall_timeout = \"1d\"\nreconnect_max = 7")
        .unwrap()
        .unwrap();
    assert_eq!(o.aggregate_window, Duration::from_millis(250));
    assert_eq!(o.stall_timeout, Duration::from_secs(86_400));
    assert_eq!(o.reconnect_max, Duration::from_secs(7));
    let o = opts("reconnect_max = \"7\"\naggregate_window = \"0s\"")
        .unwrap()
        .unwrap();
    assert_eq!(o.reconnect_max, Duration::from_secs(7));
    assert_eq!(o.aggregate_window, Duration::ZERO);
    assert!(opts("reconnect_max = \"ms\"").unwrap().is_err());
    let o = opts(
        "max_record_bytes = \"4KiB\"\nspool_max_bytes = \"1GiB\"\nresend_window_bytes = \"16MiB\"",
    )
    .unwrap()
    .unwrap();
    assert_eq!(o.max_record_bytes, 4096);
    assert_eq!(o.spool_max_bytes, 1 << 30);
    assert_eq!(o.resend_window_bytes, 16 << 20);
    let o = opts("max_record_bytes = 4096\nspool_max_bytes = 1073741824")
        .unwrap()
        .unwrap();
    assert_eq!((o.max_record_bytes, o.spool_max_bytes), (4096, 1 << 30));
}
