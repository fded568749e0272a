//! The engine's pool: `warm` runs its work on both workers, lets them go when it returns or
//! panics, nests, and is a no-op outside a pool; `on_own_pool` returns only once its workers
//! have ended, their thread-local destructors run, also after a panic.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rayon::prelude::*;

use sim_engine::pool::{on_own_pool, warm};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
}

#[test]
fn warm_work_runs_in_parallel_and_the_workers_are_let_go() {
    let pool = pool(2);
    let (sum, nested, on) = pool.install(|| {
        warm(|| {
            let sum: u64 = (0..10_000u64).into_par_iter().sum();
            let nested = warm(|| rayon::join(|| 1, || 2));
            // Both workers take part: some chunk runs off the calling worker.
            let me = rayon::current_thread_index();
            let on: Vec<_> = (0..64)
                .into_par_iter()
                .map(|_| {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    rayon::current_thread_index()
                })
                .collect();
            (sum, nested, on.iter().any(|&t| t != me))
        })
    });
    assert_eq!(sum, 49_995_000);
    assert_eq!(nested, (1, 2));
    assert!(on, "the other worker never ran a chunk");
    // No spinner is left holding a worker: the pool still runs both sides of a join.
    assert_eq!(pool.install(|| rayon::join(|| 3, || 4)), (3, 4));
}

#[test]
fn a_panic_in_warm_work_reaches_the_caller_and_frees_the_pool() {
    let pool = pool(2);
    let caught = pool.install(|| catch_unwind(AssertUnwindSafe(|| warm(|| panic!("boom")))));
    assert!(caught.is_err());
    assert_eq!(pool.install(|| warm(|| 5)), 5);
}

#[test]
fn outside_a_pool_or_on_one_thread_warm_just_runs() {
    assert_eq!(warm(|| 6), 6);
    assert_eq!(pool(1).install(|| warm(|| 7)), 7);
}

/// A worker's thread-local value whose destructor is slow and counts itself in `.0`.
struct Farewell(&'static AtomicUsize);

impl Drop for Farewell {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(50));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static FAREWELL: RefCell<Option<Farewell>> = const { RefCell::new(None) };
}

/// Gives every worker of the current pool a [`Farewell`] counting in `gone`; returns the
/// number of workers.
fn mark_workers(gone: &'static AtomicUsize) -> usize {
    rayon::broadcast(|_| FAREWELL.with(|f| *f.borrow_mut() = Some(Farewell(gone))));
    rayon::current_num_threads()
}

/// A dropped rayon pool only tells its workers to stop; the engine's pool waits until each has
/// ended, thread-local destructors included (a worker still ending as `main` returned once
/// took the process down).
#[test]
fn own_pool_returns_after_its_workers_have_ended() {
    static GONE: AtomicUsize = AtomicUsize::new(0);
    let workers = on_own_pool(|| mark_workers(&GONE));
    assert!(workers >= 1);
    assert_eq!(GONE.load(Ordering::SeqCst), workers);
}

#[test]
fn own_pool_joins_its_workers_before_a_panic_goes_on() {
    static GONE: AtomicUsize = AtomicUsize::new(0);
    static WORKERS: AtomicUsize = AtomicUsize::new(0);
    let caught = catch_unwind(|| {
        on_own_pool(|| {
            WORKERS.store(mark_workers(&GONE), Ordering::SeqCst);
            panic!("planned");
        })
    });
    assert!(caught.is_err());
    assert_eq!(GONE.load(Ordering::SeqCst), WORKERS.load(Ordering::SeqCst));
}
