//! The rsentinel binary: start-up (config, daemonize, logging, listeners),
//! then the driver task and the server until SIGTERM/SIGINT or SHUTDOWN.

mod cli;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rsentinel::acl::Acl;
use rsentinel::config::{self, CommandLine, ConfigError, ServerOptions};
use rsentinel::driver::Driver;
use rsentinel::link::LinkOptions;
use rsentinel::persist::FileSink;
use rsentinel::server::{self, Listener, ServerInfo, ServerState};
use rsentinel::supervise::Supervision;
use rsentinel::tls::TlsSetup;
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;
use tokio::net::TcpListener;

fn main() -> ExitCode {
    rsentinel::heap_trim::single_arena();
    install_panic_hook();
    ignore_sighup();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(args) {
        cli::Invocation::Version => {
            println!("{}", cli::version());
            ExitCode::SUCCESS
        }
        cli::Invocation::Help => {
            eprint!("{}", cli::USAGE);
            ExitCode::FAILURE
        }
        cli::Invocation::Elect(args) => run_async(async move {
            rsentinel::elect::run(args)
                .await
                .map_err(anyhow::Error::from)
        }),
        cli::Invocation::Sentinel(args) => match prepare(&args) {
            Ok(prepared) => {
                // fork only while the process is still single-threaded.
                if prepared.options.daemonize
                    && !rsentinel::supervise::expects_supervisor(prepared.options.supervised)
                {
                    if let Err(e) = daemonize() {
                        eprintln!("{e:#}");
                        return ExitCode::FAILURE;
                    }
                }
                run_async(serve(prepared))
            }
            Err(e) => {
                e.report();
                ExitCode::FAILURE
            }
        },
    }
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    // One thread runs everything, as Redis has one event loop. Measured
    // side by side with two workers (this machine's cores), one made
    // queries cheaper (pipelined get-master-addr-by-name 1.5 -> 1.3 µs,
    // 550k -> 650k req/s), idle CPU at 1 000 masters 14.5 -> 13.2 % and the
    // mass failover no slower: the work is many small tasks handing
    // messages to each other, which more threads pay for in wake-ups and
    // shared cache lines. The single-thread scheduler goes further than a
    // pool of one: no run queue shared with another thread, no per-batch
    // statistics (their `powf` was the only thing the binary took from
    // libm, which is no longer mapped), no worker thread's stack and arena.
    let mut builder = tokio::runtime::Builder::new_current_thread();
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::warn!("{e:#}");
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Everything loaded from the config, before any thread exists (so that
/// daemonizing with fork is safe).
struct Prepared {
    path: std::path::PathBuf,
    options: ServerOptions,
    acl: Acl,
    core: Sentinel,
}

/// Why the sentinel did not start.
struct StartError {
    error: anyhow::Error,
    /// `logfile` once the config is loaded: Redis's start-up log lines
    /// (not its FATAL blocks) go there, or to stdout while it is empty.
    logfile: String,
}

impl<E: Into<anyhow::Error>> From<E> for StartError {
    fn from(e: E) -> Self {
        StartError {
            error: e.into(),
            logfile: String::new(),
        }
    }
}

impl StartError {
    /// Prints the error where redis-sentinel prints it: a FATAL CONFIG FILE
    /// ERROR block raw on stderr, its other config errors as a log line.
    fn report(&self) {
        match self.error.downcast_ref::<ConfigError>() {
            Some(e) if !e.printed_to_stderr() => log_before_start(&self.logfile, &e.to_string()),
            _ => eprintln!("{:#}", self.error),
        }
    }
}

/// A Redis-shaped WARNING line written before logging is set up, to
/// `logfile` (relative to the current directory) or stdout.
fn log_before_start(logfile: &str, message: &str) {
    use std::io::Write;
    let line = format!(
        "{}:X {} # {message}\n",
        std::process::id(),
        rsentinel::logging::timestamp(&chrono::Local::now())
    );
    let to_file = !logfile.is_empty()
        && std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(logfile)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .is_ok();
    if !to_file {
        print!("{line}");
        let _ = std::io::stdout().flush();
    }
}

/// Reads standard input for `rsentinel [file] -`, saying so first as Redis
/// does. An unreadable stdin counts as empty.
fn read_stdin() -> Vec<u8> {
    use std::io::Read;
    log_before_start("", "Reading config from stdin");
    let mut text = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut text);
    text
}

/// Loads everything in redis-sentinel's order: the config text, the generic
/// options, `chdir` into `dir` (so every relative path after it — scripts,
/// `aclfile`, `pidfile`, `logfile`, TLS files — resolves inside `dir`, and
/// a path accepted at runtime by `SENTINEL SET` resolves the same way after
/// a restart), the `user` lines, the `sentinel` directives, then the checks
/// on the config file itself, and last the `aclfile`.
fn prepare(args: &[String]) -> Result<Prepared, StartError> {
    let cmdline = CommandLine::parse(args);
    let loaded = config::load(&cmdline, read_stdin)?;
    let is_command = |name: &str| rsentinel::commands::table::lookup(name).is_some();
    let options = ServerOptions::from_directives(&loaded.generic, &loaded.origin, &is_command)?;
    std::env::set_current_dir(&options.dir)
        .with_context(|| format!("Can't chdir to '{}'", options.dir.display()))?;

    let mut acl = Acl::new();
    acl.set_requirepass(options.requirepass.as_deref());
    if let Some(f) = &options.aclfile {
        acl.set_aclfile(Some(f.into()));
    }
    let user_lines: Vec<_> = loaded
        .generic
        .iter()
        .filter(|d| d.args[0].eq_ignore_ascii_case("user"))
        .collect();
    if let Some(d) = user_lines.first().filter(|_| options.aclfile.is_some()) {
        // Redis refuses to have users in two places.
        return Err(ConfigError::at(d, USERS_IN_TWO_PLACES).into());
    }
    for d in user_lines {
        acl.load_user_line(&d.raw_args[1..])
            .map_err(|reason| ConfigError::at(d, reason))?;
    }

    let mut seed = [0u8; 8];
    if getrandom::getrandom(&mut seed).is_err() {
        // No OS randomness: the run id only needs to differ between
        // processes, and the clock and pid do that.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        seed = (t.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    let mut core = Sentinel::new(u64::from_le_bytes(seed), hello_port(&options));
    core.set_script_check(is_executable);
    core.set_write_fence(rsentinel::fence::from_env()?);
    for d in config::sentinel_load_order(&loaded.sentinel) {
        core.apply_directive(Millis(0), d.sentinel_raw_args())
            .map_err(|reason| ConfigError::at(d, reason))?;
    }

    let path = loaded
        .path
        .ok_or(ConfigError::NoConfigFile)
        .and_then(|path| config::ensure_writable(&path).map(|()| path))
        .map_err(|e| StartError {
            error: e.into(),
            logfile: options.logfile.clone(),
        })?;

    if let Some(aclfile) = &options.aclfile {
        acl.load_aclfile().map_err(|reason| {
            anyhow::anyhow!("Aborting Redis startup because of ACL errors ({aclfile}): {reason}")
        })?;
    }
    Ok(Prepared {
        path,
        options,
        acl,
        core,
    })
}

/// The port our hellos announce unless `sentinel announce-port` is set
/// (the core applies that): peers reach us over TLS when our links are
/// TLS, so then it is `tls-port`.
fn hello_port(options: &ServerOptions) -> u16 {
    if options.tls.replication && options.tls.port != 0 {
        options.tls.port
    } else {
        options.port
    }
}

const USERS_IN_TWO_PLACES: &str = "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.";

fn is_executable(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Forks into the background like Redis's `daemonize yes`.
fn daemonize() -> anyhow::Result<()> {
    // SAFETY: called before any thread or runtime exists, so the child is a
    // faithful single-threaded copy; it only calls async-signal-safe libc
    // functions before continuing normally.
    unsafe {
        match libc::fork() {
            -1 => anyhow::bail!("fork failed: {}", std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
            libc::dup2(devnull, 1);
            libc::dup2(devnull, 2);
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
    Ok(())
}

/// The addresses to listen on: `bind` (default `* -::*`); a leading `-`
/// marks an address whose bind may fail.
fn bind_addrs(options: &ServerOptions) -> Vec<(IpAddr, bool)> {
    let binds: Vec<String> = if options.bind.is_empty() {
        vec!["*".into(), "-::*".into()]
    } else {
        options.bind.clone()
    };
    binds
        .iter()
        .filter_map(|b| {
            let (optional, b) = match b.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, b.as_str()),
            };
            let ip = match b {
                "*" => IpAddr::from([0, 0, 0, 0]),
                "::*" => IpAddr::from([0u16; 8]),
                other => other.parse().ok()?,
            };
            Some((ip, optional))
        })
        .collect()
}

/// Listens on the `unixsocket` path as Redis does: a stale socket file is
/// removed first, and `unixsocketperm` (when not 0) sets the file's mode.
fn bind_unix(path: &str, perm: u32) -> anyhow::Result<Listener> {
    let _ = std::fs::remove_file(path);
    let socket = tokio::net::UnixListener::bind(path)
        .map_err(|e| anyhow::anyhow!("Failed opening Unix socket: {e}"))?;
    if perm != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))
            .map_err(|e| anyhow::anyhow!("Failed opening Unix socket: {e}"))?;
    }
    tracing::info!("The server is now ready to accept connections at {path}");
    Ok(Listener {
        socket: rsentinel::server::Socket::Unix(socket, path.to_string()),
        tls: None,
    })
}

/// Listens on `port` at every `bind` address; at least one must work.
async fn bind_all(
    options: &ServerOptions,
    port: u16,
    kind: &str,
) -> anyhow::Result<Vec<TcpListener>> {
    let mut sockets = Vec::new();
    for (ip, optional) in bind_addrs(options) {
        match TcpListener::bind((ip, port)).await {
            Ok(l) => sockets.push(l),
            Err(e) if optional => tracing::debug!("Could not bind {ip}:{port}: {e}"),
            Err(e) => anyhow::bail!(
                "Warning: Could not create server {kind} listening socket {ip}:{port}: {e}"
            ),
        }
    }
    anyhow::ensure!(
        !sockets.is_empty(),
        "Failed listening on port {port} ({kind})"
    );
    Ok(sockets)
}

async fn serve(p: Prepared) -> anyhow::Result<()> {
    let Prepared {
        path,
        mut options,
        acl,
        mut core,
    } = p;
    rsentinel::logging::init(&options)?;
    let supervision = Supervision::start(options.supervised);
    options.supervised = supervision.rewritten_mode(options.supervised);
    // `prepare` already moved into `dir`: the pidfile is relative to it.
    if let Some(pidfile) = &options.pidfile {
        std::fs::write(pidfile, format!("{}\n", std::process::id()))
            .with_context(|| format!("Failed to write PID file {pidfile}"))?;
    }
    tracing::info!("oO0OoO0OoO0Oo rsentinel is starting oO0OoO0OoO0Oo");
    tracing::info!(
        "rsentinel version={} (Redis Sentinel {}), pid={}, just started",
        env!("CARGO_PKG_VERSION"),
        rsentinel::REDIS_VERSION,
        std::process::id()
    );
    tracing::info!("Configuration loaded");
    // Before any port answers, so that a SIGTERM is always a clean shutdown.
    let signal = shutdown_signal();
    fit_maxclients_to_fd_limit(&mut options)?;

    let tls = TlsSetup::load(&options.tls).context("Failed to configure TLS")?;
    anyhow::ensure!(
        options.port != 0 || options.tls.port != 0 || options.unixsocket.is_some(),
        "Configured to not listen anywhere, exiting."
    );
    let mut listeners = Vec::new();
    if options.port != 0 {
        for socket in bind_all(&options, options.port, "TCP").await? {
            listeners.push(Listener::from(socket));
        }
    }
    if let Some(acceptor) = &tls.acceptor {
        for socket in bind_all(&options, options.tls.port, "TLS").await? {
            listeners.push(Listener {
                socket: socket.into(),
                tls: Some(acceptor.clone()),
            });
        }
    }
    if let Some(path) = &options.unixsocket {
        listeners.push(bind_unix(path, options.unixsocketperm)?);
    }
    let http = rsentinel::observe::http::bind_from_env().await?;
    if http.is_none() {
        // Only the HTTP server reads the event ring.
        rsentinel::observe::observer().timeline().keep_events(0);
    }
    tracing::info!("Running mode=sentinel, port={}.", options.port);

    let myid = core.ensure_myid().to_string();
    tracing::warn!("Sentinel ID is {myid}");
    if let Some(f) = core.write_fence() {
        tracing::warn!(
            "Write fencing on ({}): min-replicas-to-write {} min-replicas-max-lag {} kept on every monitored instance",
            rsentinel::fence::FENCE_ENV,
            f.min_replicas,
            f.max_lag
        );
    }
    core.announce_monitored();

    let state = Arc::new(ServerState::new(
        ServerInfo {
            port: options.port,
            config_file: path.display().to_string(),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            run_id: myid_like_run_id(),
            started: std::time::Instant::now(),
            maxclients: options.maxclients as usize,
            requirepass: options.requirepass.clone(),
            renamed_commands: options.renamed_commands.clone(),
            protected_mode: options.protected_mode,
            supervised: supervision.info_name(),
            limits: options.limits.clone(),
        },
        acl,
    ));
    let acl_state = Arc::clone(&state);
    let user_lines = Box::new(move || acl_state.acl().config_lines());
    let requirepass = options.requirepass.clone();
    let link_options = LinkOptions {
        bind_source: options
            .bind_source_addr
            .as_deref()
            .and_then(|a| a.parse().ok()),
        tls: tls.connector.clone(),
    };
    let pidfile = options.pidfile.clone();
    let unixsocket = options.unixsocket.clone();
    let sink = FileSink::new(path, options, user_lines);
    let sink = Box::new(rsentinel::observe::TimedSink(sink));
    let (driver, handle) = Driver::new(core, sink, requirepass, link_options);
    if let Some(http) = http {
        tokio::spawn(rsentinel::observe::http::serve(
            http,
            handle.clone(),
            Arc::clone(&state),
        ));
    }

    let stopped = Arc::new(tokio::sync::Notify::new());
    let driver_done = {
        let stopped = Arc::clone(&stopped);
        tokio::spawn(async move {
            driver.run().await;
            stopped.notify_waiters();
        })
    };
    let signal_handle = handle.clone();
    tokio::spawn(async move {
        signal.await;
        tracing::warn!("Received shutdown signal, scheduling shutdown...");
        // A plain thread, so that it fires even if the runtime is wedged.
        std::thread::spawn(|| {
            std::thread::sleep(SHUTDOWN_DEADLINE);
            tracing::warn!("Shutdown did not finish in time, exiting now.");
            std::process::exit(1);
        });
        signal_handle.shutdown().await;
    });
    let shutdown = {
        let stopped = Arc::clone(&stopped);
        async move { stopped.notified().await }
    };
    rsentinel::heap_trim::start();
    supervision.ready();
    server::run(listeners, state, handle, shutdown).await;
    supervision.stopping();
    let _ = driver_done.await;
    if let Some(pidfile) = pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    if let Some(path) = unixsocket {
        let _ = std::fs::remove_file(path);
    }
    tracing::warn!("Sentinel is now ready to exit, bye bye...");
    Ok(())
}

/// File descriptors kept for everything but clients: listeners, links to
/// instances and peers, the log, scripts, the runtime (Redis's
/// `CONFIG_MIN_RESERVED_FDS`).
const RESERVED_FDS: u64 = 32;

/// Raises the open-files limit to `maxclients` + [`RESERVED_FDS`] as Redis
/// does at start-up, or, when the OS refuses, lowers `maxclients` to what
/// the limit allows (with Redis's warnings): extra clients are then refused
/// with "max number of clients reached" instead of taking the descriptors
/// the links to instances need.
fn fit_maxclients_to_fd_limit(options: &mut ServerOptions) -> anyhow::Result<()> {
    let wanted = u64::from(options.maxclients) + RESERVED_FDS;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        let e = std::io::Error::last_os_error();
        tracing::warn!("Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.", config::error::strerror(&e));
        options.maxclients = (1024 - RESERVED_FDS) as u32;
        return Ok(());
    }
    let old = limit.rlim_cur;
    if old >= wanted {
        return Ok(());
    }
    // Like Redis: try the wanted limit (soft and hard), then 16 less each
    // time, never going under what we already have.
    let mut best = wanted;
    let mut error = None;
    while best > old {
        let attempt = libc::rlimit {
            rlim_cur: best,
            rlim_max: best,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &attempt) } == 0 {
            break;
        }
        error = Some(std::io::Error::last_os_error());
        if best < 16 {
            best = old;
            break;
        }
        best -= 16;
    }
    let best = best.max(old);
    if best >= wanted {
        tracing::info!(
            "Increased maximum number of open files to {wanted} (it was originally set to {old})."
        );
        return Ok(());
    }
    anyhow::ensure!(
        best > RESERVED_FDS,
        "Your current 'ulimit -n' of {old} is not enough for the server to start. Please increase your open file limit to at least {wanted}. Exiting."
    );
    let requested = options.maxclients;
    options.maxclients = u32::try_from(best - RESERVED_FDS).unwrap_or(u32::MAX);
    let why = error
        .map(|e| config::error::strerror(&e))
        .unwrap_or_default();
    tracing::warn!(
        "You requested maxclients of {requested} requiring at least {wanted} max file descriptors."
    );
    tracing::warn!("Server can't set maximum open files to {wanted} because of OS error: {why}.");
    tracing::warn!("Current maximum open files is {best}. maxclients has been reduced to {} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.", options.maxclients);
    Ok(())
}

/// INFO's `run_id`: random per process, like Redis (not the sentinel id).
fn myid_like_run_id() -> String {
    let mut b = [0u8; 20];
    let _ = getrandom::getrandom(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Any panic, on any thread, ends the process. A tokio task that panics
/// would otherwise die alone: a dead driver left a zombie that kept its port
/// and answered PING while monitoring nothing, and that only SIGKILL could
/// stop. Redis crashes instead and its supervisor restarts it; so do we.
fn install_panic_hook() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("PANIC: {info}. rsentinel cannot go on safely: aborting.");
        default_hook(info);
        std::process::abort();
    }));
}

/// How long a shutdown may take after SIGTERM/SIGINT before the process
/// exits anyway (the final config flush normally takes milliseconds).
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(4);

/// Redis ignores SIGHUP (a closed terminal or a stray `kill -HUP` must not
/// stop a sentinel); set before any thread exists so all inherit it.
fn ignore_sighup() {
    // SAFETY: installing SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

/// Installs the SIGTERM/SIGINT handlers now and returns a future that ends
/// on the first of them. Installing them in a spawned task instead left a
/// window, after the port answered, in which SIGTERM still killed the
/// process outright (no flush, pidfile left behind).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = signals else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
