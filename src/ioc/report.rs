//! `c2tap iocs`: the effective set — normalized, de-duplicated, merged — and the load
//! statistics, as an aligned table for people or JSON for tools. Feed text is untrusted, so the
//! table replaces control characters (no terminal escapes from a hostile feed reach the screen).

use std::io::{self, Write};

use serde::Serialize;

use super::reject::RejectReason;
use super::stats::{FileStats, LoadStats};
use super::{Ioc, Loaded, NameKind};

/// Widest a table cell gets; longer text is cut with `…`.
const MAX_CELL_CHARS: usize = 48;

/// Writes the set and its statistics; `json` selects machine-readable output.
pub fn write_report(out: &mut dyn Write, loaded: &Loaded, json: bool) -> io::Result<()> {
    if json {
        #[derive(Serialize)]
        struct Name<'a> {
            kind: NameKind,
            /// The normalised lookup key.
            name: &'a str,
            #[serde(flatten)]
            ioc: &'a Ioc,
        }
        #[derive(Serialize)]
        struct Report<'a> {
            iocs: Vec<&'a Ioc>,
            names: Vec<Name<'a>>,
            stats: &'a LoadStats,
        }
        let names = loaded.set.names().iter().map(|n| Name {
            kind: n.kind,
            name: &n.name,
            ioc: &n.ioc,
        });
        let report = Report {
            iocs: loaded.set.iter().map(|i| &**i).collect(),
            names: names.collect(),
            stats: &loaded.stats,
        };
        serde_json::to_writer_pretty(&mut *out, &report).map_err(io::Error::other)?;
        return writeln!(out);
    }
    let rows = loaded.set.iter().map(|i| ([i.value.clone()], &**i));
    write_ioc_table::<1, 7>(out, ["IOC"], rows)?;
    writeln!(out, "{} IOCs\n", loaded.set.len())?;
    write_names(out, loaded)?;

    let stats: Vec<[String; 8]> = loaded.stats.files.iter().map(file_row).collect();
    let header = [
        "FEED",
        "FORMAT",
        "ROWS",
        "LOADED",
        "DUPLICATES",
        "OTHER TYPES",
        "FILTERED",
        "REJECTED",
    ];
    write_table(out, header, &stats)?;
    for file in &loaded.stats.files {
        write_file_details(out, file)?;
    }
    for warning in loaded
        .stats
        .files
        .iter()
        .filter_map(FileStats::broad_warning)
    {
        writeln!(out, "{}", clean(&warning))?;
    }
    Ok(())
}

/// The name IOCs and their counts by kind; nothing when no feed carries names, so the report
/// of an address-only load reads as before.
fn write_names(out: &mut dyn Write, loaded: &Loaded) -> io::Result<()> {
    let names = loaded.set.names();
    if names.is_empty() {
        return Ok(());
    }
    let rows = names
        .iter()
        .map(|n| ([n.ioc.value.clone(), n.kind.label().to_string()], &*n.ioc));
    write_ioc_table::<2, 8>(out, ["NAME", "KIND"], rows)?;
    let counts = &loaded.stats.names;
    writeln!(
        out,
        "{} name IOCs: {} domain, {} suffix, {} url\n",
        names.len(),
        counts.domain,
        counts.suffix,
        counts.url
    )
}

/// The columns every IOC has, after a table's leading columns (the value; for names, the kind).
const METADATA_HEADER: [&str; 6] = [
    "MALWARE",
    "THREAT TYPE",
    "CONF",
    "FIRST SEEN",
    "LAST SEEN",
    "SOURCE",
];

fn metadata_cells(i: &Ioc) -> [String; 6] {
    [
        i.malware.clone(),
        i.threat_type.clone(),
        i.confidence.map(|c| c.to_string()).unwrap_or_default(),
        i.first_seen.map(|t| t.to_string()).unwrap_or_default(),
        i.last_seen.map(|t| t.to_string()).unwrap_or_default(),
        i.source.clone(),
    ]
}

/// One IOC table (addresses, names): `L` leading columns, then the metadata columns. `N` is
/// `L + 6`; a mismatch would show as missing or empty columns, so the callers' tests pin it.
fn write_ioc_table<'a, const L: usize, const N: usize>(
    out: &mut dyn Write,
    lead: [&str; L],
    rows: impl Iterator<Item = ([String; L], &'a Ioc)>,
) -> io::Result<()> {
    let mut header = lead.into_iter().chain(METADATA_HEADER);
    let header: [&str; N] = std::array::from_fn(|_| header.next().unwrap_or_default());
    let rows: Vec<[String; N]> = rows
        .map(|(lead, ioc)| {
            let mut cells = lead.into_iter().chain(metadata_cells(ioc));
            std::array::from_fn(|_| cells.next().unwrap_or_default())
        })
        .collect();
    write_table(out, header, &rows)
}

fn file_row(f: &FileStats) -> [String; 8] {
    let format = match &f.archive_entry {
        Some(entry) => format!("{} (zip: {entry})", f.format.label()),
        None => f.format.label().to_string(),
    };
    [
        f.file.clone(),
        format,
        f.rows.to_string(),
        f.loaded.to_string(),
        f.duplicates.to_string(),
        f.other_types.to_string(),
        f.filtered.total().to_string(),
        f.rejected.total().to_string(),
    ]
}

fn write_file_details(out: &mut dyn Write, f: &FileStats) -> io::Result<()> {
    let filtered = [
        ("low_confidence", f.filtered.low_confidence),
        ("stale", f.filtered.stale),
        ("malware", f.filtered.malware),
    ];
    let filtered: Vec<String> = filtered
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    if !filtered.is_empty() {
        writeln!(out, "{}: filtered: {}", clean(&f.file), filtered.join(", "))?;
    }
    let rejected: Vec<String> = RejectReason::ALL
        .iter()
        .filter(|r| f.rejected.get(**r) > 0)
        .map(|r| format!("{r} {}", f.rejected.get(*r)))
        .collect();
    if !rejected.is_empty() {
        writeln!(out, "{}: rejected: {}", clean(&f.file), rejected.join(", "))?;
    }
    for d in &f.reject_details {
        writeln!(
            out,
            "  {}:{}: {}: {}",
            clean(&d.file),
            d.at,
            d.reason,
            clean(&d.text)
        )?;
    }
    let listed = f.reject_details.len() as u64;
    if f.rejected.total() > listed {
        writeln!(
            out,
            "  … {} more rejected rows not listed",
            f.rejected.total() - listed
        )?;
    }
    Ok(())
}

fn write_table<const N: usize>(
    out: &mut dyn Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.map(|h| h.chars().count());
    let cells: Vec<[String; N]> = rows.iter().map(|r| r.clone().map(|c| cell(&c))).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: [&str; N]| -> io::Result<()> {
        let mut text = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            let pad = if i + 1 == N {
                0
            } else {
                w - c.chars().count() + 2
            };
            text.push_str(c);
            text.extend(std::iter::repeat_n(' ', pad));
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, header)?;
    for row in &cells {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn cell(text: &str) -> String {
    let text = match text.is_empty() {
        true => "-",
        false => text,
    };
    let mut cut: String = clean(text).chars().take(MAX_CELL_CHARS).collect();
    if text.chars().count() > MAX_CELL_CHARS {
        cut.pop();
        cut.push('…');
    }
    cut
}

fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::{load, FeedSource, Filters};

    fn report(json: bool) -> String {
        let loaded =
            load(&[FeedSource::Builtin], &Filters::default(), 0).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        assert!(write_report(&mut out, &loaded, json).is_ok());
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn table_lists_the_builtin_set_and_its_stats() {
        let want = "\
IOC                MALWARE  THREAT TYPE  CONF  FIRST SEEN  LAST SEEN  SOURCE
138.9.223.13:8015  Remcos   botnet_cc    75    2026-05-09  -          ThreatFox
138.9.41.254:8015  Remcos   botnet_cc    75    2026-05-09  -          ThreatFox
2 IOCs

FEED     FORMAT   ROWS  LOADED  DUPLICATES  OTHER TYPES  FILTERED  REJECTED
builtin  builtin  2     2       0           0            0         0
";
        assert_eq!(report(false), want);
    }

    #[test]
    fn json_carries_iocs_and_stats() {
        let value: serde_json::Value = serde_json::from_str(&report(true)).unwrap_or_default();
        assert_eq!(value["iocs"][1]["value"], "138.9.41.254:8015");
        assert_eq!(value["iocs"][1]["first_seen"], "2026-05-09");
        assert_eq!(value["stats"]["files"][0]["format"], "builtin");
        assert_eq!(value["stats"]["files"][0]["loaded"], 2);
        assert_eq!(value["stats"]["iocs"], 2);
    }

    #[test]
    fn cells_are_cleaned_and_cut() {
        assert_eq!(cell("a\u{1b}[31mb"), "a?[31mb");
        assert_eq!(cell(""), "-");
        assert_eq!(cell(&"x".repeat(60)).chars().count(), MAX_CELL_CHARS);
    }

    #[test]
    fn names_get_their_own_table_with_counts_by_kind() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("names.txt");
        let feed = "evil.duckdns.org\n*.c2zone.example\nhxxp://evil[.]example/gate.php\n";
        std::fs::write(&path, feed).unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&[FeedSource::File(path)], &Filters::default(), 0)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        assert!(write_report(&mut out, &loaded, false).is_ok());
        let text = String::from_utf8(out).unwrap_or_default();
        let want = "\
NAME                          KIND    MALWARE  THREAT TYPE  CONF  FIRST SEEN  LAST SEEN  SOURCE
evil.duckdns.org              domain  -        -            -     -           -          names.txt
*.c2zone.example              suffix  -        -            -     -           -          names.txt
http://evil.example/gate.php  url     -        -            -     -           -          names.txt
3 name IOCs: 1 domain, 1 suffix, 1 url
";
        assert!(text.contains(want), "{text}");
        let mut out = Vec::new();
        assert!(write_report(&mut out, &loaded, true).is_ok());
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(value["names"][1]["kind"], "suffix");
        assert_eq!(value["names"][1]["name"], "c2zone.example");
        assert_eq!(value["names"][1]["value"], "*.c2zone.example");
        assert_eq!(value["stats"]["names"]["url"], 1);
    }
}
