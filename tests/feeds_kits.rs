//! The shipped kits for fetched feeds: the Prometheus rule `C2tapFetchedFeedStale` fires for a
//! source with no success for more than twice its interval and for one that never succeeded,
//! not for a fresh one (promtool unit test); the Sentinel "feeds stale" query is checked with
//! the other shipped queries in tests/sentinel_kql.rs.

#[path = "support/require.rs"]
mod require;

use std::path::Path;
use std::process::Command;

const PROMTOOL: &str = "/usr/bin/promtool";

const RULE_TESTS: &str = r#"
rule_files: ["RULES"]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'c2tap_feed_interval_seconds{instance="s1",source="fresh"}'
        values: '300x30'
      - series: 'c2tap_feed_last_success_timestamp_seconds{instance="s1",source="fresh"}'
        values: '0+60x30'
      - series: 'c2tap_feed_interval_seconds{instance="s1",source="stale"}'
        values: '300x30'
      - series: 'c2tap_feed_last_success_timestamp_seconds{instance="s1",source="stale"}'
        values: '0x30'
      - series: 'c2tap_feed_interval_seconds{instance="s1",source="never"}'
        values: '300x30'
    alert_rule_test:
      - eval_time: 8m
        alertname: C2tapFetchedFeedStale
        exp_alerts:
          - exp_labels: {instance: s1, source: never, severity: warning}
            exp_annotations:
              summary: "c2tap feed never on s1 is stale"
              description: "No successful fetch of never for more than twice its interval; see c2tap_feed_fetch_failures_total for why and `c2tap feeds status` on the sensor."
      - eval_time: 20m
        alertname: C2tapFetchedFeedStale
        exp_alerts:
          - exp_labels: {instance: s1, source: never, severity: warning}
            exp_annotations:
              summary: "c2tap feed never on s1 is stale"
              description: "No successful fetch of never for more than twice its interval; see c2tap_feed_fetch_failures_total for why and `c2tap feeds status` on the sensor."
          - exp_labels: {instance: s1, source: stale, severity: warning}
            exp_annotations:
              summary: "c2tap feed stale on s1 is stale"
              description: "No successful fetch of stale for more than twice its interval; see c2tap_feed_fetch_failures_total for why and `c2tap feeds status` on the sensor."
"#;

#[test]
fn the_feed_stale_rule_fires_for_stale_and_never_fetched_sources_only() {
    require::require(
        Path::new(PROMTOOL).exists(),
        "promtool (Debian package prometheus)",
    );
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prometheus/c2tap.rules.yml");
    let dir = tempfile::tempdir().unwrap();
    let tests = dir.path().join("feeds_rules_test.yml");
    std::fs::write(
        &tests,
        RULE_TESTS.replace("RULES", &rules.display().to_string()),
    )
    .unwrap();
    let out = Command::new(PROMTOOL)
        .args(["test", "rules"])
        .arg(&tests)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
