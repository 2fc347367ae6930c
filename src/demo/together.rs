//! Races on purpose: K workers on their own threads (each with its own connections, as separate
//! processes would have), set up first and then released together by a barrier.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

/// Run `work(i, setup(i))` for `i` in `0..workers`, each on its own thread. Every worker runs its
/// `setup` (opening connections) before the common start; the wall time is measured from the
/// release. A failed setup still reaches the barrier, so it cannot strand the others.
pub fn run_together<S, T>(
    workers: usize,
    setup: impl Fn(usize) -> Result<S> + Sync,
    work: impl Fn(usize, S) -> Result<T> + Sync,
) -> Result<(Vec<T>, Duration)>
where
    T: Send,
{
    let barrier = Barrier::new(workers + 1);
    let (results, elapsed) = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                let (barrier, setup, work) = (&barrier, &setup, &work);
                scope.spawn(move || -> Result<T> {
                    let state = setup(i);
                    barrier.wait();
                    work(i, state?)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<Result<T>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("a worker thread panicked"))))
            .collect();
        (results, start.elapsed())
    });
    Ok((results.into_iter().collect::<Result<Vec<T>>>()?, elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_worker_sets_up_before_any_starts() {
        let ready = AtomicUsize::new(0);
        let (seen, _) = run_together(
            4,
            |_| {
                ready.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |i, ()| Ok((i, ready.load(Ordering::SeqCst))),
        )
        .unwrap();
        assert_eq!(seen, vec![(0, 4), (1, 4), (2, 4), (3, 4)]);
    }

    #[test]
    fn a_failed_setup_is_an_error_not_a_hang() {
        let result = run_together(3, |i| if i == 1 { Err(anyhow!("no connection")) } else { Ok(()) }, |_, ()| Ok(()));
        assert_eq!(result.unwrap_err().to_string(), "no connection");
    }
}
