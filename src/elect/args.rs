//! The `rsentinel elect` command line, parsed with clap: one subcommand per
//! election kind, each either a seeded simulation (the default) or one real
//! node (`--id`/`--peers` for ZAB, `--broker-id`/`--store` for Kafka).

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rsentinel elect",
    bin_name = "rsentinel elect",
    no_binary_name = true,
    about = "ZooKeeper-style (ZAB) and Kafka-style controller elections, simulated or for real"
)]
pub struct ElectCli {
    #[command(subcommand)]
    pub kind: Kind,
}

#[derive(Debug, Subcommand)]
pub enum Kind {
    /// ZooKeeper fast leader election.
    Zab(ZabArgs),
    /// Kafka controller election and partition leaders.
    Kafka(KafkaArgs),
    /// Watch a real ZooKeeper ensemble's elections, read-only.
    ZabWatch(ZabWatchArgs),
}

#[derive(Debug, Args)]
pub struct ZabWatchArgs {
    /// The ensemble's election ports, e.g. 1@10.0.0.1:3888,2@10.0.0.2:3888.
    #[arg(long)]
    pub servers: String,
    /// Also write every state change to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Check the election's safety and outcome; exit non-zero on a failure.
    #[arg(long)]
    pub check: bool,
    /// Our sid: outside the voting view and above every server's (the
    /// default is the highest listed sid + 1000).
    #[arg(long)]
    pub sid: Option<u64>,
    /// The election address we listen on and announce.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// How often each server is asked for its vote.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub poll_ms: u64,
    /// Stop after this long (default: run until stopped).
    #[arg(long)]
    pub duration_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ZabArgs {
    /// Simulated ensemble size.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=15),
          conflicts_with_all = ["id", "peers"])]
    pub nodes: u64,
    /// Seed of the simulation (same seed, same timeline).
    #[arg(long, default_value_t = 1, conflicts_with_all = ["id", "peers"])]
    pub seed: u64,
    /// Kill the elected leader and elect again.
    #[arg(long, conflicts_with_all = ["id", "peers"])]
    pub kill_leader: bool,
    /// Network partition as groups of ids, e.g. 1,2/3,4,5.
    #[arg(long, conflicts_with_all = ["id", "peers"])]
    pub partition: Option<String>,
    /// Run one real node with this id (1-based index into --peers).
    #[arg(long, requires = "peers")]
    pub id: Option<u64>,
    /// Every node's host:port, comma-separated, in id order.
    #[arg(long, requires = "id")]
    pub peers: Option<String>,
}

#[derive(Debug, Args)]
pub struct KafkaArgs {
    /// Simulated cluster size.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=15),
          conflicts_with_all = ["broker_id", "store"])]
    pub brokers: u64,
    /// Partitions (simulated, or of the topic a ZooKeeper-backed controller
    /// manages).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub partitions: u64,
    /// Seed of the simulation (same seed, same timeline).
    #[arg(long, default_value_t = 1, conflicts_with_all = ["broker_id", "store"])]
    pub seed: u64,
    /// Kill the elected controller and elect again.
    #[arg(long, conflicts_with_all = ["broker_id", "store"])]
    pub kill_controller: bool,
    /// Run one real broker with this id.
    #[arg(long, requires = "store")]
    pub broker_id: Option<u64>,
    /// The coordination store: redis://127.0.0.1:PORT, or a real ZooKeeper
    /// as zk://host:port,host:port/chroot.
    #[arg(long, requires = "broker_id")]
    pub store: Option<String>,
    /// Session timeout of a real broker.
    #[arg(long, default_value_t = 3000)]
    pub session_timeout_ms: u64,
    /// The topic a ZooKeeper-backed controller manages.
    #[arg(long, default_value = "rsentinel", requires = "store")]
    pub topic: String,
    /// The topic's replicas (brokers), comma-separated.
    #[arg(long, default_value = "1,2,3", requires = "store")]
    pub replicas: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ElectCli, clap::Error> {
        ElectCli::try_parse_from(s.split_whitespace())
    }

    #[test]
    fn values_switches_and_defaults() {
        let Kind::Zab(z) = parse("zab --nodes 5 --kill-leader --seed 9").unwrap().kind else {
            panic!("zab")
        };
        assert_eq!((z.nodes, z.seed, z.kill_leader), (5, 9, true));
        let Kind::Kafka(k) = parse("kafka").unwrap().kind else {
            panic!("kafka")
        };
        assert_eq!((k.brokers, k.partitions, k.seed), (3, 6, 1));
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for bad in [
            "zab nodes 5",
            "zab --nodes",
            "zab --nodes x",
            "zab --nodes 16",
            "zab --id 1",
            "zab --id 1 --peers a:1 --seed 3",
            "kafka --store redis://x",
            "raft",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
