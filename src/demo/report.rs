//! What a demo returns: values only, so that text, JSON and snapshot tests all draw the same thing.

use serde::Serialize;

use anyhow::Result;

use crate::measure::{Claim, ClaimStatus, Comparison, Measured, Measurement};
use crate::server::TraceReport;
use crate::text::Text;

/// A small table of facts the demo observed (INFO fields, types and encodings, counts).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The table's stable id: its lesson-file message (`renamed` in demo `invalidation`), or absent
    /// for a table whose words are built in code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: Text,
    /// Stable column ids, one per header (`write-path`), when the table has an id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    pub headers: Vec<Text>,
    pub rows: Vec<Vec<Text>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    /// A fact worth a line.
    Info,
    /// A cost we simulate (a sleeping "upstream"): always labelled as such on screen.
    Simulated,
    /// Something that limits what the numbers mean, with what to do about it.
    Caveat,
}

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub kind: NoteKind,
    pub text: Text,
    /// The lesson-file message the text came from (`<demo>.<key>`): a stable id for scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A table's id: its title's message key (none for a plain title).
fn table_id(title: &Text) -> Option<String> {
    match title {
        Text::Message { key, .. } => Some(key.clone()),
        Text::Plain(_) => None,
    }
}

/// Everything one demo found.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub name: String,
    pub title: Text,
    pub findings: Vec<Finding>,
    pub measurements: Vec<Measurement>,
    pub comparisons: Vec<Comparison>,
    pub claims: Vec<Claim>,
    pub notes: Vec<Note>,
    pub trace: TraceReport,
    /// Set when the demo failed to run; its claims then count as not holding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the demo could not run here and was left out (why, in the learner's language); the
    /// rest of the lesson runs, and the run does not fail for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl DemoReport {
    /// A report titled by `title`; `Text::msg("title")` takes it from the lesson file.
    pub fn new(name: &str, title: impl Into<Text>) -> DemoReport {
        DemoReport {
            name: name.to_string(),
            title: title.into(),
            findings: Vec::new(),
            measurements: Vec::new(),
            comparisons: Vec::new(),
            claims: Vec::new(),
            notes: Vec::new(),
            trace: TraceReport::default(),
            error: None,
            skipped: None,
        }
    }

    pub fn finding(&mut self, title: impl Into<Text>, headers: &[&str], rows: Vec<Vec<String>>) {
        self.findings.push(Finding {
            id: None,
            title: title.into(),
            columns: Vec::new(),
            headers: headers.iter().map(|h| Text::from(*h)).collect(),
            rows: rows.into_iter().map(|row| row.into_iter().map(Text::Plain).collect()).collect(),
        });
    }

    /// A table worded by the lesson file: `title` is its message (`Text::msg("renamed")`, with its
    /// facts), whose key is also the table's id; each of `columns` (`"write-path"`) is a column id whose
    /// header is the message `<title>.header-<column>`. Cells are `Text::msg(..)` or plain figures.
    pub fn table(&mut self, title: Text, columns: &[&str], rows: Vec<Vec<Text>>) {
        let id = table_id(&title);
        // A plain title has no messages of its own: its columns are headed by their ids.
        let headers = columns
            .iter()
            .map(|c| match &id {
                Some(id) => Text::msg(&format!("{id}.header-{c}")),
                None => Text::from(*c),
            })
            .collect();
        let columns = columns.iter().map(|c| c.to_string()).collect();
        self.findings.push(Finding { id, title, columns, headers, rows });
    }

    /// A table whose headers are not all messages of its own (plain figures, another message's
    /// words): like [`DemoReport::table`] without column ids.
    pub fn table_with_headers(&mut self, title: Text, headers: Vec<Text>, rows: Vec<Vec<Text>>) {
        let id = table_id(&title);
        self.findings.push(Finding { id, title, columns: Vec::new(), headers, rows });
    }

    /// Add a measurement and return it for comparisons and claims.
    pub fn measured(&mut self, m: Measurement) -> Measurement {
        self.measurements.push(m.clone());
        m
    }

    /// Add every measurement of an interleaved group and return the group.
    pub fn measured_group(&mut self, group: Measured) -> Measured {
        self.measurements.extend(group.0.iter().cloned());
        group
    }

    /// Compare two measurements taken interleaved (see [`Comparison::of`]), show the comparison,
    /// and return it for claims.
    pub fn compare(&mut self, id: &str, a: &Measurement, b: &Measurement) -> Result<Comparison> {
        let comparison = Comparison::of(id, a, b)?;
        self.comparisons.push(comparison.clone());
        Ok(comparison)
    }

    pub fn claim(&mut self, claim: Claim) {
        self.claims.push(claim);
    }

    pub fn note(&mut self, kind: NoteKind, text: impl Into<Text>) {
        self.notes.push(Note { kind, text: text.into(), message: None });
    }

    /// Did the demo run with no claim failing? (An inconclusive claim does not fail it.)
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.claims.iter().any(Claim::failed)
    }

    /// Fill every message with the lesson file's words: `lookup(key)` gives the template of
    /// `<demo>.<key>` in the learner's language (or English). A claim's text is its message
    /// `<demo>.<claim id>` when the lesson file has one; a measurement's label likewise
    /// `<demo>.<measurement id>` (comparisons follow their measurements). Errors name the message.
    pub fn resolve(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        self.title.resolve(lookup)?;
        for finding in &mut self.findings {
            finding.title.resolve(lookup)?;
            for text in finding.headers.iter_mut().chain(finding.rows.iter_mut().flatten()) {
                text.resolve(lookup)?;
            }
        }
        for note in &mut self.notes {
            if let Text::Message { key, .. } = &note.text {
                note.message = Some(format!("{}.{key}", self.name));
            }
            note.text.resolve(lookup)?;
        }
        for claim in &mut self.claims {
            let key = claim.message.clone().unwrap_or_else(|| claim.id.clone());
            if claim.text.is_empty() || lookup(&key).is_some() {
                let mut text = Text::Message { key, facts: std::mem::take(&mut claim.facts) };
                text.resolve(lookup)?;
                claim.text = text.as_str().to_string();
            }
        }
        for m in &mut self.measurements {
            if let Some(label) = lookup(&m.id) {
                m.label = label;
            }
        }
        for c in &mut self.comparisons {
            if let Some(label) = lookup(&c.a) {
                c.a_label = label;
            }
            if let Some(label) = lookup(&c.b) {
                c.b_label = label;
            }
        }
        Ok(())
    }

    /// How many of its claims have this status.
    pub fn count(&self, status: ClaimStatus) -> usize {
        self.claims.iter().filter(|c| c.status == status).count()
    }
}
