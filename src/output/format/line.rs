//! Line output: CEF or JSON lines to any `Write` (stdout for `c2tap replay`, tests). Blocking
//! and deterministic by design — replay output is compared byte for byte — so it is never used
//! on the live capture path, where the dispatcher's queues are.

use std::io::{self, Write};

use serde::Deserialize;

use crate::exclude::severity::{self, SeverityTable, SharedSeverity};
use crate::output::format::{cef, json};
use crate::record::{Record, RecordSink, SensorContext};

/// Record text format of a line output or file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Cef,
    Json,
}

impl Format {
    /// Appends `rec` in this format (no newline), rated by `severity`.
    pub fn write(
        self,
        buf: &mut Vec<u8>,
        rec: &Record,
        ctx: &SensorContext,
        severity: &SeverityTable,
    ) {
        match self {
            Format::Cef => cef::write_cef(buf, rec, ctx, severity),
            Format::Json => json::write_json(buf, rec, ctx, severity),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "cef" => Ok(Format::Cef),
            "json" => Ok(Format::Json),
            other => Err(format!("unknown format {other:?} (cef or json)")),
        }
    }
}

/// Writes one line per record through a `BufWriter` with one reused formatting buffer.
/// `emit` cannot return an error (the sink trait is infallible for the packet path), so the
/// first write error is kept, later records are skipped, and [`LineWriter::flush`] reports it.
pub struct LineWriter<W: Write> {
    out: io::BufWriter<W>,
    format: Format,
    ctx: SensorContext,
    severity: SharedSeverity,
    buf: Vec<u8>,
    error: Option<io::Error>,
    lines: u64,
}

impl<W: Write> LineWriter<W> {
    /// A writer rated by the default severity table.
    pub fn new(out: W, format: Format, ctx: SensorContext) -> LineWriter<W> {
        LineWriter::with_severity(out, format, ctx, severity::shared(SeverityTable::default()))
    }

    /// A writer rated by the table in `severity` as it is when each record is written.
    pub fn with_severity(
        out: W,
        format: Format,
        ctx: SensorContext,
        severity: SharedSeverity,
    ) -> LineWriter<W> {
        LineWriter {
            out: io::BufWriter::new(out),
            format,
            ctx,
            severity,
            buf: Vec::with_capacity(2048),
            error: None,
            lines: 0,
        }
    }

    /// Flushes and returns the first write error since the writer was made, if any.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        self.out.flush()
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

impl<W: Write> RecordSink for LineWriter<W> {
    fn emit(&mut self, record: Record) {
        if self.error.is_some() {
            return;
        }
        self.buf.clear();
        let severity = self.severity.load();
        self.format
            .write(&mut self.buf, &record, &self.ctx, &severity);
        self.buf.push(b'\n');
        match self.out.write_all(&self.buf) {
            Ok(()) => self.lines += 1,
            Err(err) => self.error = Some(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::format::examples::{ctx, flow_record, health_record};

    #[test]
    fn writes_one_line_per_record() {
        let mut out = Vec::new();
        let mut w = LineWriter::new(&mut out, Format::Cef, ctx());
        w.emit(flow_record());
        w.emit(health_record());
        w.flush().unwrap();
        assert_eq!(w.lines(), 2);
        drop(w);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("CEF:0|c2tap|c2tap|"));
        assert!(lines[1].contains("|1004|c2tap sensor health|1|"));
    }

    #[test]
    fn keeps_the_first_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = LineWriter::new(Full, Format::Json, ctx());
        for _ in 0..1000 {
            w.emit(flow_record());
        }
        assert_eq!(w.flush().unwrap_err().to_string(), "disk full");
    }
}
