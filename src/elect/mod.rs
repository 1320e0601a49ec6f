//! `rsentinel elect`: run ZooKeeper-style (ZAB) and Kafka-style controller
//! elections, either simulated (a seeded timeline) or for real (ZAB over
//! TCP between processes; Kafka brokers against a redis-server store).

mod args;
mod error;
mod kafka_redis;
mod output;
mod simulate;
mod zab_tcp;

pub use error::ElectError;
pub use kafka_redis::run_kafka_broker;
pub use output::LineSink;
pub use zab_tcp::{run_zab_node, tcp_config};

use args::Flags;

pub const USAGE: &str = "usage:
  rsentinel elect zab --nodes N [--seed N] [--kill-leader] [--partition 1,2/3,4,5]
  rsentinel elect zab --id N --peers host:port,host:port,...
  rsentinel elect kafka --brokers N --partitions N [--seed N] [--kill-controller]
  rsentinel elect kafka --broker-id N --store redis://127.0.0.1:PORT [--session-timeout-ms 3000]";

/// Entry point of `rsentinel elect <args...>` (`args` excludes `elect`).
pub async fn run(args: Vec<String>) -> Result<(), ElectError> {
    let Some((which, rest)) = args.split_first() else {
        return Err(ElectError::Usage(
            "missing election kind (zab or kafka)".into(),
        ));
    };
    match which.as_str() {
        "zab" => {
            let flags = Flags::parse(rest, &["kill-leader"])?;
            if flags.has("id") || flags.has("peers") {
                flags.only(&["id", "peers"])?;
                let id = flags
                    .num("id")?
                    .ok_or_else(|| ElectError::Usage("--id is required with --peers".into()))?;
                let peers: Vec<String> = flags
                    .str("peers")
                    .ok_or_else(|| ElectError::Usage("--peers is required with --id".into()))?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                run_zab_node(id, peers, LineSink::Stdout).await
            } else {
                print_block(simulate::zab(&flags)?)
            }
        }
        "kafka" => {
            let flags = Flags::parse(rest, &["kill-controller"])?;
            if flags.has("broker-id") || flags.has("store") {
                flags.only(&["broker-id", "store", "session-timeout-ms"])?;
                let id = flags.num("broker-id")?.ok_or_else(|| {
                    ElectError::Usage("--broker-id is required with --store".into())
                })?;
                let store = flags.str("store").ok_or_else(|| {
                    ElectError::Usage("--store is required with --broker-id".into())
                })?;
                let timeout = flags.num_or("session-timeout-ms", 3000)?;
                run_kafka_broker(id, store, timeout, LineSink::Stdout).await
            } else {
                print_block(simulate::kafka(&flags)?)
            }
        }
        "-h" | "--help" | "help" => print_block(format!("{USAGE}\n")),
        other => Err(ElectError::Usage(format!(
            "unknown election kind '{other}'"
        ))),
    }
}

fn print_block(text: String) -> Result<(), ElectError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
