//! The integration tests, in one binary: they drive the real `redis-learn` binary against real
//! servers (see `support`). One binary links once and runs its tests side by side; the tests that
//! load the machine take `support::heavy()` so that they run one at a time.

mod authors;
mod bench;
mod beyond;
mod cli;
mod cluster;
mod lessons;
mod networked_sql;
mod practice;
mod state;
mod support;
mod terminal;
mod words;
