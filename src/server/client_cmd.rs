//! CLIENT subcommands: ID, GETNAME/SETNAME, LIST/INFO, KILL (both forms),
//! REPLY, PAUSE/UNPAUSE, NO-EVICT, TRACKING/TRACKINGINFO/CACHING/GETREDIR,
//! UNBLOCK and HELP, with redis-sentinel 7.0's replies.

use std::time::{Duration, Instant};

use rsentinel_core::reply::Reply;

use super::client_registry::{ClientType, KillFilter, Killed, Tracking};
use super::output::Output;
use super::session::{Ctx, Session};
use crate::resp::string2ll::string2ll;

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
];

fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis allows only printable ASCII without spaces in client names; the
/// empty name clears it.
pub fn validate_name(name: &[u8]) -> Result<String, Reply> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(text(name))
}

/// Runs `CLIENT <sub> ...` (`args` includes CLIENT; the subcommand and its
/// arity were checked by the command table). Replies go to `out` directly
/// because LIST and INFO are verbatim strings in RESP3.
pub fn client(ctx: &Ctx, s: &mut Session, sub: &str, args: &[Vec<u8>], out: &mut Output) {
    let reply = match sub {
        "id" => Reply::Int(s.client.id as i64),
        "getname" => {
            let name = s.client.meta().name.clone();
            if name.is_empty() {
                Reply::Null
            } else {
                Reply::bulk(name)
            }
        }
        "setname" => match validate_name(&args[2]) {
            Ok(n) => {
                s.client.meta().name = n;
                Reply::ok()
            }
            Err(e) => e,
        },
        "info" => {
            out.verbatim(&format!("{}\n", s.client.info_line(Instant::now())));
            return;
        }
        "list" => match list(ctx, args) {
            Ok(text) => {
                out.verbatim(&text);
                return;
            }
            Err(e) => e,
        },
        "kill" => kill(ctx, s, args),
        "reply" => {
            // OFF and SKIP take effect on their own reply already.
            if is(&args[2], "on") {
                s.reply_off = false;
                out.suppress = false;
                Reply::ok()
            } else if is(&args[2], "off") {
                s.reply_off = true;
                return;
            } else if is(&args[2], "skip") {
                s.skip_next = true;
                return;
            } else {
                syntax_error()
            }
        }
        "pause" => pause(ctx, args),
        "unpause" => {
            ctx.state.pause.unpause();
            Reply::ok()
        }
        "no-evict" => {
            if is(&args[2], "on") || is(&args[2], "off") {
                s.client.meta().no_evict = is(&args[2], "on");
                Reply::ok()
            } else {
                syntax_error()
            }
        }
        "tracking" => tracking(ctx, s, args),
        "trackinginfo" => tracking_info(&s.client.meta().tracking),
        "caching" => caching(s, &args[2]),
        "getredir" => {
            let t = &s.client.meta().tracking;
            Reply::Int(if t.on { t.redirect as i64 } else { -1 })
        }
        "unblock" => unblock(args),
        "help" => Reply::Array(HELP.iter().map(|l| Reply::Simple(l.to_string())).collect()),
        other => Reply::err(format!("unknown subcommand '{other}'. Try CLIENT HELP.")),
    };
    out.reply(&reply);
}

/// `CLIENT LIST [TYPE t | ID id...]`: one line per client, `\n`-ended.
fn list(ctx: &Ctx, args: &[Vec<u8>]) -> Result<String, Reply> {
    let mut clients = ctx.state.clients.all();
    if args.len() == 4 && is(&args[2], "type") {
        let Some(kind) = ClientType::parse(&args[3]) else {
            return Err(Reply::err(format!(
                "Unknown client type '{}'",
                text(&args[3])
            )));
        };
        clients.retain(|c| c.client_type() == kind);
    } else if args.len() >= 4 && is(&args[2], "id") {
        let mut ids = Vec::new();
        for a in &args[3..] {
            match string2ll(a) {
                Some(id) if id > 0 => ids.push(id as u64),
                _ => return Err(Reply::err("Invalid client ID")),
            }
        }
        clients.retain(|c| ids.contains(&c.id));
    } else if args.len() != 2 {
        return Err(syntax_error());
    }
    let now = Instant::now();
    Ok(clients
        .iter()
        .map(|c| format!("{}\n", c.info_line(now)))
        .collect())
}

/// `CLIENT KILL ip:port` (old form, `+OK`) or `CLIENT KILL <filter>...`
/// (new form, the number killed). The asking client closes after its reply.
fn kill(ctx: &Ctx, s: &mut Session, args: &[Vec<u8>]) -> Reply {
    let me = s.client.id;
    let registry = &ctx.state.clients;
    if args.len() == 3 {
        let killed = registry.kill_addr(&text(&args[2]), me);
        if killed.count == 0 {
            return Reply::err("No such client");
        }
        s.close_after_reply |= killed.me;
        return Reply::ok();
    }
    let mut filter = KillFilter {
        skipme: true,
        ..KillFilter::default()
    };
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return syntax_error();
        };
        let opt = &args[i];
        if is(opt, "id") {
            match string2ll(value) {
                Some(id) if id > 0 => filter.id = Some(id as u64),
                _ => return Reply::err("client-id should be greater than 0"),
            }
        } else if is(opt, "type") {
            match ClientType::parse(value) {
                Some(t) => filter.kind = Some(t),
                None => return Reply::err(format!("Unknown client type '{}'", text(value))),
            }
        } else if is(opt, "addr") {
            filter.addr = Some(text(value));
        } else if is(opt, "laddr") {
            filter.laddr = Some(text(value));
        } else if is(opt, "user") {
            let name = text(value);
            if ctx.state.acl().user(&name).is_none() {
                return Reply::err(format!("No such user '{name}'"));
            }
            filter.user = Some(name);
        } else if is(opt, "skipme") {
            if is(value, "yes") {
                filter.skipme = true;
            } else if is(value, "no") {
                filter.skipme = false;
            } else {
                return syntax_error();
            }
        } else {
            return syntax_error();
        }
        i += 2;
    }
    let Killed {
        count,
        me: killed_me,
    } = registry.kill(&filter, me);
    s.close_after_reply |= killed_me;
    Reply::Int(count as i64)
}

/// `CLIENT PAUSE timeout [WRITE|ALL]`.
fn pause(ctx: &Ctx, args: &[Vec<u8>]) -> Reply {
    let Some(ms) = string2ll(&args[2]) else {
        return Reply::err("timeout is not an integer or out of range");
    };
    if ms < 0 {
        return Reply::err("timeout is negative");
    }
    let all = match args.get(3) {
        None => true,
        Some(m) if is(m, "all") => true,
        Some(m) if is(m, "write") => false,
        Some(_) => return Reply::err("CLIENT PAUSE mode must be WRITE or ALL"),
    };
    if args.len() > 4 {
        return Reply::err(
            "unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.",
        );
    }
    let until = tokio::time::Instant::now() + Duration::from_millis(ms as u64);
    ctx.state.pause.pause(until, all);
    Reply::ok()
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p]... [OPTIN]
/// [OPTOUT] [NOLOOP]`, validated in Redis's order.
fn tracking(ctx: &Ctx, s: &mut Session, args: &[Vec<u8>]) -> Reply {
    let mut new = Tracking {
        on: true,
        ..Tracking::default()
    };
    let mut redirect_given = false;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = &args[j];
        if is(opt, "redirect") && more {
            j += 1;
            if redirect_given {
                return Reply::err("A client can only redirect to a single other client");
            }
            let Some(id) = string2ll(&args[j]) else {
                return Reply::err("value is not an integer or out of range");
            };
            if id <= 0 || ctx.state.clients.get(id as u64).is_none() {
                return Reply::err("The client ID you want redirect to does not exist");
            }
            redirect_given = true;
            new.redirect = id as u64;
        } else if is(opt, "bcast") {
            new.bcast = true;
        } else if is(opt, "optin") {
            new.optin = true;
        } else if is(opt, "optout") {
            new.optout = true;
        } else if is(opt, "noloop") {
            new.noloop = true;
        } else if is(opt, "prefix") && more {
            j += 1;
            new.prefixes.push(args[j].clone());
        } else {
            return syntax_error();
        }
        j += 1;
    }
    let mut meta = s.client.meta();
    let old = &meta.tracking;
    if is(&args[2], "on") {
        if !new.bcast && !new.prefixes.is_empty() {
            return Reply::err("PREFIX option requires BCAST mode to be enabled");
        }
        if old.on && old.bcast != new.bcast {
            return Reply::err(
                "You can't switch BCAST mode on/off before disabling tracking for this client, \
                 and then re-enabling it with a different mode.",
            );
        }
        if new.bcast && (new.optin || new.optout) {
            return Reply::err("OPTIN and OPTOUT are not compatible with BCAST");
        }
        if new.optin && new.optout {
            return Reply::err("You can't specify both OPTIN mode and OPTOUT mode");
        }
        if (new.optin && old.optout) || (new.optout && old.optin) {
            return Reply::err(
                "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, \
                 and then re-enabling it with a different mode.",
            );
        }
        // Enabling again keeps earlier prefixes and modes, like Redis.
        let mut merged = if old.on {
            old.clone()
        } else {
            Tracking::default()
        };
        merged.on = true;
        merged.redirect = new.redirect;
        merged.bcast |= new.bcast;
        merged.optin |= new.optin;
        merged.optout |= new.optout;
        merged.noloop |= new.noloop;
        for p in new.prefixes {
            if !merged.prefixes.contains(&p) {
                merged.prefixes.push(p);
            }
        }
        meta.tracking = merged;
        Reply::ok()
    } else if is(&args[2], "off") {
        meta.tracking = Tracking::default();
        Reply::ok()
    } else {
        syntax_error()
    }
}

fn tracking_info(t: &Tracking) -> Reply {
    let mut flags = Vec::new();
    if !t.on {
        flags.push("off");
    } else {
        flags.push("on");
        if t.bcast {
            flags.push("bcast");
        }
        if t.optin {
            flags.push("optin");
            if t.caching == Some(true) {
                flags.push("caching-yes");
            }
        }
        if t.optout {
            flags.push("optout");
            if t.caching == Some(false) {
                flags.push("caching-no");
            }
        }
        if t.noloop {
            flags.push("noloop");
        }
    }
    Reply::map_of(vec![
        (
            "flags",
            Reply::Array(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (
            "redirect",
            Reply::Int(if t.on { t.redirect as i64 } else { -1 }),
        ),
        (
            "prefixes",
            Reply::Array(t.prefixes.iter().map(Reply::bulk).collect()),
        ),
    ])
}

/// `CLIENT CACHING YES|NO`: only meaningful in OPTIN / OPTOUT tracking.
fn caching(s: &mut Session, value: &[u8]) -> Reply {
    let mut meta = s.client.meta();
    let t = &mut meta.tracking;
    if !t.on {
        return Reply::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or \
             OPTOUT mode enabled",
        );
    }
    if is(value, "yes") {
        if !t.optin {
            return Reply::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        t.caching = Some(true);
    } else if is(value, "no") {
        if !t.optout {
            return Reply::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        t.caching = Some(false);
    } else {
        return syntax_error();
    }
    Reply::ok()
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: nobody blocks in sentinel mode.
fn unblock(args: &[Vec<u8>]) -> Reply {
    if string2ll(&args[2]).is_none() {
        return Reply::err("value is not an integer or out of range");
    }
    match args.get(3) {
        None => {}
        Some(r) if is(r, "timeout") || is(r, "error") => {}
        Some(_) => return Reply::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    }
    Reply::Int(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_printable_without_spaces() {
        assert_eq!(validate_name(b"sentinel-1-cmd").unwrap(), "sentinel-1-cmd");
        assert_eq!(validate_name(b"").unwrap(), "");
        for bad in [&b"a b"[..], b"a\nb", b"\x7f", b"\xc3\xa9"] {
            assert!(validate_name(bad).is_err());
        }
    }

    #[test]
    fn tracking_info_reports_flags_in_redis_order() {
        let t = Tracking {
            on: true,
            optin: true,
            caching: Some(true),
            noloop: true,
            ..Tracking::default()
        };
        let Reply::Map(pairs) = tracking_info(&t) else {
            panic!()
        };
        assert_eq!(
            pairs[0].1,
            Reply::Array(vec![
                Reply::bulk("on"),
                Reply::bulk("optin"),
                Reply::bulk("caching-yes"),
                Reply::bulk("noloop")
            ])
        );
        assert_eq!(pairs[1].1, Reply::Int(0));
        let Reply::Map(off) = tracking_info(&Tracking::default()) else {
            panic!()
        };
        assert_eq!(off[0].1, Reply::Array(vec![Reply::bulk("off")]));
        assert_eq!(off[1].1, Reply::Int(-1));
    }

    #[test]
    fn unblock_checks_id_then_reason() {
        let v = |w: &[&str]| w.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(unblock(&v(&["client", "unblock", "1"])), Reply::Int(0));
        assert_eq!(
            unblock(&v(&["client", "unblock", "x", "foo"])),
            Reply::err("value is not an integer or out of range")
        );
        assert_eq!(
            unblock(&v(&["client", "unblock", "1", "foo"])),
            Reply::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        );
    }
}
