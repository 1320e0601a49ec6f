//! AUTH and HELLO: logging in, choosing RESP2/RESP3 and naming the
//! connection, with redis-sentinel 7.0's replies and errors.

use rsentinel_core::reply::Reply;

use super::client_cmd::validate_name;
use super::session::{Ctx, Session};
use crate::acl;
use crate::resp::string2ll::string2ll;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

/// Checks `user`/`pass` (logging a failure in the ACL log) and logs the
/// session in on success. The password is the exact bytes sent.
fn authenticate(ctx: &Ctx, s: &mut Session, user: &str, pass: &[u8]) -> Result<(), Reply> {
    let info = s.client.info_line(std::time::Instant::now());
    let now = ctx.state.now();
    ctx.state
        .acl()
        .authenticate_and_log(user, pass, &info, now)?;
    s.login(user);
    Ok(())
}

/// `AUTH [user] pass` (`args` includes AUTH; arity already checked).
pub fn auth(ctx: &Ctx, s: &mut Session, args: &[Vec<u8>]) -> Reply {
    if args.len() > 3 {
        return syntax_error();
    }
    let (user, pass) = if args.len() == 2 {
        // The one-argument form errs, as Redis does, while the default user
        // has no password: it is almost certainly a misconfiguration.
        let nopass = ctx.state.acl().user("default").is_some_and(|u| u.nopass);
        if nopass {
            return acl::auth_without_password();
        }
        ("default".to_string(), &args[1])
    } else {
        (acl::username(&args[1]), &args[2])
    };
    match authenticate(ctx, s, &user, pass) {
        Ok(()) => Reply::ok(),
        Err(e) => e,
    }
}

/// The HELLO map: six fields, no `role`, exactly as redis-sentinel sends.
pub fn hello_map(s: &Session) -> Reply {
    Reply::map_of(vec![
        ("server", Reply::bulk("redis")),
        ("version", Reply::bulk(crate::REDIS_VERSION)),
        ("proto", Reply::Int(if s.resp3 { 3 } else { 2 })),
        ("id", Reply::Int(s.client.id as i64)),
        ("mode", Reply::bulk("sentinel")),
        ("modules", Reply::Array(Vec::new())),
    ])
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`. Options are all
/// parsed before anything takes effect; then AUTH, the login check,
/// SETNAME and finally the protocol switch (so the reply to `HELLO 3` is
/// already RESP3).
pub fn hello(ctx: &Ctx, s: &mut Session, args: &[Vec<u8>]) -> Reply {
    let mut version = None;
    let mut next = 1;
    if let Some(v) = args.get(1) {
        let Some(v) = string2ll(v) else {
            return Reply::err("Protocol version is not an integer or out of range");
        };
        if !(2..=3).contains(&v) {
            return Reply::Error("NOPROTO unsupported protocol version".into());
        }
        version = Some(v as u8);
        next = 2;
    }
    let mut login = None;
    let mut name = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            login = Some((acl::username(&args[j + 1]), &args[j + 2]));
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            name = Some(args[j + 1].clone());
            j += 2;
        } else {
            return Reply::err(format!("Syntax error in HELLO option '{}'", text(opt)));
        }
    }
    if let Some((user, pass)) = login {
        if let Err(e) = authenticate(ctx, s, &user, pass) {
            return e;
        }
    }
    if !s.authenticated {
        return Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time"
                .into(),
        );
    }
    if let Some(name) = name {
        match validate_name(&name) {
            Ok(n) => s.client.meta().name = n,
            Err(e) => return e,
        }
    }
    if let Some(v) = version {
        s.set_resp(v);
    }
    hello_map(s)
}
