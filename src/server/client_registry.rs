//! Every connected client, by id: what CLIENT LIST/INFO print about each and
//! how CLIENT KILL (and ACL DELUSER) find and close them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

/// CLIENT KILL/LIST TYPE values. Sentinel has no replication clients, but
/// Redis accepts the names (and matches nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    Pubsub,
    Master,
}

impl ClientType {
    /// Redis's `getClientTypeByName`: `slave` and `replica` are one type.
    pub fn parse(name: &[u8]) -> Option<ClientType> {
        match name.to_ascii_lowercase().as_slice() {
            b"normal" => Some(ClientType::Normal),
            b"slave" | b"replica" => Some(ClientType::Replica),
            b"pubsub" => Some(ClientType::Pubsub),
            b"master" => Some(ClientType::Master),
            _ => None,
        }
    }
}

/// CLIENT TRACKING settings. There are no keys in sentinel mode, so nothing
/// is ever invalidated; the settings are kept so the replies are truthful.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    pub on: bool,
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// `CLIENT CACHING yes|no` was given for the next command.
    pub caching: Option<bool>,
    pub prefixes: Vec<Vec<u8>>,
}

/// The parts of a client that change while it runs.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub name: String,
    pub user: String,
    pub resp: u8,
    pub sub: usize,
    pub psub: usize,
    pub last_interaction: Instant,
    /// Full name of the latest command (`client|list`), `NULL` before any.
    pub last_cmd: &'static str,
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub argv_mem: usize,
    pub obl: usize,
    pub tracking: Tracking,
    pub no_evict: bool,
}

/// Where a client is connected from (or to): a TCP address, or the path
/// of the `unixsocket` (which Redis prints as `path:0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAddr {
    Tcp(SocketAddr),
    Unix(String),
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAddr::Tcp(a) => write!(f, "{a}"),
            ClientAddr::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

impl From<SocketAddr> for ClientAddr {
    fn from(a: SocketAddr) -> ClientAddr {
        ClientAddr::Tcp(a)
    }
}

/// One connected client.
#[derive(Debug)]
pub struct Client {
    pub id: u64,
    pub addr: ClientAddr,
    pub laddr: ClientAddr,
    pub fd: i32,
    pub created: Instant,
    meta: Mutex<ClientMeta>,
    killed: AtomicBool,
    wake: Notify,
}

impl Client {
    pub fn meta(&self) -> MutexGuard<'_, ClientMeta> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the connection to close as soon as it can.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        // Every waiter: a connection keeps one waiting for its whole life
        // and may add another (a paused command); plus a permit for one
        // that checked the flag just before it was set and waits next.
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves once [`Client::kill`] was called (at once if it already was).
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.wake.notified().await;
        }
    }

    pub fn client_type(&self) -> ClientType {
        let m = self.meta();
        if m.sub + m.psub > 0 {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }

    /// One CLIENT LIST line (without the trailing newline), in Redis 7.0's
    /// field order.
    pub fn info_line(&self, now: Instant) -> String {
        let m = self.meta();
        let age = now.saturating_duration_since(self.created).as_secs();
        let idle = now.saturating_duration_since(m.last_interaction).as_secs();
        let flags = flag_letters(&m, matches!(self.addr, ClientAddr::Unix(_)));
        let redir = if m.tracking.on {
            m.tracking.redirect as i64
        } else {
            -1
        };
        let rbs = m.qbuf + m.qbuf_free;
        let tot_mem = rbs + m.obl + m.argv_mem + 1024;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={age} idle={idle} flags={flags} db=0 \
             sub={} psub={} ssub=0 multi=-1 qbuf={} qbuf-free={} argv-mem={} multi-mem=0 \
             rbs={rbs} rbp={rbs} obl={} oll=0 omem=0 tot-mem={tot_mem} events=r cmd={} \
             user={} redir={redir} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            m.name,
            m.sub,
            m.psub,
            m.qbuf,
            m.qbuf_free,
            m.argv_mem,
            m.obl,
            m.last_cmd,
            m.user,
            m.resp,
        )
    }
}

/// CLIENT LIST `flags=`: one letter per flag in Redis's order, `N` if none.
fn flag_letters(m: &ClientMeta, unix_socket: bool) -> String {
    let mut f = String::new();
    if m.sub + m.psub > 0 {
        f.push('P');
    }
    if m.tracking.on {
        f.push('t');
        if m.tracking.bcast {
            f.push('B');
        }
    }
    if unix_socket {
        f.push('U');
    }
    if m.no_evict {
        f.push('e');
    }
    if f.is_empty() {
        f.push('N');
    }
    f
}

/// Which clients a CLIENT KILL (new form) closes; every given field must
/// match.
#[derive(Debug, Clone, Default)]
pub struct KillFilter {
    pub id: Option<u64>,
    pub kind: Option<ClientType>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub user: Option<String>,
    /// Spare the client asking (the default).
    pub skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &Client, me: u64) -> bool {
        if self.skipme && c.id == me {
            return false;
        }
        if self.id.is_some_and(|id| id != c.id) {
            return false;
        }
        if self.kind.is_some_and(|k| k != c.client_type()) {
            return false;
        }
        if self.addr.as_ref().is_some_and(|a| *a != c.addr.to_string()) {
            return false;
        }
        if self
            .laddr
            .as_ref()
            .is_some_and(|a| *a != c.laddr.to_string())
        {
            return false;
        }
        if self.user.as_ref().is_some_and(|u| *u != c.meta().user) {
            return false;
        }
        true
    }
}

/// What a kill did: how many clients, and whether the asking client is one
/// (it then closes after its reply rather than at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Killed {
    pub count: usize,
    pub me: bool,
}

#[derive(Debug)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<Client>>>,
}

impl Default for ClientRegistry {
    fn default() -> Self {
        ClientRegistry {
            next_id: AtomicU64::new(1),
            clients: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ClientRegistry {
    fn map(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Client>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a client logged in as `user` (RESP2, no name) and returns it.
    pub fn register(
        &self,
        addr: impl Into<ClientAddr>,
        laddr: impl Into<ClientAddr>,
        fd: i32,
        user: &str,
    ) -> Arc<Client> {
        let now = Instant::now();
        let client = Arc::new(Client {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr: addr.into(),
            laddr: laddr.into(),
            fd,
            created: now,
            meta: Mutex::new(ClientMeta {
                name: String::new(),
                user: user.to_string(),
                resp: 2,
                sub: 0,
                psub: 0,
                last_interaction: now,
                last_cmd: "NULL",
                qbuf: 0,
                qbuf_free: 0,
                argv_mem: 0,
                obl: 0,
                tracking: Tracking::default(),
                no_evict: false,
            }),
            killed: AtomicBool::new(false),
            wake: Notify::new(),
        });
        self.map().insert(client.id, client.clone());
        client
    }

    pub fn unregister(&self, id: u64) {
        self.map().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    pub fn get(&self, id: u64) -> Option<Arc<Client>> {
        self.map().get(&id).cloned()
    }

    /// All clients, in id order (a snapshot: the lock is not kept).
    pub fn all(&self) -> Vec<Arc<Client>> {
        self.map().values().cloned().collect()
    }

    /// Kills every client `filter` matches; `me` is the asking client, which
    /// is only marked (it closes once its reply is written).
    pub fn kill(&self, filter: &KillFilter, me: u64) -> Killed {
        let mut out = Killed::default();
        for c in self.all() {
            if filter.matches(&c, me) {
                out.count += 1;
                if c.id == me {
                    out.me = true;
                } else {
                    c.kill();
                }
            }
        }
        out
    }

    /// Kills the client connected from `addr` (old `CLIENT KILL ip:port`
    /// form, which may name the asking client too).
    pub fn kill_addr(&self, addr: &str, me: u64) -> Killed {
        let filter = KillFilter {
            addr: Some(addr.to_string()),
            ..KillFilter::default()
        };
        self.kill(&filter, me)
    }

    /// Closes every connection logged in as `user` (the user was deleted).
    pub fn kill_user(&self, user: &str, me: u64) -> Killed {
        let filter = KillFilter {
            user: Some(user.to_string()),
            ..KillFilter::default()
        };
        self.kill(&filter, me)
    }

    /// Number of clients with CLIENT TRACKING on (INFO clients).
    pub fn tracking_count(&self) -> usize {
        self.all().iter().filter(|c| c.meta().tracking.on).count()
    }

    /// Kills every client (server shutdown).
    pub fn kill_all(&self) {
        for c in self.all() {
            c.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn registry_of_three() -> (ClientRegistry, Vec<Arc<Client>>) {
        let r = ClientRegistry::default();
        let l = addr("127.0.0.1:26379");
        let a = r.register(addr("127.0.0.1:1001"), l, 7, "default");
        let b = r.register(addr("127.0.0.1:1002"), l, 8, "bob");
        let c = r.register(addr("127.0.0.1:1003"), l, 9, "bob");
        (r, vec![a, b, c])
    }

    #[test]
    fn ids_increase_from_one() {
        let (_, c) = registry_of_three();
        assert_eq!(c.iter().map(|c| c.id).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn kill_by_user_spares_the_asker_unless_skipme_is_off() {
        let (r, c) = registry_of_three();
        let f = KillFilter {
            user: Some("bob".into()),
            skipme: true,
            ..KillFilter::default()
        };
        let k = r.kill(&f, c[1].id);
        assert_eq!(
            k,
            Killed {
                count: 1,
                me: false
            }
        );
        assert!(!c[1].is_killed() && c[2].is_killed() && !c[0].is_killed());
        let k = r.kill(&KillFilter { skipme: false, ..f }, c[1].id);
        assert_eq!(k, Killed { count: 2, me: true });
        // The asker is only marked through `Killed::me`, never woken.
        assert!(!c[1].is_killed());
    }

    #[test]
    fn old_form_kill_matches_the_exact_address() {
        let (r, c) = registry_of_three();
        assert_eq!(r.kill_addr("127.0.0.1:9", c[0].id).count, 0);
        let k = r.kill_addr("127.0.0.1:1001", c[0].id);
        assert_eq!(k, Killed { count: 1, me: true });
    }

    #[test]
    fn type_filter_sees_subscribers_as_pubsub() {
        let (r, c) = registry_of_three();
        c[2].meta().sub = 1;
        let f = KillFilter {
            kind: Some(ClientType::Pubsub),
            skipme: true,
            ..KillFilter::default()
        };
        assert_eq!(r.kill(&f, c[0].id).count, 1);
        assert!(c[2].is_killed());
    }

    #[test]
    fn info_line_has_redis_field_order() {
        let (_, c) = registry_of_three();
        let line = c[0].info_line(Instant::now());
        assert!(line.starts_with(
            "id=1 addr=127.0.0.1:1001 laddr=127.0.0.1:26379 fd=7 name= age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 "
        ), "{line}");
        assert!(
            line.ends_with("cmd=NULL user=default redir=-1 resp=2"),
            "{line}"
        );
        let keys: Vec<&str> = line
            .split(' ')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
                .split(' ')
                .collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn killed_resolves_after_kill() {
        let (_, c) = registry_of_three();
        let c0 = c[0].clone();
        let t = tokio::spawn(async move { c0.killed().await });
        c[0].kill();
        tokio::time::timeout(std::time::Duration::from_secs(5), t)
            .await
            .unwrap()
            .unwrap();
    }
}
