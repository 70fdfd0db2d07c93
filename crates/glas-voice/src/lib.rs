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
//! - [`pickups`] finds how the media carried them: reprints, links, quotes.
//!
//! No HTTP, no clock: the day is passed in.

mod fact;
mod pickup;
mod plan;
mod read;

pub use fact::{Outcome, OwnPub, PlanFact, State, plan_vs_fact, similarity};
pub use pickup::{Carried, How, Pickup, Published, pickups};
pub use plan::{MediaPlan, PlanError, PlanRow};
pub use read::{ReadError, read_plan, read_plan_bytes};
