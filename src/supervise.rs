//! `supervised no|auto|systemd|upstart` as Redis does it: tell systemd
//! (sd_notify on `NOTIFY_SOCKET`) or upstart (stop on SIGSTOP) when the
//! sentinel is ready, and systemd when it is stopping.

use sd_notify::NotifyState;

use crate::config::Supervised;

/// Whom we report to, once `auto` is resolved and the supervisor found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervisor {
    None,
    Systemd,
    Upstart,
}

/// The supervision of this process.
#[derive(Debug, Clone, Copy)]
pub struct Supervision {
    /// The configured mode with `auto` resolved from the environment.
    mode: Supervised,
    /// The supervisor actually reached; only then is the process
    /// "supervised" (INFO, and `daemonize yes` is then not honoured).
    active: Supervisor,
}

const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
const UPSTART_JOB: &str = "UPSTART_JOB";

/// `auto` as Redis resolves it: upstart if `UPSTART_JOB` is set, else
/// systemd if `NOTIFY_SOCKET` is.
fn resolve(mode: Supervised) -> Supervised {
    let set = |name| std::env::var_os(name).is_some();
    match mode {
        Supervised::Auto if set(UPSTART_JOB) => Supervised::Upstart,
        Supervised::Auto if set(NOTIFY_SOCKET) => Supervised::Systemd,
        Supervised::Auto => Supervised::No,
        other => other,
    }
}

/// Whether the process will be supervised, from the environment alone:
/// asked before daemonizing, which Redis skips under a supervisor.
pub fn expects_supervisor(mode: Supervised) -> bool {
    match resolve(mode) {
        Supervised::Systemd => std::env::var_os(NOTIFY_SOCKET).is_some(),
        Supervised::Upstart => std::env::var_os(UPSTART_JOB).is_some(),
        _ => false,
    }
}

impl Supervision {
    /// Resolves `mode` and greets the supervisor, logging what Redis logs.
    /// Call once logging is set up.
    pub fn start(mode: Supervised) -> Supervision {
        let mode = resolve(mode);
        let mut this = Supervision {
            mode,
            active: Supervisor::None,
        };
        match mode {
            Supervised::Systemd => {
                if this.notify(&[NotifyState::Status("Redis is loading...")]) {
                    tracing::info!(
                        "Supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and TimeoutStopSec in your service unit."
                    );
                    this.active = Supervisor::Systemd;
                }
            }
            Supervised::Upstart => {
                if std::env::var_os(UPSTART_JOB).is_some() {
                    tracing::info!("supervised by upstart, will stop to signal readiness.");
                    this.active = Supervisor::Upstart;
                } else {
                    tracing::warn!("upstart supervision requested, but UPSTART_JOB not found!");
                }
            }
            Supervised::Auto | Supervised::No => {}
        }
        this
    }

    /// The mode a config rewrite writes: like Redis, `auto` becomes the
    /// supervisor it found.
    pub fn rewritten_mode(&self, configured: Supervised) -> Supervised {
        if self.active == Supervisor::None {
            configured
        } else {
            self.mode
        }
    }

    /// INFO's `process_supervised`: `no`, `systemd` or `upstart`.
    pub fn info_name(&self) -> &'static str {
        match self.active {
            Supervisor::None => "no",
            Supervisor::Systemd => "systemd",
            Supervisor::Upstart => "upstart",
        }
    }

    /// The listeners are bound and the config loaded.
    pub fn ready(&self) {
        if self.mode == Supervised::Systemd {
            self.notify(&[
                NotifyState::Status("Ready to accept connections"),
                NotifyState::Ready,
            ]);
        }
        if self.active == Supervisor::Upstart {
            // Upstart's `expect stop`: the job is ready once we stop
            // ourselves; it continues us with SIGCONT. (Redis also unsets
            // UPSTART_JOB; changing the environment is unsound once
            // threads run, and scripts seeing it is harmless.)
            // SAFETY: raise(3) has no memory-safety preconditions.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
        }
    }

    /// Shutdown has begun.
    pub fn stopping(&self) {
        if self.mode == Supervised::Systemd {
            self.notify(&[NotifyState::Stopping]);
        }
    }

    /// Sends to systemd, logging failures as Redis does; whether it was
    /// sent.
    fn notify(&self, states: &[NotifyState]) -> bool {
        if std::env::var_os(NOTIFY_SOCKET).is_none() {
            tracing::warn!("systemd supervision error: NOTIFY_SOCKET not found!");
            return false;
        }
        match sd_notify::notify(states) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("systemd supervision error: sd_notify: {e}");
                false
            }
        }
    }
}
