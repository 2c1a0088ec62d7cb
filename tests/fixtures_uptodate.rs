//! The committed `pcaps/` are exactly what the generator writes: every fixture has a source and
//! a reason, and nobody edits a capture by hand. Regenerate with
//! `cargo run -p c2tap-pcapgen -- fixtures --out pcaps/`.

use std::fs;
use std::path::Path;

fn committed_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            committed_files(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

#[test]
fn committed_fixtures_match_the_generator() {
    let fresh = tempfile::tempdir().unwrap();
    let infos = c2tap_pcapgen::write_fixtures(fresh.path()).unwrap();
    let expected = c2tap_pcapgen::file_names(&infos);
    let committed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut committed = Vec::new();
    committed_files(&committed_dir, "", &mut committed);
    committed.sort();
    assert_eq!(
        committed, expected,
        "pcaps/ holds exactly the generated files"
    );
    for name in &expected {
        let want = fs::read(fresh.path().join(name)).unwrap();
        let have = fs::read(committed_dir.join(name)).unwrap();
        assert!(
            want == have,
            "pcaps/{name} differs from the generator's output; regenerate it"
        );
    }
}

#[test]
fn every_fixture_says_why_it_exists() {
    for fixture in c2tap_pcapgen::all_fixtures().unwrap() {
        let info = fixture.info;
        assert!(!info.reason.is_empty(), "{:?} has no reason", info.files);
        assert_eq!(info.files.len(), fixture.contents.len());
        for bytes in &fixture.contents {
            assert!(bytes.len() < 50 * 1024, "{:?} is over 50 KB", info.files);
        }
    }
}
