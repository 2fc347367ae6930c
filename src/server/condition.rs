//! A server condition that a learner has to fix (a paused server, a full one, a missing permission,
//! an old version …) turned into its one line, from whatever error a demo returned.

use redis::RedisError;

use crate::error::UserError;

/// What we know about the server, for the message.
pub struct ServerRef<'a> {
    /// Redacted: never a password.
    pub url: &'a str,
    pub version: &'a str,
}

/// The learner-fixable condition behind `err`, if any; `during` names what was running.
pub fn classify(err: &anyhow::Error, server: &ServerRef, during: &str) -> Option<UserError> {
    let redis_err = err.chain().find_map(|c| c.downcast_ref::<RedisError>())?;
    of_redis_error(redis_err, server, during)
}

pub fn of_redis_error(err: &RedisError, server: &ServerRef, during: &str) -> Option<UserError> {
    let url = server.url.to_string();
    let detail = err.detail().unwrap_or_default();
    let first_word = |s: &str| s.split_whitespace().next().unwrap_or_default().trim_matches('\'').to_string();
    match err.code() {
        Some("NOAUTH") => return Some(UserError::AuthRequired { url }),
        Some("WRONGPASS") => return Some(UserError::AuthFailed { url }),
        Some("NOPERM") => {
            // "this user has no permissions to run the 'set' command"
            let command = detail.split('\'').nth(1).map_or_else(|| "a command".to_string(), str::to_uppercase);
            return Some(UserError::NoPermission { url, command });
        }
        Some("OOM") => return Some(UserError::OutOfMemory { url }),
        Some("READONLY") => {
            return Some(UserError::ReadOnlyReplica { url, primary: "its primary".to_string() });
        }
        Some("LOADING") => return Some(UserError::Loading { url, eta: "a few seconds".to_string() }),
        Some("BUSY") => return Some(UserError::BusyScript { url }),
        Some("MOVED" | "ASK" | "CROSSSLOT") => return Some(UserError::ClusterMode { url }),
        Some("CLUSTERDOWN") => return Some(UserError::ClusterDown { url, state: "fail".to_string() }),
        Some("DENIED") => return Some(UserError::ProtectedMode { url }),
        _ => {}
    }
    let text = err.to_string();
    if text.contains("max number of clients reached") {
        return Some(UserError::MaxClients { url });
    }
    if let Some(rest) = text.split("unknown command").nth(1) {
        let command = first_word(rest.trim_start_matches([' ', ',', '`', '\''])).to_uppercase();
        return Some(UserError::UnknownCommand { url, version: server.version.to_string(), command });
    }
    if err.is_timeout() || err.is_connection_dropped() || err.is_connection_refusal() || err.is_io_error() {
        let reason = if err.is_timeout() {
            "timed out".to_string()
        } else if err.is_connection_refusal() {
            "connection refused".to_string()
        } else {
            "the connection was closed".to_string()
        };
        return Some(UserError::ServerStopped { url, reason, during: during.to_string() });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: ServerRef = ServerRef { url: "redis://127.0.0.1:6379", version: "6.0.16" };

    fn parse(reply: &str) -> RedisError {
        // What the client makes of an error reply, the way the server sends it.
        let value = redis::parse_redis_value(format!("-{reply}\r\n").as_bytes()).unwrap();
        match value.extract_error() {
            Err(err) => err,
            Ok(v) => panic!("not an error: {v:?}"),
        }
    }

    #[test]
    fn server_replies_become_one_line_each() {
        let cases = [
            ("OOM command not allowed when used memory > 'maxmemory'.", "is full (OOM"),
            ("READONLY You can't write against a read only replica.", "read-only replica"),
            ("LOADING Redis is loading the dataset in memory", "still loading"),
            ("BUSY Redis is busy running a script.", "busy running a script"),
            ("NOPERM this user has no permissions to run the 'set' command", "may not run SET"),
            ("ERR unknown command 'LMOVE', with args beginning with: ", "does not know LMOVE"),
            ("ERR max number of clients reached", "max number of clients"),
            ("CROSSSLOT Keys in request don't hash to the same slot", "does not run on a Redis Cluster"),
            ("CLUSTERDOWN The cluster is down", "does not serve every slot (cluster_state:fail)"),
        ];
        for (reply, needle) in cases {
            let err = parse(reply);
            let user = of_redis_error(&err, &SERVER, "demo x").unwrap_or_else(|| panic!("{reply}: not classified"));
            assert!(user.to_string().contains(needle), "{reply} → {user}");
            assert!(!user.to_string().contains('\n'));
        }
    }

    #[test]
    fn ordinary_errors_are_not_conditions() {
        let err = parse("WRONGTYPE Operation against a key holding the wrong kind of value");
        assert!(of_redis_error(&err, &SERVER, "demo x").is_none());
    }
}
