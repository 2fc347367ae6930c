//! What a demo returns: values only, so that text, JSON and snapshot tests all draw the same thing.

use serde::Serialize;

use anyhow::Result;

use crate::measure::{Claim, ClaimStatus, Comparison, Measured, Measurement};
use crate::server::TraceReport;

/// A small table of facts the demo observed (INFO fields, types and encodings, counts).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
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
    pub text: String,
}

/// Everything one demo found.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub name: String,
    pub title: String,
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
    pub fn new(name: &str, title: impl Into<String>) -> DemoReport {
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

    pub fn finding(&mut self, title: impl Into<String>, headers: &[&str], rows: Vec<Vec<String>>) {
        self.findings.push(Finding {
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        });
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

    pub fn note(&mut self, kind: NoteKind, text: impl Into<String>) {
        self.notes.push(Note { kind, text: text.into() });
    }

    /// Did the demo run with no claim failing? (An inconclusive claim does not fail it.)
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.claims.iter().any(Claim::failed)
    }

    /// How many of its claims have this status.
    pub fn count(&self, status: ClaimStatus) -> usize {
        self.claims.iter().filter(|c| c.status == status).count()
    }
}
