//! glas-voice: the administration's own voice. Its first part is the
//! **media plan** (the schedule of the administration's publications a press
//! office keeps, often in Excel) against what its own channels (`own = true`
//! sources) actually published: each planned item published, late, missing
//! or still to come, and the own publications nobody planned.
//!
//! - [`read_plan`] reads a plan from CSV or XLSX, every problem reported with
//!   its row, nothing taken from a file with one;
//! - [`MediaPlan`] keeps the plan in the workspace's SQLite database;
//! - [`plan_vs_fact`] matches plan rows to own publications;
//! - [`pickups`] finds how the media carried them: reprints, links, quotes;
//! - the engagement of the own posts as a time series (`MediaPlan::record_engagement`,
//!   [`figures`] at 24 h and 72 h) and the residents' [`reactions`] under them;
//! - the official pages' health ([`page_health`]) and the [`image`] index.
//!
//! No HTTP, no clock: the day is passed in.

mod engagement;
mod fact;
pub mod image;
mod pickup;
mod plan;
mod reaction;
mod read;

pub use engagement::{Capture, Figures, at_mark, figures};

pub use fact::{Outcome, OwnPub, PlanFact, State, plan_vs_fact, similarity};
pub use pickup::{Carried, How, Pickup, Published, pickups};
pub use plan::{MediaPlan, PlanError, PlanRow};
pub use reaction::{Comment, PageHealth, Reaction, Received, page_health, reactions};
pub use read::{ReadError, read_plan, read_plan_bytes};
