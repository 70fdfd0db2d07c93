//! glas-app: the stages of glas composed into what a district runs.
//!
//! - [`ops`]: the pipeline's stages as functions (crawl, import, enrich,
//!   analyse, alert, digests, the weekly report, source health) over a
//!   [`ops::Ctx`], and the workspace over a pipeline's data
//!   ([`ops::workspace`]);
//! - [`incidents`]: the feedback loop's stage of a round (episodes to
//!   incidents, complaints joining them, public answers, deadlines, emails);
//! - [`voice`]: the media plan against the own channels' publications;
//! - [`service`]: `glas run`, the unattended loop that schedules them, and
//!   serves the workspace and its metrics.
//!
//! The command line (`crates/glas`) parses arguments and prints; the
//! workspace (`glas-web`) reaches these stages through [`glas_web::Stages`].

pub mod incidents;
pub mod ops;
pub mod outlook;
pub mod paths;
pub mod privacy;
pub mod service;
pub mod voice;

/// Kills the process on the spot with SIGKILL when `GLAS_FAILPOINT` names this point: how the tests kill the
/// service exactly between two steps whose order durability depends on.
/// Points: `incidents:after-episode` (an incident committed, the mentions
/// not yet offered), `incidents:mail-accepted` (the SMTP server took an
/// email, its delivery not yet recorded), `erase:after-log` (an erasure's
/// log and index done, the copies elsewhere not yet); in a region's workers
/// `crawl:after-raw` (a fetch's mentions published, its end not yet),
/// `enrich:after-publish` (records published, the raw mentions not yet
/// acknowledged), `store:after-commit` (records committed, not yet
/// acknowledged).
pub fn failpoint(name: &str) {
    if std::env::var("GLAS_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: stopping the process");
        // SAFETY: signals our own process; SIGKILL cannot be caught.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}
