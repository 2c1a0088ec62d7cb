//! The size budget of a CEF record: which free-text fields give way, in which order, and by
//! how much, so a record fits a receiver's limit without an escape sequence being split.

use super::escape::{escaped_char_len, escaped_len};
use crate::record::{Record, SensorContext};

/// Free-text fields that may be shortened, in the order they give way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cut {
    Cs1,
    Cs2,
    Cs3,
    Cs4,
    Cs5,
    /// `request` (a URL from the wire) and `c2tapDnsAnswers` of name IOC records.
    Request,
    Answers,
    NameMalware,
    Interface,
    Host,
}

const CUTS: [Cut; 10] = [
    Cut::Cs1,
    Cut::Cs2,
    Cut::Cs3,
    Cut::Cs4,
    Cut::Cs5,
    Cut::Request,
    Cut::Answers,
    Cut::NameMalware,
    Cut::Interface,
    Cut::Host,
];
/// `CUTS[..FIRST_TIER]` are the custom strings and name facts, shortened before anything else.
const FIRST_TIER: usize = 7;

impl Cut {
    pub(super) fn text<'a>(self, rec: &'a Record, ctx: &'a SensorContext) -> &'a str {
        let flow = match rec {
            Record::Flow(flow) => flow,
            Record::Health(_) => return if self == Cut::Host { &ctx.hostname } else { "" },
        };
        match self {
            Cut::Cs1 => &flow.ioc.value,
            Cut::Cs2 | Cut::NameMalware => &flow.ioc.malware,
            Cut::Cs3 => &flow.ioc.threat_type,
            Cut::Cs4 => &flow.ioc.source,
            Cut::Cs5 => flow.ioc.reference.as_deref().unwrap_or(""),
            Cut::Request => flow
                .name
                .as_ref()
                .and_then(|n| n.url.as_deref())
                .unwrap_or(""),
            Cut::Answers => flow
                .name
                .as_ref()
                .and_then(|n| n.answers.as_deref())
                .unwrap_or(""),
            Cut::Interface => &flow.interface,
            Cut::Host => &ctx.hostname,
        }
    }

    fn in_header(self) -> bool {
        self == Cut::NameMalware
    }
}

/// Byte caps (on the unescaped text) per shortenable field; `usize::MAX` = whole value.
#[derive(Clone, Copy, Debug)]
pub(super) struct Caps([usize; CUTS.len()]);

impl Default for Caps {
    fn default() -> Self {
        Caps([usize::MAX; CUTS.len()])
    }
}

impl Caps {
    pub(super) fn get(&self, cut: Cut) -> usize {
        self.0.get(cut as usize).copied().unwrap_or(usize::MAX)
    }

    pub(super) fn capped<'a>(&self, cut: Cut, text: &'a str) -> &'a str {
        prefix(text, self.get(cut))
    }

    /// The longest non-empty field of the first tier that has one, else of the second.
    pub(super) fn longest(&self, rec: &Record, ctx: &SensorContext) -> Option<Cut> {
        let size = |cut: Cut| escaped_len(self.capped(cut, cut.text(rec, ctx)), cut.in_header());
        let pick = |cuts: &[Cut]| {
            cuts.iter()
                .copied()
                .filter(|&c| size(c) > 0)
                .max_by_key(|&c| (size(c), usize::MAX - c as usize))
        };
        pick(CUTS.get(..FIRST_TIER)?).or_else(|| pick(CUTS.get(FIRST_TIER..)?))
    }

    /// Lowers `cut`'s cap so its escaped text shrinks by at least `excess` bytes (or to empty).
    pub(super) fn shorten(&mut self, cut: Cut, rec: &Record, ctx: &SensorContext, excess: usize) {
        let text = self.capped(cut, cut.text(rec, ctx));
        let header = cut.in_header();
        let target = escaped_len(text, header).saturating_sub(excess);
        let mut kept = 0;
        let mut end = 0;
        for (i, c) in text.char_indices() {
            kept += escaped_char_len(c, header);
            if kept > target {
                break;
            }
            end = i + c.len_utf8();
        }
        if let Some(slot) = self.0.get_mut(cut as usize) {
            *slot = end;
        }
    }
}

/// The first `max` bytes of `text`, backed off to a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if max >= text.len() {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
