//! Keeps glibc's heap small: one arena for every thread
//! ([`single_arena`]), and freed memory handed back to the kernel now and
//! then ([`start`]).
//!
//! glibc's malloc gives memory back only from the top of each arena, so the
//! transient allocations of start-up, discovery and failovers (INFO texts,
//! config snapshots, bursts of events and hellos) leave free pages inside
//! the arenas that stay resident for good: 3.5 of 31 MiB at 1 000 masters,
//! measured by calling `malloc_trim` on a running sentinel. Redis's
//! allocator (jemalloc) purges such pages on a decay timer; this thread
//! does the same for glibc.

use std::time::Duration;

/// How often freed pages are handed back. A trim walks the free chunks of
/// every arena (well under a millisecond at 1 000 masters).
pub const PERIOD: Duration = Duration::from_secs(10);

/// Makes every thread allocate from one malloc arena. glibc gives each
/// thread that allocates its own arena; the config writer's (snapshots and
/// file texts, freed after each write) kept its own free pages, 1.5 MiB
/// resident at 1 000 masters, that the driver's allocations could not
/// reuse. The writer allocates a little per write, so sharing the lock
/// costs nothing measurable. Call it before any thread is started.
pub fn single_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter; no thread has
        // been started yet, and a refusal (0) leaves the default in place.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Starts the trimming thread (glibc only; other allocators purge on
/// their own).
pub fn start() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let spawned = std::thread::Builder::new()
            .name("heap-trim".into())
            .stack_size(64 * 1024)
            .spawn(|| loop {
                std::thread::sleep(PERIOD);
                // SAFETY: malloc_trim has no preconditions; it takes the
                // allocator's own locks, one arena at a time.
                unsafe {
                    libc::malloc_trim(0);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("Cannot start the heap trimming thread: {e}");
        }
    }
}
