//! The instance maps of `SENTINEL MASTER(S)/REPLICAS/SENTINELS`: Redis's
//! exact field order, every value a bulk string.
//!
//! A map is written twice over the same field list: once to count its
//! fields (RESP announces a map's length first, and several fields are
//! there only in some states), once to write them.

use super::instance::{Common, Master, PeerSentinel, ReconfState, Replica};
use crate::reply_writer::ReplyWriter;
use crate::time::Millis;

/// Where a map's fields go: a count, or a writer.
trait Fields {
    fn s(&mut self, k: &str, v: &str);
    fn n(&mut self, k: &str, v: i64);
}

struct Count(usize);

impl Fields for Count {
    fn s(&mut self, _: &str, _: &str) {
        self.0 += 1;
    }
    fn n(&mut self, _: &str, _: i64) {
        self.0 += 1;
    }
}

struct Write<'w, W: ReplyWriter + ?Sized>(&'w mut W);

impl<W: ReplyWriter + ?Sized> Fields for Write<'_, W> {
    fn s(&mut self, k: &str, v: &str) {
        self.0.bulk(k.as_bytes());
        self.0.bulk(v.as_bytes());
    }
    fn n(&mut self, k: &str, v: i64) {
        self.0.bulk(k.as_bytes());
        self.0.bulk_int(v);
    }
}

/// Writes the map whose fields `fields` lists.
fn write_map<W: ReplyWriter + ?Sized>(w: &mut W, fields: impl Fn(&mut dyn Fields)) {
    let mut count = Count(0);
    fields(&mut count);
    w.map(count.0);
    fields(&mut Write(w));
}

fn ago(now: Millis, then: Millis) -> i64 {
    now.0 as i64 - then.0 as i64
}

/// What kind of instance a map is for, with the kind-specific flags.
enum Kind<'a> {
    Master(&'a Master),
    Replica(&'a Replica, &'a Master),
    Sentinel(&'a PeerSentinel),
}

fn flags(c: &Common, kind: &Kind) -> String {
    let mut f: Vec<&str> = Vec::new();
    if c.s_down {
        f.push("s_down");
    }
    if c.o_down {
        f.push("o_down");
    }
    match kind {
        Kind::Master(_) => f.push("master"),
        Kind::Replica(..) => f.push("slave"),
        Kind::Sentinel(_) => f.push("sentinel"),
    }
    let needs_pubsub = !matches!(kind, Kind::Sentinel(_));
    if c.disconnected(needs_pubsub) {
        f.push("disconnected");
    }
    match kind {
        Kind::Sentinel(s) if s.master_down => f.push("master_down"),
        Kind::Master(m) if m.failover_in_progress() => f.push("failover_in_progress"),
        _ => {}
    }
    if let Kind::Replica(r, m) = kind {
        if m.promoted.as_deref() == Some(c.addr.key().as_str()) {
            f.push("promoted");
        }
        match r.reconf {
            ReconfState::Sent => f.push("reconf_sent"),
            ReconfState::InProgress => f.push("reconf_inprog"),
            ReconfState::Done => f.push("reconf_done"),
            ReconfState::None => {}
        }
    }
    if let Kind::Master(m) = kind {
        if m.force_failover {
            f.push("force_failover");
        }
        if m.coordinated {
            f.push("coordinated_failover");
        }
        if m.script_kill_sent {
            f.push("script_kill_sent");
        }
    }
    if let Kind::Replica(r, _) = kind {
        if r.script_kill_sent {
            f.push("script_kill_sent");
        }
    }
    f.join(",")
}

/// The fields every instance map starts with. `hostnames` is
/// `announce-hostnames`: it picks the host or the IP.
#[allow(clippy::too_many_arguments)]
fn common(
    f: &mut dyn Fields,
    now: Millis,
    hostnames: bool,
    name: &str,
    c: &Common,
    kind: &Kind,
    flags: &str,
    pending: u32,
) {
    f.s("name", name);
    f.s("ip", c.addr.announced(hostnames));
    f.n("port", c.addr.port as i64);
    f.s("runid", c.runid.as_deref().unwrap_or(""));
    f.s("flags", flags);
    f.n("link-pending-commands", pending as i64);
    f.n("link-refcount", c.link.refcount as i64);
    if let Kind::Master(m) = kind {
        if m.failover_in_progress() {
            f.s("failover-state", m.failover.as_str());
        }
    }
    f.n(
        "last-ping-sent",
        c.link.act_ping_time.map_or(0, |t| ago(now, t)),
    );
    f.n("last-ok-ping-reply", ago(now, c.link.last_avail_time));
    f.n("last-ping-reply", ago(now, c.link.last_pong_time));
    if c.s_down {
        f.n("s-down-time", ago(now, c.s_down_since));
    }
    if c.o_down {
        f.n("o-down-time", ago(now, c.o_down_since));
    }
    f.n("down-after-milliseconds", c.down_after as i64);
    if !matches!(kind, Kind::Sentinel(_)) {
        f.n("info-refresh", c.info_refresh.map_or(0, |t| ago(now, t)));
        f.s("role-reported", c.role_reported.as_str());
        f.n("role-reported-time", ago(now, c.role_reported_time));
    }
}

pub fn write_master_map<W: ReplyWriter + ?Sized>(
    w: &mut W,
    now: Millis,
    hostnames: bool,
    m: &Master,
) {
    let kind = Kind::Master(m);
    let flags = flags(&m.common, &kind);
    write_map(w, |f| {
        common(
            f,
            now,
            hostnames,
            &m.name,
            &m.common,
            &kind,
            &flags,
            m.common.link.pending_commands,
        );
        f.n("config-epoch", m.config_epoch.0 as i64);
        f.n("num-slaves", m.replicas.len() as i64);
        f.n("num-other-sentinels", m.sentinels.len() as i64);
        f.n("quorum", m.quorum as i64);
        f.n("failover-timeout", m.failover_timeout as i64);
        f.n("parallel-syncs", m.parallel_syncs as i64);
        if let Some(s) = &m.notification_script {
            f.s("notification-script", s);
        }
        if let Some(s) = &m.client_reconfig_script {
            f.s("client-reconfig-script", s);
        }
    });
}

/// A replica is named after its announced address, so switching
/// `announce-hostnames` renames it at once (Redis keeps the name it was
/// created under and, at its next INFO, adds the same replica again under
/// the other name).
pub fn write_replica_map<W: ReplyWriter + ?Sized>(
    w: &mut W,
    now: Millis,
    hostnames: bool,
    r: &Replica,
    m: &Master,
) {
    let kind = Kind::Replica(r, m);
    let name = r.common.addr.announced_key(hostnames);
    let flags = flags(&r.common, &kind);
    write_map(w, |f| {
        common(
            f,
            now,
            hostnames,
            &name,
            &r.common,
            &kind,
            &flags,
            r.common.link.pending_commands,
        );
        f.n("master-link-down-time", r.master_link_down_time);
        f.s(
            "master-link-status",
            if r.master_link_up { "ok" } else { "err" },
        );
        f.s("master-host", r.master_host.as_deref().unwrap_or("?"));
        f.n("master-port", r.master_port as i64);
        f.n("slave-priority", r.slave_priority);
        f.n("slave-repl-offset", r.slave_repl_offset as i64);
        f.n("replica-announced", r.replica_announced as i64);
    });
}

/// `pending`: replies owed on the peer's shared link (kept by the core,
/// not per master).
pub fn write_sentinel_map<W: ReplyWriter + ?Sized>(
    w: &mut W,
    now: Millis,
    hostnames: bool,
    runid: &str,
    s: &PeerSentinel,
    pending: u32,
) {
    let kind = Kind::Sentinel(s);
    let flags = flags(&s.common, &kind);
    write_map(w, |f| {
        common(f, now, hostnames, runid, &s.common, &kind, &flags, pending);
        f.n("last-hello-message", ago(now, s.last_hello_time));
        f.s("voted-leader", s.leader.as_deref().unwrap_or("?"));
        f.n("voted-leader-epoch", s.leader_epoch.0 as i64);
    });
}
