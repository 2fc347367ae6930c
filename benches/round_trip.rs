//! Is the sampler honest about a round trip? Pinned to one CPU (with the private redis-server it
//! starts, which inherits the pin), a GET timed the way lesson 1 times it (the `redis` crate through
//! our traced connection, in the sampler's interleaved rounds) is compared with the barest GET loop
//! there is: RESP bytes written to a `TcpStream` and the reply read back. The ratio must stay within
//! 1.25×: our machinery adds little to what it measures.
//!
//! Run: `cargo bench -p redis-learn-benches --bench round_trip` (needs `redis-server` on PATH; prints a reason and exits 0
//! without it). Exits 1 when the ratio's point estimate is above 1.25.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use redis::Commands;
use redis_learn::interrupt::Interrupt;
use redis_learn::measure::{Backend, Budget, Placement, Sampler};
use redis_learn::server::{PrivateServer, Trace};
use redis_learn::settings::RedisChoice;

/// The bound issue 7 sets: lesson 1's GET p50 within 1.25× of a bare-socket GET loop.
const MAX_RATIO: f64 = 1.25;

fn main() -> ExitCode {
    let placement = Placement::apply(true);
    println!("{}", placement.describe(redis_learn::i18n::Lang::En));
    let server = match PrivateServer::start() {
        Ok(server) => server,
        Err(err) => {
            println!("skipped: {err}");
            return ExitCode::SUCCESS;
        }
    };
    let handle = redis_learn::server::connect(&RedisChoice::Explicit(server.url()), false).expect("our server");
    let mut con = handle.connect(&Trace::new()).expect("connect");
    let _: () = con.set("bench:hello", "world").expect("SET");

    let mut socket = TcpStream::connect(("127.0.0.1", server.port())).expect("connect a bare socket");
    socket.set_nodelay(true).expect("TCP_NODELAY");
    let request = b"*2\r\n$3\r\nGET\r\n$11\r\nbench:hello\r\n";
    let reply = b"$5\r\nworld\r\n";
    let mut buf = [0_u8; 64];

    let sampler = Sampler::new(Budget::FULL, Interrupt::new());
    let measured = sampler
        .group()
        .op("bare-socket-get", "GET, raw RESP on a TcpStream", Backend::Redis, || {
            socket.write_all(request)?;
            let mut got = 0;
            while got < reply.len() {
                got += socket.read(&mut buf[got..])?;
            }
            anyhow::ensure!(&buf[..got] == reply, "unexpected reply {:?}", &buf[..got]);
            Ok(())
        })
        .op("lesson-get", "GET, as lesson 1 times it", Backend::Redis, || {
            let _: Option<String> = con.get("bench:hello")?;
            Ok(())
        })
        .run()
        .expect("measuring");
    let (bare, ours) = (measured.get("bare-socket-get"), measured.get("lesson-get"));
    let c = measured.compare("bare-vs-lesson", "bare-socket-get", "lesson-get").expect("same group");
    println!("bare socket GET p50: {:.2} µs", bare.p50().as_nanos() as f64 / 1_000.0);
    println!("lesson 1 GET p50:    {:.2} µs", ours.p50().as_nanos() as f64 / 1_000.0);
    println!("lesson ÷ bare: {} (bound {MAX_RATIO}×)", c.measured());
    if c.ratio > MAX_RATIO {
        println!("FAIL: the lesson's GET costs more than {MAX_RATIO}× a bare-socket GET");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
