//! The rsentinel binary: start-up (config, daemonize, logging, listeners),
//! then the driver task and the server until SIGTERM/SIGINT or SHUTDOWN.

mod cli;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use rsentinel::acl::Acl;
use rsentinel::config::{self, CommandLine, ConfigError, ServerOptions};
use rsentinel::driver::Driver;
use rsentinel::link::LinkOptions;
use rsentinel::persist::FileSink;
use rsentinel::server::{self, Listener, ServerInfo, ServerState};
use rsentinel::tls::TlsSetup;
use rsentinel_core::sentinel::Sentinel;
use rsentinel_core::time::Millis;
use tokio::net::TcpListener;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(args) {
        cli::Invocation::Version => {
            println!("{}", cli::version());
            ExitCode::SUCCESS
        }
        cli::Invocation::Help => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        cli::Invocation::Elect(args) => run_async(async move {
            rsentinel::elect::run(args)
                .await
                .map_err(anyhow::Error::from)
        }),
        cli::Invocation::Sentinel(args) => match prepare(&args) {
            Ok(prepared) => {
                // fork only while the process is still single-threaded.
                if prepared.options.daemonize {
                    if let Err(e) = daemonize() {
                        eprintln!("{e:#}");
                        return ExitCode::FAILURE;
                    }
                }
                run_async(serve(prepared))
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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

fn prepare(args: &[String]) -> anyhow::Result<Prepared> {
    let cmdline = CommandLine::parse(args);
    let loaded = config::load(&cmdline)?;
    config::ensure_writable(&loaded.path)?;
    let is_command = |name: &str| rsentinel::commands::table::lookup(name).is_some();
    let options = ServerOptions::from_directives(&loaded.generic, &is_command)?;

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
    if let Some(aclfile) = &options.aclfile {
        if let Some(d) = user_lines.first() {
            // Redis refuses to have users in two places.
            return Err(ConfigError::at(d, USERS_IN_TWO_PLACES).into());
        }
        acl.load_aclfile().map_err(|reason| {
            anyhow::anyhow!("Aborting Redis startup because of ACL errors ({aclfile}): {reason}")
        })?;
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
    for d in config::sentinel_load_order(&loaded.sentinel) {
        core.apply_directive(Millis(0), d.sentinel_raw_args())
            .map_err(|reason| ConfigError::at(d, reason))?;
    }
    Ok(Prepared {
        path: loaded.path,
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
        options,
        acl,
        mut core,
    } = p;
    let level =
        rsentinel::logging::level_for(options.loglevel.as_str()).unwrap_or(tracing::Level::INFO);
    rsentinel::logging::init(&options.logfile, level)
        .with_context(|| format!("Can't open the log file: {}", options.logfile))?;
    std::env::set_current_dir(&options.dir)
        .with_context(|| format!("Can't chdir to '{}'", options.dir.display()))?;
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

    let tls = TlsSetup::load(&options.tls).context("Failed to configure TLS")?;
    anyhow::ensure!(
        options.port != 0 || options.tls.port != 0,
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
                socket,
                tls: Some(acceptor.clone()),
            });
        }
    }
    tracing::info!("Running mode=sentinel, port={}.", options.port);

    let myid = core.ensure_myid().to_string();
    tracing::warn!("Sentinel ID is {myid}");
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
    let sink = FileSink::new(path, options, user_lines);
    let (driver, handle) = Driver::new(core, Box::new(sink), requirepass, link_options);

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
        wait_for_signal().await;
        tracing::warn!("Received shutdown signal, scheduling shutdown...");
        signal_handle.shutdown().await;
    });
    let shutdown = {
        let stopped = Arc::clone(&stopped);
        async move { stopped.notified().await }
    };
    server::run(listeners, state, handle, shutdown).await;
    let _ = driver_done.await;
    if let Some(pidfile) = pidfile {
        let _ = std::fs::remove_file(pidfile);
    }
    tracing::warn!("Sentinel is now ready to exit, bye bye...");
    Ok(())
}

/// INFO's `run_id`: random per process, like Redis (not the sentinel id).
fn myid_like_run_id() -> String {
    let mut b = [0u8; 20];
    let _ = getrandom::getrandom(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
