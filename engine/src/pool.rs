//! The engine's rayon pool, which the CPU backend's parallel kernels use: one per engine, and
//! kept warm while an iteration runs.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Engine pools alive in this process (`on_own_pool`): a race runs several.
static POOLS: AtomicUsize = AtomicUsize::new(0);

/// Counts a pool for as long as it lives.
struct Counted;

impl Counted {
    fn new() -> Self {
        POOLS.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        POOLS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The name of the `i`-th worker of an engine's pool. Every thread the workbench starts is
/// named `sim-…`, so that what is left alive at exit can be told apart from a driver's threads.
pub fn worker_name(i: usize) -> String {
    format!("sim-pool-{i}")
}

/// Runs `f` on a worker of a rayon pool of its own (`RAYON_NUM_THREADS` threads, else one per
/// core), the pool the CPU backend's parallel kernels then use. Started from a thread outside
/// the pool, every parallel kernel would hand its work to the workers and sleep until woken,
/// and the caller plus the workers would oversubscribe the cores: measured on 2 cores, the
/// digits iteration took 99 → 88 ms at 1 thread and 117 → 99 ms at 2 (docs/platform.md).
/// One pool per engine, so the engines of a race never wait for each other's workers.
///
/// The workers are joined before this returns, also when `f` panics (the panic then goes on):
/// a dropped rayon pool only tells its workers to stop, and a worker still exiting — running
/// its thread-specific-data destructors, some of them a driver's — while `main` returns and
/// `exit` unloads the libraries it calls into corrupted the heap (docs/platform.md, "Exit").
/// `pthread_join` returns only once a thread has run all of them.
pub fn on_own_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let _counted = Counted::new();
    let mut workers = Vec::new();
    let built = rayon::ThreadPoolBuilder::new()
        .thread_name(worker_name)
        .spawn_handler(|thread| {
            let mut builder = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                builder = builder.name(name.to_owned());
            }
            workers.push(builder.spawn(move || thread.run())?);
            Ok(())
        })
        .build();
    let result = match built {
        Ok(pool) => {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| pool.install(f)));
            drop(pool);
            result
        }
        // No threads to be had: run where we are (the workers that did start have been told
        // to stop by the failed build, and are joined below).
        Err(_) => std::panic::catch_unwind(AssertUnwindSafe(f)),
    };
    for worker in workers {
        // A worker's panic was already reported by its panic hook; rayon catches job panics.
        let _ = worker.join();
    }
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs `f` on the current worker while the pool's other workers look for work without
/// sleeping, so that each parallel kernel of `f` is picked up at once.
///
/// A rayon worker that finds no work yields a few dozen times and then sleeps on a condition
/// variable; the next kernel wakes it through the kernel's scheduler. An iteration of the
/// U-Net runs hundreds of short kernels (a convolution of the digits U-Net takes ~0.1 ms)
/// with serial work between them, so the workers were asleep at nearly every one: 2 threads
/// gave no speed-up over 1, with ~300 context switches per iteration (docs/performance.md).
/// Here every other worker runs a job that steals and runs work (`rayon::yield_now`) until
/// `f` returns, as OpenMP's workers spin between PyTorch's kernels. Outside a pool, on a pool
/// of one, or while other engines' pools are alive, `f` just runs: the engines of a race share
/// the cores, and a spinning worker would take from the others what it does not use.
pub fn warm<R>(f: impl FnOnce() -> R) -> R {
    let Some(me) = rayon::current_thread_index() else {
        return f();
    };
    if rayon::current_num_threads() < 2 || POOLS.load(Ordering::Relaxed) > 1 {
        return f();
    }
    let done = AtomicBool::new(false);
    /// Lets the workers go when `f` returns or panics (the scope waits for them either way).
    struct Release<'a>(&'a AtomicBool);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    rayon::in_place_scope(|scope| {
        scope.spawn_broadcast(|_, worker| {
            // This worker's own copy runs when it next waits, after `f`: nothing to do.
            if worker.index() == me {
                return;
            }
            while !done.load(Ordering::Acquire) {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::yield_now();
                }
            }
        });
        let _release = Release(&done);
        f()
    })
}
