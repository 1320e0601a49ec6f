//! `rsentinel elect`: run ZooKeeper-style (ZAB) and Kafka-style controller
//! elections, either simulated (a seeded timeline) or for real (ZAB over
//! TCP between processes; Kafka brokers against a redis-server store).

mod args;
mod error;
mod kafka_redis;
mod kafka_zk;
mod output;
mod simulate;
mod zab_tcp;
mod zab_watch;

pub use error::ElectError;
pub use kafka_redis::run_kafka_broker;
pub use output::LineSink;
pub use zab_tcp::{run_zab_node, tcp_config};

use args::{ElectCli, Kind};
use clap::Parser;

pub const USAGE: &str = "usage:
  rsentinel elect zab --nodes N [--seed N] [--kill-leader] [--partition 1,2/3,4,5]
  rsentinel elect zab --id N --peers host:port,host:port,...
  rsentinel elect kafka --brokers N --partitions N [--seed N] [--kill-controller]
  rsentinel elect kafka --broker-id N --store redis://127.0.0.1:PORT [--session-timeout-ms 3000]
  rsentinel elect kafka --broker-id N --store zk://host:port,.../chroot [--partitions N] [--replicas 1,2,3]
  rsentinel elect zab-watch --servers sid@host:electionport,... [--json FILE] [--check]";

/// Entry point of `rsentinel elect <args...>` (`args` excludes `elect`).
pub async fn run(args: Vec<String>) -> Result<(), ElectError> {
    let cli = match ElectCli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help: clap's text on stdout, success.
            return print_block(e.render().to_string());
        }
        Err(e) => return Err(ElectError::Cli(e.render().to_string().trim_end().into())),
    };
    match cli.kind {
        Kind::Zab(zab) => match (zab.id, zab.peers.as_deref()) {
            (Some(id), Some(peers)) => {
                let peers: Vec<String> = peers
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                run_zab_node(id, peers, LineSink::Stdout).await
            }
            _ => print_block(simulate::zab(&zab)?),
        },
        Kind::Kafka(kafka) => match (kafka.broker_id, kafka.store.as_deref()) {
            (Some(id), Some(store)) if store.starts_with("zk://") => {
                log_to_stderr();
                let replicas = kafka
                    .replicas
                    .split(',')
                    .map(|r| r.trim().parse())
                    .collect::<Result<Vec<u64>, _>>()
                    .map_err(|_| {
                        ElectError::Usage("--replicas: broker ids, comma-separated".into())
                    })?;
                let opts = kafka_zk::KafkaZkOptions {
                    broker: id,
                    store,
                    session_timeout_ms: kafka.session_timeout_ms,
                    topic: &kafka.topic,
                    partitions: kafka.partitions as u32,
                    replicas,
                };
                kafka_zk::run_kafka_zk(opts, LineSink::Stdout).await
            }
            (Some(id), Some(store)) => {
                run_kafka_broker(id, store, kafka.session_timeout_ms, LineSink::Stdout).await
            }
            _ => print_block(simulate::kafka(&kafka)?),
        },
        Kind::ZabWatch(watch) => {
            log_to_stderr();
            zab_watch::run(&watch, LineSink::Stdout).await
        }
    }
}

/// The real-system commands log what they refuse on stderr (stdout is
/// the report); a subscriber already installed is kept.
fn log_to_stderr() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // `RSENTINEL_ELECT_LOG` takes `level` or `target=level,...` (tracing's
    // `Targets` syntax, which needs no regex engine in the binary).
    let filter = std::env::var("RSENTINEL_ELECT_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing_subscriber::filter::LevelFilter::INFO)
        });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
}

fn print_block(text: String) -> Result<(), ElectError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
