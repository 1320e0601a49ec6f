//! A modelled Redis server: just enough of PING, INFO, PUBLISH, SUBSCRIBE,
//! MULTI/EXEC, CLIENT KILL and SLAVEOF for sentinels to monitor it, fail it
//! over and reconfigure it — with the reply shapes `redis-server` 7.0 uses.

use rsentinel_core::reply::Reply;
use rsentinel_core::sentinel::links::Channel;
use rsentinel_core::time::Millis;

use super::network::REDIS_BASE_PORT;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Master,
    /// Replicating from the instance on this port.
    Replica(u16),
}

pub struct Redis {
    pub port: u16,
    /// False after kill -9, until restarted.
    pub up: bool,
    /// SIGSTOPped: connections stay up, nothing is answered.
    pub hung: bool,
    pub run_id: String,
    pub role: Role,
    /// Replication link to the master is established.
    pub link_up: bool,
    /// The replication link cannot come up before this (SLAVEOF handshake).
    pub link_ready_at: Millis,
    pub link_down_since: Option<Millis>,
    pub offset: u64,
    pub priority: u32,
}

/// A replica currently streaming from an instance (for its INFO).
pub struct Follower {
    pub port: u16,
    pub offset: u64,
}

/// What executing one command did besides replying.
#[derive(Default)]
pub struct Effects {
    /// A hello to fan out to subscribers (and down the replication chain).
    pub publish: Option<Vec<u8>>,
    /// `CLIENT KILL TYPE normal|pubsub`: close other clients of that kind.
    pub kill: Vec<Channel>,
    pub subscribed: bool,
    /// SLAVEOF changed the role; the world schedules the link handshake.
    pub role_changed: bool,
}

impl Redis {
    pub fn new(index: usize, run_id: String, role: Role) -> Redis {
        Redis {
            port: REDIS_BASE_PORT + index as u16,
            up: true,
            hung: false,
            run_id,
            role,
            link_up: false,
            link_ready_at: Millis::ZERO,
            link_down_since: None,
            offset: 0,
            priority: 100,
        }
    }

    /// Runs one command from a client whose MULTI state is `multi`.
    /// `subscribers` is the PUBLISH count the world computed beforehand.
    pub fn execute(
        &mut self,
        now: Millis,
        args: &[Vec<u8>],
        multi: &mut Option<Vec<Vec<Vec<u8>>>>,
        followers: &[Follower],
        fx: &mut Effects,
    ) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        if let Some(queued) = multi.as_mut() {
            if name != "EXEC" && name != "MULTI" {
                queued.push(args.to_vec());
                return Reply::Simple("QUEUED".into());
            }
        }
        match name.as_str() {
            "MULTI" => {
                if multi.is_some() {
                    return Reply::err("MULTI calls can not be nested");
                }
                *multi = Some(Vec::new());
                Reply::ok()
            }
            "EXEC" => {
                let Some(queued) = multi.take() else {
                    return Reply::err("EXEC without MULTI");
                };
                let mut none = None;
                let replies = queued
                    .iter()
                    .map(|cmd| self.execute(now, cmd, &mut none, followers, fx))
                    .collect();
                Reply::Array(replies)
            }
            "PING" => Reply::Simple("PONG".into()),
            "INFO" => Reply::bulk(self.info(now, followers)),
            "PUBLISH" if args.len() == 3 => {
                fx.publish = Some(args[2].clone());
                // The world replaces this with the real receiver count.
                Reply::Int(0)
            }
            "SUBSCRIBE" if args.len() == 2 => {
                fx.subscribed = true;
                Reply::Array(vec![
                    Reply::bulk("subscribe"),
                    Reply::bulk(&args[1]),
                    Reply::Int(1),
                ])
            }
            "CLIENT" if args.len() == 4 && args[1].eq_ignore_ascii_case(b"KILL") => {
                if args[3].eq_ignore_ascii_case(b"normal") {
                    fx.kill.push(Channel::Cmd);
                } else if args[3].eq_ignore_ascii_case(b"pubsub") {
                    fx.kill.push(Channel::PubSub);
                }
                Reply::Int(0)
            }
            "SLAVEOF" | "REPLICAOF" if args.len() == 3 => {
                self.slaveof(now, &args[1], &args[2], fx);
                Reply::ok()
            }
            "AUTH" | "CLIENT" | "CONFIG" | "SCRIPT" => Reply::ok(),
            _ => Reply::err(format!("unknown command '{}'", name.to_lowercase())),
        }
    }

    fn slaveof(&mut self, now: Millis, host: &[u8], port: &[u8], fx: &mut Effects) {
        if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
            if self.role != Role::Master {
                self.role = Role::Master;
                self.link_up = false;
                self.link_down_since = None;
                fx.role_changed = true;
            }
            return;
        }
        let Some(port) = std::str::from_utf8(port)
            .ok()
            .and_then(|p| p.parse::<u16>().ok())
        else {
            return;
        };
        if port == self.port || self.role == Role::Replica(port) {
            // Already replicating from there: Redis answers OK and does nothing.
            return;
        }
        self.role = Role::Replica(port);
        self.link_up = false;
        self.link_down_since = None;
        self.link_ready_at = now;
        fx.role_changed = true;
    }

    /// INFO text shaped like redis-server 7.0's (the fields a sentinel reads
    /// plus a few it must skip).
    pub fn info(&self, now: Millis, followers: &[Follower]) -> String {
        let mut s = String::new();
        s.push_str("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n");
        s.push_str(&format!(
            "run_id:{}\r\ntcp_port:{}\r\n",
            self.run_id, self.port
        ));
        s.push_str("\r\n# Replication\r\n");
        match self.role {
            Role::Master => {
                s.push_str("role:master\r\n");
                s.push_str(&format!("connected_slaves:{}\r\n", followers.len()));
                for (i, f) in followers.iter().enumerate() {
                    s.push_str(&format!(
                        "slave{i}:ip=127.0.0.1,port={},state=online,offset={},lag=0\r\n",
                        f.port, f.offset
                    ));
                }
            }
            Role::Replica(port) => {
                s.push_str("role:slave\r\nmaster_host:127.0.0.1\r\n");
                s.push_str(&format!("master_port:{port}\r\n"));
                let status = if self.link_up { "up" } else { "down" };
                s.push_str(&format!("master_link_status:{status}\r\n"));
                s.push_str(if self.link_up {
                    "master_last_io_seconds_ago:0\r\n"
                } else {
                    "master_last_io_seconds_ago:-1\r\n"
                });
                s.push_str("master_sync_in_progress:0\r\n");
                s.push_str(&format!("slave_read_repl_offset:{}\r\n", self.offset));
                s.push_str(&format!("slave_repl_offset:{}\r\n", self.offset));
                if !self.link_up {
                    let secs = self
                        .link_down_since
                        .map_or(-1, |t| (now.since(t).0 / 1000) as i64);
                    s.push_str(&format!("master_link_down_since_seconds:{secs}\r\n"));
                }
                s.push_str(&format!("slave_priority:{}\r\n", self.priority));
                s.push_str("slave_read_only:1\r\nreplica_announced:1\r\n");
                s.push_str(&format!("connected_slaves:{}\r\n", followers.len()));
                for (i, f) in followers.iter().enumerate() {
                    s.push_str(&format!(
                        "slave{i}:ip=127.0.0.1,port={},state=online,offset={},lag=0\r\n",
                        f.port, f.offset
                    ));
                }
            }
        }
        s.push_str("master_failover_state:no-failover\r\n");
        s.push_str(&format!(
            "master_repl_offset:{}\r\nsecond_repl_offset:-1\r\n",
            self.offset
        ));
        s
    }
}
