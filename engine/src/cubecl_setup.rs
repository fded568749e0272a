//! CubeCL (Burn's GPU runtime) configured by the workbench, in code, once per process and before
//! any device is touched — not by a `cubecl.toml` found from the working directory. Its caches
//! (autotune results; compiled kernels where the compiler keeps them: CUDA, HIP, SPIR-V) live in
//! one folder under the workbench's cache, so the GUI, the CLI and `bench` share them wherever
//! they are started (docs/platform.md, "On a GPU").

use std::io::Read;
use std::path::{Path, PathBuf};

use cubecl_runtime::config::cache::CacheConfig;
use cubecl_runtime::config::streaming::StreamPolicy;
use cubecl_runtime::config::{CubeClRuntimeConfig, RuntimeConfig};

/// The folder CubeCL keeps its environment (its cache database) in, under `cache_root`.
pub fn folder(cache_root: &Path) -> PathBuf {
    cache_root.join("cubecl")
}

/// The configuration the workbench runs CubeCL with: its environment under
/// [`folder`]`(cache_root)`, compiled kernels kept there, and one stream for all of the
/// process's GPU work (an engine's thread, and the GUI's preparation before it: they share one
/// memory pool and their kernels); the rest is CubeCL's default, chosen by measurement
/// (docs/platform.md, "CubeCL's settings"). CubeCL's own environment variables still apply on
/// top (`CUBECL_AUTOTUNE_LEVEL`, `CUBECL_DEBUG_LOG`, …), for measuring and debugging.
pub fn config(cache_root: &Path) -> CubeClRuntimeConfig {
    let mut config = CubeClRuntimeConfig::default();
    config.environment.path = CacheConfig::Directory(folder(cache_root));
    config.compilation.cache = true;
    config.streaming.policy = StreamPolicy::Single;
    config.override_from_env()
}

/// The first bytes of CubeCL's cache database (Turso writes SQLite's file format).
const DATABASE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Discards the cache database of environment `name` in `folder` (with its write-ahead log)
/// when it is not a database — a torn or foreign file. CubeCL would warn at every look-up, tune
/// every kernel again in every process and never repair it. A file shorter than the header is
/// one another process is creating, and is left alone. Returns whether it discarded.
pub fn discard_if_malformed(folder: &Path, name: &str) -> bool {
    let database = folder.join(format!("{name}.db"));
    let mut header = [0u8; 16];
    let read = std::fs::File::open(&database).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || &header == DATABASE_HEADER {
        return false;
    }
    tracing::warn!(
        "CubeCL's cache {} is not a database: discarded (its kernels are tuned again, once)",
        database.display()
    );
    for suffix in ["", "-wal", "-shm", "-tshm"] {
        let _ = std::fs::remove_file(folder.join(format!("{name}.db{suffix}")));
    }
    true
}

/// Installs [`config`] as CubeCL's configuration for this process, after discarding a malformed
/// cache ([`discard_if_malformed`]; stale entries need nothing: CubeCL keys them by its version).
/// Returns `false` (and leaves CubeCL's as it is) when CubeCL already read or received one: call
/// it first thing.
pub fn configure(cache_root: &Path) -> bool {
    let config = config(cache_root);
    discard_if_malformed(&folder(cache_root), &config.environment.name);
    let installed = CubeClRuntimeConfig::try_set(config);
    if !installed {
        tracing::warn!(
            "CubeCL was configured before the workbench could: its caches may live elsewhere"
        );
    }
    installed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache lives under the workbench's cache folder, wherever the process started, and
    /// compiled kernels are kept.
    #[test]
    fn caches_live_under_the_workbench_cache() {
        let config = config(Path::new("/some/cache"));
        assert_eq!(
            config.environment.path.root(),
            PathBuf::from("/some/cache/cubecl")
        );
        assert!(config.compilation.cache);
        assert_eq!(config.streaming.policy, StreamPolicy::Single);
    }

    /// A cache database that is not one is discarded with its log; a sound one, one being
    /// created (shorter than the header) and a missing one are left alone.
    #[test]
    fn a_malformed_cache_is_discarded_and_a_sound_one_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path();
        assert!(!discard_if_malformed(folder, "default"), "nothing there");
        let db = folder.join("default.db");
        std::fs::write(&db, b"SQL").expect("write");
        assert!(!discard_if_malformed(folder, "default"), "being created");
        let mut sound = DATABASE_HEADER.to_vec();
        sound.extend([7u8; 4080]);
        std::fs::write(&db, &sound).expect("write");
        assert!(!discard_if_malformed(folder, "default"));
        assert!(db.exists());
        std::fs::write(&db, [0x5au8; 4096]).expect("write");
        std::fs::write(folder.join("default.db-wal"), [1u8; 64]).expect("write");
        assert!(discard_if_malformed(folder, "default"));
        assert!(!db.exists() && !folder.join("default.db-wal").exists());
    }
}
