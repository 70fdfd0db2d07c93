//! What the benches share.

/// A field of `/proc/PROCESS/status` in kB (`process`: a pid or "self"),
/// such as `VmRSS:` or `VmHWM:`; 0 when it cannot be read.
pub fn status_kb(process: &str, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
