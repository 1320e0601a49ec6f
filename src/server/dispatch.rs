//! Running one request: resolve it in the command table, apply Redis's
//! gates in Redis's order (NOAUTH, ACL, the RESP2 subscribed context,
//! CLIENT PAUSE), then hand it to its handler.

use rsentinel_core::reply::Reply;

use super::client_cmd;
use super::hello_cmd;
use super::info;
use super::output::Output;
use super::session::{Ctx, Session};
use super::state::Renamed;
use crate::acl;
use crate::commands::command::command;
use crate::commands::resolve::{resolve, unknown_command, wrong_arity};
use crate::commands::table::CommandSpec;
use crate::driver::handle::Submitted;

/// The only channel a sentinel accepts PUBLISH on.
const HELLO_CHANNEL: &[u8] = b"__sentinel__:hello";

/// What the connection does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Write what is pending and close (SHUTDOWN, or the client was killed
    /// while waiting).
    Close,
}

/// Commands a RESP2 client may still send once subscribed.
fn allowed_while_subscribed(cmd: &CommandSpec) -> bool {
    matches!(
        cmd.name,
        "ping" | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe"
    )
}

/// The connection's buffers as a request starts, shown by CLIENT LIST.
#[derive(Debug, Clone, Copy)]
pub struct Inbound {
    pub qbuf: usize,
    pub qbuf_free: usize,
    pub argv_mem: usize,
    pub obl: usize,
}

/// What [`start`] left of a request.
#[derive(Debug)]
pub enum Started {
    /// The request has run: refused by a gate, or a query answered in place.
    Done(Flow),
    /// It passed the gates; [`finish`] runs it.
    Resolved(Resolved),
}

/// A command that passed the gates, for [`finish`].
#[derive(Debug)]
pub struct Resolved {
    cmd: &'static CommandSpec,
    sub: Option<&'static CommandSpec>,
    /// Already tried as a query answered in place: it was not one.
    query_tried: bool,
}

/// The part of a request that never waits: resolves `args` for session
/// `s` and applies the gates, appending any refusal to `out`; a read-only
/// `SENTINEL` query is answered here too. Synchronous so that the hottest
/// request (a pipelined `get-master-addr-by-name`) never builds the
/// future of everything a command may await, whose set-up showed in
/// pipelined profiles. `args` is left for the caller to recycle (a renamed
/// command's name is rewritten in place).
pub fn start(
    ctx: &Ctx,
    s: &mut Session,
    args: &mut [Vec<u8>],
    inbound: Inbound,
    out: &mut Output,
) -> Started {
    out.resp3 = s.resp3;
    out.suppress = s.reply_off || std::mem::take(&mut s.skip_next);
    let resolved = prepare(ctx, args).and_then(|(cmd, sub)| {
        gates(ctx, s, cmd, sub, args)?;
        Ok((cmd, sub))
    });
    s.note(
        inbound,
        resolved.as_ref().ok().map(|(c, sub)| sub.unwrap_or(c)),
    );
    let (cmd, sub) = match resolved {
        Ok(found) => found,
        Err(e) => {
            out.reply(&e);
            return Started::Done(Flow::Continue);
        }
    };
    // A query answered in place neither yields nor reads the client's
    // bookkeeping; a paused server holds it like any other command.
    let query =
        cmd.name == "sentinel" && !is_vote_request(&args[1..]) && !ctx.state.pause.holds_commands();
    if query {
        let full_name = sub.unwrap_or(cmd).full_name;
        if ctx.core.query(&args[1..], &mut out.writer()) {
            s.count_command(full_name);
            after_command(s, full_name);
            return Started::Done(Flow::Continue);
        }
    }
    Started::Resolved(Resolved {
        cmd,
        sub,
        query_tried: query,
    })
}

/// Runs a command [`start`] let through, appending every reply to `out`.
pub async fn finish(
    ctx: &Ctx,
    s: &mut Session,
    resolved: Resolved,
    args: &mut [Vec<u8>],
    out: &mut Output,
) -> Flow {
    let Resolved {
        cmd,
        sub,
        query_tried,
    } = resolved;
    let full_name = sub.unwrap_or(cmd).full_name;
    // A paused server holds the command; a kill still gets through.
    if ctx.state.pause.holds_commands() {
        s.settle(&ctx.state.stats);
        tokio::select! {
            _ = ctx.state.pause.wait() => {}
            _ = s.client.killed() => return Flow::Close,
        }
    }
    s.count_command(full_name);
    let flow = run(ctx, s, cmd, sub, query_tried, args, out).await;
    after_command(s, full_name);
    out.resp3 = s.resp3;
    flow
}

/// CLIENT CACHING covers exactly the one command after it.
fn after_command(s: &mut Session, full_name: &str) {
    if full_name == "client|caching" {
        s.caching_armed = true;
    } else if std::mem::take(&mut s.caching_armed) {
        s.client.meta().tracking.caching = None;
    }
}

/// Undoes a `rename-command`, then finds the command in the table.
fn prepare(
    ctx: &Ctx,
    args: &mut [Vec<u8>],
) -> Result<(&'static CommandSpec, Option<&'static CommandSpec>), Reply> {
    if let Some(name) = args.first() {
        match ctx.state.info.unrename(name) {
            Renamed::Keep => {}
            Renamed::Original(original) => args[0] = original,
            Renamed::Hidden => return Err(unknown_command(name, &args[1..])),
        }
    }
    resolve(args)
}

/// NOAUTH, then the ACL, then the RESP2 subscribed context.
fn gates(
    ctx: &Ctx,
    s: &mut Session,
    cmd: &'static CommandSpec,
    sub: Option<&'static CommandSpec>,
    args: &[Vec<u8>],
) -> Result<(), Reply> {
    let target = sub.unwrap_or(cmd);
    let version = ctx.state.acl_version();
    if !(s.authenticated && s.acl_allowed(version, target)) {
        let user = s.user();
        let acl = ctx.state.acl();
        if !cmd.has_flag("no_auth") && !s.authenticated && acl.default_user_requires_auth() {
            return Err(acl::noauth());
        }
        // Check first without logging: building the client description
        // for the ACL log is only worth it on a refusal.
        if acl.check_command(user, cmd, sub, args).is_err() {
            drop(acl);
            s.settle(&ctx.state.stats);
            let info = s.client.info_line(std::time::Instant::now());
            let now = ctx.state.now();
            ctx.state
                .acl()
                .check_and_log(s.user(), cmd, sub, args, &info, now)?;
        } else if s.authenticated && acl::verdict_ignores_args(cmd, sub, args) {
            drop(acl);
            s.remember_acl_allowed(version, target);
        }
    }
    if s.in_resp2_pubsub() && !allowed_while_subscribed(cmd) {
        return Err(Reply::err(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET \
             are allowed in this context",
            sub.unwrap_or(cmd).full_name
        )));
    }
    Ok(())
}

async fn run(
    ctx: &Ctx,
    s: &mut Session,
    cmd: &CommandSpec,
    sub: Option<&CommandSpec>,
    query_tried: bool,
    args: &[Vec<u8>],
    out: &mut Output,
) -> Flow {
    // Only a query answered in place neither yields nor reads the
    // client's bookkeeping: anything else publishes it first.
    let vote = cmd.name == "sentinel" && is_vote_request(&args[1..]);
    if cmd.name != "sentinel" || vote {
        s.settle(&ctx.state.stats);
    }
    let reply = match cmd.name {
        "ping" => ping(s, args),
        "auth" => hello_cmd::auth(ctx, s, args),
        "hello" => {
            let r = hello_cmd::hello(ctx, s, args);
            // The reply already speaks the protocol HELLO chose.
            out.resp3 = s.resp3;
            r
        }
        "client" => {
            let name = sub.map_or("", |c| c.name);
            client_cmd::client(ctx, s, name, args, out);
            return Flow::Continue;
        }
        "command" => command(args, s.resp3),
        "acl" => acl_command(ctx, s, args).await,
        "info" => info_command(ctx, &args[1..]).await,
        "role" => ctx.core.role().await,
        "sentinel" if vote => {
            if let Some((asker, host, port)) = peer_question(s, &args[1..]) {
                ctx.core.peer_question(&asker, host, port).await;
            }
            match ctx.core.submit_sentinel(&args[1..]).await {
                Submitted::Ready(reply) => {
                    crate::observe::on_sentinel_reply(&args[1..], &reply);
                    reply
                }
                Submitted::Waiting(rx) => {
                    out.defer(rx, &args[1..]);
                    return Flow::Continue;
                }
            }
        }
        "sentinel" => {
            if !query_tried && ctx.core.query(&args[1..], &mut out.writer()) {
                return Flow::Continue;
            }
            s.settle(&ctx.state.stats);
            let reply = ctx.core.sentinel(&args[1..]).await;
            crate::observe::on_sentinel_reply(&args[1..], &reply);
            reply
        }
        "publish" => {
            if args[1] == HELLO_CHANNEL {
                match ctx.core.submit_hello(args[2].clone()).await {
                    Submitted::Ready(reply) => reply,
                    Submitted::Waiting(rx) => {
                        out.defer(rx, &[]);
                        return Flow::Continue;
                    }
                }
            } else {
                Reply::err("Only HELLO messages are accepted by Sentinel instances.")
            }
        }
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" => {
            let names = &args[1..];
            let replies = match cmd.name {
                "subscribe" => s.subs.subscribe(names),
                "unsubscribe" => s.subs.unsubscribe(names),
                "psubscribe" => s.subs.psubscribe(names),
                _ => s.subs.punsubscribe(names),
            };
            s.sync_subscriptions(&ctx.core);
            out.replies(&replies);
            return Flow::Continue;
        }
        "shutdown" => match shutdown_flags(&args[1..]) {
            Ok(()) => {
                ctx.core.shutdown().await;
                // Like Redis, the client gets no reply: the server is gone.
                return Flow::Close;
            }
            Err(e) => e,
        },
        _ => crate::commands::resolve::unknown_command(&args[0], &args[1..]),
    };
    out.reply(&reply);
    Flow::Continue
}

/// `SENTINEL is-master-down-by-addr …` (or its valkey alias): the request
/// a peer pipelines by the dozen when many masters fail at once. Its reply
/// may be deferred (see [`Output::defer`]): only further vote requests are
/// submitted while one awaits its reply, and anything else waits for it,
/// so no later command can see the state from before the vote.
pub fn is_vote_request(sentinel_args: &[Vec<u8>]) -> bool {
    // The first letter sorts out every query cheaply.
    sentinel_args.first().is_some_and(|sub| {
        sub.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'i'))
            && (sub.eq_ignore_ascii_case(b"is-master-down-by-addr")
                || sub.eq_ignore_ascii_case(b"is-primary-down-by-addr"))
    })
}

/// A vote request that only asks whether a master is down (run id `*`),
/// from a peer sentinel's command link, named `sentinel-<8 chars of its run
/// id>-cmd` as redis-sentinel and rsentinel both name it: (run id prefix,
/// host, port). Sentinels ask only about a master they see down, so the
/// core counts the question as the peer's answer.
fn peer_question<'a>(s: &Session, sentinel_args: &'a [Vec<u8>]) -> Option<(String, &'a str, u16)> {
    let (host, port) = rsentinel_core::sentinel::down_question(sentinel_args)?;
    let meta = s.client.meta();
    let id8 = meta.name.strip_prefix("sentinel-")?.strip_suffix("-cmd")?;
    if id8.len() != 8 || !id8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((id8.to_string(), host, port))
}

/// Whether the whole request `args` is a [`is_vote_request`] or a hello
/// (`PUBLISH __sentinel__:hello …`): such requests may be submitted while
/// earlier ones still await their reply; the driver takes them in order.
pub fn may_pipeline(args: &[Vec<u8>]) -> bool {
    let Some(cmd) = args.first() else {
        return false;
    };
    if cmd.eq_ignore_ascii_case(b"publish") {
        return args.len() == 3 && args[1] == HELLO_CHANNEL;
    }
    cmd.eq_ignore_ascii_case(b"sentinel") && is_vote_request(&args[1..])
}

/// `PING [message]`; in the RESP2 subscribed context a `["pong", msg]`
/// array, since plain replies would be mistaken for messages.
fn ping(s: &Session, args: &[Vec<u8>]) -> Reply {
    if args.len() > 2 {
        return wrong_arity("ping");
    }
    let msg = args.get(1);
    if s.in_resp2_pubsub() {
        return Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::bulk(msg.map_or(&[][..], |m| m.as_slice())),
        ]);
    }
    match msg {
        Some(m) => Reply::bulk(m),
        None => Reply::Simple("PONG".into()),
    }
}

/// `ACL ...`: closes the connections of deleted users, and persists user
/// changes with a config rewrite (sentinel keeps its users in its config
/// unless an aclfile is used). The reply is the ACL reply either way.
async fn acl_command(ctx: &Ctx, s: &mut Session, args: &[Vec<u8>]) -> Reply {
    let user = s.user();
    let now = ctx.state.now();
    let (outcome, persist) = {
        let mut acl = ctx.state.acl();
        let outcome = acl.acl_command_at(user, args, now);
        let persist = outcome.changed && acl.aclfile().is_none();
        (outcome, persist)
    };
    for gone in &outcome.users_to_disconnect {
        let killed = ctx.state.clients.kill_user(gone, s.client.id);
        s.close_after_reply |= killed.me;
    }
    if persist {
        if let Err(e) = ctx.core.flush_config().await {
            tracing::warn!("Failed to rewrite the config after ACL changes: {e}");
        }
    }
    outcome.reply
}

/// `INFO [section ...]`: always a plain bulk string, even in RESP3.
async fn info_command(ctx: &Ctx, args: &[Vec<u8>]) -> Reply {
    let mut sections = Vec::new();
    for name in info::requested_sections(args) {
        if name == "sentinel" {
            sections.push(ctx.core.info_section().await);
        } else {
            sections.push(info::section(&ctx.state, name));
        }
    }
    Reply::Bulk(info::join_sections(&sections).into_bytes())
}

/// SHUTDOWN's flags: NOSAVE/SAVE/NOW/FORCE are accepted (sentinel has no
/// dataset to save); ABORT is refused since a sentinel's shutdown is
/// never left pending.
fn shutdown_flags(args: &[Vec<u8>]) -> Result<(), Reply> {
    let (mut nosave, mut save, mut other, mut abort) = (false, false, false, false);
    for a in args {
        match a.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" | b"force" => other = true,
            b"abort" => abort = true,
            _ => return Err(Reply::err("syntax error")),
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        return Err(Reply::err("syntax error"));
    }
    if abort {
        return Err(Reply::err("No shutdown in progress."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn shutdown_flags_follow_redis() {
        assert!(shutdown_flags(&v(&[])).is_ok());
        assert!(shutdown_flags(&v(&["NOSAVE", "now", "force"])).is_ok());
        assert!(shutdown_flags(&v(&["save", "save"])).is_ok());
        let syntax = Err(Reply::err("syntax error"));
        assert_eq!(shutdown_flags(&v(&["foo"])), syntax);
        assert_eq!(shutdown_flags(&v(&["nosave", "save"])), syntax);
        assert_eq!(shutdown_flags(&v(&["nosave", "abort"])), syntax);
        assert_eq!(
            shutdown_flags(&v(&["abort"])),
            Err(Reply::err("No shutdown in progress."))
        );
    }
}
