use super::*;

fn rule(domain: toml::Value) -> Result<Rule, Vec<Problem>> {
    let raw = RawRule {
        name: Some("cdn".into()),
        reason: Some("our CDN".into()),
        domain: Some(domain),
        ..RawRule::default()
    };
    let mut problems = Vec::new();
    compile(&raw, 0, Disposal::Drop, &mut problems).ok_or(problems)
}

#[test]
fn domain_entries_are_exact_or_suffix_and_normalised() {
    let list = toml::Value::Array(vec![
        "Updates.Example.com.".into(),
        "*.cdn.example".into(),
        "bücher.example".into(),
    ]);
    let r = rule(list).unwrap_or_else(|p| panic!("{p:?}"));
    assert!(r.has_criterion());
    assert_eq!(
        r.domains,
        [
            Domain::Exact("updates.example.com".into()),
            Domain::Suffix("cdn.example".into()),
            Domain::Exact("xn--bcher-kva.example".into()),
        ]
    );
    assert!(r.matches_host("updates.example.com"));
    assert!(r.matches_host("UPDATES.example.com."));
    assert!(!r.matches_host("x.updates.example.com"));
    assert!(r.matches_host("cdn.example"));
    assert!(r.matches_host("a.b.cdn.example"));
    assert!(!r.matches_host("evilcdn.example"));
    assert!(!r.matches_host("example"));
    assert!(r.matches_host("xn--bcher-kva.example"));
}

#[test]
fn bad_domains_are_problems_with_their_key() {
    let problems = rule(toml::Value::Array(vec!["ok.example".into(), "a..b".into()]))
        .err()
        .unwrap_or_default();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "exclude[0].domain[1]");
    assert!(problems[0].message.contains("empty label"), "{problems:?}");
    let problems = rule(toml::Value::Integer(3)).err().unwrap_or_default();
    assert_eq!(problems[0].key, "exclude[0].domain[0]");
    assert!(rule(toml::Value::Array(vec![])).is_err());
}
