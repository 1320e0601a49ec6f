//! Seed sweep of the ZAB simulator: every seed must keep the safety
//! invariants under chaos and converge once healed. `RSENTINEL_SIM_SEEDS`
//! sets how many seeds (default 1000); `RSENTINEL_SIM_SEED` replays one and
//! prints its timeline.

mod sim_support;

use rsentinel_core::sim::zab_sim::{run_zab, ZabSimConfig};
use sim_support::{assert_no_failures, print_replay, replay_seed, seeds, sweep};

#[test]
fn every_seed_keeps_one_leader_per_epoch_and_converges() {
    if let Some(seed) = replay_seed() {
        let mut cfg = ZabSimConfig::chaos(seed);
        cfg.trace = true;
        return print_replay(run_zab(&cfg).map(|r| r.timeline));
    }
    let seeds = seeds();
    let failures = sweep(&seeds, |seed| {
        run_zab(&ZabSimConfig::chaos(seed))
            .err()
            .map(|f| f.to_string())
    });
    assert_no_failures(&failures, seeds.len());
}

#[test]
fn a_failing_seed_replays_byte_for_byte() {
    let mut cfg = ZabSimConfig::chaos(4242);
    cfg.trace = true;
    let a = run_zab(&cfg);
    let b = run_zab(&cfg);
    assert_eq!(a, b);
    assert!(!a.unwrap().timeline.is_empty());
}

#[test]
fn killing_the_leader_elects_a_new_one_in_a_higher_epoch() {
    let mut cfg = ZabSimConfig::calm(5, 7);
    cfg.kill_leader = true;
    let report = run_zab(&cfg).unwrap();
    assert_eq!(report.leaderships.len(), 2, "{:?}", report.leaderships);
    let (_, first, e1) = report.leaderships[0];
    let (_, second, e2) = report.leaderships[1];
    assert_eq!(first, 5, "highest id wins among equal histories");
    assert_ne!(first, second);
    assert!(e2 > e1);
}

#[test]
fn minority_side_of_a_partition_elects_nobody() {
    let mut cfg = ZabSimConfig::calm(5, 3);
    cfg.partition = Some(vec![vec![4, 5], vec![1, 2, 3]]);
    let report = run_zab(&cfg).unwrap();
    let (_, first, _) = report.leaderships[0];
    assert_eq!(first, 3, "the majority side elects its highest id");
    assert!(report.leaderships.iter().all(|(_, l, _)| *l == 3));
}
