//! INFO in sentinel mode: the server, clients, stats and cpu sections (the
//! sentinel section comes from the core), chosen and joined like Redis.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::state::{ServerState, Stats};

/// The sections a sentinel knows, in the order Redis prints them.
const SECTIONS: [&str; 5] = ["server", "clients", "stats", "cpu", "sentinel"];

/// Which sections `INFO <args>` asks for, in print order. No argument,
/// `default`, `all` and `everything` mean all of them; unknown names are
/// dropped silently.
pub fn requested_sections(args: &[Vec<u8>]) -> Vec<&'static str> {
    if args.is_empty() {
        return SECTIONS.to_vec();
    }
    let wanted: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted
        .iter()
        .any(|w| w == "default" || w == "all" || w == "everything")
    {
        return SECTIONS.to_vec();
    }
    SECTIONS
        .iter()
        .copied()
        .filter(|s| wanted.iter().any(|w| w == s))
        .collect()
}

/// Joins finished sections: each ends with CRLF and a blank line separates
/// them, as in Redis's INFO text.
pub fn join_sections(sections: &[String]) -> String {
    sections.join("\r\n")
}

/// The text of one of the shell's sections (not `sentinel`).
pub fn section(state: &ServerState, name: &str) -> String {
    match name {
        "server" => server(state),
        "clients" => clients(state),
        "stats" => stats(state),
        "cpu" => cpu(),
        _ => String::new(),
    }
}

fn lines(title: &str, fields: &[(&str, String)]) -> String {
    let mut out = format!("# {title}\r\n");
    for (k, v) in fields {
        let _ = write!(out, "{k}:{v}\r\n");
    }
    out
}

/// `uname` as Redis prints it in `os:`: sysname, release and machine.
fn os_name() -> String {
    // SAFETY: uname fills a zeroed utsname struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return std::env::consts::OS.to_string();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

/// The timer frequency shown: Redis sentinel randomises its `hz` to 10–19
/// so that sentinels do not act in lock step; we report a stable value in
/// that range derived from the run id.
fn shown_hz(run_id: &str) -> u32 {
    10 + run_id.bytes().map(u32::from).sum::<u32>() % 10
}

fn server(state: &ServerState) -> String {
    let info = &state.info;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let uptime = info.started.elapsed().as_secs();
    let fields = [
        ("redis_version", crate::REDIS_VERSION.to_string()),
        ("redis_git_sha1", "00000000".into()),
        ("redis_git_dirty", "0".into()),
        ("redis_build_id", "0".into()),
        ("redis_mode", "sentinel".into()),
        // An added field, no Redis field changed: tells rsentinel apart
        // from redis-sentinel for tools that parse INFO by field name.
        ("rsentinel_version", env!("CARGO_PKG_VERSION").into()),
        ("os", os_name()),
        ("arch_bits", (usize::BITS).to_string()),
        ("monotonic_clock", "POSIX clock_gettime".into()),
        ("multiplexing_api", "epoll".into()),
        ("atomicvar_api", "c11-builtin".into()),
        ("gcc_version", "0.0.0".into()),
        ("process_id", std::process::id().to_string()),
        ("process_supervised", info.supervised.into()),
        ("run_id", info.run_id.clone()),
        ("tcp_port", info.port.to_string()),
        ("server_time_usec", now.as_micros().to_string()),
        ("uptime_in_seconds", uptime.to_string()),
        ("uptime_in_days", (uptime / 86400).to_string()),
        ("hz", shown_hz(&info.run_id).to_string()),
        ("configured_hz", "10".into()),
        // Redis's LRU clock: seconds, wrapped at 24 bits.
        ("lru_clock", (now.as_secs() & ((1 << 24) - 1)).to_string()),
        ("executable", info.executable.clone()),
        ("config_file", info.config_file.clone()),
        ("io_threads_active", "0".into()),
    ];
    lines("Server", &fields)
}

fn clients(state: &ServerState) -> String {
    let s = &state.stats;
    let fields = [
        ("connected_clients", state.clients.len().to_string()),
        ("cluster_connections", "0".into()),
        ("maxclients", state.info.maxclients.to_string()),
        (
            "client_recent_max_input_buffer",
            Stats::get(&s.max_input_buffer).to_string(),
        ),
        (
            "client_recent_max_output_buffer",
            Stats::get(&s.max_output_buffer).to_string(),
        ),
        ("blocked_clients", "0".into()),
        (
            "tracking_clients",
            state.clients.tracking_count().to_string(),
        ),
        ("clients_in_timeout_table", "0".into()),
    ];
    lines("Clients", &fields)
}

fn stats(state: &ServerState) -> String {
    let s = &state.stats;
    let n = |c: &std::sync::atomic::AtomicU64| Stats::get(c).to_string();
    let (channels, patterns) = state.clients.all().iter().fold((0, 0), |(c, p), cl| {
        let m = cl.meta();
        (c + m.sub, p + m.psub)
    });
    let zero = || "0".to_string();
    let zero_rate = || "0.00".to_string();
    let fields = [
        ("total_connections_received", n(&s.connections_received)),
        ("total_commands_processed", n(&s.commands_processed)),
        ("instantaneous_ops_per_sec", zero()),
        ("total_net_input_bytes", n(&s.net_input_bytes)),
        ("total_net_output_bytes", n(&s.net_output_bytes)),
        ("total_net_repl_input_bytes", zero()),
        ("total_net_repl_output_bytes", zero()),
        ("instantaneous_input_kbps", zero_rate()),
        ("instantaneous_output_kbps", zero_rate()),
        ("instantaneous_input_repl_kbps", zero_rate()),
        ("instantaneous_output_repl_kbps", zero_rate()),
        ("rejected_connections", n(&s.rejected_connections)),
        ("sync_full", zero()),
        ("sync_partial_ok", zero()),
        ("sync_partial_err", zero()),
        ("expired_keys", zero()),
        ("expired_stale_perc", zero_rate()),
        ("expired_time_cap_reached_count", zero()),
        ("expire_cycle_cpu_milliseconds", zero()),
        ("evicted_keys", zero()),
        ("evicted_clients", zero()),
        ("total_eviction_exceeded_time", zero()),
        ("current_eviction_exceeded_time", zero()),
        ("keyspace_hits", zero()),
        ("keyspace_misses", zero()),
        // Redis counts distinct channels server-wide; per-client sums are
        // the same whenever subscribers do not share channels.
        ("pubsub_channels", channels.to_string()),
        ("pubsub_patterns", patterns.to_string()),
        ("pubsubshard_channels", zero()),
        ("latest_fork_usec", zero()),
        ("total_forks", zero()),
        ("migrate_cached_sockets", zero()),
        ("slave_expires_tracked_keys", zero()),
        ("active_defrag_hits", zero()),
        ("active_defrag_misses", zero()),
        ("active_defrag_key_hits", zero()),
        ("active_defrag_key_misses", zero()),
        ("total_active_defrag_time", zero()),
        ("current_active_defrag_time", zero()),
        ("tracking_total_keys", zero()),
        ("tracking_total_items", zero()),
        ("tracking_total_prefixes", zero()),
        ("unexpected_error_replies", zero()),
        ("total_error_replies", n(&s.error_replies)),
        ("dump_payload_sanitizations", zero()),
        ("total_reads_processed", n(&s.reads_processed)),
        ("total_writes_processed", n(&s.writes_processed)),
        ("io_threaded_reads_processed", zero()),
        ("io_threaded_writes_processed", zero()),
        ("reply_buffer_shrinks", zero()),
        ("reply_buffer_expands", zero()),
    ];
    lines("Stats", &fields)
}

/// `seconds.micros` as Redis prints rusage times.
fn tv(t: libc::timeval) -> String {
    format!("{}.{:06}", t.tv_sec, t.tv_usec)
}

fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage fills a zeroed rusage struct we own.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut r) };
    r
}

fn cpu() -> String {
    let me = rusage(libc::RUSAGE_SELF);
    let children = rusage(libc::RUSAGE_CHILDREN);
    // Redis's "main thread" is its event loop; ours is spread over tokio's
    // workers, so the process-wide figures are the honest equivalent.
    let fields = [
        ("used_cpu_sys", tv(me.ru_stime)),
        ("used_cpu_user", tv(me.ru_utime)),
        ("used_cpu_sys_children", tv(children.ru_stime)),
        ("used_cpu_user_children", tv(children.ru_utime)),
        ("used_cpu_sys_main_thread", tv(me.ru_stime)),
        ("used_cpu_user_main_thread", tv(me.ru_utime)),
    ];
    lines("CPU", &fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn sections_come_in_redis_order_and_unknown_ones_are_dropped() {
        assert_eq!(
            requested_sections(&v(&["sentinel", "CPU", "foo"])),
            vec!["cpu", "sentinel"]
        );
        assert_eq!(requested_sections(&v(&["foo"])), Vec::<&str>::new());
        for all in ["default", "ALL", "everything"] {
            assert_eq!(requested_sections(&v(&[all])), SECTIONS.to_vec());
        }
        assert_eq!(requested_sections(&[]), SECTIONS.to_vec());
    }

    #[test]
    fn cpu_times_have_six_decimals() {
        let text = cpu();
        assert!(text.starts_with("# CPU\r\nused_cpu_sys:"));
        for line in text.lines().skip(1) {
            let value = line.split(':').nth(1).unwrap();
            let (_, frac) = value.split_once('.').unwrap();
            assert_eq!(frac.len(), 6, "{line}");
        }
    }

    #[test]
    fn hz_stays_in_redis_range() {
        for id in ["", "ffff", "0123456789abcdef0123456789abcdef01234567"] {
            assert!((10..=19).contains(&shown_hz(id)));
        }
    }
}
