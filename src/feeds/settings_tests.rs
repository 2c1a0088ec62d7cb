use super::*;

fn units() -> Units {
    Units {
        duration: |t| match t.strip_suffix('h') {
            Some(h) => h
                .parse::<u64>()
                .map(|h| Duration::from_secs(h * 3600))
                .map_err(|e| e.to_string()),
            None => t
                .strip_suffix('s')
                .and_then(|s| s.parse().ok())
                .map(Duration::from_secs)
                .ok_or_else(|| format!("bad duration `{t}`")),
        },
        size: |t| t.parse().map_err(|_| format!("bad size `{t}`")),
    }
}

fn check(raw: &[RawSource]) -> (FetchSettings, Vec<String>) {
    let mut problems = Vec::new();
    let s = validate(raw, Some("/tmp/x"), &units(), &mut |k, m| {
        problems.push(format!("{k}: {m}"))
    });
    (s, problems)
}

#[test]
fn every_problem_is_named_with_its_key() {
    let raw = [
        RawSource {
            name: "bad name".into(),
            kind: "ftp".into(),
            ..RawSource::default()
        },
        RawSource {
            name: "tf".into(),
            kind: "threatfox-api".into(),
            auth_key_file: Some("/nonexistent/key".into()),
            interval: Some("2s".into()),
            ..RawSource::default()
        },
        RawSource {
            name: "tf".into(),
            kind: "https".into(),
            url: Some("http://example.com/feed".into()),
            max_shrink: Some(1.5),
            min_confidence: Some(101),
            ..RawSource::default()
        },
        RawSource {
            name: "tx".into(),
            kind: "taxii21".into(),
            url: Some("https://cti.example/taxii2/".into()),
            username_file: Some("/etc/hostname".into()),
            ..RawSource::default()
        },
    ];
    let (_, problems) = check(&raw);
    let joined = problems.join("\n");
    for expected in [
        "iocs.source[0].name: must be",
        "iocs.source[0].kind: `ftp` is not one of",
        "iocs.source[1].auth_key_file: cannot read `/nonexistent/key`",
        "iocs.source[1].interval: must be at least 5s",
        "iocs.source[2].name: `tf` is used by an earlier source",
        "iocs.source[2].url: `http://example.com/feed` is not an https:// URL",
        "iocs.source[2].max_shrink",
        "iocs.source[2].min_confidence",
        "iocs.source[3].collection",
        "iocs.source[3].username_file: give username_file and password_file",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in\n{joined}"
        );
    }
}

#[test]
fn defaults_and_incremental_threatfox() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "k").unwrap();
    let raw = [RawSource {
        name: "tf".into(),
        kind: "threatfox-api".into(),
        auth_key_file: Some(key.display().to_string()),
        ..RawSource::default()
    }];
    let (s, problems) = check(&raw);
    assert!(problems.is_empty(), "{problems:?}");
    let src = &s.sources[0];
    assert_eq!(src.interval, Duration::from_secs(3600));
    assert_eq!(src.max_shrink_permille, 500);
    assert!(src.kind.incremental());
    assert_eq!(src.kind.url(), THREATFOX_API);
    assert_eq!(s.state_dir, PathBuf::from("/tmp/x"));
}
