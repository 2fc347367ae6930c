//! Which Redis to use, decided once: parse and check the URL (loopback unless `--allow-remote`),
//! connect with a timeout, classify failures into errors a learner can act on, read the version.

use std::net::IpAddr;
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::cluster_routing::{Route, Slot, SlotAddr};
use redis::{Client, ConnectionAddr, ErrorKind, RedisError};
use serde::Serialize;

use super::namespace::Namespace;
use super::private::{PrivateServer, redis_server_path};
use super::trace::{Trace, TracedConnection};
use crate::error::{NotRedisSign, UserError};
use crate::settings::RedisChoice;

/// Connect timeout for an address the user named.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connect timeout when only probing the default address.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a port that accepted a connection may take to answer an inline `PING`, when the client
/// has failed and we look at what is there (see `sniff`).
const SNIFF_TIMEOUT: Duration = Duration::from_secs(1);
/// No demo read or write may block longer than this.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A Redis server version, e.g. 7.0.15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
        Some(Version(parts.next()??, parts.next().flatten().unwrap_or(0), parts.next().flatten().unwrap_or(0)))
    }

    pub fn at_least(self, major: u32, minor: u32) -> bool {
        self >= Version(major, minor, 0)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What we know about the server, for headers and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// The URL with any password hidden.
    pub url: String,
    pub version: String,
    /// Did redis-learn start this server for this run?
    pub private: bool,
    /// `Redis` or `Valkey` (from `INFO server`: Valkey 8+ reports `server_name:valkey` and its own
    /// `valkey_version`; its `redis_version` is the Redis version it is compatible with).
    pub flavour: String,
    /// The version the commands are checked against: Redis's, or the Redis version Valkey matches.
    pub redis_compatible: String,
    /// A Redis Cluster node (`cluster_enabled:1`): the run uses the cluster client, and a namespace
    /// in a hash tag.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cluster: bool,
}

/// The Redis a run uses: a client (connections are opened per thread), and the private server if we
/// started one (kept alive as long as the handle).
pub struct RedisHandle {
    client: Client,
    /// On a Redis Cluster: the cluster client (seeded with the node the learner named).
    cluster: Option<ClusterClient>,
    info: ServerInfo,
    version: Version,
    private: Option<PrivateServer>,
    /// Why we fell back to a private server, if we did.
    pub fallback_reason: Option<String>,
}

impl RedisHandle {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The private server, when this run started one: the only way to reach admin commands.
    pub fn private_server(&self) -> Option<&PrivateServer> {
        self.private.as_ref()
    }

    /// `--keep` on a private server: leave it running for `ttl` (see [`PrivateServer::keep_for`]).
    /// `None` when this server is not ours.
    pub fn keep_private(
        &mut self,
        ttl: Duration,
        state_dir: Option<&std::path::Path>,
    ) -> Option<std::io::Result<super::kept::Kept>> {
        self.private.take().map(|server| server.keep_for(ttl, state_dir))
    }

    /// A new connection with I/O timeouts, recording what it sends into `trace`.
    pub fn connect(&self, trace: &Trace) -> redis::RedisResult<TracedConnection> {
        let client = self.client.clone();
        Ok(TracedConnection::new(self.raw_connection()?, trace).reopening(move || open_with_limits(&client)))
    }

    /// A Redis Cluster node: the lessons run through the cluster client.
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// A fresh namespace for a run: on a cluster, its run id is a hash tag (one slot for the run).
    pub fn new_namespace(&self) -> Namespace {
        if self.is_cluster() { Namespace::new_run_tagged() } else { Namespace::new_run() }
    }

    /// A traced connection for a demo that writes under `namespace`. On a cluster it goes through
    /// the cluster client, every command routed to the slot of the namespace's hash tag (following
    /// MOVED and ASK if the slot moves); Pub/Sub uses a plain connection to the node that owns it.
    pub fn connect_in(&self, trace: &Trace, namespace: &Namespace) -> redis::RedisResult<TracedConnection> {
        let Some(cluster) = &self.cluster else { return self.connect(trace) };
        let route = Route::with_slot(Slot::for_key(namespace.prefix()), SlotAddr::Master);
        let con = open_cluster(cluster)?;
        let node = self.node_of(namespace.prefix())?;
        let reopen = node.clone();
        Ok(TracedConnection::new_cluster(con, route, open_with_limits(&node)?, trace)
            .reopening(move || open_with_limits(&reopen)))
    }

    /// A client for the primary that serves `key`'s slot now.
    fn node_of(&self, key: &str) -> redis::RedisResult<Client> {
        let (host, port) = self.owner_of(key)?;
        node_client(&self.client, &host, port)
    }

    /// Host and port of the primary that serves `key`'s slot now (CLUSTER KEYSLOT, CLUSTER SLOTS).
    fn owner_of(&self, key: &str) -> redis::RedisResult<(String, u16)> {
        let mut con = self.raw_connection()?;
        let slot: u16 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(&mut con)?;
        slot_owner(&mut con, slot)?.ok_or_else(|| {
            RedisError::from((ErrorKind::Server(redis::ServerErrorKind::ClusterDown), "no node serves the slot"))
        })
    }

    /// On a cluster: host and port of the node that holds `namespace`'s keys (None elsewhere, or
    /// when the cluster cannot say).
    pub fn node_address(&self, namespace: &Namespace) -> Option<(String, u16)> {
        if !self.is_cluster() {
            return None;
        }
        let (host, port) = self.owner_of(namespace.prefix()).ok()?;
        match self.client.get_connection_info().addr() {
            ConnectionAddr::Tcp(seed, _) if host.is_empty() || host == "?" => Some((seed.clone(), port)),
            _ => Some((host, port)),
        }
    }

    /// A new untraced connection with I/O timeouts.
    pub fn raw_connection(&self) -> redis::RedisResult<redis::Connection> {
        open_with_limits(&self.client)
    }
}

/// A connection with connect and I/O time limits.
pub(crate) fn open_with_limits(client: &Client) -> redis::RedisResult<redis::Connection> {
    let con = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    con.set_read_timeout(Some(IO_TIMEOUT))?;
    con.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(con)
}

/// A cluster connection with the same time limits as [`open_with_limits`].
fn open_cluster(cluster: &ClusterClient) -> redis::RedisResult<ClusterConnection> {
    let con = cluster.get_connection()?;
    con.set_read_timeout(Some(IO_TIMEOUT))?;
    con.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(con)
}

/// The cluster client for the node `client` reaches (its password and user too).
fn cluster_client(client: &Client) -> redis::RedisResult<ClusterClient> {
    ClusterClient::builder(vec![client.get_connection_info().clone()])
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(IO_TIMEOUT)
        .build()
}

/// A client for another node of the cluster `seed` belongs to: same password, user and settings.
pub(crate) fn node_client(seed: &Client, host: &str, port: u16) -> redis::RedisResult<Client> {
    // A node that does not know its own address reports an empty host: it is the seed's host.
    let host = match (host, seed.get_connection_info().addr()) {
        ("" | "?", ConnectionAddr::Tcp(seed_host, _)) => seed_host.clone(),
        _ => host.to_string(),
    };
    Client::open(seed.get_connection_info().clone().set_addr(ConnectionAddr::Tcp(host, port)))
}

/// `(host, port, first slot, last slot)` of each primary's slot ranges, from CLUSTER SLOTS.
fn slot_ranges(con: &mut redis::Connection) -> redis::RedisResult<Vec<(String, u16, i64, i64)>> {
    let ranges: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(con)?;
    let mut out = Vec::new();
    for range in ranges {
        let redis::Value::Array(fields) = range else { continue };
        let (Some(redis::Value::Int(first)), Some(redis::Value::Int(last)), Some(redis::Value::Array(primary))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            continue;
        };
        let host = match primary.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        if let Some(redis::Value::Int(port)) = primary.get(1)
            && let Ok(port) = u16::try_from(*port)
        {
            out.push((host, port, *first, *last));
        }
    }
    Ok(out)
}

/// The primary that serves `slot`, if any.
fn slot_owner(con: &mut redis::Connection, slot: u16) -> redis::RedisResult<Option<(String, u16)>> {
    Ok(slot_ranges(con)?
        .into_iter()
        .find(|(_, _, first, last)| (*first..=*last).contains(&i64::from(slot)))
        .map(|(host, port, _, _)| (host, port)))
}

/// Every primary of the cluster `con` is a node of (empty when it is not a cluster node).
pub(crate) fn cluster_primaries(con: &mut redis::Connection) -> redis::RedisResult<Vec<(String, u16)>> {
    let info: redis::InfoDict = redis::cmd("INFO").arg("cluster").query(con)?;
    if info.get::<u8>("cluster_enabled") != Some(1) {
        return Ok(Vec::new());
    }
    let mut primaries: Vec<(String, u16)> = slot_ranges(con)?.into_iter().map(|(h, p, _, _)| (h, p)).collect();
    primaries.sort();
    primaries.dedup();
    Ok(primaries)
}

/// Query parameters the `redis` crate reads from a `redis://` URL: only `protocol`. The database
/// comes from the path and the user and password from before the host (redis-rs 1.8,
/// `url_to_tcp_connection_info`); a `?pass=` there would be ignored, and shown in clear.
const TCP_QUERY: &[&str] = &["protocol"];
/// Query parameters the `redis` crate reads from a `unix://` or `redis+unix://` URL (redis-rs 1.8,
/// `url_to_unix_connection_info`).
const UNIX_QUERY: &[&str] = &["db", "user", "pass", "protocol"];
/// Query parameters whose value is a password, masked wherever a URL is shown.
const SECRET_QUERY: &[&str] = &["pass", "password"];

/// Parse a Redis URL (`redis://`, `unix://`, `redis+unix://`), refusing a non-loopback host unless
/// `allow_remote`. Never connects.
pub fn parse_url(url: &str, allow_remote: bool) -> Result<Client, UserError> {
    // Never echo a password, not even from a URL that does not parse.
    let bad = |reason: String| UserError::BadRedisUrl { url: redact(url), reason: scrub(&reason, url) };
    if !url.contains("://") {
        return Err(bad("no scheme".into()));
    }
    if url.starts_with("rediss://") {
        return Err(bad(
            "this build has no TLS: use redis:// on a trusted network, or a TLS tunnel (stunnel) on loopback".into(),
        ));
    }
    // The URL parser's own reason ("invalid port number"), not the client's "did not parse".
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    // The client ignores query parameters it does not know and falls back to its defaults (a
    // `?socket=` would quietly become 127.0.0.1:6379, a `?pass=` on a TCP URL would be dropped):
    // refuse them instead, and say where a misplaced one goes.
    let unix = parsed.scheme().ends_with("unix");
    let db = parsed.path().trim_matches('/');
    if !unix && !db.is_empty() && db.parse::<i64>().is_err() {
        return Err(bad(format!("the path is the database number, and {db:?} is not a number")));
    }
    let known = if unix { UNIX_QUERY } else { TCP_QUERY };
    for (key, _) in parsed.query_pairs() {
        if !known.contains(&key.as_ref()) {
            return Err(bad(match key.as_ref() {
                "db" if !unix => "on a redis:// URL the database number goes in the path: redis://HOST:PORT/DB".into(),
                "user" | "pass" if !unix => {
                    "on a redis:// URL the user and password go before the host: redis://USER:PASSWORD@HOST:PORT".into()
                }
                _ => format!("unsupported parameter {key:?}; known: {}", known.join(", ")),
            }));
        }
    }
    let client = Client::open(url).map_err(|e| bad(e.to_string()))?;
    let host = match client.get_connection_info().addr() {
        ConnectionAddr::Tcp(host, _) => Some(host.clone()),
        ConnectionAddr::TcpTls { host, .. } => Some(host.clone()),
        ConnectionAddr::Unix(_) => None,
        _ => None,
    };
    if let Some(host) = host
        && !allow_remote
        && !is_loopback_host(&host)
    {
        return Err(UserError::RemoteNotAllowed { host });
    }
    Ok(client)
}

/// `localhost`, 127.0.0.0/8 and ::1 are this machine; anything else is remote. Names are not
/// resolved: a name that happens to point here still needs `--allow-remote`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Resolve the settings' choice into a working connection to Redis.
pub fn connect(choice: &RedisChoice, allow_remote: bool) -> Result<RedisHandle, UserError> {
    match choice {
        RedisChoice::Explicit(url) => {
            let client = parse_url(url, allow_remote)?;
            open(client, url, CONNECT_TIMEOUT, None, allow_remote)
        }
        RedisChoice::Private => start_private(None),
        RedisChoice::Default(url) => {
            let client = parse_url(url, allow_remote)?;
            match open(client, url, PROBE_TIMEOUT, None, allow_remote) {
                Ok(handle) => Ok(handle),
                Err(UserError::RedisDown { .. }) if redis_server_path().is_some() => {
                    start_private(Some(format!("nothing answered at {}", redact(url))))
                }
                Err(UserError::NotRedis { .. }) if redis_server_path().is_some() => {
                    start_private(Some(format!("what answers at {} is not a Redis that answers", redact(url))))
                }
                Err(UserError::AuthRequired { .. } | UserError::AuthFailed { .. }) if redis_server_path().is_some() => {
                    start_private(Some(format!("{} needs a password", redact(url))))
                }
                Err(UserError::RedisDown { .. }) => Err(UserError::NoRedisAvailable),
                Err(other) => Err(other),
            }
        }
    }
}

fn start_private(fallback_reason: Option<String>) -> Result<RedisHandle, UserError> {
    let server = PrivateServer::start()?;
    let client = Client::open(server.url()).map_err(|e| UserError::PrivateServerFailed { reason: e.to_string() })?;
    let url = server.url();
    let mut handle = open(client, &url, CONNECT_TIMEOUT, Some(server), false)?;
    handle.fallback_reason = fallback_reason;
    Ok(handle)
}

fn open(
    client: Client,
    url: &str,
    timeout: Duration,
    private: Option<PrivateServer>,
    allow_remote: bool,
) -> Result<RedisHandle, UserError> {
    let classify = |e: RedisError| classify(e, url, &client);
    let mut con = client.get_connection_with_timeout(timeout).map_err(classify)?;
    con.set_read_timeout(Some(IO_TIMEOUT)).map_err(classify)?;
    let info: redis::InfoDict = redis::cmd("INFO").arg("server").query(&mut con).map_err(classify)?;
    if private.is_none() {
        refuse_unsafe(&mut con, &redact(url)).map_err(|e| e.unwrap_or_else(classify))?;
    }
    let cluster = match info.get::<String>("redis_mode").as_deref() {
        Some("cluster") => {
            Some(join_cluster(&client, &mut con, url, allow_remote).map_err(|e| e.unwrap_or_else(classify))?)
        }
        _ => None,
    };
    let (flavour, version_text, compatible) = flavour_of(&info);
    let version = Version::parse(&compatible).unwrap_or(Version(0, 0, 0));
    Ok(RedisHandle {
        client,
        info: ServerInfo {
            url: redact(url),
            version: version_text,
            private: private.is_some(),
            flavour,
            redis_compatible: compatible,
            cluster: cluster.is_some(),
        },
        cluster,
        version,
        private,
        fallback_reason: None,
    })
}

/// The cluster client for a cluster node, once the cluster serves every slot and every node it
/// knows is on loopback (or `--allow-remote`). `Err(Ok(..))` is a refusal.
fn join_cluster(
    client: &Client,
    con: &mut redis::Connection,
    url: &str,
    allow_remote: bool,
) -> Result<ClusterClient, Result<UserError, RedisError>> {
    let info: redis::InfoDict = redis::cmd("INFO").arg("cluster").query(con).map_err(Err)?;
    let cluster_info: String = redis::cmd("CLUSTER").arg("INFO").query(con).map_err(Err)?;
    let state = cluster_info
        .lines()
        .find_map(|l| l.strip_prefix("cluster_state:"))
        .map_or_else(|| "unknown".to_string(), |s| s.trim().to_string());
    if info.get::<u8>("cluster_enabled") != Some(1) || state != "ok" {
        return Err(Ok(UserError::ClusterDown { url: redact(url), state }));
    }
    if !allow_remote {
        for (host, _) in cluster_primaries(con).map_err(Err)? {
            if !host.is_empty() && !is_loopback_host(&host) {
                return Err(Ok(UserError::RemoteNotAllowed { host }));
            }
        }
    }
    let cluster = cluster_client(client).map_err(Err)?;
    open_cluster(&cluster).map_err(Err)?;
    Ok(cluster)
}

/// (flavour, its own version, the Redis version its commands match), from `INFO server`.
fn flavour_of(info: &redis::InfoDict) -> (String, String, String) {
    let redis_version: String = info.get("redis_version").unwrap_or_else(|| "unknown".to_string());
    let valkey_version: Option<String> = info.get("valkey_version");
    let server_name: Option<String> = info.get("server_name");
    match valkey_version {
        Some(valkey) => ("Valkey".to_string(), valkey, redis_version),
        None if server_name.as_deref() == Some("valkey") => {
            ("Valkey".to_string(), redis_version.clone(), redis_version)
        }
        None => ("Redis".to_string(), redis_version.clone(), redis_version),
    }
}

/// Room a run needs below a server's `maxmemory`: the largest demo data set is a few MB, so this
/// leaves a wide margin before anyone else's keys are evicted or their writes refused.
pub const MIN_HEADROOM_BYTES: u64 = 256 * 1024 * 1024;

/// Refuse, before anything is written, a server the lessons must not write to: a read-only replica,
/// or one whose `maxmemory` leaves less than [`MIN_HEADROOM_BYTES`] free.
/// `Err(Ok(..))` is a refusal; `Err(Err(..))` a server error while asking.
fn refuse_unsafe(con: &mut redis::Connection, url: &str) -> Result<(), Result<UserError, RedisError>> {
    let field = |info: &redis::InfoDict, name: &str| info.get::<String>(name).unwrap_or_default();
    let replication: redis::InfoDict = redis::cmd("INFO").arg("replication").query(con).map_err(Err)?;
    if field(&replication, "role") == "slave" {
        let primary = format!("{}:{}", field(&replication, "master_host"), field(&replication, "master_port"));
        return Err(Ok(UserError::ReadOnlyReplica { url: url.to_string(), primary }));
    }
    let persistence: redis::InfoDict = redis::cmd("INFO").arg("persistence").query(con).map_err(Err)?;
    if field(&persistence, "loading") == "1" {
        let eta = match persistence.get::<u64>("loading_eta_seconds") {
            Some(secs) if secs > 0 => format!("INFO estimates about {secs} s to go"),
            _ => "INFO gives no estimate of the time to go".to_string(),
        };
        return Err(Ok(UserError::Loading { url: url.to_string(), eta }));
    }
    let memory: redis::InfoDict = redis::cmd("INFO").arg("memory").query(con).map_err(Err)?;
    let limit: u64 = memory.get("maxmemory").unwrap_or(0);
    let used: u64 = memory.get("used_memory").unwrap_or(0);
    if limit > 0 && limit.saturating_sub(used) < MIN_HEADROOM_BYTES {
        return Err(Ok(UserError::NoHeadroom {
            url: url.to_string(),
            free: human_bytes(limit.saturating_sub(used)),
            limit: human_bytes(limit),
            policy: field(&memory, "maxmemory_policy"),
        }));
    }
    Ok(())
}

/// `8.00 MiB`.
fn human_bytes(n: u64) -> String {
    let mib = n as f64 / (1024.0 * 1024.0);
    if mib >= 1.0 { format!("{mib:.2} MiB") } else { format!("{:.1} KiB", n as f64 / 1024.0) }
}

/// Remove a URL's passwords (before the host, or a `?pass=`) from a message that may quote it.
fn scrub(message: &str, url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return message.to_string() };
    let mut secrets = Vec::new();
    let after_host = match rest.rsplit_once('@').filter(|_| !scheme.ends_with("unix")) {
        Some((userinfo, host)) => {
            secrets.extend(userinfo.split_once(':').map(|(_, pw)| pw));
            host
        }
        None => rest,
    };
    if let Some((_, query)) = after_host.split_once('?') {
        secrets.extend(secret_values(query));
    }
    secrets.into_iter().filter(|pw| !pw.is_empty()).fold(message.to_string(), |m, pw| m.replace(pw, "***"))
}

/// The values of a query's password parameters (`pass=…`).
fn secret_values(query: &str) -> impl Iterator<Item = &str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).filter(|(k, _)| SECRET_QUERY.contains(k)).map(|(_, v)| v)
}

/// Turn a connection error into the one line a learner needs.
fn classify(err: RedisError, url: &str, client: &Client) -> UserError {
    let url = redact(url);
    // A server that refuses a client (max clients, protected mode) writes one error line and
    // closes: the client library only sees the close. Read that line ourselves.
    if err.is_connection_dropped()
        && let Some(line) = greeting(client)
    {
        if line.contains("max number of clients") {
            return UserError::MaxClients { url };
        }
        if line.starts_with("DENIED") {
            return UserError::ProtectedMode { url };
        }
        return UserError::RedisDown { url, reason: line };
    }
    if err.code() == Some("NOAUTH") {
        return UserError::AuthRequired { url };
    }
    if err.to_string().contains("DB index is out of range") {
        return UserError::NoSuchDb { url, db: client.get_connection_info().redis_settings().db() };
    }
    if err.kind() == ErrorKind::AuthenticationFailed || err.code() == Some("WRONGPASS") {
        return UserError::AuthFailed { url };
    }
    // The server answered, with a condition to fix (protected mode, max clients, LOADING, …).
    if !err.is_connection_refusal() && !err.is_timeout() && !err.is_io_error() {
        let server = super::condition::ServerRef { url: &url, version: "unknown" };
        if let Some(condition) = super::condition::of_redis_error(&err, &server, "connecting") {
            return condition;
        }
    }
    if let ConnectionAddr::Unix(path) = client.get_connection_info().addr()
        && !path.exists()
    {
        return UserError::RedisDown { url, reason: format!("there is no socket file {}", path.display()) };
    }
    if err.is_connection_refusal() {
        return UserError::RedisDown { url, reason: "connection refused".to_string() };
    }
    // Something accepted the connection: say what it is when it is not Redis (a web server, a SQL
    // server, a paused process) rather than print the RESP parser's complaint.
    if let Some(sign) = sniff(client) {
        return UserError::NotRedis { url, sign };
    }
    let reason = if err.is_timeout() { "timed out".to_string() } else { err.to_string().replace('\n', " ") };
    UserError::RedisDown { url, reason }
}

/// Send an inline `PING` to a TCP address and judge the first bytes back: `None` when they are
/// RESP (a Redis, whose error the caller already has) or when nothing accepts a connection there.
fn sniff(client: &Client) -> Option<NotRedisSign> {
    use std::io::{ErrorKind as IoKind, Read, Write};
    use std::net::ToSocketAddrs;
    let ConnectionAddr::Tcp(host, port) = client.get_connection_info().addr() else { return None };
    let addr = (host.as_str(), *port).to_socket_addrs().ok()?.next()?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(SNIFF_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    // A MySQL server speaks first; the others answer (or refuse) the PING.
    let _ = stream.write_all(b"PING\r\n");
    let mut buf = [0_u8; 64];
    match stream.read(&mut buf) {
        Ok(n) => sign_of(&buf[..n]),
        Err(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => Some(NotRedisSign::Silent),
        Err(_) => Some(NotRedisSign::Closed),
    }
}

/// What the first bytes a server sent say about it (see `sniff`).
fn sign_of(bytes: &[u8]) -> Option<NotRedisSign> {
    // MySQL's handshake: a 3-byte length, sequence 0, then protocol version 10.
    if bytes.len() > 5 && bytes[3] == 0 && bytes[4] == 10 {
        return Some(NotRedisSign::MySql);
    }
    match bytes.first() {
        None => Some(NotRedisSign::Closed),
        // RESP2 and RESP3 type bytes.
        Some(
            b'+' | b'-' | b':' | b'$' | b'*' | b'_' | b'#' | b',' | b'(' | b'!' | b'=' | b'%' | b'~' | b'>' | b'|',
        ) => None,
        // A status line, or an HTML page with none (an HTTP/0.9 reply to a one-line request).
        Some(_)
            if bytes.starts_with(b"HTTP/")
                || bytes.get(..2).is_some_and(|b| b.eq_ignore_ascii_case(b"<!"))
                || bytes.get(..5).is_some_and(|b| b.eq_ignore_ascii_case(b"<html")) =>
        {
            Some(NotRedisSign::Http)
        }
        Some(_) => {
            let shown: String = bytes
                .iter()
                .take(16)
                .map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' })
                .collect();
            Some(NotRedisSign::Other(format!("{shown:?}")))
        }
    }
}

/// The error line a TCP server sends right after accepting a connection it will not serve, if any.
fn greeting(client: &Client) -> Option<String> {
    use std::io::Read;
    use std::net::ToSocketAddrs;
    let ConnectionAddr::Tcp(host, port) = client.get_connection_info().addr() else { return None };
    let addr = (host.as_str(), *port).to_socket_addrs().ok()?.next()?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    let mut buf = [0_u8; 256];
    let n = stream.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let line = text.strip_prefix('-')?.lines().next()?.trim().to_string();
    Some(line.strip_prefix("ERR ").unwrap_or(&line).to_string())
}

/// `redis://:secret@host:6379` → `redis://:***@host:6379`, and
/// `unix:///run/redis.sock?pass=secret` → `unix:///run/redis.sock?pass=***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    // A socket URL has no user or password before its path: they come in its query.
    let (userinfo, host) = match rest.rsplit_once('@').filter(|_| !scheme.ends_with("unix")) {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => (format!("{user}:***@"), host),
            None => ("***@".to_string(), host),
        },
        None => (String::new(), rest),
    };
    let host = match host.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if SECRET_QUERY.contains(&key) => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => host.to_string(),
    };
    format!("{scheme}://{userinfo}{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["10.0.0.5", "192.168.1.2", "redis.example.com", "0.0.0.0", "8.8.8.8"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn remote_hosts_need_the_flag() {
        let err = parse_url("redis://10.1.2.3:6379", false).err().unwrap();
        assert!(matches!(err, UserError::RemoteNotAllowed { .. }));
        assert!(parse_url("redis://10.1.2.3:6379", true).is_ok());
        assert!(parse_url("redis://127.0.0.1:6380/1", false).is_ok());
    }

    #[test]
    fn malformed_urls_are_rejected_before_connecting() {
        for url in ["not a url", "http://127.0.0.1:6379", "redis://127.0.0.1:notaport", ""] {
            let err = parse_url(url, false).err();
            assert!(matches!(err, Some(UserError::BadRedisUrl { .. })), "{url}: {err:?}");
        }
    }

    #[test]
    fn unix_sockets_work_and_unknown_parameters_do_not() {
        assert!(parse_url("unix:///tmp/redis.sock", false).is_ok());
        assert!(parse_url("redis+unix:///tmp/redis.sock?db=2", false).is_ok());
        assert!(parse_url("redis://127.0.0.1:6379/0?protocol=resp3", false).is_ok());
        let err = parse_url("redis://127.0.0.1:6379?socket=/tmp/redis.sock", false).err().unwrap();
        assert!(err.to_string().contains("unsupported parameter \"socket\""), "{err}");
        let err = parse_url("rediss://127.0.0.1:6380", false).err().unwrap();
        assert!(err.to_string().contains("no TLS"), "{err}");
    }

    #[test]
    fn a_url_that_does_not_parse_never_shows_its_password() {
        let err = parse_url("redis://:secret@127.0.0.1:notaport", false).err().unwrap();
        let text = err.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("***"), "{text}");
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("redis://:hunter2@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
        assert_eq!(redact("redis://alice:pw@127.0.0.1"), "redis://alice:***@127.0.0.1");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("unix:///r.sock?db=1&pass=pw&user=u"), "unix:///r.sock?db=1&pass=***&user=u");
        assert_eq!(redact("unix:///r.sock?user=a@b&pass=c@d"), "unix:///r.sock?user=a@b&pass=***");
        // An unencoded `?` or `@` in a password: all that could be it is hidden.
        assert_eq!(redact("redis://:a?b@h:1?pass=c@d"), "redis://:***@d");
        assert_eq!(scrub("x pw y c@d", "unix:///r.sock?pass=c@d"), "x pw y ***");
        assert_eq!(scrub("x pw y", "redis://u:pw@h"), "x *** y");
    }

    #[test]
    fn valkey_is_named_valkey_with_its_own_version() {
        let info = |text: &str| redis::InfoDict::new(text);
        let (flavour, version, compatible) = flavour_of(&info("redis_version:7.0.15\r\n"));
        assert_eq!((flavour.as_str(), version.as_str(), compatible.as_str()), ("Redis", "7.0.15", "7.0.15"));
        let valkey = info("redis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n");
        let (flavour, version, compatible) = flavour_of(&valkey);
        assert_eq!((flavour.as_str(), version.as_str(), compatible.as_str()), ("Valkey", "8.1.1", "7.2.4"));
    }

    #[test]
    fn versions_parse_and_compare() {
        let v = Version::parse("7.0.15").unwrap();
        assert_eq!(v, Version(7, 0, 15));
        assert!(v.at_least(7, 0) && !v.at_least(7, 4));
        assert_eq!(Version::parse("8.4"), Some(Version(8, 4, 0)));
        assert_eq!(Version::parse("garbage"), None);
    }

    #[test]
    fn first_bytes_name_what_answered() {
        assert_eq!(sign_of(b"+PONG\r\n"), None);
        assert_eq!(sign_of(b"-NOAUTH Authentication required.\r\n"), None);
        assert_eq!(sign_of(b"HTTP/1.1 400 Bad Request\r\n"), Some(NotRedisSign::Http));
        assert_eq!(sign_of(b"<!DOCTYPE HTML>\n<html>"), Some(NotRedisSign::Http));
        // A MariaDB greeting whose length byte happens to be '_' (95), a RESP3 type byte.
        assert_eq!(sign_of(b"\x5f\x00\x00\x00\x0a11.8.3-MariaDB"), Some(NotRedisSign::MySql));
        assert_eq!(sign_of(b""), Some(NotRedisSign::Closed));
        assert_eq!(sign_of(b"SSH-2.0-x\r\n"), Some(NotRedisSign::Other("\"SSH-2.0-x..\"".to_string())));
    }
}
