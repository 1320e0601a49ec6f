//! The read-only `SENTINEL` subcommands (MASTERS, MASTER, REPLICAS,
//! SENTINELS, GET-MASTER-ADDR-BY-NAME, CKQUORUM, INFO-CACHE, MYID): answered
//! from `&self`, so connections run them against the shared core.

use std::borrow::Cow;

use super::NO_SUCH_MASTER;
use crate::reply::Reply;
use crate::reply_writer::{self, ReplyWriter};
use crate::sentinel::instance_map::{write_master_map, write_replica_map, write_sentinel_map};
use crate::sentinel::Sentinel;
use crate::time::Millis;

/// A read-only subcommand; aliases parse to the same variant.
#[derive(Debug)]
pub(crate) enum Query<'a> {
    /// `MASTERS`, `PRIMARIES`.
    Masters,
    /// `MASTER`, `PRIMARY`.
    Master(Cow<'a, str>),
    /// `REPLICAS`, `SLAVES`.
    Replicas(Cow<'a, str>),
    Sentinels(Cow<'a, str>),
    /// `GET-MASTER-ADDR-BY-NAME`, `GET-PRIMARY-ADDR-BY-NAME`.
    GetMasterAddrByName(Cow<'a, str>),
    CkQuorum(Cow<'a, str>),
    /// The master names asked for, as given.
    InfoCache(&'a [Vec<u8>]),
    MyId,
}

impl Query<'_> {
    /// Whether the answer carries ages (`now` is read); the others must
    /// not look at it.
    pub(super) fn reads_clock(&self) -> bool {
        !matches!(
            self,
            Query::GetMasterAddrByName(_) | Query::CkQuorum(_) | Query::MyId
        )
    }
}

impl Sentinel {
    pub(super) fn answer_query(&self, now: Millis, query: &Query<'_>) -> Reply {
        reply_writer::build(|w| self.write_query(now, query, w))
    }

    /// Writes the answer to `query` to `w`, piece by piece.
    pub(super) fn write_query<W: ReplyWriter + ?Sized>(
        &self,
        now: Millis,
        query: &Query<'_>,
        w: &mut W,
    ) {
        let hostnames = self.settings.announce_hostnames;
        let no_such_master = |w: &mut W| w.reply(&Reply::err(NO_SUCH_MASTER));
        match query {
            Query::Masters => {
                w.array(self.masters.len());
                for m in self.masters.values() {
                    write_master_map(w, now, hostnames, m);
                }
            }
            Query::Master(name) => match self.masters.get(name) {
                Some(m) => write_master_map(w, now, hostnames, m),
                None => no_such_master(w),
            },
            Query::Replicas(name) => match self.masters.get(name) {
                Some(m) => {
                    let announced = || m.replicas.values().filter(|r| r.replica_announced);
                    w.array(announced().count());
                    for r in announced() {
                        write_replica_map(w, now, hostnames, r, m);
                    }
                }
                None => no_such_master(w),
            },
            Query::Sentinels(name) => match self.masters.get(name) {
                Some(m) => {
                    w.array(m.sentinels.len());
                    for (id, p) in &m.sentinels {
                        let pending = self.peer_pending.get(id).copied().unwrap_or(0);
                        write_sentinel_map(w, now, hostnames, id, p, pending);
                    }
                }
                None => no_such_master(w),
            },
            Query::GetMasterAddrByName(name) => match self.masters.get(name) {
                Some(m) => {
                    let a = m.current_addr();
                    w.array(2);
                    w.bulk(self.announced(a).as_bytes());
                    w.bulk_int(a.port as i64);
                }
                None => w.reply(&Reply::NullArray),
            },
            Query::CkQuorum(name) => w.reply(&self.ckquorum(name)),
            Query::InfoCache(names) => w.reply(&self.info_cache(now, names)),
            Query::MyId => w.bulk(self.myid().as_bytes()),
        }
    }

    fn ckquorum(&self, name: &str) -> Reply {
        let Some(m) = self.masters.get(name) else {
            return Reply::err(NO_SUCH_MASTER);
        };
        let usable = 1 + m
            .sentinels
            .values()
            .filter(|p| !p.common.s_down && !p.common.o_down)
            .count();
        let no_quorum = !m.odown_rule().is_reached(usable);
        let no_auth = !m.majority_rule().is_reached(usable);
        if !no_quorum && !no_auth {
            return Reply::Simple(format!(
                "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
            ));
        }
        let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
        if no_quorum {
            e.push_str(
                "Not enough available Sentinels to reach the specified quorum for this master",
            );
        }
        if no_auth {
            if no_quorum {
                e.push_str(". ");
            }
            e.push_str(
                "Not enough available Sentinels to reach the majority and authorize a failover",
            );
        }
        Reply::Error(e)
    }

    /// Each known master named (once, in the order first named): its name,
    /// then `[age ms, INFO text]` for it and each of its replicas.
    fn info_cache(&self, now: Millis, names: &[Vec<u8>]) -> Reply {
        let mut known: Vec<Cow<'_, str>> = Vec::new();
        for n in names {
            let n = String::from_utf8_lossy(n);
            if self.masters.contains_key(&n) && !known.contains(&n) {
                known.push(n);
            }
        }
        let entry = |age: i64, text: &Option<String>| {
            Reply::Array(vec![
                Reply::Int(age),
                text.as_ref().map_or(Reply::Null, Reply::bulk),
            ])
        };
        let mut out = Vec::new();
        for name in known {
            let Some(m) = self.masters.get(&name) else {
                continue;
            };
            let mut items = vec![entry(
                m.common.info_refresh.map_or(0, |t| now.since(t).0 as i64),
                &m.common.info_text,
            )];
            for r in m.replicas.values() {
                let age = r.common.info_refresh.map_or(0, |t| now.since(t).0 as i64);
                items.push(entry(age, &r.common.info_text));
            }
            out.push(Reply::bulk(&*name));
            out.push(Reply::Array(items));
        }
        Reply::Array(out)
    }
}
