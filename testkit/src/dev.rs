//! `tessera dev` as a test server: one process with the API, RTMP and SRT ingest,
//! workers and packager on free ports, its outputs in a temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `tessera dev`; killed when dropped.
pub struct DevServer {
    child: Child,
    /// API base URL (`http://127.0.0.1:PORT`).
    pub api: String,
    /// The outputs folder (served at `{api}/files`).
    pub out: PathBuf,
    /// Its log (stderr).
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl DevServer {
    /// Starts `binary dev` with `extra` arguments and waits until its API listens.
    pub fn start(binary: &Path, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let out = dir.path().join("out");
        let log = dir.path().join("dev.log");
        let (http, rtmp, srt) = (crate::free_port(), crate::free_port(), crate::free_udp_port());
        let child = Command::new(binary)
            .args(["dev", "--listen", &format!("127.0.0.1:{http}"), "--rtmp", &format!("127.0.0.1:{rtmp}")])
            .args(["--srt", &format!("127.0.0.1:{srt}")])
            .args(["--out", out.to_str().expect("UTF-8 temporary path")])
            .args(extra)
            .env("TESSERA_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start tessera dev");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
            assert!(Instant::now() < deadline, "tessera dev did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, api: format!("http://127.0.0.1:{http}"), out, log, _dir: dir }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
