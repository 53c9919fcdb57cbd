//! The real `platform` binary: started in an empty directory with nothing but
//! environment variables, it answers on its routes, records audit events, and stops
//! cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use http::StatusCode;

/// Kills the child if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads stderr lines on a thread until the `platform ready` block has been printed;
/// returns everything printed so far.
fn wait_until_ready(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut printed = String::new();
    loop {
        // Generous: a debug build hashes the first password at full argon2id cost.
        let line = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|e| {
            panic!("the platform did not get ready ({e}); it printed:\n{printed}")
        });
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Ctrl-C stops it") {
            return printed;
        }
    }
}

/// The URL printed after `label` (`  gateway  http://127.0.0.1:PORT   (…)`).
fn url_after(printed: &str, label: &str) -> String {
    printed
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(label))
        .filter_map(|rest| rest.split_whitespace().next())
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no {label} URL in:\n{printed}"))
        .to_owned()
}

/// The value after `label:` in the first-start banner.
fn banner_value(printed: &str, label: &str) -> String {
    printed
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label} in:\n{printed}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_starts_from_an_empty_directory_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_platform"))
        .current_dir(dir.path())
        .env("PLATFORM__GATEWAY__LISTEN", "127.0.0.1:0")
        .env("PLATFORM__ADMIN__LISTEN", "127.0.0.1:0")
        .env("PLATFORM__TELEMETRY__FORMAT", "json")
        .env_remove("PLATFORM_ADMIN_PASSWORD")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut running = Running(child);
    let printed = wait_until_ready(&mut running.0);
    let gateway = url_after(&printed, "gateway");
    let admin = url_after(&printed, "admin");

    let echo = common::get(&format!("{gateway}/echo/smoke?x=1"), None).await;
    assert_eq!(echo.status, StatusCode::OK, "{:?}", echo.body);
    assert_eq!(echo.body["path"], "/echo/smoke");
    let ready = common::get(&format!("{admin}/health/ready"), None).await;
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);

    // The first start printed the credentials once; they work.
    let password = banner_value(&printed, "admin password:");
    let secret = banner_value(&printed, "client secret:");
    let granted =
        common::password_grant(&gateway, "platform-cli", &secret, "admin", &password).await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
    let token = granted.body["access_token"].as_str().expect("token");

    // Audit events reach the audit log through the telemetry layer (written in batches).
    let mut actions = Vec::new();
    for _ in 0..100 {
        let page =
            common::get(&format!("{admin}/admin/audit/records?limit=100"), Some(token)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        actions = page.body["entries"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if actions.iter().any(|a| a == "token_issued") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for expected in ["user_created", "role_granted", "login_succeeded", "token_issued"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} not in the audit log: {actions:?}"
        );
    }
    assert!(dir.path().join("data/platform.db").exists());
    assert!(dir.path().join("data/jwt-signing-key.pem").exists());

    // The gateway serves on worker threads of its own, one per core by default.
    let pid = running.0.id().to_string();
    #[cfg(target_os = "linux")]
    {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let workers = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("the platform's threads")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with("gateway-worker"))
            .count();
        assert_eq!(workers, cores, "one gateway worker thread per core");
    }

    // SIGTERM: a graceful stop with a success status.
    let signalled = Command::new("kill").args(["-TERM", &pid]).status();
    if signalled.is_ok_and(|s| s.success()) {
        let mut status = None;
        for _ in 0..300 {
            if let Some(s) = running.0.try_wait().expect("wait") {
                status = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = status.expect("the platform exits after SIGTERM");
        assert!(status.success(), "exit status {status}");
    }
}
