//! The building blocks under every lesson's numbers: the sampler's own overhead, an in-process SQLite
//! point read, the cache lesson's source query, and a Redis GET over loopback against a private
//! redis-server (skipped, with a printed reason, when redis-server is not on PATH).
//!
//! Run: `cargo bench -p redis-learn-benches --bench building_blocks`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use redis_learn::interrupt::Interrupt;
use redis_learn::measure::{Backend, Budget, Sampler};
use redis_learn::server::PrivateServer;
use redis_learn::sql::tokens::{self, TokenDb};

fn sampler_overhead(c: &mut Criterion) {
    // One whole measurement of a no-op: what the sampler itself costs per sample.
    let budget = Budget { warmup: 0, rounds: 10, min_samples: 1_000, max_samples: 1_000, target: Duration::ZERO };
    let sampler = Sampler::new(budget, Interrupt::new());
    c.bench_function("sampler: 1,000 samples of a no-op", |b| {
        b.iter(|| sampler.measure("noop", "no-op", Backend::App, || Ok(())).unwrap());
    });
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = TokenDb::open_or_generate(&dir.path().join("tokens.db"), 50, &Interrupt::new()).unwrap();
    let con = db.connect().unwrap();
    let token = db.tokens[7].clone();
    c.bench_function("sqlite: unique-key row read", |b| {
        b.iter(|| black_box(tokens::token_row(&con, &token).unwrap()));
    });
    c.bench_function("sqlite: token detail (join + aggregates)", |b| {
        b.iter(|| black_box(tokens::token_detail(&con, &token).unwrap()));
    });
}

fn redis_get(c: &mut Criterion) {
    let server = match PrivateServer::start() {
        Ok(server) => server,
        Err(err) => {
            eprintln!("skipping the Redis benchmarks: {err}");
            return;
        }
    };
    let mut con = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    redis::cmd("SET").arg("bench:key").arg("x".repeat(300)).exec(&mut con).unwrap();
    c.bench_function("redis: GET over loopback (300 B value)", |b| {
        b.iter(|| black_box(redis::cmd("GET").arg("bench:key").query::<Option<String>>(&mut con).unwrap()));
    });
    let mut pipe = redis::pipe();
    for _ in 0..100 {
        pipe.cmd("GET").arg("bench:key");
    }
    c.bench_function("redis: 100 GETs in one pipeline", |b| {
        b.iter(|| black_box(pipe.query::<Vec<Option<String>>>(&mut con).unwrap()));
    });
}

criterion_group!(benches, sampler_overhead, sqlite, redis_get);
criterion_main!(benches);
