//! The K-line member codec (lesson 3): encode and decode a day of 1-minute candles as compact
//! members and as JSON members. Run with `cargo bench -p redis-learn-benches --bench kline_codec`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use redis_learn::demo::klines::codec::{self, Candle};
use redis_learn::demo::klines::series::{self, markets};

/// One day of 1-minute candles.
const CANDLES: usize = 1_440;

fn day() -> Vec<Candle> {
    series::random_walk(&markets()[0], CANDLES)
}

fn compact(c: &mut Criterion) {
    let candles = day();
    let members: Vec<String> = candles.iter().map(codec::encode).collect();
    let mut group = c.benchmark_group("kline_codec/compact");
    group.throughput(Throughput::Elements(CANDLES as u64));
    group.bench_function("encode", |b| {
        b.iter(|| {
            for candle in black_box(&candles) {
                black_box(codec::encode(candle));
            }
        })
    });
    group.bench_function("encode_into (reused buffer)", |b| {
        let mut buf = String::with_capacity(64);
        b.iter(|| {
            for candle in black_box(&candles) {
                buf.clear();
                codec::encode_into(candle, &mut buf);
                black_box(&buf);
            }
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            for member in black_box(&members) {
                black_box(codec::decode(member).expect("a member this bench encoded"));
            }
        })
    });
    group.finish();
}

fn json(c: &mut Criterion) {
    let candles = day();
    let members: Vec<String> = candles.iter().map(codec::encode_json).collect();
    let mut group = c.benchmark_group("kline_codec/json");
    group.throughput(Throughput::Elements(CANDLES as u64));
    group.bench_function("encode", |b| {
        b.iter(|| {
            for candle in black_box(&candles) {
                black_box(codec::encode_json(candle));
            }
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            for member in black_box(&members) {
                black_box(codec::decode_json(member).expect("a member this bench encoded"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, compact, json);
criterion_main!(benches);
