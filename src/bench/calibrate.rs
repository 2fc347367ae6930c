//! `bench --calibrate`: how close our measuring loop comes to `redis-benchmark` on the same server,
//! with the same placement (a child process inherits `--pin same-cpu`). Both run GET with one
//! client, pipelined 16 deep and not pipelined, alternating (theirs, ours, theirs, …) so a machine
//! that slows down mid-run slows both. The claim: pipelined, we reach at least 80% of its
//! throughput; a smaller share means our overhead, not Redis, is what a sweep would show.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::error::UserError;
use crate::interrupt::Interrupt;
use crate::measure::{Backend, Budget, ClaimStatus, Sampler, median_interval};
use crate::server::{Namespace, NamespaceGuard, RedisHandle};
use crate::settings::{Scale, Settings};

/// The share of redis-benchmark's pipelined throughput we must reach.
pub const REQUIRED_SHARE: f64 = 0.8;
/// Pipeline depth of the pipelined pair (`redis-benchmark -P 16`).
pub const DEPTH: u32 = 16;

/// One pair: redis-benchmark's and our requests per second, round by round.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// `pipelined` or `single`.
    pub id: String,
    pub depth: u32,
    pub theirs_rps: Vec<f64>,
    pub ours_rps: Vec<f64>,
    /// Median of the per-round shares (ours ÷ theirs), with its interval.
    pub share: f64,
    pub share_low: f64,
    pub share_high: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub schema_version: u32,
    pub kind: String,
    pub redis_benchmark: String,
    pub server: crate::server::ServerInfo,
    pub placement: crate::measure::Placement,
    pub pairs: Vec<Pair>,
    pub required_share: f64,
    pub status: ClaimStatus,
}

/// `redis-benchmark` on PATH, or a one-line error saying how to get it.
fn binary() -> Result<std::path::PathBuf, UserError> {
    which::which("redis-benchmark")
        .map_err(|_| UserError::BadBench { reason: super::words::plain(crate::i18n::Lang::En, "calibrate.missing") })
}

/// Host and port of a TCP server without a password (redis-benchmark's arguments).
fn address(redis: &RedisHandle) -> Result<(String, u16)> {
    let info = redis.client().get_connection_info();
    if info.redis_settings().password().is_some() {
        return Err(UserError::BadBench {
            reason: "--calibrate does not pass a password on a command line: use a server without one (--private)"
                .to_string(),
        }
        .into());
    }
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => Ok((host.clone(), *port)),
        _ => {
            Err(UserError::BadBench { reason: "--calibrate needs a TCP server (redis://HOST:PORT)".to_string() }.into())
        }
    }
}

/// How long one redis-benchmark run may take before it is stopped (it retries a dead server for ever).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// One redis-benchmark run: requests per second of GET.
fn theirs(
    bin: &std::path::Path,
    host: &str,
    port: u16,
    depth: u32,
    requests: u64,
    interrupt: &Interrupt,
) -> Result<f64> {
    let mut child = Command::new(bin)
        .args(["-h", host, "-p", &port.to_string(), "-c", "1", "-P", &depth.to_string()])
        .args(["-n", &requests.to_string(), "--csv", "-t", "get"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-benchmark")?;
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline || interrupt.is_set() {
            let _ = child.kill();
            let _ = child.wait();
            interrupt.check()?;
            bail!("redis-benchmark did not finish within {} s", RUN_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        stdout.read_to_string(&mut text)?;
    }
    if !status.success() {
        bail!("redis-benchmark failed ({status})");
    }
    parse_rps(&text).ok_or_else(|| anyhow!("no GET line in redis-benchmark's output: {}", text.trim()))
}

/// The requests per second of the GET line of `redis-benchmark --csv`.
pub fn parse_rps(csv: &str) -> Option<f64> {
    csv.lines()
        .find(|l| l.starts_with("\"GET\""))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|v| v.trim_matches('"').parse().ok())
}

pub fn run(settings: &Settings, redis: &RedisHandle, interrupt: &Interrupt) -> Result<Calibration> {
    let bin = binary()?;
    let (host, port) = address(redis)?;
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let ns = Namespace::new_run();
    let mut guard = NamespaceGuard::new(redis.client().clone(), ns.clone());
    // redis-benchmark's GET reads the key "key:__rand_int__" (it writes nothing): a nil reply. Ours
    // reads a key of our namespace that does not exist: the same reply.
    let key = ns.key("calibrate");
    let mut con = redis.raw_connection()?;
    // Nine rounds give the share a 95% interval from its 2nd-lowest to its 2nd-highest value (the
    // sign test's); three (quick) give only [min, max].
    let (rounds, requests) = match settings.scale {
        Scale::Quick => (3, 100_000),
        Scale::Full => (9, 200_000),
    };
    let budget = Budget {
        warmup: 200,
        rounds: 1,
        min_samples: 100,
        max_samples: 1_000_000,
        target: Duration::from_millis(if settings.scale == Scale::Quick { 400 } else { 600 }),
    };
    let sampler = Sampler::new(budget, interrupt.clone());
    let mut pairs = Vec::new();
    for (id, depth) in [("pipelined", DEPTH), ("single", 1)] {
        let mut pipe = redis::pipe();
        for _ in 0..depth {
            pipe.cmd("GET").arg(&key);
        }
        let (mut t, mut o) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            interrupt.check()?;
            t.push(theirs(&bin, &host, port, depth, requests / if depth == 1 { 16 } else { 1 }, interrupt)?);
            let m = sampler.group().batch(id, id, Backend::Redis, depth, || {
                pipe.exec(&mut con)?;
                Ok(())
            });
            let m = m.run()?;
            o.push(m.get(id).ops_per_sec().unwrap_or(0.0));
        }
        let shares: Vec<f64> = t.iter().zip(&o).map(|(t, o)| if *t > 0.0 { o / t } else { 0.0 }).collect();
        let i = median_interval(&shares).ok_or_else(|| anyhow!("no calibration rounds"))?;
        pairs.push(Pair {
            id: id.to_string(),
            depth,
            theirs_rps: t,
            ours_rps: o,
            share: i.median,
            share_low: i.low,
            share_high: i.high,
        });
    }
    let cleaned = guard.clean();
    cleaned.context("removing the calibration key")?;
    let pipelined = &pairs[0];
    let status = if pipelined.share_low >= REQUIRED_SHARE {
        ClaimStatus::Held
    } else if pipelined.share_high < REQUIRED_SHARE {
        ClaimStatus::Failed
    } else {
        ClaimStatus::Inconclusive
    };
    Ok(Calibration {
        schema_version: super::SCHEMA_VERSION,
        kind: "calibration".into(),
        redis_benchmark: version,
        server: redis.info().clone(),
        placement: settings.placement,
        pairs,
        required_share: REQUIRED_SHARE,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_get_line_of_redis_benchmark_csv() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\"\n\"GET\",\"123456.79\",\"0.101\"\n";
        assert_eq!(parse_rps(csv), Some(123_456.79));
        assert_eq!(parse_rps("nothing"), None);
    }
}
