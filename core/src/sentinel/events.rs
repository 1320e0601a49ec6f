//! Sentinel events: published on a channel named after the event, logged at
//! the event's level, and (for warnings about an instance) handed to the
//! master's notification script.

use super::addr::Addr;

/// Redis log levels, in increasing severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl Level {
    /// The character Redis puts in a log line for this level.
    pub fn log_char(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }
}

/// One event, e.g. `+sdown master mymaster 127.0.0.1 6379`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub level: Level,
    /// The event type and pub/sub channel, e.g. `+sdown`.
    pub kind: String,
    /// The description (the pub/sub message).
    pub msg: String,
    /// The master the event concerns, also when the message does not name
    /// it (`+vote-for-leader <runid> <epoch>`, `+new-epoch <epoch>`).
    pub master: Option<String>,
}

impl Event {
    /// Debug-level events are logged but never published.
    pub fn is_published(&self) -> bool {
        self.level != Level::Debug
    }
}

/// What `%@` describes: the instance an event is about.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    Master {
        name: &'a str,
        addr: &'a Addr,
    },
    Replica {
        name: &'a str,
        addr: &'a Addr,
        master: &'a str,
        master_addr: &'a Addr,
    },
    Sentinel {
        runid: &'a str,
        addr: &'a Addr,
        master: &'a str,
        master_addr: &'a Addr,
    },
}

impl Subject<'_> {
    /// Redis's `%@`: `<type> <name> <ip> <port>[ @ <master> <ip> <port>]`,
    /// each address in its announced form (`hostnames` is
    /// `announce-hostnames`).
    pub fn describe(&self, hostnames: bool) -> String {
        let at = |a: &Addr| format!("{} {}", a.announced(hostnames), a.port);
        match self {
            Subject::Master { name, addr } => format!("master {name} {}", at(addr)),
            Subject::Replica {
                name,
                addr,
                master,
                master_addr,
            } => format!("slave {name} {} @ {master} {}", at(addr), at(master_addr)),
            Subject::Sentinel {
                runid,
                addr,
                master,
                master_addr,
            } => format!(
                "sentinel {runid} {} @ {master} {}",
                at(addr),
                at(master_addr)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_description_names_its_master() {
        let a = Addr::new("127.0.0.1", 6380);
        let m = Addr::new("127.0.0.1", 6379);
        let s = Subject::Replica {
            name: "127.0.0.1:6380",
            addr: &a,
            master: "mymaster",
            master_addr: &m,
        };
        assert_eq!(
            s.describe(false),
            "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"
        );
    }
}
