//! What the lesson's demos share: errors from their own servers kept apart from the learner's
//! server conditions, a background writer, and polling a key until a value shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use redis::ConnectionLike;

use crate::demo::Ctx;
use crate::server::PrivateServer;

/// Bytes of each value the background writer sets.
const LOAD_VALUE_BYTES: usize = 100;
/// SETs per pipeline of the background writer: large enough (~156 KiB of replication stream) that
/// the replica takes a while to apply each one, so that its lag can be seen (see `LagProbe`).
const LOAD_BATCH: usize = 1_000;
/// Distinct keys the background writer cycles over.
const LOAD_KEYS: u64 = 5_000;

/// A Redis error from one of the lesson's own servers, as plain text: the runner must not take it
/// for a condition of the learner's server (a refused connection to a primary we killed on purpose
/// is not "your Redis stopped").
pub fn ours<T>(result: redis::RedisResult<T>, what: &str) -> Result<T> {
    result.map_err(|e| anyhow!("{what} (on a server this demo started): {e}"))
}

/// A private server of the lesson's own, with what the demo says when it cannot start one.
pub fn start(
    what: &str,
    start: impl FnOnce() -> Result<PrivateServer, crate::error::UserError>,
) -> Result<PrivateServer> {
    start().map_err(anyhow::Error::from).with_context(|| format!("this demo starts its own {what}, and could not"))
}

/// Poll `GET key` until it reads `want`: how long after the call that took, and how many reads it
/// needed. Gives up after `limit`.
pub fn until_value(
    ctx: &Ctx,
    con: &mut impl ConnectionLike,
    key: &str,
    want: &str,
    limit: Duration,
) -> Result<(Duration, u64)> {
    let start = Instant::now();
    let mut reads = 0;
    loop {
        reads += 1;
        let got: Option<String> = ours(redis::cmd("GET").arg(key).query(con), "reading the replica")?;
        if got.as_deref() == Some(want) {
            return Ok((start.elapsed(), reads));
        }
        if start.elapsed() > limit {
            bail!("{key} did not reach the replica within {limit:?}");
        }
        if reads % 64 == 0 {
            ctx.check_interrupt()?;
        }
    }
}

/// A thread of the demo's own that works until stopped (or until the learner presses Ctrl-C), then
/// hands back what it gathered. Dropped unfinished (an error on the way), it is stopped and joined.
pub struct Background<T> {
    stop: Arc<AtomicBool>,
    started: Instant,
    what: &'static str,
    handle: Option<thread::JoinHandle<Result<T>>>,
}

impl<T: Send + 'static> Background<T> {
    /// Run `work` on a thread; it keeps going while the `running` it is given returns true.
    pub fn spawn(
        ctx: &Ctx,
        what: &'static str,
        work: impl FnOnce(&dyn Fn() -> bool) -> Result<T> + Send + 'static,
    ) -> Background<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, interrupt) = (Arc::clone(&stop), ctx.interrupt.clone());
        let handle = thread::spawn(move || work(&|| !stop2.load(Ordering::Relaxed) && !interrupt.is_set()));
        Background { stop, started: Instant::now(), what, handle: Some(handle) }
    }

    /// Time since it started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stop it and wait for what it gathered.
    pub fn finish(mut self) -> Result<T> {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().ok_or_else(|| anyhow!("{} was already stopped", self.what))?;
        handle.join().map_err(|_| anyhow!("{} panicked", self.what))?
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A client writing pipelines of SETs to a server as fast as it can, on a thread of its own, until
/// stopped: a busy primary.
pub struct Writer {
    thread: Background<()>,
    writes: Arc<AtomicU64>,
}

impl Writer {
    pub fn start(ctx: &Ctx, server: &PrivateServer, prefix: &str) -> Result<Writer> {
        let mut con = ctx.connect_private(server)?;
        let writes = Arc::new(AtomicU64::new(0));
        let (writes2, prefix) = (Arc::clone(&writes), prefix.to_string());
        let thread = Background::spawn(ctx, "the background writer", move |running| {
            let value = "v".repeat(LOAD_VALUE_BYTES);
            let mut i: u64 = 0;
            while running() {
                let mut pipe = redis::pipe();
                for _ in 0..LOAD_BATCH {
                    pipe.cmd("SET").arg(format!("{prefix}{}", i % LOAD_KEYS)).arg(&value).ignore();
                    i += 1;
                }
                ours(pipe.exec(&mut con), "the background writer")?;
                writes2.fetch_add(LOAD_BATCH as u64, Ordering::Relaxed);
            }
            Ok(())
        });
        Ok(Writer { thread, writes })
    }

    /// Stop it: (writes acknowledged, writes per second).
    pub fn finish(self) -> Result<(u64, f64)> {
        let elapsed = self.thread.elapsed();
        self.thread.finish()?;
        let writes = self.writes.load(Ordering::Relaxed);
        Ok((writes, writes as f64 / elapsed.as_secs_f64().max(1e-9)))
    }
}

/// `INFO section` of a server of ours.
pub fn info(con: &mut impl ConnectionLike, section: &str) -> Result<redis::InfoDict> {
    ours(redis::cmd("INFO").arg(section).query(con), "INFO")
}

/// A TCP relay on loopback between a replica and its primary, which the demo can cut: the network
/// link between the two, and nothing else (clients and sentinels reach both directly). Once cut,
/// the bytes the primary sends are held back and never delivered, as in a network partition.
pub struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

/// How often relay threads look at their flags.
const RELAY_POLL: Duration = Duration::from_millis(10);

impl Relay {
    /// Listen on a free loopback port and forward every connection to `target_port`.
    pub fn start(target_port: u16) -> Result<Relay> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("the relay's port")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (cut2, stop2) = (Arc::clone(&cut), Arc::clone(&stop));
        let handle = thread::spawn(move || {
            let mut pumps = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((downstream, _)) => {
                        let Ok(upstream) = std::net::TcpStream::connect_timeout(
                            &([127, 0, 0, 1], target_port).into(),
                            Duration::from_secs(1),
                        ) else {
                            continue;
                        };
                        for (from, to, cuttable) in [
                            (upstream.try_clone(), downstream.try_clone(), true),
                            (downstream.try_clone(), upstream.try_clone(), false),
                        ] {
                            if let (Ok(from), Ok(to)) = (from, to) {
                                let (cut, stop) = (Arc::clone(&cut2), Arc::clone(&stop2));
                                pumps.push(thread::spawn(move || pump(from, to, cuttable.then_some(cut), &stop)));
                            }
                        }
                    }
                    Err(_) => thread::sleep(RELAY_POLL),
                }
            }
            for p in pumps {
                let _ = p.join();
            }
        });
        Ok(Relay { port, cut, stop, handle: Some(handle) })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cut the link: from now on nothing the primary sends reaches the replica.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

/// Copy bytes from `from` to `to` until either side closes or `stop`; once `cut` is set, what is
/// read is dropped (lost in the partition).
fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, cut: Option<Arc<AtomicBool>>, stop: &AtomicBool) {
    use std::io::{Read, Write};
    let _ = from.set_read_timeout(Some(RELAY_POLL));
    let mut buf = [0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if cut.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
                    continue;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
