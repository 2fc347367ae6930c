//! `--save-baseline NAME` keeps a sweep's JSON (`<state dir>/baselines/<scenario>/<NAME>.json`,
//! written to a temp file and renamed into place); `--baseline NAME` compares this run with it,
//! point by point: a change is said only when the two p50 intervals do not overlap.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::report::{SeriesJson, SweepJson};
use super::{SCHEMA_VERSION, ScenarioName};
use crate::error::UserError;

const DIR: &str = "baselines";

fn check_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(UserError::BadBench {
            reason: format!(
                "baseline name {name:?}: use letters, digits, '-', '_' and '.' (at most 64), e.g. laptop-2026"
            ),
        })
    }
}

fn path(state_dir: Option<&Path>, scenario: ScenarioName, name: &str) -> Result<PathBuf, UserError> {
    check_name(name)?;
    let dir = state_dir.ok_or_else(|| UserError::BadBench {
        reason: "no state directory for baselines: pass --state-dir DIR".to_string(),
    })?;
    Ok(dir.join(DIR).join(scenario.id()).join(format!("{name}.json")))
}

/// Check a name before the run, so a typo does not cost a sweep.
pub fn validate(state_dir: Option<&Path>, scenario: ScenarioName, name: &str, must_exist: bool) -> Result<()> {
    let p = path(state_dir, scenario, name)?;
    if must_exist && !p.exists() {
        return Err(UserError::BadBench {
            reason: format!("no baseline {name:?} for {}: save one first with --save-baseline {name}", scenario.id()),
        }
        .into());
    }
    Ok(())
}

/// Save `sweep` as baseline `name`; returns where.
pub fn save(state_dir: Option<&Path>, scenario: ScenarioName, name: &str, sweep: &SweepJson) -> Result<PathBuf> {
    let p = path(state_dir, scenario, name)?;
    let dir = p.parent().context("baseline path")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).context("creating a temp file for the baseline")?;
    serde_json::to_writer_pretty(&mut tmp, sweep)?;
    tmp.persist(&p).with_context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

pub fn load(state_dir: Option<&Path>, scenario: ScenarioName, name: &str) -> Result<SweepJson> {
    let p = path(state_dir, scenario, name)?;
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading baseline {}", p.display()))?;
    let json: SweepJson = serde_json::from_str(&text).map_err(|e| UserError::BadBench {
        reason: format!("baseline {} is not a bench JSON file ({e}): save it again with --save-baseline", p.display()),
    })?;
    if json.schema_version != SCHEMA_VERSION {
        return Err(UserError::BadBench {
            reason: format!(
                "baseline {name} has schema_version {} and this redis-learn writes {SCHEMA_VERSION}: save it again",
                json.schema_version
            ),
        }
        .into());
    }
    Ok(json)
}

/// How one series at one point moved against the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    pub point: String,
    pub series: String,
    pub label: String,
    pub now_p50_us: f64,
    pub then_p50_us: Option<f64>,
    /// now ÷ then (above 1: slower now).
    pub ratio: Option<f64>,
    /// `same`, `slower`, `faster`, or `missing` (the baseline did not measure it).
    pub change: String,
}

/// Compare this run with a baseline.
pub fn compare(now: &SweepJson, then: &SweepJson) -> Vec<Delta> {
    let mut out = Vec::new();
    for p in &now.points {
        for s in &p.series {
            let old: Option<&SeriesJson> = then
                .points
                .iter()
                .find(|q| q.label == p.label)
                .and_then(|q| q.series.iter().find(|x| x.series == s.series));
            let (then_p50, ratio, change) = match old {
                None => (None, None, "missing"),
                Some(o) => {
                    let ratio = if o.p50_us > 0.0 { s.p50_us / o.p50_us } else { f64::INFINITY };
                    let change = if s.p50_low_us > o.p50_high_us {
                        "slower"
                    } else if s.p50_high_us < o.p50_low_us {
                        "faster"
                    } else {
                        "same"
                    };
                    (Some(o.p50_us), Some(ratio), change)
                }
            };
            out.push(Delta {
                point: p.label.clone(),
                series: s.series.clone(),
                label: s.label.clone(),
                now_p50_us: s.p50_us,
                then_p50_us: then_p50,
                ratio,
                change: change.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        assert!(check_name("laptop-2026.v1").is_ok());
        assert!(check_name("../etc").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("").is_err());
    }
}
