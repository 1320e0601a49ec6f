//! Logging in (requirepass, ACL users), CLIENT KILL, maxclients and
//! SHUTDOWN against the in-process server and a fake driver.

mod support;

use rsentinel::acl::Acl;
use rsentinel_core::reply::Reply;
use support::server::{text, Harness};

#[tokio::test]
async fn requirepass_gates_every_command_but_auth_and_hello() {
    let h = Harness::with_requirepass("foo").await;
    let mut c = h.connect().await;
    c.exchange(
        b"ping\r\nsubscribe x\r\nhello 3\r\nauth bad\r\nauth default bad\r\n",
        &[
            b"-NOAUTH Authentication required.\r\n",
            b"-NOAUTH Authentication required.\r\n",
            b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        ],
    )
    .await;
    // Unauthenticated clients get the small multibulk limit.
    let mut big = h.connect().await;
    big.send_raw(b"*11\r\n").await;
    assert_eq!(
        big.until_closed().await,
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    c.send_raw(b"auth foo\r\nping\r\n").await;
    c.expect(b"+OK\r\n+PONG\r\n").await;
    let mut d = h.connect().await;
    let r = d
        .cmd(&["HELLO", "3", "AUTH", "default", "foo", "SETNAME", "x"])
        .await;
    assert!(matches!(r, Reply::Map(ref m) if m.len() == 6), "{r:?}");
    assert_eq!(text(&d.cmd(&["CLIENT", "GETNAME"]).await), "x");
    h.stop().await;
}

#[tokio::test]
async fn auth_with_one_argument_errs_when_no_password_is_set() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.send(&["AUTH", "x"]).await;
    c.expect(b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n").await;
    c.send(&["AUTH", "a", "b", "c"]).await;
    c.expect(b"-ERR syntax error\r\n").await;
    h.stop().await;
}

#[tokio::test]
async fn acl_setuser_then_auth_as_that_user_and_flush_the_config() {
    let h = Harness::start().await;
    let mut admin = h.connect().await;
    let r = admin
        .cmd(&["ACL", "SETUSER", "bob", "on", ">pw", "+ping", "+acl|whoami"])
        .await;
    assert_eq!(r, Reply::ok());
    assert!(
        h.eventually(|| h.driver_log().contains(&"flush".to_string()))
            .await
    );
    let mut bob = h.connect().await;
    assert_eq!(bob.cmd(&["AUTH", "bob", "pw"]).await, Reply::ok());
    assert_eq!(text(&bob.cmd(&["ACL", "WHOAMI"]).await), "bob");
    bob.send(&["CLIENT", "ID"]).await;
    bob.expect(b"-NOPERM this user has no permissions to run the 'client|id' command\r\n")
        .await;
    let list = text(&admin.cmd(&["CLIENT", "LIST"]).await);
    assert!(list.contains(" user=bob "), "{list}");
    h.stop().await;
}

#[tokio::test]
async fn a_permission_changed_elsewhere_holds_from_the_next_command() {
    // A connection remembers what the ACL let it run; another client's
    // ACL SETUSER, or its own login as someone else, must end that at once.
    let h = Harness::start().await;
    let mut admin = h.connect().await;
    let setuser = |rules: &'static [&'static str]| {
        let mut args = vec!["ACL", "SETUSER", "bob"];
        args.extend_from_slice(rules);
        args
    };
    assert_eq!(
        admin
            .cmd(&setuser(&["on", ">pw", "+ping", "+client|id"]))
            .await,
        Reply::ok()
    );
    let mut bob = h.connect().await;
    assert_eq!(bob.cmd(&["AUTH", "bob", "pw"]).await, Reply::ok());
    for _ in 0..3 {
        assert_eq!(bob.cmd(&["PING"]).await, Reply::Simple("PONG".into()));
        assert!(matches!(bob.cmd(&["CLIENT", "ID"]).await, Reply::Int(_)));
    }
    assert_eq!(admin.cmd(&setuser(&["-ping"])).await, Reply::ok());
    bob.send(&["PING"]).await;
    bob.expect(b"-NOPERM this user has no permissions to run the 'ping' command\r\n")
        .await;
    assert!(matches!(bob.cmd(&["CLIENT", "ID"]).await, Reply::Int(_)));
    assert_eq!(
        admin.cmd(&setuser(&["-client|id", "+ping"])).await,
        Reply::ok()
    );
    bob.send(&["CLIENT", "ID"]).await;
    bob.expect(b"-NOPERM this user has no permissions to run the 'client|id' command\r\n")
        .await;
    assert_eq!(bob.cmd(&["PING"]).await, Reply::Simple("PONG".into()));
    // The default user may run everything; bob, logged in again, may not.
    let mut c = h.connect().await;
    assert!(matches!(c.cmd(&["CLIENT", "ID"]).await, Reply::Int(_)));
    assert_eq!(c.cmd(&["AUTH", "bob", "pw"]).await, Reply::ok());
    c.send(&["CLIENT", "ID"]).await;
    c.expect(b"-NOPERM this user has no permissions to run the 'client|id' command\r\n")
        .await;
    h.stop().await;
}

#[tokio::test]
async fn client_kill_user_closes_that_users_connections_only() {
    let h = Harness::start().await;
    let mut admin = h.connect().await;
    admin
        .cmd(&["ACL", "SETUSER", "bob", "on", ">pw", "+@all"])
        .await;
    let mut bob1 = h.connect().await;
    let mut bob2 = h.connect().await;
    let mut bystander = h.connect().await;
    assert_eq!(bob1.cmd(&["AUTH", "bob", "pw"]).await, Reply::ok());
    assert_eq!(bob2.cmd(&["AUTH", "bob", "pw"]).await, Reply::ok());
    admin.send(&["CLIENT", "KILL", "USER", "nosuch"]).await;
    admin.expect(b"-ERR No such user 'nosuch'\r\n").await;
    admin.send(&["CLIENT", "KILL", "USER", "bob"]).await;
    admin.expect(b":2\r\n").await;
    assert_eq!(bob1.until_closed().await, b"");
    assert_eq!(bob2.until_closed().await, b"");
    bystander.send_raw(b"PING\r\n").await;
    bystander.expect(b"+PONG\r\n").await;
    // The old form, and killing oneself: the reply still arrives.
    admin.send(&["CLIENT", "KILL", "127.0.0.1:1"]).await;
    admin.expect(b"-ERR No such client\r\n").await;
    let me = admin.stream.local_addr().unwrap().to_string();
    admin
        .send(&["CLIENT", "KILL", "ADDR", &me, "SKIPME", "no"])
        .await;
    assert_eq!(admin.until_closed().await, b":1\r\n");
    h.stop().await;
}

#[tokio::test]
async fn client_kill_filters_are_validated_like_redis() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.exchange(
        b"client kill id x\r\nclient kill type foo\r\nclient kill skipme maybe\r\nclient kill maxage 1\r\nclient kill id 1 type\r\nclient kill type normal\r\n",
        &[
            b"-ERR client-id should be greater than 0\r\n",
            b"-ERR Unknown client type 'foo'\r\n",
            b"-ERR syntax error\r\n",
            b"-ERR syntax error\r\n",
            b"-ERR syntax error\r\n",
            b":0\r\n",
        ],
    )
    .await;
    h.stop().await;
}

#[tokio::test]
async fn acl_deluser_closes_the_deleted_users_connections() {
    let h = Harness::start().await;
    let mut admin = h.connect().await;
    admin
        .cmd(&["ACL", "SETUSER", "eve", "on", "nopass", "+@all"])
        .await;
    let mut eve = h.connect().await;
    assert_eq!(eve.cmd(&["AUTH", "eve", "any"]).await, Reply::ok());
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "eve"]).await, Reply::Int(1));
    assert_eq!(eve.until_closed().await, b"");
    h.stop().await;
}

#[tokio::test]
async fn connections_over_maxclients_are_refused_with_redis_error() {
    let h = Harness::with(Acl::with_seed(1), 2).await;
    let mut a = h.connect().await;
    let mut b = h.connect().await;
    a.cmd(&["PING"]).await;
    b.cmd(&["PING"]).await;
    let mut c = h.connect().await;
    assert_eq!(
        c.until_closed().await,
        b"-ERR max number of clients reached\r\n"
    );
    let info = text(&a.cmd(&["INFO", "stats"]).await);
    assert!(info.contains("\r\nrejected_connections:1\r\n"), "{info}");
    drop(b);
    assert!(h.eventually(|| h.state.clients.len() == 1).await);
    let mut d = h.connect().await;
    assert_eq!(d.cmd(&["PING"]).await, Reply::Simple("PONG".into()));
    h.stop().await;
}

#[tokio::test]
async fn shutdown_asks_the_driver_and_closes_without_reply() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.send(&["SHUTDOWN", "ABORT"]).await;
    c.expect(b"-ERR No shutdown in progress.\r\n").await;
    c.send(&["SHUTDOWN", "NOSAVE", "SAVE"]).await;
    c.expect(b"-ERR syntax error\r\n").await;
    assert!(h.driver_log().is_empty());
    c.send(&["SHUTDOWN", "NOSAVE", "NOW"]).await;
    assert_eq!(c.until_closed().await, b"");
    assert_eq!(h.driver_log(), vec!["shutdown".to_string()]);
    h.stop().await;
}

#[tokio::test]
async fn stopping_the_server_closes_clients_and_stops_accepting() {
    let h = Harness::start().await;
    let mut c = h.connect().await;
    c.cmd(&["PING"]).await;
    let addr = h.addr;
    h.stop().await;
    assert_eq!(c.until_closed().await, b"");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn client_pause_all_holds_commands_until_it_ends() {
    let h = Harness::start().await;
    let mut a = h.connect().await;
    let mut b = h.connect().await;
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "300", "ALL"]).await, Reply::ok());
    let started = std::time::Instant::now();
    assert_eq!(b.cmd(&["PING"]).await, Reply::Simple("PONG".into()));
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    // A query the connection answers in place is held as well.
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "300", "ALL"]).await, Reply::ok());
    let started = std::time::Instant::now();
    assert!(matches!(b.cmd(&["SENTINEL", "MYID"]).await, Reply::Bulk(_)));
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    a.send(&["CLIENT", "PAUSE", "-1"]).await;
    a.expect(b"-ERR timeout is negative\r\n").await;
    h.stop().await;
}
