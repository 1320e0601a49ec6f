//! Seed selection and the two-thread seed sweep shared by the simulator
//! tests. `RSENTINEL_SIM_SEEDS=N` sets how many seeds a sweep runs
//! (default 1000); `RSENTINEL_SIM_SEED=N` names one seed to replay.
#![allow(dead_code)]

/// The seed `RSENTINEL_SIM_SEED` asks to replay, if any.
pub fn replay_seed() -> Option<u64> {
    let one = std::env::var("RSENTINEL_SIM_SEED").ok()?;
    Some(one.parse().expect("RSENTINEL_SIM_SEED must be a u64"))
}

/// `0..RSENTINEL_SIM_SEEDS` (default 1000).
pub fn sweep_seeds() -> Vec<u64> {
    let n: u64 = std::env::var("RSENTINEL_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    (0..n).collect()
}

/// The replayed seed alone, or the whole sweep.
pub fn seeds() -> Vec<u64> {
    replay_seed().map_or_else(sweep_seeds, |one| vec![one])
}

/// Runs `check` on every seed on two threads (the machines this runs on
/// have two cores); the failure messages, in seed order.
pub fn sweep(seeds: &[u64], check: impl Fn(u64) -> Option<String> + Sync) -> Vec<String> {
    let check = &check;
    let mut failures: Vec<(u64, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|part| {
                s.spawn(move || {
                    seeds
                        .iter()
                        .skip(part)
                        .step_by(2)
                        .filter_map(|&seed| check(seed).map(|f| (seed, f)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sweep thread"))
            .collect()
    });
    failures.sort();
    failures.into_iter().map(|(_, f)| f).collect()
}

/// Fails the test listing every failing seed.
pub fn assert_no_failures(failures: &[String], seeds: usize) {
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Prints a replayed seed's timeline (the whole run, or up to the failure)
/// and fails the test if the seed failed: what `RSENTINEL_SIM_SEED` is for.
pub fn print_replay(outcome: Result<Vec<String>, rsentinel_core::sim::SimFailure>) {
    match outcome {
        Ok(timeline) => {
            for line in &timeline {
                println!("{line}");
            }
        }
        Err(f) => {
            for line in &f.timeline {
                println!("{line}");
            }
            panic!("{f}");
        }
    }
}
