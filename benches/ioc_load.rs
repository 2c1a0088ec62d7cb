//! Name IOC load time, end to end through the loader the sensor uses (`ioc::load`: read, detect,
//! parse, refang, normalise, merge, build): 2 and 1,000,000 domain IOCs from a plain list and
//! from a ThreatFox CSV export. Each case runs `C2TAP_LOAD_RUNS` times (default 5) and prints
//! every run, the median and the worst, with the load average at the start, because the worst
//! run on a shared machine is what a reload costs.
//! Run with `cargo bench --bench ioc_load` (one format: `cargo bench --bench ioc_load -- csv`).

use std::path::Path;
use std::time::Instant;

use c2tap::ioc::{self, FeedSource, Filters};

/// The reference time of the filters (2026-05-10), so generated dates are never stale.
const NOW: u64 = 1_778_371_200;

/// A deterministic xorshift so runs compare.
fn random_u32s(mut state: u32, n: usize) -> impl Iterator<Item = u32> {
    (0..n).map(move |_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    })
}

/// `n` distinct C2-like names (mixed case, as feeds sometimes write them).
fn names(n: usize) -> impl Iterator<Item = String> {
    random_u32s(0x0ddc_0ffe, n)
        .enumerate()
        .map(|(i, r)| format!("c2-{i}-{r:08x}.Dyn{}.example.net", r % 97))
}

fn plain_list(n: usize) -> String {
    let mut text = String::from("# malware: Remcos\n");
    for name in names(n) {
        text.push_str(&name);
        text.push('\n');
    }
    text
}

/// The 15-column ThreatFox export shape, every row a `domain`.
fn threatfox_csv(n: usize) -> String {
    let mut text = String::from(
        "# ThreatFox IOCs: generated\n# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\
         \"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\
         \"confidence_level\",\"is_compromised\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n",
    );
    for (i, name) in names(n).enumerate() {
        text.push_str(&format!(
            "\"2026-05-{:02} 10:00:00\", \"{i}\", \"{name}\", \"domain\", \"botnet_cc\", \
             \"win.remcos\", \"None\", \"Remcos\", \"\", \"{}\", \"False\", \"None\", \"None\", \
             \"0\", \"abuse_ch\"\n",
            1 + i % 9,
            [50, 75, 100][i % 3],
        ));
    }
    text
}

/// Writes a feed of `n` names.
type Generator = fn(usize) -> String;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Times `runs` loads of `path` (until the set is ready; its teardown is not loading).
fn time_loads(label: &str, path: &Path, expect: usize, runs: usize) {
    let sources = [FeedSource::File(path.to_path_buf())];
    let load_avg = load_average();
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let loaded = ioc::load(&sources, &Filters::default(), NOW);
        secs.push(start.elapsed().as_secs_f64());
        let count = loaded.as_ref().map(|l| l.set.names().len()).unwrap_or(0);
        assert_eq!(count, expect, "{label}: {:?}", loaded.err());
        drop(loaded);
    }
    let each: Vec<String> = secs.iter().map(|s| format!("{s:.4}")).collect();
    secs.sort_by(f64::total_cmp);
    println!(
        "load {label}: median {:.4} s, worst {:.4} s (runs: {} s; load average {load_avg})",
        secs[secs.len() / 2],
        secs[secs.len() - 1],
        each.join(" "),
    );
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs = std::env::var("C2TAP_LOAD_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let formats: [(&str, &str, Generator); 2] = [
        ("plain", "names.txt", plain_list),
        ("csv", "threatfox.csv", threatfox_csv),
    ];
    for (format, file, generate) in formats {
        for n in [2usize, 1_000_000] {
            let label = format!("{format} {n} names");
            if !filter.is_empty() && !filter.iter().any(|f| label.contains(f.as_str())) {
                continue;
            }
            let path = dir.path().join(format!("{n}-{file}"));
            std::fs::write(&path, generate(n)).expect("write feed");
            time_loads(&label, &path, n, runs);
        }
    }
}
