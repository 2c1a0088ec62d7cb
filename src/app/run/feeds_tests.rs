use super::*;

fn set() -> Arc<Loaded> {
    Arc::new(Loaded {
        set: IocSet::default(),
        stats: Default::default(),
    })
}

#[test]
fn a_fetched_reload_names_the_sources_whose_set_moved() {
    let (a, b, b2) = (set(), set(), set());
    let before = vec![("abuse".to_string(), a.clone()), ("fox".to_string(), b)];
    let after = vec![("abuse".to_string(), a), ("fox".to_string(), b2.clone())];
    assert_eq!(
        fetched_cause(&before, &after),
        "a fetched feed changed (fox)"
    );
    let gone = vec![("fox".to_string(), b2)];
    assert_eq!(
        fetched_cause(&after, &gone),
        "a fetched feed changed (abuse)"
    );
    assert_eq!(fetched_cause(&gone, &gone), "a fetched feed changed");
}
