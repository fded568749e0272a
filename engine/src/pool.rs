//! The engine's rayon pool, which the CPU backend's parallel kernels use: one per engine, and
//! kept warm while an iteration runs.

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

/// Runs `f` on a worker of a rayon pool of its own (`RAYON_NUM_THREADS` threads, else one per
/// core), the pool the CPU backend's parallel kernels then use. Started from a thread outside
/// the pool, every parallel kernel would hand its work to the workers and sleep until woken,
/// and the caller plus the workers would oversubscribe the cores: measured on 2 cores, the
/// digits iteration took 99 → 88 ms at 1 thread and 117 → 99 ms at 2 (README, Performance).
/// One pool per engine, so the engines of a race never wait for each other's workers.
pub fn on_own_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let _counted = Counted::new();
    match rayon::ThreadPoolBuilder::new().build() {
        Ok(pool) => pool.install(f),
        // No threads to be had: run where we are, on the global pool.
        Err(_) => f(),
    }
}

/// Runs `f` on the current worker while the pool's other workers look for work without
/// sleeping, so that each parallel kernel of `f` is picked up at once.
///
/// A rayon worker that finds no work yields a few dozen times and then sleeps on a condition
/// variable; the next kernel wakes it through the kernel's scheduler. An iteration of the
/// U-Net runs hundreds of short kernels (a convolution of the digits U-Net takes ~0.1 ms)
/// with serial work between them, so the workers were asleep at nearly every one: 2 threads
/// gave no speed-up over 1, with ~300 context switches per iteration (README, Performance).
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
