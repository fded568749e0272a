//! The engine's pool: `warm` runs its work on both workers, lets them go when it returns or
//! panics, nests, and is a no-op outside a pool.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use sim_engine::pool::warm;

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
