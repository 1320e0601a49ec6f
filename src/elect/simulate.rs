//! `rsentinel elect zab|kafka` in simulation mode: run the seeded simulator
//! and print its timeline (virtual milliseconds). Same seed, same bytes.

use rsentinel_core::sim::kafka_sim::{run_kafka, KafkaSimConfig};
use rsentinel_core::sim::zab_sim::{run_zab, ZabSimConfig};
use rsentinel_core::zab::ServerId;

use super::args::{KafkaArgs, ZabArgs};
use super::error::ElectError;

/// Parses `1,2/3,4,5` into groups.
pub fn parse_partition(spec: &str, nodes: u64) -> Result<Vec<Vec<ServerId>>, ElectError> {
    let bad = || {
        ElectError::Usage(format!(
            "--partition wants groups like 1,2/3,4,5 with ids 1..={nodes}, got '{spec}'"
        ))
    };
    let groups: Vec<Vec<ServerId>> = spec
        .split('/')
        .map(|g| {
            g.split(',')
                .map(|id| id.trim().parse::<ServerId>())
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let mut seen = std::collections::BTreeSet::new();
    for id in groups.iter().flatten() {
        if *id == 0 || *id > nodes || !seen.insert(*id) {
            return Err(bad());
        }
    }
    Ok(groups)
}

/// Runs the ZAB simulator; returns the text to print.
pub fn zab(args: &ZabArgs) -> Result<String, ElectError> {
    let mut cfg = ZabSimConfig::calm(args.nodes, args.seed);
    cfg.kill_leader = args.kill_leader;
    if let Some(spec) = &args.partition {
        cfg.partition = Some(parse_partition(spec, args.nodes)?);
    }
    match run_zab(&cfg) {
        Ok(r) => {
            let mut text = r.timeline.join("\n");
            text.push_str(&format!(
                "\nresult: leader={} epoch={} after {}ms of virtual time; leaderships: {}\n",
                r.converged.0,
                r.converged.1,
                r.converged.2.as_u64(),
                r.leaderships
                    .iter()
                    .map(|(at, l, e)| format!("{l}@epoch{e}({}ms)", at.as_u64()))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            Ok(text)
        }
        Err(f) => Err(f.into()),
    }
}

/// Runs the Kafka simulator; returns the text to print.
pub fn kafka(args: &KafkaArgs) -> Result<String, ElectError> {
    let mut cfg = KafkaSimConfig::calm(args.brokers, args.partitions, args.seed);
    cfg.kill_controller = args.kill_controller;
    let r = run_kafka(&cfg)?;
    let leaders: Vec<String> = r
        .final_leaders
        .iter()
        .enumerate()
        .map(|(p, l)| format!("p{p}={}", l.map_or("none".into(), |l| l.to_string())))
        .collect();
    Ok(format!(
        "{}\nresult: controller={} epoch={}; leaders {}\n",
        r.timeline.join("\n"),
        r.final_controller.0,
        r.final_controller.1,
        leaders.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_specs() {
        assert_eq!(
            parse_partition("1,2/3,4,5", 5).unwrap(),
            vec![vec![1, 2], vec![3, 4, 5]]
        );
        assert!(parse_partition("1,2/2,3", 5).is_err());
        assert!(parse_partition("1,6", 5).is_err());
        assert!(parse_partition("a", 5).is_err());
    }
}
