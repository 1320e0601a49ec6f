//! Describing a selector's command bitmap as the shortest-looking rule list
//! (`-@all +@connection -ping +client`), the way Redis 7.0 does: pick
//! categories greedily, then fix up single commands.

use super::selector::{set_category_bits, set_command_bits, universe, Selector, CATEGORIES};
use crate::commands::table::COMMANDS;

/// The command rules of a selector, starting with `+@all` or `-@all`
/// (bytes: a `+cmd|firstarg` rule shows its first argument as given).
pub fn describe_commands(sel: &Selector) -> Vec<u8> {
    // Starting from +@all only makes sense when the selector was given
    // +@all: only then does it also allow commands added in the future.
    let additive = !sel.all_commands;
    let mut rules: Vec<Vec<u8>> = vec![if additive { "-@all" } else { "+@all" }.into()];
    let mut fake = vec![!additive; universe().len()];
    // `rest` holds what is still to be explained: each chosen category is
    // removed from it so later choices are judged on the remainder.
    let mut rest = sel.allowed.clone();
    let mut applied = vec![false; CATEGORIES.len()];
    loop {
        let mut best: Option<(usize, usize, usize)> = None; // (index, diff, same)
        for (j, cat) in CATEGORIES.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let (mut on, mut off) = (0usize, 0usize);
            for (id, cmd) in universe().iter().enumerate() {
                if cmd.in_category(cat) {
                    if rest[id] {
                        on += 1;
                    } else {
                        off += 1;
                    }
                }
            }
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            let better = match best {
                None => true,
                Some((_, d, s)) => diff < d || (diff == d && same > s),
            };
            if same > diff && better {
                best = Some((j, diff, same));
            }
        }
        let Some((j, _, _)) = best else { break };
        let cat = CATEGORIES[j];
        set_category_bits(&mut fake, cat, additive);
        set_category_bits(&mut rest, cat, !additive);
        rules.push(format!("{}@{cat}", if additive { '+' } else { '-' }).into_bytes());
        applied[j] = true;
    }
    let sign = |on: bool| if on { '+' } else { '-' };
    for cmd in COMMANDS {
        let id = super::selector::id_of(cmd);
        if sel.allowed[id] != fake[id] {
            rules.push(format!("{}{}", sign(sel.allowed[id]), cmd.full_name).into_bytes());
            set_command_bits(&mut fake, cmd, sel.allowed[id]);
        }
        for sub in cmd.subcommands {
            let sid = super::selector::id_of(sub);
            if sub.is_valkey_alias() {
                // redis-sentinel 7.0 has no such command to name in a rule.
                fake[sid] = sel.allowed[sid];
                continue;
            }
            if sel.allowed[sid] != fake[sid] {
                rules.push(format!("{}{}", sign(sel.allowed[sid]), sub.full_name).into_bytes());
                fake[sid] = sel.allowed[sid];
            }
        }
        for (i, arg) in &sel.first_args {
            if *i == id {
                rules.push([format!("+{}|", cmd.full_name).as_bytes(), arg].concat());
            }
        }
    }
    debug_assert_eq!(fake, sel.allowed, "described rules must rebuild the bitmap");
    rules.join(&b' ')
}
