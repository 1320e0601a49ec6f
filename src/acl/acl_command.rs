//! `ACL <subcommand>`: CAT, DELUSER, DRYRUN, GENPASS, GETUSER, HELP, LIST,
//! LOAD, LOG, SAVE, SETUSER, USERS, WHOAMI, with Redis 7.0's replies.

use rsentinel_core::string2ll::string2ll;
use std::collections::BTreeMap;

use rsentinel_core::reply::Reply;
use rsentinel_core::time::Millis;

use super::selector::{universe, Denied, Selector, CATEGORIES};
use super::user::{merge_selector_args, User};
use super::{shown, username, Acl, AclOutcome};
use crate::commands::resolve::{unknown_subcommand, wrong_arity};
use crate::commands::table::lookup;
use crate::resp::split_args::split_args;

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

const NO_ACLFILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

const LOAD_FAILED: &str =
    "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bulk_strings<S: AsRef<[u8]>>(items: impl IntoIterator<Item = S>) -> Reply {
    Reply::Array(items.into_iter().map(|s| Reply::bulk(s.as_ref())).collect())
}

/// Redis's reply when an optional argument count is off for CAT/LOG/GENPASS.
fn wrong_args_for(sub: &[u8]) -> Reply {
    Reply::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        text(sub)
    ))
}

pub(super) fn run(acl: &mut Acl, current_user: &str, args: &[Vec<u8>], now: Millis) -> AclOutcome {
    let Some(container) = lookup("acl") else {
        return AclOutcome::reply(Reply::err("ACL is not available"));
    };
    if args.len() < 2 {
        return AclOutcome::reply(wrong_arity("acl"));
    }
    let Some(sub) = container.subcommand(&text(&args[1])) else {
        return AclOutcome::reply(unknown_subcommand(&args[0], &args[1]));
    };
    if !sub.arity_ok(args.len()) {
        return AclOutcome::reply(wrong_arity(sub.full_name));
    }
    let reply = match sub.name {
        "cat" => cat(&args[1..]),
        "deluser" => return deluser(acl, &args[2..]),
        "dryrun" => dryrun(acl, &args[2..]),
        "genpass" => genpass(acl, &args[1..]),
        "getuser" => acl
            .users
            .get(&username(&args[2]))
            .map_or(Reply::Null, getuser),
        "list" => bulk_strings(acl.config_lines()),
        "load" => return load(acl),
        "log" => log(acl, &args[1..], now),
        "save" => save(acl),
        "setuser" => return setuser(acl, &args[2..]),
        "users" => bulk_strings(acl.users.keys()),
        "whoami" => Reply::bulk(current_user),
        _ => Reply::Array(HELP.iter().map(|l| Reply::Simple(l.to_string())).collect()),
    };
    AclOutcome::reply(reply)
}

fn cat(args: &[Vec<u8>]) -> Reply {
    match args {
        [_] => bulk_strings(CATEGORIES.iter()),
        [_, name] => {
            let name = text(name);
            match CATEGORIES.iter().find(|c| c.eq_ignore_ascii_case(&name)) {
                Some(cat) => bulk_strings(
                    universe()
                        .iter()
                        .filter(|c| !c.is_valkey_alias() && c.in_category(cat))
                        .map(|c| c.full_name),
                ),
                None => Reply::err(format!("Unknown category '{name}'")),
            }
        }
        _ => wrong_args_for(&args[0]),
    }
}

fn deluser(acl: &mut Acl, names: &[Vec<u8>]) -> AclOutcome {
    // Refuse before deleting anything, so the command is all or nothing.
    if names.iter().any(|n| n.as_slice() == b"default") {
        return AclOutcome::reply(Reply::err("The 'default' user cannot be removed"));
    }
    let mut deleted = Vec::new();
    for n in names {
        let n = username(n);
        if acl.users.remove(&n).is_some() {
            deleted.push(n);
        }
    }
    AclOutcome {
        reply: Reply::Int(deleted.len() as i64),
        changed: !deleted.is_empty(),
        users_to_disconnect: deleted,
    }
}

fn dryrun(acl: &Acl, args: &[Vec<u8>]) -> Reply {
    let user = username(&args[0]);
    if !acl.users.contains_key(&user) {
        return Reply::err(format!("User '{user}' not found"));
    }
    let request = &args[1..];
    let not_found = || Reply::err(format!("Command '{}' not found", text(&request[0])));
    let Some(cmd) = lookup(&text(&request[0])) else {
        return not_found();
    };
    let sub = if cmd.is_container() && request.len() >= 2 {
        match cmd.subcommand(&text(&request[1])) {
            Some(s) => Some(s),
            None => return not_found(),
        }
    } else {
        None
    };
    let target = sub.unwrap_or(cmd);
    if !target.accepts_argc(request.len()) {
        return wrong_arity(target.full_name);
    }
    match acl.denial(&user, cmd, sub, request) {
        None => Reply::ok(),
        Some(Denied::Command) => Reply::bulk(format!(
            "This user has no permissions to run the '{}' command",
            target.full_name
        )),
        Some(Denied::Channel(ch)) => Reply::bulk(
            [
                &b"This user has no permissions to access the '"[..],
                &ch,
                b"' channel",
            ]
            .concat(),
        ),
    }
}

fn genpass(acl: &mut Acl, args: &[Vec<u8>]) -> Reply {
    let bits = match args {
        [_] => 256,
        [_, n] => match string2ll(n) {
            None => return Reply::err("value is not an integer or out of range"),
            Some(b) if b <= 0 || b > 4096 => {
                return Reply::err(
                    "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                )
            }
            Some(b) => b as usize,
        },
        _ => return wrong_args_for(&args[0]),
    };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    acl.random_bytes(&mut bytes);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    Reply::bulk(hex)
}

fn selector_map(s: &Selector) -> Vec<(&'static str, Reply)> {
    vec![
        (
            "commands",
            Reply::bulk(super::describe::describe_commands(s)),
        ),
        ("keys", Reply::bulk(s.describe_keys())),
        ("channels", Reply::bulk(s.describe_channels())),
    ]
}

/// `ACL GETUSER`: flags, passwords, commands, keys, channels, selectors.
/// Redis sends `flags` as a RESP3 set; `Reply` has none, so it is an array.
fn getuser(u: &User) -> Reply {
    let mut fields = vec![
        ("flags", bulk_strings(u.flags())),
        ("passwords", bulk_strings(&u.passwords)),
    ];
    fields.extend(selector_map(&u.root));
    fields.push((
        "selectors",
        Reply::Array(
            u.selectors
                .iter()
                .map(|s| Reply::map_of(selector_map(s)))
                .collect(),
        ),
    ));
    Reply::map_of(fields)
}

fn log(acl: &mut Acl, args: &[Vec<u8>], now: Millis) -> Reply {
    match args {
        [_] => acl.log.reply(10, now),
        [_, a] if a.eq_ignore_ascii_case(b"reset") => {
            acl.log.reset();
            Reply::ok()
        }
        [_, a] => match string2ll(a) {
            Some(n) => acl.log.reply(n.max(0) as usize, now),
            None => Reply::err("value is not an integer or out of range"),
        },
        _ => wrong_args_for(&args[0]),
    }
}

fn setuser(acl: &mut Acl, args: &[Vec<u8>]) -> AclOutcome {
    let name = username(&args[0]);
    if name.contains(' ') || name.contains('\0') {
        return AclOutcome::reply(Reply::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let ops = match merge_selector_args(&args[1..]) {
        Ok(ops) => ops,
        Err(e) => return AclOutcome::reply(Reply::err(e)),
    };
    // Work on a copy so that a failing rule leaves the user untouched.
    let mut user = acl
        .users
        .get(&name)
        .cloned()
        .unwrap_or_else(|| User::new(&name));
    for op in &ops {
        if let Err(e) = user.apply(op) {
            return AclOutcome::reply(Reply::err(format!(
                "Error in ACL SETUSER modifier '{}': {e}",
                shown(op)
            )));
        }
    }
    acl.users.insert(name, user);
    AclOutcome {
        reply: Reply::ok(),
        users_to_disconnect: Vec::new(),
        changed: true,
    }
}

fn save(acl: &Acl) -> Reply {
    let Some(path) = &acl.aclfile else {
        return Reply::err(NO_ACLFILE);
    };
    match super::file::write(path, &acl.config_lines()) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::err(format!(
            "There was an error trying to save the ACLs. Please check the server logs for more information ({e})"
        )),
    }
}

/// Parse a whole ACL file into users; the error is Redis's reply text. The
/// file is bytes: passwords and patterns need not be UTF-8.
pub(super) fn parse_acl_file(path: &str, content: &[u8]) -> Result<BTreeMap<String, User>, String> {
    let mut users = BTreeMap::new();
    for (i, line) in content.split(|&b| b == b'\n').enumerate() {
        let lineno = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let words = split_args(line)
            .map_err(|_| format!("{path}:{lineno}: unbalanced quotes in acl line. "))?;
        if words.len() < 2 || words[0] != b"user" {
            return Err(format!(
                "{path}:{lineno} should start with user keyword followed by the username. "
            ));
        }
        let name = &username(&words[1]);
        if name.contains(' ') || name.contains('\0') {
            return Err(format!(
                "{path}:{lineno}: username '{name}' contains invalid characters. "
            ));
        }
        if users.contains_key(name) {
            return Err(format!(
                "WARNING: Duplicate user '{name}' found on line {lineno}. "
            ));
        }
        let ops = merge_selector_args(&words[2..]).map_err(|e| format!("{path}:{lineno}: {e} "))?;
        let mut u = User::new(name);
        for op in &ops {
            u.apply(op).map_err(|e| {
                format!(
                    "{path}:{lineno}: Error in applying operation '{}': {e}. ",
                    shown(op)
                )
            })?;
        }
        users.insert(name.clone(), u);
    }
    users
        .entry("default".to_string())
        .or_insert_with(User::new_default);
    Ok(users)
}

pub(super) fn load(acl: &mut Acl) -> AclOutcome {
    let Some(path) = acl.aclfile.clone() else {
        return AclOutcome::reply(Reply::err(NO_ACLFILE));
    };
    let shown_path = path.display().to_string();
    let content = match super::file::read(&path) {
        Ok(c) => c,
        Err(e) => {
            return AclOutcome::reply(Reply::err(format!(
                "Error loading ACLs, opening file '{shown_path}': {e}"
            )))
        }
    };
    match parse_acl_file(&shown_path, &content) {
        Err(e) => AclOutcome::reply(Reply::err(format!("{e}{LOAD_FAILED}"))),
        Ok(users) => {
            let gone = acl
                .users
                .keys()
                .filter(|n| !users.contains_key(*n))
                .cloned()
                .collect();
            acl.users = users;
            AclOutcome {
                reply: Reply::ok(),
                users_to_disconnect: gone,
                changed: true,
            }
        }
    }
}
