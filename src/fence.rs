//! `RSENTINEL_FENCE_WRITES=<min-replicas>:<max-lag-seconds>`: the opt-in
//! write fencing policy, read from the environment (a `sentinel.conf`
//! directive would stop the config loading in redis-sentinel).

use rsentinel_core::sentinel::FencePolicy;

pub const FENCE_ENV: &str = "RSENTINEL_FENCE_WRITES";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{FENCE_ENV}='{0}' is invalid: expected <min-replicas>:<max-lag-seconds>, \
     both positive integers (e.g. 1:10)"
)]
pub struct BadFence(pub String);

/// Parses the variable's value. Zero is refused for either number: Redis
/// treats 0 as "feature off", which would silently fence nothing.
pub fn parse(value: &str) -> Result<FencePolicy, BadFence> {
    let bad = || BadFence(value.to_string());
    let (n, lag) = value.trim().split_once(':').ok_or_else(bad)?;
    let num = |s: &str| s.trim().parse::<u32>().ok().filter(|v| *v > 0);
    let (Some(min_replicas), Some(max_lag)) = (num(n), num(lag)) else {
        return Err(bad());
    };
    // Redis stores min-replicas-max-lag as an int.
    if max_lag > i32::MAX as u32 || min_replicas > i32::MAX as u32 {
        return Err(bad());
    }
    Ok(FencePolicy {
        min_replicas,
        max_lag,
    })
}

/// The policy from the environment; unset or empty means no fencing.
pub fn from_env() -> Result<Option<FencePolicy>, BadFence> {
    match std::env::var(FENCE_ENV) {
        Ok(v) if !v.trim().is_empty() => parse(&v).map(Some),
        Ok(_) => Ok(None),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(BadFence(v.to_string_lossy().into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_count_and_lag() {
        assert_eq!(
            parse("1:10"),
            Ok(FencePolicy {
                min_replicas: 1,
                max_lag: 10
            })
        );
        assert_eq!(parse(" 2 : 1 ").map(|p| p.min_replicas), Ok(2));
    }

    #[test]
    fn refuses_malformed_or_zero() {
        for bad in [
            "",
            "1",
            "1:",
            ":1",
            "0:1",
            "1:0",
            "a:1",
            "1:-1",
            "1:2:3",
            "1:99999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
