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
