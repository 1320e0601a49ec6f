//! What every connection shares: the ACL users, the client registry, the
//! process facts INFO reports, the stats counters and the CLIENT PAUSE state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use rsentinel_core::time::Millis;

use super::client_registry::ClientRegistry;
use super::pause::Pause;
use crate::acl::Acl;

/// Facts about this process, fixed at start-up (INFO server/clients).
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub port: u16,
    pub config_file: String,
    pub executable: String,
    /// 40 hex characters, new for every process.
    pub run_id: String,
    pub started: Instant,
    pub maxclients: usize,
    /// The configured `requirepass`, for reference only: the `Acl` handed
    /// to [`ServerState::new`] must already have it applied (before any
    /// `user` lines), since the server never changes the users itself.
    pub requirepass: Option<Vec<u8>>,
    /// `rename-command old new` for the sentinel's own commands, lower-case
    /// (`new` empty = disabled).
    pub renamed_commands: std::collections::BTreeMap<String, String>,
    /// `protected-mode`: refuse non-loopback clients while the default
    /// user has no password.
    pub protected_mode: bool,
    /// INFO's `process_supervised`: `no`, `systemd` or `upstart`.
    pub supervised: &'static str,
    /// `timeout`, `tcp-keepalive` and the client buffer limits.
    pub limits: crate::config::client_limits::ClientLimits,
}

/// What `rename-command` makes of a requested command name.
#[derive(Debug, PartialEq, Eq)]
pub enum Renamed {
    /// Not affected.
    Keep,
    /// A new name: the command the table knows under this original name.
    Original(Vec<u8>),
    /// An old name of a renamed command, or a disabled one: unknown.
    Hidden,
}

impl ServerInfo {
    /// Applies `rename-command` to a requested command name.
    pub fn unrename(&self, name: &[u8]) -> Renamed {
        if self.renamed_commands.is_empty() {
            return Renamed::Keep;
        }
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if let Some((old, _)) = self
            .renamed_commands
            .iter()
            .find(|(_, new)| !new.is_empty() && **new == lower)
        {
            return Renamed::Original(old.as_bytes().to_vec());
        }
        if self.renamed_commands.contains_key(&lower) {
            return Renamed::Hidden;
        }
        Renamed::Keep
    }
}

/// Counters for `INFO stats`; relaxed atomics, only ever summed.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub error_replies: AtomicU64,
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    /// Largest query buffer / output buffer seen (INFO clients).
    pub max_input_buffer: AtomicU64,
    pub max_output_buffer: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn raise(counter: &AtomicU64, n: u64) {
        counter.fetch_max(n, Ordering::Relaxed);
    }
}

/// The locked ACL; reaching it mutably bumps the ACL version.
pub struct AclGuard<'a> {
    acl: MutexGuard<'a, Acl>,
    version: &'a AtomicU64,
}

impl std::ops::Deref for AclGuard<'_> {
    type Target = Acl;
    fn deref(&self) -> &Acl {
        &self.acl
    }
}

impl std::ops::DerefMut for AclGuard<'_> {
    fn deref_mut(&mut self) -> &mut Acl {
        self.version.fetch_add(1, Ordering::AcqRel);
        &mut self.acl
    }
}

/// Everything the client-facing server shares between connections.
#[derive(Debug)]
pub struct ServerState {
    pub info: ServerInfo,
    /// Never held across an `.await`: every use is a short synchronous call.
    acl: Mutex<Acl>,
    /// Bumped whenever the ACL may change (any mutable use of it): a
    /// session's remembered verdicts hold only at the version they were
    /// reached at.
    acl_version: AtomicU64,
    pub clients: ClientRegistry,
    pub stats: Stats,
    pub(crate) pause: Pause,
}

impl ServerState {
    pub fn new(info: ServerInfo, acl: Acl) -> ServerState {
        ServerState {
            info,
            acl: Mutex::new(acl),
            acl_version: AtomicU64::new(0),
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            pause: Pause::default(),
        }
    }

    /// The ACL, even if a panicking connection poisoned the lock: the users
    /// themselves are always left consistent by the ACL code.
    pub fn acl(&self) -> AclGuard<'_> {
        AclGuard {
            acl: self.acl.lock().unwrap_or_else(|e| e.into_inner()),
            version: &self.acl_version,
        }
    }

    /// The ACL's version now; read it before the verdict it is to date.
    pub fn acl_version(&self) -> u64 {
        self.acl_version.load(Ordering::Acquire)
    }

    /// Milliseconds since start: the clock ACL LOG ages are measured on.
    pub fn now(&self) -> Millis {
        Millis(self.info.started.elapsed().as_millis() as u64)
    }
}
