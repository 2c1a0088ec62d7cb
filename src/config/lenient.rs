//! Stage one, leniently: a section that fails keeps its defaults and yields a problem naming
//! every offending key by its full path, so one run of `check-config` lists them all.

use std::path::Path;

use crate::exclude::RawRule;

use crate::problem::quote_key;

use super::raw::SECTIONS;
use super::{read_text, ConfigError, Problem, RawConfig, Settings};

impl RawConfig {
    /// Reads and parses a file. Syntax and type errors are reported per section.
    pub fn read(path: &Path) -> Result<RawConfig, ConfigError> {
        let text = read_text(path)?;
        RawConfig::parse(&text).map_err(ConfigError::Invalid)
    }

    /// Reads, parses and validates, reporting the problems of both stages together. Checks
    /// of a section that did not parse are left out (they would judge its defaults).
    pub fn check(path: &Path) -> Result<Settings, ConfigError> {
        let (raw, problems) = RawConfig::read_lenient(path)?;
        raw.validate_after(problems)
    }

    /// Reads and parses what it can (see [`RawConfig::parse_lenient`]); `Err` for a file that
    /// cannot be read or trusted, or is not TOML.
    pub fn read_lenient(path: &Path) -> Result<(RawConfig, Vec<Problem>), ConfigError> {
        let text = read_text(path)?;
        RawConfig::parse_lenient(&text).map_err(ConfigError::Invalid)
    }

    /// Validates, reporting `problems` (of parsing) and the validation's own together.
    pub fn validate_after(&self, mut problems: Vec<Problem>) -> Result<Settings, ConfigError> {
        let raw = self;
        let failed: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
        match raw.validate() {
            Ok(settings) if problems.is_empty() => return Ok(settings),
            Ok(_) => {}
            // A key that did not parse keeps its default; judging that default would only
            // confuse, so problems under a failed key are left out.
            Err(e) => problems.extend(e.problems().into_iter().filter(|p| {
                !failed.iter().any(|f| {
                    p.key == *f
                        || p.key
                            .strip_prefix(f.as_str())
                            .is_some_and(|rest| rest.starts_with(['.', '[']))
                })
            })),
        }
        Err(ConfigError::Invalid(problems))
    }

    pub fn parse(text: &str) -> Result<RawConfig, Vec<Problem>> {
        let (raw, problems) = RawConfig::parse_lenient(text)?;
        match problems.is_empty() {
            true => Ok(raw),
            false => Err(problems),
        }
    }

    /// Parses what it can: a section that fails keeps its defaults and yields a problem.
    /// `Err` only for a file that is not TOML at all.
    pub fn parse_lenient(text: &str) -> Result<(RawConfig, Vec<Problem>), Vec<Problem>> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            vec![Problem {
                key: "(syntax)".into(),
                // toml's own text: the line, the column and a caret under the spot.
                message: e.to_string().trim_end().to_string(),
            }]
        })?;
        let mut raw = RawConfig::default();
        let mut problems = Vec::new();
        for (key, value) in table {
            let p = &mut problems;
            match key.as_str() {
                "capture" => section(&key, value, p, &mut raw.capture),
                "iocs" => section(&key, value, p, &mut raw.iocs),
                "flow" => section(&key, value, p, &mut raw.flow),
                "outputs" => section(&key, value, p, &mut raw.outputs),
                "metrics" => section(&key, value, p, &mut raw.metrics),
                "health" => section(&key, value, p, &mut raw.health),
                "logging" => section(&key, value, p, &mut raw.logging),
                "severity" => section(&key, value, p, &mut raw.severity),
                "exclude" => raw.exclude = exclude_rules(value, p),
                "exclude_action" => match value {
                    toml::Value::String(s) => raw.exclude_action = Some(s),
                    _ => problems.push(problem("exclude_action", "must be a string")),
                },
                "user" => match value {
                    toml::Value::String(s) => raw.user = Some(s),
                    _ => problems.push(problem("user", "must be a string")),
                },
                other => problems.push(problem(
                    other,
                    &format!(
                        "unknown key (sections: {}, [[exclude]] rules, and the keys `user`, `exclude_action`)",
                        SECTIONS.join(", ")
                    ),
                )),
            }
        }
        Ok((raw, problems))
    }
}

pub(super) fn problem(key: &str, message: &str) -> Problem {
    Problem {
        key: key.to_string(),
        message: message.to_string(),
    }
}

/// Deserializes one section. When it fails, every offending key is found and reported with
/// its full path (`capture.workers: invalid type: ...`), and the section keeps the keys that
/// did parse, so their own checks still run.
fn section<T: serde::de::DeserializeOwned>(
    name: &str,
    value: toml::Value,
    problems: &mut Vec<Problem>,
    into: &mut T,
) {
    let toml::Value::Table(table) = value else {
        problems.push(problem(name, "must be a table ([section])"));
        return;
    };
    match toml::Value::Table(table.clone()).try_into::<T>() {
        Ok(v) => *into = v,
        Err(e) => {
            let before = problems.len();
            let mut good = table;
            locate::<T>(name, &[], &mut good, problems);
            if problems.len() == before {
                problems.push(problem(name, e.message().trim()));
                return;
            }
            if let Ok(v) = toml::Value::Table(good).try_into::<T>() {
                *into = v;
            }
        }
    }
}

/// Finds the keys of `table` (found at `path` inside the section) that `T` refuses, one by one,
/// reports each with its dotted key, and removes it from `table`. Each key is tried alone
/// (nested inside its parents), the other fields taking their defaults.
fn locate<T: serde::de::DeserializeOwned>(
    section: &str,
    path: &[String],
    table: &mut toml::Table,
    problems: &mut Vec<Problem>,
) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let Some(value) = table.get(&key).cloned() else {
            continue;
        };
        let mut at: Vec<String> = path.to_vec();
        at.push(key.clone());
        let error = match &value {
            // A table: first the key itself (unknown key, or a table where none belongs),
            // then each of its keys.
            toml::Value::Table(inner) => match try_alone::<T>(&at, toml::Table::new().into()) {
                Err(e) => Some(e),
                Ok(()) => {
                    let mut inner = inner.clone();
                    locate::<T>(section, &at, &mut inner, problems);
                    table.insert(key.clone(), toml::Value::Table(inner));
                    None
                }
            },
            _ => try_alone::<T>(&at, value.clone()).err(),
        };
        if let Some(message) = error {
            let dotted: Vec<String> = at.iter().map(|k| quote_key(k)).collect();
            problems.push(problem(
                &format!("{section}.{}", dotted.join(".")),
                &message,
            ));
            table.remove(&key);
        }
    }
}

/// Whether `T` accepts a section holding only `value` at `path`.
fn try_alone<T: serde::de::DeserializeOwned>(
    path: &[String],
    value: toml::Value,
) -> Result<(), String> {
    let mut v = value;
    for key in path.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(key.clone(), v);
        v = toml::Value::Table(t);
    }
    v.try_into::<T>()
        .map(|_| ())
        .map_err(|e| e.message().trim().to_string())
}

/// `[[exclude]]`: each rule parsed on its own, so one bad rule does not hide the others.
fn exclude_rules(value: toml::Value, problems: &mut Vec<Problem>) -> Vec<(usize, RawRule)> {
    let toml::Value::Array(items) = value else {
        problems.push(problem(
            "exclude",
            "must be an array of tables ([[exclude]])",
        ));
        return Vec::new();
    };
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let key = format!("exclude[{i}]");
        if !item.is_table() {
            problems.push(problem(&key, "must be a table ([[exclude]])"));
            continue;
        }
        let before = problems.len();
        let mut rule = RawRule::default();
        section(&key, item, problems, &mut rule);
        if problems.len() == before {
            rules.push((i, rule));
        }
    }
    rules
}
