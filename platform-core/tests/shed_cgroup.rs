//! The cgroup-aware pressure sampler against fixture files (v1, v2, fractional quota,
//! unlimited, missing and malformed files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use platform_core::resilience::shed::{CgroupPressure, CgroupVersion, Pressure, PressureError};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cgroup").join(name)
}

fn pressure(name: &str) -> Result<CgroupPressure, PressureError> {
    CgroupPressure::builder()
        .cgroup_root(fixture(name))
        .proc_root(fixture("proc"))
        .host_cpus(4.0)
        .build()
}

/// A writable copy of a fixture, for tests that change the files between samples.
struct TempCopy(PathBuf);

impl TempCopy {
    fn of(name: &str, test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("platform-cgroup-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for entry in std::fs::read_dir(fixture(name)).expect("fixture") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
        }
        Self(dir)
    }

    fn set_usage_usec(&self, usec: u64) {
        std::fs::write(self.0.join("cpu.stat"), format!("usage_usec {usec}\n")).expect("write");
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const RSS_OVER_HOST: f64 = (25600.0 * 4096.0) / (8388608.0 * 1024.0);

#[test]
fn v2_limits_and_working_set() {
    let p = pressure("v2").expect("v2 fixture");
    assert_eq!(p.version(), CgroupVersion::V2);
    assert_eq!(p.cpu_limit().expect("cpu"), 2.0);
    // (512 MiB current − 128 MiB inactive file cache) / 1 GiB.
    assert_eq!(p.sample_now().expect("sample").memory, 0.375);
    assert_eq!(p.reading().memory, 0.375);
}

#[test]
fn v2_fractional_quota() {
    let p = pressure("v2-fractional").expect("fixture");
    assert_eq!(p.cpu_limit().expect("cpu"), 1.5);
    // No memory.stat: nothing subtracted.
    assert_eq!(p.reading().memory, 0.5);
}

#[test]
fn v2_unlimited_uses_host_cpus_and_process_rss() {
    let p = pressure("v2-unlimited").expect("fixture");
    assert_eq!(p.cpu_limit().expect("cpu"), 4.0);
    assert_eq!(p.reading().memory, RSS_OVER_HOST);
}

#[test]
fn v1_limits() {
    let p = pressure("v1").expect("v1 fixture");
    assert_eq!(p.version(), CgroupVersion::V1);
    assert_eq!(p.cpu_limit().expect("cpu"), 0.5);
    // (80 MiB usage − 16 MiB inactive file) / 256 MiB.
    assert_eq!(p.reading().memory, 0.25);
}

#[test]
fn v1_unlimited() {
    let p = pressure("v1-unlimited").expect("fixture");
    assert_eq!(p.cpu_limit().expect("cpu"), 4.0);
    assert_eq!(p.reading().memory, RSS_OVER_HOST);
}

#[test]
fn missing_file_is_named() {
    let err = pressure("v2-missing-stat").expect_err("no cpu.stat");
    assert!(matches!(err, PressureError::Read { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("v2-missing-stat/cpu.stat"), "{msg}");
}

#[test]
fn malformed_file_is_named_with_its_content() {
    let err = pressure("v2-malformed").expect_err("bad cpu.max");
    let msg = err.to_string();
    assert!(msg.contains("v2-malformed/cpu.max") && msg.contains("lots"), "{msg}");
}

#[test]
fn no_cgroup_is_a_clear_error() {
    let err = pressure("none").expect_err("nothing there");
    assert!(matches!(err, PressureError::NoCgroup { .. }), "{err:?}");
    assert!(err.to_string().contains("ManualPressure"), "{err}");
}

#[test]
fn missing_procfs_is_named() {
    let err = CgroupPressure::builder()
        .cgroup_root(fixture("v2-unlimited"))
        .proc_root(fixture("none"))
        .host_cpus(1.0)
        .build()
        .expect_err("no statm");
    assert!(err.to_string().contains("none/self/statm"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn cpu_utilisation_is_usage_over_wall_time_times_quota() {
    let dir = TempCopy::of("v2-fractional", "util");
    dir.set_usage_usec(1_000_000);
    let p = CgroupPressure::builder()
        .cgroup_root(&dir.0)
        .proc_root(fixture("proc"))
        .build()
        .expect("build");
    assert_eq!(p.reading().cpu, 0.0, "one sample: no utilisation yet");
    // 0.75 s of CPU in 1 s of wall time with 1.5 CPUs allowed = 50%.
    tokio::time::advance(Duration::from_secs(1)).await;
    dir.set_usage_usec(1_750_000);
    assert_eq!(p.sample_now().expect("sample").cpu, 0.5);
    // Saturated: 3 s of CPU in 2 s with 1.5 CPUs = 100%.
    tokio::time::advance(Duration::from_secs(2)).await;
    dir.set_usage_usec(4_750_000);
    assert_eq!(p.sample_now().expect("sample").cpu, 1.0);
}

#[tokio::test(start_paused = true)]
async fn sampler_task_updates_until_its_handle_is_dropped() {
    let dir = TempCopy::of("v2-fractional", "task");
    dir.set_usage_usec(0);
    let p = CgroupPressure::builder()
        .cgroup_root(&dir.0)
        .proc_root(fixture("proc"))
        .build()
        .expect("build");
    let handle = p.spawn_sampler(Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(50)).await; // the first tick samples at once
    dir.set_usage_usec(150_000); // 0.15 s over 0.1 s × 1.5 CPUs = 100%
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!((p.reading().cpu - 1.0).abs() < 1e-9, "{}", p.reading().cpu);
    drop(handle);
    tokio::task::yield_now().await;
    // Usage stays put: one more sample would read 0% CPU.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!((p.reading().cpu - 1.0).abs() < 1e-9, "no sampling after the handle is dropped");
}
