//! Links to instances as the core sees them: which connection a command goes
//! on, what its reply means, and how connects, closes and replies change the
//! state. The shell owns the sockets and reports back through these calls.

use super::addr::Addr;
use super::instance::Common;
use super::output::Output;
use super::{Action, Sentinel};
use crate::ids::{Epoch, RunId};
use crate::reply::Reply;
use crate::time::Millis;

impl super::Master {
    /// The state of `target` if it is this master or one of its replicas.
    pub(crate) fn instance(&self, target: &Target) -> Option<&Common> {
        match target {
            Target::Master(name) if *name == self.name => Some(&self.common),
            Target::Replica { master, key } if *master == self.name => {
                self.replicas.get(key).map(|r| &r.common)
            }
            _ => None,
        }
    }

    fn instance_mut(&mut self, target: &Target) -> Option<&mut Common> {
        match target {
            Target::Master(name) if *name == self.name => Some(&mut self.common),
            Target::Replica { master, key } if *master == self.name => {
                self.replicas.get_mut(key).map(|r| &mut r.common)
            }
            _ => None,
        }
    }

    /// Queues `args` on the link of this master or one of its replicas
    /// (the command name renamed per rename-command), counting the reply
    /// owed on a command link.
    pub(crate) fn send(&mut self, out: &mut Output, link: LinkId, tag: Tag, args: Vec<Vec<u8>>) {
        let mut args = args;
        if let Some(first) = args.first_mut() {
            // Our own command names are ASCII: no copy to look them up.
            let renamed = std::str::from_utf8(first).ok().map(|n| self.renamed(n));
            if let Some(renamed) = renamed.filter(|r| r.as_bytes() != first.as_slice()) {
                *first = renamed.as_bytes().to_vec();
            }
        }
        if link.channel == Channel::Cmd && tag != Tag::NoReply {
            if let Some(c) = self.instance_mut(&link.target) {
                c.link.pending_commands += 1;
            }
        }
        out.push(Action::Send(Outgoing { link, args, tag }));
    }
}

/// Which instance a link reaches. Links to a peer sentinel are shared by
/// every master that sentinel watches, so they are keyed by its run id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Master(String),
    Replica { master: String, key: String },
    Sentinel(RunId),
}

/// The command connection, or the pub/sub one (masters and replicas only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Cmd,
    PubSub,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId {
    pub target: Target,
    pub channel: Channel,
}

impl LinkId {
    pub fn cmd(target: Target) -> LinkId {
        LinkId {
            target,
            channel: Channel::Cmd,
        }
    }

    pub fn pubsub(target: Target) -> LinkId {
        LinkId {
            target,
            channel: Channel::PubSub,
        }
    }
}

/// What a reply on a command link answers. Kept small (names boxed, the
/// rare `Asked` behind a pointer): every link queues one per command in
/// flight, and keeps room for a few.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    Ping,
    Info,
    /// A hello published on behalf of this master.
    Hello(Box<str>),
    /// `is-master-down-by-addr` about this master, as it was when asked.
    AskMasterState(Box<str>, Box<Asked>),
    /// `CONFIG GET min-replicas-*` (write fencing).
    FenceGet,
    /// A `CONFIG SET` of a fencing setting.
    FenceSet,
    /// The `EXEC` of a coordinated failover's `FAILOVER TO` transaction.
    FailoverTo(Box<str>),
    /// AUTH, CLIENT SETNAME, the SLAVEOF transaction…: reply not needed.
    Ignore,
    /// A command the server never answers (`REPLCONF GETACK`): the link
    /// must not wait for a reply to it, or every later reply would pair
    /// with the wrong command.
    NoReply,
}

/// Which master an `is-master-down-by-addr` asked about: its address and
/// config epoch then. An answer that arrives after the master was switched
/// is about another instance and must not count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    pub addr: String,
    pub config_epoch: Epoch,
    /// The epoch a vote request carried; `None` when only the down state
    /// was asked.
    pub vote_epoch: Option<Epoch>,
}

/// Credentials to use right after connecting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// Bytes, exactly as configured: credentials need not be UTF-8.
    pub user: Option<Vec<u8>>,
    pub pass: Vec<u8>,
}

/// A command for the shell to send on a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub link: LinkId,
    pub args: Vec<Vec<u8>>,
    pub tag: Tag,
}

pub const HELLO_CHANNEL: &str = "__sentinel__:hello";
pub const MAX_PENDING_COMMANDS: u32 = 100;

impl Sentinel {
    /// The instance state a link belongs to (for a shared sentinel link:
    /// its entry under the first master that knows it).
    pub(crate) fn common_mut(&mut self, target: &Target) -> Option<&mut Common> {
        match target {
            Target::Master(name) => self.masters.get_mut(name).map(|m| &mut m.common),
            Target::Replica { master, key } => self
                .masters
                .get_mut(master)
                .and_then(|m| m.replicas.get_mut(key))
                .map(|r| &mut r.common),
            Target::Sentinel(runid) => self
                .masters
                .values_mut()
                .find_map(|m| m.sentinels.get_mut(runid))
                .map(|s| &mut s.common),
        }
    }

    pub(crate) fn common(&self, target: &Target) -> Option<&Common> {
        match target {
            Target::Master(name) => self.masters.get(name).map(|m| &m.common),
            Target::Replica { master, key } => self
                .masters
                .get(master)
                .and_then(|m| m.replicas.get(key))
                .map(|r| &r.common),
            Target::Sentinel(runid) => self
                .masters
                .values()
                .find_map(|m| m.sentinels.get(runid))
                .map(|s| &s.common),
        }
    }

    /// The state of `target` as seen under master `master` (a peer sentinel
    /// has one entry per master it watches).
    pub(crate) fn instance_of_master_mut(
        &mut self,
        master: &str,
        target: &Target,
    ) -> Option<&mut Common> {
        let m = self.masters.get_mut(master)?;
        match target {
            Target::Sentinel(runid) => m.sentinels.get_mut(runid).map(|s| &mut s.common),
            other => m.instance_mut(other),
        }
    }

    /// [`Sentinel::instance_of_master_mut`], read only. The timer's hot path
    /// uses it rather than [`Sentinel::common`], whose search for a peer
    /// sentinel walks every master (copies of a shared link's state are
    /// kept equal by [`Sentinel::each_common`], so either copy answers).
    pub(crate) fn instance_of_master(&self, master: &str, target: &Target) -> Option<&Common> {
        let m = self.masters.get(master)?;
        match target {
            Target::Sentinel(runid) => m.sentinels.get(runid).map(|s| &s.common),
            other => m.instance(other),
        }
    }

    /// Applies `f` to every copy of a link's state: one for a master or a
    /// replica, one per master for a shared sentinel link.
    pub(crate) fn each_common(&mut self, target: &Target, mut f: impl FnMut(&mut Common)) {
        match target {
            Target::Sentinel(runid) => {
                for m in self.masters.values_mut() {
                    if let Some(s) = m.sentinels.get_mut(runid) {
                        f(&mut s.common);
                    }
                }
            }
            other => {
                if let Some(c) = self.common_mut(other) {
                    f(c);
                }
            }
        }
    }

    /// The master whose settings (auth, rename-command) apply to a target.
    pub(crate) fn owning_master(&self, target: &Target) -> Option<&super::Master> {
        match target {
            Target::Master(name) | Target::Replica { master: name, .. } => self.masters.get(name),
            Target::Sentinel(runid) => self
                .masters
                .values()
                .find(|m| m.sentinels.contains_key(runid)),
        }
    }

    /// A peer's command link (re)started: no reply is owed on it any more.
    fn forget_peer_pending(&mut self, link: &LinkId) {
        if let (Channel::Cmd, Target::Sentinel(id)) = (link.channel, &link.target) {
            self.peer_pending.remove(id);
        }
    }

    /// Commands awaiting a reply on `target`'s command link (`c` is its
    /// state under some master).
    pub(crate) fn pending_commands(&self, target: &Target, c: &Common) -> u32 {
        match target {
            Target::Sentinel(id) => self.peer_pending.get(id).copied().unwrap_or(0),
            _ => c.link.pending_commands,
        }
    }

    /// Queues `args` (command name renamed per the owning master).
    pub(crate) fn send(&mut self, link: LinkId, tag: Tag, args: Vec<Vec<u8>>) {
        // A master's or replica's link belongs to one master: it does the
        // bookkeeping. A peer's link is shared by every master watching it.
        if let Target::Master(name) | Target::Replica { master: name, .. } = &link.target {
            if let Some(m) = self.masters.get_mut(name) {
                m.send(&mut self.out, link, tag, args);
                return;
            }
        }
        let mut args = args;
        if let Some(m) = self.owning_master(&link.target) {
            if let Some(first) = args.first_mut() {
                // Our own command names are ASCII: no copy to look them up.
                let renamed = std::str::from_utf8(first).ok().map(|n| m.renamed(n));
                if let Some(renamed) = renamed.filter(|r| r.as_bytes() != first.as_slice()) {
                    *first = renamed.as_bytes().to_vec();
                }
            }
        }
        if link.channel == Channel::Cmd && tag != Tag::NoReply {
            match &link.target {
                Target::Sentinel(id) => match self.peer_pending.get_mut(id) {
                    Some(n) => *n += 1,
                    None => {
                        self.peer_pending.insert(id.clone(), 1);
                    }
                },
                other => self.each_common(other, |c| c.link.pending_commands += 1),
            }
        }
        self.out.push(Action::Send(Outgoing { link, args, tag }));
    }

    fn auth_for(&self, target: &Target) -> Option<Auth> {
        match target {
            Target::Sentinel(_) => {
                let pass = self.settings.sentinel_pass.clone()?;
                Some(Auth {
                    user: self.settings.sentinel_user.clone(),
                    pass,
                })
            }
            other => {
                let m = self.owning_master(other)?;
                Some(Auth {
                    user: m.auth_user.clone(),
                    pass: m.auth_pass.clone()?,
                })
            }
        }
    }

    /// Asks the shell to open a link.
    pub(crate) fn connect(&mut self, now: Millis, link: LinkId, addr: Addr) {
        let auth = self.auth_for(&link.target);
        let peer_auth_fallback = matches!(link.target, Target::Sentinel(_)) && auth.is_none();
        let channel = link.channel;
        self.each_common(&link.target, |c| {
            c.link.last_reconn_time = Some(now);
            match channel {
                Channel::Cmd => c.link.cc_connecting = true,
                Channel::PubSub => c.link.pc_connecting = true,
            }
        });
        self.out.push(Action::Connect {
            link,
            addr,
            auth,
            peer_auth_fallback,
        });
    }

    /// The shell connected a link: authenticate, name it, and start using it.
    pub fn link_connected(&mut self, now: Millis, link: LinkId, local_ip: String) {
        let channel = link.channel;
        self.touch(&link.target);
        self.forget_peer_pending(&link);
        self.each_common(&link.target, |c| match channel {
            Channel::Cmd => {
                c.link.cc_connected = true;
                c.link.cc_connecting = false;
                c.link.cc_conn_time = now;
                c.link.pending_commands = 0;
                c.link.local_ip = local_ip.clone();
            }
            Channel::PubSub => {
                c.link.pc_connected = true;
                c.link.pc_connecting = false;
                c.link.pc_conn_time = now;
                c.link.pc_last_activity = now;
            }
        });
        let auth = self.auth_for(&link.target);
        if let Some(a) = auth {
            let mut args = vec![b"AUTH".to_vec()];
            args.extend(a.user);
            args.push(a.pass);
            self.send(link.clone(), Tag::Ignore, args);
        }
        let id8: String = self.myid().chars().take(8).collect();
        let suffix = match channel {
            Channel::Cmd => "cmd",
            Channel::PubSub => "pubsub",
        };
        self.send(
            link.clone(),
            Tag::Ignore,
            vec![
                b"CLIENT".to_vec(),
                b"SETNAME".to_vec(),
                format!("sentinel-{id8}-{suffix}").into_bytes(),
            ],
        );
        match channel {
            Channel::Cmd => {
                // PING at once so the first reply arrives quickly.
                self.send_ping(now, link.target.clone());
                // And INFO: a new link's first look at the role and the
                // replicas should not wait for the next tick.
                if !matches!(link.target, Target::Sentinel(_)) {
                    self.each_common(&link.target, |c| c.link.last_info_time = Some(now));
                    self.send(link.clone(), Tag::Info, vec![b"INFO".to_vec()]);
                }
            }
            Channel::PubSub => {
                self.send(
                    link,
                    Tag::Ignore,
                    vec![b"SUBSCRIBE".to_vec(), HELLO_CHANNEL.as_bytes().to_vec()],
                );
            }
        }
    }

    /// A link closed (or failed to connect). Pending replies are lost.
    pub fn link_closed(&mut self, _now: Millis, link: LinkId) {
        let channel = link.channel;
        self.touch(&link.target);
        self.forget_peer_pending(&link);
        self.each_common(&link.target, |c| match channel {
            Channel::Cmd => {
                // No clock starts here: an instance whose command link is
                // down is judged from its last acceptable PING reply (see
                // `LinkState::ping_detector`). PINGs go out on the
                // same wall-clock slots at every sentinel, so that last
                // reply is the same moment for all of them, and an
                // instance that dies is judged SDOWN by all together, D
                // after it last answered. Counting from the moment each
                // sentinel noticed the close spread that over however
                // long each took to read its EOFs (tens of ms when 50
                // masters die at once).
                c.link.cc_connected = false;
                c.link.cc_connecting = false;
                c.link.pending_commands = 0;
            }
            Channel::PubSub => {
                c.link.pc_connected = false;
                c.link.pc_connecting = false;
            }
        });
    }

    pub(crate) fn send_ping(&mut self, now: Millis, target: Target) {
        self.each_common(&target, |c| {
            c.link.last_ping_time = now;
            // act_ping_time marks the *oldest* unanswered ping.
            if c.link.act_ping_time.is_none() {
                c.link.act_ping_time = Some(now);
            }
        });
        self.send(LinkId::cmd(target), Tag::Ping, vec![b"PING".to_vec()]);
    }

    /// A reply arrived on a command link for a command sent with `tag`.
    pub fn handle_reply(&mut self, now: Millis, link: &LinkId, tag: Tag, reply: Reply) {
        if link.channel == Channel::PubSub {
            self.handle_pubsub(now, link, reply);
            return;
        }
        if tag == Tag::NoReply {
            // Only a refusal answers one, and nothing was counted as owed.
            return;
        }
        match &link.target {
            Target::Sentinel(id) => {
                if let Some(n) = self.peer_pending.get_mut(id) {
                    *n = n.saturating_sub(1);
                }
            }
            other => self.each_common(other, |c| {
                c.link.pending_commands = c.link.pending_commands.saturating_sub(1);
            }),
        }
        // What a reply changes may make a pass due for its master; a PONG
        // or a PUBLISH acknowledged only moves timers later (an answered
        // PING removes the master's SDOWN deadline).
        match &tag {
            Tag::Ping => {
                if let Target::Master(name) = &link.target {
                    self.reindex(name);
                }
            }
            Tag::Hello(_) | Tag::NoReply => {}
            Tag::AskMasterState(master, _) | Tag::FailoverTo(master) => self.touch_master(master),
            Tag::Info | Tag::FenceGet | Tag::FenceSet | Tag::Ignore => self.touch(&link.target),
        }
        let settles = matches!(tag, Tag::Ping | Tag::Info);
        match tag {
            Tag::Ping => self.handle_ping_reply(now, &link.target, &reply),
            Tag::Info => {
                if let Some(text) = reply.as_str() {
                    self.handle_info(now, &link.target, text);
                }
            }
            Tag::Hello(master) => {
                // A failed publish is retried on the next tick.
                if !reply.is_error() {
                    if let Some(c) = self.instance_of_master_mut(&master, &link.target) {
                        c.link.last_pub_time = Some(now);
                    }
                }
            }
            Tag::AskMasterState(master, asked) => {
                self.handle_ask_reply(now, &link.target, &master, &asked, &reply)
            }
            Tag::FenceGet => self.handle_fence_get(&link.target, &reply),
            Tag::FenceSet => self.handle_fence_set(&link.target, &reply),
            Tag::FailoverTo(master) => self.handle_failover_to_reply(&master, &reply),
            Tag::Ignore | Tag::NoReply => {}
        }
        if settles {
            self.settle(now, &link.target);
        }
    }

    fn handle_ping_reply(&mut self, now: Millis, target: &Target, reply: &Reply) {
        let text = match reply {
            Reply::Simple(s) | Reply::Error(s) => s.as_str(),
            _ => "",
        };
        let healthy = text.starts_with("PONG")
            || text.starts_with("LOADING")
            || text.starts_with("MASTERDOWN");
        let pong = text.starts_with("PONG");
        let busy = text.starts_with("BUSY");
        self.each_common(target, |c| {
            c.link.last_pong_time = now;
            if healthy {
                c.link.last_avail_time = now;
                c.link.act_ping_time = None;
            }
        });
        if let Target::Master(name) = target {
            if let Some(m) = self.masters.get_mut(name) {
                if pong {
                    m.master_reboot = false;
                }
                if busy && m.common.s_down && !m.script_kill_sent {
                    m.script_kill_sent = true;
                    self.send(
                        LinkId::cmd(target.clone()),
                        Tag::Ignore,
                        vec![b"SCRIPT".to_vec(), b"KILL".to_vec()],
                    );
                }
            }
        }
    }

    /// Any frame received on a pub/sub link: hellos from other sentinels.
    fn handle_pubsub(&mut self, now: Millis, link: &LinkId, reply: Reply) {
        self.each_common(&link.target, |c| c.link.pc_last_activity = now);
        let items = match reply {
            Reply::Array(items) | Reply::Push(items) => items,
            _ => return,
        };
        if items.len() != 3 {
            return;
        }
        let (Some(kind), Some(channel)) = (items[0].as_str(), items[1].as_str()) else {
            return;
        };
        if channel != HELLO_CHANNEL {
            return;
        }
        if kind.eq_ignore_ascii_case("subscribe") {
            // From now on we hear this instance's hellos: announce
            // ourselves on it at once. A peer hearing us for the first
            // time answers at once (`learn_sentinel`), so discovery does
            // not wait a publish period for a hello sent before we
            // subscribed.
            self.hello_now(&link.target);
            return;
        }
        if !kind.eq_ignore_ascii_case("message") {
            return;
        }
        let Some(payload) = items[2].as_str() else {
            return;
        };
        // Our own hellos come back to us too: `process_hello` skips them.
        self.process_hello(now, payload);
    }

    /// Publishes our hello for the master owning `target` on `target`'s
    /// command link now, if it is connected.
    pub(crate) fn hello_now(&mut self, target: &Target) {
        let master = match target {
            Target::Master(name) | Target::Replica { master: name, .. } => name.clone(),
            Target::Sentinel(_) => return,
        };
        if self
            .instance_of_master(&master, target)
            .is_some_and(|c| c.link.cc_connected)
        {
            self.touch_master(&master);
            self.send_hello(&master, target);
        }
    }
}
