//! IOC loading for the one-shot subcommands (`replay`, `iocs`, `kql`): the feed files with the
//! command line's filters, each broad-IOC warning on stderr; and the `iocs` and `kql` reports.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::ioc::{self, FeedSource, Filters, Loaded};

/// Loads `feeds` (file paths or `builtin`) through `filters`, judged against today's date.
pub fn load(feeds: &[String], filters: &Filters) -> Result<Loaded> {
    let sources: Vec<FeedSource> = feeds.iter().map(|s| FeedSource::parse(s)).collect();
    let loaded = ioc::load(&sources, filters, crate::time::wall_secs())?;
    let mut err = io::stderr().lock();
    for warning in loaded
        .stats
        .files
        .iter()
        .filter_map(ioc::FileStats::broad_warning)
    {
        let _ = writeln!(err, "c2tap: {warning}");
    }
    Ok(loaded)
}

/// `c2tap iocs`: the effective set and its load statistics, as a table or JSON.
pub fn report(loaded: &Loaded, json: bool, out: &mut dyn Write) -> Result<()> {
    ioc::write_report(out, loaded, json)?;
    out.flush()?;
    Ok(())
}

/// `c2tap kql`: hunting queries over the set inline, or, with `watchlist`, the set as a
/// Sentinel watchlist CSV in that file and hunts that read it under `alias`.
pub fn kql(
    loaded: &Loaded,
    watchlist: Option<&Path>,
    alias: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let Some(path) = watchlist else {
        if loaded.set.len() > ioc::WATCHLIST_ABOVE {
            let _ = writeln!(
                io::stderr(),
                "warning: {} IOCs make long queries (an analytics rule takes 10,000 characters); \
                 `c2tap kql --watchlist FILE` writes a Sentinel watchlist and hunts that read it",
                loaded.set.len()
            );
        }
        ioc::write_kql(out, &loaded.set)?;
        out.flush()?;
        return Ok(());
    };
    if alias.is_empty()
        || !alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("--watchlist-alias {alias:?}: use letters, digits, '_' and '-'");
    }
    let file = std::fs::File::create(path)
        .with_context(|| format!("cannot write the watchlist {}", path.display()))?;
    let mut csv = io::BufWriter::new(file);
    ioc::write_watchlist_csv(&mut csv, &loaded.set)
        .and_then(|()| csv.flush())
        .with_context(|| format!("cannot write the watchlist {}", path.display()))?;
    ioc::write_kql_watchlist(out, &loaded.set, alias)?;
    out.flush()?;
    Ok(())
}
