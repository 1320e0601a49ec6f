//! Seed sweep of the Kafka controller simulator: one acting controller per
//! controller epoch, leaders always in the ISR, preferred leaders restored
//! after healing. `RSENTINEL_SIM_SEEDS` sets the seed count (default 1000);
//! `RSENTINEL_SIM_SEED` replays one seed and prints its timeline.

mod sim_support;

use rsentinel_core::sim::kafka_sim::{run_kafka, KafkaSimConfig};
use sim_support::{assert_no_failures, print_replay, replay_seed, seeds, sweep};

#[test]
fn every_seed_keeps_one_controller_per_epoch_and_restores_preferred_leaders() {
    if let Some(seed) = replay_seed() {
        let mut cfg = KafkaSimConfig::chaos(seed);
        cfg.trace = true;
        return print_replay(run_kafka(&cfg).map(|r| r.timeline));
    }
    let seeds = seeds();
    let failures = sweep(&seeds, |seed| {
        run_kafka(&KafkaSimConfig::chaos(seed))
            .err()
            .map(|f| f.to_string())
    });
    assert_no_failures(&failures, seeds.len());
}

#[test]
fn same_seed_gives_the_same_timeline() {
    let mut cfg = KafkaSimConfig::chaos(99);
    cfg.trace = true;
    let a = run_kafka(&cfg).unwrap();
    let b = run_kafka(&cfg).unwrap();
    assert_eq!(a, b);
    assert!(a.timeline.len() > 10);
}

#[test]
fn killing_the_controller_elects_one_new_controller_with_a_higher_epoch() {
    let mut cfg = KafkaSimConfig::calm(3, 6, 1);
    cfg.kill_controller = true;
    let report = run_kafka(&cfg).unwrap();
    assert_eq!(report.controllers.len(), 2, "{:?}", report.controllers);
    let (first_at, first, e1) = report.controllers[0];
    let (second_at, second, e2) = report.controllers[1];
    assert_ne!(first, second);
    assert!(e2 > e1);
    // Nobody can take over before the dead controller's session times out.
    assert!(second_at.since(first_at).as_u64() >= cfg.session_timeout_ms);
    // Preferred replicas lead again once everyone is back.
    assert_eq!(
        report.final_leaders,
        (0..6u64).map(|p| Some(1 + p % 3)).collect::<Vec<_>>()
    );
}

#[test]
fn a_stale_controller_is_fenced_in_the_timeline() {
    // Search a few seeds for a pause of the controller; its late orders must
    // be rejected or its writes fenced, never applied.
    let fenced = (0..200u64).any(|seed| {
        let mut cfg = KafkaSimConfig::chaos(seed);
        cfg.trace = true;
        let report = run_kafka(&cfg).unwrap();
        report
            .timeline
            .iter()
            .any(|l| l.contains("fenced") || l.contains("stale controller fenced"))
    });
    assert!(fenced, "no seed exercised fencing");
}
