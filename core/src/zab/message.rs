//! Messages between ZAB servers and their flat text encoding (a list of
//! fields, one RESP bulk string each on the wire).

use thiserror::Error;

use super::vote::{Notification, ServerState, Vote};
use super::zxid::Zxid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZabMessage {
    /// Fast leader election: the sender's current vote.
    Notification(Notification),
    /// Follower → chosen leader: the epoch it last accepted and its history.
    FollowerInfo {
        accepted_epoch: u64,
        last_zxid: Zxid,
    },
    /// Leader → followers: the epoch it proposes (max accepted + 1).
    NewEpoch { epoch: u64 },
    /// Follower → leader: `epoch` accepted; no earlier leader can reuse it.
    AckEpoch {
        epoch: u64,
        current_epoch: u64,
        last_zxid: Zxid,
    },
    /// Leader → follower: the epoch is established; adopt it and the
    /// leader's history (synchronisation, reduced to its last zxid).
    NewLeader { epoch: u64, zxid: Zxid },
    /// Leader heartbeat.
    Ping { epoch: u64 },
    /// Follower heartbeat answer.
    PingAck { epoch: u64 },
    /// A leader's transaction (only its id matters to elections).
    Proposal { epoch: u64, zxid: Zxid },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unknown ZAB message kind '{0}'")]
    UnknownKind(String),
    #[error("wrong number of fields for {0}")]
    Arity(&'static str),
    #[error("invalid field '{0}'")]
    Field(String),
}

fn num(s: &str) -> Result<u64, DecodeError> {
    s.parse().map_err(|_| DecodeError::Field(s.to_string()))
}

impl ZabMessage {
    /// The message's kind, as written first in its encoding.
    pub fn kind(&self) -> &'static str {
        match self {
            ZabMessage::Notification(_) => "NOTIFICATION",
            ZabMessage::FollowerInfo { .. } => "FOLLOWERINFO",
            ZabMessage::NewEpoch { .. } => "NEWEPOCH",
            ZabMessage::AckEpoch { .. } => "ACKEPOCH",
            ZabMessage::NewLeader { .. } => "NEWLEADER",
            ZabMessage::Ping { .. } => "PING",
            ZabMessage::PingAck { .. } => "PINGACK",
            ZabMessage::Proposal { .. } => "PROPOSAL",
        }
    }

    /// Flat fields: the kind, then numbers (and a state name).
    pub fn to_fields(&self) -> Vec<String> {
        let mut f = vec![self.kind().to_string()];
        match *self {
            ZabMessage::Notification(n) => f.extend([
                n.vote.leader.to_string(),
                n.vote.zxid.0.to_string(),
                n.vote.peer_epoch.to_string(),
                n.round.to_string(),
                n.state.as_str().to_string(),
            ]),
            ZabMessage::FollowerInfo {
                accepted_epoch,
                last_zxid,
            } => f.extend([accepted_epoch.to_string(), last_zxid.0.to_string()]),
            ZabMessage::NewEpoch { epoch }
            | ZabMessage::Ping { epoch }
            | ZabMessage::PingAck { epoch } => f.push(epoch.to_string()),
            ZabMessage::AckEpoch {
                epoch,
                current_epoch,
                last_zxid,
            } => f.extend([
                epoch.to_string(),
                current_epoch.to_string(),
                last_zxid.0.to_string(),
            ]),
            ZabMessage::NewLeader { epoch, zxid } | ZabMessage::Proposal { epoch, zxid } => {
                f.extend([epoch.to_string(), zxid.0.to_string()])
            }
        }
        f
    }

    /// Parses what [`ZabMessage::to_fields`] wrote.
    pub fn from_fields<S: AsRef<str>>(fields: &[S]) -> Result<ZabMessage, DecodeError> {
        let f: Vec<&str> = fields.iter().map(|s| s.as_ref()).collect();
        let (kind, rest) = f.split_first().ok_or(DecodeError::Arity("empty"))?;
        let want = |n: usize, name: &'static str| {
            if rest.len() == n {
                Ok(())
            } else {
                Err(DecodeError::Arity(name))
            }
        };
        Ok(match *kind {
            "NOTIFICATION" => {
                want(5, "NOTIFICATION")?;
                ZabMessage::Notification(Notification {
                    vote: Vote {
                        leader: num(rest[0])?,
                        zxid: Zxid(num(rest[1])?),
                        peer_epoch: num(rest[2])?,
                    },
                    round: num(rest[3])?,
                    state: ServerState::parse(rest[4])
                        .ok_or_else(|| DecodeError::Field(rest[4].to_string()))?,
                })
            }
            "FOLLOWERINFO" => {
                want(2, "FOLLOWERINFO")?;
                ZabMessage::FollowerInfo {
                    accepted_epoch: num(rest[0])?,
                    last_zxid: Zxid(num(rest[1])?),
                }
            }
            "NEWEPOCH" => {
                want(1, "NEWEPOCH")?;
                ZabMessage::NewEpoch {
                    epoch: num(rest[0])?,
                }
            }
            "PING" => {
                want(1, "PING")?;
                ZabMessage::Ping {
                    epoch: num(rest[0])?,
                }
            }
            "PINGACK" => {
                want(1, "PINGACK")?;
                ZabMessage::PingAck {
                    epoch: num(rest[0])?,
                }
            }
            "ACKEPOCH" => {
                want(3, "ACKEPOCH")?;
                ZabMessage::AckEpoch {
                    epoch: num(rest[0])?,
                    current_epoch: num(rest[1])?,
                    last_zxid: Zxid(num(rest[2])?),
                }
            }
            "NEWLEADER" => {
                want(2, "NEWLEADER")?;
                ZabMessage::NewLeader {
                    epoch: num(rest[0])?,
                    zxid: Zxid(num(rest[1])?),
                }
            }
            "PROPOSAL" => {
                want(2, "PROPOSAL")?;
                ZabMessage::Proposal {
                    epoch: num(rest[0])?,
                    zxid: Zxid(num(rest[1])?),
                }
            }
            other => return Err(DecodeError::UnknownKind(other.to_string())),
        })
    }
}

impl std::fmt::Display for ZabMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZabMessage::Notification(n) => {
                write!(
                    f,
                    "NOTIFICATION round={} vote={} state={}",
                    n.round, n.vote, n.state
                )
            }
            ZabMessage::FollowerInfo {
                accepted_epoch,
                last_zxid,
            } => write!(
                f,
                "FOLLOWERINFO accepted_epoch={accepted_epoch} last_zxid={last_zxid}"
            ),
            ZabMessage::NewEpoch { epoch } => write!(f, "NEWEPOCH epoch={epoch}"),
            ZabMessage::AckEpoch {
                epoch,
                current_epoch,
                last_zxid,
            } => write!(
                f,
                "ACKEPOCH epoch={epoch} current_epoch={current_epoch} last_zxid={last_zxid}"
            ),
            ZabMessage::NewLeader { epoch, zxid } => {
                write!(f, "NEWLEADER epoch={epoch} zxid={zxid}")
            }
            ZabMessage::Ping { epoch } => write!(f, "PING epoch={epoch}"),
            ZabMessage::PingAck { epoch } => write!(f, "PINGACK epoch={epoch}"),
            ZabMessage::Proposal { epoch, zxid } => write!(f, "PROPOSAL epoch={epoch} zxid={zxid}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips_through_fields() {
        let msgs = [
            ZabMessage::Notification(Notification {
                vote: Vote {
                    leader: 3,
                    zxid: Zxid::new(2, 9),
                    peer_epoch: 2,
                },
                round: 7,
                state: ServerState::Following,
            }),
            ZabMessage::FollowerInfo {
                accepted_epoch: 4,
                last_zxid: Zxid(77),
            },
            ZabMessage::NewEpoch { epoch: 5 },
            ZabMessage::AckEpoch {
                epoch: 5,
                current_epoch: 4,
                last_zxid: Zxid(1),
            },
            ZabMessage::NewLeader {
                epoch: 5,
                zxid: Zxid::start_of(5),
            },
            ZabMessage::Ping { epoch: 5 },
            ZabMessage::PingAck { epoch: 5 },
            ZabMessage::Proposal {
                epoch: 5,
                zxid: Zxid::new(5, 1),
            },
        ];
        for m in msgs {
            assert_eq!(ZabMessage::from_fields(&m.to_fields()), Ok(m));
        }
    }

    #[test]
    fn malformed_fields_are_rejected() {
        assert_eq!(
            ZabMessage::from_fields(&["NOPE"]),
            Err(DecodeError::UnknownKind("NOPE".into()))
        );
        assert_eq!(
            ZabMessage::from_fields(&["PING"]),
            Err(DecodeError::Arity("PING"))
        );
        assert_eq!(
            ZabMessage::from_fields(&["PING", "x"]),
            Err(DecodeError::Field("x".into()))
        );
        assert!(ZabMessage::from_fields::<&str>(&[]).is_err());
    }
}
